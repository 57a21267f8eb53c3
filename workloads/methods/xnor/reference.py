"""XNOR-Net and binary-weight layers (Rastegari et al. 2016; REFERENCES.md §3).

Binary weights: W ≈ α·sign(W), α = ‖W‖₁/n per output filter. Binary-weight layer (BWN):
y = α_k · Σ x·sign(w), additions and subtractions only. XNOR layer: y ≈ (sign(I) ⊛ sign(W)) ⊙ K·α,
with A = mean over channels of |I| and K = A ∗ k, k an R x S box filter of 1/(RS) (applied with
the layer's stride and zero padding).

Signs are bit-packed along channels into uint64 words: bit c%64 of word c//64 is 1 for +1 and
0 for -1 (sign(0) is taken as +1 for real values). A window's dot product is
2·popcount(XNOR(h, b) & mask) − n, where the mask clears the unused high bits of the last word.

Zero padding: sign(0) = 0 has no code in one bit. Padded pixels are given no bits at all: the
array skips the taps that fall outside the image and n counts only the in-image bits
(equivalently, a per-pixel valid plane ANDed into the XNOR). The result therefore equals the
float convolution of the signs with zero padding (sign of padding = 0). Because the padding
is whole pixels, n depends only on the output position and is a constant per border pixel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..conv_ref import conv2d_float, conv2d_int

WORD_BITS = 64


def signs(x) -> np.ndarray:
    """+1 / -1 of real values (sign(0) = +1)."""
    return np.where(np.asarray(x) >= 0, 1, -1).astype(np.int64)


@njit(cache=True)
def popcount64(v):
    """Bits set in a uint64 (SWAR: the adder tree of a popcount unit)."""
    v = v - ((v >> np.uint64(1)) & np.uint64(0x5555555555555555))
    v = (v & np.uint64(0x3333333333333333)) + ((v >> np.uint64(2)) & np.uint64(0x3333333333333333))
    v = (v + (v >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (v * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(cache=True)
def _pack(x):
    """x[A, C, B] real -> uint64[A, B, words] sign bits along C."""
    A, C, B = x.shape
    words = (C + WORD_BITS - 1) // WORD_BITS
    out = np.zeros((A, B, words), dtype=np.uint64)
    for a in range(A):
        for b in range(B):
            for c in range(C):
                if x[a, c, b] >= 0:
                    out[a, b, c // WORD_BITS] |= np.uint64(1) << np.uint64(c % WORD_BITS)
    return out


def pack_signs(x) -> np.ndarray:
    """Activations x[N, C, H, W] -> uint64[N, H, W, words]; weights w[K, C, R, S] likewise
    -> uint64[K, R, S, words]."""
    x = np.asarray(x, np.float64)
    n, c, h, w = x.shape
    return _pack(np.ascontiguousarray(x.reshape(n, c, h * w))).reshape(n, h, w, -1)


@njit(cache=True)
def _xnor_conv(xb, wb, C, stride, padding):
    N, H, W, words = xb.shape
    K, R, S, _ = wb.shape
    P = (H + 2 * padding - R) // stride + 1
    Q = (W + 2 * padding - S) // stride + 1
    tail = C % WORD_BITS
    last = np.uint64(0xFFFFFFFFFFFFFFFF) if tail == 0 else (np.uint64(1) << np.uint64(tail)) - np.uint64(1)
    out = np.zeros((N, K, P, Q), dtype=np.int64)
    for n in range(N):
        for k in range(K):
            for p in range(P):
                for q in range(Q):
                    pop = 0
                    taps = 0
                    for r in range(R):
                        h = p * stride + r - padding
                        if h < 0 or h >= H:
                            continue
                        for s in range(S):
                            v = q * stride + s - padding
                            if v < 0 or v >= W:
                                continue
                            taps += 1
                            for i in range(words):
                                bits = ~(xb[n, h, v, i] ^ wb[k, r, s, i])
                                if i == words - 1:
                                    bits &= last
                                pop += popcount64(bits)
                    out[n, k, p, q] = 2 * pop - taps * C
    return out


def xnor_dot(x_bits, w_bits, C: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Σ sign(x)·sign(w) over every window, as 2·popcount(XNOR) − n on packed words."""
    return _xnor_conv(x_bits, w_bits, C, stride, padding)


def popcount_sums(x, w, stride: int = 1, padding: int = 0, groups: int = 1,
                  out_size: tuple | None = None) -> np.ndarray:
    """What an XNOR-popcount array accumulates, int64[N, K, P, Q]: Σ popcount(XNOR(x, w)) over
    every window's in-image taps and word-channels, x int64[N, groups*C, H, W] and w
    int64[K, C, R, S] holding WORD_BITS-bit sign words (two's complement, as DRAM holds them;
    C counts words). A tap outside the image adds nothing, as the array's valid bit skips it;
    `out_size` (P, Q) may exceed the window's output (windows hanging past the edge).
    xnor_dot's dot product is 2·popcount_sums − taps·(2·words·WORD_BITS − C) with its
    unused high bits 0 (plan.tap_bias)."""
    x, w = np.asarray(x).astype(np.uint64), np.asarray(w).astype(np.uint64)
    N, _, H, W = x.shape
    K, C, R, S = w.shape
    P = (H + 2 * padding - R) // stride + 1 if out_size is None else out_size[0]
    Q = (W + 2 * padding - S) // stride + 1 if out_size is None else out_size[1]
    out = np.zeros((N, K, P, Q), np.int64)
    per_group = K // groups
    for r in range(R):
        h = np.arange(P) * stride + r - padding
        for s in range(S):
            v = np.arange(Q) * stride + s - padding
            inside = ((h >= 0) & (h < H))[:, None] & ((v >= 0) & (v < W))[None, :]
            patch = x[:, :, np.clip(h, 0, H - 1)][:, :, :, np.clip(v, 0, W - 1)]
            for g in range(groups):
                xs = patch[:, g * C:(g + 1) * C]                        # N, C, P, Q
                ws = w[g * per_group:(g + 1) * per_group, :, r, s]      # k, C
                agree = np.bitwise_count(~(xs[:, None] ^ ws[None, :, :, None, None]))
                sums = agree.sum(axis=2, dtype=np.int64) * inside
                out[:, g * per_group:(g + 1) * per_group] += sums
    return out


def alpha(w) -> np.ndarray:
    """α_k = ‖W_k‖₁ / n, one per output filter."""
    w = np.asarray(w, np.float64)
    return np.abs(w).reshape(w.shape[0], -1).mean(axis=1)


def k_map(x, R: int, S: int, stride: int, padding: int) -> np.ndarray:
    """K = A ∗ k: channel-mean |x| box-filtered over each R x S window (zero padding)."""
    a = np.abs(np.asarray(x, np.float64)).mean(axis=1, keepdims=True)
    return conv2d_float(a, np.full((1, 1, R, S), 1.0 / (R * S)), stride, padding)


def xnor_conv(x, w, stride: int = 1, padding: int = 0) -> np.ndarray:
    """XNOR layer: the packed popcount dot product scaled by K (per pixel) and α (per filter)."""
    dot = xnor_dot(pack_signs(x), pack_signs(w), x.shape[1], stride, padding)
    return dot * k_map(x, w.shape[2], w.shape[3], stride, padding) * alpha(w)[None, :, None, None]


def xnor_conv_float(x, w, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Float definition: sign(x) ⊛ sign(w) with zero padding, times K and α."""
    dot = conv2d_float(signs(x), signs(w), stride, padding)
    return dot * k_map(x, w.shape[2], w.shape[3], stride, padding) * alpha(w)[None, :, None, None]


def bwn_conv(x_int, w, stride: int = 1, padding: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Binary-weight layer on integer input: (Σ x·sign(w) exact, α); y = that · α."""
    return conv2d_int(x_int, signs(w), stride, padding), alpha(w)
