"""The cycles of one command of the mapped ws, os and is programs (docs/controller.md): an
estimate in closed form, vectorised over the mapper's candidate tilings for one loop order, of
the tiles whose counters sim/controller_cost.py gives exactly. The DRAM engine and the array
form a two-stage pipeline. Tile i computes F_i L_i cycles; step i of the engine writes back the
output tile that left two tiles before (WB) and loads tile i (LD), and a step starts when
the array has left tile i - 2. So
  cycles ~ LD_0 + 1 + sum_{i=1}^{T-1} max(F_{i-1} L_{i-1}, WB_{i-2} + LD_i + 2)
           + max(F_{T-1} L_{T-1}, WB_{T-2} + 3) + WB_{T-1} + 3,
each job's cycles as the timing model counts them (beat rounding included). The sum is exact
over the tile sequence: a term depends on tiles i-2, i-1, i only through each loop's index
being 0, 1, 2, last or in between, so each loop is represented by five indices, weighted by how
many indices they stand for (5^5 classes at most, 5^4 for one image, and a loop with one
trip in every candidate, as q where no candidate tiles columns, adds none). What it leaves
out: a step that starts after both the array and the channel were idle, and the channel
still held by a previous request when a job starts (but after a write-back).
"""

from __future__ import annotations

import functools

import numpy as np

from dlaforge import program
from dlaforge.arch import ArchSpec
from dlaforge.program import Shape, ceil_div, run_cycles
from dlaforge.workloads.methods.datapath import design_arch
from dlaforge.workloads.quantizers import DEFAULT_QUANTIZER, as_quantizer

from .controller_cost import (REQUANT, clip_int, grid_columns, summed_over_tiles, tile_edge,
                              window_reads)


def _inside_outputs(shape: Shape, p_sizes, q_sizes, last_p, last_q):
    """Output pixels a tile of p_sizes x q_sizes tile pixels writes: all (m² each) but for a
    Winograd-domain command's last tiles along p (`last_p`) or q, those inside the raw P x Q
    (every tile pixel but the last row's and column's is inside)."""
    m = shape.tap_side
    rows = np.where(last_p, shape.raw_P - (shape.P - p_sizes) * m, p_sizes * m)
    cols = np.where(last_q, shape.raw_Q - (shape.Q - q_sizes) * m, q_sizes * m)
    return rows * cols



def _reps(trips):
    """Five representative indices of a loop (0, 1, 2, one standing for 3 .. last - 1, the
    last) and how many indices each stands for; a loop of one trip everywhere has one."""
    trips = np.asarray(trips)
    if np.all(trips == 1):
        return np.zeros(trips.shape + (1,), np.int64), np.ones(trips.shape + (1,))
    t = trips[..., None]
    idx = np.where(np.arange(5) == 4, t - 1, np.minimum(np.arange(5), t - 1))
    weight = np.concatenate([np.ones_like(t), t >= 3, t >= 4, np.maximum(t - 4, 0), t >= 2],
                            axis=-1)
    used = weight.any(axis=0)       # no candidate has that many trips: drop the class
    return idx[:, used], weight[:, used].astype(np.float64)


def _previous(a: dict, trips: dict, order: str):
    """The indices of the tile before and whether there is one."""
    prev, borrow = {}, True
    for x in reversed(order):
        # a loop the inner loops borrow from steps back, from its first index to its last
        prev[x] = np.where(borrow, (a[x] - 1) % trips[x], a[x])
        borrow = borrow & (a[x] == 0)
    return prev, ~borrow


def _job(sections, latency):
    """Cycles from a LOAD step's start to its done (d - s): sections are (on, cycles, last gap)
    in request order."""
    cycles, last = 0, 0
    for on, c, gap in sections:
        cycles = cycles + np.where(on, c, 0)
        last = np.where(on & (c > 0), gap, last)
    return np.where(cycles > 0, cycles - last + latency + 2, 1), last


def _run(lanes_total, lanes, b, bw):
    """(channel cycles, last gap) of one word-run cut of `lanes_total` elements into words of
    `lanes` (full words then the rest), per word: helpers for sections."""
    full, rem = lanes_total // lanes, lanes_total % lanes
    cycles = full * run_cycles(lanes, b, bw) + run_cycles(rem, b, bw)
    return cycles, program.last_gap(np.where(rem > 0, rem, lanes), b, bw)


def param_runs(quantizer, ks, cols: int, bw: float):
    """(channel cycles, last gap) of a PARAMS job of `ks` filters (arrays): the table's head run
    (quantizer.head_pieces bytes), then per filter block a run of channel_pieces bytes per
    filter (workloads/quantizers.py)."""
    H, E = quantizer.head_pieces, quantizer.channel_pieces
    ks = np.asarray(ks)
    head = run_cycles(H, 1, bw) if H else 0
    if not E:
        return np.full(ks.shape, head), np.full(ks.shape, program.last_gap(H, 1, bw))
    cycles, last = _run(E * ks, E * cols, 1, bw)
    return cycles + head, last


def _write_back_runs(k_size, cols, run_cost):
    """What a write-back of `k_size` filters costs per output pixel, whatever its pixels: its
    full and partial words and each one's channel cycles and last gap (_write_back;
    `run_cost`: program.write_run_costs)."""
    full, rem = k_size // cols, k_size % cols
    g_rem, l_rem = run_cost(np.maximum(rem, 1))
    return (full, rem, *run_cost(cols), np.where(rem > 0, g_rem, 0), l_rem)


def _write_back(runs, pixels):
    """Cycles from a write-back's step start to the next step (dW + 1 - s) and its last gap,
    of `pixels` output pixels (`runs`: _write_back_runs of its filters)."""
    full, rem, g_full, l_full, g_rem, l_rem = runs
    words_full, words_rem = full * pixels, np.where(rem > 0, pixels, 0)
    span = (words_full * (g_full - l_full) + words_rem * (g_rem - l_rem)
            + np.maximum(words_full - 1, 0) * np.maximum(2, l_full)
            + np.maximum(words_rem - 1, 0) * np.maximum(2, l_rem)
            + np.where((words_full > 0) & (words_rem > 0), np.maximum(2, l_full), 0))
    return span + 3, np.where(rem > 0, l_rem, l_full)


def _tap_write_back(shape: Shape, ks, cols: int, pixels, inside, run_cost):
    """A Winograd-domain write-back's _write_back (Shape.tap_side; the timing model's
    _tap_write_back with the channel free whenever a request is offered) of a tile of `ks`
    filters and `pixels` tile pixels, `inside` of their output pixels inside the raw output:
    per filter block and tile pixel a FETCH, the tile stage's a² + TAP_STAGE_PIPELINE cycles
    and one more, then the pixel's runs back to back (their requests' gaps, the last's
    overlapping the next FETCH) and a cycle per sub-pixel outside."""
    full, rem, g_full, l_full, g_rem, l_rem = _write_back_runs(ks, cols, run_cost)
    blocks = full + (rem > 0)
    outside = pixels * shape.tap_side ** 2 - inside
    per_pixel = shape.R * shape.S + program.TAP_STAGE_PIPELINE + 2
    span = (1 + blocks * (pixels * per_pixel + outside) + inside * (full * g_full + g_rem)
            - pixels * (full * l_full + np.where(rem > 0, l_rem, 0)))
    return span, np.where(rem > 0, l_rem, l_full)


def _region_steps(shape: Shape, cols: int, bw: float, latency: int, k_last, tk) -> np.ndarray:
    """Cycles of a LOAD step's code regions (Shape.region_rows) but the rebuilds' words (a
    tile's regions: its blocks' of its one group), as [a full k tile, the last k tile] per
    candidate (tk k tiles, the last of k_last filters): per region its fixed byte-rows (a run
    each) and the wait for their data, its code byte-rows and the wait, the rebuild's cycle
    past its words, and the step's next request a cycle after (sim/cycle/controller_timing.py's
    model). A block's regions are priced at their average over the groups, a full k tile at
    the average of the blocks before the last tile's, the last tile at its own blocks' (exact
    but for those averages and the channel still held when a wait ends)."""
    fixed, codes, gap = program.region_runs(shape, bw)
    per_region = (fixed - gap + latency + 3 + np.where(codes > 0, codes - gap + latency + 2, 0))
    groups, blocks = program.region_grid(shape)
    by_block = np.append(0, np.cumsum(per_region.reshape(groups, blocks).mean(axis=0)))
    last_first = ceil_div(shape.K - np.asarray(k_last), cols)   # the last k tile's first block
    return np.stack([by_block[last_first] / np.maximum(tk - 1, 1),
                     by_block[blocks] - by_block[last_first]])


def _reads_by_index(shape: Shape, extent: int, tile, trips, last_size, read):
    """What tiles of `tile` outputs (arrays [candidate, 1]) along a dim of `extent` outputs
    (trips of them, the last of last_size) read, `read(shape, first, size)`: at index 0, 1, 2
    (stacked on a first axis), at the last index, and on average in between (_by_index's)."""
    first = np.minimum(np.arange(3)[:, None, None] * tile, extent)
    first_three = read(shape, first, clip_int(extent - first, 0, tile))
    last = read(shape, (trips - 1) * tile, last_size)
    fetched = summed_over_tiles(extent, tile[:, 0], lambda first, n: read(shape, first, n))
    middle = (fetched[:, None] - last
              - sum(np.where(trips >= j + 2, first_three[j], 0) for j in range(3)))
    return first_three, last, np.where(trips >= 5, middle / np.maximum(trips - 4, 1), 0)


def _by_index(index, trips, first_three, last, middle):
    """What a tile at loop index `index` has: `last` at the last index, `first_three[j]` at
    index j < 3, else `middle` (the average of those in between)."""
    return np.where(index == trips - 1, last,
                    np.where(index == 0, first_three[0],
                             np.where(index == 1, first_three[1],
                                      np.where(index == 2, first_three[2], middle))))


def cycles(arch: ArchSpec, shape: Shape, g: dict, order: str, requant: bool = REQUANT,
           bandwidth: float | None = None, latency: int | None = None,
           dataflow: str = "ws") -> np.ndarray:
    """The module docstring's estimate of one command's cycles (array over candidates)."""
    shape = program.pass_channels(shape)    # slice passes: the channel loop once per pass
    arch = design_arch(arch, shape)
    pe = arch.pe_array
    rows, cols = pe.rows, pe.cols
    bw = float(arch.dram.bandwidth_bytes_per_cycle if bandwidth is None else bandwidth)
    lat = max(1, int(arch.dram.latency_cycles if latency is None else latency))
    b = program.dram_element_bytes(arch, requant, shape)
    kt, ct, pt = (np.asarray(g[x])[:, None] for x in ("kt", "ct", "pt"))
    qt = grid_columns(shape, g)[:, None]
    (tk, k_last), (tc, c_last), (tp, p_last), (tq, q_last) = (
        tile_edge(shape.K, kt), tile_edge(shape.C, ct), tile_edge(shape.P, pt),
        tile_edge(shape.Q, qt))
    trips = {"n": np.full_like(kt, shape.N), "k": tk, "c": tc, "p": tp, "q": tq}
    order = program.nest_order(order)
    # the ifmap rows of p-tiles 0, 1, 2, the last and (on average) those in between; the
    # columns of q-tiles alike (from DRAM: a Winograd tile's raw window)
    row_reads, col_reads = window_reads(shape)
    rows_at, rows_last, rows_mid = _reads_by_index(shape, shape.P, pt, tp, p_last, row_reads)
    cols_at, cols_last, cols_mid = _reads_by_index(shape, shape.Q, qt, tq, q_last, col_reads)
    # the class grid: one representative index per loop, broadcast over the four loops
    reps, weight = {}, 1.0
    for axis, x in enumerate(order):
        idx, w = _reps(trips[x][:, 0])
        shape_ = [idx.shape[0]] + [1] * len(order)
        shape_[axis + 1] = idx.shape[1]
        reps[x] = idx.reshape(shape_)
        weight = weight * w.reshape(shape_)
    full = np.broadcast_shapes(*(r.shape for r in reps.values()))
    a = {x: np.broadcast_to(reps[x], full).reshape(full[0], -1) for x in order}
    weight = np.broadcast_to(weight, full).reshape(full[0], -1)
    t = {x: trips[x] for x in order}
    a1, has1 = _previous(a, t, order)
    a2, has2 = _previous(a1, t, order)
    has2 &= has1

    def changed(x, y, loops):
        return functools.reduce(np.logical_or, [x[lp] != y[lp] for lp in loops])

    first = ~has1           # tile 0 loads all it needs

    def pick(idx, loop, values):
        """values = (at a full tile, at the last tile) of `loop`, per candidate."""
        return np.where(idx[loop] == t[loop] - 1, values[1], values[0])

    # what a tile's jobs cost depends on its sizes: priced per candidate at the full and the
    # last size along each loop (stacked on a first axis: [full, last]), then picked per class
    ks, cs, ps, qs = (np.stack(v) for v in ((kt, k_last), (ct, c_last), (pt, p_last),
                                            (qt, q_last)))
    in_rows = _by_index(a["p"], tp, rows_at, rows_last, rows_mid)
    in_cols = _by_index(a["q"], tq, cols_at, cols_last, cols_mid)
    ifmap_c, ifmap_l = (pick(a, "c", v) for v in (
        _run(np.full_like(cs, shape.binarized), rows * program.BINARY_WORD_BITS, 1, bw)
        if shape.binarized else
        program.packed_run_cycles(cs, rows, shape.ifmap_pack, bw) if shape.ifmap_pack
        else _run(cs, rows, b["i"], bw)))
    weight_run, weight_gap = (
        program.packed_run_cycles(ks, cols, shape.weight_bits, bw) if shape.weight_bits
        else _run(ks, cols, b["w"], bw))
    per_k = weight_run[:, None] * shape.R * shape.S * cs[None]      # [k size, c size]
    weight_c = pick(a, "k", [pick(a, "c", per_k[0]), pick(a, "c", per_k[1])])
    weight_l = pick(a, "k", weight_gap)
    psum_run, psum_gap = _run(ks, cols, b["s"], bw)
    planes = program.acc_planes(shape)      # a Winograd-domain tile's sums: a plane per tap
    psum_c = pick(a, "k", psum_run) * pick(a, "p", ps) * pick(a, "q", qs) * planes
    psum_l = pick(a, "k", psum_gap)
    readback = changed(a, a1, "nkpq") & (a["c"] > 0)
    ifmap_in, weights_in = first | changed(a, a1, "ncpq"), first | changed(a, a1, "kc")
    ifmap = (ifmap_in, in_rows * in_cols * ifmap_c, ifmap_l)
    load, _ = _job([ifmap, (weights_in, weight_c, weight_l), (readback, psum_c, psum_l)], lat)
    if shape.tap_side:      # the patch stage, once the DRAM part is done
        load = load + np.where(ifmap_in, program.patch_cycles(
            shape, rows, pick(a, "c", cs), pick(a, "p", ps) * pick(a, "q", qs)), 0)
    if shape.region_rows:   # rebuilt weights: the ifmap's run, then the regions, then the
        # partial sums (done when their data is back), else done a cycle after the last rebuild
        rebuilt = (np.where(ifmap_in, ifmap[1], 0) + 1
                   + pick(a, "k", _region_steps(shape, cols, bw, lat, k_last, tk))
                   + pick(a, "k", ceil_div(ks, cols)) * pick(a, "c", cs) * shape.R * shape.S
                   + np.where(readback & (psum_c > 0), psum_c - psum_l + lat + 1, 0))
        load = np.where(weights_in, rebuilt, load)
    def compute(idx):
        F, L = program.tile_folds(dataflow, rows, cols, shape.R, shape.S, pick(idx, "q", qs),
                                  pick(idx, "k", ks), pick(idx, "c", cs), pick(idx, "p", ps))
        return F * L

    no_c = order.replace("c", "")

    # PARAMS: the quantizer's head (if any), then per table word (filter block) a run of its
    # entry bytes per filter (if any), at a full and the last k
    param_cycles, param_last = param_runs(as_quantizer(requant) or DEFAULT_QUANTIZER, ks,
                                          cols, bw)

    def params_job(idx):
        """A final write-back's PARAMS job (cycles from its start to the write-back's): the
        table when its k differs from the final write-back's before it (in the order of the
        loops without c), or it is the first; then the scale map (Shape.scale_bytes), one
        request per pixel, when its (n, p, q) differ."""
        if not requant:
            return 0
        prev, has = _previous({x: idx[x] for x in no_c}, t, no_c)
        table = ~has | (prev["k"] != idx["k"])
        cycles = np.where(table, pick(idx, "k", param_cycles), 0)
        last = np.where(table, pick(idx, "k", param_last), 0)
        runs, on_chip = table, 0
        if shape.scale_bytes:
            kmap = ~has | changed(prev, idx, "npq")
            p_size, q_size = pick(idx, "p", ps), pick(idx, "q", qs)
            if shape.binarized:     # the map formed on chip while the table is read
                on_chip = np.where(kmap, program.kmap_cycles(shape, rows, p_size, q_size,
                                                             pick(idx, "c", cs)), 0)
            else:
                cycles = cycles + np.where(kmap, p_size * q_size
                                           * run_cycles(1, shape.scale_bytes, bw), 0)
                last = np.where(kmap, program.last_gap(1, shape.scale_bytes, bw), last)
            runs = table | kmap
        dram = np.where(cycles > 0, cycles - last + lat + 2, 1)
        return np.where(runs, np.maximum(dram, on_chip), 0)
    # a write-back's (cycles, last gap) at a full and the last tile along k, p and q: the
    # eight [k, p, q] size combinations flattened on a first axis, k's the slowest
    pixels = ps[:, None] * qs[None, :]
    jobs = {}
    costs = {"o": program.write_run_costs(b["o"], bw, cols,
                                          program.packed_outputs(shape, requant)),
             "s": program.write_run_costs(b["s"], bw, cols)}
    for name, words in (("o", pixels), ("s", pixels * planes)):
        runs = _write_back_runs(ks[:, None, None], cols, costs[name])
        jobs[name] = [np.broadcast_to(part, (2, 2, 2) + kt.shape).reshape((8,) + kt.shape)
                      for part in _write_back(runs, words)]
    if shape.tap_side:      # a Winograd-domain command's, through the tile stage
        last = np.arange(2)[:, None, None]
        inside = _inside_outputs(shape, ps[:, None], qs[None, :], last[:, None], last[None, :])
        jobs["o"] = [np.broadcast_to(part, (2, 2, 2) + kt.shape).reshape((8,) + kt.shape)
                     for part in _tap_write_back(shape, ks[:, None, None], cols, pixels, inside,
                                                 costs["o"])]

    def write_back(idx, leaves):
        last = {x: idx[x] == t[x] - 1 for x in "kpq"}
        which = 4 * last["k"] + 2 * last["p"] + last["q"]      # each class's [k, p, q] sizes
        final = idx["c"] == t["c"] - 1

        def at(name, part):
            return np.choose(which, jobs[name][part])

        out = np.where(final, at("o", 0) + params_job(idx), at("s", 0))
        return (np.where(leaves, out, 0),
                np.where(leaves, np.where(final, at("o", 1), at("s", 1)), 0))

    wb, wb_last = write_back(a2, has2 & changed(a1, a2, "nkpq"))
    load = load + np.where((wb > 0) & (load > 1), np.maximum(wb_last - 2, 0), 0)
    period = np.maximum(compute(a1), wb + load + 2)
    body = (np.where(has1, period, load + 1) * weight).sum(axis=1)   # tile 0: LD_0 + 1
    # the tail: the last tile's compute and the last two write-backs
    last = {x: t[x] - 1 for x in order}
    before = _previous(last, t, order)[0]
    single = tk * tc * tp * tq * shape.N == 1
    wb_before, _ = write_back(before, ~single & changed(last, before, "nkpq"))
    wb_last_tile, _ = write_back(last, np.ones_like(single))
    tail = np.maximum(compute(last), wb_before + 3) + wb_last_tile + 3
    return (body + tail[:, 0]).astype(np.float64)
