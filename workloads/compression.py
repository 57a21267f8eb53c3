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
"""

from __future__ import annotations

import math

from dlaforge.errors import SpecError, shown

RUN_BITS = 5
WORD_BITS = 64
TERMINATION_BITS = 1
MAX_RUN = (1 << RUN_BITS) - 1


def zero_fraction(value, what: str) -> float:
    """`value` as a float if it is a share of zeros (a number from 0 to 1), else SpecError."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not 0.0 <= value <= 1.0):
        raise SpecError(f"`{what}` must be a share of zeros from 0 to 1, not {shown(value)}")
    return float(value)


def pairs_per_word(bits: int) -> int:
    """(run, level) pairs of `bits`-bit values in one 64-bit word beside its termination bit."""
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
