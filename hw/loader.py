"""The load engine: fills one half of the ifmap and weight buffers with one tile's blocks.

A tile's A block (ifmap, im2col order) is loaded first, then its B block (weights). Each block
is walked word by word, lane by lane (ws: A words are ifmap rows m, lanes reduction steps kd;
os: A words are kd, lanes m; B words are kd, lanes filters n; is: A as in os but into the
weight buffer, B words filters n, lanes kd, into the ifmap buffer). Per element, one cycle:

- an element inside the ifmap issues a DRAM read request (held until the DRAM is ready);
  its data comes back on `resp` with the tag naming its buffer word and lane, and is written
  in the cycle it arrives;
- an element in the zero padding needs no DRAM read: a zero is written into the buffer, in a
  cycle when no DRAM data arrives (returning data has the buffer's write port first).

The job ends (`done`) in the first cycle in which every element has been issued and no read
is outstanding. The im2col address of A[m, kd] is ifmap_base + (c*H + h)*W + w with
h = p*stride + r - padding, w = q*stride + s - padding, where (p, q) and (c, r, s) are kept as
mixed-radix counters of m and kd; their values at the end of a tile are the next tile's starts.

Bit-sliced passes (a command with hw/layouts.SLICE_FIELDS): the tile's pass reads ifmap slice
plane `plane_a` (plane_a * ifmap_plane elements past ifmap_base) and weight slice plane
`plane_w` (plane_w * weight_plane past weight_base); after a pass's last kd tile (`pass_end`)
the next tile starts the kd walk again at the same m.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import enum, stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import SLICE_FIELDS, DesignParams, bits_for, dataflow_flags
from .tiles import step_digits


class Phase(enum.Enum, shape=2):
    IDLE = 0
    A = 1
    B = 2
    DRAIN = 3


class Loader(wiring.Component):
    def __init__(self, geo: DesignParams):
        self.geo = geo
        p = geo.params
        cmd = geo.command_layout()
        word_bits = bits_for(2 * max(geo.buffers.ifmap_half, geo.buffers.weight_half))
        super().__init__({
            "cmd": In(cmd), "restart": In(1), "start": In(1), "done": Out(1),
            # the tile to load (from the load-side TileCounter)
            "n0": In(p.addr_bits), "kd0": In(p.addr_bits), "half": In(1),
            "m_size": In(p.dim_bits), "k_size": In(p.dim_bits), "n_size": In(p.dim_bits),
            "last_k": In(1), "last_m": In(1),
            "plane_a": In(4), "plane_w": In(4), "pass_end": In(1),
            "req": Out(stream.Signature(geo.read_request_layout())),
            "resp": In(stream.Signature(geo.read_response_layout())),
            # buffer write ports, one element per cycle (lane-enable)
            "wr_ifmap": Out(1), "wr_weight": Out(1), "wr_word": Out(word_bits),
            "wr_lane": Out(bits_for(max(geo.rows, geo.cols))), "wr_data": Out(signed(geo.element_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        geo, cmd = self.geo, self.cmd
        ab, db = geo.params.addr_bits, geo.params.dim_bits
        flags = dataflow_flags(m, geo, cmd.dataflow)
        is_ = flags["is"]
        kd_major = Signal()      # the A block's words are kd (os, is), not m (ws)
        m.d.comb += kd_major.eq(flags["os"] | is_)

        phase = Signal(Phase)
        word, lane = Signal(db), Signal(db)
        outstanding = Signal(db)
        # mixed-radix positions (p, q) of m and (c, r, s) of kd, and the tile's starts
        p, q, c, r, s = (Signal(ab, name=n) for n in "pqcrs")
        sp, sq, sc, sr, ss = (Signal(ab, name=f"start_{n}") for n in "pqcrs")
        b_word, b_addr = Signal(ab), Signal(ab)

        words = Mux(phase == Phase.A, Mux(kd_major, self.k_size, self.m_size),
                    Mux(is_, self.n_size, self.k_size))
        lanes = Mux(phase == Phase.A, Mux(kd_major, self.m_size, self.k_size),
                    Mux(is_, self.k_size, self.n_size))
        # is swaps the buffers: its ifmap block is held (weight buffer), its weights stream
        to_weight = Signal()
        m.d.comb += to_weight.eq(Mux(phase == Phase.A, is_, ~is_))
        ifmap_base, weight_base = cmd.ifmap_base, cmd.weight_base
        if all(name in cmd.shape().members for name in SLICE_FIELDS):
            ifmap_base = ifmap_base + self.plane_a * cmd.ifmap_plane
            weight_base = weight_base + self.plane_w * cmd.weight_plane
        b_lane_step = Mux(is_, 1, cmd.Kd)
        b_word_step = Mux(is_, cmd.Kd, 1)

        # im2col address of the current A element
        h = Signal(signed(ab + 2))
        w = Signal(signed(ab + 2))
        inside = Signal()
        a_addr = Signal(ab)
        m.d.comb += [
            h.eq(p * cmd.stride + r - cmd.padding), w.eq(q * cmd.stride + s - cmd.padding),
            inside.eq((h >= 0) & (h < cmd.H) & (w >= 0) & (w < cmd.W)),
            a_addr.eq(ifmap_base + (c * cmd.H + h[:ab]) * cmd.W + w[:ab]),
        ]

        arriving = self.resp.valid
        m.d.comb += self.resp.ready.eq(1)
        issue = Signal()   # the current element is consumed this cycle
        is_pad = Signal()
        m.d.comb += is_pad.eq((phase == Phase.A) & ~inside)
        m.d.comb += [self.req.payload.addr.eq(Mux(phase == Phase.A, a_addr, b_addr)),
                     self.req.payload.tag.weight.eq(to_weight),
                     self.req.payload.tag.word.eq(self.half * Mux(to_weight, geo.buffers.weight_half,
                                                                  geo.buffers.ifmap_half) + word),
                     self.req.payload.tag.lane.eq(lane)]
        with m.If((phase == Phase.A) | (phase == Phase.B)):
            with m.If(is_pad):
                m.d.comb += issue.eq(~arriving)
            with m.Else():
                m.d.comb += [self.req.valid.eq(1), issue.eq(self.req.ready)]

        # buffer writes: returning data first, else a padding zero
        with m.If(arriving):
            m.d.comb += [self.wr_ifmap.eq(~self.resp.payload.tag.weight),
                         self.wr_weight.eq(self.resp.payload.tag.weight),
                         self.wr_word.eq(self.resp.payload.tag.word),
                         self.wr_lane.eq(self.resp.payload.tag.lane),
                         self.wr_data.eq(self.resp.payload.data)]
        with m.Elif(issue & is_pad):
            m.d.comb += [self.wr_ifmap.eq(~to_weight), self.wr_weight.eq(to_weight),
                         self.wr_word.eq(self.req.payload.tag.word),
                         self.wr_lane.eq(lane), self.wr_data.eq(0)]
        sent = self.req.valid & self.req.ready
        m.d.sync += outstanding.eq(outstanding + sent - arriving)

        # walking the block: lane steps the lane counter, word steps the word counter and
        # puts the lane counter back to the tile's start (ws: lanes kd, words m; os, is: swapped)
        m_pos, k_pos = [p, q], [c, r, s]
        m_lim, k_lim = [None, cmd.Q], [None, cmd.R, cmd.S]
        last_lane = lane + 1 == lanes
        last_word = word + 1 == words

        def step_lane_counter():
            with m.If(kd_major):
                step_digits(m, m_pos, m_lim)
            with m.Else():
                step_digits(m, k_pos, k_lim)

        def step_word_counter(reset_lane):
            with m.If(kd_major):
                step_digits(m, k_pos, k_lim)
                if reset_lane:
                    m.d.sync += [p.eq(sp), q.eq(sq)]
            with m.Else():
                step_digits(m, m_pos, m_lim)
                if reset_lane:
                    m.d.sync += [c.eq(sc), r.eq(sr), s.eq(ss)]

        m.d.comb += self.done.eq((phase == Phase.DRAIN) & (outstanding == 0))
        with m.If(self.restart):
            m.d.sync += [x.eq(0) for x in (sp, sq, sc, sr, ss)]
        with m.Switch(phase):
            with m.Case(Phase.IDLE):
                with m.If(self.start):
                    m.d.sync += [phase.eq(Phase.A), word.eq(0), lane.eq(0),
                                 p.eq(sp), q.eq(sq), c.eq(sc), r.eq(sr), s.eq(ss)]
            with m.Case(Phase.A):
                with m.If(issue):
                    with m.If(~last_lane):
                        m.d.sync += lane.eq(lane + 1)
                        step_lane_counter()
                    with m.Elif(~last_word):
                        m.d.sync += [lane.eq(0), word.eq(word + 1)]
                        step_word_counter(reset_lane=True)
                    with m.Else():
                        step_lane_counter()
                        step_word_counter(reset_lane=False)
                        m.d.sync += [phase.eq(Phase.B), word.eq(0), lane.eq(0),
                                     b_word.eq(weight_base + self.n0 * cmd.Kd + self.kd0),
                                     b_addr.eq(weight_base + self.n0 * cmd.Kd + self.kd0)]
            with m.Case(Phase.B):
                with m.If(issue):
                    with m.If(~last_lane):
                        m.d.sync += [lane.eq(lane + 1), b_addr.eq(b_addr + b_lane_step)]
                    with m.Elif(~last_word):
                        m.d.sync += [lane.eq(0), word.eq(word + 1),
                                     b_word.eq(b_word + b_word_step),
                                     b_addr.eq(b_word + b_word_step)]
                    with m.Else():
                        m.d.sync += phase.eq(Phase.DRAIN)
            with m.Case(Phase.DRAIN):
                with m.If(outstanding == 0):
                    m.d.sync += phase.eq(Phase.IDLE)
                    # the next tile's starts: the end positions, or 0 where a loop wraps
                    # (after a pass's end, the next pass walks the same m block again)
                    with m.If(self.last_k | self.pass_end):
                        m.d.sync += [sc.eq(0), sr.eq(0), ss.eq(0)]
                    with m.Else():
                        m.d.sync += [sc.eq(c), sr.eq(r), ss.eq(s)]
                    with m.If(self.last_k):
                        with m.If(self.last_m):
                            m.d.sync += [sp.eq(0), sq.eq(0)]
                        with m.Else():
                            m.d.sync += [sp.eq(p), sq.eq(q)]
        return m


def wire_buffer_writes(m, loader: Loader, ifmap_write, weight_write) -> None:
    """Connect the loader's element writes to the ifmap and weight buffers' write ports (one
    lane of one word per element, by lane enables)."""
    for port, enable in ((ifmap_write, loader.wr_ifmap), (weight_write, loader.wr_weight)):
        m.d.comb += [port.addr.eq(loader.wr_word),
                     port.en.eq(enable.replicate(len(port.en)) & (1 << loader.wr_lane))]
        m.d.comb += [port.data[j].eq(loader.wr_data) for j in range(len(port.en))]
