"""The XNOR unit: an output-stationary array of XNOR-popcount PEs, its double-buffered
buffers, the baseline's load engine, the scaling write-back and a binarizing pre-pass.

Same outside as the baseline accelerator (hw/accelerator.py), so the same testbenches drive it:
`cmd` (a command descriptor stream), `busy`, the DRAM read streams `rd_req` / `rd_resp` and
write stream `wr` (one 64-bit element per beat; reads tagged) and `perf` counters. The
command is the baseline's (hw/layouts.py, on the packed layer of workloads/methods/xnor/plan.py)
plus `alpha_base`, `kmap_base`, `tap_bias`, `out_shift` and the pre-pass's `binarize`,
`x_base`, `a_base`, `channels`, `recip_q`, `k_shift`.

Datapath: the loader (hw/loader.py) fills the ifmap buffer with packed activation words, each
stored with a valid bit (1 for data from DRAM, 0 for the zeros it writes for padding pixels),
and the weight buffer with packed weight words; the compute engine (hw/fold.py, os) streams
them through the XnorPE array (hw/methods/xnor/pe.py) and accumulates popcount sums across kd
tiles in the accumulator; the ScaleWriter (hw/methods/xnor/scale.py) turns each finished tile
into XNOR-Net outputs on its way to DRAM.

With `binarize` set, the command first runs the Binarizer (hw/methods/xnor/binarize.py) over
the int8 activations: it writes the packed words the loader then reads and the K_q map the
ScaleWriter reads (state BINARIZE, from the cycle after the command is taken until its last
write). Otherwise the host has put both in DRAM.

Sequencing. Tile i uses buffer half i % 2 and its output the accumulator half of its parity;
three TileCounters follow the tiles for loads, folds and write-backs. The DRAM engine (which
alone uses the DRAM port) runs, from LOAD_GATE:
    LOAD_GATE: when every tile is loaded, go to WRITE_GATE; else wait until tile i-2 (same
               half) is folded, then LOAD tile i until the loader is done; then WRITE_GATE.
    WRITE_GATE: when every tile is through, IDLE; else for the next tile w in write order,
               once tile w+1 is loaded (or all are): if w does not end its output, step past
               it; if it does, wait until it is folded and WRITE its output until the last
               beat; then LOAD_GATE. Otherwise (w+1 not loaded yet) LOAD_GATE.
The compute engine folds tile i as soon as it is loaded and tile i-1 is folded. A fold that
starts an output reuses the accumulator half of the output two before, whose write-back
precedes the load of this tile in the DRAM engine's order, so no other interlock is needed.
Loads therefore overlap folds, and a write-back waits only for its own tile's fold.
sim/methods/xnor.py times exactly this.

Counters: the baseline's (hw/layouts.COUNTERS; DRAM bytes at 8 per beat, whatever the
element holds) plus `scale_reads` (the ScaleWriter's alpha and K beats) and
`binarize_cycles` (the cycles of the pre-pass).
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.arch import ArchSpec
from dlaforge.workloads.methods.xnor.plan import (DRAM_WORD_BYTES, SCALE_BITS, SHIFT_BITS,
                                                  binary_arch, check, word_bits)

from ...accelerator import buffer_ports
from ...fold import FoldEngine, fold_loaded_tiles, wire_fold
from ...layouts import COUNTERS, DesignParams, GeneratorParams
from ...loader import Loader, wire_buffer_writes
from ...tiles import TileCounter
from .binarize import Binarizer
from .pe import XnorPE
from .scale import ScaleWriter

XNOR_COUNTERS = COUNTERS + ("scale_reads", "binarize_cycles")


def geometry(arch: ArchSpec, params: GeneratorParams = GeneratorParams()) -> DesignParams:
    """The unit's geometry (after `check`): the baseline's, on the binary view of the spec."""
    check(arch)
    return DesignParams.of(binary_arch(arch), params)


def command_layout(geo: DesignParams) -> data.StructLayout:
    """The baseline's command fields first (so its engines take a prefix), then the unit's."""
    p = geo.params
    fields = {name: field.shape for name, field in geo.command_layout()}
    fields.update({"alpha_base": p.addr_bits, "kmap_base": p.addr_bits,
                   "tap_bias": p.addr_bits, "out_shift": SHIFT_BITS,
                   "binarize": 1, "x_base": p.addr_bits, "a_base": p.addr_bits,
                   "channels": p.dim_bits, "recip_q": SCALE_BITS, "k_shift": SHIFT_BITS})
    return data.StructLayout(fields)


def dram_write_layout(geo: DesignParams) -> data.StructLayout:
    """One 64-bit DRAM element per write beat (outputs sign-extended)."""
    return data.StructLayout({"addr": geo.params.addr_bits, "data": signed(64)})


class XnorUnit(wiring.Component):
    def __init__(self, arch: ArchSpec, params: GeneratorParams = GeneratorParams()):
        self.arch = arch
        self.geo = geo = geometry(arch, params)
        self.word_bits = word_bits(arch)
        tag = geo.tag_layout
        super().__init__({
            "cmd": In(stream.Signature(command_layout(geo))),
            "busy": Out(1),
            "rd_req": Out(stream.Signature(geo.read_request_layout())),
            "rd_resp": In(stream.Signature(data.StructLayout({"data": signed(64), "tag": tag}))),
            "wr": Out(stream.Signature(dram_write_layout(geo))),
            "perf": Out(data.StructLayout({name: unsigned(params.counter_bits)
                                           for name in XNOR_COUNTERS})),
        })

    def elaborate(self, platform):
        m = Module()
        geo, p = self.geo, self.geo.params
        cmd = Signal(command_layout(geo))
        base_cmd = cmd.as_value()[:geo.command_layout().size]

        i_wr, w_wr, i_rd, w_rd, a_wr, a_rd, a_rd_out = buffer_ports(m, geo)

        counters = {}
        for name in ("load_tiles", "compute_tiles", "write_tiles"):
            counters[name] = m.submodules[name] = TileCounter(geo.command_layout(), p.dim_bits,
                                                              p.addr_bits)
            m.d.comb += counters[name].cmd.eq(base_cmd)
        lc, cc, wc = counters["load_tiles"], counters["compute_tiles"], counters["write_tiles"]
        m.submodules.loader = loader = Loader(geo)
        m.submodules.fold = fold = FoldEngine(geo, pe=XnorPE)
        response = self.rd_resp.payload.shape()
        m.submodules.writer = writer = ScaleWriter(geo, cmd.shape(), response)
        m.submodules.binarizer = binarizer = Binarizer(geo, cmd.shape(), response,
                                                       dram_write_layout(geo), self.word_bits)
        m.d.comb += [loader.cmd.eq(base_cmd), writer.cmd.eq(cmd), binarizer.cmd.eq(cmd)]

        # the loader: words from DRAM gain valid = 1 on their way into the buffers
        m.d.comb += [loader.n0.eq(lc.n0), loader.kd0.eq(lc.kd0), loader.half.eq(lc.half),
                     loader.m_size.eq(lc.m_size), loader.k_size.eq(lc.k_size),
                     loader.n_size.eq(lc.n_size), loader.last_k.eq(lc.last_k),
                     loader.last_m.eq(lc.last_m),
                     loader.resp.payload.tag.eq(self.rd_resp.payload.tag),
                     loader.resp.payload.data.eq(Cat(self.rd_resp.payload.data[:self.word_bits],
                                                     Const(1, 1)))]
        wire_buffer_writes(m, loader, i_wr, w_wr)

        # the compute engine
        wire_fold(m, fold, cc, (i_rd, w_rd, a_rd), a_wr, cmd.dataflow, cc.half, cc.out_half)
        m.d.comb += fold.acc_rdata.eq(a_rd.data)

        # the scaling write-back
        m.d.comb += [writer.n0.eq(wc.n0), writer.m0.eq(wc.m0), writer.out_half.eq(wc.out_half),
                     writer.m_size.eq(wc.m_size), writer.n_size.eq(wc.n_size),
                     a_rd_out.addr.eq(writer.acc_addr), writer.acc_data.eq(a_rd_out.data),
                     writer.resp.payload.eq(self.rd_resp.payload), self.rd_resp.ready.eq(1),
                     binarizer.resp.payload.eq(self.rd_resp.payload)]

        def use_dram(engine, writes=True):
            """Give `engine` the DRAM port (in the current state)."""
            wiring.connect(m, wiring.flipped(self.rd_req), engine.req)
            m.d.comb += engine.resp.valid.eq(self.rd_resp.valid)
            if writes:
                m.d.comb += [self.wr.valid.eq(engine.wr.valid), engine.wr.ready.eq(self.wr.ready),
                             self.wr.payload.addr.eq(engine.wr.payload.addr),
                             self.wr.payload.data.eq(engine.wr.payload.data)]

        loaded, computed, written = (Signal(p.addr_bits, name=n)
                                     for n in ("loaded", "computed", "written"))

        fold_loaded_tiles(m, fold, cc, loaded, computed)

        # the DRAM engine: loads, and each output's write-back once the next tile is loaded
        with m.FSM(name="dram"):
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(self.cmd.valid):
                    m.d.sync += [cmd.eq(self.cmd.payload), loaded.eq(0), computed.eq(0),
                                 written.eq(0)]
                    m.d.sync += [getattr(self.perf, n).eq(0) for n in XNOR_COUNTERS]
                    m.d.comb += [lc.restart.eq(1), cc.restart.eq(1), wc.restart.eq(1),
                                 loader.restart.eq(1), writer.restart.eq(1)]
                    with m.If(self.cmd.payload.binarize):
                        m.next = "BINARIZE"
                    with m.Else():
                        m.next = "LOAD_GATE"
            with m.State("BINARIZE"):
                use_dram(binarizer)
                m.d.comb += binarizer.start.eq(1)
                with m.If(binarizer.done):
                    m.next = "LOAD_GATE"
            with m.State("LOAD_GATE"):            # the half is free once tile loaded-2 is folded
                with m.If(lc.finished):
                    m.next = "WRITE_GATE"
                with m.Elif(computed + 1 >= loaded):
                    m.d.comb += loader.start.eq(1)
                    m.next = "LOAD"
            with m.State("LOAD"):
                use_dram(loader, writes=False)
                with m.If(loader.done):
                    m.d.comb += lc.next.eq(1)
                    m.d.sync += loaded.eq(loaded + 1)
                    m.next = "WRITE_GATE"
            with m.State("WRITE_GATE"):           # tile `written`, once the next one is loaded
                with m.If(wc.finished):
                    m.next = "IDLE"
                with m.Elif((written + 1 < loaded) | lc.finished):
                    with m.If(~wc.last_k):
                        m.d.comb += wc.next.eq(1)
                        m.d.sync += written.eq(written + 1)
                        m.next = "LOAD_GATE"
                    with m.Elif(computed > written):
                        m.d.comb += writer.start.eq(1)
                        m.next = "WRITE"
                with m.Else():
                    m.next = "LOAD_GATE"
            with m.State("WRITE"):
                use_dram(writer)
                with m.If(writer.done):
                    m.d.comb += wc.next.eq(1)
                    m.d.sync += written.eq(written + 1)
                    m.next = "LOAD_GATE"
        m.d.comb += self.busy.eq(~self.cmd.ready)
        self._count(m, loader, fold, writer, binarizer)
        return m

    def _count(self, m, loader, fold, writer, binarizer):
        geo, perf = self.geo, self.perf
        read_beat = self.rd_req.valid & self.rd_req.ready
        acc_row_reads = Signal(2)
        m.d.comb += acc_row_reads.eq(fold.acc_ren + writer.fetch)
        increments = {
            "cycles": 1, "busy_cycles": fold.busy,
            "ifmap_reads": fold.ifmap_read * geo.rows, "weight_reads": fold.weight_read * geo.cols,
            "ifmap_writes": loader.wr_ifmap, "weight_writes": loader.wr_weight,
            "acc_reads": acc_row_reads * geo.cols, "acc_writes": fold.acc_we * geo.cols,
            "dram_read_bytes": read_beat * DRAM_WORD_BYTES,
            "dram_write_bytes": (self.wr.valid & self.wr.ready) * DRAM_WORD_BYTES,
            "scale_reads": writer.req.valid & writer.req.ready,
            "binarize_cycles": binarizer.busy,
        }
        with m.If(self.busy):
            m.d.sync += [getattr(perf, name).eq(getattr(perf, name) + value)
                         for name, value in increments.items()]
