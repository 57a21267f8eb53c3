"""Energy per action, from the spec where it says so and from published tables otherwise.

Defaults (REFERENCES.md §1), all at 45 nm and then scaled to the arch's node:
- MAC: Horowitz ISSCC 2014 — int8 multiply 0.2 pJ, scaled with the product of the operand
  widths (32x32 gives 3.2 vs the table's 3.1); 32-bit add 0.1 pJ, scaled linearly in width.
- Registers (per-PE register files, inter-PE hops): Accelergy Aladdin 40 nm, 0.009 pJ per bit,
  x1.15 to 45 nm.
- SRAM: CACTI via Accelergy, 45 nm, 128 KB of 16384 x 64 b words: read 32.4 / write 26.2 pJ per
  word, scaled x (0.7 w + 0.3) for width ratio w and x depth_ratio^0.78.
- DRAM: pJ per bit by type, or the spec's own figure.
- Technology: Stillmaker & Baas energy factors from 45 nm.

A memory level's figures come from its `energy_model` (dlaforge.sim.energy_models: the table
above by default, or CACTI), and so do its leakage and area. `energy_table(arch)` is the one
place they meet: every model of the hardware prices with the table it returns, so the models'
energies agree whichever energy model an arch names.

Energy per cycle: `time_energy(stats, table)` adds what a layer costs by running at all —
`static_energy_pj` (the leakage of every component x the layer's cycles at the arch's clock)
and the clock tree's and controller's energy (`clock` and `control` in the breakdown, pJ per
cycle as the arch gives them). The table has no default for either, so an arch that gives
none of `leakage_mw`, `clock_pj_per_cycle`, `control_pj_per_cycle` nor a `cacti` level prices
exactly as before. `energy_pj` stays the dynamic energy (the breakdown's sum); the static
energy is apart (Stats.static_energy_pj, and Stats.total_energy_pj for both).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.stats import Stats

INT8_MULT_PJ_45NM = 0.2
INT32_ADD_PJ_45NM = 0.1
REGISTER_PJ_PER_BIT_45NM = 0.009 * 1.15
SRAM_REF_READ_PJ_45NM = 32.4
SRAM_REF_WRITE_PJ_45NM = 26.2
SRAM_REF_WORD_BITS = 64
SRAM_REF_DEPTH = 16384
ENERGY_FACTOR_FROM_45NM = {45: 1.0, 40: 1 / 1.15, 32: 0.66, 28: 0.51, 22: 0.29, 20: 0.22,
                           16: 0.17, 14: 0.14, 10: 0.12, 7: 0.094, 5: 0.080}


def technology_factor(node_nm: int) -> float:
    if node_nm not in ENERGY_FACTOR_FROM_45NM:
        raise SpecError(f"technology_nm {node_nm} is not in the scaling table "
                        f"({', '.join(map(str, ENERGY_FACTOR_FROM_45NM))} nm); give every energy "
                        f"in the arch file (energy.mac_pj, energy.noc_pj_per_bit, and each memory "
                        f"level's read_energy_pj / write_energy_pj)")
    return ENERGY_FACTOR_FROM_45NM[node_nm]


def mac_pj_45nm(pe) -> float:
    """One MAC of the array's widths at 45 nm: the multiply and the accumulator's add."""
    return (INT8_MULT_PJ_45NM * pe.ifmap_bits * pe.weight_bits / 64
            + INT32_ADD_PJ_45NM * pe.psum_bits / 32)


def sram_word_energy_45nm(size_bytes: int, word_bits: int, write: bool) -> float:
    """CACTI-style energy of one word access of an SRAM, at 45 nm."""
    depth = max(1.0, size_bytes * 8 / word_bits)
    width_ratio = word_bits / SRAM_REF_WORD_BITS
    base = SRAM_REF_WRITE_PJ_45NM if write else SRAM_REF_READ_PJ_45NM
    return base * (0.7 * width_ratio + 0.3) * (depth / SRAM_REF_DEPTH) ** 0.78


@dataclass(frozen=True)
class EnergyTable:
    """pJ per action for one arch: a MAC, an inter-PE hop per bit, a word access per level,
    a DRAM bit read or written; and per cycle: leakage by component (mW) at `clock_mhz`, the
    clock tree's and controller's pJ; the area of each component whose model knows it (µm²)."""

    mac_pj: float
    noc_pj_per_bit: float
    read_pj_per_word: dict
    write_pj_per_word: dict
    word_bits: dict
    dram_read_pj_per_bit: float
    dram_write_pj_per_bit: float
    clock_mhz: float = 1000.0
    leakage_mw: dict = field(default_factory=dict)
    clock_pj_per_cycle: float = 0.0
    control_pj_per_cycle: float = 0.0
    area_um2: dict = field(default_factory=dict)
    energy_models: dict = field(default_factory=dict)

    @property
    def leakage_pj_per_cycle(self) -> float:
        """Leakage energy of one clock cycle: mW x µs per cycle = nJ, so x 1e3 for pJ."""
        return sum(self.leakage_mw.values()) / self.clock_mhz * 1e3

    def access_pj(self, level: str, element_bits: int, write: bool) -> float:
        """Energy of one element access: elements narrower than a word share its access."""
        per_word = (self.write_pj_per_word if write else self.read_pj_per_word)[level]
        return per_word * element_bits / self.word_bits[level]


def energy_table(arch: ArchSpec) -> EnergyTable:
    """The arch's energy table: MAC and inter-PE figures from the spec or the table above, each
    memory level's from its energy model (see the module's docstring)."""
    from .energy_models import get_model

    def scaled(value_45nm):
        return value_45nm * technology_factor(arch.technology_nm)

    pe = arch.pe_array
    mac = arch.energy.mac_pj
    if mac is None:
        mac = scaled(mac_pj_45nm(pe))
    noc = arch.energy.noc_pj_per_bit
    if noc is None:
        noc = scaled(REGISTER_PJ_PER_BIT_45NM)
    costs = {}
    for name in dict.fromkeys(level.energy_model for level in arch.memory):
        levels = [level for level in arch.memory if level.energy_model == name]
        costs.update(get_model(name).memory_costs(arch, levels))
    leakage = {name: cost.leakage_mw for name, cost in costs.items() if cost.leakage_mw}
    if arch.energy.leakage_mw:
        leakage["logic"] = arch.energy.leakage_mw
    return EnergyTable(mac_pj=mac, noc_pj_per_bit=noc,
                       read_pj_per_word={lv.name: costs[lv.name].read_pj for lv in arch.memory},
                       write_pj_per_word={lv.name: costs[lv.name].write_pj for lv in arch.memory},
                       word_bits={lv.name: lv.word_bits for lv in arch.memory},
                       dram_read_pj_per_bit=arch.dram.energy_pj_per_bit(write=False),
                       dram_write_pj_per_bit=arch.dram.energy_pj_per_bit(write=True),
                       clock_mhz=arch.clock_mhz, leakage_mw=leakage,
                       clock_pj_per_cycle=arch.energy.clock_pj_per_cycle or 0.0,
                       control_pj_per_cycle=arch.energy.control_pj_per_cycle or 0.0,
                       area_um2={name: cost.area_um2 for name, cost in costs.items()
                                 if cost.area_um2 is not None},
                       energy_models={lv.name: lv.energy_model for lv in arch.memory})


def time_energy(stats: Stats, table: EnergyTable) -> Stats:
    """`stats` with the energy of its cycles: `static_energy_pj` (leakage x runtime) and the
    clock tree's and controller's energy as `clock` and `control` in the breakdown (only when
    the arch gives them). Every model applies it to a layer's summed Stats, so that it is
    priced the same way whatever counted the cycles."""
    extra = {key: pj * stats.cycles for key, pj in (("clock", table.clock_pj_per_cycle),
                                                    ("control", table.control_pj_per_cycle))
             if pj}
    static = table.leakage_pj_per_cycle * stats.cycles
    if not extra and not static:
        return stats
    return replace(stats, energy_breakdown_pj={**stats.energy_breakdown_pj, **extra},
                   static_energy_pj=static)
