"""The requantization stage: accumulator sums to ofmap_bits outputs (the math is
workloads/methods/requant_ref.py's), and the table of per-channel parameters it reads.

- `Requantizer` (combinational): q = clamp(round_shift(acc * M, s), lo, hi), lo = 0 with
  `relu`. round_shift(v, s) is computed as ((v >> (s - 1)) + 1) >> 1 for s >= 1 (equal to
  (v + 2**(s-1)) >> s, as floor(floor(x / a) / b) = floor(x / ab)), so no 2**s-wide rounding
  constant is needed; s = 0 passes v.
- `ParamTable`: fetches the parameters of one n-block of filters from DRAM (channels n0 ..
  n0 + n_size - 1 of the table at `requant_base`, program.REQUANT_PIECES byte elements per
  channel: multiplier bits 0-7, bits 8-15, shift) into a small memory, and serves channel
  `channel`'s entry combinationally to the writer. Per piece one read request (one per cycle at
  most, held until the DRAM takes it) tagged `param` with the channel as `word` and the piece
  as `lane`; the response is written where its tag says. `done` is high in the first cycle in
  which every request has been taken and every response has arrived (as the loader's).
"""

from __future__ import annotations

import numpy as np
from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.program import REQUANT_PIECES
from dlaforge.workloads.methods.requant_ref import MULTIPLIER_BITS, SHIFT_BITS, Requant

from .layouts import DesignParams, bits_for

PARAM_LAYOUT = data.StructLayout({"multiplier": unsigned(MULTIPLIER_BITS),
                                  "shift": unsigned(SHIFT_BITS)})


def param_table(requant: Requant) -> np.ndarray:
    """The DRAM elements of a layer's parameter table (K x REQUANT_PIECES signed bytes: the
    DRAM holds signed 8-bit elements; the stage reads their bits)."""
    m, s = requant.multiplier, requant.shift
    pieces = np.stack([m & 0xFF, (m >> 8) & 0xFF, s], axis=1).astype(np.int64)
    return np.where(pieces >= 128, pieces - 256, pieces).ravel()


class Requantizer(wiring.Component):
    def __init__(self, acc_bits: int, out_bits: int):
        self.acc_bits, self.out_bits = acc_bits, out_bits
        super().__init__({"acc": In(signed(acc_bits)), "param": In(PARAM_LAYOUT),
                          "relu": In(1), "q": Out(signed(out_bits))})

    def elaborate(self, platform):
        m = Module()
        product = Signal(signed(self.acc_bits + MULTIPLIER_BITS + 1))
        m.d.comb += product.eq(self.acc * Cat(self.param.multiplier, Const(0, 1)).as_signed())
        shift, below = self.param.shift, Signal(SHIFT_BITS)
        rounded = Signal.like(product)
        m.d.comb += below.eq(shift - 1)
        with m.If(shift == 0):
            m.d.comb += rounded.eq(product)
        with m.Else():
            m.d.comb += rounded.eq(((product >> below) + 1) >> 1)
        hi = (1 << (self.out_bits - 1)) - 1
        lo = Mux(self.relu, 0, -(1 << (self.out_bits - 1)))
        m.d.comb += self.q.eq(Mux(rounded > hi, hi, Mux(rounded < lo, lo, rounded)))
        return m


class ParamTable(wiring.Component):
    def __init__(self, geo: DesignParams):
        self.geo = geo
        p = geo.params
        super().__init__({
            "requant_base": In(p.addr_bits), "start": In(1), "done": Out(1),
            "n0": In(p.addr_bits), "n_size": In(p.dim_bits),
            "req": Out(stream.Signature(geo.read_request_layout())),
            "resp": In(stream.Signature(geo.read_response_layout())),
            "channel": In(bits_for(geo.block_filters)), "param": Out(PARAM_LAYOUT),
        })

    def elaborate(self, platform):
        m = Module()
        geo, p = self.geo, self.geo.params
        m.submodules.table = table = memory.Memory(
            shape=data.ArrayLayout(8, REQUANT_PIECES), depth=geo.block_filters, init=[])
        write, read = table.write_port(granularity=1), table.read_port(domain="comb")
        m.d.comb += [read.addr.eq(self.channel),
                     self.param.multiplier.eq(Cat(read.data[0], read.data[1])),
                     self.param.shift.eq(read.data[2][:SHIFT_BITS])]

        tag = self.resp.payload.tag
        m.d.comb += [self.resp.ready.eq(1), write.addr.eq(tag.word),
                     write.en.eq(self.resp.valid.replicate(REQUANT_PIECES) & (1 << tag.lane))]
        m.d.comb += [write.data[j].eq(self.resp.payload.data[:8])
                     for j in range(REQUANT_PIECES)]

        channel, piece = Signal(p.dim_bits), Signal(bits_for(REQUANT_PIECES))
        addr, outstanding = Signal(p.addr_bits), Signal(p.dim_bits)
        sent = self.req.valid & self.req.ready
        m.d.sync += outstanding.eq(outstanding + sent - self.resp.valid)
        m.d.comb += [self.req.payload.addr.eq(addr), self.req.payload.tag.param.eq(1),
                     self.req.payload.tag.word.eq(channel), self.req.payload.tag.lane.eq(piece)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [channel.eq(0), piece.eq(0),
                                 addr.eq(self.requant_base + self.n0 * REQUANT_PIECES)]
                    m.next = "ISSUE"
            with m.State("ISSUE"):
                m.d.comb += self.req.valid.eq(1)
                with m.If(sent):
                    m.d.sync += [addr.eq(addr + 1), piece.eq(piece + 1)]
                    with m.If(piece == REQUANT_PIECES - 1):
                        m.d.sync += [piece.eq(0), channel.eq(channel + 1)]
                        with m.If(channel + 1 == self.n_size):
                            m.next = "DRAIN"
            with m.State("DRAIN"):
                with m.If(outstanding == 0):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"
        return m
