"""The adder processing element (AdderNet), a drop-in PE for hw/array.py's SystolicArray.

Same ports, registers and modes as hw/pe.MacPE, with the product a·w replaced by -|a - w|:
- WS:    c <= c_in - |a_in - b|     (b the held weight)
- OS:    c <= c - |a_in - b_in|,  b <= b_in
- DRAIN: c <= c_in;  IDLE: c <= 0;  LOAD: b <= b_in, c <= 0.
One subtractor (ifmap_bits + 1 bits wide), one absolute value (a conditional negation) and the
accumulator's adder (here a subtractor); no multiplier. Sums wrap at psum_bits like the MAC
PE's. The adder accelerator builds it output stationary only (workloads/methods/addernet/plan.py
says why); the ws logic is here so that the PE stays a drop-in of the MAC PE.
"""

from __future__ import annotations

from ...pe import MacPE


class AdderPE(MacPE):
    """hw/pe.MacPE with its operation -|a - w| in place of a·w."""

    def __init__(self, ifmap_bits: int, weight_bits: int, psum_bits: int,
                 dataflows=("os",)):
        super().__init__(ifmap_bits, weight_bits, psum_bits, dataflows)

    @staticmethod
    def accumulate(partial, a, w):
        return partial - abs(a - w)
