"""SCALE-Sim 3.0's CALC bandwidth mode, counted rather than walked wherever the count is
provable.

In CALC mode reads never stall and writes drain a line per cycle, so each buffer runs on its
own (a write stall would break that: it is detected and refused; it never happened in any
case tried):

- the ofmap write buffer (scalesim_memory.write_rows) is fed each fold's outputs as runs of
  cycle rows writing equally many, from the fold's valid ofmap rectangle;
- a read buffer is the first-touch epoch buffer (scalesim_memory.epoch_capacity): a demanded
  address the current epoch does not hold is fetched and joins it, and the epoch empties
  after `capacity` fetches. Its DRAM reads are the fetches, which are
    * the distinct addresses demanded, when there are fewer than `capacity` (no epoch ends);
    * for weights, a closed form: a fold's weights are distinct and two folds' weight blocks
      are equal or disjoint, so what a walk fetches follows from two counters
      (_repeated_block_fetches);
    * for the ifmap otherwise (large early layers), a walk over the im2col matrix in
      SCALE-Sim's order (_ifmap_walk).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .scalesim_memory import epoch_capacity, write_at_once, write_flush, write_rows
from .scalesim_streams import (OFMAP, block_shape, distinct_ifmap_addresses, fold_geometry,
                               ifmap_address_matrix, ifmap_block, ofmap_rectangle)


@njit(cache=True)
def calc_writes(df, R, C, M, N, K, wr_state, partial):
    """The ofmap write buffer over the whole layer; returns the last cycle, or -1 if a write
    would stall. Fold f's demand row s is cycle f * length + prefix + s; a skewed row s
    writes the lanes c whose row s - c is valid; a fold that cannot start a drain is taken
    whole."""
    row_folds, col_folds, length = fold_geometry(df, R, C, M, N, K)
    prefix, rows, lanes, _, skewed = block_shape(df, OFMAP, R, C, M, N, K)
    span = rows + (lanes - 1 if skewed else 0)
    fold = 0
    for fc in range(col_folds):
        for fr in range(row_folds):
            first, end, valid = ofmap_rectangle(df, fr, fc, R, C, M, N)
            start = fold * length + prefix
            fold += 1
            if write_at_once(wr_state, (end - first) * valid):
                continue
            run_start, run_count = 0, 0
            for s in range(span + 1):  # one past the end closes the last run
                count = 0
                if s < span and skewed:
                    count = max(0, min(valid, s - first + 1) - max(0, s - end + 1))
                elif s < span:
                    count = valid if first <= s < end else 0
                if count != run_count:
                    if run_count and not write_rows(wr_state, partial, start + run_start,
                                                    run_count, s - run_start):
                        return -1
                    run_start, run_count = s, count
    last = fold * length - 1
    write_flush(wr_state, partial, last)
    return last


def _repeated_block_fetches(block: int, walks: int, capacity: int, fill: int):
    """Fetches of `walks` back-to-back walks over a block of `block` distinct addresses,
    none held by the epoch before, which starts with `fill` fetches; returns (fetches, fill).

    The epoch holds the block's last `held` addresses (in walk order): a walk fetches the
    `block - held` before them, and if the epoch fills meanwhile, everything after that too."""
    held = fetches = 0
    for _ in range(walks):
        new = block - held
        if new == 0:
            break
        if capacity == 0 or fill + new < capacity:
            fetches, fill, held = fetches + new, fill + new, block
        else:
            fill = (fill + block - capacity) % capacity
            fetches, held = fetches + block, fill
    return fetches, fill


def filter_fetches(df: int, R: int, C: int, M: int, N: int, K: int, capacity: int) -> int:
    """CALC DRAM filter reads. Weights are addressed n*K + k, once per fold block."""
    row_folds, col_folds, _ = fold_geometry(df, R, C, M, N, K)
    if df == 1:  # ws: each fold preloads its own weights: all disjoint, each fetched once
        return N * K
    if df == 0:  # os: column fold fc streams filters fc*C.. in every one of its row folds
        fetches = fill = 0
        for fc in range(col_folds):
            more, fill = _repeated_block_fetches(min(C, N - fc * C) * K, row_folds, capacity,
                                                 fill)
            fetches += more
        return fetches
    # is: the row folds of one column fold stream all N*K weights; every column fold again
    return _repeated_block_fetches(N * K, col_folds, capacity, 0)[0]


def ifmap_fetches(op, df: int, R: int, C: int, capacity: int) -> int:
    """CALC DRAM ifmap reads."""
    distinct = distinct_ifmap_addresses(op)
    if capacity == 0 or distinct < capacity:
        return distinct
    return _ifmap_walk(df, R, C, op.K, ifmap_address_matrix(op), capacity,
                       op.H * op.W * op.C)


@njit(cache=True)
def _ifmap_walk(df, R, C, N, im2col, capacity, address_space):
    """The epoch buffer fed the ifmap demand in SCALE-Sim's order (folds column-fold outer,
    each block by demand rows, skewed blocks by anti-diagonals). A fold that fetches nothing
    leaves the epoch unchanged, so a next fold with the same block fetches nothing either and
    is skipped; in os and ws the blocks follow the row fold only, so when a whole sweep of
    row folds fetches nothing, so does every later one."""
    M, K = im2col.shape
    row_folds, col_folds, _ = fold_geometry(df, R, C, M, N, K)
    demand = im2col.ravel()
    epoch_of = np.full(address_space, -1, np.int32)  # the epoch each address last joined
    epoch = fill = fetches = 0
    per_sweep = df != 2
    last_key, last_fetched = -1, True
    for fc in range(col_folds):
        sweep_start = fetches
        for fr in range(row_folds):
            key = fr if per_sweep else fr * col_folds + fc
            if key == last_key and not last_fetched:
                continue
            before = fetches
            origin, row_step, lane_step, first, end, lanes, skewed = ifmap_block(
                df, fr, fc, R, C, M, K)
            diagonal_step = lane_step - row_step
            lines = end + lanes - 1 if skewed else end
            for s in range(first, lines):
                lo = max(0, s - end + 1) if skewed else 0
                hi = min(lanes, s - first + 1) if skewed else lanes
                at = origin + row_step * (s - lo) + lane_step * lo
                step = diagonal_step if skewed else lane_step
                for _ in range(lo, hi):
                    addr = demand[at]
                    at += step
                    if addr < 0 or epoch_of[addr] == epoch:
                        continue
                    epoch_of[addr] = epoch
                    fetches += 1
                    fill += 1
                    if fill == capacity:
                        fill = 0
                        epoch += 1
            last_key, last_fetched = key, fetches != before
        if per_sweep and fetches == sweep_start:
            break
    return fetches
