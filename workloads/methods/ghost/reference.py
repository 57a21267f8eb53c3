"""Bit-exact integer reference of a Ghost module (workloads/ghost.py) as the int8 hardware runs
it: the primary convolution's sums requantized to the output width (the intrinsic maps, stored),
the cheap depthwise convolution of the first K - m of them, requantized likewise (the ghost maps),
and the two concatenated, intrinsic maps first. Built on conv_ref's numba convolution and
requant_ref's requantization; the test checks it against their float definitions.
"""

from __future__ import annotations

import numpy as np

from dlaforge.workloads.ghost import CHEAP_KERNEL

from ..conv_ref import conv2d_int
from ..requant_ref import Requant


def _requant(acc, requant: Requant, out_bits: int):
    """Requantize acc[N, K, P, Q] per output channel."""
    return requant.apply(acc.transpose(1, 0, 2, 3), out_bits).transpose(1, 0, 2, 3)


def ghost_module_int(x, w_primary, w_cheap, stride, padding, requant_primary: Requant,
                     requant_cheap: Requant, out_bits=8):
    """y[N, K, P, Q] of the Ghost module: x[N, C, H, W] through w_primary[m, C, R, S] at
    `stride` and `padding`, then w_cheap[K - m, 1, d, d] over the first K - m intrinsic maps."""
    intrinsic = _requant(conv2d_int(x, w_primary, stride, padding), requant_primary, out_bits)
    ghosts = w_cheap.shape[0]
    acc = conv2d_int(intrinsic[:, :ghosts], w_cheap, 1, CHEAP_KERNEL // 2, groups=ghosts)
    return np.concatenate([intrinsic, _requant(acc, requant_cheap, out_bits)], axis=1)
