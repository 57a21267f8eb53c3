"""The PalQuant array's spec and its bit-sliced passes, shared by the RTL
(hw/methods/palquant/) and its timing model (sim/methods/palquant.py), which may not import
each other.

The array is generated from a spec whose PEs are 2-bit (ifmap_bits = weight_bits = 2): the
baseline accelerator with PE operands one sign bit wider (a 2-bit value and its sign, signed
3-bit), since PalQuant's activation codes are unsigned (0..3) and its weight levels times
three are odd and signed (2·q_w − 3 ∈ {−3, −1, 1, 3}). Everything else (rows, cols, buffer
bytes, accumulator width, dataflows, DRAM) is the spec's, and the schedule is
accelerator_plan's: a layer of G groups is G commands, one per group.

Layers wider than 2 bits (bitslice_w4a4's 4-bit layers, PalQuant's int8 first conv and FC)
run as bit-sliced commands: unsigned codes stored as 2-bit slice planes, and every output
tile's kd blocks walked once per (ifmap slice, weight slice) pair (`slice_passes`), the
accumulator shifted between diagonals; the generator builds this with
GeneratorParams(slice_bits=CODE_BITS) (hw/layouts.py, hw/tiles.py).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.workloads.methods.accelerator_plan import Gemm
from dlaforge.workloads.methods.datapath import Datapath

from ..common import command_gemm as one_command
from ..conv_ref import conv2d_int
from . import CODE_OP, LOW_BITS, SLICE_OP
from .reference import LEVELS

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


def slice_tops(bits: int) -> int:
    """The highest slice index of a `bits`-bit unsigned operand cut into 2-bit slices."""
    return -(-bits // CODE_BITS) - 1


def slice_passes(a_top: int, w_top: int) -> list[tuple[int, int, bool]]:
    """The passes of a bit-sliced command in the order the array runs them (hw/tiles.py):
    (ifmap slice i, weight slice j, whether the accumulator is shifted by CODE_BITS before the
    pass adds). Diagonals d = i + j run from the most significant down, so that shifting the
    running sum once per diagonal (Horner's rule) weights every slice product by
    2^(CODE_BITS·(i+j))."""
    top = a_top + w_top
    passes = []
    for d in range(top, -1, -1):
        for u, i in enumerate(range(min(d, a_top), max(0, d - w_top) - 1, -1)):
            passes.append((i, d - i, u == 0 and d != top))
    return passes


def op_slices(op) -> int:
    """Slices per operand of a method op: the method cuts activations and weights alike, into
    the extra images and filters its op counts (workloads/methods/palquant/ `sliced`)."""
    return round(math.sqrt(1 / op.dram_scale["ofmap"])) if op.dram_scale else 1


def command_gemm(op) -> Gemm:
    """One command's conv: an image and a group, the slices folded back into the filters."""
    g = one_command(op)
    return replace(g, K=g.K // op_slices(op))


def code_sums(x, w, stride=1, padding=0, groups=1, out_size=None):
    """A 2-bit layer's accumulator sums T = Σ (2·q_w − 3)·q_a over zero-padded windows (x the
    activation codes, w the weight codes; a padded tap's code 0 adds nothing), which is
    2·Σq_w·q_a − 3·Σq_a (reference.palquant_conv's T)."""
    return conv2d_int(x, 2 * np.asarray(w) - LEVELS, stride, padding, groups, out_size=out_size)


def controller_slices(op) -> tuple[int, int]:
    """(ifmap slices, weight slices) of a bit-sliced op on the controller (both operands are
    cut alike: op_slices)."""
    return op_slices(op), op_slices(op)


# The mapped-program controller (hw/controller/) with code-MAC PEs (hw/methods/palquant's
# CONTROLLER_PE: c + (2·w − 3)·a on 2-bit lanes read as unsigned codes) runs PalQuant's 2-bit
# layers (CODE_OP) at the spec's 2-bit widths, so its buffers hold the codes as the SRAM would.
# The weight codes move packed, four to a byte (weight_bits 2, weight_levels the codes
# themselves: the PE decodes them). Under ws and os: is swaps the operands, and the PE would
# decode the activation (own_dataflows). A zero lane is code 0, level −3, not idle
# (zero_weight_idle False: the ws fold masks the ifmap lanes past a tile's channels). The
# requantizer writes the next layer's 2-bit activation codes (codes). Its MAC mode multiplies
# unsigned 2-bit slices (mac_op SLICE_OP, slice_bits): the int8 first conv and FC and
# bitslice_w4a4's 4-bit layers run as slice passes, their codes one to a DRAM byte, each pass
# loading its tiles again and taking its slices out of the bytes; under ws, os and is (a
# product of slices is symmetric). The 2-bit activation codes a layer hands to a 2-bit layer
# travel packed four to a byte where both can (Datapath.packs_codes, link_packed_codes: not
# a depthwise layer's); the wider codes of a slice-pass layer's input one to a byte.
CONTROLLER_DATAPATH = Datapath(pe_kind="mac", pe_op=CODE_OP, family="palquant",
                               zero_weight_idle=False, sums=code_sums, weight_bits=LOW_BITS,
                               weight_levels=tuple(range(1 << LOW_BITS)),
                               own_dataflows=("ws", "os"), codes=LOW_BITS, mac_mode=True,
                               mac_op=SLICE_OP, slice_bits=CODE_BITS,
                               op_slices=controller_slices)
