"""Winograd RTL (hw/methods/winograd/): the transform units against winograd_ref's float
definitions in Amaranth's simulator (random and extreme tiles, stalls), their adders against the
model's count, and whole layers on Icarus, each ONE command to the Winograd top whose sequencer
moves every operand through its DRAM port (input transform -> a² accelerator commands ->
output transform): V, the tap sums and the outputs bit-exact (outputs to conv_quant), cycles and
every counter equal to the timing model (sim/methods/winograd.py) on ten layer shapes per
variant, under several DRAM timings."""

import json

import numpy as np
import pytest
from amaranth.sim import Simulator

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.methods import winograd
from dlaforge.hw.methods.winograd.testbench_runner import (WinogradResult, check_result,
                                                           expected_v_tiles, layer_cases,
                                                           run_winograd, run_winograd_amaranth)
from dlaforge.hw.methods.winograd.units import InputTransform, OutputTransform
from dlaforge.workloads.methods.winograd.plan import WinogradPlan
from dlaforge.sim.methods.winograd import cannot_run, op_stats, winograd_timing
from dlaforge.sim.energy import energy_table
from dlaforge.workloads.layer import conv
from dlaforge.workloads.methods.winograd import tile_adds, transform_f2, transform_f4
from dlaforge.workloads.methods.winograd.reference import F2, F4, round_shift_float
from simulators import needs_icarus

ARCH = "edge_tiny_winograd"


def run_unit(dut, tiles, params, param_port, ready_pattern):
    """Stream `tiles` through a transform unit with `params` on `param_port`, the output's
    ready following `ready_pattern` (cycled); returns the outputs in order."""
    lanes_in = len(tiles[0])
    outputs = []

    async def bench(ctx):
        for n, value in enumerate(params):
            ctx.set(getattr(dut, param_port)[n], int(value))
        sent, t = 0, 0
        while len(outputs) < len(tiles):
            ctx.set(dut.o.ready, ready_pattern[t % len(ready_pattern)])
            ctx.set(dut.i.valid, sent < len(tiles))
            if sent < len(tiles):
                for n in range(lanes_in):
                    ctx.set(dut.i.payload[n], int(tiles[sent][n]))
            took_in = sent < len(tiles) and ctx.get(dut.i.ready)
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                outputs.append([ctx.get(dut.o.payload[n]) for n in range(len(dut.o.payload))])
            await ctx.tick()
            sent, t = sent + took_in, t + 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return np.array(outputs, dtype=np.int64)


@pytest.mark.parametrize("variant", [F4, F2], ids=["F4", "F2"])
def test_input_transform_unit_quantizes_bt_d_b_per_tap(variant):
    rng = np.random.default_rng(1)
    a = variant.a
    tiles = np.concatenate([rng.integers(-128, 128, (12, a, a)), np.full((1, a, a), -128),
                            np.full((1, a, a), 127), (rng.integers(0, 2, (2, a, a)) * 255 - 128)])
    shifts = rng.integers(0, 16, (a, a))
    shifts.flat[:3] = (0, 15, 1)
    got = run_unit(InputTransform(variant.bt, 8), tiles.reshape(len(tiles), -1),
                   shifts.ravel(), "shift", [1, 1, 0, 1, 0, 0])
    v = np.einsum("xa,nab,yb->nxy", variant.bt, tiles, variant.bt)
    expected = np.clip(round_shift_float(v, shifts), -127, 127).reshape(len(tiles), -1)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("variant", [F4, F2], ids=["F4", "F2"])
def test_output_transform_unit_aligns_and_folds_taps(variant):
    rng = np.random.default_rng(2)
    a, lo, hi = variant.a, -(1 << 31), (1 << 31) - 1
    sums = np.concatenate([rng.integers(lo, hi, (8, a, a), endpoint=True),
                           np.full((1, a, a), lo), np.full((1, a, a), hi)])
    sums[-2, :, ::2] = hi           # the extremes of the output's range
    sums[-1, :, 1::2] = hi
    align = rng.integers(0, 16, (a, a))
    align.flat[:2] = (0, 15)
    got = run_unit(OutputTransform(variant.at, 32), sums.reshape(len(sums), -1),
                   align.ravel(), "align", [1, 0, 1])
    aligned = [[int(x) << int(s) for x, s in zip(t.ravel(), align.ravel())] for t in sums]
    at = variant.at.astype(object)
    expected = [(at @ np.array(t, dtype=object).reshape(a, a) @ at.T).ravel() for t in aligned]
    assert [list(map(int, row)) for row in got] == [list(map(int, r)) for r in expected]


@pytest.mark.parametrize("variant", [pytest.param(F4, marks=pytest.mark.long), F2],
                         ids=["F4", "F2"])
def test_transform_units_have_the_adders_the_model_charges(variant):
    """The units' adders and subtractors (yosys cells) equal tile_adds, the count
    workloads/methods/winograd/ charges, plus one rounding adder per input tap."""
    from dlaforge.hw.verilog import cell_stats

    def adders(unit):
        by_type = cell_stats(unit)["by_type"]
        return sum(n for kind, n in by_type.items() if kind.startswith(("$add(", "$sub(")))

    adds_in, adds_out = tile_adds(variant)
    assert adders(InputTransform(variant.bt, 8)) == adds_in + variant.a ** 2
    assert adders(OutputTransform(variant.at, 32)) == adds_out
    for unit in (InputTransform(variant.bt, 8), OutputTransform(variant.at, 32)):
        assert not any(kind.startswith("$mul") for kind in cell_stats(unit)["by_type"])


def test_check_needs_the_unit_and_a_known_variant(tmp_path):
    with pytest.raises(SpecError, match="winograd_transform"):
        winograd.check(load_arch("edge_tiny"))
    with pytest.raises(SpecError, match="variant"):
        winograd.check(load_arch(ARCH), "F6")
    with pytest.raises(SpecError):
        winograd.generate(load_arch("edge_tiny"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_generate_writes_verilog_and_manifest(tmp_path):
    v_path, json_path = winograd.generate(load_arch(ARCH), tmp_path, "F2")
    info = json.loads(json_path.read_text())
    assert f"module {info['top']}" in v_path.read_text()
    names = {port["name"] for port in info["ports"]}
    assert names == {"cmd__valid", "cmd__ready", "cmd__payload", "busy", "rd_req__valid",
                     "rd_req__ready", "rd_req__payload", "rd_resp__valid", "rd_resp__ready",
                     "rd_resp__payload", "wr__valid", "wr__ready", "wr__payload", "perf"}
    ports = {port["name"]: port for port in info["ports"]}
    assert {"tap.ifmap_base", "v_step", "x_row", "in_shift", "out_align"} <= set(
        ports["cmd__payload"]["fields"])
    assert ports["wr__payload"]["fields"]["data"]["width"] == 32 + 15 + 2 * 2
    assert info["winograd"]["taps"] == 16 and info["winograd"]["y_bits"] == 32 + 15 + 2 * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([v_path.name, json_path.name])


def test_checker_catches_a_wrong_stage():
    """check_result on references passes, and names the stage that is wrong."""
    arch = load_arch(ARCH)
    _, job = layer_cases(arch, F4, "ws", np.random.default_rng(3))[1]
    v = expected_v_tiles(job)
    sums = [job.tap_job(t, v).expected() for t in range(job.taps)]
    counters = winograd_timing(arch, "ws", job.plan)
    good = WinogradResult(job.expected(), v, sums, counters, counters["cycles"])
    assert check_result(job, good) == []
    bad_v = v.copy()
    bad_v[0, 7] += 1
    bad_out = good.output.copy()
    bad_out[0, 0, 0] += 1
    assert "input transform differs" in check_result(job, WinogradResult(
        good.output, bad_v, sums, counters, counters["cycles"]))
    assert check_result(job, WinogradResult(bad_out, v, sums, counters, counters["cycles"])) \
        == ["output differs from conv_quant"]
    assert "cycles" in check_result(job, WinogradResult(good.output, v, sums, counters, 1))[0]


def rtl_vs_model(tmp_path, variant, cases):
    arch = load_arch(ARCH)
    results = run_winograd([job for _, job in cases], tmp_path / variant.name)
    for (name, job), result in zip(cases, results):
        where = f"{job.dataflow} {name}"
        assert check_result(job, result) == [], where
        model = winograd_timing(arch, job.dataflow, job.plan, job.bandwidth, job.latency)
        assert result.counters == model, where
        assert result.testbench_cycles == model["cycles"], where


@pytest.mark.long      # 20-60 s; F2's test below runs the same sequencer in make test
@needs_icarus
def test_icarus_f4_layers_bit_exact_and_cycle_exact(tmp_path):
    """Ten layer shapes on ws, two more on each of os and is and ws under other DRAM timings
    (0.5 bytes a cycle: the accelerator's last sum write outlasts a tap, so the sequencer
    waits for the port before the next tap and before phase 3)."""
    arch, rng = load_arch(ARCH), np.random.default_rng(4)
    cases = layer_cases(arch, F4, "ws", rng)
    for dataflow, (bandwidth, latency) in (("os", (1.0, 3)), ("is", (2.0, 1)),
                                           ("ws", (0.5, 7))):
        for name, job in layer_cases(arch, F4, dataflow, rng)[1:3]:
            job.bandwidth, job.latency = bandwidth, latency
            cases.append((name, job))
    rtl_vs_model(tmp_path, F4, cases)


@pytest.mark.long      # make test budget (15 min): `rtl verify --method winograd` runs the units on Icarus in make test
@needs_icarus
def test_icarus_f2_layers_bit_exact_and_cycle_exact(tmp_path):
    arch = load_arch(ARCH)
    rtl_vs_model(tmp_path, F2, layer_cases(arch, F2, "ws", np.random.default_rng(5)))


@pytest.mark.long      # 10-25 s; F2's layers on Icarus stay in make test
@needs_icarus
def test_icarus_widths_and_array_from_the_spec(tmp_path):
    """6-bit ifmap, 5-bit weights, 24-bit sums on a 3x5 array: the units' widths and the
    clamp follow the spec."""
    path = tmp_path / "odd.yaml"
    path.write_text("base: edge_tiny\nname: odd_widths\n"
                    "units: {winograd_transform: {ops_per_cycle: 8}}\n"
                    "pe_array: {rows: 3, cols: 5, ifmap_bits: 6, weight_bits: 5, psum_bits: 24}\n")
    arch = load_arch(path)
    cases = layer_cases(arch, F4, "ws", np.random.default_rng(6))
    for (name, job), result in zip(cases, run_winograd([job for _, job in cases], tmp_path / "b")):
        assert check_result(job, result) == [], name
        assert result.counters == winograd_timing(arch, "ws", job.plan), name


@pytest.mark.parametrize("transform,m", [(transform_f4, 4), (transform_f2, 2)])
def test_op_stats_price_the_method_op(transform, m):
    arch = load_arch(ARCH)
    layer = conv("c", 3, 5, 9, padding=1, N=2)
    op = transform(layer, arch)[0]
    assert cannot_run(arch, op, "ws") is None
    stats = op_stats(arch, op, "ws", energy_table(arch))
    one_image = winograd_timing(arch, "ws", WinogradPlan.of_conv(m, 3, 5, 9, 9))
    assert stats.cycles == 2 * one_image["cycles"]
    for key in ("mult", "wino_in_add", "wino_out_add", "wino_shift"):
        assert stats.ops[key] == op.ops[key], key
    assert stats.energy_breakdown_pj["units"] > 0
    fallback = transform(conv("s2", 3, 5, 9, stride=2, padding=1), arch)[0]
    assert "not a Winograd" in cannot_run(arch, fallback, "ws")
    assert "winograd_transform" in cannot_run(load_arch("edge_tiny"), op, "ws")


@pytest.mark.long      # 20-30 s of Icarus; F2's layers run in make test
@needs_icarus
def test_verify_passes_every_case_on_every_dataflow():
    """`dlaforge rtl verify --method winograd_f2`: ten layers on each of ws, os and is."""
    lines = []
    assert winograd.verify(load_arch(ARCH), progress=lines.append, variant="F2") == (30, 0)
    assert len(lines) == 30 and all(": ok (" in line for line in lines)
    with pytest.raises(SpecError, match="unknown simulator"):
        winograd.verify(load_arch(ARCH), sim="modelsim")


def test_amaranth_serves_the_top_as_the_cocotb_testbench_does():
    """`rtl verify --method winograd_f* --sim amaranth`: Amaranth's simulator with the same DRAM
    model; V, tap sums and outputs bit-exact, every counter equal to the timing model's (which
    the Icarus runs equal too)."""
    arch = load_arch(ARCH)
    cases = layer_cases(arch, F2, "ws", np.random.default_rng(0))[:2]
    for (name, job), result in zip(cases, run_winograd_amaranth([job for _, job in cases])):
        assert check_result(job, result) == [], name
        model = winograd_timing(arch, "ws", job.plan)
        assert {k: result.counters[k] for k in model} == model, name
