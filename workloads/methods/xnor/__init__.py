"""XNOR-Net (`xnor`) on an XNOR-popcount PE array (references: xnor/reference.py).

A binarized layer runs on the array's binary mode: each PE operation XNORs two
`xnor_word_bits`-bit words of packed signs (input channels of one pixel against the same
channels of one filter tap), counts the ones and accumulates; a layer of C/groups channels needs
⌈C/groups / w⌉ words per tap, so the op is the layer with C replaced by that word count at
w-bit operands. Weights are stored as packed sign words plus a 16-bit α per filter (1 bit per
weight vs 32 for fp32). Activations arrive from DRAM at the array's int8 width: the
binarization unit packs their signs on the way in and sums |I| per word for K (`dram_scale` of
the ifmap). The scaling unit forms K_q per output pixel (the R x S box sum of those sums times
a reciprocal: an add per activation and per in-image tap, a multiply per pixel), turns
popcounts into 2·popcount − n (a subtraction per output) and multiplies by K_q (a multiply per
output); α is folded into the requantizer's per-filter multiplier. This is the hardware the
controller runs (workloads/methods/xnor/plan.CONTROLLER_DATAPATH, hw/controller/binarize.py).

The first conv and the fully connected layers stay int8 MAC layers (common.keeps_full_precision).
"""

from __future__ import annotations

from dataclasses import replace

from .. import Method, baseline
from ..common import keeps_full_precision, layer_op


def transform(layer, arch) -> list:
    from .plan import SCALE_BITS        # (plan holds the controller's datapath: numba)
    if keeps_full_precision(layer) or layer.kind == "transposed_conv":
        return baseline.transform(layer, arch)
    pe = arch.pe_array
    word = pe.xnor_word_bits
    cg = layer.C // layer.groups
    words = -(-cg // word)
    op = layer_op(layer, arch, word, word, C=words * layer.groups, pe_op="xnor_popcount")
    n = layer.N
    ops = {"xnor_bits": op.pe_macs * word, "popcount": op.pe_macs, "add": op.pe_macs,
           "scale_mult": n * layer.K * layer.P * layer.Q + n * layer.P * layer.Q,
           "scale_add": n * layer.C * layer.H * layer.W + n * layer.P * layer.Q * layer.R * layer.S
           + n * layer.K * layer.P * layer.Q}
    storage = op.weight_elements * word + layer.K * SCALE_BITS
    return [replace(op, ops=ops, weight_storage_bits=storage,
                    dram_scale={"ifmap": cg * pe.ifmap_bits / (words * word)})]


METHODS = (Method(name="xnor", transform=transform, pe_kinds=("xnor",), units=("xnor_scale",),
                  presets=("edge_tiny_xnor", "tpu_like_xnor"),
                  description="XNOR-Net: binary weights and activations, first conv and FC int8"),)
