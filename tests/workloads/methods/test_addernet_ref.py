"""AdderNet references (workloads/methods/addernet/reference.py): the bit-exact numba kernel
against the numpy float definition -Σ|x - w| over zero-padded windows (padded taps count
|0 - w|), at the int8 extremes, with strides, groups and padding; and the quantized layer of
the seed (a scale shared by weights and activations per group of output channels) against the
float layer."""

import numpy as np
import pytest

from dlaforge.workloads.methods.addernet.reference import (adder_conv_float, adder_conv_int,
                                                           adder_conv_quantized, scale_groups)


@pytest.mark.parametrize("stride, padding, groups", [(1, 0, 1), (1, 1, 1), (2, 1, 1),
                                                     (3, 2, 1), (1, 1, 2), (2, 0, 4)])
def test_kernel_is_the_float_definition(stride, padding, groups):
    rng = np.random.default_rng(stride * 10 + padding + 100 * groups)
    x = rng.integers(-128, 128, (2, 8, 7, 6))
    w = rng.integers(-128, 128, (8, 8 // groups, 3, 3))
    got = adder_conv_int(x, w, stride, padding, groups)
    want = adder_conv_float(x, w, stride, padding, groups)
    assert got.dtype == np.int64 and np.array_equal(got, want.astype(np.int64))


@pytest.mark.parametrize("xv, wv", [(-128, 127), (127, -128), (-128, -128), (127, 127)])
def test_int8_extremes(xv, wv):
    x = np.full((1, 5, 4, 4), xv)
    w = np.full((2, 5, 3, 3), wv)
    got = adder_conv_int(x, w, 1, 1)
    assert np.array_equal(got, adder_conv_float(x, w, 1, 1).astype(np.int64))
    # the centre output sees 9 in-image taps per channel, a corner 4 (and 5 padded zeros)
    assert got[0, 0, 1, 1] == -5 * 9 * abs(xv - wv)
    assert got[0, 0, 0, 0] == -5 * (4 * abs(xv - wv) + 5 * abs(wv))


def test_padded_taps_count_the_weights_magnitude():
    """The chosen padding semantics: a padded zero is an input of 0, so it adds -|0 - w|."""
    x = np.zeros((1, 1, 1, 1), np.int64)
    x[0, 0, 0, 0] = 7
    w = np.arange(-4, 5).reshape(1, 1, 3, 3)           # centre weight 0
    got = adder_conv_int(x, w, 1, 1)
    assert got.shape == (1, 1, 1, 1)
    assert got[0, 0, 0, 0] == -(7 + (np.abs(w).sum() - 0))


def test_scale_groups_cluster_filters_by_range():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(8, 4, 3, 3)) * np.repeat([0.1, 1.0], 4)[:, None, None, None]
    group_of, scales = scale_groups(w, 2, 8)
    assert set(group_of[:4]) == {0} and set(group_of[4:]) == {1}
    assert scales[0] < scales[1] / 3
    assert np.isclose(scales[1], np.abs(w[4:]).max() / 127)


@pytest.mark.parametrize("bits, tolerance", [(8, 0.01), (4, 0.12)])
def test_quantized_layer_approximates_the_float_layer(bits, tolerance):
    rng = np.random.default_rng(bits)
    w = rng.normal(size=(8, 6, 3, 3)) * np.repeat([0.3, 1.0], 4)[:, None, None, None]
    x = rng.normal(size=(1, 6, 6, 6)) * 0.3
    real = adder_conv_float(x, w, 1, 1)
    quant = adder_conv_quantized(x, w, bits, 4, 1, 1)
    assert np.abs(quant - real).max() < tolerance * np.abs(real).max()
