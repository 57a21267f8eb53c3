"""Bit Fusion references (Sharma et al., "Bit Fusion: Bit-Level Dynamically Composable
Architecture for Accelerating Deep Neural Networks", ISCA 2018).

A fusion unit multiplies by BitBricks: a b-bit signed code is split into b/2 2-bit digits, the
top digit signed (-2..1) and the others unsigned (0..3), x = Σ_i d_i·4^i; a product of an
a-bit and a w-bit code is Σ_{i,j} (d_i·e_j)·4^(i+j), one brick (a 3-bit x 3-bit signed
multiply of the digits, each sign- or zero-extended) per digit pair, shifted and added by the
fusion tree. A fusion unit's `lanes` products (workloads/methods/bitfusion/plan.py) are summed
too, so one fused MAC over fused words (lanes codes side by side) is

    acc += Σ_l Σ_{i,j} brick(digit_i(a_l), digit_j(w_l)) << 2(i + j)

`fused_mac_int` is that, digit by digit, on a pair of fused words (`pack_lanes` packs codes
along the channels), as the hardware does it (numba); `bitfusion_conv_int` is a layer brick by
brick: the convolution of every pair of digit planes (conv_ref.conv2d_int), shifted and summed.
Both are checked against the plain definitions, `fused_dot_float` and conv_ref.conv2d_float
(Σ a·w).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..conv_ref import conv2d_int
from .plan import packed_channels


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


def digits(codes, bits: int) -> list:
    """The 2-bit digits of signed `bits`-bit codes, least significant first: Σ_i d_i·4^i, the
    top digit signed (-2..1), the others unsigned (0..3)."""
    codes = np.asarray(codes, np.int64)
    planes = [(codes >> (2 * i)) & 3 for i in range(bits // 2)]
    planes[-1] = np.where(planes[-1] >= 2, planes[-1] - 4, planes[-1])
    return planes


def bitfusion_conv_int(x, w, a_bits: int, w_bits: int, stride: int = 1, padding: int = 0,
                       groups: int = 1, out_size: tuple | None = None) -> np.ndarray:
    """A layer as the fusion units compute it: x[N, C, H, W] a_bits codes, w[K, C/groups, R, S]
    w_bits codes -> int64[N, K, P, Q], brick by brick: for every digit pair (i, j) the
    convolution of the digit planes (each tap one brick product, the sum over the channels the
    lanes' and the accumulator's) shifted by 2(i + j), summed by the fusion tree. Equal to the
    plain convolution of the codes."""
    total = None
    for i, xd in enumerate(digits(x, a_bits)):
        for j, wd in enumerate(digits(w, w_bits)):
            part = conv2d_int(xd, wd, stride, padding, groups, out_size=out_size) << 2 * (i + j)
            total = part if total is None else total + part
    return total


def fused_dot_float(a_codes, w_codes) -> float:
    """The plain definition of one fused MAC: Σ_l a_l·w_l over the lanes' codes."""
    return float(np.dot(np.asarray(a_codes, np.float64), np.asarray(w_codes, np.float64)))

