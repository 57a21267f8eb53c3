"""The baseline accelerator (hw/accelerator.py) under the method-hardware interface of
hw/methods/__init__.py."""

from __future__ import annotations

from dlaforge.arch import ArchSpec

from ..accelerator import buildable
from ..array import SystolicArray
from ..pe import MacPE
from ..verify import verify
from ..verilog import cell_stats as yosys_cells, generate

__all__ = ["check", "generate", "verify", "cell_stats"]


def check(arch: ArchSpec) -> None:
    buildable(arch)


def cell_stats(arch: ArchSpec) -> dict:
    """Yosys cells of one MAC PE and of the array, with the dataflows the RTL builds."""
    dataflows = buildable(arch).dataflows
    pe = arch.pe_array
    bits = (pe.ifmap_bits, pe.weight_bits, pe.psum_bits)
    return {"pe": yosys_cells(MacPE(*bits, dataflows)),
            "array": yosys_cells(SystolicArray(pe.rows, pe.cols, *bits, dataflows))}
