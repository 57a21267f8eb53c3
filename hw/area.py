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

`synth_area(arch, run)`: µm² of the generated accelerator (`dlaforge rtl generate`'s
controller) from the full synthesis onto the standard-cell Liberty (hw/synth.py, the figures
of `dlaforge rtl synth --arch A`), cached in synth_area.json by the same key as
controller_cells plus the Liberty, the Yosys version and the synthesis script. It takes
minutes (edge_tiny's 4x4 about two), so a report only looks it up unless asked to run it;
`rtl synth` (the asic target, baseline) fills the cache too. `synth_area_reason(arch)` says
why there is no figure.
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


def controller_cells(arch: ArchSpec, progress=lambda line: None, datapath=None) -> dict:
    """{"total", "by_type"} cells of `arch`'s mapped-program controller with `datapath`'s PEs
    (None: the MAC array; hw/verilog.cell_stats; SpecError if the controller cannot be built
    for it)."""
    from .controller.run import TOP, buildable
    geo = buildable(arch, datapath=datapath)
    here = Path(__file__).parent
    params = ["controller", geo.rows, geo.cols, geo.ifmap_bits, geo.weight_bits, geo.psum_bits,
              geo.ofmap_bits, list(geo.dataflows), geo.requant, repr(geo.buffers),
              repr(geo.beats), repr(geo.params), geo.packs_codes]
    # the design's sources, and the program and datapath rules it is built by
    from dlaforge import program
    from dlaforge.workloads.methods import datapath as datapath_rules
    methods = Path(datapath_rules.__file__).parent
    sources = (sorted(here.glob("*.py")) + sorted((here / "controller").glob("*.py"))
               + [Path(program.__file__), Path(datapath_rules.__file__)])
    if not geo.datapath.is_baseline:      # its PE's sources and what it runs
        d = geo.datapath
        params.append(d.rules())
        sources += (sorted((here / "methods" / d.family).glob("*.py"))
                    + sorted((methods / d.family).glob("*.py")))

    def count() -> dict:
        from .controller.accelerator import ControllerAccelerator
        from .verilog import cell_stats
        return cell_stats(ControllerAccelerator(arch, datapath=datapath), TOP)
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


SYNTH_CACHE = "synth_area.json"


def _synth_key(arch: ArchSpec) -> str:
    """The cache key of `arch`'s synthesized accelerator (SpecError if it cannot be built, or
    when there is no Liberty)."""
    from .controller.run import buildable
    from .synth import ABC_SCRIPT, SCRIPT, find_liberty, yosys_version
    geo = buildable(arch)
    here = Path(__file__).parent
    params = ["synth", geo.rows, geo.cols, geo.ifmap_bits, geo.weight_bits, geo.psum_bits,
              geo.ofmap_bits, list(geo.dataflows), geo.requant, repr(geo.buffers),
              repr(geo.beats), repr(geo.params), find_liberty().label, yosys_version(),
              SCRIPT, ABC_SCRIPT]
    sources = sorted(here.glob("*.py")) + sorted((here / "controller").glob("*.py"))
    source = "".join(Path(s).read_text() for s in sources)
    return hashlib.sha256(json.dumps(params).encode() + source.encode()).hexdigest()[:16]


def store_synth_area(arch: ArchSpec, figures: dict) -> None:
    """Keep `rtl synth`'s asic figures of `arch`'s generated accelerator (baseline)."""
    key = _synth_key(arch)
    path = cache_dir() / SYNTH_CACHE
    known = json.loads(path.read_text()) if path.is_file() else {}
    known[key] = {k: figures[k] for k in ("arch", "liberty", "total_area_um2", "total_cells",
                                          "memories", "seconds", "blocks")}
    path.parent.mkdir(parents=True, exist_ok=True)
    publish_files(path.parent, {path.name: json.dumps(known, indent=1)})


def synth_area(arch: ArchSpec, run: bool = False, progress=lambda line: None) -> dict | None:
    """`rtl synth`'s asic figures ({"total_area_um2", "total_cells", "liberty", ...}) of
    `arch`'s generated accelerator from the cache, or synthesized now when `run`; None when
    not cached and not `run`, or when it cannot be built (synth_area_reason says why)."""
    from dlaforge.errors import SpecError
    try:
        key = _synth_key(arch)
    except SpecError:
        return None
    path = cache_dir() / SYNTH_CACHE
    known = json.loads(path.read_text()) if path.is_file() else {}
    if key in known or not run:
        return known.get(key)
    import tempfile
    from .controller.run import TOP, generate
    from .synth import synthesize
    p = arch.pe_array
    progress(f"synthesizing {arch.name}'s {p.rows}x{p.cols} accelerator onto the Liberty "
             f"(minutes; once: cached in {path})")
    with tempfile.TemporaryDirectory(prefix="dlaforge-area-") as tmp:
        verilog, _ = generate(arch, Path(tmp) / "rtl", TOP)
        result = synthesize(Path(verilog), TOP)
    from .synth import find_liberty
    store_synth_area(arch, {"arch": arch.name, "liberty": find_liberty().label,
                            "total_area_um2": result.total_area_um2,
                            "total_cells": result.total_cells, "memories": result.memories,
                            "seconds": round(result.seconds, 2), "blocks": result.blocks})
    return synth_area(arch)


def synth_area_reason(arch: ArchSpec) -> str:
    """Why synth_area(arch) has no figure: the generator does not build the arch, there is no
    Liberty, or it is not synthesized yet."""
    from dlaforge.errors import SpecError
    try:
        _synth_key(arch)
    except SpecError as exc:
        return f"not built by the RTL generator or not synthesizable here: {exc}"
    return (f"not synthesized yet: `dlaforge rtl synth --arch {arch.name}` or "
            f"`dlaforge report --synth-area` synthesizes it once (minutes: edge_tiny's 4x4 about "
            f"two) and caches it")
