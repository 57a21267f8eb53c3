"""DIR-Net's model: the energy of its scaling stage's operations on the XNOR arch's xnor_scale
unit; its PE operation is XNOR-Net's XNOR-popcount (priced by sim/methods/xnor.py).

Unit operations at 45 nm, scaled to the arch's node like every method operation:
- `shift`: one output's dot product (psum_bits wide) shifted by its filter's exponent, a
  barrel shifter at method_costs.SHIFT_PJ_PER_BIT_45NM per bit (Aladdin's 0.417 pJ per 32-bit
  shift, x1.15 to 45 nm): 0.48 pJ at 32 bits, against XNOR-Net's two 16x16-bit multiplies
  (0.8 pJ each) per output;
- `scale_add`: the 2·popcount - n correction, XNOR-Net's scale add (sim/methods/xnor.py).

Timing (`--schedule rtl`): the family's hardware is the XNOR unit (hw/methods/dirnet/), whose
scaling stage multiplies; `cannot_run` says so for a binarized op, so `--schedule rtl` refuses
DIR-Net's binarized layers until a shift-only stage and its timing exist. `command_counters`
and `counters_to_stats` are the XNOR unit's (its counters for the op as that unit runs it).
"""

from __future__ import annotations

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp

from ..method_costs import SHIFT_PJ_PER_BIT_45NM
from . import xnor
from .xnor import command_counters, counters_to_stats  # noqa: F401  (the interface)

UNIT_OPS = {"xnor_scale": ("shift", "scale_add")}
PE_OP_PJ: dict = {}


def unit_op_pj_45nm(arch: ArchSpec) -> dict:
    """The scaling stage's shift of a psum_bits sum and its scale add, at 45 nm."""
    return {"shift": SHIFT_PJ_PER_BIT_45NM * arch.pe_array.psum_bits,
            "scale_add": xnor.unit_op_pj_45nm(arch)["scale_add"]}


def cannot_run(arch: ArchSpec, op: HwOp, dataflow: str) -> str | None:
    """Why the family's hardware cannot run `op` (module doc): always, for a binarized op."""
    if op.pe_op != "xnor_popcount":
        return "not a binarized op (the baseline MAC RTL runs it)"
    return ("DIR-Net's scaling stage shifts, and the XNOR unit's RTL multiplies by K and alpha: "
            "a shift-only stage has no RTL or timing model yet")


def op_stats(arch: ArchSpec, op: HwOp, dataflow: str, table) -> Stats:
    """Refuses (SpecError): no RTL of DIR-Net's scaling stage to time (module doc)."""
    raise SpecError(f"op {op.name!r}: {cannot_run(arch, op, dataflow)}")
