"""The binarizer of a binarizing datapath (Datapath.binarizes: XNOR-Net's): a command with
`binarize` reads int8 activations and its load packs their signs into the ifmap buffer's words
of BINARY_WORD_BITS signs (`sign_write`), summing each word's magnitudes; before a final
write-back the scale map of the output tile is formed from those sums (`ScaleMapEngine`):

    K_q[p, q] = min((sum over the window's in-image taps of sum_c |x[c, h, w]|) * recip
                    >> k_shift, 2**scale_map_bits - 1),

XNOR-Net's K = mean |x| over the window in the fixed point the command's `recip` and `k_shift`
give (workloads/methods/xnor/plan.kmap_scale). The sums of one pixel cover all its channels
only when its tile holds them all (program.binarize_refusal).
"""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dlaforge.program import BINARY_WORD_BITS

from ..layouts import bits_for
from .layouts import KINDS, ControllerParams
from .nest import step_nest
from .tiles import tile_layout


def magnitude_bits(geo: ControllerParams) -> int:
    """Bits of a word's sum of |x| over its rows x BINARY_WORD_BITS int8 activations."""
    return bits_for(geo.rows * BINARY_WORD_BITS * 128)


def sign_write(m: Module, port, resp, geo: ControllerParams, magnitudes, read) -> Signal:
    """Write a binarizing load's response (int8 activations of a word's channels, the tag's
    chunk counting `act` of them) into ifmap buffer port `port`: their signs (1 for x >= 0) go
    to bits chunk*act % 64 on of lane chunk*act // 64, held in a register until the response
    that fills the lane's last bit or ends the run (`last`) writes the lane (bits not received
    0: a lane's first response clears the rest); the word's sum of |x| in `magnitudes` (a
    write port, `read` a read port of the same memory) gains theirs, from 0 at the run's first
    response. Returns the signal that is high when a lane is written."""
    tag, w, act = resp.payload.tag, BINARY_WORD_BITS, geo.beats.act
    ours = resp.valid & (tag.kind == KINDS["ifmap"])
    per_lane = w // act                         # responses per lane: a power of two
    lane = tag.chunk >> (per_lane.bit_length() - 1)
    offset = Signal(range(w))
    m.d.comb += offset.eq((tag.chunk & (per_lane - 1)) * act)
    values = [resp.payload.data[i][:8].as_signed() for i in range(act)]     # int8 activations
    kept = [i < tag.count for i in range(act)]
    signs = Cat(*((v >= 0) & k for v, k in zip(values, kept)))
    held, bits, written = Signal(w), Signal(w), Signal()
    m.d.comb += [bits.eq(Mux(offset == 0, 0, held) | (signs << offset)[:w]),
                 written.eq(ours & ((offset + tag.count == w) | tag.last))]
    with m.If(ours):
        m.d.sync += held.eq(bits)
    m.d.comb += port.addr.eq(tag.word)
    for j in range(len(port.data)):
        m.d.comb += [port.data[j].eq(bits), port.en[j].eq(written & (lane == j))]
    total = sum(Mux(k, Mux(v < 0, -v, v), 0) for v, k in zip(values, kept))
    m.d.comb += [read.addr.eq(tag.word), magnitudes.addr.eq(tag.word),
                 magnitudes.data.eq(Mux(tag.chunk == 0, 0, read.data) + total),
                 magnitudes.en.eq(ours)]
    return written


class ScaleMapEngine(wiring.Component):
    """The scale map of the write-back's `tile` (module doc): from `start` (cycle s), per
    output pixel t = pp*q_size + qq a cycle per tap (r, s) and channel block cb (cb
    innermost), reading the magnitude sum of ifmap word (cb*in_rows + h - lo)*in_cols + w -
    wlo of the tile's half (added where (h, w) is in the image), then a cycle storing K_q in
    scale-map word t; `done` in the last pixel's store cycle, s + p_size*q_size*(R*S*CB + 1)
    (program.kmap_cycles)."""

    def __init__(self, geo: ControllerParams):
        self.geo = geo
        db = geo.params.dim_bits
        super().__init__({
            "cmd": In(geo.command_layout()), "tile": In(tile_layout(db)),
            "start": In(1), "done": Out(1),
            "mag_addr": Out(bits_for(2 * geo.buffers.ifmap_half)),
            "mag_data": In(unsigned(magnitude_bits(geo))),
            "k_addr": Out(bits_for(geo.buffers.acc_half)),
            "k_data": Out(unsigned(geo.datapath.scale_map_bits)), "k_en": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        geo, cmd, t = self.geo, self.cmd, self.tile
        db, R = geo.params.dim_bits, geo.rows
        running, storing = Signal(), Signal()
        pp, qq, r, s, cb = (Signal(db, name=x) for x in ("pp", "qq", "r", "s", "cb"))
        total = Signal(32)
        h, w = Signal(signed(2 * db + 2)), Signal(signed(2 * db + 2))
        inside = Signal()
        m.d.comb += [h.eq((t.p0 + pp) * cmd.stride + r - cmd.padding),
                     w.eq((t.q0 + qq) * cmd.stride + s - cmd.padding),
                     inside.eq((h >= 0) & (h < cmd.H) & (w >= 0) & (w < cmd.W)),
                     self.mag_addr.eq(t.half_i * geo.buffers.ifmap_half
                                      + (cb * t.in_rows + h - t.lo) * t.in_cols + w - t.wlo)]
        with m.If(self.start):
            m.d.sync += running.eq(1)
        with m.If(running & ~storing):
            m.d.sync += total.eq(total + Mux(inside, self.mag_data, 0))
            with m.If(step_nest(m, [(r, 1, r + 1 == cmd.R), (s, 1, s + 1 == cmd.S),
                                    (cb, 1, (cb + 1) * R >= t.c_size)])):
                m.d.sync += storing.eq(1)
        top = (1 << geo.datapath.scale_map_bits) - 1
        scaled = (total * cmd.recip) >> cmd.k_shift
        m.d.comb += [self.k_addr.eq(pp * t.q_size + qq), self.k_data.eq(Mux(scaled > top, top,
                                                                           scaled))]
        with m.If(running & storing):
            m.d.comb += self.k_en.eq(1)
            m.d.sync += [total.eq(0), storing.eq(0)]
            with m.If(step_nest(m, [(pp, 1, pp + 1 == t.p_size), (qq, 1, qq + 1 == t.q_size)])):
                m.d.sync += running.eq(0)
                m.d.comb += self.done.eq(1)
        return m
