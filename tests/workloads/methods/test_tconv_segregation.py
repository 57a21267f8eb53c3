"""Kernel segregation (`tconv_segregation`): its reference against the plain definition of a
transposed convolution, the baseline's zero-insertion lowering against the same definition, the
transform's PE MACs against a formula, and the `dcgan` preset's MACs."""

import math

import numpy as np
import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.workloads.layer import Layer
from dlaforge.workloads.methods import METHODS
from dlaforge.workloads.methods.tconv_segregation.reference import tconv_segregated_int
from dlaforge.workloads.networks import load_network

TPU = load_arch("tpu_like")


def tconv_layer(C, K, H, W, R, S, stride, stride_w=None, pads=(0, 0, 0, 0), dilation=(1, 1),
                groups=1, out_pad=(0, 0), N=1):
    sw = stride if stride_w is None else stride_w
    P = (H - 1) * stride - pads[0] - pads[2] + dilation[0] * (R - 1) + 1 + out_pad[0]
    Q = (W - 1) * sw - pads[1] - pads[3] + dilation[1] * (S - 1) + 1 + out_pad[1]
    return Layer(name="t", kind="transposed_conv", N=N, K=K, C=C, H=H, W=W, P=P, Q=Q, R=R, S=S,
                 stride=stride, stride_w=stride_w, pads=pads, dilation=dilation, groups=groups)


def tconv_plain(x, w, layer):
    """The definition: each input pixel x[h, v] scattered through the kernel to
    y[h s_h - top + d_h r, v s_w - left + d_w s], in float64; outputs past the last scatter
    (output padding) are zero."""
    (sh, sw), (top, left, _, _), (dh, dw) = layer.strides, layer.paddings, layer.dilation
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    Kg = K // layer.groups
    full = np.zeros((N, K, max((H - 1) * sh + dh * (R - 1) + 1, top + layer.P),
                     max((W - 1) * sw + dw * (S - 1) + 1, left + layer.Q)))
    for g in range(layer.groups):
        xs, ws = x[:, g * Cg:(g + 1) * Cg].astype(float), w[g * Kg:(g + 1) * Kg].astype(float)
        for r in range(R):
            for s in range(S):
                full[:, g * Kg:(g + 1) * Kg, dh * r:dh * r + (H - 1) * sh + 1:sh,
                     dw * s:dw * s + (W - 1) * sw + 1:sw] += np.einsum(
                         "nchw,kc->nkhw", xs, ws[:, :, r, s])
    return full[:, :, top:top + layer.P, left:left + layer.Q]


CASES = [  # (C, K, H, W, R, S, stride, stride_w, pads, dilation, groups, out_pad)
    (3, 4, 5, 7, 4, 4, 2, None, (1, 1, 1, 1), (1, 1), 1, (0, 0)),     # DCGAN's 4x4/2/1, odd
    (2, 3, 4, 3, 3, 3, 2, None, (1, 1, 1, 1), (1, 1), 1, (1, 1)),     # output padding
    (4, 6, 3, 5, 5, 3, 3, 2, (2, 0, 1, 1), (1, 1), 2, (2, 1)),        # rect. stride, grouped
    (2, 2, 4, 4, 3, 3, 2, None, (0, 0, 0, 0), (2, 2), 1, (0, 1)),     # dilated
    (3, 2, 3, 3, 1, 1, 2, None, (0, 0, 0, 0), (1, 1), 1, (1, 1)),     # 1x1: phase 1 is empty
    (2, 4, 6, 5, 5, 5, 1, None, (2, 2, 2, 2), (1, 1), 2, (0, 0)),     # stride 1
    (3, 3, 4, 4, 3, 3, 3, None, (2, 1, 2, 2), (2, 1), 3, (0, 2)),     # depthwise, stride 3
    (2, 3, 5, 4, 3, 3, 2, None, (1, 2, 0, 1), (3, 3), 1, (1, 0)),     # sub-kernel taps 3 apart
]


@pytest.mark.parametrize("C, K, H, W, R, S, stride, stride_w, pads, dilation, groups, out_pad",
                         CASES)
def test_segregated_reference_equals_the_transposed_conv(C, K, H, W, R, S, stride, stride_w,
                                                         pads, dilation, groups, out_pad):
    layer = tconv_layer(C, K, H, W, R, S, stride, stride_w, pads, dilation, groups, out_pad, N=2)
    rng = np.random.default_rng(H * 10 + R)
    x = rng.integers(-128, 128, (2, C, H, W))
    w = rng.integers(-128, 128, (K, C // groups, R, S))
    want = tconv_plain(x, w, layer)
    assert np.abs(want).max() > 0
    assert np.array_equal(tconv_segregated_int(x, w, layer), want)


@pytest.mark.parametrize("C, K, H, W, R, S, stride, stride_w, pads, dilation, groups, out_pad",
                         CASES[:4])
def test_the_baselines_zero_insertion_computes_the_same(C, K, H, W, R, S, stride, stride_w, pads,
                                                        dilation, groups, out_pad):
    """The baseline's op, run as it says: x with zeros inserted (op.H x op.W), padded by the
    op's paddings, correlated at stride 1 with the kernel rotated 180 degrees."""
    layer = tconv_layer(C, K, H, W, R, S, stride, stride_w, pads, dilation, groups, out_pad)
    (op,) = METHODS["baseline"].transform(layer, TPU)
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (1, C, H, W))
    w = rng.integers(-128, 128, (K, C // groups, R, S))
    (sh, sw), (dh, dw) = layer.strides, layer.dilation
    up = np.zeros((1, C, op.H, op.W))
    up[:, :, ::sh, ::sw] = x
    top, left, bottom, right = op.paddings
    up = np.pad(up, ((0, 0), (0, 0), (top, bottom), (left, right)))
    y = np.zeros((1, K, op.P, op.Q))
    Kg, Cg = K // groups, C // groups
    for k in range(K):
        g = k // Kg
        for r in range(R):
            for s in range(S):
                win = up[0, g * Cg:(g + 1) * Cg, dh * r:dh * r + op.P, dw * s:dw * s + op.Q]
                y[0, k] += np.einsum("chw,c->hw", win, w[k, :, R - 1 - r, S - 1 - s])
    assert np.array_equal(y, tconv_plain(x, w, layer))


def axis_pe_macs(out, kernel, stride, before, dilation):
    """Per axis, the segregated outputs times their taps: sum over phases a of
    ceil((out - a) / stride) * #{r : (a + before - dilation r) = 0 mod stride}."""
    return sum(math.ceil((out - a) / stride)
               * sum((a + before - dilation * r) % stride == 0 for r in range(kernel))
               for a in range(min(stride, out)))


@pytest.mark.parametrize("C, K, H, W, R, S, stride, stride_w, pads, dilation, groups, out_pad",
                         CASES)
def test_segregation_performs_the_formulas_pe_macs(C, K, H, W, R, S, stride, stride_w, pads,
                                                   dilation, groups, out_pad):
    layer = tconv_layer(C, K, H, W, R, S, stride, stride_w, pads, dilation, groups, out_pad)
    ops = METHODS["tconv_segregation"].transform(layer, TPU)
    (base,) = METHODS["baseline"].transform(layer, TPU)
    (sh, sw), (top, left, _, _), (dh, dw) = layer.strides, layer.paddings, layer.dilation
    per_pixel = K * (C // groups)
    want = (per_pixel * axis_pe_macs(layer.P, R, sh, top, dh)
            * axis_pe_macs(layer.Q, S, sw, left, dw))
    assert sum(op.pe_macs for op in ops) == want
    assert base.pe_macs == per_pixel * layer.P * layer.Q * R * S    # zeros multiplied too
    assert all(op.stride == 1 and op.ops == {"mult": op.pe_macs, "add": op.pe_macs}
               for op in ops)
    assert sum(op.weight_storage_bits for op in ops) <= base.weight_storage_bits


def test_a_transposed_conv_whose_padding_crops_every_tap_is_refused():
    """One input pixel scatters to rows 0 and 3 (dilation 3); the padding keeps row 1 only."""
    layer = tconv_layer(4, 4, 1, 1, 2, 2, 2, pads=(1, 1, 3, 3), dilation=(3, 3), out_pad=(1, 1))
    assert (layer.P, layer.Q) == (1, 1)
    with pytest.raises(SpecError, match=r"layer 't': no output of the transposed conv receives "
                                        r"an input pixel \(padding \(1, 1, 3, 3\)"):
        METHODS["tconv_segregation"].transform(layer, TPU)


def test_dcgan_preset_and_its_segregated_macs():
    """PyTorch's DCGAN generator (ngf = 64, nz = 100): nominal MACs are the scatter count
    N K C H W R S per transposed conv; segregation does a quarter of the baseline's PE MACs on
    each stride-2 layer (s = 2 divides the output, every phase has 2 x 2 taps), the same on the
    stride-1 projection."""
    net = load_network("dcgan")
    shapes = [(layer.C, layer.K, layer.H, layer.P, layer.stride) for layer in net.layers]
    assert shapes == [(100, 512, 1, 4, 1), (512, 256, 4, 8, 2), (256, 128, 8, 16, 2),
                      (128, 64, 16, 32, 2), (64, 3, 32, 64, 2)]
    assert net.macs == 100 * 512 * 16 + 16 * (512 * 256 * 16 + 256 * 128 * 64 + 128 * 64 * 256
                                              + 64 * 3 * 1024) == 104_628_224
    for layer in net.layers:
        base = sum(op.pe_macs for op in METHODS["baseline"].transform(layer, TPU))
        seg = sum(op.pe_macs for op in METHODS["tconv_segregation"].transform(layer, TPU))
        assert seg * layer.stride ** 2 == base
        if layer.stride == 2:
            assert seg == layer.macs        # 4x4 / 2 / 1: each output pixel 2 x 2 taps


@pytest.mark.parametrize("model", ["analytical", "cycle"])
def test_dcgan_runs_on_both_models_with_fewer_multiplies_and_less_energy(model):
    """The models price the sub-convolutions as ordinary ops: the record's `mult` is the
    transform's PE MACs (the projection's 16 x 16 x 100 x 512, then a quarter of the baseline's
    on the stride-2 layers), `macs` the nominal count."""
    seg = dlaforge.simulate("tpu_like", "dcgan", model=model, method="tconv_segregation")
    base = dlaforge.simulate("tpu_like", "dcgan", model=model, method="baseline")
    assert seg.totals.macs == base.totals.macs == 104_628_224
    assert seg.totals.ops["mult"] == 16 * 16 * 100 * 512 + 104_628_224 - 100 * 512 * 16
    assert base.totals.ops["mult"] == 16 * 16 * 100 * 512 + 4 * (104_628_224 - 100 * 512 * 16)
    assert seg.totals.energy_pj < 0.6 * base.totals.energy_pj
    assert seg.totals.cycles < base.totals.cycles
