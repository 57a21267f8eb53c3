"""The sign-add processing element (binary-weight networks), a drop-in PE for hw/array.py's
SystolicArray and the adder PE kind's second operation.

Same ports, registers and modes as hw/pe.MacPE, with the product a·w replaced by ±a, the sign
bit of the weight choosing: c <= c + a if w >= 0 else c - a (os; ws adds onto c_in). Only the
weight's sign bit is used, so a weight of +1 or -1 (or any other value of that sign) selects;
the datapath is the adder PE's (hw/methods/addernet/pe.py) without its subtractor and absolute
value: a conditional negation of `a` and the accumulator's adder, no multiplier. Zero lanes and
padded pixels (a = 0) add nothing whatever the sign.
"""

from __future__ import annotations

from amaranth.hdl import Mux

from ..addernet.pe import AdderPE


class SignAddPE(AdderPE):
    """The adder PE with its operation c ± a (sign of w) in place of c - |a - w|."""

    @staticmethod
    def accumulate(partial, a, w):
        return partial + Mux(w[-1], -a, a)
