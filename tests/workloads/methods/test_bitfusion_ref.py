"""The Bit Fusion references (workloads/methods/bitfusion/reference.py): the brick-by-brick
fused MAC against the plain Σ a·w of its lanes, packing, and the layer on packed words against
the float convolution."""

import itertools

import numpy as np
import pytest

from dlaforge.workloads.methods.bitfusion.plan import WIDTHS, lanes, word_bits
from dlaforge.workloads.methods.bitfusion.reference import (bitfusion_conv_int, fused_dot_float,
                                                            fused_mac_int, pack_lanes,
                                                            unpack_lanes)
from dlaforge.workloads.methods.conv_ref import conv2d_float

PRECISIONS = list(itertools.product(WIDTHS, WIDTHS))


def codes(rng, bits, shape):
    return rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), shape)


def word(values, bits, n):
    """One fused word of the codes `values` (n lanes)."""
    return int(pack_lanes(np.asarray(values)[:, None], bits, n)[0, 0])


@pytest.mark.parametrize("a_bits, w_bits", PRECISIONS)
def test_fused_mac_is_the_dot_product_of_its_lanes(a_bits, w_bits):
    rng = np.random.default_rng(a_bits * 10 + w_bits)
    n = lanes(a_bits, w_bits)
    lo_a, lo_w = -(1 << (a_bits - 1)), -(1 << (w_bits - 1))
    cases = [codes(rng, bits, (200, n)) for bits in (a_bits, w_bits)]
    corners = [(np.full(n, lo_a), np.full(n, lo_w)),              # -128·-128, -8·-8, -2·-2
               (np.full(n, lo_a), np.full(n, -lo_w - 1)), (np.zeros(n), np.full(n, lo_w))]
    for a, w in list(zip(*cases)) + corners:
        got = fused_mac_int(word(a, a_bits, n), word(w, w_bits, n), a_bits, w_bits, n)
        assert got == fused_dot_float(a, w)
    assert fused_mac_int(word(np.full(n, lo_a), a_bits, n), word(np.full(n, lo_w), w_bits, n),
                         a_bits, w_bits, n) == n * lo_a * lo_w


@pytest.mark.parametrize("a_bits, w_bits", PRECISIONS)
def test_packed_words_have_the_fused_widths_and_unpack(a_bits, w_bits):
    rng = np.random.default_rng(0)
    n = lanes(a_bits, w_bits)
    x = codes(rng, a_bits, (2 * n + 1, 3, 2))
    words = pack_lanes(x, a_bits, n)
    width = word_bits(a_bits, w_bits)[0]
    assert words.shape == (3, 3, 2)
    assert words.min() >= -(1 << (width - 1)) and words.max() < 1 << (width - 1)
    back = unpack_lanes(words, a_bits, n)
    assert np.array_equal(back[:2 * n + 1], x) and not back[2 * n + 1:].any()


@pytest.mark.parametrize("a_bits, w_bits, groups, stride, padding",
                         [(8, 8, 1, 1, 1), (4, 4, 2, 2, 1), (2, 2, 1, 1, 0), (8, 2, 1, 2, 2),
                          (4, 8, 3, 1, 1), (2, 4, 1, 3, 1)])
def test_layer_on_packed_words_is_the_convolution(a_bits, w_bits, groups, stride, padding):
    rng = np.random.default_rng(groups + stride)
    C, K = 21 * groups, 4 * groups
    x, w = codes(rng, a_bits, (2, C, 7, 6)), codes(rng, w_bits, (K, C // groups, 3, 3))
    got = bitfusion_conv_int(x, w, a_bits, w_bits, stride, padding, groups)
    assert np.array_equal(got, conv2d_float(x, w, stride, padding, groups))
