"""The adder array's model (hw/methods/addernet/): the energy of its PE operation and its exact
timing.

Energy of one "sad" PE operation, c - |a - w|, from the energy table's add figure (Horowitz's
0.1 pJ per 32-bit add at 45 nm, linear in width, method_costs.ADD_PJ_PER_BIT_45NM), scaled to
the arch's node like every method operation (method_costs.node_factor):
    a subtraction of b-bit operands (b + 1 bits), an absolute value (a conditional negation:
    an increment of b + 1 bits) and the accumulator's add (psum_bits),
b = max(ifmap_bits, weight_bits) of the op. No multiplier: at int8 and 32-bit sums it is
(9 + 9 + 32) / 32 x 0.1 = 0.156 pJ against the int8 MAC's 0.2 + 0.1 = 0.3 pJ at 45 nm.

Timing: the adder accelerator is the first accelerator with adder PEs, output stationary
(workloads/methods/addernet/plan.py), so its timing model is the baseline's
(sim/cycle/rtl_timing.py) on the plan's view of the spec, with requantized outputs; one command
per image and group, as the baseline. tests/hw/methods/test_addernet.py holds its counters
equal to the Icarus runs'.
"""

from __future__ import annotations

from dataclasses import replace

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp
from dlaforge.workloads.methods.accelerator_plan import RtlPlan
from dlaforge.workloads.methods.addernet.plan import DATAFLOW, adder_arch, check, sums_fit

from ..cycle.rtl_timing import rtl_timing
from ..method_costs import ADD_PJ_PER_BIT_45NM, node_factor
from ..rtl_program import commands_of, gemm_of, rtl_layer_reason, stats_from_counters
from . import summed

UNIT_OPS: dict = {}


def sad_pj_45nm(bits: int, psum_bits: int) -> float:
    """A subtract, an absolute value and an accumulate at 45 nm (module doc)."""
    return ADD_PJ_PER_BIT_45NM * (2 * (bits + 1) + psum_bits)


def sad_pj(arch: ArchSpec, op: HwOp) -> float:
    """One adder PE operation of `op` at the arch's node."""
    bits = max(op.ifmap_bits, op.weight_bits)
    return sad_pj_45nm(bits, op.psum_bits) * node_factor(arch)


PE_OP_PJ = {"sad": sad_pj}


def unit_op_pj_45nm(arch: ArchSpec) -> dict:
    return {}


def cannot_run(arch: ArchSpec, op: HwOp, dataflow: str) -> str | None:
    """Why the adder array cannot run `op` under `dataflow` (None if it can)."""
    if op.pe_op != "sad":
        return ("not an adder op (an int8 MAC layer: the adder PE has no multiplier, and the "
                "baseline MAC accelerator is not built for pe_kind 'adder')")
    if dataflow != DATAFLOW:
        return f"the adder array runs dataflow {DATAFLOW!r} only"
    pe = arch.pe_array
    if (op.ifmap_bits, op.weight_bits) != (pe.ifmap_bits, pe.weight_bits):
        return (f"{op.ifmap_bits}-bit codes: the adder array's loader moves elements of the "
                f"array's {pe.ifmap_bits} bits")
    reason = rtl_layer_reason(op)
    if reason is not None:
        return reason
    try:
        check(arch)
        RtlPlan.make(adder_arch(arch), DATAFLOW, gemm_of(op), requant=True)
    except SpecError as exc:
        return str(exc)
    if not sums_fit(arch, gemm_of(op)):
        return f"its sums of |x - w| may overflow psum_bits {pe.psum_bits}"
    return None


def command_counters(arch: ArchSpec, op: HwOp, dataflow: str) -> list[dict]:
    """The timing model's counters of each command of `op` (one per image and group), with
    requantized outputs."""
    counters = rtl_timing(adder_arch(arch), DATAFLOW, gemm_of(op), requant=True).counters
    return [counters] * commands_of(op)


def counters_to_stats(arch: ArchSpec, op: HwOp, counters: dict, dataflow: str, table) -> Stats:
    """Stats of the op from the counters of all its commands, priced as the baseline
    accelerator's, with the PE operations at `sad_pj` and counted as `sub`, `abs`, `add`."""
    stats = stats_from_counters(adder_arch(arch), op.pe_macs, counters, table, DATAFLOW,
                                gemm_of(op).K * commands_of(op))
    energy = {**stats.energy_breakdown_pj, "mac": op.pe_macs * sad_pj(arch, op)}
    return replace(stats, energy_breakdown_pj=energy, ops=dict(op.ops))


def op_stats(arch: ArchSpec, op: HwOp, dataflow: str, table) -> Stats:
    """Stats of one adder HwOp on the adder array from the timing model's counters."""
    why = cannot_run(arch, op, dataflow)
    if why:
        raise SpecError(f"op {op.name!r}: {why}")
    return counters_to_stats(arch, op, summed(command_counters(arch, op, dataflow)), dataflow,
                             table)
