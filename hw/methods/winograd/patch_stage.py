"""Winograd's input transform as a LOAD stage of the programmable controller (docs/plans/
method_hardware_on_controller.md, "Winograd on the controller"): the DRAM part of the LOAD has
put a tile's raw ifmap window into a staging memory; this stage turns it into the V words the
ifmap buffer holds for the tile.

Patches (cb, pi, qi), cb < ceil(`channels`/rows), pi < `tiles_p`, qi < `tiles_q` (qi
innermost), n_patches of them.
Element (x, y) (row x, column y) of patch (cb, pi, qi) is raw pixel h = top + pi*m + x,
w = left + qi*m + y: staging word (cb*in_rows + h - lo)*in_cols + w - wlo (the window holds
raw rows lo .. lo+in_rows-1 and columns wlo .. wlo+in_cols-1 of channel block after channel
block), or zeros outside the raw `height` x `width` image (the layer's padding, or a patch
hanging past the image's edge). Each of the `rows` lanes of a word (one pixel's channels) goes
through its own InputTransform (units.py): V = Bᵀ d B, each tap's rounding shift and clamp.
V element (x, y) of patch (cb, pi, qi) goes to ifmap word
v_base + ((cb*tiles_p + pi)*a + x) * (tiles_q*a) + qi*a + y: per channel block a "virtual
image" of tiles_p x tiles_q blocks of a x a V words, patch (pi, qi) at block (pi, qi); of
each word only the lanes of the tile's `channels` are written (lane j of block cb where
cb*rows + j < channels: `v_en`, a lane mask).
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.workloads.methods.winograd.plan import SHIFT_BITS
from dlaforge.workloads.methods.winograd.variants import Variant

from ...controller.nest import step_nest
from .units import InputTransform


class PatchStage(wiring.Component):
    """Raw staged window -> V words, one staging read and one V write per cycle.

    Pipeline (s: the cycle `start` is high): patch element e = x*a + y of patch n is read in
    cycle s + 1 + n·a² + e, arrives on `s_data` the next cycle and shifts into the patch
    register; the whole patch enters the lanes' InputTransforms the cycle after its last word
    arrived, comes out of them three cycles later into the V register, which writes its a²
    words in the following a² cycles (while patch n+1 is read and transformed). So the last
    V word is written, with `done`, in cycle s + n_patches·a² + a² + 5 whatever the data and
    padding (elements outside the image read staging word 0 and are replaced by zeros); with
    no patches (a zero count) `done` is in cycle s + 1. `busy` is high from s + 1 through the
    `done` cycle. The geometry, `shift` and `v_base` are held from `start` to `done`; the read
    and write loop counters are back at 0 after every job. Registers beside the lanes' units:
    the patch and V registers, a² words each.
    """

    def __init__(self, variant: Variant, rows: int, bits: int, dim_bits: int,
                 staging_words: int, ifmap_words: int):
        self.variant, self.rows, self.bits = variant, rows, bits
        a = variant.a
        word = data.ArrayLayout(signed(bits), rows)
        super().__init__({
            "start": In(1), "done": Out(1), "busy": Out(1),
            "channels": In(dim_bits),
            "tiles_p": In(dim_bits), "tiles_q": In(dim_bits),
            "top": In(signed(2 * dim_bits + 2)), "left": In(signed(2 * dim_bits + 2)),
            "lo": In(dim_bits), "in_rows": In(dim_bits),
            "wlo": In(dim_bits), "in_cols": In(dim_bits),
            "height": In(dim_bits), "width": In(dim_bits),
            "shift": In(data.ArrayLayout(unsigned(SHIFT_BITS), a * a)),
            "v_base": In(range(ifmap_words)),
            "s_addr": Out(range(staging_words)), "s_data": In(word),
            "v_addr": Out(range(ifmap_words)), "v_data": Out(word), "v_en": Out(rows),
        })

    def patch_nest(self, name):
        """Counters (cb, pi, qi, x, y) over every element of every patch, as step_nest
        digits (outermost first)."""
        db, a = len(self.channels), self.variant.a
        cb, pi, qi = (Signal(db, name=f"{name}_{loop}") for loop in ("cb", "pi", "qi"))
        x, y = Signal(range(a), name=f"{name}_x"), Signal(range(a), name=f"{name}_y")
        return [(cb, 1, (cb + 1) * self.rows >= self.channels),
                (pi, 1, pi + 1 == self.tiles_p),
                (qi, 1, qi + 1 == self.tiles_q), (x, 1, x == a - 1), (y, 1, y == a - 1)]

    def elaborate(self, platform):
        m = Module()
        mm, a, taps = self.variant.m, self.variant.a, self.variant.a ** 2
        word = data.ArrayLayout(signed(self.bits), self.rows)
        active, reading, writing = Signal(), Signal(), Signal()
        empty = (self.channels == 0) | (self.tiles_p == 0) | (self.tiles_q == 0)

        # reads: one element a cycle, staging word 0 for those outside the image
        read = self.patch_nest("read")
        cb, pi, qi, x, y = (reg for reg, _, _ in read)
        h, w = Signal.like(self.top), Signal.like(self.left)
        inside, inside_d = Signal(), Signal()
        m.d.comb += [h.eq(self.top + pi * mm + x), w.eq(self.left + qi * mm + y),
                     inside.eq((h >= 0) & (h < self.height) & (w >= 0) & (w < self.width)),
                     self.s_addr.eq(Mux(inside, (cb * self.in_rows + h - self.lo)
                                        * self.in_cols + w - self.wlo, 0))]
        with m.If(self.start):
            m.d.sync += [active.eq(1), reading.eq(~empty)]
        with m.If(reading):
            with m.If(step_nest(m, read)):
                m.d.sync += reading.eq(0)

        # the patch register: the arriving word shifts in at the top (zeros outside the
        # image); a patch is whole the cycle after its last word arrived
        patch = Signal(data.ArrayLayout(word, taps))
        last_arrives, whole = Signal(), Signal()
        m.d.sync += [inside_d.eq(inside), whole.eq(last_arrives),
                     last_arrives.eq(reading & (x == a - 1) & (y == a - 1))]
        m.d.sync += [patch[n].eq(patch[n + 1]) for n in range(taps - 1)]
        m.d.sync += patch[taps - 1].eq(Mux(inside_d, self.s_data.as_value(), 0))

        # one InputTransform a lane, never stalled; its V comes out into the V register
        units = [InputTransform(self.variant.bt, self.bits) for _ in range(self.rows)]
        for j, unit in enumerate(units):
            m.submodules[f"lane_{j}"] = unit
            m.d.comb += [unit.i.valid.eq(whole), unit.o.ready.eq(1), unit.shift.eq(self.shift)]
            m.d.comb += [unit.i.payload[n].eq(patch[n][j]) for n in range(taps)]
        v = Signal(data.ArrayLayout(word, taps))
        with m.If(units[0].o.valid):
            m.d.sync += writing.eq(1)
            m.d.sync += [v[n][j].eq(unit.o.payload[n])
                         for j, unit in enumerate(units) for n in range(taps)]
        with m.Else():      # the V register shifts its next word down to the write port
            m.d.sync += [v[n].eq(v[n + 1]) for n in range(taps - 1)]

        # writes: one V word a cycle, from the first patch's V to the last
        write = self.patch_nest("write")
        wcb, wpi, wqi, wx, wy = (reg for reg, _, _ in write)
        v_row = (wcb * self.tiles_p + wpi) * a + wx        # in the virtual image of V blocks
        m.d.comb += [self.v_addr.eq(self.v_base + v_row * (self.tiles_q * a) + wqi * a + wy),
                     self.v_data.eq(v[0]), self.busy.eq(active)]
        m.d.comb += [self.v_en[j].eq(writing & (wcb * self.rows + j < self.channels))
                     for j in range(self.rows)]
        with m.If(writing):
            with m.If(step_nest(m, write)):
                m.d.sync += [writing.eq(0), active.eq(0)]
                m.d.comb += self.done.eq(1)
        with m.If(active & empty):
            m.d.sync += active.eq(0)
            m.d.comb += self.done.eq(1)
        return m
