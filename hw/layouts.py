"""The accelerator's interfaces: command descriptor, DRAM stream payloads, counters; the
generator's parameters that are not in the ArchSpec (GeneratorParams) and the design's
parameters derived from both (DesignParams).

DRAM is addressed in elements (one ifmap, weight or output element per address). A read
request carries a `tag` that the DRAM returns with the data (as an AXI ID would): it names the
buffer, half, word and lane the element goes to, so the accelerator needs no reorder queue.

Command fields (the host fills them from an `RtlPlan`, see `command_fields`): conv dims
C H W K R S P Q, stride, padding; the GEMM view M = P*Q and Kd = C*R*S; the tile sizes Mt, Kt,
Nt and tile counts tn, tm, tk; DRAM bases of the ifmap (C x H x W), the weights (K x C x R x S)
and the outputs (K x P x Q: psum_bits sums, or ofmap_bits when requantized); `dataflow` is
0 (ws), 1 (os) or 2 (is).

Requantization (only in a design with the requantization stage, `DesignParams.requant`:
GeneratorParams.requant and an arch that program.requant_refusal allows): `requant` = 1 writes
every output requantized to ofmap_bits (workloads/methods/requant_ref.py) with the per-channel
parameters of the table at `requant_base` (K entries of program.REQUANT_PIECES byte elements),
`relu` = 1 adds the ReLU. With `requant` = 0 the outputs are the psum_bits sums, as in a design
without the stage. A read request for a parameter carries `tag.param` = 1, `tag.word` its
channel in the n-block and `tag.lane` its piece.

Bit-sliced passes (only in a design generated with `GeneratorParams.slice_bits` > 0): an operand
wider than the PEs is stored in DRAM as slice planes of `slice_bits` each (plane i holds bits
i*slice_bits and up; ifmap planes `ifmap_plane` elements apart, weight planes `weight_plane`
apart), and every output tile is accumulated over the (a_top+1) x (w_top+1) slice pairs, most
significant first, the accumulator shifted left by slice_bits between diagonals (Horner's
rule; see dlaforge.workloads.methods.palquant.plan). a_top = w_top = 0 is the plain one-pass layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth import Signal, signed, unsigned
from amaranth.lib import data

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.program import COUNTERS, REQUANT_PIECES, BufferGeometry, requant_refusal
from dlaforge.workloads.methods.accelerator_plan import RtlPlan, tile_sizes
from dlaforge.workloads.quantizers import DEFAULT_QUANTIZER, Quantizer

DIM_FIELDS = ("C", "H", "W", "K", "R", "S", "P", "Q", "stride", "padding", "Mt", "Kt", "Nt",
              "tn", "tm", "tk")
DATAFLOW_CODES = {"ws": 0, "os": 1, "is": 2}    # the command's `dataflow` field
SLICE_FIELDS = {"a_top": 4, "w_top": 4}     # highest slice index of ifmap / weights
REQUANT_FIELDS = ("requant", "relu", "requant_base")


@dataclass(frozen=True)
class GeneratorParams:
    """The generator's own parameters, those the spec does not fix: the widths of a DRAM
    element address, of the command dims and of the counters;
    `slice_bits`, the slice width of bit-sliced passes (0: the design has no passes); and
    `requant`, whether to build the requantization stage (where the arch allows it), and
    `quantizer`, the one it is generated for (workloads/quantizers.py; the mapped-program
    controller builds any, the first accelerator the default only)."""

    addr_bits: int = 32
    dim_bits: int = 16
    counter_bits: int = 48
    slice_bits: int = 0
    requant: bool = True
    quantizer: Quantizer = DEFAULT_QUANTIZER


@dataclass(frozen=True)
class DesignParams:
    """The parameters of the generated design, everything the generator derives from the spec
    and its GeneratorParams (the manifest's `parameters`, hw/verilog.manifest)."""

    rows: int
    cols: int
    ifmap_bits: int
    weight_bits: int
    psum_bits: int
    buffers: BufferGeometry
    dataflows: tuple
    params: GeneratorParams
    requant: bool = False      # the design has the requantization stage
    ofmap_bits: int = 8        # requantized output width
    block_filters: int = 0     # most filters of one n-block (the parameter table's depth)

    @staticmethod
    def of(arch: ArchSpec, params: GeneratorParams = GeneratorParams()) -> DesignParams:
        pe = arch.pe_array
        dataflows = built_dataflows(arch)
        requant = params.requant and requant_refusal(arch) is None and bool(dataflows)
        block_filters = max((tile_sizes(arch, df)[2] for df in dataflows), default=0)
        return DesignParams(pe.rows, pe.cols, pe.ifmap_bits, pe.weight_bits, pe.psum_bits,
                            BufferGeometry.of(arch), dataflows, params, requant, pe.ofmap_bits,
                            block_filters if requant else 0)

    @property
    def tag_layout(self) -> data.StructLayout:
        b = self.buffers
        word = max(2 * b.ifmap_half, 2 * b.weight_half, self.block_filters)
        lanes = max(self.rows, self.cols, REQUANT_PIECES if self.requant else 1)
        fields = {"weight": 1, "word": bits_for(word), "lane": bits_for(lanes)}
        if self.requant:
            fields["param"] = 1
        return data.StructLayout(fields)

    @property
    def element_bits(self) -> int:
        return max(self.ifmap_bits, self.weight_bits)

    def command_layout(self) -> data.StructLayout:
        p = self.params
        fields = {name: p.dim_bits for name in DIM_FIELDS}
        fields.update({"M": p.addr_bits, "Kd": p.addr_bits, "ifmap_base": p.addr_bits,
                       "weight_base": p.addr_bits, "ofmap_base": p.addr_bits, "dataflow": 2})
        if p.slice_bits:
            fields.update({**SLICE_FIELDS, "ifmap_plane": p.addr_bits,
                           "weight_plane": p.addr_bits})
        if self.requant:
            fields.update({"requant": 1, "relu": 1, "requant_base": p.addr_bits})
        return data.StructLayout(fields)

    def read_request_layout(self) -> data.StructLayout:
        return data.StructLayout({"addr": self.params.addr_bits, "tag": self.tag_layout})

    def read_response_layout(self) -> data.StructLayout:
        return data.StructLayout({"data": signed(self.element_bits), "tag": self.tag_layout})

    def write_request_layout(self) -> data.StructLayout:
        return data.StructLayout({"addr": self.params.addr_bits,
                                  "data": signed(self.psum_bits)})

    def perf_layout(self) -> data.StructLayout:
        return data.StructLayout({name: unsigned(self.params.counter_bits) for name in COUNTERS})


def built_dataflows(arch: ArchSpec) -> tuple:
    """The spec's dataflows that the RTL builds: ws and os, and is when ifmap and weights have
    the same width (is runs the ws datapath with the operands swapped)."""
    pe = arch.pe_array
    return tuple(df for df in ("ws", "os", "is") if df in pe.dataflows
                 and (df != "is" or pe.ifmap_bits == pe.weight_bits))


def dataflow_flags(m, geo: DesignParams, code) -> dict:
    """One-bit signals ws / os / is for the command's dataflow `code` (constants when the
    design builds a single dataflow)."""
    flags = {}
    for name, value in DATAFLOW_CODES.items():
        flag = Signal(name=f"dataflow_{name}")
        if name not in geo.dataflows:
            m.d.comb += flag.eq(0)
        elif len(geo.dataflows) == 1:
            m.d.comb += flag.eq(1)
        else:
            m.d.comb += flag.eq(code == value)
        flags[name] = flag
    return flags


def bits_for(count: int) -> int:
    """Bits of an index 0 .. count-1 (at least 1)."""
    return max(1, (count - 1).bit_length())


def command_fields(plan: RtlPlan, ifmap_base: int, weight_base: int, ofmap_base: int,
                   params: GeneratorParams = GeneratorParams(), slices: dict | None = None,
                   requant_base: int = 0, relu: bool = False) -> dict:
    """The command descriptor of `plan` as a dict of field values (with `slices`, the values
    of the bit-sliced pass fields; with plan.requant, the requantization fields, its table at
    `requant_base`); SpecError if one does not fit its field. Fields left out are 0 (a
    design's requantization fields when the plan does not requantize)."""
    g = plan.gemm
    tn, tm, tk = plan.trips
    fields = {"C": g.C, "H": g.H, "W": g.W, "K": g.K, "R": g.R, "S": g.S, "P": g.P, "Q": g.Q,
            "stride": g.stride, "padding": g.padding, "Mt": plan.Mt, "Kt": plan.Kt,
            "Nt": plan.Nt, "tn": tn, "tm": tm, "tk": tk, "M": g.M, "Kd": g.Kd,
            "ifmap_base": ifmap_base, "weight_base": weight_base, "ofmap_base": ofmap_base,
            "dataflow": DATAFLOW_CODES[plan.dataflow], **(slices or {})}
    geo = DesignParams.of(plan.arch, params)
    if plan.requant:
        if not geo.requant:
            raise SpecError(requant_refusal(plan.arch) or "the design has no requantization "
                            "stage (GeneratorParams.requant is off)")
        fields.update({"requant": 1, "relu": int(relu), "requant_base": requant_base})
    layout = geo.command_layout()
    for name, value in fields.items():
        width = layout[name].width
        if value >= 1 << width:
            raise SpecError(f"command field {name} = {value} does not fit its {width} bits")
    return fields
