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

from amaranth import Module, Mux
from amaranth.lib import wiring

from ...pe import Mode, pe_signature


class AdderPE(wiring.Component):
    def __init__(self, ifmap_bits: int, weight_bits: int, psum_bits: int,
                 dataflows=("os",)):
        self.dataflows = tuple(dataflows)
        super().__init__(pe_signature(ifmap_bits, weight_bits, psum_bits))

    def elaborate(self, platform):
        m = Module()
        a, b, c = self.a_out, self.b_out, self.c_out
        os_mode = self.mode == Mode.OS
        distance = abs(self.a_in - Mux(os_mode, self.b_in, b))
        sad = Mux(os_mode, c, self.c_in) - distance
        m.d.sync += a.eq(self.a_in)
        with m.Switch(self.mode):
            with m.Case(Mode.IDLE):
                m.d.sync += c.eq(0)
            with m.Case(Mode.LOAD):
                m.d.sync += [b.eq(self.b_in), c.eq(0)]
            if "ws" in self.dataflows or "is" in self.dataflows:
                with m.Case(Mode.WS):
                    m.d.sync += c.eq(sad)
            if "os" in self.dataflows:
                with m.Case(Mode.OS):
                    m.d.sync += [c.eq(sad), b.eq(self.b_in)]
                with m.Case(Mode.DRAIN):
                    m.d.sync += c.eq(self.c_in)
        return m
