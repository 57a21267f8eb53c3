"""Winograd F(4x4,3x3) (`winograd_f4`) and F(2x2,3x3) (`winograd_f2`) on a MAC array with
input/output transform units (references: winograd/reference.py).

An eligible layer (3x3, stride 1, one group, a plain window: workloads/window.py) becomes one
op of a² independent GEMMs, one per Winograd-domain tap (a = m + 2): a grouped 1x1 conv with a²
groups of C -> K channels over the ⌈P/m⌉ x ⌈Q/m⌉ tiles. The array thus performs K·C·a²
multiplies per tile (36 for F4 vs 144 direct; 16 for F2 vs 36). Transformed weights are stored
in DRAM (a²/9 the storage, 4x for F4, 16/9 for F2) with an 8-bit power-of-two exponent per
tap for weights and for inputs. The input transform unit reads the original ifmap from DRAM
and expands each tile on chip; the output transform unit folds a² accumulators into m² outputs
before they leave, so DRAM sees the layer's own ifmap and ofmap sizes (`dram_scale`).

Transform additions come from the matrices: a constant entry c costs popcount(|c|) terms
(multiples of two are wired shifts), a row of t terms t − 1 additions; a 2-D transform applies
the matrix along columns and then rows. Per tile the unit also shifts each transformed input
to its tap's scale (a² per input channel) and each accumulator to the common exponent
(a² per output channel).

Other layers fall back to direct convolution (the baseline op) and say so with the count
`direct_conv_fallback` in their ops. Every op's outputs go through the design's requantizers,
as wide as the transformed outputs (HwOp.requant_bits).
"""

from __future__ import annotations

from dataclasses import replace

from .. import Method, baseline
from ..common import layer_op
from .variants import F2, F4, Variant, tile_adds, tiles, vector_adds  # noqa: F401

EXPONENT_BITS = 8       # the power-of-two scale of one tap, weights and inputs alike


def eligible(layer) -> bool:
    return (layer.kind == "conv2d" and layer.R == layer.S == 3
            and layer.stride == 1 and layer.groups == 1 and layer.plain_window)


def _transform(v: Variant, layer, arch) -> list:
    pe = arch.pe_array
    requant_bits = v.output_bits(pe.psum_bits)
    if not eligible(layer):
        op = baseline.transform(layer, arch)[0]
        return [replace(op, ops={**op.ops, "direct_conv_fallback": 1},
                        requant_bits=requant_bits)]
    tp, tq = tiles(layer.P, layer.Q, v.m)
    taps = v.a * v.a
    op = layer_op(layer, arch, pe.ifmap_bits, pe.weight_bits, K=taps * layer.K,
                  C=taps * layer.C, groups=taps, P=tp, Q=tq, H=tp, W=tq, R=1, S=1, stride=1,
                  padding=0)
    ops = {"mult": op.pe_macs, "add": op.pe_macs,
           **v.transform_ops(layer.C, layer.K, layer.N * tp * tq)}
    scale = {"ifmap": layer.H * layer.W / (taps * tp * tq),
             "ofmap": layer.P * layer.Q / (taps * tp * tq)}
    storage = op.weight_elements * pe.weight_bits + 2 * taps * EXPONENT_BITS
    return [replace(op, ops=ops, dram_scale=scale, weight_storage_bits=storage,
                    ifmap_plain=False, pe_op=v.pe_op, requant_bits=requant_bits,
                    tap_layer=(v.m, layer.H, layer.W, layer.padding))]


def transform_f4(layer, arch) -> list:
    return _transform(F4, layer, arch)


def transform_f2(layer, arch) -> list:
    return _transform(F2, layer, arch)


METHODS = tuple(
    Method(name=f"winograd_{v.name.lower()}", transform=transform, pe_kinds=("mac",),
           units=("winograd_transform",), options={"variant": v.name}, mac_ops=(v.pe_op,),
           presets=("edge_tiny_winograd", "tpu_like_winograd"),
           description=f"Winograd F({v.m}x{v.m},3x3), tap-wise int8 scales; 3x3 stride-1 layers")
    for v, transform in ((F4, transform_f4), (F2, transform_f2)))
