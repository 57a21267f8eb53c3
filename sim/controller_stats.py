"""The generated controller's ops priced from their counters: the Stats of a whole HwOp from
the counters of one of its commands (`op_stats`, shared by the analytical, cycle and rtl
models: the closed forms of sim/controller_cost.py, the exact timing model of
sim/cycle/controller_timing.py and the RTL's own counters), and the energy the mapper's search
compares (`energy`).

Energy: the counters priced per access (stats_from_counters: buffer words at the spec's
levels, DRAM bytes), the PEs' register files named in the spec (`_registers`, which the RTL
does not count), the PE operations at the op's PE_OP_PJ (a MAC op at the table's MAC), plus,
in a whole op's Stats, the requantization stage's `requant` component (every final output the
controller writes passes through the generated stage, hw/requant.Requantizer: written_outputs
x requant_stage_pj under the op's quantizer) and the units a datapath's commands use
(Datapath.prices_units); a datapath that rebuilds its weights on the load (Datapath.weight_code:
SmartDeal's) charges its units once per weight load (`_rebuild_energy`), in the search too; a
Winograd-domain command (Datapath.tap_transform) its transforms, the input side once per ifmap
load, and its staging buffer's accesses at the ifmap level (`_tap_energy`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from dlaforge import program
from dlaforge.arch import ArchSpec
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp
from dlaforge.workloads.methods.datapath import controller_datapath, design_arch

from .controller_cost import REQUANT, command_groups, shape_of
from .rtl_program import stats_from_counters


def requant_stage_pj(arch: ArchSpec, quantizer, acc_bits: int | None = None) -> float:
    """Energy of the requantization stage per output element under `quantizer`
    (quantizers.Quantizer.stage_ops): the (acc_bits + 1) x 16-bit multiply (none under pow2
    scales), the adds at that width (32-bit at least with an asymmetric quantizer's bias),
    the rounding shift; acc_bits the stage's input, psum_bits by default (a Winograd
    design's are its transformed outputs', Variant.output_bits). Positive under every
    quantizer: op_stats charges it on each output (`_requant_energy`)."""
    from .method_costs import ADD_PJ_PER_BIT_45NM, SHIFT_PJ_PER_BIT_45NM, mult_pj_45nm, node_factor

    pe = arch.pe_array
    ops = quantizer.stage_ops()
    acc_bits = pe.psum_bits if acc_bits is None else acc_bits
    width = max(acc_bits, 32) + 1 if not quantizer.symmetric else acc_bits + 1
    pj = (ops["mult"] * mult_pj_45nm(width, 16) + ops["add"] * ADD_PJ_PER_BIT_45NM * width
          + ops["shift"] * SHIFT_PJ_PER_BIT_45NM * width)
    return pj * node_factor(arch)



def pe_op_pj(arch: ArchSpec, op: HwOp, table) -> float:
    """pJ of one PE operation of `op`: the table's MAC for a MAC op (as the baseline has always
    been priced), else its family's PE_OP_PJ (sim/method_costs.pe_op_pj: AdderNet's "sad")."""
    if op.pe_op == "mac":
        return table.mac_pj
    from .method_costs import pe_op_pj as method_pe_op_pj
    return method_pe_op_pj(arch, op, table)


def command_totals(op: HwOp, shape: program.Shape, counters_: dict) -> dict:
    """One command's counters (of `shape`, shape_of's) times the op's commands
    (command_groups: one per group)."""
    groups = command_groups(op, shape)
    if groups == 1:
        return dict(counters_)
    return {name: value * groups for name, value in counters_.items()}


def _registers(arch: ArchSpec, op: HwOp, totals: dict, dataflow: str) -> dict:
    """Accesses of the PEs' register files named in the spec, which the RTL does not count.
    ws: every fold loads each PE's stationary weight (a write per weight word lane the array
    reads), and each MAC reads it; ifmap and sums pass through pipeline registers. is: the
    same with the ifmap stationary. os: each MAC reads and writes its PE's sum, and each sum
    the folds drain into the accumulator is read once more (as sim/array_cost prices os);
    ifmap and weights pass through."""
    if dataflow in ("ws", "is"):
        stationary = "weight" if dataflow == "ws" else "ifmap"
        counts = (op.pe_macs, totals[f"{stationary}_reads"])
    else:
        drained = totals["acc_writes"] - totals["readback"]
        if isinstance(drained, np.ndarray):     # the mapper's candidates: MACs past int64
            drained = drained.astype(np.float64) + float(op.pe_macs)
        else:
            drained = drained + op.pe_macs
        stationary, counts = "ofmap", (drained, op.pe_macs)
    out = {}
    for operand in ("ifmap", "weight", "ofmap"):
        level = arch.pe_level(operand)
        if level is not None:
            reads, writes = counts if operand == stationary else (0, 0)
            out.setdefault(level.name, {})[operand] = {"reads": reads, "writes": writes}
    return out


def _register_energy(arch: ArchSpec, registers: dict, table):
    bits = {"ifmap": arch.pe_array.ifmap_bits, "weight": arch.pe_array.weight_bits,
            "ofmap": arch.pe_array.psum_bits}
    return sum(n["reads"] * table.access_pj(level, bits[o], False)
               + n["writes"] * table.access_pj(level, bits[o], True)
               for level, operands in registers.items() for o, n in operands.items())


def energy(arch: ArchSpec, op: HwOp, totals: dict, table, dataflow: str = "ws") -> dict:
    """Energy per component (arrays) of an op's summed counters (and `readback`, the partial
    sums read back), as stats_from_counters prices them, and the PEs' register files
    (`_registers`), and a datapath's weight rebuild (`_rebuild_energy`)."""
    shape = shape_of(op, arch)
    rebuild = _rebuild_energy(arch, op, shape, totals["weight_writes"], table)
    transforms, staging = _tap_energy(arch, op, shape, totals, table)
    arch = design_arch(arch, shape)
    pe = arch.pe_array
    sram = staging
    for operand, bits, prefix in (("ifmap", pe.ifmap_bits, "ifmap"),
                                  ("weight", pe.weight_bits, "weight"),
                                  ("ofmap", pe.psum_bits, "acc")):
        level = arch.shared_level(operand).name
        sram = sram + (totals[f"{prefix}_reads"] * table.access_pj(level, bits, False)
                       + totals[f"{prefix}_writes"] * table.access_pj(level, bits, True))
    rf = _register_energy(arch, _registers(arch, op, totals, dataflow), table)
    return {"mac": op.pe_macs * pe_op_pj(arch, op, table), "rf": rf, "noc": 0.0, "sram": sram,
            "dram": (totals["dram_read_bytes"] * 8 * table.dram_read_pj_per_bit
                     + totals["dram_write_bytes"] * 8 * table.dram_write_pj_per_bit),
            **({"units": rebuild} if shape.region_rows else
               {"units": transforms} if shape.tap_side else {})}


def written_outputs(arch: ArchSpec, op: HwOp) -> int:
    """The outputs the op's commands write: N x K x P x Q of each group's command (a bit-sliced
    op's slice products are summed on chip, so fewer than its op.ofmap_elements; a
    Winograd-domain command's raw P x Q)."""
    s = shape_of(op, arch)
    return s.N * s.K * int(np.prod(program.out_size(s))) * command_groups(op, s)


def _requant_energy(arch: ArchSpec, op: HwOp) -> dict:
    """{"requant": pJ}: the requantization stage's energy over the op's final outputs,
    written_outputs x requant_stage_pj under the op's quantizer (the default included), at
    the width of the sums its design's stage takes (HwOp.requant_bits: a Winograd design's
    transformed outputs'): the controller requantizes every output it writes (REQUANT), and
    the generated stage (hw/requant.Requantizer) spends this per element whatever the
    quantizer. The stage is the same for every tiling, so the mapper's search (`energy`)
    leaves it out."""
    if not REQUANT:
        return {}
    return {"requant": written_outputs(arch, op)
            * requant_stage_pj(arch, op.quantizer, op.requant_bits or None)}


def weight_loads(shape: program.Shape, weight_writes):
    """How many times a command of rebuilt weights (Shape.region_rows; of one conv group: the
    controller lays out the regions of one) loads all its weights: each distinct weight tile
    (its regions) is loaded equally often (controller_cost's `_reuse`), every lane written
    once."""
    return weight_writes // (shape.K * shape.C * shape.R * shape.S)


def weight_dram_bytes(shape: program.Shape, weight_writes):
    """DRAM bytes of a command's rebuilt weights from its weight-buffer writes: every block's
    region read once per load of the weights."""
    return weight_loads(shape, weight_writes) * int(program.region_bytes(shape).sum())


def _rebuild_energy(arch: ArchSpec, op: HwOp, shape: program.Shape, weight_writes, table):
    """pJ of a command's weight rebuilds (0 without code regions, Shape.region_rows) on the
    arch as specified (not its design_arch): per load of its weights the op's unit operations
    (HwOp.ops: SmartDeal's shifts and adds), the regions' bytes written into the code buffer
    and, per weight the rebuild writes, the code bytes each lane reads
    (Datapath.weight_code.reads_per_weight), both at the weight level's SRAM per byte."""
    if not shape.region_rows:
        return 0.0
    from .method_costs import unit_energy_pj
    code = controller_datapath(arch, op.pe_op, op).weight_code
    level = arch.shared_level("weight").name
    return (weight_loads(shape, weight_writes) * unit_energy_pj(arch, op)
            + weight_dram_bytes(shape, weight_writes) * table.access_pj(level, 8, True)
            + weight_writes * code.reads_per_weight * table.access_pj(level, 8, False))


def _unit_energy(arch: ArchSpec, op: HwOp, totals: dict, table) -> dict:
    """{"units": pJ} of the units a datapath's commands use (Datapath.prices_units: XNOR's
    scaling stage and binarizer), priced from the op's unit operations, or its weight
    rebuilds (`_rebuild_energy`, from the op's summed counters `totals`); {} otherwise."""
    from .method_costs import unit_energy_pj
    datapath = controller_datapath(arch, op.pe_op, op)
    if datapath is None or datapath.mode_of(op.pe_op) != 0:
        return {}
    if datapath.rebuilt_bits:
        return {"units": float(_rebuild_energy(arch, op, shape_of(op, arch),
                                               totals["weight_writes"], table))}
    return {"units": unit_energy_pj(arch, op)} if datapath.prices_units else {}


def _tap_ops(arch: ArchSpec, op: HwOp, shape: program.Shape, ifmap_writes) -> dict:
    """A Winograd-domain command's transform operations as it performs them (Shape.tap_side;
    Datapath.tap_transform's transform_ops): each output tile once per filter, each input
    tile once per channel and load of the ifmap (the patch stage's V lanes written,
    `ifmap_writes`, over the layer's)."""
    variant = controller_datapath(arch, op.pe_op, op).tap_transform
    tiles = shape.N * shape.P * shape.Q
    loads = ifmap_writes // (shape.C * tiles * variant.taps)
    return variant.transform_ops(shape.C, shape.K, tiles, loads)


def _tap_energy(arch: ArchSpec, op: HwOp, shape: program.Shape, totals: dict, table):
    """(transforms, staging) pJ of a Winograd-domain command (0, 0 for another): its
    transforms' additions and shifts (`_tap_ops`) at the unit's energies, and the staging
    buffer's accesses at the ifmap level's SRAM: a write per raw element staged (`staged`:
    controller_timing.staged_elements), a read per V lane the patch stage writes."""
    if not shape.tap_side:
        return 0.0, 0.0
    from .method_costs import unit_op_pj, unit_ops
    ops, pj = _tap_ops(arch, op, shape, totals["ifmap_writes"]), unit_op_pj(arch)
    transforms = sum(ops[key] * pj[key] for keys in unit_ops().values() for key in keys
                     if key in ops)
    level, bits = arch.shared_level("ifmap").name, arch.pe_array.ifmap_bits
    staging = (totals["staged"] * table.access_pj(level, bits, True)
               + totals["ifmap_writes"] * table.access_pj(level, bits, False))
    return transforms, staging


def _unit_ops(op: HwOp, shape: program.Shape, weight_writes) -> dict:
    """The op's operations as its commands perform them: a rebuilding datapath's unit
    operations (one rebuild of every weight in HwOp.ops) once per load of the weights."""
    if not shape.region_rows:
        return dict(op.ops)
    from .method_costs import unit_ops
    loads = weight_loads(shape, weight_writes)
    per_load = {key for keys in unit_ops().values() for key in keys}
    return {key: value * loads if key in per_load else value for key, value in op.ops.items()}


def op_stats(arch: ArchSpec, op: HwOp, counters_: dict, table, dataflow: str = "ws",
             mapping=None) -> Stats:
    """Stats of a whole HwOp from the counters of one of its commands (every program.COUNTERS
    value, from the timing model, the closed forms or the RTL) under `mapping`: stats_from_
    counters, with the DRAM traffic split into ifmap, weight (and parameters), partial sums
    read back, and outputs written (final and spilled), and the PEs' register files
    (`_registers`). A Winograd-domain command's raw elements staged (`staged`, no counter's)
    are the counters' own where given (the closed forms'), else its mapping's
    (controller_timing.staged_elements)."""
    from .cycle.controller_timing import staged_elements
    shape, spec = shape_of(op, arch), arch
    total = command_totals(op, shape, {name: int(counters_[name]) for name in program.COUNTERS})
    if shape.tap_side:
        staged = counters_.get("staged")
        if staged is None:
            if mapping is None:
                raise ValueError(f"hw op {op.name!r}: a Winograd-domain command's Stats need "
                                 f"its mapping (the raw elements it stages)")
            staged = staged_elements(shape, mapping)
        total["staged"] = int(staged)
    arch = design_arch(arch, shape)
    b = program.dram_element_bytes(arch, REQUANT, shape)
    final = written_outputs(arch, op)
    final_bytes = final * b["o"]
    if shape.ofmap_pack:    # each output pixel's codes in whole bytes (k tiles start on one)
        final_bytes = (op.groups * shape.N * shape.P * shape.Q
                       * program.packed_row_bytes(shape.K, shape.ofmap_pack))
    # every partial sum spilled comes back once: the output's c loop is not complete yet
    spill = readback = (total["dram_write_bytes"] - final_bytes) // b["s"]
    # a binarized op's loads read its int8 channels for the C words of each pixel, a
    # Winograd-domain command's the raw elements it stages
    ifmap_el = total["staged"] if shape.tap_side else total["ifmap_writes"]
    ifmap_bytes = (total["ifmap_writes"] * shape.binarized // shape.C if shape.binarized
                   else ifmap_el * b["i"])
    weight_bytes = (weight_dram_bytes(shape, total["weight_writes"]) if shape.region_rows
                    else total["weight_writes"] * b["w"])
    param_bytes = total["dram_read_bytes"] - ifmap_bytes - weight_bytes - readback * b["s"]
    stats = stats_from_counters(arch, op.pe_macs, total, table, dataflow,
                                requant_channels=1, param_bytes=param_bytes)
    dram = {"ifmap": {"reads": ifmap_el, "writes": 0},
            "weight": {"reads": total["weight_writes"], "writes": 0},
            "ofmap": {"reads": readback, "writes": final + spill}}
    registers = _registers(arch, op, {**total, "readback": readback}, dataflow)
    transforms, staging = _tap_energy(spec, op, shape, total, table)
    return replace(stats, accesses={**registers, **stats.accesses, "dram": dram},
                   energy_breakdown_pj={**stats.energy_breakdown_pj,
                                        "sram": stats.energy_breakdown_pj["sram"] + staging,
                                        "mac": op.pe_macs * pe_op_pj(arch, op, table),
                                        "rf": float(_register_energy(arch, registers, table)),
                                        **_requant_energy(arch, op),
                                        **_unit_energy(spec, op, total, table),
                                        **({"units": transforms} if shape.tap_side else {})},
                   weight_storage_bits=op.weight_storage_bits,
                   ops=({**op.ops, **_tap_ops(spec, op, shape, total["ifmap_writes"])}
                        if shape.tap_side else _unit_ops(op, shape, total["weight_writes"])))
