"""`dlaforge rtl verify`: the corner-case and random layers of hw/shapes.py, plus extreme
operands, on a user's own spec, in the chosen simulator, checked bit-exact against the numba
reference and for the testbench's cycle count equal to the accelerator's own counter.

The outputs are requantized (random per-channel scales that saturate some outputs both ways)
where the design has the requantization stage, as `--model rtl` runs layers; two more layers
per dataflow check the stage's ReLU and the psum_bits sums a method's unit takes. Without the
stage (arch not 8-bit, see rtl_plan.requant_refusal) every layer checks the sums."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError

from .job import LayerJob
from .accelerator import buildable
from .shapes import conv, shapes

SIMS = ("amaranth", "icarus", "verilator")


def verify(arch: ArchSpec, sim: str = "icarus", progress=lambda line: None) -> tuple[int, int]:
    """(passed, failed) over every dataflow the RTL builds for `arch`."""
    if sim not in SIMS:
        raise SpecError(f"unknown simulator {sim!r}; choose from {', '.join(SIMS)}")
    geo = buildable(arch)
    passed = failed = 0
    rng = np.random.default_rng(0)
    low = -(1 << (arch.pe_array.ifmap_bits - 1))
    for dataflow in geo.dataflows:
        cases = dict(shapes(geo.rows, geo.cols))
        requant = geo.requant
        jobs = [LayerJob.random(arch, dataflow, gemm, rng, requant=requant)
                for gemm in cases.values()]
        names = list(cases)
        padded = conv(2, 4, 4, 3, 3, 3, padding=1)
        for value in (low, 1):
            jobs.append(LayerJob.random(arch, dataflow, padded, rng, low=value, high=value + 1,
                                        requant=requant))
            names.append(f"all_{value}")
        if requant:
            jobs += [LayerJob.random(arch, dataflow, padded, rng, requant=True, relu=True),
                     LayerJob.random(arch, dataflow, padded, rng)]
            names += ["relu", "sums"]
        ok, bad = tally(dataflow, names, jobs, _run(jobs, sim), progress)
        passed, failed = passed + ok, failed + bad
    return passed, failed


def tally(dataflow: str, names, jobs, results, progress) -> tuple[int, int]:
    """(passed, failed) of jobs run: a job passes when its outputs equal its reference and the
    testbench's cycle count equals the design's own counter; a progress line each."""
    passed = failed = 0
    for name, job, result in zip(names, jobs, results):
        ok = (np.array_equal(result.output, job.expected())
              and result.testbench_cycles == result.perf["cycles"])
        passed, failed = passed + ok, failed + (not ok)
        progress(f"{dataflow} {name}: {'ok' if ok else 'MISMATCH'} "
                 f"({result.testbench_cycles} cycles)")
    return passed, failed


def _run(jobs, sim):
    if sim == "amaranth":
        from .sim_amaranth import run_amaranth
        return [run_amaranth(job) for job in jobs]
    from .sim_cocotb import run_cocotb
    with tempfile.TemporaryDirectory(prefix="dlaforge_verify_") as tmp:
        return run_cocotb(jobs, Path(tmp), sim)
