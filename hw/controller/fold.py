"""The fold engine with on-chip im2col: runs one tile's F folds back to back (ws).

F = ceil(k_size/cols) * ceil(c_size/rows) * R * S folds in the order kb, cb, r, s (s
innermost), each L = 2*rows + cols + T + 1 cycles with T = p_size*Q the tile's output pixels
(program.ws_fold_length). Fold cycle k counts from 0 at the fold's start; buffer reads are
synchronous (data one cycle after the address). With R = rows, Cc = cols:

  k in [0, R)      read weight word ((kb*R_k + r)*S + s)*c_size + cb*R + j, j = R-1-k (a row
                   j past the tile's channels loads zeros);
  k in [1, R]      LOAD: the words shift down until PE row j holds channel cb*R + j;
  k in [R, R+T)    pixel (p, q) = divmod(k - R, Q) (p from the tile's first row) reads ifmap
                   word (cb*in_rows + h - lo)*W + w, h = (p0 + p)*stride + r - padding,
                   w = q*stride + s - padding; where (h, w) is outside the image (padding, or
                   a window hanging past the bottom or right edge) the skew gets zeros;
  k in [R+1, 2R+Cc+T-1)  WS: partial sums flow south;
  k in [2R+Cc, 2R+Cc+T)  the de-skewed sums of pixel t = k - 2R - Cc reach the accumulator:
                   word kb*T + t is read at k and written with the sum added at k+1 (the fold's
                   last cycle for the last pixel); the first fold of an output (c0 = 0 and
                   cb = r = s = 0) reads nothing and writes the sums alone.
`start` begins the tile (its first cycle is fold 0's k = 0); `done` is high in the last cycle
of the last fold; `busy` in every cycle of every fold.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..array import Skew, SystolicArray
from ..layouts import bits_for
from ..pe import MacPE, Mode
from .layouts import Geometry
from .nest import step_nest
from .tiles import tile_layout


class WsFold(wiring.Component):
    def __init__(self, geo: Geometry, pe=MacPE):
        self.geo, self.pe = geo, pe
        R, Cc, b = geo.rows, geo.cols, geo.buffers
        super().__init__({
            "cmd": In(geo.command_layout()), "tile": In(tile_layout(geo.params.dim_bits)),
            "start": In(1), "done": Out(1), "busy": Out(1),
            "ifmap_addr": Out(bits_for(2 * b.ifmap_half)),
            "ifmap_data": In(data.ArrayLayout(signed(geo.ifmap_bits), R)),
            "weight_addr": Out(bits_for(2 * b.weight_half)),
            "weight_data": In(data.ArrayLayout(signed(geo.weight_bits), Cc)),
            "acc_raddr": Out(bits_for(2 * b.acc_half)), "acc_ren": Out(1),
            "acc_rdata": In(data.ArrayLayout(signed(geo.psum_bits), Cc)),
            "acc_waddr": Out(bits_for(2 * b.acc_half)), "acc_we": Out(1),
            "acc_wdata": Out(data.ArrayLayout(signed(geo.psum_bits), Cc)),
            "ifmap_read": Out(1), "weight_read": Out(1),   # one word read this cycle
        })

    def elaborate(self, platform):
        m = Module()
        geo, cmd, t = self.geo, self.cmd, self.tile
        R, Cc, b = geo.rows, geo.cols, geo.buffers
        db = geo.params.dim_bits
        m.submodules.array = array = SystolicArray(R, Cc, geo.ifmap_bits, geo.weight_bits,
                                                   geo.psum_bits, ("ws",), self.pe)
        m.submodules.west = west = Skew(R, signed(geo.ifmap_bits))
        m.submodules.south = deskew = Skew(Cc, signed(geo.psum_bits), reverse=True)

        T = Signal(2 * db)
        m.d.comb += T.eq(t.p_size * cmd.Q)
        k, running = Signal(2 * db + 1), Signal()
        kb, cb, r, s = (Signal(db, name=x) for x in ("kb", "cb", "r", "s"))
        end = self.busy & (k == 2 * R + Cc + T)            # the fold's last cycle
        m.d.comb += self.busy.eq(self.start | running)
        with m.If(self.start):
            m.d.sync += running.eq(1)
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
                     self.weight_addr.eq(t.half_w * b.weight_half
                                         + ((kb * cmd.R + r) * cmd.S + s) * t.c_size
                                         + cb * R + j)]
        # ifmap: the window position of pixel (p, q), zero outside the image
        read_a, read_a_d, inside, inside_d = Signal(), Signal(), Signal(), Signal()
        p, q = Signal(db), Signal(db)
        h, w = Signal(signed(2 * db + 2)), Signal(signed(2 * db + 2))
        m.d.comb += [read_a.eq(self.busy & (k >= R) & (k < R + T)),
                     h.eq((t.p0 + p) * cmd.stride + r - cmd.padding),
                     w.eq(q * cmd.stride + s - cmd.padding),
                     inside.eq((h >= 0) & (h < cmd.H) & (w >= 0) & (w < cmd.W)),
                     self.ifmap_addr.eq(t.half_i * b.ifmap_half
                                        + (cb * t.in_rows + h - t.lo) * cmd.W + w)]
        with m.If(read_a):
            last_q = q + 1 == cmd.Q
            m.d.sync += [q.eq(Mux(last_q, 0, q + 1)), p.eq(p + last_q)]
        with m.Else():
            m.d.sync += [p.eq(0), q.eq(0)]
        m.d.sync += [read_w_d.eq(read_w), row_ok_d.eq(row_ok), read_a_d.eq(read_a),
                     inside_d.eq(inside)]
        m.d.comb += [self.weight_read.eq(read_w), self.ifmap_read.eq(read_a),
                     array.west.eq(west.o), deskew.i.eq(array.south)]
        with m.If(read_a_d & inside_d):
            m.d.comb += west.i.eq(self.ifmap_data)
        with m.If(read_w_d):
            m.d.comb += array.mode.eq(Mode.LOAD)
            with m.If(row_ok_d):
                m.d.comb += array.north.eq(self.weight_data)
        with m.Elif(self.busy & (k >= R + 1) & (k < 2 * R + Cc + T - 1)):
            m.d.comb += array.mode.eq(Mode.WS)

        # accumulate: the sums of pixel `row` read at k, added and written at k+1
        out_valid, row = Signal(), Signal(2 * db)
        m.d.comb += [out_valid.eq(self.busy & (k >= 2 * R + Cc) & (k < 2 * R + Cc + T)),
                     row.eq(k - 2 * R - Cc)]
        first = Signal()
        m.d.comb += first.eq((t.c0 == 0) & (cb == 0) & (r == 0) & (s == 0))
        word = Signal.like(self.acc_raddr)
        m.d.comb += [word.eq(t.half_a * b.acc_half + kb * T + row),
                     self.acc_raddr.eq(word), self.acc_ren.eq(out_valid & ~first)]
        word_d, vec_d = Signal.like(word), Signal.like(self.acc_wdata)
        m.d.sync += [self.acc_we.eq(out_valid), word_d.eq(word), vec_d.eq(deskew.o)]
        m.d.comb += self.acc_waddr.eq(word_d)
        for lane in range(Cc):
            m.d.comb += self.acc_wdata[lane].eq(vec_d[lane] + Mux(first, 0,
                                                                  self.acc_rdata[lane]))
        return m
