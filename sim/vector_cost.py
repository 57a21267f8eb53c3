"""The vector unit's cost for a non-MAC layer (workloads/vector_ops.py), the same closed form
in the analytical and the cycle model.

The layer streams: its input is read from DRAM into the shared buffer holding the ifmap, the
unit reads it from there, and writes its output into the buffer holding the ofmap, which drains
to DRAM; loads, compute and drains overlap (double buffering), so
  cycles = max(compute, DRAM transfer, each buffer port's transfer) + DRAM latency,
with compute = ceil(operations / the unit's `ops_per_cycle`) (one operation of any kind per
lane per cycle: the lanes are pipelined exp/div units as well as adders) and the DRAM transfer
(read + written bytes) / bandwidth. `compute_cycles` is the compute; the rest is stall.
Each layer is priced on its own, as the MAC layers are: nothing is fused into the layer before
it (a ReLU after a conv makes its own round trip through DRAM).

Energy per operation at 45 nm on 16-bit floating point (REFERENCES.md §1, Horowitz: fp16 add
0.4 pJ, mult 1.1 pJ; Aladdin's 32-bit comparator 0.029 pJ at 40 nm, x1.15 to 45 nm and half
for 16 bits), and the transcendental operations as the fixed-point sequences written here: exp
and log a range reduction and a degree-3 polynomial (3 mults, 3 adds); div a reciprocal by two
Newton steps (2 mults and an add each) and a mult; sqrt an inverse square root by two Newton
steps (3 mults and an add each) and a mult. Scaled to the arch's node like the method units
(method_costs.node_factor); an arch file's `units.vector.energy_pj` replaces any of them
(pJ at the arch's node). It is the `units` component of the energy.
"""

from __future__ import annotations

import math

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.stats import Stats
from dlaforge.workloads.vector_ops import VectorOp

from .energy import EnergyTable
from .method_costs import node_factor

FP16_ADD_PJ_45NM = 0.4
FP16_MULT_PJ_45NM = 1.1
COMPARE_PJ_45NM = 0.029 * 1.15 / 2
OP_PJ_45NM = {
    "add": FP16_ADD_PJ_45NM,
    "mult": FP16_MULT_PJ_45NM,
    "max": COMPARE_PJ_45NM,
    "min": COMPARE_PJ_45NM,
    "exp": 3 * FP16_MULT_PJ_45NM + 3 * FP16_ADD_PJ_45NM,
    "log": 3 * FP16_MULT_PJ_45NM + 3 * FP16_ADD_PJ_45NM,
    "div": 5 * FP16_MULT_PJ_45NM + 2 * FP16_ADD_PJ_45NM,
    "sqrt": 7 * FP16_MULT_PJ_45NM + 2 * FP16_ADD_PJ_45NM,
}


def vector_stats(arch: ArchSpec, op: VectorOp, table: EnergyTable) -> Stats:
    """Stats of one vector layer on `arch`'s vector unit (SpecError when it has none)."""
    unit = arch.unit("vector")
    if unit is None:
        raise SpecError(f"layer {op.name!r} ({op.op}) runs on a vector unit, which arch "
                        f"{arch.name!r} does not declare (units: vector: ops_per_cycle: N)")
    work = sum(op.ops.values())
    compute = math.ceil(work / unit.ops_per_cycle)
    read_bytes = math.ceil(op.read_elements * op.bits / 8)
    write_bytes = math.ceil(op.write_elements * op.bits / 8)
    busy = max(compute, (read_bytes + write_bytes) / arch.dram.bandwidth_bytes_per_cycle)
    accesses = {"dram": {"ifmap": {"reads": op.read_elements, "writes": 0},
                         "weight": {"reads": 0, "writes": 0},
                         "ofmap": {"reads": 0, "writes": op.write_elements}}}
    sram_pj = 0.0
    # filled from DRAM and read by the unit; written by the unit and drained to DRAM
    for operand, elements in (("ifmap", op.read_elements), ("ofmap", op.write_elements)):
        level = arch.shared_level(operand)
        accesses.setdefault(level.name, {})[operand] = {"reads": elements, "writes": elements}
        sram_pj += elements * (table.access_pj(level.name, op.bits, False)
                               + table.access_pj(level.name, op.bits, True))
    for level in arch.shared_levels:
        moved = sum(accesses[level.name].get(o, {}).get("reads", 0) for o in level.operands)
        nbytes = moved * op.bits / 8
        busy = max(busy, nbytes / level.read_bandwidth_bytes_per_cycle,
                   nbytes / level.write_bandwidth_bytes_per_cycle)
    cycles = math.ceil(busy) + arch.dram.latency_cycles
    pj = {name: value * node_factor(arch) for name, value in OP_PJ_45NM.items()}
    pj.update(unit.energy_pj)
    energy = {"mac": 0.0, "rf": 0.0, "noc": 0.0, "sram": sram_pj,
              "dram": (read_bytes * 8 * table.dram_read_pj_per_bit
                       + write_bytes * 8 * table.dram_write_pj_per_bit),
              "units": sum(n * pj[name] for name, n in op.ops.items())}
    return Stats(macs=0, pe_ops=0, pe_count=arch.pe_count, compute_cycles=compute,
                 stall_cycles=cycles - compute, energy_breakdown_pj=energy,
                 dram_read_bytes=read_bytes, dram_write_bytes=write_bytes,
                 sram_read_bytes=read_bytes + write_bytes,
                 sram_write_bytes=read_bytes + write_bytes, weight_storage_bits=0,
                 ops=dict(op.ops), accesses=accesses)
