"""ONNX import: graphs built here with onnx.helper cover every supported operator and
attribute; output shapes are checked against onnx's reference evaluator running the graph on
random data, MAC totals against formulas written here; bad files are one SpecError line."""

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from dlaforge.errors import SpecError
from dlaforge.workloads.networks import load_network
from dlaforge.workloads.networks.onnx_import import parse_input_shape, read_onnx

RNG = np.random.default_rng(0)


def weight(name, *shape):
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32), name)


def value(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def out_size(size, kernel, stride, begin, end, dilation=1):
    """ONNX Conv's output size, written out: floor((in + pads - d*(k-1) - 1) / s) + 1."""
    return (size + begin + end - dilation * (kernel - 1) - 1) // stride + 1


def every_operator_model():
    """x[1,4,17,13] -> Conv (groups 2, dilations 2x1, pads t1 l0 b2 r1, 3x2 kernel, strides
    2x1) -> Relu -> depthwise Conv (auto_pad SAME_UPPER, stride 2) -> ConvTranspose (stride 2,
    output_padding 1, pads 1) -> Flatten -> Gemm (transB) -> Dropout -> Gemm (transA, a weight
    A times an activation) ...; and t[2,3,5,8] -> MatMul by a weight [8,6] (an initializer),
    MatMul of two activations (t times its transpose), MatMul by a Constant, 1-D Conv."""
    inits = [weight("w1", 8, 2, 3, 2), weight("w2", 8, 1, 3, 3), weight("w3", 8, 8, 4, 4),
             weight("g1", 10, 8 * 9 * 15), weight("g2", 10, 7), weight("m1", 8, 6),
             weight("c1d", 5, 3, 3)]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], name="conv", group=2, dilations=[2, 1],
                         pads=[1, 0, 2, 1], strides=[2, 1], kernel_shape=[3, 2]),
        helper.make_node("Relu", ["a"], ["a_relu"], name="relu"),
        helper.make_node("Conv", ["a_relu", "w2"], ["b"], name="dw", group=8,
                         auto_pad="SAME_UPPER", strides=[2, 2]),
        helper.make_node("ConvTranspose", ["b", "w3"], ["c"], name="up", strides=[2, 2],
                         pads=[1, 1, 1, 1], output_padding=[1, 1]),
        helper.make_node("Flatten", ["c"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "g1"], ["fc"], name="fc", transB=1),
        helper.make_node("Dropout", ["fc"], ["fc_d"], name="drop"),
        helper.make_node("Gemm", ["g2", "fc_d"], ["wx"], name="wx", transA=1, transB=1),
        helper.make_node("MatMul", ["t", "m1"], ["proj"], name="proj"),
        helper.make_node("Transpose", ["t"], ["tT"], name="tT", perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["t", "tT"], ["scores"], name="scores"),
        helper.make_node("Constant", [], ["k"], name="k",
                         value=numpy_helper.from_array(np.ones((5, 4), np.float32))),
        helper.make_node("Identity", ["scores"], ["scores_id"], name="id"),
        helper.make_node("MatMul", ["scores_id", "k"], ["ctx"], name="ctx"),
        helper.make_node("Conv", ["s", "c1d"], ["s_out"], name="conv1d", pads=[2, 0],
                         dilations=[2], strides=[1]),
        helper.make_node("Erf", ["s_out"], ["s_erf"], name="erf"),
    ]
    graph = helper.make_graph(nodes, "every_op",
                              [value("x", [1, 4, 17, 13]), value("t", [2, 3, 5, 8]),
                               value("s", [1, 3, 20])],
                              [value("wx", None), value("proj", None), value("ctx", None),
                               value("s_erf", None)], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def save(tmp_path, model, name="m.onnx"):
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def reference_shapes(model):
    """Every node output's shape, by running the graph on random inputs."""
    inputs = {i.name: RNG.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim])
              .astype(np.float32) for i in model.graph.input}
    names = [o for n in model.graph.node for o in n.output]
    return dict(zip(names, (np.shape(v) for v in ReferenceEvaluator(model).run(names, inputs))))


def test_every_supported_operator_and_attribute(tmp_path):
    model = every_operator_model()
    shapes = reference_shapes(model)
    layers, skipped = read_onnx(save(tmp_path, model), skip_unsupported=True)
    assert skipped == ["Erf (1)"]
    by_name = {layer.name: layer for layer in layers}
    assert list(by_name) == ["conv", "relu", "dw", "up", "fc", "wx", "proj", "tT", "scores",
                             "ctx", "conv1d"]             # Flatten, Dropout, Identity: nothing
    assert (by_name["relu"].kind, by_name["relu"].op, by_name["tT"].op) == ("vector", "relu",
                                                                           "transpose")

    conv = by_name["conv"]
    P, Q = out_size(17, 3, 2, 1, 2, dilation=2), out_size(13, 2, 1, 0, 1)
    assert shapes["a"] == (1, 8, P, Q) == (1, conv.K, conv.P, conv.Q)
    assert (conv.groups, conv.dilation, conv.paddings, conv.strides, conv.R, conv.S) == (
        2, (2, 1), (1, 0, 2, 1), (2, 1), 3, 2)
    assert conv.macs == 8 * 2 * 3 * 2 * P * Q

    dw = by_name["dw"]
    assert dw.kind == "depthwise" and shapes["b"] == (1, 8, dw.P, dw.Q) == (1, 8, 4, 7)
    total_rows, total_cols = (4 - 1) * 2 + 3 - P, (7 - 1) * 2 + 3 - Q     # SAME_UPPER
    assert dw.paddings == (total_rows // 2, total_cols // 2,
                           total_rows - total_rows // 2, total_cols - total_cols // 2)
    assert dw.macs == 8 * 9 * 4 * 7

    up = by_name["up"]
    assert up.kind == "transposed_conv" and shapes["c"] == (1, 8, up.P, up.Q) == (1, 8, 9, 15)
    assert up.macs == 8 * 8 * 4 * 4 * 4 * 7          # every input pixel scatters a 4x4 kernel

    fc, wx = by_name["fc"], by_name["wx"]
    assert (fc.kind, fc.P, fc.C, fc.K) == ("linear", 1, 8 * 9 * 15, 10)
    assert shapes["fc"] == (1, 10) and fc.macs == 8 * 9 * 15 * 10
    # wx = g2^T (7 x 10) times fc_d^T (10 x 1): a weight on the left
    assert shapes["wx"] == (7, 1) and wx.macs == 7 * 10 * 1 and wx.kind == "linear"

    proj, scores, ctx = by_name["proj"], by_name["scores"], by_name["ctx"]
    assert shapes["proj"] == (2, 3, 5, 6)
    assert (proj.kind, proj.P, proj.C, proj.K, proj.N) == ("gemm", 2 * 3 * 5, 8, 6, 1)
    assert shapes["scores"] == (2, 3, 5, 5)
    assert (scores.kind, scores.N, scores.P, scores.C, scores.K) == ("matmul", 6, 5, 8, 5)
    assert (ctx.kind, ctx.P, ctx.C, ctx.K) == ("gemm", 30, 5, 4)    # a Constant is a weight

    conv1d = by_name["conv1d"]
    assert shapes["s_out"] == (1, 5, conv1d.Q) and conv1d.Q == out_size(20, 3, 1, 2, 0, 2)
    assert (conv1d.P, conv1d.paddings, conv1d.dilation) == (1, (0, 2, 0, 0), (1, 2))
    assert sum(layer.macs for layer in layers) == sum(
        [conv.macs, dw.macs, up.macs, 8 * 9 * 15 * 10, 70, 30 * 8 * 6, 6 * 5 * 8 * 5,
         30 * 5 * 4, 5 * 3 * 3 * conv1d.Q])


def test_unsupported_operators_are_named_in_one_line(tmp_path):
    with pytest.raises(SpecError) as error:
        read_onnx(save(tmp_path, every_operator_model()))
    message = str(error.value)
    assert "\n" not in message
    assert message == ("m.onnx: unsupported ONNX operators Erf (1); --skip-unsupported leaves "
                       "them out")


def test_batch_norm_folds_into_the_conv_it_alone_reads(tmp_path):
    """conv1 -> bn1 folds; conv2's output is read by bn2 and by the graph output, and bn3
    reads a Relu: neither folds, both are vector layers."""
    norm = [weight(f"bn.{p}", 8) for p in ("scale", "bias", "mean", "var")]
    names = [t.name for t in norm]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c1", *names], ["b1"], name="bn1"),
             helper.make_node("Conv", ["b1", "w8"], ["c2"], name="conv2"),
             helper.make_node("BatchNormalization", ["c2", *names], ["b2"], name="bn2"),
             helper.make_node("Relu", ["b2"], ["r"], name="relu"),
             helper.make_node("BatchNormalization", ["r", *names], ["b3"], name="bn3")]
    graph = helper.make_graph(nodes, "bn", [value("x", [1, 3, 8, 8])],
                              [value("b3", None), value("c2", None)],
                              initializer=[weight("w", 8, 3, 3, 3), weight("w8", 8, 8, 1, 1),
                                           *norm])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    layers, skipped = read_onnx(save(tmp_path, model), skip_unsupported=True)
    assert [(layer.name, layer.op) for layer in layers] == [
        ("conv1", None), ("conv2", None), ("bn2", "batchnorm"), ("relu", "relu"),
        ("bn3", "batchnorm")]
    assert skipped == []


def test_weights_in_absent_external_data_still_import(tmp_path):
    model = every_operator_model()
    path = tmp_path / "ext.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.data", size_threshold=0)
    (tmp_path / "ext.data").unlink()
    layers, _ = read_onnx(path, skip_unsupported=True)
    expected, _ = read_onnx(save(tmp_path, every_operator_model()), skip_unsupported=True)
    assert layers == expected


def dynamic_model():
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="c", pads=[1, 1, 1, 1])
    graph = helper.make_graph([node], "dyn", [value("x", ["batch", 3, "h", 32])],
                              [value("y", None)], initializer=[weight("w", 16, 3, 3, 3)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_dynamic_dimension_needs_an_input_shape(tmp_path):
    path = save(tmp_path, dynamic_model())
    with pytest.raises(SpecError, match=r"input 'x' has a dynamic dimension \(batch, h\); fix it "
                                        r"with --input-shape x=1x3x1x32"):
        read_onnx(path)
    [layer], _ = read_onnx(path, {"x": (2, 3, 24, 32)})
    assert (layer.N, layer.P, layer.Q) == (2, 24, 32) and layer.macs == 2 * 16 * 27 * 24 * 32
    with pytest.raises(SpecError, match="--input-shape names y, not an input of the graph"):
        read_onnx(path, {"y": (1, 2)})


@pytest.mark.parametrize("text", ["x", "x=", "=1x2", "x=1xa", "x=0x3"])
def test_bad_input_shapes(text):
    with pytest.raises(SpecError, match="expected NAME=DxDx"):
        parse_input_shape(text)
    assert parse_input_shape("in:0=1x3x224x224") == ("in:0", (1, 3, 224, 224))


def test_truncated_and_malformed_files_are_one_line(tmp_path):
    good = save(tmp_path, every_operator_model()).read_bytes()
    cases = {"truncated.onnx": good[: len(good) // 2], "text.onnx": b"not a model\n" * 10,
             "empty.onnx": b""}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(SpecError) as error:
            read_onnx(path, skip_unsupported=True)
        assert name in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("node, message", [
    (helper.make_node("Conv", ["x"], ["y"], name="c"),
     "node 'c' \\(Conv\\) is malformed \\(IndexError"),
    (helper.make_node("LRN", ["x"], ["y"], name="l"),
     "node 'l' \\(LRN\\) is malformed \\(KeyError: 'size'\\)"),
    (helper.make_node("MatMul", ["x", "w"], ["y"], name="m"), "ONNX shape inference failed"),
    (helper.make_node("Conv", ["x", "w"], ["y"], name="c", group=2),
     "node 'c' \\(Conv\\): layer 'c': groups=2 must divide C=3 and K=4"),
])
def test_malformed_nodes_are_one_line(tmp_path, node, message):
    graph = helper.make_graph([node], "bad", [value("x", [1, 3, 8, 8])], [value("y", None)],
                              initializer=[weight("w", 4, 3, 3, 3)])
    path = save(tmp_path, helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    with pytest.raises(SpecError, match=message) as error:
        read_onnx(path)
    assert "\n" not in str(error.value)


def test_load_network_reads_onnx_and_refuses_onnx_options_for_other_networks(tmp_path):
    path = save(tmp_path, dynamic_model(), "dyn.onnx")
    net = load_network(path, batch=2, input_shapes={"x": (1, 3, 8, 32)})
    assert net.name == "dyn" and net.layers[0].N == 2 and net.skipped == ()
    with pytest.raises(SpecError, match="--input-shape and --skip-unsupported are for ONNX"):
        load_network("resnet18", input_shapes={"x": (1,)})
    with pytest.raises(SpecError, match="network file 'gone.onnx' does not exist"):
        load_network("gone.onnx")


ZIGZAG_DIRS = [os.environ.get("ZIGZAG_WORKLOADS", ""),
               *map(str, Path(__file__).parents[2].glob(
                   "bench/_work/*/lib/python3*/site-packages/zigzag/inputs/workload"))]


def zigzag_file(name):
    for folder in filter(None, ZIGZAG_DIRS):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    pytest.skip(f"ZigZag's {name} is not here (set ZIGZAG_WORKLOADS to the folder "
                f"zigzag/inputs/workload of an unpacked zigzag-dse 3.9.1 wheel)")


@pytest.mark.parametrize("file, preset", [("resnet18.onnx", "resnet18"),
                                          ("mobilenetv2.onnx", "mobilenet_v2")])
def test_zigzag_shipped_models_have_the_presets_macs(file, preset):
    layers, skipped = read_onnx(zigzag_file(file))      # every operator imports
    assert sum(layer.macs for layer in layers) == load_network(preset).macs
    assert skipped == [] and any(layer.kind == "vector" for layer in layers)


def test_zigzag_alexnet_imports():
    """ZigZag's alexnet.onnx is the ONNX model zoo's (Caffe) AlexNet: 96-256-384-384-256
    filters with grouped conv2, conv4 and conv5 and a 224x224 input, not the torchvision
    network of the `alexnet` preset; its total is checked against that architecture here."""
    layers, _ = read_onnx(zigzag_file("alexnet.onnx"))
    caffe = (96 * 3 * 11 * 11 * 54 * 54 + 256 * 48 * 5 * 5 * 26 * 26 + 384 * 256 * 3 * 3 * 12 * 12
             + 384 * 192 * 3 * 3 * 12 * 12 + 256 * 192 * 3 * 3 * 12 * 12
             + 9216 * 4096 + 4096 * 4096 + 4096 * 1000)
    assert sum(layer.macs for layer in layers) == caffe


def vector_model():
    """x[1,8,9,9] through every non-MAC operator the import turns into a vector layer."""
    inits = [weight("bias", 8, 1, 1), *(weight(f"bn.{p}", 8) for p in "sbmv"),
             weight("ln.w", 9), weight("ln.b", 9)]
    nodes = [
        helper.make_node("Relu", ["x"], ["relu"], name="relu"),
        helper.make_node("Clip", ["relu"], ["clip"], name="clip"),
        helper.make_node("Sigmoid", ["clip"], ["sig"], name="sigmoid"),
        helper.make_node("Tanh", ["sig"], ["tanh"], name="tanh"),
        helper.make_node("Gelu", ["tanh"], ["gelu"], name="gelu"),
        helper.make_node("BatchNormalization", ["gelu", *(f"bn.{p}" for p in "sbmv")], ["bn"],
                         name="bn"),
        helper.make_node("Add", ["bn", "bias"], ["biased"], name="bias_add"),
        helper.make_node("Mul", ["biased", "relu"], ["gated"], name="gate"),
        helper.make_node("Sub", ["gated", "x"], ["diff"], name="residual"),
        helper.make_node("Div", ["diff", "bias"], ["scaled"], name="scale"),
        helper.make_node("MaxPool", ["scaled"], ["mp"], name="maxpool", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("AveragePool", ["scaled"], ["ap"], name="avgpool", kernel_shape=[2, 2],
                         strides=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("Concat", ["mp", "ap"], ["cat"], name="concat", axis=1),
        helper.make_node("LRN", ["cat"], ["lrn"], name="lrn", size=5),
        helper.make_node("GlobalAveragePool", ["lrn"], ["gap"], name="gap"),
        helper.make_node("GlobalMaxPool", ["lrn"], ["gmp"], name="gmp"),
        helper.make_node("Transpose", ["scaled"], ["t"], name="transpose", perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["t", "shape"], ["rows"], name="reshape"),
        helper.make_node("LayerNormalization", ["rows", "ln.w", "ln.b"], ["ln"], name="ln"),
        helper.make_node("Softmax", ["ln"], ["sm"], name="softmax", axis=-1),
    ]
    shape = numpy_helper.from_array(np.array([8 * 9, 9], np.int64), "shape")
    graph = helper.make_graph(nodes, "vec", [value("x", [1, 8, 9, 9])],
                              [value("gap", None), value("gmp", None), value("sm", None)],
                              initializer=[*inits, shape])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])


# onnx's reference evaluator on random data: a negative variance, an all-padding window
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_non_mac_operators_become_vector_layers(tmp_path):
    from dlaforge.workloads.vector_ops import vector_work
    model = vector_model()
    shapes = reference_shapes(model)
    layers, skipped = read_onnx(save(tmp_path, model))
    assert skipped == []
    by_name = {layer.name: layer for layer in layers}
    assert [(n, l.op) for n, l in by_name.items()] == [
        ("relu", "relu"), ("clip", "clip"), ("sigmoid", "sigmoid"), ("tanh", "tanh"),
        ("gelu", "gelu"), ("bn", "batchnorm"), ("bias_add", "add"), ("gate", "mul_tensors"),
        ("residual", "add_tensors"), ("scale", "div"), ("maxpool", "maxpool"),
        ("avgpool", "avgpool"), ("concat", "concat"), ("lrn", "lrn"), ("gap", "avgpool"),
        ("gmp", "maxpool"), ("transpose", "transpose"), ("ln", "layernorm"),
        ("softmax", "softmax")]                                  # Reshape: nothing
    assert all(layer.macs == 0 and layer.kind == "vector" for layer in layers)
    for name in ("maxpool", "avgpool", "gap"):
        layer = by_name[name]
        assert shapes[{"maxpool": "mp", "avgpool": "ap", "gap": "gap"}[name]] == (
            1, layer.K, layer.P, layer.Q)
    assert vector_work(by_name["maxpool"], 8).ops == {"max": 8 * 5 * 5 * 8}
    assert vector_work(by_name["gap"], 8).ops == {"add": 16 * 24, "mult": 16}
    lrn = by_name["lrn"]
    assert (lrn.C, lrn.R) == (16, 5) and vector_work(lrn, 8).ops["add"] == 16 * 25 * 5
    gate = vector_work(by_name["gate"], 8)
    assert (gate.read_elements, gate.write_elements) == (2 * 648, 648)
    assert vector_work(by_name["bias_add"], 8).read_elements == 648
    ln, sm = by_name["ln"], by_name["softmax"]
    assert (ln.C, ln.H, sm.C, sm.H) == (9, 72, 9, 72)
    assert vector_work(sm, 8).ops == {"max": 72 * 8, "add": 72 * 17, "exp": 72 * 9,
                                      "div": 72 * 9}


def test_remaining_attributes(tmp_path):
    """Conv auto_pad SAME_LOWER and VALID, ConvTranspose output_shape (pads derived), MatMul
    with the weight on the left, Squeeze/Unsqueeze passed over, RMSNormalization."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["lower"], name="same_lower", auto_pad="SAME_LOWER",
                         strides=[2, 3]),
        helper.make_node("Conv", ["x", "w"], ["valid"], name="valid", auto_pad="VALID"),
        helper.make_node("ConvTranspose", ["valid", "wt"], ["up"], name="up", strides=[2, 2],
                         output_shape=[12, 11]),
        helper.make_node("Unsqueeze", ["v", "axes"], ["v4"], name="unsqueeze"),
        helper.make_node("Squeeze", ["v4", "axes"], ["v3"], name="squeeze"),
        helper.make_node("MatMul", ["left", "v3"], ["wx"], name="wx"),
        helper.make_node("RMSNormalization", ["v3", "scale"], ["rms"], name="rms", axis=-1),
    ]
    inits = [weight("w", 4, 3, 3, 4), weight("wt", 4, 2, 3, 3), weight("left", 6, 5),
             weight("scale", 7), numpy_helper.from_array(np.array([0], np.int64), "axes")]
    graph = helper.make_graph(nodes, "rest", [value("x", [1, 3, 9, 10]), value("v", [2, 5, 7])],
                              [value("up", None), value("wx", None), value("rms", None)],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    layers, skipped = read_onnx(save(tmp_path, model))
    by_name = {layer.name: layer for layer in layers}
    assert skipped == [] and list(by_name) == ["same_lower", "valid", "up", "wx", "rms"]
    lower = by_name["same_lower"]
    # SAME: out = ceil(in / stride); total padding (out-1)*s + k - in, the extra one before
    assert (lower.P, lower.Q) == (5, 4)
    rows, cols = (5 - 1) * 2 + 3 - 9, (4 - 1) * 3 + 4 - 10
    assert lower.paddings == (rows - rows // 2, cols - cols // 2, rows // 2, cols // 2)
    valid = by_name["valid"]
    assert (valid.P, valid.Q, valid.paddings) == (7, 7, (0, 0, 0, 0))
    up = by_name["up"]
    # ONNX: total = 2*(7-1) + 3 - out (rows 3, cols 4); not SAME_UPPER: start = total -
    # total//2, end = total//2
    assert (up.P, up.Q) == (12, 11)
    assert up.paddings == (2, 2, 1, 2)
    assert up.macs == 2 * 4 * 7 * 7 * 9
    wx = by_name["wx"]                         # (6 x 5) by (5 x 7), twice: rows are columns
    assert (wx.kind, wx.P, wx.C, wx.K) == ("gemm", 14, 5, 6) and wx.macs == 2 * 6 * 5 * 7
    rms = by_name["rms"]
    assert (rms.op, rms.C, rms.H) == ("rmsnorm", 7, 10)
