"""XNOR-Net hardware (`--method xnor`): the XNOR-popcount unit of hw/methods/xnor/unit.py.

The interface the CLI and the cycle model use:
- `check(arch)`: SpecError unless the unit can be built (pe_kind xnor, dataflow os, the
  xnor_scale unit, xnor_word_bits a multiple of 8 up to 64, buffers holding one tile);
- `generate(arch, out_dir)`: `dlaforge_xnor.v` and `dlaforge_xnor.json` (ports, parameters);
- `verify(arch, sim)`: corner-case and random binarized layers in Icarus (or Verilator, or
  Amaranth's simulator), most binarizing int8 activations on chip, bit-exact against the
  reference (hw/methods/xnor/stimulus.py) and with the testbench's cycle count equal to the unit's
  own counter;
- `cell_stats(arch)`: Yosys cell counts of one XNOR PE and the XNOR array beside the int8 MAC
  PE and MAC array of the same size.
The unit keeps the baseline's outside, so the baseline's runners drive it: hw/cocotb_tb.py
through hw/run_cocotb.py (Icarus, Verilator) and hw/run_amaranth.py (Amaranth's simulator).
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
from dlaforge.workloads.methods.xnor.plan import DATAFLOW, SCALE_BITS, SHIFT_BITS, check, word_bits

from ...array import SystolicArray
from ...pe import MacPE
from ...run_amaranth import run_amaranth
from ...run_cocotb import run_cocotb, simulator_available
from ...simulator_process import cocotb_runner
from ...verify import SIMS as VERIFY_SIMS, tally
from ...verilog import LINT_WAIVERS, TOP, cell_stats as yosys_cells, manifest
from .. import OpRun, one_command_runs
from .stimulus import XnorJob
from .pe import XnorPE
from .scale import controller_output
from .unit import XNOR_COUNTERS, XnorUnit

__all__ = ["check", "generate", "verify", "cell_stats", "run", "CONTROLLER_PE",
           "CONTROLLER_OUTPUT"]
CONTROLLER_PE = XnorPE      # the PE of the controller's XNOR datapath (plan.CONTROLLER_DATAPATH)
CONTROLLER_OUTPUT = controller_output   # its write stage: tap bias and K map
XNOR_TOP = "dlaforge_xnor"


def xnor_manifest(dut: XnorUnit, arch: ArchSpec, top: str) -> dict:
    """The baseline's manifest of the unit's ports plus the unit's own parameters."""
    info = manifest(dut, arch)
    info["top"] = top
    info["parameters"].update({"method": "xnor", "xnor_word_bits": word_bits(arch),
                               "scale_bits": SCALE_BITS, "out_shift_bits": SHIFT_BITS,
                               "counters": list(XNOR_COUNTERS)})
    return info


def _write_design(arch: ArchSpec, out_dir: Path, top: str) -> tuple[Path, Path]:
    """`<top>.v` and `<top>.json` in `out_dir`, each appearing only complete."""
    check(arch)
    dut = XnorUnit(arch)
    return publish_files(out_dir, {f"{top}.v": verilog.convert(dut, name=top),
                                   f"{top}.json": json.dumps(xnor_manifest(dut, arch, top),
                                                             indent=1)})


def generate(arch: ArchSpec, out_dir: Path) -> tuple[Path, Path]:
    """Write the unit's Verilog and manifest into `out_dir` (created if its parent exists)."""
    return _write_design(arch, out_dir, XNOR_TOP)


def build(arch: ArchSpec, build_dir: Path, sim: str = "icarus"):
    """Compile the unit for cocotb under the baseline testbench's top name; the runner."""
    why = simulator_available(sim)
    if why:
        raise SpecError(f"cannot simulate with {sim}: {why}")
    build_dir.mkdir(parents=True, exist_ok=True)
    verilog_path, _ = _write_design(arch, build_dir, TOP)
    runner = cocotb_runner(sim)
    args = list(LINT_WAIVERS) if sim == "verilator" else ["-g2005"]   # as hw/run_cocotb.build
    runner.build(sources=[verilog_path], hdl_toplevel=TOP, build_dir=build_dir, always=True,
                 timescale=("1ns", "1ps"), log_file=build_dir / "build.log", build_args=args)
    return runner


def run(jobs: list[XnorJob], build_dir: Path, sim: str = "icarus"):
    """Run XnorJobs (one arch) in one simulator process; RtlResults."""
    return run_cocotb(jobs, build_dir, sim, runner=build(jobs[0].arch, build_dir, sim))


def run_random(cases: list, build_dir: Path, rng, sim: str = "icarus") -> list[OpRun]:
    """One image of each case's binarized op, binarized on chip (XnorJob.for_op)."""
    jobs = [XnorJob.for_op(c.arch, c.op, rng) for c in cases]
    return one_command_runs(jobs, run(jobs, build_dir, sim))


def cells_row(x: dict) -> tuple[str, ...]:
    return ("xnor", "XNOR PE (64-bit word, 32-bit sum)", f"{x['xnor_pe']['total']:,}", "os",
            f"{x['mac_pe']['total']:,}", f"{x['pe_ratio']:.2f}", f"{x['xnor_array']['total']:,}",
            f"{x['mac_array']['total']:,}", f"{x['array_ratio']:.2f}",
            f"{x['xnor_pe']['total'] / 64:.1f} cells per binary MAC (64 per PE per cycle)")


def layer_cases(rows: int, cols: int) -> dict:
    """Binarized layers for verification, scaled to the array: channels below, at and above
    one word (and the word width's tail), tiles that fit exactly or spill by one, padding,
    strides, 1x1 and rectangular kernels, and (kd_tiles: 16 words x 3 x 3 = 144 reduction
    steps) more than one kd tile on buffers of up to 143 words per half."""
    r, c = rows, cols
    return {
        "one_word": dict(C=64, H=4, W=4, K=c, R=3, S=3),
        "tail_bits": dict(C=37, H=5, W=5, K=c + 1, R=3, S=3, padding=1),
        "two_words_tail": dict(C=70, H=4, W=5, K=3, R=3, S=3, padding=1),
        "one_channel": dict(C=1, H=5, W=5, K=2, R=3, S=3, padding=1),
        "pointwise": dict(C=130, H=3, W=3, K=c + 2, R=1, S=1),
        "stride2_pad": dict(C=20, H=7, W=7, K=c - 1 if c > 1 else 1, R=3, S=3, stride=2,
                            padding=1),
        "pad2": dict(C=9, H=4, W=4, K=2, R=3, S=3, padding=2),
        "rect_kernel": dict(C=5, H=5, W=4, K=c, R=2, S=3),
        "stride3_pad": dict(C=3, H=9, W=9, K=3, R=3, S=3, stride=3, padding=1),
        "pixels_one_more": dict(C=16, H=1, W=r + 1, K=c + 1, R=1, S=1),
        "deep_kd": dict(C=200, H=3, W=3, K=2, R=3, S=3, padding=1),
        "kd_tiles": dict(C=1000, H=3, W=3, K=2, R=3, S=3, padding=1),
        "one_pixel": dict(C=65, H=3, W=3, K=1, R=3, S=3),
    }


HOST_PACKED_CASES = ("one_word", "tail_bits", "kd_tiles")


def verification_jobs(arch: ArchSpec, rng) -> tuple[list[str], list[XnorJob]]:
    """Every layer case binarizing random int8 activations on chip (random weight signs and
    alpha_q), three of them with host-packed signs and random K_q instead, and the extremes:
    all activations 127 or -128 and weights all +1 or -1 with the largest alpha_q and out_shift
    0 (the popcount's ends, the largest K sums and products, the output wrap)."""
    pe = arch.pe_array
    cases = layer_cases(pe.rows, pe.cols)
    names, jobs = [], []
    for name, dims in cases.items():
        names.append(name)
        jobs.append(XnorJob.random(arch, dims, rng, binarize=True))
    for name in HOST_PACKED_CASES:
        names.append(f"{name}_host_packed")
        jobs.append(XnorJob.random(arch, cases[name], rng))
    for signs in ("plus", "minus"):
        names.append(f"all_{signs}_max_scales")
        jobs.append(XnorJob.random(arch, cases["tail_bits"], rng, signs=signs, scales="max",
                                   binarize=True))
    return names, jobs


def verify(arch: ArchSpec, sim: str = "icarus", progress=lambda line: None,
           cases=None) -> tuple[int, int]:
    """(passed, failed): outputs bit-exact and the testbench's cycles equal to the unit's;
    `cases(arch, rng)` gives the (names, jobs) (default: verification_jobs; hw/methods/dirnet/
    passes its own)."""
    if sim not in VERIFY_SIMS:
        raise SpecError(f"unknown simulator {sim!r}; choose from {', '.join(VERIFY_SIMS)}")
    check(arch)
    names, jobs = (cases or verification_jobs)(arch, np.random.default_rng(0))
    if sim == "amaranth":
        results = [run_amaranth(job, dut=XnorUnit(arch)) for job in jobs]
    else:
        with tempfile.TemporaryDirectory(prefix="dlaforge_xnor_") as tmp:
            results = run(jobs, Path(tmp), sim)
    return tally(DATAFLOW, names, jobs, results, progress)


def cell_stats(arch: ArchSpec) -> dict:
    """Yosys cells (hw.verilog.cell_stats) of one XNOR PE, the XNOR array, and the int8 MAC PE
    and MAC array of the same rows x cols (os only, as the unit), with the ratios."""
    check(arch)
    pe = arch.pe_array
    w = word_bits(arch)
    xnor_pe = yosys_cells(XnorPE(w + 1, w, pe.psum_bits), "xnor_pe")
    mac_pe = yosys_cells(MacPE(pe.ifmap_bits, pe.weight_bits, pe.psum_bits, (DATAFLOW,)), "mac_pe")
    xnor_array = yosys_cells(SystolicArray(pe.rows, pe.cols, w + 1, w, pe.psum_bits,
                                           (DATAFLOW,), pe=XnorPE), "xnor_array")
    mac_array = yosys_cells(SystolicArray(pe.rows, pe.cols, pe.ifmap_bits, pe.weight_bits,
                                          pe.psum_bits, (DATAFLOW,)), "mac_array")
    return {"xnor_pe": xnor_pe, "xnor_array": xnor_array, "mac_pe": mac_pe,
            "mac_array": mac_array,
            "pe_ratio": xnor_pe["total"] / mac_pe["total"],
            "array_ratio": xnor_array["total"] / mac_array["total"]}
