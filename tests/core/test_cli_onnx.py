"""`dlaforge simulate --network model.onnx`: --skip-unsupported warns in one stderr line,
--input-shape fixes a dynamic input; bad models are one line, exit 2, nothing written."""

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dlaforge.cli import main


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
