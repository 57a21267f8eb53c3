"""Efficiency methods: each module registers a `Method` in METHODS.

A method turns a layer into the hardware operations it really performs
(`transform(layer, arch) -> list[HwOp]`) and declares the PE kinds that can run it, so that
`simulate` refuses an arch that lacks them.
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
    return method


from . import baseline  # noqa: E402,F401  (registers itself)
