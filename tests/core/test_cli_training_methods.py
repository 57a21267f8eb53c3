"""`dlaforge simulate --phase train --method <training method>` end to end, and its bad input
(one line on stderr, exit 2)."""

import json

import pytest

from dlaforge.cli import main

NET = """\
name: two_convs
layers:
  - {name: c1, kind: conv2d, C: 3, K: 8, H: 16, R: 3, padding: 1}
  - {name: c2, kind: conv2d, C: 8, K: 8, H: 16, R: 3, padding: 1}
"""


def _run(tmp_path, name, *extra):
    (tmp_path / "net.yaml").write_text(NET)
    out = tmp_path / f"{name}.json"
    code = main(["simulate", "--arch", "edge_tiny", "--network", str(tmp_path / "net.yaml"),
                 "--phase", "train", "--quiet", "--json", str(out), *extra])
    return code, (json.loads(out.read_text()) if code == 0 else None)


def test_gradient_filter_run_records_its_method_and_saves_work(tmp_path):
    _, base = _run(tmp_path, "base")
    code, data = _run(tmp_path, "gf", "--method", "gradient_filter", "--filter-patch", "2")
    assert code == 0
    assert data["training"] == {"optimizer": "sgd", "grad_bits": 16, "state_bits": 32,
                                "method": "gradient_filter", "options": {"filter_patch": 2}}
    assert data["totals"]["macs"] == base["totals"]["macs"]           # nominal, as the issue says
    assert data["totals"]["ops"]["mult"] < base["totals"]["ops"]["mult"]
    assert data["totals"]["peak_memory_bytes"] < base["totals"]["peak_memory_bytes"]


def test_sparse_update_with_a_policy_file(tmp_path):
    (tmp_path / "policy.yaml").write_text("layers: {c2: 0.5}\n")
    code, data = _run(tmp_path, "su", "--method", "sparse_update", "--train-policy",
                      str(tmp_path / "policy.yaml"))
    assert code == 0 and data["training"]["grad_bits"] == 8
    phases = [[o["phase"] for o in layer["mapping"]["ops"]] for layer in data["layers"]]
    # dW and the update each followed by the biases' (dBias, bias_update)
    assert phases == [["forward"], ["forward", "loss", "dW", "dW", "update", "update"]]


@pytest.mark.parametrize("extra, message", [
    (["--method", "comet", "--compress-ratio", "0"], "--compress-ratio must be a positive number"),
    (["--method", "comet", "--compress-ratio", "0.5"], "a finite ratio of at least 1"),
    (["--method", "comet", "--compress-ratio", "inf"], "a finite ratio of at least 1"),
    (["--method", "comet", "--train-blocks", "2"], "--train-blocks is not an option of method"),
    (["--method", "mobiletl", "--train-blocks", "0"], "--train-blocks must be a positive"),
    (["--method", "sparse_update", "--train-policy", "missing.yaml"], "does not exist"),
])
def test_bad_training_input_is_one_line_and_exit_2(tmp_path, capsys, extra, message):
    code, _ = _run(tmp_path, "bad", *extra)
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_training_options_are_refused_under_infer(tmp_path, capsys):
    (tmp_path / "net.yaml").write_text(NET)
    assert main(["simulate", "--arch", "edge_tiny", "--network", str(tmp_path / "net.yaml"),
                 "--method", "comet", "--compress-ratio", "4", "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == \
        "dlaforge: error: --compress-ratio applies to --phase train"
