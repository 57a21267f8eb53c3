"""Area from synthesis (hw/synth.py) and `dlaforge rtl synth` (dlaforge/synth_driver.py): a tiny
design whose cells can be counted by hand, the JSON's shape, bad input. Skipped, saying why,
where `make` has not unpacked the Liberty."""

import argparse
import json

import pytest

import dlaforge
from dlaforge.errors import RunError, SpecError
from dlaforge.hw import synth
from dlaforge.synth_driver import add_synth_parser

# A top with two blocks: `regs`, four flip-flops with no reset (4 DFFPOSX1, 96 µm² each in
# osu018), and `nots`, two inverters (2 INVX1, 16 µm² each); the top's own logic one inverter.
TINY = """
module regs(input clk, input [3:0] d, output reg [3:0] q);
  always @(posedge clk) q <= d;
endmodule
module nots(input [1:0] a, output [1:0] y);
  assign y = ~a;
endmodule
module tiny(input clk, input [3:0] d, input [1:0] a, input b, output [3:0] q, output [1:0] y,
            output z);
  regs r(.clk(clk), .d(d), .q(q));
  nots n(.a(a), .y(y));
  assign z = ~b;
endmodule
"""


def _liberty_or_skip():
    try:
        return synth.find_liberty()
    except SpecError as exc:
        pytest.skip(f"no Liberty here: {exc}")


def _area(liberty, cell):
    """A cell's `area` as the Liberty file gives it."""
    text = liberty.path.read_text()
    body = text[text.index(f"cell ({cell})"):]
    start = body.index("area :") + len("area :")
    return float(body[start:body.index(";", start)])


def test_a_tiny_design_against_a_hand_count_of_its_cells():
    liberty = _liberty_or_skip()
    result = synth.synthesize(TINY, "tiny", liberty)
    dff, inv = _area(liberty, "DFFPOSX1"), _area(liberty, "INVX1")
    assert (dff, inv) == (96.0, 16.0)
    assert result.blocks == {                   # blocks are named by their modules
        "regs": {"cells": 4, "area_um2": 4 * dff, "memories": 0},
        "nots": {"cells": 2, "area_um2": 2 * inv, "memories": 0},
        synth.TOP_LEVEL: {"cells": 1, "area_um2": inv, "memories": 0},
    }
    assert result.total_cells == 7 and result.total_area_um2 == 4 * dff + 3 * inv
    assert result.cells_by_type == {"DFFPOSX1": 4, "INVX1": 3}


def _run(argv):
    parser = argparse.ArgumentParser(prog="dlaforge")
    rtl = parser.add_subparsers(dest="command").add_parser("rtl")
    add_synth_parser(rtl.add_subparsers(dest="rtl_command"))
    args = parser.parse_args(argv)
    return args.synth_handler(args)


def test_rtl_synth_writes_the_json_shape(tmp_path, monkeypatch, capsys):
    """The command on the tiny design (standing in for the generated Verilog)."""
    liberty = _liberty_or_skip()

    def generate(arch, out, method="baseline", stats=False):
        out.mkdir()
        (out / "tiny.v").write_text(TINY)
        return dlaforge.Generated((out / "tiny.v",), {})
    monkeypatch.setattr(dlaforge, "rtl_generate", generate)
    out = tmp_path / "synth.json"
    assert _run(["rtl", "synth", "--arch", "edge_tiny", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert {"arch", "method", "target", "liberty", "blocks", "total_area_um2"} <= set(data)
    assert (data["arch"], data["method"], data["target"]) == ("edge_tiny", "baseline", "asic")
    assert data["liberty"] == liberty.label and "osu018" in data["liberty"]
    for block in data["blocks"].values():
        assert set(block) == {"cells", "area_um2", "memories"}
    assert data["total_area_um2"] == sum(b["area_um2"] for b in data["blocks"].values()) == 432
    table = capsys.readouterr().out
    assert "TOTAL" in table and "432" in table


@pytest.mark.parametrize("argv, message", [
    (["--arch", "no_such_arch"], "unknown arch 'no_such_arch'"),
    (["--arch", "edge_tiny", "--method", "no_such_method"], "no_such_method"),
])
def test_rtl_synth_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    _liberty_or_skip()
    out = tmp_path / "synth.json"
    assert _run(["rtl", "synth", *argv, "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dlaforge: error: ") and message in err
    assert not out.exists()


def test_rtl_synth_without_a_liberty_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(synth.LIBERTY_ENV, str(tmp_path / "missing.lib"))
    assert _run(["rtl", "synth", "--arch", "edge_tiny"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.lib" in err


@pytest.mark.long
def test_edge_tiny_synthesizes_into_blocks(tmp_path):
    """The generated accelerator itself (about 1.5 minutes on 2 busy cores)."""
    _liberty_or_skip()
    out = tmp_path / "synth.json"
    assert _run(["rtl", "synth", "--arch", "edge_tiny", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert "fold" in data["blocks"] and data["blocks"]["fold"]["cells"] > 1000
    assert data["memories"] >= 1            # the buffers stay macros
    assert data["total_area_um2"] == pytest.approx(
        sum(b["area_um2"] for b in data["blocks"].values()))


def test_fpga_targets_against_a_hand_count_of_luts_and_ffs():
    """The tiny design on iCE40 (placed: Fmax) and ECP5 (not placed): each register bit one
    flip-flop, each inverter one LUT4, the harness's cells left out; about 10 s."""
    hand = {"regs": {"cells": 4, "luts": 0, "ffs": 4, "dsps": 0, "brams": 0},
            "nots": {"cells": 2, "luts": 2, "ffs": 0, "dsps": 0, "brams": 0},
            synth.TOP_LEVEL: {"cells": 1, "luts": 1, "ffs": 0, "dsps": 0, "brams": 0}}
    ice40 = synth.synthesize_fpga(TINY, "tiny", "ice40")
    assert ice40.blocks == hand
    assert ice40.total == {"cells": 7, "luts": 3, "ffs": 4, "dsps": 0, "brams": 0}
    assert ice40.utilization["luts"] == round(3 / 5280, 4) and ice40.fits
    assert ice40.fmax_mhz is not None and ice40.fmax_mhz > 20, ice40.fmax_note
    ecp5 = synth.synthesize_fpga(TINY, "tiny", "ecp5", place=False)
    assert ecp5.blocks == hand and ecp5.fmax_mhz is None and ecp5.fits


def test_a_design_larger_than_the_device_is_reported_not_placed(monkeypatch):
    """The tiny design on an iCE40 shrunk to three flip-flops."""
    import dataclasses
    small = dataclasses.replace(synth.FPGAS["ice40"],
                                capacity={"luts": 100, "ffs": 3, "dsps": 1, "brams": 1})
    monkeypatch.setitem(synth.FPGAS, "ice40", small)
    result = synth.synthesize_fpga(TINY, "tiny", "ice40")
    assert result.total["ffs"] == 4 and not result.fits
    assert result.utilization["ffs"] == round(4 / 3, 4) and result.fmax_mhz is None
    assert "does not fit" in result.fmax_note and "ffs 4 of 3" in result.fmax_note


def test_a_tool_past_its_timeout_is_killed_and_a_run_error(tmp_path):
    """_run_tool kills the tool's process group and raises RunError (not TimeoutExpired)."""
    import sys
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    with pytest.raises(RunError, match="sleeper timed out after 0.3 s"):
        synth._run_tool(tmp_path, "subprocess", "call", sleeper, "sleep.log", "sleeper", 0.3)


def test_a_nextpnr_timeout_is_no_fmax(monkeypatch):
    """nextpnr past its timeout (here a sleeping stand-in given 0.3 s): the synthesis stands,
    no Fmax, the note says why."""
    import sys
    real = synth._run_tool

    def run_tool(folder, module, function, argv, log, what, timeout):
        if what != "nextpnr":
            return real(folder, module, function, argv, log, what, timeout)
        sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
        return real(folder, "subprocess", "call", sleeper, log, what, 0.3)

    monkeypatch.setattr(synth, "_run_tool", run_tool)
    result = synth.synthesize_fpga(TINY, "tiny", "ice40")
    assert result.fits and result.total["ffs"] == 4
    assert result.fmax_mhz is None and result.fmax_note == "nextpnr timed out after 0.3 s"
