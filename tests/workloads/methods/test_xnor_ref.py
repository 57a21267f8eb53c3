"""XNOR-Net: the packed popcount dot product equals the float sign convolution with zero padding;
the scaled layer matches its float definition."""

import numpy as np
from hypothesis import given, settings, strategies as st

from dlaforge.workloads.methods.xnor import reference as xr
from dlaforge.workloads.methods.conv_ref import conv2d_float


@st.composite
def case(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    C = draw(st.sampled_from([1, 3, 63, 64, 65, 130]))
    R = draw(st.sampled_from([1, 3, 5]))
    stride, padding = draw(st.integers(1, 2)), draw(st.integers(0, R // 2 + 1))
    H = draw(st.integers(max(1, R - 2 * padding), 8))
    x = rng.normal(size=(draw(st.integers(1, 2)), C, H, draw(st.integers(max(1, R - 2 * padding), 8))))
    x[rng.random(x.shape) < 0.1] = 0.0      # exact zeros inside the image are +1
    w = rng.normal(size=(draw(st.integers(1, 4)), C, R, R))
    return x, w, stride, padding


@settings(max_examples=30, deadline=None)
@given(case())
def test_popcount_dot_equals_float_sign_convolution(c):
    x, w, stride, padding = c
    dot = xr.xnor_dot(xr.pack_signs(x), xr.pack_signs(w), x.shape[1], stride, padding)
    assert np.array_equal(dot, conv2d_float(xr.signs(x), xr.signs(w), stride, padding))


@settings(max_examples=20, deadline=None)
@given(case())
def test_xnor_layer_matches_float_definition(c):
    x, w, stride, padding = c
    np.testing.assert_allclose(xr.xnor_conv(x, w, stride, padding),
                               xr.xnor_conv_float(x, w, stride, padding), rtol=1e-12, atol=1e-12)


def test_padding_bits_count_as_zero_not_minus_one():
    x, w = -np.ones((1, 2, 1, 1)), -np.ones((1, 2, 3, 3))
    # one in-image pixel: 2 channels agree (+2); the 8 padded taps contribute nothing
    assert xr.xnor_dot(xr.pack_signs(x), xr.pack_signs(w), 2, 1, 1).item() == 2


def test_packing_layout_and_popcount():
    x = np.full((1, 70, 1, 1), -1.0)
    x[0, [0, 5, 64, 69]] = 1.0
    words = xr.pack_signs(x)[0, 0, 0]
    assert words.dtype == np.uint64 and words.tolist() == [(1 << 0) | (1 << 5), (1 << 0) | (1 << 5)]
    for v in (0, 1, 2**64 - 1, 0xF0F0, 2**63):
        assert xr.popcount64(np.uint64(v)) == bin(v).count("1")


def test_alpha_and_binary_weight_layer():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 4, 3, 3))
    assert np.allclose(xr.alpha(w), np.abs(w).sum(axis=(1, 2, 3)) / 36)
    x = rng.integers(-128, 128, (1, 4, 6, 6))
    dot, a = xr.bwn_conv(x, w, 1, 1)
    assert np.array_equal(dot, conv2d_float(x, np.sign(w), 1, 1))
    assert a.shape == (3,)
