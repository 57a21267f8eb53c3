"""Networks: the shipped presets, SCALE-Sim topology CSV and ONNX import, and network YAML.

`load_network(name_or_path, batch)` returns a validated `Network`; a bad name or file raises
SpecError with a message that names the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from dlaforge.errors import SpecError, positive_int

from ..layer import Layer
from .presets import PRESETS
from .onnx_import import read_onnx
from .scalesim_csv import read_topology
from .yaml_network import read_network_yaml


@dataclass(frozen=True)
class Network:
    name: str
    layers: tuple[Layer, ...]
    skipped: tuple[str, ...] = ()       # unsupported operators left out of an import

    def __post_init__(self):
        if not self.layers:
            raise SpecError(f"network {self.name!r} has no layers")

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)


def list_networks() -> list[str]:
    return sorted(PRESETS)


def load_network(name_or_path: str | Path | Network, batch: int = 1,
                 input_shapes: dict | None = None, skip_unsupported: bool = False) -> Network:
    """A preset name, a SCALE-Sim topology CSV (conv or GEMM form), a network YAML (a list of
    layers, workloads/networks/yaml_network.py), an ONNX model (with
    `input_shapes` fixing its inputs' shapes and `skip_unsupported` leaving out what it cannot
    import) or an already loaded Network, at the given batch."""
    positive_int(batch, "batch")
    text = str(name_or_path)
    skipped = ()
    if (input_shapes or skip_unsupported) and not text.endswith(".onnx"):
        raise SpecError(f"--input-shape and --skip-unsupported are for ONNX models, not {text!r}")
    if isinstance(name_or_path, Network):
        name, layers, skipped = name_or_path.name, name_or_path.layers, name_or_path.skipped
    elif text in PRESETS:
        name, layers = text, PRESETS[text]()
    elif text.endswith(".csv"):
        path = Path(text)
        name, layers = path.stem, read_topology(path)
    elif text.endswith(".onnx"):
        path = Path(text)
        if not path.exists():
            raise SpecError(f"network file {text!r} does not exist")
        layers, skipped = read_onnx(path, input_shapes, skip_unsupported)
        name = path.stem
    elif text.endswith((".yaml", ".yml")):
        name, layers = read_network_yaml(Path(text))
    else:
        raise SpecError(f"unknown network {text!r}: not a preset ({', '.join(list_networks())}) "
                        f"nor a .csv topology, .onnx or .yaml file")
    return Network(name=name, layers=tuple(replace(layer, N=layer.N * batch) for layer in layers),
                   skipped=tuple(skipped))
