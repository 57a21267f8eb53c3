"""Assemble the whole report in memory: `build(inp)` returns {relative path: bytes} for
index.html, report.md, records.json and every figure under figures/."""

from __future__ import annotations

import json
import re

from dlaforge.program import CONTROLLER_DATAFLOWS

from . import figures, tables, training
from .document import Heading, Image, Text, markdown, page
from .inputs import ReportInput

DEFINITIONS = (
    "Definitions. Energy is actions times energy per action (the energy table of each arch), "
    "split into MAC, register files (inside every PE), inter-PE network, SRAM (shared buffers), "
    "DRAM and, when a method uses them, the method's units beside the array. Utilization is PE "
    "operations over cycles times PEs. Compulsory DRAM traffic is each tensor the method's "
    "hardware operations read or write, moved once. A PE operation is what one PE does in a "
    "cycle: a MAC at the array's width, or one XNOR-popcount word on an XNOR array; a method "
    "changes how many a layer needs (Winograd fewer, bit slices more), while a layer's MACs "
    "are nominal, the same under every method. The roofline places each layer by its PE "
    "operations per DRAM byte (operational intensity) and per cycle (achieved throughput), "
    "under the PE count and the DRAM bandwidth. Latency is cycles over the arch's clock. "
    "Energies are in µJ, traffic in bytes, weight storage in bits."
)

MODEL_NOTES = {
    "analytical": "analytical model (closed-form counts for the tiling and loop order the mapper "
                  "finds best for each layer)",
    "cycle": "cycle-level model (the PE array stepped tile by tile with fill and drain, "
             "double-buffered SRAM and DRAM bandwidth and latency stalls; SCALE-Sim's timing "
             "for a SCALE-Sim .cfg arch)",
    "rtl": "RTL model (the Amaranth accelerator simulated; cycles and accesses from its "
           "counters)",
}


def _file_stems(names) -> dict[str, str]:
    """A file-name-safe, unique stem for every arch name."""
    stems = {}
    for i, name in enumerate(names):
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "arch"
        stems[name] = stem if stem not in stems.values() else f"{stem}_{i}"
    return stems


def _figure(path: str, caption: str, fig) -> Image:
    return Image(path=path, caption=caption, data=figures.png(fig))


def _phase_note(inp: ReportInput) -> str:
    """A training report says so: each run is one iteration, with its optimizer and widths."""
    if inp.phase == "infer":
        return ""
    t = inp.runs[0].record.training
    return (f", one training iteration per run (forward, loss, dX, dW and the "
            f"{t.get('optimizer', '?')} update; gradients at {t.get('grad_bits', '?')} bits, "
            f"optimizer state at {t.get('state_bits', '?')})")


def _requantized(run) -> bool:
    """Whether any of the run's outputs passed through the controller's requantization stage
    (its energy breakdown has the stage; an rs run or a method's own units have none)."""
    return run.record.totals.energy_breakdown_pj.get("requant", 0) > 0


def _quantizer_note(inp: ReportInput) -> str:
    """The quantizer the runs requantized their outputs with (`--quant`; records saved before
    it was kept load as the default), "" when the runs differ (each arch's line says) or none
    requantized."""
    quantizers = {run.record.quantizer for run in inp.runs if _requantized(run)}
    return (f"; outputs requantized {quantizers.pop()} (--quant)" if len(quantizers) == 1
            else "")


def _arch_quantizers(inp: ReportInput, arch: str) -> str:
    """Each requantizing run's quantizer on `arch` when the report's runs differ in it, else
    ""."""
    if len({run.record.quantizer for run in inp.runs if _requantized(run)}) <= 1:
        return ""
    runs = ", ".join(f"{r.record.dataflow}/{r.record.method} {r.record.quantizer}"
                     for r in inp.runs_of(arch) if _requantized(r))
    return f"; quantizers (--quant): {runs}" if runs else ""


def _intro(inp: ReportInput) -> list:
    versions = sorted({run.record.version for run in inp.runs})
    per_arch = [Text(f"{a.name}: dataflows {', '.join(inp.dataflows_of(a.name))}; methods "
                     f"{', '.join(inp.methods_of(a.name))}{_arch_quantizers(inp, a.name)}"
                     f"{_not_run(inp, a.name)}.")
                for a in inp.archs]
    return [Heading(1, f"dlaforge report: {inp.network}"),
            Text(f"Network {inp.network}, batch {inp.batch}{_phase_note(inp)}"
                 f"{_quantizer_note(inp)}; every number is from the "
                 f"{MODEL_NOTES.get(inp.model, f'{inp.model} model')}; dlaforge "
                 f"{', '.join(versions)}; {len(inp.runs)} runs."),
            *per_arch, Text(DEFINITIONS)]


def _not_run(inp: ReportInput, arch: str) -> str:
    names = [s.method for s in inp.skipped if s.arch == arch]
    return f"; not run: {', '.join(names)} (reasons at the end)" if names else ""


def _skipped(inp: ReportInput) -> list:
    if not inp.skipped:
        return []
    return [Heading(2, "Methods not run"),
            Text("Each method an arch cannot run was left out, for the reason the method "
                 "registry gives (a PE kind or a unit the arch lacks)."),
            tables.skipped_methods(inp)]


def _overview(inp: ReportInput) -> list:
    blocks = [Heading(2, "Overview")]
    if len(inp.archs) > 1:
        blocks.append(_figure("figures/energy_latency.png",
                              "Network energy against latency of every run: a colour per arch "
                              "(per arch and method when an arch ran several), a marker per "
                              "dataflow. The dashed step is the Pareto front; its points are "
                              "outlined and numbered, and the lower legend names the runs "
                              "behind each number (equal runs share a point).",
                              figures.energy_latency(inp)))
    blocks += [tables.runs_energy_time(inp), tables.runs_traffic(inp)]
    if len(inp.archs) > 1:
        blocks.append(tables.pareto(inp))
    return blocks


def _width(facts) -> str:
    """The baseline's operand widths, e.g. "8-bit" or "2-bit weight x 2-bit ifmap"."""
    w, i = facts.bits["weight"], facts.bits["ifmap"]
    return f"{w}-bit" if w == i else f"{w}-bit weight x {i}-bit ifmap"


def _area_note(facts) -> str:
    if facts.array_cells is None:
        cells = ("Its PE array's size in cells is not counted: the RTL generator builds MAC "
                 "arrays for ws, os and is, or the report was made with --no-area.")
    else:
        cells = ("PE array cells: its generated PE array after Yosys' generic passes, "
                 "flattened (word-level adders and multipliers count one cell each; "
                 "hw/area.py).")
    if facts.synth_area_um2 is None:
        synth = (f" Synthesized area: — ({facts.synth_area_note})."
                 if facts.synth_area_note else "")
    else:
        synth = (" Synthesized area: the whole generated accelerator (`dlaforge rtl synth`), "
                 f"{facts.synth_area_note}; µm² at the Liberty's 180 nm, not scaled to "
                 f"{facts.technology_nm} nm.")
    return cells + synth


def _arch_section(inp: ReportInput, arch: str, stem: str) -> list:
    facts = inp.arch(arch)
    ref = inp.reference_method(arch)
    blocks = [Heading(2, f"Arch: {arch}"),
              Heading(3, f"{arch}: parameters"),
              Text(f"{inp.model.capitalize()} model at {facts.technology_nm} nm, "
                   f"{facts.clock_mhz:g} MHz. Per-layer figures show the {ref} method. "
                   + _area_note(facts)),
              tables.arch_parameters(facts), tables.memory_levels(facts),
              tables.energy_table(facts),
              Heading(3, f"{arch}: energy"),
              _figure(f"figures/{stem}_energy_totals.png",
                      f"{arch}: network energy by component per dataflow"
                      + (" and method" if len(inp.methods_of(arch)) > 1 else "")
                      + " (totals above the bars, µJ).", figures.energy_totals(inp, arch)),
              _figure(f"figures/{stem}_energy_layers.png",
                      f"{arch}: energy per layer by component, one panel per dataflow ({ref}).",
                      figures.energy_per_layer(inp, arch)),
              Heading(3, f"{arch}: cycles, utilization and DRAM traffic"),
              _figure(f"figures/{stem}_cycles_utilization.png",
                      f"{arch}: cycles per layer (compute solid, stalls hatched) and PE "
                      f"utilization per layer, per dataflow ({ref}).",
                      figures.cycles_and_utilization(inp, arch)),
              _figure(f"figures/{stem}_dram_traffic.png",
                      f"{arch}: DRAM bytes per layer per dataflow; black bars mark the "
                      f"compulsory traffic ({ref}, log scale).", figures.dram_traffic(inp, arch)),
              Heading(3, f"{arch}: roofline"),
              _figure(f"figures/{stem}_roofline.png",
                      f"{arch}: every layer's PE operations per cycle against its PE "
                      f"operations per DRAM byte, under the peak and DRAM-bandwidth roofs "
                      f"({ref}).",
                      figures.roofline(inp, arch))]
    if inp.phase == "train":
        return blocks + _training_blocks(inp, arch, stem) + _per_layer(inp, arch)
    pairs = inp.compared_runs(arch)
    if pairs:
        base = inp.arch(pairs[0][1].record.arch)
        blocks += [Heading(3, f"{arch}: methods"),
                   _figure(f"figures/{stem}_methods.png",
                           f"{arch}: energy, cycles, DRAM bytes and weight storage of each "
                           f"method over those of the baseline on the same dataflow of "
                           f"{base.name} (plain {_width(base)} layers); below 1 is better.",
                           figures.method_comparison(inp, arch)),
                   tables.method_ratios(inp, arch)]
        if any(run.record.dataflow in CONTROLLER_DATAFLOWS for _, run in pairs):
            blocks.append(Text(
                "Under ws, os and is a baseline op the generated controller runs is priced "
                "as the controller runs it (the mapper's program, outputs requantized on "
                "chip), a method's ops on the generic tiled array: the method units are not on "
                "the controller yet, so these ratios compare two machines."))
    return blocks + _per_layer(inp, arch)


def _per_layer(inp: ReportInput, arch: str) -> list:
    comps = tables.all_components(inp)
    return [Heading(3, f"{arch}: per-layer numbers"),
            *(tables.per_layer(run, comps) for run in inp.reference_runs(arch))]


def _training_blocks(inp: ReportInput, arch: str, stem: str) -> list:
    """The sections of a training report: forward and backward per layer, the memory of one
    iteration, and the training methods against the baseline (reports/training.py)."""
    ref = inp.reference_method(arch)
    runs = inp.reference_runs(arch)
    blocks = [Heading(3, f"{arch}: forward and backward per layer")]
    if all(training.has_phases(run) for run in runs):
        phases = training.phases_of(runs)
        per_cycle = training.shows_per_cycle(runs)
        blocks += [
            Text("One training iteration of each layer split by phase: the forward op(s), the "
                 "loss (with the last layer), dX (the input gradient; none for the layers "
                 "below the first trained one), dW (the weight gradient) and the weight update "
                 "on the vector unit. Each phase is the sum of the layer's ops of that phase "
                 "in its record; the phases add up to the layer's energy and cycles"
                 + (f", with the {PER_CYCLE_NOTE}" if per_cycle else "")
                 + ". Energies in µJ, cycles at the array's clock."),
            _figure(f"figures/{stem}_train_phases.png",
                    f"{arch}: energy (µJ) and cycles per layer stacked by phase of the "
                    f"iteration, two panels per dataflow ({ref}).",
                    training.phase_figure(inp, arch)),
            *(training.phase_table(run, phases, per_cycle) for run in runs)]
    else:
        blocks.append(Text("The records list no per-op costs by phase: the split is left out."))
    blocks.append(Heading(3, f"{arch}: memory of one training iteration"))
    run = training.memory_run(inp, arch)
    steps = training.memory_timeline(run.record)
    if steps is None:
        blocks.append(Text("The records hold each layer's peak memory only (saved before the "
                           "per-step memory was kept): the timeline is left out; the run's "
                           "peak is in the methods table."))
    else:
        peak = training.peak_step(steps)
        several = len({r.record.method for r in inp.runs_of(arch)}) > 1
        blocks += [
            Text(f"The memory live at each step of one iteration's schedule ({run.record.method}"
                 f", in bytes): the forward steps of the layers in order, then their backward "
                 f"steps in reverse. Resident throughout are the weights (as the method stores "
                 f"them) and the trained weights' gradients and optimizer state; the kept "
                 f"activations are the inputs the layers already run keep for their backward "
                 f"(at the widths the method keeps them), growing through the forward and freed "
                 f"through the backward; a step's working tensors are its input and output "
                 f"(forward) or dY and dX (backward). A layer below everything trained has no "
                 f"backward step. The memory does not depend on the dataflow. The peak, "
                 f"{peak.total:,} B at the {peak.step} step of {peak.layer}, is the run's "
                 f"peak_memory_bytes."),
            _figure(f"figures/{stem}_train_memory.png",
                    f"{arch}: live memory (bytes) at each step of one iteration stacked by "
                    f"part, the dashed line at the peak ({run.record.method}); the grey line "
                    f"separates the forward from the backward"
                    + ("; below, each training method's live total per step." if several
                       else "."), training.memory_figure(inp, arch)),
            training.memory_table(run)]
    pairs = inp.compared_runs(arch)
    if pairs:
        base = inp.arch(pairs[0][1].record.arch)
        blocks += [Heading(3, f"{arch}: training methods"),
                   Text("Each method's iteration against the baseline's on the same dataflow: "
                        "energy (µJ), cycles, peak memory (bytes, the largest step of its "
                        "timeline) and DRAM traffic (bytes, read + write), with their ratios "
                        "to the baseline's (below 1 is better)."),
                   _figure(f"figures/{stem}_train_methods.png",
                           f"{arch}: energy, cycles, peak memory and DRAM bytes of each "
                           f"method's training iteration over those of the baseline on the "
                           f"same dataflow of {base.name} (plain {_width(base)} layers); "
                           f"below 1 is better.", training.methods_figure(inp, arch)),
                   training.methods_table(inp, arch)]
    return blocks


PER_CYCLE_NOTE = (f"arch's {training.PER_CYCLE} energy (per cycle of the layer's summed "
                  f"cycles) beside them")


def build(inp: ReportInput, progress=lambda line: None) -> dict[str, bytes]:
    """The report's files; `progress` gets a line as each part is rendered."""
    stems = _file_stems([a.name for a in inp.archs])
    progress("rendering the overview")
    blocks = _intro(inp) + _overview(inp)
    for facts in inp.archs:
        progress(f"rendering the figures of {facts.name}")
        blocks += _arch_section(inp, facts.name, stems[facts.name])
    blocks += _skipped(inp)
    files = {b.path: b.data for b in blocks if isinstance(b, Image)}
    files["report.md"] = markdown(blocks).encode()
    files["index.html"] = page(f"dlaforge report: {inp.network}", blocks).encode()
    records = [run.record.to_json() for run in inp.runs]
    files["records.json"] = json.dumps(records, indent=1).encode()
    return files
