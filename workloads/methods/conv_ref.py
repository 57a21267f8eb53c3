"""Direct convolution, the yardstick every method's reference is checked against.

`conv2d_int` is the bit-exact integer convolution in numba (int64 accumulation, zero padding,
groups, and an input-channel address table so that a channel shuffle is a remap of addresses,
not a copy); `conv2d_float` is the plain numpy float definition of the same math. The shared
fixed-point helper `round_shift` is the hardware's rounding right shift.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _conv2d(x, w, stride, padding, groups, cmap):
    N, _, H, W = x.shape
    K, Cg, R, S = w.shape
    P = (H + 2 * padding - R) // stride + 1
    Q = (W + 2 * padding - S) // stride + 1
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


def conv2d_int(x, w, stride=1, padding=0, groups=1, cmap=None):
    """Integer convolution of x[N, C, H, W] with w[K, C/groups, R, S], exact in int64.

    `cmap[c]` is the stored channel the array reads when the layer asks for input channel c
    (default: the identity).
    """
    x = np.ascontiguousarray(x, dtype=np.int64)
    cmap = np.arange(x.shape[1], dtype=np.int64) if cmap is None else np.asarray(cmap, np.int64)
    return _conv2d(x, np.ascontiguousarray(w, dtype=np.int64), stride, padding, groups, cmap)


def conv2d_float(x, w, stride=1, padding=0, groups=1):
    """The float64 definition: zero-pad, then sum shifted slices times each kernel tap."""
    x = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    K, Cg, R, S = w.shape
    N, C, H, W = x.shape
    P, Q = (H - R) // stride + 1, (W - S) // stride + 1
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
