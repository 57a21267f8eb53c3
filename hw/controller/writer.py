"""The write-back engine: sends an output tile leaving the accumulator to DRAM.

For each accumulator word kb*T + t (filter block kb, pixel t = p*q_size + q < T =
p_size*q_size of the tile, row-major): one FETCH cycle reads the word, then the run of
min(cols, k_size - kb*cols) values goes out in requests of one beat each (the DRAM takes a
request when its channel is free; the next request is offered the cycle after), to base +
((n*P + p0 + p)*Q + q0 + q)*Kt + k0 + kb*cols + chunk*E (the tile's output segment of each
row). The
next word's FETCH is the cycle after the run's last request; `done` is high in the cycle the
last request is taken. The first word's FETCH is the cycle after `start`.

A final tile (its c loop complete) goes to the outputs region, requantized when the command
says so (E = the ofmap beat, one Requantizer per beat lane, generated for the design's
quantizer, with its filter's entry from the table word kb and the table's head: `param_storage`,
workloads/quantizers.py; in a design with a scale map, ControllerParams.scales, each sum first
goes through the family's write stage, `output_stage`, with its pixel's scale-map word
p*q_size + q); otherwise its sums are spilled at psum width to the partial-sum region (E = the
psum beat). A command of packed output codes (`pack_out`, ControllerParams.packs_codes; b =
Datapath.codes bits each) writes each request's E codes as their ceil(E*b/8) bytes, code k of
the pixel's row at bit k*b mod 8 of byte base + pixel*ceil(Kt*b/8) + k*b // 8 (its filter
blocks start on a byte: program.packed_codes_refusal and the mapper's tiles), the bits past
the run's codes 0.

A transforming command (ControllerParams.transforming: Winograd's) spills a tile that is not
final as its a² planes of sums, word by word (kb, t, p, q; t the tap, word (kb*a² + t)*T +
p*q_size + q), at psum width to psum base + (((n*a² + t)*P + p0 + p)*Q + q0 + q)*Kt + k0 +
kb*cols + chunk*E. A final tile it writes back tile pixel by tile pixel (kb, p, q as above):
its FETCH starts the tile stage
(`tile_stage`: a² plane reads from word (kb*a² + t)*T + p*q_size + q, t the tap), TILE waits
until the stage holds the pixel's m x m outputs, then each sub-pixel (i, j) (j inner) inside
the raw raw_P x raw_Q output sends its run as above, to base + ((n*raw_P + (p0 + p)*m + i)*
raw_Q + (q0 + q)*m + j)*Kt + ..., its values the stage's (requantizers as wide as they are);
a sub-pixel outside takes one cycle.
"""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.workloads.quantizers import DEFAULT_QUANTIZER

from ..layouts import bits_for
from ..requant import Requantizer, unpack_params
from .layouts import KINDS, ControllerParams
from .nest import minimum, step_nest
from .tiles import sum_pixel, tile_layout


def output_stage(datapath):
    """The write stage of a datapath with a scale map (Datapath.scale_map_bits): its family's
    CONTROLLER_OUTPUT (hw/methods/<family>/), (m, cmd, tile, pp, qq, scale, psum_bits) -> a
    function from a sum of pixel (pp, qq) of the tile to the requantizer's input."""
    return import_module(f"dlaforge.hw.methods.{datapath.family}").CONTROLLER_OUTPUT


def tile_stage(datapath):
    """The write stage of a transforming datapath (Datapath.tap_transform): its family's
    CONTROLLER_TILE_STAGE (hw/methods/<family>/), (variant, cols, psum_bits, acc_words) -> a
    stage reading a tile pixel's a² planes and holding its m x m outputs."""
    return import_module(f"dlaforge.hw.methods.{datapath.family}").CONTROLLER_TILE_STAGE


def param_word_layout(cols: int, quantizer=DEFAULT_QUANTIZER) -> data.ArrayLayout:
    """A parameter-table word: the entries (quantizer.channel_pieces bytes) of `cols` filters."""
    return data.ArrayLayout(8, quantizer.channel_pieces * cols)


def param_storage(m: Module, geo: ControllerParams, resp, writer) -> None:
    """The parameter table of a requantizing design: the words of `cols` filters' entries
    (acc_half of them, if the quantizer has entries) and the head (if it has one), written by
    the read responses tagged `param` (the head's with word HEAD_WORD = acc_half), read by the
    write-back `writer` (its param_addr, param_data and param_head)."""
    q, b, beat = geo.quantizer, geo.buffers, geo.beats.param
    tag = resp.payload.tag
    ours = resp.valid & (tag.kind == KINDS["param"])
    parts = []
    if q.channel_pieces:
        m.submodules.param_table = table = memory.Memory(
            shape=param_word_layout(geo.cols, q), depth=b.acc_half, init=[])
        mine = ours & (tag.word != b.acc_half) if q.head_pieces else ours
        _write_lanes(m, table.write_port(granularity=1), resp, mine,
                     q.channel_pieces * geo.cols, beat)
        read = table.read_port(domain="comb")
        m.d.comb += [read.addr.eq(writer.param_addr), writer.param_data.eq(read.data)]
    if q.head_pieces:
        m.submodules.param_head = head = memory.Memory(
            shape=data.ArrayLayout(8, q.head_pieces), depth=1, init=[])
        _write_lanes(m, head.write_port(granularity=1), resp, ours & (tag.word == b.acc_half),
                     q.head_pieces, beat)
        read = head.read_port(domain="comb")
        m.d.comb += writer.param_head.eq(read.data)


def _write_lanes(m, port, resp, ours, lanes: int, beat: int) -> None:
    """fetch.beat_write's lane enables, for a response `ours` says is this memory's."""
    tag = resp.payload.tag
    if len(port.addr):
        m.d.comb += port.addr.eq(tag.word)
    for j in range(lanes):
        m.d.comb += [port.data[j].eq(resp.payload.data[j % beat]),
                     port.en[j].eq(ours & (tag.chunk == j // beat) & (j % beat < tag.count))]


class Writer(wiring.Component):
    def __init__(self, geo: ControllerParams):
        self.geo = geo
        db = geo.params.dim_bits
        ports = {
            "cmd": In(geo.command_layout()), "tile": In(tile_layout(db)),
            "start": In(1), "done": Out(1), "fetch": Out(1),
            "acc_addr": Out(bits_for(2 * geo.buffers.acc_half)),
            "acc_data": In(data.ArrayLayout(signed(geo.psum_bits), geo.cols)),
            "wr": Out(stream.Signature(geo.write_request_layout())),
        }
        if geo.scales:      # the scale map's word of the pixel being written
            ports.update(kmap_addr=Out(bits_for(geo.buffers.acc_half)),
                         kmap_data=In(unsigned(geo.datapath.scale_map_bits)))
        if geo.requant:
            q = geo.quantizer
            ports["param_addr"] = Out(bits_for(geo.buffers.acc_half))
            if q.channel_pieces:
                ports["param_data"] = In(param_word_layout(geo.cols, q))
            if q.head_pieces:
                ports["param_head"] = In(data.ArrayLayout(8, q.head_pieces))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        geo, cmd, t = self.geo, self.cmd, self.tile
        Cc, db = geo.cols, geo.params.dim_bits
        beats = geo.beats
        kb, pp, qq, chunk = Signal(db), Signal(db), Signal(db), Signal(bits_for(Cc))
        word = Signal.like(self.acc_addr)
        requant = Signal()
        m.d.comb += requant.eq(cmd.requant & t.final) if geo.requant else requant.eq(0)
        transforming = geo.transforming(cmd)
        tiles = self._tiles(m, kb, pp, qq) if geo.transforms else None
        staged = transforming & t.final     # a transforming command's outputs: the tile stage's
        plane_digits = []                   # ... its spilled planes: a word per tap
        if tiles:
            taps = geo.datapath.tap_transform.taps
            plane = Signal(range(taps))
            plane_digits = [(plane, 1, ~transforming | t.final | (plane == taps - 1))]
        beat = Mux(requant, beats.ofmap, beats.psum)
        run = minimum(Cc, t.k_size - kb * Cc)
        last_chunk = (chunk + 1) * beat >= run
        base = Mux(t.final, cmd.ofmap_base, cmd.psum_base)
        payload = self.wr.payload
        pixel = sum_pixel(cmd, t, pp, qq)
        if tiles:           # a transforming command's output pixel: its sub-pixel's; or its plane
            pixel = Mux(transforming, Mux(t.final, (t.n * cmd.raw_P + tiles.y) * cmd.raw_Q
                                          + tiles.x, sum_pixel(cmd, t, pp, qq, plane, taps)),
                        pixel)
        first, count = t.k0 + kb * Cc + chunk * beat, minimum(beat, run - chunk * beat)
        m.d.comb += [self.acc_addr.eq(t.half_a * geo.buffers.acc_half + word),
                     payload.addr.eq(base + pixel * cmd.Kt + first),
                     payload.count.eq(count),
                     payload.bytes.eq(Mux(requant, beats.bytes["ofmap"], beats.bytes["psum"]))]
        if tiles:           # the tile stage reads the accumulator
            with m.If(staged):
                m.d.comb += self.acc_addr.eq(tiles.stage.acc_addr)
        pack = Signal()         # requantized codes written packed, whole bytes a request
        if geo.packs_codes:
            code_bits = geo.datapath.codes
            m.d.comb += pack.eq(requant & cmd.pack_out)
            with m.If(pack):
                m.d.comb += [payload.addr.eq(base + pixel * ((cmd.Kt * code_bits + 7) >> 3)
                                             + (first * code_bits >> 3)),
                             payload.count.eq((count * code_bits + 7) >> 3),
                             payload.bytes.eq(1)]
        acc = self.acc_data.as_value()
        acc_bits = tiles.stage.out_bits if tiles else geo.psum_bits
        stage = None        # a scale map's write stage: the requantizer's input of a sum
        if geo.scales:
            m.d.comb += self.kmap_addr.eq(pp * t.q_size + qq)
            stage = output_stage(geo.datapath)(m, cmd, t, pp, qq, self.kmap_data,
                                               geo.psum_bits)
        values = []
        for lane in range(beats.write_lanes):
            def lane_of(e):
                return acc.word_select(chunk * e + lane, geo.psum_bits).as_signed()
            value = lane_of(beats.psum)
            if tiles:       # a transforming command's outputs, wrapped to psum_bits
                value = Mux(staged, tiles.value(chunk * beats.psum + lane), value)
            if geo.requant and lane < beats.ofmap:
                q = geo.quantizer
                d = geo.datapath                    # clamped to the command's code width
                m.submodules[f"requantizer{lane}"] = rq = Requantizer(
                    acc_bits, geo.ofmap_bits, q, bool(d.codes), d.signed_codes)
                if d.codes:         # the largest code: unsigned, or signed (two's complement)
                    top = 1 << cmd.out_codes
                    m.d.comb += rq.top.eq((top >> 1 if d.signed_codes else top) - 1)
                entry = (self.param_data.as_value().word_select(chunk * beats.ofmap + lane,
                                                                8 * q.channel_pieces)
                         if q.channel_pieces else None)
                head = self.param_head.as_value() if q.head_pieces else None
                unpack_params(m, rq.param, head, entry, q)
                sums = lane_of(beats.ofmap)
                if tiles:       # a transforming command's: its sub-pixel's output
                    sums = Mux(staged, tiles.value(chunk * beats.ofmap + lane), sums)
                if stage:       # the datapath's own operation's (not its MAC mode's)
                    own = cmd.mode == 0 if geo.datapath.mac_mode else 1
                    sums = Mux(own, stage(sums), sums)
                m.d.comb += [rq.acc.eq(sums), rq.relu.eq(cmd.relu)]
                value = Mux(requant, rq.q, value)
            values.append(value)
        for lane, value in enumerate(values):
            if geo.packs_codes and lane < beats.ofmap * code_bits // 8:
                per = 8 // code_bits        # byte `lane`: codes lane*per .. , past the count 0
                codes = [Mux(lane * per + i < count, values[lane * per + i][:code_bits], 0)
                         for i in range(per)]
                value = Mux(pack, Cat(*codes), value)
            m.d.comb += payload.data[lane].eq(value)
        if geo.requant:
            m.d.comb += self.param_addr.eq(kb)

        taken = self.wr.valid & self.wr.ready

        def next_word():
            """After a word's run (a tile pixel's last sub-pixel's): the next, or done."""
            m.d.sync += word.eq(word + 1)
            m.next = "FETCH"
            with m.If(step_nest(m, [(kb, 1, (kb + 1) * Cc >= t.k_size), *plane_digits,
                                    (pp, 1, pp + 1 == t.p_size),
                                    (qq, 1, qq + 1 == t.q_size)])):
                m.d.sync += word.eq(0)
                m.d.comb += self.done.eq(1)
                m.next = "IDLE"

        def next_run():
            """After a run, or a transforming command's sub-pixel outside the outputs."""
            if not tiles:
                next_word()
                return
            with m.If(staged):
                tiles.step(m)
            with m.If(~staged | tiles.last):
                next_word()

        def send():
            m.d.comb += self.wr.valid.eq(1)
            with m.If(taken):
                m.d.sync += chunk.eq(chunk + 1)
                with m.If(last_chunk):
                    m.d.sync += chunk.eq(0)
                    next_run()

        def fetch_word():
            m.d.comb += self.fetch.eq(1)
            m.next = "SEND"

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.next = "FETCH"
            with m.State("FETCH"):
                if tiles:
                    with m.If(staged):          # the tile stage reads the pixel's planes
                        m.d.comb += tiles.stage.start.eq(1)
                        m.next = "TILE"
                    with m.Else():
                        fetch_word()
                else:
                    fetch_word()
            if tiles:
                with m.State("TILE"):
                    m.d.comb += self.fetch.eq(tiles.stage.acc_read)
                    with m.If(tiles.stage.ready):
                        m.next = "SEND"
            with m.State("SEND"):
                if tiles:
                    with m.If(staged & ~tiles.inside):           # nothing to write
                        next_run()
                    with m.Else():
                        send()
                else:
                    send()
        return m

    def _tiles(self, m, kb, pp, qq) -> SimpleNamespace:
        """A transforming design's write stage (`tile_stage`), reading the planes of the
        write-back's tile pixel (kb, pp, qq): plane t at accumulator word (kb*a² + t)*T +
        pp*q_size + qq of the tile's half; and its sub-pixel (si, sj), output pixel (y, x) =
        ((p0 + pp)*m + si, (q0 + qq)*m + sj), `inside` the raw P x Q, `last` (si = sj = m -
        1), `step` to the next (sj inner), `value(lane)` its output of filter lane `lane`."""
        geo, cmd, t = self.geo, self.cmd, self.tile
        v = geo.datapath.tap_transform
        m.submodules.tile_stage = stage = tile_stage(geo.datapath)(
            v, geo.cols, geo.psum_bits, 2 * geo.buffers.acc_half)
        T = t.p_size * t.q_size
        si, sj = Signal(range(v.m), name="sub_row"), Signal(range(v.m), name="sub_col")
        y, x = (t.p0 + pp) * v.m + si, (t.q0 + qq) * v.m + sj
        m.d.comb += [stage.plane_base.eq(t.half_a * geo.buffers.acc_half
                                         + kb * v.taps * T + pp * t.q_size + qq),
                     stage.plane_stride.eq(T), stage.align.eq(cmd.align),
                     stage.acc_data.eq(self.acc_data)]
        outputs = stage.y.as_value()
        sub = si * v.m + sj

        def value(lane):
            return outputs.word_select(sub * geo.cols + lane, stage.out_bits).as_signed()

        last = (si == v.m - 1) & (sj == v.m - 1)

        def step(m):
            m.d.sync += [sj.eq(Mux(sj == v.m - 1, 0, sj + 1)),
                         si.eq(Mux(last, 0, si + (sj == v.m - 1)))]

        return SimpleNamespace(stage=stage, y=y, x=x, inside=(y < cmd.raw_P) & (x < cmd.raw_Q),
                               last=last, step=step, value=value)
