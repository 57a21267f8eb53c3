"""The mapped ws, os and is programs (docs/controller.md, "The ws program, cycle by cycle", "The
os program ...", "The is program ...") in closed form: the analytical model of the ops the
generated controller runs, vectorised over the mapper's candidate tilings (arrays kt, ct, pt
and qt, the output columns per tile: Q where the grid has none) for one loop order, whose
column loop q sits directly inside p (program.nest_order). The dataflows share everything but
a tile's folds (program.tile_folds) and the array's buffer accesses.

Counters (exact; tests/sim/test_controller_models.py holds them equal to the timing model,
sim/cycle/controller_timing.py). Per loop order every distinct tile of an operand is brought in
equally often, `_reuse` times (analytical.py's reuse rule), so
- ifmap / weight buffer writes = reuse x the distinct tiles' elements (ifmap: the rows each
  p-tile reads, clipped to the image, x the columns each q-tile holds (program.cols_read) x
  C);
- partial sums: each output tile leaves `reuse_ofmap` times, the last one final; the others are
  spilled at psum width and read back (a Winograd-domain tile's a² planes of sums);
- parameters (requantized commands): the final write-backs come in the order of the loops
  without c; the table is refetched (3 bytes per filter) whenever their k changes, a DRAM
  scale map (Shape.scale_bytes; a binarized command forms it on chip) whenever their n, p or
  q do; a binarized command's ifmap bytes are its int8 channels per pixel brought;
- folds: sums over tiles separate by loop. ws: sum of folds x pixels = (sum_k ceil(k_size/cols))
  x (sum_c ceil(c_size/rows)) x R S x P Q per image. os: folds = (sum_k ceil(k_size/cols)) x
  (sum_pq ceil(p_size q_size/rows)) per c-tile, each fold's length linear in
  ceil(c_size/rows); its accumulator words are written once per tile. is: folds =
  (sum_pq ceil(p_size q_size/cols)) x (sum_c ceil(c_size/rows)) x R S per k-tile, each fold's
  length linear in ceil(k_size/cols).

Energy: the counters priced (what the mapper's search compares, and a whole op's Stats) is
sim/controller_stats.py's.

Cycles (an estimate): the DRAM engine and the array form a two-stage pipeline. Tile i computes
F_i L_i cycles; step i of the engine writes back the output tile that left two tiles before
(WB) and loads tile i (LD), and a step starts when the array has left tile i - 2. So
  cycles ~ LD_0 + 1 + sum_{i=1}^{T-1} max(F_{i-1} L_{i-1}, WB_{i-2} + LD_i + 2)
           + max(F_{T-1} L_{T-1}, WB_{T-2} + 3) + WB_{T-1} + 3,
each job's cycles as the timing model counts them (beat rounding included). The sum is exact
over the tile sequence: a term depends on tiles i-2, i-1, i only through each loop's index
being 0, 1, 2, last or in between, so each loop is represented by five indices, weighted by how
many indices they stand for (5^5 classes at most, 5^4 for one image, and a loop with one
trip in every candidate, as q where no candidate tiles columns, adds none; vectorised over the
candidates). What it
leaves out: a step that starts after both the array and the channel were idle, and the channel
still held by a previous request when a job starts (but after a write-back).
"""

from __future__ import annotations

import functools

import numpy as np

from dlaforge import program
from dlaforge.arch import ArchSpec
from dlaforge.program import BufferGeometry, Shape, ceil_div, run_cycles
from dlaforge.workloads.hwop import HwOp

from dlaforge.workloads.methods.datapath import (BASELINE, controller_datapath, design_arch,
                                                 family_datapaths)
from dlaforge.workloads.quantizers import DEFAULT_QUANTIZER, as_quantizer

from .array_cost import distinct_values
from .rtl_program import rtl_cannot_run

REQUANT = True      # the controller's commands requantize their outputs (as --schedule rtl)


def requant_of(op: HwOp):
    """What the models pass as `requant` for `op`: its quantizer (workloads/quantizers.py)."""
    return REQUANT and op.quantizer


def _cannot_run(arch: ArchSpec, op: HwOp, dataflow: str) -> str | None:
    """rtl_cannot_run on the datapath the controller runs `op`'s PE operation with
    (workloads/methods/datapath.controller_datapath), or why there is none."""
    datapath = controller_datapath(arch, op.pe_op, op)
    if datapath is None:
        kind = arch.pe_array.pe_kind
        if not any(d.pe_kind == kind for d in (BASELINE, *family_datapaths())):
            return f"the controller has no datapath with {kind} PEs (pe_kind {kind!r})"
        return (f"the controller built for pe_kind {kind!r} has no PE for pe_op {op.pe_op!r}"
                + (" (the method's datapath has no MAC mode)" if op.pe_op == "mac" else ""))
    why = rtl_cannot_run(arch, op, dataflow, datapath)
    if why is None and datapath.rebuilt_bits and datapath.mode_of(op.pe_op) == 0:
        why = _region_refusal(arch, op, datapath)
    return why


def _region_refusal(arch: ArchSpec, op: HwOp, datapath) -> str | None:
    """Why the controller cannot load `op`'s rebuilt weights (None if it can): a tile holds
    whole regions (Shape.region_rows), the weight words of a block of filters and a group of
    channels filling whole Ce rows, which must fit a weight buffer half; said before the
    layer's codes are decomposed (shape_of)."""
    C = op.C // op.groups
    half = BufferGeometry.of(datapath.operand_arch(arch)).weight_half
    if datapath.weight_code.group_channels(C, op.R, op.S, half):
        return None
    return (f"a tile of rebuilt weights holds whole regions of {op.R}x{op.S} weights in whole "
            f"rows of codes; not even the smallest fits the {half} weight words of a buffer "
            f"half")


def controller_runs(arch: ArchSpec, op: HwOp, dataflow: str) -> bool:
    """True when the generated controller runs `op` under `dataflow`: ws, os or is
    (program.CONTROLLER_DATAFLOWS) on an array that has it (is: ifmap_bits == weight_bits), an
    op of the PE operation of a datapath built for the arch's PE kind (a baseline MAC op on a
    MAC array, a method's, as AdderNet's "sad" on adder PEs: controller_datapath) with a plain
    window at the array's widths, on a preset or arch YAML (rtl_cannot_run), and its smallest
    tile (program.fewest_filters and fewest_channels: one filter and one channel, a byte's
    worth of packed ones, all of a binarized command's words, a region of rebuilt weights'
    filters and one group of its channels; one output row and column) fits one half of each
    buffer."""
    if (dataflow not in program.CONTROLLER_DATAFLOWS
            or _cannot_run(arch, op, dataflow) is not None):
        return False
    shape = shape_of(op, arch)
    arch, one = design_arch(arch, shape), np.ones(1, np.int64)
    return bool(grid_fits(arch, shape, {"kt": one * program.fewest_filters(shape),
                                        "ct": one * program.fewest_channels(shape),
                                        "pt": one, "qt": one})[0])



def controller_refusal(arch: ArchSpec, op: HwOp, dataflow: str) -> str:
    """Why the controller cannot run `op` under `dataflow` (for an op controller_runs refuses):
    what the RTL cannot run at all, or its smallest tile (controller_runs') overflowing a
    buffer half."""
    reason = _cannot_run(arch, op, dataflow)
    if reason is not None:
        return reason
    s = shape_of(op, arch)
    arch = design_arch(arch, s)
    pe = arch.pe_array
    kt, ct = program.fewest_filters(s), program.fewest_channels(s)
    words = program.tile_words(pe.rows, pe.cols, W=s.W, H=s.H, R=s.R, S=s.S, Q=s.Q,
                               stride=s.stride, padding=s.padding, kt=kt, ct=ct, pt=1, qt=1,
                               planes=program.acc_planes(s))
    geo = BufferGeometry.of(arch)
    halves = {"ifmap": geo.ifmap_half, "weight": geo.weight_half, "ofmap": geo.acc_half}
    what = {"ifmap": " (the input window)", "weight": "", "ofmap": " (accumulator)"}
    over = [f"{int(words[o])} {o} words{what[o]}, more than the {halves[o]} of a buffer half"
            for o in halves if words[o] > halves[o]]
    if not over:
        return f"the controller does not run dataflow {dataflow}"
    pixel = (f"{s.tap_side}x{s.tap_side} output tile" if s.tap_side else "output pixel")
    tile = ", ".join(f"{'one' if n == 1 else n} {what}{'' if n == 1 else 's'}"
                     for n, what in ((kt, "filter"), (ct, "channel"), (1, pixel)))
    why = "; a Winograd-domain tile holds a plane of sums per tap" if s.tap_side else ""
    return f"the controller's smallest tile ({tile}) needs {'; '.join(over)}{why}"


def command_groups(op: HwOp, shape: Shape) -> int:
    """Commands the controller runs for `op` (of `shape`, shape_of's), one per group: a
    Winograd-domain op's groups are the taps of one command (Shape.tap_side)."""
    return 1 if shape.tap_side else op.groups


def shape_of(op: HwOp, arch: ArchSpec) -> Shape:
    """One command's shape on `arch`: one group of the op, all its images, with the packed
    weight width of the datapath that runs it where that datapath packs them
    (Datapath.weight_bits: BWN's sign bits), and the slices of an op it runs as slice passes
    (Datapath.slices_of: a bit-sliced op's images and filters hold its slices, which the
    command takes as passes instead), and the activation codes it moves packed
    (HwOp.packed_codes: Shape.ifmap_pack, ofmap_pack), and the code regions of the weights it
    rebuilds (Datapath.weight_code: Shape.region_rows, one region per block of the array's
    columns and group of channels); a Winograd op on a transforming datapath
    (Datapath.tap_transform) the Winograd-domain command of its layer (HwOp.tap_layer,
    program.tap_shape)."""
    datapath = controller_datapath(arch, op.pe_op, op)
    if datapath is None:
        return Shape(N=op.N, C=op.C // op.groups, H=op.H, W=op.W, K=op.K // op.groups, R=op.R,
                     S=op.S, P=op.P, Q=op.Q, stride=op.stride, padding=op.padding)
    bits = datapath.weight_bits if datapath.packs(op.pe_op) else 0
    sa, sw = datapath.slices_of(op)
    own = datapath.mode_of(op.pe_op) == 0
    if own and datapath.tap_transform is not None:
        side, H, W, padding = op.tap_layer
        return program.tap_shape(op.N, op.C // op.groups, op.K // op.groups, H, W, padding,
                                 side)
    binarized = (datapath.binarized_channels(arch, op) if own and datapath.binarizes
                 and "ifmap" in op.dram_scale else 0)
    ifmap_pack, ofmap_pack = datapath.packed_bits(op, arch)
    regions = {}
    if own and datapath.rebuilt_bits:
        half = BufferGeometry.of(datapath.operand_arch(arch)).weight_half
        regions = datapath.region_fields(datapath.weight_code.of_op(op), arch.pe_array.cols,
                                         half)
    return Shape(N=op.N // sa, C=op.C // op.groups, H=op.H, W=op.W,
                 K=op.K // op.groups // sw, R=op.R, S=op.S, P=op.P, Q=op.Q, stride=op.stride,
                 padding=op.padding, weight_bits=bits, ifmap_slices=sa, weight_slices=sw,
                 scale_bytes=datapath.scale_bytes if own else 0, binarized=binarized,
                 element_bits=datapath.element_bits(op.pe_op), ifmap_pack=ifmap_pack,
                 ofmap_pack=ofmap_pack, **regions)


def grid_fits(arch: ArchSpec, shape: Shape, g: dict):
    """Where the candidates' tiles fit the buffer halves (and, with packed weights or outputs,
    each k tile but the last starts on a byte: kt a multiple of program.packed_align, or all K;
    with a packed ifmap, each c tile alike;
    with slice passes, the channel tile divides C; with code regions, every k tile but the
    last holds whole regions, program.filter_align, and every c tile one group's channels)."""
    arch = design_arch(arch, shape)
    fit = program.fits(arch, W=shape.W, H=shape.H, R=shape.R, S=shape.S, Q=shape.Q,
                       stride=shape.stride, kt=g["kt"], ct=g["ct"], pt=g["pt"],
                       qt=g.get("qt"), padding=shape.padding, planes=program.acc_planes(shape))
    # packed weights, outputs or ifmap: every tile but the last starts on a byte
    for align, tile, total in ((program.filter_align(shape), g["kt"], shape.K),
                               (program.channel_align(shape), g["ct"], shape.C)):
        if align > 1:
            tile = np.asarray(tile)
            fit = fit & ((tile % align == 0) | (tile >= total))
    if shape.passes > 1:        # every channel tile in one pass (program.pass_channels)
        fit = fit & (shape.C % np.asarray(g["ct"]) == 0)
    if shape.binarized:     # a pixel's magnitudes
        fit = fit & (np.asarray(g["ct"]) >= shape.C)
    if shape.region_rows:   # one group of regions a tile
        fit = fit & (np.minimum(g["ct"], shape.C) == program.region_channel_tile(shape))
    return fit


def grid_columns(shape: Shape, g: dict):
    """The candidates' output columns per tile (Q where the grid names none)."""
    qt = g.get("qt")
    if qt is None:
        return np.full(np.shape(g["kt"]), shape.Q, np.int64)
    return np.minimum(np.asarray(qt), shape.Q)


def _clip(x, lo, hi):
    """np.clip of integers, without its overhead (the closed forms run on small arrays)."""
    return np.minimum(np.maximum(x, lo), hi)


def _rows_read(shape: Shape, p0, p_size):
    lo = _clip(p0 * shape.stride - shape.padding, 0, shape.H)
    hi = _clip((p0 + p_size - 1) * shape.stride - shape.padding + shape.R, 0, shape.H)
    return hi - lo


def _summed_over_tiles(extent: int, tile, read) -> np.ndarray:
    """Per candidate tile size: `read(first, size)` summed over the tiles that cut `extent`
    outputs (the last one short), each distinct size computed once (the tiles of every size
    in one array, summed per size)."""
    tile = np.asarray(tile)
    sizes = distinct_values(tile)
    if len(sizes) == 0:
        return np.zeros(tile.shape, np.int64)
    counts = ceil_div(extent, sizes)                    # tiles of each size
    starts = np.cumsum(counts) - counts                 # where each size's tiles begin
    size = np.repeat(sizes, counts)
    first = (np.arange(counts.sum()) - np.repeat(starts, counts)) * size
    totals = np.add.reduceat(read(first, np.minimum(size, extent - first)), starts)
    return totals.astype(np.int64)[np.searchsorted(sizes, tile)]


def rows_fetched(shape: Shape, pt) -> np.ndarray:
    """Ifmap rows all p-tiles of height `pt` read together (per channel and column)."""
    return _summed_over_tiles(shape.P, pt, lambda p0, size: _rows_read(shape, p0, size))


def _cols_read(shape: Shape, q0, q_size):
    lo, hi = program.cols_read(shape.W, shape.S, shape.stride, shape.padding, shape.Q, q0,
                               q_size)
    return hi - lo


def cols_fetched(shape: Shape, qt) -> np.ndarray:
    """Ifmap columns all q-tiles of width `qt` hold together (per channel and row)."""
    return _summed_over_tiles(shape.Q, qt, lambda q0, size: _cols_read(shape, q0, size))


def _raw_rows(shape: Shape, p0, p_size):
    lo, hi = program.raw_rows(shape, p0, p_size, shape.raw_H)
    return hi - lo


def _raw_cols(shape: Shape, q0, q_size):
    lo, hi = program.raw_rows(shape, q0, q_size, shape.raw_W)
    return hi - lo


def _window_reads(shape: Shape):
    """(rows read, columns read) by a tile from DRAM, functions of its first index and size:
    a Winograd-domain command's raw windows (Shape.tap_side), else its ifmap window's."""
    return (_raw_rows, _raw_cols) if shape.tap_side else (_rows_read, _cols_read)


def _inside_outputs(shape: Shape, p_sizes, q_sizes, last_p, last_q):
    """Output pixels a tile of p_sizes x q_sizes tile pixels writes: all (m² each) but for a
    Winograd-domain command's last tiles along p (`last_p`) or q, those inside the raw P x Q
    (every tile pixel but the last row's and column's is inside)."""
    m = shape.tap_side
    rows = np.where(last_p, shape.raw_P - (shape.P - p_sizes) * m, p_sizes * m)
    cols = np.where(last_q, shape.raw_Q - (shape.Q - q_sizes) * m, q_sizes * m)
    return rows * cols


def _pixel_blocks(pt, p_last, tp, qt, q_last, tq, lanes):
    """sum over the pixel tiles (p, q) of ceil(p_size*q_size/lanes)."""
    return ((tp - 1) * (tq - 1) * ceil_div(pt * qt, lanes)
            + (tp - 1) * ceil_div(pt * q_last, lanes)
            + (tq - 1) * ceil_div(p_last * qt, lanes) + ceil_div(p_last * q_last, lanes))


def _reuse(order: str, trips: dict, relevant: str, more: dict):
    """How many times each distinct tile of an operand depending on loops `relevant` is brought
    in over the tile sequence of `order` (once per run of tiles with equal indices along those
    loops): the product of the trips of the loops it does not depend on that sit outside its
    innermost relevant loop with more than one trip (1 where there is none). `more` is
    {loop: trips > 1}."""
    count, outside = 1, 1
    for loop in order:          # an inner relevant loop's product replaces an outer one's
        if loop in relevant:
            count = np.where(more[loop], outside, count)
        else:
            outside = outside * trips[loop]
    return count


def _packed_bytes(lanes: int, bits: int, tiles, size, last):
    """Bytes of one packed row cut into `tiles` tiles of `size` values (the last `last`), each
    starting on a byte (program.packed_align), in runs of `lanes` values (packed_blocks)."""
    def tile_bytes(n):
        return program.packed_blocks(n, lanes, bits).sum(axis=0)
    return (tiles - 1) * tile_bytes(size) + tile_bytes(last)


def _edge(total: int, tile):
    """(tile count, the last tile's size) along one dim."""
    trips = ceil_div(total, tile)
    return trips, total - (trips - 1) * tile


def counters(arch: ArchSpec, shape: Shape, g: dict, order: str, requant: bool = REQUANT,
             dataflow: str = "ws") -> dict:
    """Every counter of one command but `cycles` (arrays over the candidates), and the traffic
    they are made of (elements: readback, spill, final; param_bytes; staged: the raw elements
    a Winograd-domain command stages, controller_timing.staged_elements)."""
    return counters_by_order(arch, shape, g, (order,), requant, dataflow)[order]


def counters_by_order(arch: ArchSpec, shape: Shape, g: dict, orders, requant: bool = REQUANT,
                      dataflow: str = "ws") -> dict:
    """{order: counters(..., order, ...)} for each of `orders`, what no order changes (the
    folds, the words the array reads, the ifmap rows and columns fetched) computed once."""
    shape = program.pass_channels(shape)    # slice passes: the channel loop once per pass
    arch = design_arch(arch, shape)
    pe = arch.pe_array
    rows, cols = pe.rows, pe.cols
    b = program.dram_element_bytes(arch, requant, shape)
    kt, ct, pt, qt = g["kt"], g["ct"], g["pt"], grid_columns(shape, g)
    (tk, k_last), (tc, c_last), (tp, p_last), (tq, q_last) = (
        _edge(shape.K, kt), _edge(shape.C, ct), _edge(shape.P, pt), _edge(shape.Q, qt))
    trips = {"n": np.int64(shape.N), "k": tk, "c": tc, "p": tp, "q": tq}
    operands = (("ifmap", "ncpq"), ("weight", "kc"), ("ofmap", "nkpq"))
    k_blocks = (tk - 1) * ceil_div(kt, cols) + ceil_div(k_last, cols)     # sum_k ceil(k/cols)
    c_blocks = (tc - 1) * ceil_div(ct, rows) + ceil_div(c_last, rows)
    pixels = shape.P * shape.Q
    # the outputs written (a Winograd-domain command's raw ones)
    outputs = shape.N * shape.K * (shape.raw_P * shape.raw_Q if shape.tap_side else pixels)
    taps = shape.R * shape.S
    # a word per pixel, channel block, tap and filter block: the ifmap words ws and os folds
    # read, the accumulator words ws and is folds write
    fold_pixels = shape.N * k_blocks * c_blocks * taps * pixels
    ifmap_words = fold_words = fold_pixels
    if dataflow == "ws":
        folds = shape.N * k_blocks * c_blocks * taps                     # per pixel tile
        busy = folds * (tp * tq * (2 * rows + cols + 1) + pixels)
        weight_words = folds * tp * tq * rows
    elif dataflow == "os":
        p_blocks = _pixel_blocks(pt, p_last, tp, qt, q_last, tq, rows)
        folds = shape.N * k_blocks * p_blocks                             # per c-tile
        busy = folds * (rows * taps * c_blocks + tc * (2 * rows + cols + 1))
        weight_words = folds * taps * shape.C
        fold_words = shape.N * k_blocks * pixels * tc
    else:
        p_blocks = _pixel_blocks(pt, p_last, tp, qt, q_last, tq, cols)
        folds = shape.N * p_blocks * c_blocks * taps                      # per k-tile
        busy = folds * (max(rows, cols) * (k_blocks - tk) + tk * (2 * rows + 3 * cols + 2))
        weight_words = shape.N * p_blocks * taps * k_blocks * shape.C
        ifmap_words = shape.N * tk * c_blocks * taps * pixels
    in_rows, in_cols = rows_fetched(shape, pt), cols_fetched(shape, qt)
    # the elements of every distinct tile, each fetched once
    distinct = {"ifmap": shape.N * shape.C * in_rows * in_cols,
                "weight": shape.K * shape.C * shape.R * shape.S}
    weight_bytes = distinct["weight"] * b["w"]         # once over, DRAM bytes
    # ... of the ifmap: a binarized command's int8 activations, its channels a pixel
    ifmap_bytes = (shape.N * shape.binarized * in_rows * in_cols if shape.binarized
                   else distinct["ifmap"] * b["i"])
    staged = 0              # a Winograd-domain command's raw windows, staged
    if shape.tap_side:
        staged = (shape.N * shape.C
                  * _summed_over_tiles(shape.P, pt, lambda p0, n: _raw_rows(shape, p0, n))
                  * _summed_over_tiles(shape.Q, qt, lambda q0, n: _raw_cols(shape, q0, n)))
        ifmap_bytes = staged * b["i"]
    if shape.weight_bits:   # packed rows of filters
        weight_bytes = shape.C * taps * _packed_bytes(cols, shape.weight_bits, tk, kt, k_last)
    if shape.region_rows:   # code regions: every block's, whatever the tiles
        weight_bytes = program.region_bytes(shape).sum()
    if shape.ifmap_pack:    # each pixel's packed channels
        ifmap_bytes = (shape.N * in_rows * in_cols
                       * _packed_bytes(rows, shape.ifmap_pack, tc, ct, c_last))
    write_bytes = outputs * b["o"]
    if program.packed_outputs(shape, requant):  # each output pixel's packed codes
        write_bytes = shape.N * pixels * _packed_bytes(cols, shape.ofmap_pack, tk, kt, k_last)
    more = {x: trips[x] > 1 for x in trips}
    # accumulator words of the outputs, once, and their sums (a Winograd-domain command's, a
    # plane per tap: what a spill writes and its readback reads)
    planes = program.acc_planes(shape)
    out_blocks = shape.N * k_blocks * pixels * planes
    sums = shape.N * shape.K * pixels * planes
    same = {                                     # the counters no order changes
        "busy_cycles": busy,
        "ifmap_reads": ifmap_words * rows,
        "weight_reads": weight_words * cols,
        "acc_writes": fold_words * cols,
        "dram_write_bytes": write_bytes,
    }
    by_order, params_by_nest = {}, {}
    for order in orders:
        nest = program.nest_order(order)
        reuse = {name: _reuse(nest, trips, loops, more) for name, loops in operands}
        ifmap_el = reuse["ifmap"] * distinct["ifmap"]
        weight_el = reuse["weight"] * distinct["weight"]
        spill = (reuse["ofmap"] - 1) * sums
        out_words = reuse["ofmap"] * out_blocks
        params = 0
        if requant:         # the same for every order with the same loops but c
            no_c = nest.replace("c", "")
            if no_c not in params_by_nest:      # each k tile's fetch: the head, its entries
                q = as_quantizer(requant)
                params_by_nest[no_c] = ((q.head_pieces * tk + q.channel_pieces * shape.K)
                                        * _reuse(no_c, trips, "k", more))
            params = params_by_nest[no_c]
            if shape.scale_bytes and not shape.binarized:   # the map, when the pixels change
                params = params + (_reuse(no_c, trips, "npq", more) * shape.N * pixels
                                   * shape.scale_bytes)
        by_order[order] = {
            "busy_cycles": same["busy_cycles"],
            "ifmap_reads": same["ifmap_reads"],
            "ifmap_writes": ifmap_el,
            "weight_reads": same["weight_reads"],
            "weight_writes": weight_el,
            # the output's first channel tile reads none of the words its folds write
            "acc_reads": (fold_words - out_blocks + out_words) * cols,
            "acc_writes": same["acc_writes"] + spill,
            "dram_read_bytes": (ifmap_bytes * reuse["ifmap"] + reuse["weight"] * weight_bytes
                                + spill * b["s"] + params),
            "dram_write_bytes": same["dram_write_bytes"] + spill * b["s"],
            "readback": spill, "spill": spill, "final": outputs, "param_bytes": params,
            "staged": staged * reuse["ifmap"],
        }
    return by_order


# Cycles -------------------------------------------------------------------------------------
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
        _edge(shape.K, kt), _edge(shape.C, ct), _edge(shape.P, pt), _edge(shape.Q, qt))
    trips = {"n": np.full_like(kt, shape.N), "k": tk, "c": tc, "p": tp, "q": tq}
    order = program.nest_order(order)
    # the ifmap rows of p-tiles 0, 1, 2 (stacked on a first axis), the last and (on average)
    # those in between
    row_reads, col_reads = _window_reads(shape)     # from DRAM (a Winograd tile's raw window)

    def p_rows(index):
        first = np.minimum(index * pt, shape.P)
        return row_reads(shape, first, _clip(shape.P - first, 0, pt))

    first_three = np.arange(3)[:, None, None]
    rows_at = p_rows(first_three)
    rows_last = row_reads(shape, (tp - 1) * pt, p_last)
    fetched = _summed_over_tiles(shape.P, pt[:, 0], lambda p0, n: row_reads(shape, p0, n))
    middle = (fetched[:, None] - rows_last
              - sum(np.where(tp >= j + 2, rows_at[j], 0) for j in range(3)))
    rows_mid = np.where(tp >= 5, middle / np.maximum(tp - 4, 1), 0)
    # ... and the ifmap columns of q-tiles alike

    def q_cols(index):
        first = np.minimum(index * qt, shape.Q)
        return col_reads(shape, first, _clip(shape.Q - first, 0, qt))

    cols_at = q_cols(first_three)
    cols_last = col_reads(shape, (tq - 1) * qt, q_last)
    fetched = _summed_over_tiles(shape.Q, qt[:, 0], lambda q0, n: col_reads(shape, q0, n))
    middle = (fetched[:, None] - cols_last
              - sum(np.where(tq >= j + 2, cols_at[j], 0) for j in range(3)))
    cols_mid = np.where(tq >= 5, middle / np.maximum(tq - 4, 1), 0)
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
