"""The requantization reference (numba) against its float definition."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dlaforge.workloads.methods.requant_ref import (Requant, random_requant, requantize,
                                                    requantize_float)

ACC32 = st.integers(-2**31, 2**31 - 1)
EXTREMES = st.sampled_from([-2**31, 2**31 - 1, 0, 1, -1, 128 * 128, 128 * 128 * 9 * 64,
                            -128 * 127 * 9 * 64])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(ACC32, EXTREMES), min_size=1, max_size=8),
       st.integers(0, 2**16 - 1), st.integers(0, 63), st.sampled_from([8, 4, 2, 16]),
       st.booleans())
def test_integer_requantization_equals_float_definition(accs, multiplier, shift, bits, relu):
    acc = np.array(accs, dtype=np.int64)[None, :]
    got = requantize(acc, np.array([multiplier]), np.array([shift]), bits, relu)
    assert np.array_equal(got, requantize_float(acc, [multiplier], [shift], bits, relu))


def test_corners_round_half_up_saturate_both_ways_and_shift_zero():
    acc = np.array([[3, -3, 5, -5, 2**31 - 1, -2**31, 100, -100, 16384, -16384]])
    one = np.array([1])
    # shift 1, multiplier 1: halves round up (3/2 -> 2, -3/2 -> -1, 5/2 -> 3, -5/2 -> -2)
    assert requantize(acc, one, one, 8, False)[0, :4].tolist() == [2, -1, 3, -2]
    # saturation both ways at int8, and ReLU after the clamp
    assert requantize(acc, one, one, 8, False)[0, 4:].tolist() == [127, -128, 50, -50, 127, -128]
    assert requantize(acc, one, one, 8, True)[0, 4:].tolist() == [127, 0, 50, 0, 127, 0]
    # shift 0: the product itself, clamped
    assert requantize(acc[:, :4], np.array([7]), np.array([0]), 8, False).tolist() == [[21, -21, 35, -35]]
    # -128 x -128 summed over 9 taps of 2 channels: 294912, scaled by 2**-12 -> 72
    assert requantize(np.array([[294912]]), one, np.array([12]), 8, False).tolist() == [[72]]


def test_per_channel_parameters():
    acc = np.array([[1000, -1000], [1000, -1000]])
    got = Requant(np.array([1, 3]), np.array([4, 5])).apply(acc, 8)
    assert got.tolist() == [[63, -62], [94, -94]]


def test_random_scales_spread_over_the_range_with_saturation_both_ways():
    rng = np.random.default_rng(0)
    acc = rng.integers(-20000, 20000, (16, 50))
    rq = random_requant(acc, 8, rng)
    out = rq.apply(acc, 8)
    assert (rq.multiplier >= 2**15).all() and (rq.multiplier < 2**16).all()
    assert (out == 127).any() and (out == -128).any() and len(np.unique(out)) > 100


@pytest.mark.parametrize("multiplier,shift", [([1 << 16], [0]), ([1], [64]), ([1, 2], [0])])
def test_parameters_out_of_range_are_refused(multiplier, shift):
    with pytest.raises(ValueError):
        Requant(np.array(multiplier), np.array(shift))
