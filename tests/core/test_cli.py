"""The CLI contract: JSON keys, CSV rows, tables, and bad input as one stderr line, exit 2,
no output file."""

import csv
import json
import subprocess
import sys

import pytest

import dlaforge
from dlaforge.cli import main

TOTAL_KEYS = {"macs", "cycles", "compute_cycles", "stall_cycles", "utilization", "energy_pj",
              "energy_breakdown_pj", "dram_read_bytes", "dram_write_bytes", "sram_read_bytes",
              "sram_write_bytes", "weight_storage_bits", "ops", "accesses"}


def test_simulate_writes_the_contracted_json_and_csv(tmp_path, capsys):
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    assert main(["simulate", "--arch", "gemmini_like", "--network", "alexnet", "--dataflow", "ws",
                 "--json", str(out_json), "--csv", str(out_csv)]) == 0
    data = json.loads(out_json.read_text())
    assert {"dlaforge_version", "arch", "network", "dataflow", "model", "method", "batch",
            "totals", "layers"} <= set(data)
    assert (data["arch"], data["network"], data["dataflow"], data["model"], data["method"],
            data["batch"]) == ("gemmini_like", "alexnet", "ws", "analytical", "baseline", 1)
    assert TOTAL_KEYS <= set(data["totals"])
    # "requant": the controller's requantization stage on every output (priced outright)
    assert set(data["totals"]["energy_breakdown_pj"]) == {"mac", "rf", "noc", "sram", "dram",
                                                          "requant"}
    assert set(data["totals"]["accesses"]) == {"pe_reg", "scratchpad", "accumulator", "dram"}
    layer = data["layers"][0]
    assert TOTAL_KEYS | {"name", "kind", "shape"} <= set(layer)
    assert set(layer["shape"]) >= {"N", "K", "C", "P", "Q", "R", "S", "stride", "groups"}
    # the API returns the same record
    api = dlaforge.simulate("gemmini_like", "alexnet", dataflow="ws").to_json()
    assert api == data
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["layer"] for r in rows] == [l["name"] for l in data["layers"]] + ["TOTAL"]
    assert int(rows[-1]["cycles"]) == data["totals"]["cycles"]
    assert float(rows[-1]["energy_pj"]) == pytest.approx(data["totals"]["energy_pj"])
    table = capsys.readouterr().out
    assert "alexnet on gemmini_like, dataflow ws" in table and "TOTAL" in table


def test_dataflow_all_gives_one_record_per_supported_dataflow(tmp_path):
    out = tmp_path / "all.json"
    assert main(["simulate", "--arch", "tpu_like", "--network", "resnet18", "--dataflow", "all",
                 "--json", str(out), "--quiet"]) == 0
    assert [r["dataflow"] for r in json.loads(out.read_text())] == ["ws", "os", "is"]


def test_list(capsys):
    for what, expected in [("archs", "tpu_like"), ("networks", "1.814 GMAC"),
                           ("methods", "baseline"), ("dataflows", "rs")]:
        assert main(["list", what]) == 0
        assert expected in capsys.readouterr().out


BAD_YAML = "pe_array: [1, 2\n"
ZERO_ROWS = "pe_array: {rows: 0, cols: 4, dataflows: [ws]}\nmemory: []\n"
NEG_SIZE = ("pe_array: {rows: 4, cols: 4, dataflows: [ws]}\n"
            "memory: [{name: buf, size_bytes: -1, operands: [ifmap, weight, ofmap]}]\n")
TINY_BUF = ("pe_array: {rows: 4, cols: 4, dataflows: [ws]}\n"
            "memory: [{name: buf, size_bytes: 64, operands: [ifmap, weight, ofmap]}]\n")


@pytest.mark.parametrize("args, files, message", [
    (["--arch", "nope", "--network", "resnet18"], {}, "unknown arch 'nope'"),
    (["--arch", "tpu_like", "--network", "lenet"], {}, "unknown network 'lenet'"),
    (["--arch", "{d}/missing.yaml", "--network", "resnet18"], {}, "does not exist"),
    (["--arch", "{d}/bad.yaml", "--network", "resnet18"], {"bad.yaml": BAD_YAML}, "not valid YAML"),
    (["--arch", "{d}/bad.cfg", "--network", "resnet18"], {"bad.cfg": "[general]\n"}, "malformed"),
    (["--arch", "tpu_like", "--network", "{d}/bad.csv"], {"bad.csv": "h\nL, 1, x,\n"}, "expected integers"),
    (["--arch", "{d}/zero.yaml", "--network", "resnet18"], {"zero.yaml": ZERO_ROWS}, "`pe_array.rows` must be a positive integer, not 0"),
    (["--arch", "{d}/neg.yaml", "--network", "resnet18"], {"neg.yaml": NEG_SIZE}, "size_bytes` must be a positive integer, not -1"),
    (["--arch", "{d}/tiny.yaml", "--network", "resnet18"], {"tiny.yaml": TINY_BUF}, "too small for any tile"),
    (["--arch", "eyeriss_like", "--network", "resnet18", "--dataflow", "ws"], {}, "does not support dataflow 'ws'"),
    (["--arch", "tpu_like", "--network", "resnet18", "--method", "magic"], {}, "unknown method 'magic'"),
    (["--arch", "eyeriss_like", "--network", "resnet18", "--model", "rtl"], {}, "--model rtl runs the controller's dataflows (ws, os, is), not rs"),
    (["--arch", "tpu_like", "--network", "resnet18", "--batch", "0"], {}, "`batch` must be a positive integer, not 0"),
    (["--arch", "tpu_like", "--network", "resnet18", "--json", "{d}/no/such/dir/r.json"], {}, "does not exist"),
    (["--arch", "tpu_like"], {}, "the following arguments are required: --network"),
])
def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path, capsys, args, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    out = tmp_path / "out"
    out.mkdir()
    args = [a.format(d=tmp_path) for a in args]
    extra = [] if "--json" in args else ["--json", str(out / "r.json"), "--csv", str(out / "r.csv")]
    assert main(["simulate", *args, *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dlaforge: error: ")
    assert message in err
    assert list(out.iterdir()) == []


def test_the_installed_command_fails_without_a_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "dlaforge.cli", "simulate", "--arch", "nope",
                             "--network", "resnet18"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("dlaforge: error: unknown arch 'nope'")
    assert "Traceback" not in result.stderr and result.stdout == ""
