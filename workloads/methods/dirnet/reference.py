"""IR-Net / DIR-Net binarized layers (Qin et al., "Forward and Backward Information Retention
for Accurate Binary Neural Networks", CVPR 2020, and its extension DIR-Net, "Distribution-
sensitive Information Retention for Accurate Binary Neural Network", IJCV 2022: the seed).

Weights (Libra-PB / IMB): each filter is balanced and standardized,
    ŵ = (w - mean(w_k)) / std(w_k - mean(w_k)),
binarized to sign(ŵ) (sign(0) = +1), with a power-of-two scale per filter,
    s_k = round(log2(‖ŵ_k‖₁ / n)),   Q_w = sign(ŵ) << s_k   (a right shift when s_k < 0),
so the scaling stage shifts instead of multiplying. Activations are binarized by sign (no
scale, unlike XNOR-Net's K). A filter whose weights are all equal has ŵ = 0: every sign +1
and s_k the smallest exponent EXPONENT_BITS allows.

The integer layer the hardware computes: the XNOR-popcount dot product of the packed signs
(xnor/reference.xnor_dot: padded taps skipped, sign of padding = 0), then per filter an
arithmetic shift to `frac_bits` fractional bits of the output,
    y_q = dot << e_k  (e_k >= 0)   or   floor(dot / 2**-e_k)  (e_k < 0),   e_k = s_k + frac_bits,
which is y = dot · 2**s_k in fixed point, exact whenever e_k >= 0.
"""

from __future__ import annotations

import numpy as np

from ..conv_ref import conv2d_float
from ..xnor.reference import pack_signs, signs, xnor_dot
from . import EXPONENT_BITS



def balanced(w) -> np.ndarray:
    """Each filter mean-centred and divided by its standard deviation (1 when it is 0)."""
    w = np.asarray(w, np.float64)
    flat = w.reshape(w.shape[0], -1)
    centred = flat - flat.mean(axis=1, keepdims=True)
    std = centred.std(axis=1, keepdims=True)
    return (centred / np.where(std > 0, std, 1.0)).reshape(w.shape)


def exponents(w) -> np.ndarray:
    """s_k = round(log2(mean |ŵ_k|)) per filter, clipped to the EXPONENT_BITS range."""
    lo, hi = -(1 << (EXPONENT_BITS - 1)), (1 << (EXPONENT_BITS - 1)) - 1
    mean = np.abs(balanced(w)).reshape(np.shape(w)[0], -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return np.clip(np.rint(np.log2(mean)), lo, hi).astype(np.int64)


def shift(values, e) -> np.ndarray:
    """values · 2**e by arithmetic shifts, per filter (axis 1): left for e >= 0, right
    (floor) for e < 0."""
    v = np.asarray(values, np.int64)
    e = np.asarray(e, np.int64)[None, :, None, None]
    return np.where(e >= 0, v << np.maximum(e, 0), v >> np.maximum(-e, 0))


def dirnet_conv_int(x, w, stride: int = 1, padding: int = 0, frac_bits: int = 0) -> np.ndarray:
    """The integer layer (module doc): packed XNOR-popcount dot product of sign(x) and
    sign(ŵ), shifted per filter by s_k + frac_bits."""
    dot = xnor_dot(pack_signs(x), pack_signs(balanced(w)), np.shape(x)[1], stride, padding)
    return shift(dot, exponents(w) + frac_bits)


def dirnet_conv_float(x, w, stride: int = 1, padding: int = 0, frac_bits: int = 0) -> np.ndarray:
    """Float definition: floor of (sign(x) ⊛ sign(ŵ)) · 2**(s_k + frac_bits), zero padding."""
    dot = conv2d_float(signs(x), signs(balanced(w)), stride, padding)
    return np.floor(dot * 2.0 ** (exponents(w) + frac_bits)[None, :, None, None])
