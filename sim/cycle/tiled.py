"""The native cycle model: a layer's tiles run one after another on the array, each tile's
operands loaded from DRAM into one half of the double-buffered shared buffers while the array
works on the other half.

The schedule is the analytical mapper's (tile sizes and loop order, sim/analytical.py), so both
models run the same hardware program; this one times it as events instead of a closed form:

- tiles are enumerated in the mapping's loop order (groups outermost). A tile loads the
  operands whose tile index changed since the previous tile: its ifmap rows (exactly the rows
  its output rows read, padding excluded), its weights, and, when an output tile comes back
  after a partial pass over input channels, its partial sums. DRAM holds a method's stored
  form of each operand (HwOp.dram_scale: Winograd's untransformed tiles, SmartDeal's codes,
  int8 activations before sign packing), so each transfer is that many bytes;
- one DRAM channel serves requests in order: a request of X bytes occupies it ceil(X / bw)
  cycles from max(issue, channel free) and its data is ready `latency` cycles after that;
- tile i's load is issued when the array finishes tile i - 2 (its half of the buffer is then
  free); tile i computes from max(its data ready, tile i - 1 done) for its fold-by-fold array
  cycles (sim/array_cost.py), stretched when a shared buffer's port is slower than the array
  or when a method's unit beside it (sim/method_costs.py) needs longer for the tile's share;
- when an output tile leaves the accumulator it is written back (final outputs at ofmap width
  after the last input-channel tile, partial sums at psum width before), issued when its
  tile finishes; the layer ends when the last compute and the last write are done.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from dlaforge.arch import ArchSpec
from dlaforge.workloads.hwop import HwOp

from ..analytical import Mapping, relevant_loops, tile_rows
from ..array_cost import ceil_div, row_stationary_tile, systolic_tile
from ..method_costs import unit_cycles


@dataclass(frozen=True)
class TileTrace:
    """Per-layer outcome of the event simulation."""

    compute_cycles: int
    total_cycles: int
    dram_read_bytes: dict    # operand -> bytes (ofmap: partial sums read back)
    dram_write_bytes: int
    tiles: int
    schedule: TileSchedule | None = None     # per-tile geometry and times, kept for --trace


@dataclass(frozen=True)
class TileSchedule:
    """Per tile, in execution order: its loop indices and sizes, what it moves, and when.

    Times are cycles from the op's start; a load or write-back of 0 bytes has start -1."""

    index: dict              # loop -> tile index along it ("g", "n", "k", "c", "p")
    n_first: np.ndarray      # first image of the tile and how many (row stationary tiles images)
    n_size: np.ndarray
    k_first: np.ndarray      # first filter and first channel of the tile, within its group
    c_first: np.ndarray
    k_size: np.ndarray
    c_size: np.ndarray
    p_first: np.ndarray
    p_size: np.ndarray
    rows: tuple              # (first, end) ifmap rows each tile loads
    loads: dict              # operand -> bytes loaded before the tile (ofmap: partial sums)
    writes: np.ndarray       # bytes written back after the tile
    final: np.ndarray        # True where the write-back holds final outputs
    sram_reads: dict         # operand -> elements the array reads from the shared buffers
    load_start: np.ndarray
    start: np.ndarray
    done: np.ndarray
    write_start: np.ndarray


def _tile_sequence(op: HwOp, mapping: Mapping) -> dict:
    """Loop indices and trip counts of every tile, in execution order."""
    kg, cg = op.K // op.groups, op.C // op.groups
    trips = {"g": op.groups, "n": ceil_div(op.N, mapping.nt), "k": ceil_div(kg, mapping.kt),
             "c": ceil_div(cg, mapping.ct), "p": ceil_div(op.P, mapping.pt)}
    loops = "g" + mapping.order
    grids = np.indices([trips[loop] for loop in loops]).reshape(len(loops), -1)
    index = dict(zip(loops, grids))
    index["trips"] = trips
    return index


def _changed(index: dict, loops: str) -> np.ndarray:
    """True where a tile's index along `loops` differs from the previous tile's."""
    key = np.stack([index[loop] for loop in loops])
    out = np.ones(key.shape[1], dtype=bool)
    out[1:] = (key[:, 1:] != key[:, :-1]).any(axis=0)
    return out


def _tile_requests(arch: ArchSpec, op: HwOp, mapping: Mapping, dataflow: str):
    """Per tile: array cycles, cycles at the buffer ports' pace, bytes loaded, bytes written
    back after it."""
    idx = _tile_sequence(op, mapping)
    kg, cg = op.K // op.groups, op.C // op.groups
    k_size = np.minimum(mapping.kt, kg - idx["k"] * mapping.kt)
    c_size = np.minimum(mapping.ct, cg - idx["c"] * mapping.ct)
    p_first = idx["p"] * mapping.pt
    p_size = np.minimum(mapping.pt, op.P - p_first)
    n_size = np.minimum(mapping.nt, op.N - idx["n"] * mapping.nt)    # images in the tile
    if dataflow == "rs":
        cost = row_stationary_tile(arch.pe_array.rows, arch.pe_array.cols, op, k_size, c_size,
                                   p_size, mapping.tc, mapping.tk, mapping.q, mapping.pf,
                                   n_size)
    else:
        cost = systolic_tile(dataflow, arch.pe_array.rows, arch.pe_array.cols, op, k_size,
                             c_size, p_size)
    array_cycles = np.broadcast_to(cost.cycles, k_size.shape).astype(np.float64)
    cycles = np.maximum(array_cycles, _port_cycles(arch, op, cost, k_size.shape))
    rows_lo, rows_hi = tile_rows(op, p_first, p_size)
    # a window hanging past the edge (SCALE-Sim's rounded-up output size) reads no rows there
    ifmap_bytes = n_size * c_size * np.maximum(rows_hi - rows_lo, 0) * op.W * op.ifmap_bits / 8
    weight_bytes = k_size * c_size * op.R * op.S * op.weight_bits / 8
    out_elems = n_size * k_size * p_size * op.Q
    new_output = _changed(idx, "gnkp")
    leaves = np.append(new_output[1:], True)
    partial_in = new_output & (idx["c"] > 0)
    final = idx["c"] == idx["trips"]["c"] - 1
    stored = {"ifmap": ifmap_bytes * op.dram_factor("ifmap"),      # in DRAM's form
              "weight": weight_bytes * op.dram_factor("weight")}
    loops = relevant_loops(op)
    loads = {"ifmap": np.where(_changed(idx, "g" + loops["ifmap"]), stored["ifmap"], 0.0),
             "weight": np.where(_changed(idx, "g" + loops["weight"]), stored["weight"], 0.0),
             "ofmap": np.where(partial_in, out_elems * op.psum_bits / 8, 0.0)}
    final_bits = op.ofmap_bits * op.dram_factor("ofmap")
    writes = np.where(leaves, out_elems * np.where(final, final_bits, op.psum_bits) / 8, 0.0)
    work = (n_size * k_size * c_size * p_size).astype(np.float64)   # the tile's share of the op
    cycles = np.maximum(cycles, np.ceil(unit_cycles(arch, op) * work / work.sum()))
    geometry = dict(index={loop: idx[loop] for loop in "gnkcp"}, n_first=idx["n"] * mapping.nt,
                    n_size=np.broadcast_to(n_size, k_size.shape), k_first=idx["k"] * mapping.kt,
                    c_first=idx["c"] * mapping.ct, k_size=k_size, c_size=c_size,
                    p_first=p_first, p_size=p_size, rows=(rows_lo, rows_hi), loads=loads,
                    writes=writes, final=final & leaves,
                    sram_reads={o: np.broadcast_to(r, k_size.shape) for o, r in
                                (("ifmap", cost.sram_ifmap_reads),
                                 ("weight", cost.sram_weight_reads),
                                 ("ofmap", cost.sram_psum_writes))})
    return array_cycles, cycles, geometry


def _port_cycles(arch: ArchSpec, op: HwOp, cost, shape) -> np.ndarray:
    """Cycles each tile needs at the shared buffers' port bandwidths (reads by the array)."""
    bits = {"ifmap": op.ifmap_bits, "weight": op.weight_bits, "ofmap": op.psum_bits}
    reads = {"ifmap": cost.sram_ifmap_reads, "weight": cost.sram_weight_reads,
             "ofmap": cost.sram_psum_writes}
    need = np.zeros(shape)
    for level in arch.shared_levels:
        read_bytes = sum(reads[o] * bits[o] for o in level.operands if o != "ofmap") / 8
        write_bytes = (reads["ofmap"] * bits["ofmap"] / 8) if "ofmap" in level.operands else 0
        need = np.maximum(need, np.maximum(read_bytes / level.read_bandwidth_bytes_per_cycle,
                                           write_bytes / level.write_bandwidth_bytes_per_cycle))
    return np.ceil(need)


@njit(cache=True)
def _run_events(compute, load_bytes, write_bytes, bandwidth, latency):
    """Times the tiles; returns the cycle the layer ends and, per tile, when its load starts
    on the channel, when it computes, and when its write-back starts (-1: nothing moved)."""
    n = len(compute)
    channel_free = 0.0
    ready = np.zeros(n)
    start = np.zeros(n)
    done = np.zeros(n)
    load_start = np.full(n, -1.0)
    write_start = np.full(n, -1.0)
    last_write = 0.0

    def transfer(issue, nbytes, channel_free):
        begin = max(issue, channel_free)
        busy = np.ceil(nbytes / bandwidth)
        return begin, begin + busy, begin + busy + latency

    for i in range(min(2, n)):
        if load_bytes[i] > 0:
            load_start[i], channel_free, ready[i] = transfer(0.0, load_bytes[i], channel_free)
    for i in range(n):
        start[i] = max(ready[i], done[i - 1] if i > 0 else 0.0)
        done[i] = start[i] + compute[i]
        if i + 2 < n:
            if load_bytes[i + 2] > 0:
                load_start[i + 2], channel_free, ready[i + 2] = transfer(
                    done[i], load_bytes[i + 2], channel_free)
            else:
                ready[i + 2] = done[i]
        if write_bytes[i] > 0:
            write_start[i], channel_free, _ = transfer(done[i], write_bytes[i], channel_free)
            last_write = channel_free
    return max(done[n - 1], last_write), load_start, start, done, write_start


def simulate_tiles(arch: ArchSpec, op: HwOp, mapping: Mapping, dataflow: str,
                   keep_schedule: bool = False) -> TileTrace:
    """Time one op under `mapping` on `arch` (with the per-tile schedule if asked)."""
    array_cycles, cycles, geometry = _tile_requests(arch, op, mapping, dataflow)
    loads, writes = geometry["loads"], geometry["writes"]
    load_total = loads["ifmap"] + loads["weight"] + loads["ofmap"]
    end, load_start, start, done, write_start = _run_events(
        cycles, load_total, writes, float(arch.dram.bandwidth_bytes_per_cycle),
        float(arch.dram.latency_cycles))
    schedule = None
    if keep_schedule:
        schedule = TileSchedule(load_start=load_start, start=start, done=done,
                                write_start=write_start, **geometry)
    return TileTrace(compute_cycles=int(array_cycles.sum()), total_cycles=int(np.ceil(end)),
                     dram_read_bytes={o: int(np.ceil(v.sum())) for o, v in loads.items()},
                     dram_write_bytes=int(np.ceil(writes.sum())), tiles=len(cycles),
                     schedule=schedule)
