"""Winograd F(4x4,3x3) (method `winograd_f4`) and F(2x2,3x3) (`winograd_f2`, variant "F2")
hardware: the transform units of hw/methods/winograd_units.py beside the baseline accelerator.

`WinogradTop` holds three parts with their own ports:
- the baseline accelerator (hw/accelerator.py, unchanged), its ports passed through under the
  same names (cmd, busy, rd_req, rd_resp, wr, perf), which runs the a² tap GEMMs;
- the input-transform unit: `in_tiles` (a x a ifmap tiles) -> `v_tiles` (a² quantized taps),
  with the per-tap right shifts on `in_shift`;
- the output-transform unit: `m_tiles` (a² tap sums) -> `y_tiles` (m x m outputs), with the
  per-tap alignment shifts on `out_align`;
and `transform_busy` (either unit holds a tile) and `transform_perf` (cycles each unit held a
tile since reset). The shifts are read as a tile passes, so they are held for a whole layer. The phases of dlaforge/rtl_winograd_plan.py run one after another; between
them the testbench moves the data (V into the accelerator's DRAM, its sums into `m_tiles`).

Module API (the lead wires it into `dlaforge rtl generate|verify --method M`):
`check`, `generate`, `verify`, `cell_stats`, each with `variant` "F4" (default) or "F2".
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from amaranth import Module, unsigned
from amaranth.back import verilog
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.rtl_winograd_plan import (ALIGN_BITS, INPUT_STAGES, OUTPUT_STAGES, SHIFT_BITS,
                                        UNIT, WinogradPlan)
from dlaforge.workloads.methods.winograd_ref import VARIANTS, Variant

from ..accelerator import Accelerator, buildable
from ..array import SystolicArray
from ..layouts import RtlParams
from ..pe import MacPE
from ..verilog import cell_stats as yosys_cells, manifest, write_complete
from .winograd_units import InputTransform, OutputTransform

METHODS = {"winograd_f4": "F4", "winograd_f2": "F2"}
ACCELERATOR_PORTS = ("cmd", "busy", "rd_req", "rd_resp", "wr", "perf")


def top_name(variant: str) -> str:
    return f"dlaforge_winograd_{variant.lower()}"


def variant_of(name: str) -> Variant:
    if name not in VARIANTS:
        raise SpecError(f"Winograd variant must be one of {', '.join(VARIANTS)}, not {name!r}")
    return VARIANTS[name]


class WinogradTop(wiring.Component):
    def __init__(self, arch: ArchSpec, variant: Variant, params: RtlParams = RtlParams()):
        self.arch, self.variant = arch, variant
        self.geo = buildable(arch, params)       # the accelerator's geometry (the manifest's)
        self.accelerator = Accelerator(arch, params)
        pe = arch.pe_array
        self.input_unit = InputTransform(variant.bt, pe.ifmap_bits)
        self.output_unit = OutputTransform(variant.at, pe.psum_bits)
        ins, outs = self.input_unit.signature.members, self.output_unit.signature.members
        members = {name: self.accelerator.signature.members[name] for name in ACCELERATOR_PORTS}
        members.update({
            "in_tiles": ins["i"], "in_shift": ins["shift"], "v_tiles": ins["o"],
            "m_tiles": outs["i"], "out_align": outs["align"], "y_tiles": outs["o"],
            "transform_busy": Out(1),
            "transform_perf": Out(data.StructLayout({
                "input_cycles": unsigned(params.counter_bits),
                "output_cycles": unsigned(params.counter_bits)})),
        })
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        accel, iu, ou = self.accelerator, self.input_unit, self.output_unit
        m.submodules.accelerator, m.submodules.input_transform = accel, iu
        m.submodules.output_transform = ou
        for name in ("cmd", "rd_req", "rd_resp", "wr"):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(accel, name))
        m.d.comb += [self.busy.eq(accel.busy), self.perf.eq(accel.perf)]
        wiring.connect(m, wiring.flipped(self.in_tiles), iu.i)
        wiring.connect(m, wiring.flipped(self.v_tiles), iu.o)
        wiring.connect(m, wiring.flipped(self.m_tiles), ou.i)
        wiring.connect(m, wiring.flipped(self.y_tiles), ou.o)
        m.d.comb += [iu.shift.eq(self.in_shift), ou.align.eq(self.out_align),
                     self.transform_busy.eq(iu.busy | ou.busy)]
        perf = self.transform_perf
        m.d.sync += [perf.input_cycles.eq(perf.input_cycles + iu.busy),
                     perf.output_cycles.eq(perf.output_cycles + ou.busy)]
        return m


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
        "align_bits": ALIGN_BITS, "y_bits": top.output_unit.out_bits,
        "input_stages": INPUT_STAGES, "output_stages": OUTPUT_STAGES,
        "lanes": "element (x, y) of a tile is lane x * side + y"}
    return write_complete(out_dir, {f"{name}.v": text, f"{name}.json": json.dumps(info, indent=1)})


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


def verify(arch: ArchSpec, sim: str = "icarus", progress=lambda line: None,
           variant: str = "F4") -> tuple[int, int]:
    """(passed, failed) over random and corner-case layers on every dataflow the accelerator
    builds: outputs bit-exact against winograd_ref.conv_quant, the testbench's cycles equal to
    the design's own counters."""
    from .winograd_sim import check_result, layer_cases, run_winograd
    if sim not in ("icarus", "verilator"):
        raise SpecError(f"the Winograd RTL runs under cocotb: sim must be icarus or verilator, "
                        f"not {sim!r}")
    check(arch, variant)
    passed = failed = 0
    rng = np.random.default_rng(0)
    cases = [(name, case) for dataflow in buildable(arch).dataflows
             for name, case in layer_cases(arch, variant_of(variant), dataflow, rng)]
    with tempfile.TemporaryDirectory(prefix="dlaforge_winograd_") as tmp:
        results = run_winograd([job for _, job in cases], Path(tmp), sim)
    for (name, job), result in zip(cases, results):
        problems = check_result(job, result)
        passed, failed = passed + (not problems), failed + bool(problems)
        progress(f"{job.dataflow} {name}: {'ok' if not problems else '; '.join(problems)} "
                 f"({result.testbench_cycles} cycles)")
    return passed, failed
