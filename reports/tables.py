"""The report's tables, as plain cells: every number a figure shows is in one of them.

Energies are in microjoules, traffic in bytes, storage in bits, latency in microseconds at the
arch's clock. Each function returns a `Table` whose title names what its rows are.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlaforge.stats import Stats

from . import metrics
from .inputs import ArchFacts, ReportInput, Run
from .style import component_label, components, number


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    text_columns: int = 1           # the first columns are labels (left-aligned), the rest numbers

    def __post_init__(self):
        for row in self.rows:
            if len(row) != len(self.headers):
                raise ValueError(f"table {self.title!r}: row of {len(row)} cells for "
                                 f"{len(self.headers)} headers")


def _uj(pj: float) -> str:
    return number(pj / 1e6)


def _energy_headers(comps) -> tuple[str, ...]:
    return ("energy (µJ)", *(f"{component_label(c)} (µJ)" for c in comps))


def _energy_cells(s: Stats, comps) -> tuple[str, ...]:
    return (_uj(s.energy_pj), *(_uj(s.energy_breakdown_pj.get(c, 0.0)) for c in comps))


def all_components(inp: ReportInput) -> tuple[str, ...]:
    return components(layer.stats.energy_breakdown_pj
                      for run in inp.runs for layer in run.record.layers)


def pareto_keys(inp: ReportInput) -> set[tuple[str, str, str]]:
    """(arch, dataflow, method) of the runs on the energy-latency Pareto front."""
    points = [(metrics.latency_us(r.record.totals, inp.arch(r.record.arch)),
               r.record.totals.energy_pj) for r in inp.runs]
    return {inp.key(inp.runs[i]) for i in metrics.pareto_front(points)}


# the arch's generated accelerator synthesized onto the Liberty (180 nm, memories not in it)
SYNTH_AREA_HEADER = "area (µm², synthesized)"


def runs_energy_time(inp: ReportInput) -> Table:
    comps = all_components(inp)
    several = len(inp.archs) > 1
    front = pareto_keys(inp) if several else set()
    rows = []
    for run in inp.runs:
        s, arch = run.record.totals, inp.arch(run.record.arch)
        cells = (*inp.key(run), number(s.cycles), number(metrics.latency_us(s, arch)),
                 number(s.utilization), *_energy_cells(s, comps), _optional(arch.synth_area_um2))
        rows.append(cells + (("yes" if inp.key(run) in front else "",) if several else ()))
    headers = ("arch", "dataflow", "method", "cycles", "latency (µs)", "utilization",
               *_energy_headers(comps), SYNTH_AREA_HEADER,
               *(("Pareto front",) if several else ()))
    return Table("All runs: energy and time (network totals)", headers, tuple(rows), 3)


def runs_traffic(inp: ReportInput) -> Table:
    rows = []
    for run in inp.runs:
        s = run.record.totals
        rows.append((*inp.key(run), number(s.macs), number(s.dram_read_bytes),
                     number(s.dram_write_bytes), number(sum(run.compulsory_dram_bytes)),
                     number(s.sram_read_bytes), number(s.sram_write_bytes),
                     number(s.weight_storage_bits), number(metrics.intensity(s)),
                     number(metrics.macs_per_cycle(s)),
                     _optional(metrics.macs_per_cycle_per_kcell(s, inp.arch(run.record.arch)))))
    headers = ("arch", "dataflow", "method", "MACs", "DRAM read (B)", "DRAM write (B)",
               "compulsory DRAM (B)", "SRAM read (B)", "SRAM write (B)", "weight storage (bit)",
               "MACs per DRAM byte", "MACs per cycle", "MACs per cycle per 1k array cells")
    return Table("All runs: traffic and storage (network totals)", headers, tuple(rows), 3)


def pareto(inp: ReportInput) -> Table:
    front = pareto_keys(inp)
    runs = sorted((r for r in inp.runs if inp.key(r) in front),
                  key=lambda r: r.record.totals.cycles / inp.arch(r.record.arch).clock_mhz)
    rows = tuple((*inp.key(r), number(metrics.latency_us(r.record.totals, inp.arch(r.record.arch))),
                  _uj(r.record.totals.energy_pj)) for r in runs)
    return Table("Energy-latency Pareto front", ("arch", "dataflow", "method", "latency (µs)",
                                                 "energy (µJ)"), rows, 3)


def _optional(value) -> str:
    """A number, or "—" where the report has none (an area not counted)."""
    return "—" if value is None else number(value)


def arch_parameters(arch: ArchFacts) -> Table:
    b = arch.bits
    rows = (
        ("PE array (rows x cols)", f"{arch.rows} x {arch.cols}"),
        ("dataflows", ", ".join(arch.dataflows)),
        ("bits ifmap / weight / psum / ofmap",
         f"{b['ifmap']} / {b['weight']} / {b['psum']} / {b['ofmap']}"),
        ("peak (PE operations per cycle)", number(arch.peak_macs_per_cycle)),
        ("clock (MHz)", number(arch.clock_mhz)),
        ("peak (G PE operations per s)", number(arch.peak_macs_per_cycle * arch.clock_mhz / 1e3)),
        ("technology (nm)", number(arch.technology_nm)),
        ("DRAM", arch.dram_type),
        ("DRAM bandwidth (B per cycle)", number(arch.dram_bandwidth_bytes_per_cycle)),
        ("DRAM latency (cycles)", number(arch.dram_latency_cycles)),
        ("roofline ridge (PE operations per DRAM byte)",
         number(arch.peak_macs_per_cycle / arch.dram_bandwidth_bytes_per_cycle)),
        ("PE array cells (Yosys)", _optional(arch.array_cells)),
        (SYNTH_AREA_HEADER, _optional(arch.synth_area_um2)),
        ("peak PE operations per cycle per 1k cells",
         _optional(arch.array_cells and arch.peak_macs_per_cycle / (arch.array_cells / 1e3))),
    )
    return Table(f"Parameters: {arch.name}", ("parameter", "value"), rows, 2)


def memory_levels(arch: ArchFacts) -> Table:
    rows = tuple((m.name, "register file in every PE" if m.per_pe else "shared SRAM",
                  ", ".join(m.operands), number(m.size_bytes), number(m.word_bits),
                  number(m.read_bandwidth_bytes_per_cycle), number(m.write_bandwidth_bytes_per_cycle))
                 for m in arch.memory)
    return Table(f"Memory levels: {arch.name} (from the PE outwards)",
                 ("level", "kind", "operands", "size (B)", "word (bit)", "read (B per cycle)",
                  "write (B per cycle)"), rows, 3)


def energy_table(arch: ArchFacts) -> Table:
    rows = tuple((e.action, e.per, number(e.pj)) for e in arch.energy)
    return Table(f"Energy table: {arch.name} ({arch.technology_nm} nm)",
                 ("action", "per", "energy (pJ)"), rows, 2)


def per_layer(run: Run, comps: tuple[str, ...]) -> Table:
    r = run.record

    def cells(name, kind, s, compulsory):
        return (name, kind, number(s.macs), number(s.cycles), number(s.compute_cycles),
                number(s.stall_cycles), number(s.utilization), *_energy_cells(s, comps),
                number(metrics.dram_bytes(s)), number(compulsory),
                number(s.pe_ops), number(metrics.op_intensity(s)),
                number(metrics.ops_per_cycle(s)))

    rows = [cells(layer.name, layer.kind, layer.stats, c)
            for layer, c in zip(r.layers, run.compulsory_dram_bytes)]
    rows.append(cells("TOTAL", "network", r.totals, sum(run.compulsory_dram_bytes)))
    headers = ("layer", "kind", "MACs", "cycles", "compute cycles", "stall cycles",
               "utilization", *_energy_headers(comps), "DRAM (B)", "compulsory DRAM (B)",
               "PE operations", "PE operations per DRAM byte", "PE operations per cycle")
    return Table(f"Per layer: {r.arch} / {r.dataflow} / {r.method}", headers, tuple(rows), 2)


def method_ratios(inp: ReportInput, arch: str) -> Table:
    """Each method's network totals over those of the baseline it is compared with."""
    rows = tuple((run.record.method, run.record.dataflow, base.record.arch,
                  *map(number, metrics.method_ratios(run.record.totals, base.record.totals)))
                 for run, base in inp.compared_runs(arch))
    return Table(f"Methods vs baseline: {arch} (ratio, below 1 is better)",
                 ("method", "dataflow", "baseline of", *(n for n, _ in metrics.METHOD_METRICS)),
                 rows, 3)


def skipped_methods(inp: ReportInput) -> Table:
    rows = tuple((s.arch, s.method, s.reason) for s in inp.skipped)
    return Table("Methods not run", ("arch", "method", "reason"), rows, 3)
