"""Runs of a ControllerJob: in Amaranth's simulator (`run_amaranth`), or on the generated
Verilog under cocotb (`run_cocotb`: Icarus by default, or Verilator; the testbench is
hw/controller/testbench.py). Both serve the DRAM port from hw/dram.py's model with the
contract's timing (a request of n elements of b bytes holds the channel
program.beat_gap(n, b, bandwidth) cycles, its data comes back max(1, latency) cycles later),
each command from reset with an idle channel, the commands of a layer one after another on one
DRAM image. `generate` writes the Verilog and its port manifest.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from dlaforge.arch import ArchSpec
from dlaforge.errors import RunError

from ..dram import DramModel
from ..sim_amaranth import serve_command
from ..sim_cocotb import compile_verilog
from ..verilog import manifest, write_complete
from .accelerator import ControllerAccelerator
from .job import ControllerJob, ControllerResult, summed
from .layouts import Geometry

TOP = "dlaforge_controller"


def dram_of(job: ControllerJob, memory: np.ndarray) -> DramModel:
    dram = job.arch.dram
    return DramModel(memory, dram.bandwidth_bytes_per_cycle, dram.latency_cycles, (1, 1), 1)


def run_amaranth(job: ControllerJob, dut: ControllerAccelerator = None,
                 max_cycles: int = 10_000_000) -> ControllerResult:
    dut = dut or ControllerAccelerator(job.arch)
    lane_bits = dut.geo.read_bits
    memory = job.dram_image()
    start = time.perf_counter()
    per_command = []
    for command in job.commands():
        dram = dram_of(job, memory)

        def read(ctx, t, dram=dram):
            p = dut.rd_req.payload
            dram.read_run(t, ctx.get(p.addr), ctx.get(p.count), ctx.get(p.bytes),
                          ctx.get(p.tag.as_value()), lane_bits)

        def write(ctx, t, dram=dram):
            p = dut.wr.payload
            values = [ctx.get(p.data[j]) for j in range(ctx.get(p.count))]
            dram.write_run(t, ctx.get(p.addr), values, ctx.get(p.bytes))

        per_command.append(serve_command(dut, command, dram, read, write, max_cycles,
                                         "the controller"))
    return ControllerResult(job.output_of(memory), summed(per_command),
                            sum(c for _, c in per_command), per_command,
                            time.perf_counter() - start)


def generate(arch: ArchSpec, out_dir: Path) -> tuple[Path, Path]:
    """Write `<TOP>.v` and `<TOP>.json` (ports with field offsets, parameters) into
    `out_dir`; the files appear only complete."""
    dut = ControllerAccelerator(arch)
    text = verilog.convert(dut, name=TOP)
    info = manifest(dut, arch)
    beats = dut.geo.beats
    info["top"] = TOP
    info["parameters"]["beat_elements"] = {k: getattr(beats, k) for k in
                                           ("ifmap", "weight", "psum", "param", "ofmap")}
    info["parameters"]["read_lane_bits"] = dut.geo.read_bits
    return write_complete(out_dir, {f"{TOP}.v": text, f"{TOP}.json": json.dumps(info, indent=1)})


def run_cocotb(jobs: list[ControllerJob], build_dir: Path, sim: str = "icarus",
               runner=None) -> list[ControllerResult]:
    """Run `jobs` (all on one arch) in one simulator process."""
    build_dir.mkdir(parents=True, exist_ok=True)
    if runner is None:
        verilog_path, _ = generate(jobs[0].arch, build_dir)
        runner = compile_verilog(verilog_path, TOP, build_dir, sim)
    job_file, result_file = build_dir / "jobs.json", build_dir / "results.json"
    result_file.unlink(missing_ok=True)
    geo = Geometry.of(jobs[0].arch)
    specs = [{"commands": job.commands(), "memory": job.dram_image().tolist(),
              "bandwidth": job.arch.dram.bandwidth_bytes_per_cycle,
              "latency": job.arch.dram.latency_cycles, "lane_bits": geo.read_bits,
              "write_bits": geo.psum_bits} for job in jobs]
    job_file.write_text(json.dumps({"manifest": str(build_dir / f"{TOP}.json"),
                                    "result": str(result_file), "jobs": specs}))
    start = time.perf_counter()
    runner.test(test_module="dlaforge.hw.controller.testbench", hdl_toplevel=TOP,
                build_dir=build_dir, test_dir=build_dir,
                extra_env={"DLAFORGE_JOBS": str(job_file)}, log_file=build_dir / "test.log")
    wall = time.perf_counter() - start
    if not result_file.exists():
        raise RunError(f"the cocotb testbench wrote no result (see {build_dir / 'test.log'})")
    results = []
    for job, out in zip(jobs, json.loads(result_file.read_text())):
        per_command = list(zip(out["perf"], out["cycles"]))
        memory = np.array(out["memory"], dtype=np.int64)
        results.append(ControllerResult(job.output_of(memory), summed(per_command),
                                        sum(out["cycles"]), per_command, wall / len(jobs)))
    return results


def cell_stats(arch: ArchSpec) -> dict:
    """The controller accelerator's cells after hw/verilog.cell_stats' reduced Yosys flow."""
    from ..verilog import cell_stats as yosys_cells
    return yosys_cells(ControllerAccelerator(arch), TOP)


def run_layer(arch: ArchSpec, shape, mapping, groups: int = 1, requant: bool = False,
              relu: bool = False, sim: str = "amaranth", seed: int = 0,
              build_dir: Path | None = None) -> ControllerResult:
    """One layer (one group's program.Shape, `groups` of them) under `mapping` on random
    operands, in Amaranth's simulator or on Icarus/Verilator (`build_dir` holds the build;
    a temporary folder by default); RunError unless its outputs equal the reference. The entry
    point for `--model rtl` (the counters are summed over the group commands)."""
    import tempfile

    job = ControllerJob.random(arch, shape, mapping, np.random.default_rng(seed), groups=groups,
                               requant=requant, relu=relu)
    if sim == "amaranth":
        result = run_amaranth(job)
    elif build_dir is not None:
        result, = run_cocotb([job], Path(build_dir), sim)
    else:
        with tempfile.TemporaryDirectory(prefix="dlaforge_controller_") as tmp:
            result, = run_cocotb([job], Path(tmp), sim)
    if not np.array_equal(result.output, job.expected()):
        raise RunError(f"the controller's outputs differ from the reference on {shape}")
    return result
