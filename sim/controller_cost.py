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

Cycles: sim/controller_cycles.py (the estimate from these tiles)."""

from __future__ import annotations

import numpy as np

from dlaforge import program
from dlaforge.arch import ArchSpec
from dlaforge.program import BufferGeometry, Shape, ceil_div
from dlaforge.workloads.hwop import HwOp

from dlaforge.workloads.methods.datapath import (BASELINE, controller_datapath, design_arch,
                                                 family_datapaths)
from dlaforge.workloads.quantizers import as_quantizer

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


def clip_int(x, lo, hi):
    """np.clip of integers, without its overhead (the closed forms run on small arrays)."""
    return np.minimum(np.maximum(x, lo), hi)


def _rows_read(shape: Shape, p0, p_size):
    lo = clip_int(p0 * shape.stride - shape.padding, 0, shape.H)
    hi = clip_int((p0 + p_size - 1) * shape.stride - shape.padding + shape.R, 0, shape.H)
    return hi - lo


def summed_over_tiles(extent: int, tile, read) -> np.ndarray:
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
    return summed_over_tiles(shape.P, pt, lambda p0, size: _rows_read(shape, p0, size))


def _cols_read(shape: Shape, q0, q_size):
    lo, hi = program.cols_read(shape.W, shape.S, shape.stride, shape.padding, shape.Q, q0,
                               q_size)
    return hi - lo


def cols_fetched(shape: Shape, qt) -> np.ndarray:
    """Ifmap columns all q-tiles of width `qt` hold together (per channel and row)."""
    return summed_over_tiles(shape.Q, qt, lambda q0, size: _cols_read(shape, q0, size))


def _raw_rows(shape: Shape, p0, p_size):
    lo, hi = program.raw_rows(shape, p0, p_size, shape.raw_H)
    return hi - lo


def _raw_cols(shape: Shape, q0, q_size):
    lo, hi = program.raw_rows(shape, q0, q_size, shape.raw_W)
    return hi - lo


def window_reads(shape: Shape):
    """(rows read, columns read) by a tile from DRAM, functions of its first index and size:
    a Winograd-domain command's raw windows (Shape.tap_side), else its ifmap window's."""
    return (_raw_rows, _raw_cols) if shape.tap_side else (_rows_read, _cols_read)


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


def tile_edge(total: int, tile):
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
        tile_edge(shape.K, kt), tile_edge(shape.C, ct), tile_edge(shape.P, pt),
        tile_edge(shape.Q, qt))
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
                  * summed_over_tiles(shape.P, pt, lambda p0, n: _raw_rows(shape, p0, n))
                  * summed_over_tiles(shape.Q, qt, lambda q0, n: _raw_cols(shape, q0, n)))
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
