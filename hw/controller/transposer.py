"""Turning buffer words into the array's edges and back (docs/controller.md, the os and is
programs): the ifmap buffer's words hold `rows` channels of one pixel and the weight buffer's
`cols` filters of one channel, but an edge of the array wants, lane by lane, one element per
cycle of the other dimension.

`Transposer(lanes, shape, depth)` is `lanes` x `depth` registers, a row per lane: `load` with
`lane` = i puts `word` (depth elements) into row i at the end of the cycle; in every other cycle
a row shifts one element towards `o` (zeros come in behind), or, with `gated`, only in cycles
where `shift` is high. `o[i]` is row i's head.

So words presented one per cycle, word i of a block at cycle c + i, come out transposed and
skewed: element j of word i on `o[i]` at cycle c + i + 1 + j (os's west edge: pixel words in,
channels out; is's west edge: weight words in, filters out). Row i emits its last element
`depth` cycles after its load, so blocks of `lanes` words every max(lanes, depth) cycles follow
through one set of registers, and a row that gets no word empties itself. Gated, it holds a
block until shifted out aligned (is's preload: pixel words in, one channel of every pixel per
cycle on the north edge).

`Collector(lanes, depth, shape)` goes the other way: row j shifts in `i[j]` every cycle (oldest
towards element 0), so a skewed wavefront of `depth` vectors, element f of lane j arriving at
c + f + j, is held whole in row j from cycle c + depth + j, where `row` = j shows it on `o` (is's
south edge: per cycle one filter of every pixel in, per cycle one pixel's word of filters out).
"""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..layouts import bits_for


class Transposer(wiring.Component):
    def __init__(self, lanes: int, shape, depth: int | None = None, gated: bool = False):
        self.lanes, self.shape, self.gated = lanes, shape, gated
        self.depth = lanes if depth is None else depth
        ports = {"load": In(1), "lane": In(bits_for(lanes)),
                 "word": In(data.ArrayLayout(shape, self.depth)),
                 "o": Out(data.ArrayLayout(shape, lanes))}
        if gated:
            ports["shift"] = In(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        shift = self.shift if self.gated else 1
        for i in range(self.lanes):
            row = [Signal(self.shape, name=f"row{i}_{j}") for j in range(self.depth)]
            with m.If(self.load & (self.lane == i)):
                m.d.sync += [reg.eq(self.word[j]) for j, reg in enumerate(row)]
            with m.Elif(shift):
                m.d.sync += [reg.eq(nxt) for reg, nxt in zip(row, row[1:] + [0])]
            m.d.comb += self.o[i].eq(row[0])
        return m


class Collector(wiring.Component):
    def __init__(self, lanes: int, depth: int, shape):
        self.lanes, self.depth, self.shape = lanes, depth, shape
        super().__init__({"i": In(data.ArrayLayout(shape, lanes)), "row": In(bits_for(lanes)),
                          "o": Out(data.ArrayLayout(shape, depth))})

    def elaborate(self, platform):
        m = Module()
        rows = [[Signal(self.shape, name=f"row{j}_{f}") for f in range(self.depth)]
                for j in range(self.lanes)]
        for j, row in enumerate(rows):
            m.d.sync += [reg.eq(nxt) for reg, nxt in zip(row, row[1:] + [self.i[j]])]
        with m.Switch(self.row):
            for j, row in enumerate(rows):
                with m.Case(j):
                    m.d.comb += [self.o[f].eq(reg) for f, reg in enumerate(row)]
        return m
