"""Networks as YAML: layers in the Layer vocabulary, sizes left out derived from the window,
the same layers as written in Python, and bad files as one line."""

import pytest

import dlaforge
from dlaforge.errors import SpecError
from dlaforge.workloads.layer import Layer, conv, linear, matmul, vector
from dlaforge.workloads.networks import load_network
from dlaforge.workloads.networks.presets import PRESETS

EXAMPLE = """\
name: tiny
layers:
  - {name: conv1, kind: conv2d, C: 3, K: 32, H: 64, R: 3, stride: 2, padding: 1}
  - {name: dil, kind: conv2d, C: 32, K: 32, H: 32, W: 48, R: 3, S: 5, pads: [2, 4, 2, 4],
     dilation: [2, 2]}
  - {name: rect, kind: conv2d, C: 32, K: 16, H: 32, R: 3, S: 1, stride: 2, stride_w: 1,
     pads: [1, 0, 1, 0]}
  - {name: up, kind: transposed_conv, C: 16, K: 8, H: 16, W: 32, R: 4, stride: 2, padding: 1}
  - {name: qk, kind: matmul, N: 12, P: 128, C: 64, K: 128}
  - {name: fc, kind: linear, C: 1024, K: 10}
  - {name: relu, kind: vector, op: relu, C: 16, H: 12}
  - {name: pool, kind: vector, op: maxpool, C: 16, H: 12, R: 3, stride: 2, padding: 1}
  - {name: sm, kind: vector, op: softmax, C: 128, H: 1536}
"""


def test_every_layer_kind_and_window_field(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(EXAMPLE)
    net = load_network(path, batch=2)
    assert net.name == "tiny"
    assert list(net.layers) == [
        conv("conv1", 3, 32, 64, stride=2, N=2),
        Layer(name="dil", kind="conv2d", N=2, C=32, K=32, H=32, W=48, R=3, S=5,
              pads=(2, 4, 2, 4), dilation=(2, 2), P=32, Q=48),      # 32 + 4 - 5 + 1, 48 + 8 - 9 + 1
        Layer(name="rect", kind="conv2d", N=2, C=32, K=16, H=32, W=32, R=3, S=1, stride=2,
              stride_w=1, pads=(1, 0, 1, 0), P=16, Q=32),
        Layer(name="up", kind="transposed_conv", N=2, C=16, K=8, H=16, W=32, R=4, S=4, stride=2,
              padding=1, P=32, Q=64),                                # 2 * (16 - 1) - 2 + 4
        matmul("qk", 128, 64, 128, N=24),
        linear("fc", 1024, 10, N=2),
        vector("relu", "relu", C=16, H=12, W=12, N=2),
        Layer(name="pool", kind="vector", op="maxpool", N=2, C=16, K=16, H=12, W=12, R=3, S=3,
              stride=2, padding=1, P=6, Q=6),
        vector("sm", "softmax", C=128, H=1536, N=2)]


def test_a_preset_written_as_yaml_gives_the_same_record(tmp_path):
    lines = ["layers:"]
    for layer in PRESETS["alexnet"]():
        fields = {k: v for k, v in layer.__dict__.items()
                  if v is not None and k not in ("dilation", "pads", "stride_w")}
        lines.append("  - {" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}")
    path = tmp_path / "alexnet.yml"
    path.write_text("\n".join(lines) + "\n")
    assert load_network(path).layers == load_network("alexnet").layers
    from_yaml = dlaforge.simulate("eyeriss_like", str(path)).to_json()
    preset = dlaforge.simulate("eyeriss_like", "alexnet").to_json()
    assert from_yaml["totals"] == preset["totals"] and from_yaml["network"] == "alexnet"


@pytest.mark.parametrize("text, message", [
    ("- a\n", "expected a mapping with a `layers` list"),
    ("layers: []\n", "`layers` is empty"),
    ("layers: [{kind: conv2d, C: 3, K: 4, H: 8, R: 3}]\nextra: 1\n", "unknown key 'extra'"),
    ("layers: [{kind: conv2d, C: 3, K: 4, H: 8, Rows: 3}]\n", "layer 1: unknown field 'Rows'"),
    ("layers: [{kind: conv2d, C: 3, H: 8}]\n", "layer 1: `K` is required"),
    ("layers: [{kind: conv2d, C: 3, K: 4}]\n", "layer 1: `H` \\(input rows\\) is required"),
    ("layers: [{kind: conv2d, C: 3, K: 4, H: 2, R: 5}]\n",
     "layer 1: `layer 'layer1': P` must be a positive integer, not -2"),
    ("layers: [{kind: conv2d, C: 3, K: 4, H: 8, pads: 1}]\n", "`pads` must be a list, not 1"),
    ("layers: [{kind: conv2d, C: 3, K: 4, H: 8, stride: two}]\n",
     "`layer 'layer1': stride` must be a positive integer, not 'two'"),
    ("layers: [{kind: gemm, C: 3, K: 4}]\n", "a gemm layer needs `P`"),
    ("layers: [{kind: pool, C: 3, K: 4, H: 8}]\n", "unknown kind 'pool'"),
    ("layers: [{name: 5, kind: linear, C: 3, K: 4}]\n", "`name` must be a non-empty string, not 5"),
    ("layers: [{kind: conv2d, C: 3, K: 4, H: 8}\n", "is not valid YAML"),
])
def test_bad_network_yaml_is_one_line(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=message) as error:
        load_network(path)
    assert "\n" not in str(error.value)
