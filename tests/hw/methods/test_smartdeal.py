"""The SmartDeal unit (hw/methods/smartdeal*.py): the rebuild engine alone in Amaranth's
simulator against smartdeal_ref.rebuild; the whole unit on Icarus, conv outputs bit-exact
against the integer conv of the rebuilt weights, every counter and the cycle count equal to
the timing model (sim/methods/smartdeal.py), all-zero Ce rows skipped in cycles, and DRAM
carrying codes instead of weights."""

import json

import numpy as np
import pytest
from amaranth.sim import Simulator

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.methods import smartdeal
from dlaforge.hw.methods.smartdeal.stimulus import SmartDealJob, code_region, random_decomposition
from dlaforge.hw.methods.smartdeal.rebuild import RebuildEngine
from dlaforge.hw.methods.smartdeal.unit import REBUILT_BITS
from dlaforge.hw.shapes import conv
from dlaforge.workloads.methods.smartdeal.plan import B_BYTES, WINDOW_ROWS, bitmap_bytes
from dlaforge.sim.methods.smartdeal import rebuild_steps, smartdeal_timing
from dlaforge.workloads.methods.conv_ref import conv2d_int
from dlaforge.workloads.methods.smartdeal.reference import P_MAX, P_MIN, rebuild
from simulators import needs_icarus

EDGE_TINY = load_arch("edge_tiny")


def run_engine(d, filters):
    """The engine on one block of `filters` filters, its buffers modelled by the testbench
    (asynchronous reads: the data of this cycle's addresses); returns (rebuilt [K, rows, 3]
    from its writes, cycles from start to done)."""
    region = code_region(d, 0, filters)
    rows = d.sign.shape[1]
    b_bytes = region[:B_BYTES * filters]
    fixed = B_BYTES * filters + bitmap_bytes(filters, rows)
    bitmap, codes = region[B_BYTES * filters:fixed], region[fixed:]
    dut = RebuildEngine(filters, REBUILT_BITS, 16, 12, 12)
    out = np.zeros((filters, rows, 3), np.int64)
    cycles = [0]

    def byte(buffer, addr):
        return int(buffer[addr]) if addr < len(buffer) else 0

    async def bench(ctx):
        ctx.set(dut.filters, filters)
        ctx.set(dut.rows, rows)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        while True:
            for i in range(len(dut.bitmap_addr)):
                ctx.set(dut.bitmap_data[i], byte(bitmap, ctx.get(dut.bitmap_addr[i])))
            for i in range(2):
                ctx.set(dut.code_data[i], byte(codes, ctx.get(dut.code_addr[i])))
            j = ctx.get(dut.b_addr)
            for i in range(B_BYTES):
                ctx.set(dut.b_data[i], int(np.int8(b_bytes[B_BYTES * j + i])))
            cycles[0] += 1
            if ctx.get(dut.wr_en):
                k, g = ctx.get(dut.wr_filter), ctx.get(dut.wr_row)
                out[k, g] = [ctx.get(dut.wr_data[c]) for c in range(3)]
            done = ctx.get(dut.done)
            await ctx.tick()
            if done:
                break

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out, cycles[0]


ENGINE_CASES = {
    "random": {},
    "sparse": {"nonzero": 0.2, "zero_rows": 0.6},
    "all_zero_rows": {"zero_rows": 1.0},
    "dense": {"nonzero": 1.0, "zero_rows": 0.0},
}


@pytest.mark.parametrize("case", list(ENGINE_CASES) + ["extremes"])
def test_rebuild_engine_bit_exact(case):
    """4 filters of 11 Ce rows (a window ends mid-filter); the cycles are the timing model's
    walk: one per nonzero row, one per WINDOW_ROWS zero rows at most."""
    rng = np.random.default_rng(len(case))
    d = random_decomposition(rng, 4, 33, **ENGINE_CASES.get(case, {"nonzero": 1.0,
                                                                    "zero_rows": 0.0}))
    if case == "extremes":      # the largest magnitudes of both signs, the smallest shift
        d.sign[0], d.exp[0], d.b_q[0] = -1, P_MAX, 127
        d.sign[1], d.exp[1], d.b_q[1] = 1, P_MIN, 127
        d.sign[2], d.exp[2], d.b_q[2] = -1, P_MAX, -127
    rebuilt, cycles = run_engine(d, 4)
    assert np.array_equal(rebuilt, rebuild(d))
    nonzero_rows = np.any(d.sign != 0, axis=2)
    assert cycles == rebuild_steps(nonzero_rows, WINDOW_ROWS)
    if case == "all_zero_rows":
        assert cycles == 4 * -(-11 // WINDOW_ROWS)
    if case == "extremes":
        largest = 3 * 127 * 2 ** (P_MAX - P_MIN)
        assert (rebuilt[0] == -largest).all() and (rebuilt[2] == largest).all()
        assert (rebuilt[1] == 3 * 127).all()


DRAMS = [(None, None), (1.0, 3), (0.5, 1), (2.0, 7)]


@pytest.fixture(scope="module")
def icarus_runs(tmp_path_factory):
    """verify's layers (20 corner-case shapes, extreme and real codes) in one Icarus process,
    cycling through four DRAM bandwidth/latency settings."""
    named = smartdeal.verify_jobs(EDGE_TINY, np.random.default_rng(5))
    jobs = []
    for i, (name, job) in enumerate(named):
        bandwidth, latency = DRAMS[i % len(DRAMS)]
        jobs.append(SmartDealJob(EDGE_TINY, job.gemm, job.decomposition, job.ifmap,
                                 bandwidth=bandwidth, latency=latency))
    results = smartdeal.run(jobs, tmp_path_factory.mktemp("smartdeal") / "build")
    return [(name, job, result) for (name, _), job, result in zip(named, jobs, results)]


@needs_icarus
def test_icarus_bit_exact_and_cycle_exact(icarus_runs):
    assert len(icarus_runs) >= 20
    for name, job, result in icarus_runs:
        assert np.array_equal(result.output, job.expected()), name
        model = smartdeal_timing(EDGE_TINY, job.gemm, job.decomposition.sign, job.bandwidth,
                                 job.latency)
        assert result.perf == model, name
        assert result.testbench_cycles == result.perf["cycles"], name



@pytest.mark.long      # 10-25 s; the preset's widths run on Icarus in make test
@needs_icarus
def test_widths_from_the_spec_on_icarus(tmp_path):
    """A 3x5 array (rows not a multiple of 3, so kd tiles start mid Ce row), 4-bit ifmap,
    20-bit sums that wrap: verify's layers, bit- and cycle-exact."""
    path = tmp_path / "odd.yaml"
    path.write_text("base: edge_tiny\nname: odd\npe_array: {rows: 3, cols: 5, ifmap_bits: 4, "
                    "psum_bits: 20}\n")
    arch = load_arch(path)
    named = smartdeal.verify_jobs(arch, np.random.default_rng(2))
    results = smartdeal.run([job for _, job in named], tmp_path / "build")
    wrapped = 0
    for (name, job), result in zip(named, results):
        assert np.array_equal(result.output, job.expected()), name
        model = smartdeal_timing(arch, job.gemm, job.decomposition.sign)
        assert result.perf == model, name
        raw = conv2d_int(job.ifmap[None], job.weights(), job.gemm.stride, job.gemm.padding)
        wrapped += np.abs(raw).max() >= 1 << 19
    assert wrapped      # some layer's sums do wrap at 20 bits

@needs_icarus
def test_zero_rows_skipped_in_cycles(icarus_runs):
    """The same layer with every Ce row zero rebuilds in a quarter of the dense layer's
    rebuild cycles (and shifts nothing); its outputs are all zero."""
    runs = {name: result for name, _, result in icarus_runs}
    empty, dense = runs["all_zero_rows"].perf, runs["dense"].perf
    rows = 2 * 9 // 3
    filters = EDGE_TINY.pe_array.cols + 1
    assert dense["rebuild_cycles"] == filters * rows
    assert empty["rebuild_cycles"] == filters * -(-rows // WINDOW_ROWS)
    assert empty["rebuild_shifts"] == empty["rebuilt_rows"] == 0
    assert not runs["all_zero_rows"].output.any()
    assert empty["cycles"] < dense["cycles"]


@needs_icarus
def test_dram_carries_codes_not_weights(icarus_runs):
    """Read bytes = the ifmap elements the loader fetched + the code image, exactly once per
    filter block; the codes of the sparse random layers are smaller than int8 weights."""
    for name, job, result in icarus_runs:
        assert result.perf["dram_code_bytes"] == job.codes.size, name
        assert result.perf["rebuild_shifts"] == 3 * np.count_nonzero(job.decomposition.sign)
    job = next(job for name, job, _ in icarus_runs if name == "conv5x5_pad")
    assert job.codes.size < job.gemm.K * job.gemm.Kd


def test_generate_and_check(tmp_path):
    verilog, manifest = smartdeal.generate(EDGE_TINY, tmp_path)
    assert "module dlaforge_smartdeal" in verilog.read_text()
    info = json.loads(manifest.read_text())
    assert info["smartdeal"]["rebuilt_weight_bits"] == REBUILT_BITS == 17
    assert {p["name"] for p in info["ports"]} >= {"cmd__payload", "rd_req__payload", "perf"}


def test_check_refuses_what_it_cannot_build(arch_yaml):
    with pytest.raises(SpecError, match="ws"):
        smartdeal.check(load_arch(arch_yaml({"pe_array.dataflows": ["os"]})))
    with pytest.raises(SpecError, match="holds"):
        SmartDealJob.random(EDGE_TINY, conv(64, 3, 3, 4, 3, 3), np.random.default_rng(0))
    with pytest.raises(SpecError, match="simulator"):
        smartdeal.verify(EDGE_TINY, sim="modelsim")
    smartdeal.check(EDGE_TINY)


def test_op_stats_for_a_method_op():
    """The cycle model's entry: a smartdeal HwOp is timed on the codes of synthetic_signs,
    its rebuild work is what the method's transform charges, and os is refused."""
    from dlaforge.sim.methods import smartdeal as rtl_smartdeal
    from dlaforge.sim.energy import energy_table
    from dlaforge.workloads.layer import conv as layer_conv
    from dlaforge.workloads.methods import get_method
    arch = load_arch("edge_tiny_smartdeal")
    layer = layer_conv("slice", C=4, K=6, H=6, R=3, padding=1)
    op = get_method("smartdeal", arch).transform(layer, arch)[0]
    assert rtl_smartdeal.cannot_run(arch, op, "ws") is None
    assert "ws" in rtl_smartdeal.cannot_run(arch, op, "os")
    stats = rtl_smartdeal.op_stats(arch, op, "ws", energy_table(arch))
    counters = smartdeal_timing(arch, rtl_smartdeal.gemm_of(op), rtl_smartdeal.synthetic_signs(op))
    assert stats.cycles == counters["cycles"]
    assert stats.ops["rebuild_shift"] == op.ops["rebuild_shift"]
    assert stats.ops["rebuild_add"] == op.ops["rebuild_add"]
    assert stats.energy_breakdown_pj["units"] > 0


@pytest.mark.long
def test_cell_stats_beside_the_int8_mac():
    """The unit's PE multiplies by 17-bit rebuilt weights; the rebuild engine has shifters and
    adders but no multiplier."""
    stats = smartdeal.cell_stats(EDGE_TINY)
    assert any(k.startswith("$mul(8x17") for k in stats["pe"]["by_type"])
    assert any(k.startswith("$mul(8x8") for k in stats["int8_pe"]["by_type"])
    engine = stats["rebuild_engine"]["by_type"]
    assert not any(k.startswith("$mul") for k in engine)
    assert sum(n for k, n in engine.items() if k.startswith("$shl")) == 9
    assert stats["pe_over_int8_pe"] == stats["pe"]["total"] / stats["int8_pe"]["total"]
    assert stats["unit"]["total"] > stats["array"]["total"] + stats["rebuild_engine"]["total"]
