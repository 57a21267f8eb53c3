"""The SmartDeal code loader: copies one filter block's region (B, bitmap, codes; see
workloads/methods/smartdeal/plan.py) from DRAM into the unit's B, bitmap and code buffers.

It reads the region's bytes in order, one request per cycle when the DRAM takes it: first the
9 B bytes of each filter and the bitmap, whose length it knows; then it waits until every
bitmap byte has come back, counting its ones (the nonzero Ce entries), and reads ceil(nnz/2)
code bytes. `done` is high in the cycle the last byte arrives; `next_base` is then the start
of the next region. Each request's tag names its buffer (`lane`: 0 B, 1 bitmap, 2 codes) and
address (`word`; for B, filter * 16 + byte), so a response is written where it belongs in the
cycle it arrives.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import enum, stream, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.workloads.methods.smartdeal.plan import B_BYTES, ROW_ENTRIES


class Buffer(enum.Enum, shape=2):
    B = 0
    BITMAP = 1
    CODES = 2


class CodeLoader(wiring.Component):
    def __init__(self, request_layout, response_layout, addr_bits: int, dim_bits: int):
        self.word_bits = request_layout["tag"].shape["word"].width
        super().__init__({
            "start": In(1), "done": Out(1),
            "base": In(addr_bits), "filters": In(dim_bits), "rows": In(dim_bits),
            "next_base": Out(addr_bits),
            "req": Out(stream.Signature(request_layout)),
            "resp": In(stream.Signature(response_layout)),
            "wr_en": Out(1), "wr_buffer": Out(Buffer), "wr_word": Out(self.word_bits),
            "wr_data": Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        ab = len(self.base)
        addr, index, pending, nnz = (Signal(ab, name=n) for n in ("addr", "index", "pending", "nnz"))
        b_filter, b_byte = Signal(self.word_bits - 4), Signal(4)
        fixed = Signal(ab)       # B and bitmap bytes of the region
        b_total = Signal(ab)
        m.d.comb += [b_total.eq(B_BYTES * self.filters),
                     fixed.eq(b_total + ((ROW_ENTRIES * self.filters * self.rows + 7) >> 3))]

        arriving = self.resp.valid
        m.d.comb += self.resp.ready.eq(1)
        sent = self.req.valid & self.req.ready
        m.d.sync += pending.eq(pending + sent - arriving)
        all_back = pending == arriving      # nothing is in flight after this cycle
        arriving_ones = Signal(4)
        bitmap_byte = arriving & (self.resp.payload.tag.lane == Buffer.BITMAP)
        m.d.comb += arriving_ones.eq(Mux(bitmap_byte, sum(self.resp.payload.data),
                                         0))
        nnz_now = nnz + arriving_ones
        m.d.sync += nnz.eq(nnz_now)
        code_count = (nnz_now + 1) >> 1

        m.d.comb += [self.wr_en.eq(arriving), self.wr_buffer.eq(self.resp.payload.tag.lane),
                     self.wr_word.eq(self.resp.payload.tag.word),
                     self.wr_data.eq(self.resp.payload.data),
                     self.req.payload.addr.eq(addr)]
        # (tag.weight is set in the sending states: a constant comb assignment becomes an
        # `always @*` without inputs, which Icarus never runs)
        in_b = index < b_total
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [addr.eq(self.base), index.eq(0), nnz.eq(0), b_filter.eq(0),
                                 b_byte.eq(0)]
                    m.next = "FIXED"
            with m.State("FIXED"):
                m.d.comb += [self.req.valid.eq(1), self.req.payload.tag.weight.eq(1),
                             self.req.payload.tag.lane.eq(Mux(in_b, Buffer.B, Buffer.BITMAP)),
                             self.req.payload.tag.word.eq(Mux(in_b, (b_filter << 4) | b_byte,
                                                              index - b_total))]
                with m.If(sent):
                    m.d.sync += [addr.eq(addr + 1), index.eq(index + 1),
                                 b_byte.eq(Mux(b_byte == B_BYTES - 1, 0, b_byte + 1))]
                    with m.If(b_byte == B_BYTES - 1):
                        m.d.sync += b_filter.eq(b_filter + 1)
                    with m.If(index + 1 == fixed):
                        m.next = "WAIT"
            with m.State("WAIT"):       # the bitmap's ones give the number of code bytes
                with m.If(all_back):
                    m.d.sync += index.eq(0)
                    with m.If(code_count == 0):
                        m.d.comb += self.done.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "CODES"
            with m.State("CODES"):
                m.d.comb += [self.req.valid.eq(1), self.req.payload.tag.weight.eq(1),
                             self.req.payload.tag.lane.eq(Buffer.CODES),
                             self.req.payload.tag.word.eq(index)]
                with m.If(sent):
                    m.d.sync += [addr.eq(addr + 1), index.eq(index + 1)]
                    with m.If(index + 1 == code_count):
                        m.next = "DRAIN"
            with m.State("DRAIN"):
                with m.If(all_back):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"
        m.d.comb += self.next_base.eq(addr)
        return m
