"""Saved `dlaforge simulate --json` records read back (`dlaforge report --from-json`): the
input boundary for records, as `load_arch` is for arch files. Every key a report reads is
checked for its type and range here, so a hand-edited or foreign file is refused with one
line naming the key, and the report code can trust what it gets."""

from __future__ import annotations

import math
from pathlib import Path

from . import MODELS
from .arch import DATAFLOWS, plain_name
from .errors import SpecError, non_negative_int, positive_int, shown
from .inputs import load_json
from .stats import RunRecord

OBJECTIVES = ("energy", "cycles", "edp")
PHASES = ("infer", "train")         # workloads/training.py (not imported: a quick start)
COUNTS = ("macs", "pe_ops", "compute_cycles", "stall_cycles", "dram_read_bytes",
          "dram_write_bytes", "sram_read_bytes", "sram_write_bytes", "weight_storage_bits")


def load_records(paths: list[Path]) -> list[RunRecord]:
    """The records in the JSON files `paths` (each one record or a list of them)."""
    records = []
    for path in paths:
        data = load_json(path, "saved record")
        try:
            loaded = [_record(d) for d in (data if isinstance(data, list) else [data])]
        except SpecError as exc:
            raise SpecError(f"{shown(str(path), 120)} is not a `dlaforge simulate --json` "
                            f"record: {exc}") from None
        if not loaded:
            raise SpecError(f"{shown(str(path), 120)} holds no run with layers")
        records += loaded
    return records


def _record(data) -> RunRecord:
    _mapping(data, "the record")
    for key in ("dlaforge_version", "network", "method"):
        _text(data.get(key), key)
    plain_name(data.get("arch"), "arch")
    _choice(data.get("dataflow"), "dataflow", DATAFLOWS)
    _choice(data.get("model"), "model", MODELS)
    _choice(data.get("objective", "energy"), "objective", OBJECTIVES)
    _choice(data.get("phase", "infer"), "phase", PHASES)
    _mapping(data.get("training", {}), "training")
    positive_int(data.get("batch"), "batch")
    layers = data.get("layers")
    if not isinstance(layers, list) or not layers:
        raise SpecError("`layers` must be a non-empty list")
    for i, layer in enumerate(layers):
        _layer(layer, f"layers[{i}]")
    return RunRecord.from_json(data)


def _layer(layer, where: str) -> None:
    _mapping(layer, where)
    _text(layer.get("name"), f"{where}.name")
    _text(layer.get("kind"), f"{where}.kind")
    for dim, value in _mapping(layer.get("shape"), f"{where}.shape").items():
        if dim == "op":                 # a vector layer's operator
            _text(value, f"{where}.shape.op")
            continue
        # pads (top, left, bottom, right) and dilation (rows, cols) are lists
        listed = dim in ("pads", "dilation") and isinstance(value, list)
        for item in value if listed else [value]:
            non_negative_int(item, f"{where}.shape.{dim}")
    for key in COUNTS:
        non_negative_int(layer.get(key), f"{where}.{key}")
    positive_int(layer.get("pe_count"), f"{where}.pe_count")
    if "peak_memory_bytes" in layer:                # absent from records saved before it
        non_negative_int(layer["peak_memory_bytes"], f"{where}.peak_memory_bytes")
    for key in ("energy_breakdown_pj", "ops"):
        for name, value in _mapping(layer.get(key), f"{where}.{key}").items():
            _amount(value, f"{where}.{key}.{name}")
    for level, operands in _mapping(layer.get("accesses"), f"{where}.accesses").items():
        for operand, counts in _mapping(operands, f"{where}.accesses.{level}").items():
            for kind, value in _mapping(counts, f"{where}.accesses.{level}.{operand}").items():
                _amount(value, f"{where}.accesses.{level}.{operand}.{kind}")
    _mapping(layer.get("mapping", {}), f"{where}.mapping")


def _mapping(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise SpecError(f"`{what}` must be a mapping, not {shown(value)}")
    return value


def _text(value, what: str) -> str:
    if not isinstance(value, str):
        raise SpecError(f"`{what}` must be a string, not {shown(value)}")
    return value


def _choice(value, what: str, choices) -> None:
    if value not in choices:
        raise SpecError(f"`{what}` must be one of {', '.join(choices)}, not {shown(value)}")


def _amount(value, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        raise SpecError(f"`{what}` must be a finite number >= 0, not {shown(value)}")
