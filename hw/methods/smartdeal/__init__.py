"""The SmartDeal rebuild engine beside the MAC array (`smartdeal`): the method-hardware
interface (check, generate, verify, cell_stats) of hw/methods/smartdeal/unit.py.

The unit keeps weights out of DRAM: it reads SmartDeal codes (sign + exponent per nonzero Ce
entry, a bitmap index, 8-bit B), rebuilds weight rows by shift-and-add on chip, skipping
all-zero Ce rows, and feeds them to a baseline ws systolic array whose weights are
REBUILT_BITS wide (the rebuilt integers, before the per-filter power-of-two scale). Timing
model: sim/methods/smartdeal.py.
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
from dlaforge.workloads.methods.smartdeal.plan import WINDOW_ROWS, SmartDealPlan
from dlaforge.workloads.methods.common import command_gemm
from dlaforge.workloads.methods.smartdeal.reference import (P_MAX, P_MIN, decompose,
                                                            synthetic_decomposition)

from ...array import SystolicArray
from ...layouts import bits_for
from ...pe import MacPE
from ...shapes import conv, shapes
from ...run_cocotb import compile_verilog, run_cocotb, simulator_available
from ...verify import SIMS
from ...verilog import TOP, cell_stats as yosys_cells, manifest
from .. import OpRun, one_command_runs
from .stimulus import SmartDealJob
from .rebuild import RebuildEngine
from .rebuild_stage import RebuildStage
from .unit import REBUILT_BITS, SmartDealUnit, geometry

SMARTDEAL_TOP = "dlaforge_smartdeal"
# the controller's SmartDeal datapath (workloads/methods/smartdeal/plan.CONTROLLER_DATAPATH): the
# MAC array at the rebuilt weights' width, its weights rebuilt by the load's stage
CONTROLLER_PE = MacPE
CONTROLLER_WEIGHT_STAGE = RebuildStage


def check(arch: ArchSpec) -> None:
    """SpecError unless the unit can be built from `arch` (a ws MAC array, bytes-wide ifmap,
    buffers that hold one Ce row per filter)."""
    geometry(arch)
    SmartDealPlan.make(arch, conv(1, 1, 1, 1, 1, 1), REBUILT_BITS)


def _write_design(arch: ArchSpec, out_dir: Path, top: str) -> tuple[Path, Path]:
    """`<top>.v` and `<top>.json` (hw.verilog's manifest plus the unit's parameters); for
    simulation the module is named as the shared cocotb testbench expects (hw.verilog.TOP)."""
    check(arch)
    dut = SmartDealUnit(arch)
    text = verilog.convert(dut, name=top)
    b = dut.buffers
    info = {**manifest(dut, arch), "top": top, "method": "smartdeal",
            "smartdeal": {"rebuilt_weight_bits": REBUILT_BITS, "window_rows": WINDOW_ROWS,
                          "rebuilt_rows_per_filter": b.rebuilt_rows,
                          "bitmap_buffer_bytes": b.bitmap_bytes, "code_buffer_bytes": b.code_bytes,
                          "command": "the baseline command plus ce_rows (Ce rows per filter); "
                                     "weight_base is where the codes start",
                          "code_layout": "workloads/methods/smartdeal/plan.py"}}
    return publish_files(out_dir, {f"{top}.v": text, f"{top}.json": json.dumps(info, indent=1)})


def generate(arch: ArchSpec, out_dir: Path) -> tuple[Path, Path]:
    """`dlaforge_smartdeal.v` and its manifest (ports, parameters, code layout)."""
    return _write_design(arch, out_dir, SMARTDEAL_TOP)


def run(jobs: list[SmartDealJob], build_dir: Path, sim: str = "icarus") -> list:
    """Run `jobs` (one arch) in one cocotb simulator process (hw/cocotb_tb.py's testbench)."""
    why = simulator_available(sim)
    if why:
        raise SpecError(f"cannot simulate with {sim}: {why}")
    build_dir.mkdir(parents=True, exist_ok=True)
    verilog_path, _ = _write_design(jobs[0].arch, build_dir, TOP)
    runner = compile_verilog(verilog_path, TOP, build_dir, sim)
    return run_cocotb(jobs, build_dir, sim, runner=runner)


def run_random(cases: list, build_dir: Path, rng, sim: str = "icarus") -> list[OpRun]:
    """One image of each case's op with random int8 activations and the codes its timing model
    times (`synthetic_decomposition` of the op's seeded weights)."""
    jobs = []
    for c in cases:
        gemm = command_gemm(c.op)
        half = 1 << (c.arch.pe_array.ifmap_bits - 1)
        x = rng.integers(-half, half, (gemm.C, gemm.H, gemm.W))
        jobs.append(SmartDealJob(c.arch, gemm, synthetic_decomposition(c.op), x))
    return one_command_runs(jobs, run(jobs, build_dir, sim))


def cells_row(s: dict) -> tuple[str, ...]:
    return ("smartdeal", "MAC PE 8 x 17-bit rebuilt weight", f"{s['pe']['total']:,}", "ws",
            f"{s['int8_pe']['total']:,}", f"{s['pe_over_int8_pe']:.2f}",
            f"{s['array']['total']:,}", f"{s['int8_array']['total']:,}",
            f"{s['array_over_int8_array']:.2f}",
            f"rebuild engine {s['rebuild_engine']['total']:,} "
            f"({s['rebuild_engine_over_int8_array']:.2f} int8 arrays); whole unit "
            f"{s['unit']['total']:,}")


def verify_jobs(arch: ArchSpec, rng) -> list[tuple[str, SmartDealJob]]:
    """hw/shapes.py's corner-case layers (those whose Ce rows fit the buffers) with random
    codes, then codes at the extremes on a padded 3x3 conv: every Ce row zero, every entry
    nonzero, all signs negative at the largest exponent with B = -127 (the largest rebuilt
    magnitude), all positive at the smallest exponent with B = 127, and SmartDeal's own
    decomposition of random weights."""
    check(arch)
    rows, cols = arch.pe_array.rows, arch.pe_array.cols
    jobs = []
    for name, gemm in shapes(rows, cols).items():
        try:
            jobs.append((name, SmartDealJob.random(arch, gemm, rng)))
        except SpecError:
            continue
    corner = conv(2, 4, 4, cols + 1, 3, 3, padding=1)
    for name, options in {"all_zero_rows": {"zero_rows": 1.0},
                          "dense": {"nonzero": 1.0, "zero_rows": 0.0}}.items():
        jobs.append((name, SmartDealJob.random(arch, corner, rng, **options)))
    for name, (sign, exp, b) in {"max_exponent_negative": (-1, P_MAX, -127),
                                 "min_exponent_positive": (1, P_MIN, 127)}.items():
        job = SmartDealJob.random(arch, corner, rng, nonzero=1.0, zero_rows=0.0)
        d = job.decomposition
        d.sign[:], d.exp[:], d.b_q[:] = sign, exp, b
        jobs.append((name, SmartDealJob(arch, corner, d, job.ifmap)))
    weights = rng.normal(0.0, 0.3, (corner.K, corner.C, corner.R, corner.S))
    half = 1 << (arch.pe_array.ifmap_bits - 1)
    x = rng.integers(-half, half, (corner.C, corner.H, corner.W))
    jobs.append(("decomposed", SmartDealJob(arch, corner, decompose(weights), x)))
    return jobs


def verify(arch: ArchSpec, sim: str = "icarus", progress=lambda line: None) -> tuple[int, int]:
    """(passed, failed) over verify_jobs: a layer passes when its outputs equal the integer
    conv of smartdeal_ref.rebuild's weights bit for bit and the testbench's cycle count
    equals the unit's own cycle counter."""
    if sim not in SIMS:
        raise SpecError(f"unknown simulator {sim!r}; choose from {', '.join(SIMS)}")
    named = verify_jobs(arch, np.random.default_rng(0))
    jobs = [job for _, job in named]
    if sim == "amaranth":
        from ...run_amaranth import run_amaranth
        dut = SmartDealUnit(arch)
        results = [run_amaranth(job, dut=dut) for job in jobs]
    else:
        with tempfile.TemporaryDirectory(prefix="dlaforge_smartdeal_") as tmp:
            results = run(jobs, Path(tmp), sim)
    passed = failed = 0
    for (name, job), result in zip(named, results):
        ok = (np.array_equal(result.output, job.expected())
              and result.testbench_cycles == result.perf["cycles"])
        passed, failed = passed + ok, failed + (not ok)
        progress(f"ws {name}: {'ok' if ok else 'MISMATCH'} ({result.testbench_cycles} cycles)")
    return passed, failed


def cell_stats(arch: ArchSpec) -> dict:
    """Yosys cells of the rebuild engine, of the whole unit, of the unit's PE and array
    (8-bit ifmap x REBUILT_BITS weights), beside the int8 MAC PE and array of the same size
    (32-bit sums, ws only, as the unit builds)."""
    geo, b = geometry(arch)
    p = geo.params
    designs = {
        "rebuild_engine": RebuildEngine(geo.cols, REBUILT_BITS, p.dim_bits,
                                        bits_for(b.bitmap_bytes), bits_for(b.code_bytes)),
        "unit": SmartDealUnit(arch),
        "pe": MacPE(geo.ifmap_bits, REBUILT_BITS, geo.psum_bits, ("ws",)),
        "array": SystolicArray(geo.rows, geo.cols, geo.ifmap_bits, REBUILT_BITS, geo.psum_bits,
                               ("ws",)),
        "int8_pe": MacPE(8, 8, 32, ("ws",)),
        "int8_array": SystolicArray(geo.rows, geo.cols, 8, 8, 32, ("ws",)),
    }
    stats = {name: yosys_cells(design) for name, design in designs.items()}
    stats["pe_over_int8_pe"] = stats["pe"]["total"] / stats["int8_pe"]["total"]
    stats["array_over_int8_array"] = stats["array"]["total"] / stats["int8_array"]["total"]
    stats["rebuild_engine_over_int8_array"] = (stats["rebuild_engine"]["total"]
                                               / stats["int8_array"]["total"])
    return stats
