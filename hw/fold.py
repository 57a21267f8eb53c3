"""The compute engine: runs one tile (one array fold) from the buffers into the accumulator.

Fold cycle k counts from 0 when the fold starts; buffer reads are synchronous (data one cycle
after the address). With R = rows, Cc = cols:

ws, T = the tile's m size, length 2R + Cc + T + 1 cycles:
  k in [0, R)          read weight word R-1-k (rows past the tile's kd size read as zero);
  k in [1, R]          LOAD: the words shift down until PE row i holds reduction row i;
  k in [R, R+T)        read ifmap word k-R (one im2col row m, R lanes), skewed into the west;
  k in [R+1, 2R+Cc+T-1)  WS: partial sums flow south;
  k in [2R+Cc, 2R+Cc+T)  the de-skewed sums of row m = k-2R-Cc reach the accumulator.
is: as ws with the operands swapped: the weight buffer holds the tile's ifmap block (R kd
  rows x Cc pixels m), the ifmap buffer streams T = n size words of weights (R lanes of kd),
  and accumulator row t holds filter n = t for Cc pixels.
os, T = the tile's kd size, length T + 2R + Cc cycles:
  k in [0, T)          read ifmap word k (R lanes of m) and weight word k (Cc lanes of n);
  k in [1, T+R+Cc-1)   OS: every PE accumulates its output;
  k in [T+R+Cc-1, T+2R+Cc-1)  DRAIN: rows R-1 .. 0 leave the south edge to the accumulator.

Accumulator: a row of Cc sums arriving at cycle k reads the stored row at k (unless this is
the first kd tile of the output) and writes the sum at k+1, the fold's last cycle for the last
row. The lengths are accelerator_plan.fold_length. `pe` chooses the array's PE (see
hw/array.py; the MAC PE by default). `fold_loaded_tiles` is the sequencing around the engine
that starts it on each tile once loaded.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .array import Skew, SystolicArray
from .layouts import DesignParams, bits_for, dataflow_flags
from .pe import MacPE, Mode


def buffer_ports(geo) -> dict:
    """A fold engine's ports to the buffers (`geo` has rows, cols, the operand bits and
    `buffers`, words per half): read addresses and data, the accumulator's read-modify-write,
    and a pulse per word read (the counters')."""
    R, Cc, b = geo.rows, geo.cols, geo.buffers
    return {
        "ifmap_addr": Out(bits_for(2 * b.ifmap_half)),
        "ifmap_data": In(data.ArrayLayout(signed(geo.ifmap_bits), R)),
        "weight_addr": Out(bits_for(2 * b.weight_half)),
        "weight_data": In(data.ArrayLayout(signed(geo.weight_bits), Cc)),
        "acc_raddr": Out(bits_for(2 * b.acc_half)), "acc_ren": Out(1),
        "acc_rdata": In(data.ArrayLayout(signed(geo.psum_bits), Cc)),
        "acc_waddr": Out(bits_for(2 * b.acc_half)), "acc_we": Out(1),
        "acc_wdata": Out(data.ArrayLayout(signed(geo.psum_bits), Cc)),
        "ifmap_read": Out(1), "weight_read": Out(1),   # one word read this cycle
    }


class FoldEngine(wiring.Component):
    def __init__(self, geo: DesignParams, pe=MacPE):
        self.geo, self.pe = geo, pe
        db = geo.params.dim_bits
        super().__init__({
            "dataflow": In(2), "start": In(1), "done": Out(1), "busy": Out(1),
            "m_size": In(db), "k_size": In(db), "n_size": In(db), "half": In(1),
            "out_half": In(1),
            "first_k": In(1),
            **buffer_ports(geo),
        })

    def elaborate(self, platform):
        m = Module()
        geo = self.geo
        R, Cc, b = geo.rows, geo.cols, geo.buffers
        m.submodules.array = array = SystolicArray(R, Cc, geo.ifmap_bits, geo.weight_bits,
                                                   geo.psum_bits, geo.dataflows, self.pe)
        m.submodules.west = west = Skew(R, signed(geo.ifmap_bits))
        has_ws = "ws" in geo.dataflows or "is" in geo.dataflows
        has_os = "os" in geo.dataflows
        flags = dataflow_flags(m, geo, self.dataflow)
        os_ = flags["os"]

        k = Signal(geo.params.dim_bits + 2)
        T = Mux(os_, self.k_size, Mux(flags["is"], self.n_size, self.m_size))
        length = Mux(os_, T + 2 * R + Cc, 2 * R + Cc + T + 1)
        m.d.comb += [self.busy.eq(self.start | (k != 0)), self.done.eq(self.busy & (k == length - 1))]
        with m.If(self.busy):
            m.d.sync += k.eq(Mux(self.done, 0, k + 1))

        ifmap_base = self.half * b.ifmap_half
        weight_base = self.half * b.weight_half
        read_a, read_w, load_row_ok = Signal(), Signal(), Signal()
        read_a_d, read_w_d, load_row_ok_d = Signal(), Signal(), Signal()
        m.d.sync += [read_a_d.eq(read_a), read_w_d.eq(read_w), load_row_ok_d.eq(load_row_ok)]
        m.d.comb += [self.ifmap_read.eq(read_a), self.weight_read.eq(read_w)]

        out_valid, out_row = Signal(), Signal(geo.params.dim_bits)
        out_vec = Signal(data.ArrayLayout(signed(geo.psum_bits), Cc))
        with m.If(self.busy & ~os_):
            if has_ws:
                m.submodules.south = deskew = Skew(Cc, signed(geo.psum_bits), reverse=True)
                m.d.comb += [deskew.i.eq(array.south),
                             read_w.eq(k < R), self.weight_addr.eq(weight_base + R - 1 - k),
                             load_row_ok.eq(R - 1 - k < self.k_size),
                             read_a.eq((k >= R) & (k < R + T)),
                             self.ifmap_addr.eq(ifmap_base + k - R)]
                with m.If(read_w_d):
                    m.d.comb += array.mode.eq(Mode.LOAD)
                    with m.If(load_row_ok_d):
                        m.d.comb += array.north.eq(self.weight_data)
                with m.Elif((k >= R + 1) & (k < 2 * R + Cc + T - 1)):
                    m.d.comb += array.mode.eq(Mode.WS)
                with m.If((k >= 2 * R + Cc) & (k < 2 * R + Cc + T)):
                    m.d.comb += [out_valid.eq(1), out_row.eq(k - 2 * R - Cc),
                                 out_vec.eq(deskew.o)]
        with m.If(self.busy & os_):
            if has_os:
                m.submodules.north = north = Skew(Cc, signed(geo.weight_bits))
                m.d.comb += [array.north.eq(north.o),
                             read_a.eq(k < T), read_w.eq(k < T),
                             self.ifmap_addr.eq(ifmap_base + k),
                             self.weight_addr.eq(weight_base + k)]
                with m.If(read_w_d):
                    m.d.comb += north.i.eq(self.weight_data)
                with m.If((k >= 1) & (k < T + R + Cc - 1)):
                    m.d.comb += array.mode.eq(Mode.OS)
                with m.Elif((k >= T + R + Cc - 1) & (k < T + 2 * R + Cc - 1)):
                    m.d.comb += [array.mode.eq(Mode.DRAIN), out_valid.eq(1),
                                 out_row.eq(T + 2 * R + Cc - 2 - k), out_vec.eq(array.south)]
        m.d.comb += array.west.eq(west.o)
        with m.If(read_a_d):
            m.d.comb += west.i.eq(self.ifmap_data)

        # accumulate: read at k, add and write at k+1
        acc_base = self.out_half * b.acc_half
        row_d, vec_d, valid_d = Signal.like(out_row), Signal.like(out_vec), Signal()
        m.d.sync += [valid_d.eq(out_valid), row_d.eq(out_row), vec_d.eq(out_vec)]
        m.d.comb += [self.acc_raddr.eq(acc_base + out_row), self.acc_ren.eq(out_valid & ~self.first_k),
                     self.acc_waddr.eq(acc_base + row_d), self.acc_we.eq(valid_d)]
        for j in range(Cc):
            m.d.comb += self.acc_wdata[j].eq(vec_d[j] + Mux(self.first_k, 0, self.acc_rdata[j]))
        return m


def fold_loaded_tiles(m: Module, fold: FoldEngine, tiles, loaded, computed, enable=1) -> None:
    """Start `fold` on tile `computed` as soon as `loaded` counts it in its buffer half (and
    the previous fold is done, and `enable`); when it is done, count it in `computed` and
    advance the compute side's TileCounter `tiles`."""
    with m.FSM(name="compute"):
        with m.State("WAIT"):
            with m.If(enable & (loaded > computed) & ~tiles.finished):
                m.d.comb += fold.start.eq(1)
                m.next = "RUN"
        with m.State("RUN"):
            with m.If(fold.done):
                m.d.comb += tiles.next.eq(1)
                m.d.sync += computed.eq(computed + 1)
                m.next = "WAIT"


def wire_fold(m: Module, fold: FoldEngine, tiles, reads, acc_write, dataflow, half,
              out_half) -> None:
    """Feed `fold` the sizes of the compute side's tile (`tiles`, a TileCounter) and connect it
    to the buffers: `reads` = the ifmap, weight and accumulator read ports, `acc_write` the
    accumulator's write port. The accumulator's read data is the caller's to connect (the
    bit-sliced passes shift it)."""
    ifmap_read, weight_read, acc_read = reads
    m.d.comb += [fold.dataflow.eq(dataflow), fold.m_size.eq(tiles.m_size),
                 fold.k_size.eq(tiles.k_size), fold.n_size.eq(tiles.n_size),
                 fold.half.eq(half), fold.out_half.eq(out_half), fold.first_k.eq(tiles.first_k),
                 ifmap_read.addr.eq(fold.ifmap_addr), fold.ifmap_data.eq(ifmap_read.data),
                 weight_read.addr.eq(fold.weight_addr), fold.weight_data.eq(weight_read.data),
                 acc_read.addr.eq(fold.acc_raddr),
                 acc_write.addr.eq(fold.acc_waddr), acc_write.en.eq(fold.acc_we),
                 acc_write.data.eq(fold.acc_wdata)]
