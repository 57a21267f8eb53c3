"""The controller's interfaces: design parameters, command descriptor, DRAM payloads, counters.

DRAM is addressed in elements, each region with its own element width (docs/controller.md,
"DRAM layouts"). A read request names an address, a `count` of contiguous elements (at most one
beat, inside one buffer word) and their `bytes`; its `tag` (returned with the data, as an AXI
ID) says where they go: buffer `kind`, `word` (the half included), `chunk` (the beat's place in
the word: lanes chunk*E .. chunk*E + count - 1, E the beat of that kind) and `count`. A write
request carries the address, count, bytes and the values. The vectors are sized for the largest
beat any kind needs (`Beats`).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth import signed, unsigned
from amaranth.lib import data

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.program import (BINARY_WORD_BITS, CONTROLLER_DATAFLOWS, COUNTERS, LOOP_ORDERS,
                              BufferGeometry, beat_elements, binarizer_beat_refusal, ceil_div,
                              element_bytes, packed_run_refusal, packed_span,
                              requant_refusal)
from dlaforge.workloads.methods.datapath import BASELINE, OUT_CODE_BITS, Datapath

from ..layouts import GeneratorParams, bits_for
from .tiles import SLICE_FIELD_BITS

# tag.kind: the buffer a read fills (kmap: a datapath's scale map, Datapath.scale_map_bits)
KINDS = {"ifmap": 0, "weight": 1, "psum": 2, "param": 3, "kmap": 4}
DIM_FIELDS = ("N", "C", "H", "W", "K", "R", "S", "P", "Q", "stride", "padding", "Ct", "Kt",
              "kt", "ct", "pt", "qt")
RAW_FIELDS = ("raw_H", "raw_W", "raw_P", "raw_Q", "raw_padding")    # a transforming design's
BASE_FIELDS = ("ifmap_base", "weight_base", "ofmap_base", "psum_base", "requant_base")
K_SHIFT_BITS = 6        # a binarizing command's k_shift: the scale map's fixed point


def param_lanes(quantizer, cols: int) -> int:
    """Bytes of a parameter-table word: the entries of `cols` filters, or the table's head
    where that is longer (workloads/quantizers.py)."""
    return max(quantizer.channel_pieces * cols, quantizer.head_pieces)


@dataclass(frozen=True)
class Beats:
    """Elements per DRAM request of each kind (program.beat_elements, capped at the lanes of
    the word it fills: the cut of a run is the same), and their element bytes."""

    ifmap: int
    weight: int
    psum: int
    param: int
    ofmap: int            # a requantized output
    bytes: dict
    kmap: int = 1         # a scale-map element (read one per output pixel)
    act: int = 0          # int8 activations a binarizing load reads (Datapath.binarizes)
    mac_ifmap: int = 0    # ifmap and weight elements of a MAC mode of narrower operands
    mac_weight: int = 0   # (Datapath.mac_bits; their bytes: bytes["mac"])

    @property
    def read_lanes(self) -> int:
        return max(self.ifmap, self.weight, self.psum, self.param, self.act, self.mac_ifmap,
                   self.mac_weight)

    @property
    def write_lanes(self) -> int:
        return max(self.psum, self.ofmap)


@dataclass(frozen=True)
class ControllerParams:
    """The controller's design parameters: what the generator derives from the spec (names as
    hw/layouts.DesignParams', for the Verilog manifest), plus the DRAM beats."""

    rows: int
    cols: int
    ifmap_bits: int
    weight_bits: int
    psum_bits: int
    ofmap_bits: int
    buffers: BufferGeometry
    beats: Beats
    params: GeneratorParams
    requant: bool
    dataflows: tuple = ("ws",)     # those of CONTROLLER_DATAFLOWS the arch lists: a fold each
    datapath: Datapath = BASELINE  # the PE its array holds (workloads/methods/datapath.py)
    # it moves activation codes packed (Datapath.packs_codes_on the arch, with
    # requantization): its commands then carry `pack_in` and `pack_out`, and its ifmap reads
    # the run's first bit and channel count in the tag as packed weights do
    packs_codes: bool = False

    @staticmethod
    def of(arch: ArchSpec, params: GeneratorParams = GeneratorParams(),
           datapath: Datapath | None = None) -> ControllerParams:
        """SpecError if the controller cannot be built for `arch` with `datapath` (default:
        BASELINE, the MAC array)."""
        pe = arch.pe_array
        datapath = datapath or BASELINE
        if pe.pe_kind != datapath.pe_kind:
            if datapath.is_baseline:
                raise SpecError(f"the controller builds MAC PEs only, not pe_kind "
                                f"{pe.pe_kind!r}, unless a method's datapath is given")
            raise SpecError(f"the controller's {datapath.family} datapath needs pe_kind "
                            f"{datapath.pe_kind!r}, not {pe.pe_kind!r}")
        if why := datapath.arch_refusal(arch):
            raise SpecError(f"arch {arch.name!r}: {why}")
        arch = datapath.operand_arch(arch)      # the lanes its buffers and DRAM hold
        pe = arch.pe_array
        # is holds an ifmap element where ws holds a weight: it needs equal widths
        dataflows = tuple(d for d in CONTROLLER_DATAFLOWS if d in pe.dataflows
                          and (d != "is" or pe.ifmap_bits == pe.weight_bits))
        if not dataflows:
            raise SpecError(f"the controller runs dataflows {', '.join(CONTROLLER_DATAFLOWS)}; "
                            f"arch {arch.name!r} has {', '.join(pe.dataflows)}")
        buffers = BufferGeometry.of(arch)
        for name in ("ifmap_half", "weight_half", "acc_half"):
            if getattr(buffers, name) < 1:
                raise SpecError(f"arch {arch.name!r}: the {name.split('_')[0]} buffer holds "
                                f"no word per half")
        bw = arch.dram.bandwidth_bytes_per_cycle
        # rebuilt weights come as code regions, a byte per filter lane (Datapath.weight_code)
        weight_bytes = 1 if datapath.rebuilt_bits else element_bytes(pe.weight_bits)
        nbytes = {"ifmap": element_bytes(pe.ifmap_bits), "weight": weight_bytes,
                  "psum": element_bytes(pe.psum_bits), "param": 1,
                  "ofmap": element_bytes(pe.ofmap_bits), "kmap": datapath.scale_bytes}
        lanes = {"ifmap": pe.rows, "weight": pe.cols, "psum": pe.cols,
                 "param": param_lanes(params.quantizer, pe.cols), "ofmap": pe.cols}
        mac = {}
        if datapath.mac_bits:
            nbytes["mac"] = element_bytes(datapath.mac_bits)
            mac = {f"mac_{k}": min(beat_elements(nbytes["mac"], bw), lanes[k])
                   for k in ("ifmap", "weight")}
        beats = Beats(**{k: min(beat_elements(nbytes[k], bw), lanes[k]) for k in lanes},
                      bytes=nbytes, kmap=1,
                      act=beat_elements(1, bw) if datapath.binarizes else 0, **mac)
        if datapath.binarizes and (why := binarizer_beat_refusal(bw)):
            raise SpecError(f"arch {arch.name!r}: {why}")
        requant = params.requant and requant_refusal(arch, datapath.requant_elements) is None
        if datapath.codes and not params.quantizer.symmetric:
            raise SpecError(f"the controller's {datapath.family} datapath requantizes to "
                            f"{'signed' if datapath.signed_codes else 'unsigned'} activation "
                            f"codes; quantizer {params.quantizer.name!r} is asymmetric")
        if datapath.weight_bits and (why := packed_run_refusal(arch, datapath.weight_bits)):
            raise SpecError(f"arch {arch.name!r}: {why}")
        return ControllerParams(pe.rows, pe.cols, pe.ifmap_bits, pe.weight_bits, pe.psum_bits,
                                datapath.out_bits or pe.ofmap_bits, buffers, beats, params,
                                requant, dataflows, datapath,
                                requant and datapath.packs_codes_on(arch))

    @property
    def quantizer(self):
        """The quantizer the requantization stage is generated for (GeneratorParams')."""
        return self.params.quantizer

    @property
    def lane_bits(self) -> tuple[int, int]:
        """(ifmap, weight) bits of the array's operand lanes: the buffers' elements and, on a
        datapath of valid lanes (Datapath.valid_lanes), the valid bit above them."""
        extra = int(self.datapath.valid_lanes)
        return self.ifmap_bits + extra, self.weight_bits + extra

    @property
    def pads(self) -> bool:
        """Whether the design pads with a command's `pad` value (the input zero point of an
        asymmetric quantizer's layer) rather than 0: only then the command has the field and
        the fold engines the path (symmetric quantizers pad with 0)."""
        return self.requant and not self.quantizer.symmetric

    @property
    def block_filters(self) -> int:
        """Filters whose parameters the table holds: one tile's (at most acc_half blocks)."""
        return self.buffers.acc_half * self.cols if self.requant else 0

    def chunks(self, kind: str) -> int:
        lanes = {"ifmap": self.rows, "weight": self.cols, "psum": self.cols,
                 "param": param_lanes(self.quantizer, self.cols), "ofmap": self.cols}[kind]
        return ceil_div(lanes, getattr(self.beats, kind))

    def packed_chunks(self, kind: str) -> int:
        """Requests a packed run of `kind` ("ifmap": a word's codes, "weight": a filter
        block's) spans at most: program.packed_span bytes in requests of the kind's beat (one
        byte elements)."""
        lanes, bits = ((self.rows, self.datapath.codes) if kind == "ifmap"
                       else (self.cols, self.datapath.weight_bits))
        return ceil_div(packed_span(lanes, bits), getattr(self.beats, kind))

    @property
    def slices(self) -> bool:
        """Whether the design runs slice passes (Datapath.slice_bits): its commands then
        carry the operands' slices, and its MAC mode multiplies unsigned slices."""
        return bool(self.datapath.slice_bits)

    def beat_of(self, kind: str, mac: bool = False) -> int:
        """Elements per request of `kind`: of a MAC mode of narrower operands (`mac`,
        Datapath.mac_bits) for the ifmap and weights, else the design's."""
        return getattr(self.beats, f"mac_{kind}") if mac else getattr(self.beats, kind)

    @property
    def binarizes(self) -> bool:
        """Whether the design's loads can binarize int8 activations (Datapath.binarizes): its
        commands then carry `binarize`, the channels (`signs`) and, with a scale map, the
        map's fixed point (`recip`, `k_shift`); the scale map is computed on chip."""
        return self.datapath.binarizes

    @property
    def scales(self) -> bool:
        """Whether the design scales its requantized outputs by a per-pixel map
        (Datapath.scale_map_bits): its PARAMS jobs then read the output tile's map too."""
        return self.requant and bool(self.datapath.scale_map_bits)

    @property
    def rebuilds(self) -> bool:
        """Whether the design rebuilds its weights on the load (Datapath.weight_code): its weight
        reads are a region's byte-rows into the rebuild stage's code buffer, its commands carry
        the regions' `region_fixed` byte-rows, `region_pitch` (byte-rows per filter between a
        group's regions) and `region_stride` (bytes per channel between groups' regions: a
        tile's group starts at its first channel c0 x region_stride)."""
        return bool(self.datapath.rebuilt_bits)

    @property
    def code_rows(self) -> int:
        """Byte-rows of the rebuild stage's code buffer: a region of a block filling a weight
        buffer half (0 in a design that does not rebuild)."""
        code = self.datapath.weight_code
        return code.buffer_rows(self.buffers.weight_half) if self.rebuilds else 0

    @property
    def transforms(self) -> bool:
        """Whether the design runs Winograd-domain convolutions (Datapath.tap_transform): its
        commands then carry the raw layer (`raw_H`, `raw_W`, `raw_P`, `raw_Q`, `raw_padding`)
        beside the Winograd domain in the standard fields, and the taps' input shifts
        (`v_shift`) and output alignments (`align`), a² fields each."""
        return self.datapath.tap_transform is not None

    def transforming(self, cmd):
        """Whether command `cmd` runs in the Winograd domain (the transforms, a plane per
        tap): its datapath's own operation (`mode` 0) in a design that transforms, else 0."""
        if not self.transforms:
            return 0
        return cmd.mode == 0 if self.datapath.mac_mode else 1

    @property
    def packs(self) -> bool:
        """Whether the design unpacks packed weights (Datapath.weight_bits): its weight reads
        then carry the run's first bit (`offset`) and filter count in the tag."""
        return bool(self.datapath.weight_bits)

    def tag_layout(self) -> data.StructLayout:
        b = self.buffers
        words = max(2 * b.ifmap_half, 2 * b.weight_half, 2 * b.acc_half, self.code_rows)
        chunks = max(self.chunks(k) for k in ("ifmap", "weight", "psum", "param"))
        if self.datapath.mac_bits:
            chunks = max(chunks, ceil_div(self.rows, self.beats.mac_ifmap),
                         ceil_div(self.cols, self.beats.mac_weight))
        if self.binarizes:          # a word's int8 activations
            chunks = max(chunks, self.rows * BINARY_WORD_BITS // self.beats.act)
        lanes = max(self.beats.read_lanes, self.cols if self.packs else 0,
                    self.rows if self.packs_codes else 0)
        fields = {"kind": 3 if self.scales else 2, "word": bits_for(words),
                  "chunk": bits_for(chunks),
                  "count": bits_for(lanes + 1)}
        if self.packs or self.packs_codes:  # a packed run: the bit of its first byte it starts at
            fields["offset"] = 3
        if self.binarizes:  # the run's last request (a binarized word is written then)
            fields["last"] = 1
        return data.StructLayout(fields)

    @property
    def read_bits(self) -> int:
        return max(self.ifmap_bits, self.weight_bits, self.psum_bits, 8)

    def command_layout(self) -> data.StructLayout:
        p = self.params
        fields = {name: p.dim_bits for name in DIM_FIELDS}
        fields.update({name: p.addr_bits for name in BASE_FIELDS})
        fields.update({"order": bits_for(len(LOOP_ORDERS)), "requant": 1, "relu": 1,
                       "dataflow": bits_for(len(CONTROLLER_DATAFLOWS))})
        if self.pads:           # the padded taps' value z_x, an ifmap element (two's complement)
            fields["pad"] = self.ifmap_bits
        if self.datapath.mac_mode:  # the PE operation: an index into Datapath.pe_ops
            fields["mode"] = bits_for(len(self.datapath.pe_ops))
        if self.slices:             # slice passes: the operands' slices (1: one pass)
            fields.update(a_slices=SLICE_FIELD_BITS, w_slices=SLICE_FIELD_BITS)
        if self.datapath.codes:     # the outputs' code width (the next layer's input's)
            fields["out_codes"] = bits_for(OUT_CODE_BITS + 1)
        if self.packs_codes:        # the ifmap and the requantized outputs as packed codes
            fields.update(pack_in=1, pack_out=1)
        if self.scales:             # the scale map's base, the sums' bias per in-image tap
            fields.update(kmap_base=p.addr_bits, tap_bias=p.dim_bits + 8)
        if self.rebuilds:           # the code regions' fixed byte-rows, pitch, group stride
            fields.update(region_fixed=p.dim_bits, region_pitch=p.dim_bits,
                          region_stride=p.addr_bits)
        if self.transforms:         # the raw layer, the taps' shifts and alignments
            v = self.datapath.tap_transform
            fields.update({name: p.dim_bits for name in RAW_FIELDS})
            fields.update(v_shift=data.ArrayLayout(unsigned(v.shift_bits), v.taps),
                          align=data.ArrayLayout(unsigned(v.align_bits), v.taps))
        if self.binarizes:          # int8 activations of `signs` channels, packed on the load
            fields.update(binarize=1, signs=p.dim_bits)
            if self.scales:         # the on-chip map: K_q = (sum |x| * recip) >> k_shift
                fields.update(recip=self.datapath.scale_map_bits, k_shift=K_SHIFT_BITS)
        return data.StructLayout(fields)

    def read_request_layout(self) -> data.StructLayout:
        return data.StructLayout({"addr": self.params.addr_bits,
                                  "count": bits_for(self.beats.read_lanes + 1), "bytes": 4,
                                  "tag": self.tag_layout()})

    def read_response_layout(self) -> data.StructLayout:
        return data.StructLayout({"data": data.ArrayLayout(signed(self.read_bits),
                                                           self.beats.read_lanes),
                                  "tag": self.tag_layout()})

    def write_request_layout(self) -> data.StructLayout:
        lanes = self.beats.write_lanes
        return data.StructLayout({"addr": self.params.addr_bits, "count": bits_for(lanes + 1),
                                  "bytes": 4,
                                  "data": data.ArrayLayout(signed(self.psum_bits), lanes)})

    def perf_layout(self) -> data.StructLayout:
        return data.StructLayout({name: unsigned(self.params.counter_bits) for name in COUNTERS})


def check_command(geo: ControllerParams, fields: dict) -> dict:
    """`fields` (a command as field values), or SpecError naming the first that overflows."""
    layout = geo.command_layout()
    for name, value in fields.items():
        width = layout[name].width
        if not 0 <= value < 1 << width:
            raise SpecError(f"command field {name} = {value} does not fit its {width} bits")
    return fields
