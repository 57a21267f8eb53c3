"""The tile counter (hw/tiles.py) on its own in Amaranth's simulator, against the tile order of
accelerator_plan (RtlPlan.tiles) and a plain loop: block starts and sizes, first_k / last_k /
last_m, the buffer and accumulator half parities, `finished`, `restart`, holding without
`next`; with bit-sliced passes, the pass order of
dlaforge.workloads.methods.palquant.plan.slice_passes (plane_a, plane_w, pass_end, shift_acc). Also `step_digits`, the mixed-radix counter."""

import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator

from dlaforge.arch import load_arch
from dlaforge.hw.layouts import DesignParams, GeneratorParams, command_fields
from dlaforge.hw.tiles import TileCounter, step_digits
from dlaforge.workloads.methods.palquant.plan import slice_passes
from dlaforge.program import ceil_div
from dlaforge.workloads.methods.accelerator_plan import Gemm, RtlPlan

OUTPUTS = ("n0", "m0", "kd0", "n_size", "m_size", "k_size", "first_k", "last_k", "last_m",
           "half", "out_half", "finished", "plane_a", "plane_w", "pass_end", "shift_acc")


def loop_model(K, M, Kd, Nt, Mt, Kt, passes=((0, 0, False),)):
    """Every tile's outputs, by the plain loop of the docstrings: n-block, m-block, pass, kd
    block; a pass is (ifmap slice, weight slice, accumulator shifted first)."""
    tiles = []
    tn, tm, tk = ceil_div(K, Nt), ceil_div(M, Mt), ceil_div(Kd, Kt)
    index = output = 0
    for nb in range(tn):
        for mb in range(tm):
            for p, (i, j, shifted) in enumerate(passes):
                first_pass, last_pass = p == 0, p == len(passes) - 1
                for kb in range(tk):
                    n0, m0, kd0 = nb * Nt, mb * Mt, kb * Kt
                    tiles.append({
                        "n0": n0, "m0": m0, "kd0": kd0, "n_size": min(Nt, K - n0),
                        "m_size": min(Mt, M - m0), "k_size": min(Kt, Kd - kd0),
                        "first_k": int(kb == 0 and first_pass),
                        "last_k": int(kb == tk - 1 and last_pass), "last_m": int(mb == tm - 1),
                        "half": index % 2, "out_half": output % 2, "finished": 0,
                        "plane_a": i, "plane_w": j,
                        "pass_end": int(kb == tk - 1 and not last_pass),
                        "shift_acc": int(kb == 0 and shifted)})
                    index += 1
            output += 1
    return tiles


def walk(dut, fields, ticks, holds=(), restart_at=None, at_restart=None):
    """Drive a TileCounter: restart, then `next` in `ticks` cycles (none in the cycles listed in
    `holds`); the outputs seen in every cycle in which `next` is high, and after the last one.
    With `restart_at` = i, restart (instead of `next`) once when tile i is current (the outputs
    then seen are appended to `at_restart`)."""
    seen = []

    async def bench(ctx):
        for name, value in fields.items():
            ctx.set(getattr(dut.cmd, name), value)
        ctx.set(dut.restart, 1)
        await ctx.tick()
        ctx.set(dut.restart, 0)
        restarted = False
        for t in range(ticks):
            if t in holds:
                before = {n: ctx.get(getattr(dut, n)) for n in OUTPUTS}
                ctx.set(dut.next, 0)
                await ctx.tick()
                assert {n: ctx.get(getattr(dut, n)) for n in OUTPUTS} == before
                continue
            if restart_at is not None and len(seen) == restart_at and not restarted:
                restarted = True
                at_restart.append({n: ctx.get(getattr(dut, n)) for n in OUTPUTS})
                ctx.set(dut.next, 0)
                ctx.set(dut.restart, 1)
                await ctx.tick()
                ctx.set(dut.restart, 0)
                seen.clear()
                continue
            seen.append({n: ctx.get(getattr(dut, n)) for n in OUTPUTS})
            ctx.set(dut.next, 1)
            await ctx.tick()
        ctx.set(dut.next, 0)
        seen.append({n: ctx.get(getattr(dut, n)) for n in OUTPUTS})

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen


def small_arch(arch_yaml, rows, cols, buf_bytes):
    return load_arch(arch_yaml({"pe_array.rows": rows, "pe_array.cols": cols,
                                "memory.1.size_bytes": buf_bytes}))


def counter(params=GeneratorParams()):
    layout = DesignParams(2, 3, 8, 8, 32, None, ("ws",), params).command_layout()
    return TileCounter(layout, params.dim_bits, params.addr_bits)


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
@pytest.mark.parametrize("rows,cols,gemm", [
    (2, 3, Gemm(C=3, H=4, W=3, K=7, R=2, S=1, P=3, Q=3)),            # every loop > 1 trip
    (3, 2, Gemm.matmul(5, 7, 3)),
    (2, 3, Gemm.matmul(1, 1, 1)),                                       # one tile
])
def test_tile_order_matches_accelerator_plan(arch_yaml, dataflow, rows, cols, gemm):
    # 144 bytes of buffer: a few words per half, so that every dataflow cuts its streamed
    # dimension too (ws: Mt, os: Kt, is: Nt)
    arch = small_arch(arch_yaml, rows, cols, 144)
    plan = RtlPlan.make(arch, dataflow, gemm)
    fields = command_fields(plan, 0, 0, 0)
    rows_ = plan.tiles()
    T = len(rows_)
    holds = {1, 4, T + 1} if T > 2 else {1}
    seen = walk(counter(), fields, T + len(holds), holds=holds)
    want = loop_model(gemm.K, gemm.M, gemm.Kd, plan.Nt, plan.Mt, plan.Kt)
    assert len(seen) == T + 1 == len(want) + 1
    # against the plan's own table of tiles
    for got, (nb, mb, kb, n_size, m_size, k_size) in zip(seen, rows_.tolist()):
        assert (got["n0"], got["m0"], got["kd0"]) == (nb * plan.Nt, mb * plan.Mt, kb * plan.Kt)
        assert (got["n_size"], got["m_size"], got["k_size"]) == (n_size, m_size, k_size)
    # and against the loop, every output
    assert seen[:-1] == want
    assert seen[-1]["finished"] == 1
    if dataflow == "ws" and gemm.M > 1:
        assert plan.trips[1] > 1 and plan.trips[2] > 1       # the case walks m and kd blocks


@pytest.mark.parametrize("restart_at", [5, "end"])
def test_restart_goes_back_to_tile_zero(restart_at):
    """Restart in the middle of a walk, or after the last tile (which clears `finished`)."""
    fields = {"K": 5, "M": 4, "Kd": 5, "Nt": 3, "Mt": 2, "Kt": 2, "tn": 2, "tm": 2, "tk": 3}
    want = loop_model(5, 4, 5, 3, 2, 2)
    at = len(want) if restart_at == "end" else restart_at
    before = []
    seen = walk(counter(), fields, at + 1 + len(want), restart_at=at, at_restart=before)
    assert seen[:-1] == want and seen[-1]["finished"] == 1
    assert before[0]["finished"] == (restart_at == "end")
    assert before[0]["n0"] + before[0]["m0"] + before[0]["kd0"] > 0   # not already at tile 0


@pytest.mark.parametrize("a_top,w_top", [(0, 0), (1, 1), (3, 1), (0, 2), (2, 3)])
def test_bit_sliced_passes_follow_slice_passes(a_top, w_top):
    params = GeneratorParams(slice_bits=2)
    passes = slice_passes(a_top, w_top)
    assert len(passes) == (a_top + 1) * (w_top + 1)
    # the doc's order, written out: diagonals from the top down, i from min(d, a_top) down
    doc = [(i, d - i) for d in range(a_top + w_top, -1, -1)
           for i in range(min(d, a_top), max(0, d - w_top) - 1, -1)]
    assert [(i, j) for i, j, _ in passes] == doc
    K, M, Kd, Nt, Mt, Kt = 4, 3, 5, 3, 2, 2
    fields = {"K": K, "M": M, "Kd": Kd, "Nt": Nt, "Mt": Mt, "Kt": Kt, "tn": ceil_div(K, Nt),
              "tm": ceil_div(M, Mt), "tk": ceil_div(Kd, Kt), "a_top": a_top, "w_top": w_top}
    want = loop_model(K, M, Kd, Nt, Mt, Kt, passes)
    seen = walk(counter(params), fields, len(want))
    assert seen[:-1] == want and seen[-1]["finished"] == 1
    # shift_acc marks exactly the first kd tile of every diagonal after the first
    shifts = [(t["plane_a"], t["plane_w"]) for t in seen[:-1] if t["shift_acc"]]
    tiles_per_output = ceil_div(K, Nt) * ceil_div(M, Mt)
    assert len(shifts) == (a_top + w_top) * tiles_per_output


def test_one_pass_fields_are_constant_without_slices():
    fields = {"K": 3, "M": 2, "Kd": 3, "Nt": 3, "Mt": 2, "Kt": 2, "tn": 1, "tm": 1, "tk": 2}
    seen = walk(counter(), fields, 2)
    assert [(t["plane_a"], t["plane_w"], t["pass_end"], t["shift_acc"]) for t in seen] == \
        [(0, 0, 0, 0)] * 3


@pytest.mark.parametrize("limits", [(None, 3), (None, 2, 3), (None, 1, 4)])
def test_step_digits_counts_in_mixed_radix(limits):
    m = Module()
    digits = [Signal(8, name=f"d{i}") for i in range(len(limits))]
    go = Signal()
    with m.If(go):
        step_digits(m, digits, limits)
    seen = []

    async def bench(ctx):
        for t in range(20):
            ctx.set(go, t % 3 != 2)          # a step in two cycles out of three
            seen.append((t % 3 != 2, [ctx.get(d) for d in digits]))
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    value = 0
    for stepped, got in seen:
        want, rest = [], value
        for limit in reversed(limits[1:]):
            want.insert(0, rest % limit)
            rest //= limit
        assert got == [rest] + want
        value += stepped
