"""The exact timing model of the mapped-program controller under ws, os and is
(docs/controller.md, "The ws program, cycle by cycle", "The os program ..." and "The is program
..."): the counters of ONE command (one group of a layer, all N images) without simulating the
RTL (hw/controller/).

The tiles are the loop nest's iterations in the mapping's order, the column loop q directly
inside p ("Column tiles"; `tile_sequence`, numpy). Every
job of the DRAM engine is a sequence of requests, each taken when the channel is free and held
`beat_gap` cycles; because a request holds the channel at least one cycle, request j + 1 of a
job is taken exactly when request j frees the channel, so a job reduces to a few sums per tile:

- LOAD (ifmap runs, then weight runs, then partial-sum runs; requests of beat_elements each; a
  binarized command's ifmap runs are its int8 channels, words' worth at a time, a byte each;
  packed weights, Shape.weight_bits: per row a run of program.packed_blocks bytes per filter
  block, program.packed_run_cycles):
  its first request at t0 = max(s + 1, free), its last at t0 + (all gaps but the last's), done
  at d = last + Lat + 1 (d = s + 1 when it moves nothing); weights rebuilt from code regions
  (Shape.region_rows) are steps of their own, per k-block of the tile, its region of the
  tile's group of channels (`_region_load`): its fixed byte-rows (after the ifmap's runs, for
  the first block; after the last block's rebuild at D, from max(D + 1, free), for the
  others), done at d (last + Lat + 1); then its code byte-rows from max(d + 1, free), done at
  d' (d if it has none); the rebuild started at d' writes its last word at D = d' +
  c_size*R*S + 1; after the last block the partial-sum runs from max(D + 1, free), the LOAD
  done at last + Lat + 1, or without them at D + 1;
- PARAMS (the quantizer's table head, a run of head_pieces bytes, if it has one; then per
  parameter-table word kb < ceil(k_size/cols), if it has per-channel entries, a run of
  channel_pieces*min(cols, k_size - kb*cols) one-byte elements; all in requests of
  beat_elements(1, bw); workloads/quantizers.py), each only when the tile's k0 differs from
  the last PARAMS job's; then, with a scale map (Shape.scale_bytes) when the tile's (n, p0,
  q0) differ from the last job's, one request of one scale_bytes element per output pixel
  (`kmap_fetched`): the same rule, done at dP (s + 1 when it reads nothing); a binarized
  command (Shape.binarized) forms the map on chip instead, from s: done at max(dP,
  s + program.kmap_cycles);
- write-back (per accumulator word a FETCH cycle, then its run's requests): the first request at
  max(s + 2, free), a word's requests back to back, the next word's first request
  max(2, last gap) after the previous word's last; it ends at dW, the last request's cycle.

A Winograd-domain command (Shape.tap_side) loads its raw window, then its patch stage runs;
its final write-backs go through the tile stage (`_tap_write_back`); its partial sums are its
a² planes (program.acc_planes): a spill writes, and the readback reads, a² times a plain
tile's words.

The engine and the folds (`_engine`, numba) then follow the contract step by step; a tile's
folds and their length are the dataflow's (program.tile_folds), everything else is the same
for all. The other counters are closed forms of the tiles (`_counters`).
tests/sim/test_controller_models.py holds this model equal to a plain request-by-request
interpretation of the contract (tests/sim/controller_reference.py; not of the scale map or
binarized loads, which the closed form and the RTL check: tests/hw/methods/
test_xnor_controller.py) and the analytical closed forms equal to its counters.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dlaforge import program
from dlaforge.arch import ArchSpec
from dlaforge.program import (TAP_STAGE_PIPELINE, Mapping, Shape, ceil_div, last_gap,
                              packed_blocks, packed_run_cycles, run_cycles)
from dlaforge.workloads.methods.datapath import design_arch
from dlaforge.workloads.quantizers import DEFAULT_QUANTIZER, as_quantizer


# what `_engine` takes of a command's code regions: per tile, then per region of the layer and
# the layer's blocks a group (_region_jobs)
REGION_TILE_JOBS = ("block_first", "block_count", "group", "pre_cycles", "post_cycles",
                    "post_last", "block_words")
REGION_JOBS = (*REGION_TILE_JOBS, "fixed_cycles", "code_cycles", "region_gap", "layer_blocks")


def tile_sequence(shape: Shape, mapping: Mapping) -> dict:
    """Per tile in execution order: loop indices ("n", "k", "c", "p", "q"), first index and
    size along k, c, p, q, ifmap rows [lo, hi) and columns [wlo, whi), and the contract's
    flags. The column loop q sits directly inside p (program.nest_order)."""
    qt = mapping.columns(shape.Q)
    trips = program.loop_trips(shape.N, shape.K, shape.C, shape.P, mapping.kt, mapping.ct,
                               mapping.pt, shape.Q, qt)
    order = program.nest_order(mapping.order)
    grids = np.indices([int(trips[loop]) for loop in order]).reshape(len(order), -1)
    idx = {loop: grids[i].astype(np.int64) for i, loop in enumerate(order)}
    t = {"index": idx, "trips": trips}
    for loop, size, total in (("k", mapping.kt, shape.K), ("c", mapping.ct, shape.C),
                              ("p", mapping.pt, shape.P), ("q", qt, shape.Q)):
        first = idx[loop] * size
        t[loop + "0"] = first
        t[loop + "_size"] = np.minimum(size, total - first)
    t["lo"], t["hi"] = rows_read(shape, t["p0"], t["p_size"])
    t["wlo"], t["whi"] = program.cols_read(shape.W, shape.S, shape.stride, shape.padding,
                                           shape.Q, t["q0"], t["q_size"])
    if shape.tap_side:      # a Winograd-domain command's raw windows
        t["raw_lo"], t["raw_hi"] = program.raw_rows(shape, t["p0"], t["p_size"], shape.raw_H)
        t["raw_wlo"], t["raw_whi"] = program.raw_rows(shape, t["q0"], t["q_size"], shape.raw_W)

    def changed(loops):
        key = np.stack([idx[loop] for loop in loops])
        out = np.ones(key.shape[1], dtype=bool)
        out[1:] = (key[:, 1:] != key[:, :-1]).any(axis=0)
        return out

    t["load_ifmap"], t["load_weight"] = changed("ncpq"), changed("kc")
    new_output = changed("nkpq")
    t["readback"] = new_output & (t["c0"] > 0)
    t["leaves"] = np.append(new_output[1:], True)
    t["final"] = idx["c"] == trips["c"] - 1
    return t


def rows_read(shape: Shape, p0, p_size):
    """The ifmap rows [lo, hi) output rows p0 .. p0 + p_size - 1 read, clipped to the image
    (analytical.tile_rows for a plain window)."""
    lo = np.clip(p0 * shape.stride - shape.padding, 0, shape.H)
    hi = np.clip((p0 + p_size - 1) * shape.stride - shape.padding + shape.R, 0, shape.H)
    return lo, hi


def raw_window(t: dict) -> tuple:
    """Per tile of a Winograd-domain command: the rows and columns of its raw window."""
    return t["raw_hi"] - t["raw_lo"], t["raw_whi"] - t["raw_wlo"]


def _staged(t: dict) -> int:
    """The raw elements a Winograd-domain command's loads stage: every ifmap load's raw
    window of its channels (the ifmap elements it reads from DRAM)."""
    rows, cols = raw_window(t)
    return int(np.where(t["load_ifmap"], t["c_size"] * rows * cols, 0).sum())


def staged_elements(shape: Shape, mapping: Mapping) -> int:
    """The raw ifmap elements a command of `shape` under `mapping` stages (Shape.tap_side:
    the staging buffer's writes, which no counter holds; 0 for another command)."""
    return _staged(tile_sequence(shape, mapping)) if shape.tap_side else 0


def _blocks(total, lanes: int):
    """(full blocks, their run, the last block's run or 0): a run of `total` elements cut into
    words of `lanes` lanes."""
    total = np.asarray(total)
    rem = total % lanes
    return total // lanes, lanes, rem


def _load_section(words_per_block, total, lanes, b, bw):
    """(channel cycles, last request's gap, words) of loading runs of `total` elements cut into
    words of `lanes` lanes, `words_per_block` words per block (arrays over tiles)."""
    full, run, rem = _blocks(total, lanes)
    cycles = words_per_block * (full * run_cycles(run, b, bw) + run_cycles(rem, b, bw))
    last_run = np.where(rem > 0, rem, run)
    words = words_per_block * ceil_div(total, lanes)
    return cycles, np.where(words > 0, last_gap(last_run, b, bw), 0), words


def _write_back(words_per_block, total, lanes, run_cost):
    """Per output tile: (cycles from its first request to its last, last request's gap);
    `run_cost(n)`: (channel cycles, last gap) of one word's run of n values
    (program.write_run_costs)."""
    full, run, rem = _blocks(total, lanes)
    g_full, l_full = run_cost(run)
    g_rem, l_rem = run_cost(np.maximum(rem, 1))
    g_rem = np.where(rem > 0, g_rem, 0)
    words_full = full * words_per_block
    words_rem = np.where(rem > 0, words_per_block, 0)
    words = words_full + words_rem
    spans = words_full * (g_full - l_full) + words_rem * (g_rem - l_rem)
    # between a word's last request and the next word's first: max(2, its last gap)
    steps = (np.maximum(words_full - 1, 0) * np.maximum(2, l_full)
             + np.maximum(words_rem - 1, 0) * np.maximum(2, l_rem)
             + np.where((words_full > 0) & (words_rem > 0), np.maximum(2, l_full), 0))
    last = np.where(rem > 0, l_rem, l_full)
    return spans + steps, np.where(words > 0, last, 0)


def param_section(k_size, cols: int, bw: float, quantizer=DEFAULT_QUANTIZER):
    """(channel cycles, last request's gap) of a PARAMS job of `k_size` filters: the table's
    head (head_pieces one-byte elements, if any), then per table word (filter block of `cols`)
    a run of channel_pieces one-byte elements per filter (if any), back to back."""
    H, E = quantizer.head_pieces, quantizer.channel_pieces
    k_size = np.asarray(k_size)
    head = run_cycles(H, 1, bw) if H else 0
    if not E:
        return np.full(k_size.shape, head), np.full(k_size.shape, last_gap(H, 1, bw))
    full, run, rem = _blocks(k_size, cols)
    cycles = head + full * run_cycles(E * run, 1, bw) + run_cycles(E * rem, 1, bw)
    return cycles, last_gap(E * np.where(rem > 0, rem, run), 1, bw)


def _packed_load_section(words_per_block, total, lanes: int, bits: int, bw: float):
    """_load_section's (channel cycles, last request's gap, words) of a tile's packed runs:
    per word (`words_per_block` of them: a weight row (r, s, c), an ifmap pixel) a run of
    program.packed_blocks bytes per block of `lanes` of its `total` values."""
    cycles, last = packed_run_cycles(total, lanes, bits, bw)
    words = words_per_block * ceil_div(total, lanes)
    return cycles * words_per_block, np.where(words > 0, last, 0), words


def params_fetched(t: dict, requant) -> np.ndarray:
    """Per tile: True where its final write-back first fetches its filters' parameters (the
    table holds the k0 of the last fetch; empty at the command's start)."""
    final_out = t["leaves"] & t["final"]
    fetch = np.zeros_like(final_out)
    if requant:
        where = np.flatnonzero(final_out)
        k = t["k0"][where]
        fetch[where] = np.append(True, k[1:] != k[:-1])
    return fetch


def kmap_fetched(t: dict, requant, shape: Shape) -> np.ndarray:
    """Per tile: True where its final write-back first reads its pixels' scale map
    (Shape.scale_bytes; the map holds the (n, p0, q0) of the last read)."""
    final_out = t["leaves"] & t["final"]
    fetch = np.zeros_like(final_out)
    if requant and shape.scale_bytes:
        where = np.flatnonzero(final_out)
        at = np.stack([t["index"][x][where] for x in "npq"])
        fetch[where] = np.append(True, (at[:, 1:] != at[:, :-1]).any(axis=0))
    return fetch


def params_job(t: dict, shape: Shape, requant, rows: int, cols: int, bw: float) -> dict:
    """Per tile, the PARAMS job before its final write-back: whether it runs ("params"), its
    channel cycles and last request's gap: the table's runs where its k0 is new, the scale
    map's pixels where they are (a binarized command forms the map on chip instead: its
    cycles, "kmap_cycles", program.kmap_cycles)."""
    table = params_fetched(t, requant)
    kmap = kmap_fetched(t, requant, shape)
    table_cycles, table_last = param_section(t["k_size"], cols, bw,
                                             as_quantizer(requant) or DEFAULT_QUANTIZER)
    cycles = np.where(table, table_cycles, 0)
    last = np.where(table, table_last, 0)
    on_chip = np.zeros(len(table), np.int64)
    if shape.binarized:
        on_chip = np.where(kmap, program.kmap_cycles(shape, rows, t["p_size"], t["q_size"],
                                                     t["c_size"]), 0)
    elif shape.scale_bytes:
        pixels = t["p_size"] * t["q_size"]
        cycles = cycles + np.where(kmap, pixels * run_cycles(1, shape.scale_bytes, bw), 0)
        last = np.where(kmap, last_gap(1, shape.scale_bytes, bw), last)
    return {"params": table | kmap, "params_cycles": cycles, "params_last": last,
            "kmap_cycles": on_chip}


def _jobs(arch: ArchSpec, shape: Shape, t: dict, requant, bw: float) -> dict:
    """Per tile, the sums the engine needs (see the module docstring)."""
    rows, cols = arch.pe_array.rows, arch.pe_array.cols
    b = program.dram_element_bytes(arch, requant, shape)
    in_rows, in_cols = t["hi"] - t["lo"], t["whi"] - t["wlo"]
    k_size, c_size = t["k_size"], t["c_size"]
    pixels = t["p_size"] * t["q_size"]
    planes = program.acc_planes(shape)    # a Winograd-domain tile's partial sums: a plane a tap
    regions = bool(shape.region_rows)     # rebuilt weights: their own steps (_region_load)
    patch = np.zeros(len(k_size), np.int64)
    if shape.tap_side:      # the raw window, then the patch stage (raw_window_section)
        in_rows, in_cols = raw_window(t)
        patch = np.where(t["load_ifmap"] & (in_rows * in_cols > 0),
                         program.patch_cycles(shape, rows, t["c_size"], pixels), 0)
    sections = [
        (t["load_ifmap"],
         _load_section(in_rows * in_cols, shape.binarized, rows * program.BINARY_WORD_BITS, 1,
                       bw) if shape.binarized else
         _packed_load_section(in_rows * in_cols, c_size, rows, shape.ifmap_pack, bw)
         if shape.ifmap_pack else
         _load_section(in_rows * in_cols, c_size, rows, b["i"], bw)),
        (t["load_weight"] & (not regions),
         _packed_load_section(shape.R * shape.S * c_size, k_size, cols, shape.weight_bits, bw)
         if shape.weight_bits else
         _load_section(shape.R * shape.S * c_size, k_size, cols, b["w"], bw)),
        (t["readback"], _load_section(pixels * planes, k_size, cols, b["s"], bw))]
    load_cycles = np.zeros(len(k_size), np.int64)
    load_last = np.zeros(len(k_size), np.int64)
    for on, (cycles, last, words) in sections:
        load_cycles += np.where(on, cycles, 0)
        load_last = np.where(on & (words > 0), last, load_last)
    final = t["final"]
    spans, lasts = [], []
    for cost, words in ((program.write_run_costs(b["o"], bw, cols,
                                                 program.packed_outputs(shape, requant)), pixels),
                        (program.write_run_costs(b["s"], bw, cols), pixels * planes)):
        span, last = _write_back(words, k_size, cols, cost)
        spans.append(span)
        lasts.append(last)
    wb_span = np.where(final, spans[0], spans[1])
    wb_last = np.where(final, lasts[0], lasts[1])
    region = (_region_jobs(shape, t, cols, bw, sections[0], sections[2]) if regions
              else _no_regions(len(k_size)))
    tap = _tap_jobs(shape, t, cols, b["o"] if requant else b["s"], bw)
    return {"load_cycles": load_cycles, "load_last": load_last, **region, "patch": patch, **tap,
            "wb_span": np.where(t["leaves"], wb_span, 0),
            "wb_last": np.where(t["leaves"], wb_last, 0),
            **params_job(t, shape, requant, rows, cols, bw)}


def _region_jobs(shape: Shape, t: dict, cols: int, bw: float, ifmap_section,
                 psum_section) -> dict:
    """Per tile loading rebuilt weights (Shape.region_rows), what `_engine` steps through:
    its first k-block and block count (block_count 0: none), its group of channels, its ifmap
    runs' channel cycles ("pre", of `ifmap_section`: _jobs' (on, (cycles, last gap, words))),
    its partial sums' ("post", of `psum_section`) and their last gap, its weight words a block
    (c_size*R*S); and per region of the layer program.region_runs, and the layer's blocks a
    group."""
    fixed, codes, gap = program.region_runs(shape, bw)
    i_on, (i_cycles, _, _) = ifmap_section
    p_on, (p_cycles, p_last, _) = psum_section
    return {"block_first": t["k0"] // cols,
            "block_count": np.where(t["load_weight"], ceil_div(t["k_size"], cols), 0),
            "group": t["c0"] // shape.region_channels,
            "pre_cycles": np.where(i_on, i_cycles, 0),
            "post_cycles": np.where(p_on, p_cycles, 0), "post_last": p_last,
            "block_words": t["c_size"] * shape.R * shape.S,
            "fixed_cycles": fixed, "code_cycles": codes, "region_gap": gap,
            "layer_blocks": program.region_grid(shape)[1]}


def _tap_jobs(shape: Shape, t: dict, cols: int, out_bytes: int, bw: float) -> dict:
    """What `_engine` takes of a Winograd-domain command's final write-backs (Shape.tap_side;
    `_tap_write_back`; it spills its planes as a plain write-back): per tile its k_size, p0,
    q0, p_size, q_size and whether it is final ("tap_tiles"), the
    command's tile side, taps, raw P and Q, cols and output beat ("tap_consts", tile side 0
    without), and a request's gap by its count ("tap_gaps")."""
    if not shape.tap_side:
        return {"tap_tiles": np.zeros((len(t["k_size"]), 6), np.int64),
                "tap_consts": np.zeros(6, np.int64), "tap_gaps": np.zeros(1, np.int64)}
    beat = min(program.beat_elements(out_bytes, bw), cols)
    return {"tap_tiles": np.stack([t[x] for x in ("k_size", "p0", "q0", "p_size", "q_size",
                                                  "final")], axis=1).astype(np.int64),
            "tap_consts": np.array([shape.tap_side, shape.R * shape.S, shape.raw_P,
                                    shape.raw_Q, cols, beat], np.int64),
            "tap_gaps": program.beat_gap(np.arange(beat + 1), out_bytes, bw)}


@njit(cache=True)
def _tap_write_back(g, free, tile, consts, gaps):
    """(done, channel free) of a Winograd-domain write-back started at g (hw/controller/
    writer.py): per filter block and tile pixel a FETCH (the tile stage's start), its outputs
    ready a² + TAP_STAGE_PIPELINE cycles later, then its sub-pixels, one cycle for one outside
    the raw output, else its run's requests, each taken when offered and the channel is
    free, the next offered the cycle after; the next pixel's FETCH the cycle after its last."""
    k_size, p0, q0, p_size, q_size, _ = tile
    side, taps, raw_P, raw_Q, cols, beat = consts
    fetch = g + 1
    done = fetch
    for kb in range((k_size + cols - 1) // cols):
        run = min(cols, k_size - kb * cols)
        for pp in range(p_size):
            for qq in range(q_size):
                offered = fetch + taps + TAP_STAGE_PIPELINE + 1
                for si in range(side):
                    for sj in range(side):
                        if (p0 + pp) * side + si < raw_P and (q0 + qq) * side + sj < raw_Q:
                            for first in range(0, run, beat):
                                taken = max(offered, free)
                                free = taken + gaps[min(beat, run - first)]
                                offered = taken + 1
                            done = offered - 1
                        else:
                            done = offered
                            offered += 1
                fetch = done + 1
    return done, free


def _no_regions(tiles: int) -> dict:
    """_region_jobs of a command without code regions."""
    zeros, none = np.zeros(tiles, np.int64), np.zeros(0, np.int64)
    return {**{name: zeros for name in REGION_TILE_JOBS},
            "fixed_cycles": none, "code_cycles": none, "region_gap": none, "layer_blocks": 0}


@njit(cache=True)
def _region_load(g, free, first_block, blocks, group, pre, post, post_last, words, fixed,
                 codes, gap, layer_blocks, latency):
    """(done, channel free) of a LOAD step started at g whose tile rebuilds `blocks` k-blocks
    from `first_block` of channel group `group` (the module docstring)."""
    start = g + 1
    d = 0
    for b in range(first_block, first_block + blocks):
        r = group * layer_blocks + b
        first = max(start, free)
        last = first + (pre if b == first_block else 0) + fixed[r] - gap[r]
        free = last + gap[r]
        d = last + latency + 1
        if codes[r] > 0:
            first = max(d + 1, free)
            last = first + codes[r] - gap[r]
            free = last + gap[r]
            d = last + latency + 1
        d = d + words + 1           # the rebuild's last word
        start = d + 1
    if post > 0:                    # the partial sums come back
        first = max(start, free)
        last = first + post - post_last
        free = last + post_last
        start = last + latency + 1
    return start, free


def fold_cycles(arch: ArchSpec, shape: Shape, t: dict,
                dataflow: str = "ws") -> tuple[np.ndarray, np.ndarray]:
    """Per tile: its folds F_i and the cycles of one of them L_i."""
    pe = arch.pe_array
    F, L = program.tile_folds(dataflow, pe.rows, pe.cols, shape.R, shape.S, t["q_size"],
                              t["k_size"], t["c_size"], t["p_size"])
    return F.astype(np.int64), np.broadcast_to(L, F.shape).astype(np.int64)


@njit(cache=True)
def _engine(compute, load_cycles, load_last, leaves, wb_span, wb_last, params, params_cycles,
            params_last, kmap_cycles, latency, block_first, block_count, group, pre_cycles,
            post_cycles, post_last, block_words, fixed_cycles, code_cycles, region_gap,
            layer_blocks, patch, tap_tiles, tap_consts, tap_gaps):
    """The DRAM engine and the folds (docs/controller.md); returns the command's cycles. A
    Winograd-domain command's LOAD ends `patch` cycles after its DRAM part (the patch stage),
    its final write-backs are `_tap_write_back`'s."""
    T = compute.shape[0]
    ends = np.zeros(T, dtype=np.int64)
    g = 0
    free = 0
    for i in range(T + 2):
        if i >= 2:
            j = i - 2
            g = max(g, ends[j] + 1)
            if leaves[j]:
                if params[j]:
                    s = g
                    if params_cycles[j] > 0:
                        first = max(g + 1, free)
                        last = first + params_cycles[j] - params_last[j]
                        free = last + params_last[j]
                        g = last + latency + 1
                    else:           # nothing to read: the fetcher is done at once
                        g = g + 1
                    g = max(g, s + kmap_cycles[j])
                if tap_consts[0] > 0 and tap_tiles[j, 5]:
                    done, free = _tap_write_back(g, free, tap_tiles[j], tap_consts, tap_gaps)
                else:
                    first = max(g + 2, free)
                    done = first + wb_span[j]
                    free = done + wb_last[j]
                g = done + 1
        if i < T:
            if block_count[i] > 0:      # rebuilt weights
                d, free = _region_load(g, free, block_first[i], block_count[i], group[i],
                                       pre_cycles[i], post_cycles[i], post_last[i],
                                       block_words[i], fixed_cycles, code_cycles, region_gap,
                                       layer_blocks, latency)
            elif load_cycles[i] > 0:
                first = max(g + 1, free)
                last = first + load_cycles[i] - load_last[i]
                free = last + load_last[i]
                d = last + latency + 1
            else:
                d = g + 1
            d += patch[i]
            start = d + 1
            if i > 0:
                start = max(start, ends[i - 1] + 1)
            ends[i] = start + compute[i] - 1
            g = d + 2
        else:
            g += 2
    return g + 1


def _counters(arch: ArchSpec, shape: Shape, t: dict, requant, F, L,
              dataflow: str) -> dict:
    """Every counter but `cycles`: closed forms of the tiles."""
    pe = arch.pe_array
    rows, cols = pe.rows, pe.cols
    b = program.dram_element_bytes(arch, requant, shape)
    k_size, c_size = t["k_size"], t["c_size"]
    pixels = t["p_size"] * t["q_size"]
    in_words = (t["hi"] - t["lo"]) * (t["whi"] - t["wlo"])
    ifmap_el = np.where(t["load_ifmap"], c_size * in_words, 0).sum()
    # DRAM bytes of the ifmap: a binarized command's int8 activations, its channels a pixel
    ifmap_bytes = (np.where(t["load_ifmap"], shape.binarized * in_words, 0).sum()
                   if shape.binarized else ifmap_el * b["i"])
    weight_el = np.where(t["load_weight"], k_size * c_size * shape.R * shape.S, 0).sum()
    weight_bytes = weight_el * b["w"]
    if shape.weight_bits:       # packed: each row's filter blocks, whole bytes each
        runs = packed_blocks(k_size, cols, shape.weight_bits).sum(axis=0)
        weight_bytes = np.where(t["load_weight"], runs * c_size * shape.R * shape.S, 0).sum()
    if shape.region_rows:       # code regions: the tile's, whole
        weight_bytes = np.where(t["load_weight"], _tile_region_bytes(shape, t, cols), 0).sum()
    if shape.ifmap_pack:        # packed: each word's run of codes, whole bytes
        runs = packed_blocks(c_size, rows, shape.ifmap_pack).sum(axis=0)
        ifmap_bytes = np.where(t["load_ifmap"], runs * in_words, 0).sum()
    outputs = pixels        # output pixels a tile writes: a Winograd tile's inside the raw P x Q
    if shape.tap_side:      # the raw windows from DRAM, the patch stage's V words written
        ifmap_bytes = _staged(t) * b["i"]
        outputs = (program.raw_outputs(shape, t["p0"], t["p_size"], shape.raw_P)
                   * program.raw_outputs(shape, t["q0"], t["q_size"], shape.raw_Q))
    out_bytes = k_size * b["o"]
    if program.packed_outputs(shape, requant):  # each filter block's codes, whole bytes
        out_bytes = packed_blocks(k_size, cols, shape.ofmap_pack).sum(axis=0)
    planes = program.acc_planes(shape)      # a Winograd-domain tile's: a plane per tap
    readback_el = np.where(t["readback"], k_size * pixels * planes, 0).sum()
    k_blocks, c_blocks = ceil_div(k_size, cols), ceil_div(c_size, rows)
    taps = shape.R * shape.S
    # accumulator words the folds write (ws, is: a word per filter block, pixel, channel block
    # and tap; os: each pixel once per filter block), the output's first channel tile (c0 = 0)
    # reading none of them first; ifmap words the folds read (a word per pixel, channel block
    # and tap, and under ws and os per filter block); weight words
    # a Winograd-domain command's plane per tap (program.acc_planes): first written at each
    # tap, each read by the write-back
    fold_words = (k_blocks * (1 if dataflow == "os" else c_blocks * taps)) * pixels
    first_words = np.where(t["c0"] == 0, k_blocks * pixels * planes, 0)
    ifmap_words = c_blocks * taps * pixels * (1 if dataflow == "is" else k_blocks)
    weight_words = {"ws": F * rows, "os": F * taps * c_size,
                    "is": ceil_div(pixels, cols) * taps * k_blocks * c_size}[dataflow]
    leaving = t["leaves"]
    final = leaving & t["final"]
    spill = leaving & ~t["final"]
    out_words = ceil_div(k_size, cols) * pixels * planes
    quantizer = as_quantizer(requant) or DEFAULT_QUANTIZER
    params = int(params_fetched(t, requant).astype(np.int64) @ quantizer.fetch_bytes(k_size))
    if not shape.binarized:     # the scale map read from DRAM
        params += (int(np.where(kmap_fetched(t, requant, shape), pixels, 0).sum())
                   * shape.scale_bytes)
    return {
        "busy_cycles": int((F * L).sum()),
        "ifmap_reads": int(ifmap_words.sum() * rows),
        "ifmap_writes": int(ifmap_el),
        "weight_reads": int(weight_words.sum() * cols),
        "weight_writes": int(weight_el),
        "acc_reads": int((fold_words - first_words).sum() * cols
                         + np.where(leaving, out_words, 0).sum() * cols),
        "acc_writes": int(fold_words.sum() * cols + readback_el),
        "dram_read_bytes": int(ifmap_bytes + weight_bytes + readback_el * b["s"] + params),
        "dram_write_bytes": int(np.where(final, out_bytes * outputs, 0).sum()
                                + np.where(spill, k_size * pixels * planes, 0).sum() * b["s"]),
    }


def _tile_region_bytes(shape: Shape, t: dict, cols: int) -> np.ndarray:
    """Per tile the DRAM bytes of its code regions (Shape.region_rows): its k-blocks' in its
    group of channels."""
    groups, blocks = program.region_grid(shape)
    by_block = np.zeros((groups, blocks + 1), np.int64)
    by_block[:, 1:] = program.region_bytes(shape).reshape(groups, blocks).cumsum(1)
    group, first = t["c0"] // shape.region_channels, t["k0"] // cols
    return by_block[group, first + ceil_div(t["k_size"], cols)] - by_block[group, first]


def controller_counters(arch: ArchSpec, shape: Shape, mapping: Mapping, requant,
                        bandwidth: float | None = None, latency: int | None = None,
                        dataflow: str = "ws") -> dict:
    """Every program.COUNTERS value of one command of `shape` under `mapping` and `dataflow`
    (program.CONTROLLER_DATAFLOWS) on `arch` (DRAM bandwidth and latency default to the
    spec's), outputs requantized if `requant` (True: by the default quantizer; or a
    workloads/quantizers.Quantizer, whose parameter table the PARAMS jobs fetch)."""
    bw = float(arch.dram.bandwidth_bytes_per_cycle if bandwidth is None else bandwidth)
    lat = max(1, int(arch.dram.latency_cycles if latency is None else latency))
    shape = program.pass_channels(shape)    # slice passes: the channel loop once per pass
    arch = design_arch(arch, shape)         # the lanes the design's buffers hold
    t = tile_sequence(shape, mapping)
    F, L = fold_cycles(arch, shape, t, dataflow)
    jobs = _jobs(arch, shape, t, requant, bw)
    cycles = _engine(F * L, jobs["load_cycles"], jobs["load_last"], t["leaves"],
                     jobs["wb_span"].astype(np.int64), jobs["wb_last"].astype(np.int64),
                     jobs["params"], np.asarray(jobs["params_cycles"], np.int64),
                     np.asarray(jobs["params_last"], np.int64),
                     np.asarray(jobs["kmap_cycles"], np.int64), lat,
                     *(np.asarray(jobs[name], np.int64) for name in REGION_JOBS[:-1]),
                     int(jobs["layer_blocks"]), jobs["patch"].astype(np.int64),
                     jobs["tap_tiles"], jobs["tap_consts"], jobs["tap_gaps"].astype(np.int64))
    return {"cycles": int(cycles), **_counters(arch, shape, t, requant, F, L, dataflow)}
