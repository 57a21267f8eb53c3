"""Bit Fusion references (Sharma et al., "Bit Fusion: Bit-Level Dynamically Composable
Architecture for Accelerating Deep Neural Networks", ISCA 2018).

A fusion unit multiplies by BitBricks: a b-bit signed code is split into b/2 2-bit digits, the
top digit signed (-2..1) and the others unsigned (0..3), x = Σ_i d_i·4^i; a product of an
a-bit and a w-bit code is Σ_{i,j} (d_i·e_j)·4^(i+j), one brick (a 3-bit x 3-bit signed
multiply of the digits, each sign- or zero-extended) per digit pair, shifted and added by the
fusion tree. A fusion unit's `lanes` products (workloads/methods/bitfusion/plan.py) are summed
too, so one fused MAC over fused words (lanes codes side by side) is

    acc += Σ_l Σ_{i,j} brick(digit_i(a_l), digit_j(w_l)) << 2(i + j)

`fused_mac_int` is that, digit by digit, as the hardware does it (numba); `bitfusion_conv_int`
runs a layer on packed words (`pack_lanes` along the channels) with it; both are checked
against `fused_dot_float` / conv_ref.conv2d_float, the plain definitions (Σ a·w).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..conv_ref import output_size
from .plan import lanes, packed_channels


@njit(cache=True)
def _digit(word, position, signed):
    d = (word >> position) & 3
    if signed and d >= 2:
        d -= 4
    return d


@njit(cache=True)
def fused_mac_int(a_word, w_word, a_bits, w_bits, n_lanes):
    """The fusion unit's sum of brick products of one pair of fused words (module doc)."""
    total = 0
    for lane in range(n_lanes):
        for i in range(a_bits // 2):
            da = _digit(a_word, lane * a_bits + 2 * i, i == a_bits // 2 - 1)
            for j in range(w_bits // 2):
                dw = _digit(w_word, lane * w_bits + 2 * j, j == w_bits // 2 - 1)
                total += (da * dw) << (2 * (i + j))
    return total


def pack_lanes(values, bits: int, n_lanes: int, axis: int = 0) -> np.ndarray:
    """Signed `bits`-bit codes packed `n_lanes` to a word along `axis` (zero lanes fill the
    last word): lane l in bits [l·bits, (l+1)·bits), the word read as a signed integer of
    n_lanes·bits bits (as the accelerator's elements are)."""
    values = np.moveaxis(np.asarray(values, np.int64), axis, 0)
    words = packed_channels(values.shape[0], n_lanes)
    padded = np.zeros((words * n_lanes,) + values.shape[1:], np.int64)
    padded[:values.shape[0]] = values
    lanes_ = padded.reshape((words, n_lanes) + values.shape[1:])
    mask = (1 << bits) - 1
    packed = np.zeros((words,) + values.shape[1:], np.int64)
    for lane in range(n_lanes):
        packed |= (lanes_[:, lane] & mask) << (lane * bits)
    width = n_lanes * bits
    packed = np.where(packed >= 1 << (width - 1), packed - (1 << width), packed)
    return np.moveaxis(packed, 0, axis)


def unpack_lanes(words, bits: int, n_lanes: int, axis: int = 0) -> np.ndarray:
    """The codes of `pack_lanes`'s words (zero lanes included), along `axis`."""
    words = np.moveaxis(np.asarray(words, np.int64), axis, 0)
    out = np.empty((words.shape[0], n_lanes) + words.shape[1:], np.int64)
    for lane in range(n_lanes):
        code = (words >> (lane * bits)) & ((1 << bits) - 1)
        out[:, lane] = np.where(code >= 1 << (bits - 1), code - (1 << bits), code)
    return np.moveaxis(out.reshape((-1,) + words.shape[1:]), 0, axis)


@njit(cache=True)
def _fused_conv(xw, ww, a_bits, w_bits, n_lanes, groups, stride, padding, P, Q):
    N, _, H, W = xw.shape
    K, cg, R, S = ww.shape
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
                            if h < 0 or h >= H:
                                continue
                            for s in range(S):
                                v = q * stride + s - padding
                                if v < 0 or v >= W:
                                    continue
                                acc += fused_mac_int(xw[n, c0 + c, h, v], ww[k, c, r, s],
                                                     a_bits, w_bits, n_lanes)
                    out[n, k, p, q] = acc
    return out


def bitfusion_conv_int(x, w, a_bits: int, w_bits: int, stride: int = 1, padding: int = 0,
                       groups: int = 1, out_size: tuple | None = None) -> np.ndarray:
    """A layer on a fusion array: x[N, C, H, W] a_bits codes, w[K, C/groups, R, S] w_bits codes,
    each group's channels packed into fused words, every tap one fused MAC -> int64[N, K, P, Q]
    (equal to the plain convolution of the codes)."""
    n_lanes = lanes(a_bits, w_bits)
    x = np.asarray(x, np.int64)
    w = np.asarray(w, np.int64)
    cg = w.shape[1]
    xw = np.concatenate([pack_lanes(x[:, g * cg:(g + 1) * cg], a_bits, n_lanes, axis=1)
                         for g in range(groups)], axis=1)
    ww = pack_lanes(w, w_bits, n_lanes, axis=1)
    P, Q = output_size(x, w, stride, padding, out_size)
    return _fused_conv(np.ascontiguousarray(xw), np.ascontiguousarray(ww), a_bits, w_bits,
                       n_lanes, groups, stride, padding, P, Q)


def fused_dot_float(a_codes, w_codes) -> float:
    """The plain definition of one fused MAC: Σ_l a_l·w_l over the lanes' codes."""
    return float(np.dot(np.asarray(a_codes, np.float64), np.asarray(w_codes, np.float64)))

