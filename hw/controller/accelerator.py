"""The mapped-program accelerator (ws, os and is; MAC PEs, or a method's datapath's PE:
`datapath_pe`): buffers, engines, and the DRAM
engine's program of docs/controller.md ("The ws program, cycle by cycle"; os and is differ only
in the fold engine, fold.py, which the command's `dataflow` field selects).

Ports as hw/accelerator.py's: `cmd` (a stream of command descriptors, taken while idle),
`busy`, the DRAM port (`rd_req` / `rd_resp` with tags, `wr`) and the `perf` counters.

Buffers (amaranth.lib.memory, two halves each, sizes from program.BufferGeometry): ifmap
(words of `rows` channels), weight (words of `cols` filters), accumulator (words of `cols`
sums); with requantization the parameter table (words of `cols` filters' parameters, one word
per filter block of the write-back's tile).

Sequencing. Three TileWalkers: load (tile i), compute, write-back (tile i-2). The DRAM engine
runs, for i = 0 .. T+1 (T tiles), from its GATE cycle g:
    if i >= 2: wait until the array has finished tile i-2; if tile i-2 leaves: fetch its
      filters' parameters (PARAMS, a final write-back of a requantizing command whose k0 the
      table does not hold), then write it back (WRITE: its first FETCH the cycle PARAMS is
      done, or g);
    if i < T: load tile i (LOAD, started at g), then ADV; else ADV;
ADV steps the walkers and is followed by the next GATE. The compute engine starts tile i the
cycle after both its load and tile i-1's folds are done. Cycle 0 is the cycle after the
command is taken; busy falls the cycle after the last GATE.

Counters (elements; a word read or written counts all its lanes; docs/controller.md,
"Counters"): cycles while busy; busy_cycles of the fold engine; ifmap / weight reads by the
folds; ifmap / weight / accumulator writes of loaded elements (the accumulator's also the
folds' words); accumulator reads by the folds and the write-back's FETCHes; DRAM bytes read and
written (count x element bytes per request).
"""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, wiring

from ..accelerator import accelerator_ports
from ..fold import fold_loaded_tiles
from ..layouts import GeneratorParams
from ..pe import MacPE, with_mac_mode
from .binarize import ScaleMapEngine, magnitude_bits, sign_write
from .fetch import (Fetcher, beat_write, kmap_storage, packed_loads, packed_write,
                    slice_shift)
from .fold import FoldEngine
from .layouts import KINDS, ControllerParams
from .nest import popcount_tree
from .tiles import TileWalker, raw_window
from .writer import Writer, param_storage


def datapath_pe(datapath):
    """The PE class of a datapath (workloads/methods/datapath.py): hw/pe.MacPE for the
    baseline's, else its family's `CONTROLLER_PE` (hw/methods/<family>/), made dual
    (hw/pe.with_mac_mode) for a datapath of dual PEs (Datapath.dual_pe)."""
    if datapath.is_baseline:
        return MacPE
    pe = import_module(f"dlaforge.hw.methods.{datapath.family}").CONTROLLER_PE
    return with_mac_mode(pe) if datapath.dual_pe else pe


class ControllerAccelerator(wiring.Component):
    """`datapath`: the PE its array holds (default: the baseline's MAC)."""

    def __init__(self, arch, params: GeneratorParams = GeneratorParams(), datapath=None):
        self.arch = arch
        self.geo = geo = ControllerParams.of(arch, params, datapath)
        super().__init__(accelerator_ports(geo))

    def elaborate(self, platform):
        m = Module()
        geo = self.geo
        b, db = geo.buffers, geo.params.dim_bits
        cmd = Signal(geo.command_layout())

        walkers = {}
        for name in ("load", "compute", "write"):
            walkers[name] = m.submodules[f"{name}_tiles"] = TileWalker(
                geo.command_layout(), db, geo.slices)
            m.d.comb += walkers[name].cmd.eq(cmd)
        lt, ct, wt = walkers["load"], walkers["compute"], walkers["write"]
        m.submodules.fetch = fetch = Fetcher(geo)
        m.submodules.fold = fold = FoldEngine(geo, pe=datapath_pe(geo.datapath))
        m.submodules.writer = writer = Writer(geo)
        m.d.comb += [fetch.cmd.eq(cmd), fetch.tile.eq(lt.tile), fetch.out_tile.eq(wt.tile),
                     fold.cmd.eq(cmd), fold.tile.eq(ct.tile),
                     writer.cmd.eq(cmd), writer.tile.eq(wt.tile)]
        engine = None       # a binarizing design's scale map (binarize.ScaleMapEngine)
        if geo.scales and geo.binarizes:
            m.submodules.scale_map = engine = ScaleMapEngine(geo)
        signs_written, rebuilt, patched = self._buffers(m, geo, cmd, fetch, fold, writer,
                                                         engine)
        wiring.connect(m, wiring.flipped(self.rd_req), fetch.req)
        wiring.connect(m, wiring.flipped(self.wr), writer.wr)
        m.d.comb += [self.rd_resp.ready.eq(1), fetch.resp_arrived.eq(self.rd_resp.valid)]

        loaded, computed, write_index = (Signal(2 * db + 8, name=x)
                                         for x in ("loaded", "computed", "write_index"))
        lags, written = Signal(2), Signal()     # tiles the write-back walker lags (0 .. 2)
        table_valid, table_k0 = Signal(), Signal(db)
        # the scale map holds the pixels of the last write-back that read it (ControllerParams
        # .scales): a final write-back reads it again when its (n, p0, q0) differ
        kmap_valid, kmap_at = Signal(), Signal(3 * db)

        fold_loaded_tiles(m, fold, ct, loaded, computed, enable=self.busy)

        out = wt.tile
        needs_table = cmd.requant & out.final & ~(table_valid & (table_k0 == out.k0))
        needs_kmap = 0
        # the PARAMS job: the DRAM's part and, in a binarizing design, the scale map's engine
        # (a binarizing command's map is formed on chip, not read); each latched when done
        dram_done, map_done = Signal(), Signal()
        fetched, mapped = fetch.done | dram_done, 1
        if geo.scales:
            needs_kmap = cmd.requant & out.final & ~(kmap_valid
                                                     & (kmap_at == Cat(out.n, out.p0, out.q0)))
            if geo.datapath.mac_mode:       # the MAC mode's outputs are not scaled
                needs_kmap = needs_kmap & (cmd.mode == 0)
            m.d.comb += [fetch.table.eq(needs_table), fetch.kmap.eq(needs_kmap)]
        if engine is not None:
            m.d.comb += [engine.cmd.eq(cmd), engine.tile.eq(out),
                         fetch.kmap.eq(needs_kmap & ~cmd.binarize),
                         engine.start.eq(fetch.start_params & needs_kmap & cmd.binarize)]
            mapped = engine.done | map_done | ~(needs_kmap & cmd.binarize)
            with m.If(engine.done):
                m.d.sync += map_done.eq(1)
        needs_params = needs_table | needs_kmap
        if not geo.requant:
            needs_params = 0
        with m.FSM(name="dram"):
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(self.cmd.valid):
                    m.d.sync += [cmd.eq(self.cmd.payload), loaded.eq(0), computed.eq(0),
                                 write_index.eq(0), lags.eq(0), written.eq(0),
                                 table_valid.eq(0), kmap_valid.eq(0)]
                    m.d.sync += [getattr(self.perf, n).eq(0) for n in self.perf.shape().members]
                    m.d.comb += [w.restart.eq(1) for w in walkers.values()]
                    m.next = "GATE"
            with m.State("GATE"):
                with m.If(wt.finished):
                    m.next = "IDLE"
                with m.Elif((lags == 2) & (computed <= write_index)):
                    pass
                with m.Elif((lags == 2) & out.leaves & ~written):
                    with m.If(needs_params):
                        m.d.comb += fetch.start_params.eq(1)
                        m.next = "PARAMS"
                    with m.Else():
                        m.d.comb += writer.start.eq(1)
                        m.next = "WRITE"
                with m.Elif(~lt.finished):
                    m.d.comb += fetch.start_load.eq(1)
                    m.next = "LOAD"
                with m.Else():
                    m.next = "ADV"
            with m.State("PARAMS"):
                with m.If(fetch.done):
                    m.d.sync += dram_done.eq(1)
                with m.If(fetched & mapped):
                    m.d.sync += [table_valid.eq(1), table_k0.eq(out.k0), kmap_valid.eq(1),
                                 kmap_at.eq(Cat(out.n, out.p0, out.q0)), dram_done.eq(0),
                                 map_done.eq(0)]
                    m.d.comb += writer.start.eq(1)
                    m.next = "WRITE"
            with m.State("WRITE"):
                with m.If(writer.done):
                    m.d.sync += written.eq(1)
                    m.next = "GATE"
            with m.State("LOAD"):
                with m.If(fetch.done):
                    m.d.sync += loaded.eq(loaded + 1)
                    m.next = "ADV"
            with m.State("ADV"):
                m.d.sync += written.eq(0)
                m.d.comb += lt.next.eq(~lt.finished)
                with m.If(lags == 2):
                    m.d.comb += wt.next.eq(1)
                    m.d.sync += write_index.eq(write_index + 1)
                with m.Else():
                    m.d.sync += lags.eq(lags + 1)
                m.next = "GATE"
        m.d.comb += self.busy.eq(~self.cmd.ready)
        self._count(m, geo, fold, writer, cmd, signs_written, rebuilt, patched)
        return m

    def _buffers(self, m, geo, cmd, fetch, fold, writer, engine):
        """The buffers, written by the read responses (lane enables; a binarizing command's
        signs, `sign_write`, with its words' magnitudes; a rebuilding design's code regions,
        through its family's weight stage, `_rebuild_stage`) and the folds, read by the folds,
        the write-back and the scale map's `engine` (None in a design without one). Returns
        the signal high when a binarizing load writes a lane and the weight lanes the rebuild
        writes (each None in a design without it)."""
        b, beats = geo.buffers, geo.beats
        shapes = {"ifmap": (signed(geo.ifmap_bits), geo.rows, b.ifmap_half),
                  "weight": (signed(geo.weight_bits), geo.cols, b.weight_half),
                  "psum": (signed(geo.psum_bits), geo.cols, b.acc_half)}
        mems, signs_written, rebuilt, patched = {}, None, None, None
        for kind, (shape, lanes, half) in shapes.items():
            mems[kind] = m.submodules[f"{kind}_buf"] = memory.Memory(
                shape=data.ArrayLayout(shape, lanes), depth=2 * half, init=[])
            port = mems[kind].write_port(granularity=1)
            # a slice pass takes its slice of the codes out of the load's DRAM elements
            shift = slice_shift(geo, fetch.tile, kind)
            d = geo.datapath
            packed = packed_loads(geo, cmd)
            if kind == "weight" and geo.rebuilds:
                rebuilt = self._rebuild_stage(m, geo, cmd, fetch, port)
            elif kind == "weight" and geo.packs:
                packed_write(m, port, self.rd_resp, kind, lanes, beats.weight, d.weight_bits,
                             d.weight_levels, packed[kind], shift, geo.packed_chunks(kind))
            elif kind == "ifmap" and geo.transforms:    # raw windows, through the staging
                patched = self._patch_stage(m, geo, cmd, fetch, port, shift)
            elif kind == "ifmap" and geo.packs_codes:   # activation codes (sign-extended)
                packed_write(m, port, self.rd_resp, kind, lanes, beats.ifmap, d.codes,
                             d.code_levels, packed[kind], shift, geo.packed_chunks(kind))
            elif kind == "ifmap" and geo.binarizes:     # int8 activations: their signs
                m.submodules.magnitudes = sums = memory.Memory(
                    shape=unsigned(magnitude_bits(geo)), depth=2 * half, init=[])
                signs_written = Signal()
                with m.If(cmd.binarize):
                    m.d.comb += signs_written.eq(sign_write(
                        m, port, self.rd_resp, geo, sums.write_port(),
                        sums.read_port(domain="comb")))
                with m.Else():
                    self._plain_write(m, geo, cmd, port, kind, lanes, shift)
                if engine is not None:
                    read = sums.read_port(domain="comb")
                    m.d.comb += [read.addr.eq(engine.mag_addr), engine.mag_data.eq(read.data)]
            else:
                self._plain_write(m, geo, cmd, port, kind, lanes, shift)
        i_rd, w_rd = mems["ifmap"].read_port(), mems["weight"].read_port()
        a_rd, a_wr = mems["psum"].read_port(), mems["psum"].write_port()
        a_out = mems["psum"].read_port()
        m.d.comb += [i_rd.addr.eq(fold.ifmap_addr), fold.ifmap_data.eq(i_rd.data),
                     w_rd.addr.eq(fold.weight_addr), fold.weight_data.eq(w_rd.data),
                     a_rd.addr.eq(fold.acc_raddr), fold.acc_rdata.eq(a_rd.data),
                     a_wr.addr.eq(fold.acc_waddr), a_wr.en.eq(fold.acc_we),
                     a_wr.data.eq(fold.acc_wdata),
                     a_out.addr.eq(writer.acc_addr), writer.acc_data.eq(a_out.data)]
        if geo.requant:
            param_storage(m, geo, self.rd_resp, writer)
        if geo.scales:
            kmap_storage(m, geo, self.rd_resp, writer, engine)
        return signs_written, rebuilt, patched

    def _rebuild_stage(self, m, geo, cmd, fetch, port):
        """The family's weight stage (hw/methods/<family>'s CONTROLLER_WEIGHT_STAGE: SmartDeal's
        rebuild_stage.RebuildStage) between the weight responses and the weight buffer's
        `port`, started by the fetcher (its `rebuild`); returns the lanes it writes a cycle."""
        stage_class = import_module(
            f"dlaforge.hw.methods.{geo.datapath.family}").CONTROLLER_WEIGHT_STAGE
        m.submodules.rebuild = stage = stage_class(
            geo.cols, geo.code_rows, geo.weight_bits, geo.params.dim_bits,
            len(port.addr))
        load = SimpleNamespace(addr=stage.load_addr, data=stage.load_data, en=stage.load_en)
        beat_write(m, load, self.rd_resp, "weight", geo.cols, geo.beats.weight)
        m.d.comb += [stage.start.eq(fetch.rebuild), fetch.rebuilt.eq(stage.done),
                     fetch.code_rows.eq(stage.code_rows), stage.code_start.eq(cmd.region_fixed),
                     stage.word_base.eq(fetch.rebuild_base),
                     stage.filters.eq(fetch.rebuild_filters), stage.c_size.eq(fetch.tile.c_size),
                     stage.R.eq(cmd.R), stage.S.eq(cmd.S),
                     port.addr.eq(stage.w_addr), port.data.eq(stage.w_data),
                     port.en.eq(stage.w_en)]
        lanes = Signal(range(geo.cols + 1))
        m.d.comb += lanes.eq(popcount_tree(stage.w_en))
        return lanes

    def _patch_stage(self, m, geo, cmd, fetch, port, shift):
        """A transforming design's ifmap path (ControllerParams.transforms): the ifmap
        responses of a transforming command fill the staging buffer (an ifmap half's words,
        the load tile's raw window: tiles.raw_window), which the family's patch stage
        (hw/methods/<family>'s CONTROLLER_PATCH_STAGE), started by the fetcher (`patch`),
        transforms into the tile's words of the ifmap buffer's `port`; another command's
        responses go to `port` as a plain design's. Returns the lanes the patch stage writes
        a cycle."""
        b, db, t = geo.buffers, geo.params.dim_bits, fetch.tile
        v = geo.datapath.tap_transform
        stage_class = import_module(
            f"dlaforge.hw.methods.{geo.datapath.family}").CONTROLLER_PATCH_STAGE
        m.submodules.staging = staging = memory.Memory(
            shape=data.ArrayLayout(signed(geo.ifmap_bits), geo.rows), depth=b.ifmap_half,
            init=[])
        m.submodules.patch_stage = stage = stage_class(v, geo.rows, geo.ifmap_bits, db,
                                                       b.ifmap_half, 2 * b.ifmap_half)
        raw = raw_window(m, cmd, t, v.m, db)
        s_rd = staging.read_port()
        m.d.comb += [fetch.raw.eq(raw), stage.start.eq(fetch.patch),
                     fetch.patched.eq(stage.done),
                     stage.channels.eq(t.c_size),
                     stage.tiles_p.eq(t.p_size), stage.tiles_q.eq(t.q_size),
                     stage.top.eq(raw.top), stage.left.eq(raw.left), stage.lo.eq(raw.lo),
                     stage.in_rows.eq(raw.in_rows), stage.wlo.eq(raw.wlo),
                     stage.in_cols.eq(raw.in_cols), stage.height.eq(cmd.raw_H),
                     stage.width.eq(cmd.raw_W), stage.shift.eq(cmd.v_shift),
                     stage.v_base.eq(t.half_i * b.ifmap_half),
                     s_rd.addr.eq(stage.s_addr), stage.s_data.eq(s_rd.data)]
        with m.If(geo.transforming(cmd)):
            beat_write(m, staging.write_port(granularity=1), self.rd_resp, "ifmap", geo.rows,
                       geo.beats.ifmap)
            m.d.comb += [port.addr.eq(stage.v_addr), port.data.eq(stage.v_data),
                         port.en.eq(stage.v_en)]
        with m.Else():
            self._plain_write(m, geo, cmd, port, "ifmap", geo.rows, shift)
        lanes = Signal(range(geo.rows + 1))
        m.d.comb += lanes.eq(popcount_tree(stage.v_en))
        return lanes

    def _plain_write(self, m, geo, cmd, port, kind, lanes, shift):
        """fetch.beat_write of `kind`'s responses into `port`, at the beat of the command's
        mode: a MAC mode of narrower operands (Datapath.mac_bits) has its own for the ifmap
        and weights."""
        if geo.datapath.mac_bits and kind in ("ifmap", "weight"):
            with m.If(cmd.mode == geo.datapath.mode_of(geo.datapath.mac_op)):
                beat_write(m, port, self.rd_resp, kind, lanes, geo.beat_of(kind, True), shift)
            with m.Else():
                beat_write(m, port, self.rd_resp, kind, lanes, geo.beat_of(kind), shift)
        else:
            beat_write(m, port, self.rd_resp, kind, lanes, geo.beat_of(kind), shift)

    def _count(self, m, geo, fold, writer, cmd, signs_written, rebuilt, patched):
        perf, resp, tag = self.perf, self.rd_resp, self.rd_resp.payload.tag
        arrived = {kind: resp.valid & (tag.kind == code) for kind, code in KINDS.items()}
        lanes = {kind: tag.count for kind in KINDS}     # buffer lanes a response writes
        for kind, packed in packed_loads(geo, cmd).items():
            if geo.packed_chunks(kind) > 1:     # a packed run's, its tag's count: once
                lanes[kind] = Mux(packed & (tag.chunk != 0), 0, tag.count)
        read = self.rd_req.valid & self.rd_req.ready
        write = self.wr.valid & self.wr.ready
        rq, wq = self.rd_req.payload, self.wr.payload
        adds = {
            "cycles": 1, "busy_cycles": fold.busy,
            "ifmap_reads": fold.ifmap_read * geo.rows,
            "weight_reads": fold.weight_read * geo.cols,
            # a binarizing load writes a lane at a time (`signs_written`), a transforming
            # command's ifmap words are the patch stage's (`patched`)
            "ifmap_writes": (Mux(cmd.binarize, signs_written, arrived["ifmap"] * lanes["ifmap"])
                             if geo.binarizes else
                             Mux(geo.transforming(cmd), patched, arrived["ifmap"]
                                 * lanes["ifmap"]) if geo.transforms
                             else arrived["ifmap"] * lanes["ifmap"]),
            # a rebuilding design's weight lanes come from its stage (`rebuilt`)
            "weight_writes": (rebuilt if geo.rebuilds
                              else arrived["weight"] * lanes["weight"]),
            "acc_reads": (fold.acc_ren + writer.fetch) * geo.cols,
            "acc_writes": fold.acc_we * geo.cols + arrived["psum"] * tag.count,
            "dram_read_bytes": read * rq.count * rq.bytes,
            "dram_write_bytes": write * wq.count * wq.bytes,
        }
        with m.If(self.busy):
            m.d.sync += [getattr(perf, n).eq(getattr(perf, n) + v) for n, v in adds.items()]
