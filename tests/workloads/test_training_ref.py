"""The backward references (workloads/training_ref.py) against the float definition: the
gradients of L = <dY, conv2d_float(X, W)> by finite differences, exact because the convolution
is linear in each operand (a unit step changes L by exactly the gradient's entry)."""

import numpy as np
import pytest

from dlaforge.workloads.methods.conv_ref import conv2d_float, conv2d_int
from dlaforge.workloads.training_ref import (conv2d_dw_int, conv2d_dx_int, linear_dw_int,
                                             linear_dx_int)


def _finite_differences(f, a):
    """Every entry of the gradient of the linear function f at `a` (unit steps)."""
    base, grad = f(a), np.zeros(a.shape)
    for i in np.ndindex(a.shape):
        step = a.astype(np.float64).copy()
        step[i] += 1
        grad[i] = f(step) - base
    return grad


CASES = [  # (N, C, K, H, R, stride, padding, groups)
    (2, 3, 4, 6, 3, 1, 1, 1),
    (1, 3, 4, 7, 3, 2, 1, 1),
    (2, 4, 6, 7, 3, 2, 0, 2),       # grouped, valid
    (1, 4, 4, 8, 3, 2, 1, 4),       # depthwise
    (1, 2, 3, 8, 1, 2, 0, 1),       # strided 1x1
    (1, 2, 2, 9, 5, 3, 2, 1),
]


@pytest.mark.parametrize("N, C, K, H, R, stride, padding, groups", CASES)
def test_conv_gradients_equal_the_float_definition(N, C, K, H, R, stride, padding, groups):
    rng = np.random.default_rng(H * 10 + R)
    x = rng.integers(-128, 128, (N, C, H, H))
    w = rng.integers(-128, 128, (K, C // groups, R, R))
    y = conv2d_int(x, w, stride, padding, groups)
    dy = rng.integers(-2**15, 2**15, y.shape)            # 16-bit gradients
    loss = lambda xx, ww: float(np.vdot(dy, conv2d_float(xx, ww, stride, padding, groups)))
    dx = conv2d_dx_int(dy, w, (H, H), stride, padding, groups)
    dw = conv2d_dw_int(x, dy, (R, R), stride, padding, groups)
    assert dx.shape == x.shape and dw.shape == w.shape
    np.testing.assert_array_equal(dx, _finite_differences(lambda a: loss(a, w), x))
    np.testing.assert_array_equal(dw, _finite_differences(lambda a: loss(x, a), w))
    # the adjoint identity, in integers: <dY, conv(X, W)> = <dX, X> = <dW, W>
    total = int(np.vdot(dy, y))
    assert total == int(np.vdot(dx, x)) == int(np.vdot(dw, w))


def test_linear_gradients_are_the_gemms():
    rng = np.random.default_rng(7)
    x, w = rng.integers(-128, 128, (5, 12)), rng.integers(-128, 128, (6, 12))
    dy = rng.integers(-2**15, 2**15, (5, 6))
    np.testing.assert_array_equal(linear_dx_int(dy, w), dy @ w)
    np.testing.assert_array_equal(linear_dw_int(x, dy), dy.T @ x)
