"""The XNOR unit's binarization pre-pass: int8 activations -> packed sign words and the K map.

DRAM holds the layer's int8 activations eight channels to a 64-bit element: element
(g, h, w) at x_base + (g*H + h)*W + w carries channels 8g .. 8g+7 of pixel (h, w), channel 8g+j
in byte j (two's complement). Two phases, each one DRAM beat at a time (reads are issued back
to back, their data come back in order, and the writes wait until no read is outstanding):

PACK, pixel by pixel (h, w) in raster order, word by word (i = 0 .. words-1): read the word's
  elements (w_bits/8 of them, fewer for the last word), set bit c % w_bits of the word for each
  channel c < C with x >= 0 and add |x| to the pixel's A; write the word to
  ifmap_base + (i*H + h)*W + w (the packed layout the loader reads); after the pixel's last
  word write A = sum_c |x[c, h, w]| to a_base + h*W + w.
KMAP, output pixel by output pixel (p, q): one step per tap (r, s) of the R x S window, a read
  of A[h, w] when (h, w) = (p*stride + r - padding, q*stride + s - padding) is inside the image
  (a skipped step otherwise); sum them; write
      K_q = min((sum * recip_q) >> k_shift, 2**SCALE_BITS - 1)
  to kmap_base + p*Q + q (recip_q ~ 2**(k_shift + f) / (C*R*S) gives K = mean |x| over the
  window, as xnor_ref.k_map, with f fraction bits).
`done` is high in the cycle the last K_q write is taken.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.workloads.methods.xnor.plan import SCALE_BITS

from ...layouts import DesignParams

LANES = 8                # int8 channels per 64-bit DRAM element


class Binarizer(wiring.Component):
    def __init__(self, geo: DesignParams, command_layout, read_response_layout, write_layout,
                 word_bits: int):
        self.geo, self.word_bits = geo, word_bits
        super().__init__({
            "cmd": In(command_layout), "start": In(1), "done": Out(1), "busy": Out(1),
            "req": Out(stream.Signature(geo.read_request_layout())),
            "resp": In(stream.Signature(read_response_layout)),
            "wr": Out(stream.Signature(write_layout)),
        })

    def elaborate(self, platform):
        m = Module()
        cmd, p = self.cmd, self.geo.params
        ab, db = p.addr_bits, p.dim_bits
        beats_per_word = self.word_bits // LANES
        outstanding, issued, returned = Signal(db), Signal(db), Signal(db)
        sent = self.req.valid & self.req.ready
        m.d.sync += outstanding.eq(outstanding + sent - self.resp.valid)
        # data return in order, so the tag (weight 0, then the beat's number) is not needed; it
        # is driven in one piece with a variable because Yosys writes a constant one as an
        # `always @*` block that never runs in Icarus, leaving the port x
        m.d.comb += [self.resp.ready.eq(1), self.req.payload.tag.eq(Cat(Const(0, 1), issued))]
        taken = self.wr.valid & self.wr.ready
        drained = Signal()
        m.d.comb += drained.eq(outstanding == 0)

        # PACK state: pixel, word, the word's first element group, its beat count
        pixel, word, group = Signal(ab), Signal(db), Signal(db)
        groups = (cmd.channels + (LANES - 1)) >> 3          # elements of one pixel (LANES = 8)
        word_beats = Signal(db)
        m.d.comb += word_beats.eq(Mux(groups - group < beats_per_word, groups - group,
                                      beats_per_word))
        packed = Signal(self.word_bits)
        total = Signal(ab)                        # A of the pixel (PACK), window sum (KMAP)
        plane = cmd.H * cmd.W

        # KMAP state: output pixel (p, q) and tap (r, s)
        out_p, out_q, out_pixel = Signal(db), Signal(db), Signal(ab)
        r, s = Signal(db), Signal(db)
        h = Signal(signed(db + 2))
        w = Signal(signed(db + 2))
        inside = Signal()
        m.d.comb += [h.eq(out_p * cmd.stride + r - cmd.padding),
                     w.eq(out_q * cmd.stride + s - cmd.padding),
                     inside.eq((h >= 0) & (h < cmd.H) & (w >= 0) & (w < cmd.W))]
        k_q = Signal(SCALE_BITS)
        product = (total * cmd.recip_q) >> cmd.k_shift
        m.d.comb += k_q.eq(Mux(product >> SCALE_BITS != 0, (1 << SCALE_BITS) - 1, product))

        # a returning element: its int8 lanes' sign bits and magnitudes
        lanes = data.View(data.ArrayLayout(signed(8), LANES), self.resp.payload.data[:64])
        first_channel = (group + returned) * LANES        # while packing: of this response
        kmap = Signal()                                   # the KMAP phase

        def write(addr, value):
            """Offer one element to DRAM in this state (`taken` says it went)."""
            m.d.comb += [self.wr.valid.eq(1), self.wr.payload.addr.eq(addr),
                         self.wr.payload.data.eq(value)]

        with m.FSM(name="binarize") as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [pixel.eq(0), word.eq(0), group.eq(0), issued.eq(0),
                                 returned.eq(0), packed.eq(0), total.eq(0), kmap.eq(0)]
                    m.next = "PACK_READ"
            with m.State("PACK_READ"):
                m.d.comb += [self.req.valid.eq(1),
                             self.req.payload.addr.eq(cmd.x_base + (group + issued) * plane
                                                      + pixel)]
                with m.If(sent):
                    m.d.sync += issued.eq(issued + 1)
                    with m.If(issued + 1 == word_beats):
                        m.next = "PACK_WAIT"
            with m.State("PACK_WAIT"):
                with m.If(returned == word_beats):
                    m.next = "PACK_WORD"
            with m.State("PACK_WORD"):
                write(cmd.ifmap_base + word * plane + pixel, packed)
                with m.If(taken):
                    m.d.sync += [word.eq(word + 1), group.eq(group + word_beats), issued.eq(0),
                                 returned.eq(0), packed.eq(0)]
                    with m.If(word + 1 == cmd.C):              # cmd.C counts packed words
                        m.next = "PACK_A"
                    with m.Else():
                        m.next = "PACK_READ"
            with m.State("PACK_A"):
                write(cmd.a_base + pixel, total)
                with m.If(taken):
                    m.d.sync += [pixel.eq(pixel + 1), word.eq(0), group.eq(0), total.eq(0)]
                    with m.If(pixel + 1 == plane):
                        m.d.sync += [out_p.eq(0), out_q.eq(0), out_pixel.eq(0), r.eq(0),
                                     s.eq(0), kmap.eq(1)]
                        m.next = "KMAP_TAP"
                    with m.Else():
                        m.next = "PACK_READ"
            with m.State("KMAP_TAP"):
                m.d.comb += [self.req.valid.eq(inside),
                             self.req.payload.addr.eq(cmd.a_base + h[:ab] * cmd.W + w[:ab])]
                with m.If(sent | ~inside):
                    with m.If(s + 1 < cmd.S):
                        m.d.sync += s.eq(s + 1)
                    with m.Else():
                        m.d.sync += s.eq(0)
                        with m.If(r + 1 < cmd.R):
                            m.d.sync += r.eq(r + 1)
                        with m.Else():
                            m.d.sync += r.eq(0)
                            m.next = "KMAP_WAIT"
            with m.State("KMAP_WAIT"):
                with m.If(drained):
                    m.next = "KMAP_WRITE"
            with m.State("KMAP_WRITE"):
                write(cmd.kmap_base + out_pixel, k_q)
                with m.If(taken):
                    m.d.sync += [total.eq(0), out_pixel.eq(out_pixel + 1)]
                    with m.If(out_q + 1 == cmd.Q):
                        m.d.sync += [out_q.eq(0), out_p.eq(out_p + 1)]
                    with m.Else():
                        m.d.sync += out_q.eq(out_q + 1)
                    with m.If(out_pixel + 1 == cmd.M):
                        m.d.comb += self.done.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "KMAP_TAP"

        m.d.comb += self.busy.eq(self.start | ~fsm.ongoing("IDLE"))

        # returning data: sign bits and |x| while packing, A values while forming K
        with m.If(self.resp.valid & kmap):
            m.d.sync += total.eq(total + self.resp.payload.data[:ab])
        with m.Elif(self.resp.valid):
            signs, magnitude = [], 0
            for j in range(LANES):
                real = first_channel + j < cmd.channels
                signs.append(real & (lanes[j] >= 0))
                magnitude = magnitude + Mux(real, Mux(lanes[j] < 0, -lanes[j], lanes[j]), 0)
            m.d.sync += [total.eq(total + magnitude), returned.eq(returned + 1),
                         packed.word_select(returned, LANES).eq(Cat(*signs))]
        return m
