"""PalQuant (`palquant`, G = 2; `palquant_g3`, `palquant_g4`) on a low-bit MAC array, and for
comparison `bitslice_w4a4`: the same network at 4 bits run as bit-sliced passes on the same
array (references: palquant/reference.py).

A PalQuant layer of C -> K channels is a grouped conv of G groups of C -> K channels at 2-bit
weights and activations: G times the layer's MACs at 2 bits, G·C input channels of 2-bit codes
in DRAM, 2-bit output codes. Its PE operation is CODE_OP: the weight's code q_w decoded to the
level 2·q_w − 3 times the activation code q_a, so the accumulators hold PalQuant's integer
output T = Σ(2·q_w − 3)·q_a = 2·Σq_w·q_a − 3·Σq_a with no window sums or combination beside
them (as both arrays that run it compute it: the mapped-program controller's PalQuant datapath,
plan.py, and the first accelerator's signed 3-bit array, hw/methods/palquant/). The cyclic
shuffle between stages is an address remap and costs nothing.

Operands wider than the array's are bit-sliced: ⌈bits/pe bits⌉ slices of activations and of
weights; the op runs the activation slices as extra images (N) and the weight slices as extra
filters (K), so the array performs every slice pair, and the combine unit shifts and adds the
slice products of each output (sa·sw − 1 additions); its PE operation is SLICE_OP, products
of unsigned slices. DRAM moves each tensor once at its real width (`dram_scale` of the ofmap
folds the slice products back into one output). The first
conv and the fully connected layers run at int8 this way (common.keeps_full_precision).
"""

from __future__ import annotations

from dataclasses import replace

from .. import Method
from ..common import keeps_full_precision, layer_op

LOW_BITS = 2
EDGE_BITS = 8
CODE_OP = "code_mac"    # HwOp.pe_op of a 2-bit layer: Σ (2·q_w − 3)·q_a over the window
SLICE_OP = "slice_mac"  # of a bit-sliced layer: Σ a·w of unsigned codes, slice pair by pair


def sliced(layer, arch, bits: int, groups_factor: int = 1):
    """The layer (widened `groups_factor` x as a grouped conv) at `bits`-bit weights and
    activations, bit-sliced onto the array's widths."""
    pe = arch.pe_array
    sa, sw = -(-bits // pe.ifmap_bits), -(-bits // pe.weight_bits)
    G = groups_factor
    op = layer_op(layer, arch, min(bits, pe.ifmap_bits), min(bits, pe.weight_bits),
                  N=layer.N * sa, K=layer.K * G * sw, C=layer.C * G, groups=layer.groups * G)
    outputs = layer.N * G * layer.K * layer.P * layer.Q
    ops = {"mult": op.pe_macs, "add": op.pe_macs}
    if sa * sw > 1:
        ops["slice_add"] = outputs * (sa * sw - 1)
    stored = 0 if op.weight_is_activation else layer.K * G * (layer.C // layer.groups) \
        * layer.R * layer.S * bits
    if sa * sw == 1:
        return replace(op, ops=ops, weight_storage_bits=stored)
    return replace(op, ops=ops, weight_storage_bits=stored, pe_op=SLICE_OP,
                   dram_scale={"ofmap": 1.0 / (sa * sw)})


def _palquant(G: int, layer, arch) -> list:
    if keeps_full_precision(layer):
        return [sliced(layer, arch, EDGE_BITS)]
    return [replace(sliced(layer, arch, LOW_BITS, G), ofmap_bits=LOW_BITS, pe_op=CODE_OP)]


def _bitslice4(layer, arch) -> list:
    return [sliced(layer, arch, EDGE_BITS if keeps_full_precision(layer) else SLICED_BITS)]


GROUPS = {"palquant": 2, "palquant_g3": 3, "palquant_g4": 4}
SLICED_BITS = 4                     # bitslice_w4a4
PRESETS = ("edge_tiny_palquant", "tpu_like_palquant")

METHODS = (*(Method(name=name, transform=lambda layer, arch, G=G: _palquant(G, layer, arch),
                    pe_kinds=("mac",), units=("slice_combine",), presets=PRESETS,
                    mac_ops=(CODE_OP, SLICE_OP),
                    description=f"PalQuant: {G} parallel 2-bit groups, first conv and FC int8")
             for name, G in GROUPS.items()),
           Method(name="bitslice_w4a4", transform=_bitslice4, pe_kinds=("mac",),
                  units=("slice_combine",), presets=PRESETS, mac_ops=(SLICE_OP,),
                  description="4-bit layers as bit-sliced passes of the array (PalQuant's "
                              "baseline)"))
