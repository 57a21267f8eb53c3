"""Gradient filtering's reference (workloads/methods/gradient_filter/reference.py) against
the averaged-gradient definition written with numpy (float), and against the exact
convolution gradients (workloads/training_ref.py) where the approximation is exact."""

import math

import numpy as np
import pytest

from dlaforge.workloads.methods.gradient_filter.reference import filtered_gradients
from dlaforge.workloads.training_ref import conv2d_dw_int, conv2d_dx_int


def _patches(a, size, before, cells):
    """a[..., H, W] cut into cells x cells patches of size x size, starting `before` outside
    (zero-padded; NaN marks the padding)."""
    *lead, H, W = a.shape
    out = np.full((*lead, cells[0] * size, cells[1] * size), np.nan)
    out[..., before[0]:before[0] + H, before[1]:before[1] + W] = a
    return out.reshape(*lead, cells[0], size, cells[1], size)


def definition(x, w, dy, r, stride, groups):
    """The paper's approximation: dY averaged per r x r patch (padding excluded), X summed per
    (r·s) x (r·s) patch, the filters summed over their taps; dX broadcast back, dW the same
    for every tap."""
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    P, Q = dy.shape[2:]
    cells = (math.ceil(P / r), math.ceil(Q / r))
    pad_y = [math.ceil((c * r - n) / 2) for c, n in zip(cells, (P, Q))]
    pad_x = [math.ceil((c * r * stride - n) / 2) for c, n in zip(cells, (H, W))]
    dya = np.nanmean(_patches(dy, r, pad_y, cells), axis=(3, 5))
    xs = np.nansum(_patches(x, r * stride, pad_x, cells), axis=(3, 5))
    ws = w.sum(axis=(2, 3))
    Kg = K // groups
    dx_cells = np.concatenate([np.einsum("kc,nkij->ncij", ws[g * Kg:(g + 1) * Kg],
                                         dya[:, g * Kg:(g + 1) * Kg]) for g in range(groups)],
                              axis=1)
    rs = r * stride
    dx = dx_cells.repeat(rs, axis=2).repeat(rs, axis=3)
    dx = dx[:, :, pad_x[0]:pad_x[0] + H, pad_x[1]:pad_x[1] + W]
    dw = np.concatenate([np.einsum("nkij,ncij->kc", dya[:, g * Kg:(g + 1) * Kg],
                                   xs[:, g * Cg:(g + 1) * Cg]) for g in range(groups)], axis=0)
    return dx, np.broadcast_to(dw[:, :, None, None], w.shape)


@pytest.mark.parametrize("N, C, K, H, R, stride, groups, r", [
    (1, 3, 4, 8, 3, 1, 1, 4),        # P divisible by r
    (2, 4, 6, 10, 3, 1, 2, 4),       # grouped; P = 10: edge patches hold fewer
    (1, 6, 6, 11, 3, 2, 6, 2),       # depthwise at stride 2
    (1, 2, 3, 7, 1, 1, 1, 3),        # pointwise, odd sizes
])
def test_reference_equals_the_definition(N, C, K, H, R, stride, groups, r):
    rng = np.random.default_rng(N * 100 + H)
    P = (H + 2 * (R // 2) - R) // stride + 1
    x = rng.standard_normal((N, C, H, H))
    w = rng.standard_normal((K, C // groups, R, R))
    dy = rng.standard_normal((N, K, P, P))
    dx, dw = filtered_gradients(x, w, dy, r, stride, groups)
    want_dx, want_dw = definition(x, w, dy, r, stride, groups)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, want_dw, rtol=1e-12, atol=1e-12)


def test_exact_for_a_pointwise_conv_whose_gradient_is_constant_per_patch():
    """A 1x1 conv at stride 1 with dY constant over each r x r patch: the approximation is the
    exact gradient (integers, so the comparison is exact)."""
    rng = np.random.default_rng(7)
    r, N, C, K, H = 4, 2, 3, 5, 8
    x = rng.integers(-8, 8, (N, C, H, H))
    w = rng.integers(-8, 8, (K, C, 1, 1))
    dy = rng.integers(-8, 8, (N, K, H // r, H // r)).repeat(r, axis=2).repeat(r, axis=3)
    dx, dw = filtered_gradients(x, w, dy, r)
    np.testing.assert_array_equal(dx, conv2d_dx_int(dy, w, (H, H)))
    np.testing.assert_array_equal(dw, conv2d_dw_int(x, dy, (1, 1)))
