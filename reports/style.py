"""One look for every figure and table: a fixed colour per energy component, per dataflow and
per arch, and one way to print a number."""

from __future__ import annotations

import math
from numbers import Integral

from dlaforge.stats import ENERGY_COMPONENTS

# "units": a method's fixed-function units beside the array (Winograd transforms, SmartDeal
# rebuild, XNOR scaling, bit-slice combine), which the models add when a method uses them;
# "requant": the controller's requantization stage on every output it writes (--quant).
COMPONENT_LABELS = {"mac": "MAC", "rf": "register files", "noc": "inter-PE network",
                    "sram": "SRAM", "dram": "DRAM", "units": "method units",
                    "requant": "requantization stage"}
COMPONENT_COLOURS = {"mac": "#1b9e77", "rf": "#d95f02", "noc": "#7570b3", "sram": "#e7298a",
                     "dram": "#e6ab02", "units": "#444444", "requant": "#66a61e"}
# Components a model may add beyond ENERGY_COMPONENTS get these, in order of first appearance.
EXTRA_COLOURS = ("#a6761d", "#999999", "#666666", "#1f78b4")

DATAFLOW_COLOURS = {"ws": "#1f77b4", "os": "#d62728", "is": "#2ca02c", "rs": "#9467bd"}
DATAFLOW_MARKERS = {"ws": "o", "os": "s", "is": "^", "rs": "D"}
# One colour per arch (or per arch and method) in the scatter: tab10 with black for its brown
# (too near the dark red further on), then darker hues.
SERIES_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#000000", "#e377c2", "#17becf",
                  "#bcbd22", "#ff7f0e", "#7f7f7f", "#393b79", "#637939", "#8c6d31", "#843c39",
                  "#7b4173", "#8c564b", "#3182bd", "#e6550d", "#31a354", "#756bb1")

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


def series_colour(index: int) -> str:
    return SERIES_COLOURS[index % len(SERIES_COLOURS)]


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

# The phases of a training iteration (a train record's per-op entries), in the order the
# figures stack them, and the parts of the live memory at a step of its schedule.
PHASES = ("forward", "loss", "dX", "dW", "update")
PHASE_LABELS = {"forward": "forward", "loss": "loss", "dX": "dX (input gradient)",
                "dW": "dW (weight gradient)", "update": "weight update"}
PHASE_COLOURS = {"forward": "#1f77b4", "loss": "#7f7f7f", "dX": "#ff7f0e", "dW": "#d62728",
                 "update": "#2ca02c"}
MEMORY_PARTS = ("weights", "gradients_state", "kept_activations", "working")
MEMORY_LABELS = {"weights": "weights", "gradients_state": "gradients + optimizer state",
                 "kept_activations": "kept activations", "working": "step's working tensors"}
MEMORY_COLOURS = {"weights": "#1b9e77", "gradients_state": "#7570b3",
                  "kept_activations": "#e6ab02", "working": "#e7298a"}


def phase_label(name: str) -> str:
    return PHASE_LABELS.get(name, name)


def phase_colour(name: str, all_phases: tuple[str, ...]) -> str:
    if name in PHASE_COLOURS:
        return PHASE_COLOURS[name]
    extras = [p for p in all_phases if p not in PHASE_COLOURS]
    return EXTRA_COLOURS[extras.index(name) % len(EXTRA_COLOURS)]
