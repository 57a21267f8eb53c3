"""Winograd's output transform as a write-back stage of the programmable controller
(docs/plans/method_hardware_on_controller.md, Winograd on the controller): the tap GEMMs left,
for each filter block and tile pixel (one Winograd tile), a² tap sums M (the "planes", tap
t = r*a + s row-major), each an accumulator-buffer word of `cols` lanes, one per filter of the
block. The stage reads the a² plane words of one (block, pixel), transforms every lane with an
OutputTransform (hw/methods/winograd/units.py: each tap shifted left by its `align`, then
Y = Aᵀ M A, exact) and holds the m x m outputs in `y` for the writer to send.
"""

from __future__ import annotations

from amaranth import Module, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.workloads.methods.winograd.plan import ALIGN_BITS, OUTPUT_STAGES, output_bits
from dlaforge.workloads.methods.winograd.variants import Variant

from .units import OutputTransform


class TileStage(wiring.Component):
    """The output transform of one (filter block, tile pixel), `cols` lanes.

    Pipeline (s: the cycle `start` is high; `plane_base`, `plane_stride` and `align` held from
    s until `ready`): plane t is read in cycle s + 1 + t, at accumulator word
    plane_base + t*plane_stride (`acc_read` high in cycles s + 1 .. s + a²: a² reads per start;
    the address is a register stepped by the stride, no multiplier). Each word comes back on
    `acc_data` the cycle after its read and shifts into the tile register (a² words of `cols`
    lanes), whole in cycle s + a² + 2, when every lane's OutputTransform takes its tile; its
    three pipeline registers (alignment, column pass, row pass) hold the outputs from cycle
    s + a² + 5. So `ready` rises in cycle s + a² + 5 (`latency` = a² + 5: 21 cycles for F2,
    41 for F4), whatever the data.

    `y` (output (i, j) at y[i*m + j], lane f for filter f) is the units' last register: their
    output streams are taken only by `start`, so they hold the tile, and `ready` (their
    output valid) stays high, until the next start; `ready` is low from the cycle after it.
    `start` comes only while `ready` is high or before the first tile.
    """

    def __init__(self, variant: Variant, cols: int, psum_bits: int, acc_words: int):
        self.taps = variant.a * variant.a
        self.out_bits = output_bits(variant.at, psum_bits)
        self.latency = self.taps + OUTPUT_STAGES + 2    # cycles from start to ready
        self.units = [OutputTransform(variant.at, psum_bits) for _ in range(cols)]
        word = data.ArrayLayout(signed(psum_bits), cols)
        super().__init__({
            "start": In(1), "ready": Out(1),
            "plane_base": In(range(acc_words)), "plane_stride": In(range(acc_words + 1)),
            "align": In(data.ArrayLayout(unsigned(ALIGN_BITS), self.taps)),
            "acc_addr": Out(range(acc_words)), "acc_read": Out(1), "acc_data": In(word),
            "y": Out(data.ArrayLayout(data.ArrayLayout(signed(self.out_bits), cols),
                                      variant.m * variant.m)),
        })

    def elaborate(self, platform):
        m = Module()
        taps = self.taps

        # the reads: plane t in cycle 1 + t after start
        reading = Signal()
        tap = Signal(range(taps))
        addr = Signal.like(self.acc_addr)
        m.d.comb += [self.acc_addr.eq(addr), self.acc_read.eq(reading)]
        with m.If(self.start):
            m.d.sync += [reading.eq(1), tap.eq(0), addr.eq(self.plane_base)]
        with m.Elif(reading):
            m.d.sync += [tap.eq(tap + 1), addr.eq(addr + self.plane_stride)]
            with m.If(tap == taps - 1):
                m.d.sync += reading.eq(0)

        # the words as they come back, shifted into the tile register: plane t at tile[t]
        # once all are in (the cycle after the last arrived, when `whole` is high)
        arriving, last_arriving, whole = Signal(), Signal(), Signal()
        m.d.sync += [arriving.eq(reading), last_arriving.eq(reading & (tap == taps - 1)),
                     whole.eq(last_arriving)]
        tile = Signal(data.ArrayLayout(self.acc_data.shape(), taps))
        with m.If(arriving):
            m.d.sync += [tile[t].eq(tile[t + 1]) for t in range(taps - 1)]
            m.d.sync += tile[taps - 1].eq(self.acc_data)

        # one output transform per lane; its output register is `y`, taken by the next start
        for f, unit in enumerate(self.units):
            m.submodules[f"transform_{f}"] = unit
            m.d.comb += [unit.align.eq(self.align), unit.i.valid.eq(whole),
                         unit.o.ready.eq(self.start)]
            m.d.comb += [unit.i.payload[t].eq(tile[t][f]) for t in range(taps)]
            m.d.comb += [self.y[n][f].eq(unit.o.payload[n]) for n in range(len(self.y))]
        m.d.comb += self.ready.eq(self.units[0].o.valid)
        return m
