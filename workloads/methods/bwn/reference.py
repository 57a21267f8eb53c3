"""Binary-weight network references (BWN: Rastegari et al., "XNOR-Net: ImageNet Classification
Using Binary Convolutional Neural Networks", ECCV 2016, §3.1; REFERENCES.md §3).

A BWN layer approximates each filter by α_k·sign(W_k), α_k = ‖W_k‖₁ / n
(xnor/reference.alpha), and keeps the activations at full (here int8) precision, so the
convolution needs no multiply:

    y[n, k, p, q] = α_k · Σ_{c, r, s} (+x if w[k, c, r, s] >= 0 else -x)[window]

The hardware's kernel is `bwn_conv_int`: the integer sum Σ ±x with the weights given as packed
sign bits (xnor/reference.pack_signs along each filter's C/groups channels: bit c % 64 of word
c // 64 is 1 for +1), one add or subtract per tap chosen by the bit. Zero padding adds nothing
(±0), so a padded tap is skipped. α_k is applied afterwards, per output channel.
`bwn_conv_float` is the plain float definition (numpy) the kernel is checked against.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..conv_ref import conv2d_float, output_size
from ..xnor.reference import WORD_BITS, alpha, pack_signs, signs


@njit(cache=True)
def _sign_add_conv(x, wb, Cg, groups, stride, padding, P, Q):
    N, _, H, W = x.shape
    K, R, S, _ = wb.shape
    Kg = K // groups
    out = np.zeros((N, K, P, Q), dtype=np.int64)
    for n in range(N):
        for k in range(K):
            c0 = (k // Kg) * Cg
            for p in range(P):
                for q in range(Q):
                    acc = 0
                    for r in range(R):
                        h = p * stride + r - padding
                        if h < 0 or h >= H:
                            continue
                        for s in range(S):
                            v = q * stride + s - padding
                            if v < 0 or v >= W:
                                continue
                            for c in range(Cg):
                                bit = (wb[k, r, s, c // WORD_BITS]
                                       >> np.uint64(c % WORD_BITS)) & np.uint64(1)
                                if bit:
                                    acc += x[n, c0 + c, h, v]
                                else:
                                    acc -= x[n, c0 + c, h, v]
                    out[n, k, p, q] = acc
    return out


def bwn_conv_int(x, w_bits, stride: int = 1, padding: int = 0, groups: int = 1,
                 out_size: tuple | None = None) -> np.ndarray:
    """Bit-exact Σ ±x: x[N, C, H, W] integers, w_bits the packed signs (uint64[K, R, S, words]
    of pack_signs over C/groups channels) -> int64[N, K, P, Q]."""
    x = np.ascontiguousarray(x, dtype=np.int64)
    K, R, S, _ = w_bits.shape
    P, Q = output_size(x, np.empty((K, 1, R, S)), stride, padding, out_size)
    return _sign_add_conv(x, np.ascontiguousarray(w_bits, np.uint64), x.shape[1] // groups,
                          groups, stride, padding, P, Q)


def bwn_conv(x, w, stride: int = 1, padding: int = 0, groups: int = 1) -> np.ndarray:
    """The BWN layer on integer activations: the packed sign-add kernel times α per filter."""
    acc = bwn_conv_int(x, pack_signs(w), stride, padding, groups)
    return acc * alpha(w)[None, :, None, None]


def bwn_conv_float(x, w, stride: int = 1, padding: int = 0, groups: int = 1) -> np.ndarray:
    """Float definition: x ⊛ (α·sign(w)) with zero padding."""
    w = np.asarray(w, np.float64)
    return conv2d_float(np.asarray(x, np.float64), alpha(w)[:, None, None, None] * signs(w),
                        stride, padding, groups)
