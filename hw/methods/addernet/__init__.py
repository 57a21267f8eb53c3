"""AdderNet hardware (`--method addernet`): the first accelerator (hw/accelerator.py) with
adder PEs (hw/methods/addernet/pe.py) in its array, output stationary.

Everything but the PE is the baseline's: loader, buffers, fold engine, accumulator,
requantizing writer, counters and command, so the baseline's testbench (hw/cocotb_tb.py) and
runners drive it and the baseline's timing model times it (sim/methods/addernet.py). Its jobs
(hw/methods/addernet/stimulus.py) check the outputs against the adder reference
(workloads/methods/addernet/reference.adder_conv_int, padded taps counting |0 - w|).

- `check(arch)`: SpecError unless the array can be built (pe_kind adder, dataflow os, buffers
  holding one tile);
- `generate(arch, out_dir)`: `dlaforge_addernet.v` and `dlaforge_addernet.json`;
- `verify(arch, sim)`: hw/shapes.py's corner-case layers, the int8 extremes (every operand
  -128 or 127, and -128 activations against 127 weights, the largest |x - w|) over padded
  windows, and a ReLU layer, bit-exact and with the testbench's cycles equal to the design's
  counter;
- `cell_stats(arch)`: Yosys cells of one adder PE and the adder array beside the int8 MAC PE
  and MAC array of the same size (os only, as built).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.outputs import publish_files
from dlaforge.workloads.methods.addernet.plan import DATAFLOW, adder_arch, check
from dlaforge.workloads.methods.common import command_gemm

from ...accelerator import Accelerator
from ...array import SystolicArray
from ...pe import MacPE
from ...shapes import conv, shapes
from ...verify import SIMS, tally
from ...verilog import TOP as ACCEL_TOP, cell_stats as yosys_cells, manifest
from .. import OpRun, one_command_runs
from .pe import AdderPE
from .stimulus import AdderJob

__all__ = ["check", "generate", "verify", "cell_stats", "cells_row", "run", "run_random",
           "CONTROLLER_PE"]
TOP = "dlaforge_addernet"
CONTROLLER_PE = AdderPE     # the PE of the controller's adder datapath (plan.CONTROLLER_DATAPATH)


PARAMETERS = {"method": "addernet", "pe": "c - |a - w| (no multiplier)",
              "padding": "padded taps count |0 - w|"}


def design(arch: ArchSpec, pe=AdderPE) -> Accelerator:
    """The adder accelerator of `arch` (after `check`); `pe`: the PE class in its array (a
    MacPE with its `accumulate` overridden: AdderPE, or another operation of the adder PE
    kind, as hw/methods/bwn/'s)."""
    check(arch)
    return Accelerator(adder_arch(arch), pe=pe)


def write_design(arch: ArchSpec, out_dir: Path, top: str = None, pe=AdderPE,
                 parameters: dict = PARAMETERS) -> tuple[Path, Path]:
    """Write the accelerator with `pe` in its array as `<top>.v` and its manifest, which names
    the method's `parameters`, into `out_dir`."""
    top = top or TOP
    dut = design(arch, pe)
    info = manifest(dut, adder_arch(arch))
    info.update({"top": top, "arch": arch.name})
    info["parameters"].update(parameters)
    return publish_files(out_dir, {f"{top}.v": verilog.convert(dut, name=top),
                                   f"{top}.json": json.dumps(info, indent=1)})


def generate(arch: ArchSpec, out_dir: Path) -> tuple[Path, Path]:
    """Write the adder accelerator's Verilog and manifest into `out_dir`."""
    return write_design(arch, out_dir, TOP)


def run(jobs: list[AdderJob], build_dir: Path, sim: str = "icarus", pe=AdderPE) -> list:
    """Run AdderJobs (one arch) on one build of the design (with `pe` in its array);
    RtlResults."""
    if sim == "amaranth":
        from ...run_amaranth import run_amaranth
        return [run_amaranth(job, dut=Accelerator(job.arch, pe=pe)) for job in jobs]
    from ...run_cocotb import compile_verilog, require_simulator, run_cocotb
    require_simulator(sim)
    build_dir.mkdir(parents=True, exist_ok=True)
    arch = jobs[0].arch          # the plan view (pe_kind mac, os), as AdderJob holds it
    dut = Accelerator(arch, pe=pe)
    files = {f"{ACCEL_TOP}.v": verilog.convert(dut, name=ACCEL_TOP),
             f"{ACCEL_TOP}.json": json.dumps(manifest(dut, arch), indent=1)}
    verilog_path, _ = publish_files(build_dir, files)
    runner = compile_verilog(verilog_path, ACCEL_TOP, build_dir, sim)
    return run_cocotb(jobs, build_dir, sim, runner=runner)


def run_random(cases: list, build_dir: Path, rng, sim: str = "icarus") -> list[OpRun]:
    """One command of each case's adder op (an image and a group) on random int8 operands,
    requantized, as --schedule rtl runs it and sim/methods/addernet.py times it."""
    jobs = [AdderJob.random(c.arch, command_gemm(c.op), rng) for c in cases]
    return one_command_runs(jobs, run(jobs, build_dir, sim))


def adder_extremes(low: int, high: int) -> dict:
    """The extreme cases' (activation, weight): all -128, all 127, -128 against 127."""
    return {"all_min": (low, low), "all_max": (high, high), "min_act_max_weight": (low, high)}


def verification_jobs(arch: ArchSpec, rng, job=AdderJob, extremes=adder_extremes,
                      relu_range=(-2, 3)) -> tuple[list[str], list[AdderJob]]:
    """hw/shapes.py's layers on random operands (requantized where the design requantizes),
    the extremes over a padded window (`extremes(low, high)`: name -> every activation's and
    every weight's value), a ReLU layer (operands from `relu_range`) and a layer of raw
    psum_bits sums; `job`, an AdderJob class, makes the jobs (another operation of the adder
    PE kind gives its own, as hw/methods/bwn/)."""
    built = adder_arch(arch)
    geo = design(arch).geo
    cases = dict(shapes(geo.rows, geo.cols))
    names, jobs = list(cases), [job.random(arch, g, rng, requant=geo.requant)
                                for g in cases.values()]
    pe = built.pe_array
    low, high = -(1 << (pe.ifmap_bits - 1)), (1 << (pe.ifmap_bits - 1)) - 1
    padded = conv(3, 4, 4, 3, 3, 3, padding=1)
    shape_x, shape_w = (padded.C, padded.H, padded.W), (padded.K, padded.C, padded.R, padded.S)
    for name, (x, w) in extremes(low, high).items():
        names.append(name)
        jobs.append(job.of(arch, padded, np.full(shape_x, x), np.full(shape_w, w), rng,
                           requant=geo.requant))
    names.append("sums")
    jobs.append(job.random(arch, padded, rng, requant=False))
    if geo.requant:
        names.append("relu")
        jobs.append(job.random(arch, padded, rng, low=relu_range[0], high=relu_range[1],
                               relu=True))
    return names, jobs


def verify(arch: ArchSpec, sim: str = "icarus", progress=lambda line: None,
           cases=None, pe=AdderPE) -> tuple[int, int]:
    """(passed, failed): outputs bit-exact against the adder reference and the testbench's
    cycles equal to the design's own counter; `cases(arch, rng)` gives the (names, jobs; default:
    verification_jobs) and `pe` the PE they run on (hw/methods/bwn/ passes its own)."""
    if sim not in SIMS:
        raise SpecError(f"unknown simulator {sim!r}; choose from {', '.join(SIMS)}")
    check(arch)
    names, jobs = (cases or verification_jobs)(arch, np.random.default_rng(0))
    if sim == "amaranth":
        results = run(jobs, Path("."), sim, pe)
    else:
        with tempfile.TemporaryDirectory(prefix="dlaforge_addernet_") as tmp:
            results = run(jobs, Path(tmp), sim, pe)
    return tally(DATAFLOW, names, jobs, results, progress)


def cell_stats(arch: ArchSpec, pe_class=AdderPE, name: str = "adder") -> dict:
    """Yosys cells of one adder PE and the adder array, beside the int8 MAC PE and MAC array
    of the same rows x cols and widths (os only, as the adder array is built), with ratios;
    `pe_class` and `name` (the keys' prefix) for another PE of the adder kind."""
    check(arch)
    pe = arch.pe_array
    bits = (pe.ifmap_bits, pe.weight_bits, pe.psum_bits)
    df = (DATAFLOW,)
    stats = {f"{name}_pe": yosys_cells(pe_class(*bits, df), f"{name}_pe"),
             "mac_pe": yosys_cells(MacPE(*bits, df), "mac_pe"),
             f"{name}_array": yosys_cells(SystolicArray(pe.rows, pe.cols, *bits, df,
                                                        pe=pe_class), f"{name}_array"),
             "mac_array": yosys_cells(SystolicArray(pe.rows, pe.cols, *bits, df), "mac_array")}
    stats["pe_ratio"] = stats[f"{name}_pe"]["total"] / stats["mac_pe"]["total"]
    stats["array_ratio"] = stats[f"{name}_array"]["total"] / stats["mac_array"]["total"]
    return stats


def cells_row(x: dict) -> tuple[str, ...]:
    return ("addernet", "adder PE 8x8, |a - w|, 32-bit sum", f"{x['adder_pe']['total']:,}", "os",
            f"{x['mac_pe']['total']:,}", f"{x['pe_ratio']:.2f}", f"{x['adder_array']['total']:,}",
            f"{x['mac_array']['total']:,}", f"{x['array_ratio']:.2f}", "")
