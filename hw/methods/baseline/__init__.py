"""The baseline accelerator (hw/accelerator.py) under the method-hardware interface of
hw/methods/__init__.py."""

from __future__ import annotations

from pathlib import Path

from dlaforge.arch import ArchSpec
from dlaforge.workloads.methods.common import command_gemm

from .. import OpRun, one_command_runs
from ...accelerator import buildable
from ...array import SystolicArray
from ...pe import MacPE
from ...run_amaranth import run_amaranth
from ...run_cocotb import run_cocotb
from ...verify import verify
from ...verilog import cell_stats as yosys_cells, generate

__all__ = ["check", "generate", "verify", "cell_stats", "cells_row", "run",
           "run_random"]


def check(arch: ArchSpec) -> None:
    buildable(arch)


def run(jobs: list, build_dir: Path, sim: str = "icarus") -> list:
    """Run LayerJobs (hw/stimulus.py, one arch) on one build of the accelerator; RtlResults."""
    if sim == "amaranth":
        return [run_amaranth(job) for job in jobs]
    return run_cocotb(jobs, build_dir, sim)


def cells_row(cells: dict) -> tuple[str, ...]:
    pe, array = f"{cells['pe']['total']:,}", f"{cells['array']['total']:,}"
    return ("baseline (int8)", "MAC PE 8x8, 32-bit sum", pe, "itself (ws, os, is)", pe, "1.00",
            array, array, "1.00", "")


def run_random(cases: list, build_dir: Path, rng, sim: str = "icarus") -> list[OpRun]:
    """One command of each case's op (an image and a group) on random codes with requantized
    outputs, as --model rtl runs the baseline and its timing model prices it."""
    from ...stimulus import LayerJob
    jobs = [LayerJob.random(c.arch, c.dataflow, command_gemm(c.op), rng, requant=True)
            for c in cases]
    return one_command_runs(jobs, run(jobs, build_dir, sim))


def cell_stats(arch: ArchSpec) -> dict:
    """Yosys cells of one MAC PE and of the array, with the dataflows the RTL builds."""
    dataflows = buildable(arch).dataflows
    pe = arch.pe_array
    bits = (pe.ifmap_bits, pe.weight_bits, pe.psum_bits)
    return {"pe": yosys_cells(MacPE(*bits, dataflows)),
            "array": yosys_cells(SystolicArray(pe.rows, pe.cols, *bits, dataflows))}
