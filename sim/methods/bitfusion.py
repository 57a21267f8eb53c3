"""The Bit Fusion array's model (hw/methods/bitfusion/): the energy of its PE operation and its
exact timing.

Energy of one "fused_mac" PE operation: the bricks it switches and one accumulate. A BitBrick
is a 2-bit x 2-bit multiply, priced as the energy table's int8 multiply scaled with the product
of the widths (method_costs.mult_pj_45nm(2, 2) = 0.2 x 4 / 64 = 0.0125 pJ at 45 nm: 1/16 of
the int8 multiply, whose 8x8 product is 16 bricks), and the accumulator's add as the MAC's
(0.1 pJ per 32 bits, linear in psum_bits), scaled to the arch's node (method_costs.node_factor):

    fused_mac_pj = (bricks switched per fused MAC) x 0.0125 + psum_bits / 32 x 0.1   (45 nm)

The bricks switched per fused MAC are the op's `bricks` count over its PE operations: 16 when
every lane holds a real product (so a full fused MAC costs the int8 MAC's 0.3 pJ whatever the
precision, i.e. 0.3 / 4 per product at 4x4 and 0.3 / 16 at 2x2, the accumulate shared by the
lanes), fewer when the last word of a reduction has zero lanes. The fusion tree's shifters and
adders are counted in the bricks' share of the multiply (an int8 multiplier also sums its
partial products); the unit's overhead over a fixed int8 MAC is left out (the cell counts of
hw/methods/bitfusion show it in area).

Timing (`--schedule rtl`): the Bit Fusion accelerator is the first accelerator built for the
op's precision (workloads/methods/bitfusion/plan.py: the array's elements are the fused words,
the layer's channels packed), so its timing model is the baseline's (sim/cycle/rtl_timing.py)
on the plan's view of the spec, with requantized outputs where that design has the writer's
requantization (8x8) and psum_bits sums elsewhere; one command per image and group. Its DRAM
holds the packed words, so the last word's zero lanes move too (the mapped schedules take them
out, HwOp.dram_scale). tests/hw/methods/test_bitfusion.py holds the counters equal to the
Icarus runs'.
"""

from __future__ import annotations

from dataclasses import replace

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp
from dlaforge.workloads.methods.accelerator_plan import RtlPlan
from dlaforge.workloads.methods.bitfusion import PE_OP
from dlaforge.workloads.methods.bitfusion.plan import (check, fused_arch, precision_of,
                                                       requantizes)

from ..cycle.rtl_timing import rtl_op_stats, rtl_timing
from ..method_costs import ADD_PJ_PER_BIT_45NM, mult_pj_45nm, node_factor
from ..rtl_program import commands_of, gemm_of, rtl_layer_reason, stats_from_counters

UNIT_OPS: dict = {}
BRICK_PJ_45NM = mult_pj_45nm(2, 2)


def fused_mac_pj_45nm(bricks: float, psum_bits: int) -> float:
    """A fused MAC switching `bricks` bricks and accumulating at psum_bits, at 45 nm."""
    return bricks * BRICK_PJ_45NM + ADD_PJ_PER_BIT_45NM * psum_bits


def fused_mac_pj(arch: ArchSpec, op: HwOp) -> float:
    """One fused MAC of `op` at the arch's node: its bricks switched on average (module doc)."""
    bricks = op.ops["bricks"] / op.pe_macs
    return fused_mac_pj_45nm(bricks, op.psum_bits) * node_factor(arch)


PE_OP_PJ = {PE_OP: fused_mac_pj}


def unit_op_pj_45nm(arch: ArchSpec) -> dict:
    return {}


def built_for(arch: ArchSpec, op: HwOp) -> tuple[ArchSpec, bool]:
    """(the spec as the accelerator for the op's precision sees it, whether it requantizes)."""
    a_bits, w_bits = precision_of(op.ifmap_bits, op.weight_bits)
    return fused_arch(arch, a_bits, w_bits), requantizes(arch, a_bits, w_bits)


def cannot_run(arch: ArchSpec, op: HwOp, dataflow: str) -> str | None:
    """Why the Bit Fusion array cannot run `op` under `dataflow` (None if it can)."""
    if op.pe_op != PE_OP:
        return "not a fused op (the Bit Fusion array runs the bitfusion method's fused MACs)"
    reason = rtl_layer_reason(op)
    if reason is not None:
        return reason
    try:
        check(arch)
        built, requant = built_for(arch, op)
        if dataflow not in built.pe_array.dataflows:
            return (f"the Bit Fusion array at {op.ifmap_bits}/{op.weight_bits}-bit words runs "
                    f"{', '.join(built.pe_array.dataflows)}, not {dataflow}")
        RtlPlan.make(built, dataflow, gemm_of(op), requant=requant)
    except SpecError as exc:
        return str(exc)
    return None


def command_counters(arch: ArchSpec, op: HwOp, dataflow: str) -> list[dict]:
    """The timing model's counters of each command of `op` (one per image and group)."""
    built, requant = built_for(arch, op)
    return [rtl_timing(built, dataflow, gemm_of(op), requant=requant).counters] * commands_of(op)


def _priced(arch: ArchSpec, op: HwOp, stats: Stats) -> Stats:
    """The accelerator's Stats of `op` with the PE operations at `fused_mac_pj` and the op's
    own counts."""
    energy = {**stats.energy_breakdown_pj, "mac": op.pe_macs * fused_mac_pj(arch, op)}
    return replace(stats, energy_breakdown_pj=energy, ops=dict(op.ops))


def counters_to_stats(arch: ArchSpec, op: HwOp, counters: dict, dataflow: str, table) -> Stats:
    """Stats of the op from the counters of all its commands, priced as the baseline
    accelerator's on the fused words, with the PE operations at `fused_mac_pj`."""
    built, requant = built_for(arch, op)
    channels = gemm_of(op).K * commands_of(op) if requant else 0
    return _priced(arch, op, stats_from_counters(built, op.pe_macs, counters, table, dataflow,
                                                 channels))


def op_stats(arch: ArchSpec, op: HwOp, dataflow: str, table) -> Stats:
    """Stats of one fused HwOp on the Bit Fusion array: the baseline accelerator's timing model
    (rtl_op_stats) on the fused words, priced as `counters_to_stats`."""
    why = cannot_run(arch, op, dataflow)
    if why:
        raise SpecError(f"op {op.name!r}: {why}")
    built, requant = built_for(arch, op)
    return _priced(arch, op, rtl_op_stats(built, op, dataflow, table, requant))
