"""Timing model of the Winograd RTL (hw/methods/winograd/top.py), closed form, never simulating
it: its cycles and counters equal the RTL's (tests/hw/methods/test_winograd.py).

One command runs the layer; cycle 0 is the first cycle after the command is taken, the DRAM
port (hw/dram.py's model) idle. Gaps: a beat of b bytes holds the channel gap(b) =
max(1, ceil(b / bandwidth)) cycles; gi for an ifmap element (read, and written as V), gs for a
psum (a tap sum read, or written by the accelerator), gy for an output; L = max(1, latency).
n = a² lanes a tile, q = m² outputs a tile.

Phases 1 and 3, per tile started at s with the channel free at f (the sequencer's READ, PUSH,
WRITE): the n reads are taken at r_k = max(s, f) + k·g (g = gi, or gs for tap sums); the last
datum arrives at r_{n-1} + L and the tile is pushed into its unit the cycle after, p; the
unit's result is valid at p + 3 (three stages), so the writes (gap gw = gi for V, gy for
outputs; n of V, q outputs) are taken at w_k = w_0 + k·gw with
w_0 = max(p + 3, r_{n-1} + g) = r_{n-1} + max(L + 4, g); the last pops the unit, and the next
tile starts at w_last + 1 with the channel free gw - 1 cycles later. The unit holds the tile
w_last - p cycles.
Phase 2, per tap: ISSUE waits until the channel is free, taking the command in its last cycle
c; the accelerator is busy c+1 .. c+B (B: sim/cycle/rtl_timing.py's cycles, equal for every tap:
same shape, no padding); the sequencer sees it idle at c+B+1 and moves on at c+B+2. The
accelerator's last beat is its last write, at B - 4 after its first cycle (rtl_timing's
program ends 4 cycles after its last write beat), so the channel is free gs - 5 cycles after
the sequencer moves on (or at once when gs <= 5).
DRAM bytes: the accelerator's per tap, plus phase 1's n ifmap reads and n V writes (ifmap
width) per input tile and phase 3's n psum reads and q output writes per output tile.

`op_stats` prices a `winograd_f4` / `winograd_f2` op (workloads/methods/winograd/) as this
RTL runs it: the layer's buffer counters and DRAM bytes (all three phases) through
sim/rtl_program.stats_from_counters,
plus the transform units' additions and shifts (sim/method_costs.py energies) counted from the
units' structure: a constant c costs popcount(|c|) wired shifts and a matrix row of t terms
t - 1 adders, as in workloads/methods/winograd.tile_adds; one rounding shift per input tap and
one alignment shift per output tap. The transform units' busy cycles count as compute cycles.
"""

from __future__ import annotations

from dataclasses import replace

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.program import element_bytes
from dlaforge.workloads.methods.accelerator_plan import dram_beat_gap
from dlaforge.workloads.methods.winograd.plan import (ACCELERATOR_SUMMED, UNIT, WinogradPlan,
                                                      output_bits)
from dlaforge.stats import Stats
from dlaforge.workloads.methods.winograd import tile_adds
from dlaforge.workloads.methods.winograd.variants import VARIANTS

from ..method_costs import ADD_PJ_PER_BIT_45NM, SHIFT_PJ_PER_BIT_45NM, unit_op_pj
from ..rtl_program import stats_from_counters
from ..cycle.rtl_timing import rtl_timing
from . import summed

TAPS_TO_M = {36: 4, 16: 2}
UNIT_OPS = {UNIT: ("wino_in_add", "wino_out_add", "wino_shift")}
PE_OP_PJ: dict = {}


def unit_op_pj_45nm(arch: ArchSpec) -> dict:
    """The transform unit's operations at 45 nm: input-transform additions 16 bit (int8 times
    a gain of at most 100), output-transform additions and shifts at accumulator width."""
    psum = arch.pe_array.psum_bits
    return {"wino_in_add": 16 * ADD_PJ_PER_BIT_45NM,
            "wino_out_add": psum * ADD_PJ_PER_BIT_45NM,
            "wino_shift": psum * SHIFT_PJ_PER_BIT_45NM}


def tile_pass(tiles: int, lanes_in: int, lanes_out: int, g_read: int, g_write: int,
              latency: int, first_wait: int) -> tuple[int, int]:
    """(cycles, unit busy cycles) of phase 1 or 3: `tiles` tiles of `lanes_in` reads (gap
    g_read) and `lanes_out` writes (gap g_write); the first tile's first read waits
    `first_wait` cycles for the channel, every later one g_write - 1."""
    if not tiles:
        return 0, 0
    to_write = max(latency + 4, g_read)
    tile = (lanes_in - 1) * g_read + to_write + (lanes_out - 1) * g_write + 1
    busy = to_write - latency - 1 + (lanes_out - 1) * g_write
    return first_wait + tiles * tile + (tiles - 1) * (g_write - 1), tiles * busy


def winograd_timing(arch: ArchSpec, dataflow: str, plan: WinogradPlan,
                    bandwidth: float | None = None, latency: int | None = None) -> dict:
    """The RTL's counters for one image (winograd.plan.LAYER_COUNTERS)."""
    pe = arch.pe_array
    bandwidth = arch.dram.bandwidth_bytes_per_cycle if bandwidth is None else bandwidth
    latency = max(1, arch.dram.latency_cycles if latency is None else latency)
    variant = next(v for v in VARIANTS.values() if v.m == plan.m)
    b_i, b_s, b_y = (element_bytes(bits) for bits in (pe.ifmap_bits, pe.psum_bits,
                                                        output_bits(variant.at, pe.psum_bits)))
    g_i, g_s, g_y = (dram_beat_gap(b, bandwidth) for b in (b_i, b_s, b_y))
    n, q, taps = plan.taps, plan.m * plan.m, plan.taps
    tap = rtl_timing(arch, dataflow, plan.tap_gemm, bandwidth, latency).counters
    in_cycles, in_busy = tile_pass(plan.input_tiles, n, n, g_i, g_i, latency, 0)
    settle = max(0, g_s - 5)        # after a tap: until the accelerator's last write is done
    tap_cycles = g_i + tap["cycles"] + 1 + (taps - 1) * (settle + 1 + tap["cycles"] + 1)
    out_cycles, out_busy = tile_pass(plan.output_tiles, n, q, g_s, g_y, latency, settle)
    counters = {"cycles": in_cycles + tap_cycles + out_cycles,
                "accelerator_cycles": taps * tap["cycles"],
                "input_transform_cycles": in_busy, "output_transform_cycles": out_busy}
    counters.update({name: taps * tap[name] for name in ACCELERATOR_SUMMED})
    counters["dram_read_bytes"] = (taps * tap["dram_read_bytes"] + plan.input_tiles * n * b_i
                                   + plan.output_tiles * n * b_s)
    counters["dram_write_bytes"] = (taps * tap["dram_write_bytes"] + plan.input_tiles * n * b_i
                                    + plan.output_tiles * q * b_y)
    return counters


def plan_of(op) -> WinogradPlan:
    """The plan of one image of a Winograd op (a² groups of a 1x1 conv over the tile grid)."""
    m = TAPS_TO_M[op.groups]
    return WinogradPlan(m, op.C // op.groups, op.K // op.groups, op.P, op.Q)


def unit_ops(plan: WinogradPlan) -> dict:
    """The transform units' additions and shifts for one image."""
    variant = next(v for v in VARIANTS.values() if v.m == plan.m)
    adds_in, adds_out = tile_adds(variant)
    return {"wino_in_add": adds_in * plan.input_tiles,
            "wino_out_add": adds_out * plan.output_tiles,
            "wino_shift": plan.taps * (plan.input_tiles + plan.output_tiles)}


def op_stats(arch: ArchSpec, op, dataflow: str, table) -> Stats:
    """Stats of a Winograd op as the RTL runs it, one image after another."""
    return counters_to_stats(arch, op, summed(command_counters(arch, op, dataflow)), dataflow,
                             table)


def command_counters(arch: ArchSpec, op, dataflow: str) -> list[dict]:
    """The timing model's counters of each command of `op`, one per image."""
    return [winograd_timing(arch, dataflow, plan_of(op))] * op.N


def counters_to_stats(arch: ArchSpec, op, counters: dict, dataflow: str, table) -> Stats:
    """Stats of a Winograd op from the RTL's counters for all its images (measured, or from
    `winograd_timing`), priced with the energy table."""
    array_view = dict(counters, busy_cycles=counters["busy_cycles"]
                      + counters["input_transform_cycles"] + counters["output_transform_cycles"])
    stats = stats_from_counters(arch, op.pe_macs, array_view, table, dataflow)
    ops = {name: value * op.N for name, value in unit_ops(plan_of(op)).items()}
    pj = unit_op_pj(arch)
    energy = dict(stats.energy_breakdown_pj, units=sum(n * pj[key] for key, n in ops.items()))
    return replace(stats, energy_breakdown_pj=energy,
                   weight_storage_bits=op.weight_storage_bits, ops={**stats.ops, **ops})


def cannot_run(arch: ArchSpec, op, dataflow: str) -> str | None:
    """Why the Winograd RTL cannot run `op` under `dataflow` (None if it can)."""
    pe = arch.pe_array
    if arch.scalesim is not None:
        return "a SCALE-Sim .cfg follows SCALE-Sim's timing"
    if "wino_in_add" not in op.ops or op.groups not in TAPS_TO_M:
        return "not a Winograd tap op (a direct-convolution fallback runs on the baseline RTL)"
    if arch.unit(UNIT) is None:
        return f"arch {arch.name!r} has no {UNIT} unit"
    if (op.ifmap_bits, op.weight_bits) != (pe.ifmap_bits, pe.weight_bits):
        return "operand widths other than the array's"
    try:
        plan_of(op).tap_plan(arch, dataflow)
    except SpecError as exc:
        return str(exc)
    return None
