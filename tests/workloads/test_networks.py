import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.workloads.layer import Layer, conv
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.networks import list_networks, load_network

# Exact totals of the shapes in workloads/networks/presets.py, and the published figures they
# must agree with (ResNet-18 1.814 G as in ZigZag's shipped ONNX; the others as usually quoted).
EXACT = {"resnet18": 1_814_073_344, "resnet50": 4_089_184_256, "mobilenet_v2": 300_774_272,
         "vgg16": 15_470_264_320, "alexnet": 724_406_816}
PUBLISHED = {"resnet18": (1.814e9, 0.001), "resnet50": (4.1e9, 0.01),
             "mobilenet_v2": (0.30e9, 0.01), "vgg16": (15.5e9, 0.005), "alexnet": (0.72e9, 0.01)}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_preset_mac_totals(name):
    macs = load_network(name).macs
    assert macs == EXACT[name]
    value, tolerance = PUBLISHED[name]
    assert abs(macs - value) <= tolerance * value


def test_resnet18_has_twenty_convs_and_a_classifier():
    layers = load_network("resnet18").layers
    assert sum(l.kind in ("conv2d", "pointwise") for l in layers) == 20
    assert layers[-1].kind == "linear" and layers[-1].macs == 512 * 1000
    assert layers[0].shape()["P"] == 112


def test_mobilenet_depthwise_layers_are_grouped():
    dw = [l for l in load_network("mobilenet_v2").layers if l.kind == "depthwise"]
    assert len(dw) == 17
    assert all(l.groups == l.C == l.K for l in dw)
    assert dw[0].macs == 32 * 112 * 112 * 9


def test_batch_scales_every_layer():
    assert load_network("alexnet", batch=4).macs == 4 * EXACT["alexnet"]
    with pytest.raises(SpecError, match="`batch` must be a positive integer, not 0"):
        load_network("alexnet", batch=0)


def test_direct_count_of_a_conv_matches_the_formula():
    layer = conv("c", C=6, K=4, H=9, R=3, stride=2, padding=1, groups=2)
    direct = 0
    for k in range(4):
        for p in range(layer.P):
            for q in range(layer.Q):
                for c in range(3):          # channels of k's group
                    for r in range(3):
                        for s in range(3):
                            direct += 1
    assert (layer.P, layer.Q) == (5, 5)
    assert layer.macs == direct


def test_transposed_conv_is_lowered_by_zero_insertion():
    layer = Layer(name="up", kind="transposed_conv", K=8, C=16, H=7, W=7, P=14, Q=14, R=4, S=4,
                  stride=2, padding=1)
    assert layer.macs == 8 * 16 * 7 * 7 * 16
    [op] = get_method("baseline", load_arch("edge_tiny")).transform(layer, load_arch("edge_tiny"))
    assert (op.H, op.stride, op.padding) == (13, 1, 2)
    assert op.ops["mult"] == 8 * 16 * 14 * 14 * 16          # about stride**2 x nominal
    assert op.ops["mult"] / layer.macs == pytest.approx(4.0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(K=0), "`layer 'x': K` must be a positive integer, not 0"),
    (dict(groups=3), "groups=3 must divide C=4 and K=8"),
    (dict(P=9), "cannot give P=9"),
    (dict(kind="pool"), "unknown kind 'pool'"),
])
def test_bad_layers(kwargs, message):
    args = dict(name="x", kind="conv2d", K=8, C=4, H=8, W=8, P=8, Q=8, R=3, S=3, padding=1)
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        Layer(**{**args, **kwargs})


def test_layer_wider_than_the_pe_array_is_refused():
    layer = conv("wide", 4, 4, 8)
    wide = Layer(**{**layer.__dict__, "weight_bits": 16})
    arch = load_arch("tpu_like")
    with pytest.raises(SpecError, match="needs weight_bits=16 but arch 'tpu_like' computes at 8"):
        get_method("baseline", arch).transform(wide, arch)


def test_network_names():
    transformers = ["bert_base", "vit_b16", "llama32_1b_prefill", "llama32_1b_decode"]
    # the seeds': tests/workloads/methods, test_icnet_preset.py, test_g_ghost_preset.py
    seeds = ["dcgan", "ghostnet", "g_ghost_regnetx_032", "icnet"]
    assert list_networks() == sorted([*EXACT, *transformers, *seeds])  # test_transformers.py
    with pytest.raises(SpecError, match="unknown network 'lenet'"):
        load_network("lenet")
    with pytest.raises(SpecError, match="network file 'model.onnx' does not exist"):
        load_network("model.onnx")
