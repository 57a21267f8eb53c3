"""PalQuant: the grouped 2-bit integer form equals the float grouped convolution; shuffle as an
address remap; a 4-bit layer as bit-sliced 2-bit passes equals the direct convolution."""

import numpy as np
from hypothesis import given, settings, strategies as st

from dlaforge.workloads.methods.palquant import reference as pq
from dlaforge.workloads.methods.conv_ref import conv2d_int


@st.composite
def case(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    G, C, K = draw(st.sampled_from([2, 3, 4])), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    R = draw(st.sampled_from([1, 3]))
    stride, padding = draw(st.integers(1, 2)), draw(st.integers(0, 1))
    H = draw(st.integers(max(1, R - 2 * padding), 8))
    qa = rng.integers(0, 4, (draw(st.integers(1, 2)), G * C, H, H))
    qw = rng.integers(0, 4, (G * K, C, R, R))
    return qa, qw, G, stride, padding, draw(st.integers(0, 3))


@settings(max_examples=30, deadline=None)
@given(case())
def test_integer_form_equals_float_grouped_conv(c):
    qa, qw, G, stride, padding, shift = c
    t = pq.palquant_conv(qa, qw, G, stride, padding, shift)
    f = pq.palquant_conv_float(qa, qw, G, stride, padding, shift)
    assert np.abs(9 * f - t).max() < 1e-9      # exact up to the float rounding of thirds
    assert np.array_equal(t, np.round(9 * f).astype(np.int64))


def test_quantizers_give_the_four_levels():
    w = np.array([-5.0, -1.0, -0.4, 0.0, 0.4, 1.0, 5.0])
    assert pq.weight_codes(w, 1.0).tolist() == [0, 0, 1, 2, 2, 3, 3]
    assert (2 * pq.weight_codes(w, 1.0) / 3 - 1).tolist()[1] == -1.0
    assert pq.act_codes(np.array([-1.0, 0.1, 0.2, 0.5, 0.9, 3.0]), 1.0).tolist() == [0, 0, 1, 2, 3, 3]


def test_shuffle_remaps_group_addresses():
    assert pq.shuffle_map(3, 2, 1).tolist() == [2, 3, 4, 5, 0, 1]
    rng = np.random.default_rng(0)
    qa, qw = rng.integers(0, 4, (1, 4, 5, 5)), rng.integers(0, 4, (4, 2, 3, 3))
    rolled = np.concatenate([qa[:, 2:], qa[:, :2]], axis=1)
    assert np.array_equal(pq.palquant_conv(qa, qw, 2, shift=1), pq.palquant_conv(rolled, qw, 2))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([3, 4, 8]), st.integers(1, 2), st.integers(0, 1))
def test_bitsliced_passes_equal_direct_conv(seed, bits, stride, padding):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**bits, (1, 3, 7, 7))
    w = rng.integers(0, 2**bits, (2, 3, 3, 3))
    assert len(pq.slices(w, bits)) == -(-bits // 2)
    assert np.array_equal(pq.bitsliced_conv(a, w, bits, stride, padding),
                          conv2d_int(a, w, stride, padding))
