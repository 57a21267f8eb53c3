"""`dlaforge rtl generate|verify` and `simulate --model rtl`: outputs, and bad input as one
stderr line, exit 2, nothing written."""

import json

import pytest

from dlaforge.arch import load_arch
from dlaforge.cli import main
from dlaforge.sim.cycle.rtl_timing import gemm_of, rtl_op_stats, rtl_timing
from dlaforge.sim.energy import energy_table
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.networks import load_network

TINY_CSV = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
            "Num Filter, Strides,\nc1, 6, 6, 3, 3, 2, 5, 1,\nc2, 5, 5, 1, 1, 4, 3, 1,\n")


def test_generate_writes_verilog_and_a_manifest_of_its_ports(tmp_path, capsys):
    out = tmp_path / "gen"
    assert main(["rtl", "generate", "--arch", "edge_tiny", "--out", str(out), "--stats"]) == 0
    verilog = (out / "dlaforge_accel.v").read_text()
    manifest = json.loads((out / "dlaforge_accel.json").read_text())
    assert "module dlaforge_accel(" in verilog
    ports = {p["name"]: p for p in manifest["ports"]}
    for name, port in ports.items():
        assert f"{port['direction']}put " in verilog and f" {name};" in verilog
    assert set(ports["perf"]["fields"]) >= {"cycles", "dram_read_bytes", "acc_writes"}
    assert manifest["parameters"]["rows"] == 4 and manifest["parameters"]["dataflows"] == ["ws", "os", "is"]
    assert manifest["parameters"]["dataflow_codes"] == {"ws": 0, "os": 1, "is": 2}
    printed = capsys.readouterr().out
    assert "$mul(8x8x16) 16" in printed and "$mul(8x8x16) 1," in printed


def test_bad_input_is_one_line_exit_2_and_no_files(tmp_path, capsys):
    small = tmp_path.parent / f"{tmp_path.name}_small.yaml"
    small.write_text("base: edge_tiny\nname: small\nmemory:\n"
                     "  - {name: scratchpad, size_bytes: 16, operands: [ifmap, weight]}\n"
                     "  - {name: accumulator, size_bytes: 4096, operands: [ofmap]}\n")
    csv = tmp_path.parent / f"{tmp_path.name}_tiny.csv"
    csv.write_text(TINY_CSV)
    cases = [["rtl", "generate", "--arch", str(small), "--out", str(tmp_path / "s")],
             ["simulate", "--arch", "eyeriss_like", "--network", str(csv), "--model", "rtl"],
             ["rtl", "generate", "--arch", "eyeriss_like", "--out", str(tmp_path / "a")],
             ["rtl", "generate", "--arch", "edge_tiny", "--out", str(tmp_path / "no" / "b")],
             ["rtl", "generate", "--arch", "edge_tiny", "--method", "xnor",
              "--out", str(tmp_path / "c")],
             ["rtl", "verify", "--arch", "nope"],
             ["simulate", "--arch", "edge_tiny", "--network", "resnet18", "--model", "rtl"],
             ["simulate", "--arch", "edge_tiny", "--network", "resnet18", "--model", "rtl",
              "--method", "xnor"]]
    for argv in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        err = captured.err
        assert err.startswith("dlaforge: error: ") and err.count("\n") == 1, err
        assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_simulate_model_rtl_reports_the_counters_the_timing_model_predicts(tmp_path):
    csv = tmp_path / "tiny.csv"
    csv.write_text(TINY_CSV)
    out = tmp_path / "r.json"
    assert main(["simulate", "--arch", "edge_tiny", "--network", str(csv), "--model", "rtl",
                 "--dataflow", "os", "--json", str(out), "--quiet"]) == 0
    record = json.loads(out.read_text())
    arch = load_arch("edge_tiny")
    table = energy_table(arch)
    for layer, row in zip(load_network(str(csv)).layers, record["layers"]):
        (op,) = get_method("baseline", arch).transform(layer, arch)
        assert row["cycles"] == rtl_timing(arch, "os", gemm_of(op)).cycles
        predicted = rtl_op_stats(arch, op, "os", table).to_dict()
        for key in ("cycles", "compute_cycles", "dram_read_bytes", "dram_write_bytes",
                    "sram_read_bytes", "sram_write_bytes", "accesses"):
            assert row[key] == predicted[key], key
        assert row["energy_pj"] == pytest.approx(predicted["energy_pj"]) and row["energy_pj"] > 0
        assert row["macs"] == layer.macs


def test_verify_passes_on_edge_tiny_in_icarus(capsys):
    assert main(["rtl", "verify", "--arch", "edge_tiny", "--sim", "icarus"]) == 0
    assert "66 passed, 0 failed" in capsys.readouterr().out   # 22 cases x ws, os, is
