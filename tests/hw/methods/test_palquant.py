"""The PalQuant array (hw/methods/palquant/): the weight encoding against palquant_ref; whole
PalQuant layers (G commands, shuffled groups) and bit-sliced 4- and 8-bit layers bit-exact
against palquant_ref (palquant_conv, bitsliced_conv) in Amaranth and on Icarus, every
command's counters and cycles equal to the timing model (sim/methods/palquant.py); the pass
order against Horner's rule; and the op-level model's cycles equal to the RTL's for layers
from the methods' own transforms (palquant, bitslice_w4a4)."""

import json

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.methods import palquant as pq
from dlaforge.hw.methods.palquant.stimulus import PalquantLayer, SlicedJob, weight_levels
from dlaforge.hw.shapes import conv, shapes
from dlaforge.workloads.methods.palquant.plan import array_arch, slice_passes
from dlaforge.sim.methods import palquant as rtl_palquant
from dlaforge.sim.cycle.rtl_timing import rtl_timing
from dlaforge.sim.energy import energy_table
from dlaforge.workloads.layer import Layer
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.methods.conv_ref import conv2d_int
from dlaforge.workloads.methods.palquant.reference import palquant_conv, shuffle_map
from simulators import needs_icarus

ARCH = load_arch("edge_tiny_palquant")
BUILT = array_arch(ARCH)


def model_counters(job) -> dict:
    if isinstance(job, SlicedJob):
        cmd = job.command()
        return rtl_palquant.sliced_timing(BUILT, job.dataflow, job.gemm, cmd["a_top"],
                                          cmd["w_top"], job.bandwidth, job.latency)
    return rtl_timing(BUILT, job.dataflow, job.gemm, job.bandwidth, job.latency).counters


def check_layer(layer, output, results):
    assert np.array_equal(output, layer.expected())
    for job, result in zip(layer.jobs(), results):
        assert result.perf == model_counters(job)
        assert result.testbench_cycles == result.perf["cycles"]


@pytest.mark.parametrize("G,shift", [(2, 0), (2, 1), (3, 1), (4, 3)])
def test_weight_levels_give_palquant_output(G, shift):
    """Σ (2·q_w − 3)·q_a over each group's shuffled input is palquant_conv's T."""
    rng = np.random.default_rng(G + shift)
    C, K = 3, 2
    qa = rng.integers(0, 4, (1, G * C, 6, 5))
    qw = rng.integers(0, 4, (G * K, C, 3, 3))
    direct = conv2d_int(qa, weight_levels(qw), 2, 1, G, shuffle_map(G, C, shift))
    assert np.array_equal(direct, palquant_conv(qa, qw, G, 2, 1, shift))


@pytest.mark.parametrize("a_top,w_top", [(0, 0), (1, 1), (3, 3), (0, 2), (2, 1)])
def test_slice_passes_follow_horners_rule(a_top, w_top):
    """Every slice pair once; shifting the running sum where a pass says so weights each pair's
    product by 4^(i+j)."""
    passes = slice_passes(a_top, w_top)
    pairs = [(i, j) for i in range(a_top + 1) for j in range(w_top + 1)]
    assert sorted((i, j) for i, j, _ in passes) == pairs
    products = {pair: 7 + 3 * n for n, pair in enumerate(pairs)}
    total = 0
    for i, j, shift in passes:
        total = (total << 2 if shift else total) + products[i, j]
    assert total == sum(v << 2 * (i + j) for (i, j), v in products.items())


def test_check_refuses_a_spec_that_is_not_2_bit():
    with pytest.raises(SpecError, match="2-bit ifmap and weights"):
        pq.check(load_arch("edge_tiny"))
    pq.check(ARCH)


def test_amaranth_shuffled_and_sliced_layers():
    rng = np.random.default_rng(0)
    layers = [PalquantLayer.random(BUILT, "ws", conv(2, 5, 5, 3, 3, 3, padding=1), 2, 1, rng,
                                   bandwidth=1.0, latency=3),
              SlicedJob.random(BUILT, "ws", conv(2, 5, 5, 3, 3, 3, padding=1), rng, bits=4)]
    for layer, (output, results) in zip(layers, pq.run(layers, sim="amaranth")):
        check_layer(layer, output, results)


def test_amaranth_narrow_accumulators_wrap(tmp_path):
    """10-bit accumulators: the sums and the shifted partial sums of the passes wrap as the
    reference's sums modulo 2^10 (the check is that they do overflow)."""
    path = tmp_path / "narrow.yaml"
    path.write_text("base: edge_tiny\nname: narrow\n"
                    "pe_array: {ifmap_bits: 2, weight_bits: 2, psum_bits: 10}\n")
    built = array_arch(load_arch(path))
    rng = np.random.default_rng(4)
    layers = [SlicedJob.random(built, "os", conv(3, 4, 4, 5, 3, 3, padding=1), rng, 4, 12),
              PalquantLayer.random(built, "ws", conv(9, 4, 4, 3, 3, 3, padding=1), 2, 1, rng,
                                   low=3)]
    for layer, (output, _) in zip(layers, pq.run(layers, sim="amaranth")):
        assert np.array_equal(output, layer.expected())
    a, w = layers[0].codes()
    assert (conv2d_int(a[None], w, 1, 1) >= 1 << 9).any()


def test_generate_writes_verilog_and_manifest(tmp_path):
    verilog_path, manifest_path = pq.generate(ARCH, tmp_path / "out")
    assert "module dlaforge_palquant" in verilog_path.read_text()
    info = json.loads(manifest_path.read_text())
    assert info["top"] == "dlaforge_palquant" and info["parameters"]["ifmap_bits"] == 3
    assert info["parameters"]["slice_bits"] == 2
    assert {"a_top", "w_top", "ifmap_plane", "weight_plane"} <= set(
        next(p for p in info["ports"] if p["name"] == "cmd__payload")["fields"])


def test_cell_stats_beside_int8():
    stats = pq.cell_stats(ARCH)
    assert "$mul(3x3x6)" in stats["pe"]["by_type"]
    assert "$mul(8x8x16)" in stats["int8_pe"]["by_type"]
    assert stats["pe"]["total"] < stats["int8_pe"]["total"]
    assert stats["array"]["total"] < stats["int8_array"]["total"]


def icarus_layers():
    """12 shapes of hw/shapes.py as one group's conv, G = 2, 3, 4, shuffled or not, the three
    dataflows and three DRAM settings in turn, then extreme codes."""
    rng = np.random.default_rng(6)
    drams = [(None, None), (1.0, 3), (2.0, 1)]
    named = list(shapes(ARCH.pe_array.rows, ARCH.pe_array.cols).items())[::-1][:12]
    layers = [PalquantLayer.random(BUILT, ("ws", "os", "is")[i % 3], gemm, (2, 3, 4)[i % 3],
                                   i % 2, rng, bandwidth=drams[i % 3][0], latency=drams[i % 3][1])
              for i, (_, gemm) in enumerate(named)]
    for codes in (3, 0):
        layer = PalquantLayer.random(BUILT, "os", conv(5, 4, 4, 5, 2, 2, padding=1), 2, 1, rng)
        layer.qa[:], layer.qw[:] = 3, codes
        layers.append(layer)
    layers += [SlicedJob.random(BUILT, "ws", conv(3, 5, 5, 5, 3, 3, padding=1), rng, bits=4),
               SlicedJob.random(BUILT, "os", conv(2, 4, 4, 5, 3, 3, stride=2, padding=1), rng,
                                bits=8, bandwidth=1.0, latency=3),
               SlicedJob.random(BUILT, "is", conv(5, 4, 4, 6, 2, 2, padding=1), rng, bits=4,
                                bandwidth=2.0, latency=1),
               SlicedJob.random(BUILT, "ws", conv(6, 3, 3, 5, 1, 1), rng, 4, 15, 16)]
    return layers


@pytest.mark.long      # 15-45 s; make test runs the layers in Amaranth, and the op models on Icarus
@needs_icarus
def test_icarus_layers_bit_exact_and_cycle_exact(tmp_path):
    layers = icarus_layers()
    outs = pq.run(layers, tmp_path / "build")
    assert len(outs) == 18
    for layer, (output, results) in zip(layers, outs):
        check_layer(layer, output, results)


@needs_icarus
def test_op_model_equals_rtl_for_a_transformed_layer(tmp_path):
    """A PalQuant layer through the method's transform: rtl_palquant.op_stats' cycles and DRAM
    bytes equal the RTL's summed over the layer's commands."""
    layer = Layer(name="l", kind="conv2d", K=3, C=5, P=4, Q=4, H=4, W=4, R=3, S=3, padding=1)
    [op] = get_method("palquant", ARCH).transform(layer, ARCH)
    stats = rtl_palquant.op_stats(ARCH, op, "ws", energy_table(ARCH))
    run = PalquantLayer.random(BUILT, "ws", conv(5, 4, 4, 3, 3, 3, padding=1), 2, 1,
                               np.random.default_rng(1))
    [(output, results)] = pq.run([run], tmp_path / "build")
    assert np.array_equal(output, run.expected())
    assert stats.cycles == sum(r.testbench_cycles for r in results)
    assert stats.dram_read_bytes == sum(r.perf["dram_read_bytes"] for r in results)
    assert stats.energy_pj > 0


@needs_icarus
def test_op_model_equals_rtl_for_a_bitsliced_layer(tmp_path):
    """bitslice_w4a4's op for a 4-bit layer: op_stats' cycles and DRAM bytes equal the RTL's
    one bit-sliced command."""
    layer = Layer(name="l", kind="conv2d", K=5, C=6, P=3, Q=3, H=5, W=5, R=3, S=3)
    [op] = get_method("bitslice_w4a4", ARCH).transform(layer, ARCH)
    assert rtl_palquant.cannot_run(ARCH, op, "os") is None
    stats = rtl_palquant.op_stats(ARCH, op, "os", energy_table(ARCH))
    job = SlicedJob.random(BUILT, "os", conv(6, 5, 5, 5, 3, 3), np.random.default_rng(2), bits=4)
    [(output, [result])] = pq.run([job], tmp_path / "build")
    assert np.array_equal(output, job.expected())
    assert stats.cycles == result.testbench_cycles
    assert stats.dram_read_bytes == result.perf["dram_read_bytes"]
