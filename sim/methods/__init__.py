"""Models of each method family's hardware, one module per family (`sim/methods/<family>.py`,
the family of workloads/methods/<family>/), found by the family name; nothing lists methods
by name here. A family's module provides the `FamilyModel` Protocol below: the energy of its
units' operations (what sim/method_costs.py adds to a plain MAC array) and the exact timing
model of its RTL (hw/methods/<family>/), held equal to the RTL by tests/hw/methods/. The
contract test (tests/workloads/methods/test_contract.py) checks every registered method has one.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import Callable, Protocol, runtime_checkable

from dlaforge.arch import ArchSpec
from dlaforge.sim.energy import EnergyTable
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp
from dlaforge.workloads.methods import METHODS


@runtime_checkable
class FamilyModel(Protocol):
    """What `sim/methods/<family>.py` provides."""

    UNIT_OPS: dict[str, tuple[str, ...]]     # unit (arch `units` name) -> its HwOp.ops keys
    PE_OP_PJ: dict[str, Callable]            # its PE operations (HwOp.pe_op) other than "mac"
                                             # -> pJ of one: f(arch, op)

    def unit_op_pj_45nm(self, arch: ArchSpec) -> dict[str, float]:
        """pJ at 45 nm of one operation of each of its units' op keys."""

    def cannot_run(self, arch: ArchSpec, op: HwOp, dataflow: str) -> str | None:
        """Why its hardware cannot run `op` under `dataflow`, or None."""

    def op_stats(self, arch: ArchSpec, op: HwOp, dataflow: str, table: EnergyTable) -> Stats:
        """`op` on its hardware: the timing model's counters priced (`--schedule rtl`)."""

    def command_counters(self, arch: ArchSpec, op: HwOp, dataflow: str) -> list[dict]:
        """Its timing model's counters of each command its hardware runs for `op`, in the
        order its `run_random` (hw/methods/<family>/) returns the design's."""

    def counters_to_stats(self, arch: ArchSpec, op: HwOp, counters: dict, dataflow: str,
                          table: EnergyTable) -> Stats:
        """A Stats record from its design's counters of `op` summed over its commands
        (measured by hw/methods/<family>'s `run`, or its timing model's `command_counters`),
        priced exactly as `op_stats` prices its own."""


def summed(counters: list[dict]) -> dict:
    """Counters of several commands added up, name by name."""
    return {name: sum(c[name] for c in counters) for name in counters[0]}


@cache
def family_models() -> tuple:
    """The model module of every method family, in family order."""
    families = dict.fromkeys(method.family for method in METHODS.values())
    return tuple(import_module(f"{__name__}.{family}") for family in families)


def method_timing(method: str):
    """The model module of `method`'s hardware, or None for an unknown method."""
    found = METHODS.get(method)
    return None if found is None else import_module(f"{__name__}.{found.family}")
