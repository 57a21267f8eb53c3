"""IR-Net / DIR-Net: the packed popcount layer shifted per filter equals its float definition
(random and corner data), the weights are balanced before the sign, the scales are powers of
two."""

import numpy as np
from hypothesis import given, settings, strategies as st

from dlaforge.workloads.methods.dirnet import reference as dr
from dlaforge.workloads.methods.xnor import reference as xr


@st.composite
def case(draw):
    """int8 activations (some -128) on odd, non-square images and kernels, heavy- to
    light-tailed filters, zero padding, and the output's fraction bits."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    C = draw(st.sampled_from([1, 3, 64, 65, 130]))
    R, S = draw(st.sampled_from([(1, 1), (3, 3), (3, 1), (5, 3)]))
    stride, padding = draw(st.integers(1, 2)), draw(st.integers(0, 2))
    shape = (draw(st.integers(1, 2)), C, draw(st.integers(max(1, R - 2 * padding), 7)),
             draw(st.integers(max(1, S - 2 * padding), 9)))
    x = np.where(rng.random(shape) < 0.2, -128, rng.integers(-128, 128, shape))
    w = rng.standard_t(draw(st.sampled_from([1, 3, 30])), size=(draw(st.integers(1, 4)), C, R, S))
    return x, w, stride, padding, draw(st.integers(0, 6))


@settings(max_examples=40, deadline=None)
@given(case())
def test_shifted_popcount_layer_equals_its_float_definition(c):
    x, w, stride, padding, frac_bits = c
    got = dr.dirnet_conv_int(x, w, stride, padding, frac_bits)
    assert got.dtype == np.int64
    assert np.array_equal(got, dr.dirnet_conv_float(x, w, stride, padding, frac_bits))


def test_weights_are_balanced_before_the_sign():
    """A filter of positive weights has mixed signs once mean-centred, whereas XNOR-Net's sign
    of the raw weights is all +1; standardizing does not change a sign."""
    w = np.arange(1.0, 19.0).reshape(2, 1, 3, 3)
    b = dr.balanced(w)
    assert np.allclose(b.reshape(2, -1).mean(axis=1), 0)
    assert np.allclose(b.reshape(2, -1).std(axis=1), 1)
    assert (xr.signs(w) == 1).all() and set(xr.signs(b).ravel()) == {-1, 1}
    centred = w - w.reshape(2, -1).mean(axis=1)[:, None, None, None]
    assert np.array_equal(xr.signs(b), xr.signs(centred))


def test_scales_are_powers_of_two_of_the_standardized_l1_mean():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(3, 8, 3, 3)) * np.array([1.0, 10.0, 0.1])[:, None, None, None]
    w[2, 0] = 40.0                                   # a heavy tail lowers mean |ŵ| / std
    mean = np.abs(dr.balanced(w)).reshape(3, -1).mean(axis=1)
    assert np.array_equal(dr.exponents(w), np.rint(np.log2(mean)))
    assert dr.exponents(w)[0] == dr.exponents(w)[1] == 0     # scale-free: standardized
    assert dr.exponents(w)[2] < 0
    assert dr.exponents(np.ones((1, 4, 3, 3)))[0] == -(1 << (dr.EXPONENT_BITS - 1))


def test_corners_min_activations_all_equal_signs_zero_padding_right_shift():
    """-128 activations (sign -1) against a filter whose balanced signs are all -1 except one
    tap: on an odd, non-square padded image each output is (agreeing - disagreeing) in-image
    bits, and a negative exponent floors."""
    C, H, W = 3, 3, 5
    x = np.full((1, C, H, W), -128)
    w = np.full((1, C, 3, 3), -1.0)
    w[0, 0, 1, 1] = 50.0                              # the centre tap of channel 0: +1
    assert dr.exponents(w)[0] == -1
    dot = xr.xnor_dot(xr.pack_signs(x), xr.pack_signs(dr.balanced(w)), C, 1, 1)
    rows, cols = np.array([2, 3, 2]), np.array([2, 3, 3, 3, 2])
    assert np.array_equal(dot[0, 0], C * np.outer(rows, cols) - 2)   # the centre disagrees
    got = dr.dirnet_conv_int(x, w, 1, 1, frac_bits=0)
    assert np.array_equal(got[0, 0], np.floor_divide(dot[0, 0], 2))
    assert np.array_equal(got, dr.dirnet_conv_float(x, w, 1, 1))
