"""Winograd's input transform as a controller LOAD stage (hw/methods/winograd/patch_stage.py) in
Amaranth's simulator: a tile's raw window in a synchronous staging memory, the V words the stage
writes checked against numpy's Bᵀ d B (rounding shift, clamp) of the zero-padded image, every
word once, and the stage's data-independent cycle count."""

from dataclasses import dataclass, replace

import numpy as np
import pytest
from amaranth import Elaboratable, Module
from amaranth.lib import memory
from amaranth.sim import Simulator

from dlaforge.hw.methods.winograd.patch_stage import PatchStage
from dlaforge.program import TAP_STAGE_PIPELINE
from dlaforge.workloads.methods.winograd.plan import SHIFT_BITS
from dlaforge.workloads.methods.winograd.variants import F2, F4

BITS, DIM_BITS, IFMAP_WORDS = 8, 8, 2048
QMAX = (1 << (BITS - 1)) - 1
LATENCY = TAP_STAGE_PIPELINE    # beyond the stage's N·a² + a² cycles (see PatchStage)


@dataclass(frozen=True)
class Job:
    """One start of the stage: patches of a raw window staged from the image."""
    blocks: int
    tiles_p: int
    tiles_q: int
    top: int
    left: int
    lo: int
    in_rows: int
    wlo: int
    in_cols: int
    shift: tuple
    v_base: int
    channels: int       # lanes written: those of channels below it


class Staged(Elaboratable):
    """The stage reading a synchronous staging memory that holds `words`."""

    def __init__(self, stage: PatchStage, words: list):
        self.stage, self.words = stage, words

    def elaborate(self, platform):
        m = Module()
        m.submodules.stage = self.stage
        m.submodules.staging = staging = memory.Memory(
            shape=self.stage.s_data.shape(), depth=len(self.words), init=self.words)
        port = staging.read_port()
        m.d.comb += [port.addr.eq(self.stage.s_addr), self.stage.s_data.eq(port.data)]
        return m


def staging_words(image, lo, in_rows, wlo, in_cols):
    """The window's words, (cb*in_rows + h - lo)*in_cols + w - wlo, then a few stray words a
    wrong read would pick up."""
    window = image[:, lo:lo + in_rows, wlo:wlo + in_cols].reshape(-1, image.shape[3])
    return [list(map(int, word)) for word in window] + [[-77] * image.shape[3]] * 3


def expected(variant, image, job):
    """{ifmap word: lanes}: each patch of the zero-padded image through Bᵀ d B, each tap's
    rounding shift and clamp, at its V word."""
    a, m = variant.a, variant.m
    bt = variant.bt.astype(np.int64)
    margin = 2 * a
    padded = np.pad(image.astype(np.int64), ((0, 0), (margin, margin), (margin, margin), (0, 0)))
    s = np.array(job.shift, np.int64).reshape(a, a, 1)
    words = {}
    for cb in range(job.blocks):
        for pi in range(job.tiles_p):
            for qi in range(job.tiles_q):
                h, w = job.top + pi * m + margin, job.left + qi * m + margin
                assert h >= 0 and w >= 0
                d = padded[cb, h:h + a, w:w + a]
                v = np.einsum("ix,xyl,jy->ijl", bt, d, bt)
                v = np.clip((v + ((1 << s) >> 1)) >> s, -QMAX, QMAX)
                for x in range(a):
                    for y in range(a):
                        word = (job.v_base + ((cb * job.tiles_p + pi) * a + x) * (job.tiles_q * a)
                                + qi * a + y)
                        rows = len(v[x, y])
                        words[word] = {lane: int(value) for lane, value in enumerate(v[x, y])
                                       if cb * rows + lane < job.channels}
    return words


def run(variant, image, jobs, words):
    """Each job started the cycle after the previous one's `done`; per job the V words it
    wrote ({word: lanes}) and the cycles from its start to its `done`."""
    rows = image.shape[3]
    stage = PatchStage(variant, rows, BITS, DIM_BITS, len(words), IFMAP_WORDS)
    results = []

    async def bench(ctx):
        ctx.set(stage.height, image.shape[1])
        ctx.set(stage.width, image.shape[2])
        for job in jobs:
            for name in ("channels", "tiles_p", "tiles_q", "top", "left", "lo",
                         "in_rows", "wlo", "in_cols", "v_base"):
                ctx.set(getattr(stage, name), getattr(job, name))
            for t, s in enumerate(job.shift):
                ctx.set(stage.shift[t], s)
            assert not ctx.get(stage.busy)
            ctx.set(stage.start, 1)
            await ctx.tick()
            ctx.set(stage.start, 0)
            written, cycles = {}, 1
            while True:
                assert ctx.get(stage.busy)
                assert ctx.get(stage.s_addr) < len(words)
                if enabled := ctx.get(stage.v_en):
                    addr = ctx.get(stage.v_addr)
                    assert addr not in written, addr
                    written[addr] = {j: ctx.get(stage.v_data[j]) for j in range(rows)
                                     if enabled >> j & 1}
                if ctx.get(stage.done):
                    break
                await ctx.tick()
                cycles += 1
                assert cycles < 5_000
            await ctx.tick()
            assert not (ctx.get(stage.done) or ctx.get(stage.busy) or ctx.get(stage.v_en))
            results.append((written, cycles))

    sim = Simulator(Staged(stage, words))
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return results


def random_image(rng, blocks, height, width, rows):
    """int8 pixels, about a tenth of them at each extreme -128 and 127."""
    image = rng.integers(-128, 128, (blocks, height, width, rows))
    extreme = rng.random(image.shape)
    image[extreme < 0.1] = -128
    image[extreme > 0.9] = 127
    return image


def random_shift(rng, taps):
    shift = rng.integers(0, 1 << SHIFT_BITS, taps)
    shift[rng.random(taps) < 0.3] = 0
    shift[:2] = (0, (1 << SHIFT_BITS) - 1)
    return tuple(int(s) for s in shift)


# (variant, rows, image blocks x H x W, first output tile row and column p0, q0, tiles_p,
#  tiles_q): padding 1, the window the tile's patches read (clipped to the image), as the
#  controller's LOAD stages it
CASES = {
    "F2-padded-edges": (F2, 4, (2, 7, 5), 0, 0, 4, 3),         # past bottom and right edges
    "F4-padded-edges": (F4, 4, (2, 6, 9), 0, 0, 2, 3),
    "F4-rows3-sub-window": (F4, 3, (2, 14, 11), 1, 1, 2, 2),   # lo = wlo = 3, past the right
    "F2-sub-window-bottom": (F2, 4, (2, 9, 12), 3, 2, 2, 3),   # lo = 5, wlo = 3, past the bottom
}


@pytest.mark.parametrize("case", CASES)
def test_patch_stage_writes_the_transformed_patches(case):
    variant, rows, (blocks, height, width), p0, q0, tiles_p, tiles_q = CASES[case]
    a, m, taps = variant.a, variant.m, variant.a ** 2
    rng = np.random.default_rng(sum(map(ord, case)))
    image = random_image(rng, blocks, height, width, rows)
    top, left = p0 * m - 1, q0 * m - 1
    lo, wlo = max(top, 0), max(left, 0)
    in_rows = min(top + tiles_p * m + 2, height) - lo
    in_cols = min(left + tiles_q * m + 2, width) - wlo
    words = staging_words(image, lo, in_rows, wlo, in_cols)
    first = Job(blocks, tiles_p, tiles_q, top, left, lo, in_rows, wlo, in_cols,
                random_shift(rng, taps), 0, blocks * rows - 1)     # the last lane unwritten
    jobs = [first,
            replace(first, tiles_q=0),                  # no patches
            replace(first, blocks=1, shift=random_shift(rng, taps), v_base=1000,
                    channels=rows)]
    for job, (written, cycles) in zip(jobs, run(variant, image, jobs, words)):
        want = expected(variant, image, job)
        patches = job.blocks * job.tiles_p * job.tiles_q
        assert len(want) == patches * taps
        assert written == want
        assert cycles == (patches * taps + taps + LATENCY if patches else 1)
        if patches:     # not vacuous: values inside the clamp, and some clamped
            values = np.array([v for word in want.values() for v in word.values()])
            assert np.any((values != 0) & (abs(values) < QMAX))
            assert np.any(abs(values) == QMAX)
