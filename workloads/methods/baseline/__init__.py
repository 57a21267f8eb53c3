"""Plain integer layers at the PE array's native width.

A transposed conv is lowered by zero insertion: the input is upsampled by inserting
stride - 1 zeros between pixels, materialised in DRAM, and convolved at stride 1 with padding
extent - 1 - padding before (extent = the dilated kernel's span) and whatever reaches the
output size after, so the array performs `stride**2` times the nominal MACs (the cost that
kernel segregation later removes).

A matmul (two activations) stores no weights: its second operand moves at the activations'
width.
"""

from __future__ import annotations

from dataclasses import replace

from dlaforge.errors import SpecError

from .. import Method
from ..common import layer_op, mac_ops


def transform(layer, arch) -> list:
    pe = arch.pe_array
    for name, native in (("ifmap_bits", pe.ifmap_bits), ("weight_bits", pe.weight_bits)):
        wanted = getattr(layer, name)
        if wanted is not None and wanted > native:
            raise SpecError(f"layer {layer.name!r} needs {name}={wanted} but arch "
                            f"{arch.name!r} computes at {native} bits")
    ifmap_bits = layer.ifmap_bits or pe.ifmap_bits
    weight_bits = layer.weight_bits or pe.weight_bits
    if layer.kind == "matmul":
        weight_bits = ifmap_bits
    dims = _zero_inserted(layer) if layer.kind == "transposed_conv" else {}
    op = layer_op(layer, arch, ifmap_bits, weight_bits, **dims)
    stored = 0 if op.weight_is_activation else op.weight_elements * weight_bits
    return [replace(op, ops=mac_ops(op), weight_storage_bits=stored)]


def _zero_inserted(layer) -> dict:
    """The stride-1 convolution over the zero-inserted input that a transposed conv becomes."""
    (sh, sw), (top, left, _, _), (eh, ew) = layer.strides, layer.paddings, layer.extent
    H, W = (layer.H - 1) * sh + 1, (layer.W - 1) * sw + 1
    before = (eh - 1 - top, ew - 1 - left)
    after = (layer.P - 1 + eh - H - before[0], layer.Q - 1 + ew - W - before[1])
    if min(before + after) < 0:
        raise SpecError(f"layer {layer.name!r}: transposed-conv padding {layer.paddings} "
                        f"exceeds the kernel's extent {layer.extent}: zero insertion cannot "
                        f"lower it")
    return dict(H=H, W=W, stride=1, stride_w=None, padding=0,
                pads=(before[0], before[1], after[0], after[1]))


METHODS = (Method(name="baseline", description="plain integer layers at the PE array's width",
                  transform=transform, pe_kinds=("mac", "xnor"),
                  presets=("edge_tiny", "tpu_like", "eyeriss_like", "gemmini_like",
                           "nvdla_small")),)
