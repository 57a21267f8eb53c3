"""The XNOR-popcount processing element, a drop-in PE for hw/array.py's SystolicArray.

Same ports and modes as hw/pe.MacPE, output stationary only:
- `a_in` is one ifmap element of the unit's buffer: a packed word of w activation signs (low
  w bits) and, above them, its `valid` bit (0 for a zero-padding pixel); it moves east;
- `b_in` is a packed word of w weight signs; it moves south;
- OS:    c <= c + popcount(XNOR(a, b))   when a is valid (c unchanged otherwise);
- DRAIN: c <= c_in  (the finished sums shift south);  IDLE / LOAD: c <= 0.

The popcount is a balanced adder tree: w one-bit inputs, log2(w) levels of adders whose width
grows by one bit per level. Sums wrap at psum_bits like the MAC PE's.
"""

from __future__ import annotations

from amaranth import Module
from amaranth.lib import wiring

from ...pe import Mode, pe_signature


def popcount_tree(value):
    """The number of ones in `value`, as a balanced tree of adders."""
    level = [value[i] for i in range(len(value))]
    while len(level) > 1:
        pairs = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
    return level[0]


class XnorPE(wiring.Component):
    """`ifmap_bits` = w + 1 (the word and its valid bit), `weight_bits` = w."""

    def __init__(self, ifmap_bits: int, weight_bits: int, psum_bits: int, dataflows=("os",)):
        if ifmap_bits != weight_bits + 1:
            raise ValueError(f"an XNOR PE takes a {weight_bits}-bit word plus a valid bit, "
                             f"not {ifmap_bits}-bit ifmap elements")
        if tuple(dataflows) != ("os",):
            raise ValueError(f"the XNOR PE is output stationary only, not {dataflows}")
        self.word_bits = weight_bits
        super().__init__(pe_signature(ifmap_bits, weight_bits, psum_bits))

    def elaborate(self, platform):
        m = Module()
        w = self.word_bits
        c = self.c_out
        agree = ~(self.a_in[:w] ^ self.b_in[:w])
        valid = self.a_in[w]
        m.d.sync += [self.a_out.eq(self.a_in), self.b_out.eq(self.b_in)]
        with m.Switch(self.mode):
            with m.Case(Mode.OS):
                with m.If(valid):
                    m.d.sync += c.eq(c + popcount_tree(agree))
            with m.Case(Mode.DRAIN):
                m.d.sync += c.eq(self.c_in)
            with m.Default():
                m.d.sync += c.eq(0)
        return m
