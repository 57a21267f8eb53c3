"""Winograd's output transform as a write-back stage of the controller
(hw/methods/winograd/tile_stage.py) in Amaranth's simulator, reading a synchronous
accumulator memory of random and extreme 32-bit tap sums: the planes it reads (addresses and
cycles), y bit-exact against Aᵀ (M << align) A in Python ints, and `ready`'s timing, start after
start."""

import numpy as np
import pytest
from amaranth import Module
from amaranth.lib import memory
from amaranth.sim import Simulator

from dlaforge.hw.methods.winograd.tile_stage import TileStage
from dlaforge.program import TAP_STAGE_PIPELINE
from dlaforge.workloads.methods.winograd.plan import ALIGN_BITS
from dlaforge.workloads.methods.winograd.variants import F2, F4

PSUM_BITS = 32
EXTREMES = [-(1 << 31), (1 << 31) - 1, 1 << 30, -(1 << 30), (1 << 30) + 12345, 0, 1, -1]


def expected_y(variant, words, base, stride, align):
    """Y = Aᵀ (M << align) A per lane of the planes at base + t*stride, as y's rows: output
    (i, j) at i*m + j, a Python int per lane."""
    at, a, m = np.array(variant.at, dtype=object), variant.a, variant.m
    cols = len(words[0])
    out = np.zeros((m * m, cols), dtype=object)
    for f in range(cols):
        planes = [int(words[base + t * stride][f]) << int(align[t]) for t in range(a * a)]
        out[:, f] = (at @ np.array(planes, dtype=object).reshape(a, a) @ at.T).reshape(-1)
    return out.tolist()


def extreme_tile(variant, cols):
    """Planes (a² words) whose output tile reaches near the transform's widest results: the
    taps signed as the products A[i][r]·A[i][s] of the row i of Aᵀ with the most weight, at
    2^31 - 1 and -2^31 (lanes 0 and 1, opposite signs) or +-2^30 (lanes 2 and 3); with align
    15, Y[i, i] is about +-2^46 · (Σ|A[i]|)² in lanes 0 and 1. Returns the planes and i."""
    at = np.array(variant.at, dtype=np.int64)
    i = int(np.argmax(np.abs(at).sum(axis=1)))
    hi, lo, half = (1 << 31) - 1, -(1 << 31), 1 << 30
    by_sign = [(lo, hi, hi), (hi, lo, lo), (-half, 0, half), (half, 0, -half)]   # sign -1, 0, 1
    signs = np.sign(np.outer(at[i], at[i])).reshape(-1)
    return [[by_sign[f % 4][int(s) + 1] for f in range(cols)] for s in signs], i


def run(variant, cols, acc_words, trials, words):
    """Starts one tile of each (base, stride, align) of `trials` on a TileStage over a memory of
    `words`; returns, per trial, the reads it made as (cycle after start, address), the first
    cycle of ready, and y (checked to hold while ready, even as base/stride/align change)."""
    dut = TileStage(variant, cols, PSUM_BITS, acc_words)
    top = Module()
    top.submodules.stage = dut
    top.submodules.acc = acc = memory.Memory(shape=dut.acc_data.shape(), depth=acc_words,
                                             init=words)
    port = acc.read_port()
    top.d.comb += [port.addr.eq(dut.acc_addr), port.en.eq(dut.acc_read),
                   dut.acc_data.eq(port.data)]
    taps, results = variant.a * variant.a, []

    def get_y(ctx):
        value = ctx.get(dut.y)
        return [[value[n][f] for f in range(cols)] for n in range(variant.m * variant.m)]

    async def bench(ctx):
        for _ in range(3):                                  # idle before the first start
            assert not ctx.get(dut.ready) and not ctx.get(dut.acc_read)
            await ctx.tick()
        for n, (base, stride, align) in enumerate(trials):
            assert ctx.get(dut.ready) == (n > 0)            # ready until the start's cycle
            ctx.set(dut.plane_base, base)
            ctx.set(dut.plane_stride, stride)
            for t in range(taps):
                ctx.set(dut.align[t], int(align[t]))
            ctx.set(dut.start, 1)
            reads, rose, y = [], None, None
            for cycle in range(dut.latency + 6):
                if ctx.get(dut.acc_read):
                    reads.append((cycle, ctx.get(dut.acc_addr)))
                if ctx.get(dut.ready) and cycle > 0:
                    rose = cycle if rose is None else rose
                    y = get_y(ctx) if y is None else y
                    assert get_y(ctx) == y
                else:
                    assert rose is None or cycle == 0
                await ctx.tick()
                ctx.set(dut.start, 0)
                if rose is not None:            # the inputs are free once ready
                    ctx.set(dut.plane_base, (base + 1) % acc_words)
                    ctx.set(dut.plane_stride, stride + 1)
                    for t in range(taps):
                        ctx.set(dut.align[t], (int(align[t]) + 7) % (1 << ALIGN_BITS))
            results.append((reads, rose, y))

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return dut, results


@pytest.mark.parametrize("variant, cols, acc_words",
                         [(F2, 3, 100), (F2, 4, 97), (F4, 3, 256), (F4, 4, 250)],
                         ids=["F2-3", "F2-4", "F4-3", "F4-4"])
def test_tile_stage_transforms_the_planes(variant, cols, acc_words):
    rng = np.random.default_rng(variant.m * 10 + cols)
    taps = variant.a * variant.a
    words = rng.integers(-(1 << 31), 1 << 31, (acc_words, cols)).astype(object)
    spots = rng.random((acc_words, cols)) < 0.3
    words[spots] = rng.choice(np.array(EXTREMES, dtype=object), int(spots.sum()))
    extreme, row = extreme_tile(variant, cols)
    for t in range(taps):                       # planes 3 + 5t: between those of trial 0
        words[3 + 5 * t] = extreme[t]
    words = words.tolist()
    trials = [(7, 5, rng.integers(0, 16, taps)),
              (3, 5, np.full(taps, 15)),
              (acc_words - 1 - 2 * (taps - 1), 2, rng.integers(0, 16, taps)),  # to the last word
              (1, 1, rng.integers(0, 16, taps))]
    dut, results = run(variant, cols, acc_words, trials, words)

    assert dut.out_bits == PSUM_BITS + 15 + (10 if variant is F4 else 4)
    assert dut.latency == taps + TAP_STAGE_PIPELINE == (41 if variant is F4 else 21)
    for (base, stride, align), (reads, rose, y) in zip(trials, results):
        assert reads == [(1 + t, base + t * stride) for t in range(taps)]
        assert rose == dut.latency
        want = expected_y(variant, words, base, stride, align)
        assert any(v != 0 for lanes in want for v in lanes)
        assert y == want
    corner = results[1][2][row * variant.m + row]             # the extreme tile's Y[i, i]
    assert corner[0] > 1 << (dut.out_bits - 3) and corner[1] < -(1 << (dut.out_bits - 3))
