"""The Bit Fusion hardware (hw/methods/bitfusion/): the runtime fusion unit and the fusion PE
against Σ a·w of their lanes in Amaranth's simulator, the accelerator built for a precision
bit-exact against the Bit Fusion reference with its counters equal to the timing model
(sim/methods/bitfusion.py), in Amaranth and in Icarus; the spec checks, generation and the
cells beside the int8 MAC PE."""

import itertools
import json
from dataclasses import replace

import numpy as np
import pytest
from amaranth.sim import Simulator

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.accelerator import Accelerator
from dlaforge.hw.methods import OpCase, bitfusion, method_hardware
from dlaforge.hw.methods.bitfusion.pe import PRECISIONS, BitFusionPE, FusionUnit
from dlaforge.hw.methods.bitfusion.stimulus import BitFusionJob
from dlaforge.hw.pe import Mode
from dlaforge.hw.shapes import conv
from dlaforge.sim.cycle.rtl_timing import rtl_timing
from dlaforge.sim.methods import bitfusion as model
from dlaforge.workloads.layer import conv as conv_layer
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.methods.bitfusion.plan import lanes, precision_of, word_bits
from dlaforge.workloads.methods.bitfusion.reference import pack_lanes, unpack_lanes
from simulators import needs_icarus

ARCH = load_arch("edge_tiny_bitfusion")


def lane_dot(a_word, w_word, a_bits, w_bits, unsigned=True):
    """Σ a_l·w_l of two words' lanes (the words as unsigned integers)."""
    n = lanes(a_bits, w_bits)
    a = unpack_lanes(np.array([a_word]), a_bits, n)
    w = unpack_lanes(np.array([w_word]), w_bits, n)
    return int((a * w).sum())


def words(rng, a_bits, w_bits, count):
    """Random words of both widths, with the corners: all lanes the most negative code (and
    against the most positive), and zero."""
    n = lanes(a_bits, w_bits)
    wa, ww = word_bits(a_bits, w_bits)
    low = [pack_lanes(np.full((n, 1), -(1 << (b - 1))), b, n)[0, 0] for b in (a_bits, w_bits)]
    high_w = pack_lanes(np.full((n, 1), (1 << (w_bits - 1)) - 1), w_bits, n)[0, 0]
    pairs = [(int(rng.integers(0, 1 << wa)), int(rng.integers(0, 1 << ww)))
             for _ in range(count)]
    corners = [(low[0], low[1]), (low[0], high_w), (0, low[1])]
    return pairs + [(int(a) & ((1 << wa) - 1), int(w) & ((1 << ww) - 1)) for a, w in corners]


def test_runtime_fusion_unit_sums_its_lanes_at_every_precision():
    dut = FusionUnit()
    rng = np.random.default_rng(0)
    cases = [(index, a, w) for index, (a_bits, w_bits) in enumerate(PRECISIONS)
             for a, w in words(rng, a_bits, w_bits, 40)]
    seen = []

    async def bench(ctx):
        for index, a, w in cases:
            ctx.set(dut.precision, index)
            ctx.set(dut.a, a)
            ctx.set(dut.w, w)
            seen.append(ctx.get(dut.sum))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [lane_dot(a, w, *PRECISIONS[index]) for index, a, w in cases]
    assert -128 * -128 in seen and 4 * -8 * -8 in seen and 16 * -2 * -2 in seen


def pe_model(precision, psum_bits, cycles):
    """The MAC PE's registers (hw/pe.py) cycle by cycle with the fusion unit's sum as its
    product: (mode, a_in, b_in, c_in) per cycle -> c after each edge."""
    b = c = 0
    seen = []
    for mode, a_in, b_in, c_in in cycles:
        if mode == Mode.IDLE:
            c = 0
        elif mode == Mode.LOAD:
            b, c = b_in, 0
        elif mode == Mode.WS:
            c = c_in + lane_dot(a_in, b, *precision)
        elif mode == Mode.OS:
            c, b = c + lane_dot(a_in, b_in, *precision), b_in
        else:                                   # DRAIN
            c = c_in
        c = ((c + (1 << (psum_bits - 1))) % (1 << psum_bits)) - (1 << (psum_bits - 1))
        seen.append(c)
    return seen


@pytest.mark.parametrize("precision", [(8, 8), (4, 4), (2, 2), (8, 2)])
def test_fusion_pe_is_the_mac_pe_with_the_fused_sum(precision):
    """A random sequence of modes (LOAD, WS, OS, DRAIN, IDLE) with random and corner words:
    the PE's sum register is the MAC PE's with Σ a_l·b_l as its product, wrapping at 20 bits;
    the precision is the one its port widths give."""
    wa, ww = word_bits(*precision)
    dut = BitFusionPE(wa, ww, 20, ("ws", "os"))
    assert dut.precision == precision
    rng = np.random.default_rng(sum(precision))
    modes = [Mode.LOAD, Mode.WS, Mode.WS, Mode.OS, Mode.OS, Mode.OS, Mode.DRAIN, Mode.IDLE]
    cycles = [(modes[int(rng.integers(len(modes)))], a, w, int(rng.integers(-(1 << 19), 1 << 19)))
              for a, w in words(rng, *precision, 60)]
    seen = []

    def as_signed(v, bits):
        return v - (1 << bits) if v >> (bits - 1) else v

    async def bench(ctx):
        for mode, a, w, c in cycles:
            for port, value in ((dut.mode, mode), (dut.a_in, as_signed(a, wa)),
                                (dut.b_in, as_signed(w, ww)), (dut.c_in, c)):
                ctx.set(port, value)
            await ctx.tick()
            seen.append(ctx.get(dut.c_out))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == pe_model(precision, 20, cycles)


def test_amaranth_runs_a_2_bit_layer_bit_and_cycle_exact():
    """A padded 2x2 layer of 37 channels (three words, the last with zero lanes) over more
    than one tile: outputs the reference's sums, every counter the timing model's."""
    from dlaforge.hw.run_amaranth import run_amaranth
    job = BitFusionJob.random(ARCH, (2, 2), "ws", conv(37, 3, 3, 5, 3, 3, padding=1),
                              np.random.default_rng(2), bandwidth=2.0, latency=3)
    assert job.gemm.C == 3 and job.requant is None
    result = run_amaranth(job, dut=Accelerator(job.arch, pe=BitFusionPE))
    assert np.array_equal(result.output, job.expected())
    timing = rtl_timing(job.arch, "ws", job.gemm, 2.0, 3)
    assert result.perf == timing.counters and result.testbench_cycles == timing.cycles


def test_check_and_precision_refuse_what_cannot_be_built(tmp_path):
    with pytest.raises(SpecError, match="needs pe_kind 'bitfusion'"):
        bitfusion.check(load_arch("edge_tiny"))
    path = tmp_path / "wide.yaml"
    path.write_text("base: edge_tiny\npe_array: {pe_kind: bitfusion, ifmap_bits: 16, "
                    "weight_bits: 16}\n")
    with pytest.raises(SpecError, match="has 8-bit operands"):
        bitfusion.check(load_arch(path))
    with pytest.raises(SpecError, match="not fused words"):
        precision_of(12, 8)
    assert [precision_of(*word_bits(a, w)) for a, w in PRECISIONS] == list(PRECISIONS)


def test_timing_model_refuses_what_the_array_cannot_run():
    method = get_method("bitfusion", ARCH)
    [mixed] = method.transform(replace(conv_layer("m", 16, 4, 4, R=3), ifmap_bits=8,
                                       weight_bits=4), ARCH)
    assert "not is" in model.cannot_run(ARCH, mixed, "is")   # words of two widths: no is
    assert model.cannot_run(ARCH, mixed, "os") is None
    [dilated] = method.transform(replace(conv_layer("d", 8, 4, 8, R=3), dilation=(2, 2),
                                         padding=2), ARCH)
    assert "dilation" in model.cannot_run(ARCH, dilated, "ws")


@needs_icarus
@pytest.mark.long
def test_icarus_transformed_ops_match_the_timing_model(tmp_path):
    """Ops of the method's transform at 8, 4 and 2 bits (one grouped) through run_random:
    outputs equal to the reference, counters equal to command_counters."""
    method = get_method("bitfusion", ARCH)
    layers = [conv_layer("a", 13, 5, 5, R=3, stride=2),
              conv_layer("g", 8, 4, 4, R=3, groups=2)]
    cases = [OpCase(ARCH, layer, op, dataflow)
             for bits, layer in itertools.product((8, 4, 2), layers)
             for op in method.transform(replace(layer, ifmap_bits=bits, weight_bits=bits), ARCH)
             for dataflow in ("ws", "os")]
    runs = method_hardware("bitfusion").run_random(cases, tmp_path, np.random.default_rng(3))
    for case, run in zip(cases, runs):
        assert run.problems == []
        assert run.counters == model.command_counters(ARCH, case.op, case.dataflow)[:1]
        assert run.testbench_cycles == [c["cycles"] for c in run.counters]


@needs_icarus
@pytest.mark.long
def test_icarus_verify_passes_every_case():
    lines = []
    passed, failed = bitfusion.verify(ARCH, "icarus", lines.append)
    assert failed == 0 and passed == len(lines) > 100
    for corner in ("ws 8x8 all_min", "os 4x4 all_min", "is 2x2 all_min", "os 8x4 all_min",
                   "ws 2x2 odd_nonsquare", "ws 8x8 relu"):
        assert any(line.startswith(f"{corner}: ok") for line in lines)


@pytest.mark.long
def test_generate_writes_the_design_and_its_manifest(tmp_path):
    v, j = bitfusion.generate(ARCH, tmp_path / "out", precision=(4, 4))
    assert "module dlaforge_bitfusion" in v.read_text()
    info = json.loads(j.read_text())
    assert info["parameters"]["precision"] == [4, 4] and info["parameters"]["ifmap_bits"] == 16


@pytest.mark.long
def test_cells_of_the_fusion_pe_beside_the_int8_mac_pe():
    cells = bitfusion.cell_stats(ARCH)
    fused = cells["fusion_pe_8x8"]["by_type"]
    assert sum(n for kind, n in fused.items() if kind.startswith("$mul")) == 16   # the bricks
    assert cells["pe_ratio"] == cells["fusion_pe_8x8"]["total"] / cells["mac_pe"]["total"]
    assert cells["fusion_unit_runtime"]["total"] > cells["fusion_pe_2x2"]["total"]
    assert len(bitfusion.cells_row(cells)) == 10


@pytest.mark.parametrize("bits, dataflow", [(8, "ws"), (4, "os"), (2, "is")])
def test_op_stats_prices_the_commands_counters(bits, dataflow):
    """op_stats (the timing model on the fused words) equals counters_to_stats of the summed
    command_counters, what --schedule rtl and the hardware benchmark price; fused MACs at
    fused_mac_pj."""
    from dlaforge.sim.energy import energy_table
    from dlaforge.sim.methods import summed
    table = energy_table(ARCH)
    layer = conv_layer("g", 24, 8, 6, R=3, groups=2)
    [op] = get_method("bitfusion", ARCH).transform(replace(layer, ifmap_bits=bits,
                                                           weight_bits=bits), ARCH)
    stats = model.op_stats(ARCH, op, dataflow, table)
    again = model.counters_to_stats(ARCH, op, summed(model.command_counters(ARCH, op, dataflow)),
                                    dataflow, table)
    assert stats == again and stats.ops == op.ops
    assert stats.energy_breakdown_pj["mac"] == pytest.approx(
        op.pe_macs * model.fused_mac_pj(ARCH, op))
