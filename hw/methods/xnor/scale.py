"""The XNOR unit's write-back with the scaling stage: popcount sums -> XNOR-Net outputs.

For one output tile (rows m = output pixels, lanes n = filters, output stationary):

1. SCALES: on the first output tile of an n-block (m0 = 0), one DRAM read per filter of the
   tile, alpha_q[n0+n] (tag word 0, lane n), which the registers then hold for the n-block's
   other tiles; on every tile, one read per pixel, K_q[m0+m] (tag word 1, lane m); each held
   until the DRAM takes it, the data landing in registers as they return. WAIT until none is
   outstanding.
2. Per row m: FETCH reads the accumulator row (and the row's in-image tap count is formed from
   its (p, q): taps = rows(p) * cols(q) of the window inside the image); then SEND, one write
   per lane n, each held until the DRAM takes it, of
       y = ((2*popcount_sum - taps*tap_bias) * alpha_q[n] * K_q[m]) >> out_shift
   (arithmetic shift, wrapped to psum_bits) to ofmap_base + (n0+n)*M + m0+m.

(p, q) of the row being written walks 0 .. P*Q-1 over the output tiles (their rows come in m
order, and m starts again at 0 exactly when the walk wraps); `restart` puts it at (0, 0).
`done` is high in the cycle the tile's last write is taken. See workloads/methods/xnor/plan.py.
"""

from __future__ import annotations

from amaranth import Array, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.workloads.methods.xnor.plan import SCALE_BITS

from ...layouts import DesignParams, bits_for

ALPHA, KMAP = 0, 1      # the tag's word field of a scale read


class ScaleWriter(wiring.Component):
    def __init__(self, geo: DesignParams, command_layout, read_response_layout):
        self.geo = geo
        p = geo.params
        super().__init__({
            "cmd": In(command_layout), "restart": In(1), "start": In(1), "done": Out(1),
            "fetch": Out(1),
            "n0": In(p.addr_bits), "m0": In(p.addr_bits), "out_half": In(1),
            "m_size": In(p.dim_bits), "n_size": In(p.dim_bits),
            "acc_addr": Out(bits_for(2 * geo.buffers.acc_half)),
            "acc_data": In(data.ArrayLayout(signed(geo.psum_bits), geo.cols)),
            "req": Out(stream.Signature(geo.read_request_layout())),
            "resp": In(stream.Signature(read_response_layout)),
            "wr": Out(stream.Signature(geo.write_request_layout())),
        })

    def elaborate(self, platform):
        m = Module()
        geo, cmd = self.geo, self.cmd
        p = geo.params
        alpha = Array(Signal(SCALE_BITS, name=f"alpha_{j}") for j in range(geo.cols))
        kval = Array(Signal(SCALE_BITS, name=f"k_{i}") for i in range(geo.rows))
        issued, outstanding = Signal(p.dim_bits), Signal(p.dim_bits)
        row, lane = Signal(p.dim_bits), Signal(p.dim_bits)
        addr, row_addr = Signal(p.addr_bits), Signal(p.addr_bits)
        pos_p, pos_q = Signal(p.dim_bits), Signal(p.dim_bits)

        # scale reads: the first n_size fetch alpha, the next m_size fetch K
        reading_k = Signal()
        index = Signal(p.dim_bits)
        m.d.comb += [reading_k.eq(issued >= self.n_size),
                     index.eq(Mux(reading_k, issued - self.n_size, issued)),
                     self.req.payload.addr.eq(Mux(reading_k, cmd.kmap_base + self.m0,
                                                  cmd.alpha_base + self.n0) + index),
                     self.req.payload.tag.word.eq(reading_k),
                     self.req.payload.tag.lane.eq(index),
                     self.resp.ready.eq(1)]
        sent = self.req.valid & self.req.ready
        m.d.sync += outstanding.eq(outstanding + sent - self.resp.valid)
        with m.If(self.resp.valid):
            value = self.resp.payload.data[:SCALE_BITS]
            with m.If(self.resp.payload.tag.word == KMAP):
                m.d.sync += kval[self.resp.payload.tag.lane].eq(value)
            with m.Else():
                m.d.sync += alpha[self.resp.payload.tag.lane].eq(value)

        # the row's in-image taps and the scaled output of the current lane
        taps = Signal(2 * p.dim_bits)
        m.d.comb += taps.eq(_inside(pos_p, cmd.R, cmd.H, cmd) * _inside(pos_q, cmd.S, cmd.W, cmd))
        popcounts = self.acc_data.as_value().word_select(lane, geo.psum_bits).as_signed()
        dot = Signal(signed(geo.psum_bits + 2 * p.dim_bits + 2))
        scaled = Signal(signed(len(dot) + 2 * SCALE_BITS))
        m.d.comb += [dot.eq(2 * popcounts - taps * cmd.tap_bias),
                     scaled.eq(dot * alpha[lane] * kval[row]),
                     self.wr.payload.data.eq((scaled >> cmd.out_shift)[:geo.psum_bits]),
                     self.wr.payload.addr.eq(addr),
                     self.acc_addr.eq(self.out_half * geo.buffers.acc_half + row)]

        with m.If(self.restart):
            m.d.sync += [pos_p.eq(0), pos_q.eq(0)]
        taken = self.wr.valid & self.wr.ready
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    base = cmd.ofmap_base + self.n0 * cmd.M + self.m0
                    # alpha_q of the tile's filters is still held unless this is the first
                    # output tile of its n-block (m0 = 0)
                    m.d.sync += [issued.eq(Mux(self.m0 == 0, 0, self.n_size)), row.eq(0),
                                 lane.eq(0), addr.eq(base),
                                 row_addr.eq(base)]
                    m.next = "SCALES"
            with m.State("SCALES"):
                m.d.comb += self.req.valid.eq(1)
                with m.If(sent):
                    m.d.sync += issued.eq(issued + 1)
                    with m.If(issued + 1 == self.n_size + self.m_size):
                        m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(outstanding == 0):
                    m.next = "FETCH"
            with m.State("FETCH"):
                m.d.comb += self.fetch.eq(1)
                m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += self.wr.valid.eq(1)
                with m.If(taken):
                    m.d.sync += [lane.eq(lane + 1), addr.eq(addr + cmd.M)]
                    with m.If(lane + 1 == self.n_size):
                        m.d.sync += [lane.eq(0), row.eq(row + 1), addr.eq(row_addr + 1),
                                     row_addr.eq(row_addr + 1)]
                        _step_pixel(m, pos_p, pos_q, cmd)
                        with m.If(row + 1 == self.m_size):
                            m.d.comb += self.done.eq(1)
                            m.next = "IDLE"
                        with m.Else():
                            m.next = "FETCH"
        return m


def controller_output(m: Module, cmd, tile, pp, qq, scale, psum_bits: int):
    """The write stage of the controller's XNOR datapath (Datapath.scale_map_bits, the family's
    CONTROLLER_OUTPUT): a function taking the popcount sum of output pixel (p0 + pp, q0 + qq)
    of the write-back's `tile` to the requantizer's input, (2*sum - taps*tap_bias) * `scale`
    (the pixel's K_q, its scale-map element) wrapped to psum_bits, taps the window's in-image
    taps (workloads/methods/xnor/plan.py; alpha is folded into the requantizer's multiplier)."""
    taps = Signal(2 * len(cmd.R))
    m.d.comb += taps.eq(_inside(tile.p0 + pp, cmd.R, cmd.H, cmd)
                        * _inside(tile.q0 + qq, cmd.S, cmd.W, cmd))

    def scaled(popcounts):
        return ((2 * popcounts - taps * cmd.tap_bias) * scale)[:psum_bits].as_signed()
    return scaled


def _inside(pos, extent, size, cmd):
    """How many of the `extent` window positions starting at pos*stride - padding lie in
    [0, size): min(extent, size - first) - max(0, -first), at least 0."""
    first = pos * cmd.stride - cmd.padding          # signed: a difference
    hi = Mux(size - first < extent, size - first, extent)
    lo = Mux(first < 0, -first, 0)
    return Mux(hi > lo, hi - lo, 0)


def _step_pixel(m, pos_p, pos_q, cmd):
    """(p, q) += 1 over the P x Q outputs, back to (0, 0) after the last."""
    with m.If(pos_q + 1 == cmd.Q):
        m.d.sync += [pos_q.eq(0), pos_p.eq(Mux(pos_p + 1 == cmd.P, 0, pos_p + 1))]
    with m.Else():
        m.d.sync += pos_q.eq(pos_q + 1)
