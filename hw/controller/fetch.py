"""The read engine: a tile's LOAD job (ifmap, weights, partial sums) and the PARAMS job.

A job is up to five phases, each a loop nest of runs of contiguous DRAM elements, one buffer
word each (docs/controller.md, "Loads"), the words of a phase numbered 0, 1, ... in order:
- ifmap (tile.load_ifmap): cb, h in [lo, lo + in_rows), w in [wlo, wlo + in_cols) (the
  tile's column segment of each row): min(rows, c_size - cb*rows) channels of pixel (n, h, w)
  from c0 + cb*rows, at ifmap_base + ((n*H + h)*W + w)*Ct + c; a command of packed activation
  codes (`pack_in`, ControllerParams.packs_codes; b = Datapath.codes bits each, each pixel's Ct
  codes padded to whole bytes) reads them packed: code c at bit c*b mod 8 of byte ifmap_base +
  ((n*H + h)*W + w)*ceil(Ct*b/8) + c*b // 8, a run the bytes from its first channel's to its
  last's, the tag carrying the first bit and the channel count (`packed_write`); a
  transforming command (ControllerParams.transforming: Winograd's) reads instead the tile's
  raw window (tiles.raw_window: rows h in [lo, lo + in_rows) and columns w of the raw
  raw_H x raw_W image, at ifmap_base + ((n*raw_H + h)*raw_W + w)*Ct + c) into staging word
  (cb*in_rows + h - lo)*in_cols + w - wlo, and once its data is back starts the patch stage
  (`patch`), the job done when the stage is (`patched`); a binarizing
  command (`binarize`,
  ControllerParams.binarizes) reads instead the int8 activations of those words' channels,
  min(64*rows, signs - 64*c) of them from channel 64*c (c = c0 + cb*rows; 64 =
  BINARY_WORD_BITS), in requests of the `act` beat, the tag marking the run's `last`
  (`sign_write` packs them);
- weight (tile.load_weight): kb, r, s, c < c_size: min(cols, k_size - kb*cols) filters from
  k0 + kb*cols, at weight_base + ((r*S + s)*C + c0 + c)*Kt + k; in a design that unpacks
  packed weights (ControllerParams.packs) a command of the datapath's own operation (`mode`
  0) reads them packed, b = Datapath.weight_bits bits each, each (r, s, c) row of the group's
  K filters padded to whole bytes (program.packed_row_bytes): filter k's code at bit
  k*b mod 8 of byte weight_base + ((r*S + s)*C + c0 + c)*row_bytes + k*b // 8, a run the
  bytes from its first filter's to its last's, the tag carrying the first bit (`offset`) and
  the filter count (`count`) for the unpacking write (`packed_write`);
  in a design that rebuilds its weights (ControllerParams.rebuilds) the weight phase reads
  instead, per k-block kb of the tile, its code region (workloads/methods/<family>'s layout:
  SmartDeal's regions.py; a tile's channels are one group's, the mapper's tiles:
  program.Shape.region_channels): byte-row q a run of one byte per filter, min(cols, k_size -
  kb*cols) of them, at weight_base + c0*region_stride + (k0 + kb*cols)*region_pitch +
  q*filters, into code-buffer word q of the rebuild stage; first the region_fixed byte-rows,
  then, once their data is back (no request outstanding), the stage's `code_rows` more; once
  those are back it starts the stage (`rebuild`, at buffer word half_w*weight_half +
  kb*R*S*c_size) and goes on to the next block (or phase) in the cycle after the stage's
  `rebuilt`;
- psum (tile.readback): kb, p < p_size, q < q_size: the sums of pixel (p0 + p, q0 + q), at
  psum_base + ((n*P + p0 + p)*Q + q0 + q)*Kt + k, into the accumulator; a transforming
  command's a² planes (kb, t, p, q; t the tap), at psum_base + (((n*a² + t)*P + p0 + p)*Q +
  q0 + q)*Kt + k (as the writer spills them);
- param (a PARAMS job, the write-back's tile `out_tile`; the table laid out as the design's
  quantizer says, workloads/quantizers.py): first, if the quantizer has a head (per-tensor
  scales), its head_pieces bytes at requant_base, into the head (tag word HEAD_WORD = acc_half);
  then, if it has per-channel entries, kb: the channel_pieces bytes of each of
  min(cols, k_size - kb*cols) filters from k0 + kb*cols, at requant_base + head_pieces +
  channel_pieces*k, into parameter-table word kb. (The default quantizer: no head, 3 bytes per
  filter.)
- kmap (a PARAMS job's, in a design with a scale map, ControllerParams.scales; when the
  accelerator asks for it, `kmap`): p < p_size, q < q_size of the write-back's tile: one
  element, the scale of output pixel (p0 + p, q0 + q), at kmap_base + (n*P + p0 + p)*Q + q0 + q,
  into scale-map word p*q_size + q (`kmap_storage`). The table's phase runs only when the
  accelerator asks for it (`table`).
Each run is cut into requests of the phase's beat (Beats) elements, one request per cycle at
most, each held until the DRAM takes it; the next phase follows without a gap. The data comes
back tagged with its buffer word, chunk and count (the caller writes it, `beat_write`).
`start_load` / `start_params` at cycle s: the first request at s + 1 at the earliest; `done`
once every request is taken and its data is back (t_last + latency + 1), or at s + 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.program import BINARY_WORD_BITS
from dlaforge.workloads.methods.datapath import twos_complement

from .layouts import KINDS, ControllerParams
from .nest import minimum, step_nest
from .tiles import raw_window_layout, sum_pixel, tile_layout

# in this order, each its bit of the mask (kmap only in a design with a scale map)
PHASES = ("ifmap", "weight", "psum", "param", "kmap")


class Fetcher(wiring.Component):
    def __init__(self, geo: ControllerParams):
        self.geo = geo
        db = geo.params.dim_bits
        self.phases = PHASES if geo.scales else PHASES[:-1]
        ports = {
            "cmd": In(geo.command_layout()), "tile": In(tile_layout(db)),
            "out_tile": In(tile_layout(db)),
            "start_load": In(1), "start_params": In(1), "done": Out(1),
            "resp_arrived": In(1),     # a response of this engine's comes back this cycle
            "req": Out(stream.Signature(geo.read_request_layout())),
        }
        if geo.scales:      # what a PARAMS job reads: the table, the tile's scale map
            ports.update(table=In(1), kmap=In(1))
        if geo.transforms:  # the load tile's raw window; the patch stage: start, done
            ports.update(raw=In(raw_window_layout(db)), patch=Out(1), patched=In(1))
        if geo.rebuilds:    # the rebuild stage: start, done, its code rows, where it writes
            ports.update(rebuild=Out(1), rebuilt=In(1), code_rows=In(range(geo.code_rows + 1)),
                         rebuild_base=Out(range(2 * geo.buffers.weight_half)),
                         rebuild_filters=Out(range(geo.cols + 1)))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        geo, cmd, t = self.geo, self.cmd, self.tile
        db, ab = geo.params.dim_bits, geo.params.addr_bits
        phases_of = self.phases
        mask = Signal(len(phases_of))
        blk, a, b, c = (Signal(db, name=x) for x in ("blk", "a", "b", "c"))
        word = Signal(len(self.req.payload.tag.word))
        chunk = Signal(len(self.req.payload.tag.chunk))
        outstanding, running = Signal(db), Signal()
        sent = self.req.valid & self.req.ready
        m.d.sync += outstanding.eq(outstanding + sent - self.resp_arrived)

        R, Cc, b_ = geo.rows, geo.cols, geo.buffers
        u = self.out_tile
        quantizer = geo.quantizer
        H, E = quantizer.head_pieces, quantizer.channel_pieces
        head = Signal()       # the PARAMS job fetches the table's head (its first run)
        filters = minimum(Cc, t.k_size - blk * Cc)
        last_kb = (blk + 1) * Cc >= t.k_size
        weight_run = (filters,
                      cmd.weight_base + ((a * cmd.S + b) * cmd.C + t.c0 + c) * cmd.Kt + t.k0
                      + blk * Cc)
        packed = Signal()       # this command reads packed weights (its PE operation's own)
        if geo.packs:
            bits = geo.datapath.weight_bits
            first_bit = (t.k0 + blk * Cc) * bits
            offset = first_bit[:3]
            row_bytes = (cmd.K * bits + 7) >> 3
            m.d.comb += packed.eq(packed_loads(geo, cmd)["weight"])
            weight_run = (Mux(packed, (offset + filters * bits + 7) >> 3, weight_run[0]),
                          Mux(packed, cmd.weight_base + ((a * cmd.S + b) * cmd.C + t.c0 + c)
                              * row_bytes + (first_bit >> 3), weight_run[1]))
        ifmap_run, first_lane = minimum(R, t.c_size - blk * R), t.c0 + blk * R
        pixel = (t.n * cmd.H + t.lo + a) * cmd.W + t.wlo + b
        ifmap_addr = cmd.ifmap_base + pixel * cmd.Ct + first_lane
        channels = ifmap_run
        if geo.packs_codes:     # packed codes: the bytes from the run's first bit to its last
            code_bits = geo.datapath.codes
            lane_bit = first_lane * code_bits
            in_offset = lane_bit[:3]
            ifmap_run = Mux(cmd.pack_in, (in_offset + channels * code_bits + 7) >> 3,
                            ifmap_run)
            ifmap_addr = Mux(cmd.pack_in, cmd.ifmap_base + pixel * ((cmd.Ct * code_bits + 7)
                                                                   >> 3) + (lane_bit >> 3),
                             ifmap_addr)
        ifmap_word = t.half_i * b_.ifmap_half + word
        ifmap_digits = [(blk, 1, (blk + 1) * R >= t.c_size), (a, 1, a + 1 == t.in_rows),
                        (b, 1, b + 1 == t.in_cols)]
        transforming = geo.transforming(cmd)
        if geo.transforms:  # a Winograd-domain tile: its raw window, into the staging buffer
            raw = self.raw
            raw_pixel = (t.n * cmd.raw_H + raw.lo + a) * cmd.raw_W + raw.wlo + b
            ifmap_addr = Mux(transforming, cmd.ifmap_base + raw_pixel * cmd.Ct + first_lane,
                             ifmap_addr)
            ifmap_word = Mux(transforming, word, ifmap_word)
            ifmap_digits[1:] = [(a, 1, a + 1 == Mux(transforming, raw.in_rows, t.in_rows)),
                                (b, 1, b + 1 == Mux(transforming, raw.in_cols, t.in_cols))]
        psum_pixel = sum_pixel(cmd, t, a, b)
        psum_digits = [(blk, 1, last_kb), (a, 1, a + 1 == t.p_size), (b, 1, b + 1 == t.q_size)]
        if geo.transforms:  # a Winograd-domain tile's planes, a tap each (c: the tap)
            taps = geo.datapath.tap_transform.taps
            psum_pixel = Mux(transforming, sum_pixel(cmd, t, a, b, c, taps), psum_pixel)
            psum_digits.insert(1, (c, 1, ~transforming | (c == taps - 1)))
        beats = {name: getattr(geo.beats, name) for name in phases_of}
        nbytes = dict(geo.beats.bytes)
        if geo.datapath.mac_bits:   # a MAC-mode command's narrower ifmap and weights
            mac = cmd.mode == geo.datapath.mode_of(geo.datapath.mac_op)
            for kind in ("ifmap", "weight"):
                beats[kind] = Mux(mac, geo.beat_of(kind, True), beats[kind])
                nbytes[kind] = Mux(mac, geo.beats.bytes["mac"], nbytes[kind])
        if geo.binarizes:       # int8 activations: the channels of the word's lanes
            first_sign = first_lane * BINARY_WORD_BITS
            ifmap_run = Mux(cmd.binarize, minimum(R * BINARY_WORD_BITS, cmd.signs - first_sign),
                            ifmap_run)
            ifmap_addr = Mux(cmd.binarize, cmd.ifmap_base + pixel * cmd.Ct + first_sign,
                             ifmap_addr)
            beats["ifmap"] = Mux(cmd.binarize, geo.beats.act, beats["ifmap"])
            nbytes["ifmap"] = Mux(cmd.binarize, 1, nbytes["ifmap"])
        phases = {
            "ifmap": (ifmap_run, ifmap_addr, ifmap_word, ifmap_digits),
            "weight": (*weight_run,
                       t.half_w * b_.weight_half + word,
                       [(blk, 1, last_kb), (a, 1, a + 1 == cmd.R), (b, 1, b + 1 == cmd.S),
                        (c, 1, c + 1 == t.c_size)]),
            "psum": (filters, cmd.psum_base + psum_pixel * cmd.Kt + t.k0 + blk * Cc,
                     t.half_a * b_.acc_half + word, psum_digits),
            "param": (E * minimum(Cc, u.k_size - blk * Cc),
                      cmd.requant_base + E * (u.k0 + blk * Cc),
                      blk,
                      [(blk, 1, (blk + 1) * Cc >= u.k_size)]),
        }
        if geo.scales:
            phases["kmap"] = (1, cmd.kmap_base + (u.n * cmd.P + u.p0 + a) * cmd.Q + u.q0 + b,
                              word, [(a, 1, a + 1 == u.p_size), (b, 1, b + 1 == u.q_size)])
        if H:       # the head's run first (a per-tensor quantizer's table)
            run, addr, buffer_word, digits = phases["param"]
            phases["param"] = (Mux(head, H, run), Mux(head, cmd.requant_base, addr + H),
                               Mux(head, b_.acc_half, buffer_word), digits)
        payload = self.req.payload
        region = None
        if geo.rebuilds:    # where the weight phase is in block blk's region
            region = _RegionState(Signal(2, name="region_state"), Signal(name="codes_part"),
                                  cmd.weight_base + t.c0 * cmd.region_stride
                                  + (t.k0 + blk * Cc) * cmd.region_pitch + word * filters)
        with m.Switch(mask):
            for bit, name in enumerate(phases_of):
                run, addr, buffer_word, digits = phases[name]
                beat = beats[name]
                with m.Case("-" * (len(phases_of) - 1 - bit) + "1" + "0" * bit):
                    last_chunk = (chunk + 1) * beat >= run
                    if name == "weight" and geo.rebuilds:
                        self._regions(m, region, payload, sent, chunk, word, blk, mask, bit,
                                      filters, last_kb, outstanding, beat)
                        continue
                    m.d.comb += [self.req.valid.eq(1), payload.addr.eq(addr + chunk * beat),
                                 payload.count.eq(minimum(beat, run - chunk * beat)),
                                 payload.bytes.eq(nbytes[name]),
                                 payload.tag.kind.eq(KINDS[name]),
                                 payload.tag.word.eq(buffer_word), payload.tag.chunk.eq(chunk),
                                 payload.tag.count.eq(payload.count)]
                    if geo.binarizes:
                        m.d.comb += payload.tag.last.eq(last_chunk)
                    if name == "weight" and geo.packs:  # a packed run: its filters, first bit
                        with m.If(packed):
                            m.d.comb += [payload.tag.count.eq(filters),
                                         payload.tag.offset.eq(offset)]
                    if name == "ifmap" and geo.packs_codes:     # ... its channels, first bit
                        with m.If(cmd.pack_in):
                            m.d.comb += [payload.tag.count.eq(channels),
                                         payload.tag.offset.eq(in_offset)]
                    with m.If(sent):
                        m.d.sync += chunk.eq(chunk + 1)
                        with m.If(last_chunk):
                            m.d.sync += [chunk.eq(0), word.eq(word + 1)]
                            if name == "param" and H:
                                with m.If(head):      # the head's run: the entries follow
                                    m.d.sync += [head.eq(0), word.eq(0)]
                                    if not E:
                                        m.d.sync += mask.eq(mask & ~(1 << bit))
                                with m.Else():
                                    with m.If(step_nest(m, digits)):
                                        m.d.sync += [mask.eq(mask & ~(1 << bit)), word.eq(0)]
                            else:
                                with m.If(step_nest(m, digits)):
                                    m.d.sync += [mask.eq(mask & ~(1 << bit)), word.eq(0)]

        if geo.rebuilds:    # a tile's regions (`_regions`)
            m.d.comb += [self.rebuild_base.eq(t.half_w * b_.weight_half
                                              + blk * cmd.R * cmd.S * t.c_size),
                         self.rebuild_filters.eq(filters)]
        fetched = running & (mask == 0) & (outstanding == 0)
        load_ifmap = t.load_ifmap & (t.in_rows != 0) & (t.in_cols != 0)
        if geo.transforms:  # a raw window staged: done when the patch stage is
            patch, patching = Signal(), Signal()
            load_ifmap = Mux(transforming, t.load_ifmap & (raw.in_rows != 0)
                             & (raw.in_cols != 0), load_ifmap)
            with m.If(fetched & patch & ~patching):
                m.d.comb += self.patch.eq(1)
                m.d.sync += patching.eq(1)
            with m.If(self.done):
                m.d.sync += [patch.eq(0), patching.eq(0)]
            with m.If(self.start_load):
                m.d.sync += patch.eq(transforming & load_ifmap)
            fetched = fetched & (~patch | self.patched)
        m.d.comb += self.done.eq(fetched)
        with m.If(self.done):
            m.d.sync += running.eq(0)
        start_mask = [load_ifmap, t.load_weight, t.readback, 0]
        with m.If(self.start_load):
            m.d.sync += [running.eq(1), mask.eq(sum(f << i for i, f in enumerate(start_mask)))]
            if geo.rebuilds:
                m.d.sync += [region.state.eq(SEND), region.codes.eq(0)]
        with m.If(self.start_params):
            table = self.table if geo.scales else 1
            m.d.sync += [running.eq(1), mask.eq(table << phases_of.index("param"))]
            if geo.scales:
                m.d.sync += mask[phases_of.index("kmap")].eq(self.kmap)
            if H:
                m.d.sync += head.eq(table)
        return m

    def _regions(self, m, region, payload, sent, chunk, word, blk, mask, bit, filters, last_kb,
                 outstanding, beat) -> None:
        """The weight phase of a design that rebuilds its weights (the module docstring):
        SEND the byte-rows up to the region's fixed ones (then WAIT for their data, and the
        stage's code rows) or its code rows (then DRAIN), REBUILD until the stage is done."""
        cmd = self.cmd
        end = Mux(region.codes, cmd.region_fixed + self.code_rows, cmd.region_fixed)
        last_chunk = (chunk + 1) * beat >= filters
        with m.Switch(region.state):
            with m.Case(SEND):
                m.d.comb += [self.req.valid.eq(1), payload.addr.eq(region.addr + chunk * beat),
                             payload.count.eq(minimum(beat, filters - chunk * beat)),
                             payload.bytes.eq(1), payload.tag.kind.eq(KINDS["weight"]),
                             payload.tag.word.eq(word), payload.tag.chunk.eq(chunk),
                             payload.tag.count.eq(payload.count)]
                with m.If(sent):
                    m.d.sync += chunk.eq(chunk + 1)
                    with m.If(last_chunk):
                        m.d.sync += [chunk.eq(0), word.eq(word + 1)]
                        with m.If(word + 1 == end):
                            m.d.sync += region.state.eq(Mux(region.codes, DRAIN, WAIT))
            with m.Case(WAIT):      # the bitmap is in: the stage knows the code rows
                with m.If(outstanding == 0):
                    with m.If(self.code_rows == 0):
                        m.d.comb += self.rebuild.eq(1)
                        m.d.sync += region.state.eq(REBUILD)
                    with m.Else():
                        m.d.sync += [region.codes.eq(1), region.state.eq(SEND)]
            with m.Case(DRAIN):
                with m.If(outstanding == 0):
                    m.d.comb += self.rebuild.eq(1)
                    m.d.sync += region.state.eq(REBUILD)
            with m.Case(REBUILD):
                with m.If(self.rebuilt):
                    m.d.sync += [region.state.eq(SEND), region.codes.eq(0), word.eq(0)]
                    with m.If(last_kb):
                        m.d.sync += [mask.eq(mask & ~(1 << bit)), blk.eq(0)]
                    with m.Else():
                        m.d.sync += blk.eq(blk + 1)


SEND, WAIT, DRAIN, REBUILD = range(4)     # the weight phase in a block's code region


@dataclass(frozen=True)
class _RegionState:
    state: Signal       # SEND, WAIT, DRAIN or REBUILD
    codes: Signal       # sending the code byte-rows (else the fixed ones)
    addr: object        # the byte-row's first byte


def kmap_storage(m: Module, geo: ControllerParams, resp, writer, engine=None) -> None:
    """The scale map of a design with one (ControllerParams.scales): acc_half words of
    scale_map_bits, word t the scale of the write-back tile's pixel t, written by the read
    responses tagged `kmap` or, in a binarizing design, by the binarizer's `engine`
    (binarize.ScaleMapEngine), read by the write-back `writer` (its kmap_addr, kmap_data)."""
    bits = geo.datapath.scale_map_bits
    m.submodules.kmap = kmap = memory.Memory(shape=unsigned(bits), depth=geo.buffers.acc_half,
                                             init=[])
    port, tag = kmap.write_port(), resp.payload.tag
    read_en = resp.valid & (tag.kind == KINDS["kmap"])
    addr, value, en = tag.word, resp.payload.data[0][:bits], read_en
    if engine is not None:
        addr, value = Mux(engine.k_en, engine.k_addr, addr), Mux(engine.k_en, engine.k_data,
                                                                 value)
        en = en | engine.k_en
    m.d.comb += [port.addr.eq(addr), port.data.eq(value), port.en.eq(en)]
    read = kmap.read_port(domain="comb")
    m.d.comb += [read.addr.eq(writer.kmap_addr), writer.kmap_data.eq(read.data)]


def beat_write(m: Module, port, resp, kind: str, lanes: int, beat: int, shift=0) -> None:
    """Write the data of response `resp` into buffer write port `port` (words of `lanes`
    lanes, one enable per lane) when its tag names `kind`: lane j takes data[j % beat] (its
    low bits from bit `shift` on: a slice pass's slice of wider codes) when j is in the
    tag's chunk (j // beat) and below its count."""
    tag = resp.payload.tag
    ours = resp.valid & (tag.kind == KINDS[kind])
    m.d.comb += port.addr.eq(tag.word)
    for j in range(lanes):
        m.d.comb += [port.data[j].eq(resp.payload.data[j % beat] >> shift),
                     port.en[j].eq(ours & (tag.chunk == j // beat) & (j % beat < tag.count))]


def slice_shift(geo: ControllerParams, tile, kind: str):
    """The bit a slice pass's slice of the codes a load of `kind` brings starts at in their
    DRAM elements: slice_bits x the tile's slice index of the ifmap or weights (0 for partial
    sums, and in a design without slice passes)."""
    field = {"ifmap": "a_slice", "weight": "w_slice"}.get(kind)
    if not geo.slices or field is None:
        return 0
    return getattr(tile, field) * geo.datapath.slice_bits


def packed_loads(geo, cmd) -> dict:
    """Per load kind the design can read packed (ControllerParams.packs: weights,
    packs_codes: the ifmap), whether command `cmd` reads it so: the weights in the datapath's
    own operation (`mode` 0), the ifmap with `pack_in`."""
    out = {}
    if geo.packs:
        out["weight"] = cmd.mode == 0 if geo.datapath.mac_mode else 1
    if geo.packs_codes:
        out["ifmap"] = cmd.pack_in
    return out


def packed_write(m: Module, port, resp, kind: str, lanes: int, beat: int, bits: int,
                 levels: tuple, packed, shift=0, chunks: int = 1) -> None:
    """Write a packed run's response of `kind` into buffer port `port` (`packed` high: the
    command reads `kind` packed, `bits` bits a value): lane j takes the code at bit
    offset + j*bits of the run's bytes, as its level (`levels`[code]; () the code
    itself; two's complement levels: the code sign-extended), for j below the tag's count
    and, in a design whose runs span up to `chunks` requests of `beat` bytes, when its code
    is in the response's chunk (codes of bits dividing 8 never straddle a byte); otherwise as
    `beat_write` (from bit `shift`)."""
    tag = resp.payload.tag
    flat = Cat(*(resp.payload.data[i][:8] for i in range(beat)))
    ours = resp.valid & (tag.kind == KINDS[kind])
    m.d.comb += port.addr.eq(tag.word)
    for j in range(lanes):
        at, here = tag.offset + j * bits, None      # the code's first bit in the run
        if chunks > 1:      # ... in the response's bytes, if they hold it
            first = tag.chunk * (8 * beat)
            here = (at >= first) & (at < first + 8 * beat)
            at = (at - first)[:(8 * beat - 1).bit_length()]
        code = flat.bit_select(at, bits)
        level = code
        if levels == twos_complement(bits):     # signed values: sign extension, no table
            level = code.as_signed()
        elif levels:
            level = levels[0]
            for value_at, value in enumerate(levels[1:], 1):
                level = Mux(code == value_at, value, level)
        plain_en = (tag.chunk == j // beat) & (j % beat < tag.count)
        data = Mux(packed, level, resp.payload.data[j % beat] >> shift)
        packed_en = j < tag.count if here is None else (j < tag.count) & here
        m.d.comb += [port.data[j].eq(data), port.en[j].eq(ours & Mux(packed, packed_en, plain_en))]
