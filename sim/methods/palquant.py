"""Timing model of the PalQuant array (hw/methods/palquant/), without simulating it.

The array is the baseline accelerator generated from palquant.plan.array_arch(arch)` with
bit-sliced passes. Two kinds of command, one per image and group, one after another:

- a 2-bit PalQuant layer's group (workloads/methods/palquant/: G·groups groups of 2-bit
  codes) is a plain command: its cycles and counters are the baseline timing model's
  (sim/cycle/rtl_timing.py, held equal to the RTL on Icarus) on the array's spec;
- a wider layer (bitslice_w4a4's 4-bit layers, PalQuant's int8 first conv and FC) is one
  bit-sliced command of P = (a_top+1)·(w_top+1) passes: the baseline program over P times the
  tiles (for each output tile: pass after pass, each the tile's kd blocks; the accumulator rows
  written back after the last pass). `_sliced_program` is rtl_timing's program with the
  output's end marked per tile; every counter but the cycles is P times the one-pass command's,
  except the DRAM writes (once) and the accumulator reads (every fold but the output's very
  first reads its rows; write-back reads them once).

The energy prices those counters with the spec's table (`table`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numba import njit

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.workloads.methods.palquant import CODE_OP, SLICE_OP
from dlaforge.workloads.methods.palquant.plan import (CODE_BITS, array_arch, command_gemm,
                                                      op_slices, slice_passes)
from dlaforge.program import element_bytes
from dlaforge.workloads.methods.accelerator_plan import Gemm, RtlPlan, dram_beat_gap, fold_length
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp

from ..rtl_program import stats_from_counters
from ..cycle.rtl_timing import rtl_op_stats, rtl_timing, time_load, time_write_back
from ..method_costs import ADD_PJ_PER_BIT_45NM

UNIT_OPS = {"slice_combine": ("slice_add",)}


def slice_mac_pj(arch: ArchSpec, op: HwOp) -> float:
    """One PE operation of a slice pass: a MAC of two unsigned 2-bit slices, the energy
    table's MAC of the spec's 2-bit widths."""
    from ..energy import energy_table
    from ..method_costs import pe_op_pj
    return pe_op_pj(arch, replace(op, pe_op="mac"), energy_table(arch))


def code_mac_pj(arch: ArchSpec, op: HwOp) -> float:
    """One PE operation of a 2-bit PalQuant layer: the multiply of a 2-bit code by the signed
    3-bit level 2·q_w − 3 (the decode, a shift and an add, beside it uncounted), the table's
    MAC scaled as mac_pj_45nm scales with the weight width."""
    from ..energy import mac_pj_45nm
    pe = arch.pe_array
    wider = replace(pe, weight_bits=CODE_BITS + 1)
    return slice_mac_pj(arch, op) * mac_pj_45nm(wider) / mac_pj_45nm(pe)


PE_OP_PJ = {CODE_OP: code_mac_pj, SLICE_OP: slice_mac_pj}


def unit_op_pj_45nm(arch: ArchSpec) -> dict:
    """The combine unit's slice additions at 45 nm, at accumulator width."""
    return {"slice_add": arch.pe_array.psum_bits * ADD_PJ_PER_BIT_45NM}

SCALED = ("busy_cycles", "ifmap_reads", "ifmap_writes", "weight_reads", "weight_writes",
          "acc_writes", "dram_read_bytes")


@njit(cache=True)
def _sliced_program(tiles, base, ends_output, os_, is_, fold_len, P, Q, C, H, W, R, S, stride,
                    pad, Mt, Kt, gap_i, gap_w, gap_o, latency):
    """rtl_timing._program over the passes' tiles; `ends_output[i]`: tile i is its output's
    last (the write-back follows it); `base[i]`: the one-pass tile it repeats. A load that
    starts with the DRAM channel free takes the same time in every pass of its tile, so it is
    walked once and reused."""
    T = tiles.shape[0]
    free, g, prev_end = 0, 0, -1
    ends = np.zeros(T, dtype=np.int64)
    known = np.zeros(base.max() + 1, dtype=np.bool_)
    took = np.zeros(base.max() + 1, dtype=np.int64)
    freed = np.zeros(base.max() + 1, dtype=np.int64)
    for i in range(T + 2):
        if i >= 2:
            j = i - 2
            g = max(g, ends[j] + 1)
            if ends_output[j]:
                rows, lanes = (tiles[j, 3], tiles[j, 4]) if is_ else (tiles[j, 4], tiles[j, 3])
                done, free = time_write_back(g, free, rows, lanes, gap_o)
                g = done + 1
        if i < T:
            b = base[i]
            idle = free <= g + 1
            if idle and known[b]:
                done, free = g + took[b], g + freed[b]
            else:
                nb, mb, kb, n_size, m_size, k_size = tiles[i]
                done, free, _ = time_load(g, free, os_ or is_, mb * Mt, kb * Kt, n_size,
                                          m_size, k_size, P, Q, C, H, W, R, S, stride, pad,
                                          gap_i, gap_w, latency)
                if idle:
                    known[b], took[b], freed[b] = True, done - g, free - g
            ends[i] = max(done + 1, prev_end + 1) + fold_len[i] - 1
            prev_end = ends[i]
            g = done + 2
        else:
            g += 2
    return g + 1


def sliced_timing(built: ArchSpec, dataflow: str, gemm: Gemm, a_top: int, w_top: int,
                  bandwidth: float | None = None, latency: int | None = None) -> dict:
    """Counters (hw/layouts.COUNTERS) of one bit-sliced command on the array's spec `built`."""
    passes = len(slice_passes(a_top, w_top))
    one_pass = rtl_timing(built, dataflow, gemm, bandwidth, latency).counters
    plan = RtlPlan.make(built, dataflow, gemm)
    pe = built.pe_array
    bandwidth = built.dram.bandwidth_bytes_per_cycle if bandwidth is None else bandwidth
    latency = max(1, built.dram.latency_cycles if latency is None else latency)
    tn, tm, tk = plan.trips
    base = plan.tiles().reshape(tn * tm, 1, tk, 6)
    tiles = np.repeat(base, passes, axis=1).reshape(-1, 6)
    repeats = np.repeat(np.arange(tn * tm * tk).reshape(tn * tm, 1, tk), passes, axis=1)
    ends_output = np.zeros((tn * tm, passes, tk), dtype=np.bool_)
    ends_output[:, -1, -1] = True
    streamed = tiles[:, {"ws": 4, "os": 5, "is": 3}[dataflow]]
    fold_len = fold_length(dataflow, pe.rows, pe.cols, streamed).astype(np.int64)
    g = gemm
    cycles = _sliced_program(
        tiles, repeats.ravel(), ends_output.ravel(), dataflow == "os", dataflow == "is",
        fold_len, g.P, g.Q, g.C, g.H, g.W, g.R, g.S, g.stride, g.padding, plan.Mt, plan.Kt,
        *(dram_beat_gap(element_bytes(b), bandwidth)
          for b in (pe.ifmap_bits, pe.weight_bits, pe.psum_bits)), latency)
    # accumulator reads: every fold's rows but the output's first fold's, and the write-back's
    written = pe.cols * (tn * g.M if dataflow != "is" else tm * g.K)
    first_folds = one_pass["acc_writes"] - (one_pass["acc_reads"] - written)
    counters = {name: value * passes if name in SCALED else value
                for name, value in one_pass.items()}
    counters["cycles"] = int(cycles)
    counters["acc_reads"] = passes * one_pass["acc_writes"] - first_folds + written
    return counters


def cannot_run(arch: ArchSpec, op: HwOp, dataflow: str) -> str | None:
    """Why the PalQuant array built from `arch` cannot run `op` under `dataflow` (None if it
    can)."""
    if op.pe_op not in ("mac", CODE_OP, SLICE_OP):
        return f"the PalQuant array multiply-accumulates; op {op.name!r} is {op.pe_op!r}"
    if (op.ifmap_bits, op.weight_bits) != (CODE_BITS, CODE_BITS):
        return f"op {op.name!r} is not on {CODE_BITS}-bit operands"
    if set(op.dram_scale) - {"ofmap"}:
        return f"op {op.name!r} reshapes {', '.join(op.dram_scale)} in DRAM"
    try:
        RtlPlan.make(array_arch(arch), dataflow, command_gemm(op))
    except SpecError as exc:
        return str(exc)
    return None


def op_stats(arch: ArchSpec, op: HwOp, dataflow: str, table) -> Stats:
    """Cycles, counters, DRAM bytes and energy of `op` on the PalQuant array (cannot_run must
    be None): one command per image and group on the array's spec."""
    why = cannot_run(arch, op, dataflow)
    if why:
        raise SpecError(why)
    built, slices = array_arch(arch), op_slices(op)
    if slices == 1:
        stats = rtl_op_stats(built, op, dataflow, table, requant=False)   # sums out
    else:
        one = sliced_timing(built, dataflow, command_gemm(op), slices - 1, slices - 1)
        commands = op.N // slices * op.groups
        stats = stats_from_counters(built, op.pe_macs,
                                    {name: v * commands for name, v in one.items()}, table,
                                    dataflow)
    return replace(stats, pe_count=arch.pe_count, weight_storage_bits=op.weight_storage_bits)


def command_counters(arch: ArchSpec, op: HwOp, dataflow: str) -> list[dict]:
    """The timing model's counters of each command of `op` on the array's spec: one per image
    and group, each a plain command or, for a bit-sliced op, one of slices² passes."""
    built, slices = array_arch(arch), op_slices(op)
    if slices == 1:
        one = rtl_timing(built, dataflow, command_gemm(op)).counters
    else:
        one = sliced_timing(built, dataflow, command_gemm(op), slices - 1, slices - 1)
    return [one] * (op.N // slices * op.groups)


def counters_to_stats(arch: ArchSpec, op: HwOp, counters: dict, dataflow: str, table) -> Stats:
    """A Stats record from the 2-bit array's counters of the op (summed over its commands),
    priced on the array's spec as the baseline accelerator's are."""
    return stats_from_counters(array_arch(arch), op.pe_macs, counters, table, dataflow)
