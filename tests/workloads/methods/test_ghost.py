"""GhostNet: the `ghost` method's ops against the Ghost module's MAC formula, its reference
against the float definition, and the `ghostnet` preset's MACs against the paper's 141 M."""

import math

import numpy as np
import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.workloads.layer import conv, linear
from dlaforge.workloads.methods import METHODS
from dlaforge.workloads.methods.conv_ref import conv2d_float
from dlaforge.workloads.methods.ghost.reference import ghost_module_int
from dlaforge.workloads.methods.requant_ref import random_requant, requantize_float
from dlaforge.workloads.networks import load_network

TPU = load_arch("tpu_like")
GHOST = METHODS["ghost"]


@pytest.mark.parametrize("C, K, H, R, stride", [(16, 32, 14, 3, 1), (8, 7, 9, 3, 2),
                                                (24, 40, 5, 1, 1), (64, 128, 8, 5, 2)])
def test_a_conv_becomes_a_primary_conv_and_cheap_depthwise_ops(C, K, H, R, stride):
    """Ghost module, s = 2, d = 3: m = ceil(K/2) primary maps with the layer's kernel, K - m
    ghost maps at 9 MACs per output pixel."""
    layer = conv("c", C, K, H, R=R, stride=stride)
    primary, cheap = GHOST.transform(layer, TPU)
    m, P = math.ceil(K / 2), layer.P
    assert primary.pe_macs == m * C * R * R * P * P
    assert cheap.pe_macs == (K - m) * 9 * P * P
    assert (cheap.groups, cheap.C, cheap.H, cheap.stride) == (K - m, K - m, P, 1)
    assert primary.weight_storage_bits + cheap.weight_storage_bits == 8 * (m * C * R * R
                                                                           + 9 * (K - m))
    assert all(op.ops == {"mult": op.pe_macs, "add": op.pe_macs} for op in (primary, cheap))


def test_the_first_conv_and_other_layers_stay_as_the_baselines():
    for layer in (conv("stem", 3, 16, 32, stride=2), linear("fc", 64, 10),
                  conv("dw", 16, 16, 8, groups=16), conv("grouped", 16, 32, 8, groups=2)):
        assert GHOST.transform(layer, TPU) == METHODS["baseline"].transform(layer, TPU)


def _requantized(acc, rng):
    """acc[N, K, P, Q] requantized to int8 by the float definition with random per-channel
    scales, and those scales."""
    by_channel = acc.transpose(1, 0, 2, 3)
    rq = random_requant(by_channel, 8, rng)
    out = requantize_float(by_channel, rq.multiplier, rq.shift, 8)
    return out.transpose(1, 0, 2, 3), rq


def test_ghost_reference_equals_the_float_definition():
    rng = np.random.default_rng(3)
    C, K, R, stride, padding = 5, 7, 3, 2, 1
    m = math.ceil(K / 2)
    x = rng.integers(-128, 128, (2, C, 9, 11))
    wp = rng.integers(-128, 128, (m, C, R, R))
    wc = rng.integers(-128, 128, (K - m, 1, 3, 3))
    intrinsic, rq_p = _requantized(conv2d_float(x, wp, stride, padding), rng)
    ghosts, rq_c = _requantized(conv2d_float(intrinsic[:, :K - m], wc, 1, 1, groups=K - m), rng)
    got = ghost_module_int(x, wp, wc, stride, padding, rq_p, rq_c)
    assert got.shape == (2, K, 5, 6) and np.abs(got).max() > 0
    assert np.array_equal(got, np.concatenate([intrinsic, ghosts], axis=1))


def test_ghostnet_preset_has_the_papers_macs():
    """GhostNet 1.0x: 141,150,512 MACs, the paper's 141 M within 0.2 %."""
    net = load_network("ghostnet")
    assert net.macs == 141_150_512
    assert abs(net.macs / 141e6 - 1) < 0.002
    assert [layer.name for layer in net.layers[-3:]] == ["conv_last", "conv_head", "classifier"]
    assert sum(layer.name.endswith(".cheap") for layer in net.layers) == 32   # 16 x 2 modules


def test_ghost_halves_resnet18s_pe_macs():
    """Ghost-ResNet-18: each ghosted conv does m/K of its MACs plus the cheap ops'."""
    layers = load_network("resnet18").layers
    want = 0
    for layer in layers:
        if layer.name in ("conv1", "fc"):
            want += layer.macs
        else:
            m = math.ceil(layer.K / 2)
            want += layer.macs * m // layer.K + (layer.K - m) * 9 * layer.P * layer.Q
    got = sum(op.pe_macs for layer in layers for op in GHOST.transform(layer, TPU))
    assert got == want == 973_863_680


@pytest.mark.parametrize("model", ["analytical", "cycle"])
def test_ghost_resnet18_runs_on_both_models(model):
    """The models price the primary and cheap ops as ordinary ops: `mult` is the transform's
    PE MACs, `macs` the nominal count, and the weights stored are about half the baseline's."""
    ghost = dlaforge.simulate("tpu_like", "resnet18", model=model, method="ghost")
    base = dlaforge.simulate("tpu_like", "resnet18", model=model, method="baseline")
    assert ghost.totals.macs == base.totals.macs == 1_814_073_344
    assert ghost.totals.ops["mult"] == 973_863_680
    assert 0.5 < ghost.totals.weight_storage_bits / base.totals.weight_storage_bits < 0.55
