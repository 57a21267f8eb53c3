"""`dlaforge rtl generate|verify` and `simulate --model rtl`: outputs, and bad input as one
stderr line, exit 2, nothing written; the library behind them through its API."""

import json
import re
from pathlib import Path

import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.cli import main
from dlaforge.program import COUNTERS, LOOP_ORDERS
from dlaforge.sim.controller_cost import controller_runs
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.networks import load_network
from dlaforge.hw.verilog import lint
from simulators import needs, needs_icarus

SCALESIM_CFG = Path(__file__).parents[1] / "fixtures" / "scalesim" / "conv_4x16_os" / "arch.cfg"
# c3's last windows hang past the bottom and right edges (SCALE-Sim's rounded-up output size)
TINY_CSV = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
            "Num Filter, Strides,\nc1, 6, 6, 3, 3, 2, 5, 1,\nc2, 5, 5, 1, 1, 4, 3, 1,\n"
            "c3, 12, 12, 3, 3, 4, 6, 2,\n")
# c4 reads c3's 6 x 6 x 6 outputs, c5 c4's 4 x 4 x 4 (chained through DRAM under --model rtl)
CHAINED_CSV = TINY_CSV + "c4, 6, 6, 3, 3, 6, 4, 1,\nc5, 4, 4, 1, 1, 4, 3, 1,\n"


def test_generate_writes_the_controller_and_a_manifest_of_its_interface(tmp_path, capsys):
    """The baseline's generated accelerator is the mapped-program controller (its fold
    sequencers for ws, os and is), under the top name dlaforge_accel; the manifest holds its
    ports with every field's offset and width, and its command interface."""
    out = tmp_path / "gen"
    assert main(["rtl", "generate", "--arch", "edge_tiny", "--out", str(out), "--stats"]) == 0
    verilog = (out / "dlaforge_accel.v").read_text()
    manifest = json.loads((out / "dlaforge_accel.json").read_text())
    assert "module dlaforge_accel(" in verilog and manifest["top"] == "dlaforge_accel"
    assert "os_fold" in verilog or "OsFold" in verilog or "transposer" in verilog
    ports = {p["name"]: p for p in manifest["ports"]}
    for name, port in ports.items():
        assert f"{port['direction']}put " in verilog and f" {name};" in verilog
    assert set(ports["perf"]["fields"]) >= {"cycles", "dram_read_bytes", "acc_writes"}
    assert manifest["counters"] == list(COUNTERS)
    assert set(ports["perf"]["fields"]) == set(COUNTERS)
    parameters = manifest["parameters"]
    assert parameters["rows"] == 4 and parameters["dataflows"] == ["ws", "os", "is"]
    assert parameters["dataflow_codes"] == {"ws": 0, "os": 1, "is": 2}
    assert parameters["requant"] and parameters["ofmap_bits"] == 8
    assert parameters["beat_elements"]["ifmap"] == 4       # 4 bytes per cycle, int8
    # the command: every field of the payload is described, in the payload's own order
    fields = ports["cmd__payload"]["fields"]
    command = manifest["command"]
    assert list(command["fields"]) == list(fields)
    assert {"requant", "relu", "requant_base", "order", "dataflow", "kt", "ct", "pt",
            "Ct", "Kt"} <= set(fields)
    assert all(text and text != "see docs/controller.md" for text in command["fields"].values())
    assert command["loop_orders"] == list(LOOP_ORDERS)
    assert set(command["dram_layouts"]) == {"ifmap", "weight", "requant", "ofmap", "psum"}
    printed = capsys.readouterr().out
    # the PE's one multiplier, the accelerator's 16 (one per PE: every dataflow shares it)
    assert "pe: " in printed and "$mul(8x8x16) 1," in printed
    accelerator = next(line for line in printed.splitlines() if line.startswith("accelerator:"))
    assert "$mul(8x8x16) 16" in accelerator
    assert int(accelerator.split()[1]) > 5000


@needs("verilator")
def test_the_generated_controller_lints_clean_with_amaranths_waivers(tmp_path):
    """`verilator --lint-only` with hw/verilog.LINT_WAIVERS only, on a non-square array with
    requantization and a fractional DRAM beat."""
    arch = tmp_path / "odd.yaml"
    arch.write_text("base: edge_tiny\nname: odd\npe_array: {rows: 3, cols: 5}\n"
                    "dram: {type: LPDDR4, bandwidth_bytes_per_cycle: 1.5, latency_cycles: 3}\n")
    verilog, _ = dlaforge.rtl_generate(str(arch), tmp_path / "rtl").files
    assert lint(verilog) == ""


def test_bad_input_is_one_line_exit_2_and_no_files(tmp_path, capsys):
    small = tmp_path.parent / f"{tmp_path.name}_small.yaml"
    # 8 bytes shared by ifmap and weights: 2 per half, less than a 4-byte ifmap word
    small.write_text("base: edge_tiny\nname: small\nmemory:\n"
                     "  - {name: scratchpad, size_bytes: 8, operands: [ifmap, weight]}\n"
                     "  - {name: accumulator, size_bytes: 4096, operands: [ofmap]}\n")
    csv = tmp_path.parent / f"{tmp_path.name}_tiny.csv"
    csv.write_text(TINY_CSV)
    big = tmp_path.parent / f"{tmp_path.name}_big.csv"
    big.write_text(TINY_CSV + "big, 48, 48, 40, 40, 4, 4, 1,\n")
    cases = [["rtl", "generate", "--arch", str(small), "--out", str(tmp_path / "s")],
             ["simulate", "--arch", "eyeriss_like", "--network", str(csv), "--model", "rtl"],
             ["rtl", "generate", "--arch", "eyeriss_like", "--out", str(tmp_path / "a")],
             ["rtl", "generate", "--arch", "edge_tiny", "--out", str(tmp_path / "no" / "b")],
             ["rtl", "generate", "--arch", "edge_tiny", "--method", "xnor",
              "--out", str(tmp_path / "c")],
             ["rtl", "verify", "--arch", "nope"],
             ["rtl", "verify", "--arch", "edge_tiny", "--method", "half_weights"],
             ["rtl", "generate", "--arch", "edge_tiny", "--method", "winograd_f4",
              "--out", str(tmp_path / "d")],
             # one output pixel of a 40 x 40 window needs more than a buffer half
             ["simulate", "--arch", "edge_tiny", "--network", str(big), "--model", "rtl"],
             ["simulate", "--arch", "edge_tiny", "--network", "resnet18", "--model", "rtl",
              "--method", "xnor"],
             ["simulate", "--arch", "edge_tiny", "--network", str(csv), "--model", "rtl",
              "--schedule", "mapped"],
             ["simulate", "--arch", "eyeriss_like", "--network", str(csv), "--schedule", "rtl"],
             ["simulate", "--arch", "edge_tiny", "--network", str(csv), "--schedule", "rtl",
              "--model", "cycle", "--trace", str(tmp_path / "t")],
             ["simulate", "--arch", "edge_tiny", "--network", str(csv), "--schedule", "best"],
             ["simulate", "--arch", str(SCALESIM_CFG), "--network", str(csv), "--schedule",
              "rtl"]]
    for argv in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        err = captured.err
        assert err.startswith("dlaforge: error: ") and err.count("\n") == 1, err
        assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_the_cycle_model_equals_the_rtl_under_every_dataflow(tmp_path):
    """The contract between sim/ and hw/: the cycle model gives every layer's cycles, counters
    and energy as the RTL model measures them, the controller running the mapper's program
    (--model cycle's default, the same mapping) under ws, os and is; the rtl run chains the
    layers whose input is the previous layer's output."""
    csv = tmp_path / "tiny.csv"
    csv.write_text(CHAINED_CSV)
    measured = [r.to_json() for r in dlaforge.simulate("edge_tiny", str(csv), model="rtl",
                                                       dataflow="all")]
    assert [r["dataflow"] for r in measured] == ["ws", "os", "is"]
    for record in measured:
        inputs = [row["mapping"].pop("input") for row in record["layers"]]
        assert inputs[0] == "random: first layer" and inputs[3:] == ["chained", "chained"]
        assert all(note.startswith("random: its input") for note in inputs[1:3])
    arch, network = load_arch("edge_tiny"), load_network(str(csv))
    ops = [op for layer in network.layers
           for op in get_method("baseline", arch).transform(layer, arch)]
    for record in measured:
        dataflow = record["dataflow"]
        assert all(controller_runs(arch, op, dataflow) for op in ops)
        modelled = dlaforge.simulate("edge_tiny", str(csv), dataflow=dataflow,
                                     model="cycle").to_json()
        for rtl_row, cycle_row, layer in zip(record["layers"], modelled["layers"],
                                             load_network(str(csv)).layers):
            for key in ("cycles", "compute_cycles", "stall_cycles", "dram_read_bytes",
                        "dram_write_bytes", "sram_read_bytes", "sram_write_bytes", "accesses",
                        "energy_pj"):
                assert rtl_row[key] == cycle_row[key], (dataflow, key)
            assert rtl_row["energy_pj"] > 0 and rtl_row["macs"] == layer.macs
            assert rtl_row["mapping"].pop("simulator") in ("icarus", "verilator")
            assert rtl_row["mapping"] == cycle_row["mapping"]
            shape = rtl_row["shape"]        # requantized: one int8 byte per output
            assert rtl_row["accesses"]["dram"]["ofmap"]["writes"] >= shape["K"] * shape["P"] * \
                shape["Q"]


@needs_icarus
def test_verify_passes_on_edge_tiny():
    """`rtl verify`: 37 layers under each of ws, os and is on the controller (Verilator when
    installed, else Icarus), outputs bit-exact and every command's counters equal to the
    exact timing model; a line per case."""
    lines = []
    assert dlaforge.rtl_verify("edge_tiny", progress=lines.append) == (111, 0)
    assert len(lines) == 111 and all(": ok (" in line for line in lines)
    assert {line.split()[0] for line in lines} == {"ws", "os", "is"}
    assert sum("random" in line for line in lines) == 36


@needs_icarus
def test_verify_tells_a_mismatch_and_skips_what_the_controller_cannot_run(monkeypatch):
    """verify_controller's bookkeeping (on Icarus), with a timing model that is off by one
    cycle for one shape and a layer whose one output pixel reads more than a buffer half."""
    from dlaforge.hw import verify as verify_module
    from dlaforge.hw.shapes import conv
    from dlaforge.program import Mapping
    from dlaforge.sim.cycle.controller_timing import controller_counters

    arch = load_arch("edge_tiny")
    monkeypatch.setattr(verify_module, "RANDOM_LAYERS", 0)
    monkeypatch.setattr(verify_module, "shapes", lambda rows, cols: {
        "small": conv(2, 3, 3, 2, 1, 1), "wide": conv(1, 40, 40, 1, 40, 40)})
    def timing(arch_, shape, mapping, requant, dataflow):
        counters = controller_counters(arch_, shape, mapping, requant, dataflow=dataflow)
        return {**counters, "cycles": counters["cycles"] + (shape.W == 3 and shape.C == 2
                                                            and shape.R == 1)}
    lines = []
    passed, failed = verify_module.verify_controller(
        arch, "icarus", timing, lambda shape, groups, dataflow, pe_op: Mapping(
            kt=shape.K, ct=shape.C, pt=1, order="nkcp"), lines.append)
    # per dataflow: "small" mismatches (the model is one cycle off), "wide" is skipped,
    # all_-128, all_1, relu and sums pass
    assert (passed, failed) == (12, 3)
    assert sum("wide: skipped" in line for line in lines) == 3
    assert sum("small: MISMATCH counters differ" in line for line in lines) == 3
    with pytest.raises(dlaforge.SpecError, match="unknown simulator"):
        verify_module.verify_controller(arch, "modelsim", timing, None)


def test_method_hardware_through_the_command_line(tmp_path, capsys):
    """`rtl generate|verify --method M` reach the method's unit (hw/methods/) where its family
    has no controller datapath (Bit Fusion's), `--stats` listing its cells and the dataflows
    they are built for, and `simulate --schedule rtl --model cycle --method M` its timing
    model."""
    out = tmp_path / "fused"
    assert main(["rtl", "generate", "--arch", "edge_tiny_bitfusion", "--method", "bitfusion",
                 "--out", str(out), "--stats"]) == 0
    printed = capsys.readouterr().out
    assert (out / "dlaforge_bitfusion.v").is_file() and "fusion_pe_8x8: " in printed
    assert "dataflows: ws, os, is" in printed
    csv = tmp_path / "tiny.csv"
    csv.write_text(TINY_CSV.split("c2,")[0])        # c1: 3x3, stride 1
    record = tmp_path / "fused.json"
    assert main(["simulate", "--arch", "edge_tiny_bitfusion", "--network", str(csv), "--method",
                 "bitfusion", "--model", "cycle", "--schedule", "rtl", "--dataflow", "ws",
                 "--json", str(record), "--quiet"]) == 0
    from dlaforge.arch import load_arch
    from dlaforge.sim.methods import bitfusion as rtl_bitfusion
    from dlaforge.sim.energy import energy_table
    from dlaforge.workloads.methods import get_method
    arch = load_arch("edge_tiny_bitfusion")
    rows = json.loads(record.read_text())["layers"]
    assert len(rows) == 1
    for layer, row in zip(load_network(str(csv)).layers, rows):
        ops = get_method("bitfusion", arch).transform(layer, arch)
        expected = sum(rtl_bitfusion.op_stats(arch, op, "ws", energy_table(arch)).cycles
                       for op in ops)
        assert row["cycles"] == expected > 0 and row["mapping"]["hardware"] == "bitfusion"


@pytest.mark.long      # 20-45 s of Icarus; the unit's own tests run its cases in make test
@needs_icarus
def test_method_verify_through_the_command_line(capsys):
    """`rtl verify --method M` runs the method unit's cases and prints `N passed, 0 failed`."""
    assert main(["rtl", "verify", "--arch", "edge_tiny_bitfusion", "--method", "bitfusion"]) == 0
    assert re.search(r"^(\d+) passed, 0 failed$", capsys.readouterr().out, re.M)


def test_a_failed_rtl_run_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    """Outputs that differ from the reference end the run with one line, not a traceback."""
    from dlaforge.hw.controller.network import ControllerNetworkJob
    reference = ControllerNetworkJob.expected
    monkeypatch.setattr(ControllerNetworkJob, "expected",
                        lambda job: [out + 1 for out in reference(job)])
    csv = tmp_path / "tiny.csv"
    csv.write_text(TINY_CSV)
    out = tmp_path / "r.json"
    assert main(["simulate", "--arch", "edge_tiny", "--network", str(csv), "--model", "rtl",
                 "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == "dlaforge: error: RTL output of layer 'c1' (ws) differs from the reference\n"
    assert not out.exists()


@needs_icarus
def test_the_rtl_record_prices_cycles_and_area_as_the_cycle_model(tmp_path):
    """Leakage x the RTL's cycles (static energy), the clock's and controller's energy per
    cycle and the arch's areas reach a --model rtl record exactly as the cycle model's."""
    from dlaforge.arch import arch_from_mapping, arch_mapping
    from dlaforge.rtl_driver import run_rtl_network
    from dlaforge.sim.run import run_network

    data = arch_mapping("edge_tiny")
    data["energy"] = {**data.get("energy", {}), "clock_pj_per_cycle": 3.0,
                      "control_pj_per_cycle": 0.5, "leakage_mw": 2.0}
    data["memory"] = [{**level, "area_um2": 1000.0, "leakage_mw": 0.25}
                      if level["name"] == "scratchpad" else level for level in data["memory"]]
    arch = arch_from_mapping(data)
    csv = tmp_path / "tiny.csv"
    csv.write_text(TINY_CSV)
    network = load_network(str(csv))
    rtl = run_rtl_network(arch, network, "ws", "baseline", 1, "test").to_json()
    cycle = run_network(arch, network, "ws", "baseline", "energy", 1, "test", "cycle").to_json()
    assert rtl["area_um2"] == cycle["area_um2"] == {"scratchpad": 1000.0}
    for rtl_row, cycle_row in zip(rtl["layers"], cycle["layers"]):
        assert rtl_row["cycles"] == cycle_row["cycles"]
        assert rtl_row["static_energy_pj"] == cycle_row["static_energy_pj"] > 0
        assert rtl_row["energy_pj"] == cycle_row["energy_pj"]
        assert rtl_row["energy_breakdown_pj"]["clock"] == pytest.approx(3.0 * rtl_row["cycles"])


# `rtl synth --target ice40` on a tiny design standing in for the generated Verilog (the
# accelerator itself takes many minutes: tests/hw/test_synth.py has the long test)
SYNTH_TINY = ("module tiny(input clk, input [3:0] d, output reg [3:0] q);\n"
              "  always @(posedge clk) q <= ~d;\nendmodule\n")


def test_rtl_synth_for_an_fpga_writes_luts_ffs_and_fmax(tmp_path, monkeypatch, capsys):
    def generate(arch, out, method="baseline", stats=False):
        out.mkdir()
        (out / "tiny.v").write_text(SYNTH_TINY)
        return dlaforge.Generated((out / "tiny.v",), {})
    monkeypatch.setattr(dlaforge, "rtl_generate", generate)
    out = tmp_path / "synth.json"
    assert main(["rtl", "synth", "--arch", "edge_tiny", "--target", "ice40",
                 "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert {"arch", "method", "target", "liberty", "device", "blocks", "total_luts", "total_ffs",
            "total_dsps", "total_brams", "utilization", "fits", "fmax_mhz"} <= set(data)
    assert (data["arch"], data["target"], data["liberty"]) == ("edge_tiny", "ice40", None)
    assert "UP5K" in data["device"] and data["fits"] and data["fmax_mhz"] > 0
    assert (data["total_luts"], data["total_ffs"]) == (4, 4)      # an inverter and a flop a bit
    assert data["blocks"]["(top level)"]["ffs"] == 4
    table = capsys.readouterr().out
    assert "TOTAL" in table and "LUTs" in table and "Fmax" in table


@pytest.mark.parametrize("argv, message", [
    (["--arch", "edge_tiny", "--target", "xilinx"], "invalid choice: 'xilinx'"),
    (["--arch", "nope", "--target", "ice40"], "unknown arch 'nope'"),
    (["--arch", "eyeriss_like", "--target", "ecp5"], "no dataflow the RTL builds"),
])
def test_rtl_synth_bad_input_is_one_line_exit_2_and_no_file(tmp_path, capsys, argv, message):
    out = tmp_path / "synth.json"
    assert main(["rtl", "synth", *argv, "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dlaforge: error: ") and err.count("\n") == 1, err
    assert message in err and not out.exists()
