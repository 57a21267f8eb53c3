"""Bit Fusion (`bitfusion`) on a `pe_kind: bitfusion` array (references:
bitfusion/reference.py; layout and precisions: bitfusion/plan.py; hardware:
hw/methods/bitfusion/; model: sim/methods/bitfusion.py).

What of the paper the model captures (Sharma et al., "Bit Fusion", ISCA 2018):
- each PE is a fusion unit of 16 2-bit BitBricks that fuse into one 8x8-bit multiply, two
  8x4, four 4x4 or 8x2, eight 4x2 or sixteen 2x2 per cycle, signed (plan.lanes): throughput
  x4 per halving of both operands;
- every layer runs at its own widths: the layer's `ifmap_bits` / `weight_bits` (from the
  network, e.g. a network YAML's per-layer fields; unset: the arch's, 8), each rounded up to
  2, 4 or 8 bits (plan.fused_bits);
- the transform packs the op's reduction dim by the fused lanes: per group, C' =
  ceil(C / lanes) channels of fused words (lanes codes side by side), each PE operation one
  "fused_mac" of `lanes` real MACs summed by the fusion tree. So the unchanged mapper, the
  analytical and the cycle models see an array that is `lanes` times faster on the layer (when
  C' still fills the array), whose buffers and register files move fused words
  (lanes x the codes' bits; zero lanes of the last word included);
- energy (sim/methods/bitfusion.py): a fused MAC is priced by the bricks it switches, each a
  2x2 multiply at 1/16 of the table's int8 multiply (an 8x8 product is 16 bricks), plus one
  accumulator add; an 8x8 fused MAC thus costs the int8 MAC of the table, a 4x4 fused MAC
  (four products) the same, i.e. a quarter per product, and a last word with zero lanes
  fewer bricks. `ops` counts the real products (`mult`, `add`: one each per nominal MAC) and
  `bricks`, the brick products switched;
- weights are stored at the rounded width (`weight_storage_bits`) and activations and weights
  move to and from DRAM at it: `dram_scale` takes the packed words' zero lanes back out, so
  DRAM moves C codes, not C' x lanes.
- pricing path: a fused op is priced by the mapper's closed form (analytical) and the tiled
  cycle model, never as the generated mapped-program controller (which builds MAC PEs), so
  an 8x8 layer costs exactly what the baseline's op costs on the MAC array under that same
  closed form (tests/workloads/methods/test_bitfusion_method.py), not what `--method baseline`
  on tpu_like reports (priced as the controller: on ResNet-18 about 1.36x the cycles);
  compare precisions with each other, or with the baseline under `--model cycle --trace`;
- `--schedule rtl --model cycle` times the accelerator generated for the op's precision
  (sim/methods/bitfusion.py), equal to the RTL's counters.
What it leaves out: the choice of precisions (it comes from the network, the model does not
quantize nor model accuracy); the temporal fusion of the paper beyond 8 bits (16-bit layers
are refused); the fusion unit's overhead over a fixed int8 MAC in energy (an 8x8 fused MAC is
priced as the int8 MAC; hw/methods/bitfusion's cell counts show the area); the outputs are
written at the arch's ofmap_bits whatever the next layer's precision; a depthwise layer (one
channel per group) gets no lanes (one product per fused MAC, as the paper's fusion along
channels gives), and a matmul of two activations fuses at the activations' width.
"""

from __future__ import annotations

from dataclasses import replace

from dlaforge.errors import SpecError

from .. import Method, baseline
from .plan import PE_KIND, bricks_per_product, fused_bits, lanes, packed_channels, word_bits

PE_OP = "fused_mac"


def layer_precision(layer, arch) -> tuple[int, int]:
    """(a_bits, w_bits) the fusion units run the layer at (module doc)."""
    pe = arch.pe_array
    a_bits = fused_bits(layer.ifmap_bits or pe.ifmap_bits, f"layer {layer.name!r}: ifmap_bits")
    w_bits = fused_bits(layer.weight_bits or pe.weight_bits, f"layer {layer.name!r}: weight_bits")
    return (a_bits, a_bits) if layer.kind == "matmul" else (a_bits, w_bits)


def transform(layer, arch) -> list:
    if layer.kind == "vector":
        raise SpecError(f"layer {layer.name!r} ({layer.op}) runs on the vector unit, not the PE "
                        f"array")
    a_bits, w_bits = layer_precision(layer, arch)
    plain = baseline.transform(replace(layer, ifmap_bits=a_bits, weight_bits=w_bits), arch)[0]
    n_lanes = lanes(a_bits, w_bits)
    cg = plain.C // plain.groups
    packed_c = packed_channels(cg, n_lanes) * plain.groups
    ifmap_word, weight_word = word_bits(a_bits, w_bits)
    real = cg / (packed_channels(cg, n_lanes) * n_lanes)     # codes per lane moved
    op = replace(plain, C=packed_c, ifmap_bits=ifmap_word, weight_bits=weight_word,
                 pe_op=PE_OP, dram_scale={"ifmap": real, "weight": real} if real != 1 else {},
                 ops={"mult": plain.pe_macs, "add": plain.pe_macs,
                      "bricks": plain.pe_macs * bricks_per_product(a_bits, w_bits)},
                 weight_storage_bits=plain.weight_storage_bits)
    return [op]


METHODS = (Method(name="bitfusion", transform=transform, pe_kinds=(PE_KIND,),
                  presets=("edge_tiny_bitfusion", "tpu_like_bitfusion"),
                  description="Bit Fusion: 2-bit bricks fused to 2/4/8-bit products, each "
                              "layer at its own widths (x4 per halving of both)"),)
