"""Binary-weight network hardware: the sign-add PE (hw/methods/bwn/pe.py: acc ± x as the
weight's sign bit picks), `CONTROLLER_PE` of the mapped-program controller's BWN datapath
(workloads/methods/bwn/plan.py), which is what `rtl generate|verify --method bwn`, `--model
rtl` and `--schedule rtl` build and run (packed 1-bit weights, ws and os, the int8 layers in
the PEs' MAC mode). The functions below are the first accelerator's sign-add array, kept for
the bench's unit slices (bench/bench_method_rtl.py): the adder accelerator
(hw/methods/addernet/: the first accelerator, output stationary, on the adder arch) with
sign-add PEs in its array.

Everything but the PE's operation is the adder accelerator's, so its functions do the work
with this family's PE and jobs (hw/methods/bwn/stimulus.py: ±1 weights, the binary-weight
reference). What that first accelerator leaves out (the controller has it): its loader moves
each ±1 weight as an element of the array's width, not packed; α_k is the writer's
per-channel requantization scale, as in the method's model.

- `check(arch)`: the adder array's (pe_kind adder, dataflow os, buffers holding a tile);
- `generate(arch, out_dir)`: `dlaforge_bwn.v` and `dlaforge_bwn.json`;
- `verify(arch, sim)`: hw/shapes.py's corner-case layers on random ±1 weights, the extremes
  over a padded window (-128 activations against all +1 and all -1 filters, 127 against all
  -1), a ReLU layer and a layer of raw psum_bits sums, bit-exact and with the testbench's
  cycles equal to the design's counter;
- `cell_stats(arch)`: Yosys cells of the sign-add PE and array beside the int8 MAC's.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from dlaforge.arch import ArchSpec
from dlaforge.workloads.methods.addernet.plan import check  # noqa: F401  (the interface)
from dlaforge.workloads.methods.common import command_gemm

from .. import OpRun, addernet, one_command_runs
from .pe import SignAddPE
from .stimulus import BwnJob

__all__ = ["check", "generate", "verify", "cell_stats", "cells_row", "run", "run_random",
           "CONTROLLER_PE"]
TOP = "dlaforge_bwn"
CONTROLLER_PE = SignAddPE   # the PE of the controller's BWN datapath (plan.CONTROLLER_DATAPATH)
PARAMETERS = {"method": "bwn", "pe": "c + a if w >= 0 else c - a (sign-add, no multiplier)",
              "weights": "+1/-1, one array-width element each", "padding": "padded taps add 0"}


def generate(arch: ArchSpec, out_dir: Path) -> tuple[Path, Path]:
    """Write the sign-add accelerator's Verilog and manifest into `out_dir`."""
    return addernet.write_design(arch, out_dir, TOP, SignAddPE, PARAMETERS)


def run(jobs: list[BwnJob], build_dir: Path, sim: str = "icarus") -> list:
    """Run BwnJobs (one arch) on one build of the design; RtlResults."""
    return addernet.run(jobs, build_dir, sim, pe=SignAddPE)


def run_random(cases: list, build_dir: Path, rng, sim: str = "icarus") -> list[OpRun]:
    """One command of each case's op (an image and a group) on random int8 activations and ±1
    weights, requantized, as --schedule rtl runs it and sim/methods/bwn.py times it."""
    jobs = [BwnJob.random(c.arch, command_gemm(c.op), rng) for c in cases]
    return one_command_runs(jobs, run(jobs, build_dir, sim))


def extremes(low: int, high: int) -> dict:
    """The extreme cases' (activation, weight): -128 against all +1 and all -1 filters, 127
    against all -1."""
    return {"min_act_plus_filters": (low, 1), "min_act_minus_filters": (low, -1),
            "max_act_minus_filters": (high, -1)}


# hw/shapes.py's layers on random operands, the extremes over a padded window, a ReLU layer
# and a layer of raw sums (module doc), as the adder array's verification builds them
verification_jobs = partial(addernet.verification_jobs, job=BwnJob, extremes=extremes,
                            relu_range=(-4, 5))


def verify(arch: ArchSpec, sim: str = "icarus", progress=lambda line: None) -> tuple[int, int]:
    """(passed, failed): outputs bit-exact against the binary-weight reference and the
    testbench's cycles equal to the design's own counter."""
    return addernet.verify(arch, sim, progress, cases=verification_jobs, pe=SignAddPE)


def cell_stats(arch: ArchSpec) -> dict:
    """Yosys cells of one sign-add PE and its array beside the int8 MAC PE and array."""
    return addernet.cell_stats(arch, SignAddPE, "bwn")


def cells_row(x: dict) -> tuple[str, ...]:
    return ("bwn", "sign-add PE 8b ± x, 32-bit sum", f"{x['bwn_pe']['total']:,}", "os",
            f"{x['mac_pe']['total']:,}", f"{x['pe_ratio']:.2f}", f"{x['bwn_array']['total']:,}",
            f"{x['mac_array']['total']:,}", f"{x['array_ratio']:.2f}", "")
