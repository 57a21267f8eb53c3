"""SmartDeal on the controller, its first parts (docs/plans/method_hardware_on_controller.md,
Stage 3): the code regions of workloads/methods/smartdeal/regions.py decoded back by plain
numpy, and the rebuild stage (hw/methods/smartdeal/rebuild_stage.py) in Amaranth's simulator:
regions written in byte-rows, the code rows it counts, and the weight words it writes, bit-exact
against smartdeal_ref.rebuild, one word a cycle."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from dlaforge.hw.methods.smartdeal.rebuild_stage import RebuildStage
from dlaforge.hw.methods.smartdeal.stimulus import random_decomposition
from dlaforge.hw.methods.smartdeal.unit import REBUILT_BITS
from dlaforge.workloads.methods.smartdeal import regions
from dlaforge.workloads.methods.smartdeal.reference import (B_BYTES, P_MAX, P_MIN, decompose,
                                                            rebuild)

LANES = 4


def decode(rows_bytes, rows):
    """A region's byte-rows back to (sign, exp, b_q) per filter, by the layout's words."""
    count = rows_bytes.shape[1]
    b_q = rows_bytes[:B_BYTES].T.astype(np.int8).astype(np.int64).reshape(count, 3, 3)
    bits = np.unpackbits(rows_bytes[B_BYTES:regions.fixed_rows(rows)].T, axis=1,
                         bitorder="little")[:, :3 * rows].reshape(count, rows, 3)
    sign = np.zeros((count, rows, 3), np.int64)
    exp = np.zeros((count, rows, 3), np.int64)
    codes = rows_bytes[regions.fixed_rows(rows):]
    for j in range(count):
        nibbles = [(int(byte) >> shift) & 15 for byte in codes[:, j] for shift in (0, 4)]
        for n, (g, i) in enumerate(zip(*np.nonzero(bits[j]))):
            sign[j, g, i] = -1 if nibbles[n] & 8 else 1
            exp[j, g, i] = (nibbles[n] & 7) + P_MIN
    return sign, exp, b_q


def whole(d, first, count):
    """The region of filters first .. first+count-1 holding all of their Ce rows (one group)."""
    rows = d.sign.shape[1]
    return regions.region(d, first, count, 0, rows, regions.bitmap_rows(rows))


def extreme(K, Kd):
    """Every Ce entry nonzero at the largest exponent, B at +-127: the widest rebuilt sums."""
    rng = np.random.default_rng(1)
    d = random_decomposition(rng, K, Kd, nonzero=1.0, zero_rows=0.0)
    d.sign[:] = np.where(np.arange(d.sign.size).reshape(d.sign.shape) % 2, -1, 1)
    d.exp[:] = P_MAX
    d.b_q[:] = np.where(np.arange(d.b_q.size).reshape(d.b_q.shape) % 3, 127, -127)
    return d


def test_regions_decode_back_to_the_codes():
    rng = np.random.default_rng(7)
    cases = [random_decomposition(rng, 6, Kd) for Kd in (27, 7, 1, 45)]
    w = rng.normal(0, 0.1, (5, 4, 3, 3))
    cases += [decompose(w), extreme(3, 9), random_decomposition(rng, 4, 12, nonzero=0.0)]
    for d in cases:
        rows = d.sign.shape[1]
        for first, count in ((0, min(4, d.sign.shape[0])), (d.sign.shape[0] - 1, 1)):
            got = whole(d, first, count)
            sign, exp, b_q = decode(got, rows)
            assert np.array_equal(sign, d.sign[first:first + count])
            assert np.array_equal(exp * (sign != 0), d.exp[first:first + count])
            assert np.array_equal(b_q, d.b_q[first:first + count])
            assert len(got) <= regions.pitch_rows(rows)
    assert len(whole(extreme(3, 9), 0, 3)) == regions.pitch_rows(3)


def test_group_regions_decode_back_to_their_rows():
    """A layer's regions per group of channels: each holds its group's Ce rows (the last
    group's fewer, its bitmap padded to a whole group's), B repeated, at the image's offsets
    of group g = g*channels*stride + block*cols*pitch."""
    rng = np.random.default_rng(5)
    codes = regions.SmartDealCode()
    for (K, C, R, S), channels in (((6, 7, 3, 3), 3), ((5, 10, 1, 1), 6), ((6, 4, 1, 3), 2)):
        d = codes.random(rng, K, C, R, S)
        rows = regions.group_rows(d, channels)
        image = regions.dram_image(d, 4, channels)
        stride, pitch = regions.channel_stride(d, 4, channels), regions.pitch_rows(rows)
        fixed, table = regions.region_table(d, 4, channels)
        assert fixed == regions.fixed_rows(rows)
        groups = -(-C // channels)
        assert len(table) == groups * 2 and len(image) == groups * channels * stride
        for g in range(groups):
            row0 = g * rows
            want_rows = min(rows, d.sign.shape[1] - row0)
            for kb, (first, count) in enumerate(((0, 4), (4, K - 4))):
                at = g * channels * stride + first * pitch
                size = table[g * 2 + kb]
                got = image[at:at + size * count].reshape(size, count).astype(np.uint8)
                sign, exp, b_q = decode(got, rows)
                assert np.array_equal(sign[:, :want_rows],
                                      d.sign[first:first + count, row0:row0 + want_rows])
                assert not sign[:, want_rows:].any()
                assert np.array_equal(exp * (sign != 0), np.pad(
                    d.exp[first:first + count, row0:row0 + want_rows],
                    ((0, 0), (0, rows - want_rows), (0, 0))))
                assert np.array_equal(b_q, d.b_q[first:first + count])


def test_group_channels():
    """The most channels a weight half holds in whole Ce rows, or a divisor of C of at least
    half as many."""
    assert regions.group_channels(64, 3, 3, 481) == 32     # 53 fit; 32 divides 64
    assert regions.group_channels(64, 3, 3, 576) == 64     # all fit
    assert regions.group_channels(53, 3, 3, 481) == 53
    assert regions.group_channels(59, 3, 3, 481) == 53     # prime: the most that fit
    assert regions.group_channels(512, 1, 1, 481) == 480   # whole rows: multiples of 3
    assert regions.group_channels(96, 1, 1, 60) == 48      # 60 fit; 48 divides 96
    assert regions.group_channels(4, 13, 13, 481) == 0     # 3 x 169 words do not fit
    assert regions.group_channels(2, 13, 13, 481) == 2     # all C fit: one group
    assert regions.group_channels(481, 1, 1, 481) == 481


def run_stage(blocks, shape):
    """Each (decomposition, filters) of `blocks` loaded into one stage, one byte-row a cycle,
    then rebuilt into the weight words of conv shape (c_size, R, S). Returns per block (the
    code rows the stage counted, {word: lanes} it wrote, cycles from start to done)."""
    c_size, R, S = shape
    dut = RebuildStage(LANES, 64, REBUILT_BITS, 12, 12)
    results = []

    async def bench(ctx):
        for base, (d, filters) in enumerate(blocks):
            region = whole(d, 0, filters)
            ctx.set(dut.code_start, regions.fixed_rows(d.sign.shape[1]))
            for q, byte_row in enumerate(region):
                ctx.set(dut.load_addr, q)
                for j in range(LANES):
                    ctx.set(dut.load_data[j], int(byte_row[j]) if j < filters else 0xA5)
                ctx.set(dut.load_en, (1 << filters) - 1)
                await ctx.tick()
            ctx.set(dut.load_en, 0)
            counted = ctx.get(dut.code_rows)
            for name, value in (("c_size", c_size), ("R", R), ("S", S), ("filters", filters),
                                ("word_base", 100 * base)):
                ctx.set(getattr(dut, name), value)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            words, cycles = {}, 1
            while True:
                if ctx.get(dut.w_en):
                    assert ctx.get(dut.w_en) == (1 << filters) - 1
                    addr = ctx.get(dut.w_addr)
                    assert addr not in words
                    words[addr] = [ctx.get(dut.w_data[j]) for j in range(filters)]
                if ctx.get(dut.done):
                    break
                await ctx.tick()
                cycles += 1
                assert cycles < 10_000
            await ctx.tick()
            assert not ctx.get(dut.busy)
            results.append((counted, words, cycles))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return results


@pytest.mark.parametrize("shape", [(3, 3, 3), (7, 1, 1), (2, 3, 5), (5, 1, 3)],
                         ids=["3x3", "1x1-padded", "3x5", "1x3"])
def test_rebuild_stage_writes_the_rebuilt_weight_words(shape):
    c_size, R, S = shape
    Kd = c_size * R * S
    rng = np.random.default_rng(Kd)
    blocks = [(random_decomposition(rng, LANES, Kd), LANES),
              (extreme(3, Kd), 3),           # fewer filters than lanes, the widest sums
              (random_decomposition(rng, 2, Kd, nonzero=0.0), 2),     # no codes at all
              (random_decomposition(rng, LANES, Kd, nonzero=0.9, zero_rows=0.0), LANES)]
    for base, ((d, filters), (counted, words, cycles)) in enumerate(
            zip(blocks, run_stage(blocks, shape))):
        nnz = np.count_nonzero(d.sign, axis=(1, 2))
        assert counted == regions.code_rows(nnz)
        assert cycles == Kd + 1          # one word a cycle, the output registered
        weights = rebuild(d).reshape(filters, -1)[:, :Kd]
        for c in range(c_size):
            for r in range(R):
                for s in range(S):
                    kd = (c * R + r) * S + s
                    word = 100 * base + (r * S + s) * c_size + c
                    assert words[word] == list(weights[:, kd]), (word, kd)
        assert len(words) == Kd


def test_large_layers_repeat_a_sample_of_decomposed_filters():
    """A layer of more than SAMPLE_FILTERS filters gets the codes of its first ones repeated
    (so pricing VGG-16's FC decomposes a sample, not 100 M weights); its region table and
    DRAM image are those of the repeated codes written out."""
    from types import SimpleNamespace
    code = regions.SmartDealCode()
    for K, C, R, channels in ((100, 20, 3, 10), (130, 7, 1, 3), (64, 9, 3, 9)):
        codes = code.of_op(SimpleNamespace(K=K, C=C, R=R, S=R, groups=1))
        assert codes.shape == (K, C, R, R)
        assert isinstance(codes, regions.RepeatedCodes) == (K > regions.SAMPLE_FILTERS)
        whole = codes.whole() if K > regions.SAMPLE_FILTERS else codes
        assert np.array_equal(whole.sign[K - 1], whole.sign[(K - 1) % regions.SAMPLE_FILTERS])
        for group in (C, channels):
            assert regions.region_table(codes, 4, group) == regions.region_table(whole, 4, group)
            assert np.array_equal(regions.dram_image(codes, 4, group),
                                  regions.dram_image(whole, 4, group))
        assert np.array_equal(code.weights(codes), code.weights(whole))
