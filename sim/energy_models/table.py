"""The default energy model: the hand-kept table of dlaforge.sim.energy (no dependencies).

A level's `read_energy_pj` / `write_energy_pj` are taken as given; otherwise a per-PE register
file costs the Aladdin register energy per bit and a shared SRAM the CACTI-scaled figure of
its size and width (dlaforge.sim.energy's docstring gives the sources). The table has no
leakage and no area of its own: a level's `leakage_mw` and `area_um2` (per PE for a per-PE
level) are used when the arch gives them, else leakage is 0 and the area unknown.
"""

from __future__ import annotations

from dlaforge.arch import ArchSpec, MemoryLevel

from . import MemoryCost


class TableModel:
    name = "table"

    def memory_costs(self, arch: ArchSpec, levels: list[MemoryLevel]) -> dict[str, MemoryCost]:
        from ..energy import REGISTER_PJ_PER_BIT_45NM, sram_word_energy_45nm, technology_factor

        def derived(level, write):
            given = level.write_energy_pj if write else level.read_energy_pj
            if given is not None:
                return given
            scale = technology_factor(arch.technology_nm)
            if level.per_pe:
                return scale * REGISTER_PJ_PER_BIT_45NM * level.word_bits
            return scale * sram_word_energy_45nm(level.size_bytes, level.word_bits, write)

        out = {}
        for level in levels:
            copies = arch.pe_count if level.per_pe else 1
            area = None if level.area_um2 is None else level.area_um2 * copies
            out[level.name] = MemoryCost(read_pj=derived(level, False),
                                         write_pj=derived(level, True),
                                         leakage_mw=(level.leakage_mw or 0.0) * copies,
                                         area_um2=area)
        return out
