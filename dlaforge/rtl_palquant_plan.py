"""The PalQuant array's spec, shared by the RTL (hw/methods/palquant.py) and its timing model
(sim/cycle/rtl_palquant.py), which may not import each other.

The array is generated from a spec whose PEs are 2-bit (ifmap_bits = weight_bits = 2): the
baseline accelerator with PE operands one sign bit wider (a 2-bit value and its sign, signed
3-bit), since PalQuant's activation codes are unsigned (0..3) and its weight levels times
three are odd and signed (2·q_w − 3 ∈ {−3, −1, 1, 3}). Everything else (rows, cols, buffer
bytes, accumulator width, dataflows, DRAM) is the spec's, and the schedule is
dlaforge.rtl_plan's: a layer of G groups is G commands, one per group.
"""

from __future__ import annotations

from dataclasses import replace

from .arch import ArchSpec
from .errors import SpecError

CODE_BITS = 2
OPERAND_BITS = CODE_BITS + 1        # a 2-bit value and its sign


def array_arch(arch: ArchSpec) -> ArchSpec:
    """The spec the generator builds for `arch`'s PalQuant array (SpecError unless `arch`'s
    PEs are 2-bit)."""
    pe = arch.pe_array
    if (pe.ifmap_bits, pe.weight_bits) != (CODE_BITS, CODE_BITS):
        raise SpecError(f"the PalQuant array is built from a spec with {CODE_BITS}-bit ifmap and "
                        f"weights (e.g. edge_tiny_palquant), not {pe.ifmap_bits} x "
                        f"{pe.weight_bits} bits")
    return replace(arch, name=f"{arch.name}_signed{OPERAND_BITS}",
                   pe_array=replace(pe, ifmap_bits=OPERAND_BITS, weight_bits=OPERAND_BITS))
