"""One look for every figure and table: a fixed colour per energy component, per dataflow and
per arch, and one way to print a number."""

from __future__ import annotations

import math
from numbers import Integral

from dlaforge.stats import ENERGY_COMPONENTS

COMPONENT_LABELS = {"mac": "MAC", "rf": "register files", "noc": "inter-PE network",
                    "sram": "SRAM", "dram": "DRAM"}
COMPONENT_COLOURS = {"mac": "#1b9e77", "rf": "#d95f02", "noc": "#7570b3", "sram": "#e7298a",
                     "dram": "#e6ab02"}
# Components a model may add beyond ENERGY_COMPONENTS get these, in order of first appearance.
EXTRA_COLOURS = ("#666666", "#a6761d", "#999999", "#333333")

DATAFLOW_COLOURS = {"ws": "#1f77b4", "os": "#d62728", "is": "#2ca02c", "rs": "#9467bd"}
DATAFLOW_MARKERS = {"ws": "o", "os": "s", "is": "^", "rs": "D"}
ARCH_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                "#bcbd22")

SIGNIFICANT_DIGITS = 4


def components(breakdowns) -> tuple[str, ...]:
    """ENERGY_COMPONENTS followed by any other component found in `breakdowns` (dicts)."""
    extra = [k for b in breakdowns for k in b if k not in ENERGY_COMPONENTS]
    return ENERGY_COMPONENTS + tuple(dict.fromkeys(extra))


def component_label(name: str) -> str:
    return COMPONENT_LABELS.get(name, name)


def component_colour(name: str, all_components: tuple[str, ...]) -> str:
    if name in COMPONENT_COLOURS:
        return COMPONENT_COLOURS[name]
    extras = [c for c in all_components if c not in COMPONENT_COLOURS]
    return EXTRA_COLOURS[extras.index(name) % len(EXTRA_COLOURS)]


def arch_colour(index: int) -> str:
    return ARCH_COLOURS[index % len(ARCH_COLOURS)]


def number(value) -> str:
    """Integers exactly (with thousands commas); other numbers to at least four significant
    digits in fixed point, so that a table cell reads back to the value it shows."""
    if isinstance(value, Integral):
        return f"{int(value):,}"
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return "inf" if value > 0 else "-inf"
    decimals = max(0, SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"
