"""Bit Fusion hardware (`--method bitfusion`): the first accelerator (hw/accelerator.py) with
Bit Fusion PEs (hw/methods/bitfusion/pe.py: 16 BitBricks and the shift-add fusion tree) in its
array, generated for one precision (a_bits x w_bits): its elements are the fused words and a
layer's channels are packed into them (workloads/methods/bitfusion/plan.py), so loader,
buffers, fold engine, accumulator, writer, counters and command are the baseline's, the
baseline's testbench (hw/cocotb_tb.py) and runners drive it, and the baseline's timing model
times it (sim/methods/bitfusion.py). The writer requantizes at 8x8 (8-bit elements); at
narrower precisions the outputs are the psum_bits sums.

- `check(arch)`: SpecError unless the array can be built (pe_kind bitfusion, 8-bit operands,
  a dataflow of ws/os/is, buffers holding one tile);
- `generate(arch, out_dir, precision=(8, 8))`: `dlaforge_bitfusion.v` and its manifest, the
  accelerator for that precision;
- `verify(arch, sim)`: per precision of VERIFIED (8x8, 4x4, 2x2, and the mixed 8x4 and 2x8),
  one build: hw/shapes.py's corner-case layers with their channels scaled by the lanes (minus
  a few, so the last word has zero lanes) under the first dataflow, and under every dataflow
  it builds the extremes over a zero-padded window (every code the most negative, -128·-128,
  -8·-8, -2·-2; the most negative activations against the most positive weights), a
  non-square odd layer and, at 8x8, a ReLU layer and a layer of raw psum_bits sums; bit-exact
  against the Bit Fusion reference and with the testbench's cycles equal to the design's
  counter;
- `cell_stats(arch)`: Yosys cells of the fusion PE at 8x8, 4x4 and 2x2, of the runtime
  fusion unit (pe.FusionUnit) and of the fused array beside the int8 MAC PE and MAC array.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.outputs import publish_files
from dlaforge.workloads.methods.bitfusion.plan import (check, fused_arch, lanes,
                                                       precision_of, requantizes)
from dlaforge.workloads.methods.common import command_gemm

from ...accelerator import Accelerator, buildable
from ...array import SystolicArray
from ...pe import MacPE
from ...shapes import conv, shapes
from ...verify import SIMS, tally
from ...verilog import cell_stats as yosys_cells, manifest
from .. import OpRun, addernet, one_command_runs
from .pe import BitFusionPE, FusionUnit
from .stimulus import BitFusionJob, code_range

__all__ = ["check", "generate", "verify", "cell_stats", "cells_row", "run", "run_random"]
TOP = "dlaforge_bitfusion"
VERIFIED = ((8, 8), (4, 4), (2, 2), (8, 4), (2, 8))


def generate(arch: ArchSpec, out_dir: Path, precision: tuple = (8, 8)) -> tuple[Path, Path]:
    """Write the Bit Fusion accelerator for `precision` (a_bits, w_bits) and its manifest."""
    check(arch)
    built = fused_arch(arch, *precision)
    buildable(built)
    dut = Accelerator(built, pe=BitFusionPE)
    info = manifest(dut, built)
    info.update({"top": TOP, "arch": arch.name})
    info["parameters"].update({"method": "bitfusion", "precision": list(precision),
                               "pe": "16 2-bit BitBricks, shift-add fusion tree"})
    return publish_files(out_dir, {f"{TOP}.v": verilog.convert(dut, name=TOP),
                                   f"{TOP}.json": json.dumps(info, indent=1)})


def run(jobs: list[BitFusionJob], build_dir: Path, sim: str = "icarus") -> list:
    """Run BitFusionJobs of one precision (one fused arch) on one build; RtlResults."""
    return addernet.run(jobs, build_dir, sim, pe=BitFusionPE)


def run_grouped(jobs: list[BitFusionJob], build_dir: Path, sim: str) -> list:
    """Run jobs of several precisions, one build per precision (a subfolder each), in order."""
    results = [None] * len(jobs)
    for precision in dict.fromkeys(job.precision for job in jobs):
        indices = [i for i, job in enumerate(jobs) if job.precision == precision]
        done = run([jobs[i] for i in indices], build_dir / f"w{precision[0]}x{precision[1]}",
                   sim)
        for i, result in zip(indices, done):
            results[i] = result
    return results


def run_random(cases: list, build_dir: Path, rng, sim: str = "icarus") -> list[OpRun]:
    """One command of each case's fused op (an image and a group) on random codes of its
    precision, full lanes, as --schedule rtl runs it and sim/methods/bitfusion.py times it."""
    jobs = []
    for c in cases:
        precision = precision_of(c.op.ifmap_bits, c.op.weight_bits)
        packed = command_gemm(c.op)
        gemm = replace(packed, C=packed.C * lanes(*precision))
        jobs.append(BitFusionJob.random(c.arch, precision, c.dataflow, gemm, rng))
    return one_command_runs(jobs, run_grouped(jobs, build_dir, sim))


def scaled(gemm, n_lanes: int):
    """The shape with its channels scaled by the lanes, less half a word (zero lanes left)."""
    return replace(gemm, C=max(1, gemm.C * n_lanes - n_lanes // 2))


def verification_jobs(arch: ArchSpec, rng) -> tuple[list[str], list[BitFusionJob]]:
    """The cases of `verify` (module doc), named `<a>x<w> <case>` (tally puts the dataflow
    first)."""
    names, jobs = [], []
    for precision in VERIFIED:
        built = fused_arch(arch, *precision)
        dataflows = buildable(built).dataflows
        n, requant = lanes(*precision), requantizes(arch, *precision)
        tag = f"{precision[0]}x{precision[1]}"
        for name, gemm in shapes(built.pe_array.rows, built.pe_array.cols).items():
            names.append(f"{tag} {name}")
            jobs.append(BitFusionJob.random(arch, precision, dataflows[0], scaled(gemm, n), rng,
                                            requant=requant))
        (lo_a, hi_a), (lo_w, hi_w) = (code_range(bits) for bits in precision)
        padded = scaled(conv(3, 4, 4, 3, 3, 3, padding=1), n)
        shape_x, shape_w = (padded.C, padded.H, padded.W), (padded.K, padded.C, 3, 3)
        for dataflow in dataflows:
            for name, (x, w) in {"all_min": (lo_a, lo_w),
                                 "min_act_max_weight": (lo_a, hi_w - 1)}.items():
                names.append(f"{tag} {name}")
                jobs.append(BitFusionJob.of(arch, precision, dataflow, padded,
                                            np.full(shape_x, x), np.full(shape_w, w), rng,
                                            requant=requant))
            names.append(f"{tag} odd_nonsquare")
            jobs.append(BitFusionJob.random(arch, precision, dataflow,
                                            scaled(conv(3, 7, 5, 5, 3, 2, stride=2, padding=1),
                                                   n), rng, requant=requant))
            if requant:
                names += [f"{tag} relu", f"{tag} sums"]
                jobs += [BitFusionJob.random(arch, precision, dataflow, padded, rng, relu=True),
                         BitFusionJob.random(arch, precision, dataflow, padded, rng,
                                             requant=False)]
    return names, jobs


def verify(arch: ArchSpec, sim: str = "icarus", progress=lambda line: None,
           cases=None) -> tuple[int, int]:
    """(passed, failed): outputs bit-exact against the Bit Fusion reference and the
    testbench's cycles equal to the design's counter; `cases(arch, rng)` gives the (names,
    jobs) (default: verification_jobs)."""
    if sim not in SIMS:
        raise SpecError(f"unknown simulator {sim!r}; choose from {', '.join(SIMS)}")
    check(arch)
    names, jobs = (cases or verification_jobs)(arch, np.random.default_rng(0))
    if sim == "amaranth":
        results = run_grouped(jobs, Path("."), sim)
    else:
        with tempfile.TemporaryDirectory(prefix="dlaforge_bitfusion_") as tmp:
            results = run_grouped(jobs, Path(tmp), sim)
    passed = failed = 0
    for name, job, result in zip(names, jobs, results):
        ok, bad = tally(job.dataflow, [name], [job], [result], progress)
        passed, failed = passed + ok, failed + bad
    return passed, failed


def cell_stats(arch: ArchSpec) -> dict:
    """Yosys cells of the fusion PE built for 8x8, 4x4 and 2x2, of the runtime-precision
    fusion unit, and of the 8x8 fused array, beside the int8 MAC PE and MAC array of the same
    rows x cols, psum_bits and dataflows, with ratios."""
    check(arch)
    pe = arch.pe_array
    built = fused_arch(arch)
    dataflows = buildable(built).dataflows
    stats = {}
    for precision in ((8, 8), (4, 4), (2, 2)):
        words = fused_arch(arch, *precision).pe_array
        stats[f"fusion_pe_{precision[0]}x{precision[1]}"] = yosys_cells(
            BitFusionPE(words.ifmap_bits, words.weight_bits, pe.psum_bits, dataflows),
            "fusion_pe")
    stats["fusion_unit_runtime"] = yosys_cells(FusionUnit(), "fusion_unit")
    stats["mac_pe"] = yosys_cells(MacPE(8, 8, pe.psum_bits, dataflows), "mac_pe")
    stats["fusion_array"] = yosys_cells(SystolicArray(pe.rows, pe.cols, 8, 8, pe.psum_bits,
                                                      dataflows, pe=BitFusionPE), "fusion_array")
    stats["mac_array"] = yosys_cells(SystolicArray(pe.rows, pe.cols, 8, 8, pe.psum_bits,
                                                   dataflows), "mac_array")
    stats["pe_ratio"] = stats["fusion_pe_8x8"]["total"] / stats["mac_pe"]["total"]
    stats["array_ratio"] = stats["fusion_array"]["total"] / stats["mac_array"]["total"]
    stats["dataflows"] = list(dataflows)
    return stats


def cells_row(x: dict) -> tuple[str, ...]:
    others = ", ".join(f"{k.split('_')[-1]} PE {x[k]['total']:,}"
                       for k in ("fusion_pe_4x4", "fusion_pe_2x2"))
    return ("bitfusion", "fusion PE 8x8 (16 BitBricks), 32-bit sum",
            f"{x['fusion_pe_8x8']['total']:,}", ", ".join(x["dataflows"]),
            f"{x['mac_pe']['total']:,}", f"{x['pe_ratio']:.2f}",
            f"{x['fusion_array']['total']:,}", f"{x['mac_array']['total']:,}",
            f"{x['array_ratio']:.2f}",
            f"{others}; runtime-precision fusion unit {x['fusion_unit_runtime']['total']:,}")
