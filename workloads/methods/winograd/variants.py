"""The Winograd variants' matrices (REFERENCES.md §3) and tile counts, without numba, so that
registering the methods and pricing them does not import the references (reference.py
re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

SHIFT_BITS = 4      # each tap's input right shift: 0 .. 15
ALIGN_BITS = 4      # each tap's alignment left shift: 0 .. 15


@dataclass(frozen=True, eq=False)
class Variant:
    """One of VARIANTS (compared and hashed by identity: a datapath holds it)."""

    shift_bits: ClassVar[int] = SHIFT_BITS
    align_bits: ClassVar[int] = ALIGN_BITS
    name: str
    m: int                 # output tile is m x m
    bt: np.ndarray         # (m+2) x (m+2) integers
    g_scaled: np.ndarray   # (m+2) x 3 integers = g_scale * G
    g_scale: int
    at: np.ndarray         # m x (m+2) integers

    @property
    def a(self) -> int:
        """Input tile size (m + 2) and number of taps per side."""
        return self.m + 2

    @property
    def pe_op(self) -> str:
        """The PE operation (HwOp.pe_op) of its tap GEMMs: a MAC of Winograd-domain values,
        which its controller datapath runs (plan.TAP_DATAPATHS)."""
        return f"winograd_{self.name.lower()}"

    @property
    def taps(self) -> int:
        """Winograd-domain taps of a tile: a²."""
        return self.a * self.a

    def output_bits(self, psum_bits: int) -> int:
        """Width of its transformed outputs from sums of `psum_bits` (`output_bits`): what the
        controller's requantizers take on a design of its datapath."""
        return output_bits(self.at, psum_bits)

    def transform_ops(self, C: int, K: int, tiles, loads=1) -> dict:
        """The transforms' operations (HwOp.ops of the winograd_transform unit) of `tiles` tiles
        of C -> K channels whose inputs are transformed `loads` times: per input tile and
        channel the input transform's adds and a² rounding shifts, per output tile and filter
        the output transform's adds and a² alignment shifts (tile_adds)."""
        adds_in, adds_out = tile_adds(self)
        return {"wino_in_add": adds_in * C * tiles * loads, "wino_out_add": adds_out * K * tiles,
                "wino_shift": self.taps * tiles * (C * loads + K)}

    def outputs(self, x, u, v_shift, align, padding: int, bits: int) -> np.ndarray:
        """The integer pipeline (reference.winograd_tiles) of a 3x3 stride-1 layer x[N, C, H,
        W] padded by `padding`, transformed int weights u[K, C, a, a], the taps' input shifts
        and output alignments (a x a), V clamped to `bits`-bit values: Y[N, K, P, Q], int64."""
        from .reference import pad_input, winograd_tiles
        N, C, H, W = np.shape(x)
        P, Q = H + 2 * padding - 2, W + 2 * padding - 2
        return winograd_tiles(pad_input(x, padding, P, Q, self.m), u, v_shift,
                              (1 << bits - 1) - 1, align, self.bt, self.at, self.m, P, Q)


F4 = Variant("F4", 4,
             np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                       [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]),
             np.array([[6, 0, 0], [-4, -4, -4], [-4, 4, -4], [1, 2, 4], [1, -2, 4], [0, 0, 24]]),
             24,
             np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                       [0, 1, -1, 8, -8, 1]]))
F2 = Variant("F2", 2,
             np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]),
             np.array([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]]),
             2,
             np.array([[1, 1, 1, 0], [0, 1, -1, -1]]))
VARIANTS = {"F4": F4, "F2": F2}


def gain_bits(matrix) -> int:
    """Bits a signed value grows by when one row of `matrix` is applied to it (strictly more
    than log2 of the largest row sum of |entries|, so even its positive extreme fits)."""
    return max(sum(abs(int(c)) for c in row) for row in matrix).bit_length()


def output_bits(at, psum_bits: int) -> int:
    """Width of the output-transform unit's results Y = Aᵀ (M << align) A: exact, never wraps."""
    return psum_bits + (1 << ALIGN_BITS) - 1 + 2 * gain_bits(at)


def vector_adds(matrix) -> int:
    """Additions to apply `matrix` to one vector with constants as sums of powers of two."""
    terms = np.vectorize(lambda c: bin(abs(int(c))).count("1"))(np.asarray(matrix))
    per_row = terms.sum(axis=1)
    return int(np.sum(np.maximum(per_row - 1, 0)))


def tile_adds(v: Variant) -> tuple[int, int]:
    """(input transform adds per tile per input channel, output transform adds per tile per
    output channel)."""
    return 2 * v.a * vector_adds(v.bt), (v.a + v.m) * vector_adds(v.at)


def tiles(P: int, Q: int, m: int) -> tuple[int, int]:
    return -(-P // m), -(-Q // m)
