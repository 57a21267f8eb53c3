"""Multigrid-in-channels (`mgic`): a conv's hierarchy of grouped convs against the MAC and
parameter formulas of its docstring (linear in the width), the layers it leaves as they are,
and ResNet-18 on both models."""

import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.workloads.layer import conv, linear
from dlaforge.workloads.methods import METHODS
from dlaforge.workloads.networks import load_network

EDGE = load_arch("edge_tiny")
MGIC = METHODS["mgic"]
S = 16                                  # the group size


def _formula(C, K, R, H, P, L):
    """(weights, MACs) of the V-cycle: R·S·s·K·(2 - 2^-L) + (1 - 2^-L)·(s·C + s·K²/C)."""
    level = R * R * S * K * (2 - 2 ** -L)
    restrict, prolong = (1 - 2 ** -L) * S * C, (1 - 2 ** -L) * S * K * K / C
    return level + restrict + prolong, (level + prolong) * P * P + restrict * H * H


@pytest.mark.parametrize("C, K, H, R, stride, L", [
    (64, 64, 14, 3, 1, 2), (128, 256, 14, 3, 2, 3), (512, 512, 7, 3, 1, 5),
    (64, 128, 14, 1, 2, 2), (32, 32, 8, 5, 1, 1)])
def test_a_conv_becomes_the_v_cycle_of_the_formula(C, K, H, R, stride, L):
    layer = conv("c", C, K, H, R=R, stride=stride)
    ops = MGIC.transform(layer, EDGE)
    weights, macs = _formula(C, K, R, H, layer.P, L)
    assert len(ops) == 3 * L + 1
    assert sum(op.weight_storage_bits for op in ops) == 8 * weights
    assert sum(op.pe_macs for op in ops) == macs
    levels = [op for op in ops if ".level" in op.name]
    assert [op.groups for op in levels] == [2 ** (L - l) for l in range(L + 1)]
    assert [op.C // op.groups for op in levels] == [S] * (L + 1)    # s channels per group
    assert all(op.ops == {"mult": op.pe_macs, "add": op.pe_macs} for op in ops)


def test_weights_grow_linearly_with_the_width():
    """Doubling C = K doubles the hierarchy's weights (up to the 2^-L terms) where a dense
    conv's quadruple."""
    w = [sum(op.weight_storage_bits for op in MGIC.transform(conv("c", c, c, 8), EDGE))
         for c in (128, 256, 512)]
    assert 1.9 < w[1] / w[0] < 2.1 and 1.9 < w[2] / w[1] < 2.1


def test_layers_it_cannot_coarsen_stay_as_the_baselines():
    for layer in (conv("stem", 3, 64, 32, stride=2), linear("fc", 512, 10),
                  conv("dw", 64, 64, 8, groups=64), conv("grouped", 64, 64, 8, groups=2),
                  conv("odd", 48, 48, 8), conv("narrow", 16, 16, 8), conv("k", 64, 36, 8)):
        assert MGIC.transform(layer, EDGE) == METHODS["baseline"].transform(layer, EDGE)


@pytest.mark.parametrize("model", ["analytical", "cycle"])
def test_resnet18_runs_on_both_models(model):
    """Every conv but the stem as its V-cycle (C = 16·2^L, L = 2..5), the stem and fc dense."""
    record = dlaforge.simulate("edge_tiny", "resnet18", model=model, method="mgic")
    weights = macs = 0
    for layer in load_network("resnet18").layers:
        if layer.name in ("conv1", "fc"):
            w, m = layer.K * layer.C * layer.R * layer.S, layer.macs
        else:
            w, m = _formula(layer.C, layer.K, layer.R, layer.H, layer.P,
                            (layer.C // S).bit_length() - 1)
        weights, macs = weights + w, macs + m
    assert record.totals.macs == 1_814_073_344                      # nominal
    assert record.totals.ops["mult"] == macs == 569_194_240
    assert record.totals.weight_storage_bits == 8 * weights == 8 * 1_762_240
