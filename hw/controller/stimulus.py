"""One layer on the mapped-program controller: its DRAM image, one command per group, and its
bit-exact reference.

`ControllerJob` holds an arch, one group's `program.Shape` (C and K per group), the number of
groups, a `program.Mapping`, the dataflow (ws, os or is: the command's `dataflow` field) and
the operands: ifmap[N, groups*C, H, W] and weight[groups*K, C,
R, S] (NCHW / KCRS, as workloads/methods/conv_ref.py takes them). The DRAM image places, in the
contract's layouts (docs/controller.md, "DRAM layouts"), one after another: the ifmap (NHWC,
Ct = groups*C channels), the weights (R x S x C x Kt, Kt = groups*K filters), with `requant`
the parameter table (one per group, laid out as its quantizer says: hw/requant.param_table),
the outputs and the partial-sum region (both N x P x Q x Kt). Group g's command adds g*C to
the ifmap base, g*K to the others (a channel or filter offset), g tables to the table's.
The expected output is conv2d_int (with P x Q, so windows may hang past the edge) wrapped to
psum_bits as the PEs wrap, then with `requant` requantized to ofmap_bits, in the outputs'
N x P x Q x Kt order. Every tap outside the image holds the input zero point
(`Requant.in_zero`; 0 but under an asymmetric quantizer, whose design
takes it as the command's `pad` field): real-zero padding.
A datapath that rebuilds its weights (Datapath.weight_code: SmartDeal's) takes the job's
`codes` instead: its weight region holds their code regions (weight_code.image), `weight` is
what they rebuild to, and the shape's region fields say how many byte-rows each holds.

A job refuses (SpecError) a mapping that does not fit the buffers (program.fits) or whose
loop order is unknown, a dataflow the design was not generated with, and a command field that
overflows its width.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.program import (BINARY_WORD_BITS, CONTROLLER_DATAFLOWS, LOOP_ORDERS, Mapping,
                              Shape, acc_planes, binarize_refusal, fits, in_size, out_size,
                              packed_align, packed_outputs, packed_row_bytes, region_channel_tile,
                              requant_refusal, tile_words)
from dlaforge.workloads.methods.conv_ref import conv2d_int
from dlaforge.workloads.methods.datapath import BASELINE, OUT_CODE_BITS, Datapath
from dlaforge.workloads.methods.requant_ref import (Requant, pad_input, random_requant,
                                                    zero_point_bias)
from dlaforge.workloads.quantizers import DEFAULT_QUANTIZER, Quantizer, as_quantizer

from ..layouts import GeneratorParams
from ..requant import param_table
from ..stimulus import wrap
from .layouts import ControllerParams, check_command


def with_dram(arch: ArchSpec, bandwidth: float | None = None,
              latency: int | None = None) -> ArchSpec:
    """`arch` with its DRAM's bandwidth (bytes/cycle) or latency replaced where given (the
    controller's beats are built from the spec's bandwidth)."""
    changes = {k: v for k, v in (("bandwidth_bytes_per_cycle", bandwidth),
                                 ("latency_cycles", latency)) if v is not None}
    return replace(arch, dram=replace(arch.dram, **changes)) if changes else arch


@dataclass
class ControllerJob:
    arch: ArchSpec
    shape: Shape              # one group's
    mapping: Mapping
    ifmap: np.ndarray         # N x groups*C x H x W
    weight: np.ndarray        # groups*K x C x R x S
    groups: int = 1
    requant: Requant = None   # None: the outputs are the psum_bits sums
    dataflow: str = "ws"      # one of the design's (ControllerParams.dataflows)
    datapath: Datapath = None  # the design's PE (workloads/methods/datapath.py; None: MAC)
    pe_op: str = None         # the PE operation it runs (one of the datapath's; None: its own)
    out_codes: int = None     # a datapath of codes: its outputs' code bits (None: its codes)
    kmap: np.ndarray = None   # a datapath's scale map (Datapath.scale_map_bits): N x P x Q
    tap_bias: int = 0         # ... and what each in-image tap adds to its sums
    recip: int = 0            # a binarizing command's scale map: K_q = (sum |x| * recip)
    k_shift: int = 0          # >> k_shift (Shape.binarized; the map is then not given)
    codes: object = None      # a rebuilding datapath's weight codes (Datapath.weight_code)
    tap_scales: tuple = None  # a Winograd-domain command's (v_shift, align), a x a each

    def __post_init__(self):
        s, mp, g = self.shape, self.mapping, self.groups
        self.geo = ControllerParams.of(self.arch, self.params, datapath=self.datapath)
        self.arch = self.geo.datapath.operand_arch(self.arch)   # as the design holds them
        if self.pe_op is None:
            self.pe_op = self.geo.datapath.pe_op
        d = self.geo.datapath
        if d.codes:
            self.out_codes = self.out_codes or d.codes
            if not 1 <= self.out_codes <= OUT_CODE_BITS:
                raise SpecError(f"output codes of {self.out_codes} bits; the {d.family} "
                                f"datapath writes 1 to {OUT_CODE_BITS}")
        elif self.out_codes is not None:
            raise ValueError(f"the {d.family} datapath writes no activation codes")
        if self.pe_op not in d.pe_ops:
            raise SpecError(f"the controller's {d.family} datapath runs "
                            f"{', '.join(d.pe_ops)}, not pe_op {self.pe_op!r}")
        bits = d.weight_bits if d.packs(self.pe_op) else 0
        if s.weight_bits not in (0, bits):
            raise ValueError(f"the shape's weights are {s.weight_bits}-bit packed; the "
                             f"{d.family} datapath moves {self.pe_op}'s "
                             + (f"{bits}-bit packed" if bits else "unpacked"))
        # as the datapath moves them; a scale map read by the final write-backs
        own = d.mode_of(self.pe_op) == 0        # its own operation (not its MAC mode)
        self.shape = s = replace(s, weight_bits=bits,
                                 scale_bytes=d.scale_bytes if self.geo.scales and own else 0,
                                 element_bits=d.element_bits(self.pe_op))
        if d.rebuilt_bits and own:
            self._rebuilt_weights()
        elif self.codes is not None:
            raise ValueError(f"the {d.family} datapath's {self.pe_op} takes no weight codes")
        s = self.shape
        if s.tap_side:
            self._tap_checks(own)
        elif self.tap_scales is not None:
            raise ValueError("`tap_scales` are a Winograd-domain command's (Shape.tap_side)")
        if s.binarized:
            if not d.binarizes or self.pe_op != d.pe_op:
                raise SpecError(f"the controller's {d.family} datapath does not binarize "
                                f"{self.pe_op}'s activations")
            if why := binarize_refusal(s, mp.ct, self.arch.dram.bandwidth_bytes_per_cycle):
                raise SpecError(why)
        if s.scale_bytes and self.kmap is None:
            self.kmap = np.zeros((s.N, s.P, s.Q), np.int64)
        if s.scale_bytes and not s.binarized and (
                self.kmap.shape != (s.N, s.P, s.Q) or self.kmap.min() < 0
                or self.kmap.max() >> d.scale_map_bits):
            raise ValueError(f"`kmap` must hold N x P x Q unsigned {d.scale_map_bits}-bit "
                             f"scales")
        if not d.runs_under(self.pe_op, self.dataflow):
            raise SpecError(f"the controller's {d.family} PEs run {self.pe_op} under "
                            f"{', '.join(d.own_dataflows)} only, not {self.dataflow}")
        if bits and mp.kt % packed_align(bits) and mp.kt < s.K:
            raise SpecError(f"a tile of packed {bits}-bit weights holds a multiple of "
                            f"{packed_align(bits)} filters (or all {s.K}), not kt={mp.kt}")
        for name, pack in (("ifmap", s.ifmap_pack), ("ofmap", s.ofmap_pack)):
            if pack and (not self.geo.packs_codes or pack != d.codes):
                raise SpecError(f"the controller's {d.family} datapath moves no {pack}-bit "
                                f"packed {name} codes")
        if s.ifmap_pack:
            if d.mode_of(self.pe_op) != 0:
                raise SpecError(f"a {self.pe_op} command reads its ifmap unpacked (its own "
                                f"slices of wider codes)")
            self._packed_tiles("channel", s.C, mp.ct, s.ifmap_pack)
            lo, hi = d.code_range(s.ifmap_pack)
            if self.ifmap.min() < lo or self.ifmap.max() >= hi:
                raise ValueError(f"a packed ifmap holds {s.ifmap_pack}-bit codes, "
                                 f"{lo} .. {hi - 1}")
        if s.ofmap_pack:
            if self.out_codes != d.codes:
                raise SpecError(f"packed outputs are {d.codes}-bit codes, not {self.out_codes}")
            self._packed_tiles("filter", s.K, mp.kt, s.ofmap_pack)
        if bits and not np.isin(self.weight, d.weight_levels).all():
            raise ValueError(f"packed weights take the levels {d.weight_levels} only")
        if s.passes > 1:
            if not d.slice_bits or self.pe_op != d.mac_op:
                raise SpecError(f"the controller's {d.family} datapath runs no slice passes "
                                f"of {self.pe_op}")
            if s.C % mp.ct:
                raise SpecError(f"a command of slice passes takes channel tiles that divide "
                                f"its {s.C} channels, not ct={mp.ct}")
        if self.ifmap.shape != (s.N, self.pitches[0], *in_size(self.shape)):
            raise ValueError(f"`ifmap` has shape {self.ifmap.shape}, the layer "
                             f"{(s.N, self.pitches[0], *in_size(self.shape))}")
        if self.weight.shape != (g * s.K, s.C, s.R, s.S):
            raise ValueError(f"`weight` has shape {self.weight.shape}, the layer "
                             f"{(g * s.K, s.C, s.R, s.S)}")
        if s.binarized and s.scale_bytes:   # formed on chip from the magnitudes
            self.kmap = self.binarized_kmap()
        if self.dataflow not in self.geo.dataflows:
            raise SpecError(f"the controller built for arch {self.arch.name!r} runs "
                            f"{', '.join(self.geo.dataflows)}, not {self.dataflow!r}")
        if mp.order not in LOOP_ORDERS:
            raise SpecError(f"loop order {mp.order!r} is not one the controller runs "
                            f"({', '.join(LOOP_ORDERS)})")
        qt = mp.columns(s.Q)
        if min(mp.kt, mp.ct, mp.pt, qt) < 1:
            raise SpecError(f"tile sizes must be positive, not kt={mp.kt}, ct={mp.ct}, "
                            f"pt={mp.pt}, qt={qt}")
        dims = dict(W=s.W, H=s.H, R=s.R, S=s.S, Q=s.Q, stride=s.stride, padding=s.padding)
        planes = acc_planes(s)
        if not fits(self.arch, **dims, kt=mp.kt, ct=mp.ct, pt=mp.pt, qt=qt, planes=planes):
            pe = self.arch.pe_array
            words = tile_words(pe.rows, pe.cols, **dims, kt=mp.kt, ct=mp.ct, pt=mp.pt, qt=qt,
                               planes=planes)
            b = self.geo.buffers
            raise SpecError(
                f"mapping kt={mp.kt} ct={mp.ct} pt={mp.pt} qt={qt} does not fit arch "
                f"{self.arch.name!r}'s buffer halves: ifmap {int(words['ifmap'])}/"
                f"{b.ifmap_half}, weight {int(words['weight'])}/{b.weight_half}, accumulator "
                f"{int(words['ofmap'])}/{b.acc_half} words")
        if self.requant is not None:
            if why := padding_refusal(d, self.pe_op, self.quantizer):
                raise SpecError(why)
            if not self.geo.requant:
                raise SpecError(requant_refusal(self.arch, self.geo.datapath.requant_elements)
                                or "the design has no "
                                "requantization stage")
            if self.geo.datapath.unsigned_codes and not self.requant.relu:
                raise ValueError(f"the {self.geo.datapath.family} datapath requantizes to "
                                 f"activation codes: its requantization needs the ReLU")
            if self.requant.channels != g * s.K:
                raise ValueError(f"`requant` has {self.requant.channels} channels, the layer "
                                 f"{g * s.K} filters")
        self.commands()             # every field fits its width

    def _rebuilt_weights(self) -> None:
        """The shape's code regions (Shape.region_rows) of the job's codes, which its weights
        must be the rebuild of; SpecError for a mapping that cuts a region."""
        d, s, mp = self.geo.datapath, self.shape, self.mapping
        code = d.weight_code
        if self.codes is None or self.groups != 1:
            raise ValueError(f"the {d.family} datapath rebuilds one group's weights from "
                             f"`codes`")
        if not np.array_equal(self.weight, code.weights(self.codes)):
            raise ValueError("`weight` must be what `codes` rebuild to")
        self.shape = s = replace(s, **d.region_fields(self.codes, self.geo.cols,
                                                      self.geo.buffers.weight_half))
        channels = s.region_channels
        if (min(mp.ct, s.C) != region_channel_tile(s)
                or (mp.kt % self.geo.cols and mp.kt < s.K)):
            raise SpecError(f"a tile of rebuilt weights holds one group of regions of "
                            f"{channels} channels and whole blocks of {self.geo.cols} filters, "
                            f"not kt={mp.kt} ct={mp.ct}")

    def _tap_checks(self, own: bool) -> None:
        """SpecError unless the datapath runs the shape's Winograd-domain command
        (Shape.tap_side) with one group; ValueError unless
        `tap_scales` holds a x a shifts and alignments of their fields' widths."""
        d, s, mp = self.geo.datapath, self.shape, self.mapping
        v = d.tap_transform
        if v is None or not own or v.m != s.tap_side:
            raise SpecError(f"the controller's {d.family} datapath runs no Winograd-domain "
                            f"command of {s.tap_side}x{s.tap_side} output tiles")
        if self.groups != 1:
            raise SpecError("a Winograd-domain command runs one group")
        scales = self.tap_scales
        if scales is None or len(scales) != 2 or any(
                np.shape(x) != (v.a, v.a) or np.min(x) < 0 or np.max(x) >> bits
                for x, bits in zip(scales, (v.shift_bits, v.align_bits))):
            raise ValueError(f"a Winograd-domain job's `tap_scales` are its {v.a}x{v.a} input "
                             f"shifts and output alignments, {v.shift_bits} and "
                             f"{v.align_bits} bits each")

    def _packed_tiles(self, what: str, total: int, tile: int, bits: int) -> None:
        """SpecError unless every group's and tile's packed `what`s start on a byte."""
        align = packed_align(bits)
        if self.groups > 1 and total % align:
            raise SpecError(f"packed codes of {self.groups} groups need a multiple of {align} "
                            f"{what}s per group, not {total}")
        if tile % align and tile < total:
            raise SpecError(f"a tile of packed {bits}-bit codes holds a multiple of {align} "
                            f"{what}s (or all {total}), not {tile}")

    @staticmethod
    def random(arch, shape: Shape, mapping: Mapping, rng, groups=1, low=None, high=None,
               requant=False, relu=False, dataflow="ws", datapath=None,
               pe_op=None, out_codes=None, codes=None) -> ControllerJob:
        """Operands drawn from [low, high) (default: the widths' full ranges, activation codes
        on a datapath of codes, Datapath.code_range: 0 .. 2**codes - 1, or signed ones, and
        unsigned codes of the shape's slices in a datapath's slice passes,
        Datapath.slice_bits); with `requant`
        (True: the default quantizer, or a workloads/quantizers.Quantizer), random
        requantization (`random_requant_of`: scales that saturate some outputs both ways, an
        asymmetric quantizer's bias folding a random input zero point in) and `relu`, dropped
        on a datapath whose sums are never positive (Datapath.signed_sums False); `pe_op` the
        PE operation of a dual-PE datapath it runs (None: the datapath's own); `out_codes` the
        code bits of its outputs on a datapath of codes (None: the datapath's codes); in a
        design with a scale map, random scales of its full range and a tap bias below 2**8;
        on a datapath that rebuilds its weights, `codes` (None: random ones,
        Datapath.weight_code.random) and the weights they rebuild to; a Winograd-domain
        command (Shape.tap_side) random input shifts of 0 .. 4 and output alignments of
        0 .. 3 (its weights the transformed ones, R = S = a)."""
        d = datapath or BASELINE
        arch = d.operand_arch(arch)     # the operands' widths as the design holds them
        pe, s = arch.pe_array, shape
        op = pe_op or d.pe_op           # (one the datapath lacks: refused by the job)
        narrow = d.element_bits(op) if op in d.pe_ops else 0   # a MAC mode's narrower operands
        i_bits, w_bits = (narrow, narrow) if narrow else (pe.ifmap_bits, pe.weight_bits)
        lo_i, hi_i = -(1 << (i_bits - 1)), 1 << (i_bits - 1)
        lo_w, hi_w = -(1 << (w_bits - 1)), 1 << (w_bits - 1)
        if s.binarized:     # int8 activations the load binarizes
            lo_i, hi_i = -128, 128
        if d.codes:         # codes: the datapath's own or a slice pass's (MAC mode's) wider ones
            lo_i, hi_i = d.code_range(d.ifmap_codes(pe_op or d.pe_op, s.ifmap_slices))
        if d.slice_bits and (pe_op or d.pe_op) == d.mac_op:   # the weights' too
            lo_w, hi_w = 0, 1 << d.slice_bits * s.weight_slices
        x = rng.integers(lo_i if low is None else low, hi_i if high is None else high,
                         (s.N, groups * (s.binarized or s.C),
                          *((s.raw_H, s.raw_W) if s.tap_side else (s.H, s.W))))
        w = rng.integers(lo_w if low is None else low, hi_w if high is None else high,
                         (groups * s.K, s.C, s.R, s.S))
        levels = np.asarray(d.weight_levels)
        if d.rebuilt_bits and (pe_op or d.pe_op) == d.pe_op:    # weights rebuilt from codes
            if codes is None:
                codes = d.weight_code.random(rng, groups * s.K, s.C, s.R, s.S)
            w = d.weight_code.weights(codes)
        if len(levels) and (pe_op or d.pe_op) == d.pe_op:   # packed codes
            if low is None and high is None:
                w = levels[rng.integers(0, len(levels), w.shape)]
            else:                   # the drawn values' nearest levels (the extremes' signs)
                w = levels[np.abs(w[..., None] - levels).argmin(axis=-1)]
        scales = None
        if s.tap_side:
            scales = (rng.integers(0, 5, (s.R, s.S)), rng.integers(0, 4, (s.R, s.S)))
        job = ControllerJob(arch, shape, mapping, x, w, groups, dataflow=dataflow,
                            datapath=datapath, pe_op=pe_op, out_codes=out_codes, codes=codes,
                            tap_scales=scales)
        if s.binarized and job.shape.scale_bytes:    # a map spread over its range
            recip = int(rng.integers(1, 1 << d.scale_map_bits))
            top = s.binarized * s.R * s.S * 128 * recip
            job = replace(job, recip=recip, tap_bias=int(rng.integers(0, 1 << 8)),
                          k_shift=max(0, top.bit_length() - d.scale_map_bits))
        elif job.shape.scale_bytes:       # a scale map of the full range, a bias per tap
            job = replace(job, kmap=rng.integers(0, 1 << d.scale_map_bits, job.kmap.shape),
                          tap_bias=int(rng.integers(0, 1 << 8)))
        quantizer = as_quantizer(requant)
        if quantizer is not None:
            job = replace(job, requant=random_requant_of(job, quantizer, rng, relu))
        return job

    @property
    def params(self) -> GeneratorParams:
        """The generator's parameters of the design this job runs on (its quantizer's)."""
        return GeneratorParams(quantizer=self.quantizer)

    @property
    def quantizer(self) -> Quantizer:
        return DEFAULT_QUANTIZER if self.requant is None else self.requant.quantizer

    def operands_ifmap(self) -> np.ndarray:
        """The ifmap as the array takes it: a binarized layer's int8 activations packed into
        sign words per group (Shape.binarized; the load's packing), else `ifmap`."""
        s = self.shape
        if not s.binarized:
            return self.ifmap
        words = []
        for g in range(self.groups):
            x = self.ifmap[:, g * s.binarized:(g + 1) * s.binarized]
            bits = np.pad(x >= 0, ((0, 0), (0, s.C * BINARY_WORD_BITS - s.binarized), (0, 0),
                                   (0, 0)))
            bits = bits.reshape(s.N, s.C, BINARY_WORD_BITS, s.H, s.W).transpose(0, 1, 3, 4, 2)
            words.append(np.packbits(bits, axis=-1, bitorder="little").view(np.int64)[..., 0])
        return np.concatenate(words, axis=1)

    def binarized_kmap(self) -> np.ndarray:
        """N x P x Q x Kt: the scale maps a binarizing layer's commands form on chip (one per
        group, from its channels), per output pixel min((the sum of |x| over the window's
        in-image taps and the group's channels) * recip >> k_shift, 2**scale_map_bits - 1)
        (hw/controller/binarize.py), each filter taking its group's."""
        s = self.shape
        x = np.abs(self.ifmap).reshape(s.N, self.groups, s.binarized, s.H, s.W).sum(axis=2)
        sums = conv2d_int(x, np.ones((self.groups, 1, s.R, s.S), np.int64), s.stride,
                          s.padding, groups=self.groups, out_size=(s.P, s.Q))
        top = (1 << self.geo.datapath.scale_map_bits) - 1
        maps = np.minimum((sums * self.recip) >> self.k_shift, top)
        return np.repeat(maps, s.K, axis=1).transpose(0, 2, 3, 1)

    @property
    def table_bytes(self) -> int:
        """DRAM elements of one group's parameter table (0 without requantization)."""
        return 0 if self.requant is None else self.quantizer.table_bytes(self.shape.K)

    @property
    def pitches(self) -> tuple[int, int]:
        """(Ct, Kt): the layer's channels (a binarized layer's int8 ones) and filters, the DRAM
        layouts' pitches."""
        s = self.shape
        return self.groups * (s.binarized or s.C), self.groups * s.K

    @property
    def group_weight_bytes(self) -> int:
        """Bytes of one group's packed weights: R*S*C rows of its K filters, each row padded
        to a byte (program.packed_row_bytes); 0 when the weights are not packed."""
        s = self.shape
        return s.weight_bits and s.R * s.S * s.C * packed_row_bytes(s.K, s.weight_bits)

    @property
    def regions(self) -> dict:
        """DRAM base of each region (elements; packed weights: bytes, a region per group;
        packed codes: bytes, each pixel's row padded to a byte)."""
        s = self.shape
        Ct, Kt = self.pitches
        weight = self.groups * self.group_weight_bytes or s.R * s.S * s.C * Kt
        if s.region_rows:
            weight = self.geo.datapath.weight_code.image_bytes(self.codes, self.geo.cols,
                                                                s.region_channels)
        pixels = s.N * int(np.prod(out_size(self.shape)))
        ifmap_pixels = s.N * int(np.prod(in_size(self.shape)))
        sizes = {"ifmap": ifmap_pixels * (packed_row_bytes(Ct, s.ifmap_pack)
                                          if s.ifmap_pack else Ct),
                 "weight": weight, "requant": self.table_bytes * self.groups,
                 "kmap": pixels if s.scale_bytes and not s.binarized else 0,
                 "ofmap": pixels * (packed_row_bytes(Kt, s.ofmap_pack) if self.packs_outputs
                                    else Kt),
                 "psum": s.N * s.P * s.Q * acc_planes(s) * Kt}   # a plane per tap
        bases, at = {}, 0
        for name, size in sizes.items():
            bases[name], at = at, at + size
        bases["end"] = at
        return bases

    def dram_image(self) -> np.ndarray:
        at = self.regions
        memory = np.zeros(at["end"], dtype=np.int64)
        pixels = self.ifmap.transpose(0, 2, 3, 1)
        memory[at["ifmap"]:at["weight"]] = (pack_rows(pixels, self.shape.ifmap_pack).ravel()
                                            if self.shape.ifmap_pack else pixels.ravel())
        memory[at["weight"]:at["requant"]] = (
            self.geo.datapath.weight_code.image(self.codes, self.geo.cols,
                                                self.shape.region_channels)
            if self.shape.region_rows else self.packed_weights() if self.shape.weight_bits
            else self.weight.transpose(2, 3, 1, 0).ravel())
        if self.requant is not None:
            memory[at["requant"]:at["kmap"]] = param_table(self.requant, self.groups)
        if self.shape.scale_bytes and not self.shape.binarized:
            memory[at["kmap"]:at["ofmap"]] = self.kmap.ravel()
        return memory

    def packed_weights(self) -> np.ndarray:
        """The weights as the DRAM holds them packed: per group, R x S x C rows of its K
        filters' codes (Datapath.weight_levels' indices), filter k at bit k*b of its row (b =
        weight_bits, least significant bit first), each row padded to whole bytes."""
        s, levels = self.shape, np.asarray(self.geo.datapath.weight_levels)
        b = s.weight_bits
        codes = (self.weight[..., None] == levels).argmax(axis=-1)     # each level's index
        # per group, rows (r, s, c) of K codes
        rows = codes.reshape(self.groups, s.K, s.C, s.R, s.S).transpose(0, 3, 4, 2, 1)
        return pack_rows(rows, b).ravel()

    def commands(self) -> list[dict]:
        """One command per group (field values by name), SpecError if a field overflows."""
        s, mp = self.shape, self.mapping
        Ct, Kt = self.pitches
        at = self.regions
        relu = self.requant is not None and self.requant.relu
        out = []
        for g in range(self.groups):
            fields = {"N": s.N, "C": s.C, "H": s.H, "W": s.W, "K": s.K, "R": s.R, "S": s.S,
                      "P": s.P, "Q": s.Q, "stride": s.stride, "padding": s.padding, "Ct": Ct,
                      "Kt": Kt, "kt": mp.kt, "ct": mp.ct, "pt": mp.pt,
                      "qt": mp.columns(s.Q),
                      "order": LOOP_ORDERS.index(mp.order),
                      "ifmap_base": at["ifmap"] + g * (s.C * s.ifmap_pack // 8
                                                         if s.ifmap_pack else s.C),
                      "weight_base": at["weight"] + g * (self.group_weight_bytes or s.K),
                      "ofmap_base": at["ofmap"] + g * (s.K * s.ofmap_pack // 8
                                                       if self.packs_outputs else s.K),
                      "psum_base": at["psum"] + g * s.K,
                      "requant_base": at["requant"] + self.table_bytes * g,
                      "requant": int(self.requant is not None), "relu": int(relu),
                      "dataflow": CONTROLLER_DATAFLOWS.index(self.dataflow)}
            if not self.geo.quantizer.symmetric:        # the padded taps' value, z_x
                bits = self.geo.datapath.op_bits(self.arch, self.pe_op)[0]
                if not -(1 << bits - 1) <= self.in_zero < 1 << bits - 1:
                    raise SpecError(f"input zero point {self.in_zero} is not a signed "
                                    f"{bits}-bit ifmap value")
                fields["pad"] = self.in_zero & ((1 << self.geo.ifmap_bits) - 1)
            if self.geo.datapath.mac_mode:
                fields["mode"] = self.geo.datapath.mode_of(self.pe_op)
            if self.geo.slices:
                fields.update(a_slices=s.ifmap_slices, w_slices=s.weight_slices)
            if self.geo.datapath.codes:
                fields["out_codes"] = self.out_codes
            if self.geo.packs_codes:
                fields.update(pack_in=int(bool(s.ifmap_pack)),
                              pack_out=int(self.packs_outputs))
            if self.geo.scales:     # every group reads the same map
                fields.update(kmap_base=at["kmap"], tap_bias=self.tap_bias)
            if self.geo.rebuilds:
                code, channels = self.geo.datapath.weight_code, s.region_channels
                fields.update(region_fixed=s.region_fixed,
                              region_pitch=code.pitch(self.codes, channels)
                              if s.region_rows else 0,
                              region_stride=code.stride(self.codes, self.geo.cols, channels)
                              if s.region_rows else 0)
            if self.geo.transforms:
                fields.update(raw_H=s.raw_H, raw_W=s.raw_W, raw_P=s.raw_P, raw_Q=s.raw_Q,
                              raw_padding=s.raw_padding)
                for name, values, bits in zip(
                        ("v_shift", "align"), self.tap_scales or ((), ()),
                        (self.geo.datapath.tap_transform.shift_bits,
                         self.geo.datapath.tap_transform.align_bits)):
                    fields[name] = sum(int(v) << bits * t for t, v in enumerate(np.ravel(values)))
            if self.geo.binarizes:
                fields.update(binarize=int(bool(s.binarized)), signs=s.binarized)
                if s.binarized:
                    fields["ifmap_base"] = at["ifmap"] + g * s.binarized
                if self.geo.scales:
                    fields.update(recip=self.recip, k_shift=self.k_shift)
            out.append(check_command(self.geo, fields))
        return out

    def output_of(self, memory: np.ndarray) -> np.ndarray:
        """The outputs region as N x P x Q x Kt (packed codes unpacked)."""
        s, at = self.shape, self.regions
        Kt = self.pitches[1]
        region = memory[at["ofmap"]:at["psum"]]
        if self.packs_outputs:
            return unpack_rows(region.reshape(s.N, s.P, s.Q, -1), s.ofmap_pack, Kt,
                               self.geo.datapath.signed_codes)
        return region.reshape(s.N, *out_size(self.shape), Kt)

    @property
    def packs_outputs(self) -> bool:
        """Whether its outputs go to DRAM as packed codes: requantized ones of a shape with
        ofmap_pack (the sums of a job without requantization are written as they are, as the
        design's `pack_out` packs requantized outputs only)."""
        return bool(packed_outputs(self.shape, self.requant is not None))

    @property
    def in_zero(self) -> int:
        """The input zero point: the value every tap outside the image holds (0 but under an
        asymmetric quantizer, Requant.in_zero)."""
        return 0 if self.requant is None else self.requant.in_zero

    def sums(self, pad: int | None = None) -> np.ndarray:
        """The accumulators' sums, N x P x Q x Kt, wrapped to psum_bits (those of the
        datapath's operation the job runs, Datapath.sums_of: conv2d_int for a MAC), every tap
        outside the image (padding, or a window hanging past the bottom or right edge) holding
        `pad` (default: the input zero point, as the controller pads: real-zero padding); a
        Winograd-domain command's (Shape.tap_side) are its outputs Y exactly, N x raw_P x
        raw_Q x K (Datapath.tap_transform's `outputs`), which its requantization takes."""
        s = self.shape
        if s.tap_side:      # a Winograd-domain command's outputs, exact (wider than psum)
            v, (v_shift, align) = self.geo.datapath.tap_transform, self.tap_scales
            return v.outputs(self.ifmap, self.weight, v_shift, align, s.raw_padding,
                             self.geo.ifmap_bits).transpose(0, 2, 3, 1)
        pad = self.in_zero if pad is None else int(pad)
        x, padding = self.operands_ifmap(), s.padding
        if pad:
            x = pad_input(x, padding, (s.P - 1) * s.stride + s.R, (s.Q - 1) * s.stride + s.S,
                          pad)
            padding = 0
        sums_of = self.geo.datapath.sums_of(self.pe_op)
        out = sums_of(x, self.weight, s.stride, padding, self.groups, out_size=(s.P, s.Q))
        return wrap(out, self.arch.pe_array.psum_bits).transpose(0, 2, 3, 1)

    def requant_input(self, pad: int | None = None) -> np.ndarray:
        """What the requantization stage takes, N x P x Q x Kt: the sums, or, in a design with
        a scale map (ControllerParams.scales), its datapath's `scaled` of them (the pixel's
        scale, its in-image taps, the command's tap_bias) wrapped to psum_bits."""
        sums = self.sums(pad)
        if not self.shape.scale_bytes:
            return sums
        s = self.shape
        rows = [sum(0 <= p * s.stride + r - s.padding < s.H for r in range(s.R))
                for p in range(s.P)]
        cols = [sum(0 <= q * s.stride + c - s.padding < s.W for c in range(s.S))
                for q in range(s.Q)]
        taps = np.outer(rows, cols)
        scale = self.kmap if self.kmap.ndim == 4 else self.kmap[..., None]   # per filter
        scaled = self.geo.datapath.scaled(sums, scale, taps[..., None], self.tap_bias)
        return wrap(scaled, self.arch.pe_array.psum_bits)

    def expected(self) -> np.ndarray:
        if self.requant is None:    # (a Winograd-domain command's outputs wrapped too)
            return wrap(self.sums(), self.arch.pe_array.psum_bits)
        by_channel = self.requant_input().transpose(3, 0, 1, 2)
        return self.requant.apply(by_channel, self.out_width).transpose(1, 2, 3, 0)

    @property
    def out_width(self) -> int:
        """The signed width the requantization clamps to: out_codes + 1 on a datapath of
        unsigned codes (with its ReLU: 0 .. 2**out_codes - 1), out_codes on one of signed
        codes, else the design's ofmap_bits."""
        d = self.geo.datapath
        return self.out_codes + d.unsigned_codes if d.codes else self.geo.ofmap_bits


def pack_rows(codes: np.ndarray, bits: int) -> np.ndarray:
    """`bits`-bit codes [..., n] as the DRAM holds them packed: each row's codes from bit 0
    on, code i at bit i*bits (least significant bit first; a negative one's two's
    complement), the row padded to whole bytes ([..., packed_row_bytes(n, bits)], int64
    bytes)."""
    n = codes.shape[-1]
    flat = np.asarray(codes, np.int64).reshape(-1, n)
    spread = ((flat[..., None] >> np.arange(bits)) & 1).reshape(len(flat), n * bits)
    spread = np.pad(spread, ((0, 0), (0, packed_row_bytes(n, bits) * 8 - n * bits)))
    packed = np.packbits(spread.astype(np.uint8), axis=1, bitorder="little")
    return packed.astype(np.int64).reshape(*codes.shape[:-1], -1)


def unpack_rows(rows: np.ndarray, bits: int, n: int, signed: bool = False) -> np.ndarray:
    """`pack_rows` undone: the first `n` codes of each packed row of bytes [..., row]
    (`signed`: read as two's complement)."""
    flat = np.asarray(rows).astype(np.uint8).reshape(-1, rows.shape[-1])
    spread = np.unpackbits(flat, axis=1, bitorder="little")[:, :n * bits]
    codes = (spread.reshape(-1, n, bits).astype(np.int64) << np.arange(bits)).sum(axis=-1)
    if signed:
        codes = np.where(codes >> bits - 1, codes - (1 << bits), codes)
    return codes.reshape(*rows.shape[:-1], n)


def padding_refusal(datapath: Datapath, pe_op: str, quantizer: Quantizer) -> str | None:
    """Why ops of `pe_op` on `datapath` cannot requantize by `quantizer` (None if they can): a
    datapath of valid lanes (Datapath.valid_lanes: XNOR's) pads its own operation's taps with
    nothing, not the input zero point an asymmetric quantizer's taps hold."""
    if quantizer.symmetric or not datapath.valid_lanes or datapath.mode_of(pe_op) != 0:
        return None
    return (f"the controller's {datapath.family} datapath pads its {pe_op} layers with "
            f"nothing (valid 0), not an input zero point: quantizer {quantizer.name!r} is "
            f"asymmetric")


def random_requant_of(job: ControllerJob, quantizer: Quantizer, rng,
                      relu: bool = False, in_zero: int | None = None) -> Requant:
    """Random requantization of `job`'s sums by `quantizer` (requant_ref.random_requant: scales
    that spread them over the ofmap range, saturating some outputs both ways); an asymmetric
    quantizer's bias folds an input zero point in (requant_ref.zero_point_bias; `in_zero`, default
    random in the ifmap's range), which the padded taps then hold (Requant.in_zero); `relu`
    unless the job's datapath's sums are never positive (Datapath.signed_sums False: a ReLU
    would zero every output), always on a datapath of unsigned codes (Datapath.unsigned_codes:
    the clamp to the codes)."""
    if why := padding_refusal(job.geo.datapath, job.pe_op, quantizer):
        raise SpecError(why)
    bias, z = None, 0
    if not quantizer.symmetric:     # an input of the op's width (a MAC mode's int8)
        half = 1 << (job.geo.datapath.op_bits(job.arch, job.pe_op)[0] - 1)
        z = int(rng.integers(-half, half)) if in_zero is None else int(in_zero)
        weight_sums = job.weight.reshape(len(job.weight), -1).sum(axis=1)
        bias = zero_point_bias(weight_sums, z)
    datapath = job.geo.datapath
    relu = bool(relu) and datapath.signed_sums_of(job.pe_op) or datapath.unsigned_codes
    rq = random_requant(job.requant_input(pad=z).transpose(3, 0, 1, 2), job.out_width, rng,
                        relu, quantizer, bias)
    return replace(rq, in_zero=z)


@dataclass
class ControllerResult:
    output: np.ndarray        # N x P x Q x Kt
    counters: dict            # program.COUNTERS summed over the group commands
    cycles: int               # the testbench's count of busy cycles, summed
    per_command: list = field(default_factory=list)   # (counters, cycles) per command
    wall_seconds: float = 0.0


def summed(per_command: list) -> dict:
    """The counters of several commands added up."""
    total = {}
    for counters, _ in per_command:
        for name, value in counters.items():
            total[name] = total.get(name, 0) + value
    return total
