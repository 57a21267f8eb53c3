"""The driver of `dlaforge report`: gather result records, by running the simulations or by
loading saved `simulate --json` files, with the arch facts a report states, then build the
report (dlaforge.reports) and write it into its folder in one step.

This is an entry point, so it may import everything; the reports package itself sees only the
result records and plain values (reports/inputs.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from . import simulate
from .arch import PRESET_DIR, ArchSpec, list_presets, load_arch
from .errors import RunError, SpecError
from .inputs import load_yaml
from .outputs import check_tree, publish_tree
from .reports.build import build
from .reports.inputs import ArchFacts, EnergyEntry, MemoryFacts, ReportInput, Run, Skipped
from .saved_records import load_records
from .sim.energy import energy_table
from .stats import RunRecord
from .workloads.compression import coded
from .workloads.layer import Layer
from .workloads.methods import METHODS, check_vocabulary, get_method
from .workloads.networks import load_network
from .workloads.training import Training, check_phase, iteration_ops
from .workloads.vector_ops import VectorOp, vector_work


def make_report(out: str | Path, arch: str | None = None, network: str | None = None,
                methods: str | None = None, dataflows: str | None = None,
                model: str | None = None, batch: int | None = None,
                from_json: list[Path] | None = None,
                progress: Callable[[str], None] = lambda line: None, area: bool = True,
                phase: str | None = None, optimizer: str | None = None) -> Path:
    """Build the report into folder `out` and return the path of its index.html.

    `arch`, `methods` and `dataflows` are comma-separated lists as on the command line
    (`methods` and `dataflows` may be "all", the default). With `from_json` the runs come from
    saved records, and `arch` only supplies arch files for records whose arch is not a preset.
    With `area`, each arch's facts hold the cell count of its generated PE array (hw/area.py)
    and the µm² of its generated accelerator from synthesis when cached (hw/area.synth_area);
    `area="synth"` synthesizes those not cached yet (minutes each).
    `phase` "train" (`optimizer` sgd or adam) reports one training iteration per run; saved
    records report the phase they were run at (all the same).
    """
    check_tree(out, "--out")
    names = _names(arch, "--arch") if arch else []
    specs = [load_arch(name) for name in names]
    _check_unique([s.name for s in specs], "arch")
    bases = {s.name: _base_of(name) for s, name in zip(specs, names)}
    if from_json:
        given = [flag for flag, value in (("--network", network), ("--methods", methods),
                                          ("--dataflows", dataflows), ("--model", model),
                                          ("--batch", batch), ("--phase", phase),
                                          ("--optimizer", optimizer)) if value is not None]
        if given:
            raise SpecError(f"{given[0]} cannot be combined with --from-json: the saved "
                            f"records fix it")
        inp = _from_records(load_records(from_json), specs, bases, area, progress)
    else:
        if not specs:
            raise SpecError("give --arch (or --from-json)")
        if network is None:
            raise SpecError("give --network (or --from-json)")
        inp = _gather(specs, bases, network, methods, dataflows, model or "analytical",
                      1 if batch is None else batch, progress, area, phase or "infer",
                      optimizer or "sgd")
    publish_tree(out, build(inp, progress), "--out")
    return Path(out) / "index.html"


def _names(text: str, flag: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise SpecError(f"{flag} {text!r} has an empty name in its comma-separated list")
    return list(dict.fromkeys(names))


def _check_unique(names: list[str], what: str) -> None:
    if len(set(names)) != len(names):
        raise SpecError(f"two {what}s are named {next(n for n in names if names.count(n) > 1)!r}")


def _methods_for(spec: ArchSpec, methods: str | None,
                 phase: str = "infer") -> tuple[list[str], list[Skipped]]:
    """The methods to run on `spec` and those left out: the named methods (each checked against
    the arch, so a refusal is an error), or every registered one the arch can run, baseline
    first, with the registry's reason for each it refuses; a report of inference leaves out
    the methods that change only training (their inference is the baseline's). An arch
    naming a PE kind or unit no method knows is refused first, as `simulate` refuses it."""
    check_vocabulary(spec)
    if methods is not None and methods != "all":
        names = _names(methods, "--methods")
        for name in names:
            get_method(name, spec)
        return names, []
    runnable, skipped = [], []
    for name in METHODS:
        if phase == "infer" and METHODS[name].training_only:
            continue
        try:
            get_method(name, spec)
        except SpecError as refusal:
            skipped.append(Skipped(spec.name, name, str(refusal)))
            continue
        runnable.append(name)
    if not runnable:
        raise SpecError(f"arch {spec.name!r} can run none of the methods {', '.join(METHODS)}")
    return sorted(runnable, key=lambda m: m != "baseline"), skipped


def _dataflows_for(spec: ArchSpec, dataflows: str | None) -> list[str]:
    if dataflows is None or dataflows == "all":
        return list(spec.pe_array.dataflows)
    names = _names(dataflows, "--dataflows")
    for df in names:
        spec.check_dataflow(df)
    return names


def _gather(specs, bases, network, methods, dataflows, model, batch, progress,
            area, phase="infer", optimizer="sgd") -> ReportInput:
    load_network(network, batch)  # bad names and files fail here, before any run
    check_phase(phase)
    Training(optimizer=optimizer)
    plan, skipped = [], []
    for spec in specs:
        chosen, left_out = _methods_for(spec, methods, phase)
        plan += [(spec, df, m) for df in _dataflows_for(spec, dataflows) for m in chosen]
        skipped += left_out
    runs = []
    named = methods is not None and methods != "all"
    for i, (spec, df, method) in enumerate(plan, 1):
        start = time.perf_counter()
        try:
            record = simulate(spec, network, dataflow=df, model=model, method=method,
                              batch=batch, phase=phase, optimizer=optimizer)
        except SpecError as refusal:
            if named or method == "baseline":
                raise
            # a default method that refuses the network (mobiletl without inverted-residual
            # blocks): listed as not run, with its reason
            skipped.append(Skipped(spec.name, method, str(refusal)))
            progress(f"[{i:{len(str(len(plan)))}d}/{len(plan)}] {spec.name} / {df} / "
                     f"{method}: not run: {refusal}")
            continue
        runs.append(Run(record, compulsory_dram_bytes(record, spec)))
        progress(f"[{i:{len(str(len(plan)))}d}/{len(plan)}] {spec.name} / {df} / {method}: "
                 f"{time.perf_counter() - start:.2f} s")
    first = runs[0].record
    return ReportInput(network=first.network, model=first.model, batch=first.batch,
                       archs=tuple(arch_facts(s, bases[s.name], area, progress) for s in specs),
                       runs=tuple(runs),
                       skipped=tuple(skipped), phase=phase)


def _from_records(records: list[RunRecord], specs: list[ArchSpec],
                  bases: dict[str, str | None], area: bool, progress) -> ReportInput:
    def settings(record, attr):
        """What must be equal across the records: a training's settings less its method's
        (each run's own, as its `method` is)."""
        value = getattr(record, attr)
        if attr == "training":
            value = {k: v for k, v in value.items() if k not in ("method", "options")}
        return str(value)

    for attr in ("network", "model", "batch", "phase", "training"):
        values = list(dict.fromkeys(settings(r, attr) for r in records))
        if len(values) > 1:
            raise SpecError(f"the saved records are of different {attr}s ({', '.join(map(str, values))}); "
                            f"a report covers one network, model, batch and phase")
    keys = [(r.arch, r.dataflow, r.method) for r in records]
    _check_unique(["/".join(k) for k in keys], "saved run")
    by_name = {s.name: s for s in specs}
    for name in dict.fromkeys(r.arch for r in records):
        if name not in by_name:
            try:
                by_name[name] = load_arch(name)
                bases[name] = _base_of(name)
            except SpecError:
                raise SpecError(f"the saved records' arch {name!r} is not a preset; give its "
                                f"arch file with --arch") from None
    runs = []
    for r in records:
        spec = by_name[r.arch]
        if r.layers[0].stats.pe_count != spec.pe_count:
            raise SpecError(f"the saved record of arch {r.arch!r} has {r.layers[0].stats.pe_count}"
                            f" PEs but the arch spec has {spec.pe_count}")
        runs.append(Run(r, compulsory_dram_bytes(r, spec)))
    used = dict.fromkeys(r.arch for r in records)
    return ReportInput(network=records[0].network, model=records[0].model,
                       batch=records[0].batch, phase=records[0].phase,
                       archs=tuple(arch_facts(by_name[n], bases[n], area, progress)
                                   for n in used),
                       runs=tuple(runs))


def compulsory_dram_bytes(record: RunRecord, spec: ArchSpec) -> tuple[int, ...]:
    """Per layer, the DRAM bytes (read + write) of each tensor the method's hardware ops touch,
    each moved once (a train record's: every op of its iteration, workloads/training.py);
    layers are rebuilt from the record's kind and shape."""
    method = get_method(record.method, spec)
    layers = []
    for layer in record.layers:
        try:
            layers.append(Layer(name=layer.name, kind=layer.kind, **layer.shape))
        except TypeError as exc:
            raise SpecError(f"layer {layer.name!r} of the record has a malformed shape: {exc}") from None
    ops = [[vector_work(rebuilt, rebuilt.ifmap_bits or spec.pe_array.ifmap_bits)]
           if rebuilt.kind == "vector"
           else [coded(spec, op) for op in method.transform(rebuilt, spec)]
           for rebuilt in layers]
    if record.phase == "train":
        try:
            training = Training(**{**record.training, "method": record.method})
        except TypeError as exc:
            raise SpecError(f"the record's `training` is malformed: {exc}") from None
        ops = [[op for _, op in phases] for phases in iteration_ops(layers, ops, spec, training)]
    # the vector unit streams each tensor once
    return tuple(sum(-(-(op.read_elements + op.write_elements) * op.bits // 8)
                     if isinstance(op, VectorOp) else sum(op.compulsory_dram_bytes())
                     for op in layer_ops) for layer_ops in ops)


def _base_of(arch: str) -> str | None:
    """The preset an arch YAML builds on (its `base`, as in the `<base>_<method>` presets), or
    None; `arch` is an --arch value that load_arch has already accepted."""
    path = PRESET_DIR / f"{arch}.yaml" if arch in list_presets() else Path(arch)
    if path.suffix not in (".yaml", ".yml"):
        return None
    data = load_yaml(path, "arch file")
    return data.get("base") if isinstance(data, dict) else None


def arch_facts(spec: ArchSpec, base: str | None = None, area: bool = False,
               progress: Callable[[str], None] = lambda line: None) -> ArchFacts:
    """The parameters and the energy table of `spec`, as plain values for the report; `base`
    is the preset it builds on, whose baseline its methods are compared with; with `area`,
    the cell count of its generated PE array."""
    table = energy_table(spec)
    pe = spec.pe_array
    energy = [EnergyEntry("MAC", f"{pe.ifmap_bits}x{pe.weight_bits}-bit MAC, "
                                 f"{pe.psum_bits}-bit accumulate", table.mac_pj),
              EnergyEntry("inter-PE network", "bit per hop", table.noc_pj_per_bit)]
    for level in spec.memory:
        word = f"{table.word_bits[level.name]}-bit word"
        energy += [EnergyEntry(f"{level.name} read", word, table.read_pj_per_word[level.name]),
                   EnergyEntry(f"{level.name} write", word, table.write_pj_per_word[level.name])]
    energy += [EnergyEntry(f"DRAM ({spec.dram.type}) read", "bit", table.dram_read_pj_per_bit),
               EnergyEntry(f"DRAM ({spec.dram.type}) write", "bit", table.dram_write_pj_per_bit)]
    memory = tuple(MemoryFacts(name=lv.name, size_bytes=lv.size_bytes, word_bits=lv.word_bits,
                               per_pe=lv.per_pe, operands=lv.operands,
                               read_bandwidth_bytes_per_cycle=lv.read_bandwidth_bytes_per_cycle,
                               write_bandwidth_bytes_per_cycle=lv.write_bandwidth_bytes_per_cycle)
                   for lv in spec.memory)
    return ArchFacts(name=spec.name, base=base, rows=pe.rows, cols=pe.cols, dataflows=pe.dataflows,
                     bits={op: spec.bits(op) for op in ("ifmap", "weight", "psum", "ofmap")},
                     peak_macs_per_cycle=spec.peak_macs_per_cycle, clock_mhz=spec.clock_mhz,
                     technology_nm=spec.technology_nm, memory=memory, dram_type=spec.dram.type,
                     dram_bandwidth_bytes_per_cycle=spec.dram.bandwidth_bytes_per_cycle,
                     dram_latency_cycles=spec.dram.latency_cycles, energy=tuple(energy),
                     array_cells=_array_cells(spec, progress) if area else None,
                     **_synth_area(spec, area, progress))


def _synth_area(spec: ArchSpec, area, progress) -> dict:
    """ArchFacts' synth_area_um2 and synth_area_note: the cached figure (synthesized now when
    `area` is "synth"), or None and why."""
    if not area:
        return {"synth_area_um2": None, "synth_area_note": "the report was made with --no-area"}
    from .hw.area import synth_area, synth_area_reason
    try:
        figures = synth_area(spec, run=area == "synth", progress=progress)
    except RunError as exc:
        return {"synth_area_um2": None, "synth_area_note": f"its synthesis failed: {exc}"}
    if figures is None:
        return {"synth_area_um2": None, "synth_area_note": synth_area_reason(spec)}
    return {"synth_area_um2": figures["total_area_um2"],
            "synth_area_note": f"{figures['total_cells']:,} cells on {figures['liberty']}; "
                               f"memories ({figures['memories']}) are macros, not in it"}


def _array_cells(spec: ArchSpec, progress) -> int | None:
    from .hw.area import array_cells     # imports Amaranth: only when asked
    return array_cells(spec, progress)
