"""Binary-weight networks: the packed sign-add kernel equals the float convolution with the
weights' signs (random and corner data), and the scaled layer matches its float definition."""

import numpy as np
from hypothesis import given, settings, strategies as st

from dlaforge.workloads.methods.bwn import reference as bwn
from dlaforge.workloads.methods.conv_ref import conv2d_float
from dlaforge.workloads.methods.xnor import reference as xr


@st.composite
def case(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    groups = draw(st.sampled_from([1, 1, 2]))
    C = groups * draw(st.sampled_from([1, 3, 63, 64, 65]))
    R, S = draw(st.sampled_from([1, 3, 5])), draw(st.sampled_from([1, 3]))
    stride, padding = draw(st.integers(1, 2)), draw(st.integers(0, 2))
    H = draw(st.integers(max(1, R - 2 * padding), 7))
    W = draw(st.integers(max(1, S - 2 * padding), 9))
    x = rng.integers(-128, 128, (draw(st.integers(1, 2)), C, H, W))
    w = rng.normal(size=(groups * draw(st.integers(1, 3)), C // groups, R, S))
    w[rng.random(w.shape) < 0.1] = 0.0          # sign(0) = +1
    return x, w, stride, padding, groups


@settings(max_examples=40, deadline=None)
@given(case())
def test_sign_add_kernel_equals_the_float_sign_convolution(c):
    x, w, stride, padding, groups = c
    got = bwn.bwn_conv_int(x, xr.pack_signs(w), stride, padding, groups)
    assert got.dtype == np.int64
    assert np.array_equal(got, conv2d_float(x, xr.signs(w), stride, padding, groups))


@settings(max_examples=20, deadline=None)
@given(case())
def test_bwn_layer_matches_its_float_definition(c):
    x, w, stride, padding, groups = c
    np.testing.assert_allclose(bwn.bwn_conv(x, w, stride, padding, groups),
                               bwn.bwn_conv_float(x, w, stride, padding, groups),
                               rtol=1e-12, atol=1e-9)


def _in_image_taps(H, W, R, S, padding):
    """Taps of each stride-1 output window that fall inside the H x W image."""
    rows = [min(H, p - padding + R) - max(0, p - padding) for p in range(H + 2 * padding - R + 1)]
    cols = [min(W, q - padding + S) - max(0, q - padding) for q in range(W + 2 * padding - S + 1)]
    return np.outer(rows, cols)


def test_corners_min_activations_all_plus_and_all_minus_filters_zero_padding():
    """-128 everywhere against all-+1 and all--1 filters on an odd, non-square padded image:
    each output is ∓128 x channels x its in-image taps (padded taps add nothing)."""
    C, H, W, R, S, padding = 65, 5, 7, 3, 3, 1
    x = np.full((1, C, H, W), -128)
    taps = _in_image_taps(H, W, R, S, padding)
    for sign in (1, -1):
        w = np.full((2, C, R, S), 0.5 * sign)
        got = bwn.bwn_conv_int(x, xr.pack_signs(w), 1, padding)
        assert np.array_equal(got[0, 0], -128 * sign * C * taps)
        assert np.array_equal(got[0, 1], got[0, 0])
    assert taps[0, 0] == 4 and taps[2, 3] == 9          # a corner and an inner window


def test_the_kernel_agrees_with_xnor_nets_own_bwn_definition():
    rng = np.random.default_rng(5)
    x, w = rng.integers(-128, 128, (1, 70, 6, 5)), rng.normal(size=(4, 70, 3, 3))
    acc, a = xr.bwn_conv(x, w, 2, 1)
    assert np.array_equal(bwn.bwn_conv_int(x, xr.pack_signs(w), 2, 1), acc)
    np.testing.assert_allclose(bwn.bwn_conv(x, w, 2, 1), acc * a[None, :, None, None])
