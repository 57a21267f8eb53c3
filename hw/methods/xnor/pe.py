"""The XNOR-popcount processing element, a drop-in PE for hw/array.py's SystolicArray.

Same ports, registers and modes as hw/pe.MacPE, with the product a·w replaced by the popcount
of XNOR(a, w) over a word of w packed signs:
- `a_in` is one ifmap element: a packed word of w activation signs (low w bits) and, above
  them, its `valid` bit (0 for a zero-padding pixel, or any lane the sequencer feeds zeros);
- `b_in` is a packed word of w weight signs; on lanes as wide as the ifmap's (the
  controller's, hw/controller/: every dataflow, is swapping the operands) it carries its own
  valid bit too (0 for a weight row past a tile's channels), on w-bit lanes (the first
  accelerator's XNOR unit, output stationary) none;
- c <= c + popcount(XNOR(a, b)) when every valid bit is 1 (c + 0 otherwise), as the MAC PE
  adds a·w in its ws, os and is modes. A zero lane of either operand thus adds nothing, as
  a zero does to a MAC.

The popcount is a balanced adder tree: w one-bit inputs, log2(w) levels of adders whose width
grows by one bit per level. Sums wrap at psum_bits like the MAC PE's.
"""

from __future__ import annotations

from amaranth import Mux

from dlaforge.workloads.methods.xnor.plan import MAC_BITS

from ...controller.nest import popcount_tree
from ...pe import MacPE


class XnorPE(MacPE):
    """`ifmap_bits` = w + 1 (the word and its valid bit); `weight_bits` = w (the word alone)
    or w + 1 (the word and its valid bit)."""

    def __init__(self, ifmap_bits: int, weight_bits: int, psum_bits: int, dataflows=("os",)):
        if weight_bits not in (ifmap_bits - 1, ifmap_bits):
            raise ValueError(f"an XNOR PE takes {ifmap_bits - 1}-bit words with a valid bit; "
                             f"its weight lanes are the word (and a valid bit), not "
                             f"{weight_bits} bits")
        super().__init__(ifmap_bits, weight_bits, psum_bits, dataflows)

    @staticmethod
    def mac_accumulate(partial, a, w):
        """The MAC mode (hw/pe.with_mac_mode): c + a·w of the lanes' low MAC_BITS bits, the
        int8 operands of the controller's XNOR datapath (plan.MAC_BITS)."""
        return partial + a[:MAC_BITS].as_signed() * w[:MAC_BITS].as_signed()

    @staticmethod
    def accumulate(partial, a, w):
        bits = len(a) - 1
        valid = a[bits] & w[bits] if len(w) > bits else a[bits]
        return partial + Mux(valid, popcount_tree(~(a[:bits] ^ w[:bits])), 0)
