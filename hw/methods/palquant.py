"""The low-precision array for PalQuant (`palquant`, `palquant_g3`, `palquant_g4`).

Built from a spec whose PE array is 2-bit (ifmap_bits = weight_bits = 2, e.g.
edge_tiny_palquant), it is the baseline accelerator (hw/accelerator.py: the same loader,
systolic array, accumulator, writer, counters and command) with PEs whose operands are a 2-bit
value plus a sign bit, i.e. signed 3-bit (as Bit Fusion's BitBricks): PalQuant's activation
codes q_a ∈ {0..3} are unsigned, and its weight levels times three, 2·q_w − 3 ∈ {−3, −1, 1, 3},
are odd and signed, so that Σ (2·q_w − 3)·q_a, PalQuant's integer output
T = 2·Σq_w·q_a − 3·Σq_a, comes straight out of the accumulators.

A layer of G groups is G commands (hw/methods/palquant_job.py); the cyclic shuffle before
stages 2–4 is each command's ifmap base address. The timing model is
sim/cycle/rtl_palquant.py.

Not built here: bit-sliced passes for layers wider than 2 bits (`bitslice_w4a4`, and
PalQuant's int8 first conv and FC layers) -- the array runs only the 2-bit layers.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.rtl_palquant_plan import CODE_BITS, OPERAND_BITS, array_arch

from ..accelerator import Accelerator, buildable
from ..array import SystolicArray
from ..pe import MacPE
from ..shapes import shapes
from ..verify import SIMS
from ..verilog import cell_stats as yosys_cells, manifest, write_complete
from .palquant_job import CODES, PalquantLayer

TOP = "dlaforge_palquant"
GROUPS = (2, 3, 4)                  # palquant, palquant_g3, palquant_g4


def check(arch: ArchSpec) -> None:
    """SpecError unless `arch` is a 2-bit MAC array the baseline generator can build."""
    buildable(array_arch(arch))


def generate(arch: ArchSpec, out_dir: Path) -> tuple[Path, Path]:
    """`dlaforge_palquant.v` and its manifest (ports, parameters, operand encoding)."""
    check(arch)
    built = array_arch(arch)
    dut = Accelerator(built)
    text = verilog.convert(dut, name=TOP)
    info = {**manifest(dut, built), "top": TOP, "arch": arch.name, "method": "palquant",
            "operands": {"ifmap": "2-bit PalQuant activation code q_a (0..3), signed 3-bit",
                         "weight": "2*q_w - 3 (-3, -1, 1, 3), signed 3-bit",
                         "output": "T = 2*sum(q_w*q_a) - 3*sum(q_a), psum_bits wrapping",
                         "groups": "one command per group; the cyclic shuffle is the "
                                   "command's ifmap_base"}}
    return write_complete(out_dir, {f"{TOP}.v": text, f"{TOP}.json": json.dumps(info, indent=1)})


def verify_layers(arch: ArchSpec, rng) -> list[tuple[str, PalquantLayer]]:
    """The layers `verify` runs: hw/shapes.py's corner cases as one group's conv, G = 2, 3, 4
    and shuffled or not in turn, under every dataflow; then all-maximum, all-minimum and
    maximum-activation / minimum-weight codes."""
    built = array_arch(arch)
    geo = buildable(built)
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
    return layers


def run_layers(layers: list[PalquantLayer], sim: str, build_dir: Path | None = None) -> list:
    """Each layer's (output G·K x P x Q, per-command results), all on one build of the design."""
    jobs = [job for layer in layers for job in layer.jobs()]
    if sim == "amaranth":
        from ..sim_amaranth import run_amaranth
        results = [run_amaranth(job) for job in jobs]
    else:
        from ..sim_cocotb import run_cocotb
        with tempfile.TemporaryDirectory(prefix="dlaforge_palquant_") as tmp:
            results = run_cocotb(jobs, Path(build_dir or tmp), sim)
    out, start = [], 0
    for layer in layers:
        mine = results[start:start + layer.groups]
        start += layer.groups
        out.append((np.concatenate([r.output for r in mine]), mine))
    return out


def verify(arch: ArchSpec, sim: str = "icarus", progress=lambda line: None) -> tuple[int, int]:
    """(passed, failed): a layer passes when its outputs equal palquant_ref bit for bit and
    every command's testbench cycle count equals the design's own cycle counter."""
    if sim not in SIMS:
        raise SpecError(f"unknown simulator {sim!r}; choose from {', '.join(SIMS)}")
    check(arch)
    named = verify_layers(arch, np.random.default_rng(0))
    passed = failed = 0
    for (name, layer), (output, results) in zip(named, run_layers([l for _, l in named], sim)):
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
    dataflows = buildable(array_arch(arch)).dataflows
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
