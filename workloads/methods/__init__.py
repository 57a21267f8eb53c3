"""Efficiency methods: each module registers a `Method` in METHODS.

A method turns a layer into the hardware operations it really performs
(`transform(layer, arch) -> list[HwOp]`) and declares the PE kinds that can run it and the
fixed-function units it needs beside the array, so that `simulate` refuses an arch that lacks
them. The bit-exact references of each method live beside it (`<method>_ref.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from dlaforge.errors import SpecError


@dataclass(frozen=True)
class Method:
    name: str
    description: str
    transform: Callable
    pe_kinds: tuple[str, ...]
    units: tuple[str, ...] = ()


METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    METHODS[method.name] = method
    return method


def get_method(name: str, arch) -> Method:
    """The registered method `name`, checked against what the arch's PE array can run."""
    if name not in METHODS:
        raise SpecError(f"unknown method {name!r}; choose from {', '.join(sorted(METHODS))}")
    method = METHODS[name]
    if arch.pe_array.pe_kind not in method.pe_kinds:
        raise SpecError(f"method {name!r} needs a PE array of kind {' or '.join(method.pe_kinds)}; "
                        f"arch {arch.name!r} has {arch.pe_array.pe_kind!r}")
    missing = [unit for unit in method.units if arch.unit(unit) is None]
    if missing:
        raise SpecError(f"method {name!r} needs the unit {', '.join(missing)}, which arch "
                        f"{arch.name!r} does not declare under `units`")
    return method


from . import baseline, palquant, smartdeal, winograd, xnor  # noqa: E402,F401  (register themselves)
