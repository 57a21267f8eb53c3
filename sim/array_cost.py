"""Cost of one on-chip tile on the PE array, per dataflow, vectorized over candidate tilings.

A tile is `kt` output channels x `ct` input channels x `pt` output rows (all Q columns, one
image, one group; row stationary tiles `nt` images). Every function takes numpy arrays (one
entry per candidate) and returns a `TileCost` of arrays, so the mapper prices thousands of
tilings in one call and `evaluate` prices one with the same code.

Systolic arrays (ws, os, is) see the tile as a GEMM: M = pt*Q ofmap pixels, N = kt filters,
K = ct*R*S reduction. The dataflow maps two of them onto the rows and columns, and streams the
third in time T (SCALE-Sim's convention, REFERENCES.md §2): os (M, N, K), ws (K, N, M),
is (K, M, N); folds = ceil(Sr/rows)*ceil(Sc/cols); a fold takes T + rows + cols - 2 cycles (os)
or 2*rows + cols + T - 2 (ws, is: the stationary operand is loaded first).

Row stationary (eyeriss_like) follows Eyeriss: a PE set of R rows (filter rows) x up to `cols`
columns (output rows); each PE runs a 1-D convolution of one filter row over one ifmap row for
`q` channels and `pf` filters held in its scratchpads, for each of the tile's `nt` images in
turn; `rows // R` sets are stacked and split `tc` x `tk` between channels and filters; psums
accumulate up the columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlaforge.workloads.hwop import HwOp


def ceil_div(a, b):
    return -(-a // b)


def distinct_values(values) -> np.ndarray:
    """np.unique of integers (the sorted distinct values, flattened), without its import of
    numpy.ma on first use (a sizeable part of a quick command's start)."""
    values = np.sort(np.ravel(values))
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if values.size else values


@dataclass
class TileCost:
    """Per-tile totals (arrays over candidates). Reads/writes are element counts."""

    cycles: np.ndarray
    pe_ops: np.ndarray
    sram_ifmap_reads: np.ndarray
    sram_weight_reads: np.ndarray
    sram_psum_writes: np.ndarray        # partial or final sums the array writes back
    rf_reads: dict                      # operand -> array
    rf_writes: dict
    noc_bits: np.ndarray                # bits moved one hop between PEs or bus to PE

    def scaled_sum(self, other: TileCost, weight) -> TileCost:
        """self + weight * other, field by field."""
        def add(a, b):
            return {k: a[k] + weight * b[k] for k in a} if isinstance(a, dict) else a + weight * b
        return TileCost(**{name: add(getattr(self, name), getattr(other, name))
                           for name in self.__dataclass_fields__})

    @staticmethod
    def zeros(shape) -> TileCost:
        z = np.zeros(shape, dtype=np.float64)
        ops = ("ifmap", "weight", "ofmap")
        return TileCost(z, z, z, z, z, {o: z for o in ops}, {o: z for o in ops}, z)


def systolic_tile(dataflow: str, rows: int, cols: int, op: HwOp, kt, ct, pt) -> TileCost:
    M, N, K = pt * op.Q, kt, ct * op.R * op.S
    Sr, Sc, T = {"os": (M, N, K), "ws": (K, N, M), "is": (K, M, N)}[dataflow]
    row_folds, col_folds = ceil_div(Sr, rows), ceil_div(Sc, cols)
    folds = row_folds * col_folds
    if dataflow == "os":
        cycles = folds * (T + rows + cols - 2)
        ifmap_reads, weight_reads = M * K * col_folds, K * N * row_folds
        psum_writes = M * N
        stationary, moving = "ofmap", ("ifmap", "weight")
    else:
        cycles = folds * (2 * rows + cols + T - 2)
        psum_writes = M * N * row_folds
        if dataflow == "ws":
            ifmap_reads, weight_reads = M * K * col_folds, K * N
            stationary, moving = "weight", ("ifmap", "ofmap")
        else:
            ifmap_reads, weight_reads = M * K, K * N * col_folds
            stationary, moving = "ifmap", ("weight", "ofmap")
    pe_ops = M * N * K
    zero = np.zeros_like(pe_ops, dtype=np.float64)
    rf_reads = {o: zero for o in ("ifmap", "weight", "ofmap")}
    rf_writes = dict(rf_reads)
    if stationary == "ofmap":
        # the accumulator register is read and written by every MAC, then drained once
        rf_reads["ofmap"], rf_writes["ofmap"] = pe_ops + M * N, pe_ops
    else:
        loaded = weight_reads if stationary == "weight" else ifmap_reads
        rf_reads[stationary], rf_writes[stationary] = pe_ops, loaded
    bits = {"ifmap": op.ifmap_bits, "weight": op.weight_bits, "ofmap": op.psum_bits}
    noc_bits = pe_ops * sum(bits[o] for o in moving)
    return TileCost(cycles=cycles, pe_ops=pe_ops, sram_ifmap_reads=ifmap_reads,
                    sram_weight_reads=weight_reads, sram_psum_writes=psum_writes,
                    rf_reads=rf_reads, rf_writes=rf_writes, noc_bits=noc_bits)


def row_stationary_tile(rows: int, cols: int, op: HwOp, kt, ct, pt, tc, tk, q, pf,
                        nt=1) -> TileCost:
    """A tile of `nt` images: each pass loads its filter rows into the scratchpads once and
    runs the images' ifmap rows through them one after another. Counts are of what is present:
    a fold of the filter rows over the array's rows (or of the tile's output rows over its
    columns) uses r_f rows (p_f columns), which sum over the folds to R (pt); a tile's last
    pass holds what is left of its channels and filters."""
    R, S, Q = op.R, op.S, op.Q
    (sh, sw), (dh, _), (_, ew) = op.strides, op.dilation, op.extent
    r_folds, p_folds = ceil_div(R, rows), ceil_div(pt, cols)
    ch_per_pass, filt_per_pass = tc * q, tk * pf
    c_passes, k_passes = ceil_div(ct, ch_per_pass), ceil_div(kt, filt_per_pass)
    # a PE walks the channels and filters its pass holds: q and pf in a full pass, its set's
    # share in the last pass of a tile whose channels (filters) are not a multiple of tc*q
    # (tk*pf); each pass first fills its fold's r_f + p_f pipeline
    q_walked = (ct // ch_per_pass) * q + ceil_div(ct % ch_per_pass, tc)
    pf_walked = (kt // filt_per_pass) * pf + ceil_div(kt % filt_per_pass, tk)
    fill = c_passes * k_passes * (p_folds * R + r_folds * pt)
    cycles = r_folds * p_folds * nt * Q * S * q_walked * pf_walked + fill
    pe_ops = nt * kt * ct * pt * Q * R * S
    w_padded = (Q - 1) * sw + ew
    # ifmap rows a fold reads, (p_f - 1) strides + (r_f - 1) dilations + 1, over the folds
    in_rows = r_folds * (pt - p_folds) * sh + p_folds * (R - r_folds) * dh + r_folds * p_folds
    # per pass the GLB multicasts the pass's channels' ifmap rows and its filter rows; psums
    # leave the top PE of a column
    ifmap_reads = nt * k_passes * ct * in_rows * w_padded
    weight_reads = kt * ct * R * S * p_folds
    psum_writes = nt * kt * pt * Q * r_folds * c_passes
    # a pass spreads its filters over min(tk, filters) sets and its channels over
    # min(tc, channels): each channel's ifmap rows go to every filter set, each filter row to
    # the columns of its set, and psums climb r_f - 1 rows in every channel set
    filter_sets = (kt // filt_per_pass) * tk + np.minimum(tk, kt % filt_per_pass)
    channel_sets = (ct // ch_per_pass) * tc + np.minimum(tc, ct % ch_per_pass)
    ifmap_rf_writes = nt * R * pt * ct * filter_sets * w_padded
    weight_rf_writes = R * pt * kt * ct * S
    rf_reads = {"ifmap": pe_ops.astype(np.float64), "weight": pe_ops.astype(np.float64),
                "ofmap": pe_ops.astype(np.float64)}
    rf_writes = {"ifmap": ifmap_rf_writes, "weight": weight_rf_writes, "ofmap": pe_ops}
    psum_hops = nt * kt * pt * Q * (R - r_folds) * channel_sets
    noc_bits = (ifmap_rf_writes * op.ifmap_bits + weight_rf_writes * op.weight_bits
                + psum_hops * op.psum_bits)
    return TileCost(cycles=cycles, pe_ops=pe_ops, sram_ifmap_reads=ifmap_reads,
                    sram_weight_reads=weight_reads, sram_psum_writes=psum_writes,
                    rf_reads=rf_reads, rf_writes=rf_writes, noc_bits=noc_bits)
