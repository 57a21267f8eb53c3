"""Efficiency methods, one folder per method family, found by convention.

A family is a subpackage `workloads/methods/<family>/` (baseline, xnor, smartdeal, winograd,
palquant, ...); importing this package imports each of them and registers the `Method`s its
`__init__` declares in `METHODS`. Nothing else lists methods by name: the other levels find a
method's parts by its family (`hw/methods/<family>/`, `sim/methods/<family>.py`), and the
contract test (tests/workloads/methods/test_contract.py) checks that every registered method
has them all. What a family writes (the `MethodFamily` Protocol below):

- `__init__.py`: `METHODS`, a tuple of `Method`s: the name (`--method`), a one-line
  description, `transform(layer, arch) -> list[HwOp]` (the hardware operations it really
  performs, with the bits of every tensor stored or moved), the PE kinds that can run it, the
  fixed-function units it needs beside the array (so that `simulate` refuses an arch that
  lacks them), the keyword options its hardware and model functions take (Winograd's
  `variant`), and the arch presets made for it (the first is the small one its RTL is verified
  and benchmarked on); `training_only` for a method that changes only the training
  iteration (workloads/training_methods.py), which reports of inference leave out;
  `network_transform(network, options) -> network`, optional, for a method that rewrites the
  network as a whole before its layers are transformed (nisp's channel pruning: a layer's C
  is its producer's pruned K), applied in one place, sim/run.run_network, with the method's
  options over their defaults; the run's record holds the rewritten layers;
- `OPTIONS`, when its methods take options from the user (`--prune`, `--filter-patch`): a
  tuple of `MethodOption` (workloads/method_options.py), from which the command line builds
  its flags;
- `reference.py`: its bit-exact integer references (numba), tested against a float/numpy
  definition of the same math;
- `plan.py`, when it has hardware: how that hardware tiles and lays out a layer, with the
  method's constants (widths, field sizes), shared by its RTL (hw) and timing model (sim),
  which may not import each other.

The shared pieces stay here: `common.py` (what transforms share), `conv_ref.py` and
`requant_ref.py` (the references every method builds on), `accelerator_plan.py` (how the first
accelerator, hw/accelerator.py, which the method units run on, tiles a layer; the families'
plans extend it). docs/adding_a_method.md walks
through adding a method end to end.
"""

from __future__ import annotations

import pkgutil
from dataclasses import dataclass, field, replace
from importlib import import_module
from typing import Callable, Protocol, runtime_checkable

from dlaforge.arch import VECTOR_UNIT
from dlaforge.errors import SpecError


@dataclass(frozen=True)
class Method:
    name: str
    description: str
    transform: Callable
    pe_kinds: tuple[str, ...]
    units: tuple[str, ...] = ()
    options: dict = field(default_factory=dict, hash=False)  # keyword args of its hw, sim functions
    presets: tuple[str, ...] = ()                   # arch presets made for it, smallest first
    training_only: bool = False     # changes the training iteration only (its forward is the
                                    # baseline's): reports of inference leave it out
    network_transform: Callable | None = None   # (network, options) -> network, applied
                                    # before the layers are transformed (module doc)
    mac_ops: tuple[str, ...] = ()   # its PE operations (HwOp.pe_op) besides "mac" that multiply
                                    # the activations as DRAM holds them (`multiplies`)
    family: str = ""                                # its folder; set when registered


@runtime_checkable
class MethodFamily(Protocol):
    """The contract of `workloads/methods/<family>/__init__.py` (module doc)."""

    METHODS: tuple[Method, ...]


METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    METHODS[method.name] = method
    return method


def multiplies(pe_op: str) -> bool:
    """Whether PE operation `pe_op` multiply-accumulates the layer's activation values as DRAM
    holds them, so a zero activation adds nothing: "mac", and a method's `mac_ops` (PalQuant's
    code and slice MACs); DRAM compression codes such ops' activations and zero gating skips
    their zeros (workloads/compression.py, sim/analytical.zero_gated)."""
    return pe_op == "mac" or any(pe_op in method.mac_ops for method in METHODS.values())


def pe_kinds() -> tuple[str, ...]:
    """The PE kinds some registered method runs on: the only ones an arch may have."""
    return tuple(sorted({kind for method in METHODS.values() for kind in method.pe_kinds}))


def unit_kinds() -> tuple[str, ...]:
    """The units an arch may declare: those some registered method needs, and the vector unit."""
    return tuple(sorted({VECTOR_UNIT} | {unit for method in METHODS.values()
                                         for unit in method.units}))


def check_vocabulary(arch) -> None:
    """SpecError unless every PE kind and unit the arch names is one some method declares (the
    core, which does not know the methods, checks only the names' form)."""
    if arch.pe_array.pe_kind not in pe_kinds():
        raise SpecError(f"arch {arch.name!r}: unknown pe_kind {arch.pe_array.pe_kind!r}; "
                        f"choose from {', '.join(pe_kinds())}")
    for unit in arch.units:
        if unit.name not in unit_kinds():
            raise SpecError(f"arch {arch.name!r}: unknown unit {unit.name!r}; choose from "
                            f"{', '.join(unit_kinds())}")


def get_method(name: str, arch) -> Method:
    """The registered method `name`, checked against what the arch's PE array can run."""
    check_vocabulary(arch)
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


def families() -> tuple[str, ...]:
    """The method families: the subpackages of this package, in name order."""
    return tuple(info.name for info in pkgutil.iter_modules(__path__) if info.ispkg)


def _register_families() -> None:
    for family in families():
        for method in import_module(f"{__name__}.{family}").METHODS:
            register(replace(method, family=family))


_register_families()
