"""SCALE-Sim 3.0's per-layer reports, read back and set beside a dlaforge record: shared by the
fixture tests and bench/scalesim_differential.py."""

import csv
from pathlib import Path


def read_report(path: Path) -> list[dict]:
    """Rows of a SCALE-Sim report CSV as {column: float} (its header has a trailing comma)."""
    with open(path) as f:
        rows = list(csv.reader(f))
    header = [h.strip() for h in rows[0] if h.strip()]
    return [dict(zip(header, (float(v) for v in row if v.strip()))) for row in rows[1:] if row]


def side_by_side(record, folder: Path) -> list[tuple[str, str, float, float]]:
    """(layer, quantity, dlaforge, SCALE-Sim) for every compared quantity of every layer."""
    compute = read_report(folder / "COMPUTE_REPORT.csv")
    access = read_report(folder / "DETAILED_ACCESS_REPORT.csv")
    if len(compute) != len(record.layers):
        raise ValueError(f"{folder}: {len(compute)} layers reported, {len(record.layers)} simulated")
    rows = []
    for layer, theirs, counts in zip(record.layers, compute, access):
        s, acc = layer.stats, layer.stats.accesses
        ours = {"Total Cycles": s.cycles, "Stall Cycles": s.stall_cycles,
                "Overall Util %": 100 * s.utilization,
                "SRAM IFMAP Reads": acc["ifmap_sram"]["ifmap"]["reads"],
                "SRAM Filter Reads": acc["filter_sram"]["weight"]["reads"],
                "SRAM OFMAP Writes": acc["ofmap_sram"]["ofmap"]["writes"],
                "DRAM IFMAP Reads": acc["dram"]["ifmap"]["reads"],
                "DRAM Filter Reads": acc["dram"]["weight"]["reads"],
                "DRAM OFMAP Writes": acc["dram"]["ofmap"]["writes"]}
        for key, value in ours.items():
            rows.append((layer.name, key, value, {**theirs, **counts}[key]))
    return rows


def agree(ours: float, theirs: float) -> bool:
    """Counts must be equal; utilization (a float SCALE-Sim prints in full) to 1e-12."""
    return abs(ours - theirs) <= 1e-12 * max(abs(theirs), 1.0)
