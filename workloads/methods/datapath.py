"""The datapath the mapped-program controller (hw/controller/) is built with: which PE its
array holds and what that PE computes (docs/plans/method_hardware_on_controller.md, §0, §1(a)
and §1(e); the PE swap and the MAC mode are built so far).

A `Datapath` names no method: the hardware (hw/controller), the timing model
(sim/cycle/controller_timing) and the closed forms (sim/controller_cost) read the same object.
`BASELINE` is the int8 MAC array every baseline run uses. A method family whose PE runs on the
controller declares `CONTROLLER_DATAPATH` in its `workloads/methods/<family>/plan.py` (and
`CONTROLLER_PE`, the Amaranth class, in `hw/methods/<family>/__init__.py`);
`controller_datapath(arch, pe_op, op)` finds it by the arch's PE kind and the op's PE operation
(and widths), so nothing here lists methods by name; a family may declare datapaths of its
methods' own too (METHOD_DATAPATHS, `method_datapath`).

A datapath with `mac_mode` also runs an int8 multiply-accumulate, which a method keeps for its
full-precision layers (AdderNet's first conv and FC, Winograd's 1x1 and strided layers): dual
PEs beside a family's own operation (`Datapath.dual_pe`), or the same MAC PEs without the
method's stages (Winograd's). The command's `mode` field picks one per command
(`Datapath.mode_of`), so one design runs the whole network.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cache
from importlib import import_module
from typing import Callable

from dlaforge.errors import SpecError

from .conv_ref import conv2d_int


OUT_CODE_BITS = 8      # the widest codes a datapath of codes writes: an int8 layer's input


@dataclass(frozen=True)
class Datapath:
    """pe_kind: the arch's `pe_array.pe_kind` it is built for; pe_op: the HwOp.pe_op its PEs
    perform; family: the method family whose hw/methods/<family>/ holds the PE class
    (`CONTROLLER_PE`; "baseline": hw/pe.MacPE); zero_weight_idle: a PE with a zero weight adds
    nothing whatever its ifmap lane holds (a MAC: the ws fold may then leave the lanes past a
    tile's channels stale under zero weight rows; an adder, |a - 0| != 0, may not, and the ws
    fold masks them); sums(x, w, stride, padding, groups, out_size): the bit-exact
    accumulator sums of a layer, int64[N, K, P, Q] over zero-padded windows (x NCHW, w KCRS);
    signed_sums: the sums take both signs (a MAC's); False: they are never positive (an
    adder's -sum|x - w|), so a ReLU after the requantization zeroes every output and the
    random jobs (hw/controller/stimulus.random_requant_of) draw none; mac_mode: its PEs also
    multiply-accumulate (pe_op `mac_op`, sums conv2d_int), in the mode a command's `mode`
    field selects (a multiplier and adder beside the family's operation in every PE: dual_pe;
    a transforming datapath's own operation is a MAC already);
    weight_bits: the weights of its own operation travel packed in DRAM at that many bits
    each (program.packed_blocks; 0: one element per weight at the array's width), and the
    load turns code c into the weight lane value weight_levels[c] (BWN: bit 0 -> +1, 1 ->
    -1); own_dataflows: the dataflows its own operation runs under (a PE whose operation is
    not symmetric in the two operands cannot run is, which swaps them); codes: its layers'
    activations are unsigned codes of that many bits (PalQuant's 2; 0: signed values): the
    ifmap lanes hold 0 .. 2**codes - 1, and the requantization writes the next layer's codes
    of the command's `out_codes` bits (its own, or the wider codes of a layer of slice passes,
    up to OUT_CODE_BITS), every command's ReLU on (the clamp to 0 .. 2**out_codes - 1 is the
    code quantizer's, not an activation function); signed_codes: the codes are signed
    values instead (two's complement, -2**(codes-1) .. 2**(codes-1) - 1: AdderNet w4a4's
    4-bit activations), held sign-extended in lanes at least that wide, the requantization
    clamping to the signed range of out_codes bits with the command's ReLU as it says (a MAC
    mode's layers read and write int8, OUT_CODE_BITS); mac_op: the HwOp.pe_op its MAC mode
    runs ("mac"; PalQuant's "slice_mac"); slice_bits: its MAC mode multiplies unsigned codes
    of that many bits (0: the lanes' signed values), and takes wider unsigned codes as slice
    passes (program.Shape.ifmap_slices/weight_slices: a pass per slice pair, each product
    shifted by slice_bits x (i + j) into the accumulator); op_slices(op): the (ifmap,
    weight) slices of such an op (a method cut it into slices, HwOp.dram_scale);
    operand_bits(arch): the width of its own operation's ifmap and weight elements in the
    buffers and DRAM where that is not the arch's lanes (XNOR's packed sign words of
    xnor_word_bits; `operand_arch`); valid_lanes: its PEs' operand lanes carry a valid bit
    above the buffer's element, 1 where the sequencer feeds a buffer word and 0 where it feeds
    zeros (padding, lanes past a tile's channels or filters), because a zero element is not
    nothing to its operation (XNOR's all-zero word is 64 signs of -1); scale_map_bits: its
    commands scale every requantized output by a per-pixel unsigned factor of that many bits
    (XNOR-Net's K), read from a map in DRAM before a final write-back whose pixels differ from
    the last read's (Shape.scale_bytes),
    the family's hw CONTROLLER_OUTPUT forming the requantizer's input from the sum, the
    factor and the pixel's in-image taps (0: none); scaled(sums, scale, taps, tap_bias): that
    input, before its wrap to psum_bits, in numpy (the command's tap_bias, arrays that
    broadcast); binarizes: a command of its own operation may read int8 activations and pack
    their signs into its operand words on the load (the command's `binarize`: XNOR-Net's
    binarizer, Shape.binarized), the scale map then computed on chip from their magnitudes
    rather than read; mac_bits: its MAC mode's operands are that many bits where its lanes
    are wider (XNOR's int8 beside 64-bit words: operand_bits), one per lane, each a DRAM
    element of its own width (Shape.element_bits; 0: the lanes'); binarized_channels(arch,
    op): the int8 channels per group a binarizing op's load packs (HwOp.C counts its words);
    prices_units: the controller's model of its ops charges their units' operations
    (HwOp.ops priced by sim/method_costs.unit_energy_pj: XNOR's scaling stage is on the
    controller); weight_code: its own operation's weights travel as code regions that the
    load rebuilds into weights of weight_code.bits, the weight lanes' width (`rebuilt_bits`;
    the family's hw CONTROLLER_WEIGHT_STAGE; program.Shape.region_rows): an object of the
    family's with `bits`, of_op(op) (a layer's codes), random(rng, K, C, R, S), weights(codes)
    (K x C x R x S integers), channels(codes, words) and group_channels(C, R, S, words) (a
    region's channels on a design of weight halves of `words`: Shape.region_channels; 0:
    none fit), table(codes, cols, channels) (Shape.region_fixed, region_rows),
    image(codes, cols, channels) (the DRAM bytes) and image_bytes(codes, cols, channels),
    pitch(codes, channels) (byte-rows per filter between a group's regions), stride(codes,
    cols, channels) (bytes per channel between groups' regions), buffer_rows(words) (the code
    buffer's byte-rows for a weight half of `words`) and reads_per_weight (code-buffer bytes a
    lane reads per rebuilt weight, for its energy); None: plain weights; tap_transform: its
    own operation is a Winograd-domain convolution (an object with m, a = m + 2, bt and at:
    workloads/methods/winograd's Variant): the load transforms each raw a x a input patch
    into a² tap values (a staging buffer and the patch stage), each kernel tap (r, s) of the
    command (R = S = a) accumulates into its own plane, and the write-back transforms a
    tile pixel's a² planes into m x m outputs (the tile stage); None: a direct convolution."""

    pe_kind: str = "mac"
    pe_op: str = "mac"
    family: str = "baseline"
    zero_weight_idle: bool = True
    sums: Callable = conv2d_int
    signed_sums: bool = True
    mac_mode: bool = False
    weight_bits: int = 0
    weight_levels: tuple = ()
    own_dataflows: tuple = ("ws", "os", "is")
    codes: int = 0
    signed_codes: bool = False
    mac_op: str = "mac"
    slice_bits: int = 0
    op_slices: Callable | None = None
    operand_bits: Callable | None = None
    valid_lanes: bool = False
    scale_map_bits: int = 0
    scaled: Callable | None = None
    binarizes: bool = False
    mac_bits: int = 0
    binarized_channels: Callable | None = None
    prices_units: bool = False
    weight_code: object = None
    tap_transform: object = None

    @property
    def dual_pe(self) -> bool:
        """Whether its PEs hold two operations (hw/pe.with_mac_mode): a MAC mode beside an
        own operation that is not a multiply-accumulate (a Winograd datapath's tap GEMMs
        and its MAC mode's direct layers are both MACs: one PE serves both)."""
        return self.mac_mode and self.tap_transform is None

    @property
    def rebuilt_bits(self) -> int:
        """The width its weight lanes hold rebuilt weights at (weight_code; 0: none)."""
        return self.weight_code.bits if self.weight_code is not None else 0

    def region_fields(self, codes, cols: int, words: int) -> dict:
        """The program.Shape fields of a command of its own operation whose weights are
        `codes` (weight_code's), rebuilt in blocks of `cols` filters and groups of channels
        on a design whose weight buffer half holds `words` words (ValueError if not even
        one group's weights fit: controller_cost refuses such a layer first)."""
        channels = self.weight_code.channels(codes, words)
        if not channels:
            raise ValueError(f"no group of channels of these codes fits {words} weight words")
        fixed, rows = self.weight_code.table(codes, cols, channels)
        return dict(rebuilt_bits=self.rebuilt_bits, region_filters=cols,
                    region_channels=channels, region_fixed=fixed, region_rows=rows)

    @property
    def out_bits(self) -> int:
        """The width its requantizer writes (0: the arch's ofmap_bits): OUT_CODE_BITS + 1 bits
        for a datapath of unsigned codes, whose non-negative values hold a command's codes."""
        return OUT_CODE_BITS + 1 if self.unsigned_codes else 0

    @property
    def unsigned_codes(self) -> bool:
        """Whether its activations are unsigned codes (`codes` without signed_codes), which
        every command's ReLU clamps to (a datapath of signed codes clamps to their signed
        range, the ReLU as the command says)."""
        return bool(self.codes) and not self.signed_codes

    def code_range(self, bits: int) -> tuple[int, int]:
        """[low, high) of its activation codes of `bits` bits: 0 .. 2**bits unsigned,
        -2**(bits-1) .. 2**(bits-1) with signed_codes."""
        return (-(1 << bits - 1), 1 << bits - 1) if self.signed_codes else (0, 1 << bits)

    @property
    def code_levels(self) -> tuple:
        """The lane value of each packed activation code as the load reads it: () for unsigned
        codes (the code itself), the two's complement values of signed ones."""
        return twos_complement(self.codes) if self.signed_codes else ()

    @property
    def requant_elements(self) -> str:
        """The element rule its requantization takes (program.requant_refusal's `elements`):
        "codes" on a datapath of codes, "any" with operands of their own width or rebuilt
        weights (their regions are bytes whatever the lanes), else "byte"."""
        return ("codes" if self.codes else "any" if self.operand_bits or self.rebuilt_bits
                else "byte")

    @property
    def scale_bytes(self) -> int:
        """Bytes of one scale-map element in DRAM (0 without a scale map)."""
        return (self.scale_map_bits + 7) // 8

    def rules(self) -> dict:
        """Its fields but the functions (their values by repr): what a cache of its designs
        keys on beside its family's sources (two datapaths of one family differ there)."""
        return {f.name: repr(getattr(self, f.name)) for f in fields(self)
                if not callable(getattr(self, f.name))}

    @property
    def is_baseline(self) -> bool:
        return self.pe_op == "mac" and self.family == "baseline"

    @property
    def pe_ops(self) -> tuple[str, ...]:
        """The PE operations its array runs, in the order of the command's `mode` values."""
        return ((self.pe_op, self.mac_op) if self.mac_mode and self.pe_op != self.mac_op
                else (self.pe_op,))

    def mode_of(self, pe_op: str) -> int:
        """The command's `mode` value that runs ops of `pe_op` (ValueError if none does)."""
        if pe_op not in self.pe_ops:
            raise ValueError(f"the {self.family} datapath runs {', '.join(self.pe_ops)}, "
                             f"not pe_op {pe_op!r}")
        return self.pe_ops.index(pe_op)

    def sums_of(self, pe_op: str) -> Callable:
        """The accumulator sums of a layer of `pe_op` (Datapath.sums' signature; the MAC
        mode's, of slice passes too: conv2d_int of the whole codes)."""
        return self.sums if self.mode_of(pe_op) == 0 else conv2d_int

    def runs_under(self, pe_op: str, dataflow: str) -> bool:
        """Whether ops of `pe_op` run under `dataflow` (its own operation: own_dataflows)."""
        return self.mode_of(pe_op) != 0 or dataflow in self.own_dataflows

    def element_bits(self, pe_op: str) -> int:
        """The DRAM width of the ifmap and weight elements of ops of `pe_op` where it is not
        the design's lanes (Shape.element_bits: the MAC mode's, mac_bits), else 0."""
        return self.mac_bits if self.mode_of(pe_op) != 0 else 0

    def packs(self, pe_op: str) -> bool:
        """Whether ops of `pe_op` move packed weights (its own operation's, weight_bits)."""
        return bool(self.weight_bits) and self.mode_of(pe_op) == 0

    @property
    def packs_codes(self) -> bool:
        """Whether its activation codes travel packed in DRAM, 8 // codes to a byte (codes of
        a width that divides a byte; HwOp.packed_codes, Shape.ifmap_pack and ofmap_pack)."""
        return bool(self.codes) and 8 % self.codes == 0

    def packs_codes_on(self, arch) -> bool:
        """Whether the controller built for `arch` moves its activation codes packed: codes
        that pack (packs_codes) on an arch whose write requests and filter blocks fill whole
        bytes (program.packed_codes_refusal); otherwise one code per DRAM byte."""
        from dlaforge.program import packed_codes_refusal
        return (self.packs_codes
                and packed_codes_refusal(self.operand_arch(arch), self.codes) is None)

    def packed_bits(self, op, arch) -> tuple[int, int]:
        """(ifmap, ofmap) code bits `op` moves packed on `arch` (HwOp.packed_codes; 0: one
        code per byte); ValueError where it names an operand this datapath cannot pack for
        it (reads_packed, writes_packed, packs_codes_on)."""
        wanted = set(op.packed_codes)
        if not wanted:
            return 0, 0
        able = {"ifmap": self.reads_packed(op), "ofmap": self.writes_packed(op)}
        if not self.packs_codes_on(arch) or not all(able.get(name) for name in wanted):
            raise ValueError(f"hw op {op.name!r}: the controller's {self.family} datapath "
                             f"cannot move its {', '.join(sorted(wanted))} as packed codes on "
                             f"arch {arch.name!r}")
        return tuple(self.codes if name in wanted else 0 for name in ("ifmap", "ofmap"))

    def reads_packed(self, op) -> bool:
        """Whether a command of `op` can read its ifmap as packed codes: an op of its own
        operation (whose ifmap is its codes) whose groups' channels each start on a byte."""
        return (self.packs_codes and op.pe_op in self.pe_ops and self.mode_of(op.pe_op) == 0
                and (op.groups == 1 or op.C // op.groups * self.codes % 8 == 0))

    def writes_packed(self, op) -> bool:
        """Whether the commands of `op` can write their outputs as packed codes: each group's
        filters (a command's, its slices taken out) start on a byte."""
        if not self.packs_codes or op.pe_op not in self.pe_ops:
            return False
        filters = op.K // op.groups // self.slices_of(op)[1]
        return op.groups == 1 or filters * self.codes % 8 == 0

    def ifmap_codes(self, pe_op: str, ifmap_slices: int = 1) -> int:
        """The code bits of the ifmap a command of `pe_op` reads on a datapath of codes: its
        codes in its own operation, slice_bits per slice in its MAC mode's slice passes."""
        if self.mode_of(pe_op) == 0:
            return self.codes
        return self.slice_bits * ifmap_slices or OUT_CODE_BITS   # a MAC mode's int8

    def arch_refusal(self, arch) -> str | None:
        """Why the controller cannot be built with it for `arch` (None if it can): a MAC mode
        where the arch puts its full-precision layers on a MAC array beside the method's
        (pe_array.full_precision "beside", not built); operand lanes its PEs cannot take: a
        datapath of codes or slice passes is built for lanes exactly that wide (its slices'
        weights, the shift of each pass, follow from it); one of operand_bits takes any (its
        design is built on `operand_arch`) that operand_bits accepts (its SpecError says why
        not)."""
        where = arch.pe_array.full_precision
        if self.mac_mode and where != "mac_mode":
            return (f"arch {arch.name!r} keeps the full-precision layers on a MAC array beside "
                    f"the {self.family} PEs (pe_array.full_precision: {where}), which the "
                    f"controller does not build; it builds their MAC mode (mac_mode)")
        if self.operand_bits is not None:   # built on operand_arch, whatever the arch's lanes
            try:
                self.operand_bits(arch)
            except SpecError as exc:        # operands it has no lanes for
                return str(exc)
            return None
        pe, need = arch.pe_array, self.slice_bits or self.unsigned_codes and self.codes
        if need and (pe.ifmap_bits, pe.weight_bits) != (need, need):
            return (f"the controller's {self.family} datapath takes {need}-bit code lanes, "
                    f"not {pe.ifmap_bits}-bit ifmap and {pe.weight_bits}-bit weight lanes")
        if self.signed_codes and min(pe.ifmap_bits, pe.weight_bits) < OUT_CODE_BITS:
            return (f"the controller's {self.family} datapath holds its {self.codes}-bit "
                    f"values sign-extended in lanes of {OUT_CODE_BITS} bits or more (its MAC "
                    f"mode's int8), not {pe.ifmap_bits}-bit ifmap and {pe.weight_bits}-bit "
                    f"weight lanes")
        if self.signed_codes and pe.ofmap_bits < OUT_CODE_BITS:
            return (f"the controller's {self.family} datapath writes values of up to "
                    f"{OUT_CODE_BITS} bits (an int8 layer's input), not {pe.ofmap_bits}-bit "
                    f"outputs")
        return None

    def op_bits(self, arch, pe_op: str) -> tuple[int, int]:
        """(ifmap, weight) bits of the ops of `pe_op` it runs on `arch` (HwOp.ifmap_bits,
        weight_bits): its own operation's operand_bits, or the lanes' (the weights' packed
        width where it packs them); its MAC mode's mac_bits, or the lanes'."""
        pe = arch.pe_array
        if self.mode_of(pe_op) != 0:
            return (self.mac_bits,) * 2 if self.mac_bits else (pe.ifmap_bits, pe.weight_bits)
        if self.operand_bits is not None:
            return (self.operand_bits(arch),) * 2
        return (self.codes or pe.ifmap_bits,
                self.weight_bits if self.packs(pe_op) else pe.weight_bits)

    def operand_arch(self, arch):
        """`arch` as the controller's buffers and DRAM hold its own operation's operands
        (ifmap and weight elements of operand_bits(arch) bits; weights of rebuilt_bits), the
        arch the design and the models of its commands are built for; `arch` itself without
        either."""
        if self.rebuilt_bits:       # the weights as the load rebuilds them
            return replace(arch, pe_array=replace(arch.pe_array,
                                                  weight_bits=self.rebuilt_bits))
        if self.operand_bits is None:
            return arch
        bits = self.operand_bits(arch)
        return replace(arch, pe_array=replace(arch.pe_array, ifmap_bits=bits,
                                              weight_bits=bits))

    def slices_of(self, op) -> tuple[int, int]:
        """(ifmap slices, weight slices) the command of `op` runs (1, 1 without slice
        passes)."""
        if self.op_slices is None or self.mode_of(op.pe_op) == 0 or not op.dram_scale:
            return 1, 1
        return self.op_slices(op)

    def signed_sums_of(self, pe_op: str) -> bool:
        """Whether the sums of a layer of `pe_op` take both signs (Datapath.signed_sums)."""
        return self.signed_sums if self.mode_of(pe_op) == 0 else True


BASELINE = Datapath()


def twos_complement(bits: int) -> tuple:
    """The values of the `bits`-bit codes 0 .. 2**bits - 1 read as two's complement (4 bits:
    0 .. 7, -8 .. -1): the levels of signed packed values (Datapath.weight_levels,
    code_levels), which the load sign-extends."""
    return tuple(range(1 << bits - 1)) + tuple(range(-(1 << bits - 1), 0))


def _family_plan(family: str):
    """A method family's plan.py module, None for a family without one."""
    name = f"{__package__}.{family}.plan"
    try:
        return import_module(name)
    except ModuleNotFoundError as exc:
        # a family without a plan.py; a broken import inside one is an error
        if exc.name not in (name, f"{__package__}.{family}"):
            raise
        return None


def _declared(plan) -> list:
    """The datapaths a family's plan declares: CONTROLLER_DATAPATH, its methods' own
    (METHOD_DATAPATHS, by method name: AdderNet w4a4's) after it."""
    found = [getattr(plan, "CONTROLLER_DATAPATH", None),
             *getattr(plan, "METHOD_DATAPATHS", {}).values()]
    return [datapath for datapath in found if datapath is not None]


@cache
def family_datapaths() -> tuple:
    """Every datapath a method family's plan.py declares (_declared), in family order."""
    from . import METHODS
    out = []
    for family in dict.fromkeys(method.family for method in METHODS.values()):
        plan = _family_plan(family)
        for found in _declared(plan) if plan is not None else ():
            if found not in out:
                out.append(found)
    return tuple(out)


def controller_datapath(arch, pe_op: str = "mac", op=None) -> Datapath | None:
    """The datapath on which the controller built for `arch` runs ops of `pe_op`: BASELINE for
    MAC ops on a MAC array, a family's datapath for its PE operation on its PE kind (and for
    MAC ops when it has a MAC mode), None when none does. Where several do, the first whose
    operand widths are `op`'s (a HwOp; Datapath.op_bits) and that can move its packed codes
    (HwOp.packed_codes): AdderNet's 4-bit adder layers and an int8 layer writing their packed
    codes find the w4a4 datapath, the rest AdderNet's int8 one. The lookup is by the arch's
    PE kind, not by the method: the models time an int8 layer on an adder arch in the MAC
    mode of the first adder-kind datapath (AdderNet's) under any method, which times it as
    BWN's would (the timing is the array's); the RTL builds the method's own
    (method_datapath)."""
    kind = arch.pe_array.pe_kind
    found = [BASELINE] if (kind, pe_op) == (BASELINE.pe_kind, BASELINE.pe_op) else []
    found += [d for d in family_datapaths() if d.pe_kind == kind and pe_op in d.pe_ops]
    if op is not None and len(found) > 1:
        for datapath in found:
            if datapath.arch_refusal(arch) is None and (
                    datapath.op_bits(arch, pe_op) == (op.ifmap_bits, op.weight_bits)
                    and (datapath.packs_codes or not op.packed_codes)):
                return datapath
    return found[0] if found else None


def method_datapath(arch, method) -> Datapath | None:
    """The controller datapath `method` (a registered workloads.methods.Method) runs on
    `arch`: its own in its family's METHOD_DATAPATHS, else the family's CONTROLLER_DATAPATH,
    when built for the arch's PE kind; None when it has none there."""
    plan = _family_plan(method.family)
    if plan is None:
        return None
    datapath = (getattr(plan, "METHOD_DATAPATHS", {}).get(method.name)
                or getattr(plan, "CONTROLLER_DATAPATH", None))
    if datapath is None or datapath.pe_kind != arch.pe_array.pe_kind:
        return None
    return datapath


def link_packed_codes(datapath: Datapath | None, ops: list, arch,
                      runs: Callable | None = None) -> list:
    """A network's `ops` in order with HwOp.packed_codes set as the controller built for
    `arch` with `datapath` hands activation codes on (Datapath.packs_codes_on; `ops`
    unchanged otherwise). The next op in the list is taken as the reader of an op's outputs,
    as the RTL's networks chain their layers (a branch, such as ResNet's downsample listed
    after the block's second conv, is priced as reading the op before it); anything else
    than an op the controller runs (`runs(op)`, under the caller's dataflow; a vector
    layer's op, an op of another datapath) breaks the chain. An op reads its ifmap packed
    when it can (Datapath.reads_packed) and the op before it, if there is one, writes packed
    (the first op's input is the host's, written packed); it writes its outputs packed when
    the next op reads them packed and it can write them so (writes_packed: a depthwise
    layer's one filter per group cannot, so its outputs and the next layer's input stay one
    code per byte); an op whose smallest packed tile would not fit the buffers packs
    nothing. The last op writes OUT_CODE_BITS codes, one per byte."""
    from dlaforge.workloads.hwop import HwOp
    if datapath is None or not datapath.packs_codes_on(arch):
        return list(ops)
    able = []       # per op: (reads packed, writes packed), None where the chain breaks
    for op in ops:
        if (not isinstance(op, HwOp) or op.pe_op not in datapath.pe_ops
                or (runs is not None and not runs(op))):
            able.append(None)
            continue
        reads, writes = datapath.reads_packed(op), datapath.writes_packed(op)
        both = tuple(name for name, ok in (("ifmap", reads), ("ofmap", writes)) if ok)
        if both and runs is not None and not runs(replace(op, packed_codes=both)):
            reads = writes = False
        able.append((reads, writes))
    out = []
    for index, op in enumerate(ops):
        if able[index] is None:
            out.append(op)
            continue
        before = able[index - 1] if index else (True, True)     # the host writes packed
        after = able[index + 1] if index + 1 < len(ops) else None
        packed = []
        if able[index][0] and before is not None and before[1]:
            packed.append("ifmap")
        if able[index][1] and after is not None and after[0]:
            packed.append("ofmap")
        out.append(replace(op, packed_codes=tuple(packed)))
    return out


def design_arch(arch, shape=None):
    """`arch` as the controller built for it holds the operands: the operand_arch of the
    datapath of its PE kind with operand_bits (XNOR's 64-bit words, its MAC mode's int8
    included), else `arch` itself (and where that datapath takes no operands of this arch,
    whose refusal arch_refusal gives); the weight lanes at a `shape`'s (program.Shape)
    rebuilt width where it has one (Shape.rebuilt_bits)."""
    if shape is not None and shape.rebuilt_bits:
        arch = replace(arch, pe_array=replace(arch.pe_array, weight_bits=shape.rebuilt_bits))
    for datapath in family_datapaths():
        if datapath.pe_kind == arch.pe_array.pe_kind and datapath.operand_bits is not None:
            try:
                return datapath.operand_arch(arch)
            except SpecError:
                return arch
    return arch
