"""The Winograd top: one command runs a whole 3x3 stride-1 layer (workloads/methods/winograd/
plan.py).

Parts: the input-transform and output-transform units (units.py, unchanged), the
baseline accelerator (hw/accelerator.py, unchanged) and the sequencer here, which owns the
top's DRAM port except while the accelerator runs a tap command. The phases meet in DRAM
(hardware-controlled, DRAM-mediated; no overlap between them):

1. per input tile (channel, tile row, tile column): READ a² elements of the padded ifmap
   (addresses x_base + c·x_plane + (i·m + x)·x_row + j·m + y, one request per cycle when the
   port is ready, lane x·a + y in the response tag), PUSH the tile into the input unit, WRITE
   its a² quantized taps (tap t to tap.ifmap_base + t·v_step + tile), then pop the unit;
2. per tap t: ISSUE (wait until the port is ready, then give the accelerator the tap command,
   its bases advanced by t·v_step, t·u_step, t·m_step), WAIT until the accelerator is idle and
   add its counters;
3. per output tile (filter, tile row, tile column): READ its a² tap sums (tap t at
   tap.ofmap_base + t·m_step + tile, tagged `sum`), PUSH them into the output unit, WRITE the
   m² outputs to y_base + tile·m² + (row-major lane).

Port: the accelerator's stream port widened where the phases need it: the read tag adds
`sum` (a psum-wide tap sum is read) and a lane wide enough for a² lanes; read data is as wide
as a psum; a write carries `kind` (winograd.plan.WRITE_KINDS: an accelerator sum, a V
element stored ifmap-wide, an output stored output-wide) and data as wide as an output.
Counters (`perf`, winograd.plan.LAYER_COUNTERS): cycles while busy, the accelerator's
cycles and buffer counters summed over the taps, the units' busy cycles, and the DRAM bytes of
every beat on the port (by its kind's width).
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.arch import ArchSpec
from dlaforge.program import element_bytes
from dlaforge.workloads.methods.winograd.plan import (ACCELERATOR_SUMMED, ALIGN_BITS,
                                                      LAYER_COUNTERS, SHIFT_BITS, WRITE_KINDS)
from dlaforge.workloads.methods.winograd.reference import Variant

from ...accelerator import Accelerator, buildable
from ...layouts import GeneratorParams, bits_for
from .units import InputTransform, OutputTransform


class WinogradTop(wiring.Component):
    def __init__(self, arch: ArchSpec, variant: Variant,
                 params: GeneratorParams = GeneratorParams()):
        self.arch, self.variant = arch, variant
        self.geo = geo = buildable(arch, params)
        self.accelerator = Accelerator(arch, params)
        pe, taps = arch.pe_array, variant.a * variant.a
        self.input_unit = InputTransform(variant.bt, pe.ifmap_bits)
        self.output_unit = OutputTransform(variant.at, pe.psum_bits)
        self.y_bits = self.output_unit.out_bits
        acc_tag, a = geo.tag_layout, params.addr_bits
        tag = data.StructLayout({"weight": 1, "word": acc_tag["word"].width,
                                 "lane": max(acc_tag["lane"].width, bits_for(taps)), "sum": 1})
        command = data.StructLayout({
            "tap": geo.command_layout(), "v_step": a, "u_step": a, "m_step": a, "x_base": a,
            "x_plane": a, "x_row": params.dim_bits, "y_base": a,
            "in_shift": data.ArrayLayout(unsigned(SHIFT_BITS), taps),
            "out_align": data.ArrayLayout(unsigned(ALIGN_BITS), taps)})
        super().__init__({
            "cmd": In(stream.Signature(command)),
            "busy": Out(1),
            "rd_req": Out(stream.Signature(data.StructLayout({"addr": a, "tag": tag}))),
            "rd_resp": In(stream.Signature(data.StructLayout({
                "data": signed(max(geo.element_bits, geo.psum_bits)), "tag": tag}))),
            "wr": Out(stream.Signature(data.StructLayout({
                "addr": a, "data": signed(max(geo.psum_bits, self.y_bits)), "kind": 2}))),
            "perf": Out(data.StructLayout({name: unsigned(params.counter_bits)
                                           for name in LAYER_COUNTERS})),
        })

    def elaborate(self, platform):
        m = Module()
        geo, v = self.geo, self.variant
        accel, iu, ou = self.accelerator, self.input_unit, self.output_unit
        m.submodules.accelerator, m.submodules.input_transform = accel, iu
        m.submodules.output_transform = ou
        side, out_side, taps, outs = v.a, v.m, v.a * v.a, v.m * v.m
        cmd = Signal(self.cmd.payload.shape())
        tap_cmd = Signal(geo.command_layout())
        m.d.comb += [iu.shift.eq(cmd.in_shift), ou.align.eq(cmd.out_align),
                     accel.cmd.payload.eq(tap_cmd)]

        # the port: the accelerator's while it runs a tap, else the sequencer's
        rd = Signal(data.StructLayout({"addr": geo.params.addr_bits,
                                       "lane": len(self.rd_req.payload.tag.lane), "sum": 1}))
        wr = Signal.like(self.wr.payload)
        rd_valid, wr_valid = Signal(), Signal()
        a_rd, a_resp, a_wr = accel.rd_req, accel.rd_resp, accel.wr
        resp = self.rd_resp
        m.d.comb += [a_rd.ready.eq(self.rd_req.ready), a_wr.ready.eq(self.wr.ready),
                     a_resp.valid.eq(resp.valid & accel.busy),
                     a_resp.payload.data.eq(resp.payload.data),
                     self.rd_req.valid.eq(rd_valid | a_rd.valid),
                     self.wr.valid.eq(wr_valid | a_wr.valid),
                     resp.ready.eq(Mux(accel.busy, a_resp.ready, 1))]
        m.d.comb += [getattr(a_resp.payload.tag, f).eq(getattr(resp.payload.tag, f))
                     for f in ("weight", "word", "lane")]
        with m.If(accel.busy):
            m.d.comb += [self.rd_req.payload.addr.eq(a_rd.payload.addr),
                         self.wr.payload.addr.eq(a_wr.payload.addr),
                         self.wr.payload.data.eq(a_wr.payload.data),
                         self.wr.payload.kind.eq(WRITE_KINDS["sum"])]
            m.d.comb += [getattr(self.rd_req.payload.tag, f).eq(getattr(a_rd.payload.tag, f))
                         for f in ("weight", "word", "lane")]
        with m.Else():
            m.d.comb += [self.rd_req.payload.addr.eq(rd.addr), self.wr.payload.eq(wr),
                         self.rd_req.payload.tag.lane.eq(rd.lane),
                         self.rd_req.payload.tag.sum.eq(rd.sum)]

        # sequencer state: lanes issued / received / written, the tile being moved, addresses
        issued, received, written = (Signal(range(taps + 1), name=n)
                                     for n in ("issued", "received", "written"))
        col = Signal(range(side))
        tap = Signal(range(taps))
        tile = Signal(data.ArrayLayout(signed(max(geo.ifmap_bits, geo.psum_bits)), taps))
        j, i, c = (Signal(geo.params.dim_bits, name=n) for n in ("tile_col", "tile_row", "chan"))
        a_bits = geo.params.addr_bits
        index, rd_addr, wr_addr, tile_addr, row_base, chan_base = (
            Signal(a_bits, name=n) for n in ("tile_index", "rd_addr", "wr_addr", "tile_addr",
                                             "row_base", "chan_base"))
        last = Signal()
        tiles_down, tiles_across = tap_cmd.H, tap_cmd.W     # the tap GEMM's grid: tp x tq
        step = out_side.bit_length() - 1                    # m = 2^step

        def collect(m, done_state):
            """Store each read response in its tile lane; after the a²-th go to `done_state`."""
            with m.If(resp.valid):
                for lane in range(taps):
                    with m.If(resp.payload.tag.lane == lane):
                        m.d.sync += tile[lane].eq(resp.payload.data)
                m.d.sync += received.eq(received + 1)
                with m.If(received == taps - 1):
                    m.d.sync += [received.eq(0), issued.eq(0)]
                    m.next = done_state

        def advance_tile(m, channels):
            """Step (chan, tile row, tile col) over channels x tp x tq; `last` marks the end."""
            m.d.sync += [index.eq(index + 1), j.eq(j + 1),
                         last.eq((c == channels - 1) & (i == tiles_down - 1)
                                 & (j == tiles_across - 1))]
            with m.If(j == tiles_across - 1):
                m.d.sync += [j.eq(0), i.eq(i + 1)]
                with m.If(i == tiles_down - 1):
                    m.d.sync += [i.eq(0), c.eq(c + 1)]

        with m.FSM(name="sequencer"):
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(self.cmd.valid):
                    p = self.cmd.payload
                    m.d.sync += [cmd.eq(p), tap_cmd.eq(p.tap), tap.eq(0), index.eq(0),
                                 j.eq(0), i.eq(0), c.eq(0), col.eq(0), issued.eq(0),
                                 received.eq(0), written.eq(0), rd_addr.eq(p.x_base),
                                 tile_addr.eq(p.x_base), row_base.eq(p.x_base),
                                 chan_base.eq(p.x_base),
                                 wr_addr.eq(p.tap.ifmap_base)]
                    m.d.sync += [getattr(self.perf, n).eq(0) for n in LAYER_COUNTERS]
                    m.next = "IN_READ"

            with m.State("IN_READ"):
                m.d.comb += [rd_valid.eq(issued != taps), rd.addr.eq(rd_addr),
                             rd.lane.eq(issued)]
                with m.If(rd_valid & self.rd_req.ready):
                    m.d.sync += [issued.eq(issued + 1), col.eq(col + 1), rd_addr.eq(rd_addr + 1)]
                    with m.If(col == side - 1):
                        m.d.sync += [col.eq(0), rd_addr.eq(rd_addr + cmd.x_row - (side - 1))]
                collect(m, "IN_PUSH")

            with m.State("IN_PUSH"):      # the unit is empty: it takes the tile now
                m.d.comb += [iu.i.valid.eq(1)]
                m.d.comb += [iu.i.payload[n].eq(tile[n]) for n in range(taps)]
                advance_tile(m, tap_cmd.C)
                across = row_base + (cmd.x_row << step)
                plane = chan_base + cmd.x_plane
                with m.If(j != tiles_across - 1):
                    m.d.sync += [tile_addr.eq(tile_addr + out_side),
                                 rd_addr.eq(tile_addr + out_side)]
                with m.Elif(i != tiles_down - 1):
                    m.d.sync += [row_base.eq(across), tile_addr.eq(across), rd_addr.eq(across)]
                with m.Else():
                    m.d.sync += [chan_base.eq(plane), row_base.eq(plane), tile_addr.eq(plane),
                                 rd_addr.eq(plane)]
                m.next = "IN_WRITE"

            with m.State("IN_WRITE"):
                m.d.comb += [wr_valid.eq(iu.o.valid), wr.addr.eq(wr_addr),
                             wr.data.eq(iu.o.payload[written]), wr.kind.eq(WRITE_KINDS["v"])]
                with m.If(wr_valid & self.wr.ready):
                    m.d.sync += [written.eq(written + 1), wr_addr.eq(wr_addr + cmd.v_step)]
                    with m.If(written == taps - 1):
                        m.d.comb += iu.o.ready.eq(1)
                        m.d.sync += [written.eq(0), wr_addr.eq(tap_cmd.ifmap_base + index)]
                        m.next = "IN_READ"
                        with m.If(last):
                            m.next = "TAP_ISSUE"

            with m.State("TAP_ISSUE"):    # the port is ready: no beat of the last phase pends
                m.d.comb += accel.cmd.valid.eq(self.rd_req.ready)
                with m.If(accel.cmd.valid & accel.cmd.ready):
                    m.next = "TAP_WAIT"

            with m.State("TAP_WAIT"):
                with m.If(~accel.busy):
                    perf = self.perf
                    m.d.sync += [getattr(perf, n).eq(getattr(perf, n) + getattr(accel.perf, n))
                                 for n in ACCELERATOR_SUMMED]
                    m.d.sync += [perf.accelerator_cycles.eq(perf.accelerator_cycles
                                                           + accel.perf.cycles),
                                 tap.eq(tap + 1),
                                 tap_cmd.ifmap_base.eq(tap_cmd.ifmap_base + cmd.v_step),
                                 tap_cmd.weight_base.eq(tap_cmd.weight_base + cmd.u_step),
                                 tap_cmd.ofmap_base.eq(tap_cmd.ofmap_base + cmd.m_step)]
                    m.next = "TAP_ISSUE"
                    with m.If(tap == taps - 1):
                        m.d.sync += [tap_cmd.eq(cmd.tap), index.eq(0), j.eq(0), i.eq(0),
                                     c.eq(0), rd_addr.eq(cmd.tap.ofmap_base),
                                     wr_addr.eq(cmd.y_base)]
                        m.next = "OUT_READ"

            with m.State("OUT_READ"):
                m.d.comb += [rd_valid.eq(issued != taps), rd.addr.eq(rd_addr),
                             rd.lane.eq(issued), rd.sum.eq(1)]
                with m.If(rd_valid & self.rd_req.ready):
                    m.d.sync += [issued.eq(issued + 1), rd_addr.eq(rd_addr + cmd.m_step)]
                collect(m, "OUT_PUSH")

            with m.State("OUT_PUSH"):
                m.d.comb += [ou.i.valid.eq(1)]
                m.d.comb += [ou.i.payload[n].eq(tile[n]) for n in range(taps)]
                advance_tile(m, tap_cmd.K)
                m.d.sync += rd_addr.eq(tap_cmd.ofmap_base + index + 1)
                m.next = "OUT_WRITE"

            with m.State("OUT_WRITE"):
                m.d.comb += [wr_valid.eq(ou.o.valid), wr.addr.eq(wr_addr),
                             wr.data.eq(ou.o.payload[written]), wr.kind.eq(WRITE_KINDS["y"])]
                with m.If(wr_valid & self.wr.ready):
                    m.d.sync += [written.eq(written + 1), wr_addr.eq(wr_addr + 1)]
                    with m.If(written == outs - 1):
                        m.d.comb += ou.o.ready.eq(1)
                        m.d.sync += written.eq(0)
                        m.next = "OUT_READ"
                        with m.If(last):
                            m.next = "IDLE"
        m.d.comb += self.busy.eq(~self.cmd.ready)
        self._count(m, geo)
        return m

    def _count(self, m, geo):
        """The units' busy cycles and every beat's bytes on the port, while busy."""
        perf, port_rd, port_wr = self.perf, self.rd_req, self.wr
        tag = port_rd.payload.tag
        rd_bytes = Mux(tag.weight, element_bytes(geo.weight_bits),
                       Mux(tag.sum, element_bytes(geo.psum_bits), element_bytes(geo.ifmap_bits)))
        kind = port_wr.payload.kind
        wr_bytes = Mux(kind == WRITE_KINDS["v"], element_bytes(geo.ifmap_bits),
                       Mux(kind == WRITE_KINDS["y"], element_bytes(self.y_bits),
                           element_bytes(geo.psum_bits)))
        with m.If(self.busy):
            m.d.sync += [
                perf.cycles.eq(perf.cycles + 1),
                perf.input_transform_cycles.eq(perf.input_transform_cycles
                                               + self.input_unit.busy),
                perf.output_transform_cycles.eq(perf.output_transform_cycles
                                                + self.output_unit.busy),
                perf.dram_read_bytes.eq(perf.dram_read_bytes
                                        + Mux(port_rd.valid & port_rd.ready, rd_bytes, 0)),
                perf.dram_write_bytes.eq(perf.dram_write_bytes
                                         + Mux(port_wr.valid & port_wr.ready, wr_bytes, 0)),
            ]
