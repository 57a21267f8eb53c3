"""Plain integer layers at the PE array's native width.

A transposed conv is lowered by zero insertion: the input is upsampled by inserting
stride - 1 zeros between pixels, materialised in DRAM, and convolved at stride 1 with padding
R - 1 - padding, so the array performs `stride**2` times the nominal MACs (the cost that kernel
segregation later removes).
"""

from __future__ import annotations

from dataclasses import replace

from dlaforge.errors import SpecError

from . import Method, register
from .common import layer_op, mac_ops


def transform(layer, arch) -> list:
    pe = arch.pe_array
    for name, native in (("ifmap_bits", pe.ifmap_bits), ("weight_bits", pe.weight_bits)):
        wanted = getattr(layer, name)
        if wanted is not None and wanted > native:
            raise SpecError(f"layer {layer.name!r} needs {name}={wanted} but arch "
                            f"{arch.name!r} computes at {native} bits")
    ifmap_bits = layer.ifmap_bits or pe.ifmap_bits
    weight_bits = layer.weight_bits or pe.weight_bits
    dims = {}
    if layer.kind == "transposed_conv":
        dims.update(H=(layer.H - 1) * layer.stride + 1, W=(layer.W - 1) * layer.stride + 1,
                    stride=1, padding=layer.R - 1 - layer.padding)
        if dims["padding"] < 0:
            raise SpecError(f"layer {layer.name!r}: padding {layer.padding} exceeds the kernel")
    op = layer_op(layer, arch, ifmap_bits, weight_bits, **dims)
    return [replace(op, ops=mac_ops(op), weight_storage_bits=op.weight_elements * weight_bits)]


register(Method(name="baseline", description="plain integer layers at the PE array's width",
                transform=transform, pe_kinds=("mac", "xnor")))
