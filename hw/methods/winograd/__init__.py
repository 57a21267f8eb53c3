"""Winograd F(4x4,3x3) (method `winograd_f4`) and F(2x2,3x3) (`winograd_f2`, variant "F2")
hardware: the transform units of hw/methods/winograd/units.py beside the baseline accelerator.

`WinogradTop` (hw/methods/winograd/top.py) runs a whole layer from one command: its sequencer
moves the ifmap tiles from DRAM through the input-transform unit into a V region, gives the
unchanged baseline accelerator (hw/accelerator.py) one command per tap, and moves the tap sums
through the output-transform unit into the outputs, all through the top's one DRAM stream port
(the phases of workloads/methods/winograd/plan.py, one after another, meeting in DRAM).

The method-hardware interface (hw/methods/__init__.py's FamilyHardware): `check`, `generate`,
`verify`, `cell_stats` and `run`, each with `variant` "F4" (default) or "F2" (the option of
methods winograd_f4 and winograd_f2, workloads/methods/winograd/).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.outputs import publish_files
from dlaforge.workloads.methods.winograd.plan import (ALIGN_BITS, INPUT_STAGES, OUTPUT_STAGES,
                                                      SHIFT_BITS, UNIT, WRITE_KINDS, WinogradPlan)
from dlaforge.workloads.methods.winograd.reference import VARIANTS, Variant

from ...accelerator import buildable
from ...array import SystolicArray
from ...pe import MacPE
from ...verify import SIMS
from ...verilog import cell_stats as yosys_cells, manifest
from .. import OpRun
from .patch_stage import PatchStage
from .tile_stage import TileStage
from .top import WinogradTop
from .units import InputTransform, OutputTransform

# the controller's Winograd datapath (workloads/methods/winograd/plan.TAP_DATAPATHS): the MAC
# array, the load's patch stage and the write-back's tile stage
CONTROLLER_PE = MacPE
CONTROLLER_PATCH_STAGE = PatchStage
CONTROLLER_TILE_STAGE = TileStage

def top_name(variant: str) -> str:
    return f"dlaforge_winograd_{variant.lower()}"


def variant_of(name: str) -> Variant:
    if name not in VARIANTS:
        raise SpecError(f"Winograd variant must be one of {', '.join(VARIANTS)}, not {name!r}")
    return VARIANTS[name]


def check(arch: ArchSpec, variant: str = "F4") -> None:
    """SpecError if the Winograd hardware cannot be built from `arch`."""
    variant_of(variant)
    if arch.unit(UNIT) is None:
        raise SpecError(f"arch {arch.name!r} declares no {UNIT} unit "
                        f"(the *_winograd presets add one)")
    for dataflow in buildable(arch).dataflows:   # the accelerator, and one tap's tiles
        WinogradPlan(VARIANTS[variant].m, 1, 1, 1, 1).tap_plan(arch, dataflow)


def build_top(arch: ArchSpec, variant: str = "F4") -> WinogradTop:
    check(arch, variant)
    return WinogradTop(arch, variant_of(variant))


def generate(arch: ArchSpec, out_dir: Path, variant: str = "F4") -> tuple[Path, Path]:
    """Write `<top>.v` and `<top>.json` (ports, the accelerator's parameters and the
    transform units') into `out_dir`; the files appear only complete."""
    top = build_top(arch, variant)
    name = top_name(variant)
    text = verilog.convert(top, name=name)
    info = manifest(top, arch)
    v = top.variant
    info["top"] = name
    info["winograd"] = {
        "variant": v.name, "output_tile": v.m, "input_tile": v.a, "taps": v.a * v.a,
        "bt": v.bt.tolist(), "at": v.at.tolist(), "shift_bits": SHIFT_BITS,
        "align_bits": ALIGN_BITS, "y_bits": top.y_bits,
        "input_stages": INPUT_STAGES, "output_stages": OUTPUT_STAGES,
        "write_kinds": WRITE_KINDS,
        "lanes": "element (x, y) of a tile is lane x * side + y",
        "command": "tap: the baseline command of tap 0 (ifmap_base: V of tap 0, weight_base: "
                   "U of tap 0, ofmap_base: its sums); tap t's bases step by v_step, u_step, "
                   "m_step; x_base, x_row, x_plane: the padded ifmap (C planes); y_base: the "
                   "outputs, K x tp x tq tiles of m x m; in_shift, out_align: per tap",
        "dram_layout": "hw/methods/winograd/stimulus.py (WinogradJob.regions)"}
    return publish_files(out_dir, {f"{name}.v": text, f"{name}.json": json.dumps(info, indent=1)})


def cell_stats(arch: ArchSpec, variant: str = "F4") -> dict:
    """Yosys cell counts (hw.verilog.cell_stats) of the input- and output-transform units and,
    for comparison, of one int8 MAC PE and of the MAC array of the same size."""
    check(arch, variant)
    v, pe = variant_of(variant), arch.pe_array
    bits = (pe.ifmap_bits, pe.weight_bits, pe.psum_bits)
    dataflows = buildable(arch).dataflows
    cells = {"input_transform": yosys_cells(InputTransform(v.bt, pe.ifmap_bits)),
             "output_transform": yosys_cells(OutputTransform(v.at, pe.psum_bits)),
             "mac_pe": yosys_cells(MacPE(*bits, dataflows)),
             "mac_array": yosys_cells(SystolicArray(pe.rows, pe.cols, *bits, dataflows))}
    mac_pe = cells["mac_pe"]["total"]
    cells["in_mac_pes"] = {name: cells[name]["total"] / mac_pe
                           for name in ("input_transform", "output_transform", "mac_array")}
    return cells


def run(jobs: list, build_dir: Path, sim: str = "icarus", variant: str = "F4") -> list:
    """Run WinogradJobs (one arch, the variant they were made for) in one cocotb simulator
    process, or in Amaranth's simulator (testbench_runner.py); one WinogradResult per job."""
    from .testbench_runner import run_winograd, run_winograd_amaranth
    return run_winograd_amaranth(jobs) if sim == "amaranth" else run_winograd(jobs, build_dir, sim)


def cells_row(w: dict, variant: str = "F4") -> tuple[str, ...]:
    per, pe, array = w["in_mac_pes"], f"{w['mac_pe']['total']:,}", f"{w['mac_array']['total']:,}"
    return (f"winograd_{variant.lower()}", "(the int8 MAC PE)", pe, "ws, os, is", pe, "1.00",
            array, array, "1.00",
            f"input transform {w['input_transform']['total']:,} "
            f"({per['input_transform']:.1f} MAC PEs), output transform "
            f"{w['output_transform']['total']:,} ({per['output_transform']:.1f} MAC PEs)")


def run_random(cases: list, build_dir: Path, rng, sim: str = "icarus",
               variant: str = "F4") -> list[OpRun]:
    """One image of each case's layer (the op's image size and padding are the layer's) with
    random codes, exponents and shifts; V, every tap's sums and the outputs checked."""
    from .stimulus import WinogradJob
    from .testbench_runner import check_result
    jobs = [WinogradJob.random(c.arch, variant_of(variant), c.dataflow, c.layer.C, c.layer.H,
                               c.layer.W, c.layer.K, rng, c.layer.padding) for c in cases]
    return [OpRun([r.counters], [r.testbench_cycles],
                  [p for p in check_result(job, r) if "cycles" not in p])
            for job, r in zip(jobs, run(jobs, build_dir, sim, variant))]


def verify(arch: ArchSpec, sim: str = "icarus", progress=lambda line: None,
           variant: str = "F4") -> tuple[int, int]:
    """(passed, failed) over random and corner-case layers on every dataflow the accelerator
    builds, each one command to the top: V, every tap's sums and the outputs bit-exact against
    their references (outputs: winograd_ref.conv_quant), the testbench's cycles equal to the
    design's own counter."""
    from .testbench_runner import check_result, layer_cases, run_winograd, run_winograd_amaranth
    if sim not in SIMS:
        raise SpecError(f"unknown simulator {sim!r}; choose from {', '.join(SIMS)}")
    check(arch, variant)
    passed = failed = 0
    rng = np.random.default_rng(0)
    cases = [(name, case) for dataflow in buildable(arch).dataflows
             for name, case in layer_cases(arch, variant_of(variant), dataflow, rng)]
    jobs = [job for _, job in cases]
    if sim == "amaranth":
        results = run_winograd_amaranth(jobs)
    else:
        with tempfile.TemporaryDirectory(prefix="dlaforge_winograd_") as tmp:
            results = run_winograd(jobs, Path(tmp), sim)
    for (name, job), result in zip(cases, results):
        problems = check_result(job, result)
        passed, failed = passed + (not problems), failed + bool(problems)
        progress(f"{job.dataflow} {name}: {'ok' if not problems else '; '.join(problems)} "
                 f"({result.testbench_cycles} cycles)")
    return passed, failed
