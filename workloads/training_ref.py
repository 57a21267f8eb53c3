"""Bit-exact integer references of the backward pass (issue 19, item 4): the input gradient dX
and the weight gradient dW of a convolution (groups, so depthwise too; a linear layer is the
1x1 convolution of a 1x1 image), in numba with int64 accumulation.

They compute what the training ops (workloads/training.py) price: `conv2d_dx_int` sums, for
each input position, the taps of the kernel that reached it in the forward (r with
(h + padding - r) divisible by the stride: the kernel segregation's phases), with the filters
rotated and K/C swapped; `conv2d_dw_int` correlates X with dY over N, P and Q. Both are checked
in tests against the float definition: the gradients of <dY, conv2d_float(X, W)> by finite
differences (exact: the convolution is linear in each operand).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _dx(dy, w, H, W, stride, padding, groups):
    N, K, P, Q = dy.shape
    _, Cg, R, S = w.shape
    Kg = K // groups
    dx = np.zeros((N, Cg * groups, H, W), dtype=np.int64)
    for n in range(N):
        for c in range(Cg * groups):
            g, cl = c // Cg, c % Cg
            for h in range(H):
                for v in range(W):
                    acc = 0
                    for r in range(R):
                        t = h + padding - r
                        if t < 0 or t % stride:
                            continue
                        p = t // stride
                        if p >= P:
                            continue
                        for s in range(S):
                            u = v + padding - s
                            if u < 0 or u % stride:
                                continue
                            q = u // stride
                            if q >= Q:
                                continue
                            for k in range(g * Kg, (g + 1) * Kg):
                                acc += dy[n, k, p, q] * w[k, cl, r, s]
                    dx[n, c, h, v] = acc
    return dx


@njit(cache=True)
def _dw(x, dy, R, S, stride, padding, groups):
    N, C, H, W = x.shape
    _, K, P, Q = dy.shape
    Cg, Kg = C // groups, K // groups
    dw = np.zeros((K, Cg, R, S), dtype=np.int64)
    for k in range(K):
        c0 = (k // Kg) * Cg
        for cl in range(Cg):
            for r in range(R):
                for s in range(S):
                    acc = 0
                    for n in range(N):
                        for p in range(P):
                            h = p * stride + r - padding
                            if h < 0 or h >= H:
                                continue
                            for q in range(Q):
                                v = q * stride + s - padding
                                if 0 <= v < W:
                                    acc += x[n, c0 + cl, h, v] * dy[n, k, p, q]
                    dw[k, cl, r, s] = acc
    return dw


def conv2d_dx_int(dy, w, input_size, stride=1, padding=0, groups=1):
    """dX[N, C, H, W] of a convolution with w[K, C/groups, R, S] given dY[N, K, P, Q];
    `input_size` = (H, W). Exact in int64."""
    H, W = input_size
    return _dx(np.ascontiguousarray(dy, np.int64), np.ascontiguousarray(w, np.int64), H, W,
               stride, padding, groups)


def conv2d_dw_int(x, dy, kernel, stride=1, padding=0, groups=1):
    """dW[K, C/groups, R, S] of a convolution of x[N, C, H, W] given dY[N, K, P, Q];
    `kernel` = (R, S). Exact in int64."""
    R, S = kernel
    return _dw(np.ascontiguousarray(x, np.int64), np.ascontiguousarray(dy, np.int64), R, S,
               stride, padding, groups)


def linear_dx_int(dy, w):
    """dX[N, C] of y = x wᵀ with w[K, C], given dY[N, K]."""
    N, K = dy.shape
    out = conv2d_dx_int(np.reshape(dy, (N, K, 1, 1)), np.reshape(w, w.shape + (1, 1)), (1, 1))
    return out.reshape(N, w.shape[1])


def linear_dw_int(x, dy):
    """dW[K, C] of y = x wᵀ, given x[N, C] and dY[N, K]."""
    (N, C), K = x.shape, dy.shape[1]
    out = conv2d_dw_int(np.reshape(x, (N, C, 1, 1)), np.reshape(dy, (N, K, 1, 1)), (1, 1))
    return out.reshape(K, C)
