"""Run WinogradJobs on the generated Winograd top under cocotb or Amaranth's simulator, and
check them.

`run_winograd` builds the Verilog of the jobs' arch and variant once, hands every layer (its
DRAM image and its one command) to the testbench (hw/methods/winograd/testbench.py) through a
JSON file, and reads back the memory, the design's counters and the testbench's cycle count;
`run_winograd_amaranth` serves the same DRAM model to the Amaranth design in its simulator.
`check_result` compares every region the top wrote bit-exactly with its reference: V with the
float definition of the tap quantization, each tap's sums with the accelerator's reference
convolution (hw/job.LayerJob.expected), the outputs with winograd_ref.conv_quant; and the
testbench's cycles with the design's counter. `layer_cases` are the random and corner-case
layers of `verify` and the tests.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dlaforge.errors import RunError
from dlaforge.hw.dram import DramModel, beat_gap
from dlaforge.program import element_bytes
from dlaforge.workloads.methods.winograd.plan import output_bits
from dlaforge.workloads.methods.winograd.reference import (input_transform_float, pad_input,
                                                          round_shift_float)

from ...run_amaranth import serve_command
from ...run_cocotb import compile_verilog
from . import generate, top_name
from .stimulus import WinogradJob
from .top import WinogradTop


class WinogradDram(DramModel):
    """The DRAM model with one read gap per read kind (0 ifmap, 1 weight, 2 tap sum) and one
    write gap per write kind (winograd.plan.WRITE_KINDS); the
    cocotb testbench (testbench.py) and the Amaranth runner (`run_winograd_amaranth`) use it."""

    def __init__(self, memory, bandwidth, latency, read_bytes, write_bytes):
        super().__init__(memory, bandwidth, latency, tuple(read_bytes[:2]), write_bytes[0])
        self.read_gaps = tuple(beat_gap(b, bandwidth) for b in read_bytes)
        self.write_gaps = tuple(beat_gap(b, bandwidth) for b in write_bytes)

    def read_kind(self, cycle: int, addr: int, tag: int, kind: int) -> None:
        self.free = cycle + self.read_gaps[kind]
        self.pending.append((cycle + self.latency, int(self.memory[addr]), tag))

    def write_kind(self, cycle: int, addr: int, value: int, kind: int) -> None:
        self.free = cycle + self.write_gaps[kind]
        self.memory[addr] = value


@dataclass
class WinogradResult:
    output: np.ndarray       # K x P x Q, as the top wrote it
    v_tiles: np.ndarray      # (C * tp * tq) x a², the V region the top wrote
    tap_sums: list           # per tap, the accelerator's K x tp x tq sums
    counters: dict           # the design's counters (winograd.plan.LAYER_COUNTERS)
    testbench_cycles: int    # the testbench's count of the same cycles
    wall_seconds: float = 0.0


def _layer_spec(job: WinogradJob) -> dict:
    """The testbench's view of a layer: memory, command, DRAM timing, bytes per beat kind."""
    pe = job.arch.pe_array
    y_bits = output_bits(job.variant.at, pe.psum_bits)
    ifmap, weight, psum = (element_bytes(b) for b in (pe.ifmap_bits, pe.weight_bits,
                                                      pe.psum_bits))
    return {"memory": job.dram_image().tolist(), "command": job.command(),
            "bandwidth": job.bandwidth, "latency": job.latency,
            "read_bytes": [ifmap, weight, psum],
            "write_bytes": [psum, ifmap, element_bytes(y_bits)]}


def run_winograd(jobs: list[WinogradJob], build_dir: Path, sim: str = "icarus"):
    """Run `jobs` (one arch, one variant) in one simulator process."""
    arch, variant = jobs[0].arch, jobs[0].variant.name
    build_dir.mkdir(parents=True, exist_ok=True)
    verilog_path, manifest_path = generate(arch, build_dir, variant)
    runner = compile_verilog(verilog_path, top_name(variant), build_dir, sim)
    job_file, result_file = build_dir / "layers.json", build_dir / "results.json"
    result_file.unlink(missing_ok=True)
    job_file.write_text(json.dumps({"manifest": str(manifest_path), "result": str(result_file),
                                    "layers": [_layer_spec(job) for job in jobs]}))
    start = time.perf_counter()
    runner.test(test_module="dlaforge.hw.methods.winograd.testbench",
                hdl_toplevel=top_name(variant),
                build_dir=build_dir, test_dir=build_dir, extra_env={"DLAFORGE_JOBS": str(job_file)},
                log_file=build_dir / "test.log")
    wall = time.perf_counter() - start
    if not result_file.exists():
        raise RunError(f"the cocotb testbench wrote no result (see {build_dir / 'test.log'})")
    results = []
    for job, out in zip(jobs, json.loads(result_file.read_text())):
        v_tiles, sums, output = job.read_back(np.array(out["memory"], np.int64))
        results.append(WinogradResult(output, v_tiles, sums, out["perf"], out["cycles"],
                                      wall / len(jobs)))
    return results


def run_winograd_amaranth(jobs: list[WinogradJob], max_cycles: int = 10_000_000) -> list:
    """Run `jobs` (one arch, one variant) in Amaranth's simulator, each from reset with an
    idle DRAM channel, served as the cocotb testbench serves them; one WinogradResult each."""
    top = WinogradTop(jobs[0].arch, jobs[0].variant)
    results = []
    for job in jobs:
        spec = _layer_spec(job)
        memory = np.array(spec["memory"], np.int64)
        dram = WinogradDram(memory, job.bandwidth, job.latency, spec["read_bytes"],
                            spec["write_bytes"])
        start = time.perf_counter()
        perf, cycles = _serve_amaranth(top, job.command(), dram, max_cycles)
        v_tiles, sums, output = job.read_back(memory)
        results.append(WinogradResult(output, v_tiles, sums, perf, cycles,
                                      time.perf_counter() - start))
    return results


def _serve_amaranth(top, command: dict, dram: WinogradDram, max_cycles: int):
    def read(ctx, t):
        tag = top.rd_req.payload.tag
        kind = 1 if ctx.get(tag.weight) else 2 * ctx.get(tag.sum)
        dram.read_kind(t, ctx.get(top.rd_req.payload.addr), ctx.get(tag.as_value()), kind)

    def write(ctx, t):
        dram.write_kind(t, ctx.get(top.wr.payload.addr), ctx.get(top.wr.payload.data),
                        ctx.get(top.wr.payload.kind))

    return serve_command(top, command, dram, read, write, max_cycles, "the Winograd top")


def expected_v_tiles(job: WinogradJob) -> np.ndarray:
    """The quantized input transform of every tile, from winograd_ref's float definitions."""
    v, pe = job.variant, job.arch.pe_array
    xpad = pad_input(job.x[None], job.padding, job.P, job.Q, v.m)
    vt = input_transform_float(xpad, v, job.P, job.Q)[0]           # C, tp, tq, a, a
    qmax = (1 << (pe.ifmap_bits - 1)) - 1
    vq = np.clip(round_shift_float(vt, job.v_shift), -qmax, qmax)
    return vq.reshape(job.plan.input_tiles, job.taps).astype(np.int64)


def check_result(job: WinogradJob, result: WinogradResult) -> list[str]:
    """What differs from the references ([] when everything matches)."""
    problems = []
    if not np.array_equal(result.v_tiles, expected_v_tiles(job)):
        problems.append("input transform differs")
    bad_taps = [t for t, sums in enumerate(result.tap_sums)
                if not np.array_equal(sums, job.tap_job(t, result.v_tiles).expected())]
    if bad_taps:
        problems.append(f"tap GEMMs {bad_taps} differ")
    if not np.array_equal(result.output, job.expected()):
        problems.append("output differs from conv_quant")
    if result.testbench_cycles != result.counters["cycles"]:
        problems.append(f"testbench counted {result.testbench_cycles} cycles, "
                        f"the design {result.counters['cycles']}")
    return problems


def layer_cases(arch, variant, dataflow: str, rng) -> list[tuple[str, WinogradJob]]:
    """Ten layers on `arch`: tile-grid corners (one tile, partial tiles, no padding, more
    channels and filters than the array has rows and columns) with random codes, and extreme
    operands (minimum/maximum codes, largest shifts, zeros) that drive the clamps and widths."""
    pe = arch.pe_array
    lo, hi = -(1 << (pe.ifmap_bits - 1)), (1 << (pe.ifmap_bits - 1)) - 1
    w_max = (1 << (pe.weight_bits - 1)) - 1
    a = variant.a

    def job(C, H, W, K, padding=1, **fields):
        made = WinogradJob.random(arch, variant, dataflow, C, H, W, K, rng, padding)
        return replace(made, **fields) if fields else made

    ones = np.ones((a, a), np.int64)
    extremes = {"x": np.full((2, 5, 5), lo), "u": np.full((3, 2, a, a), w_max)}
    return [
        ("one_tile", job(1, variant.m, variant.m, 1)),
        ("partial_tiles", job(2, 5, 7, 3)),
        ("no_padding", job(3, 8, 6, 2, padding=0)),
        ("channels_past_array", job(pe.rows + 1, 4, 4, pe.cols + 1)),
        ("wide_row", job(1, 3, 10, 2)),
        ("min_codes_no_shift", job(2, 5, 5, 3, v_shift=0 * ones, **extremes)),
        ("max_codes_no_shift", job(2, 5, 5, 3, v_shift=0 * ones, x=np.full((2, 5, 5), hi),
                                   u=np.full((3, 2, a, a), -w_max))),
        ("largest_input_shift", job(2, 5, 5, 3, v_shift=15 * ones)),
        ("largest_alignment", job(2, 5, 5, 3, v_shift=0 * ones,
                                  u_exp=np.where(np.eye(a, dtype=bool), -15, 0))),
        ("zero_ifmap", job(2, 6, 6, 2, x=np.zeros((2, 6, 6), np.int64))),
    ]
