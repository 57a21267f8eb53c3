"""The generated accelerator's program (accelerator_plan, run by dlaforge.hw) as the models
price it under `--schedule rtl`, and its closed-form analytical estimate.

A HwOp is `commands_of(op)` commands, one per image and group (`gemm_of`); each command is
its plan's tiles, one array fold each, visited n-block, m-block, kd-block (innermost). Every
counter of the RTL except the cycle count is a closed form of the tiles (`program_counters`);
the cycles come from the exact timing model (sim/cycle/rtl_timing.py, equal to the RTL in
tests/hw/test_icarus.py) or, here, from a closed form:

Per tile i: its fold F_i (accelerator_plan.fold_length); its DRAM step S_i, the loader's beats
(one element per beat, `dram_beat_gap` cycles each; a zero-padding element one cycle and no beat,
spread evenly over the tiles), the DRAM latency and the engine's two state cycles, plus the
write-back of the output tile that left the accumulator two tiles before, a fetch cycle per row
and a beat per element (with requantized outputs, before an n-block's first write-back the
fetch of its filters' parameters: REQUANT_PIECES one-byte beats per filter, the latency and
two cycles). A load refills the buffer half the array left one tile earlier, so the
DRAM engine and the array form a two-stage pipeline:
  cycles = S_0 + sum_{i>=1} max(F_{i-1}, S_i) + F_{T-1} + the last output's write-back + 4.
It ignores that a load also waits for the channel when the previous step ran long and the
interleaving of response arrivals with padding elements; tests/sim/test_rtl_program.py bounds
the difference to the exact timing.
"""

from __future__ import annotations

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.program import (REQUANT_PIECES, binarizer_beat_refusal, element_bytes,
                              packed_run_refusal, requant_refusal)
from dlaforge.workloads.methods.accelerator_plan import (RTL_DATAFLOWS, Gemm, RtlPlan,
                                                         dram_beat_gap, fold_length)
from dlaforge.stats import Stats
from dlaforge.workloads.hwop import HwOp
from dlaforge.workloads.methods.common import command_gemm as gemm_of  # noqa: F401


def commands_of(op: HwOp) -> int:
    """How many commands the accelerator runs for a HwOp: one per image and group."""
    return op.N * op.groups


def rtl_layer_reason(op: HwOp) -> str | None:
    """What of the layer's own shape no generated accelerator (any method's) runs: its loader
    walks one stride, one symmetric padding, no dilation, and one weight matrix per command."""
    if op.weight_is_activation:
        return "both operands are activations (the RTL's operand B is a stored weight)"
    if not op.plain_window:
        return (f"its loader has one stride, symmetric padding and no dilation, not "
                f"{op.window_reason()}")
    return None


def rtl_cannot_run(arch: ArchSpec, op: HwOp, dataflow: str, datapath=None) -> str | None:
    """Why the generated RTL cannot run `op` under `dataflow` (None if it can). `datapath`
    (workloads/methods/datapath.py, the controller's): its PEs run ops of its `pe_ops` (the
    array's geometry checked as the MAC array's); None: MAC ops only (the first
    accelerator's, and the baseline controller's)."""
    pe = arch.pe_array
    if arch.scalesim is not None:
        return "a SCALE-Sim .cfg follows SCALE-Sim's timing"
    if rtl_layer_reason(op) is not None:
        return rtl_layer_reason(op)
    if dataflow not in RTL_DATAFLOWS:
        return f"the RTL runs dataflows {', '.join(RTL_DATAFLOWS)}, not {dataflow!r}"
    if arch.dram.compression != "none":
        return f"DRAM compression (dram.compression {arch.dram.compression})"
    if op.pe_op not in (datapath.pe_ops if datapath is not None else ("mac",)):
        return "a method's units or operations"
    if datapath is not None and (why := datapath.arch_refusal(arch)):
        return why
    sliced = datapath is not None and datapath.slices_of(op) != (1, 1)   # slice passes
    # a binarizing datapath's own op reads int8 activations (its ifmap's dram_scale)
    binarized = (datapath is not None and datapath.binarizes
                 and datapath.mode_of(op.pe_op) == 0)
    # ... and a datapath rebuilding its own op's weights reads their code regions
    rebuilt = (datapath is not None and datapath.rebuilt_bits
               and datapath.mode_of(op.pe_op) == 0)
    # ... and a transforming datapath's own op moves the raw layer (Datapath.tap_transform)
    transformed = (datapath is not None and datapath.tap_transform is not None
                   and datapath.mode_of(op.pe_op) == 0)
    if transformed and not op.tap_layer:
        return f"a {op.pe_op} op names no layer to transform (HwOp.tap_layer)"
    allowed = ({"ofmap"} if sliced else {"ifmap"} if binarized else {"weight"} if rebuilt
               else {"ifmap", "ofmap"} if transformed else set())
    if op.dram_scale and not set(op.dram_scale) <= allowed:
        return "a method's units or operations"
    if rebuilt and op.groups > 1:
        return (f"the {datapath.family} datapath's code regions are laid out for one group "
                f"(a grouped layer's are not built)")
    packed = datapath is not None and datapath.packs(op.pe_op)
    weight_bits = datapath.weight_bits if packed else pe.weight_bits
    widths = (datapath.op_bits(arch, op.pe_op) if datapath is not None
              else (pe.ifmap_bits, pe.weight_bits))
    if (op.ifmap_bits, op.weight_bits) != widths:
        return "operand widths other than the array's"
    if binarized and (why := binarizer_beat_refusal(arch.dram.bandwidth_bytes_per_cycle)):
        return why
    if datapath is not None and not datapath.runs_under(op.pe_op, dataflow):
        return (f"the {datapath.family} PEs run {op.pe_op} under "
                f"{', '.join(datapath.own_dataflows)} only")
    if packed and (why := packed_run_refusal(arch, weight_bits)):
        return why
    if datapath is not None and pe.pe_kind != "mac":
        from dataclasses import replace
        arch = replace(arch, pe_array=replace(pe, pe_kind="mac"))
    # a datapath of activation codes, or of operands of their own width, requantizes
    # whatever the arch's element width (Datapath.requant_elements)
    elements = datapath.requant_elements if datapath is not None else "byte"
    try:
        RtlPlan.make(arch, dataflow, gemm_of(op), requant=elements == "byte")
    except SpecError as exc:
        return str(exc)
    return requant_refusal(arch, elements) if elements != "byte" else None


def output_bits(plan: RtlPlan) -> int:
    """Width of an output element the plan writes to DRAM: ofmap_bits when requantized, else
    the psum_bits sum."""
    pe = plan.arch.pe_array
    return pe.ofmap_bits if plan.requant else pe.psum_bits


def streamed_and_folds(plan: RtlPlan, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per tile: the rows streamed through its fold (ws: m, os: kd, is: n) and the fold's
    cycles."""
    n_size, m_size, k_size = tiles[:, 3], tiles[:, 4], tiles[:, 5]
    streamed = {"ws": m_size, "os": k_size, "is": n_size}[plan.dataflow]
    pe = plan.arch.pe_array
    return streamed, fold_length(plan.dataflow, pe.rows, pe.cols, streamed)


def program_counters(plan: RtlPlan, cycles: int, ifmap_beats: int) -> dict:
    """The RTL's counters (hw/layouts.COUNTERS) of one command, given its cycles and the
    number of ifmap elements its loads read from DRAM (the rest follow from the tiles)."""
    pe = plan.arch.pe_array
    rows, cols = pe.rows, pe.cols
    tiles = plan.tiles()
    n_size, m_size, k_size = tiles[:, 3], tiles[:, 4], tiles[:, 5]
    os_, is_ = plan.dataflow == "os", plan.dataflow == "is"
    streamed, fold_len = streamed_and_folds(plan, tiles)
    first = tiles[:, 2] == 0
    last = tiles[:, 2] == plan.trips[2] - 1
    acc_rows = np.full_like(m_size, rows) if os_ else streamed
    acc_rmw = int((acc_rows * cols)[~first].sum())
    a_block, b_block = m_size * k_size, k_size * n_size
    # is swaps the buffers: the ifmap buffer streams weights, the weight buffer holds ifmap
    ifmap_buf_writes, weight_buf_writes = (b_block, a_block) if is_ else (a_block, b_block)
    written_rows = n_size if is_ else m_size
    b_i, b_w, b_o = (element_bytes(bits) for bits in (pe.ifmap_bits, pe.weight_bits,
                                                        output_bits(plan)))
    param_bytes = REQUANT_PIECES * plan.gemm.K if plan.requant else 0
    return {
        "cycles": int(cycles),
        "busy_cycles": int(fold_len.sum()),
        "ifmap_reads": int(rows * streamed.sum()),
        "ifmap_writes": int(ifmap_buf_writes.sum()),
        "weight_reads": int(cols * (k_size.sum() if os_ else rows * len(tiles))),
        "weight_writes": int(weight_buf_writes.sum()),
        "acc_reads": acc_rmw + int((written_rows * cols)[last].sum()),
        "acc_writes": int((acc_rows * cols).sum()),
        "dram_read_bytes": int(ifmap_beats * b_i + b_block.sum() * b_w + param_bytes),
        "dram_write_bytes": int(plan.gemm.M * plan.gemm.K * b_o),
    }


def _inside(out: int, kernel: int, stride: int, padding: int, size: int) -> int:
    """How many (output position, kernel tap) pairs along one axis read inside the image."""
    taps = np.arange(kernel)[:, None] + stride * np.arange(out)[None, :] - padding
    return int(((taps >= 0) & (taps < size)).sum())


def ifmap_beats(plan: RtlPlan) -> int:
    """ifmap elements one command reads from DRAM: every A block is loaded once per n-block,
    and an im2col element is read unless it is zero padding."""
    g = plan.gemm
    inside = g.C * _inside(g.P, g.R, g.stride, g.padding, g.H) * _inside(
        g.Q, g.S, g.stride, g.padding, g.W)
    return plan.trips[0] * inside


def analytical_cycles(plan: RtlPlan, bandwidth: float, latency: int) -> int:
    """The closed form of the module docstring for one command."""
    pe = plan.arch.pe_array
    tiles = plan.tiles()
    n_size, m_size, k_size = tiles[:, 3], tiles[:, 4], tiles[:, 5]
    _, folds = streamed_and_folds(plan, tiles)
    gap_i, gap_w, gap_o = (dram_beat_gap(element_bytes(bits), bandwidth)
                           for bits in (pe.ifmap_bits, pe.weight_bits, output_bits(plan)))
    a_block = m_size * k_size
    inside = ifmap_beats(plan) / max(int(a_block.sum()), 1)     # share of A read from DRAM
    loads = (a_block * (inside * gap_i + (1 - inside)) + k_size * n_size * gap_w
             + max(1, latency) + 2)
    if plan.dataflow == "ws":
        loads = loads + _row_end_waits(plan, tiles, max(1, latency))
    rows, lanes = (n_size, m_size) if plan.dataflow == "is" else (m_size, n_size)
    writes = np.where(tiles[:, 2] == plan.trips[2] - 1, rows * (2 + (lanes - 1) * gap_o) + 1, 0)
    if plan.requant:        # the parameter fetch before an n-block's first write-back
        fetch = (REQUANT_PIECES * n_size - 1) * dram_beat_gap(1, bandwidth) + max(1, latency) + 2
        writes = writes + np.where((tiles[:, 2] == plan.trips[2] - 1) & (tiles[:, 1] == 0),
                                   fetch, 0)
    steps = loads.astype(np.float64)
    steps[2:] += writes[:-2]
    body = np.maximum(folds[:-1], steps[1:]).sum()
    return int(round(steps[0] + body + folds[-1] + writes[-1] + 4))


def _row_end_waits(plan: RtlPlan, tiles: np.ndarray, latency: int) -> np.ndarray:
    """Per ws tile, the cycles its loader waits to write zero padding. The A block is loaded
    pixel by pixel, and where one output row ends and the next begins, the taps reaching past
    the image's right or left edge are zeros. A zero is written in a cycle in which no DRAM
    data arrives; after a run of at least `latency` fetched elements data arrives every cycle,
    so each such group of zeros waits up to `latency` cycles (the run fetched since the
    previous group, if shorter): one group per row boundary inside the tile, plus one at the
    tile's end when it ends a row and taps reach past the right edge (a group at the tile's
    start waits for nothing: no data is in flight yet)."""
    g = plan.gemm
    m0 = tiles[:, 1] * plan.Mt
    m_size, k_size = tiles[:, 4], tiles[:, 5]
    s = (tiles[:, 2:3] * plan.Kt + np.arange(plan.Kt)[None, :]) % (g.R * g.S) % g.S
    in_tile = np.arange(plan.Kt)[None, :] < k_size[:, None]
    left = ((s - g.padding < 0) & in_tile).any(axis=1)
    right = (((g.Q - 1) * g.stride + s - g.padding >= g.W) & in_tile).any(axis=1)
    last = m0 + m_size - 1
    groups = np.where(left | right, last // g.Q - m0 // g.Q, 0)
    groups += right & (last % g.Q == g.Q - 1)
    run = np.minimum(m_size, g.Q) * k_size
    return groups * np.minimum(latency, run)


def analytical_rtl_stats(arch: ArchSpec, op: HwOp, dataflow: str, table) -> Stats:
    """Stats of one HwOp under the RTL's schedule (requantized outputs) from the closed form
    (the analytical model of `--schedule rtl`): the counters exact, the cycles estimated."""
    plan = RtlPlan.make(arch, dataflow, gemm_of(op), requant=True)
    cycles = analytical_cycles(plan, arch.dram.bandwidth_bytes_per_cycle,
                               arch.dram.latency_cycles)
    counters = program_counters(plan, cycles, ifmap_beats(plan))
    return op_stats_from_counters(arch, op, counters, table, dataflow, requant=True)


def op_stats_from_counters(arch: ArchSpec, op: HwOp, counters: dict, table,
                           dataflow: str, requant: bool = False) -> Stats:
    """Stats of a whole HwOp from the counters of one of its commands (`requant`: commands
    with requantized outputs)."""
    all_commands = {name: value * commands_of(op) for name, value in counters.items()}
    channels = gemm_of(op).K * commands_of(op) if requant else 0
    return stats_from_counters(arch, op.pe_macs, all_commands, table, dataflow, channels)


def rtl_mapping(arch: ArchSpec, op: HwOp, dataflow: str) -> dict:
    """The record's `mapping` of an op under the RTL's schedule: its tiles and commands."""
    plan = RtlPlan.make(arch, dataflow, gemm_of(op))
    return {"schedule": "rtl", "Mt": plan.Mt, "Kt": plan.Kt, "Nt": plan.Nt,
            "tiles": int(np.prod(plan.trips)), "commands": commands_of(op)}


def stats_from_counters(arch: ArchSpec, macs: int, counters: dict, table,
                        dataflow: str = "ws", requant_channels: int = 0,
                        param_bytes: int | None = None) -> Stats:
    """A Stats record from the RTL's counters (measured, or from `rtl_timing`), priced with the
    energy table. Buffer accesses are per element on the levels holding each operand (the
    accumulator's at psum width); DRAM reads split into weights (every weight element the
    loader wrote came from DRAM, plus the requantization parameters: REQUANT_PIECES bytes per
    filter of each command, `requant_channels` filters in all, or `param_bytes` where given: the
    controller's tables, laid out by the quantizer) and ifmap (the rest); DRAM
    output writes are ofmap_bits wide with requantization, else psum_bits. Register-file and
    inter-PE energies are not counted by the RTL and stay 0. Under is the ifmap buffer holds the
    weights and the weight buffer the ifmap, so their counters are the other operand's."""
    pe = arch.pe_array
    b_i, b_w = element_bytes(pe.ifmap_bits), element_bytes(pe.weight_bits)
    buffer_of = ({"ifmap": "weight", "weight": "ifmap"} if dataflow == "is"
                 else {"ifmap": "ifmap", "weight": "weight"})
    buffer_of["ofmap"] = "acc"
    if param_bytes is None:
        param_bytes = REQUANT_PIECES * requant_channels
    weight_dram_bytes = counters[f"{buffer_of['weight']}_writes"] * b_w + param_bytes
    ifmap_dram_bytes = counters["dram_read_bytes"] - weight_dram_bytes
    out_bits = pe.ofmap_bits if requant_channels else pe.psum_bits
    accesses = {}
    sram_energy = 0.0
    sram_read_bytes = sram_write_bytes = 0
    for operand, bits in (("ifmap", pe.ifmap_bits), ("weight", pe.weight_bits),
                          ("ofmap", pe.psum_bits)):
        level, prefix = arch.shared_level(operand).name, buffer_of[operand]
        reads, writes = counters[f"{prefix}_reads"], counters[f"{prefix}_writes"]
        accesses.setdefault(level, {})[operand] = {"reads": reads, "writes": writes}
        sram_energy += (reads * table.access_pj(level, bits, False)
                        + writes * table.access_pj(level, bits, True))
        sram_read_bytes += reads * bits // 8
        sram_write_bytes += writes * bits // 8
    accesses["dram"] = {
        "ifmap": {"reads": ifmap_dram_bytes // b_i, "writes": 0},
        "weight": {"reads": weight_dram_bytes // b_w, "writes": 0},
        "ofmap": {"reads": 0,
                  "writes": counters["dram_write_bytes"] // element_bytes(out_bits)}}
    energy = {"mac": macs * table.mac_pj, "rf": 0.0, "noc": 0.0, "sram": sram_energy,
              "dram": (counters["dram_read_bytes"] * 8 * table.dram_read_pj_per_bit
                       + counters["dram_write_bytes"] * 8 * table.dram_write_pj_per_bit)}
    return Stats(macs=macs, pe_ops=macs, pe_count=arch.pe_count,
                 compute_cycles=counters["busy_cycles"],
                 stall_cycles=counters["cycles"] - counters["busy_cycles"],
                 energy_breakdown_pj=energy, dram_read_bytes=counters["dram_read_bytes"],
                 dram_write_bytes=counters["dram_write_bytes"],
                 sram_read_bytes=sram_read_bytes, sram_write_bytes=sram_write_bytes,
                 weight_storage_bits=0, ops={"mult": macs, "add": macs}, accesses=accesses)
