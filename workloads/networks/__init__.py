"""Networks: the shipped presets and SCALE-Sim topology CSV import.

`load_network(name_or_path, batch)` returns a validated `Network`; a bad name or file raises
SpecError with a message that names the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from dlaforge.errors import SpecError, positive_int

from ..layer import Layer
from .presets import PRESETS
from .scalesim_csv import read_topology


@dataclass(frozen=True)
class Network:
    name: str
    layers: tuple[Layer, ...]

    def __post_init__(self):
        if not self.layers:
            raise SpecError(f"network {self.name!r} has no layers")

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)


def list_networks() -> list[str]:
    return sorted(PRESETS)


def load_network(name_or_path: str | Path, batch: int = 1) -> Network:
    """A preset name or a SCALE-Sim topology CSV (conv or GEMM form), at the given batch."""
    positive_int(batch, "batch")
    text = str(name_or_path)
    if text in PRESETS:
        name, layers = text, PRESETS[text]()
    elif text.endswith(".csv"):
        path = Path(text)
        if not path.is_file():
            raise SpecError(f"network file {text!r} does not exist")
        name, layers = path.stem, read_topology(path)
    elif text.endswith(".onnx"):
        raise SpecError(f"ONNX import is not available yet; give a preset "
                        f"({', '.join(list_networks())}) or a SCALE-Sim topology CSV")
    else:
        raise SpecError(f"unknown network {text!r}: not a preset ({', '.join(list_networks())}) "
                        f"nor a .csv topology file")
    return Network(name=name, layers=tuple(replace(layer, N=layer.N * batch) for layer in layers))
