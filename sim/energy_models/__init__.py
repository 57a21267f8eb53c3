"""Energy models: where the energy table's memory figures come from.

An arch names the model of each memory level (`energy_model` in the level's spec; default
`table`). Every model answers the same question for a list of levels of one arch — pJ per word
read and written, leakage and area — and `dlaforge.sim.energy.energy_table` builds the one
`EnergyTable` that every model of the hardware (analytical, cycle, rtl) prices with, whichever
energy model filled it in.

- `table` (table.py): the hand-kept table (CACTI-scaled SRAM, Aladdin registers), no
  dependencies; no leakage, no area unless the level gives `leakage_mw` / `area_um2`.
- `cacti` (cacti.py): CACTI through hwcomponents and hwcomponents-cacti (PyPI, pinned in
  pyproject.toml's `cacti` extra), with leakage and area; results cached by parameters.

The names are also listed in dlaforge.arch.ENERGY_MODELS, which validates arch files without
importing this package (a test checks the two lists agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Protocol, runtime_checkable

from dlaforge.arch import ArchSpec, MemoryLevel


@dataclass(frozen=True)
class MemoryCost:
    """What one memory level costs: pJ per `word_bits` word read and written, leakage power of
    the whole level (every PE's copy of a per-PE level) in mW, its area in µm² (None: the model
    does not know it)."""

    read_pj: float
    write_pj: float
    leakage_mw: float = 0.0
    area_um2: float | None = None


@runtime_checkable
class EnergyModel(Protocol):
    """A source of memory costs. `memory_costs` prices several levels of one arch at once (a
    model that runs an external tool can batch them); it raises SpecError with one line when
    it cannot."""

    name: str

    def memory_costs(self, arch: ArchSpec, levels: list[MemoryLevel]) -> dict[str, MemoryCost]:
        ...


_MODELS = {"table": ("table", "TableModel"), "cacti": ("cacti", "CactiModel")}
MODEL_NAMES = tuple(_MODELS)


def get_model(name: str) -> EnergyModel:
    """The energy model called `name` (validated names come from the arch spec)."""
    module, cls = _MODELS[name]
    return getattr(import_module(f"{__name__}.{module}"), cls)()
