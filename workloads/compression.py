"""What an activation occupies in DRAM under the arch's `dram.compression`.

"zero_rle" is Eyeriss's run-length coding of zeros (Chen et al., JSSC 2017, as we read its
description; REFERENCES.md §2): a value is coded as a pair (run, level), `run` the zeros before
it in a 5-bit field (at most 31) and `level` the value itself (16 bits on Eyeriss; here the
tensor's element width), and a 64-bit DRAM word holds as many pairs as fit beside one
termination bit (three 21-bit pairs for 16-bit data). A 32nd zero in a row is coded as the level
of a (31, 0) pair; a stream ending in zeros ends with one such pair.

Both models price the expected size of a stream whose values are zero independently with the
probability the layer states (Layer.ifmap_zeros, ofmap_zeros): a pair covers the values up to
the first non-zero or 32 values, whichever comes first, so E[values per pair] =
sum_{k<32} z^k = (1 - z^32) / (1 - z) and

    bits per value = 64 / pairs_per_word x (1 - z) / (1 - z^32).

Real feature maps cluster their zeros, which codes better than this. A tensor is stored coded
only where that is smaller than as it is (16-bit data with fewer than ~25% zeros, such as the
input image, stays as it is), so the factor is never above 1.

Where it applies (`coded`): once per op, after the method's transform (sim/run.py, and the
rebuilt ops of reports' compulsory bytes), multiplied into the method's own `dram_scale`. It
codes only activations that DRAM holds as plain values at the op's element width: ops whose
PE operation multiplies them (workloads/methods.multiplies: the baseline's MAC, smartdeal's,
Winograd's, whose DRAM ifmap and ofmap are the layer's own as the Winograd-domain tiles exist
on chip only, and PalQuant's code and slice MACs). Ops of any other pe_op (XNOR-Net's and Bit
Fusion's packed words, AdderNet's |a - w|, bwn's sign_add) are refused with one line rather
than coded at a width their DRAM stream may not have. Zero gating (sim/analytical.zero_gated)
likewise gates only such ops whose array-side ifmap is the layer's (HwOp.ifmap_plain), and
nothing else.

A value's level field is its width: at 59 bits or more no (run, level) pair fits beside the
termination bit, so dlaforge/arch.py refuses zero_rle for such activations.
"""

from __future__ import annotations

import math
from dataclasses import replace

from dlaforge.errors import SpecError, shown

RUN_BITS = 5
WORD_BITS = 64
TERMINATION_BITS = 1
MAX_RUN = (1 << RUN_BITS) - 1
# the widest value a (run, level) pair holds in one word beside the termination bit
MAX_LEVEL_BITS = WORD_BITS - TERMINATION_BITS - RUN_BITS


def zero_fraction(value, what: str, where: str = "") -> float:
    """`value` as a float if it is a share of zeros (a number from 0 to 1), else SpecError
    ("<where>: `<what>` must be ...")."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not 0.0 <= value <= 1.0):
        raise SpecError(f"{where + ': ' if where else ''}`{what}` must be a share of zeros "
                        f"from 0 to 1, not {shown(value)}")
    return float(value)


def pairs_per_word(bits: int) -> int:
    """(run, level) pairs of `bits`-bit values in one 64-bit word beside its termination bit."""
    if bits > MAX_LEVEL_BITS:
        raise SpecError(f"dram.compression zero_rle codes values of at most {MAX_LEVEL_BITS} "
                        f"bits, not {bits}")
    return (WORD_BITS - TERMINATION_BITS) // (RUN_BITS + bits)


def zero_rle_bits_per_value(zeros: float, bits: int) -> float:
    """Expected coded bits per value of a stream of `bits`-bit values, each zero with
    probability `zeros` (module docstring)."""
    if zeros >= 1.0:
        return WORD_BITS / pairs_per_word(bits) / (MAX_RUN + 1)
    values_per_pair = (1 - zeros ** (MAX_RUN + 1)) / (1 - zeros)
    return WORD_BITS / pairs_per_word(bits) / values_per_pair


def zero_rle_factor(zeros: float, bits: int) -> float:
    """DRAM bits per bit of the tensor as it is: the coded size where it is smaller, else 1."""
    return min(1.0, zero_rle_bits_per_value(zeros, bits) / bits)


def zero_rle_pairs(values) -> list[tuple[int, int]]:
    """The (run, level) pairs of a stream of values, coded as the module docstring says."""
    pairs, run = [], 0
    for value in values:
        if value == 0 and run < MAX_RUN:
            run += 1
        else:
            pairs.append((run, int(value)))
            run = 0
    if run:
        pairs.append((run - 1, 0))
    return pairs


def zero_rle_words(values, bits: int) -> int:
    """64-bit DRAM words that a stream of `bits`-bit values occupies coded."""
    return math.ceil(len(zero_rle_pairs(values)) / pairs_per_word(bits))


def dram_scale(arch, ifmap_zeros: float, ofmap_zeros: float, ifmap_bits: int,
               ofmap_bits: int) -> dict:
    """HwOp.dram_scale entries of the arch's compression for a layer's activations (empty
    when the arch stores them as they are or coding would not shrink them)."""
    if arch.dram.compression != "zero_rle":
        return {}
    factors = {"ifmap": zero_rle_factor(ifmap_zeros, ifmap_bits),
               "ofmap": zero_rle_factor(ofmap_zeros, ofmap_bits)}
    return {operand: f for operand, f in factors.items() if f < 1.0}


def coded(arch, op):
    """`op` (a HwOp after its method's transform) with the arch's DRAM compression of its
    activations multiplied into its own `dram_scale`; SpecError for an op with stated zeros
    whose DRAM stream is not plain activations (module docstring)."""
    if arch.dram.compression != "zero_rle" or not (op.ifmap_zeros or op.ofmap_zeros):
        return op               # nothing to code: a layer without stated zeros stays dense
    from .methods import multiplies
    if not multiplies(op.pe_op):
        raise SpecError(f"dram.compression zero_rle codes plain activations; op {op.name!r} "
                        f"moves {op.pe_op} operands through DRAM")
    factors = dram_scale(arch, op.ifmap_zeros, op.ofmap_zeros, op.ifmap_bits, op.ofmap_bits)
    if not factors:
        return op
    return replace(op, dram_scale={**op.dram_scale, **{
        operand: op.dram_factor(operand) * factor for operand, factor in factors.items()}})
