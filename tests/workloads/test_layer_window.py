"""Layer features beyond one stride and one symmetric padding: dilation, padding per side,
rectangular strides and kernels, products of two activations; checked against brute-force
counts written here."""

import itertools

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.workloads.layer import Layer, conv
from dlaforge.workloads.methods import get_method

ARCH = load_arch("edge_tiny")


def window_layer(**changes):
    """An 11x9 input, a 3x2 kernel dilated 2x3 (extent 5x4), stride 2x1, pads (2, 0, 1, 1):
    P = (11 + 3 - 5) // 2 + 1 = 5, Q = (9 + 1 - 4) // 1 + 1 = 7."""
    args = dict(name="w", kind="conv2d", K=4, C=3, H=11, W=9, R=3, S=2, stride=2, stride_w=1,
                pads=(2, 0, 1, 1), dilation=(2, 3), P=5, Q=7)
    return Layer(**{**args, **changes})


def brute_force(layer):
    """(MACs, ifmap pixels some tap reads) by walking every output and tap."""
    (sh, sw), (top, left, _, _), (dh, dw) = layer.strides, layer.paddings, layer.dilation
    macs, touched = 0, set()
    for p, q, r, s in itertools.product(range(layer.P), range(layer.Q), range(layer.R),
                                        range(layer.S)):
        macs += layer.K * (layer.C // layer.groups)
        h, w = p * sh + r * dh - top, q * sw + s * dw - left
        if 0 <= h < layer.H and 0 <= w < layer.W:
            touched.add((h, w))
    return macs * layer.N, len(touched) * layer.C * layer.N


def test_window_fields_and_counts_against_a_brute_force_walk():
    layer = window_layer()
    assert (layer.P, layer.Q) == (5, 7)
    assert layer.strides == (2, 1) and layer.paddings == (2, 0, 1, 1)
    assert layer.extent == (5, 4)
    [op] = get_method("baseline", ARCH).transform(layer, ARCH)
    macs, touched = brute_force(layer)
    assert layer.macs == op.pe_macs == macs
    assert op.read_ifmap_elements == touched
    assert (op.strides, op.paddings, op.dilation) == (layer.strides, layer.paddings,
                                                      layer.dilation)
    assert layer.shape()["pads"] == [2, 0, 1, 1] and layer.shape()["dilation"] == [2, 3]
    assert not layer.plain_window and "dilation 2x3" in layer.window_reason()


def test_a_plain_window_has_one_form_and_an_unchanged_shape_record():
    plain = conv("c", 8, 8, 14)
    spelled = Layer(**{**plain.__dict__, "pads": (1, 1, 1, 1), "padding": 0, "stride_w": 1,
                       "dilation": [1, 1]})
    assert spelled == plain and repr(spelled) == repr(plain)
    assert plain.plain_window and plain.window_reason() is None
    assert set(plain.shape()) == {"N", "K", "C", "P", "Q", "R", "S", "H", "W", "stride",
                                  "padding", "groups"}


@pytest.mark.parametrize("changes, message", [
    (dict(pads=(1, 1, 1)), "`layer 'w': pads` must be \\(top, left, bottom, right\\)"),
    (dict(pads=(1, -1, 1, 1)), "`layer 'w': pads` must be a non-negative integer, not -1"),
    (dict(dilation=(0, 1)), "`layer 'w': dilation` must be a positive integer, not 0"),
    (dict(stride_w=0), "`layer 'w': stride_w` must be a positive integer, not 0"),
    (dict(padding=3), "give `padding` or `pads`, not both"),
])
def test_bad_window_fields(changes, message):
    with pytest.raises(SpecError, match=message):
        window_layer(**changes)


def test_a_window_that_cannot_give_the_output_columns_is_refused():
    layer = window_layer()
    with pytest.raises(SpecError, match="padding 1 in cols\\) cannot give P=5, Q=8"):
        Layer(**{**layer.__dict__, "Q": 8})


def test_rectangular_stride_and_kernel_count():
    layer = Layer(name="r", kind="conv2d", K=8, C=4, H=8, W=8, R=3, S=1, stride=2, stride_w=1,
                  padding=1, P=4, Q=10)
    assert layer.macs == brute_force(layer)[0] == 8 * 4 * 4 * 10 * 3


def test_matmul_of_two_activations_stores_no_weights_and_has_one_operand_per_image():
    layer = Layer(name="scores", kind="matmul", N=12, P=128, C=64, K=128, H=128, W=1, Q=1)
    assert layer.macs == 12 * 128 * 64 * 128
    for method in ("baseline",):
        [op] = get_method(method, ARCH).transform(layer, ARCH)
        assert op.weight_is_activation and op.weight_storage_bits == 0
        assert op.weight_elements == 12 * 64 * 128
        assert op.weight_bits == op.ifmap_bits
    arch = load_arch("tpu_like_palquant")
    [op] = get_method("palquant", arch).transform(layer, arch)
    assert op.weight_is_activation and op.weight_storage_bits == 0
    arch = load_arch("tpu_like_smartdeal")
    [op] = get_method("smartdeal", arch).transform(layer, arch)
    assert op.weight_storage_bits == 0 and not op.dram_scale
    with pytest.raises(SpecError, match="groups, R, S, Q and W must be 1"):
        Layer(name="bad", kind="matmul", N=2, P=4, C=4, K=4, H=4, W=1, Q=1, R=3, padding=1)


def test_transposed_conv_with_output_padding_and_asymmetric_pads_lowers_to_its_output():
    # ONNX ConvTranspose: out = s*(in-1) + output_padding + d*(k-1) + 1 - pad_begin - pad_end
    layer = Layer(name="up", kind="transposed_conv", K=4, C=6, H=5, W=7, R=3, S=4, stride=2,
                  stride_w=3, pads=(1, 0, 0, 2), P=2 * 4 + 1 + 3 - 1, Q=3 * 6 + 0 + 4 - 2)
    [op] = get_method("baseline", ARCH).transform(layer, ARCH)
    assert (op.H, op.W, op.strides) == (9, 19, (1, 1))
    # the stride-1 conv over the zero-inserted input gives exactly the layer's output
    assert (op.H + op.paddings[0] + op.paddings[2] - op.extent[0] + 1,
            op.W + op.paddings[1] + op.paddings[3] - op.extent[1] + 1) == (layer.P, layer.Q)
    assert layer.macs == 4 * 6 * 5 * 7 * 3 * 4
    with pytest.raises(SpecError, match="transposed conv output rows 14, expected 10 to 11"):
        Layer(**{**layer.__dict__, "P": 14})


def test_winograd_runs_only_plain_windows():
    arch = load_arch("tpu_like_winograd")
    dilated = Layer(**{**conv("d", 8, 8, 14).__dict__, "padding": 2, "dilation": (2, 2)})
    [op] = get_method("winograd_f4", arch).transform(dilated, arch)
    assert op.ops["direct_conv_fallback"] == 1
    assert np.isclose(op.pe_macs, dilated.macs)
