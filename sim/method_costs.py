"""What a method's hardware costs beyond a plain MAC array: the energy of one PE operation of
each kind, and the energy and busy cycles of the fixed-function units beside the array.

Energy per action at 45 nm (REFERENCES.md §1), scaled to the arch's node like the rest of
the energy table (`node_factor`; for a node outside the scaling table whose arch file gives
its own MAC energy, as eyeriss_like at 65 nm, by the ratio of that MAC to the same MAC at
45 nm, so that every operation keeps its 45 nm ratio to a MAC):
- addition: Horowitz 0.1 pJ per 32-bit add, linear in width;
- multiplication: Horowitz 0.2 pJ per int8 multiply, scaling with the product of the widths
  (as sim/energy.py);
- XNOR: Accelergy Aladdin 0.018 pJ per bit (40 nm, x1.15 to 45 nm; sim/methods/xnor.py);
- shifter: Aladdin 0.417 pJ per 32-bit shift (x1.15), linear in width;
- popcount of w bits: an adder tree, Σ_l (w/2^l)·l one-bit additions (120 for 64 bits;
  sim/methods/xnor.py).

Each unit op key of `HwOp.ops` belongs to one unit and has an energy at 45 nm, both given by the
method family that uses the unit (sim/methods/<family>.py: `UNIT_OPS`, `unit_op_pj_45nm`).
A unit works beside the array on the same schedule; when it needs more cycles than the array
(its ops / `ops_per_cycle`), the op stretches to the unit's time.
"""

from __future__ import annotations

from dataclasses import replace

from dlaforge.arch import ArchSpec
from dlaforge.workloads.hwop import HwOp

from .energy import (ENERGY_FACTOR_FROM_45NM, INT32_ADD_PJ_45NM, INT8_MULT_PJ_45NM,
                     EnergyTable, mac_pj_45nm, technology_factor)

ADD_PJ_PER_BIT_45NM = INT32_ADD_PJ_45NM / 32
SHIFT_PJ_PER_BIT_45NM = 0.417 * 1.15 / 32


def mult_pj_45nm(a_bits: int, b_bits: int) -> float:
    return INT8_MULT_PJ_45NM * a_bits * b_bits / 64


def node_factor(arch: ArchSpec) -> float:
    """Energy of an operation on `arch` per joule of the same operation at 45 nm."""
    if arch.technology_nm not in ENERGY_FACTOR_FROM_45NM and arch.energy.mac_pj is not None:
        return arch.energy.mac_pj / mac_pj_45nm(arch.pe_array)
    return technology_factor(arch.technology_nm)


def unit_ops() -> dict:
    """Unit name -> the `HwOp.ops` keys it performs, of every method family's model
    (sim/methods/<family>.py's UNIT_OPS); a unit two families use (XNOR-Net's and DIR-Net's
    xnor_scale) performs the keys of both."""
    from .methods import family_models
    units = {}
    for model in family_models():
        for unit, keys in model.UNIT_OPS.items():
            units[unit] = tuple(dict.fromkeys(units.get(unit, ()) + tuple(keys)))
    return units


def unit_op_pj(arch: ArchSpec) -> dict:
    """pJ of one operation of each unit op key, at the arch's node: each family's
    `unit_op_pj_45nm(arch)` (sim/methods/<family>.py, which says the widths) scaled to the
    arch's node."""
    from .methods import family_models
    at_45nm = {key: pj for model in family_models()
               for key, pj in model.unit_op_pj_45nm(arch).items()}
    factor = node_factor(arch)
    return {key: pj * factor for key, pj in at_45nm.items()}


def pe_op_pj(arch: ArchSpec, op: HwOp, table: EnergyTable) -> float:
    """Energy of one PE operation: an operation a family prices (sim/methods/<family>.py's
    `PE_OP_PJ`: another PE kind's, a MAC of other widths) as it does, else a MAC (workloads/
    methods.multiplies: "mac", Winograd's tap MACs) as the table's MAC at the bits the op uses
    (mac_width_factor)."""
    from dlaforge.workloads.methods import multiplies

    from .methods import family_models
    priced = {name: pj for model in family_models() for name, pj in model.PE_OP_PJ.items()}
    if op.pe_op in priced:
        return priced[op.pe_op](arch, op)
    if multiplies(op.pe_op):    # a MAC ("mac", or a method's MAC of its own values)
        return table.mac_pj * mac_width_factor(arch, op)
    raise ValueError(f"hw op {op.name!r}: no family's model prices pe_op {op.pe_op!r}")


def mac_width_factor(arch: ArchSpec, op: HwOp) -> float:
    """The MAC energy of an op narrower than the array (a layer the precision policy gives
    fewer bits, workloads/precision.py) relative to a full-width MAC: the operands' unused
    upper bits are held at zero and do not switch, so the multiply costs as one of the op's
    widths (quadratic in them) and the accumulate as the array's (the psum is as wide)."""
    pe = arch.pe_array
    if op.ifmap_bits >= pe.ifmap_bits and op.weight_bits >= pe.weight_bits:
        return 1.0
    used = replace(pe, ifmap_bits=min(op.ifmap_bits, pe.ifmap_bits),
                   weight_bits=min(op.weight_bits, pe.weight_bits))
    return mac_pj_45nm(used) / mac_pj_45nm(pe)


def unit_energy_pj(arch: ArchSpec, op: HwOp) -> float:
    """Energy of the op's unit operations (0 when it has none)."""
    units = unit_ops()
    if not any(key in op.ops for keys in units.values() for key in keys):
        return 0.0
    pj = unit_op_pj(arch)
    return sum(op.ops.get(key, 0) * pj[key] for keys in units.values() for key in keys)


def unit_cycles(arch: ArchSpec, op: HwOp) -> float:
    """Cycles of the busiest unit the op uses (0 when it uses none)."""
    busiest = 0.0
    for name, keys in unit_ops().items():
        work = sum(op.ops.get(key, 0) for key in keys)
        if work:
            unit = arch.unit(name)
            if unit is None:
                raise ValueError(f"op {op.name!r} needs unit {name!r}, absent from {arch.name!r}")
            busiest = max(busiest, work / unit.ops_per_cycle)
    return busiest
