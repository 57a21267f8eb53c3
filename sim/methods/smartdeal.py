"""Timing model of the SmartDeal unit (hw/methods/smartdeal/unit.py), without simulating it.

Its cycles depend on the codes (how many bytes a filter block's region has, which Ce rows are
zero), so `smartdeal_timing` takes the Ce signs. The program is the unit's controller, one
step after another, from cycle g = 0 (NEXT); every start is the cycle its state is left:
  filter block's first tile, codes from g: the B and bitmap bytes go out one per DRAM beat from
    max(g + 1, free); the code loader waits for the last bitmap byte (sent at a, back at
    a + latency = w), then sends ceil(nnz/2) code bytes from max(w + 1, free) and is done when
    the last comes back (or at w if there are none). The clear writes rows g+1 .. g+rows.
    Rebuild starts at t = max(codes done, g + rows) and is done at t + steps, steps being the
    engine's walk (`rebuild_steps`).
  the loader, from s (rebuild done, or g): its ifmap block as the baseline loader
    (rtl_timing.time_load with no weight block); its weight reads are answered on chip from the
    cycle after the last ifmap byte is back, one per cycle, so it is done at b + kn + 1.
  the fold: L = fold_length("ws", ...) cycles from the loader's done; then, on an output's last
    kd tile, the write-back (rtl_timing.time_write_back) from the fold's last cycle; one ADV cycle;
    NEXT again. The layer ends at NEXT after the last tile: cycles = g + 1.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.program import element_bytes
from dlaforge.workloads.methods.accelerator_plan import dram_beat_gap, fold_length
from dlaforge.workloads.methods.smartdeal.plan import (BITMAP_READS, B_BYTES, REBUILT_BITS,
                                                      REBUILT_MAC, ROW_ENTRIES, WINDOW_ROWS,
                                                      SmartDealPlan, bitmap_bytes, check_arch,
                                                      code_bytes)
from dlaforge.stats import Stats
from dlaforge.workloads.methods.smartdeal.reference import synthetic_decomposition

from ..method_costs import ADD_PJ_PER_BIT_45NM, SHIFT_PJ_PER_BIT_45NM, unit_op_pj
from ..cycle.rtl_timing import gemm_of, time_load, time_write_back
from . import summed

UNIT_OPS = {"smartdeal_rebuild": ("rebuild_shift", "rebuild_add")}


def rebuilt_mac_pj(arch: ArchSpec, op) -> float:
    """pJ of one MAC of an activation and a rebuilt integer weight: the arch's MAC at
    REBUILT_BITS weights (the array's weight lanes), scaled to the node as the arch's own
    MAC (the op's widths: the arch as specified, whichever lanes a model holds)."""
    from dataclasses import replace
    from ..energy import mac_pj_45nm
    from ..method_costs import node_factor
    spec = replace(arch, pe_array=replace(arch.pe_array, ifmap_bits=op.ifmap_bits,
                                          weight_bits=op.weight_bits))
    rebuilt = replace(spec.pe_array, weight_bits=REBUILT_BITS)
    return mac_pj_45nm(rebuilt) * node_factor(spec)


PE_OP_PJ = {REBUILT_MAC: rebuilt_mac_pj}


def unit_op_pj_45nm(arch: ArchSpec) -> dict:
    """The rebuild engine's operations at 45 nm: 16 bit (8-bit B shifted by at most 7)."""
    return {"rebuild_shift": 16 * SHIFT_PJ_PER_BIT_45NM, "rebuild_add": 16 * ADD_PJ_PER_BIT_45NM}


@njit(cache=True)
def rebuild_steps(nonzero_rows: np.ndarray, window: int) -> int:
    """Cycles of the rebuild engine over filters x rows flags: per filter, each step rebuilds
    the first nonzero row among the next `window` rows, or skips them all."""
    steps = 0
    for j in range(nonzero_rows.shape[0]):
        r, rows = 0, nonzero_rows.shape[1]
        while r < rows:
            span = min(window, rows - r)
            w = 0
            while w < span and not nonzero_rows[j, r + w]:
                w += 1
            r += w + 1 if w < span else span
            steps += 1
    return steps


def _code_load(g, free, fixed, codes, gap, latency):
    """(done, channel free) of the code loader started at g."""
    last = max(g + 1, free) + (fixed - 1) * gap
    free = last + gap
    done = last + latency
    if codes:
        last = max(done + 1, free) + (codes - 1) * gap
        free = last + gap
        done = last + latency
    return done, free


def smartdeal_timing(arch: ArchSpec, gemm, sign: np.ndarray, bandwidth: float | None = None,
                     latency: int | None = None) -> dict:
    """The unit's counters (hw/methods/smartdeal_unit.COUNTERS) for `gemm` with Ce signs
    `sign` [K, ce_rows, 3]; DRAM bandwidth and latency default to the spec's."""
    plan = SmartDealPlan.make(arch, gemm, REBUILT_BITS)
    tiling, rows = plan.tiling, plan.rows_per_filter
    pe = arch.pe_array
    R, Cc = pe.rows, pe.cols
    bandwidth = arch.dram.bandwidth_bytes_per_cycle if bandwidth is None else bandwidth
    latency = max(1, arch.dram.latency_cycles if latency is None else latency)
    b_i, b_o = element_bytes(pe.ifmap_bits), element_bytes(pe.psum_bits)
    gap_i, gap_c, gap_o = (dram_beat_gap(b, bandwidth) for b in (b_i, 1, b_o))
    g_ = gemm
    nonzero_rows = np.any(sign != 0, axis=2)
    c = dict.fromkeys(("busy_cycles", "rebuild_cycles", "rebuilt_rows", "rebuild_shifts",
                       "rebuild_adds", "code_buffer_writes", "code_buffer_reads",
                       "rebuilt_writes", "rebuilt_reads", "ifmap_writes", "ifmap_reads",
                       "weight_writes", "weight_reads", "acc_reads", "acc_writes",
                       "dram_code_bytes"), 0)
    ifmap_beats = 0
    g, free = 0, 0
    last_k = tiling.trips[2] - 1
    for nb, mb, kb, n_size, m_size, k_size in tiling.tiles().tolist():
        if mb == 0 and kb == 0:
            block = slice(nb * Cc, nb * Cc + n_size)
            nnz = int(np.count_nonzero(sign[block]))
            fixed, codes = B_BYTES * n_size + bitmap_bytes(n_size, rows), code_bytes(nnz)
            done, free = _code_load(g, free, fixed, codes, gap_c, latency)
            steps = int(rebuild_steps(nonzero_rows[block], WINDOW_ROWS))
            used_rows = int(np.count_nonzero(nonzero_rows[block]))
            g = max(done, g + rows) + steps
            c["rebuild_cycles"] += steps
            c["rebuilt_rows"] += used_rows
            c["rebuild_shifts"] += ROW_ENTRIES * nnz
            c["rebuild_adds"] += ROW_ENTRIES * (nnz - used_rows)
            c["code_buffer_writes"] += fixed + codes
            c["dram_code_bytes"] += fixed + codes
            c["code_buffer_reads"] += steps * BITMAP_READS + used_rows * (2 + B_BYTES)
            c["rebuilt_writes"] += rows * ROW_ENTRIES * Cc + ROW_ENTRIES * used_rows
        kn = k_size * n_size
        b, free, beats = time_load(g, free, False, mb * tiling.Mt, kb * tiling.Kt, 0, m_size,
                                   k_size, g_.P, g_.Q, g_.C, g_.H, g_.W, g_.R, g_.S, g_.stride,
                                   g_.padding, gap_i, gap_i, latency)
        ifmap_beats += beats
        fold = fold_length("ws", R, Cc, m_size)
        end = b + kn + 1 + fold - 1
        if kb == last_k:
            end, free = time_write_back(end, free, m_size, n_size, gap_o)
            c["acc_reads"] += m_size * Cc
        g = end + 2
        c["busy_cycles"] += fold
        c["rebuilt_reads"] += kn
        c["ifmap_writes"] += m_size * k_size
        c["ifmap_reads"] += R * m_size
        c["weight_writes"] += kn
        c["weight_reads"] += Cc * R
        c["acc_reads"] += m_size * Cc if kb else 0
        c["acc_writes"] += m_size * Cc
    return {"cycles": g + 1, **c,
            "dram_read_bytes": c["dram_code_bytes"] + ifmap_beats * b_i,
            "dram_write_bytes": g_.M * g_.K * b_o}


def synthetic_signs(op) -> np.ndarray:
    """Ce signs of SmartDeal's decomposition of seeded normal weights of the op's shape."""
    return synthetic_decomposition(op).sign


def cannot_run(arch: ArchSpec, op, dataflow: str) -> str | None:
    """Why the SmartDeal unit cannot run `op` under `dataflow` (None if it can)."""
    if dataflow != "ws":
        return f"the SmartDeal unit runs dataflow ws, not {dataflow!r}"
    if arch.scalesim is not None:
        return "a SCALE-Sim .cfg follows SCALE-Sim's timing"
    if op.groups != 1:
        return f"groups={op.groups}"
    if op.pe_op != REBUILT_MAC or op.ifmap_bits != arch.pe_array.ifmap_bits:
        return "the unit feeds the array's MACs at the array's ifmap width"
    try:
        check_arch(arch)
        SmartDealPlan.make(arch, gemm_of(op), REBUILT_BITS)
    except SpecError as exc:
        return str(exc)
    return None


def op_stats(arch: ArchSpec, op, dataflow: str, table) -> Stats:
    """Stats of `op` on the SmartDeal unit (one command per image) for the codes of
    `synthetic_signs`; cannot_run must be None. Energy: the table's MAC per MAC, the rebuild's
    shifts and adds at sim/method_costs' unit prices, buffer accesses per element at their
    widths (rebuilt weights REBUILT_BITS, code buffers bytes), DRAM per bit."""
    why = cannot_run(arch, op, dataflow)
    if why:
        raise SpecError(why)
    return counters_to_stats(arch, op, summed(command_counters(arch, op, dataflow)), dataflow,
                             table)


def command_counters(arch: ArchSpec, op, dataflow: str) -> list[dict]:
    """The timing model's counters of each command of `op`, one per image, for the codes of
    `synthetic_signs`."""
    return [smartdeal_timing(arch, gemm_of(op), synthetic_signs(op))] * op.N


def counters_to_stats(arch: ArchSpec, op, c: dict, dataflow: str, table) -> Stats:
    """A Stats record from the unit's counters (measured or modelled)."""
    pe = arch.pe_array
    levels = {operand: arch.shared_level(operand).name for operand in ("ifmap", "weight", "ofmap")}
    rebuilt = c["rebuilt_reads"] + c["weight_reads"], c["rebuilt_writes"] + c["weight_writes"]
    per_operand = {
        "ifmap": [(c["ifmap_reads"], c["ifmap_writes"], pe.ifmap_bits)],
        "weight": [(*rebuilt, REBUILT_BITS), (c["code_buffer_reads"], c["code_buffer_writes"], 8)],
        "ofmap": [(c["acc_reads"], c["acc_writes"], pe.psum_bits)],
    }
    accesses, sram, read_bytes, write_bytes = {}, 0.0, 0, 0
    for operand, parts in per_operand.items():
        level = levels[operand]
        accesses.setdefault(level, {})[operand] = {"reads": sum(p[0] for p in parts),
                                                   "writes": sum(p[1] for p in parts)}
        for reads, writes, bits in parts:
            sram += (reads * table.access_pj(level, bits, False)
                     + writes * table.access_pj(level, bits, True))
            read_bytes += reads * bits // 8
            write_bytes += writes * bits // 8
    ifmap_bytes = c["dram_read_bytes"] - c["dram_code_bytes"]
    accesses["dram"] = {
        "ifmap": {"reads": ifmap_bytes // element_bytes(pe.ifmap_bits), "writes": 0},
        "weight": {"reads": c["dram_code_bytes"], "writes": 0},
        "ofmap": {"reads": 0, "writes": c["dram_write_bytes"] // element_bytes(pe.psum_bits)}}
    pj = unit_op_pj(arch)
    ops = {"mult": op.pe_macs, "add": op.pe_macs, "rebuild_shift": c["rebuild_shifts"],
           "rebuild_add": c["rebuild_adds"]}
    energy = {"mac": op.pe_macs * rebuilt_mac_pj(arch, op), "rf": 0.0, "noc": 0.0, "sram": sram,
              "dram": (c["dram_read_bytes"] * 8 * table.dram_read_pj_per_bit
                       + c["dram_write_bytes"] * 8 * table.dram_write_pj_per_bit),
              "units": (c["rebuild_shifts"] * pj["rebuild_shift"]
                        + c["rebuild_adds"] * pj["rebuild_add"])}
    return Stats(macs=op.pe_macs, pe_ops=op.pe_macs, pe_count=arch.pe_count,
                 compute_cycles=c["busy_cycles"], stall_cycles=c["cycles"] - c["busy_cycles"],
                 energy_breakdown_pj=energy, dram_read_bytes=c["dram_read_bytes"],
                 dram_write_bytes=c["dram_write_bytes"], sram_read_bytes=read_bytes,
                 sram_write_bytes=write_bytes, weight_storage_bits=8 * c["dram_code_bytes"] // op.N,
                 ops=ops, accesses=accesses)
