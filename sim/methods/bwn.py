"""The sign-add array's model (hw/methods/bwn/): the energy of its PE operation and its exact
timing, which is the adder array's (sim/methods/addernet.py).

Energy of one "sign_add" PE operation, c ± a, from the energy table's add figure (Horowitz's
0.1 pJ per 32-bit add at 45 nm, linear in width, method_costs.ADD_PJ_PER_BIT_45NM), scaled to
the arch's node like every method operation (method_costs.node_factor):
    a conditional negation of the b-bit activation (an increment of b + 1 bits, the adder PE's
    absolute-value stage) and the accumulator's add (psum_bits),
b = the op's ifmap_bits; the 1-bit weight only selects. At int8 and 32-bit sums it is
(9 + 32) / 32 x 0.1 = 0.128 pJ against the adder PE's 0.156 pJ and the int8 MAC's 0.3 pJ at
45 nm. α_k needs no unit: it is the writer's per-channel requantization scale.

Timing of the first accelerator's sign-add array (the bench's unit slices; `--schedule rtl`
now prices the mapped-program controller with BWN's datapath, which moves the packed bits:
workloads/methods/bwn/plan.py): the adder accelerator with another PE operation, so its
commands, counters and timing are the adder array's. Its loader moves each ±1 weight as an
element of the array's width, so its weights' buffer and DRAM traffic are those int8
elements, not the transform's packed bits.
"""

from __future__ import annotations

from dataclasses import replace

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp
from dlaforge.workloads.methods.bwn import PE_OP

from ..method_costs import ADD_PJ_PER_BIT_45NM, node_factor
from . import addernet, summed
from .addernet import UNIT_OPS, unit_op_pj_45nm  # noqa: F401  (the interface: no units)


def sign_add_pj_45nm(bits: int, psum_bits: int) -> float:
    """A conditional negation of a `bits`-bit activation and an accumulate at 45 nm."""
    return ADD_PJ_PER_BIT_45NM * (bits + 1 + psum_bits)


def sign_add_pj(arch: ArchSpec, op: HwOp) -> float:
    """One sign-add PE operation of `op` at the arch's node."""
    return sign_add_pj_45nm(op.ifmap_bits, op.psum_bits) * node_factor(arch)


PE_OP_PJ = {PE_OP: sign_add_pj}


def as_built(arch: ArchSpec, op: HwOp) -> HwOp:
    """The op as the sign-add accelerator runs it: each weight an element of the array's width
    (module doc), on the adder array's timing and checks."""
    return replace(op, pe_op="sad", weight_bits=arch.pe_array.weight_bits)


def cannot_run(arch: ArchSpec, op: HwOp, dataflow: str) -> str | None:
    """Why the sign-add array cannot run `op` under `dataflow` (None if it can): the adder
    array's reasons (its sums bound, |x - w| <= 255 a tap, covers ±x)."""
    if op.pe_op != PE_OP:
        return ("not a binary-weight op (an int8 MAC layer: the sign-add PE has no multiplier, "
                "and the baseline MAC accelerator is not built for pe_kind 'adder')")
    return addernet.cannot_run(arch, as_built(arch, op), dataflow)


def command_counters(arch: ArchSpec, op: HwOp, dataflow: str) -> list[dict]:
    """The adder array's counters of each command of `op` (one per image and group)."""
    return addernet.command_counters(arch, as_built(arch, op), dataflow)


def counters_to_stats(arch: ArchSpec, op: HwOp, counters: dict, dataflow: str, table) -> Stats:
    """Stats of the op from its commands' counters, priced as the adder array's with the PE
    operations at `sign_add_pj`, the op's own counts (`add`) and its weights' storage (the
    packed signs and α the method stores, whatever the loader moves)."""
    stats = addernet.counters_to_stats(arch, as_built(arch, op), counters, dataflow, table)
    energy = {**stats.energy_breakdown_pj, "mac": op.pe_macs * sign_add_pj(arch, op)}
    return replace(stats, energy_breakdown_pj=energy, ops=dict(op.ops),
                   weight_storage_bits=op.weight_storage_bits)


def op_stats(arch: ArchSpec, op: HwOp, dataflow: str, table) -> Stats:
    """Stats of one binary-weight HwOp on the sign-add array from the timing model."""
    why = cannot_run(arch, op, dataflow)
    if why:
        raise SpecError(f"op {op.name!r}: {why}")
    return counters_to_stats(arch, op, summed(command_counters(arch, op, dataflow)), dataflow,
                             table)
