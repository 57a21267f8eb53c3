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
"""

from __future__ import annotations

from dataclasses import dataclass

from dlaforge.arch import ArchSpec, MemoryLevel
from dlaforge.errors import SpecError

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
    a DRAM bit read or written."""

    mac_pj: float
    noc_pj_per_bit: float
    read_pj_per_word: dict
    write_pj_per_word: dict
    word_bits: dict
    dram_read_pj_per_bit: float
    dram_write_pj_per_bit: float

    def access_pj(self, level: str, element_bits: int, write: bool) -> float:
        """Energy of one element access: elements narrower than a word share its access."""
        per_word = (self.write_pj_per_word if write else self.read_pj_per_word)[level]
        return per_word * element_bits / self.word_bits[level]


def energy_table(arch: ArchSpec) -> EnergyTable:
    def scaled(value_45nm):
        return value_45nm * technology_factor(arch.technology_nm)

    pe = arch.pe_array
    mac = arch.energy.mac_pj
    if mac is None:
        mac = scaled(mac_pj_45nm(pe))
    noc = arch.energy.noc_pj_per_bit
    if noc is None:
        noc = scaled(REGISTER_PJ_PER_BIT_45NM)
    reads, writes = {}, {}
    for level in arch.memory:
        reads[level.name] = _level_energy(level, False, scaled)
        writes[level.name] = _level_energy(level, True, scaled)
    return EnergyTable(mac_pj=mac, noc_pj_per_bit=noc, read_pj_per_word=reads,
                       write_pj_per_word=writes,
                       word_bits={lv.name: lv.word_bits for lv in arch.memory},
                       dram_read_pj_per_bit=arch.dram.energy_pj_per_bit(write=False),
                       dram_write_pj_per_bit=arch.dram.energy_pj_per_bit(write=True))


def _level_energy(level: MemoryLevel, write: bool, scaled) -> float:
    given = level.write_energy_pj if write else level.read_energy_pj
    if given is not None:
        return given
    if level.per_pe:
        return scaled(REGISTER_PJ_PER_BIT_45NM * level.word_bits)
    return scaled(sram_word_energy_45nm(level.size_bytes, level.word_bits, write))
