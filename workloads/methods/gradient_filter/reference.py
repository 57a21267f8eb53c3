"""The gradients gradient filtering computes (Yang et al., CVPR 2023; the method's doc in
__init__.py), in numba, on float64 arrays, for a convolution of x[N, C, H, W] with
w[K, C/groups, R, S] at stride s, given dY[N, K, P, Q] and the patch r:

    dY~[n, k, i, j]  = mean of dY over patch (i, j): rows i·r - a .. i·r - a + r - 1 inside
                       0..P-1 (a = ceil((ceil(P/r)·r - P) / 2), the same for the columns);
    Xs[n, c, i, j]   = sum of x over rows i·r·s - b .. i·r·s - b + r·s - 1 inside 0..H-1
                       (b = ceil((ceil(P/r)·r·s - H) / 2));
    Ws[k, c']        = sum of w[k, c', :, :];
    dX[n, c, h, v]   = sum over k of c's group of Ws[k, c - first channel of the group]
                       · dY~[n, k, (h + b) // (r·s), (v + b') // (r·s)];
    dW[k, c', u, t]  = sum over n, i, j of dY~[n, k, i, j] · Xs[n, group's first c + c', i, j]
                       for every tap (u, t).

These equal the exact gradients of the convolution for dY~ in place of dY wherever the
approximation is exact (a 1x1 convolution at stride 1 whose dY is constant over each patch);
tests/workloads/methods/test_gradient_filter.py checks both.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


def _offsets(P, Q, H, W, r, stride):
    ph, pw = math.ceil(P / r), math.ceil(Q / r)
    return (ph, pw, math.ceil((ph * r - P) / 2), math.ceil((pw * r - Q) / 2),
            math.ceil((ph * r * stride - H) / 2), math.ceil((pw * r * stride - W) / 2))


@njit(cache=True)
def _filtered(x, w, dy, r, stride, groups, ph, pw, ay, aw, bh, bw):
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    P, Q = dy.shape[2], dy.shape[3]
    Kg, rs = K // groups, r * stride
    dya = np.zeros((N, K, ph, pw))
    xs = np.zeros((N, C, ph, pw))
    for n in range(N):
        for i in range(ph):
            for j in range(pw):
                for k in range(K):
                    acc, count = 0.0, 0
                    for p in range(max(0, i * r - ay), min(P, i * r - ay + r)):
                        for q in range(max(0, j * r - aw), min(Q, j * r - aw + r)):
                            acc += dy[n, k, p, q]
                            count += 1
                    dya[n, k, i, j] = acc / count if count else 0.0
                for c in range(C):
                    acc = 0.0
                    for h in range(max(0, i * rs - bh), min(H, i * rs - bh + rs)):
                        for v in range(max(0, j * rs - bw), min(W, j * rs - bw + rs)):
                            acc += x[n, c, h, v]
                    xs[n, c, i, j] = acc
    ws = np.zeros((K, Cg))
    for k in range(K):
        for c in range(Cg):
            for u in range(R):
                for t in range(S):
                    ws[k, c] += w[k, c, u, t]
    dx = np.zeros((N, C, H, W))
    for n in range(N):
        for c in range(C):
            g = c // Cg
            for h in range(H):
                for v in range(W):
                    i, j = (h + bh) // rs, (v + bw) // rs
                    acc = 0.0
                    for k in range(g * Kg, (g + 1) * Kg):
                        acc += ws[k, c - g * Cg] * dya[n, k, i, j]
                    dx[n, c, h, v] = acc
    dw = np.zeros((K, Cg, R, S))
    for k in range(K):
        g = k // Kg
        for c in range(Cg):
            acc = 0.0
            for n in range(N):
                for i in range(ph):
                    for j in range(pw):
                        acc += dya[n, k, i, j] * xs[n, g * Cg + c, i, j]
            for u in range(R):
                for t in range(S):
                    dw[k, c, u, t] = acc
    return dx, dw


def filtered_gradients(x, w, dy, r=4, stride=1, groups=1):
    """(dX, dW) of gradient filtering with patch `r` (module doc)."""
    N, C, H, W = x.shape
    offsets = _offsets(dy.shape[2], dy.shape[3], H, W, r, stride)
    return _filtered(np.ascontiguousarray(x, np.float64), np.ascontiguousarray(w, np.float64),
                     np.ascontiguousarray(dy, np.float64), r, stride, groups, *offsets)
