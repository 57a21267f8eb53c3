"""Per-layer precision (`--precision POLICY.yaml`): the bits each layer's weights and input
activations are quantized to, for any method.

    default: {weight_bits: 8, ifmap_bits: 8}     # every layer the policy does not name
    layers:
      conv1: {weight_bits: 8, ifmap_bits: 8}
      layer1.0.conv1: {weight_bits: 4, ifmap_bits: 4}
      fc: {weight_bits: 2}                        # a layer names either width or both

A width a layer is not given (neither by its entry nor by `default`) stays what the network
says (the arch's, unless the network gives its own). The policy sets `Layer.weight_bits` and
`Layer.ifmap_bits`; what a method does with a width is the method's: the baseline computes
a narrower layer on its full-width PEs (storing and moving the narrower tensors, and paying
the MAC energy of the bits used: sim/method_costs.pe_op_pj) and refuses a wider one; Bit
Fusion rounds to its 2/4/8-bit bricks and runs more products per PE. Vector layers have no
weights: an entry names them only for their input width.

This is the mixed-precision survey's row: which widths are worth it is the user's (or a
search's) question; the tool prices each assignment.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dlaforge.errors import SpecError, shown
from dlaforge.inputs import load_yaml

WIDTHS = ("weight_bits", "ifmap_bits")
MAX_BITS = 32


def read_policy(path) -> dict:
    """The policy YAML at `path` as {"default": {width: bits}, "layers": {name: {width: bits}}}
    (SpecError naming what is wrong)."""
    where = f"--precision {shown(str(path), 120)}"
    data = load_yaml(Path(path), "precision policy")
    if not isinstance(data, dict) or not data or set(data) - {"default", "layers"}:
        raise SpecError(f"{where}: a policy is a mapping with `default: {{weight_bits, "
                        f"ifmap_bits}}` and/or `layers: {{name: {{weight_bits, ifmap_bits}}}}`")
    layers = data.get("layers") or {}
    if not isinstance(layers, dict):
        raise SpecError(f"{where}: `layers` must map layer names to widths")
    return {"default": _widths(data.get("default") or {}, f"{where}: `default`"),
            "layers": {str(name): _widths(widths, f"{where}: layer {shown(name)}")
                       for name, widths in layers.items()}}


def _widths(entry, where: str) -> dict:
    if not isinstance(entry, dict) or set(entry) - set(WIDTHS):
        raise SpecError(f"{where} must map weight_bits and/or ifmap_bits to bits")
    for width, bits in entry.items():
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= MAX_BITS:
            raise SpecError(f"{where}: {width} must be an integer from 1 to {MAX_BITS}, "
                            f"not {shown(bits)}")
    return dict(entry)


def apply_policy(network, policy: dict):
    """`network` with each layer's widths set as `policy` (read_policy) says; SpecError for a
    layer name the network does not have."""
    names = {layer.name for layer in network.layers}
    unknown = sorted(set(policy["layers"]) - names)
    if unknown:
        raise SpecError(f"--precision names layer {unknown[0]!r}, which network "
                        f"{network.name!r} does not have")
    layers = []
    for layer in network.layers:
        widths = {**policy["default"], **policy["layers"].get(layer.name, {})}
        if layer.kind == "vector":
            widths.pop("weight_bits", None)
        layers.append(replace(layer, **widths))
    return replace(network, layers=tuple(layers))
