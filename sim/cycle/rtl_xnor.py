"""The XNOR unit's timing model: cycles and counters of hw/methods/xnor_unit.py without
simulating it (tests/hw/methods/test_xnor.py holds them equal to Icarus runs).

The tiles are dlaforge/rtl_xnor_plan.py's (the baseline's output-stationary tiling of the
packed layer); the unit runs them one at a time. Cycle 0 is the first cycle after the command
is taken; DRAM as hw/dram.py (one channel, a beat of b bytes holds it gap(b) cycles, read data
returns `latency` cycles later). The loader is the baseline's, so its timing is
rtl_timing._load; the write-back's beats are rtl_timing._write's.

Per tile, from the GATE cycle g:
  the load starts at g and is done at dL (rtl_timing._load, kd-major A block);
  the fold runs from dL to e = dL + fold_length(os, k_size) - 1;
  if the tile does not end its output, the next GATE is e + 1; otherwise the write-back starts:
  from e + 1, one scale read per filter and per pixel of the tile, each at the first cycle
  the channel is free (one per cycle at most); the last at t_r; the rows start after its data,
  at s = t_r + latency + 1 (fetch cycle s + 1, first beat s + 2, as rtl_timing._write), and the
  next GATE is the last beat's cycle + 1.
The layer ends in the GATE after the last tile: cycles = that GATE's cycle + 1.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.rtl_plan import Gemm, dram_beat_gap, element_bytes, fold_length
from dlaforge.rtl_xnor_plan import DATAFLOW, DRAM_WORD_BYTES, check, plan, word_bits
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp

from ..method_costs import pe_op_pj, unit_op_pj
from .rtl_timing import _load, _write


@njit(cache=True)
def _program(tiles, trips_k, fold_len, P, Q, C, H, W, R, S, stride, pad, Mt, Kt, Nt,
             gap_word, gap_out, latency):
    """Cycles of the command and the ifmap words it read from DRAM."""
    free, g, ifmap_beats = 0, 0, 0
    for i in range(tiles.shape[0]):
        nb, mb, kb, n_size, m_size, k_size = tiles[i]
        done, free, beats = _load(g, free, True, mb * Mt, kb * Kt, n_size, m_size, k_size,
                                  P, Q, C, H, W, R, S, stride, pad, gap_word, gap_word, latency)
        ifmap_beats += beats
        end = done + fold_len[i] - 1
        g = end + 1
        if kb == trips_k - 1:
            t, last_read = end + 1, end + 1
            for _ in range(n_size + m_size):
                t = max(t, free)
                free = t + gap_word
                last_read = t
                t += 1
            last_beat, free = _write(last_read + latency + 1, free, m_size, n_size, gap_out)
            g = last_beat + 1
    return g + 1, ifmap_beats


def xnor_timing(arch: ArchSpec, gemm: Gemm, bandwidth: float | None = None,
                latency: int | None = None) -> dict:
    """The unit's counters (hw/methods/xnor_unit.XNOR_COUNTERS) for one packed layer (DRAM
    bandwidth and latency default to the spec's)."""
    tiling = plan(arch, gemm)
    pe = arch.pe_array
    rows, cols = pe.rows, pe.cols
    bandwidth = arch.dram.bandwidth_bytes_per_cycle if bandwidth is None else bandwidth
    latency = max(1, arch.dram.latency_cycles if latency is None else latency)
    tiles = tiling.tiles()
    n_size, m_size, k_size = tiles[:, 3], tiles[:, 4], tiles[:, 5]
    fold_len = np.array([fold_length(DATAFLOW, rows, cols, int(k)) for k in k_size], np.int64)
    g = gemm
    out_bytes = element_bytes(pe.psum_bits)
    cycles, ifmap_beats = _program(
        tiles, tiling.trips[2], fold_len, g.P, g.Q, g.C, g.H, g.W, g.R, g.S, g.stride,
        g.padding, tiling.Mt, tiling.Kt, tiling.Nt, dram_beat_gap(DRAM_WORD_BYTES, bandwidth),
        dram_beat_gap(out_bytes, bandwidth), latency)
    first, last = tiles[:, 2] == 0, tiles[:, 2] == tiling.trips[2] - 1
    scale_reads = int((n_size + m_size)[last].sum())
    weight_words = int((k_size * n_size).sum())
    return {
        "cycles": int(cycles),
        "busy_cycles": int(fold_len.sum()),
        "ifmap_reads": int(rows * k_size.sum()),
        "ifmap_writes": int((m_size * k_size).sum()),
        "weight_reads": int(cols * k_size.sum()),
        "weight_writes": weight_words,
        "acc_reads": int(rows * cols * (~first).sum() + (m_size * cols)[last].sum()),
        "acc_writes": int(rows * cols * len(tiles)),
        "dram_read_bytes": DRAM_WORD_BYTES * (int(ifmap_beats) + weight_words + scale_reads),
        "dram_write_bytes": g.M * g.K * out_bytes,
        "scale_reads": scale_reads,
    }


def gemm_of(op: HwOp) -> Gemm:
    """The packed layer of one image of a binarized HwOp (its C is already in words)."""
    return Gemm(C=op.C, H=op.H, W=op.W, K=op.K, R=op.R, S=op.S, P=op.P, Q=op.Q,
                stride=op.stride, padding=op.padding)


def cannot_run(arch: ArchSpec, op: HwOp, dataflow: str) -> str | None:
    """Why the XNOR unit cannot run `op` under `dataflow` (None if it can)."""
    if op.pe_op != "xnor_popcount":
        return "not a binarized op (the baseline MAC RTL runs it)"
    if dataflow != DATAFLOW:
        return f"the XNOR unit runs dataflow {DATAFLOW!r} only"
    if op.groups != 1:
        return f"groups={op.groups}"
    if op.ifmap_bits != word_bits(arch):
        return f"packed words of {op.ifmap_bits} bits, not the spec's {word_bits(arch)}"
    try:
        check(arch)
        plan(arch, gemm_of(op))
    except SpecError as exc:
        return str(exc)
    return None


def op_stats(arch: ArchSpec, op: HwOp, dataflow: str, table) -> Stats:
    """Stats of one binarized HwOp on the XNOR unit (one command per image) from the timing
    model's counters."""
    why = cannot_run(arch, op, dataflow)
    if why:
        raise SpecError(f"op {op.name!r}: {why}")
    counters = xnor_timing(arch, gemm_of(op))
    return stats_from_counters(arch, op, {name: value * op.N for name, value in counters.items()},
                               table)


def stats_from_counters(arch: ArchSpec, op: HwOp, counters: dict, table) -> Stats:
    """A Stats record from the unit's counters (measured, or from `xnor_timing`, for all of the
    op's images), priced with the energy table: PE operations at method_costs.pe_op_pj, buffer
    accesses per element (ifmap words with their valid bit), DRAM bytes as counted, and the
    scaling stage's operations (two multiplies and a subtraction per output, two multiplies per
    written row for its tap count) at method_costs.unit_op_pj. The alpha / K reads count with
    the ifmap's DRAM reads."""
    c, gemm = counters, gemm_of(op)
    w, pe = word_bits(arch), arch.pe_array
    widths = {"ifmap": w + 1, "weight": w, "ofmap": pe.psum_bits}
    buffer_of = {"ifmap": "ifmap", "weight": "weight", "ofmap": "acc"}
    accesses, sram_pj, sram_read, sram_write = {}, 0.0, 0, 0
    for operand, bits in widths.items():
        level = arch.shared_level(operand).name
        reads, writes = c[f"{buffer_of[operand]}_reads"], c[f"{buffer_of[operand]}_writes"]
        accesses.setdefault(level, {})[operand] = {"reads": reads, "writes": writes}
        sram_pj += (reads * table.access_pj(level, bits, False)
                    + writes * table.access_pj(level, bits, True))
        sram_read, sram_write = sram_read + reads * bits // 8, sram_write + writes * bits // 8
    weight_bytes = c["weight_writes"] * DRAM_WORD_BYTES
    accesses["dram"] = {
        "ifmap": {"reads": (c["dram_read_bytes"] - weight_bytes) // DRAM_WORD_BYTES, "writes": 0},
        "weight": {"reads": c["weight_writes"], "writes": 0},
        "ofmap": {"reads": 0, "writes": c["dram_write_bytes"] // element_bytes(pe.psum_bits)}}
    outputs = op.N * gemm.K * gemm.M
    rows_written = op.N * _rows_written(arch, gemm)
    ops = {"xnor_bits": op.pe_macs * w, "popcount": op.pe_macs, "add": op.pe_macs,
           "scale_mult": 2 * outputs + 2 * rows_written, "scale_add": outputs}
    unit_pj = unit_op_pj(arch)
    energy = {"mac": op.pe_macs * pe_op_pj(arch, op, table), "rf": 0.0, "noc": 0.0,
              "sram": sram_pj,
              "dram": (c["dram_read_bytes"] * 8 * table.dram_read_pj_per_bit
                       + c["dram_write_bytes"] * 8 * table.dram_write_pj_per_bit),
              "units": ops["scale_mult"] * unit_pj["scale_mult"]
              + ops["scale_add"] * unit_pj["scale_add"]}
    return Stats(macs=op.pe_macs, pe_ops=op.pe_macs, pe_count=arch.pe_count,
                 compute_cycles=c["busy_cycles"], stall_cycles=c["cycles"] - c["busy_cycles"],
                 energy_breakdown_pj=energy, dram_read_bytes=c["dram_read_bytes"],
                 dram_write_bytes=c["dram_write_bytes"], sram_read_bytes=sram_read,
                 sram_write_bytes=sram_write, weight_storage_bits=op.weight_storage_bits,
                 ops=ops, accesses=accesses)


def _rows_written(arch: ArchSpec, gemm: Gemm) -> int:
    """Output rows (pixels of one output tile) the write-back scales: M per n-block."""
    return gemm.M * plan(arch, gemm).trips[0]
