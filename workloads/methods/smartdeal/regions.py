"""SmartDeal's code regions as the programmable controller reads them (docs/plans/
method_hardware_on_controller.md, Stage 3): one region per block of the array's `cols` filters
and group of `channels` input channels, laid out in byte-rows, one byte per filter of the
block, so that a byte-row is one run of the controller's weight fetch (a buffer word of filter
lanes, as an int8 weight row is).

A filter's Ce rows run over its weights in (c, r, s) order, 3 a row; a group of channels
(`group_channels`: as many as a weight buffer half holds, whole Ce rows, a divisor of C where
one fits) holds `rows` = the group's Ce rows (its channels x R x S / 3; the last group may have
fewer). A region of F filters (F = cols, fewer for the last block) and one group:
  B       B_BYTES byte-rows: byte-row 3*i + c holds B[i][c] of every filter, two's complement
          (every group's region repeats its filters' B);
  bitmap  bitmap_rows(rows) byte-rows of a whole group's rows (a shorter last group's padded
          with zeros): bit t (LSB first) of filter j's bit string, the group's Ce entry
          (row g, entry i) with t = 3*g + i, 1 when the entry is nonzero, is bit t % 8 of
          byte-row t // 8;
  codes   the block's code rows: filter j's n-th nonzero entry in bitmap order is the nibble
          n % 2 (low first) of byte-row n // 2, bit 3 the sign (1 = negative), bits 0-2 the
          exponent minus P_MIN; code rows = max over the block's filters of ceil(nnz / 2), a
          filter with fewer codes padded with zero nibbles.
So every filter's codes start on the same byte-row and the rebuild reads each filter's codes
from its own byte lane. A group's regions lie at a fixed pitch (`pitch_rows` byte-rows of
`cols` bytes per block, the densest a region can be), the groups one after another, group g
from byte g*channels*stride (`channel_stride`: a group's regions' bytes per channel, rounded
up), so a load finds a region without an index: block kb of the group of a tile's channel c
at (c*stride + kb*cols*pitch) bytes. DRAM capacity spends the slack, DRAM traffic only what
the region holds. How many code rows a region has depends on the weights: the fetch learns it
from the bitmap's ones (`code_rows`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from dlaforge.program import ceil_div

from .reference import (B_BYTES, P_MIN, REBUILT_BITS, ROW_ENTRIES, Decomposition,
                        random_decomposition, rebuild, synthetic_decomposition)

SAMPLE_FILTERS = 64     # a layer's filters whose seeded weights are decomposed (of_op)


def bitmap_rows(rows: int) -> int:
    """Byte-rows of a region's bitmap: ROW_ENTRIES bits per Ce row of a filter."""
    return ceil_div(ROW_ENTRIES * rows, 8)


def fixed_rows(rows: int) -> int:
    """Byte-rows every region has whatever its weights: B and the bitmap."""
    return B_BYTES + bitmap_rows(rows)


def code_rows(nnz_per_filter) -> int:
    """Code byte-rows of a region whose filters have these nonzero Ce entries."""
    return max((ceil_div(int(n), 2) for n in nnz_per_filter), default=0)


def pitch_rows(rows: int) -> int:
    """Byte-rows between regions: the fixed rows and the code rows of an all-nonzero Ce."""
    return fixed_rows(rows) + ceil_div(ROW_ENTRIES * rows, 2)


def group_channels(C: int, R: int, S: int, words: int) -> int:
    """Channels of a region's group for a layer of C x R x S weights per filter on a design
    whose weight buffer half holds `words` words: all C if they fit; else the most channels
    that fit and fill whole Ce rows (a multiple of 3 // gcd(R*S, 3)), or a divisor of C of at
    least half as many where one is (so the channel tiles are equal); 0 if not even one unit
    fits."""
    if C * R * S <= words:
        return C
    unit = ROW_ENTRIES // math.gcd(R * S, ROW_ENTRIES)
    most = words // (R * S) // unit * unit
    return next((c for c in range(most, most // 2, -unit) if C % c == 0), most)


def group_rows(d, channels: int) -> int:
    """Ce rows of a whole group of `channels` channels (d: codes, `Codes`)."""
    K, C, R, S = d.shape
    return ceil_div(channels * R * S, ROW_ENTRIES)


def filter_rows(d) -> int:
    """Ce rows of one filter of codes `d` (Codes): its C x R x S weights, 3 a row."""
    K, C, R, S = d.shape
    return ceil_div(C * R * S, ROW_ENTRIES)


@dataclass(frozen=True)
class RepeatedCodes:
    """The codes of a layer of `filters` filters whose filter k has the codes of filter
    k % n of `sample` (a Decomposition of n filters): what SmartDealCode.of_op gives a layer
    of more than SAMPLE_FILTERS filters, so that pricing a large layer decomposes a sample of
    its filters rather than every weight (VGG-16's first FC: 100 M). `Codes` below is either
    this or a Decomposition."""

    sample: Decomposition
    filters: int

    @property
    def shape(self) -> tuple:
        return (self.filters, *self.sample.shape[1:])

    def whole(self) -> Decomposition:
        """Every filter's codes (for the DRAM image and the weights: layers the RTL runs)."""
        s = self.sample
        pick = np.arange(self.filters) % s.sign.shape[0]
        return Decomposition(s.sign[pick], s.exp[pick], s.b_q[pick], s.b_exp[pick],
                             s.channels_kept, self.shape, s.rel_error, s.iterations)


def _whole(d) -> Decomposition:
    return d.whole() if isinstance(d, RepeatedCodes) else d


def filter_nnz(d, channels: int) -> np.ndarray:
    """Nonzero Ce entries [K, groups] of each filter of codes `d` in each group of `channels`
    channels (a sample's filters counted once, RepeatedCodes)."""
    if isinstance(d, RepeatedCodes):
        counts = filter_nnz(d.sample, channels)
        return counts[np.arange(d.filters) % len(counts)]
    K, rows = d.sign.shape[0], group_rows(d, channels)
    groups = ceil_div(d.shape[1], channels)
    nonzero = np.zeros((K, groups * rows), np.int64)
    nonzero[:, :d.sign.shape[1]] = np.count_nonzero(d.sign, axis=2)
    return nonzero.reshape(K, groups, rows).sum(axis=2)


def _regions(d, cols: int, channels: int):
    """Each region's (first filter, filters, first Ce row, Ce rows), group-major."""
    K, C = d.shape[:2]
    rows, total = group_rows(d, channels), filter_rows(d)
    for c in range(0, C, channels):
        first_row = c // channels * rows
        for k in range(0, K, cols):
            yield k, min(cols, K - k), first_row, min(rows, total - first_row)


def region(d: Decomposition, first: int, count: int, row0: int, rows: int,
           bitmap: int) -> np.ndarray:
    """The byte-rows (uint8, one column per filter) of the region of filters first ..
    first+count-1 and Ce rows row0 .. row0+rows-1, its bitmap `bitmap` byte-rows."""
    sign = d.sign[first:first + count, row0:row0 + rows]
    exp = d.exp[first:first + count, row0:row0 + rows]
    b_rows = (d.b_q[first:first + count].reshape(count, B_BYTES) & 0xFF).T
    bits = (sign != 0).reshape(count, -1).astype(np.uint8)
    bitmap_bytes = np.zeros((bitmap, count), np.uint8)
    packed = np.packbits(bits, axis=1, bitorder="little").T
    bitmap_bytes[:len(packed)] = packed
    nnz = np.count_nonzero(sign, axis=(1, 2))
    codes = np.zeros((code_rows(nnz), count), np.uint8)
    for j in range(count):
        nibbles = (((sign[j] < 0) << 3) | (exp[j] - P_MIN))[sign[j] != 0]
        for n, nibble in enumerate(nibbles):
            codes[n // 2, j] |= nibble << (4 * (n % 2))
    return np.concatenate([b_rows, bitmap_bytes, codes]).astype(np.uint8)


def region_table(d, cols: int, channels: int) -> tuple[int, tuple]:
    """(fixed byte-rows, byte-rows of each region, group-major: region g*blocks + kb) of a
    layer's filters (codes `d`) in blocks of `cols` and groups of `channels`
    (program.Shape.region_fixed, region_rows): a region's code rows are its densest filter's
    ceil(nnz / 2)."""
    fixed = fixed_rows(group_rows(d, channels))
    nnz = filter_nnz(d, channels)
    K, groups = nnz.shape
    blocks = ceil_div(K, cols)
    padded = np.zeros((blocks * cols, groups), np.int64)
    padded[:K] = nnz
    densest = padded.reshape(blocks, cols, groups).max(axis=1)
    return fixed, tuple(int(fixed + ceil_div(n, 2)) for n in densest.T.ravel())


def channel_stride(d, cols: int, channels: int) -> int:
    """Bytes per channel from one group's regions to the next's: a group's blocks at their
    pitch (the last's too), divided by its channels and rounded up."""
    K = d.shape[0]
    return ceil_div(ceil_div(K, cols) * cols * pitch_rows(group_rows(d, channels)), channels)


def image_bytes(d, cols: int, channels: int) -> int:
    """Bytes of a layer's weight region (`dram_image`): every group's channels' stride."""
    return ceil_div(d.shape[1], channels) * channels * channel_stride(d, cols, channels)


def dram_image(d, cols: int, channels: int) -> np.ndarray:
    """The weight region of a layer's filters (codes `d`) as the controller reads it (int64
    bytes): the region of block kb and the group of channel c at byte c*channel_stride +
    kb*cols*pitch, its byte-row q at q*filters after it."""
    d = _whole(d)
    rows = group_rows(d, channels)
    pitch, stride = pitch_rows(rows), channel_stride(d, cols, channels)
    bitmap = bitmap_rows(rows)
    out = np.zeros(image_bytes(d, cols, channels), np.int64)
    for k, count, row0, nrows in _regions(d, cols, channels):
        at = row0 // rows * channels * stride + k * pitch
        block = region(d, k, count, row0, nrows, bitmap).ravel()
        out[at:at + len(block)] = block
    return out


@dataclass(frozen=True)
class SmartDealCode:
    """SmartDeal's weights as its controller datapath stores and rebuilds them
    (Datapath.weight_code): the codes are a Decomposition (smartdeal/reference.py) or a
    large layer's RepeatedCodes, rebuilt into integer weights of `bits` (REBUILT_BITS), the
    weight lanes' width."""

    bits: int = REBUILT_BITS
    reads_per_weight: int = 4       # code-buffer bytes a lane reads a rebuild cycle: 2 + 2

    def of_op(self, op):
        """The codes the models price and the RTL runs for a layer (shape-seeded normal
        weights decomposed: the simulator has no trained weights): of every filter up to
        SAMPLE_FILTERS, else of the first SAMPLE_FILTERS, repeated (RepeatedCodes)."""
        K, C = op.K // op.groups, op.C // op.groups
        sample = _synthetic(min(K, SAMPLE_FILTERS), C, op.R, op.S)
        return sample if K <= SAMPLE_FILTERS else RepeatedCodes(sample, K)

    def random(self, rng, K: int, C: int, R: int, S: int) -> Decomposition:
        """Random codes of K filters of C x R x S weights with the rebuild's corner cases
        (reference.random_decomposition: zero rows, every exponent)."""
        d = random_decomposition(rng, K, C * R * S)
        return Decomposition(d.sign, d.exp, d.b_q, d.b_exp, np.arange(C), (K, C, R, S), 0.0, 0)

    def weights(self, d) -> np.ndarray:
        """The rebuilt integer weights K x C x R x S."""
        d = _whole(d)
        K, C, R, S = d.sign.shape[0], *d.shape[1:]
        return rebuild(d).reshape(K, -1)[:, :C * R * S].reshape(K, C, R, S)

    def channels(self, d, words: int) -> int:
        """Channels of a region's group of codes `d` on a design whose weight buffer half
        holds `words` words (group_channels)."""
        K, C, R, S = d.shape
        return group_channels(C, R, S, words)

    @staticmethod
    def group_channels(C: int, R: int, S: int, words: int) -> int:
        """Channels of a region's group of a layer of C x R x S weights per filter
        (`group_channels`; 0: not even a group of whole Ce rows fits `words`)."""
        return group_channels(C, R, S, words)

    def table(self, d, cols: int, channels: int) -> tuple[int, tuple]:
        return region_table(d, cols, channels)

    def image(self, d, cols: int, channels: int) -> np.ndarray:
        return dram_image(d, cols, channels)

    def image_bytes(self, d, cols: int, channels: int) -> int:
        return image_bytes(d, cols, channels)

    def stride(self, d, cols: int, channels: int) -> int:
        """Bytes per channel between groups' regions (the command's region_stride)."""
        return channel_stride(d, cols, channels)

    def buffer_rows(self, words: int) -> int:
        """Byte-rows of the code buffer that holds the region of a block whose filters have
        `words` weights each (the rebuild stage's depth for a weight buffer half of `words`)."""
        return pitch_rows(ceil_div(words, ROW_ENTRIES))

    def pitch(self, d, channels: int) -> int:
        """Byte-rows per filter between a group's regions (the command's region_pitch)."""
        return pitch_rows(group_rows(d, channels))


@lru_cache(maxsize=64)
def _synthetic(K: int, C: int, R: int, S: int) -> Decomposition:
    from types import SimpleNamespace
    return synthetic_decomposition(SimpleNamespace(K=K, C=C, R=R, S=S, groups=1))
