"""Quantities derived from a Stats record and its arch, shared by the tables and the figures so
that a plotted point and its table cell are the same number."""

from __future__ import annotations

from dlaforge.stats import Stats

from .inputs import ArchFacts


def dram_bytes(s: Stats) -> int:
    return s.dram_read_bytes + s.dram_write_bytes


def latency_us(s: Stats, arch: ArchFacts) -> float:
    """Wall time at the arch's clock: cycles / MHz = microseconds."""
    return s.cycles / arch.clock_mhz


def intensity(s: Stats) -> float:
    """Nominal MACs per DRAM byte (inf without traffic)."""
    return _per_dram_byte(s.macs, s)


def macs_per_cycle(s: Stats) -> float:
    """Nominal MACs per cycle."""
    return s.macs / s.cycles if s.cycles else 0.0


def macs_per_cycle_per_kcell(s: Stats, arch: ArchFacts) -> float | None:
    """Nominal MACs per cycle per thousand cells of the arch's PE array (None: no count)."""
    return macs_per_cycle(s) / (arch.array_cells / 1e3) if arch.array_cells else None


def op_intensity(s: Stats) -> float:
    """The roofline's operational intensity: PE operations per DRAM byte (inf without traffic).
    A PE operation is what one PE does in a cycle: one MAC at the array's width, one XNOR word
    on an XNOR array; a method changes how many a layer needs (Winograd fewer, bit slices more)."""
    return _per_dram_byte(s.pe_ops, s)


def ops_per_cycle(s: Stats) -> float:
    """The roofline's achieved throughput: PE operations per cycle (the peak is the PE count)."""
    return s.pe_ops / s.cycles if s.cycles else 0.0


def _per_dram_byte(count: int, s: Stats) -> float:
    moved = dram_bytes(s)
    return count / moved if moved else float("inf")


# What a method is compared with its baseline on: (name, value of a Stats).
METHOD_METRICS = (("energy", lambda s: s.energy_pj), ("cycles", lambda s: s.cycles),
                  ("DRAM bytes", dram_bytes), ("weight storage", lambda s: s.weight_storage_bits))


def method_ratios(s: Stats, baseline: Stats) -> tuple[float, ...]:
    """`s` over `baseline` on each of METHOD_METRICS."""
    return tuple(ratio(value(s), value(baseline)) for _, value in METHOD_METRICS)


def ratio(value: float, reference: float) -> float:
    """`value / reference`, 1.0 when both are zero and inf when only the reference is."""
    if reference == 0:
        return 1.0 if value == 0 else float("inf")
    return value / reference


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both coordinates (both minimised),
    ordered by the first coordinate; equal points are on the front together."""
    order = sorted(range(len(points)), key=lambda i: points[i])
    front, best = [], float("inf")
    for i in order:
        if points[i][1] < best or (front and points[i] == points[front[-1]]):
            front.append(i)
            best = points[i][1]
    return front
