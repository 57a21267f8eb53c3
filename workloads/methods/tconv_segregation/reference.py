"""Bit-exact integer reference of kernel segregation: a transposed convolution computed as the
method's sub-convolutions (workloads/segregation.py), each a stride-1 convolution of the input as
it is with one phase's sub-kernel, written to that phase's outputs.

Weights are laid out w[K, C/groups, R, S] (output channels first, as every Layer here; PyTorch's
ConvTranspose2d stores [C, K/groups, R, S]). Accumulation in int64. The test checks it against the
plain definition, every input pixel scattered through the kernel in float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dlaforge.workloads.segregation import sub_convolutions


@njit(cache=True)
def _sub_conv(x, w, top, left, dh, dw, P, Q, groups):
    """out[n, k, p, q] = sum over c in k's group, t, u of x[n, c, p + dh t - top,
    q + dw u - left] w[k, c, t, u] (zero outside x): one phase's stride-1 convolution."""
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
                        for t in range(R):
                            h = p + dh * t - top
                            if h < 0 or h >= H:
                                continue
                            for u in range(S):
                                v = q + dw * u - left
                                if 0 <= v < W:
                                    acc += x[n, c0 + c, h, v] * w[k, c, t, u]
                    out[n, k, p, q] = acc
    return out


def tconv_segregated_int(x, w, layer):
    """y[N, K, P, Q] of the transposed conv `layer` (its strides, paddings, dilation, groups and
    output size P x Q) of x[N, C, H, W] with w[K, C/groups, R, S], by kernel segregation."""
    x = np.ascontiguousarray(x, dtype=np.int64)
    w = np.ascontiguousarray(w, dtype=np.int64)
    (sh, sw) = layer.strides
    y = np.zeros((x.shape[0], w.shape[0], layer.P, layer.Q), dtype=np.int64)
    for sub in sub_convolutions((layer.P, layer.Q), (x.shape[2], x.shape[3]), layer):
        rows, cols = sub.rows, sub.cols
        dims = sub.dims()
        top, left, _, _ = dims["pads"]
        kernel = np.ascontiguousarray(w[:, :, list(rows.taps)][:, :, :, list(cols.taps)])
        y[:, :, rows.phase::sh, cols.phase::sw] = _sub_conv(
            np.ascontiguousarray(x[:, :, rows.crop:, cols.crop:]), kernel, top, left,
            rows.step, cols.step, rows.outputs, cols.outputs, layer.groups)
    return y
