"""`dlaforge simulate --phase train` end to end: the JSON record, the tables, bad input."""

import json

from dlaforge.cli import main

SMALL = "name, M, N, K,\nfc1, 8, 16, 8,\nfc2, 8, 8, 16,\n"


def test_simulate_train_writes_peak_memory_and_the_phase_ops(tmp_path, capsys):
    (tmp_path / "g.csv").write_text(SMALL)
    out = tmp_path / "r.json"
    assert main(["simulate", "--arch", "edge_tiny", "--network", str(tmp_path / "g.csv"),
                 "--phase", "train", "--optimizer", "adam", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["phase"] == "train" and data["training"] == {
        "optimizer": "adam", "grad_bits": 16, "state_bits": 32}
    assert data["totals"]["peak_memory_bytes"] > 0
    assert all(layer["peak_memory_bytes"] > 0 for layer in data["layers"])
    assert data["totals"]["macs"] == 3 * (8 * 16 * 8 + 8 * 8 * 16) - 8 * 16 * 8
    assert [o["op"] for o in data["layers"][1]["mapping"]["ops"]] == [   # biases: dBias, ...
        "fc2", "fc2.loss", "fc2.dX", "fc2.dW", "fc2.dBias", "fc2.update", "fc2.bias_update"]
    assert [o["phase"] for o in data["layers"][1]["mapping"]["ops"]] == [
        "forward", "loss", "dX", "dW", "dW", "update", "update"]
    assert "fc2" in capsys.readouterr().out                        # the tables still print
    # a report of the saved training record says what it is
    assert main(["report", "--from-json", str(out), "--out", str(tmp_path / "rep"),
                 "--no-area"]) == 0
    assert "one training iteration per run" in (tmp_path / "rep" / "report.md").read_text()


def test_report_phase_train_runs_training_and_mixed_phases_are_refused(tmp_path, capsys):
    (tmp_path / "g.csv").write_text(SMALL)
    assert main(["report", "--arch", "edge_tiny", "--network", str(tmp_path / "g.csv"),
                 "--methods", "baseline", "--dataflows", "ws", "--phase", "train",
                 "--optimizer", "adam", "--no-area", "--out", str(tmp_path / "rep")]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "one training iteration per run" in text and "adam update" in text
    for phase in ("infer", "train"):
        assert main(["simulate", "--arch", "edge_tiny", "--network", str(tmp_path / "g.csv"),
                     "--dataflow", "ws" if phase == "infer" else "os", "--phase", phase,
                     "--quiet", "--json", str(tmp_path / f"{phase}.json")]) == 0
    capsys.readouterr()
    assert main(["report", "--from-json", str(tmp_path / "infer.json"),
                 str(tmp_path / "train.json"), "--out", str(tmp_path / "mixed")]) == 2
    assert "different phases (infer, train)" in capsys.readouterr().err


def test_simulate_infer_json_has_peak_memory(tmp_path):
    (tmp_path / "g.csv").write_text(SMALL)
    out = tmp_path / "r.json"
    assert main(["simulate", "--arch", "edge_tiny", "--network", str(tmp_path / "g.csv"),
                 "--quiet", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    # weights (16 x 8 + 8 x 16 B) and the largest input + output pair (fc1: 8 x 8 rows x
    # in-features in, 8 x 16 out; fc2 the same the other way round)
    assert data["phase"] == "infer" and data["totals"]["peak_memory_bytes"] == 256 + 64 + 128


def test_model_rtl_records_have_the_same_peak_memory(tmp_path):
    (tmp_path / "one.csv").write_text("name, M, N, K,\nfc, 8, 8, 8,\n")
    runs = {}
    for model in ("analytical", "rtl"):
        out = tmp_path / f"{model}.json"
        assert main(["simulate", "--arch", "edge_tiny", "--network", str(tmp_path / "one.csv"),
                     "--model", model, "--quiet", "--json", str(out)]) == 0
        runs[model] = json.loads(out.read_text())
    # 64 weights, 64 inputs, 64 outputs, one byte each
    assert runs["rtl"]["totals"]["peak_memory_bytes"] == runs["analytical"]["totals"][
        "peak_memory_bytes"] == 192
