"""Replay one layer as SCALE-Sim 3.0 runs it: its demand streams through its buffer models.

In USER mode the loop walks every cycle row of every fold once, in SCALE-Sim's order, and
serves the row's ifmap, filter and ofmap entries as
scalesim/memory/double_buffered_scratchpad_mem.py does: each row is issued at (row index +
stalls so far) and adds the largest of the three buffers' delays to the stalls. In CALC mode,
where nothing stalls, each buffer is counted on its own (scalesim_calc.py). The result
equals SCALE-Sim's COMPUTE_REPORT and DETAILED_ACCESS_REPORT counts
(tests/sim/test_cycle_scalesim.py) without building its per-cycle matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .scalesim_calc import calc_writes, filter_fetches, ifmap_fetches
from .scalesim_memory import (MISSING, epoch_capacity, new_user_read, new_write,
                              user_read_count, user_read_row, write_count, write_row,
                              write_flush)
from .scalesim_streams import (DATAFLOW_CODES, FILTER, IFMAP, OFMAP, block_shape, demand,
                               fold_geometry, ifmap_address_matrix)


@dataclass(frozen=True)
class ScaleSimLayer:
    """What SCALE-Sim reports for one layer (counts in 1-byte words)."""

    total_cycles: int
    stall_cycles: int
    dram_ifmap_reads: int
    dram_filter_reads: int
    dram_ofmap_writes: int


@njit(cache=True)
def _serve_read(df, operand, t, fr, fc, R, C, M, N, K, ifmap, user_state, index, sets_of, row,
                cycle):
    """USER mode: one cycle row of an operand's demand through its read buffer; its delay."""
    lanes = block_shape(df, operand, R, C, M, N, K)[2]
    count = 0
    for c in range(lanes):
        addr = demand(df, operand, t, c, fr, fc, R, C, M, N, K, ifmap)
        if addr >= 0:
            row[count] = addr
            count += 1
    if count > 0:
        return user_read_row(user_state, index, sets_of, row, count, cycle)
    return 0


@njit(cache=True)
def _replay_user(df, R, C, M, N, K, ifmap, if_user, if_index, if_sets, fl_user, fl_index,
                 fl_sets, wr_state, partial):
    """USER mode: every cycle row in order, each issued after the stalls so far."""
    row_folds, col_folds, length = fold_geometry(df, R, C, M, N, K)
    row = np.empty(max(R, C), np.int64)
    stalls = 0
    i = 0
    out = 0
    for fc in range(col_folds):
        for fr in range(row_folds):
            for t in range(length):
                cycle = i + stalls
                ifmap_stall = _serve_read(df, IFMAP, t, fr, fc, R, C, M, N, K, ifmap, if_user,
                                          if_index, if_sets, row, cycle)
                filter_stall = _serve_read(df, FILTER, t, fr, fc, R, C, M, N, K, ifmap, fl_user,
                                           fl_index, fl_sets, row, cycle)
                if ifmap_stall == MISSING or filter_stall == MISSING:
                    return -1, -1
                outputs = 0
                for c in range(C):
                    outputs += demand(df, OFMAP, t, c, fr, fc, R, C, M, N, K, ifmap) >= 0
                out = write_row(wr_state, partial, cycle, outputs) if outputs else cycle
                stalls += max(ifmap_stall, filter_stall, out - cycle)
                i += 1
    write_flush(wr_state, partial, out)
    return out, stalls


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
    row_folds, col_folds, _ = fold_geometry(df, rows, cols, M, N, K)
    ofmap_rows = block_shape(df, OFMAP, rows, cols, M, N, K)[1]
    max_writes = row_folds * col_folds * ofmap_rows * cols
    if user_bandwidth is None:
        wr_state, partial = new_write(sizes_bytes[2], cols, max_writes)
        total, stalls = calc_writes(df, rows, cols, M, N, K, wr_state, partial), 0
        if total < 0:
            raise RuntimeError(f"layer {op.name!r}: SCALE-Sim's CALC ofmap buffer stalled, "
                               f"which the replay does not model")
        reads = (ifmap_fetches(op, df, rows, cols, epoch_capacity(sizes_bytes[0])),
                 filter_fetches(df, rows, cols, M, N, K, epoch_capacity(sizes_bytes[1])))
    else:
        ifmap = ifmap_address_matrix(op)
        if_space, fl_space = op.H * op.W * op.C, N * K
        if_user = new_user_read(sizes_bytes[0], user_bandwidth[0],
                                prefetch_stream(df, IFMAP, rows, cols, M, N, K, ifmap), if_space)
        fl_user = new_user_read(sizes_bytes[1], user_bandwidth[1],
                                prefetch_stream(df, FILTER, rows, cols, M, N, K, ifmap), fl_space)
        wr_state, partial = new_write(sizes_bytes[2], user_bandwidth[2], max_writes)
        total, stalls = _replay_user(df, rows, cols, M, N, K, ifmap, *if_user, *fl_user,
                                     wr_state, partial)
        if total < 0:
            raise RuntimeError(f"layer {op.name!r}: a demanded address is missing from the "
                               f"prefetch stream")
        reads = user_read_count(if_user[0]), user_read_count(fl_user[0])
    return ScaleSimLayer(total_cycles=int(total), stall_cycles=int(stalls),
                         dram_ifmap_reads=int(reads[0]), dram_filter_reads=int(reads[1]),
                         dram_ofmap_writes=write_count(wr_state))
