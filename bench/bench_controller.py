"""Benchmark: the mapped-program controller (hw/controller/) against the old RTL program
(hw/accelerator.py, workloads/methods/accelerator_plan.py), per layer of ResNet-18 under ws, os
and is on edge_tiny and gemmini_like (is: tpu_like, gemmini_like has none), and the Verilog
cells of both accelerators.

Per layer: the old program's cycles and DRAM bytes (sim/cycle/rtl_timing.py, equal to the old
RTL by tests/hw/test_icarus.py), the new program's under the mapper's mapping
(sim/cycle/controller_timing.py, equal to the new RTL by tests/hw/test_controller_*.py), and
the analytical model's cycles for that mapping (sim/controller_cost.py). A layer the new
controller cannot run (a buffer half too small for one tile) is marked. Writes
bench/RESULTS_controller.md.

    .venv/bin/python bench/bench_controller.py [--no-cells]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from dlaforge.arch import load_arch
from dlaforge.outputs import publish_files
from dlaforge.sim.analytical import search
from dlaforge.sim.controller_cost import REQUANT, controller_runs, shape_of
from dlaforge.sim.controller_stats import command_totals
from dlaforge.sim.cycle.controller_timing import controller_counters
from dlaforge.sim.energy import energy_table
from dlaforge.sim.methods import baseline, summed
from dlaforge.sim.rtl_program import rtl_cannot_run
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.networks import load_network

RESULTS = Path(__file__).resolve().parent / "RESULTS_controller.md"
ARCHS = ("edge_tiny", "gemmini_like")
DATAFLOWS = ("ws", "os", "is")


def old_program(arch, op, dataflow) -> dict | None:
    if rtl_cannot_run(arch, op, dataflow) is not None:
        return None
    return summed(baseline.command_counters(arch, op, dataflow))


def new_program(arch, op, table, dataflow) -> tuple[dict, int, dict] | None:
    if not controller_runs(arch, op, dataflow):
        return None
    mapping, stats = search(arch, op, dataflow, "energy", table)
    shape = shape_of(op, arch)
    counters = controller_counters(arch, shape, mapping, REQUANT, dataflow=dataflow)
    return command_totals(op, shape, counters), stats.cycles, mapping.to_dict()


def layer_rows(arch_name: str, dataflow: str) -> tuple[list[str], dict]:
    arch = load_arch(arch_name)
    table = energy_table(arch)
    network = load_network("resnet18")
    rows, totals = [], {"old": 0, "new": 0, "analytical": 0, "old_dram": 0, "new_dram": 0}
    worst = 0.0
    for layer in network.layers:
        if layer.kind == "vector":
            continue
        for op in get_method("baseline", arch).transform(layer, arch):
            old = old_program(arch, op, dataflow)
            new = new_program(arch, op, table, dataflow)
            old_cell = f"{old['cycles']:,}" if old else "—"
            if new is None:
                rows.append(f"| {layer.name} | {old_cell} | cannot run | | | | |")
                continue
            counters, analytical, mapping = new
            error = abs(analytical - counters["cycles"]) / counters["cycles"]
            worst = max(worst, error)
            dram_new = counters["dram_read_bytes"] + counters["dram_write_bytes"]
            dram_old = old["dram_read_bytes"] + old["dram_write_bytes"] if old else 0
            tile = mapping["tile"]
            columns = f" Q{tile['Q']}" if tile.get("Q", op.Q) < op.Q else ""
            rows.append(f"| {layer.name} | {old_cell} | {counters['cycles']:,} | "
                        f"{old['cycles'] / counters['cycles']:.2f}x | {analytical:,} "
                        f"({100 * error:.2f}%) | {dram_old:,} / {dram_new:,} | "
                        f"K{tile['K']} C{tile['C']} P{tile['P']}{columns} "
                        f"{mapping['loop_order']} |")
            if old:         # the totals compare the layers both programs run
                totals["old"] += old["cycles"]
                totals["old_dram"] += dram_old
                totals["new"] += counters["cycles"]
                totals["analytical"] += analytical
                totals["new_dram"] += dram_new
    totals["worst_error"] = worst
    return rows, totals


def cell_rows(arch_name: str) -> str:
    from dlaforge.hw.accelerator import Accelerator
    from dlaforge.hw.controller.run import cell_stats as controller_cells
    from dlaforge.hw.verilog import TOP, cell_stats
    arch = load_arch(arch_name)
    old = cell_stats(Accelerator(arch), TOP)["total"]
    new = controller_cells(arch)["total"]
    return f"| {arch_name} | {old:,} | {new:,} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cells", action="store_true", help="skip the Yosys cell counts")
    args = parser.parse_args()
    start = time.perf_counter()
    out = ["# The mapped-program controller against the old RTL program", "",
           f"Written by `bench/bench_controller.py` on {platform.node()} "
           f"({platform.processor() or platform.machine()}), {time.strftime('%Y-%m-%d')}.",
           "", "ResNet-18 (batch 1, requantized int8 outputs), per layer: the old program's "
           "cycles (its exact timing model, equal to the old RTL), the new controller's under "
           "the mapper's mapping (its exact timing model, equal to the new RTL), how many times "
           "faster the new one is, the analytical model's cycles for the same mapping (error "
           "against the exact timing), DRAM bytes moved (read + written) old / new, and the "
           "mapping (tile sizes K, C, P and, where a tile covers fewer than all output "
           "columns, Q; loop order). `cannot run`: the smallest tile (one filter, channel, "
           "output row and output column) does not fit a buffer half; the cycle model then "
           "keeps the mapper's generic timing.", ""]
    for arch_name, dataflow in ((a, d) for d in DATAFLOWS for a in ARCHS):
        if dataflow not in load_arch(arch_name).pe_array.dataflows:
            arch_name = "tpu_like"
        rows, totals = layer_rows(arch_name, dataflow)
        out += [f"## {arch_name}, {dataflow}", "",
                "| layer | old program cycles | new program cycles | speed-up | analytical "
                "(error) | DRAM bytes old / new | mapping |",
                "|---|---:|---:|---:|---:|---:|---|", *rows, "",
                f"Layers both programs run: new {totals['new']:,} cycles against "
                f"{totals['old']:,} on the old program; "
                f"analytical {totals['analytical']:,}; worst per-layer analytical error "
                f"{100 * totals['worst_error']:.2f}%; DRAM bytes {totals['old_dram']:,} old, "
                f"{totals['new_dram']:,} new.", ""]
    if not args.no_cells:
        out += ["## Verilog cells (hw/verilog.cell_stats, Amaranth's reduced Yosys flow)", "",
                "The old accelerator builds ws, os and is with the im2col loader; the new one "
                "builds the mapped ws, os and is programs (loop-nest counters, on-chip im2col, "
                "beats, one array with a sequencer per dataflow, os's and is's transposers and "
                "is's collector).", "",
                "| arch | old accelerator | new controller |", "|---|---:|---:|",
                *(cell_rows(a) for a in ARCHS), ""]
    out.append(f"Run time: {time.perf_counter() - start:.0f} s.")
    publish_files(RESULTS.parent, {RESULTS.name: "\n".join(out) + "\n"})
    print(RESULTS)


if __name__ == "__main__":
    main()
