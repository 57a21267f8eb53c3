"""Winograd F(4x4,3x3) and F(2x2,3x3): exact against direct convolution; the quantized integer
pipeline bit-exact against its float definition and within its stated error bound."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dlaforge.workloads.methods.winograd import reference as wr
from dlaforge.workloads.methods.conv_ref import conv2d_int

VARIANTS = [wr.F4, wr.F2]


@st.composite
def case(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    C, K = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    H, W = draw(st.integers(3, 13)), draw(st.integers(3, 13))
    padding = draw(st.integers(0, 2))
    x = rng.integers(-128, 128, (draw(st.integers(1, 2)), C, H, W))
    w = rng.integers(-128, 128, (K, C, 3, 3))
    return x, w, padding


def test_matrices_satisfy_the_minimal_filtering_identity():
    # 1-D check: Aᵀ[(G g) ⊙ (Bᵀ d)] equals the correlation of d with g, for unit vectors
    for v in VARIANTS:
        for i in range(v.a):
            for j in range(3):
                d, g = np.eye(v.a)[i], np.eye(3)[j]
                y = v.at @ ((v.g_scaled @ g) * (v.bt @ d)) / v.g_scale
                direct = [sum(d[t + r] * g[r] for r in range(3)) for t in range(v.m)]
                assert np.allclose(y, direct)


@pytest.mark.parametrize("v", VARIANTS, ids=lambda v: v.name)
@settings(max_examples=15, deadline=None)
@given(c=case())
def test_exact_pipeline_equals_direct_convolution(v, c):
    x, w, padding = c
    assert np.array_equal(wr.conv_exact(x, w, padding, v), conv2d_int(x, w, 1, padding))


@pytest.mark.parametrize("v", VARIANTS, ids=lambda v: v.name)
@pytest.mark.parametrize("tapwise", [True, False])
@settings(max_examples=10, deadline=None)
@given(c=case())
def test_quantized_pipeline_is_bit_exact_and_bounded(v, tapwise, c):
    x, w, padding = c
    qw = wr.quantize_weights(w, v, tapwise)
    shifts = wr.calibrate_input(x, padding, v, tapwise)
    out = wr.conv_quant(x, qw, shifts, padding, v)
    real = out.y * 2.0**out.exp
    assert np.array_equal(real, wr.conv_quant_float(x, qw, shifts, padding, v))
    exact = conv2d_int(x, w, 1, padding)
    assert (np.abs(real - exact) <= wr.error_bound(x, w, qw, shifts, padding, v) * (1 + 1e-12)).all()
    # the channel accumulators fit the int32 the hardware uses: |u|,|v| <= 127 over C channels
    assert 127 * 127 * x.shape[1] < 2**31


def test_a_tap_with_no_weight_keeps_the_alignment_small():
    # a centre-only kernel has G g Gᵀ zero on F4's first and last tap rows; such a tap's
    # exponent must not become the float minimum (it once drove the alignment shift past int64)
    x = np.random.default_rng(5).integers(-128, 128, (1, 1, 7, 11))
    w = np.zeros((1, 1, 3, 3), np.int64)
    w[0, 0, 1, 1] = 100
    qw = wr.quantize_weights(w, wr.F4, tapwise=True)
    assert (qw.u[0, 0, 0] == 0).all() and np.abs(qw.u_exp).max() < 2**7
    shifts = wr.calibrate_input(x, 0, wr.F4, tapwise=True)
    out = wr.conv_quant(x, qw, shifts, 0, wr.F4)
    assert np.array_equal(out.y * 2.0**out.exp, wr.conv_quant_float(x, qw, shifts, 0, wr.F4))
    error = np.abs(out.y * 2.0**out.exp - conv2d_int(x, w))
    assert (error <= wr.error_bound(x, w, qw, shifts, 0, wr.F4)).all()


def test_tapwise_scales_beat_a_per_tensor_scale_on_f4():
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (1, 16, 16, 16))
    w = np.clip(np.round(rng.normal(0, 30, (8, 16, 3, 3))), -127, 127).astype(np.int64)
    exact = conv2d_int(x, w, 1, 1)
    errors = {}
    for tapwise in (True, False):
        qw = wr.quantize_weights(w, wr.F4, tapwise)
        out = wr.conv_quant(x, qw, wr.calibrate_input(x, 1, wr.F4, tapwise), 1, wr.F4)
        errors[tapwise] = np.linalg.norm(out.y * 2.0**out.exp - exact) / np.linalg.norm(exact)
    assert errors[True] < errors[False] / 2


def test_calibrated_input_taps_fit_eight_bits():
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (1, 3, 10, 10))
    for v in VARIANTS:
        shifts = wr.calibrate_input(x, 1, v, tapwise=True)
        vt = wr.input_transform_float(wr.pad_input(x, 1, 10, 10, v.m), v, 10, 10)
        assert np.abs(vt / 2.0**shifts).max() <= 127
        # F4's input gain is at most 100 (REFERENCES.md): int8 needs at most 15 bits
        assert np.abs(vt).max() <= 128 * (100 if v is wr.F4 else 4)


def test_requantize_rounds_and_clamps():
    out = wr.QuantOutput(np.array([[-1000, -3, 2, 6, 1000]], np.int64), exp=-2)
    assert wr.requantize(out, 0, bits=4).tolist() == [[-7, -1, 1, 2, 7]]


@pytest.mark.parametrize("v", VARIANTS, ids=lambda v: v.name)
@pytest.mark.parametrize("scale", [1, 2**12, 2**40], ids=["float32", "float64", "int64"])
def test_tile_passes_equal_the_tile_loops(v, scale):
    # winograd_tiles' GEMMs run in float32, float64 or (too large for either) the int64 tile
    # loops; every path equals the loops bit for bit
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, (2, 5, 9, 11))
    u = rng.integers(-127, 128, (3, 5, v.a, v.a)) * scale
    shift = rng.integers(-1, 4, (v.a, v.a))
    align = rng.integers(0, 4, (v.a, v.a))
    P, Q = 9, 11
    xpad = wr.pad_input(x, 1, P, Q, v.m)
    args = (xpad, u, shift, np.int64(127 * 16), align, v.bt, v.at, v.m, P, Q)
    assert np.array_equal(wr.winograd_tiles(*args), wr._winograd_tiles(*args))
