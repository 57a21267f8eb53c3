"""The generated Verilog under cocotb on Icarus: edge_tiny, 8x8 and 16x16 arrays, ws, os and is,
21 shapes each (every other one with requantized outputs, some with ReLU), outputs bit-exact
against the numba reference and cycles and counters equal to the timing model
(sim/cycle/rtl_timing.py); and the requantization corners on a 3x5 array. One simulator
process per array."""

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.hw.stimulus import LayerJob
from dlaforge.hw.run_cocotb import run_cocotb
from dlaforge.sim.cycle.rtl_timing import rtl_timing
from dlaforge.hw.shapes import conv, shapes
from dlaforge.workloads.methods.requant_ref import Requant
from simulators import needs_icarus

pytestmark = needs_icarus


def array_arch(tmp_path, size, cols=None):
    if size == 4 and cols is None:
        return load_arch("edge_tiny")
    cols = cols or size
    path = tmp_path / f"array{size}x{cols}.yaml"
    path.write_text(f"base: edge_tiny\nname: array{size}x{cols}\n"
                    f"pe_array: {{rows: {size}, cols: {cols}}}\n")
    return load_arch(path)


def check(arch, jobs, results, names):
    """Outputs equal the reference, counters and cycles equal the timing model."""
    assert len(results) == len(jobs)
    for name, job, result in zip(names, jobs, results):
        where = f"{job.dataflow} {name} requant={job.requant is not None}"
        assert np.array_equal(result.output, job.expected()), where
        model = rtl_timing(arch, job.dataflow, job.gemm, job.bandwidth, job.latency,
                           requant=job.requant is not None)
        assert result.perf == model.counters, where
        assert result.testbench_cycles == model.cycles, where


@pytest.mark.parametrize("size", [4, pytest.param(8, marks=pytest.mark.long),
                                  pytest.param(16, marks=pytest.mark.long)])
def test_icarus_bit_exact_and_cycle_exact(tmp_path, size):
    """21 shapes x ws, os and is on one build: the dataflow is a field of the command."""
    arch = array_arch(tmp_path, size)
    rng = np.random.default_rng(size)
    cases = shapes(size, size)
    drams = [(None, None), (1.0, 3), (2.0, 1)]
    jobs = [LayerJob.random(arch, dataflow, gemm, rng, bandwidth=drams[i % 3][0],
                            latency=drams[i % 3][1], requant=(i + d) % 2 == 1,
                            relu=(i + d) % 4 == 3)
            for d, dataflow in enumerate(("ws", "os", "is"))
            for i, gemm in enumerate(cases.values())]
    results = run_cocotb(jobs, tmp_path / "build", "icarus")
    assert len(jobs) == 63 and sum(job.requant is not None for job in jobs) > 30
    check(arch, jobs, results, list(cases) * 3)


@pytest.mark.long      # make test budget (15 min): the first accelerator, which the controller
                       # replaces; the controller's Requantizer corners run in make test
def test_icarus_requantization_corners_on_a_3x5_array(tmp_path):
    """Outputs saturating both ways (-128 x -128 and -128 x 127 sums over padded windows,
    scaled far past int8), shift 0, ReLU, a window hanging past the edge, odd sizes; with the
    sums path (requant off) of the same design beside them."""
    arch = array_arch(tmp_path, 3, 5)
    rng = np.random.default_rng(35)
    padded = conv(2, 5, 7, 7, 3, 3, padding=1)
    x = np.full((2, 5, 7), -128)
    w = np.where(np.arange(7)[:, None, None, None] % 2 == 0, -128, 127) * np.ones((7, 2, 3, 3),
                                                                               dtype=np.int64)
    loud = Requant(np.full(7, 65535), np.full(7, 20))
    unit = Requant(np.arange(1, 8), np.zeros(7, dtype=np.int64))             # shift 0
    small = (rng.integers(-2, 3, x.shape), rng.integers(-2, 3, w.shape))
    jobs, names = [], []
    for dataflow in ("ws", "os", "is"):
        for name, requant in (("saturate", loud), ("saturate_relu", Requant(
                loud.multiplier, loud.shift, relu=True)), ("shift0", unit), ("sums", None)):
            operands = small if name == "shift0" else (x, w)
            jobs.append(LayerJob(arch, dataflow, padded, *operands, requant=requant,
                                 latency=2))
            names.append(name)
        for name, gemm in (("hanging", shapes(3, 5)["hanging_window"]),
                           ("odd", conv(3, 7, 5, 11, 3, 2, stride=2, padding=1)),
                           ("gemm_odd", shapes(3, 5)["gemm_odd"])):
            jobs.append(LayerJob.random(arch, dataflow, gemm, rng, requant=True,
                                        relu=name == "odd"))
            names.append(name)
    results = run_cocotb(jobs, tmp_path / "build", "icarus")
    check(arch, jobs, results, names)
    saturated = [r.output for r, n in zip(results, names) if n == "saturate"]
    assert all((out[0::2] == 127).all() and (out[1::2] == -128).all() for out in saturated)
    assert all(r.output.min() == 0 for r, n in zip(results, names) if n == "saturate_relu")
    for job, name in zip(jobs, names):
        if name == "shift0":        # outputs are the sums times M, some clamped
            scaled = job.sums() * np.arange(1, 8)[:, None, None]
            assert (job.expected() == np.clip(scaled, -128, 127)).all()
            assert (np.abs(scaled) < 128).mean() > 0.5 and (np.abs(scaled) > 127).any()
