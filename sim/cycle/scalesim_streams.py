"""The SRAM demand streams of a SCALE-Sim 3.0 systolic array, element by element.

SCALE-Sim maps a layer as one GEMM (M = ofmap pixels, N = filters, K = R*S*C) and, for every
fold of the array over that GEMM, builds a demand matrix per operand: one row per cycle, one
column per array edge lane, each entry an SRAM address or -1 (idle). Within a fold each
operand's matrix is a data block D (rows_d x lanes) placed after `prefix` idle rows, optionally
row-flipped (operands preloaded bottom row first) and skewed (lane c delayed by c cycles).
Folds run column-fold outer, row-fold inner (scalesim/compute/systolic_compute_{os,ws,is}.py).

Here the same entries are computed on the fly (never materialised), so the numba engine can walk
a layer's streams in SCALE-Sim's exact order in a few nanoseconds per entry.
"""

from __future__ import annotations

import numpy as np
from numba import njit

IFMAP, FILTER, OFMAP = 0, 1, 2
DATAFLOW_CODES = {"os": 0, "ws": 1, "is": 2}


def ifmap_address_matrix(op) -> np.ndarray:
    """SCALE-Sim's im2col ifmap operand matrix (M x K, int32), -1 where a window leaves the
    ifmap.

    Addresses are NHWC offsets without SCALE-Sim's IfmapOffset; windows that SCALE-Sim's ceil
    ofmap rule pushes past the edge read nothing (scalesim/compute/operand_matrix.py).
    """
    return _im2col(op.H, op.W, op.C, op.R, op.S, op.stride, op.P, op.Q)


@njit(cache=True)
def _im2col(H, W, C, R, S, stride, P, Q):
    out = np.empty((P * Q, R * S * C), np.int32)
    for m in range(P * Q):
        top, left = (m // Q) * stride, (m % Q) * stride
        k = 0
        for row in range(top, top + R):
            for col in range(left, left + S):
                pixel = (row * W + col) * C if row < H and col < W else -1
                for channel in range(C):
                    out[m, k] = pixel + channel if pixel >= 0 else -1
                    k += 1
    return out


def distinct_ifmap_addresses(op) -> int:
    """How many ifmap elements some window reads: the rows times the columns any window
    covers, times the channels."""
    def covered(extent, windows, size):
        if op.stride < size:  # windows overlap: one run from 0
            return min(extent, (windows - 1) * op.stride + size)
        return sum(max(0, min(size, extent - w * op.stride)) for w in range(windows))
    return covered(op.H, op.P, op.R) * covered(op.W, op.Q, op.S) * op.C


@njit(cache=True)
def fold_geometry(df, R, C, M, N, K):
    """(row folds, column folds, cycles per fold) of dataflow code `df` (os 0, ws 1, is 2)."""
    if df == 0:
        Sr, Sc, length = M, N, K + R + C - 2
    elif df == 1:
        Sr, Sc, length = K, N, 2 * R + C + M - 2
    else:
        Sr, Sc, length = K, M, 2 * R + C + N - 2
    return (Sr + R - 1) // R, (Sc + C - 1) // C, length


@njit(cache=True)
def block_shape(df, operand, R, C, M, N, K):
    """(prefix rows, data rows, lanes, flipped, skewed) of one operand's demand block per fold."""
    if df == 0:  # output stationary: ifmap and filter stream K deep, outputs drain after
        if operand == IFMAP:
            return 0, K, R, False, True
        if operand == FILTER:
            return 0, K, C, False, True
        return K - 1, R, C, True, True
    if df == 1:  # weight stationary: weights preloaded, ifmap rows stream M deep
        if operand == IFMAP:
            return R, M, R, False, True
        if operand == FILTER:
            return 0, R, C, True, False
        return 2 * R - 1, M, C, False, True
    if operand == IFMAP:  # input stationary: ifmap preloaded, filters stream N deep
        return 0, R, C, True, False
    if operand == FILTER:
        return R, N, R, False, True
    return 2 * R - 1, N, C, False, True


@njit(cache=True)
def entry(df, operand, r, c, fr, fc, R, C, M, N, K, ifmap):
    """Address at data row r, lane c of fold (fr, fc), or -1. Filter addresses are n*K + k and
    ofmap addresses m*N + n, as SCALE-Sim lays them out (without its offsets)."""
    if df == 0:
        if operand == IFMAP:
            m = fr * R + c
            return ifmap[m, r] if m < M else -1
        if operand == FILTER:
            n = fc * C + c
            return n * K + r if n < N else -1
        m, n = fr * R + r, fc * C + c
        return m * N + n if m < M and n < N else -1
    if df == 1:
        if operand == IFMAP:
            k = fr * R + c
            return ifmap[r, k] if k < K else -1
        if operand == FILTER:
            k, n = fr * R + r, fc * C + c
            return n * K + k if k < K and n < N else -1
        n = fc * C + c
        return r * N + n if n < N else -1
    if operand == IFMAP:
        k, m = fr * R + r, fc * C + c
        return ifmap[m, k] if k < K and m < M else -1
    if operand == FILTER:
        k = fr * R + c
        return r * K + k if k < K else -1
    m = fc * C + c
    return m * N + r if m < M else -1


@njit(cache=True)
def demand(df, operand, t, c, fr, fc, R, C, M, N, K, ifmap):
    """The demand-matrix entry of fold (fr, fc) at fold-local cycle t, lane c (or -1)."""
    prefix, rows, lanes, flipped, skewed = block_shape(df, operand, R, C, M, N, K)
    r = t - prefix - (c if skewed else 0)
    if r < 0 or r >= rows:
        return -1
    if flipped:
        r = rows - 1 - r
    return entry(df, operand, r, c, fr, fc, R, C, M, N, K, ifmap)


@njit(cache=True)
def ifmap_block(df, fr, fc, R, C, M, K):
    """Fold (fr, fc)'s ifmap demand block located in the row-major im2col matrix: (index of
    demand row 0 lane 0, index step per demand row, index step per lane, first and end valid
    demand row, valid lanes, skewed). Demand row t holds data row t, or R - 1 - t where the
    block is flipped (is: the preload enters bottom row first), so a flipped block steps
    back; lanes and rows past the matrix's edge are idle and left out, which keeps the order
    of the others."""
    if df == 0:  # os: lane c streams output pixel fr*R + c over all K
        return fr * R * K, 1, K, 0, K, min(R, M - fr * R), True
    if df == 1:  # ws: lane c streams column fr*R + c over all M output pixels
        return fr * R, K, 1, 0, M, min(R, K - fr * R), True
    # is: lane c preloads pixel fc*C + c's columns fr*R .. fr*R + R - 1, bottom row first
    rows = min(R, K - fr * R)
    return fc * C * K + fr * R + R - 1, -1, K, R - rows, R, min(C, M - fc * C), False


@njit(cache=True)
def ofmap_rectangle(df, fr, fc, R, C, M, N):
    """Fold (fr, fc)'s valid ofmap demand entries before the skew: (first and end demand row,
    valid lanes); the rest of its block is idle."""
    if df == 0:  # os: rows are the fold's output pixels, drained bottom row first
        rows = min(R, M - fr * R)
        return R - rows, R, min(C, N - fc * C)
    if df == 1:  # ws: a row per output pixel, a lane per filter
        return 0, M, min(C, N - fc * C)
    return 0, N, min(C, M - fc * C)  # is: a row per filter, a lane per output pixel
