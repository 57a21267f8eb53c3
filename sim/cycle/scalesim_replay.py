"""Replay one layer as SCALE-Sim 3.0 runs it: its demand streams through its buffer models.

The joint loop walks every cycle row of every fold once, in SCALE-Sim's order, and serves the
row's ifmap, filter and ofmap entries as scalesim/memory/double_buffered_scratchpad_mem.py
does: each row is issued at (row index + stalls so far) and adds the largest of the three
buffers' delays to the stalls. In CALC mode, where reads never stall, each buffer is walked
on its own instead, skipping folds that provably fetch nothing (the joint loop remains the
fallback should a write stall). The result equals SCALE-Sim's COMPUTE_REPORT and DETAILED_ACCESS_REPORT
counts (tests/sim/test_cycle_scalesim.py) without building its per-cycle matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .scalesim_memory import (CALC_READS_SLOT, MISSING, calc_read, calc_read_count,
                              new_calc_read, new_user_read, new_write, user_read_count,
                              user_read_row, write, write_count, write_flush)
from .scalesim_streams import (DATAFLOW_CODES, FILTER, IFMAP, OFMAP, block_shape, demand,
                               entry, fold_geometry, ifmap_address_matrix)


@dataclass(frozen=True)
class ScaleSimLayer:
    """What SCALE-Sim reports for one layer (counts in 1-byte words)."""

    total_cycles: int
    stall_cycles: int
    dram_ifmap_reads: int
    dram_filter_reads: int
    dram_ofmap_writes: int


@njit(cache=True)
def _serve_read(user, df, operand, t, fr, fc, R, C, M, N, K, ifmap, calc_state, last_set,
                user_state, index, sets_of, row, cycle):
    lanes = block_shape(df, operand, R, C, M, N, K)[2]
    count = 0
    for c in range(lanes):
        addr = demand(df, operand, t, c, fr, fc, R, C, M, N, K, ifmap)
        if addr >= 0:
            if user:
                row[count] = addr
                count += 1
            else:
                calc_read(calc_state, last_set, addr)
    if user and count > 0:
        return user_read_row(user_state, index, sets_of, row, count, cycle)
    return 0


@njit(cache=True)
def _replay(df, R, C, M, N, K, ifmap, user, if_calc, if_last, fl_calc, fl_last, if_user, if_index,
            if_sets, fl_user, fl_index, fl_sets, wr_state, wr_lines):
    row_folds, col_folds, length = fold_geometry(df, R, C, M, N, K)
    row = np.empty(max(R, C), np.int64)
    stalls = 0
    i = 0
    out = 0
    for fc in range(col_folds):
        for fr in range(row_folds):
            for t in range(length):
                cycle = i + stalls
                ifmap_stall = _serve_read(user, df, IFMAP, t, fr, fc, R, C, M, N, K, ifmap,
                                          if_calc, if_last, if_user, if_index, if_sets, row,
                                          cycle)
                filter_stall = _serve_read(user, df, FILTER, t, fr, fc, R, C, M, N, K, ifmap,
                                           fl_calc, fl_last, fl_user, fl_index, fl_sets, row,
                                           cycle)
                if ifmap_stall == MISSING or filter_stall == MISSING:
                    return -1, -1
                out = cycle
                for c in range(C):
                    if demand(df, OFMAP, t, c, fr, fc, R, C, M, N, K, ifmap) >= 0:
                        out = write(wr_state, wr_lines, out)
                stalls += max(ifmap_stall, filter_stall, out - cycle)
                i += 1
    write_flush(wr_state, wr_lines, out)
    return out, stalls


@njit(cache=True)
def _fold_key(df, operand, fr, fc, col_folds):
    """Which data block an operand's fold demands: folds with equal keys demand the same
    addresses in the same order (ifmap blocks follow the row fold in os and ws, filter blocks
    the column fold in os and the row fold in is)."""
    if (df == 0 or df == 1) and operand == IFMAP or df == 2 and operand == FILTER:
        return fr
    if df == 0 and operand == FILTER:
        return fc
    return fr * col_folds + fc


@njit(cache=True)
def _calc_reads(df, operand, R, C, M, N, K, ifmap, state, last_set):
    """CALC mode's first-touch reads of one operand, walking only its own demand entries.

    A fold that adds nothing leaves the buffer unchanged, so a following fold with the same
    block adds nothing either and is skipped; when a whole sweep of row folds whose blocks
    repeat every column fold adds nothing, every later sweep is skipped too."""
    row_folds, col_folds, _ = fold_geometry(df, R, C, M, N, K)
    prefix, rows, lanes, flipped, skewed = block_shape(df, operand, R, C, M, N, K)
    span = rows + (lanes - 1 if skewed else 0)
    per_sweep = _fold_key(df, operand, 1, 0, col_folds) == _fold_key(df, operand, 1, 1, col_folds)
    last_key, last_added = -1, True
    for fc in range(col_folds):
        sweep_start = state[CALC_READS_SLOT]
        for fr in range(row_folds):
            key = _fold_key(df, operand, fr, fc, col_folds)
            if key == last_key and not last_added:
                continue
            before = state[CALC_READS_SLOT]
            for s in range(span):
                lo = max(0, s - rows + 1) if skewed else 0
                hi = min(lanes, s + 1) if skewed else lanes
                for c in range(lo, hi):
                    r = s - c if skewed else s
                    addr = entry(df, operand, rows - 1 - r if flipped else r, c, fr, fc,
                                 R, C, M, N, K, ifmap)
                    if addr >= 0:
                        calc_read(state, last_set, addr)
            last_key, last_added = key, state[CALC_READS_SLOT] != before
        if per_sweep and state[CALC_READS_SLOT] == sweep_start:
            break
    return state[CALC_READS_SLOT]


@njit(cache=True)
def _calc_writes(df, R, C, M, N, K, ifmap, wr_state, wr_lines):
    """The ofmap write buffer alone, visiting only cycles that write; returns the last cycle,
    or -1 if a write would stall (then the operands are not independent: replay jointly)."""
    row_folds, col_folds, length = fold_geometry(df, R, C, M, N, K)
    prefix, rows, lanes, flipped, skewed = block_shape(df, OFMAP, R, C, M, N, K)
    span = rows + (lanes - 1 if skewed else 0)
    fold = 0
    for fc in range(col_folds):
        for fr in range(row_folds):
            for s in range(span):
                cycle = fold * length + prefix + s
                lo = max(0, s - rows + 1) if skewed else 0
                hi = min(lanes, s + 1) if skewed else lanes
                for c in range(lo, hi):
                    r = s - c if skewed else s
                    if entry(df, OFMAP, rows - 1 - r if flipped else r, c, fr, fc,
                             R, C, M, N, K, ifmap) >= 0:
                        if write(wr_state, wr_lines, cycle) != cycle:
                            return -1
            fold += 1
    last = fold * length - 1
    write_flush(wr_state, wr_lines, last)
    return last


def prefetch_stream(df: int, operand: int, R: int, C: int, M: int, N: int, K: int,
                    ifmap: np.ndarray) -> np.ndarray:
    """USER mode's fetch order of an operand (scalesim/compute/systolic_compute_*.py,
    create_*_prefetch_mat): fold blocks stacked, then read by anti-diagonals or row by row."""
    filt = (np.arange(N)[None, :] * K + np.arange(K)[:, None])  # K x N, n*K + k
    if df == 1 and operand == IFMAP:
        blocks, width, diagonal = [ifmap[:, s:s + R] for s in range(0, K, R)], R, True
    elif df == 1:
        blocks, width, diagonal = [filt[:, s:s + C] for s in range(0, N, C)], C, False
    elif df == 0 and operand == IFMAP:
        blocks, width, diagonal = [ifmap.T[:, s:s + R] for s in range(0, M, R)], R, True
    elif df == 0:
        blocks, width, diagonal = [filt[:, s:s + C] for s in range(0, N, C)], C, True
    elif operand == IFMAP:
        blocks, width, diagonal = [ifmap.T[:, s:s + C] for s in range(0, M, C)], C, False
    else:
        blocks, width, diagonal = [filt[s:s + R, :].T for s in range(0, K, R)], R, True
    stacked = np.concatenate([np.pad(b, ((0, 0), (0, width - b.shape[1])), constant_values=-1)
                              for b in blocks])
    if not diagonal:
        return stacked.ravel()
    rows, cols = stacked.shape
    r, c = np.indices(stacked.shape)
    # diagonal d = r + c in order, and within it from the highest row down
    order = np.lexsort((-r.ravel(), (r + c).ravel()))
    return stacked.ravel()[order]


def replay_layer(op, dataflow: str, rows: int, cols: int, sizes_bytes: tuple[int, int, int],
                 user_bandwidth: tuple[int, int, int] | None) -> ScaleSimLayer:
    """Replay one HwOp on a rows x cols SCALE-Sim array.

    `sizes_bytes` are the ifmap, filter and ofmap SRAM sizes; `user_bandwidth` is None for
    CALC mode, else the (ifmap, filter, ofmap) DRAM bandwidths in words per cycle of USER mode.
    """
    df = DATAFLOW_CODES[dataflow]
    M, N, K = op.P * op.Q, op.K, op.R * op.S * op.C
    ifmap = ifmap_address_matrix(op)
    if_space, fl_space = op.H * op.W * op.C, N * K
    if_calc, if_last = new_calc_read(sizes_bytes[0], if_space if user_bandwidth is None else 1)
    fl_calc, fl_last = new_calc_read(sizes_bytes[1], fl_space if user_bandwidth is None else 1)
    if user_bandwidth is None:
        empty = np.zeros(1, np.int64), np.zeros(2, np.int64), np.zeros(1, np.int64)
        if_user = fl_user = empty
        ofmap_bandwidth = cols
    else:
        if_user = new_user_read(sizes_bytes[0], user_bandwidth[0],
                                prefetch_stream(df, IFMAP, rows, cols, M, N, K, ifmap), if_space)
        fl_user = new_user_read(sizes_bytes[1], user_bandwidth[1],
                                prefetch_stream(df, FILTER, rows, cols, M, N, K, ifmap), fl_space)
        ofmap_bandwidth = user_bandwidth[2]
    row_folds, col_folds, _ = fold_geometry(df, rows, cols, M, N, K)
    ofmap_rows = block_shape(df, OFMAP, rows, cols, M, N, K)[1]
    wr_state, wr_lines = new_write(sizes_bytes[2], ofmap_bandwidth,
                                   row_folds * col_folds * ofmap_rows * cols)
    total = -1
    if user_bandwidth is None:          # CALC: the three buffers run apart unless a write stalls
        total, stalls = _calc_writes(df, rows, cols, M, N, K, ifmap, wr_state, wr_lines), 0
        if total >= 0:
            _calc_reads(df, IFMAP, rows, cols, M, N, K, ifmap, if_calc, if_last)
            _calc_reads(df, FILTER, rows, cols, M, N, K, ifmap, fl_calc, fl_last)
        else:
            wr_state, wr_lines = new_write(sizes_bytes[2], ofmap_bandwidth, len(wr_lines) - 2)
    if total < 0:
        total, stalls = _replay(df, rows, cols, M, N, K, ifmap, user_bandwidth is not None,
                                if_calc, if_last, fl_calc, fl_last, *if_user, *fl_user,
                                wr_state, wr_lines)
    if total < 0:
        raise RuntimeError(f"layer {op.name!r}: a demanded address is missing from the "
                           f"prefetch stream")
    if user_bandwidth is None:
        reads = calc_read_count(if_calc), calc_read_count(fl_calc)
    else:
        reads = user_read_count(if_user[0]), user_read_count(fl_user[0])
    return ScaleSimLayer(total_cycles=int(total), stall_cycles=int(stalls),
                         dram_ifmap_reads=reads[0], dram_filter_reads=reads[1],
                         dram_ofmap_writes=write_count(wr_state))
