"""Requantization of accumulator sums to output elements, the stage between a layer's
accumulators and its stored outputs (and so the next layer's inputs).

Per output channel k, a fixed-point scale: an unsigned multiplier M_k of MULTIPLIER_BITS (16)
bits and a right shift s_k in 0 .. 2**SHIFT_BITS - 1 (0 .. 63). An accumulator value `acc` (the
psum_bits sum, already wrapped as the PEs wrap it) of channel k becomes

    out = clamp(round_shift(acc * M_k, s_k), -2**(b-1), 2**(b-1) - 1)
    out = max(0, out)                  (only with relu)

with b the output width (the spec's ofmap_bits) and round_shift conv_ref's round half up:
(v + 2**(s-1)) >> s arithmetically (v itself for s = 0), that is floor(v / 2**s + 1/2). The
real scale is M_k / 2**s_k. `requantize` is the bit-exact numba form; `requantize_float` the
plain float definition of the same math (exact: |acc * M| < 2**(psum_bits + 16) <= 2**53 for
psum_bits <= 37, and a shift past the product's width rounds to 0 either way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .conv_ref import round_shift

MULTIPLIER_BITS = 16
SHIFT_BITS = 6


@dataclass(frozen=True, eq=False)
class Requant:
    """One layer's requantization: per output channel a multiplier and a shift, and whether a
    ReLU follows the clamp."""

    multiplier: np.ndarray   # K unsigned ints < 2**MULTIPLIER_BITS
    shift: np.ndarray        # K ints in 0 .. 2**SHIFT_BITS - 1
    relu: bool = False

    def __post_init__(self):
        m = np.asarray(self.multiplier, dtype=np.int64)
        s = np.asarray(self.shift, dtype=np.int64)
        if m.ndim != 1 or m.shape != s.shape:
            raise ValueError(f"`multiplier` and `shift` must be vectors of one length, not "
                             f"{m.shape} and {s.shape}")
        if ((m < 0) | (m >= 1 << MULTIPLIER_BITS)).any():
            raise ValueError(f"`multiplier` must lie in 0 .. {(1 << MULTIPLIER_BITS) - 1}")
        if ((s < 0) | (s >= 1 << SHIFT_BITS)).any():
            raise ValueError(f"`shift` must lie in 0 .. {(1 << SHIFT_BITS) - 1}")
        object.__setattr__(self, "multiplier", m)
        object.__setattr__(self, "shift", s)

    @property
    def channels(self) -> int:
        return len(self.multiplier)

    def apply(self, acc: np.ndarray, out_bits: int) -> np.ndarray:
        """`requantize` of acc[K, ...] (channel first)."""
        acc = np.asarray(acc, dtype=np.int64)
        flat = np.ascontiguousarray(acc.reshape(acc.shape[0], -1))
        return requantize(flat, self.multiplier, self.shift, out_bits, self.relu).reshape(
            acc.shape)


@njit(cache=True)
def requantize(acc, multiplier, shift, out_bits, relu):
    """acc[K, X] (int64) -> outputs[K, X] by the module's formula, channel k with
    multiplier[k] and shift[k]."""
    lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    if relu:
        lo = 0
    out = np.empty_like(acc)
    for k in range(acc.shape[0]):
        for x in range(acc.shape[1]):
            v = round_shift(acc[k, x] * multiplier[k], shift[k])
            out[k, x] = min(max(v, lo), hi)
    return out


def requantize_float(acc, multiplier, shift, out_bits, relu=False):
    """The float definition: acc * M / 2**s rounded half up (floor(x + 1/2)), clipped to the
    signed out_bits range, then max(0, .) with relu. acc[K, ...], multiplier and shift [K]."""
    acc = np.asarray(acc, np.float64)
    scale = (np.asarray(multiplier, np.float64) / 2.0 ** np.asarray(shift, np.float64))
    x = acc * scale.reshape((-1,) + (1,) * (acc.ndim - 1))
    out = np.clip(np.floor(x + 0.5), -2.0 ** (out_bits - 1), 2.0 ** (out_bits - 1) - 1)
    return np.maximum(out, 0) if relu else out


def random_requant(acc: np.ndarray, out_bits: int, rng: np.random.Generator,
                   relu: bool = False) -> Requant:
    """Per-channel scales that spread acc[K, ...] over the out_bits range with some saturation
    both ways: channel k's largest |acc| maps to 0.6 .. 1.6 times the largest output, with the
    multiplier normalised into [2**15, 2**16) where the shift allows."""
    acc = np.asarray(acc, dtype=np.int64)
    K = acc.shape[0]
    peak = np.abs(acc.reshape(K, -1)).max(axis=1).astype(np.float64) if acc.size else np.zeros(K)
    target = rng.uniform(0.6, 1.6, K) * (2.0 ** (out_bits - 1))
    ratio = target / np.maximum(peak, 1.0)                  # the real scale wanted
    shift = np.clip(np.ceil(np.log2(2.0 ** (MULTIPLIER_BITS - 1) / ratio)), 0,
                    (1 << SHIFT_BITS) - 1).astype(np.int64)
    multiplier = np.clip(np.round(ratio * 2.0 ** shift), 1, (1 << MULTIPLIER_BITS) - 1)
    return Requant(multiplier.astype(np.int64), shift, relu)
