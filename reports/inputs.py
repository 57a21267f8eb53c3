"""What a report is built from: result records and the few arch facts needed to read them.

Reports never call a model or read an arch spec: the driver (dlaforge/report_driver.py) runs
the simulations, or loads saved records, and hands over these plain values.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlaforge.stats import RunRecord


@dataclass(frozen=True)
class MemoryFacts:
    """One on-chip memory level as the arch spec describes it."""

    name: str
    size_bytes: int
    word_bits: int
    per_pe: bool
    operands: tuple[str, ...]
    read_bandwidth_bytes_per_cycle: float
    write_bandwidth_bytes_per_cycle: float


@dataclass(frozen=True)
class EnergyEntry:
    """One row of the energy table: `pj` picojoules per `per` (e.g. "bit", "64-bit word")."""

    action: str
    per: str
    pj: float


@dataclass(frozen=True)
class ArchFacts:
    """The arch parameters a report states and plots against (the roofline's roofs)."""

    name: str
    rows: int
    cols: int
    dataflows: tuple[str, ...]
    bits: dict                      # {"ifmap": 8, "weight": 8, "psum": 32, "ofmap": 8}
    peak_macs_per_cycle: int
    clock_mhz: float
    technology_nm: int
    memory: tuple[MemoryFacts, ...]
    dram_type: str
    dram_bandwidth_bytes_per_cycle: float
    dram_latency_cycles: int
    energy: tuple[EnergyEntry, ...]
    base: str | None = None         # the preset this arch builds on (tpu_like for tpu_like_xnor)
    array_cells: int | None = None  # Yosys cells of its generated PE array (hw/area.py); None:
                                    # not counted (--no-area) or a PE the generator does not build
    synth_area_um2: float | None = None  # µm² of its generated accelerator from synthesis onto
                                         # the Liberty (hw/area.synth_area); None: see the note
    synth_area_note: str = ""       # where that area comes from, or why there is none


@dataclass(frozen=True)
class Run:
    """One result record with, per layer, the DRAM bytes any schedule must move (each tensor
    the method's hardware operations read or write, moved once)."""

    record: RunRecord
    compulsory_dram_bytes: tuple[int, ...]

    def __post_init__(self):
        if len(self.compulsory_dram_bytes) != len(self.record.layers):
            raise ValueError(f"{len(self.compulsory_dram_bytes)} compulsory traffic figures for "
                             f"{len(self.record.layers)} layers")


@dataclass(frozen=True)
class Skipped:
    """A method that was not run on an arch, with the reason the method registry gave."""

    arch: str
    method: str
    reason: str


@dataclass(frozen=True)
class ReportInput:
    """Every run of one network under one model, on one or more archs, and the methods that
    were left out because an arch cannot run them."""

    network: str
    model: str
    batch: int
    archs: tuple[ArchFacts, ...]
    runs: tuple[Run, ...]
    skipped: tuple[Skipped, ...] = ()
    phase: str = "infer"                # every run's: "infer", or "train" (one iteration)

    def __post_init__(self):
        names = [a.name for a in self.archs]
        if len(set(names)) != len(names):
            raise ValueError(f"arch names must be unique, got {names}")
        keys = [self.key(run) for run in self.runs]
        if len(set(keys)) != len(keys):
            raise ValueError("two runs share an arch, dataflow and method")
        for name in names:
            if not self.runs_of(name):
                raise ValueError(f"arch {name!r} has no runs")
        for run in self.runs:
            r = run.record
            if r.arch not in names:
                raise ValueError(f"run on arch {r.arch!r} has no arch facts")
            if (r.network, r.model, r.batch) != (self.network, self.model, self.batch):
                raise ValueError(f"run {self.key(run)} is of {r.network}/{r.model}/batch "
                                 f"{r.batch}, not {self.network}/{self.model}/batch {self.batch}")
            if r.phase != self.phase:
                raise ValueError(f"run {self.key(run)} is of phase {r.phase}, not {self.phase}")
        for skip in self.skipped:
            if skip.arch not in names:
                raise ValueError(f"skipped method {skip.method!r} is of arch {skip.arch!r}, "
                                 f"which has no arch facts")
            if skip.method in self.methods_of(skip.arch):
                raise ValueError(f"method {skip.method!r} is both run and skipped on {skip.arch!r}")

    @staticmethod
    def key(run: Run) -> tuple[str, str, str]:
        return run.record.arch, run.record.dataflow, run.record.method

    def arch(self, name: str) -> ArchFacts:
        return next(a for a in self.archs if a.name == name)

    def runs_of(self, arch: str) -> tuple[Run, ...]:
        return tuple(run for run in self.runs if run.record.arch == arch)

    def methods_of(self, arch: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(run.record.method for run in self.runs_of(arch)))

    def dataflows_of(self, arch: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(run.record.dataflow for run in self.runs_of(arch)))

    def reference_method(self, arch: str) -> str:
        """The method the per-layer figures show: the baseline when it ran, unless the arch's
        base preset is in the report (and shows that baseline already); else the first."""
        methods = self.methods_of(arch)
        others = [m for m in methods if m != "baseline"]
        base = self.arch(arch).base
        base_shown = base in {a.name for a in self.archs} and "baseline" in self.methods_of(base)
        if "baseline" in methods and not (base_shown and others):
            return "baseline"
        return others[0] if others else methods[0]

    def baseline_run(self, arch: str, dataflow: str) -> Run | None:
        """The baseline run that the methods on (`arch`, `dataflow`) are compared with: that of
        the arch's base preset when the report has it (the plain array a method preset adds
        units to), else the arch's own."""
        for name in (self.arch(arch).base, arch):
            for run in self.runs_of(name):
                if (run.record.dataflow, run.record.method) == (dataflow, "baseline"):
                    return run
        return None

    def compared_runs(self, arch: str) -> tuple[tuple[Run, Run], ...]:
        """(method run, baseline run) for every non-baseline run of `arch` with a baseline."""
        pairs = ((run, self.baseline_run(arch, run.record.dataflow))
                 for run in self.runs_of(arch) if run.record.method != "baseline")
        return tuple((run, base) for run, base in pairs if base is not None)

    def reference_runs(self, arch: str) -> tuple[Run, ...]:
        """One run per dataflow of `arch`, under its reference method."""
        method = self.reference_method(arch)
        return tuple(run for run in self.runs_of(arch) if run.record.method == method)
