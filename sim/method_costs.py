"""What a method's hardware costs beyond a plain MAC array: the energy of one PE operation of
each kind, and the energy and busy cycles of the fixed-function units beside the array.

Energy per action at 45 nm (REFERENCES.md §1), scaled to the arch's node like the rest of
the energy table (`node_factor`; for a node outside the scaling table whose arch file gives
its own MAC energy, as eyeriss_like at 65 nm, by the ratio of that MAC to the same MAC at
45 nm, so that every operation keeps its 45 nm ratio to a MAC):
- addition: Horowitz 0.1 pJ per 32-bit add, linear in width;
- multiplication: Horowitz 0.2 pJ per int8 multiply, scaling with the product of the widths
  (as sim/energy.py);
- XNOR: Accelergy Aladdin 0.018 pJ per bit (40 nm, x1.15 to 45 nm);
- shifter: Aladdin 0.417 pJ per 32-bit shift (x1.15), linear in width;
- popcount of w bits: an adder tree, Σ_l (w/2^l)·l one-bit additions (120 for 64 bits).

Each unit op key of `HwOp.ops` belongs to one unit (`UNIT_OPS`) and has an energy (`unit_op_pj`).
A unit works beside the array on the same schedule; when it needs more cycles than the array
(its ops / `ops_per_cycle`), the op stretches to the unit's time.
"""

from __future__ import annotations

import math

from dlaforge.arch import ArchSpec
from dlaforge.workloads.hwop import HwOp

from .energy import (ENERGY_FACTOR_FROM_45NM, INT32_ADD_PJ_45NM, INT8_MULT_PJ_45NM,
                     EnergyTable, mac_pj_45nm, technology_factor)

ADD_PJ_PER_BIT_45NM = INT32_ADD_PJ_45NM / 32
XNOR_PJ_PER_BIT_45NM = 0.018 * 1.15
SHIFT_PJ_PER_BIT_45NM = 0.417 * 1.15 / 32
SCALE_BITS = 16         # fixed-point width of XNOR's K and α

UNIT_OPS = {
    "winograd_transform": ("wino_in_add", "wino_out_add", "wino_shift"),
    "smartdeal_rebuild": ("rebuild_shift", "rebuild_add"),
    "xnor_scale": ("scale_mult", "scale_add"),
    "slice_combine": ("slice_add", "window_add", "combine_add"),
}


def mult_pj_45nm(a_bits: int, b_bits: int) -> float:
    return INT8_MULT_PJ_45NM * a_bits * b_bits / 64


def popcount_pj_45nm(bits: int) -> float:
    levels = math.ceil(math.log2(bits)) if bits > 1 else 0
    return ADD_PJ_PER_BIT_45NM * sum(math.ceil(bits / 2**l) * l for l in range(1, levels + 1))


def node_factor(arch: ArchSpec) -> float:
    """Energy of an operation on `arch` per joule of the same operation at 45 nm."""
    if arch.technology_nm not in ENERGY_FACTOR_FROM_45NM and arch.energy.mac_pj is not None:
        return arch.energy.mac_pj / mac_pj_45nm(arch.pe_array)
    return technology_factor(arch.technology_nm)


def unit_op_pj(arch: ArchSpec) -> dict:
    """pJ of one operation of each unit op key, at the arch's node. Widths: Winograd input
    transform 16 bit (int8 times a gain of at most 100), everything at accumulator width
    otherwise; SmartDeal rebuild 16 bit (8-bit B shifted by at most 7); XNOR scaling at
    `SCALE_BITS`; PalQuant window sums 16 bit."""
    psum = arch.pe_array.psum_bits
    at_45nm = {
        "wino_in_add": 16 * ADD_PJ_PER_BIT_45NM,
        "wino_out_add": psum * ADD_PJ_PER_BIT_45NM,
        "wino_shift": psum * SHIFT_PJ_PER_BIT_45NM,
        "rebuild_shift": 16 * SHIFT_PJ_PER_BIT_45NM,
        "rebuild_add": 16 * ADD_PJ_PER_BIT_45NM,
        "scale_mult": mult_pj_45nm(SCALE_BITS, SCALE_BITS),
        "scale_add": SCALE_BITS * ADD_PJ_PER_BIT_45NM,
        "slice_add": psum * ADD_PJ_PER_BIT_45NM,
        "window_add": 16 * ADD_PJ_PER_BIT_45NM,
        "combine_add": psum * ADD_PJ_PER_BIT_45NM,
    }
    factor = node_factor(arch)
    return {key: pj * factor for key, pj in at_45nm.items()}


def pe_op_pj(arch: ArchSpec, op: HwOp, table: EnergyTable) -> float:
    """Energy of one PE operation: the table's MAC, or an XNOR-popcount-accumulate of two
    ifmap_bits-wide sign words."""
    if op.pe_op == "mac":
        return table.mac_pj
    word = op.ifmap_bits
    at_45nm = (word * XNOR_PJ_PER_BIT_45NM + popcount_pj_45nm(word)
               + op.psum_bits * ADD_PJ_PER_BIT_45NM)
    return at_45nm * node_factor(arch)


def unit_energy_pj(arch: ArchSpec, op: HwOp) -> float:
    """Energy of the op's unit operations (0 when it has none)."""
    if not any(key in op.ops for keys in UNIT_OPS.values() for key in keys):
        return 0.0
    pj = unit_op_pj(arch)
    return sum(op.ops.get(key, 0) * pj[key] for keys in UNIT_OPS.values() for key in keys)


def unit_cycles(arch: ArchSpec, op: HwOp) -> float:
    """Cycles of the busiest unit the op uses (0 when it uses none)."""
    busiest = 0.0
    for name, keys in UNIT_OPS.items():
        work = sum(op.ops.get(key, 0) for key in keys)
        if work:
            unit = arch.unit(name)
            if unit is None:
                raise ValueError(f"op {op.name!r} needs unit {name!r}, absent from {arch.name!r}")
            busiest = max(busiest, work / unit.ops_per_cycle)
    return busiest
