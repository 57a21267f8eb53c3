"""The analytical model: closed-form cost of one hardware op under one mapping, and a mapper
that searches the tilings and loop orders that fit the buffers.

A mapping tiles the op for the shared on-chip buffers: `kt` output channels x `ct` input
channels x `pt` output rows per tile (all output columns, one image, one group; row stationary
also tiles `nt` images), and orders the tile loops n, k, c, p (outermost first). Groups are
always the outermost loop.

DRAM traffic follows from the order. An operand's tile is fetched again every time a loop at or
outside its innermost relevant loop (with more than one trip) advances; loops inside it reuse
the tile. ifmap depends on n, c, p; weight on k, c; ofmap on n, k, p. When the c loop sits
outside the ofmap's innermost relevant loop, partial sums leave for DRAM (at psum width) and
come back. The ifmap tiles along p overlap by R - stride rows (the halo), which is fetched again.

Cycles: the array's compute cycles summed over every tile (edge tiles priced at their real
size; see sim/array_cost.py), stretched when a shared buffer's read or write port
(bytes/cycle from the spec) is slower than the array, plus stalls: the largest of three
bounds on a double-buffered pipeline of tiles,
- compute-bound: the first tile's load and the DRAM latency before compute starts, the last
  tile's drain after it ends;
- channel-bound: all DRAM transfers back to back, one latency, then the last tile's compute
  (and: the last tile's load comes after every other load and every write-back but those of
  the last three tiles, so it waits for them, its latency, then computes and writes back);
- refill-bound: a buffer half is refilled only after the array leaves it, so every two tiles
  take one load, one DRAM latency and one tile's compute.
The cycle model (sim/cycle/tiled.py) times the same schedule tile by tile; tests/sim/
test_cycle_native.py states how close the two are.

Ops the generated controller runs (ws, os and is, baseline MAC ops with a plain window:
controller_cost.controller_runs) are priced as that hardware instead: the mapper also tiles
their output columns (`qt`, column_candidates), keeps the tilings whose tiles fit one half of
each buffer in words (program.fits) and prices them with controller_cost's closed forms of the
mapped program (docs/controller.md); its cycle model is sim/cycle/controller_timing.py. Other
ops' mappings cover every output column (qt = Q).
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from dlaforge import program
from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.program import (GRID_NAMES, LOOP_ORDERS, RS_NAMES, Mapping, fewest_channels,
                              fewest_filters)
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp
from dlaforge.workloads.methods import multiplies

from . import controller_cost, controller_cycles
from .array_cost import TileCost, ceil_div, distinct_values, row_stationary_tile, systolic_tile
from .controller_cost import requant_of
from .controller_stats import command_totals, energy as counters_energy, op_stats
from .energy import EnergyTable
from .method_costs import pe_op_pj, unit_cycles, unit_energy_pj

RELEVANT = {"ifmap": "ncp", "weight": "kc", "ofmap": "nkp"}


def relevant_loops(op: HwOp) -> dict:
    """The tile loops each operand depends on; a weight that is an activation (a matmul of two
    activations) is one per image, so it depends on n too."""
    return {**RELEVANT, "weight": "nkc"} if op.weight_is_activation else RELEVANT
OBJECTIVES = ("energy", "cycles", "edp")


# Pricing ----------------------------------------------------------------------------------
def _tile_cost(arch: ArchSpec, op: HwOp, dataflow: str, g: dict, kt, ct, pt, nt) -> TileCost:
    rows, cols = arch.pe_array.rows, arch.pe_array.cols
    if dataflow == "rs":
        return row_stationary_tile(rows, cols, op, kt, ct, pt, g["tc"], g["tk"], g["q"], g["pf"],
                                   nt)
    return systolic_tile(dataflow, rows, cols, op, kt, ct, pt)


def _edge_split(total: int, tile):
    """[(count, size), ...] of full tiles and the remainder tile along one dim (the remainder
    left out where no candidate has one)."""
    rem = total % tile
    split = [(total // tile, tile)]
    return split + [((rem > 0).astype(np.int64), np.where(rem > 0, rem, 1))] if np.any(rem) \
        else split


def _array_totals(arch, op, dataflow, g) -> TileCost:
    """Array cost summed over all tiles of the op, edge tiles at their real size."""
    kg, cg = op.K // op.groups, op.C // op.groups
    shape = np.broadcast(g["kt"], g["ct"], g["pt"]).shape
    total = TileCost.zeros(shape)
    for (nn, n), (nk, k), (nc, c), (npp, p) in itertools.product(
            _edge_split(op.N, g.get("nt", 1)), _edge_split(kg, g["kt"]),
            _edge_split(cg, g["ct"]), _edge_split(op.P, g["pt"])):
        total = total.scaled_sum(_tile_cost(arch, op, dataflow, g, k, c, p, n),
                                 nn * nk * nc * npp * op.groups)
    return total


def _fetches(order: str, trips: dict, operand: str, relevant: dict = RELEVANT):
    """How many times the operand's tiles are brought in, over all tiles (one group), given
    the loops each operand depends on (`relevant_loops`)."""
    count, active = 1, False
    for loop in reversed(order):
        if loop in relevant[operand]:
            active = active | (trips[loop] > 1)
        count = np.where(active, count * trips[loop], count)
    return count


def _tile_bytes(op: HwOp, g: dict) -> dict:
    kt, ct, pt, nt = g["kt"], g["ct"], g["pt"], g.get("nt", 1)
    (sh, sw), (eh, ew) = op.strides, op.extent
    in_rows = (pt - 1) * sh + eh
    in_cols = (op.Q - 1) * sw + ew
    return {"ifmap": nt * ct * in_rows * in_cols * op.ifmap_bits / 8,
            "weight": kt * ct * op.R * op.S * op.weight_bits / 8,
            "ofmap": nt * kt * pt * op.Q * op.psum_bits / 8}


def _ifmap_rows_fetched(op: HwOp, pt) -> np.ndarray:
    """Ifmap rows all the p-tiles load together: each tile the rows from its first output
    row's window to its last's, inside the ifmap. Neighbouring tiles overlap by R - stride rows
    (the halo, fetched twice); with stride > R the rows between windows are skipped."""
    pt = np.asarray(pt)
    sizes = distinct_values(pt)             # a few tile heights, broadcast over a large grid
    rows = np.empty(len(sizes), np.int64)
    for i, size in enumerate(sizes):
        first = np.arange(0, op.P, size)
        lo, hi = tile_rows(op, first, np.minimum(size, op.P - first))
        rows[i] = np.maximum(hi - lo, 0).sum()
    return rows[np.searchsorted(sizes, pt)]


def tile_rows(op: HwOp, p_first, p_size) -> tuple:
    """(first, end) ifmap rows that output rows p_first .. p_first + p_size - 1 read, inside
    the ifmap: from the first row's window top to the last row's (dilated) window bottom."""
    (sh, _), (top, _, _, _), (eh, _) = op.strides, op.paddings, op.extent
    lo = np.clip(p_first * sh - top, 0, op.H)
    hi = np.clip((p_first + p_size - 1) * sh - top + eh, 0, op.H)
    return lo, hi


def _fits(arch: ArchSpec, op: HwOp, g: dict):
    tile = _tile_bytes(op, g)
    ok = np.ones(np.broadcast(g["kt"], g["ct"], g["pt"]).shape, dtype=bool)
    for level in arch.shared_levels:
        need = sum(tile[o] for o in level.operands) * (2 if level.double_buffered else 1)
        ok &= need <= level.size_bytes
    if "tc" in g:
        ok &= _scratchpads_fit(arch, op, g["q"], g["pf"])
    return ok


def _scratchpads_fit(arch: ArchSpec, op: HwOp, q, pf):
    """Row stationary: a PE keeps q ifmap rows' windows (q*S), q*pf filter rows (q*pf*S) and pf
    psums in its scratchpads."""
    words = {o: arch.pe_level(o).size_bytes * 8 // arch.bits("psum" if o == "ofmap" else o)
             for o in ("ifmap", "weight", "ofmap")}
    return (q * op.S <= words["ifmap"]) & (q * pf * op.S <= words["weight"]) & (pf <= words["ofmap"])


def price(arch: ArchSpec, op: HwOp, dataflow: str, g: dict, order: str, table: EnergyTable,
          array: TileCost | None = None, ifmap_rows=None) -> dict:
    """Every figure of the op under the candidate tilings `g` and one loop order (arrays).
    `array` and `ifmap_rows` are what the grid costs whatever the order (the array's totals,
    `_ifmap_rows_fetched`), computed here unless the caller pricing every order passes them."""
    array = _array_totals(arch, op, dataflow, g) if array is None else array
    ifmap_rows = _ifmap_rows_fetched(op, g["pt"]) if ifmap_rows is None else ifmap_rows
    kg, cg = op.K // op.groups, op.C // op.groups
    trips = {"n": ceil_div(op.N, g.get("nt", 1)), "k": ceil_div(kg, g["kt"]),
             "c": ceil_div(cg, g["ct"]), "p": ceil_div(op.P, g["pt"])}
    loops = relevant_loops(op)
    distinct = {o: math.prod(trips[loop] for loop in loops[o]) for o in loops}
    reuse = {o: _fetches(order, trips, o, loops) / distinct[o] for o in loops}   # >= 1

    ifmap_fetched = op.N * op.C * ifmap_rows * op.W
    # buffers fill in the array's form; DRAM holds the method's stored form (HwOp.dram_scale)
    fills = {"ifmap": reuse["ifmap"] * ifmap_fetched, "weight": reuse["weight"] * op.weight_elements}
    dram = {o: (fills[o] * op.dram_factor(o), 0.0) for o in fills}
    spills = (reuse["ofmap"] - 1) * op.ofmap_elements          # psum round trips to DRAM
    final = op.ofmap_elements * op.dram_factor("ofmap")
    dram["ofmap"] = (spills, spills + final)
    dram_read_bits = (dram["ifmap"][0] * op.ifmap_bits + dram["weight"][0] * op.weight_bits
                      + spills * op.psum_bits)
    dram_write_bits = spills * op.psum_bits + final * op.ofmap_bits

    # shared buffers: what the array reads and writes, plus DRAM fills (writes) and drains (reads)
    psum_reads = array.sram_psum_writes - op.ofmap_elements      # read-modify-write of psums
    # (the accumulator drains final sums at psum width; requantization follows the read)
    sram = {"ifmap": (array.sram_ifmap_reads, fills["ifmap"]),
            "weight": (array.sram_weight_reads, fills["weight"]),
            "ofmap": (psum_reads + spills + op.ofmap_elements, array.sram_psum_writes + spills)}
    bits = {"ifmap": op.ifmap_bits, "weight": op.weight_bits, "ofmap": op.psum_bits}

    # zero gating (Eyeriss): a zero ifmap value skips its MAC and the weight-scratchpad read
    # feeding it, not its cycle; the access counts stay the schedule's
    kept = 1.0 - zero_gated(arch, op)
    energy = {"mac": array.pe_ops * pe_op_pj(arch, op, table) * kept, "rf": 0.0,
              "noc": array.noc_bits * table.noc_pj_per_bit,
              "sram": 0.0, "dram": dram_read_bits * table.dram_read_pj_per_bit
              + dram_write_bits * table.dram_write_pj_per_bit}
    if unit_energy_pj(arch, op):        # a method's units beside the array (sim/method_costs.py)
        energy["units"] = unit_energy_pj(arch, op)
    sram_read_bits = sram_write_bits = 0.0
    for operand, (reads, writes) in sram.items():
        level = arch.shared_level(operand).name
        energy["sram"] = energy["sram"] + reads * table.access_pj(level, bits[operand], False) \
            + writes * table.access_pj(level, bits[operand], True)
        sram_read_bits = sram_read_bits + reads * bits[operand]
        sram_write_bits = sram_write_bits + writes * bits[operand]
    for operand in bits:
        level = arch.pe_level(operand)
        reads, writes = array.rf_reads[operand], array.rf_writes[operand]
        if level is None:       # no register file named in the spec: a plain pipeline register
            energy["rf"] = energy["rf"] + (reads + writes) * bits[operand] * table.noc_pj_per_bit
        else:
            read_share = kept if operand == "weight" else 1.0
            energy["rf"] = energy["rf"] + reads * read_share * table.access_pj(
                level.name, bits[operand], False) \
                + writes * table.access_pj(level.name, bits[operand], True)

    tiles = _tile_bytes(op, g)
    bandwidth, latency = arch.dram.bandwidth_bytes_per_cycle, arch.dram.latency_cycles
    busy = array.cycles
    for level in arch.shared_levels:        # a port slower than the array needs also stalls it
        reads = sum(sram[o][0] * bits[o] for o in level.operands) / 8
        writes = sum(sram[o][1] * bits[o] for o in level.operands) / 8
        busy = np.maximum(busy, np.maximum(reads / level.read_bandwidth_bytes_per_cycle,
                                           writes / level.write_bandwidth_bytes_per_cycle))
    busy = np.maximum(busy, unit_cycles(arch, op))     # so does a method's slower unit
    prologue = latency + (tiles["ifmap"] + tiles["weight"]) / bandwidth
    epilogue = tiles["ofmap"] * op.ofmap_bits / op.psum_bits / bandwidth
    tile_count = op.groups * math.prod(trips.values())
    load_time = dram_read_bits / 8 / bandwidth
    tile_compute, write_time = busy / tile_count, dram_write_bits / 8 / bandwidth
    # write-backs: one per output tile leaving the buffer, evenly spaced over the tiles
    write_events = np.maximum(_fetches(order, trips, "ofmap", loops) * op.groups, 1)
    write_event = write_time / write_events
    tail_writes = np.minimum(write_events, np.ceil(3 * write_events / tile_count))
    bounds = (
        prologue + epilogue + busy,                         # compute-bound
        # channel-bound: DRAM busy all along; or every load, then the last tile's compute and
        # write-back; or the first tile's load and compute, then every write-back (none
        # leaves before its tile is done)
        load_time + write_time + latency,
        load_time + latency + tile_compute + epilogue,
        prologue + tile_compute + write_time,
        # the last tile's load waits for every other load and for the write-backs of all
        # but the last three tiles (issued before it, in order on the channel), then the
        # latency, its compute and its own write-back
        load_time + write_time - tail_writes * write_event + latency + tile_compute
        + epilogue,
        # refill-bound: a buffer half is refilled only once the array has left it, so every
        # two tiles take one load, its latency and one compute
        (load_time + tile_count * latency + busy) / 2 + epilogue)
    stall = np.ceil(functools.reduce(np.maximum, bounds) - array.cycles)
    cycles = array.cycles + stall
    total_energy = sum(energy.values())
    return {"array": array, "energy": energy, "total_energy": total_energy, "cycles": cycles,
            "busy": busy,
            "stall": stall, "dram": dram, "sram": sram, "dram_read_bits": dram_read_bits,
            "dram_write_bits": dram_write_bits, "sram_read_bits": sram_read_bits,
            "sram_write_bits": sram_write_bits}


def zero_gated(arch: ArchSpec, op: HwOp) -> float:
    """The share of the op's MACs that zero gating skips: its stated share of zero ifmap
    values (HwOp.ifmap_zeros) on an arch with `pe_array.zero_gating`, for a MAC op whose ifmap
    is the layer's as it is; else 0 (an adder's |0 - w| is not 0, and Winograd-domain tiles
    and XNOR / Bit Fusion words do not hold the layer's zeros)."""
    if not arch.pe_array.zero_gating or not multiplies(op.pe_op) or not op.ifmap_plain:
        return 0.0
    return op.ifmap_zeros


def _with_time(arch: ArchSpec, priced: dict, table: EnergyTable) -> dict:
    """`priced` with the energy its cycles add to a run's (sim/energy.time_energy: the clock
    tree's, the controller's and the leakage's; Eyeriss spends most of its power there), so
    that the energy objective sees that a slower mapping costs that energy. The cycles it
    charges are those of the schedule with no DRAM transfer overlapping the array (the busy
    array, then every transfer and one latency), about the most either model counts, so
    that the mapper does not favour tilings whose cycles hinge on how far DRAM overlaps the
    array, where the closed form's stall bounds are least exact (tests/sim/
    test_cycle_native.py). Both models then price the chosen mapping's own cycles. Archs that
    give no per-cycle energy price as before."""
    per_cycle = (table.clock_pj_per_cycle + table.control_pj_per_cycle
                 + table.leakage_pj_per_cycle)
    if not per_cycle:
        return priced
    serial = (priced["busy"] + arch.dram.latency_cycles
              + (priced["dram_read_bits"] + priced["dram_write_bits"]) / 8
              / arch.dram.bandwidth_bytes_per_cycle)
    return {**priced, "total_energy": priced["total_energy"] + per_cycle * serial}


def _objective(priced: dict, objective: str):
    if objective == "energy":
        return priced["total_energy"]
    if objective == "cycles":
        return priced["cycles"]
    return priced["total_energy"] * priced["cycles"]


def _stats(arch: ArchSpec, op: HwOp, priced: dict, i) -> Stats:
    """The Stats of candidate `i` of a priced grid."""
    def at(x):
        return float(np.asarray(x).ravel()[i]) if np.ndim(x) else float(x)

    array = priced["array"]
    accesses = {}
    for operand in ("ifmap", "weight", "ofmap"):
        level = arch.pe_level(operand)
        if level is not None:
            accesses.setdefault(level.name, {})[operand] = {
                "reads": round(at(array.rf_reads[operand])),
                "writes": round(at(array.rf_writes[operand]))}
        reads, writes = priced["sram"][operand]
        accesses.setdefault(arch.shared_level(operand).name, {})[operand] = {
            "reads": round(at(reads)), "writes": round(at(writes))}
        reads, writes = priced["dram"][operand]
        accesses.setdefault("dram", {})[operand] = {"reads": round(at(reads)),
                                                    "writes": round(at(writes))}
    return Stats(
        macs=0, pe_ops=round(at(array.pe_ops)), pe_count=arch.pe_count,
        compute_cycles=round(at(array.cycles)), stall_cycles=round(at(priced["stall"])),
        energy_breakdown_pj={k: at(v) for k, v in priced["energy"].items()},
        dram_read_bytes=ceil_div(round(at(priced["dram_read_bits"])), 8),
        dram_write_bytes=ceil_div(round(at(priced["dram_write_bits"])), 8),
        sram_read_bytes=ceil_div(round(at(priced["sram_read_bits"])), 8),
        sram_write_bytes=ceil_div(round(at(priced["sram_write_bits"])), 8),
        weight_storage_bits=op.weight_storage_bits, ops=dict(op.ops), accesses=accesses)


# Public API ---------------------------------------------------------------------------------
def evaluate(arch: ArchSpec, op: HwOp, mapping: Mapping, dataflow: str,
             table: EnergyTable, controller: bool = True) -> Stats:
    """Stats of `op` under one mapping (its `macs` is left 0: the caller knows the layer's);
    `controller` False prices an op the controller runs as the other ops (--trace does)."""
    if mapping.nt != 1 and not _tiles_images(op, dataflow):
        raise SpecError(f"mapping {mapping.to_dict()} of {op.name!r} tiles images: only row "
                        f"stationary does, and only where the images share the weights")
    g = mapping.as_grid(dataflow)
    controller = controller and controller_cost.controller_runs(arch, op, dataflow)
    if not _fits_for(arch, op, dataflow, g, controller)[0]:
        shape = controller_cost.shape_of(op, arch) if controller else None
        if shape is not None and shape.passes > 1 and shape.C % mapping.ct:
            raise SpecError(f"mapping {mapping.to_dict()} of {op.name!r}: a command of slice "
                            f"passes takes channel tiles that divide its {shape.C} channels")
        if (shape is not None and shape.region_rows
                and min(mapping.ct, shape.C) != program.region_channel_tile(shape)):
            raise SpecError(f"mapping {mapping.to_dict()} of {op.name!r}: a command of rebuilt "
                            f"weights takes one group of its code regions a channel tile, "
                            f"ct = {shape.region_channels}")
        raise SpecError(f"mapping {mapping.to_dict()} of {op.name!r} does not fit the buffers "
                        f"of {arch.name!r}")
    if controller:
        return controller_stats(arch, op, mapping, table, dataflow=dataflow)
    return _stats(arch, op, price(arch, op, dataflow, g, mapping.order, table), 0)


def controller_stats(arch: ArchSpec, op: HwOp, mapping: Mapping, table: EnergyTable,
                     command_cycles: int | None = None, dataflow: str = "ws") -> Stats:
    """Stats of an op the controller runs under `dataflow`, from the closed forms of one
    command's counters (the cycles estimated unless `command_cycles` gives them)."""
    shape, g = controller_cost.shape_of(op, arch), mapping.as_grid(dataflow)
    counters = {k: np.asarray(v).ravel()[0] for k, v in controller_cost.counters(
        arch, shape, g, mapping.order, dataflow=dataflow,
                                       requant=requant_of(op)).items()}
    if command_cycles is None:
        command_cycles = round(float(controller_cycles.cycles(arch, shape, g, mapping.order,
                                                              dataflow=dataflow,
                                                              requant=requant_of(op))[0]))
    return op_stats(arch, op, {**counters, "cycles": command_cycles}, table, dataflow)


def _fits_for(arch: ArchSpec, op: HwOp, dataflow: str, g: dict, controller: bool = True):
    """The fit test of `dataflow`'s tiles: words of one buffer half for ops the controller
    runs, bytes of the shared levels otherwise."""
    return _fits_where(arch, op, g, controller and controller_cost.controller_runs(arch, op,
                                                                                   dataflow))


def _fits_where(arch: ArchSpec, op: HwOp, g: dict, runs: bool):
    """_fits_for once it is known whether the controller `runs` the op."""
    if runs:
        return controller_cost.grid_fits(arch, controller_cost.shape_of(op, arch), g)
    return _fits(arch, op, g)


def _group_dims(arch: ArchSpec, op: HwOp, controller: bool) -> tuple[int, int]:
    """(filters, channels) of one group a tile cuts: the controller's command's (a bit-sliced
    op's slices are its passes, not filters: controller_cost.shape_of), else the op's."""
    if controller:
        shape = controller_cost.shape_of(op, arch)
        return shape.K, shape.C
    return op.K // op.groups, op.C // op.groups


def default_mapping(arch: ArchSpec, op: HwOp, dataflow: str, controller: bool = True) -> Mapping:
    """A fixed heuristic: one array-width of filters, all channels, as many output rows as fit
    (halving channels when even one row does not, then filters, then, on the controller, the
    output columns), every output column, loop order n, k, c, p."""
    columns = controller and controller_cost.controller_runs(arch, op, dataflow)
    kg, cg = _group_dims(arch, op, columns)
    # the fewest filters a tile may hold: one, or a byte's worth of packed weights; the fewest
    # channels: one, or a binarized command's words (program.fewest_channels)
    shape = controller_cost.shape_of(op, arch) if columns else None
    fewest = fewest_filters(shape) if columns else 1
    fewest_c = fewest_channels(shape) if columns else 1
    kt = min(kg, ceil_div(arch.pe_array.cols, fewest) * fewest)
    ct, pt, qt = cg, op.P, op.Q
    steps = [Mapping(kt=kt, ct=ct, pt=pt, qt=qt)]
    while True:                 # the halvings in turn, then the first that fits (one test)
        if pt > 1:
            pt = ceil_div(pt, 2)
        elif ct > fewest_c:
            ct = max(fewest_c, ceil_div(ct, 2))
        elif kt > fewest:           # halved, up to whole bytes of packed filters
            kt = ceil_div(ceil_div(kt, 2), fewest) * fewest
        elif columns and qt > 1:
            qt = ceil_div(qt, 2)
        else:
            break
        steps.append(Mapping(kt=kt, ct=ct, pt=pt, qt=qt))
    # the steps as one grid (Mapping.as_grid's form, one candidate per step)
    grid = {name: np.array([getattr(mapping, name) for mapping in steps])
            for name in steps[0].as_grid(dataflow)}
    fit = np.flatnonzero(_fits_where(arch, op, grid, columns))
    if len(fit) == 0:
        raise _too_small(arch, op)
    return steps[fit[0]]


def _too_small(arch, op):
    sizes = ", ".join(f"{lv.name} {lv.size_bytes} B" for lv in arch.shared_levels)
    return SpecError(f"the buffers of {arch.name!r} ({sizes}) are too small for any tile of "
                     f"layer {op.name!r}")


SPLITS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256)


def tile_candidates(total: int, align: int, most: int = len(SPLITS)) -> np.ndarray:
    """Tile sizes worth trying along a dim: balanced splits ceil(total/n) for the first `most`
    split counts, and multiples of the array dimension `align`."""
    splits = {ceil_div(total, n) for n in SPLITS[:most]}
    aligned = {m * align for m in (1, 2, 4, 8, 16) if m * align < total and align > 1}
    values = sorted(v for v in splits | aligned if 1 <= v <= total)
    return np.array(values, dtype=np.int64)


def column_candidates(arch: ArchSpec, op: HwOp, dataflow: str) -> np.ndarray:
    """Output columns per tile the mapper tries on the controller: every column (qt = Q) and
    the balanced splits of Q (tile_candidates). Column tiles are needed where no full-width
    tile fits (a wide image: ResNet-18's conv1 on edge_tiny) and often cheaper where one does
    (a narrower tile leaves room for more channels and filters: ResNet-18 on edge_tiny takes
    11% less energy under ws than with full-width tiles alone, for about a quarter more
    search time)."""
    return distinct_values(np.append(tile_candidates(op.Q, 1), op.Q))


def _tiles_images(op: HwOp, dataflow: str) -> bool:
    """A tile may hold several images: under row stationary, where the images share the
    weights (not a matmul of two activations: a pass could share none of them)."""
    return dataflow == "rs" and not op.weight_is_activation


def _images_per_tile(op: HwOp, dataflow: str) -> np.ndarray:
    """Images per tile the mapper tries: one, and balanced splits of the batch where a tile
    may hold several (_tiles_images)."""
    if not _tiles_images(op, dataflow):
        return np.array([1])
    return distinct_values(np.append(tile_candidates(op.N, 1, 8), 1))


def _rs_array_candidates(arch: ArchSpec, op: HwOp) -> np.ndarray:
    """Rows (tc, tk, q, pf): how the stacked PE sets split between channels and filters, and
    how many channels and filters each PE keeps in its scratchpads; only those that fit."""
    sets = max(1, arch.pe_array.rows // op.R)
    splits = {(tc, sets // tc) for tc in range(1, sets + 1) if sets % tc == 0} | {(1, 1)}
    rows = [(tc, tk, q, pf) for tc, tk in sorted(splits)
            for q in (1, 2, 3, 4, 6, 8, 12) for pf in (1, 2, 4, 8, 16, 24, 32)
            if _scratchpads_fit(arch, op, q, pf)]
    return np.array(rows or [(1, 1, 1, 1)], dtype=np.int64)


def _lexical_argmin(keys: tuple) -> int:
    """Index of the smallest entry by the last key, ties broken by the earlier keys in turn
    (np.lexsort's order) without sorting the whole grid."""
    best = np.flatnonzero(keys[-1] == keys[-1].min())
    return int(best[np.lexsort(tuple(k[best] for k in keys))[0]])


def search(arch: ArchSpec, op: HwOp, dataflow: str, objective: str,
           table: EnergyTable, controller: bool = True) -> tuple[Mapping, Stats]:
    """The best mapping by `objective` (energy, cycles or edp) over tilings that fit and all
    loop orders; ties go to fewer cycles, then less energy. Energy includes what the arch
    spends per cycle (clock, control, leakage; _with_time), not yet for the ops the
    controller runs (its search prices cycles only for the least dynamic energy's ties; no
    preset with a controller dataflow gives a per-cycle energy). `controller` False
    prices an op the controller runs as the other ops (--trace does)."""
    controller = controller and controller_cost.controller_runs(arch, op, dataflow)
    if objective not in OBJECTIVES:
        raise SpecError(f"unknown objective {objective!r}; choose from {', '.join(OBJECTIVES)}")
    rows, cols = arch.pe_array.rows, arch.pe_array.cols
    kg, cg = _group_dims(arch, op, controller)
    axes = {"kt": tile_candidates(kg, cols), "ct": tile_candidates(cg, rows),
            "pt": tile_candidates(op.P, rows if dataflow == "os" else cols),
            "qt": column_candidates(arch, op, dataflow) if controller else np.array([op.Q])}
    if dataflow == "rs":
        rs = _rs_array_candidates(arch, op)
        axes = {"kt": tile_candidates(kg, 1, 8), "ct": tile_candidates(cg, 1, 8),
                "pt": tile_candidates(op.P, cols, 6), "qt": np.array([op.Q]),
                "nt": _images_per_tile(op, dataflow), "rs": np.arange(len(rs))}
    seed = default_mapping(arch, op, dataflow, controller)     # always a candidate
    for name in GRID_NAMES:
        axes[name] = distinct_values(np.append(axes[name], getattr(seed, name)))
    grids = np.meshgrid(*axes.values(), indexing="ij")
    g = {name: grid.ravel() for name, grid in zip(axes, grids)}
    if dataflow == "rs":
        g.update(zip(RS_NAMES, rs[g.pop("rs")].T))
    keep = _fits_where(arch, op, g, controller)
    if not keep.any():
        raise _too_small(arch, op)
    g = {name: values[keep] for name, values in g.items()}
    if controller:
        return _controller_search(arch, op, dataflow, objective, table, g)
    array, ifmap_rows = _array_totals(arch, op, dataflow, g), _ifmap_rows_fetched(op, g["pt"])
    best = None
    for order in LOOP_ORDERS:
        priced = _with_time(arch, price(arch, op, dataflow, g, order, table, array,
                                        ifmap_rows), table)
        keys = (priced["total_energy"], priced["cycles"], _objective(priced, objective))
        i = _lexical_argmin(keys)
        score = tuple(float(k[i]) for k in reversed(keys))
        if best is None or score < best[0]:
            best = (score, order, i, priced)
    _, order, i, priced = best
    mapping = Mapping(order=order, **{name: int(values[i]) for name, values in g.items()})
    return mapping, _stats(arch, op, priced, i)


def _controller_search(arch: ArchSpec, op: HwOp, dataflow: str, objective: str,
                       table: EnergyTable, g: dict) -> tuple[Mapping, Stats]:
    """search() for an op the controller runs: the tilings `g` (they fit) under every loop
    order, priced by controller_cost's closed forms (the op's commands summed,
    controller_cost.command_groups).
    The energy of every order comes first: by energy, an order whose least energy is above
    the least of all cannot win or tie, so only the others price their ties' cycles (the
    tie-break; the cycle estimate is most of a search's time)."""
    shape = controller_cost.shape_of(op, arch)
    counters = controller_cost.counters_by_order(arch, shape, g, _distinct_orders(shape, g),
                                                 dataflow=dataflow,
                                                 requant=requant_of(op))
    energies = []
    for order in counters:
        totals = command_totals(op, shape, counters[order])
        energy = sum(counters_energy(arch, op, totals, table, dataflow).values())
        energies.append((order, np.broadcast_to(energy, g["kt"].shape), totals["busy_cycles"]))
    least = min(float(energy.min()) for _, energy, _ in energies)
    best, tied, single = None, set(), {}
    for order, energy, busy in energies:
        if objective == "energy":
            if energy.min() > least:
                continue            # its score's first key is above the best order's
            # only the least energy's ties need their cycles (the tie-break)
            some = np.flatnonzero(energy == energy.min())
            ties = {k: v[some] for k, v in g.items()}
            same = (some.tobytes(), _single_trips_removed(shape, ties, order))
            if same in tied:
                continue            # an earlier order ran the same tiles of the same ties
            tied.add(same)
            command = controller_cycles.cycles(arch, shape, ties, order, dataflow=dataflow,
                                               requant=requant_of(op))
            if len(some) == 1:      # what controller_stats would price again
                single[order] = command
            cycles = command * controller_cost.command_groups(op, shape)
        else:
            some, cycles = _bounded_cycles(arch, op, shape, g, order, dataflow, objective,
                                           energy, busy,
                                           np.inf if best is None else best[0][0])
            if len(some) == 0:
                continue            # no candidate of this order can beat the best so far
        priced = {"total_energy": energy[some], "cycles": cycles}
        keys = (energy[some], cycles, _objective(priced, objective))
        i = some[_lexical_argmin(keys)]
        keys = tuple(np.asarray(k)[np.searchsorted(some, i)][None] for k in keys)
        score = tuple(float(k[0]) for k in reversed(keys))
        if best is None or score < best[0]:
            best = (score, order, i)
    _, order, i = best
    mapping = Mapping(order=order, **{name: int(g[name][i]) for name in GRID_NAMES})
    # controller_stats without pricing the winner again: its counters from the grid's (each
    # counter is elementwise over the candidates) and, where it was the only tie of its order,
    # its cycles from that call (controller_stats' call, the same one-candidate grid)
    chosen = {k: np.broadcast_to(v, g["kt"].shape)[i] for k, v in counters[order].items()}
    command = (round(float(single[order][0])) if order in single else
               round(float(controller_cycles.cycles(arch, shape, mapping.as_grid(dataflow),
                                                    order, dataflow=dataflow,
                                                    requant=requant_of(op))[0])))
    return mapping, op_stats(arch, op, {**chosen, "cycles": command}, table, dataflow)


def _single_trip_loops(shape, g: dict) -> str:
    """The tile loops (of n, k, c, p, q) with one trip in every candidate of `g`: those whose
    smallest tile covers the whole extent (n: one image)."""
    columns = g.get("qt")
    smallest = {"n": 1, "k": g["kt"].min(), "c": g["ct"].min(), "p": g["pt"].min(),
                "q": shape.Q if columns is None else columns.min()}
    extent = {"n": shape.N, "k": shape.K, "c": shape.C, "p": shape.P, "q": shape.Q}
    return "".join(x for x in "nkcpq" if smallest[x] >= extent[x])


def _single_trips_removed(shape, g: dict, order: str, single: str | None = None) -> str:
    """The tile loop nest of `order` without the loops of one trip in every candidate of `g`
    (`single`: _single_trip_loops of `g`, computed here unless given): such a loop can sit
    anywhere in the nest, and every count and cycle of controller_cost's closed forms is the
    same, so two orders with the same such nest price those candidates alike."""
    single = _single_trip_loops(shape, g) if single is None else single
    return "".join(x for x in program.nest_order(order) if x not in single)


def _distinct_orders(shape, g: dict) -> list[str]:
    """LOOP_ORDERS less those that price every candidate of `g` as an earlier one does
    (_single_trips_removed): the later order ties the earlier at best, and ties go to the
    earlier."""
    single = _single_trip_loops(shape, g)
    seen, distinct = set(), []
    for order in LOOP_ORDERS:
        nest = _single_trips_removed(shape, g, order, single)
        if nest not in seen:
            seen.add(nest)
            distinct.append(order)
    return distinct


def _bounded_cycles(arch, op, shape, g, order, dataflow, objective, energy, busy, bound):
    """(indices, cycles) of the candidates whose cycles the cycles or edp objective needs:
    the estimate is never below the array's busy cycles (every tile's compute is one term of
    its sum), so candidates are priced in order of that lower bound of the objective until
    the bound exceeds the best objective found (or `bound`, the best of the orders before):
    the others cannot win or tie. The same choice as pricing every candidate, in a fraction
    of the time where column tiles multiply the candidates."""
    busy = np.broadcast_to(np.asarray(busy, np.float64), energy.shape)
    low = busy if objective == "cycles" else energy * busy
    ranked = np.argsort(low, kind="stable")
    taken, priced, pos, chunk = [], [], 0, 64
    while pos < len(ranked) and low[ranked[pos]] <= bound:
        take = ranked[pos:pos + chunk]
        cycles = controller_cycles.cycles(arch, shape, {k: v[take] for k, v in g.items()},
                                          order, dataflow=dataflow,
                                          requant=requant_of(op)) \
            * controller_cost.command_groups(op, shape)
        found = cycles if objective == "cycles" else energy[take] * cycles
        bound = min(bound, float(found.min()))
        taken.append(take)
        priced.append(cycles)
        pos, chunk = pos + chunk, min(2 * chunk, 1024)
    if not taken:
        return np.zeros(0, np.int64), np.zeros(0)
    some, cycles = np.concatenate(taken), np.concatenate(priced)
    keep = np.argsort(some)
    return some[keep], cycles[keep]
