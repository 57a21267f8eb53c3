"""A sweep of random layers through the three models of the mapped-program controller: the RTL
(hw/controller/, free-running: hw/controller/free_run.run_free), the cycle model's exact timing
(sim/cycle/controller_timing.py) and the analytical closed form (sim/controller_cost.py).

Per case (a random layer under ws, os or is on one arch, with the mapper's mapping or a random
one that fits, column tiles among them): the RTL's outputs bit-exact against the numba
reference, every command's counters (cycles included) equal to the timing model's and its
cycle count as the harness counted it equal to its own counter, and the analytical cycles
within 5% of the RTL's. Layers the controller cannot run (controller_runs) are skipped and
counted.

Three archs: edge_tiny (4 x 4), gemmini_like (16 x 16; its dataflows ws and os, plus is, which
its equal operand widths allow) and a non-square 5 x 3 array with small buffers and a narrow,
fractional DRAM port (1.5 bytes per cycle, 7 cycles of latency), built from edge_tiny with
overrides. `test_sweep_long` (`make test-long`) runs 60 layers x ws, os, is x the three archs on
Verilator; `test_sweep_short` a few small layers per dataflow on edge_tiny and the narrow
array on Icarus, in the normal suite.
"""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

from dlaforge.arch import arch_from_mapping, arch_mapping, load_arch
from dlaforge.hw.controller.free_run import run_free
from dlaforge.hw.controller.stimulus import ControllerJob
from dlaforge.program import CONTROLLER_DATAFLOWS, LOOP_ORDERS, Mapping, Shape, fits
from dlaforge.sim import controller_cost, controller_cycles
from dlaforge.sim.analytical import search
from dlaforge.sim.cycle.controller_timing import controller_counters
from dlaforge.sim.energy import energy_table
from dlaforge.workloads.hwop import HwOp
from simulators import needs, needs_icarus


def gemmini_is():
    """gemmini_like with is besides its ws and os (int8 operands: the controller builds it)."""
    data = arch_mapping("gemmini_like")
    data["name"] = "gemmini_like_is"
    data["pe_array"] = {**data["pe_array"], "dataflows": ["ws", "os", "is"]}
    return arch_from_mapping(data)


def narrow():
    """5 x 3 PEs, a 1 KiB scratchpad, a 512 B accumulator, 1.5 bytes per DRAM cycle."""
    data = arch_mapping("edge_tiny")
    data["name"] = "narrow5x3"
    data["pe_array"] = {**data["pe_array"], "rows": 5, "cols": 3}
    data["memory"] = [dict(level) for level in data["memory"]]
    data["memory"][1]["size_bytes"] = 1024
    data["memory"][2]["size_bytes"] = 512
    data["dram"] = {**data["dram"], "bandwidth_bytes_per_cycle": 1.5, "latency_cycles": 7}
    return arch_from_mapping(data)


def random_layer(rng: random.Random, most: int) -> tuple[Shape, int]:
    """(one group's shape, groups): kernels 1-3 (rectangular too) or 5, strides 1-3, padding,
    windows hanging past the bottom or right edge a quarter of the time, 1-4 groups, 1-2
    images."""
    R = rng.choice([r for r in (1, 2, 3, 3, 5) if r <= most])
    S = R if rng.random() < 0.7 else rng.choice([s for s in (1, 2, 3) if s <= most])
    stride = rng.choice([1, 1, 2, 3])
    pad = rng.choice([0, 1, 2]) if max(R, S) > 1 else 0
    H, W = rng.randint(max(R, 2), most), rng.randint(max(S, 2), most)
    P, Q = (H + 2 * pad - R) // stride + 1, (W + 2 * pad - S) // stride + 1
    if rng.random() < 0.25:
        P = -(-(H + 2 * pad - R) // stride) + 1
    if rng.random() < 0.25:
        Q = -(-(W + 2 * pad - S) // stride) + 1
    groups = rng.choice([1, 1, 1, 2, 4])
    channels = max(1, 2 * most // groups)
    return Shape(N=rng.choice([1, 1, 2]), C=rng.randint(1, channels), H=H, W=W,
                 K=rng.randint(1, channels), R=R, S=S, P=P, Q=Q, stride=stride,
                 padding=pad), groups


def hw_op(arch, shape: Shape, groups: int) -> HwOp:
    pe = arch.pe_array
    return HwOp(name="l", N=shape.N, K=shape.K * groups, C=shape.C * groups, P=shape.P,
                Q=shape.Q, R=shape.R, S=shape.S, H=shape.H, W=shape.W, stride=shape.stride,
                padding=shape.padding, groups=groups, ifmap_bits=pe.ifmap_bits,
                weight_bits=pe.weight_bits, psum_bits=pe.psum_bits, ofmap_bits=pe.ofmap_bits)


def random_mapping(arch, shape: Shape, rng: random.Random) -> Mapping | None:
    for _ in range(200):
        qt = rng.randint(1, shape.Q) if rng.random() < 0.3 else None
        m = Mapping(kt=rng.randint(1, shape.K), ct=rng.randint(1, shape.C),
                    pt=rng.randint(1, shape.P), qt=qt, order=rng.choice(LOOP_ORDERS))
        if fits(arch, W=shape.W, H=shape.H, R=shape.R, S=shape.S, Q=shape.Q,
                stride=shape.stride, padding=shape.padding, kt=m.kt, ct=m.ct, pt=m.pt,
                qt=m.qt):
            return m
    return None


def cases(arch, layers: int, most: int, seed: str):
    """(jobs, skipped): `layers` random layers under each dataflow the arch has (of the
    controller's), every other one under the mapper's mapping (energy), the rest under a
    random mapping that fits; operands and requantization (with or without ReLU, or none)
    random."""
    rng = random.Random(f"{arch.name} {seed}")
    data = np.random.default_rng(rng.randrange(1 << 30))
    table = energy_table(arch)
    jobs, skipped = [], 0
    for dataflow in (d for d in CONTROLLER_DATAFLOWS if d in arch.pe_array.dataflows):
        for index in range(layers):
            shape, groups = random_layer(rng, most)
            op = hw_op(arch, shape, groups)
            if not controller_cost.controller_runs(arch, op, dataflow):
                skipped += 1
                continue
            mapping = random_mapping(arch, shape, rng) if index % 2 else None
            mapping = mapping or search(arch, op, dataflow, "energy", table)[0]
            requant = rng.random() < 0.75
            jobs.append(ControllerJob.random(arch, shape, mapping, data, groups=groups,
                                             requant=requant,
                                             relu=requant and rng.random() < 0.5,
                                             dataflow=dataflow))
    return jobs, skipped


def check(jobs, results) -> list[float]:
    """Every case as the module doc says; the analytical model's relative cycle errors."""
    errors = []
    for job, result in zip(jobs, results):
        what = (job.arch.name, job.dataflow, job.shape, job.groups, job.mapping)
        assert np.array_equal(result.output, job.expected()), what
        model = controller_counters(job.arch, job.shape, job.mapping, job.requant is not None,
                                    dataflow=job.dataflow)
        assert len(result.per_command) == job.groups
        for counters, cycles in result.per_command:
            assert counters == model, what
            assert cycles == counters["cycles"], what
        mapping = job.mapping
        grid = {**mapping.as_grid(job.dataflow)}
        estimate = float(controller_cycles.cycles(job.arch, job.shape, grid, mapping.order,
                                                  requant=job.requant is not None,
                                                  dataflow=job.dataflow)[0])
        errors.append(abs(estimate - model["cycles"]) / model["cycles"])
        assert errors[-1] <= 0.05, (what, estimate, model["cycles"])
    return errors


def covered(jobs) -> set:
    """What the cases cover (names as in test_sweep_long's assertion)."""
    seen = set()
    for job in jobs:
        s, m = job.shape, job.mapping
        floor_p = (s.H + 2 * s.padding - s.R) // s.stride + 1
        floor_q = (s.W + 2 * s.padding - s.S) // s.stride + 1
        seen |= {f"{job.arch.name} {job.dataflow}", f"stride{s.stride}",
                 f"groups{job.groups > 1}", f"N{s.N}", f"pad{s.padding > 0}",
                 f"hanging{(s.P, s.Q) != (floor_p, floor_q)}",
                 f"qt{m.qt is not None and m.qt < s.Q}", m.order,
                 f"spill{m.ct < s.C and m.order.index('c') < 3}"}
    return seen


def sweep(archs, layers: int, sizes: list[int], sim: str, tmp_path, seed: str = "sweep"):
    """Run `layers` random layers per dataflow on each arch (channels and pixels a side up to
    its size in `sizes`), each command allowed twice the longest one's cycles (timing
    model)."""
    start = time.perf_counter()
    ran = skipped = 0
    errors, cycles, seen = [], 0, set()
    for arch, most in zip(archs, sizes):
        jobs, skips = cases(arch, layers, most, seed)
        longest = max(controller_counters(job.arch, job.shape, job.mapping,
                                          job.requant is not None,
                                          dataflow=job.dataflow)["cycles"] for job in jobs)
        results = run_free(jobs, tmp_path / arch.name, sim, 2 * longest + 10_000)
        errors += check(jobs, results)
        ran, skipped = ran + len(jobs), skipped + skips
        cycles += sum(result.cycles for result in results)
        seen |= covered(jobs)
    return {"ran": ran, "skipped": skipped, "worst": max(errors), "cycles": cycles,
            "seconds": time.perf_counter() - start, "seen": seen}


@pytest.mark.long
@needs("verilator")
def test_sweep_long(tmp_path):
    """60 layers x ws, os, is x three archs on Verilator; prints what it ran. The cases cover
    strides 1-3, padding, groups, two images, hanging windows, column tiles, spilled partial
    sums, every loop order and every dataflow on each arch."""
    archs = [load_arch("edge_tiny"), gemmini_is(), narrow()]
    summary = sweep(archs, 60, [16, 32, 12], "verilator", tmp_path)
    print(f"\ncontroller sweep: {summary['ran']} cases ran, {summary['skipped']} skipped "
          f"(the controller cannot run them), {summary['cycles']:,} RTL cycles, analytical "
          f"within {summary['worst']:.2%} of the RTL, {summary['seconds']:.0f} s")
    assert summary["ran"] >= 0.9 * 60 * 3 * 3
    assert summary["seen"] >= {"stride1", "stride2", "stride3", "groupsTrue", "N2", "padTrue",
                               "hangingTrue", "qtTrue", "spillTrue", *LOOP_ORDERS,
                               *(f"{a.name} {d}" for a in archs for d in ("ws", "os", "is"))}


@needs_icarus
def test_sweep_short(tmp_path):
    """Three small layers per dataflow on edge_tiny and the narrow array, on Icarus."""
    summary = sweep([load_arch("edge_tiny"), narrow()], 3, [5, 4], "icarus", tmp_path,
                    "short")
    assert summary["ran"] + summary["skipped"] == 3 * 3 * 2 and summary["ran"] >= 15
    assert {"edge_tiny ws", "edge_tiny os", "edge_tiny is", "narrow5x3 ws", "narrow5x3 os",
            "narrow5x3 is"} <= summary["seen"]
