"""The architecture spec: one frozen description of an accelerator that every model reads.

`load_arch(name_or_path)` builds an `ArchSpec` from a preset name (dlaforge/presets/*.yaml), a
YAML file of the same form, or a SCALE-Sim 3.0 `.cfg` file (read as SCALE-Sim reads it). The
spec is validated once, here; models trust it afterwards.

An arch file may name a preset as its `base` and give only what differs (mappings merge key by
key); the `<base>_<method>` presets add a method's units this way.

Memory levels are listed from the PE outwards. A level with `per_pe: true` is a register file
inside every PE; the others are shared on-chip SRAM buffers. DRAM is always the outermost level
and is described apart. Operands are named `ifmap`, `weight` and `ofmap`; the level holding
`ofmap` also holds the partial sums while they accumulate (at `psum_bits`).
"""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from .errors import (SpecError, boolean, non_negative_int, positive_int, positive_number,
                     shown)
from .inputs import load_yaml, read_text

OPERANDS = ("ifmap", "weight", "ofmap")
DATAFLOWS = ("ws", "os", "is", "rs")
# A PE kind or unit name: which ones exist is what the method families declare (the PE kinds
# that run them, the units they need beside the array; workloads/methods), so the core checks
# only their form and workloads.methods.get_method refuses an arch that no method can use.
KIND = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Where a memory level's energy, leakage and area come from (dlaforge.sim.energy_models):
# `table`, the dependency-free default, or `cacti` (CACTI through hwcomponents).
ENERGY_MODELS = ("table", "cacti")
# The vector unit of the non-MAC layers, with the operations it prices (sim/vector_cost.py).
VECTOR_UNIT = "vector"
VECTOR_OPERATIONS = ("add", "mult", "max", "min", "exp", "log", "div", "sqrt")
PRESET_DIR = Path(__file__).parent / "presets"
# The fewest bytes per cycle a bandwidth may be: slower would price a layer beyond int64 cycles.
MIN_BANDWIDTH = 1e-3
# An arch or memory level name: it becomes part of output file names (traces, figures).
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=, -]{0,99}")


def plain_name(value, what):
    """Return `value` if it is a plain name (see NAME) that is safe in a file name."""
    if not isinstance(value, str) or not NAME.fullmatch(value) or value.endswith(" "):
        raise SpecError(f"`{what}` must be a plain name (letters, digits, _ . + = , - and "
                        f"spaces, not starting with . - or a space, at most 100 characters), "
                        f"not {shown(value)}")
    return value


def kind_name(value, what):
    """Return `value` if it has the form of a PE kind or unit name (see KIND)."""
    if not isinstance(value, str) or not KIND.fullmatch(value):
        raise SpecError(f"`{what}`: {shown(value)} is not a PE kind or unit name (lower-case "
                        f"letters, digits and _, starting with a letter)")
    return value


# where a method's full-precision layers run (PEArray.full_precision)
FULL_PRECISION = ("mac_mode", "beside")


@dataclass(frozen=True)
class PEArray:
    """A 2-D array of processing elements and the bit widths of what they compute on.

    `pe_kind` "mac" multiply-accumulates at ifmap_bits x weight_bits; "xnor" does that too and,
    in its binary mode, one XNOR-popcount-accumulate of two `xnor_word_bits`-bit sign words
    per cycle; "adder" (AdderNet) subtracts, takes the absolute value and accumulates,
    c - |a - w|, with no multiplier in that operation (its arch's first conv and FC are int8
    MACs: the mapped-program controller's adder PEs have a MAC mode for them).
    The kinds are those the method families declare (workloads/methods); the spec checks the
    name's form only. `zero_gating` (Eyeriss): a PE whose ifmap value is zero skips the MAC and
    its weight-scratchpad read (their energy, not their cycle), for the share of zeros a layer
    states (Layer.ifmap_zeros); priced by sim/analytical.price, so rs only (see ArchSpec).
    `full_precision` says where a method keeps the layers it leaves at full precision (an
    XNOR-Net's or AdderNet's int8 first conv and FC, PalQuant's int8 layers): "mac_mode", the
    method PEs' own MAC mode (the default, what the generated controller builds), or "beside",
    a baseline MAC array beside the method's, which no model builds yet: the controller then
    refuses a method datapath with a MAC mode (workloads/methods/datapath.Datapath.arch_refusal).
    """

    rows: int
    cols: int
    dataflows: tuple[str, ...]
    pe_kind: str = "mac"
    ifmap_bits: int = 8
    weight_bits: int = 8
    psum_bits: int = 32
    ofmap_bits: int = 8
    xnor_word_bits: int = 64
    zero_gating: bool = False
    full_precision: str = "mac_mode"

    def __post_init__(self):
        for name in ("rows", "cols", "ifmap_bits", "weight_bits", "psum_bits", "ofmap_bits",
                     "xnor_word_bits"):
            positive_int(getattr(self, name), f"pe_array.{name}")
        boolean(self.zero_gating, "pe_array.zero_gating")
        if not self.dataflows:
            raise SpecError("`pe_array.dataflows` must list at least one of ws, os, is, rs")
        for df in self.dataflows:
            if df not in DATAFLOWS:
                raise SpecError(f"unknown dataflow {shown(df)} in pe_array.dataflows; "
                                f"choose from {', '.join(DATAFLOWS)}")
        kind_name(self.pe_kind, "pe_array.pe_kind")
        if self.full_precision not in FULL_PRECISION:
            raise SpecError(f"unknown pe_array.full_precision {shown(self.full_precision)}; "
                            f"choose from {', '.join(FULL_PRECISION)}")


@dataclass(frozen=True)
class MemoryLevel:
    """One on-chip memory: a per-PE register file or a shared SRAM buffer.

    `read_energy_pj` / `write_energy_pj` are per access of one `word_bits` word; when absent the
    level's `energy_model` derives them: `table` (the default) from size and width (see
    dlaforge.sim.energy), `cacti` from CACTI, with the level's leakage and area too. Under
    `table` a level may give its `leakage_mw` and `area_um2` (per PE for a per-PE level);
    `cacti` computes them, so a `cacti` level gives none of the four figures.
    """

    name: str
    size_bytes: int
    operands: tuple[str, ...]
    word_bits: int = 64
    per_pe: bool = False
    banks: int = 1
    read_bandwidth_bytes_per_cycle: float = 64.0
    write_bandwidth_bytes_per_cycle: float = 64.0
    double_buffered: bool = True
    read_energy_pj: float | None = None
    write_energy_pj: float | None = None
    energy_model: str = "table"
    leakage_mw: float | None = None
    area_um2: float | None = None

    def __post_init__(self):
        if plain_name(self.name, "memory level name") == "dram":
            raise SpecError("a memory level needs a name other than 'dram'")
        where = f"memory level {self.name!r}"
        positive_int(self.size_bytes, f"{where}: size_bytes")
        positive_int(self.word_bits, f"{where}: word_bits")
        positive_int(self.banks, f"{where}: banks")
        for name in ("read_bandwidth_bytes_per_cycle", "write_bandwidth_bytes_per_cycle"):
            positive_number(getattr(self, name), f"{where}: {name}", MIN_BANDWIDTH)
        boolean(self.per_pe, f"{where}: per_pe")
        boolean(self.double_buffered, f"{where}: double_buffered")
        if not self.operands:
            raise SpecError(f"{where} must hold at least one of {', '.join(OPERANDS)}")
        for op in self.operands:
            if op not in OPERANDS:
                raise SpecError(f"{where} holds unknown operand {shown(op)}; "
                                f"choose from {', '.join(OPERANDS)}")
        if not isinstance(self.energy_model, str) or self.energy_model not in ENERGY_MODELS:
            raise SpecError(f"{where}: unknown energy_model {shown(self.energy_model)}; "
                            f"choose from {', '.join(ENERGY_MODELS)}")
        figures = ("read_energy_pj", "write_energy_pj", "leakage_mw", "area_um2")
        for name in figures:
            if getattr(self, name) is not None:
                positive_number(getattr(self, name), f"{where}: {name}")
                if self.energy_model != "table":
                    raise SpecError(f"{where}: energy_model {self.energy_model!r} computes "
                                    f"{name}; give either the model or fixed figures")


@dataclass(frozen=True)
class Unit:
    """A fixed-function unit beside the PE array (Winograd transforms, SmartDeal rebuild, XNOR
    output scaling, bit-slice combining), doing `ops_per_cycle` of its operations per cycle;
    its energy per operation comes from the energy table (dlaforge.sim.method_costs). The
    `vector` unit runs the non-MAC layers (sim/vector_cost.py): its lanes x operations per
    lane per cycle, and optionally `energy_pj`, pJ per operation at the arch's node for any of
    VECTOR_OPERATIONS, replacing the energy table's (a mapping in the arch file)."""

    name: str
    ops_per_cycle: float
    energy_pj: tuple = ()       # ((operation, pJ), ...), sorted

    def __post_init__(self):
        kind_name(self.name, "units")
        positive_number(self.ops_per_cycle, f"units.{self.name}.ops_per_cycle")
        where = f"units.{self.name}.energy_pj"
        given = self.energy_pj
        if not isinstance(given, (dict, tuple)):
            raise SpecError(f"`{where}` must be a mapping of operation to pJ")
        pairs = tuple(given.items()) if isinstance(given, dict) else given
        if pairs and self.name != VECTOR_UNIT:
            raise SpecError(f"`{where}`: only the vector unit takes energies per operation")
        for operation, pj in pairs:
            if operation not in VECTOR_OPERATIONS:
                raise SpecError(f"`{where}`: unknown operation {shown(operation)}; choose from "
                                f"{', '.join(VECTOR_OPERATIONS)}")
            positive_number(pj, f"{where}.{operation}")
        object.__setattr__(self, "energy_pj", tuple(sorted((o, float(pj)) for o, pj in pairs)))


# DRAM energy per bit by type: Accelergy CACTI plug-in `type2energy` (REFERENCES.md §1, DRAM).
DRAM_PJ_PER_BIT = {"LPDDR4": 8.0, "LPDDR": 40.0, "DDR3": 70.0, "GDDR5": 14.0,
                   "HBM2": 3.9, "HMC": 4.2}
# How activations are stored in DRAM (workloads/compression.py): as they are, or Eyeriss's
# run-length coding of zeros.
DRAM_COMPRESSIONS = ("none", "zero_rle")
# The dataflows whose ops the generated controller may run: its closed forms (sim/
# controller_cost.py) price neither DRAM compression nor zero gating, so those are rs only.
CONTROLLER_DATAFLOWS = ("ws", "os", "is")


@dataclass(frozen=True)
class DRAM:
    """Off-chip memory: bandwidth and latency in accelerator cycles, energy per bit moved.

    `compression` "zero_rle" stores ifmaps and ofmaps run-length coded (Eyeriss, JSSC 2017: a
    5-bit run of zeros and a 16-bit level per pair, three pairs and a termination bit per
    64-bit word) wherever a layer's stated zeros (Layer.ifmap_zeros, ofmap_zeros) make that
    smaller than storing them as they are; weights and partial sums stay as they are."""

    type: str = "LPDDR4"
    bandwidth_bytes_per_cycle: float = 16.0
    latency_cycles: int = 100
    read_energy_pj_per_bit: float | None = None
    write_energy_pj_per_bit: float | None = None
    compression: str = "none"

    def __post_init__(self):
        if self.compression not in DRAM_COMPRESSIONS:
            raise SpecError(f"unknown dram.compression {shown(self.compression)}; choose from "
                            f"{', '.join(DRAM_COMPRESSIONS)}")
        if not isinstance(self.type, str):
            raise SpecError(f"`dram.type` must be a name such as LPDDR4, not {shown(self.type)}")
        positive_number(self.bandwidth_bytes_per_cycle, "dram.bandwidth_bytes_per_cycle",
                        MIN_BANDWIDTH)
        non_negative_int(self.latency_cycles, "dram.latency_cycles")
        for name in ("read_energy_pj_per_bit", "write_energy_pj_per_bit"):
            value = getattr(self, name)
            if value is None and self.type not in DRAM_PJ_PER_BIT:
                raise SpecError(f"dram.type {shown(self.type)} has no energy in the table "
                                f"({', '.join(DRAM_PJ_PER_BIT)}); give dram.{name}")
            if value is not None:
                positive_number(value, f"dram.{name}")

    def energy_pj_per_bit(self, write: bool) -> float:
        value = self.write_energy_pj_per_bit if write else self.read_energy_pj_per_bit
        return value if value is not None else DRAM_PJ_PER_BIT[self.type]


@dataclass(frozen=True)
class EnergyOverrides:
    """Optional per-action energies that replace the energy table's defaults (pJ), and what
    the table has no default for: the clock tree's and the controller's energy per cycle (pJ,
    every cycle, stalls included) and the leakage of everything but the memory levels (mW).
    """

    mac_pj: float | None = None
    noc_pj_per_bit: float | None = None
    clock_pj_per_cycle: float | None = None
    control_pj_per_cycle: float | None = None
    leakage_mw: float | None = None

    def __post_init__(self):
        for f in fields(self):
            if getattr(self, f.name) is not None:
                positive_number(getattr(self, f.name), f"energy.{f.name}")


@dataclass(frozen=True)
class ScaleSimConfig:
    """What a SCALE-Sim .cfg says beyond the hardware: its timing conventions are followed.

    `bandwidth_mode` is CALC (no stalls) or USER. In USER mode SCALE-Sim takes the ofmap's DRAM
    bandwidth from `Bandwidth` and the ifmap's and filter's from the [layout] section's
    IfmapSRAMBankBandwidth and FilterSRAMBankBandwidth (words per cycle).
    """

    run_name: str
    bandwidth_mode: str
    bandwidth_words_per_cycle: int = 10
    ifmap_bank_bandwidth: int = 10
    filter_bank_bandwidth: int = 10

    def __post_init__(self):
        for name, key in (("bandwidth_words_per_cycle", "Bandwidth"),
                          ("ifmap_bank_bandwidth", "IfmapSRAMBankBandwidth"),
                          ("filter_bank_bandwidth", "FilterSRAMBankBandwidth")):
            positive_int(getattr(self, name), key)


@dataclass(frozen=True)
class ArchSpec:
    """An accelerator: PE array, on-chip memories from the PE outwards, DRAM, clock, technology."""

    name: str
    pe_array: PEArray
    memory: tuple[MemoryLevel, ...]
    dram: DRAM = field(default_factory=DRAM)
    clock_mhz: float = 1000.0
    technology_nm: int = 45
    energy: EnergyOverrides = field(default_factory=EnergyOverrides)
    scalesim: ScaleSimConfig | None = None
    units: tuple[Unit, ...] = ()

    def __post_init__(self):
        plain_name(self.name, "name")
        positive_number(self.clock_mhz, "clock_mhz")
        unit_names = [unit.name for unit in self.units]
        if len(set(unit_names)) != len(unit_names):
            raise SpecError(f"units must be listed once each, got {unit_names}")
        positive_int(self.technology_nm, "technology_nm")
        names = [level.name for level in self.memory]
        if len(set(names)) != len(names):
            raise SpecError(f"memory level names must be unique, got {names}")
        for op in OPERANDS:
            holders = [lv.name for lv in self.memory if not lv.per_pe and op in lv.operands]
            if len(holders) != 1:
                raise SpecError(f"operand {op!r} must be held by exactly one shared (not per-PE) "
                                f"memory level, found {holders or 'none'}")
        if "rs" in self.pe_array.dataflows:
            for op in OPERANDS:
                if not any(lv.per_pe and op in lv.operands for lv in self.memory):
                    raise SpecError(f"dataflow 'rs' needs a per-PE register file holding {op!r}")
        features = [name for name, on in (("pe_array.zero_gating", self.pe_array.zero_gating),
                                          ("dram.compression", self.dram.compression != "none"))
                    if on]
        if self.dram.compression == "zero_rle":
            from .workloads.compression import MAX_LEVEL_BITS
            widest = max(self.pe_array.ifmap_bits, self.pe_array.ofmap_bits)
            if widest > MAX_LEVEL_BITS:
                raise SpecError(f"dram.compression zero_rle codes values of at most "
                                f"{MAX_LEVEL_BITS} bits (a 5-bit run and the value in a 64-bit "
                                f"word), not {widest}-bit activations")
        systolic = [df for df in self.pe_array.dataflows if df in CONTROLLER_DATAFLOWS]
        if features and systolic:
            raise SpecError(f"{features[0]} is priced for the rs dataflow only (the generated "
                            f"controller's closed forms of {', '.join(systolic)} have neither "
                            f"zero gating nor DRAM compression)")

    # Derived quantities -------------------------------------------------------------------
    @property
    def pe_count(self) -> int:
        return self.pe_array.rows * self.pe_array.cols

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.pe_count

    def bits(self, operand: str) -> int:
        """Bit width of one element of `operand` (`psum` is the accumulator width)."""
        pe = self.pe_array
        return {"ifmap": pe.ifmap_bits, "weight": pe.weight_bits,
                "psum": pe.psum_bits, "ofmap": pe.ofmap_bits}[operand]

    def unit(self, name: str) -> Unit | None:
        """The declared unit `name`, if the arch has one."""
        return next((unit for unit in self.units if unit.name == name), None)

    def shared_level(self, operand: str) -> MemoryLevel:
        """The shared SRAM buffer that holds `operand` (validated to be exactly one)."""
        return next(lv for lv in self.memory if not lv.per_pe and operand in lv.operands)

    def pe_level(self, operand: str) -> MemoryLevel | None:
        """The per-PE register file that holds `operand`, if any."""
        return next((lv for lv in self.memory if lv.per_pe and operand in lv.operands), None)

    @property
    def shared_levels(self) -> tuple[MemoryLevel, ...]:
        return tuple(lv for lv in self.memory if not lv.per_pe)

    def check_dataflow(self, dataflow: str) -> None:
        if dataflow not in DATAFLOWS:
            raise SpecError(f"unknown dataflow {dataflow!r}; choose from {', '.join(DATAFLOWS)}")
        if dataflow not in self.pe_array.dataflows:
            raise SpecError(f"arch {self.name!r} does not support dataflow {dataflow!r} "
                            f"(it supports {', '.join(self.pe_array.dataflows)})")


# Loading --------------------------------------------------------------------------------------
def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_arch(name_or_path: str | Path) -> ArchSpec:
    """Build a validated ArchSpec from a preset name, an arch YAML file or a SCALE-Sim .cfg."""
    text = str(name_or_path)
    path = Path(text)
    if text in list_presets():
        return _arch_from_yaml(PRESET_DIR / f"{text}.yaml", shipped=True)
    if path.suffix in (".yaml", ".yml", ".cfg"):
        return _scalesim_arch(path) if path.suffix == ".cfg" else _arch_from_yaml(path)
    raise SpecError(f"unknown arch {text!r}: not a preset ({', '.join(list_presets())}) "
                    f"nor a .yaml or .cfg file")


def arch_mapping(name_or_path: str | Path) -> dict:
    """The mapping an arch YAML file or preset describes, its `base` merged in: what
    `arch_from_mapping` validates. A SCALE-Sim .cfg has none (it is not a YAML mapping)."""
    text = str(name_or_path)
    if text in list_presets():
        return _yaml_mapping(PRESET_DIR / f"{text}.yaml", shipped=True)
    if Path(text).suffix in (".yaml", ".yml"):
        return _yaml_mapping(Path(text))
    raise SpecError(f"unknown arch {text!r}: not a preset ({', '.join(list_presets())}) "
                    f"nor a .yaml arch file")


def _arch_from_yaml(path: Path, shipped: bool = False) -> ArchSpec:
    data = _yaml_mapping(path, shipped)
    try:
        return arch_from_mapping(data)
    except SpecError as exc:
        raise SpecError(f"arch file {str(path)!r}: {exc}") from None


def _yaml_mapping(path: Path, shipped: bool = False) -> dict:
    """The arch mapping of file `path` (`shipped`: a preset, inputs.load_yaml)."""
    data = load_yaml(path, "arch file", shipped)
    if not isinstance(data, dict):
        raise SpecError(f"arch file {str(path)!r} must be a YAML mapping")
    data = dict(data)
    data.setdefault("name", path.stem)
    if "base" in data:
        data = _overlay(_base_preset(data.pop("base"), path), data)
    return data


def arch_from_mapping(data: dict) -> ArchSpec:
    """Validate an arch mapping (the form of an arch YAML file, its base merged in) into an
    ArchSpec; a bad one raises SpecError naming the key and the value."""
    memory = data.get("memory")
    if not isinstance(memory, list):
        raise SpecError("`memory` must be a list of levels")
    return _build(ArchSpec, data, "arch", nested={
        "pe_array": lambda d: _build(PEArray, d, "pe_array", tuples=("dataflows",)),
        "memory": lambda levels: tuple(
            _build(MemoryLevel, lv, f"memory[{i}]", tuples=("operands",))
            for i, lv in enumerate(levels)),
        "dram": lambda d: _build(DRAM, d, "dram"),
        "energy": lambda d: _build(EnergyOverrides, d, "energy"),
        "units": lambda units: tuple(
            _build(Unit, {"name": name, **_mapping(spec or {}, f"units.{name}")},
                   f"units.{name}")
            for name, spec in _mapping(units, "units").items()),
    })


def _build(cls, data, where, nested=None, tuples=()):
    """Construct dataclass `cls` from a mapping, refusing unknown and missing keys."""
    if not isinstance(data, dict):
        raise SpecError(f"`{where}` must be a mapping")
    known = {f.name for f in fields(cls)} - {"scalesim"}
    unknown = [key for key in data if key not in known]
    if unknown:
        key = unknown[0] if isinstance(unknown[0], str) and len(unknown[0]) <= 40 \
            else shown(unknown[0])
        raise SpecError(f"unknown key `{key}` in {where} (known: "
                        f"{', '.join(sorted(known))})")
    missing = [f.name for f in fields(cls) if f.name not in data
               and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        raise SpecError(f"{where} is missing `{missing[0]}`")
    kwargs = {}
    for key, value in data.items():
        if nested and key in nested:
            value = nested[key](value)
        elif key in tuples:
            value = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        kwargs[key] = value
    return cls(**kwargs)


def _base_preset(name, path: Path) -> dict:
    """The arch mapping of preset `name`, which an arch file names as its `base` (with the
    preset's own base merged in: `edge_tiny_addernet` builds on edge_tiny)."""
    if name not in list_presets():
        raise SpecError(f"arch file {str(path)!r}: base {shown(name)} is not a preset "
                        f"({', '.join(list_presets())})")
    return _yaml_mapping(PRESET_DIR / f"{name}.yaml", shipped=True)


def _overlay(base: dict, changes: dict) -> dict:
    """`base` with `changes` applied: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in changes.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _overlay(out[key], value) if both else value
    return out


def _mapping(value, where):
    if not isinstance(value, dict):
        raise SpecError(f"`{where}` must be a mapping")
    return value


def _scalesim_arch(path: Path) -> ArchSpec:
    """Read a SCALE-Sim 3.0 .cfg as scalesim/scale_config.py does (kB = 1024 one-byte words)."""
    import configparser     # here: only a .cfg needs it (a quicker start)

    text = read_text(path, "SCALE-Sim config")
    config = configparser.ConfigParser()
    try:
        config.read_string(text, str(path))
        arch = config["architecture_presets"]
        run = config["run_presets"]
        mode = run.get("InterfaceBandwidth", "").strip()
        if mode not in ("CALC", "USER"):
            raise SpecError("InterfaceBandwidth must be CALC or USER")
        rows, cols = int(arch["ArrayHeight"]), int(arch["ArrayWidth"])
        sizes_kb = [int(arch[k]) for k in ("IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB")]
        dataflow = arch["Dataflow"].strip()
        bandwidths = ()
        if mode == "USER":
            bandwidths = tuple(int(x) for x in arch["Bandwidth"].strip().split(","))
        layout = config["layout"] if config.has_section("layout") else {}
        scalesim = ScaleSimConfig(
            run_name=config.get("general", "run_name", fallback=path.stem),
            bandwidth_mode=mode,
            bandwidth_words_per_cycle=bandwidths[0] if bandwidths else 10,
            ifmap_bank_bandwidth=int(layout.get("IfmapSRAMBankBandwidth", 10)),
            filter_bank_bandwidth=int(layout.get("FilterSRAMBankBandwidth", 10)))
    except SpecError as exc:
        raise SpecError(f"SCALE-Sim config {str(path)!r}: {exc}") from None
    except (configparser.Error, KeyError, ValueError) as exc:
        raise SpecError(f"SCALE-Sim config {str(path)!r} is malformed: {_describe(exc)}") from None
    if dataflow not in ("os", "ws", "is"):
        raise SpecError(f"SCALE-Sim config {str(path)!r}: Dataflow must be os, ws or is, "
                        f"not {dataflow!r}")
    for value, what in zip(sizes_kb, ("IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB")):
        positive_int(value, f"{path.name}: {what}")
    word_bandwidth = float(bandwidths[0]) if bandwidths else 10.0
    levels = tuple(
        MemoryLevel(name=name, size_bytes=kb * 1024, operands=(op,), word_bits=8,
                    read_bandwidth_bytes_per_cycle=float(max(rows, cols)),
                    write_bandwidth_bytes_per_cycle=float(max(rows, cols)))
        for name, op, kb in zip(("ifmap_sram", "filter_sram", "ofmap_sram"), OPERANDS, sizes_kb))
    # SCALE-Sim fixes the word at one byte, so psums are 8 bit too; energy uses the 45 nm table.
    return ArchSpec(
        name=path.stem,
        pe_array=PEArray(rows=rows, cols=cols, dataflows=(dataflow,), psum_bits=8),
        memory=levels,
        dram=DRAM(bandwidth_bytes_per_cycle=word_bandwidth, latency_cycles=1),
        scalesim=scalesim)


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing {exc.args[0]!r}"
    return str(exc).splitlines()[0]
