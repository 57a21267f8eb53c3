"""The SmartDeal unit: a baseline ws systolic array whose weights are rebuilt on chip from
SmartDeal codes, so that only codes, bitmap, B, activations and outputs cross the DRAM port.

Ports as the baseline accelerator's (hw/accelerator.py): `cmd` (the baseline command plus
`ce_rows`, Ce rows per filter; `weight_base` is where the codes start), `busy`, the DRAM port
(`rd_req` / `rd_resp` with tags, data one byte; `wr` for outputs) and `perf` counters. A read's
tag has `weight` = 1 for code bytes (then `lane` names the code buffer, `word` the address) and
0 for ifmap elements (the baseline loader's tag).

Parts: the code loader (codes.py) fills the B, bitmap and code buffers; the rebuild
engine (rebuild.py) writes rebuilt weight rows into the rebuilt-weight buffer; the
baseline loader (hw/loader.py) loads the tile's ifmap block from DRAM and its weights from the
rebuilt-weight buffer (its weight reads are answered on chip, one per cycle, once no DRAM read
is in flight) into the array's weight buffer; the baseline fold engine (hw/fold.py, array.py)
and writer (hw/writer.py) do the rest. Layout and tiling: workloads/methods/smartdeal/plan.py.

Controller, one step after another, from cycle 0 (the cycle after the command is taken):
  NEXT:    finished -> idle next cycle; first tile of a filter block -> start the code
           loader (CODES), and clear the rebuilt rows 0 .. ce_rows-1, one per cycle from the
           next cycle; otherwise start the loader (LOAD).
  CODES:   once the code loader is done and the clear has written its last row: start the
           rebuild engine (REBUILD).
  REBUILD: when it is done: start the loader (LOAD).
  LOAD:    when the loader is done: start the fold (FOLD).
  FOLD:    when the fold is done: the tile's last kd block -> start the writer (WRITE),
           otherwise ADV.
  WRITE:   when the writer is done: ADV.
  ADV:     one cycle: next tile; then NEXT.
`sim/methods/smartdeal.py` times exactly this program.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.arch import ArchSpec
from dlaforge.program import BufferGeometry, element_bytes
from dlaforge.workloads.methods.smartdeal.plan import (BITMAP_READS, B_BYTES, REBUILT_BITS,
                                                      ROW_ENTRIES, SmartDealBuffers, check_arch)

from ...fold import FoldEngine, wire_fold
from ...layouts import DesignParams, GeneratorParams, bits_for
from ...loader import Loader, wire_buffer_writes
from ...tiles import TileCounter
from ...writer import Writer
from .codes import Buffer, CodeLoader
from .rebuild import RebuildEngine

COUNTERS = ("cycles", "busy_cycles", "rebuild_cycles", "rebuilt_rows", "rebuild_shifts",
            "rebuild_adds", "code_buffer_writes", "code_buffer_reads", "rebuilt_writes",
            "rebuilt_reads", "ifmap_writes", "ifmap_reads", "weight_writes", "weight_reads",
            "acc_reads", "acc_writes", "dram_code_bytes", "dram_read_bytes",
            "dram_write_bytes")


def geometry(arch: ArchSpec, params: GeneratorParams = GeneratorParams()
             ) -> tuple[DesignParams, SmartDealBuffers]:
    """The baseline engines' geometry (single-buffered, weights REBUILT_BITS wide) and the
    unit's buffer depths; SpecError if the unit cannot be built."""
    check_arch(arch)
    pe = arch.pe_array
    buffers = SmartDealBuffers.of(arch, REBUILT_BITS)
    Mt = min(buffers.ifmap_words, buffers.acc_words)
    geo = DesignParams(pe.rows, pe.cols, pe.ifmap_bits, REBUILT_BITS, pe.psum_bits,
                       BufferGeometry(ifmap_half=Mt, weight_half=pe.rows, acc_half=Mt),
                       ("ws",), params)
    return geo, buffers


def _copy_tag(to, source):
    """Field by field: the unit's tag and the baseline loader's differ in width."""
    return [getattr(to, name).eq(getattr(source, name)) for name in ("weight", "word", "lane")]


class SmartDealUnit(wiring.Component):
    def __init__(self, arch: ArchSpec, params: GeneratorParams = GeneratorParams()):
        self.arch = arch
        self.geo, self.buffers = geo, b = geometry(arch, params)
        base_tag = geo.tag_layout
        word_bits = max(base_tag["word"].width, bits_for(b.code_bytes),
                        bits_for(b.bitmap_bytes), bits_for(geo.cols) + 4)
        self.tag = data.StructLayout({"weight": 1, "word": word_bits,
                                      "lane": max(base_tag["lane"].width, 2)})
        self.request_layout = data.StructLayout({"addr": params.addr_bits, "tag": self.tag})
        self.response_layout = data.StructLayout({"data": unsigned(8), "tag": self.tag})
        self.command_layout = data.StructLayout({**dict(geo.command_layout().members),
                                                 "ce_rows": params.dim_bits})
        super().__init__({
            "cmd": In(stream.Signature(self.command_layout)),
            "busy": Out(1),
            "rd_req": Out(stream.Signature(self.request_layout)),
            "rd_resp": In(stream.Signature(self.response_layout)),
            "wr": Out(stream.Signature(geo.write_request_layout())),
            "perf": Out(data.StructLayout({n: unsigned(params.counter_bits) for n in COUNTERS})),
        })

    def elaborate(self, platform):
        m = Module()
        geo, b, p = self.geo, self.buffers, self.geo.params
        R, Cc = geo.rows, geo.cols
        cmd = Signal(self.command_layout)
        base_cmd = Signal(geo.command_layout())
        m.d.comb += [getattr(base_cmd, n).eq(getattr(cmd, n))
                     for n in geo.command_layout().members]
        Mt = geo.buffers.ifmap_half

        # buffers
        m.submodules.ifmap_buf = ibuf = memory.Memory(
            shape=data.ArrayLayout(signed(geo.ifmap_bits), R), depth=Mt, init=[])
        m.submodules.weight_buf = wbuf = memory.Memory(
            shape=data.ArrayLayout(signed(REBUILT_BITS), Cc), depth=R, init=[])
        m.submodules.acc_buf = abuf = memory.Memory(
            shape=data.ArrayLayout(signed(geo.psum_bits), Cc), depth=Mt, init=[])
        m.submodules.b_buf = bbuf = memory.Memory(
            shape=data.ArrayLayout(signed(8), B_BYTES), depth=Cc, init=[])
        m.submodules.bitmap_buf = bmbuf = memory.Memory(shape=8, depth=b.bitmap_bytes, init=[])
        m.submodules.code_buf = cbuf = memory.Memory(shape=8, depth=b.code_bytes, init=[])
        m.submodules.rebuilt_buf = rbuf = memory.Memory(
            shape=data.ArrayLayout(signed(REBUILT_BITS), ROW_ENTRIES * Cc),
            depth=b.rebuilt_rows, init=[])

        m.submodules.codes = codes = CodeLoader(self.request_layout, self.response_layout,
                                                p.addr_bits, p.dim_bits)
        m.submodules.rebuild = rebuild = RebuildEngine(
            Cc, REBUILT_BITS, p.dim_bits, bits_for(b.bitmap_bytes), bits_for(b.code_bytes))
        m.submodules.loader = loader = Loader(geo)
        m.submodules.fold = fold = FoldEngine(geo)
        m.submodules.writer = writer = Writer(geo)
        m.submodules.tiles = tc = TileCounter(geo.command_layout(), p.dim_bits, p.addr_bits)
        m.d.comb += tc.cmd.eq(base_cmd)

        # code loader -> B, bitmap and code buffers
        code_ptr = Signal(p.addr_bits)
        filters = Signal(p.dim_bits)
        m.d.comb += [codes.base.eq(code_ptr), codes.filters.eq(filters), codes.rows.eq(cmd.ce_rows)]
        b_wr, bm_wr, c_wr = bbuf.write_port(granularity=1), bmbuf.write_port(), cbuf.write_port()
        m.d.comb += [b_wr.addr.eq(codes.wr_word >> 4),
                     b_wr.en.eq(Mux(codes.wr_en & (codes.wr_buffer == Buffer.B),
                                    1 << codes.wr_word[:4], 0)),
                     bm_wr.addr.eq(codes.wr_word), bm_wr.data.eq(codes.wr_data),
                     bm_wr.en.eq(codes.wr_en & (codes.wr_buffer == Buffer.BITMAP)),
                     c_wr.addr.eq(codes.wr_word), c_wr.data.eq(codes.wr_data),
                     c_wr.en.eq(codes.wr_en & (codes.wr_buffer == Buffer.CODES))]
        m.d.comb += [b_wr.data[j].eq(codes.wr_data) for j in range(B_BYTES)]

        # rebuild engine <- buffers (asynchronous reads); -> rebuilt-weight buffer
        m.d.comb += [rebuild.filters.eq(filters), rebuild.rows.eq(cmd.ce_rows)]
        for i in range(BITMAP_READS):
            port = bmbuf.read_port(domain="comb")
            m.d.comb += [port.addr.eq(rebuild.bitmap_addr[i]), rebuild.bitmap_data[i].eq(port.data)]
        for i in range(2):
            port = cbuf.read_port(domain="comb")
            m.d.comb += [port.addr.eq(rebuild.code_addr[i]), rebuild.code_data[i].eq(port.data)]
        b_rd = bbuf.read_port(domain="comb")
        m.d.comb += [b_rd.addr.eq(rebuild.b_addr), rebuild.b_data.eq(b_rd.data)]
        r_wr = rbuf.write_port(granularity=1)
        clearing, clear_row = Signal(), Signal(p.dim_bits)
        with m.If(clearing):
            m.d.comb += [r_wr.addr.eq(clear_row), r_wr.en.eq(-1)]
        with m.Else():
            m.d.comb += [r_wr.addr.eq(rebuild.wr_row),
                         r_wr.en.eq(Mux(rebuild.wr_en, ((1 << ROW_ENTRIES) - 1)
                                        << (ROW_ENTRIES * rebuild.wr_filter), 0))]
            m.d.comb += [r_wr.data[ROW_ENTRIES * j + c].eq(rebuild.wr_data[c])
                         for j in range(Cc) for c in range(ROW_ENTRIES)]
        with m.If(clearing):
            m.d.sync += clear_row.eq(clear_row + 1)
            with m.If(clear_row + 1 == cmd.ce_rows):
                m.d.sync += clearing.eq(0)

        # the loader: ifmap from DRAM, weights from the rebuilt-weight buffer
        m.d.comb += [loader.cmd.eq(base_cmd), loader.n0.eq(tc.n0), loader.kd0.eq(tc.kd0),
                     loader.half.eq(0), loader.m_size.eq(tc.m_size), loader.k_size.eq(tc.k_size),
                     loader.n_size.eq(tc.n_size), loader.last_k.eq(tc.last_k),
                     loader.last_m.eq(tc.last_m)]
        i_wr, w_wr = ibuf.write_port(granularity=1), wbuf.write_port(granularity=1)
        wire_buffer_writes(m, loader, i_wr, w_wr)
        dram_pending = Signal(p.dim_bits)
        wants_weight = loader.req.payload.tag.weight
        serve = Signal()                    # a weight read answered on chip this cycle
        m.d.comb += [loader.req.ready.eq(Mux(wants_weight, dram_pending == 0, self.rd_req.ready)),
                     serve.eq(loader.req.valid & wants_weight & (dram_pending == 0))]
        # the rebuilt weight of kd = kd0 + word is row kd // 3, entry kd % 3: counters
        row0, sub0, srv_row, srv_sub = (Signal(p.dim_bits, name=n) for n in
                                        ("tile_row", "tile_entry", "serve_row", "serve_entry"))
        r_rd = rbuf.read_port()
        m.d.comb += r_rd.addr.eq(srv_row)
        served, served_index, served_tag = Signal(), Signal(range(ROW_ENTRIES * Cc)), Signal(geo.tag_layout)
        m.d.sync += [served.eq(serve), served_index.eq(ROW_ENTRIES * loader.req.payload.tag.lane + srv_sub),
                     served_tag.eq(loader.req.payload.tag)]
        with m.If(loader.start):
            m.d.sync += [srv_row.eq(row0), srv_sub.eq(sub0)]
        with m.Elif(serve & (loader.req.payload.tag.lane + 1 == tc.n_size)):
            wraps = srv_sub == ROW_ENTRIES - 1
            m.d.sync += [srv_sub.eq(Mux(wraps, 0, srv_sub + 1)), srv_row.eq(srv_row + wraps)]
        from_dram = self.rd_resp.valid & ~self.rd_resp.payload.tag.weight
        with m.If(from_dram):
            m.d.comb += [loader.resp.valid.eq(1),
                         loader.resp.payload.data.eq(
                             self.rd_resp.payload.data[:geo.ifmap_bits].as_signed()),
                         *_copy_tag(loader.resp.payload.tag, self.rd_resp.payload.tag)]
        with m.Elif(served):
            m.d.comb += [loader.resp.valid.eq(1), loader.resp.payload.tag.eq(served_tag),
                         loader.resp.payload.data.eq(r_rd.data.as_value().word_select(
                             served_index, REBUILT_BITS).as_signed())]

        # the DRAM read port: code bytes or ifmap elements (never both in one step)
        m.d.comb += [codes.req.ready.eq(self.rd_req.ready), codes.resp.payload.eq(self.rd_resp.payload),
                     codes.resp.valid.eq(self.rd_resp.valid & self.rd_resp.payload.tag.weight),
                     self.rd_resp.ready.eq(1)]
        with m.If(codes.req.valid):
            m.d.comb += [self.rd_req.valid.eq(1), self.rd_req.payload.eq(codes.req.payload)]
        with m.Else():
            m.d.comb += [self.rd_req.valid.eq(loader.req.valid & ~wants_weight),
                         self.rd_req.payload.addr.eq(loader.req.payload.addr),
                         *_copy_tag(self.rd_req.payload.tag, loader.req.payload.tag)]
        taken = self.rd_req.valid & self.rd_req.ready
        m.d.sync += dram_pending.eq(dram_pending + taken - self.rd_resp.valid)

        # the fold engine and the writer, as in the baseline accelerator
        i_rd, w_rd = ibuf.read_port(), wbuf.read_port()
        a_wr, a_rd, a_rd_out = abuf.write_port(), abuf.read_port(), abuf.read_port()
        wire_fold(m, fold, tc, (i_rd, w_rd, a_rd), a_wr, dataflow=0, half=0, out_half=0)
        m.d.comb += fold.acc_rdata.eq(a_rd.data)
        wiring.connect(m, wiring.flipped(self.wr), writer.wr)
        m.d.comb += [writer.cmd.eq(base_cmd), writer.n0.eq(tc.n0), writer.m0.eq(tc.m0),
                     writer.out_half.eq(0), writer.m_size.eq(tc.m_size),
                     writer.n_size.eq(tc.n_size), a_rd_out.addr.eq(writer.acc_addr),
                     writer.acc_data.eq(a_rd_out.data)]

        # the controller
        codes_done = Signal()
        clear_done = ~clearing | (clear_row + 1 == cmd.ce_rows)
        kt_rows, kt_entries = divmod(R, ROW_ENTRIES)
        with m.FSM(name="control"):
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(self.cmd.valid):
                    m.d.sync += [cmd.eq(self.cmd.payload), code_ptr.eq(self.cmd.payload.weight_base),
                                 row0.eq(0), sub0.eq(0)]
                    m.d.sync += [getattr(self.perf, n).eq(0) for n in COUNTERS]
                    m.d.comb += [tc.restart.eq(1), loader.restart.eq(1)]
                    m.next = "NEXT"
            with m.State("NEXT"):
                with m.If(tc.finished):
                    m.next = "IDLE"
                with m.Elif((tc.m0 == 0) & (tc.kd0 == 0)):
                    m.d.comb += codes.start.eq(1)
                    m.d.sync += [filters.eq(tc.n_size), codes_done.eq(0), clearing.eq(1),
                                 clear_row.eq(0)]
                    m.next = "CODES"
                with m.Else():
                    m.d.comb += loader.start.eq(1)
                    m.next = "LOAD"
            with m.State("CODES"):
                with m.If(codes.done):
                    m.d.sync += [codes_done.eq(1), code_ptr.eq(codes.next_base)]
                with m.If((codes.done | codes_done) & clear_done):
                    m.d.comb += rebuild.start.eq(1)
                    m.next = "REBUILD"
            with m.State("REBUILD"):
                with m.If(rebuild.done):
                    m.d.comb += loader.start.eq(1)
                    m.next = "LOAD"
            with m.State("LOAD"):
                with m.If(loader.done):
                    m.d.comb += fold.start.eq(1)
                    m.next = "FOLD"
            with m.State("FOLD"):
                with m.If(fold.done):
                    with m.If(tc.last_k):
                        m.d.comb += writer.start.eq(1)
                        m.next = "WRITE"
                    with m.Else():
                        m.next = "ADV"
            with m.State("WRITE"):
                with m.If(writer.done):
                    m.next = "ADV"
            with m.State("ADV"):
                m.d.comb += tc.next.eq(1)
                with m.If(tc.last_k):
                    m.d.sync += [row0.eq(0), sub0.eq(0)]
                with m.Else():
                    carry = sub0 + kt_entries >= ROW_ENTRIES
                    m.d.sync += [sub0.eq(Mux(carry, sub0 + kt_entries - ROW_ENTRIES,
                                             sub0 + kt_entries)),
                                 row0.eq(row0 + kt_rows + carry)]
                m.next = "NEXT"
        m.d.comb += self.busy.eq(~self.cmd.ready)

        self._count(m, geo, codes, rebuild, loader, fold, writer, serve, clearing, taken)
        return m

    def _count(self, m, geo, codes, rebuild, loader, fold, writer, serve, clearing, taken):
        perf = self.perf
        code_read = taken & self.rd_req.payload.tag.weight
        ifmap_read = taken & ~self.rd_req.payload.tag.weight
        entries = rebuild.entries
        rebuild_reads = Mux(rebuild.busy, BITMAP_READS, 0) + Mux(rebuild.rebuilt, 2 + B_BYTES, 0)
        adds = Mux(rebuild.rebuilt, entries - 1, 0)
        rebuilt_writes = Mux(clearing, ROW_ENTRIES * geo.cols, Mux(rebuild.rebuilt, ROW_ENTRIES, 0))
        increments = {
            "cycles": 1, "busy_cycles": fold.busy, "rebuild_cycles": rebuild.busy,
            "rebuilt_rows": rebuild.rebuilt, "rebuild_shifts": ROW_ENTRIES * entries,
            "rebuild_adds": ROW_ENTRIES * adds, "code_buffer_writes": codes.wr_en,
            "code_buffer_reads": rebuild_reads, "rebuilt_writes": rebuilt_writes,
            "rebuilt_reads": serve, "ifmap_writes": loader.wr_ifmap,
            "ifmap_reads": fold.ifmap_read * geo.rows, "weight_writes": loader.wr_weight,
            "weight_reads": fold.weight_read * geo.cols,
            "acc_reads": (fold.acc_ren + writer.fetch) * geo.cols,
            "acc_writes": fold.acc_we * geo.cols, "dram_code_bytes": code_read,
            "dram_read_bytes": code_read + ifmap_read * element_bytes(geo.ifmap_bits),
            "dram_write_bytes": (self.wr.valid & self.wr.ready) * element_bytes(geo.psum_bits),
        }
        with m.If(self.busy):
            m.d.sync += [getattr(perf, n).eq(getattr(perf, n) + increments[n]) for n in COUNTERS]
