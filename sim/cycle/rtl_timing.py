"""The RTL's timing model: cycles and counters of the generated accelerator (dlaforge.hw),
computed without simulating it. `tests/hw/test_icarus.py` holds it equal to the RTL.

The schedule is accelerator_plan's (one array fold per tile; n-block, m-block, kd-block
order); the program is hw/accelerator.py's. Cycle 0 is the first cycle after the command is
taken; the layer's cycles are those until the accelerator is idle again.

DRAM port (hw/dram.py's testbench model): one channel, one element per beat; a beat of b bytes
taken at cycle t holds the channel until t + gap(b), gap(b) = max(1, ceil(b / bandwidth));
read data returns at t + max(1, latency).

Load of tile i, started at cycle s (its elements from s + 1, one per cycle at most; without
padding in the tile this is the closed form below):
  its A block (m_size x k_size im2col elements, ws: m-major, os: kd-major) then its B block
  (k_size x n_size weights, kd-major). An element inside the ifmap is taken when the channel is
  free; a zero-padding element costs no DRAM beat and is written in the first cycle in which no
  read data arrives. The load ends at dL = max(last element + 1, last data + 1). Without
  padding: A's last beat at a = max(s + 1, free) + (|A| - 1) * gap_i, B's last at
  b = a + gap_i + (|B| - 1) * gap_w, and dL = b + latency + 1.
Write-back of an output tile, started at s: per row (m; is: n), one fetch cycle, then one
  beat per lane (n; is: m), each waiting for the channel; it ends at the last beat's cycle dW.
  A beat is element_bytes(ofmap_bits) when the command requantizes, else element_bytes(psum_bits).
Parameter fetch (requantizing commands only), started at s, for the n_size filters of an
  n-block: REQUANT_PIECES one-byte beats per filter, the first at max(s + 1, free), then one
  per gap(1); it ends at dP = last beat + latency + 1.
Fold of tile i (sim: fold_length): starts at f_i = max(dL_i + 1, e_{i-1} + 1) and ends at
  e_i = f_i + L_i - 1, L_i = 2R + C + T + 1 (ws: T = m_size; is: T = n_size) or
  k_size + 2R + C (os).
DRAM engine, for i = 0 .. T+1, from cycle g (g = 0 for i = 0):
  if i >= 2: g = max(g, e_{i-2} + 1); if tile i-2 ends its output: (if the command
  requantizes and the output is its n-block's first, m-block 0: fetch the n-block's parameters
  from s = g, and g = dP) write it back from g, and g = dW + 1;
  if i < T: load tile i from s = g, and the next step starts at g = dL + 2;
  otherwise the next step starts at g + 2. The layer ends when step T+2 is reached at g:
  cycles = g + 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from dlaforge.arch import ArchSpec
from dlaforge.program import REQUANT_PIECES, element_bytes
from dlaforge.workloads.methods.accelerator_plan import Gemm, RtlPlan, dram_beat_gap
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp

from ..rtl_program import (gemm_of, op_stats_from_counters, output_bits, program_counters,
                           streamed_and_folds)


@dataclass(frozen=True)
class RtlTiming:
    """The RTL's counters, as hw/layouts.COUNTERS names them."""

    counters: dict

    @property
    def cycles(self) -> int:
        return self.counters["cycles"]


@njit(cache=True)
def _has_padding(m0, m_size, kd0, k_size, Q, R, S, H, W, stride, pad):
    """False when the bounding box of the A block's (h, w) lies inside the image, so that no
    element of it is zero padding (True may be conservative)."""
    m_last, kd_last = m0 + m_size - 1, kd0 + k_size - 1
    p_lo, p_hi = m0 // Q, m_last // Q
    q_lo, q_hi = (m0 % Q, m_last % Q) if p_lo == p_hi else (0, Q - 1)
    r_lo, r_hi, s_lo, s_hi = 0, R - 1, 0, S - 1
    if kd0 // (R * S) == kd_last // (R * S):
        rs_lo, rs_hi = kd0 % (R * S), kd_last % (R * S)
        r_lo, r_hi = rs_lo // S, rs_hi // S
        if r_lo == r_hi:
            s_lo, s_hi = rs_lo % S, rs_hi % S
    h_lo, h_hi = p_lo * stride + r_lo - pad, p_hi * stride + r_hi - pad
    w_lo, w_hi = q_lo * stride + s_lo - pad, q_hi * stride + s_hi - pad
    return not (h_lo >= 0 and h_hi < H and w_lo >= 0 and w_hi < W)


@njit(cache=True)
def time_load(s, free, os_, m0, kd0, n_size, m_size, k_size, P, Q, C, H, W, R, S, stride, pad,
              gap_i, gap_w, latency):
    """Times one load job; returns (done cycle, channel free, ifmap beats). The method
    families' timing models (sim/methods/) time their loads and write-backs with it and
    `time_write_back`."""
    if not _has_padding(m0, m_size, kd0, k_size, Q, R, S, H, W, stride, pad):
        # every element is a DRAM beat, one per gap: a closed form
        a_last = max(s + 1, free) + (m_size * k_size - 1) * gap_i
        b_last = a_last + gap_i + (k_size * n_size - 1) * gap_w
        return b_last + latency + 1, b_last + gap_w, m_size * k_size
    t = s + 1
    resp = np.empty(m_size * k_size + k_size * n_size, dtype=np.int64)
    head, tail, beats = 0, 0, 0
    words = k_size if os_ else m_size
    lanes = m_size if os_ else k_size
    for wd in range(words):
        for ln in range(lanes):
            m = m0 + (ln if os_ else wd)
            kd = kd0 + (wd if os_ else ln)
            p, q = m // Q, m % Q
            c, rs = kd // (R * S), kd % (R * S)
            h = p * stride + rs // S - pad
            w = q * stride + rs % S - pad
            if 0 <= h < H and 0 <= w < W:
                t = max(t, free)
                free = t + gap_i
                resp[tail] = t + latency
                tail += 1
                beats += 1
            else:
                while head < tail and resp[head] < t:
                    head += 1
                while head < tail and resp[head] == t:
                    t += 1
                    head += 1
            t += 1
    for _ in range(k_size * n_size):
        t = max(t, free)
        free = t + gap_w
        resp[tail] = t + latency
        tail += 1
        t += 1
    last = resp[tail - 1] + 1 if tail > 0 else 0
    return max(t, last), free, beats


@njit(cache=True)
def time_write_back(s, free, rows, lanes, gap):
    """Times one write-back; returns (cycle of the last beat, channel free)."""
    t = s
    for _ in range(rows):
        t += 2                  # a fetch cycle, then the row's first beat
        for j in range(lanes):
            t = max(t, free)
            free = t + gap
            if j + 1 < lanes:
                t += 1
    return t, free


@njit(cache=True)
def _params(s, free, channels, gap, latency):
    """Times one parameter fetch; returns (done cycle, channel free)."""
    last = max(s + 1, free) + (REQUANT_PIECES * channels - 1) * gap
    return last + latency + 1, last + gap


@njit(cache=True)
def _program(tiles, os_, is_, trips_k, fold_len, P, Q, C, H, W, R, S, stride, pad, Mt, Kt, Nt,
             gap_i, gap_w, gap_o, latency, gap_p):
    """The DRAM engine's program; gap_p > 0: the command requantizes, a parameter beat
    holding the channel gap_p cycles."""
    T = tiles.shape[0]
    free = 0
    loaded = np.zeros(T, dtype=np.int64)
    ends = np.zeros(T, dtype=np.int64)
    ifmap_beats = 0
    g = 0
    prev_end = -1
    for i in range(T + 2):
        if i >= 2:
            j = i - 2
            g = max(g, ends[j] + 1)
            if tiles[j, 2] == trips_k - 1:
                if gap_p > 0 and tiles[j, 1] == 0:
                    g, free = _params(g, free, tiles[j, 3], gap_p, latency)
                rows, lanes = (tiles[j, 3], tiles[j, 4]) if is_ else (tiles[j, 4], tiles[j, 3])
                done, free = time_write_back(g, free, rows, lanes, gap_o)
                g = done + 1
        if i < T:
            nb, mb, kb, n_size, m_size, k_size = tiles[i]
            done, free, beats = time_load(g, free, os_ or is_, mb * Mt, kb * Kt, n_size, m_size,
                                          k_size, P, Q, C, H, W, R, S, stride, pad, gap_i, gap_w,
                                          latency)
            ifmap_beats += beats
            loaded[i] = done
            start = max(done + 1, prev_end + 1)
            ends[i] = start + fold_len[i] - 1
            prev_end = ends[i]
            g = done + 2
        else:
            g += 2
    return g + 1, ifmap_beats


def rtl_timing(arch: ArchSpec, dataflow: str, gemm: Gemm, bandwidth: float | None = None,
               latency: int | None = None, requant: bool = False) -> RtlTiming:
    """Cycles and counters of `gemm` on the RTL generated from `arch` (DRAM bandwidth and
    latency default to the spec's), its outputs requantized if `requant`."""
    plan = RtlPlan.make(arch, dataflow, gemm, requant)
    pe = arch.pe_array
    bandwidth = arch.dram.bandwidth_bytes_per_cycle if bandwidth is None else bandwidth
    latency = max(1, arch.dram.latency_cycles if latency is None else latency)
    tiles = plan.tiles()
    _, fold_len = streamed_and_folds(plan, tiles)
    b_i, b_w, b_o = (element_bytes(bits) for bits in (pe.ifmap_bits, pe.weight_bits,
                                                        output_bits(plan)))
    g = gemm
    cycles, ifmap_beats = _program(
        tiles, dataflow == "os", dataflow == "is", plan.trips[2], fold_len, g.P, g.Q, g.C, g.H,
        g.W, g.R, g.S, g.stride, g.padding, plan.Mt, plan.Kt, plan.Nt,
        dram_beat_gap(b_i, bandwidth), dram_beat_gap(b_w, bandwidth),
        dram_beat_gap(b_o, bandwidth), latency, dram_beat_gap(1, bandwidth) if requant else 0)
    return RtlTiming(program_counters(plan, int(cycles), int(ifmap_beats)))


def rtl_op_stats(arch: ArchSpec, op: HwOp, dataflow: str, table, requant: bool = True) -> Stats:
    """Stats of one HwOp as the RTL runs it (`commands_of(op)` commands, one after another):
    the cycle model's timing of the RTL's schedule, with requantized outputs unless a method's
    unit takes the sums (`requant` False)."""
    counters = rtl_timing(arch, dataflow, gemm_of(op), requant=requant).counters
    return op_stats_from_counters(arch, op, counters, table, dataflow, requant)
