"""The one result record every model returns, and its JSON form.

`Stats` holds what one layer (or, summed, one network) cost: cycles, energy by component,
traffic per memory level and operand, and the operations really performed. `RunRecord` wraps
per-layer records with the run's context; `RunRecord.to_json()` is the contract of
`dlaforge simulate --json` (DESIGN.md, "Results").
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields

ENERGY_COMPONENTS = ("mac", "rf", "noc", "sram", "dram")


def _merge(a: dict, b: dict) -> dict:
    """Sum two nested dicts of numbers key by key."""
    out = dict(a)
    for key, value in b.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else out.get(key, 0) + value
    return out


@dataclass(frozen=True)
class Stats:
    """Cost of one layer or of a sum of layers.

    `macs` is the nominal MAC count, the same under every method; `pe_ops` is what the PE array
    executed (one per PE per busy cycle at best), from which utilization follows. `accesses`
    counts elements per level and operand: {level: {operand: {"reads": n, "writes": n}}}.

    `energy_pj` is the dynamic energy, the sum of `energy_breakdown_pj` (which holds `clock` and
    `control` when the arch prices them); `static_energy_pj` is leakage x runtime, apart from
    it; `total_energy_pj` is both.
    """

    macs: int
    pe_ops: int
    pe_count: int
    compute_cycles: int
    stall_cycles: int
    energy_breakdown_pj: dict
    dram_read_bytes: int
    dram_write_bytes: int
    sram_read_bytes: int
    sram_write_bytes: int
    weight_storage_bits: int
    ops: dict = field(default_factory=dict)
    accesses: dict = field(default_factory=dict)
    static_energy_pj: float = 0.0

    @property
    def cycles(self) -> int:
        return self.compute_cycles + self.stall_cycles

    @property
    def energy_pj(self) -> float:
        return float(sum(self.energy_breakdown_pj.values()))

    @property
    def total_energy_pj(self) -> float:
        return self.energy_pj + self.static_energy_pj

    @property
    def utilization(self) -> float:
        return self.pe_ops / (self.cycles * self.pe_count) if self.cycles else 0.0

    def __add__(self, other: Stats) -> Stats:
        if self.pe_count != other.pe_count:
            raise ValueError("cannot add Stats of PE arrays of different sizes")
        summed = {name: getattr(self, name) + getattr(other, name)
                  for name in ("macs", "pe_ops", "compute_cycles", "stall_cycles",
                               "dram_read_bytes", "dram_write_bytes", "sram_read_bytes",
                               "sram_write_bytes", "weight_storage_bits",
                               "static_energy_pj")}
        return Stats(pe_count=self.pe_count, **summed,
                     energy_breakdown_pj=_merge(self.energy_breakdown_pj, other.energy_breakdown_pj),
                     ops=_merge(self.ops, other.ops),
                     accesses=_merge(self.accesses, other.accesses))

    def to_dict(self) -> dict:
        return {"macs": self.macs, "cycles": self.cycles, "compute_cycles": self.compute_cycles,
                "stall_cycles": self.stall_cycles, "utilization": self.utilization,
                "energy_pj": self.energy_pj,
                "energy_breakdown_pj": dict(self.energy_breakdown_pj),
                "dram_read_bytes": self.dram_read_bytes, "dram_write_bytes": self.dram_write_bytes,
                "sram_read_bytes": self.sram_read_bytes, "sram_write_bytes": self.sram_write_bytes,
                "weight_storage_bits": self.weight_storage_bits, "ops": dict(self.ops),
                "accesses": self.accesses, "pe_ops": self.pe_ops, "pe_count": self.pe_count,
                "static_energy_pj": self.static_energy_pj,
                "total_energy_pj": self.total_energy_pj}

    @classmethod
    def from_dict(cls, data: dict) -> Stats:
        """The inverse of `to_dict` (derived keys such as `cycles` are recomputed, not read; a
        key with a default, such as `static_energy_pj`, may be missing from an older record)."""
        return cls(**{f.name: data[f.name] for f in fields(cls)
                      if f.name in data or (f.default is MISSING
                                            and f.default_factory is MISSING)})


@dataclass(frozen=True)
class LayerRecord:
    name: str
    kind: str
    shape: dict
    stats: Stats
    mapping: dict = field(default_factory=dict)
    peak_memory_bytes: int | None = None    # None in records saved before it was kept
    # a train record's: the bytes live at the layer's forward and backward steps, by part,
    # {"forward": {part: bytes}, "backward": {part: bytes} or None} (training_memory.
    # memory_steps); None under infer and in records saved before it was kept
    memory_steps: dict | None = None

    def to_dict(self) -> dict:
        memory = {} if self.peak_memory_bytes is None else {
            "peak_memory_bytes": self.peak_memory_bytes}
        if self.memory_steps is not None:
            memory["memory_steps"] = self.memory_steps
        return {"name": self.name, "kind": self.kind, "shape": self.shape,
                **self.stats.to_dict(), **memory, "mapping": self.mapping}


@dataclass(frozen=True)
class RunRecord:
    """One simulated run: an arch, a network, a dataflow, a model and a method; `area_um2`
    holds the area of each component whose energy model knows it (the arch's memory levels
    under `cacti`, or as the arch gives them), {} when none does.

    `phase` is "infer" or "train" (one training iteration: each layer's record sums its
    forward, dX, dW and update ops, listed with their costs in its mapping's "ops");
    `training` its settings (optimizer, grad_bits, state_bits; {} under infer);
    `method_options` the options the method ran with (`--prune`, ...; its defaults filled in;
    {} for a method that takes none); `quantizer` the requantization of the outputs
    (workloads/quantizers.py, `--quant`). Each layer's
    `peak_memory_bytes` is the memory live at its step, the run's the largest of them
    (workloads/training_memory.py); None in records saved before it was kept."""

    version: str
    arch: str
    network: str
    dataflow: str
    model: str
    method: str
    batch: int
    objective: str
    layers: tuple[LayerRecord, ...]
    area_um2: dict = field(default_factory=dict)
    phase: str = "infer"
    training: dict = field(default_factory=dict)
    method_options: dict = field(default_factory=dict)
    quantizer: str = "per_channel_symmetric"

    @property
    def peak_memory_bytes(self) -> int | None:
        peaks = [layer.peak_memory_bytes for layer in self.layers]
        return None if None in peaks else max(peaks)

    @property
    def totals(self) -> Stats:
        total = self.layers[0].stats
        for layer in self.layers[1:]:
            total = total + layer.stats
        return total

    def to_json(self) -> dict:
        return {"dlaforge_version": self.version, "arch": self.arch, "network": self.network,
                "dataflow": self.dataflow, "model": self.model, "method": self.method,
                "batch": self.batch, "objective": self.objective, "phase": self.phase,
                "quantizer": self.quantizer,
                **({"training": dict(self.training)} if self.training else {}),
                **({"method_options": dict(self.method_options)}
                   if self.method_options else {}),
                "totals": {**self.totals.to_dict(),
                           **({} if self.peak_memory_bytes is None
                              else {"peak_memory_bytes": self.peak_memory_bytes})},
                "area_um2": dict(self.area_um2),
                "layers": [layer.to_dict() for layer in self.layers]}

    @classmethod
    def from_json(cls, data: dict) -> RunRecord:
        """The inverse of `to_json`; a missing key raises KeyError naming it."""
        layers = tuple(LayerRecord(name=d["name"], kind=d["kind"], shape=d["shape"],
                                   stats=Stats.from_dict(d), mapping=d.get("mapping", {}),
                                   peak_memory_bytes=d.get("peak_memory_bytes"),
                                   memory_steps=d.get("memory_steps"))
                       for d in data["layers"])
        return cls(version=data["dlaforge_version"], arch=data["arch"], network=data["network"],
                   dataflow=data["dataflow"], model=data["model"], method=data["method"],
                   batch=data["batch"], objective=data.get("objective", "energy"), layers=layers,
                   area_um2=data.get("area_um2", {}), phase=data.get("phase", "infer"),
                   training=data.get("training", {}),
                   method_options=data.get("method_options", {}),
                   quantizer=data.get("quantizer", "per_channel_symmetric"))
