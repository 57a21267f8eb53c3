"""The direct integer convolution against its float definition, and the fixed-point helpers."""

import numpy as np
from hypothesis import given, settings, strategies as st

from dlaforge.workloads.methods import conv_ref
from dlaforge.workloads.methods.conv_ref import (conv2d_float, conv2d_int, pow2_exponent,
                                                  round_shift, round_shift_float)


@st.composite
def conv_case(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cg, kg = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    R = draw(st.sampled_from([1, 2, 3, 5]))
    stride, padding = draw(st.integers(1, 3)), draw(st.integers(0, R))
    H = draw(st.integers(max(1, R - 2 * padding), 9))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (draw(st.integers(1, 2)), cg * groups, H, H + 1))
    w = rng.integers(-128, 128, (kg * groups, cg, R, R))
    out_size = None
    if draw(st.booleans()):         # rounded up: the last window may hang past the edge
        out_size = tuple(-(-(n + 2 * padding - R) // stride) + 1 for n in x.shape[2:])
    return x, w, stride, padding, groups, out_size


@settings(max_examples=40, deadline=None)
@given(conv_case())
def test_integer_conv_equals_float_definition(case):
    x, w, stride, padding, groups, out_size = case
    assert np.array_equal(conv2d_int(x, w, stride, padding, groups, out_size=out_size),
                          conv2d_float(x, w, stride, padding, groups, out_size=out_size))


@settings(max_examples=40, deadline=None)
@given(conv_case())
def test_blas_path_equals_the_direct_loops(case):
    """int8 operands take the float64 GEMM path; the integer loops give the same sums."""
    x, w, stride, padding, groups, out_size = case
    P, Q = conv_ref.output_size(x, w, stride, padding, out_size)
    cmap = np.arange(x.shape[1])
    x, w = x.astype(np.int64), w.astype(np.int64)
    assert conv_ref._float_exact(x, w)
    assert np.array_equal(conv_ref._conv2d_blas(x, w, stride, padding, groups, cmap, P, Q),
                          conv_ref._conv2d(x, w, stride, padding, groups, cmap, P, Q))


def test_operands_too_wide_for_float64_take_the_integer_loops():
    """Sums past 2**53 would round in float64: those stay exact on the integer path."""
    x = np.full((1, 2, 3, 3), 2**40 + 1, dtype=np.int64)
    w = np.full((1, 2, 3, 3), 2**12 + 1, dtype=np.int64)
    exact = 18 * (2**40 + 1) * (2**12 + 1)
    assert not conv_ref._float_exact(x, w)
    assert conv2d_int(x, w)[0, 0, 0, 0] == exact
    cmap = np.arange(2)
    assert conv_ref._conv2d_blas(x, w, 1, 0, 1, cmap, 1, 1)[0, 0, 0, 0] != exact


def test_windows_hanging_past_the_edge_read_zeros():
    """SCALE-Sim's rounded-up output size: 12x12, 3x3, stride 2 has 6x6 outputs, the last row
    and column of windows reading one row/column of zeros past the edge."""
    rng = np.random.default_rng(3)
    x, w = rng.integers(-128, 128, (1, 4, 12, 12)), rng.integers(-128, 128, (6, 4, 3, 3))
    out = conv2d_int(x, w, 2, out_size=(6, 6))
    assert out.shape == (1, 6, 6, 6)
    padded = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)))
    assert np.array_equal(out, conv2d_int(padded, w, 2))
    assert np.array_equal(out[:, :, :5, :5], conv2d_int(x, w, 2))


def test_channel_map_reads_the_remapped_channel():
    rng = np.random.default_rng(1)
    x, w = rng.integers(-5, 5, (1, 4, 5, 5)), rng.integers(-5, 5, (2, 4, 3, 3))
    cmap = np.array([2, 3, 0, 1])
    assert np.array_equal(conv2d_int(x, w, cmap=cmap), conv2d_int(x[:, cmap], w))


@settings(max_examples=200, deadline=None)
@given(st.integers(-2**40, 2**40), st.integers(-4, 20))
def test_round_shift_is_round_half_up(v, shift):
    assert round_shift(v, shift) == round_shift_float(v, shift)


@settings(max_examples=100, deadline=None)
@given(st.floats(1e-6, 1e9), st.sampled_from([1, 7, 127, 32767]))
def test_pow2_exponent_is_the_smallest_that_fits(peak, qmax):
    e = int(pow2_exponent(peak, qmax))
    assert peak / 2.0**e <= qmax < peak / 2.0**(e - 1)


def test_pow2_exponent_of_an_all_zero_range_is_zero():
    assert pow2_exponent(np.array([0.0, 1000.0]), 127).tolist() == [0, 3]
