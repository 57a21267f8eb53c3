"""`--model rtl`: run every layer of a network on the generated accelerator and return a
RunRecord built from its counters (an entry point: it imports hw, sim and workloads).

Each layer is one command per image and group on the RTL (Icarus when installed, else Amaranth's
simulator); its outputs, requantized to ofmap_bits with random per-channel scales, are checked
bit-exact against the numba reference with random int operands, and its counters become Stats
through sim/rtl_program.stats_from_counters.
A layer whose timing model predicts more than MAX_RTL_CYCLES is refused before anything runs.
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


def check_rtl_dataflow(arch: ArchSpec, dataflow: str) -> None:
    """SpecError unless the RTL can run `dataflow` on `arch` (checked before any run)."""
    from .rtl_plan import Gemm, RtlPlan
    RtlPlan.make(arch, dataflow, Gemm.matmul(1, 1, 1))


def run_rtl_network(arch: ArchSpec, network, dataflow: str, method: str, batch: int,
                    version: str, objective: str = "energy") -> RunRecord:
    from .hw.job import LayerJob
    from .hw.sim_amaranth import run_amaranth
    from .hw.sim_cocotb import build, run_cocotb, simulator_available
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
    planned = []
    for layer in network.layers:
        if layer.kind == "vector":
            raise SpecError(f"--model rtl cannot run layer {layer.name!r} ({layer.op}): the "
                            f"generated accelerator has no vector unit")
        for op in chosen.transform(layer, arch):
            if rtl_layer_reason(op) is not None:
                raise SpecError(f"--model rtl cannot run layer {layer.name!r}: "
                                f"{rtl_layer_reason(op)}")
            gemm = gemm_of(op)
            check_rtl_tiles(arch, dataflow, gemm, commands_of(op), layer.name)
            cycles = rtl_timing(arch, dataflow, gemm, requant=True).cycles * commands_of(op)
            if cycles > MAX_RTL_CYCLES:
                raise SpecError(f"layer {layer.name!r} needs {cycles} cycles on the RTL, more "
                                f"than --model rtl simulates ({MAX_RTL_CYCLES}); use --model "
                                f"cycle, whose RTL timing model gives the same cycles")
            planned.append((layer, op, gemm))
    table = energy_table(arch)
    icarus = simulator_available("icarus") is None
    rng = np.random.default_rng(0)
    stats_by_layer = {}
    with tempfile.TemporaryDirectory(prefix="dlaforge_rtl_") as tmp:
        runner = build(arch, Path(tmp)) if icarus else None
        for layer, op, gemm in planned:
            jobs = [LayerJob.random(arch, dataflow, gemm, rng, requant=True)
                    for _ in range(commands_of(op))]
            results = (run_cocotb(jobs, Path(tmp), runner=runner) if icarus
                       else [run_amaranth(job) for job in jobs])
            for job, result in zip(jobs, results):
                if not np.array_equal(result.output, job.expected()):
                    raise RunError(f"RTL output of layer {layer.name!r} ({dataflow}) differs "
                                   f"from the reference")
                stats = stats_from_counters(arch, op.pe_macs // commands_of(op), result.perf, table,
                                            dataflow, requant_channels=gemm.K)
                prev = stats_by_layer.get(layer.name)
                stats_by_layer[layer.name] = stats if prev is None else prev + stats
    records = []
    for layer in network.layers:
        stats: Stats = replace(stats_by_layer[layer.name], macs=layer.macs)
        records.append(LayerRecord(name=layer.name, kind=layer.kind, shape=layer.shape(),
                                   stats=stats, mapping={"fixed": "rtl"}))
    return RunRecord(version=version, arch=arch.name, network=network.name, dataflow=dataflow,
                     model="rtl", method=method, batch=batch, objective=objective,
                     layers=tuple(records))
