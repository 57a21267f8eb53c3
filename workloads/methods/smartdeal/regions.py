"""SmartDeal's code regions as the programmable controller reads them (docs/plans/
method_hardware_on_controller.md, Stage 3): one region per block of the array's `cols` filters,
laid out in byte-rows, one byte per filter of the block, so that a byte-row is one run of the
controller's weight fetch (a buffer word of filter lanes, as an int8 weight row is).

A region of F filters (F = cols, fewer for the last block), each with `rows` Ce rows:
  B       B_BYTES byte-rows: byte-row 3*i + c holds B[i][c] of every filter, two's complement;
  bitmap  bitmap_rows(rows) byte-rows: bit t (LSB first) of filter j's bit string, Ce entry
          (row g, entry i) with t = 3*g + i, 1 when the entry is nonzero, is bit t % 8 of
          byte-row t // 8;
  codes   the block's code rows: filter j's n-th nonzero entry in bitmap order is the nibble
          n % 2 (low first) of byte-row n // 2, bit 3 the sign (1 = negative), bits 0-2 the
          exponent minus P_MIN; code rows = max over the block's filters of ceil(nnz / 2), a
          filter with fewer codes padded with zero nibbles.
So every filter's codes start on the same byte-row and the rebuild reads each filter's codes
from its own byte lane. The block's regions lie at a fixed pitch (`pitch_rows` byte-rows of
`cols` bytes, the densest a region can be), so a load finds a region without an index; DRAM
capacity spends the slack, DRAM traffic only what the region holds. How many code rows a region
has depends on the weights: the fetch learns it from the bitmap's ones (`code_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from dlaforge.program import ceil_div

from .reference import (B_BYTES, P_MIN, REBUILT_BITS, ROW_ENTRIES, Decomposition,
                        random_decomposition, rebuild, synthetic_decomposition)


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


def region_rows(d: Decomposition, first: int, count: int) -> int:
    """Byte-rows the region of filters first .. first+count-1 holds."""
    nnz = np.count_nonzero(d.sign[first:first + count], axis=(1, 2))
    return fixed_rows(d.sign.shape[1]) + code_rows(nnz)


def region(d: Decomposition, first: int, count: int) -> np.ndarray:
    """The byte-rows [region_rows, count] (uint8) of filters first .. first+count-1."""
    sign, exp = d.sign[first:first + count], d.exp[first:first + count]
    b_rows = (d.b_q[first:first + count].reshape(count, B_BYTES) & 0xFF).T
    bits = (sign != 0).reshape(count, -1).astype(np.uint8)
    bitmap = np.packbits(bits, axis=1, bitorder="little").T
    nnz = np.count_nonzero(sign, axis=(1, 2))
    codes = np.zeros((code_rows(nnz), count), np.uint8)
    for j in range(count):
        nibbles = (((sign[j] < 0) << 3) | (exp[j] - P_MIN))[sign[j] != 0]
        for n, nibble in enumerate(nibbles):
            codes[n // 2, j] |= nibble << (4 * (n % 2))
    out = np.concatenate([b_rows, bitmap, codes]).astype(np.uint8)
    assert len(out) == region_rows(d, first, count)
    return out


def region_table(d: Decomposition, cols: int) -> tuple[int, tuple]:
    """(fixed byte-rows, byte-rows of each block's region) of a layer's filters in blocks of
    `cols` (program.Shape.region_fixed, region_rows)."""
    K, rows = d.sign.shape[:2]
    return fixed_rows(rows), tuple(region_rows(d, k, min(cols, K - k))
                                   for k in range(0, K, cols))


def image_bytes(d: Decomposition, cols: int) -> int:
    """Bytes of a layer's weight region (`dram_image`): every block's pitch, the last's too."""
    return ceil_div(d.sign.shape[0], cols) * cols * pitch_rows(d.sign.shape[1])


def dram_image(d: Decomposition, cols: int) -> np.ndarray:
    """The weight region of a layer's filters as the controller reads it (int64 bytes): block
    kb's region at byte kb*cols*pitch_rows, its byte-row q at q*filters after it."""
    K, rows = d.sign.shape[:2]
    pitch = pitch_rows(rows)
    out = np.zeros(image_bytes(d, cols), np.int64)
    for k in range(0, K, cols):
        count = min(cols, K - k)
        block = region(d, k, count).ravel()
        out[k * pitch:k * pitch + len(block)] = block
    return out


@dataclass(frozen=True)
class SmartDealCode:
    """SmartDeal's weights as its controller datapath stores and rebuilds them
    (Datapath.weight_code): the codes are a Decomposition (smartdeal/reference.py), rebuilt
    into integer weights of `bits` (REBUILT_BITS), the weight lanes' width."""

    bits: int = REBUILT_BITS
    reads_per_weight: int = 4       # code-buffer bytes a lane reads a rebuild cycle: 2 + 2

    def of_op(self, op) -> Decomposition:
        """The codes the models price and the RTL runs for a layer (shape-seeded normal
        weights decomposed: the simulator has no trained weights)."""
        return _synthetic(op.K // op.groups, op.C // op.groups, op.R, op.S)

    def random(self, rng, K: int, C: int, R: int, S: int) -> Decomposition:
        """Random codes of K filters of C x R x S weights with the rebuild's corner cases
        (reference.random_decomposition: zero rows, every exponent)."""
        d = random_decomposition(rng, K, C * R * S)
        return Decomposition(d.sign, d.exp, d.b_q, d.b_exp, np.arange(C), (K, C, R, S), 0.0, 0)

    def weights(self, d: Decomposition) -> np.ndarray:
        """The rebuilt integer weights K x C x R x S."""
        K, C, R, S = d.sign.shape[0], *d.shape[1:]
        return rebuild(d).reshape(K, -1)[:, :C * R * S].reshape(K, C, R, S)

    def table(self, d: Decomposition, cols: int) -> tuple[int, tuple]:
        return region_table(d, cols)

    def image(self, d: Decomposition, cols: int) -> np.ndarray:
        return dram_image(d, cols)

    def image_bytes(self, d: Decomposition, cols: int) -> int:
        return image_bytes(d, cols)

    def buffer_rows(self, words: int) -> int:
        """Byte-rows of the code buffer that holds the region of a block whose filters have
        `words` weights each (the rebuild stage's depth for a weight buffer half of `words`)."""
        return pitch_rows(ceil_div(words, ROW_ENTRIES))

    def pitch(self, d: Decomposition) -> int:
        """Byte-rows per filter between regions (the command's region_pitch)."""
        return pitch_rows(d.sign.shape[1])


@lru_cache(maxsize=64)
def _synthetic(K: int, C: int, R: int, S: int) -> Decomposition:
    from types import SimpleNamespace
    return synthetic_decomposition(SimpleNamespace(K=K, C=C, R=R, S=S, groups=1))
