"""Timing model of the PalQuant array (hw/methods/palquant.py), without simulating it.

The array is the baseline accelerator generated from `rtl_palquant_plan.array_arch(arch)`, and
a PalQuant op (workloads/methods/palquant.py: G·groups groups of 2-bit codes) is one command
per image and group, one after another. So its cycles and counters are the baseline timing
model's (sim/cycle/rtl_timing.py, held equal to the RTL on Icarus) for one group's conv on that
spec, times the commands; the energy prices those counters with the spec's table (`table`).

What the array does not run: ops wider than 2 bits, which the method bit-slices onto the array
(PalQuant's int8 first conv and FC layers, `bitslice_w4a4`): the array has no bit-sliced
passes.
"""

from __future__ import annotations

from dataclasses import replace

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.rtl_palquant_plan import CODE_BITS, array_arch
from dlaforge.rtl_plan import RtlPlan
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp

from .rtl_timing import gemm_of, rtl_op_stats


def cannot_run(arch: ArchSpec, op: HwOp, dataflow: str) -> str | None:
    """Why the PalQuant array built from `arch` cannot run `op` under `dataflow` (None if it
    can)."""
    if op.pe_op != "mac":
        return f"the PalQuant array multiply-accumulates; op {op.name!r} is {op.pe_op!r}"
    if (op.ifmap_bits, op.weight_bits) != (CODE_BITS, CODE_BITS) or op.dram_scale:
        return (f"op {op.name!r} is wider than {CODE_BITS} bits (bit-sliced onto the array); the "
                f"PalQuant array runs {CODE_BITS}-bit layers only, it has no bit-sliced passes")
    try:
        RtlPlan.make(array_arch(arch), dataflow, gemm_of(op))
    except SpecError as exc:
        return str(exc)
    return None


def op_stats(arch: ArchSpec, op: HwOp, dataflow: str, table) -> Stats:
    """Cycles, counters, DRAM bytes and energy of `op` on the PalQuant array (cannot_run must
    be None): one baseline command per image and group on the array's spec."""
    why = cannot_run(arch, op, dataflow)
    if why:
        raise SpecError(why)
    stats = rtl_op_stats(array_arch(arch), op, dataflow, table)
    return replace(stats, pe_count=arch.pe_count, weight_storage_bits=op.weight_storage_bits)
