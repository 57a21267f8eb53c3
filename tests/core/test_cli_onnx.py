"""`dlaforge simulate --network model.onnx`: --skip-unsupported warns in one stderr line,
--input-shape fixes a dynamic input; bad models are one line, exit 2, nothing written; records
of the new layer features read back."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from dlaforge.cli import main
from dlaforge.errors import SpecError
from dlaforge.saved_records import load_records


def small_model(path, batch="N"):
    """Conv 3->8 3x3 pad 1 over a 16x16 input, Erf (not imported), then a 1x1 Conv 8->4."""
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
             for n, s in (("w1", (8, 3, 3, 3)), ("w2", (4, 8, 1, 1)))]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Erf", ["a"], ["r"], name="erf1"),
             helper.make_node("Conv", ["r", "w2"], ["y"], name="conv2")]
    graph = helper.make_graph(nodes, "small",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             [batch, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_onnx_network_with_skip_unsupported_and_input_shape(tmp_path, capsys):
    model, out = small_model(tmp_path / "small.onnx"), tmp_path / "r.json"
    assert main(["simulate", "--arch", "edge_tiny", "--network", str(model), "--quiet",
                 "--input-shape", "x=2x3x16x16", "--skip-unsupported", "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert err == "dlaforge: warning: left out unsupported ONNX operators Erf (1)\n"
    record = json.loads(out.read_text())
    assert record["network"] == "small"
    assert [layer["name"] for layer in record["layers"]] == ["conv1", "conv2"]
    assert record["totals"]["macs"] == 2 * (8 * 3 * 9 + 4 * 8) * 16 * 16


def run_bad(tmp_path, capsys, args):
    out = tmp_path / "r.json"
    assert main(["simulate", "--arch", "edge_tiny", "--json", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert not out.exists() and err.count("\n") == 1
    return err


def test_bad_onnx_input_is_one_line_exit_2_and_no_file(tmp_path, capsys):
    model = small_model(tmp_path / "small.onnx")
    err = run_bad(tmp_path, capsys, ["--network", str(model), "--input-shape", "x=2x3x16x16"])
    assert "unsupported ONNX operators Erf (1); --skip-unsupported leaves them out" in err
    err = run_bad(tmp_path, capsys, ["--network", str(model), "--skip-unsupported"])
    assert "input 'x' has a dynamic dimension (N); fix it with --input-shape x=1x3x16x16" in err
    truncated = tmp_path / "cut.onnx"
    truncated.write_bytes(model.read_bytes()[:200])
    err = run_bad(tmp_path, capsys, ["--network", str(truncated), "--skip-unsupported"])
    assert "cut.onnx" in err
    err = run_bad(tmp_path, capsys, ["--network", "resnet18", "--skip-unsupported"])
    assert "are for ONNX models, not 'resnet18'" in err
    err = run_bad(tmp_path, capsys, ["--network", str(model), "--input-shape", "x=2by3"])
    assert "expected NAME=DxDx..." in err


def test_saved_records_of_the_new_layer_features_load_back(tmp_path):
    """A record holding a dilated conv with pads, a vector layer (its `op`) and a matmul is
    read back by the --from-json path, and a bad pads entry is one line."""
    net = tmp_path / "feat.yaml"
    net.write_text("layers:\n"
                   "  - {name: dil, kind: conv2d, C: 8, K: 8, H: 16, R: 3, pads: [2, 2, 2, 1],"
                   " dilation: [2, 2]}\n"
                   "  - {name: relu, kind: vector, op: relu, C: 8, H: 16, W: 15}\n"
                   "  - {name: qk, kind: matmul, N: 2, P: 16, C: 8, K: 16}\n")
    out = tmp_path / "r.json"
    assert main(["simulate", "--arch", "tpu_like", "--network", str(net), "--quiet",
                 "--json", str(out)]) == 0
    [record] = load_records([out])
    assert [layer.shape.get("op") for layer in record.layers] == [None, "relu", None]
    assert record.layers[0].shape["pads"] == [2, 2, 2, 1]
    data = json.loads(out.read_text())
    data["layers"][0]["shape"]["pads"] = [2, -1, 2, 1]
    out.write_text(json.dumps(data))
    with pytest.raises(SpecError, match="shape.pads` must be a non-negative integer, not -1"):
        load_records([out])
