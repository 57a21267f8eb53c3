"""The fold engines with on-chip im2col: run one tile's F folds back to back (docs/controller.md,
"The ws program, cycle by cycle", "The os program ..." and "The is program ...").

`FoldEngine` holds the systolic array (its PEs built for the design's dataflows, one multiplier
and adder serving all) and one sequencer per dataflow, `WsFold`, `OsFold`, `IsFold`; the command's
`dataflow` field picks the one that drives the array and the buffer ports. The sequencers share
the buffer-side ports (`fold_ports`), drive the array's `mode`, `west`, `north` and see its
`south` (`array_ports`), and add the array's sums into the accumulator alike (`accumulate`).
A datapath of dual PEs (Datapath.dual_pe, hw/pe.with_mac_mode) sets the array's `mac` input
from the command's `mode` field for the whole command. A transforming command (Winograd's,
ControllerParams.transforming) adds each tap's sums into its own plane (`Sequencer.out_block`):
below, read "block" for the filter block kb of its accumulator words.
Buffer reads are synchronous (data one cycle after the address). `start` begins the tile (its
first cycle is fold 0's first); `done` is high in the last cycle of the last fold; `busy` in
every cycle of every fold. R = rows, Cc = cols.

ws: F = ceil(k_size/Cc) * ceil(c_size/R) * R_k * S folds in the order kb, cb, r, s (s
innermost), each L = 2R + Cc + T + 1 cycles with T = p_size*q_size the tile's output pixels
(program.ws_fold_length). Fold cycle k counts from 0 at the fold's start:
  k in [0, R)      read weight word ((kb*R_k + r)*S + s)*c_size + cb*R + j, j = R-1-k (a row
                   j past the tile's channels loads zeros);
  k in [1, R]      LOAD: the words shift down until PE row j holds channel cb*R + j;
  k in [R, R+T)    pixel (p, q) = divmod(k - R, q_size) (from the tile's first row and column)
                   reads ifmap word (cb*in_rows + h - lo)*in_cols + w - wlo, h = (p0 + p)*stride
                   + r - padding, w = (q0 + q)*stride + s - padding; where (h, w) is outside
                   the image (padding, or a window hanging past the bottom or right edge) the
                   skew gets zeros (a design generated for an asymmetric quantizer,
                   ControllerParams.pads: the command's `pad`, the input zero point, in the
                   tile's channel lanes, the rest zeros); with a datapath whose zero weight does not idle its PE
                   (Datapath.zero_weight_idle False: an adder), lanes past the tile's channels
                   get zeros too (a MAC ignores their stale values under zero weight rows);
  k in [R+1, 2R+Cc+T-1)  WS: partial sums flow south;
  k in [2R+Cc, 2R+Cc+T)  the de-skewed sums of pixel t = k - 2R - Cc reach the accumulator:
                   word kb*T + t is read at k and written with the sum added at k+1 (the fold's
                   last cycle for the last pixel); the first fold of an output (c0 = 0 and
                   cb = r = s = 0, in the first slice pass) reads nothing and writes the sums alone.

os: F = ceil(k_size/Cc) * ceil(T/R) folds in the order kb, pb (pixel blocks of R pixels
pb*R + i, valid below T), each L = Z + 2R + Cc + 1 cycles, Z = R_k*S*ceil(c_size/R)*R
reduction steps (program.os_fold_length). Fold cycle x counts from 0:
  x in [0, Z)      block b = (r, s, cb) (cb innermost), lane i = x mod R: a valid pixel reads
                   its ifmap word (as ws's address); the word loads transposer row i at x + 1
                   (zeros for an invalid pixel, a window position outside the image (there
                   `pad` with ControllerParams.pads, as ws's), channels past c_size); the transposer (transposer.py) puts step z = b*R + j (channel
                   cb*R + j) on west lane i at z + i + 2;
  x in [1, Z+1)    step z = x - 1 reads weight word ((kb*R_k + r)*S + s)*c_size + cb*R + j
                   (none past c_size: zeros), into the north skew: column j at z + j + 2;
  x in [2, Z+R+Cc)  OS: every PE sums its pixel and filter;
  x in [Z+R+Cc, Z+2R+Cc)  DRAIN: row i = Z + 2R + Cc - 1 - x leaves the south edge; a valid
                   pixel's sums go into accumulator word kb*T + pb*R + i (read at x unless
                   the output's first channel tile, c_first, written at x + 1).

is: F = ceil(T/Cc) * ceil(c_size/R) * R_k * S folds in the order pb, cb, r, s (pixel blocks of
Cc pixels), each L = (KB - 1)*Bp + 2R + 3Cc + 2 cycles, KB = ceil(k_size/Cc), Bp = max(R, Cc)
(program.is_fold_length); x0 = R + Cc + 1. Fold cycle x counts from 0:
  x in [0, Cc)     lane j: a valid pixel reads its ifmap word (as ws's address), into preload
                   row j at x + 1 (reversed: channel R-1 first; zeros as os's);
  x in [Cc+1, x0)  LOAD: the preload rows shift out one channel of every pixel a cycle;
  x = x0 - 2 + kb*Bp + i (i < R, kb < KB): weight word ((kb*R_k + r)*S + s)*c_size + cb*R + i
                   (none past c_size: zeros) into west transposer row i next cycle: step
                   z = kb*Bp + f (filter kb*Cc + f) on west lane i at x0 + z + i;
  x >= x0          WS; the south edge's sums shift into the collector, row j per pixel;
  x = x0 + kb*Bp + R + Cc + j (j < Cc): collector row j, pixel pb*Cc + j's filters of block
                   kb, is added into accumulator word kb*T + pb*Cc + j (read at x unless the
                   output's first fold, c_first and cb = r = s = 0; written at x + 1).
The output's first channel tile (the tile's `c_first`) is c0 = 0, in the first slice pass of a
command of slice passes (tiles.py); a pass's sums are added shifted (`accumulate`).
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.program import CONTROLLER_DATAFLOWS

from ..array import Skew, SystolicArray
from ..fold import buffer_ports
from ..pe import MacPE, Mode
from .layouts import ControllerParams
from .nest import step_nest
from .tiles import tile_layout
from .transposer import Collector, Transposer


def fold_ports(geo: ControllerParams) -> dict:
    """The ports of a fold engine on the buffers' side."""
    return {"cmd": In(geo.command_layout()), "tile": In(tile_layout(geo.params.dim_bits)),
            "start": In(1), "done": Out(1), "busy": Out(1), **buffer_ports(geo)}


def array_ports(geo: ControllerParams) -> dict:
    """The ports of a sequencer on the array's side (hw/array.py's, flipped)."""
    a_bits, b_bits = geo.lane_bits
    return {"mode": Out(Mode), "west": Out(data.ArrayLayout(signed(a_bits), geo.rows)),
            "north": Out(data.ArrayLayout(signed(b_bits), geo.cols)),
            "south": In(data.ArrayLayout(signed(geo.psum_bits), geo.cols))}


def lane_value(geo: ControllerParams, element):
    """What an operand lane carries for buffer element `element`: the element, with its valid
    bit (1) above it on a datapath of valid lanes (Datapath.valid_lanes; a lane fed zeros has
    valid 0)."""
    return Cat(element, Const(1, 1)) if geo.datapath.valid_lanes else element


def feed(m: Module, geo: ControllerParams, lanes, word) -> None:
    """Drive every operand lane of `lanes` with its buffer element of `word` (lane_value)."""
    for j in range(len(lanes)):
        m.d.comb += lanes[j].eq(lane_value(geo, word[j]))


def accumulate(m: Module, fold, valid, kb, pixel, T, vec, first) -> None:
    """Add `vec` (the array's sums, in a cycle where `valid`) into the accumulator word of
    block kb (a filter block, or a tap's plane of one: Sequencer.out_block) and tile pixel
    `pixel` (T pixels), kb*T + pixel of the tile's half: read
    it this cycle unless `first` (the output's first sums: written alone), write the sum the
    next cycle. A slice pass's sums are shifted left by slice_bits x (a_slice + w_slice), the
    weight of its slice products (Datapath.slice_bits)."""
    word = Signal.like(fold.acc_raddr)
    m.d.comb += word.eq(fold.tile.half_a * fold.geo.buffers.acc_half + kb * T + pixel)
    m.d.comb += [fold.acc_raddr.eq(word), fold.acc_ren.eq(valid & ~first)]
    word_d, vec_d = Signal.like(word), Signal.like(fold.acc_wdata)
    m.d.sync += [fold.acc_we.eq(valid), word_d.eq(word), vec_d.eq(vec)]
    m.d.comb += fold.acc_waddr.eq(word_d)
    shift = 0
    if fold.geo.slices:
        t = fold.tile
        shift = (t.a_slice + t.w_slice) * fold.geo.datapath.slice_bits
    for lane in range(len(fold.acc_wdata)):
        m.d.comb += fold.acc_wdata[lane].eq((vec_d[lane] << shift)
                                            + Mux(first, 0, fold.acc_rdata[lane]))


class Sequencer(wiring.Component):
    """What the sequencers share: their ports, and a tile's run from `start` to `done`."""

    def __init__(self, geo: ControllerParams):
        self.geo = geo
        super().__init__({**fold_ports(geo), **array_ports(geo)})

    def begin(self, m: Module):
        """(running, T): the tile runs from `start` until the sequencer clears `running`
        (`busy` throughout); T = the tile's output pixels, p_size x q_size."""
        running, T = Signal(), Signal(2 * self.geo.params.dim_bits)
        m.d.comb += [self.busy.eq(self.start | running),
                     T.eq(self.tile.p_size * self.tile.q_size)]
        with m.If(self.start):
            m.d.sync += running.eq(1)
        return running, T

    def weight_word(self, kb, r, s, cb, j):
        """The weight buffer word of filter block kb, tap (r, s), channel cb*rows + j of the
        tile (its half's ((kb*R + r)*S + s)*c_size + c)."""
        cmd, t = self.cmd, self.tile
        return (t.half_w * self.geo.buffers.weight_half
                + ((kb * cmd.R + r) * cmd.S + s) * t.c_size + cb * self.geo.rows + j)

    def out_block(self, kb, r, s, cb):
        """(block, first) of the array's sums of filter block kb at tap (r, s), channel block
        cb: the accumulator block they add into (words block*T + pixel) and whether they are
        its first (written alone: the output's first channel tile, `c_first`, cb = 0 and the
        first tap r = s = 0). A transforming command (ControllerParams.transforming) keeps a
        plane per tap: block (kb*R + r)*S + s, first at cb = 0 of the first channel tile."""
        t, cmd = self.tile, self.cmd
        first = t.c_first & (cb == 0) & (r == 0) & (s == 0)
        if not self.geo.transforms:
            return kb, first
        planes = self.geo.transforming(cmd)
        return (Mux(planes, (kb * cmd.R + r) * cmd.S + s, kb),
                Mux(planes, t.c_first & (cb == 0), first))

    def window(self, m: Module, p, q, r, s, cb):
        """Address on `ifmap_addr` the word of tile pixel (p, q) (p, q from the tile's first
        row and column) at kernel tap (r, s) in channel block cb; returns `inside`: that
        window position is in the image (outside it, padding or a window hanging past the
        edge, the word is zeros)."""
        cmd, t, b = self.cmd, self.tile, self.geo.buffers
        db = self.geo.params.dim_bits
        h, w, inside = Signal(signed(2 * db + 2)), Signal(signed(2 * db + 2)), Signal()
        m.d.comb += [h.eq((t.p0 + p) * cmd.stride + r - cmd.padding),
                     w.eq((t.q0 + q) * cmd.stride + s - cmd.padding),
                     inside.eq((h >= 0) & (h < cmd.H) & (w >= 0) & (w < cmd.W)),
                     self.ifmap_addr.eq(t.half_i * b.ifmap_half
                                        + (cb * t.in_rows + h - t.lo) * t.in_cols + w - t.wlo)]
        return inside

    def pad_value(self):
        """The value of a tap outside the image: the command's `pad` (the layer's input zero
        point) in a design that pads (ControllerParams.pads), else 0."""
        return lane_value(self.geo, self.cmd.pad.as_signed()) if self.geo.pads else 0

    def pixel_words(self, m: Module, reading, lane, p, q, r, s, cb):
        """os and is: in a `reading` cycle, a valid pixel (p, q) (p < p_size) reads its word
        (`window`), for transposer row `lane`. Returns (lanes_ok: the channel block's lanes
        inside the tile, load and lane the next cycle, ok: the lanes of the word arriving then
        that are kept, none for an invalid pixel or a window position outside the image, and
        padded: the tile's lanes of a valid pixel whose window position is outside the image,
        which get `pad_value` (none in a design that pads with 0))."""
        R, t = self.geo.rows, self.tile
        valid, lanes_ok = Signal(), Signal(R)
        inside = self.window(m, p, q, r, s, cb)
        m.d.comb += [valid.eq(reading & (p < t.p_size)), self.ifmap_read.eq(valid)]
        m.d.comb += [lanes_ok[j].eq(cb * R + j < t.c_size) for j in range(R)]
        load, lane_d, keep, lanes_ok_d, ok = (Signal(), Signal.like(lane), Signal(), Signal(R),
                                              Signal(R))
        m.d.sync += [load.eq(reading), lane_d.eq(lane), keep.eq(valid & inside),
                     lanes_ok_d.eq(lanes_ok)]
        m.d.comb += ok.eq(Mux(keep, lanes_ok_d, 0))
        padded = Signal(R)
        if self.geo.pads:
            outside = Signal()
            m.d.sync += outside.eq(valid & ~inside)
            m.d.comb += padded.eq(Mux(outside, lanes_ok_d, 0))
        return lanes_ok, load, lane_d, ok, padded


class WsFold(Sequencer):
    def elaborate(self, platform):
        m = Module()
        geo, cmd, t = self.geo, self.cmd, self.tile
        R, Cc = geo.rows, geo.cols
        db = geo.params.dim_bits
        m.submodules.west = west = Skew(R, signed(geo.lane_bits[0]))
        m.submodules.south = deskew = Skew(Cc, signed(geo.psum_bits), reverse=True)

        running, T = self.begin(m)
        k = Signal(2 * db + 1)
        kb, cb, r, s = (Signal(db, name=x) for x in ("kb", "cb", "r", "s"))
        end = self.busy & (k == 2 * R + Cc + T)            # the fold's last cycle
        with m.If(self.busy):
            m.d.sync += k.eq(k + 1)
        with m.If(end):
            m.d.sync += k.eq(0)
            wrapped = step_nest(m, [(kb, 1, (kb + 1) * Cc >= t.k_size),
                                    (cb, 1, (cb + 1) * R >= t.c_size),
                                    (r, 1, r + 1 == cmd.R), (s, 1, s + 1 == cmd.S)])
            with m.If(wrapped):
                m.d.sync += running.eq(0)
                m.d.comb += self.done.eq(1)

        # weights: word j = R-1-k of the fold's block, zero past the tile's channels
        read_w, read_w_d, row_ok, row_ok_d = Signal(), Signal(), Signal(), Signal()
        j = R - 1 - k
        m.d.comb += [read_w.eq(self.busy & (k < R)), row_ok.eq(cb * R + j < t.c_size),
                     self.weight_addr.eq(self.weight_word(kb, r, s, cb, j))]
        # ifmap: the window position of pixel (p, q), zero outside the image
        read_a, read_a_d, inside_d = Signal(), Signal(), Signal()
        p, q = Signal(db), Signal(db)
        inside = self.window(m, p, q, r, s, cb)
        m.d.comb += read_a.eq(self.busy & (k >= R) & (k < R + T))
        with m.If(read_a):
            last_q = q + 1 == t.q_size
            m.d.sync += [q.eq(Mux(last_q, 0, q + 1)), p.eq(p + last_q)]
        with m.Else():
            m.d.sync += [p.eq(0), q.eq(0)]
        m.d.sync += [read_w_d.eq(read_w), row_ok_d.eq(row_ok), read_a_d.eq(read_a),
                     inside_d.eq(inside)]
        m.d.comb += [self.weight_read.eq(read_w), self.ifmap_read.eq(read_a),
                     self.west.eq(west.o), deskew.i.eq(self.south)]
        with m.If(read_a_d & inside_d):
            if geo.datapath.zero_weight_idle:
                feed(m, geo, west.i, self.ifmap_data)
            else:       # lanes past the tile's channels are stale: zeros, as their weights
                for lane in range(R):
                    with m.If(cb * R + lane < t.c_size):
                        m.d.comb += west.i[lane].eq(lane_value(geo, self.ifmap_data[lane]))
        if geo.pads:    # outside the image the tile's channels hold the input zero point
            with m.Elif(read_a_d):
                for lane in range(R):
                    with m.If(cb * R + lane < t.c_size):
                        m.d.comb += west.i[lane].eq(self.pad_value())
        with m.If(read_w_d):
            m.d.comb += self.mode.eq(Mode.LOAD)
            with m.If(row_ok_d):
                feed(m, geo, self.north, self.weight_data)
        with m.Elif(self.busy & (k >= R + 1) & (k < 2 * R + Cc + T - 1)):
            m.d.comb += self.mode.eq(Mode.WS)

        # accumulate: the sums of pixel `row` read at k, added and written at k+1
        out_valid, row = Signal(), Signal(2 * db)
        m.d.comb += [out_valid.eq(self.busy & (k >= 2 * R + Cc) & (k < 2 * R + Cc + T)),
                     row.eq(k - 2 * R - Cc)]
        block, first_sums = self.out_block(kb, r, s, cb)
        first = Signal()
        m.d.comb += first.eq(first_sums)
        accumulate(m, self, out_valid, block, row, T, deskew.o, first)
        return m


class OsFold(Sequencer):
    def elaborate(self, platform):
        m = Module()
        geo, cmd, t = self.geo, self.cmd, self.tile
        R, Cc = geo.rows, geo.cols
        db = geo.params.dim_bits
        a_bits, b_bits = geo.lane_bits
        m.submodules.transposer = transposer = Transposer(R, signed(a_bits))
        m.submodules.north = north = Skew(Cc, signed(b_bits))

        running, T = self.begin(m)
        tail = Signal()                             # the fold's reduction has been read
        lead = Signal(2)                            # the fold's cycles 0, 1, then 2 onwards
        k2 = Signal(range(2 * R + Cc + 1))          # cycles since the reduction was read
        reading = Signal()
        m.d.comb += reading.eq(self.busy & ~tail)
        with m.If(self.busy & (lead != 2)):
            m.d.sync += lead.eq(lead + 1)
        with m.If(tail):
            m.d.sync += k2.eq(k2 + 1)

        # the read side: block (r, s, cb), lane i, its pixel (p, q) (p from the tile's first
        # row); (p_blk, q_blk) is the fold's first pixel pix0 = pb*R
        kb, r, s, cb = (Signal(db, name=x) for x in ("kb", "r", "s", "cb"))
        pix0 = Signal(2 * db)
        i = Signal(range(R))
        p, q, p_blk, q_blk = (Signal(db, name=x) for x in ("p", "q", "p_blk", "q_blk"))
        last_q = q + 1 == t.q_size
        with m.If(reading):
            m.d.sync += [i.eq(Mux(i == R - 1, 0, i + 1)), q.eq(Mux(last_q, 0, q + 1)),
                         p.eq(p + last_q)]
            with m.If(i == R - 1):
                read = step_nest(m, [(r, 1, r + 1 == cmd.R), (s, 1, s + 1 == cmd.S),
                                     (cb, 1, (cb + 1) * R >= t.c_size)])
                with m.If(read):
                    m.d.sync += tail.eq(1)        # (p, q) goes on to the next block's pixel
                with m.Else():
                    m.d.sync += [p.eq(p_blk), q.eq(q_blk)]
        with m.If(tail & (k2 == 2 * R + Cc)):       # the fold's last cycle
            m.d.sync += [tail.eq(0), k2.eq(0), lead.eq(0)]
            last_pb = pix0 + R >= T
            wrapped = step_nest(m, [(kb, 1, (kb + 1) * Cc >= t.k_size), (pix0, R, last_pb)])
            with m.If(last_pb):
                m.d.sync += [p.eq(0), q.eq(0), p_blk.eq(0), q_blk.eq(0)]
            with m.Else():
                m.d.sync += [p_blk.eq(p), q_blk.eq(q)]
            with m.If(wrapped):
                m.d.sync += running.eq(0)
                m.d.comb += self.done.eq(1)

        # ifmap: a valid pixel's word at its window position, into transposer row i next cycle
        lanes_ok, load, lane, ok, padded = self.pixel_words(m, reading, i, p, q, r, s, cb)
        m.d.comb += [transposer.load.eq(load), transposer.lane.eq(lane),
                     self.west.eq(transposer.o)]
        for j in range(R):
            with m.If(ok[j]):
                m.d.comb += transposer.word[j].eq(lane_value(geo, self.ifmap_data[j]))
            if geo.pads:
                with m.Elif(padded[j]):
                    m.d.comb += transposer.word[j].eq(self.pad_value())

        # weights: step z (read side at z: block (r, s, cb), channel j = i) read at z + 1
        w_addr, w_read, w_arrives = Signal.like(self.weight_addr), Signal(), Signal()
        m.d.sync += [w_addr.eq(self.weight_word(kb, r, s, cb, i)),
                     w_read.eq(reading & lanes_ok.bit_select(i, 1)), w_arrives.eq(w_read)]
        m.d.comb += [self.weight_addr.eq(w_addr), self.weight_read.eq(w_read),
                     self.north.eq(north.o)]
        with m.If(w_arrives):
            feed(m, geo, north.i, self.weight_data)

        # the array: OS from cycle 2 until the last step has crossed it, then R DRAIN cycles
        crossed = tail & (k2 >= R + Cc)
        drain = crossed & (k2 < 2 * R + Cc)
        with m.If(self.busy & (lead == 2) & ~crossed):
            m.d.comb += self.mode.eq(Mode.OS)
        with m.Elif(drain):
            m.d.comb += self.mode.eq(Mode.DRAIN)

        # accumulate: drained row `row` is pixel pix0 + row
        row, pixel = Signal(range(R)), Signal(2 * db)
        m.d.comb += [row.eq(2 * R + Cc - 1 - k2), pixel.eq(pix0 + row)]
        accumulate(m, self, drain & (pixel < T), kb, pixel, T, self.south, t.c_first)
        return m


class IsFold(Sequencer):
    def elaborate(self, platform):
        m = Module()
        geo, cmd, t = self.geo, self.cmd, self.tile
        R, Cc = geo.rows, geo.cols
        db = geo.params.dim_bits
        Bp = max(R, Cc)                             # cycles of one filter block
        x0 = R + Cc + 1                             # the first step at PE(0, 0)
        emit_from = x0 + R + Cc                     # the first collected word
        a_bits, b_bits = geo.lane_bits      # equal: is swaps the operands
        m.submodules.preload = preload = Transposer(Cc, signed(a_bits), R, gated=True)
        m.submodules.west = west = Transposer(R, signed(b_bits), Cc)
        m.submodules.collector = collector = Collector(Cc, Cc, signed(geo.psum_bits))

        running, T = self.begin(m)
        k = Signal(range(emit_from + 1))            # the fold's cycle, held at emit_from
        with m.If(self.busy & (k != emit_from)):
            m.d.sync += k.eq(k + 1)

        # the fold (pb, cb, r, s): pix0 = pb*Cc; lane j's pixel (p, q), (p_blk, q_blk) pix0's
        cb, r, s = (Signal(db, name=x) for x in ("cb", "r", "s"))
        pix0 = Signal(2 * db)
        p, q, p_blk, q_blk = (Signal(db, name=x) for x in ("p", "q", "p_blk", "q_blk"))
        reading = Signal()
        m.d.comb += reading.eq(self.busy & (k < Cc))
        with m.If(reading):
            last_q = q + 1 == t.q_size
            m.d.sync += [q.eq(Mux(last_q, 0, q + 1)), p.eq(p + last_q)]

        # the ifmap: lane j = k's pixel word, reversed (channel R-1 first) and masked, into
        # preload row j next cycle; shifted onto the north edge in the LOAD cycles
        j = Signal(range(Cc))
        m.d.comb += j.eq(k)
        lanes_ok, load, lane, ok, padded = self.pixel_words(m, reading, j, p, q, r, s, cb)
        loading = self.busy & (k >= Cc + 1) & (k < x0)
        m.d.comb += [preload.load.eq(load), preload.lane.eq(lane), preload.shift.eq(loading),
                     self.north.eq(preload.o)]
        for i in range(R):
            with m.If(ok[R - 1 - i]):
                m.d.comb += preload.word[i].eq(lane_value(geo, self.ifmap_data[R - 1 - i]))
            if geo.pads:
                with m.Elif(padded[R - 1 - i]):
                    m.d.comb += preload.word[i].eq(self.pad_value())

        # the weights: block wkb, lane wi (a block every Bp cycles from x0 - 2), into west
        # transposer row wi the next cycle
        wkb, wi = Signal(db, name="wkb"), Signal(range(Bp))
        streaming = self.busy & (k >= x0 - 2)
        with m.If(streaming):
            m.d.sync += [wi.eq(Mux(wi == Bp - 1, 0, wi + 1)), wkb.eq(wkb + (wi == Bp - 1))]
        w_load = Signal()
        m.d.comb += [w_load.eq(streaming & (wi < R) & (wkb * Cc < t.k_size)),
                     self.weight_addr.eq(self.weight_word(wkb, r, s, cb, wi)),
                     self.weight_read.eq(w_load & lanes_ok.bit_select(wi, 1))]
        w_lane, w_keep = Signal.like(wi), Signal()
        m.d.sync += [west.load.eq(w_load), w_lane.eq(wi), w_keep.eq(self.weight_read)]
        m.d.comb += [west.lane.eq(w_lane), self.west.eq(west.o)]
        with m.If(w_keep):
            feed(m, geo, west.word, self.weight_data)

        with m.If(loading):
            m.d.comb += self.mode.eq(Mode.LOAD)
        with m.Elif(self.busy & (k >= x0)):
            m.d.comb += self.mode.eq(Mode.WS)

        # the collector: pixel ej's word of filter block ekb, into the accumulator
        ekb, ej = Signal(db, name="ekb"), Signal(range(Bp))
        emitting = self.busy & (k == emit_from)
        with m.If(emitting):
            m.d.sync += [ej.eq(Mux(ej == Bp - 1, 0, ej + 1)), ekb.eq(ekb + (ej == Bp - 1))]
        emit, last, pixel = Signal(), Signal(), Signal(2 * db)
        m.d.comb += [collector.i.eq(self.south), collector.row.eq(ej),
                     pixel.eq(pix0 + ej),
                     emit.eq(emitting & (ej < Cc) & (ekb * Cc < t.k_size)),
                     last.eq(emit & (ej == Cc - 1) & ((ekb + 1) * Cc >= t.k_size))]
        block, first = self.out_block(ekb, r, s, cb)
        accumulate(m, self, emit & (pixel < T), block, pixel, T, collector.o, first)

        end = Signal()                              # the fold's last cycle
        m.d.sync += end.eq(last)
        with m.If(end):
            m.d.sync += [k.eq(0), wkb.eq(0), wi.eq(0), ekb.eq(0), ej.eq(0)]
            last_pb = pix0 + Cc >= T
            wrapped = step_nest(m, [(pix0, Cc, last_pb), (cb, 1, (cb + 1) * R >= t.c_size),
                                    (r, 1, r + 1 == cmd.R), (s, 1, s + 1 == cmd.S)])
            next_pb = (cb + 1) * R >= t.c_size
            next_pb = next_pb & (r + 1 == cmd.R) & (s + 1 == cmd.S)
            with m.If(next_pb & last_pb):
                m.d.sync += [p.eq(0), q.eq(0), p_blk.eq(0), q_blk.eq(0)]
            with m.Elif(next_pb):
                m.d.sync += [p_blk.eq(p), q_blk.eq(q)]        # (p, q) read on to pix0 + Cc
            with m.Else():
                m.d.sync += [p.eq(p_blk), q.eq(q_blk)]
            with m.If(wrapped):
                m.d.sync += running.eq(0)
                m.d.comb += self.done.eq(1)
        return m


ENGINES = {"ws": WsFold, "os": OsFold, "is": IsFold}


class FoldEngine(wiring.Component):
    """The array and a sequencer per dataflow of the design (`geo.dataflows`); the command's
    `dataflow` (an index into program.CONTROLLER_DATAFLOWS) picks the one that runs (a design
    with one sequencer ignores it)."""

    def __init__(self, geo: ControllerParams, pe=MacPE):
        self.geo, self.pe = geo, pe
        super().__init__(fold_ports(geo))

    def elaborate(self, platform):
        m = Module()
        geo = self.geo
        m.submodules.array = array = SystolicArray(geo.rows, geo.cols, *geo.lane_bits,
                                                   geo.psum_bits, geo.dataflows, self.pe)
        if geo.datapath.dual_pe:
            m.d.comb += array.mac.eq(self.cmd.mode == geo.datapath.mode_of(geo.datapath.mac_op))
        engines = {}
        for index, name in enumerate(CONTROLLER_DATAFLOWS):
            if name not in geo.dataflows:
                continue
            engines[index] = m.submodules[f"{name}_fold"] = engine = ENGINES[name](geo)
            m.d.comb += [engine.cmd.eq(self.cmd), engine.tile.eq(self.tile),
                         engine.ifmap_data.eq(self.ifmap_data),
                         engine.weight_data.eq(self.weight_data),
                         engine.acc_rdata.eq(self.acc_rdata), engine.south.eq(array.south)]
        outputs = [name for name, member in self.signature.members.items()
                   if member.flow == Out]
        with m.Switch(self.cmd.dataflow):
            for index, engine in engines.items():
                with m.Default() if len(engines) == 1 else m.Case(index):
                    m.d.comb += [engine.start.eq(self.start),
                                 array.mode.eq(engine.mode), array.west.eq(engine.west),
                                 array.north.eq(engine.north)]
                    m.d.comb += [getattr(self, name).eq(getattr(engine, name))
                                 for name in outputs]
        return m
