"""The baseline accelerator's model under the FamilyModel interface (sim/methods/__init__.py):
no units beside the array; its timing model is sim/cycle/rtl_timing.py, its fitness check
sim/rtl_program.rtl_cannot_run."""

from __future__ import annotations

from dlaforge.arch import ArchSpec
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp

from ..cycle.rtl_timing import rtl_op_stats as op_stats  # noqa: F401  (the interface)
from ..cycle.rtl_timing import rtl_timing
from ..rtl_program import commands_of, gemm_of, stats_from_counters
from ..rtl_program import rtl_cannot_run as cannot_run  # noqa: F401  (the interface)

UNIT_OPS: dict = {}
PE_OP_PJ: dict = {}


def unit_op_pj_45nm(arch: ArchSpec) -> dict:
    return {}


def command_counters(arch: ArchSpec, op: HwOp, dataflow: str) -> list[dict]:
    """The timing model's counters of each command of `op` (one per image and group), run as
    `op_stats` times them and --model rtl runs them: with requantized outputs."""
    return [rtl_timing(arch, dataflow, gemm_of(op), requant=True).counters] * commands_of(op)


def counters_to_stats(arch: ArchSpec, op: HwOp, counters: dict, dataflow: str, table) -> Stats:
    """Stats of the op from the counters of all its commands (summed), with requantized
    outputs."""
    return stats_from_counters(arch, op.pe_macs, counters, table, dataflow,
                               gemm_of(op).K * commands_of(op))
