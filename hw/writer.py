"""The write-back engine: sends one finished output tile from the accumulator to DRAM.

Row by row (ws, os: m = 0 .. m_size-1; is: n = 0 .. n_size-1): one FETCH cycle reads the
accumulator word of the row; then one write request per lane (ws, os: filters n; is: pixels m)
to ofmap_base + (n0+n)*M + m0+m (K x P x Q order), each held until the DRAM takes it. `done` is
high in the cycle the last one is taken.

In a design with the requantization stage (DesignParams.requant), a command with `requant` = 1
sends each sum through hw/requant.Requantizer with its filter's parameters: `channel` (the
lane's filter n under ws and os, the row's under is) addresses the ParamTable, whose entry
comes back on `param` in the same cycle.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import DesignParams, bits_for, dataflow_flags
from .requant import PARAM_LAYOUT, Requantizer


class Writer(wiring.Component):
    def __init__(self, geo: DesignParams):
        self.geo = geo
        p = geo.params
        ports = {
            "cmd": In(geo.command_layout()), "start": In(1), "done": Out(1), "fetch": Out(1),
            "n0": In(p.addr_bits), "m0": In(p.addr_bits), "out_half": In(1),
            "m_size": In(p.dim_bits), "n_size": In(p.dim_bits),
            "acc_addr": Out(bits_for(2 * geo.buffers.acc_half)),
            "acc_data": In(data.ArrayLayout(signed(geo.psum_bits), geo.cols)),
            "wr": Out(stream.Signature(geo.write_request_layout())),
        }
        if geo.requant:
            ports.update({"channel": Out(bits_for(geo.block_filters)), "param": In(PARAM_LAYOUT)})
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        p = self.geo.params
        row, lane = Signal(p.dim_bits), Signal(p.dim_bits)
        addr, row_addr = Signal(p.addr_bits), Signal(p.addr_bits)
        is_ = dataflow_flags(m, self.geo, self.cmd.dataflow)["is"]
        rows = Mux(is_, self.n_size, self.m_size)
        lanes = Mux(is_, self.m_size, self.n_size)
        lane_step = Mux(is_, 1, self.cmd.M)
        row_step = Mux(is_, self.cmd.M, 1)
        acc = self.acc_data.as_value().word_select(lane, self.geo.psum_bits).as_signed()
        m.d.comb += [self.acc_addr.eq(self.out_half * self.geo.buffers.acc_half + row),
                     self.wr.payload.addr.eq(addr), self.wr.payload.data.eq(acc)]
        if self.geo.requant:
            m.submodules.requantizer = rq = Requantizer(self.geo.psum_bits, self.geo.ofmap_bits)
            m.d.comb += [self.channel.eq(Mux(is_, row, lane)), rq.acc.eq(acc),
                         rq.param.eq(self.param), rq.relu.eq(self.cmd.relu)]
            with m.If(self.cmd.requant):
                m.d.comb += self.wr.payload.data.eq(rq.q)
        taken = self.wr.valid & self.wr.ready
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    base = self.cmd.ofmap_base + self.n0 * self.cmd.M + self.m0
                    m.d.sync += [row.eq(0), lane.eq(0), addr.eq(base), row_addr.eq(base)]
                    m.next = "FETCH"
            with m.State("FETCH"):
                m.d.comb += self.fetch.eq(1)
                m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += self.wr.valid.eq(1)
                with m.If(taken):
                    m.d.sync += [lane.eq(lane + 1), addr.eq(addr + lane_step)]
                    with m.If(lane + 1 == lanes):
                        m.d.sync += [lane.eq(0), row.eq(row + 1), addr.eq(row_addr + row_step),
                                     row_addr.eq(row_addr + row_step)]
                        with m.If(row + 1 == rows):
                            m.d.comb += self.done.eq(1)
                            m.next = "IDLE"
                        with m.Else():
                            m.next = "FETCH"
        return m
