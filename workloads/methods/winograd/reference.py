"""Winograd F(4x4,3x3) and F(2x2,3x3): Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A (REFERENCES.md §3).

The hardware pipeline (`winograd_tiles`, all integer):
1. input transform V = Bᵀ d B of each (m+2)x(m+2) input tile, exact (Bᵀ has small integers);
2. per-tap quantization of V: a rounding right shift by the tap's `v_shift` and a clamp to
   ±`v_max` (power-of-two scales, so the rescale is a shift);
3. element-wise products with the pre-transformed, pre-quantized weights U, accumulated over
   input channels (int32 in hardware; the accumulators are int64 here and tests check the range);
4. a left shift per tap to a common exponent (the alignment of the tap-wise scales);
5. output transform Y = Aᵀ M A, exact; requantization is `requantize` on the result.

The weight transform is offline: G has fractions, so it is done exactly on integers with the
scaled matrix (24·G for F4, 2·G for F2) and quantized per tap in numpy.

With no quantization (shifts 0, no clamp, U = (cG) g (cG)ᵀ) the pipeline gives c²·Y exactly,
which the tests compare with the direct integer convolution.

`winograd_tiles` runs it in three numba passes: the input transforms of all tiles, one GEMM per
tap over all tiles, U_tap[K, C] · V_tap[C, tiles] (in float32 or float64, vectorised, when
`_float_exact_bound` proves every product and partial sum an integer the float holds exactly,
else the tile loops `_winograd_tiles` in int64), and the output transforms of all tiles. Every
path gives the same int64 result. (Single-threaded on purpose: a threaded BLAS for these small
GEMMs ran up to 10x slower on a loaded machine.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..conv_ref import pow2_exponent, round_shift, round_shift_float
from .variants import F2, F4, VARIANTS, Variant, tiles  # noqa: F401  (re-exported)


def pad_input(x, padding: int, P: int, Q: int, m: int) -> np.ndarray:
    """Zero-pad x[N, C, H, W] by `padding` and on the far side so every tile is whole."""
    tp, tq = tiles(P, Q, m)
    N, C, H, W = x.shape
    out = np.zeros((N, C, tp * m + 2, tq * m + 2), dtype=np.int64)
    h, w = min(H, tp * m + 2 - padding), min(W, tq * m + 2 - padding)
    out[:, :, padding:padding + h, padding:padding + w] = x[:, :, :h, :w]
    return out


def input_transform_float(xpad, v: Variant, P: int, Q: int) -> np.ndarray:
    """V[n, c, i, j, tap_r, tap_c] = Bᵀ d B of every tile, float definition."""
    tp, tq = tiles(P, Q, v.m)
    d = np.lib.stride_tricks.sliding_window_view(xpad, (v.a, v.a), axis=(2, 3))
    d = d[:, :, ::v.m, ::v.m][:, :, :tp, :tq].astype(np.float64)
    return np.einsum("xa,ncijab,yb->ncijxy", v.bt, d, v.bt)


def weight_transform(w, v: Variant) -> np.ndarray:
    """g_scale² · G g Gᵀ for w[K, C, 3, 3], exact on integers."""
    return np.einsum("xa,kcab,yb->kcxy", v.g_scaled, np.asarray(w, np.int64), v.g_scaled)


@njit(cache=True)
def _sandwich(mat, block, tmp, out):
    """out = mat · block · matᵀ in integers: the 2-D transform of one tile (Bᵀ d B, Aᵀ M A)."""
    rows, inner = mat.shape
    for x in range(rows):
        for j in range(inner):
            s = 0
            for i in range(inner):
                s += mat[x, i] * block[i, j]
            tmp[x, j] = s
    for x in range(rows):
        for y in range(rows):
            s = 0
            for j in range(inner):
                s += tmp[x, j] * mat[y, j]
            out[x, y] = s


@njit(cache=True)
def _winograd_tiles(xpad, u, v_shift, v_max, align, bt, at, m, P, Q):
    N, C = xpad.shape[0], xpad.shape[1]
    K = u.shape[0]
    a = bt.shape[0]
    tp, tq = (P + m - 1) // m, (Q + m - 1) // m
    out = np.zeros((N, K, tp * m, tq * m), dtype=np.int64)
    vt = np.empty((C, a, a), dtype=np.int64)
    tmp = np.empty((a, a), dtype=np.int64)
    acc = np.empty((a, a), dtype=np.int64)
    y = np.empty((m, m), dtype=np.int64)
    for n in range(N):
        for ti in range(tp):
            for tj in range(tq):
                for c in range(C):                      # input transform + tap quantization
                    _sandwich(bt, xpad[n, c, ti * m:ti * m + a, tj * m:tj * m + a], tmp, vt[c])
                    for x in range(a):
                        for j in range(a):
                            s = round_shift(vt[c, x, j], v_shift[x, j])
                            vt[c, x, j] = min(max(s, -v_max), v_max)
                for k in range(K):
                    for x in range(a):                  # element-wise products over channels
                        for j in range(a):
                            s = 0
                            for c in range(C):
                                s += u[k, c, x, j] * vt[c, x, j]
                            acc[x, j] = s << align[x, j]
                    _sandwich(at, acc, tmp, y)          # output transform
                    out[n, k, ti * m:ti * m + m, tj * m:tj * m + m] = y
    return out[:, :, :P, :Q]


def _float_exact_bound(bound: int, dtype) -> bool:
    """True when integers up to `bound` in magnitude (every product and partial sum of a dot
    product) are exact in float `dtype`: below 2**24 (float32) or 2**53 (float64)."""
    return bound < 2 ** (np.finfo(dtype).nmant + 1)


@njit(cache=True)
def _input_transform(xpad, v_shift, v_max, bt, m, tp, tq):
    """Steps 1-2 on every tile: vt[tap, c, (n, tile)] = the quantized Bᵀ d B of tile `tile` of
    image n, channel c (tap = row·a + column): the right operand of each tap's GEMM."""
    N, C = xpad.shape[0], xpad.shape[1]
    a = bt.shape[0]
    T = tp * tq
    vt = np.empty((a * a, C, N * T), dtype=np.int64)
    tmp = np.empty((a, a), dtype=np.int64)
    blk = np.empty((a, a), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for ti in range(tp):
                for tj in range(tq):
                    _sandwich(bt, xpad[n, c, ti * m:ti * m + a, tj * m:tj * m + a], tmp, blk)
                    col = n * T + ti * tq + tj
                    for x in range(a):
                        for j in range(a):
                            s = round_shift(blk[x, j], v_shift[x, j])
                            vt[x * a + j, c, col] = min(max(s, -v_max), v_max)
    return vt


@njit(cache=True)
def _output_transform(acc, align, at, m, N, tp, tq, P, Q):
    """Steps 4-5 on every tile: the tap sums acc[tap, (n, tile), k] (integers, in any dtype)
    shifted by `align` and turned into out[N, K, P, Q] by Aᵀ M A."""
    K = acc.shape[2]
    a = at.shape[1]
    T = tp * tq
    out = np.empty((N, K, tp * m, tq * m), dtype=np.int64)
    blk = np.empty((a, a), dtype=np.int64)
    tmp = np.empty((m, a), dtype=np.int64)
    y = np.empty((m, m), dtype=np.int64)
    for n in range(N):
        for k in range(K):
            for ti in range(tp):
                for tj in range(tq):
                    col = n * T + ti * tq + tj
                    for x in range(a):
                        for j in range(a):
                            blk[x, j] = np.int64(acc[x * a + j, col, k]) << align[x, j]
                    _sandwich(at, blk, tmp, y)
                    out[n, k, ti * m:ti * m + m, tj * m:tj * m + m] = y
    return out[:, :, :P, :Q]


@njit(cache=True)
def _peak(arr):
    """max |arr| of an int64 array (0 when empty), in one pass."""
    peak = 0
    for value in arr.ravel():
        peak = max(peak, abs(value))
    return peak


@njit(cache=True)
def _tap_major(u, out):
    """out[tap, c, k] = u[k, c, tap] (u[K, C, a, a] reshaped to [K, C, taps]), converted to
    out's dtype: the left operands of the tap GEMMs, laid out for `_tap_gemms`. Returns
    max |u| (the conversion is exact when that fits the dtype)."""
    K, C, taps = u.shape
    peak = 0
    for c in range(C):             # one c at a time: taps x K writes, all in cache
        for k in range(K):
            for t in range(taps):
                value = u[k, c, t]
                peak = max(peak, abs(value))
                out[t, c, k] = value
    return peak


@njit(cache=True)
def _tap_gemms(ut, vt):
    """Step 3: acc[tap, col, k] = Σ_c vt[tap, c, col] · ut[tap, c, k], one GEMM per tap over
    all tiles (the innermost loop runs along k, contiguous, so it vectorises)."""
    taps, C, K = ut.shape
    cols = vt.shape[2]
    acc = np.zeros((taps, cols, K), dtype=ut.dtype)
    for t in range(taps):
        for col in range(cols):
            row = acc[t, col]
            for c in range(C):
                v = vt[t, c, col]
                if v != 0:
                    w = ut[t, c]
                    for k in range(K):
                        row[k] += v * w[k]
    return acc


def winograd_tiles(xpad, u, v_shift, v_max, align, bt, at, m, P, Q) -> np.ndarray:
    """The integer pipeline of the module doc on padded input xpad[N, C, .., ..] and
    Winograd-domain weights u[K, C, a, a]: out[N, K, P, Q] in int64, in three numba passes
    over all tiles: input transforms, one GEMM per tap (in float32 or float64 when
    `_float_exact_bound` proves it exact, else the tile loops `_winograd_tiles`), output
    transforms."""
    xpad, u = np.ascontiguousarray(xpad, np.int64), np.ascontiguousarray(u, np.int64)
    v_shift, align = np.asarray(v_shift, np.int64), np.asarray(align, np.int64)
    N, C = xpad.shape[0], xpad.shape[1]
    K, a = u.shape[0], bt.shape[0]
    tp, tq = tiles(P, Q, m)
    vt = _input_transform(xpad, v_shift, np.int64(v_max), bt, m, tp, tq)
    peak_v = int(_peak(vt))
    ut = np.empty((a * a, C, K), np.float32)
    bound = int(_tap_major(u.reshape(K, C, a * a), ut)) * peak_v * C  # on every partial sum
    dtype = next((t for t in (np.float32, np.float64) if _float_exact_bound(bound, t)), None)
    if dtype is None:
        return _winograd_tiles(xpad, u, v_shift, np.int64(v_max), align, bt, at, m, P, Q)
    if dtype is not np.float32:
        ut = np.empty((a * a, C, K), dtype)
        _tap_major(u.reshape(K, C, a * a), ut)
    acc = _tap_gemms(ut, vt.astype(dtype))
    return _output_transform(acc, align, at, m, N, tp, tq, P, Q)


def conv_exact(x, w, padding: int, v: Variant) -> np.ndarray:
    """Stride-1 3x3 convolution through the integer Winograd pipeline with no quantization."""
    N, C, H, W = x.shape
    P, Q = H + 2 * padding - 2, W + 2 * padding - 2
    a = v.a
    zeros = np.zeros((a, a), np.int64)
    y = winograd_tiles(pad_input(x, padding, P, Q, v.m), weight_transform(w, v), zeros,
                       np.int64(2**62), zeros, v.bt, v.at, v.m, P, Q)
    scale = v.g_scale ** 2
    assert not (y % scale).any(), "exact Winograd output must be a multiple of g_scale²"
    return y // scale


@dataclass(frozen=True)
class QuantWeights:
    """Winograd-domain weights as the hardware stores them: u[K, C, a, a] integer codes and a
    power-of-two exponent per tap (one shared exponent when not tap-wise)."""

    u: np.ndarray
    u_exp: np.ndarray


def quantize_weights(w, v: Variant, tapwise: bool, bits: int = 8) -> QuantWeights:
    """Round each tap of U = G g Gᵀ to `bits`-bit codes with a power-of-two scale per tap."""
    u_real = weight_transform(w, v) / v.g_scale ** 2
    qmax = 2 ** (bits - 1) - 1
    peak = np.abs(u_real).max(axis=(0, 1)) if tapwise else np.full((v.a, v.a), np.abs(u_real).max())
    u_exp = pow2_exponent(peak, qmax)
    codes = np.clip(np.floor(u_real / 2.0 ** u_exp + 0.5), -qmax, qmax).astype(np.int64)
    return QuantWeights(codes, u_exp)


def calibrate_input(x_sample, padding: int, v: Variant, tapwise: bool, bits: int = 8) -> np.ndarray:
    """Right shift per tap (>= 0) so that the sample's transformed inputs fit `bits` bits."""
    N, C, H, W = x_sample.shape
    P, Q = H + 2 * padding - 2, W + 2 * padding - 2
    vt = input_transform_float(pad_input(x_sample, padding, P, Q, v.m), v, P, Q)
    peak = np.abs(vt).max(axis=(0, 1, 2, 3))
    if not tapwise:
        peak = np.full_like(peak, peak.max())
    return np.maximum(pow2_exponent(peak, 2 ** (bits - 1) - 1), 0)


@dataclass(frozen=True)
class QuantOutput:
    """Integer output y and its power-of-two exponent: the real result is y · 2**exp."""

    y: np.ndarray
    exp: int


def _alignment(v_shift, u_exp):
    tap_exp = np.asarray(v_shift, np.int64) + np.asarray(u_exp, np.int64)
    return tap_exp, int(tap_exp.min())


def conv_quant(x, qw: QuantWeights, v_shift, padding: int, v: Variant, bits: int = 8) -> QuantOutput:
    """The integer pipeline on int8 input x (stride 1, 3x3): bit-exact hardware result."""
    N, C, H, W = x.shape
    P, Q = H + 2 * padding - 2, W + 2 * padding - 2
    tap_exp, base = _alignment(v_shift, qw.u_exp)
    y = winograd_tiles(pad_input(x, padding, P, Q, v.m), qw.u, np.asarray(v_shift, np.int64),
                       np.int64(2 ** (bits - 1) - 1), tap_exp - base, v.bt, v.at, v.m, P, Q)
    return QuantOutput(y, base)


def conv_quant_float(x, qw: QuantWeights, v_shift, padding: int, v: Variant, bits: int = 8) -> np.ndarray:
    """Float definition of the same quantized math, as a real-valued output."""
    N, C, H, W = x.shape
    P, Q = H + 2 * padding - 2, W + 2 * padding - 2
    qmax = 2 ** (bits - 1) - 1
    vt = input_transform_float(pad_input(x, padding, P, Q, v.m), v, P, Q)
    vq = np.clip(round_shift_float(vt, v_shift), -qmax, qmax)
    m = np.einsum("kcxy,ncijxy->nkijxy", qw.u.astype(np.float64), vq)
    m = m * 2.0 ** (np.asarray(v_shift) + qw.u_exp)
    y = np.einsum("ra,nkijab,sb->nkirjs", v.at, m, v.at)
    tp, tq = tiles(P, Q, v.m)
    return y.reshape(N, -1, tp * v.m, tq * v.m)[:, :, :P, :Q]


def error_bound(x, w, qw: QuantWeights, v_shift, padding: int, v: Variant) -> np.ndarray:
    """Per-output bound on |quantized - exact| when nothing clips (calibrated on x and w):
    |ΔM| ≤ Σ_c |U|·2^(sv-1) + |V|·2^(eu-1) + 2^(sv-1)·2^(eu-1), then |Y err| ≤ |Aᵀ| |ΔM| |A|."""
    N, C, H, W = x.shape
    P, Q = H + 2 * padding - 2, W + 2 * padding - 2
    vt = np.abs(input_transform_float(pad_input(x, padding, P, Q, v.m), v, P, Q))
    u = np.abs(weight_transform(w, v) / v.g_scale ** 2)
    dv, du = 2.0 ** (np.asarray(v_shift) - 1), 2.0 ** (qw.u_exp - 1)
    dm = (np.einsum("kcxy,ncijxy->nkijxy", u, np.ones_like(vt)) * dv
          + np.einsum("kcxy,ncijxy->nkijxy", np.ones_like(u), vt) * du + C * dv * du)
    at = np.abs(v.at)
    y = np.einsum("ra,nkijab,sb->nkirjs", at, dm, at)
    tp, tq = tiles(P, Q, v.m)
    return y.reshape(N, -1, tp * v.m, tq * v.m)[:, :, :P, :Q]


@njit(cache=True)
def _requantize(y, shift, qmax):
    out = np.empty(y.shape, dtype=np.int64)
    flat, res = y.ravel(), out.ravel()
    for i in range(flat.size):
        res[i] = min(max(round_shift(flat[i], shift), -qmax), qmax)
    return out


def requantize(result: QuantOutput, out_exp: int, bits: int = 8) -> np.ndarray:
    """int codes of the output at scale 2**out_exp (a rounding shift and a clamp)."""
    return _requantize(np.ascontiguousarray(result.y), np.int64(out_exp - result.exp),
                       np.int64(2 ** (bits - 1) - 1))
