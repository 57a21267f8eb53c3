"""The XNOR unit's timing model: cycles and counters of hw/methods/xnor/unit.py without
simulating it (tests/hw/methods/test_xnor.py holds them equal to Icarus runs).

The tiles are workloads/methods/xnor/plan.py's (the baseline's output-stationary tiling of the
packed layer), loads overlapping folds. Cycle 0 is the first cycle after the command is
taken; DRAM as hw/dram.py (one channel, a beat of b bytes holds it gap(b) cycles, read data
returns `latency` cycles later; every beat is one 8-byte element). The loader is the
baseline's, so its timing is rtl_timing.time_load; the write-back's beats are
rtl_timing.time_write_back's.

Binarizing pre-pass (a command with `binarize`), from cycle 1 (hw/methods/xnor/binarize.py):
  per pixel and word: the word's element reads, each at the first cycle the channel is free
  (one per cycle at most), the last at t_r; the word's write at max(t_r + latency + 2, free);
  after the pixel's last word, A's write at the next cycle the channel is free;
  per output pixel: one cycle per tap, a read (waiting for the channel) when the tap is inside
  the image, else a skip; after the last tap at t_s (last read at t_r), K_q's write at
  max(max(t_s + 1, t_r + latency + 1) + 1, free), the pre-pass's done cycle for the last pixel.

The program (hw/methods/xnor/unit.py), from the first LOAD_GATE cycle g (0 without the
pre-pass, else the pre-pass's done cycle + 1); fold i ends at e_i:
  LOAD_GATE at g: if all T tiles are loaded, WRITE_GATE at g + 1; else the load of tile i
    starts at max(g, e_{i-2} + 1) and is done at dL (rtl_timing.time_load, kd-major A block);
    fold i runs from max(dL + 1, e_{i-1} + 1) for fold_length(os, k_size) cycles; WRITE_GATE
    at dL + 1.
  WRITE_GATE at c: if all tiles are written, the layer ends: cycles = c + 1. Else, if tile w
    (the next in write order) has its successor loaded (or all are loaded): if w ends its
    output, the write-back starts at max(c, e_w + 1): from the next cycle one scale read per
    filter (on the n-block's first output tile only) and per pixel of the tile, each at the
    first cycle the channel is free (one per cycle at most), the last at t_r; the rows start
    after its data, at s = t_r + latency + 1 (fetch cycle s + 1, first beat s + 2, as
    rtl_timing.time_write_back); LOAD_GATE at the last beat's cycle + 1. If w does not end its
    output, or its successor is not loaded yet, LOAD_GATE at c + 1.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.workloads.methods.accelerator_plan import Gemm, dram_beat_gap, fold_length
from dlaforge.workloads.methods.xnor.plan import (DATAFLOW, DRAM_WORD_BYTES, SCALE_BITS, check,
                                                 layer_channels, plan, sums_fit, word_bits)
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp

from ..method_costs import ADD_PJ_PER_BIT_45NM, mult_pj_45nm, node_factor, pe_op_pj, unit_op_pj
from ..cycle.rtl_timing import time_load, time_write_back
from . import summed

UNIT_OPS = {"xnor_scale": ("scale_mult", "scale_add")}
XNOR_PJ_PER_BIT_45NM = 0.018 * 1.15


def popcount_pj_45nm(bits: int) -> float:
    levels = math.ceil(math.log2(bits)) if bits > 1 else 0
    return ADD_PJ_PER_BIT_45NM * sum(math.ceil(bits / 2**l) * l for l in range(1, levels + 1))


def xnor_popcount_pj(arch: ArchSpec, op: HwOp) -> float:
    """An XNOR-popcount-accumulate of two ifmap_bits-wide sign words."""
    word = op.ifmap_bits
    at_45nm = (word * XNOR_PJ_PER_BIT_45NM + popcount_pj_45nm(word)
               + op.psum_bits * ADD_PJ_PER_BIT_45NM)
    return at_45nm * node_factor(arch)


PE_OP_PJ = {"xnor_popcount": xnor_popcount_pj}


def unit_op_pj_45nm(arch: ArchSpec) -> dict:
    """The scaling unit's operations at 45 nm, at the fixed-point width of K and α."""
    return {"scale_mult": mult_pj_45nm(SCALE_BITS, SCALE_BITS),
            "scale_add": SCALE_BITS * ADD_PJ_PER_BIT_45NM}


@njit(cache=True)
def _binarize(channels, words, word_bits, H, W, P, Q, R, S, stride, pad, gap, latency):
    """Times the pre-pass; returns (its done cycle, channel free, DRAM reads, DRAM writes)."""
    groups = (channels + 7) // 8
    per_word = word_bits // 8
    t, free, reads, writes = 1, 0, 0, 0
    for _ in range(H * W):
        for i in range(words):
            last = t
            for _ in range(min(per_word, groups - i * per_word)):      # PACK_READ
                t = max(t, free)
                free, last, reads = t + gap, t, reads + 1
                t += 1
            t = max(last + latency + 2, free)                          # PACK_WAIT, PACK_WORD
            free, writes = t + gap, writes + 1
            t += 1
        t = max(t, free)                                               # PACK_A
        free, writes = t + gap, writes + 1
        t += 1
    done = t
    for p in range(P):
        for q in range(Q):
            last_read = -latency
            for r in range(R):
                for s in range(S):
                    h, w = p * stride + r - pad, q * stride + s - pad
                    if 0 <= h < H and 0 <= w < W:
                        t = max(t, free)
                        free, last_read, reads = t + gap, t, reads + 1
                    t += 1
            t = max(t, last_read + latency + 1) + 1          # KMAP_WAIT, then KMAP_WRITE
            t = max(t, free)
            free, writes, done = t + gap, writes + 1, t
            t += 1
    return done, free, reads, writes


@njit(cache=True)
def _scale_write(start, free, first_of_block, n_size, m_size, gap, gap_out, latency):
    """Times one ScaleWriter job started at `start`; returns (its last beat, channel free)."""
    t, last_read = start + 1, start + 1
    for _ in range((n_size if first_of_block else 0) + m_size):
        t = max(t, free)
        free = t + gap
        last_read = t
        t += 1
    return time_write_back(last_read + latency + 1, free, m_size, n_size, gap_out)


@njit(cache=True)
def _program(g, free, tiles, trips_k, fold_len, P, Q, C, H, W, R, S, stride, pad, Mt, Kt, Nt,
             gap_word, gap_out, latency):
    """Cycles of the command from its first LOAD_GATE cycle g, and the ifmap words it read
    from DRAM (module doc)."""
    T = tiles.shape[0]
    ends = np.zeros(T, dtype=np.int64)
    ifmap_beats, loaded, written = 0, 0, 0
    while True:
        # LOAD_GATE at g
        if loaded < T:
            if loaded >= 2:
                g = max(g, ends[loaded - 2] + 1)
            nb, mb, kb, n_size, m_size, k_size = tiles[loaded]
            done, free, beats = time_load(g, free, True, mb * Mt, kb * Kt, n_size, m_size,
                                          k_size, P, Q, C, H, W, R, S, stride, pad, gap_word,
                                          gap_word, latency)
            ifmap_beats += beats
            start = done + 1 if loaded == 0 else max(done + 1, ends[loaded - 1] + 1)
            ends[loaded] = start + fold_len[loaded] - 1
            loaded += 1
            c = done + 1
        else:
            c = g + 1
        # WRITE_GATE at c
        if written == T:
            return c + 1, ifmap_beats
        if written + 1 < loaded or loaded == T:
            nb, mb, kb, n_size, m_size, k_size = tiles[written]
            if kb == trips_k - 1:
                last_beat, free = _scale_write(max(c, ends[written] + 1), free, mb == 0, n_size,
                                               m_size, gap_word, gap_out, latency)
                g = last_beat + 1
            else:
                g = c + 1
            written += 1
        else:
            g = c + 1


def xnor_timing(arch: ArchSpec, gemm: Gemm, bandwidth: float | None = None,
                latency: int | None = None, binarize_channels: int | None = None) -> dict:
    """The unit's counters (hw/methods/xnor_unit.XNOR_COUNTERS) for one packed layer (DRAM
    bandwidth and latency default to the spec's); with `binarize_channels` (the layer's C), the
    command binarizes its int8 activations first."""
    tiling = plan(arch, gemm)
    pe = arch.pe_array
    rows, cols = pe.rows, pe.cols
    bandwidth = arch.dram.bandwidth_bytes_per_cycle if bandwidth is None else bandwidth
    latency = max(1, arch.dram.latency_cycles if latency is None else latency)
    tiles = tiling.tiles()
    n_size, m_size, k_size = tiles[:, 3], tiles[:, 4], tiles[:, 5]
    fold_len = np.array([fold_length(DATAFLOW, rows, cols, int(k)) for k in k_size], np.int64)
    g = gemm
    gap = dram_beat_gap(DRAM_WORD_BYTES, bandwidth)
    start, free, pre_reads, pre_writes = 0, 0, 0, 0      # start: the first LOAD_GATE cycle
    if binarize_channels is not None:
        done, free, pre_reads, pre_writes = _binarize(
            binarize_channels, g.C, word_bits(arch), g.H, g.W, g.P, g.Q, g.R, g.S, g.stride,
            g.padding, gap, latency)
        start = done + 1
    cycles, ifmap_beats = _program(
        start, free, tiles, tiling.trips[2], fold_len, g.P, g.Q, g.C, g.H, g.W, g.R, g.S,
        g.stride, g.padding, tiling.Mt, tiling.Kt, tiling.Nt, gap, gap, latency)
    first, last = tiles[:, 2] == 0, tiles[:, 2] == tiling.trips[2] - 1
    alpha_reads = np.where(tiles[:, 1] == 0, n_size, 0)
    scale_reads = int((alpha_reads + m_size)[last].sum())
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
        "dram_read_bytes": DRAM_WORD_BYTES * (int(ifmap_beats) + weight_words + scale_reads
                                              + pre_reads),
        "dram_write_bytes": DRAM_WORD_BYTES * (g.M * g.K + pre_writes),
        "scale_reads": scale_reads,
        "binarize_cycles": int(start),
    }


def packed_gemm(op: HwOp) -> Gemm:
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
        plan(arch, packed_gemm(op))
    except SpecError as exc:
        return str(exc)
    if not sums_fit(arch, packed_gemm(op)):
        return f"its popcount sums may overflow psum_bits {arch.pe_array.psum_bits}"
    return None


def op_stats(arch: ArchSpec, op: HwOp, dataflow: str, table) -> Stats:
    """Stats of one binarized HwOp on the XNOR unit from the timing model's counters: one
    command per image, each binarizing the image's int8 activations first (as the method's
    transform charges: activations come from DRAM at int8 and K is formed on chip)."""
    why = cannot_run(arch, op, dataflow)
    if why:
        raise SpecError(f"op {op.name!r}: {why}")
    return counters_to_stats(arch, op, summed(command_counters(arch, op, dataflow)), dataflow,
                             table)


def command_counters(arch: ArchSpec, op: HwOp, dataflow: str) -> list[dict]:
    """The timing model's counters of each command of `op`: one per image, binarizing the
    image's int8 activations first."""
    return [xnor_timing(arch, packed_gemm(op), binarize_channels=layer_channels(arch, op))] * op.N


def counters_to_stats(arch: ArchSpec, op: HwOp, counters: dict, dataflow: str, table) -> Stats:
    """A Stats record from the unit's counters (measured, or from `xnor_timing`, for all of the
    op's images), priced with the energy table: PE operations at method_costs.pe_op_pj, buffer
    accesses per element (ifmap words with their valid bit), DRAM bytes as counted, and the
    scaling stage's operations (two multiplies and a subtraction per output, two multiplies per
    written row for its tap count; with the pre-pass, an add per activation for A, an add per
    in-image tap and a multiply per output pixel for K_q) at method_costs.unit_op_pj. DRAM
    reads other than weights (activations, A, alpha, K_q) count as the ifmap's; writes other
    than outputs (packed words, A, K_q) as the ifmap's writes."""
    c, gemm = counters, packed_gemm(op)
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
    outputs = op.N * gemm.K * gemm.M
    beats_read = c["dram_read_bytes"] // DRAM_WORD_BYTES
    accesses["dram"] = {
        "ifmap": {"reads": beats_read - c["weight_writes"],
                  "writes": c["dram_write_bytes"] // DRAM_WORD_BYTES - outputs},
        "weight": {"reads": c["weight_writes"], "writes": 0},
        "ofmap": {"reads": 0, "writes": outputs}}
    rows_written = op.N * _rows_written(arch, gemm)
    ops = {"xnor_bits": op.pe_macs * w, "popcount": op.pe_macs, "add": op.pe_macs,
           "scale_mult": 2 * outputs + 2 * rows_written, "scale_add": outputs}
    if c["binarize_cycles"]:
        ops["scale_mult"] += op.N * gemm.M
        ops["scale_add"] += op.N * (layer_channels(arch, op) * gemm.H * gemm.W
                                    + _in_image_taps(gemm))
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


def _in_image_taps(g: Gemm) -> int:
    """Taps of all output windows that fall inside the image (the K_q pass's A reads)."""
    def inside(out, extent, size):
        first = np.arange(out) * g.stride - g.padding
        return np.clip(np.minimum(extent, size - first) - np.maximum(0, -first), 0, None)
    return int(inside(g.P, g.R, g.H).sum() * inside(g.Q, g.S, g.W).sum())


def _rows_written(arch: ArchSpec, gemm: Gemm) -> int:
    """Output rows (pixels of one output tile) the write-back scales: M per n-block."""
    return gemm.M * plan(arch, gemm).trips[0]
