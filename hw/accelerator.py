"""The accelerator: PE array, double-buffered buffers, three engines and their sequencing.

Ports: `cmd` (stream of command descriptors, taken while idle), `busy`, the DRAM port
(`rd_req` / `rd_resp` read streams with tags, `wr` write stream) and `perf` counters.

Buffers (amaranth.lib.memory, sized by accelerator_plan): ifmap (words of `rows` elements),
weight (words of `cols`), accumulator (words of `cols` partial sums); each in two halves. Under
is the two input buffers swap roles: the weight buffer holds the tile's ifmap block and the
ifmap buffer streams its weights.
Tile i uses ifmap/weight half i % 2; output tile j (the tiles of one n, m block) uses
accumulator half j % 2.

Sequencing. The DRAM engine is one in-order program over tiles; for i = 0, 1, ..., T+1:
    GATE(i):  if i >= 2, wait until the array has finished tile i-2;
              if i >= 2 and tile i-2 is its output's last kd tile: write that output back
              (WRITE), after fetching the parameters of its n-block's filters (PARAMS) if
              the command requantizes and the output is its n-block's first (m-block 0)
              if i < T: load tile i (LOAD)
The compute engine runs tile i as soon as it is loaded and tile i-1 is done. Loading tile i
waits for tile i-2 (the same buffer half); an output's write-back precedes the load that could
start its accumulator half's next user, so no other interlock is needed. Every state of the
DRAM engine lasts at least one cycle (GATE, PARAMS, WRITE, LOAD, ADV); `sim/cycle/rtl_timing.py`
times exactly this program.

Requantization (designs with DesignParams.requant, see hw/layouts.py and hw/requant.py): the
ParamTable shares the DRAM read port with the loader (they never issue in the same state);
responses tagged `param` go to the table, the others to the loader. The writer requantizes
with the table's entries; outputs are then ofmap_bits wide in DRAM.

Bit-sliced passes (only with GeneratorParams.slice_bits, see hw/layouts.py): the tile counters
walk every output tile's kd blocks once per slice pair, and the first fold of each diagonal
after the first adds its sums to the accumulator rows shifted left by slice_bits (Horner's
rule), so the write-back sends Σ 2^(slice_bits·(i+j)) · Σ a_i·w_j.

Counters (elements unless named bytes): cycles while busy, busy_cycles of the array, buffer
reads and writes per buffer, DRAM bytes read and written (a parameter element is one byte,
an output element_bytes(ofmap_bits) when requantized, else element_bytes(psum_bits)). The
parameter table's reads are not buffer accesses.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.program import element_bytes
from dlaforge.workloads.methods.accelerator_plan import Gemm, RtlPlan

from .fold import FoldEngine, fold_loaded_tiles, wire_fold
from .layouts import DesignParams, GeneratorParams
from .loader import Loader, wire_buffer_writes
from .pe import MacPE
from .requant import ParamTable
from .tiles import TileCounter
from .writer import Writer


def buildable(arch: ArchSpec, params: GeneratorParams = GeneratorParams()) -> DesignParams:
    """The geometry of `arch`'s accelerator, or SpecError if the RTL cannot build it (no ws or
    os dataflow, or buffers too small for one tile). Call it before constructing an
    Accelerator: Amaranth warns about an elaboratable whose constructor failed."""
    geo = DesignParams.of(arch, params)
    if not geo.dataflows:
        raise SpecError(f"arch {arch.name!r} has no dataflow the RTL builds (ws, os, is)")
    for dataflow in geo.dataflows:
        RtlPlan.make(arch, dataflow, Gemm.matmul(1, 1, 1))
    return geo


def buffer_ports(m: Module, geo: DesignParams) -> tuple:
    """The double-buffered ifmap, weight and accumulator buffers (each two halves deep), added
    to `m`, and their ports: ifmap and weight write (lane enables) and read, accumulator write,
    read by the fold engine and read by the writer."""
    b = geo.buffers
    m.submodules.ifmap_buf = ibuf = memory.Memory(
        shape=data.ArrayLayout(signed(geo.ifmap_bits), geo.rows), depth=2 * b.ifmap_half,
        init=[])
    m.submodules.weight_buf = wbuf = memory.Memory(
        shape=data.ArrayLayout(signed(geo.weight_bits), geo.cols), depth=2 * b.weight_half,
        init=[])
    m.submodules.acc_buf = abuf = memory.Memory(
        shape=data.ArrayLayout(signed(geo.psum_bits), geo.cols), depth=2 * b.acc_half, init=[])
    return (ibuf.write_port(granularity=1), wbuf.write_port(granularity=1), ibuf.read_port(),
            wbuf.read_port(), abuf.write_port(), abuf.read_port(), abuf.read_port())


def accelerator_ports(geo) -> dict:
    """The signature of an accelerator top with geometry `geo` (its command, read and write
    payload and counter layouts): the command stream, `busy`, the DRAM port and the counters."""
    return {
        "cmd": In(stream.Signature(geo.command_layout())),
        "busy": Out(1),
        "rd_req": Out(stream.Signature(geo.read_request_layout())),
        "rd_resp": In(stream.Signature(geo.read_response_layout())),
        "wr": Out(stream.Signature(geo.write_request_layout())),
        "perf": Out(geo.perf_layout()),
    }


class Accelerator(wiring.Component):
    """`pe` is the array's PE (hw/array.py; a method's PE with the MAC PE's ports and modes,
    e.g. hw/methods/addernet/pe.AdderPE)."""

    def __init__(self, arch: ArchSpec, params: GeneratorParams = GeneratorParams(), pe=MacPE):
        self.arch, self.pe = arch, pe
        self.geo = geo = buildable(arch, params)
        super().__init__(accelerator_ports(geo))

    def elaborate(self, platform):
        m = Module()
        geo, p = self.geo, self.geo.params
        Cc = geo.cols
        cmd = Signal(geo.command_layout())

        i_wr, w_wr, i_rd, w_rd, a_wr, a_rd, a_rd_out = buffer_ports(m, geo)

        m.submodules.loader = loader = Loader(geo)
        m.submodules.fold = fold = FoldEngine(geo, pe=self.pe)
        m.submodules.writer = writer = Writer(geo)
        counters = {}
        for name in ("load_tiles", "compute_tiles", "write_tiles"):
            counters[name] = m.submodules[name] = TileCounter(geo.command_layout(), p.dim_bits,
                                                              p.addr_bits)
            m.d.comb += counters[name].cmd.eq(cmd)
        lc, cc, wc = counters["load_tiles"], counters["compute_tiles"], counters["write_tiles"]

        # the loader (and the parameter table) and the buffers' write ports
        if geo.requant:
            table = self._param_table(m, geo, cmd, wc, writer)
        else:
            wiring.connect(m, wiring.flipped(self.rd_req), loader.req)
            wiring.connect(m, wiring.flipped(self.rd_resp), loader.resp)
        m.d.comb += [loader.cmd.eq(cmd), loader.n0.eq(lc.n0), loader.kd0.eq(lc.kd0),
                     loader.half.eq(lc.half), loader.m_size.eq(lc.m_size),
                     loader.k_size.eq(lc.k_size), loader.n_size.eq(lc.n_size),
                     loader.last_k.eq(lc.last_k), loader.last_m.eq(lc.last_m),
                     loader.plane_a.eq(lc.plane_a), loader.plane_w.eq(lc.plane_w),
                     loader.pass_end.eq(lc.pass_end)]
        wire_buffer_writes(m, loader, i_wr, w_wr)

        # the compute engine
        wire_fold(m, fold, cc, (i_rd, w_rd, a_rd), a_wr, cmd.dataflow, cc.half, cc.out_half)

        # the accumulator rows a fold adds to; shifted by a slice at a new diagonal of passes
        with m.If(cc.shift_acc):
            m.d.comb += [fold.acc_rdata[j].eq(a_rd.data[j] << p.slice_bits) for j in range(Cc)]
        with m.Else():
            m.d.comb += fold.acc_rdata.eq(a_rd.data)

        # the writer
        wiring.connect(m, wiring.flipped(self.wr), writer.wr)
        m.d.comb += [writer.cmd.eq(cmd), writer.n0.eq(wc.n0), writer.m0.eq(wc.m0),
                     writer.out_half.eq(wc.out_half), writer.m_size.eq(wc.m_size),
                     writer.n_size.eq(wc.n_size), a_rd_out.addr.eq(writer.acc_addr),
                     writer.acc_data.eq(a_rd_out.data)]

        loaded, computed, write_index = (Signal(p.addr_bits, name=n)
                                         for n in ("loaded", "computed", "write_index"))
        write_lags, written = Signal(2), Signal()   # tiles the write side lags (0..2)
        m.d.sync += loaded.eq(loaded + loader.done)

        fold_loaded_tiles(m, fold, cc, loaded, computed, enable=self.busy)

        # DRAM engine
        write_ready = computed > write_index
        with m.FSM(name="dram"):
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(self.cmd.valid):
                    m.d.sync += [cmd.eq(self.cmd.payload), loaded.eq(0), computed.eq(0),
                                 write_index.eq(0), write_lags.eq(0), written.eq(0)]
                    m.d.sync += [getattr(self.perf, n).eq(0) for n in self.perf.shape().members]
                    m.d.comb += [lc.restart.eq(1), cc.restart.eq(1), wc.restart.eq(1),
                                 loader.restart.eq(1)]
                    m.next = "GATE"
            with m.State("GATE"):
                with m.If(wc.finished):
                    m.next = "IDLE"
                with m.Elif((write_lags == 2) & ~write_ready):
                    pass
                with m.Elif((write_lags == 2) & wc.last_k & ~written):
                    if geo.requant:
                        with m.If(cmd.requant & (wc.m0 == 0)):
                            m.d.comb += table.start.eq(1)
                            m.next = "PARAMS"
                        with m.Else():
                            m.d.comb += writer.start.eq(1)
                            m.next = "WRITE"
                    else:
                        m.d.comb += writer.start.eq(1)
                        m.next = "WRITE"
                with m.Elif(~lc.finished):
                    m.d.comb += loader.start.eq(1)
                    m.next = "LOAD"
                with m.Else():
                    m.next = "ADV"
            if geo.requant:
                with m.State("PARAMS"):
                    with m.If(table.done):
                        m.d.comb += writer.start.eq(1)
                        m.next = "WRITE"
            with m.State("WRITE"):
                with m.If(writer.done):
                    m.d.sync += written.eq(1)
                    m.next = "GATE"
            with m.State("LOAD"):
                with m.If(loader.done):
                    m.next = "ADV"
            with m.State("ADV"):
                m.d.sync += written.eq(0)
                m.d.comb += lc.next.eq(~lc.finished)
                with m.If(write_lags == 2):
                    m.d.comb += wc.next.eq(1)
                    m.d.sync += write_index.eq(write_index + 1)
                with m.Else():
                    m.d.sync += write_lags.eq(write_lags + 1)
                m.next = "GATE"
        m.d.comb += self.busy.eq(~self.cmd.ready)

        self._count(m, geo, cmd, loader, fold, writer)
        return m

    def _param_table(self, m, geo, cmd, wc, writer) -> ParamTable:
        """The parameter table, its share of the DRAM read port, and its reads by the writer."""
        m.submodules.params = table = ParamTable(geo)
        loader = m.submodules.loader
        req, resp = self.rd_req, self.rd_resp
        to_table = resp.payload.tag.param
        m.d.comb += [req.valid.eq(loader.req.valid | table.req.valid),
                     req.payload.eq(Mux(table.req.valid, table.req.payload, loader.req.payload)),
                     loader.req.ready.eq(req.ready), table.req.ready.eq(req.ready),
                     resp.ready.eq(1),
                     loader.resp.valid.eq(resp.valid & ~to_table),
                     table.resp.valid.eq(resp.valid & to_table),
                     loader.resp.payload.eq(resp.payload), table.resp.payload.eq(resp.payload),
                     table.requant_base.eq(cmd.requant_base), table.n0.eq(wc.n0),
                     table.n_size.eq(wc.n_size),
                     table.channel.eq(writer.channel), writer.param.eq(table.param)]
        return table

    def _count(self, m, geo, cmd, loader, fold, writer):
        perf = self.perf
        rd = self.rd_req.valid & self.rd_req.ready
        rd_bytes = Signal(4)
        m.d.comb += rd_bytes.eq(element_bytes(geo.ifmap_bits))
        with m.If(self.rd_req.payload.tag.weight):
            m.d.comb += rd_bytes.eq(element_bytes(geo.weight_bits))
        wr_bytes = element_bytes(geo.psum_bits)
        if geo.requant:
            with m.If(self.rd_req.payload.tag.param):
                m.d.comb += rd_bytes.eq(1)          # a parameter piece: one byte element
            wr_bytes = Mux(cmd.requant, element_bytes(geo.ofmap_bits), wr_bytes)
        acc_row_reads = Signal(2)
        m.d.comb += acc_row_reads.eq(fold.acc_ren + writer.fetch)
        with m.If(self.busy):
            m.d.sync += [
                perf.cycles.eq(perf.cycles + 1),
                perf.busy_cycles.eq(perf.busy_cycles + fold.busy),
                perf.ifmap_reads.eq(perf.ifmap_reads + fold.ifmap_read * geo.rows),
                perf.weight_reads.eq(perf.weight_reads + fold.weight_read * geo.cols),
                perf.ifmap_writes.eq(perf.ifmap_writes + loader.wr_ifmap),
                perf.weight_writes.eq(perf.weight_writes + loader.wr_weight),
                perf.acc_reads.eq(perf.acc_reads + acc_row_reads * geo.cols),
                perf.acc_writes.eq(perf.acc_writes + fold.acc_we * geo.cols),
                perf.dram_read_bytes.eq(perf.dram_read_bytes + rd * rd_bytes),
                perf.dram_write_bytes.eq(perf.dram_write_bytes + (self.wr.valid & self.wr.ready)
                                         * wr_bytes),
            ]
