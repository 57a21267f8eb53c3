"""Networks written as YAML: a list of layers in the `Layer` vocabulary, for users without an
ONNX file.

```yaml
name: tiny            # optional: the file's stem
layers:
  - {name: conv1, kind: conv2d, C: 3, K: 32, H: 64, R: 3, stride: 2, padding: 1}
  - {name: dil, kind: conv2d, C: 32, K: 32, H: 32, W: 48, R: 3, S: 5, pads: [2, 4, 2, 4],
     dilation: [2, 2]}
  - {name: up, kind: transposed_conv, C: 32, K: 16, H: 32, R: 4, stride: 2, padding: 1}
  - {name: qk, kind: matmul, N: 12, P: 128, C: 64, K: 128}
  - {name: fc, kind: linear, C: 1024, K: 10}
  - {name: sm, kind: vector, op: softmax, C: 10, H: 1}
```

Each layer takes the fields of `Layer` (workloads/layer.py): name, kind, N, K, C, P, Q, H, W,
R, S, stride, stride_w, padding, pads (top, left, bottom, right), dilation (rows, cols),
groups, ifmap_bits, weight_bits, op, ifmap_zeros and ofmap_zeros (the shares of zero
activations an arch's zero gating and DRAM compression use; 0 when omitted). Omitted: W = H, S = R; P and Q follow from the window
(conv kinds and pooling: the usual floor rule; transposed conv: (H - 1)·stride - pads +
extent); a linear, gemm or matmul layer is P x C by C x K with H = P (P = 1 for linear when
omitted); a vector layer (`op`, workloads/vector_ops.py) has K = C and, unless it pools,
P = H and Q = W (W = 1 for softmax and the norms: rows of C elements).
"""

from __future__ import annotations

from pathlib import Path

from dlaforge.errors import SpecError
from dlaforge.inputs import load_yaml

from ..layer import Layer
from ..vector_ops import POOLS, ROWS

FIELDS = ("name", "kind", "N", "K", "C", "P", "Q", "H", "W", "R", "S", "stride", "stride_w",
          "padding", "pads", "dilation", "groups", "ifmap_bits", "weight_bits", "op",
          "ifmap_zeros", "ofmap_zeros")
PRODUCTS = ("linear", "gemm", "matmul")


def read_network_yaml(path: Path) -> tuple[str, list[Layer]]:
    """(name, layers) of the network YAML file at `path`."""
    data = load_yaml(path, "network file")
    where = f"network file {path.name}"
    if not isinstance(data, dict) or not isinstance(data.get("layers"), list):
        raise SpecError(f"{where}: expected a mapping with a `layers` list")
    extra = sorted(set(data) - {"name", "layers"})
    if extra:
        raise SpecError(f"{where}: unknown key {extra[0]!r} (expected name, layers)")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise SpecError(f"{where}: `name` must be a non-empty string, not {name!r}")
    layers = []
    for index, entry in enumerate(data["layers"]):
        try:
            layers.append(_layer(entry, index))
        except SpecError as exc:
            # a message that already names its layer is not given its index as well
            at = "" if str(exc).startswith("layer ") else f"layer {index + 1}: "
            raise SpecError(f"{where}: {at}{exc}") from None
        except TypeError as exc:    # a field of the wrong type reaching arithmetic
            raise SpecError(f"{where}: layer {index + 1}: a field has the wrong type "
                            f"({exc})") from None
    if not layers:
        raise SpecError(f"{where}: `layers` is empty")
    return name, layers


def _layer(entry, index: int) -> Layer:
    if not isinstance(entry, dict):
        raise SpecError(f"expected a mapping of Layer fields, not {entry!r}")
    unknown = sorted(set(entry) - set(FIELDS), key=str)
    if unknown:
        raise SpecError(f"unknown field {unknown[0]!r}; Layer fields are {', '.join(FIELDS)}")
    for key in ("kind", "C") + (() if entry.get("kind") == "vector" else ("K",)):
        if key not in entry:
            raise SpecError(f"`{key}` is required")
    fields = {"name": f"layer{index + 1}", **entry}
    if not isinstance(fields["name"], str) or not fields["name"]:
        raise SpecError(f"`name` must be a non-empty string, not {fields['name']!r}")
    if fields["kind"] == "vector":
        fields.setdefault("K", fields["C"])
        if fields.get("op") not in POOLS:
            if "H" not in fields:
                raise SpecError("`H` (input rows) is required")
            fields.setdefault("W", 1 if fields.get("op") in ROWS else fields["H"])
            fields.setdefault("P", fields["H"])
            fields.setdefault("Q", fields["W"])
            return Layer(**fields)
    for key in ("pads", "dilation"):
        if key in fields and not isinstance(fields[key], list):
            raise SpecError(f"`{key}` must be a list, not {fields[key]!r}")
        if key in fields:
            fields[key] = tuple(fields[key])
    if fields["kind"] in PRODUCTS:
        fields.setdefault("P", 1 if fields["kind"] == "linear" else fields.get("H"))
        if fields["P"] is None:
            raise SpecError(f"a {fields['kind']} layer needs `P` (its rows)")
        fields.setdefault("H", fields["P"])
        fields.setdefault("Q", 1)
        fields.setdefault("W", 1)
        return Layer(**fields)
    if "H" not in fields:
        raise SpecError("`H` (input rows) is required")
    fields.setdefault("W", fields["H"])
    fields.setdefault("R", 1)
    fields.setdefault("S", fields["R"])
    # P and Q left out follow from the window (validated first on a large enough input)
    probe = Layer(**{**fields, "kind": "conv2d", "op": None, "H": 1 << 30, "W": 1 << 30, "P": 1,
                     "Q": 1})
    (sh, sw), (top, left, bottom, right), (eh, ew) = probe.strides, probe.paddings, probe.extent
    H, W = fields["H"], fields["W"]
    if fields["kind"] == "transposed_conv":
        fields.setdefault("P", (H - 1) * sh - top - bottom + eh)
        fields.setdefault("Q", (W - 1) * sw - left - right + ew)
    else:
        fields.setdefault("P", (H + top + bottom - eh) // sh + 1)
        fields.setdefault("Q", (W + left + right - ew) // sw + 1)
    return Layer(**fields)
