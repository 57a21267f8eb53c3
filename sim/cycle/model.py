"""The cycle model's entry: Stats of one hardware op, timed by events instead of a closed form.

With a SCALE-Sim .cfg the op is replayed as SCALE-Sim runs it (scalesim_replay.py); otherwise
the analytical mapper picks the schedule and tiled.py times it, or, for the ops the generated
controller runs (ws and os, baseline MAC ops with a plain window), controller_timing.py
times the controller's commands exactly. The array-level counts (MACs, register and SRAM
accesses of the array) are exact sums over the tiles in both models and are shared; the
cycle model replaces cycles, stalls, DRAM traffic and DRAM energy with its own.
"""

from __future__ import annotations

from dataclasses import replace

from dlaforge.arch import ArchSpec
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp

from ..analytical import Mapping, evaluate, search
from ..controller_cost import REQUANT, command_groups, controller_runs, shape_of
from ..controller_stats import op_stats
from ..energy import EnergyTable
from ..limits import check_cycle_tiles
from ..scalesim_mode import check_scalesim_op, scalesim_stats
from .scalesim_replay import replay_layer
from .controller_timing import controller_counters
from .tiled import TileTrace, simulate_tiles


def scalesim_cycle_stats(arch: ArchSpec, op: HwOp, dataflow: str, table: EnergyTable) -> Stats:
    check_scalesim_op(op)
    sizes = tuple(arch.shared_level(o).size_bytes for o in ("ifmap", "weight", "ofmap"))
    config = arch.scalesim
    user = None
    if config.bandwidth_mode == "USER":
        user = (config.ifmap_bank_bandwidth, config.filter_bank_bandwidth,
                config.bandwidth_words_per_cycle)  # as SCALE-Sim reads them (ScaleSimConfig)
    replayed = replay_layer(op, dataflow, arch.pe_array.rows, arch.pe_array.cols, sizes, user)
    return scalesim_stats(arch, op, dataflow, table, replayed)


def _controller_cycle_stats(arch: ArchSpec, op: HwOp, mapping: Mapping, table: EnergyTable,
                            dataflow: str) -> tuple[Stats, TileTrace]:
    """An op the generated controller runs: its commands (controller_cost.command_groups) one
    after another, each timed exactly (controller_timing), the counters summed into Stats."""
    counters = controller_counters(arch, shape_of(op, arch), mapping, REQUANT and op.quantizer,
                                   dataflow=dataflow)
    stats = op_stats(arch, op, counters, table, dataflow, mapping)
    return stats, TileTrace(compute_cycles=stats.compute_cycles, total_cycles=stats.cycles,
                            dram_read_bytes={}, dram_write_bytes=stats.dram_write_bytes,
                            tiles=0)


def native_cycle_stats(arch: ArchSpec, op: HwOp, dataflow: str, objective: str,
                       table: EnergyTable, mapping: Mapping | None = None,
                       keep_schedule: bool = False) -> tuple[Mapping, Stats, TileTrace]:
    """The mapper's schedule for `op` (or the given one), timed tile by tile; the TileTrace
    holds the per-tile schedule when `keep_schedule` (for --trace)."""
    # a --trace (keep_schedule) follows tiled.py's tile events, also for the controller's ops
    controller = controller_runs(arch, op, dataflow) and not keep_schedule
    if mapping is None:
        mapping, _ = search(arch, op, dataflow, objective, table, controller)
    check_cycle_tiles(op, mapping, command_groups(op, shape_of(op, arch)) if controller
                      else None)
    if controller:
        return mapping, *_controller_cycle_stats(arch, op, mapping, table, dataflow)
    stats = evaluate(arch, op, mapping, dataflow, table, controller)
    trace = simulate_tiles(arch, op, mapping, dataflow, keep_schedule)
    bits = {"ifmap": op.ifmap_bits, "weight": op.weight_bits, "ofmap": op.psum_bits}
    reads = {o: round(trace.dram_read_bytes[o] * 8 / bits[o]) for o in bits}
    dram = {o: {"reads": reads[o], "writes": 0} for o in bits}
    final = op.ofmap_elements * op.dram_factor("ofmap")     # in DRAM's form (HwOp.dram_scale)
    spill_bytes = trace.dram_write_bytes - final * op.ofmap_bits / 8
    dram["ofmap"]["writes"] = round(final + spill_bytes * 8 / op.psum_bits)
    read_bytes = sum(trace.dram_read_bytes.values())
    energy = dict(stats.energy_breakdown_pj)
    energy["dram"] = (read_bytes * 8 * table.dram_read_pj_per_bit
                      + trace.dram_write_bytes * 8 * table.dram_write_pj_per_bit)
    return mapping, replace(stats, compute_cycles=trace.compute_cycles,
                            stall_cycles=trace.total_cycles - trace.compute_cycles,
                            energy_breakdown_pj=energy, dram_read_bytes=read_bytes,
                            dram_write_bytes=trace.dram_write_bytes,
                            accesses={**stats.accesses, "dram": dram}), trace
