"""The mapped program: how the generated accelerator's controller runs the mapper's loop nest
under ws, os and is (docs/controller.md is the contract; this module holds what the RTL
(hw/controller/), the cycle model and the analytical model must compute alike).

A layer is one command per group. The command walks tiles of `kt` filters x `ct` channels x
`pt` output rows x `qt` output columns of every image, in the mapping's loop `order` (a
permutation of n, k, c, p, outermost first; LOOP_ORDERS lists the ones the mapper tries) with
the column loop q directly inside p (`nest_order`: the pair (p, q) walks the output's pixel
tiles row-major, so a loop order names where the pixel tiles sit). qt = Q (or None) is a
full-width tile.

DRAM is one channel of `bandwidth` bytes per cycle. A request moves a run of up to
`beat_elements(bytes, bandwidth)` contiguous elements of one buffer word and holds the
channel `beat_gap(count, bytes, bandwidth)` cycles.

Buffers: each shared level is split evenly between the operands it holds, each share into two
halves (BufferGeometry). A word of the ifmap buffer holds `rows` channels of one pixel,
of the weight buffer `cols` filters of one (r, s, c), of the accumulator `cols` sums of one
output pixel. `tile_words` counts the words a tile needs; a mapping runs only if every
operand's tile fits one half (`fits`). The buffer words are the same under every dataflow;
they differ only in a tile's folds (`tile_folds`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np

from .arch import ArchSpec

LOOP_ORDERS = tuple(o for perm in itertools.permutations("kcp")
                    for o in ("n" + "".join(perm), "".join(perm) + "n"))
# the accelerator's performance counters, as the RTL counts them and the models compute them
COUNTERS = ("cycles", "busy_cycles", "ifmap_reads", "ifmap_writes", "weight_reads",
            "weight_writes", "acc_reads", "acc_writes", "dram_read_bytes", "dram_write_bytes")
GRID_NAMES = ("kt", "ct", "pt", "qt")
# the dataflows the controller runs; a command's `dataflow` field is an index into it
CONTROLLER_DATAFLOWS = ("ws", "os", "is")
RS_NAMES = ("tc", "tk", "q", "pf")
# row stationary also tiles the batch: `nt` images per tile (Mapping.nt)
RS_GRID_NAMES = GRID_NAMES + ("nt",) + RS_NAMES
# Requantized outputs: a layer's per-channel parameters (workloads/methods/requant_ref.py) are a
# table of K entries of REQUANT_PIECES one-byte DRAM elements: multiplier bits 0-7, multiplier
# bits 8-15, shift. The accelerator reads an n-block's entries once, before its first
# write-back (hw/requant.py, hw/controller/writer.py).
REQUANT_PIECES = 3


@dataclass(frozen=True)
class Mapping:
    """Tile sizes for the shared buffers, the loop order, and (row stationary only) how the
    array's stacked PE sets and scratchpads are used. `qt` (output columns per tile) None is
    every column (qt = Q); only the controller's program tiles columns."""

    kt: int
    ct: int
    pt: int
    order: str = "nkcp"
    tc: int = 1   # rs: stacked PE sets working on different channels
    tk: int = 1   # rs: ... on different filters
    q: int = 1    # rs: channels per PE scratchpad pass
    pf: int = 1   # rs: filters per PE scratchpad pass
    qt: int | None = None   # output columns per tile; None: all Q
    nt: int = 1   # rs: images per tile; a pass runs their ifmap rows through the same filter rows

    def as_grid(self, dataflow: str) -> dict:
        """This mapping as a one-candidate grid, the form the pricing functions take (without
        "qt" when it is None: every column)."""
        names = RS_GRID_NAMES if dataflow == "rs" else GRID_NAMES
        return {name: np.array([getattr(self, name)]) for name in names
                if getattr(self, name) is not None}

    def columns(self, Q: int) -> int:
        """The output columns of one tile of an output `Q` columns wide."""
        return Q if self.qt is None else min(self.qt, Q)

    def to_dict(self) -> dict:
        tile = {"K": self.kt, "C": self.ct, "P": self.pt}
        if self.nt != 1:
            tile["N"] = self.nt
        if self.qt is not None:
            tile["Q"] = self.qt
        out = {"tile": tile, "loop_order": self.order}
        if (self.tc, self.tk, self.q, self.pf) != (1, 1, 1, 1):
            out["row_stationary"] = {"tc": self.tc, "tk": self.tk, "q": self.q, "pf": self.pf}
        return out


@dataclass(frozen=True)
class Shape:
    """One command's layer: one group's C channels and K filters, N images. `weight_bits`: the
    weights travel packed, that many bits each (a method's datapath that unpacks them on the
    load: Datapath.weight_bits; `packed_blocks`); 0: one DRAM element per weight.
    `ifmap_slices`, `weight_slices`: the operands are unsigned codes the array takes as that
    many slices each (a datapath's slice passes, Datapath.slice_bits): the command runs a
    pass per slice pair, each pass the command's channel loop again over the same DRAM
    elements (`passes`, `pass_channels`). `scale_bytes`: each final write-back scales its
    outputs by a per-pixel factor of that many bytes, which the PARAMS job reads from a map of
    N x P x Q (a datapath's scale map, Datapath.scale_map_bits: XNOR-Net's K); 0: none.
    `binarized`: the ifmap region holds int8 activations of that many channels, which the load
    packs into the C sign words of BINARY_WORD_BITS each (Datapath.binarizes; `binarize_refusal`
    says what the command then needs), and the scale map is computed on chip from their
    magnitudes (`kmap_cycles`) instead of read; 0: the region holds the operands.
    `element_bits`: the ifmap and weight DRAM elements are that many bits, narrower than the
    design's lanes (a MAC mode's int8 operands on XNOR's 64-bit words, Datapath.mac_bits);
    0: the lanes' width. `ifmap_pack`, `ofmap_pack`: the ifmap, or the requantized outputs,
    travel as codes of that many bits (unsigned, or two's complement) packed 8 // bits to a
    byte, each pixel's row of Ct (Kt) codes padded to whole bytes, code c at bit c*bits of its
    row (a datapath of activation codes, Datapath.codes; `packed_codes_refusal`; their channel
    and filter tiles start on a byte: packed_align); 0: one DRAM element per value.
    `rebuilt_bits`, `region_filters`, `region_channels`, `region_fixed`, `region_rows`: the
    weights travel as code regions, one per block of region_filters filters (the array's cols;
    k-block kb: filters kb*region_filters .. of the command's K) and group of region_channels
    channels (group g: channels g*region_channels ..), which the load rebuilds into weights of
    rebuilt_bits, the weight lanes' width (a datapath that rebuilds its weights,
    Datapath.rebuilt_bits: SmartDeal's). Region g*KB + kb (KB blocks) is region_rows[...]
    byte-rows of one byte per filter of its block, each byte-row read as one run, the first
    region_fixed of them before the rest (whose number the load learns from them); a region is
    read whole, so every tile holds whole blocks (filter_align) and one group (channel_align;
    controller_cost.grid_fits: two groups never fit a weight half, smartdeal/regions.py's
    group_channels); the tile's regions are loaded block by block, each rebuilt (one buffer
    word per cycle) before the next is read. (): plain weights.
    `tap_side`, `raw_H`, `raw_W`, `raw_P`, `raw_Q`, `raw_padding`: the command runs a layer in
    the Winograd domain (a transforming datapath, Datapath.tap_transform): H, W, R, S, P, Q,
    stride and padding describe its tap GEMMs (P x Q tiles of tap_side x tap_side outputs,
    R = S = stride = tap_side + 2 = a, H = P*a, W = Q*a, padding 0: `tap_shape`), the raw_*
    fields the layer's own (its ifmap in DRAM, its outputs written; `raw_rows`,
    `raw_outputs`); a tile holds a plane of sums per tap, spilled as a² planes; 0: a direct
    convolution."""

    N: int
    C: int
    H: int
    W: int
    K: int
    R: int
    S: int
    P: int
    Q: int
    stride: int = 1
    padding: int = 0
    weight_bits: int = 0
    ifmap_slices: int = 1
    weight_slices: int = 1
    scale_bytes: int = 0
    binarized: int = 0
    element_bits: int = 0
    ifmap_pack: int = 0
    ofmap_pack: int = 0
    rebuilt_bits: int = 0
    region_filters: int = 0
    region_channels: int = 0
    region_fixed: int = 0
    region_rows: tuple = ()
    tap_side: int = 0
    raw_H: int = 0
    raw_W: int = 0
    raw_P: int = 0
    raw_Q: int = 0
    raw_padding: int = 0

    @property
    def passes(self) -> int:
        """Slice pairs the command runs (1 without slice passes)."""
        return self.ifmap_slices * self.weight_slices


BINARY_WORD_BITS = 64     # signs per operand word of a binarizing datapath (XNOR's)


def binarizer_beat_refusal(bandwidth: float) -> str | None:
    """Why a DRAM of `bandwidth` bytes per cycle cannot feed a binarizing load (None if it
    can): a request of int8 activations fills a part of one word, so the DRAM moves a power
    of two of them per cycle, at most BINARY_WORD_BITS."""
    beat = beat_elements(1, bandwidth)
    if beat > BINARY_WORD_BITS or beat & (beat - 1):
        return (f"the binarizer packs whole requests of int8 activations into its words: a "
                f"DRAM of {bandwidth:g} bytes per cycle moves {beat}, not a power of two up "
                f"to {BINARY_WORD_BITS}")
    return None


def binarize_refusal(shape: Shape, ct: int, bandwidth: float) -> str | None:
    """Why a command of `shape` cannot binarize its int8 activations on the load (None if it
    can): the words hold the channels, C = ceil(binarized / BINARY_WORD_BITS); the magnitudes
    of a pixel's channels are summed in one tile, so its channel tile holds all C words; and
    the DRAM feeds the binarizer (binarizer_beat_refusal)."""
    if shape.C != ceil_div(shape.binarized, BINARY_WORD_BITS):
        return (f"{shape.binarized} binarized channels make "
                f"{ceil_div(shape.binarized, BINARY_WORD_BITS)} words, not C={shape.C}")
    if ct < shape.C:
        return (f"the binarizer sums a pixel's magnitudes in one tile: ct={ct} of the "
                f"{shape.C} words")
    return binarizer_beat_refusal(bandwidth)


def kmap_cycles(shape: Shape, rows: int, p_size, q_size, c_size):
    """Cycles of the on-chip scale map of a binarized command's output tile (Shape.binarized):
    per output pixel a cycle per tap and channel block (its magnitudes' sum) and one to store
    its scale."""
    return p_size * q_size * (shape.R * shape.S * ceil_div(c_size, rows) + 1)


def tap_shape(N: int, C: int, K: int, H: int, W: int, padding: int, side: int) -> Shape:
    """The Winograd-domain Shape (Shape.tap_side) of a 3x3 stride-1 layer of N images,
    C -> K channels, H x W inputs padded by `padding`, in output tiles of side x side."""
    P, Q = H + 2 * padding - 2, W + 2 * padding - 2
    a, tp, tq = side + 2, ceil_div(P, side), ceil_div(Q, side)
    return Shape(N=N, C=C, H=tp * a, W=tq * a, K=K, R=a, S=a, P=tp, Q=tq, stride=a, padding=0,
                 tap_side=side, raw_H=H, raw_W=W, raw_P=P, raw_Q=Q, raw_padding=padding)


def raw_rows(shape: Shape, p0, p_size, size: int):
    """The raw rows [lo, hi) (or columns, with q0, q_size and `size` = raw_W) a Winograd-domain
    tile of tile rows p0 .. p0 + p_size - 1 stages (Shape.tap_side; hw/controller/tiles.
    raw_window): its patches' rows clipped to the raw image of `size` rows."""
    first = np.asarray(p0) * shape.tap_side - shape.raw_padding
    lo = np.clip(first, 0, size)
    hi = np.clip(first + np.asarray(p_size) * shape.tap_side + 2, 0, size)
    return lo, np.maximum(hi, lo)


def raw_outputs(shape: Shape, p0, p_size, size: int):
    """The raw output rows (or columns, with `size` = raw_Q) a Winograd-domain tile of tile
    rows p0 .. p0 + p_size - 1 writes: its tiles' rows inside the raw P (Q)."""
    first = np.asarray(p0) * shape.tap_side
    return np.clip(size - first, 0, np.asarray(p_size) * shape.tap_side)


# cycles the Winograd patch and tile stages (hw/methods/winograd/patch_stage.py, tile_stage.py)
# take beyond their a² a patch or tile pixel: the words' arrival, the whole register, the
# transform's three pipeline registers
TAP_STAGE_PIPELINE = 5


def patch_cycles(shape: Shape, rows: int, c_size, pixels):
    """Cycles of a Winograd-domain LOAD's patch stage (Shape.tap_side), from its start to
    its last V word: a patch per channel block and tile pixel, a² cycles each, plus a² and
    the pipeline."""
    taps = shape.R * shape.S
    return ceil_div(np.asarray(c_size), rows) * np.asarray(pixels) * taps + taps \
        + TAP_STAGE_PIPELINE


def in_size(shape: Shape) -> tuple[int, int]:
    """(rows, columns) of a command's ifmap in DRAM: a Winograd-domain one's raw layer's."""
    return (shape.raw_H, shape.raw_W) if shape.tap_side else (shape.H, shape.W)


def out_size(shape: Shape) -> tuple[int, int]:
    """(rows, columns) of a command's outputs in DRAM: a Winograd-domain one's raw layer's."""
    return (shape.raw_P, shape.raw_Q) if shape.tap_side else (shape.P, shape.Q)


def acc_planes(shape: Shape) -> int:
    """Accumulator words per output word of a command: a Winograd-domain one's a plane per tap
    (R x S, Shape.tap_side), else 1."""
    return shape.R * shape.S if shape.tap_side else 1


def pass_channels(shape: Shape) -> Shape:
    """The shape the models time: a command of slice passes runs its channel tiles once per
    pass, each pass loading its tiles again, so it is the command over passes x C channels
    (exact while every channel tile lies in one pass: the channel tile divides C, `fits`)."""
    if shape.passes == 1:
        return shape
    return replace(shape, C=shape.C * shape.passes, ifmap_slices=1, weight_slices=1)


def packed_align(bits: int) -> int:
    """Filters whose `bits`-bit weights fill whole bytes: a packed tile's filter count (all
    but the last k tile) is a multiple of it, so every k tile starts on a byte."""
    return 8 // math.gcd(8, bits)


def packed_row_bytes(K: int, bits: int) -> int:
    """Bytes of one (r, s, c) row of K packed filters in DRAM, padded to a whole byte."""
    return ceil_div(K * bits, 8)


def packed_span(lanes: int, bits: int) -> int:
    """The most bytes a block's run of `lanes` packed `bits`-bit values spans, its tile
    starting on a byte (packed_align): the blocks start at multiples of gcd(lanes*bits, 8)
    bits into their first byte."""
    return ceil_div(8 - math.gcd(lanes * bits, 8) + lanes * bits, 8)


def packed_run_refusal(arch: ArchSpec, bits: int) -> str | None:
    """Why `arch`'s controller cannot read `bits`-bit packed weights (None if it can): they
    unpack into one-byte weight lanes (2 to 8 bits: a level of ±1 at least), and a filter
    block's run, up to packed_span(cols, bits) bytes, spans several DRAM requests of the
    weight beat (one-byte elements, at most cols) only with values that never straddle a
    byte (bits dividing 8)."""
    pe = arch.pe_array
    if not 2 <= pe.weight_bits <= 8:
        return (f"packed weights unpack into the array's weight lanes, one byte each, and of "
                f"at least 2 bits, not {pe.weight_bits}-bit lanes")
    return _straddle_refusal(arch, pe.cols, bits, "weights")


def _straddle_refusal(arch: ArchSpec, lanes: int, bits: int, what: str) -> str | None:
    """Why a block's run of `lanes` packed `bits`-bit values cannot be read (None if it can):
    one spanning several DRAM requests (one-byte elements, at most `lanes` a request) is
    unpacked a request at a time, so no value may straddle two (bits dividing 8)."""
    most = packed_span(lanes, bits)
    beat = min(beat_elements(1, arch.dram.bandwidth_bytes_per_cycle), lanes)
    if most <= beat or 8 % bits == 0:
        return None
    return (f"a run of {lanes} packed {bits}-bit {what} spans up to {most} bytes, more than "
            f"the {beat} a DRAM request carries, and its values would straddle requests")


def packed_codes_refusal(arch: ArchSpec, bits: int) -> str | None:
    """Why `arch`'s controller cannot move activation codes of `bits` bits packed in DRAM
    (Shape.ifmap_pack, ofmap_pack; None if it can): a word's run of `rows` codes, up to
    packed_span(rows, bits) bytes, is read as packed weights are (_straddle_refusal), and a
    write request's codes (the output beat, one requantizer each) and a filter block's
    (`cols`) must fill whole bytes."""
    pe = arch.pe_array
    if why := _straddle_refusal(arch, pe.rows, bits, "activation codes"):
        return why
    bw = arch.dram.bandwidth_bytes_per_cycle
    per_write = min(beat_elements(element_bytes(pe.ofmap_bits), bw), pe.cols)
    for what, codes in (("a write request's", per_write), ("a filter block's", pe.cols)):
        if codes * bits % 8:
            return (f"{what} {codes} activation codes of {bits} bits do not fill whole bytes; "
                    f"the outputs cannot be packed")
    return None


def filter_align(shape: Shape) -> int:
    """What every k tile but the last holds a multiple of filters of: with packed weights or
    packed outputs a byte's worth (packed_align), so each tile starts on a byte; with code
    regions (Shape.region_rows) a region's filters; else 1."""
    return math.lcm(*(packed_align(bits) for bits in (shape.weight_bits, shape.ofmap_pack)
                      if bits), shape.region_filters or 1)


def channel_align(shape: Shape) -> int:
    """What every c tile but the last holds a multiple of channels of: with a packed ifmap a
    byte's worth; with code regions a region's channels; else 1."""
    return math.lcm(packed_align(shape.ifmap_pack) if shape.ifmap_pack else 1,
                    shape.region_channels or 1)


def fewest_filters(shape: Shape) -> int:
    """The smallest tile's filters: one, or with packed weights or packed outputs a byte's
    worth (or all K)."""
    return min(shape.K, filter_align(shape))


def fewest_channels(shape: Shape) -> int:
    """The smallest tile's channels: one, all C words of a binarized command (a pixel's
    magnitudes are summed in one tile: binarize_refusal), or with a packed ifmap a byte's
    worth, with code regions a region's channels (or all C)."""
    if shape.binarized:
        return shape.C
    return min(shape.C, channel_align(shape))


def region_channel_tile(shape: Shape) -> int:
    """The channels every c tile of a command with code regions (Shape.region_rows) holds: one
    group's (all C when one group holds them)."""
    return min(shape.C, shape.region_channels)


def region_grid(shape: Shape) -> tuple[int, int]:
    """(groups of channels, blocks of filters) of a command's code regions (Shape.region_rows:
    region g*blocks + kb)."""
    return ceil_div(shape.C, shape.region_channels), ceil_div(shape.K, shape.region_filters)


def region_blocks(shape: Shape) -> tuple[np.ndarray, np.ndarray]:
    """(filters, code byte-rows) of each code region (Shape.region_rows): its byte-rows past the
    fixed ones, each a run of one byte per filter."""
    blocks = np.arange(len(shape.region_rows)) % region_grid(shape)[1]
    filters = np.minimum(shape.region_filters, shape.K - blocks * shape.region_filters)
    return filters, np.asarray(shape.region_rows, np.int64) - shape.region_fixed


def region_bytes(shape: Shape) -> np.ndarray:
    """DRAM bytes of each code region (Shape.region_rows)."""
    return region_blocks(shape)[0] * np.asarray(shape.region_rows, np.int64)


def region_runs(shape: Shape, bandwidth: float) -> tuple:
    """Per code region (Shape.region_rows): the channel cycles of its fixed byte-rows, of its
    code byte-rows, and the last request's gap of a byte-row's run."""
    filters, code_rows = region_blocks(shape)
    run = run_cycles(filters, 1, bandwidth)
    return shape.region_fixed * run, code_rows * run, last_gap(filters, 1, bandwidth)


def packed_blocks(k_size, cols: int, bits: int) -> np.ndarray:
    """Bytes of each block's run of a packed row, [block, tile], for tiles of `k_size` values
    starting on a byte, in blocks of `cols` (a weight row's filter blocks; a pixel's channel
    blocks of `rows`, or its output codes): block b holds values b*cols .. of the tile and
    starts at bit (b*cols*bits) mod 8 of its first byte (0 past the tile's blocks)."""
    k_size = np.asarray(k_size, dtype=np.int64)
    blocks = int(ceil_div(k_size.max(initial=0), cols))
    b = np.arange(blocks, dtype=np.int64).reshape(-1, *([1] * k_size.ndim))
    n = np.clip(k_size - b * cols, 0, cols)
    offset = (b * cols * bits) % 8
    return np.where(n > 0, (offset + n * bits + 7) // 8, 0)


def ceil_div(a, b):
    return -(-a // b)


def element_bytes(bits: int) -> int:
    return (bits + 7) // 8


@dataclass(frozen=True)
class BufferGeometry:
    """Depth (words) of one half of each double-buffered on-chip buffer."""

    ifmap_half: int
    weight_half: int
    acc_half: int

    @staticmethod
    def of(arch: ArchSpec) -> BufferGeometry:
        pe = arch.pe_array
        word_bits = {"ifmap": pe.rows * pe.ifmap_bits, "weight": pe.cols * pe.weight_bits,
                     "ofmap": pe.cols * pe.psum_bits}
        halves = {}
        for operand, bits in word_bits.items():
            halves[operand] = operand_share_bits(arch, operand) // bits // 2
        return BufferGeometry(halves["ifmap"], halves["weight"], halves["ofmap"])


def operand_share_bits(arch: ArchSpec, operand: str) -> int:
    """Bits of the on-chip level holding `operand` that are its own: the level split evenly
    between the operands it holds."""
    level = arch.shared_level(operand)
    return level.size_bytes * 8 // len(level.operands)


def requant_refusal(arch: ArchSpec, elements: str = "byte") -> str | None:
    """Why the RTL cannot requantize its outputs on `arch` (None if it can): the per-channel
    parameters are stored as REQUANT_PIECES one-byte DRAM elements, so the DRAM elements must
    be 8 bits wide (`elements` "byte"; "codes": at most 8, each a byte, as the controller of a
    datapath with activation codes reads every region at its own element width, the table in
    bytes; "any": operands of any width, in regions of their own, Datapath.operand_bits), and
    an output must fit the write port's psum_bits."""
    pe = arch.pe_array
    element = max(pe.ifmap_bits, pe.weight_bits)
    wrong = {"byte": element != 8, "codes": element > 8, "any": False}[elements]
    if wrong:
        return (f"requantized outputs need {'at most ' if elements == 'codes' else ''}8-bit DRAM "
                f"elements (their parameters are read as bytes); arch {arch.name!r} has "
                f"{element}-bit elements")
    if pe.ofmap_bits > pe.psum_bits:
        return (f"requantized outputs of {pe.ofmap_bits} bits do not fit the {pe.psum_bits}-bit "
                f"accumulators of arch {arch.name!r}")
    return None


def dram_element_bytes(arch: ArchSpec, requant, shape: Shape) -> dict:
    """DRAM bytes of a command's ifmap ("i"), weight ("w"), partial-sum ("s") and output ("o":
    a requantized one with `requant`, else a sum) elements on `arch` (the ifmap's and the
    weights' Shape.element_bits where given), as the models count them."""
    pe = arch.pe_array
    b_s = element_bytes(pe.psum_bits)
    i, w = ((element_bytes(shape.element_bits),) * 2 if shape.element_bits else
            (element_bytes(pe.ifmap_bits), element_bytes(pe.weight_bits)))
    return {"i": i, "w": w, "s": b_s, "o": element_bytes(pe.ofmap_bits) if requant else b_s}


def beat_elements(element_bytes: int, bandwidth: float) -> int:
    """Elements one DRAM request may carry: as many as the channel moves in one cycle, at
    least one."""
    return max(1, int(bandwidth // element_bytes))


def packed_run_cycles(k_size, cols: int, bits: int, bandwidth: float):
    """(channel cycles, last request's gap) of one packed row of a tile of `k_size` values
    (arrays): a run of packed_blocks bytes per block of `cols`, back to back."""
    runs = packed_blocks(k_size, cols, bits)
    cycles = np.where(runs > 0, run_cycles(runs, 1, bandwidth), 0).sum(axis=0)
    last = np.take_along_axis(runs, np.maximum(ceil_div(np.asarray(k_size), cols) - 1,
                                               0)[None], 0)[0]
    return cycles, last_gap(np.maximum(last, 1), 1, bandwidth)


def packed_write_run(codes, beat: int, bits: int, bandwidth: float):
    """(channel cycles, last request's gap) of writing a run of `codes` packed `bits`-bit
    codes (arrays) in requests of `beat` codes each (the output beat: one requantizer per
    code), each request their whole bytes."""
    codes = np.asarray(codes)
    full, rest = codes // beat, codes % beat
    full_gap = beat_gap(ceil_div(beat * bits, 8), 1, bandwidth)
    rest_gap = beat_gap(ceil_div(rest * bits, 8), 1, bandwidth)
    cycles = full * full_gap + np.where(rest > 0, rest_gap, 0)
    return cycles, np.where(rest > 0, rest_gap, full_gap)


def packed_outputs(shape: Shape, requant) -> int:
    """The code bits a command of `shape` writes its outputs packed at (Shape.ofmap_pack): its
    requantized ones only (0: one DRAM element per output; the sums of a command without
    requantization are written as they are)."""
    return shape.ofmap_pack if requant else 0


def write_run_costs(element_bytes: int, bandwidth: float, cols: int, pack: int = 0):
    """How a write-back word's run of n values holds the channel: a function of n (arrays) to
    (channel cycles, last request's gap): elements of `element_bytes` in requests of
    beat_elements, or with `pack` codes of that many bits in requests of the output beat
    (beat_elements of `element_bytes`, at most `cols` codes: one requantizer each;
    packed_write_run)."""
    if pack:
        beat = min(beat_elements(element_bytes, bandwidth), cols)
        return lambda n: packed_write_run(n, beat, pack, bandwidth)
    return lambda n: (run_cycles(n, element_bytes, bandwidth),
                      last_gap(n, element_bytes, bandwidth))


def beat_gap(count, element_bytes: int, bandwidth: float):
    """Cycles a request of `count` elements holds the channel (at least one)."""
    return np.maximum(1, np.ceil(np.asarray(count) * element_bytes / bandwidth)).astype(np.int64)


def requests_per_run(run, element_bytes: int, bandwidth: float):
    """Requests a run of `run` contiguous elements is cut into."""
    return ceil_div(np.asarray(run), beat_elements(element_bytes, bandwidth))


def last_gap(run, element_bytes: int, bandwidth: float):
    """Cycles the last request of a run of `run` elements holds the channel."""
    per_beat = beat_elements(element_bytes, bandwidth)
    rest = np.asarray(run) % per_beat
    return beat_gap(np.where(rest > 0, rest, per_beat), element_bytes, bandwidth)


def run_cycles(run, element_bytes: int, bandwidth: float):
    """Cycles the channel is held by one run of `run` elements: full beats, then the rest."""
    run = np.asarray(run)
    per_beat = beat_elements(element_bytes, bandwidth)
    full, rest = run // per_beat, run % per_beat
    return (full * beat_gap(per_beat, element_bytes, bandwidth)
            + np.where(rest > 0, beat_gap(rest, element_bytes, bandwidth), 0))


def max_in_rows(H: int, R_extent: int, stride: int, pt):
    """Most ifmap rows one tile of `pt` output rows reads (its words per channel block and
    column): the window of its first row to that of its last, inside the image."""
    return np.minimum(H, (np.asarray(pt) - 1) * stride + R_extent)


def nest_order(order: str) -> str:
    """The tile loop nest of a loop order: the column loop q directly inside p."""
    return order.replace("p", "pq")


def cols_read(W: int, S_extent: int, stride: int, padding: int, Q: int, q0, q_size):
    """The ifmap columns [lo, hi) a tile of output columns q0 .. q0 + q_size - 1 holds: from
    the first column's window to the last's, inside the image; the last column tile (and so a
    full-width tile) reaches the image's right edge W, every column of the row, as the rows of
    a full-width tile always did."""
    q0, q_size = np.asarray(q0), np.asarray(q_size)
    # np.minimum/np.maximum: np.clip of integers, without its overhead
    lo = np.minimum(np.maximum(q0 * stride - padding, 0), W)
    hi = np.where(q0 + q_size >= Q, W,
                  np.minimum(np.maximum((q0 + q_size - 1) * stride - padding + S_extent, 0), W))
    return lo, np.maximum(hi, lo)


def max_in_cols(W: int, S_extent: int, stride: int, padding: int, Q: int, qt):
    """Most ifmap columns one tile of `qt` output columns holds (cols_read): W for a
    full-width tile; else the larger of an inner tile's window span (clipped to W) and the
    last tile's columns to the right edge."""
    qt = np.minimum(np.asarray(qt), Q)
    last0 = (ceil_div(Q, qt) - 1) * qt
    lo, hi = cols_read(W, S_extent, stride, padding, Q, last0, Q - last0)
    inner = np.minimum(W, (qt - 1) * stride + S_extent)
    return np.where(qt >= Q, W, np.maximum(inner, hi - lo))


def tile_words(rows: int, cols: int, *, W: int, H: int, R: int, S: int, Q: int, stride: int,
               kt, ct, pt, qt=None, padding: int = 0, planes: int = 1) -> dict:
    """Buffer words of one tile per operand (arrays broadcast over kt, ct, pt, qt; qt None is
    every column); `planes` accumulator words per output word (a Winograd-domain command's
    a², a plane per tap: Shape.tap_side, `acc_planes`)."""
    kt, ct, pt = (np.asarray(x) for x in (kt, ct, pt))
    qt = np.minimum(Q if qt is None else np.asarray(qt), Q)
    in_cols = max_in_cols(W, S, stride, padding, Q, qt)
    return {"ifmap": ceil_div(ct, rows) * max_in_rows(H, R, stride, pt) * in_cols,
            "weight": ceil_div(kt, cols) * R * S * ct,
            "ofmap": ceil_div(kt, cols) * pt * qt * planes}


def fits(arch: ArchSpec, *, W: int, H: int, R: int, S: int, Q: int, stride: int, kt, ct, pt,
         qt=None, padding: int = 0, planes: int = 1):
    """True where the tile's words fit one half of each operand's buffer share."""
    pe = arch.pe_array
    words = tile_words(pe.rows, pe.cols, W=W, H=H, R=R, S=S, Q=Q, stride=stride, kt=kt, ct=ct,
                       pt=pt, qt=qt, padding=padding, planes=planes)
    geo = BufferGeometry.of(arch)
    return ((words["ifmap"] <= geo.ifmap_half) & (words["weight"] <= geo.weight_half)
            & (words["ofmap"] <= geo.acc_half))


def folds(rows: int, cols: int, R: int, S: int, k_size, c_size):
    """Array folds of one ws tile: one per filter block, channel block and kernel tap."""
    return ceil_div(np.asarray(k_size), cols) * ceil_div(np.asarray(c_size), rows) * R * S


def ws_fold_length(rows: int, cols: int, pixels) -> np.ndarray:
    """Cycles of one ws fold streaming `pixels` output pixels: preload `rows` weight words,
    stream, drain through the de-skew and the accumulator (accelerator_plan.fold_length's ws)."""
    return 2 * rows + cols + np.asarray(pixels) + 1


def os_folds(rows: int, cols: int, q_size, k_size, p_size):
    """Array folds of one os tile (p_size x q_size output pixels): one per filter block and
    block of `rows` output pixels."""
    return (ceil_div(np.asarray(k_size), cols)
            * ceil_div(np.asarray(p_size) * np.asarray(q_size), rows))


def os_fold_length(rows: int, cols: int, R: int, S: int, c_size) -> np.ndarray:
    """Cycles of one os fold: R*S*ceil(c_size/rows) blocks of `rows` reduction steps (the
    transposer's pace: one pixel word per cycle), two cycles to the first PE, the wavefront's
    crossing, `rows` drain cycles and the accumulator's write."""
    return rows * (R * S * ceil_div(np.asarray(c_size), rows) + 2) + cols + 1


def is_folds(rows: int, cols: int, R: int, S: int, q_size, c_size, p_size):
    """Array folds of one is tile (p_size x q_size output pixels): one per block of `cols`
    output pixels, channel block and kernel tap."""
    return (ceil_div(np.asarray(p_size) * np.asarray(q_size), cols)
            * ceil_div(np.asarray(c_size), rows) * R * S)


def is_fold_length(rows: int, cols: int, k_size) -> np.ndarray:
    """Cycles of one is fold: read `cols` pixel words, preload `rows` channel rows, stream
    ceil(k_size/cols) filter blocks of max(rows, cols) steps (the last one `cols`), the
    wavefront's crossing, and `cols` collected words into the accumulator."""
    return ((ceil_div(np.asarray(k_size), cols) - 1) * max(rows, cols) + 2 * rows + 3 * cols
            + 2)


def tile_folds(dataflow: str, rows: int, cols: int, R: int, S: int, q_size, k_size, c_size,
               p_size) -> tuple:
    """(folds, cycles of one fold) of tiles of these sizes (arrays broadcast; q_size the
    tile's output columns) under `dataflow`, one of CONTROLLER_DATAFLOWS."""
    if dataflow == "ws":
        return (folds(rows, cols, R, S, k_size, c_size),
                ws_fold_length(rows, cols, np.asarray(p_size) * np.asarray(q_size)))
    if dataflow == "os":
        return (os_folds(rows, cols, q_size, k_size, p_size),
                os_fold_length(rows, cols, R, S, c_size))
    if dataflow == "is":
        return (is_folds(rows, cols, R, S, q_size, c_size, p_size),
                is_fold_length(rows, cols, k_size))
    raise ValueError(f"the controller runs dataflows {', '.join(CONTROLLER_DATAFLOWS)}, not "
                     f"{dataflow!r}")


def loop_trips(N: int, Kg: int, Cg: int, P: int, kt, ct, pt, Q: int = 1, qt=None) -> dict:
    """Trips of the tile loops n, k, c, p, q (qt None: one column tile)."""
    return {"n": N, "k": ceil_div(Kg, kt), "c": ceil_div(Cg, ct), "p": ceil_div(P, pt),
            "q": 1 if qt is None else ceil_div(Q, np.minimum(qt, Q))}


def tile_count(trips: dict) -> int:
    return math.prod(int(v) for v in trips.values())
