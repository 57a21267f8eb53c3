"""SCALE-Sim's fixed mapping, for archs read from a SCALE-Sim .cfg.

SCALE-Sim maps a whole layer as one GEMM (M = ofmap pixels, N = filters, K = R*S*C) with no
on-chip tiling, and reports (REFERENCES.md §2, "SCALE-Sim 3.0"): total cycles = folds *
cycles_per_fold - 1 with no stalls in CALC mode; SRAM reads and writes by its closed forms,
including its quirks (os ofmap writes double-count folds*(R+C), scalesim-project/SCALE-Sim#166;
partial-sum reads never counted; every output write, partial sums included, goes to DRAM,
but the os double count does not).
DRAM reads here are each operand's unique elements, which is what SCALE-Sim's first-touch count
approaches; the cycle model passes the exact counts and stalls of its replay
(sim/cycle/scalesim_replay.py) as `replayed`.
"""

from __future__ import annotations

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp

from .array_cost import ceil_div, systolic_tile
from .energy import EnergyTable


def check_scalesim_op(op: HwOp) -> None:
    """SpecError unless SCALE-Sim's fixed mapping can run `op`."""
    if op.groups != 1:
        raise SpecError(f"layer {op.name!r}: SCALE-Sim has no grouped convolution "
                        f"(its topology marks depthwise layers with DP in the name)")
    if not op.plain_window:
        raise SpecError(f"layer {op.name!r}: SCALE-Sim has one stride and takes the ifmap as "
                        f"padded, so it cannot run {op.window_reason()}")
    if op.weight_is_activation and op.N > 1:
        raise SpecError(f"layer {op.name!r}: SCALE-Sim has one filter matrix per layer, not one "
                        f"per image (a batched product of two activations)")


def scalesim_stats(arch: ArchSpec, op: HwOp, dataflow: str, table: EnergyTable,
                   replayed=None) -> Stats:
    check_scalesim_op(op)
    rows, cols = arch.pe_array.rows, arch.pe_array.cols
    M, N, K = op.N * op.P * op.Q, op.K, op.C * op.R * op.S
    Sr, Sc, T = {"os": (M, N, K), "ws": (K, N, M), "is": (K, M, N)}[dataflow]
    folds = ceil_div(Sr, rows) * ceil_div(Sc, cols)
    per_fold = T + rows + cols - 2 if dataflow == "os" else 2 * rows + cols + T - 2
    if dataflow == "os":
        ifmap_reads, filter_reads = M * K * ceil_div(N, cols), K * N * ceil_div(M, rows)
        ofmap_writes = M * N + folds * (rows + cols)
    elif dataflow == "ws":
        ifmap_reads, filter_reads = M * K * ceil_div(N, cols), K * N
        ofmap_writes = M * N * ceil_div(K, rows)
    else:
        ifmap_reads, filter_reads = M * K, K * N * ceil_div(M, cols)
        ofmap_writes = M * N * ceil_div(K, rows)
    dram_reads = {"ifmap": op.ifmap_elements, "weight": op.weight_elements}
    # the os double count of #166 stays in the SRAM report; DRAM sees each output once
    dram_writes = M * N if dataflow == "os" else ofmap_writes
    stalls = 0
    if replayed is not None:
        dram_reads = {"ifmap": replayed.dram_ifmap_reads, "weight": replayed.dram_filter_reads}
        dram_writes, stalls = replayed.dram_ofmap_writes, replayed.stall_cycles
    # the PE-level counts (registers, hops) of the same GEMM as one tile: M = (N*P) * Q
    whole = systolic_tile(dataflow, rows, cols, op, op.K, op.C, op.N * op.P)
    sram = {"ifmap": (ifmap_reads, dram_reads["ifmap"]),
            "weight": (filter_reads, dram_reads["weight"]), "ofmap": (0, ofmap_writes)}
    energy = {"mac": float(whole.pe_ops) * table.mac_pj,
              "rf": float(sum(whole.rf_reads.values()) + sum(whole.rf_writes.values()))
              * 8 * table.noc_pj_per_bit,
              "noc": float(whole.noc_bits) * table.noc_pj_per_bit, "sram": 0.0,
              "dram": (dram_reads["ifmap"] + dram_reads["weight"]) * 8 * table.dram_read_pj_per_bit
              + dram_writes * 8 * table.dram_write_pj_per_bit}
    accesses = {"dram": {"ifmap": {"reads": dram_reads["ifmap"], "writes": 0},
                         "weight": {"reads": dram_reads["weight"], "writes": 0},
                         "ofmap": {"reads": 0, "writes": dram_writes}}}
    for operand, (reads, writes) in sram.items():
        level = arch.shared_level(operand).name
        energy["sram"] += reads * table.access_pj(level, 8, False) + writes * table.access_pj(level, 8, True)
        accesses.setdefault(level, {})[operand] = {"reads": reads, "writes": writes}
    sram_reads = ifmap_reads + filter_reads
    return Stats(macs=0, pe_ops=int(whole.pe_ops), pe_count=arch.pe_count,
                 compute_cycles=folds * per_fold - 1, stall_cycles=stalls,
                 energy_breakdown_pj=energy,
                 dram_read_bytes=dram_reads["ifmap"] + dram_reads["weight"],
                 dram_write_bytes=dram_writes, sram_read_bytes=sram_reads,
                 sram_write_bytes=ofmap_writes + dram_reads["ifmap"] + dram_reads["weight"],
                 weight_storage_bits=op.weight_storage_bits, ops=dict(op.ops), accesses=accesses)
