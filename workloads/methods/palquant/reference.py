"""PalQuant: parallel low-precision groups (huqinghao/PalQuant, ECCV 2022; REFERENCES.md §3).

A layer of C -> K channels becomes a grouped conv of G groups, each a 2-bit copy: group g has
its own weights [K, C, R, S] and reads its own C input channels. Quantizers (per layer):
weights ŵ = 2·round(3·clamp((w−l)/(u−l), 0, 1))/3 − 1 ∈ {−1, −1/3, 1/3, 1}, codes
q_w ∈ {0..3}; activations â = round(3·clamp(a/u_a, 0, 1))/3 ∈ {0, 1/3, 2/3, 1}, codes q_a.
With the symmetric range l = −u the real output is u·u_a·Σŵâ = (u·u_a/9)·T, where the
integer T = 2·Σq_w·q_a − 3·Σq_a is what the 2-bit array computes: Σq_w·q_a on the 2-bit MACs
and Σq_a, the window sum shared by all filters of a group, on an adder. Rounding is half up.

The cyclic shuffle before stages 2–4 (group g reads input group (g+1) mod G) is an address
remap: the array's channel address table, no data moves.

For comparison, `bitsliced_conv` runs a wider layer (unsigned codes, e.g. 4 bit) on the same
2-bit array as passes over pairs of 2-bit slices, combined by shifts and adds.
"""

from __future__ import annotations

import numpy as np

from ..conv_ref import conv2d_float, conv2d_int

LEVELS = 3          # 2-bit codes 0..3


def _round_half_up(v):
    return np.floor(v + 0.5)


def weight_codes(w, u: float) -> np.ndarray:
    """q_w ∈ {0..3} with the symmetric range [−u, u]."""
    return _round_half_up(LEVELS * np.clip((np.asarray(w) + u) / (2 * u), 0, 1)).astype(np.int64)


def act_codes(a, u_a: float) -> np.ndarray:
    return _round_half_up(LEVELS * np.clip(np.asarray(a) / u_a, 0, 1)).astype(np.int64)


def shuffle_map(G: int, C: int, shift: int) -> np.ndarray:
    """Channel address table: group g reads stored input group (g + shift) mod G."""
    return np.array([((g + shift) % G) * C + c for g in range(G) for c in range(C)], np.int64)


def palquant_conv(qa, qw, G: int, stride: int = 1, padding: int = 0, shift: int = 0,
                  out_size=None) -> np.ndarray:
    """T = 2·Σq_w·q_a − 3·Σq_a of a G-group 2-bit conv: qa[N, G·C, H, W], qw[G·K, C, R, S]
    (`out_size` as in conv_ref.conv2d_int)."""
    GK, C, R, S = qw.shape
    cmap = shuffle_map(G, C, shift)
    products = conv2d_int(qa, qw, stride, padding, G, cmap, out_size)
    window = conv2d_int(qa, np.ones((G, C, R, S), np.int64), stride, padding, G, cmap,
                        out_size)
    return 2 * products - LEVELS * np.repeat(window, GK // G, axis=1)


def palquant_conv_float(qa, qw, G: int, stride: int = 1, padding: int = 0, shift: int = 0) -> np.ndarray:
    """Float definition: Σŵ·â of the grouped conv on dequantized values, input groups rolled."""
    N, GC, H, W = qa.shape
    a_hat = np.roll(qa.reshape(N, G, GC // G, H, W), -shift, axis=1).reshape(qa.shape) / LEVELS
    w_hat = 2 * qw / LEVELS - 1
    return conv2d_float(a_hat, w_hat, stride, padding, G)


def slices(codes, bits: int, slice_bits: int = 2) -> list[np.ndarray]:
    """Unsigned codes split into slices, least significant first."""
    mask = (1 << slice_bits) - 1
    return [(np.asarray(codes, np.int64) >> (i * slice_bits)) & mask
            for i in range(-(-bits // slice_bits))]


def bitsliced_conv(a_codes, w_codes, bits: int, stride: int = 1, padding: int = 0,
                   slice_bits: int = 2, out_size=None) -> np.ndarray:
    """Σ a·w of unsigned `bits`-bit codes as (bits/slice_bits)² passes of the low-bit array,
    each pass shifted by the slices' weight and added (`out_size` as in conv_ref.conv2d_int)."""
    total = 0
    for i, a in enumerate(slices(a_codes, bits, slice_bits)):
        for j, w in enumerate(slices(w_codes, bits, slice_bits)):
            total = total + (conv2d_int(a, w, stride, padding, out_size=out_size)
                              << ((i + j) * slice_bits))
    return total
