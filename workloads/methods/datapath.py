"""The datapath the mapped-program controller (hw/controller/) is built with: which PE its
array holds and what that PE computes (docs/plans/method_hardware_on_controller.md, §0 and
§1(a); only the PE swap is built so far).

A `Datapath` names no method: the hardware (hw/controller), the timing model
(sim/cycle/controller_timing) and the closed forms (sim/controller_cost) read the same object.
`BASELINE` is the int8 MAC array every baseline run uses. A method family whose PE runs on the
controller declares `CONTROLLER_DATAPATH` in its `workloads/methods/<family>/plan.py` (and
`CONTROLLER_PE`, the Amaranth class, in `hw/methods/<family>/__init__.py`);
`controller_datapath(arch, pe_op)` finds it by the arch's PE kind and the op's PE operation,
so nothing here lists methods by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import import_module
from typing import Callable

from .conv_ref import conv2d_int


@dataclass(frozen=True)
class Datapath:
    """pe_kind: the arch's `pe_array.pe_kind` it is built for; pe_op: the HwOp.pe_op its PEs
    perform; family: the method family whose hw/methods/<family>/ holds the PE class
    (`CONTROLLER_PE`; "baseline": hw/pe.MacPE); zero_weight_idle: a PE with a zero weight adds
    nothing whatever its ifmap lane holds (a MAC: the ws fold may then leave the lanes past a
    tile's channels stale under zero weight rows; an adder, |a - 0| != 0, may not, and the ws
    fold masks them); sums(x, w, stride, padding, groups, out_size): the bit-exact
    accumulator sums of a layer, int64[N, K, P, Q] over zero-padded windows (x NCHW, w KCRS);
    signed_sums: the sums take both signs (a MAC's); False: they are never positive (an
    adder's -sum|x - w|), so a ReLU after the requantization zeroes every output and the
    random jobs (hw/controller/stimulus.random_requant_of) draw none."""

    pe_kind: str = "mac"
    pe_op: str = "mac"
    family: str = "baseline"
    zero_weight_idle: bool = True
    sums: Callable = conv2d_int
    signed_sums: bool = True

    @property
    def is_baseline(self) -> bool:
        return self.pe_op == "mac" and self.family == "baseline"


BASELINE = Datapath()


@cache
def family_datapaths() -> tuple:
    """Every CONTROLLER_DATAPATH a method family's plan.py declares, in family order."""
    from . import METHODS
    out = []
    for family in dict.fromkeys(method.family for method in METHODS.values()):
        name = f"{__package__}.{family}.plan"
        try:
            plan = import_module(name)
        except ModuleNotFoundError as exc:
            # a family without a plan.py; a broken import inside one is an error
            if exc.name not in (name, f"{__package__}.{family}"):
                raise
            continue
        found = getattr(plan, "CONTROLLER_DATAPATH", None)
        if found is not None and found not in out:
            out.append(found)
    return tuple(out)


def controller_datapath(arch, pe_op: str = "mac") -> Datapath | None:
    """The datapath on which the controller built for `arch` runs ops of `pe_op`: BASELINE for
    MAC ops on a MAC array, a family's CONTROLLER_DATAPATH for its PE operation on its PE kind,
    None when none does (an int8 MAC layer on an adder array: no MAC mode yet, plan §1(e))."""
    kind = arch.pe_array.pe_kind
    if kind == BASELINE.pe_kind and pe_op == BASELINE.pe_op:
        return BASELINE
    for datapath in family_datapaths():
        if datapath.pe_kind == kind and datapath.pe_op == pe_op:
            return datapath
    return None
