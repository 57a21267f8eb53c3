"""The baseline accelerator (hw/accelerator.py) under the method-hardware interface of
hw/methods/__init__.py."""

from __future__ import annotations

from pathlib import Path

from dlaforge.arch import ArchSpec

from ...accelerator import buildable
from ...array import SystolicArray
from ...pe import MacPE
from ...sim_amaranth import run_amaranth
from ...sim_cocotb import run_cocotb
from ...verify import verify
from ...verilog import cell_stats as yosys_cells, generate

__all__ = ["check", "generate", "verify", "cell_stats", "run"]


def check(arch: ArchSpec) -> None:
    buildable(arch)


def run(jobs: list, build_dir: Path, sim: str = "icarus") -> list:
    """Run LayerJobs (hw/job.py, one arch) on one build of the accelerator; RtlResults."""
    if sim == "amaranth":
        return [run_amaranth(job) for job in jobs]
    return run_cocotb(jobs, build_dir, sim)


def cell_stats(arch: ArchSpec) -> dict:
    """Yosys cells of one MAC PE and of the array, with the dataflows the RTL builds."""
    dataflows = buildable(arch).dataflows
    pe = arch.pe_array
    bits = (pe.ifmap_bits, pe.weight_bits, pe.psum_bits)
    return {"pe": yosys_cells(MacPE(*bits, dataflows)),
            "array": yosys_cells(SystolicArray(pe.rows, pe.cols, *bits, dataflows))}
