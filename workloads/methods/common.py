"""What the method transforms share: a layer's conv-shaped op and the rule for edge layers."""

from __future__ import annotations

from dataclasses import replace

from dlaforge.errors import SpecError
from dlaforge.workloads.methods.accelerator_plan import Gemm

from ..hwop import HwOp

IMAGE_CHANNELS = 4


def keeps_full_precision(layer) -> bool:
    """The layers XNOR-Net and PalQuant keep at full (int8) precision: the first conv, which
    reads the image (at most 4 input channels), the fully connected layers, and the products
    of two activations (no weights to binarize). A transform sees
    one layer at a time, so every linear layer counts as the classifier (VGG's and AlexNet's
    fc6/fc7, binarized in the papers, stay int8 here)."""
    return (layer.kind in ("linear", "gemm", "matmul")
            or (layer.C <= IMAGE_CHANNELS and layer.groups == 1))


def layer_op(layer, arch, ifmap_bits: int, weight_bits: int, **changes) -> HwOp:
    """The layer as one conv-shaped op on the array at the given widths; `changes` replace
    dims or fields (ops, dram_scale, ...)."""
    if layer.kind == "vector":
        raise SpecError(f"layer {layer.name!r} ({layer.op}) runs on the vector unit, not the PE "
                        f"array")
    pe = arch.pe_array
    op = HwOp(name=layer.name, N=layer.N, K=layer.K, C=layer.C, P=layer.P, Q=layer.Q, R=layer.R,
              S=layer.S, H=layer.H, W=layer.W, stride=layer.stride, padding=layer.padding,
              groups=layer.groups, ifmap_bits=ifmap_bits, weight_bits=weight_bits,
              psum_bits=pe.psum_bits, ofmap_bits=pe.ofmap_bits, stride_w=layer.stride_w,
              pads=layer.pads, dilation=layer.dilation,
              weight_is_activation=layer.kind == "matmul", ifmap_zeros=layer.ifmap_zeros,
              ofmap_zeros=layer.ofmap_zeros)
    # the arch's DRAM compression is applied once, after the method's transform
    # (workloads/compression.coded)
    return replace(op, **changes)


def mac_ops(op: HwOp) -> dict:
    """A MAC array's counts: one multiply and one accumulate per PE operation."""
    return {"mult": op.pe_macs, "add": op.pe_macs}


def command_gemm(op: HwOp) -> Gemm:
    """The command an accelerator runs for one image and one group of a HwOp: a grouped
    convolution is `groups` commands, each on its group's channel slice of the ifmap, weights
    and outputs (contiguous in their C x H x W, K x C/g x R x S and K x P x Q layouts, so a
    command's DRAM bases select the group)."""
    return Gemm(C=op.C // op.groups, H=op.H, W=op.W, K=op.K // op.groups, R=op.R, S=op.S,
                P=op.P, Q=op.Q, stride=op.stride, padding=op.padding)
