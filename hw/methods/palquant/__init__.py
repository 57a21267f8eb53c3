"""The low-precision array for PalQuant (`palquant`, `palquant_g3`, `palquant_g4`) and its
4-bit comparison (`bitslice_w4a4`).

Built from a spec whose PE array is 2-bit (ifmap_bits = weight_bits = 2, e.g.
edge_tiny_palquant), it is the baseline accelerator (hw/accelerator.py: the same loader,
systolic array, accumulator, writer, counters and command) with PEs whose operands are a 2-bit
value plus a sign bit, i.e. signed 3-bit (as Bit Fusion's BitBricks), and with bit-sliced
passes (GeneratorParams.slice_bits = 2):

- PalQuant: the activation codes q_a ∈ {0..3} are unsigned, and the weight levels times three,
  2·q_w − 3 ∈ {−3, −1, 1, 3}, odd and signed, so that Σ (2·q_w − 3)·q_a, PalQuant's integer
  output T = 2·Σq_w·q_a − 3·Σq_a, comes straight out of the accumulators. A layer of G groups
  is G commands; the cyclic shuffle before stages 2–4 is each command's ifmap base address.
- Wider layers (bitslice_w4a4's 4-bit layers; PalQuant's int8 first conv and FC): unsigned
  codes stored as 2-bit slice planes, one command whose passes run every slice pair, the
  accumulator shifted by 2 bits between diagonals (hw/tiles.py, dlaforge.workloads.methods.palquant.plan).

Jobs: hw/methods/palquant/stimulus.py; timing model: sim/methods/palquant.py.
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
from dlaforge.workloads.methods import METHODS
from dlaforge.workloads.methods.palquant import GROUPS as PALQUANT_GROUPS, SLICED_BITS
from dlaforge.workloads.methods.palquant.plan import (CODE_BITS, OPERAND_BITS, array_arch,
                                                      command_gemm, op_slices)

from ...accelerator import Accelerator, buildable
from ...array import SystolicArray
from ...pe import MacPE
from ...shapes import shapes
from ...verify import SIMS
from ...verilog import TOP as ACCEL_TOP, cell_stats as yosys_cells
from ...verilog import generate as accelerator_verilog, manifest
from .. import OpRun, outputs_problems
from .pe import CodeMacPE
from .stimulus import CODES, PARAMS, PalquantLayer, SlicedJob

TOP = "dlaforge_palquant"
CONTROLLER_PE = CodeMacPE   # the PE of the controller's datapath (plan.CONTROLLER_DATAPATH)
GROUPS = tuple(PALQUANT_GROUPS.values())   # palquant, palquant_g3, palquant_g4


def family_methods() -> list[str]:
    """The methods this array runs: those of the palquant family."""
    return [m.name for m in METHODS.values() if m.family == "palquant"]


def check(arch: ArchSpec) -> None:
    """SpecError unless `arch` is a 2-bit MAC array the baseline generator can build."""
    buildable(array_arch(arch), PARAMS)


def generate(arch: ArchSpec, out_dir: Path) -> tuple[Path, Path]:
    """`dlaforge_palquant.v` and its manifest (ports, parameters, operand encoding)."""
    check(arch)
    built = array_arch(arch)
    dut = Accelerator(built, PARAMS)
    text = verilog.convert(dut, name=TOP)
    info = manifest(dut, built)
    info["parameters"]["slice_bits"] = PARAMS.slice_bits
    info = {**info, "top": TOP, "arch": arch.name, "methods": family_methods(),
            "operands": {"ifmap": "2-bit PalQuant activation code q_a (0..3), signed 3-bit",
                         "weight": "2*q_w - 3 (-3, -1, 1, 3), signed 3-bit",
                         "output": "T = 2*sum(q_w*q_a) - 3*sum(q_a), psum_bits wrapping",
                         "groups": "one command per group; the cyclic shuffle is the "
                                   "command's ifmap_base",
                         "passes": "wider unsigned codes as 2-bit slice planes: a_top, w_top "
                                   "(highest slice), ifmap_plane, weight_plane (plane strides)"}}
    return publish_files(out_dir, {f"{TOP}.v": text, f"{TOP}.json": json.dumps(info, indent=1)})


def verify_layers(arch: ArchSpec, rng) -> list[tuple[str, PalquantLayer | SlicedJob]]:
    """The layers `verify` runs: hw/shapes.py's corner cases as one group's conv, G = 2, 3, 4
    and shuffled or not in turn, under every dataflow; all-maximum, all-minimum and
    maximum-activation / minimum-weight codes; and per dataflow three bit-sliced layers
    (4 and 8 bit) and one of all-maximum 4-bit codes."""
    built = array_arch(arch)
    geo = buildable(built, PARAMS)
    layers = []
    for dataflow in geo.dataflows:
        for i, (name, gemm) in enumerate(shapes(geo.rows, geo.cols).items()):
            G = GROUPS[i % len(GROUPS)]
            layers.append((f"{dataflow} {name} G={G} shift={i % 2}",
                           PalquantLayer.random(built, dataflow, gemm, G, i % 2, rng)))
    corner = dict(shapes(geo.rows, geo.cols))["channels_one_more"]
    for name, (a, w) in {"all_max": (CODES - 1, CODES - 1), "all_min": (0, 0),
                         "max_act_min_weight": (CODES - 1, 0)}.items():
        layer = PalquantLayer.random(built, geo.dataflows[0], corner, 2, 1, rng)
        layer.qa[:], layer.qw[:] = a, w
        layers.append((f"{geo.dataflows[0]} {name}", layer))
    for dataflow in geo.dataflows:
        for bits, name in ((4, "channels_one_more"), (8, "conv3x3_pad_s2"), (8, "gemm_odd")):
            gemm = dict(shapes(geo.rows, geo.cols))[name]
            layers.append((f"{dataflow} {name} sliced {bits}-bit",
                           SlicedJob.random(built, dataflow, gemm, rng, bits=bits)))
        top = (1 << SLICED_BITS) - 1
        layers.append((f"{dataflow} sliced {SLICED_BITS}-bit all_max",
                       SlicedJob.random(built, dataflow, corner, rng, SLICED_BITS, top, top + 1)))
    return layers


def run(layers: list, build_dir: Path | None = None, sim: str = "icarus") -> list:
    """Each layer's (output, per-command results), all on one build of the design; a layer is
    a PalquantLayer (G commands) or a SlicedJob (one command)."""
    per_layer = [layer.jobs() for layer in layers]
    jobs = [job for group in per_layer for job in group]
    if sim == "amaranth":
        from ...run_amaranth import run_amaranth
        results = [run_amaranth(job, dut=Accelerator(job.arch, PARAMS)) for job in jobs]
    else:
        with tempfile.TemporaryDirectory(prefix="dlaforge_palquant_") as tmp:
            results = _run_cocotb(jobs, Path(build_dir or tmp), sim)
    out, start = [], 0
    for group in per_layer:
        mine = results[start:start + len(group)]
        start += len(group)
        out.append((np.concatenate([r.output for r in mine]), mine))
    return out


def cells_row(p: dict) -> tuple[str, ...]:
    return ("palquant, bitslice_w4a4", "MAC PE signed 3-bit operands", f"{p['pe']['total']:,}",
            "ws, os, is", f"{p['int8_pe']['total']:,}", f"{p['pe_over_int8_pe']:.2f}",
            f"{p['array']['total']:,}", f"{p['int8_array']['total']:,}",
            f"{p['array_over_int8_array']:.2f}",
            f"plain 2-bit signed MAC PE {p['pe_2bit_signed']['total']:,}")


def run_random(cases: list, build_dir: Path, rng, sim: str = "icarus") -> list[OpRun]:
    """One image of each case's op on the 2-bit array built from its arch: a PalQuant layer of
    G commands (G = the op's groups, shuffle shift 1) or one bit-sliced command of slices²
    passes."""
    layers = []
    for c in cases:
        built, gemm, slices = array_arch(c.arch), command_gemm(c.op), op_slices(c.op)
        layers.append(SlicedJob.random(built, c.dataflow, gemm, rng, bits=CODE_BITS * slices)
                      if slices > 1 else
                      PalquantLayer.random(built, c.dataflow, gemm, c.op.groups, 1, rng))
    return [OpRun([r.perf for r in results], [r.testbench_cycles for r in results],
                  outputs_problems(np.array_equal(output, layer.expected())))
            for layer, (output, results) in zip(layers, run(layers, build_dir, sim))]


def _run_cocotb(jobs, build_dir: Path, sim: str) -> list:
    from ...run_cocotb import compile_verilog, require_simulator, run_cocotb
    require_simulator(sim)
    build_dir.mkdir(parents=True, exist_ok=True)
    verilog_path, _ = accelerator_verilog(jobs[0].arch, build_dir, PARAMS)
    runner = compile_verilog(verilog_path, ACCEL_TOP, build_dir, sim)
    return run_cocotb(jobs, build_dir, sim, runner=runner)


def verify(arch: ArchSpec, sim: str = "icarus", progress=lambda line: None) -> tuple[int, int]:
    """(passed, failed): a layer passes when its outputs equal palquant_ref bit for bit and
    every command's testbench cycle count equals the design's own cycle counter."""
    if sim not in SIMS:
        raise SpecError(f"unknown simulator {sim!r}; choose from {', '.join(SIMS)}")
    check(arch)
    named = verify_layers(arch, np.random.default_rng(0))
    passed = failed = 0
    for (name, layer), (output, results) in zip(named, run([l for _, l in named], sim=sim)):
        ok = (np.array_equal(output, layer.expected())
              and all(r.testbench_cycles == r.perf["cycles"] for r in results))
        passed, failed = passed + ok, failed + (not ok)
        cycles = sum(r.testbench_cycles for r in results)
        progress(f"{name}: {'ok' if ok else 'MISMATCH'} ({cycles} cycles)")
    return passed, failed


def cell_stats(arch: ArchSpec) -> dict:
    """Yosys cells of one PE and of the array (signed 3-bit operands), beside the plain 2-bit
    signed MAC PE and the int8 MAC PE and array of the same size (32-bit sums, as edge_tiny)."""
    check(arch)
    pe = arch.pe_array
    dataflows = buildable(array_arch(arch), PARAMS).dataflows
    designs = {
        "pe": MacPE(OPERAND_BITS, OPERAND_BITS, pe.psum_bits, dataflows),
        "array": SystolicArray(pe.rows, pe.cols, OPERAND_BITS, OPERAND_BITS, pe.psum_bits,
                               dataflows),
        "pe_2bit_signed": MacPE(CODE_BITS, CODE_BITS, pe.psum_bits, dataflows),
        "int8_pe": MacPE(8, 8, 32, dataflows),
        "int8_array": SystolicArray(pe.rows, pe.cols, 8, 8, 32, dataflows),
    }
    stats = {name: yosys_cells(design) for name, design in designs.items()}
    stats["pe_over_int8_pe"] = stats["pe"]["total"] / stats["int8_pe"]["total"]
    stats["array_over_int8_array"] = stats["array"]["total"] / stats["int8_array"]["total"]
    return stats
