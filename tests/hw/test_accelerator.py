"""The whole accelerator in Amaranth's simulator on edge_tiny: every output bit-exact against
the numba direct convolution, and every counter and the cycle count equal to the timing model
(sim/cycle/rtl_timing.py), for the three dataflows, on 5 of the 21 shapes (half of them with
requantized outputs), with extreme operands and under several DRAM bandwidths and latencies."""

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.stimulus import LayerJob
from dlaforge.hw.run_amaranth import run_amaranth
from dlaforge.sim.cycle.rtl_timing import rtl_timing
from dlaforge.hw.shapes import conv, shapes

EDGE_TINY = load_arch("edge_tiny")
# the Icarus tests run all 21 shapes on three array sizes; here a quarter of them, quickly
SHAPES = dict(list(shapes(EDGE_TINY.pe_array.rows, EDGE_TINY.pe_array.cols).items())[::4])
# (bandwidth bytes/cycle, latency cycles) per shape, cycling through slow, fast and the spec's
DRAMS = [(None, None), (0.5, 3), (1.0, 1), (3.0, 7)]


def check(job):
    result = run_amaranth(job)
    assert np.array_equal(result.output, job.expected())
    model = rtl_timing(job.arch, job.dataflow, job.gemm, job.bandwidth, job.latency,
                       requant=job.requant is not None)
    assert result.perf == model.counters
    assert result.testbench_cycles == model.cycles
    return result


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
@pytest.mark.parametrize("name", list(SHAPES))
def test_random_layers_bit_exact_and_cycle_exact(dataflow, name):
    index = list(SHAPES).index(name)
    bandwidth, latency = DRAMS[index % len(DRAMS)]
    requant = (index + "ws os is".split().index(dataflow)) % 2 == 1
    job = LayerJob.random(EDGE_TINY, dataflow, SHAPES[name], np.random.default_rng(index),
                          bandwidth=bandwidth, latency=latency, requant=requant,
                          relu=requant and index % 3 == 0)
    check(job)


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
@pytest.mark.parametrize("value", [-128, 127, 1, -1])
def test_extreme_operands(dataflow, value):
    """-128 * -128 summed over a padded 3x3 window of 2 channels, all-ones, all-(-1) bits."""
    gemm = conv(2, 4, 4, 5, 3, 3, padding=1)
    job = LayerJob.random(EDGE_TINY, dataflow, gemm, np.random.default_rng(0), low=value,
                          high=value + 1)
    result = check(job)
    assert result.output.max() == value * value * 2 * 9


@pytest.mark.long      # make test budget (15 min): the first accelerator, which the controller replaces
def test_many_m_tiles_and_accumulator_halves(arch_yaml):
    """A 1 KiB buffer shared by the three operands leaves 10 accumulator rows per half (ws: 2
    m tiles; is: 2 n tiles of 10 filters) and 42 reduction steps per half (os: 2 kd tiles);
    both halves alternate."""
    arch = load_arch(arch_yaml({"memory.1.size_bytes": 1024}))
    gemm = conv(6, 4, 4, 12, 3, 3, padding=1)
    trips = {}
    for dataflow in ("ws", "os", "is"):
        job = LayerJob.random(arch, dataflow, gemm, np.random.default_rng(3))
        trips[dataflow] = job.plan.trips
        check(job)
    assert trips["ws"][1] == 2 and trips["os"][2] == 2 and trips["is"][0] == 2


@pytest.mark.long      # make test budget (15 min): the first accelerator, which the controller replaces
@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_widths_come_from_the_spec(tmp_path, dataflow):
    """4-bit ifmap, 6-bit weights, 20-bit partial sums that wrap, on a 3x5 array."""
    path = tmp_path / "odd.yaml"
    path.write_text("base: edge_tiny\nname: odd\npe_array: {rows: 3, cols: 5, ifmap_bits: 4, "
                    "weight_bits: 6, psum_bits: 20}\n")
    arch = load_arch(path)
    rng = np.random.default_rng(11)
    with pytest.raises(SpecError, match="requantized outputs need 8-bit DRAM elements"):
        LayerJob.random(arch, dataflow, conv(1, 3, 3, 2, 3, 3), rng, requant=True)
    for gemm in (conv(4, 5, 5, 6, 3, 3, padding=1), conv(70, 1, 1, 4, 1, 1)):
        job = LayerJob.random(arch, dataflow, gemm, rng)
        check(job)
    # 2049 products of -8 x -32 = 524544 > 2**19 - 1: the 20-bit sum wraps to negative
    gemm = conv(2049, 1, 1, 1, 1, 1)
    job = LayerJob(arch, dataflow, gemm, np.full((2049, 1, 1), -8), np.full((1, 2049, 1, 1), -32))
    assert (check(job).output == 2049 * 256 - (1 << 20)).all()
