"""Deployable quantizers (workloads/quantizers.py): the descriptor and its table layout, and the
integer requantization (requant_ref.requantize_affine) against its float definition, with the
corners (saturation, zero points at the extremes, shift 0, -128 * -128 products)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dlaforge.errors import SpecError
from dlaforge.workloads.methods.conv_ref import conv2d_int
from dlaforge.workloads.methods.requant_ref import (Requant, pad_input, random_requant,
                                                    requantize, requantize_affine,
                                                    requantize_float, zero_point_bias)
from dlaforge.workloads.quantizers import NAMES, Quantizer

ALL = [Quantizer.of(name, pow2) for name in NAMES for pow2 in (False, True)]


def test_names_parse_and_unknown_names_are_refused():
    for q in ALL:
        assert Quantizer.of(q.name.split("+")[0], q.pow2) == q
    assert Quantizer.of("per_channel_symmetric") == Quantizer()
    with pytest.raises(SpecError, match="unknown quantizer 'per_row'"):
        Quantizer.of("per_row")
    with pytest.raises(SpecError, match="`pow2` must be true or false, not 'no'"):
        Quantizer.of("per_channel_symmetric", "no")


def test_table_layout_per_quantizer():
    # (head bytes, bytes per channel): the scale part is multiplier (2, not under pow2),
    # shift, and z_y under asymmetric; asymmetric adds a 4-byte bias per channel
    want = {"per_tensor_symmetric": (3, 0), "per_tensor_symmetric+pow2": (1, 0),
            "per_channel_symmetric": (0, 3), "per_channel_symmetric+pow2": (0, 1),
            "per_tensor_asymmetric": (4, 4), "per_tensor_asymmetric+pow2": (2, 4),
            "per_channel_asymmetric": (0, 8), "per_channel_asymmetric+pow2": (0, 6)}
    for q in ALL:
        assert (q.head_pieces, q.channel_pieces) == want[q.name]
        assert q.table_bytes(10) == want[q.name][0] + 10 * want[q.name][1]
        assert q.stage_ops()["mult"] == (0 if q.pow2 else 1)


ACC = st.integers(-2**31, 2**31 - 1)
BIAS = st.one_of(st.integers(-2**31, 2**31 - 1), st.sampled_from([0, -2**31, 2**31 - 1]))
ZERO = st.one_of(st.integers(-128, 127), st.sampled_from([-128, 127, 0]))


@settings(max_examples=300, deadline=None)
@given(st.lists(ACC, min_size=1, max_size=6), st.integers(0, 2**16 - 1), st.integers(0, 63),
       BIAS, ZERO, st.sampled_from([8, 4]), st.booleans())
def test_affine_requantization_equals_float_definition(accs, m, s, bias, zero, bits, relu):
    zero = max(-(1 << (bits - 1)), min(zero, (1 << (bits - 1)) - 1))
    acc = np.array(accs, dtype=np.int64)[None, :]
    got = requantize_affine(acc, np.array([m]), np.array([s]), np.array([bias]), zero, bits,
                            relu)
    want = requantize_float(acc, [m], [s], bits, relu, bias=[bias], zero=zero)
    assert np.array_equal(got, want)
    # the default quantizer's stage is the affine one with b = z = 0
    assert np.array_equal(requantize(acc, np.array([m]), np.array([s]), bits, relu),
                          requantize_affine(acc, np.array([m]), np.array([s]), np.array([0]),
                                            0, bits, relu))


def test_corners():
    one, zero_bias = np.array([1]), np.array([0])
    extreme = np.array([[128 * 128 * 9, -128 * 127 * 9, 0, 1, -1, 2**31 - 1, -2**31]])
    # shift 0, multiplier 1, output zero point 127: everything but the most negative saturates
    got = requantize_affine(extreme, one, np.array([0]), zero_bias, 127, 8, False)
    assert got.tolist() == [[127, -128, 127, 127, 126, 127, -128]]
    # zero point -128 with ReLU: the floor is the zero point, not 0
    got = requantize_affine(extreme, one, np.array([0]), zero_bias, -128, 8, True)
    assert got.tolist() == [[127, -128, -128, -127, -128, 127, -128]]
    # a bias at the 32-bit extremes, scaled down by a pow2 shift of 24: round half up
    got = requantize_affine(np.array([[0, 2**23, -2**23]]), one, np.array([24]),
                            np.array([2**31 - 1]), 0, 8, False)
    assert got.tolist() == [[127, 127, 127]]
    assert requantize_float([[0]], [1], [24], 8, bias=[-2**31], zero=5).tolist() == [[-123]]


def float_conv(x, w, stride, padding, out_size):
    """The float definition of a convolution: x[N, C, H, W] (reals) zero-padded, windows of
    w[K, C, R, S] at `stride`, P x Q = `out_size` (windows may hang past the edge: zeros)."""
    N, C, H, W = x.shape
    K, _, R, S = w.shape
    P, Q = out_size
    rows, cols = (P - 1) * stride + R, (Q - 1) * stride + S
    xp = np.zeros((N, C, max(rows, H + 2 * padding), max(cols, W + 2 * padding)))
    xp[:, :, padding:padding + H, padding:padding + W] = x
    out = np.zeros((N, K, P, Q))
    for r in range(R):
        for s in range(S):
            win = xp[:, :, r:r + (P - 1) * stride + 1:stride, s:s + (Q - 1) * stride + 1:stride]
            out += np.einsum("nchw,kc->nkhw", win, w[:, :, r, s].astype(np.float64))
    return out


def test_zero_point_bias_folds_the_input_zero_point():
    """sum((x - z_x) * w) = acc + b on every output, the padded border included, when the
    padded taps hold x_q = z_x (real-zero padding, as the controller pads: `pad_input`); with
    stored-0 padding the border would be off by -z_x * sum(padded taps' w)."""
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (1, 3, 6, 6))
    w = rng.integers(-128, 128, (4, 3, 3, 3))
    for z in (-128, 127, 5):
        b = zero_point_bias(w.reshape(4, -1).sum(axis=1), z)
        centred = conv2d_int(x - z, w, 1, 0)
        assert np.array_equal(conv2d_int(x, w, 1, 0) + b[None, :, None, None], centred)
        for stride, padding, out in ((1, 1, (6, 6)), (2, 1, (3, 3)), (2, 2, (5, 5))):
            real = float_conv((x - z).astype(np.float64), w, stride, padding, out)
            rows, cols = (out[0] - 1) * stride + 3, (out[1] - 1) * stride + 3
            padded = conv2d_int(pad_input(x, padding, rows, cols, z), w, stride, 0,
                                out_size=out) + b[None, :, None, None]
            assert np.array_equal(padded, real)
            stored_zero = conv2d_int(x, w, stride, padding, out_size=out) + \
                b[None, :, None, None]
            assert not np.array_equal(stored_zero[:, :, 0, :], real[:, :, 0, :])


def test_pad_input_places_the_image():
    x = np.arange(6).reshape(1, 1, 2, 3)
    got = pad_input(x, 1, 5, 4, -7)     # 5 rows (one more at the bottom), at least 3 + 2 cols
    assert got.shape == (1, 1, 5, 5)
    assert got[0, 0, 1:3, 1:4].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert (got[0, 0, 0] == -7).all() and (got[0, 0, 3:] == -7).all()
    assert (got[0, 0, :, 0] == -7).all() and (got[0, 0, :, 4] == -7).all()


@pytest.mark.parametrize("q", ALL, ids=[q.name for q in ALL])
def test_random_requant_follows_the_quantizer(q):
    rng = np.random.default_rng(7)
    acc = rng.integers(-20000, 20000, (6, 50))
    bias = rng.integers(-5000, 5000, 6)
    rq = random_requant(acc, 8, rng, relu=True, quantizer=q, bias=bias)
    assert rq.quantizer == q
    if not q.per_channel:
        assert len(set(rq.multiplier.tolist())) == len(set(rq.shift.tolist())) == 1
    if q.pow2:
        assert (rq.multiplier == 1).all()
    assert (rq.bias == (0 if q.symmetric else bias)).all()
    out = rq.apply(acc, 8)
    assert np.array_equal(out, requantize_float(acc, rq.multiplier, rq.shift, 8, True,
                                                rq.bias, rq.zero))
    assert out.min() == rq.zero and len(np.unique(out)) > 20     # the ReLU floor, spread


def test_requant_refuses_parameters_its_quantizer_has_not():
    with pytest.raises(ValueError, match="no bias"):
        Requant(np.array([3]), np.array([2]), bias=np.array([1]))
    with pytest.raises(ValueError, match="no bias and no zero point"):
        Requant(np.array([3]), np.array([2]), in_zero=4)
    with pytest.raises(ValueError, match="shifts only"):
        Requant(np.array([3]), np.array([2]), quantizer=Quantizer("channel", True, True))
    with pytest.raises(ValueError, match="one multiplier"):
        Requant(np.array([3, 4]), np.array([2, 2]), quantizer=Quantizer("tensor"))
