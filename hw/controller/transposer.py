"""The os fold's transposer: pixel words in, a skewed wavefront of channels out.

The ifmap buffer's words hold `lanes` channels of one pixel; the os array wants, on west lane
i, pixel i's channels one per cycle, lane i one cycle behind lane i-1 (docs/controller.md, "The
os program, cycle by cycle"). `Transposer(lanes, shape)` is `lanes` x `lanes` registers, a row
per lane: `load` with `lane` = i puts `word` into row i at the end of the cycle; every other
cycle a row shifts one element towards `o` (zeros come in behind). `o[i]` is row i's head.

So a block of `lanes` pixel words presented one per cycle, word i at cycle c + i, comes out
transposed and skewed: element j of word i on `o[i]` at cycle c + i + 1 + j. Row i emits its
last element in the cycle the next block's word i arrives (c + i + lanes), so blocks follow
back to back through one set of registers, and a row that gets no word empties itself.
"""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..layouts import bits_for


class Transposer(wiring.Component):
    def __init__(self, lanes: int, shape):
        self.lanes, self.shape = lanes, shape
        vector = data.ArrayLayout(shape, lanes)
        super().__init__({"load": In(1), "lane": In(bits_for(lanes)), "word": In(vector),
                          "o": Out(vector)})

    def elaborate(self, platform):
        m = Module()
        n = self.lanes
        for i in range(n):
            row = [Signal(self.shape, name=f"row{i}_{j}") for j in range(n)]
            with m.If(self.load & (self.lane == i)):
                m.d.sync += [reg.eq(self.word[j]) for j, reg in enumerate(row)]
            with m.Else():
                m.d.sync += [reg.eq(nxt) for reg, nxt in zip(row, row[1:] + [0])]
            m.d.comb += self.o[i].eq(row[0])
        return m
