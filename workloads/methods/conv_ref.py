"""Direct convolution, the yardstick every method's reference is checked against.

`conv2d_int` is the bit-exact integer convolution (int64 accumulation, zero padding, groups,
and an input-channel address table so that a channel shuffle is a remap of addresses, not a
copy): direct loops in numba, or, when float64 is provably exact, GEMMs on a numba im2col.
`conv2d_float` is the plain numpy float definition of the same math. The shared fixed-point
helper `round_shift` is the hardware's rounding right shift.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def output_size(x, w, stride, padding, out_size=None):
    """Output rows and columns: `out_size` when given, else the floor rule
    (H + 2*padding - R) // stride + 1. A larger `out_size` (SCALE-Sim's rounded-up rule) has
    windows hanging past the bottom/right edge; they read zeros there, as zero padding."""
    if out_size is not None:
        return tuple(out_size)
    (H, W), (R, S) = x.shape[2:], w.shape[2:]
    return (H + 2 * padding - R) // stride + 1, (W + 2 * padding - S) // stride + 1


@njit(cache=True)
def _conv2d(x, w, stride, padding, groups, cmap, P, Q):
    N, _, H, W = x.shape
    K, Cg, R, S = w.shape
    Kg = K // groups
    out = np.zeros((N, K, P, Q), dtype=np.int64)
    for n in range(N):
        for k in range(K):
            c0 = (k // Kg) * Cg
            for p in range(P):
                for q in range(Q):
                    acc = 0
                    for c in range(Cg):
                        ch = cmap[c0 + c]
                        for r in range(R):
                            h = p * stride + r - padding
                            if h < 0 or h >= H:
                                continue
                            for s in range(S):
                                v = q * stride + s - padding
                                if 0 <= v < W:
                                    acc += x[n, ch, h, v] * w[k, c, r, s]
                    out[n, k, p, q] = acc
    return out


@njit(cache=True)
def _im2col(x, n, c0, Cg, R, S, stride, padding, cmap, P, Q):
    """Image n's channels c0 .. c0+Cg-1 (through `cmap`) as the im2col matrix
    [Cg*R*S, P*Q] in float64, zeros where a window leaves the image."""
    H, W = x.shape[2], x.shape[3]
    cols = np.zeros((Cg * R * S, P * Q))
    for c in range(Cg):
        ch = cmap[c0 + c]
        for r in range(R):
            for s in range(S):
                row = (c * R + r) * S + s
                for p in range(P):
                    h = p * stride + r - padding
                    if 0 <= h < H:
                        for q in range(Q):
                            v = q * stride + s - padding
                            if 0 <= v < W:
                                cols[row, p * Q + q] = x[n, ch, h, v]
    return cols


def _conv2d_blas(x, w, stride, padding, groups, cmap, P, Q):
    """The same sums as `_conv2d`, as float64 GEMMs (BLAS) on the im2col matrix: exact while
    every partial sum stays below 2**53 in magnitude (`_float_exact` checks it)."""
    N = x.shape[0]
    K, Cg, R, S = w.shape
    Kg = K // groups
    out = np.empty((N, K, P, Q), dtype=np.int64)
    for g in range(groups):
        wg = w[g * Kg:(g + 1) * Kg].reshape(Kg, Cg * R * S).astype(np.float64)
        for n in range(N):
            cols = _im2col(x, n, g * Cg, Cg, R, S, stride, padding, cmap, P, Q)
            out[n, g * Kg:(g + 1) * Kg] = (wg @ cols).reshape(Kg, P, Q)
    return out


def _float_exact(x, w) -> bool:
    """True when a float64 dot product of a window with a filter is exact: every product and
    every partial sum is an integer below 2**53 in magnitude."""
    if x.size == 0 or w.size == 0:
        return False
    bound = int(np.abs(x).max()) * int(np.abs(w).max()) * (w[0].size)
    return bound < 2**53


def conv2d_int(x, w, stride=1, padding=0, groups=1, cmap=None, out_size=None):
    """Integer convolution of x[N, C, H, W] with w[K, C/groups, R, S], exact in int64.

    `cmap[c]` is the stored channel the array reads when the layer asks for input channel c
    (default: the identity); `out_size` = (P, Q) overrides the floor rule (see `output_size`).
    Operands small enough for float64 to be exact (int8 layers always are) take the BLAS path
    on the im2col matrix; others the direct integer loops.
    """
    x = np.ascontiguousarray(x, dtype=np.int64)
    w = np.ascontiguousarray(w, dtype=np.int64)
    cmap = np.arange(x.shape[1], dtype=np.int64) if cmap is None else np.asarray(cmap, np.int64)
    P, Q = output_size(x, w, stride, padding, out_size)
    conv = _conv2d_blas if _float_exact(x, w) else _conv2d
    return conv(x, w, stride, padding, groups, cmap, P, Q)


def conv2d_float(x, w, stride=1, padding=0, groups=1, out_size=None):
    """The float64 definition: zero-pad (the bottom and right edges as far as the last window
    reaches), then sum shifted slices times each kernel tap."""
    K, Cg, R, S = w.shape
    P, Q = output_size(x, w, stride, padding, out_size)
    bottom = max(padding, (P - 1) * stride + R - x.shape[2] - padding)
    right = max(padding, (Q - 1) * stride + S - x.shape[3] - padding)
    x = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (padding, bottom), (padding, right)))
    N, C, H, W = x.shape
    out = np.zeros((N, K, P, Q))
    Kg = K // groups
    for g in range(groups):
        xs = x[:, g * Cg:(g + 1) * Cg]
        ws = np.asarray(w[g * Kg:(g + 1) * Kg], np.float64)
        for r in range(R):
            for s in range(S):
                window = xs[:, :, r:r + (P - 1) * stride + 1:stride, s:s + (Q - 1) * stride + 1:stride]
                out[:, g * Kg:(g + 1) * Kg] += np.einsum("ncpq,kc->nkpq", window, ws[:, :, r, s])
    return out


@njit(cache=True)
def round_shift(v, shift):
    """v / 2**shift rounded half up (arithmetic shift); a left shift for negative `shift`."""
    if shift <= 0:
        return v << -shift
    return (v + (1 << (shift - 1))) >> shift


def round_shift_float(v, shift):
    """The float definition of `round_shift`: floor(v / 2**shift + 1/2)."""
    return np.floor(np.asarray(v, np.float64) / 2.0 ** np.asarray(shift, np.float64) + 0.5)


def pow2_exponent(max_abs, qmax):
    """Smallest integer e with max_abs / 2**e <= qmax (the power-of-two scale of a range).

    An all-zero range (max_abs = 0) fits any scale; it gets 0, so that the exponent stays a
    small stored field and does not drive the alignment shifts of the other ranges (the
    smallest that fits would be the float minimum, 2**-1074)."""
    max_abs = np.asarray(max_abs, np.float64)
    zero = max_abs == 0
    safe = np.where(zero, qmax, max_abs)
    e = np.ceil(np.log2(safe / qmax)).astype(np.int64)
    e = e + (safe / 2.0 ** e > qmax)              # guard against log2 rounding
    return np.where(zero, 0, e)
