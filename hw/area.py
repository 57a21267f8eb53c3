"""Sizes in cells: the PE array's (the area figure of an arch in reports) and the whole
generated accelerator's (`dlaforge rtl generate --stats`).

`array_cells(arch)` counts the cells of the arch's generated PE array (hw/array.py, the
arch's operand widths and the dataflows the RTL builds) with hw/verilog.cell_stats, the
flattened structural count of Amaranth's Yosys. Counting a 32x32 array takes about a minute,
so counts are kept in a JSON cache ($DLAFORGE_CACHE, else ~/.cache/dlaforge) keyed by the
array's parameters and the source text of the modules that build it; a change to those
modules counts again.

`controller_cells(arch)` counts the whole mapped-program controller (hw/controller/: the array
with a fold sequencer per dataflow, buffers, the DRAM engines, requantization) the same way,
cached the same way (keyed by the arch's RTL parameters and the source of hw/ and
hw/controller/); it returns the count by cell type too.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from dlaforge.arch import ArchSpec
from dlaforge.outputs import publish_files

from . import array, pe as pe_module
from .layouts import built_dataflows


def cache_dir() -> Path:
    return Path(os.environ.get("DLAFORGE_CACHE") or Path.home() / ".cache" / "dlaforge")


def _cached(name: str, params, sources, count, progress, what: str):
    """The value `count()` gives for `params` and the text of `sources` (files), from the JSON
    cache `name` or counted now and kept."""
    source = "".join(Path(s).read_text() for s in sources)
    key = hashlib.sha256(json.dumps(params).encode() + source.encode()).hexdigest()[:16]
    path = cache_dir() / name
    known = json.loads(path.read_text()) if path.is_file() else {}
    if key not in known:
        progress(f"counting the cells of {what} with Yosys (once; cached in {path})")
        value = count()
        known = json.loads(path.read_text()) if path.is_file() else {}   # others' since
        known[key] = value
        path.parent.mkdir(parents=True, exist_ok=True)
        publish_files(path.parent, {path.name: json.dumps(known, indent=1)})
    return known[key]


def controller_cells(arch: ArchSpec, progress=lambda line: None) -> dict:
    """{"total", "by_type"} cells of `arch`'s mapped-program controller (hw/verilog.cell_stats;
    SpecError if the controller cannot be built for it)."""
    from .controller.run import TOP, buildable
    geo = buildable(arch)
    here = Path(__file__).parent
    params = ["controller", geo.rows, geo.cols, geo.ifmap_bits, geo.weight_bits, geo.psum_bits,
              geo.ofmap_bits, list(geo.dataflows), geo.requant, repr(geo.buffers),
              repr(geo.beats), repr(geo.params)]
    sources = sorted(here.glob("*.py")) + sorted((here / "controller").glob("*.py"))

    def count() -> dict:
        from .controller.accelerator import ControllerAccelerator
        from .verilog import cell_stats
        return cell_stats(ControllerAccelerator(arch), TOP)
    p = arch.pe_array
    return _cached("controller_cells.json", params, sources, count, progress,
                   f"{arch.name}'s {p.rows}x{p.cols} controller")


def array_cells(arch: ArchSpec, progress=lambda line: None) -> int | None:
    """Cells of `arch`'s PE array, or None when the RTL does not build its PE (not a MAC PE,
    or no dataflow the RTL builds)."""
    p = arch.pe_array
    dataflows = built_dataflows(arch)
    if p.pe_kind != "mac" or not dataflows:
        return None
    params = [p.rows, p.cols, p.ifmap_bits, p.weight_bits, p.psum_bits, list(dataflows)]
    source = "".join(Path(m.__file__).read_text() for m in (array, pe_module))
    key = hashlib.sha256(json.dumps(params).encode() + source.encode()).hexdigest()[:16]
    path = cache_dir() / "array_cells.json"
    known = json.loads(path.read_text()) if path.is_file() else {}
    if key not in known:
        from .verilog import cell_stats
        progress(f"counting the cells of {arch.name}'s {p.rows}x{p.cols} PE array with Yosys "
                 f"(once; cached in {path})")
        design = array.SystolicArray(p.rows, p.cols, p.ifmap_bits, p.weight_bits, p.psum_bits,
                                     dataflows)
        known[key] = cell_stats(design)["total"]
        path.parent.mkdir(parents=True, exist_ok=True)
        publish_files(path.parent, {path.name: json.dumps(known, indent=1)})
    return known[key]
