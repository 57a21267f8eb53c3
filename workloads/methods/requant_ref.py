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

A quantizer (workloads/quantizers.py, `Requant.quantizer`) generalises the stage to

    out = clamp(round_shift((acc + b_k) * M_k, s_k) + z_y, lo, hi),   lo = z_y with relu

with b_k a signed 32-bit per-channel bias (asymmetric activations: the input zero-point
correction -z_x * sum(w_k), folded offline: `zero_point_bias`; exact at a padded border too,
where the padded taps hold z_x: `Requant.in_zero`, `pad_input`), z_y the output zero point, one
(M, s) for every channel under a per-tensor quantizer and M = 1 under pow2 scales. The
default quantizer (per channel, symmetric) has b = z_y = 0: the formula above.
`requantize_affine` is its numba form, `requantize_float` (with bias and zero) the float one
(exact: |(acc + b) * M| < 2**(max(psum_bits, 32) + 17) <= 2**53 for psum_bits <= 36).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from dlaforge.workloads.quantizers import DEFAULT_QUANTIZER, Quantizer

from .conv_ref import round_shift

MULTIPLIER_BITS = 16
SHIFT_BITS = 6
BIAS_BITS = 32


@dataclass(frozen=True, eq=False)
class Requant:
    """One layer's requantization: per output channel a multiplier and a shift, and whether a
    ReLU follows the clamp; under `quantizer` (default: per channel, symmetric) also a bias per
    channel and the output zero point `zero` (both 0 under symmetric quantizers)."""

    multiplier: np.ndarray   # K unsigned ints < 2**MULTIPLIER_BITS (1 under pow2 scales)
    shift: np.ndarray        # K ints in 0 .. 2**SHIFT_BITS - 1
    relu: bool = False
    quantizer: Quantizer = DEFAULT_QUANTIZER
    bias: np.ndarray = None  # K signed BIAS_BITS ints (None: zeros)
    zero: int = 0            # the output zero point, a signed 8-bit value
    in_zero: int = 0         # the input zero point z_x, in the ifmap's range (a padded tap's value)

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
        b = np.zeros_like(m) if self.bias is None else np.asarray(self.bias, dtype=np.int64)
        q = self.quantizer
        if b.shape != m.shape:
            raise ValueError(f"`bias` must have one entry per channel ({len(m)}), not {b.shape}")
        if ((b < -(1 << (BIAS_BITS - 1))) | (b >= 1 << (BIAS_BITS - 1))).any():
            raise ValueError(f"`bias` must be signed {BIAS_BITS}-bit values")
        if not -128 <= int(self.zero) <= 127:
            raise ValueError(f"`zero` must be a signed 8-bit value, not {self.zero}")
        if q.symmetric and (b.any() or self.zero or self.in_zero):
            raise ValueError(f"quantizer {q.name} has no bias and no zero point")
        if q.pow2 and (m != 1).any():
            raise ValueError(f"quantizer {q.name} scales by shifts only: `multiplier` must be 1")
        if not q.per_channel and len(m) and ((m != m[0]).any() or (s != s[0]).any()):
            raise ValueError(f"quantizer {q.name} has one multiplier and shift for all channels")
        object.__setattr__(self, "multiplier", m)
        object.__setattr__(self, "shift", s)
        object.__setattr__(self, "bias", b)
        object.__setattr__(self, "zero", int(self.zero))
        object.__setattr__(self, "in_zero", int(self.in_zero))

    @property
    def channels(self) -> int:
        return len(self.multiplier)

    def apply(self, acc: np.ndarray, out_bits: int) -> np.ndarray:
        """`requantize_affine` of acc[K, ...] (channel first)."""
        acc = np.asarray(acc, dtype=np.int64)
        flat = np.ascontiguousarray(acc.reshape(acc.shape[0], -1))
        return requantize_affine(flat, self.multiplier, self.shift, self.bias, self.zero,
                                 out_bits, self.relu).reshape(acc.shape)


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


@njit(cache=True)
def requantize_affine(acc, multiplier, shift, bias, zero, out_bits, relu):
    """acc[K, X] (int64) -> outputs[K, X]: clamp(round_shift((acc + bias[k]) * multiplier[k],
    shift[k]) + zero, lo, hi), lo = zero with relu (else the signed minimum)."""
    lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    if relu:
        lo = max(lo, zero)
    out = np.empty_like(acc)
    for k in range(acc.shape[0]):
        for x in range(acc.shape[1]):
            v = round_shift((acc[k, x] + bias[k]) * multiplier[k], shift[k]) + zero
            out[k, x] = min(max(v, lo), hi)
    return out


def requantize_float(acc, multiplier, shift, out_bits, relu=False, bias=None, zero=0):
    """The float definition: (acc + bias) * M / 2**s rounded half up (floor(x + 1/2)), plus the
    output zero point, clipped to the signed out_bits range, then max(zero, .) with relu.
    acc[K, ...], multiplier, shift and bias [K]."""
    acc = np.asarray(acc, np.float64)
    shape = (-1,) + (1,) * (acc.ndim - 1)
    if bias is not None:
        acc = acc + np.asarray(bias, np.float64).reshape(shape)
    scale = (np.asarray(multiplier, np.float64) / 2.0 ** np.asarray(shift, np.float64))
    x = acc * scale.reshape(shape)
    out = np.clip(np.floor(x + 0.5) + zero, -2.0 ** (out_bits - 1), 2.0 ** (out_bits - 1) - 1)
    return np.maximum(out, zero) if relu else out


def zero_point_bias(weight_sums: np.ndarray, in_zero: int) -> np.ndarray:
    """The per-output-channel bias that folds the input zero point in: sum over the window of
    (x - z_x) * w_k = acc_k - z_x * sum(w_k) (`weight_sums` [K]: each filter's weight sum)."""
    return -int(in_zero) * np.asarray(weight_sums, dtype=np.int64)


def pad_input(x: np.ndarray, padding: int, rows: int, cols: int, value: int = 0) -> np.ndarray:
    """x[N, C, H, W] padded with `value` (an asymmetric layer's input zero point: real-zero
    padding) to rows x cols: `padding` on the top and left, the rest on the bottom and right
    (at least `padding`; more where windows hang past the edge)."""
    x = np.asarray(x, dtype=np.int64)
    N, C, H, W = x.shape
    out = np.full((N, C, max(rows, H + 2 * padding), max(cols, W + 2 * padding)), int(value),
                  np.int64)
    out[:, :, padding:padding + H, padding:padding + W] = x
    return out


def random_requant(acc: np.ndarray, out_bits: int, rng: np.random.Generator,
                   relu: bool = False, quantizer: Quantizer = DEFAULT_QUANTIZER,
                   bias: np.ndarray | None = None) -> Requant:
    """Scales that spread acc[K, ...] (+ `bias` [K], asymmetric quantizers only; default 0)
    over the out_bits range with some saturation both ways: channel k's (per tensor: the
    layer's) largest |acc + b_k| maps to 0.6 .. 1.6 times the largest output, with the
    multiplier normalised into [2**15, 2**16) where the shift allows (pow2: the nearest power
    of two); asymmetric quantizers draw the output zero point from the signed range."""
    acc = np.asarray(acc, dtype=np.int64)
    K = acc.shape[0]
    q = quantizer
    b = np.zeros(K, np.int64) if bias is None or q.symmetric else np.asarray(bias, np.int64)
    shifted = acc.reshape(K, -1) + b[:, None]
    peak = np.abs(shifted).max(axis=1).astype(np.float64) if acc.size else np.zeros(K)
    if not q.per_channel:
        peak = np.full(K, peak.max() if K else 0.0)
    target = rng.uniform(0.6, 1.6, K if q.per_channel else 1) * (2.0 ** (out_bits - 1))
    ratio = np.broadcast_to(target / np.maximum(peak, 1.0), (K,))   # the real scale wanted
    top = (1 << SHIFT_BITS) - 1
    if q.pow2:
        shift = np.clip(np.round(-np.log2(np.minimum(ratio, 1.0))), 0, top).astype(np.int64)
        multiplier = np.ones(K, np.int64)
    else:
        shift = np.clip(np.ceil(np.log2(2.0 ** (MULTIPLIER_BITS - 1) / ratio)), 0,
                        top).astype(np.int64)
        multiplier = np.clip(np.round(ratio * 2.0 ** shift), 1,
                             (1 << MULTIPLIER_BITS) - 1).astype(np.int64)
    zero = 0 if q.symmetric else int(rng.integers(-(1 << (out_bits - 1)), 1 << (out_bits - 1)))
    return Requant(multiplier, shift, relu, q, None if q.symmetric else b, zero)
