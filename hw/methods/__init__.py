"""Method hardware: the units that run a method's operations (issue 6), one folder per method
family (`hw/methods/<family>/`, the family of workloads/methods/<family>/), each built from the
same ArchSpec and verified like the baseline accelerator.

A family's `__init__.py` provides the `FamilyHardware` Protocol below; the other modules of its
folder hold its Amaranth units, its stimuli (`stimulus.py`: the DRAM image, commands and
expected results of one run) and, when it has its own testbench, that testbench and its runner.
`method_hardware(name)` finds a registered method's hardware by the method's family and binds
the method's options (Winograd's `variant`); nothing lists methods by name here. The contract
test (tests/workloads/methods/test_contract.py) checks that every registered method has one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.workloads.methods import METHODS

FUNCTIONS = ("check", "generate", "verify", "cell_stats", "cells_row", "run", "run_random")


@dataclass(frozen=True)
class OpCase:
    """One HwOp of a method to run on its hardware: the arch, the layer it came from (what
    the op alone does not say, such as a Winograd layer's image size), the op and the
    dataflow."""

    arch: ArchSpec
    layer: object
    op: object
    dataflow: str


@dataclass
class OpRun:
    """A run of one OpCase on random data: per command its design's counters and the
    testbench's cycles, and where its outputs differ from the method's reference."""

    counters: list[dict]
    testbench_cycles: list[int]
    problems: list[str]


@runtime_checkable
class FamilyHardware(Protocol):
    """What `hw/methods/<family>/__init__.py` provides; each function takes the method's
    options (Method.options) as keyword arguments."""

    def check(self, arch: ArchSpec) -> None:
        """SpecError unless the hardware can be built from `arch`."""

    def generate(self, arch: ArchSpec, out_dir: Path) -> tuple[Path, Path]:
        """Write `<top>.v` and its `<top>.json` manifest into `out_dir`, each only complete."""

    def verify(self, arch: ArchSpec, sim: str = "icarus",
               progress: Callable[[str], None] = lambda line: None) -> tuple[int, int]:
        """(passed, failed) over its corner-case and random layers, bit-exact against the
        method's reference and with the testbench's cycles equal to the design's counter."""

    def cell_stats(self, arch: ArchSpec) -> dict:
        """Yosys cell counts of its PE, array or units beside the int8 MAC PE and array."""

    def cells_row(self, cells: dict) -> tuple[str, ...]:
        """The row of `cell_stats`'s counts in bench/bench_method_rtl.py's table: the method,
        its PE or unit and cells, the int8 MAC PE (the dataflows built) and cells, the PE ratio,
        the method's and the int8 array's cells and their ratio, other blocks."""

    def run(self, stimuli: list, build_dir: Path, sim: str = "icarus") -> list:
        """Run `stimuli` (its stimulus.py's, one arch) on one build of the design; one result
        per stimulus (outputs, counters, testbench cycles)."""

    def run_random(self, cases: list[OpCase], build_dir: Path, rng,
                   sim: str = "icarus") -> list[OpRun]:
        """Run each case's op (one arch) on random data drawn from `rng`, on one build; its
        commands in the order of the model's `command_counters` (sim/methods/<family>.py)."""


def outputs_problems(equal: bool) -> list[str]:
    """An OpRun's problems when its outputs are (not) those of the reference."""
    return [] if equal else ["outputs differ from the reference"]


def one_command_runs(jobs: list, results: list) -> list[OpRun]:
    """OpRuns of stimuli of one command each (`expected()` outputs) from their results
    (`output`, `perf`, `testbench_cycles`)."""
    return [OpRun([r.perf], [r.testbench_cycles],
                  outputs_problems(np.array_equal(r.output, job.expected())))
            for job, r in zip(jobs, results)]


@dataclass(frozen=True)
class MethodHardware:
    """A method's hardware: the functions of its family's module, bound to its options."""

    name: str
    module: str
    options: dict = field(default_factory=dict)

    def __getattr__(self, function: str):
        if function not in FUNCTIONS:
            raise AttributeError(function)
        found = getattr(import_module(f"{__name__}.{self.module}"), function)
        return partial(found, **self.options)


def method_hardware(name: str) -> MethodHardware:
    """The hardware of method `name`, or SpecError naming those that have one."""
    if name not in METHODS:
        raise SpecError(f"no RTL for method {name!r}; the RTL generator builds "
                        f"{', '.join(METHODS)}")
    method = METHODS[name]
    return MethodHardware(name, method.family, dict(method.options))
