"""A sweep spec: the base arch, what runs on every point, and the arch parameters varied.

```yaml
base: edge_tiny                  # a preset or an arch YAML file
networks: [mobilenet_v2]         # presets or SCALE-Sim topology CSVs
model: analytical                # or cycle
objective: edp                   # what the mapper minimises: energy | cycles | edp
dataflows: [ws, os]              # default: every dataflow of the base
methods: [baseline]              # default: [baseline]
batch: 1
area: false                      # true: each point's PE-array cells (Yosys, cached) and its
                                 # accelerator's synthesized µm² where `rtl synth` cached it;
                                 # synth: synthesize the points not cached (minutes each)
vary:                            # dotted paths into the arch spec
  pe_array.rows: [4, 8, 16]                     # a list of values: a grid axis
  memory.scratchpad.size_bytes: {min: 8192, max: 131072, log: true}   # a range: sampled
  dram.bandwidth_bytes_per_cycle: {min: 2, max: 16}
samples: {count: 20, method: lhs, seed: 0}      # how ranges are drawn: lhs or random
```

The points are the grid of the listed values crossed with `samples.count` draws of the
ranges (Latin-hypercube or uniform random, from `seed`; log-uniform with `log: true`; whole
numbers when both ends are). File paths (`base`, `networks`) are read as on the command
line, from the working directory.

Paths: `pe_array.<field>`, `memory.<level name>.<field>`, `dram.<field>`,
`energy.<field>`, `units.<unit>.ops_per_cycle`, and the top-level `clock_mhz` and
`technology_nm`. A path the arch spec does not have, an empty list, a range that is not one,
or a key of the wrong type is a SpecError (one line): nothing runs. A varied value the arch
validator refuses only refuses its point.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from dlaforge.arch import (DRAM, DATAFLOWS, ArchSpec, EnergyOverrides, MemoryLevel, PEArray,
                           arch_mapping)
from dlaforge.errors import SpecError, positive_int
from dlaforge.inputs import load_yaml
from dlaforge.workloads.methods import METHODS
from dlaforge.workloads.networks import Network, load_network

from ..analytical import OBJECTIVES

SWEEP_MODELS = ("analytical", "cycle")
SAMPLING = ("lhs", "random")
# `area`: none, the PE array's cells and the cached synthesized area, or synthesize the rest
AREA_CHOICES = (False, True, "synth")
KEYS = ("base", "networks", "model", "objective", "dataflows", "methods", "batch", "area",
        "vary", "samples")
# Sections of the arch mapping addressed as <section>.<field>, and the scalars at its top.
SECTIONS = {"pe_array": PEArray, "dram": DRAM, "energy": EnergyOverrides}
TOP_LEVEL = tuple(f.name for f in fields(ArchSpec)
                  if f.name not in ("name", "memory", "units", "scalesim", *SECTIONS))


@dataclass(frozen=True)
class Range:
    """A sampled parameter: uniform (log-uniform) between `low` and `high`, whole numbers
    when `integer`."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def value(self, u: float):
        """The value at quantile `u` in [0, 1)."""
        if self.integer:
            lo, hi = self.low, self.high + 1       # floor over [low, high + 1) is uniform
        else:
            lo, hi = self.low, self.high
        x = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) if self.log \
            else lo + u * (hi - lo)
        return min(int(math.floor(x)), int(self.high)) if self.integer else float(x)


@dataclass(frozen=True)
class Point:
    """One arch of the sweep: its varied values in the spec's order, and the arch mapping
    they give (not yet validated)."""

    index: int
    values: tuple[tuple[str, object], ...]
    arch: dict


@dataclass(frozen=True)
class SweepSpec:
    base: str
    networks: tuple[Network, ...]
    model: str
    objective: str
    dataflows: tuple[str, ...]
    methods: tuple[str, ...]
    batch: int
    area: bool | str            # AREA_CHOICES
    grid: tuple[tuple[str, tuple], ...]         # (path, values)
    ranges: tuple[tuple[str, Range], ...]       # (path, range)
    sample_count: int
    sampling: str
    seed: int
    base_arch: dict

    @property
    def varied(self) -> tuple[str, ...]:
        return tuple(path for path, _ in self.grid + self.ranges)

    def points(self) -> list[Point]:
        """Every point: the grid (first key slowest) crossed with the sampled draws."""
        draws = _draws(self.ranges, self.sample_count, self.sampling, self.seed)
        grid = itertools.product(*(values for _, values in self.grid))
        out = []
        for combo in grid:
            for draw in draws:
                values = tuple(zip((p for p, _ in self.grid), combo)) + draw
                arch = copy.deepcopy(self.base_arch)
                for path, value in values:
                    _set(arch, path, value)
                out.append(Point(len(out), values, arch))
        return out


def load_sweep_spec(spec: str | Path | dict) -> SweepSpec:
    """Validate a sweep spec (a YAML file or its mapping); bad input raises SpecError."""
    data = _read(spec) if isinstance(spec, (str, Path)) else spec
    if not isinstance(data, dict):
        raise SpecError("a sweep spec must be a mapping")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise SpecError(f"unknown key `{unknown[0]}` in the sweep spec (known: {', '.join(KEYS)})")
    if "base" not in data:
        raise SpecError("the sweep spec needs `base`: a preset or an arch YAML file")
    base = data["base"]
    if not isinstance(base, str):
        raise SpecError(f"`base` must be a preset name or an arch YAML path, not {base!r}")
    base_arch = arch_mapping(base)
    batch = positive_int(data.get("batch", 1), "batch")
    networks = tuple(load_network(n, batch) for n in _names(data, "networks", None))
    model = _choice(data, "model", "analytical", SWEEP_MODELS)
    objective = _choice(data, "objective", "energy", OBJECTIVES)
    base_dataflows = base_arch.get("pe_array", {}).get("dataflows", [])
    dataflows = _names(data, "dataflows", base_dataflows)
    for df in dataflows:
        if df not in DATAFLOWS:
            raise SpecError(f"unknown dataflow {df!r} in `dataflows`; choose from "
                            f"{', '.join(DATAFLOWS)}")
    methods = _names(data, "methods", ["baseline"])
    for method in methods:
        if method not in METHODS:
            raise SpecError(f"unknown method {method!r} in `methods`; choose from "
                            f"{', '.join(METHODS)}")
    area = data.get("area", False)
    if area not in AREA_CHOICES or not isinstance(area, (bool, str)):
        raise SpecError(f"`area` must be true, false or synth, not {area!r}")
    vary = data.get("vary")
    if not isinstance(vary, dict) or not vary:
        raise SpecError("`vary` must map at least one dotted arch path to a list of values "
                        "or a range {min, max}")
    grid, ranges = [], []
    for path, how in vary.items():
        _check_path(str(path), base_arch)
        if isinstance(how, list):
            if not how:
                raise SpecError(f"`vary.{path}` is an empty list")
            grid.append((path, tuple(how)))
        elif isinstance(how, dict):
            ranges.append((path, _range(path, how)))
        else:
            raise SpecError(f"`vary.{path}` must be a list of values or a range {{min, max}}, "
                            f"not {how!r}")
    count, sampling, seed = _samples(data.get("samples"), bool(ranges))
    return SweepSpec(base=base, networks=networks, model=model, objective=objective,
                     dataflows=tuple(dataflows), methods=tuple(methods), batch=batch, area=area,
                     grid=tuple(grid), ranges=tuple(ranges), sample_count=count,
                     sampling=sampling, seed=seed, base_arch=base_arch)


def _read(path) -> dict:
    """The spec file's YAML through the input boundary (dlaforge.inputs: missing, unreadable,
    binary or oversized files, repeated keys and alias bombs are one line each)."""
    return load_yaml(Path(path), "sweep spec")


def _names(data, key, default) -> list:
    value = data.get(key, default)
    if default is None and key not in data:
        raise SpecError(f"the sweep spec needs `{key}`: a list")
    if not isinstance(value, list) or not value:
        raise SpecError(f"`{key}` must be a non-empty list, not {value!r}")
    for item in value:
        if not isinstance(item, str):
            raise SpecError(f"`{key}` must list names, not {item!r}")
    return value


def _choice(data, key, default, choices):
    value = data.get(key, default)
    if value not in choices:
        raise SpecError(f"`{key}` must be one of {', '.join(choices)}, not {value!r}")
    return value


def _check_path(path: str, base: dict) -> None:
    """Refuse a dotted path that names no parameter of the arch spec."""
    parts = path.split(".")
    head = parts[0]
    if len(parts) == 1 and head in TOP_LEVEL:
        return
    if len(parts) == 2 and head in SECTIONS:
        if parts[1] in {f.name for f in fields(SECTIONS[head])}:
            return
        raise SpecError(f"`vary.{path}`: {head} has no field {parts[1]!r} (fields: "
                        f"{', '.join(f.name for f in fields(SECTIONS[head]))})")
    if len(parts) == 3 and head == "memory":
        levels = [lv.get("name") for lv in base.get("memory", []) if isinstance(lv, dict)]
        if parts[1] not in levels:
            raise SpecError(f"`vary.{path}`: the base has no memory level {parts[1]!r} "
                            f"(levels: {', '.join(map(str, levels))})")
        names = [f.name for f in fields(MemoryLevel) if f.name != "name"]
        if parts[2] in names:
            return
        raise SpecError(f"`vary.{path}`: a memory level has no field {parts[2]!r} "
                        f"(fields: {', '.join(names)})")
    if len(parts) == 3 and head == "units" and parts[2] == "ops_per_cycle":
        if parts[1] in (base.get("units") or {}):
            return
        raise SpecError(f"`vary.{path}`: the base has no unit {parts[1]!r}")
    raise SpecError(f"`vary.{path}` is not a path into the arch spec: use "
                    f"{', '.join(TOP_LEVEL)}, pe_array.<field>, memory.<level>.<field>, "
                    f"dram.<field>, energy.<field> or units.<unit>.ops_per_cycle")


def _set(arch: dict, path: str, value) -> None:
    """Set a checked dotted path in an arch mapping (memory levels found by name)."""
    parts = path.split(".")
    if parts[0] == "memory":
        level = next(lv for lv in arch["memory"] if lv.get("name") == parts[1])
        level[parts[2]] = value
    elif parts[0] == "units":
        arch["units"][parts[1]] = {**(arch["units"][parts[1]] or {}), parts[2]: value}
    elif len(parts) == 2:
        arch[parts[0]] = {**(arch.get(parts[0]) or {}), parts[1]: value}
    else:
        arch[parts[0]] = value


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _range(path, how: dict) -> Range:
    unknown = sorted(set(how) - {"min", "max", "log"})
    if unknown or "min" not in how or "max" not in how:
        raise SpecError(f"`vary.{path}` must be a list of values or a range {{min, max}} "
                        f"(optionally log: true), not {how!r}")
    low, high, log = how["min"], how["max"], how.get("log", False)
    if not _number(low) or not _number(high) or not low < high:
        raise SpecError(f"`vary.{path}`: min and max must be numbers with min < max, "
                        f"not {low!r} and {high!r}")
    if not isinstance(log, bool):
        raise SpecError(f"`vary.{path}.log` must be true or false, not {log!r}")
    if log and low <= 0:
        raise SpecError(f"`vary.{path}`: a log range needs min > 0, not {low!r}")
    return Range(low, high, log, isinstance(low, int) and isinstance(high, int))


def _samples(samples, has_ranges: bool) -> tuple[int, str, int]:
    if not has_ranges:
        if samples is not None:
            raise SpecError("`samples` draws the ranges of `vary`, and it has none")
        return 1, "lhs", 0
    if not isinstance(samples, dict):
        raise SpecError("`vary` has ranges: give `samples: {count: N, method: lhs|random, "
                        "seed: S}`")
    unknown = sorted(set(samples) - {"count", "method", "seed"})
    if unknown:
        raise SpecError(f"unknown key `{unknown[0]}` in `samples` (known: count, method, seed)")
    count = positive_int(samples.get("count"), "samples.count")
    sampling = _choice(samples, "method", "lhs", SAMPLING)
    seed = samples.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError(f"`samples.seed` must be a non-negative integer, not {seed!r}")
    return count, sampling, seed


def _draws(ranges, count: int, sampling: str, seed: int) -> list[tuple]:
    """`count` draws of the ranges: ((path, value), ...) each; one empty draw without ranges."""
    if not ranges:
        return [()]
    rng = np.random.default_rng(seed)
    if sampling == "lhs":
        # each range cut into `count` equal strata, one draw in each, strata paired at random
        u = np.stack([(rng.permutation(count) + rng.random(count)) / count for _ in ranges],
                     axis=1)
    else:
        u = rng.random((count, len(ranges)))
    return [tuple((path, r.value(float(x))) for (path, r), x in zip(ranges, row)) for row in u]
