"""Timing model of the Winograd RTL (hw/methods/winograd.py), closed form, never simulating it:
its cycles and counters equal the RTL's (tests/hw/methods/test_winograd.py).

The schedule is dlaforge/rtl_winograd_plan.py's: the input-transform unit busy
input_tiles + INPUT_STAGES - 1 cycles, then a² tap GEMMs on the baseline accelerator (each
timed by sim/cycle/rtl_timing.py: all taps have the same shape and no zero padding, so each
takes the same cycles), then the output-transform unit busy output_tiles + OUTPUT_STAGES - 1.

`op_stats` prices a `winograd_f4` / `winograd_f2` op (workloads/methods/winograd.py) as this
RTL runs it: the accelerator's buffer and DRAM counters through sim/rtl_program.stats_from_counters,
plus the transform units' additions and shifts (sim/method_costs.py energies) counted from the
units' structure: a constant c costs popcount(|c|) wired shifts and a matrix row of t terms
t - 1 adders, as in workloads/methods/winograd.tile_adds; one rounding shift per input tap and
one alignment shift per output tap. The transform units' busy cycles count as compute cycles.
"""

from __future__ import annotations

from dataclasses import replace

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.rtl_winograd_plan import UNIT, WinogradPlan, layer_counters
from dlaforge.stats import Stats
from dlaforge.workloads.methods.winograd import tile_adds
from dlaforge.workloads.methods.winograd_ref import VARIANTS

from ..method_costs import unit_op_pj
from ..rtl_program import stats_from_counters
from .rtl_timing import rtl_timing

TAPS_TO_M = {36: 4, 16: 2}


def winograd_timing(arch: ArchSpec, dataflow: str, plan: WinogradPlan,
                    bandwidth: float | None = None, latency: int | None = None) -> dict:
    """The RTL's counters for one image (rtl_winograd_plan.layer_counters' keys)."""
    tap = rtl_timing(arch, dataflow, plan.tap_gemm, bandwidth, latency).counters
    summed = {name: value * plan.taps for name, value in tap.items()}
    return layer_counters(summed, plan.input_cycles, plan.output_cycles)


def plan_of(op) -> WinogradPlan:
    """The plan of one image of a Winograd op (a² groups of a 1x1 conv over the tile grid)."""
    m = TAPS_TO_M[op.groups]
    return WinogradPlan(m, op.C // op.groups, op.K // op.groups, op.P, op.Q)


def unit_ops(plan: WinogradPlan) -> dict:
    """The transform units' additions and shifts for one image."""
    variant = next(v for v in VARIANTS.values() if v.m == plan.m)
    adds_in, adds_out = tile_adds(variant)
    return {"wino_in_add": adds_in * plan.input_tiles,
            "wino_out_add": adds_out * plan.output_tiles,
            "wino_shift": plan.taps * (plan.input_tiles + plan.output_tiles)}


def op_stats(arch: ArchSpec, op, dataflow: str, table) -> Stats:
    """Stats of a Winograd op as the RTL runs it, one image after another."""
    counters = {name: value * op.N
                for name, value in winograd_timing(arch, dataflow, plan_of(op)).items()}
    return stats_of_counters(arch, op, counters, dataflow, table)


def stats_of_counters(arch: ArchSpec, op, counters: dict, dataflow: str, table) -> Stats:
    """Stats of a Winograd op from the RTL's counters for all its images (measured, or from
    `winograd_timing`), priced with the energy table."""
    array_view = dict(counters, busy_cycles=counters["busy_cycles"]
                      + counters["input_transform_cycles"] + counters["output_transform_cycles"])
    stats = stats_from_counters(arch, op.pe_macs, array_view, table, dataflow)
    ops = {name: value * op.N for name, value in unit_ops(plan_of(op)).items()}
    pj = unit_op_pj(arch)
    energy = dict(stats.energy_breakdown_pj, units=sum(n * pj[key] for key, n in ops.items()))
    return replace(stats, energy_breakdown_pj=energy,
                   weight_storage_bits=op.weight_storage_bits, ops={**stats.ops, **ops})


def cannot_run(arch: ArchSpec, op, dataflow: str) -> str | None:
    """Why the Winograd RTL cannot run `op` under `dataflow` (None if it can)."""
    pe = arch.pe_array
    if arch.scalesim is not None:
        return "a SCALE-Sim .cfg follows SCALE-Sim's timing"
    if "wino_in_add" not in op.ops or op.groups not in TAPS_TO_M:
        return "not a Winograd tap op (a direct-convolution fallback runs on the baseline RTL)"
    if arch.unit(UNIT) is None:
        return f"arch {arch.name!r} has no {UNIT} unit"
    if (op.ifmap_bits, op.weight_bits) != (pe.ifmap_bits, pe.weight_bits):
        return "operand widths other than the array's"
    try:
        plan_of(op).tap_plan(arch, dataflow)
    except SpecError as exc:
        return str(exc)
    return None
