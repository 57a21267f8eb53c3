"""AdderNet references (Chen et al., "AdderNet: Do we really need multiplications in deep
learning?", CVPR 2020; its quantization: Nie et al., "Redistribution of weights and activations
for AdderNet quantization", NeurIPS 2022, the seed abstract).

An adder layer replaces the convolution's Σ x·w by the negative ℓ1 distance between each input
window and each filter:

    y[n, k, p, q] = -Σ_{c, r, s} |x[n, c, p·stride + r - pad, q·stride + s - pad] - w[k, c, r, s]|

Padding: the window runs over the zero-padded input, so a padded tap counts |0 - w[k, c, r, s]|
= |w| (as the paper's code, which unfolds the zero-padded input before the ℓ1 distance). This
is also what the accelerator computes: its loader writes zeros for padded pixels and the adder
PE adds -|0 - w| for them (hw/methods/addernet/).

Quantization (the seed): |x - w| keeps no commutative law with a scale on one side, so weights
and activations of a group share one scale s_g: y ≈ -s_g · Σ |q(x / s_g) - q(w / s_g)|. The
filters are clustered into G groups of output channels (here: sorted by their largest |w| and
cut into G groups of near-equal size), s_g = max |w| of group g / qmax (the weights' range kept
whole, the paper's lossless weight clamp), and the activations are quantized with each group's
s_g and clamped to the code range (the paper's outlier clamp). The integer kernel the hardware
runs is `adder_conv_int` on the codes.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _adder_conv(x, w, groups, stride, padding, P, Q):
    N, C, H, W = x.shape
    K, cg, R, S = w.shape
    kg = K // groups
    out = np.zeros((N, K, P, Q), dtype=np.int64)
    for n in range(N):
        for k in range(K):
            c0 = (k // kg) * cg
            for p in range(P):
                for q in range(Q):
                    acc = 0
                    for c in range(cg):
                        for r in range(R):
                            h = p * stride + r - padding
                            for s in range(S):
                                v = q * stride + s - padding
                                a = 0
                                if 0 <= h < H and 0 <= v < W:
                                    a = x[n, c0 + c, h, v]
                                acc -= abs(a - w[k, c, r, s])
                    out[n, k, p, q] = acc
    return out


def out_size(H: int, W: int, R: int, S: int, stride: int, padding: int) -> tuple[int, int]:
    return (H + 2 * padding - R) // stride + 1, (W + 2 * padding - S) // stride + 1


def adder_conv_int(x, w, stride: int = 1, padding: int = 0, groups: int = 1,
                   out_size_: tuple | None = None) -> np.ndarray:
    """Bit-exact integer adder layer: x[N, C, H, W], w[K, C/groups, R, S] integers ->
    int64[N, K, P, Q] = -Σ|x - w| over each zero-padded window (module doc)."""
    x = np.ascontiguousarray(x, dtype=np.int64)
    w = np.ascontiguousarray(w, dtype=np.int64)
    P, Q = out_size_ or out_size(x.shape[2], x.shape[3], w.shape[2], w.shape[3], stride,
                                 padding)
    return _adder_conv(x, w, groups, stride, padding, P, Q)


def adder_conv_float(x, w, stride: int = 1, padding: int = 0, groups: int = 1) -> np.ndarray:
    """Float definition: pad with zeros, take every window, -Σ|window - filter| (numpy)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    N, C, H, W = x.shape
    K, cg, R, S = w.shape
    P, Q = out_size(H, W, R, S, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (R, S), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride][:, :, :P, :Q]          # N, C, P, Q, R, S
    kg = K // groups
    out = np.empty((N, K, P, Q))
    for k in range(K):
        g = k // kg
        part = windows[:, g * cg:(g + 1) * cg]                             # N, cg, P, Q, R, S
        out[:, k] = -np.abs(part - w[k][None, :, None, None]).sum(axis=(1, 4, 5))
    return out


def scale_groups(w, groups: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(group of each filter, scale of each group): the filters sorted by their largest |w|
    and cut into `groups` groups of near-equal size; s_g = max |w| of the group / qmax."""
    w = np.asarray(w, np.float64)
    K = w.shape[0]
    groups = min(groups, K)
    peak = np.abs(w).reshape(K, -1).max(axis=1)
    order = np.argsort(peak, kind="stable")
    group_of = np.empty(K, dtype=np.int64)
    for g, members in enumerate(np.array_split(order, groups)):
        group_of[members] = g
    qmax = (1 << (bits - 1)) - 1
    scales = np.array([max(peak[group_of == g].max(), 1e-12) / qmax for g in range(groups)])
    return group_of, scales


def quantize(values, scale: float, bits: int) -> np.ndarray:
    """Codes round(values / scale) clamped to the signed `bits` range."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(np.rint(np.asarray(values, np.float64) / scale), lo, hi).astype(np.int64)


def adder_conv_quantized(x, w, bits: int, groups: int, stride: int = 1,
                         padding: int = 0) -> np.ndarray:
    """The quantized adder layer (module doc): per scale group g, the integer kernel on the
    codes of x and w at s_g, times s_g. Equals adder_conv_float up to the rounding of x and
    w (and the clamp of activations beyond the group's weight range). Ungrouped convolutions
    only: a scale group's filters are any subset of K, which a grouped conv's channel slices
    would not follow."""
    x = np.asarray(x, np.float64)
    if np.shape(w)[1] != x.shape[1]:
        raise ValueError(f"adder_conv_quantized runs ungrouped convolutions: weights of "
                         f"{np.shape(w)[1]} channels for an input of {x.shape[1]}")
    group_of, scales = scale_groups(w, groups, bits)
    out = None
    for g, s in enumerate(scales):
        members = np.flatnonzero(group_of == g)
        part = adder_conv_int(quantize(x, s, bits), quantize(w[members], s, bits), stride,
                              padding) * s
        if out is None:
            out = np.empty((x.shape[0], len(group_of)) + part.shape[2:])
        out[:, members] = part
    return out
