"""The multiply-accumulate processing element of the systolic array.

Every PE holds three registers: `a` (an ifmap element moving east), `b` (a weight moving
south, or held still) and `c` (a partial sum). One array-wide `mode` says what they do on each
clock edge:

- IDLE:  clear `c`, hold `b`; `a` keeps moving (it is zero outside a stream).
- LOAD:  `b <= b_in`: weights shift one row south (weight-stationary preload); `c` clears.
- WS:    `c <= c_in + a_in * b`: the partial sum arriving from the north gains this PE's
         product with its stationary weight and moves on south next cycle.
- OS:    `c <= c + a_in * b_in`, `b <= b_in`: the PE accumulates its own output while ifmap
         elements pass east and weights pass south.
- DRAIN: `c <= c_in`: the finished outputs shift one row south, out of the bottom row.

Products are signed `ifmap_bits` x `weight_bits`, sums wrap at `psum_bits` (two's complement),
exactly as the integer reference computes modulo 2**psum_bits.

`with_mac_mode(pe)` makes a dual PE of a method's PE (one whose `accumulate` is not a·w): a
multiplier and adder beside its operation, and a `mac` input that picks the product (1) or the
method's operation (0) for the sum, so a method's array runs its full-precision int8 layers too.
"""

from __future__ import annotations

from functools import cache

from amaranth import Module, Mux, signed
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out


class Mode(enum.Enum, shape=3):
    IDLE = 0
    LOAD = 1
    WS = 2
    OS = 3
    DRAIN = 4


def pe_signature(ifmap_bits: int, weight_bits: int, psum_bits: int) -> dict:
    """The ports every PE of the systolic array has (hw/array.py wires them): the array-wide
    `mode`, the operands and partial sum arriving, and the registers passing them on."""
    return {
        "mode": In(Mode),
        "a_in": In(signed(ifmap_bits)), "b_in": In(signed(weight_bits)),
        "c_in": In(signed(psum_bits)),
        "a_out": Out(signed(ifmap_bits)), "b_out": Out(signed(weight_bits)),
        "c_out": Out(signed(psum_bits)),
    }


class MacPE(wiring.Component):
    """One PE; `dataflows` (a subset of "ws", "os", "is") leaves out the logic of the others.
    Input stationary uses the weight-stationary modes with the operands swapped (the ifmap
    element held, the weights moving east), so it needs ifmap_bits == weight_bits."""

    MAC_MODE = False    # with_mac_mode's: the `mac` input picks a·w over `accumulate`

    def __init__(self, ifmap_bits: int, weight_bits: int, psum_bits: int,
                 dataflows=("ws", "os")):
        self.dataflows = tuple(dataflows)
        ports = pe_signature(ifmap_bits, weight_bits, psum_bits)
        if self.MAC_MODE:
            ports["mac"] = In(1)
        super().__init__(ports)

    @staticmethod
    def accumulate(partial, a, w):
        """The PE's operation: the sum it passes on from `partial`, ifmap `a` and weight `w`."""
        return partial + a * w

    @staticmethod
    def mac_accumulate(partial, a, w):
        """Its MAC mode's operation (with_mac_mode): c + a·w of the lanes' signed values."""
        return partial + a * w

    def elaborate(self, platform):
        m = Module()
        a, b, c = self.a_out, self.b_out, self.c_out   # the output ports are the registers
        # one multiplier and one adder serve both dataflows: ws multiplies by the held weight
        # and adds the sum arriving from the north, os by the passing weight onto its own sum
        os_mode = self.mode == Mode.OS
        operands = Mux(os_mode, c, self.c_in), self.a_in, Mux(os_mode, self.b_in, b)
        mac = self.accumulate(*operands)
        if self.MAC_MODE:
            mac = Mux(self.mac, self.mac_accumulate(*operands), mac)
        m.d.sync += a.eq(self.a_in)
        with m.Switch(self.mode):
            with m.Case(Mode.IDLE):
                m.d.sync += c.eq(0)
            with m.Case(Mode.LOAD):
                m.d.sync += [b.eq(self.b_in), c.eq(0)]
            if "ws" in self.dataflows or "is" in self.dataflows:
                with m.Case(Mode.WS):
                    m.d.sync += c.eq(mac)
            if "os" in self.dataflows:
                with m.Case(Mode.OS):
                    m.d.sync += [c.eq(mac), b.eq(self.b_in)]
                with m.Case(Mode.DRAIN):
                    m.d.sync += c.eq(self.c_in)
        return m


@cache
def with_mac_mode(pe: type) -> type:
    """`pe` (a MacPE subclass with its own `accumulate`) with a MAC mode: its `mac` input picks
    pe's `mac_accumulate`, c + a·w (1), or pe's operation (0) for every sum the PE forms."""
    if pe.elaborate is not MacPE.elaborate or pe.accumulate is MacPE.accumulate:
        raise TypeError(f"with_mac_mode takes a PE that keeps MacPE's datapath with its own "
                        f"`accumulate`, not {pe.__name__}")
    return type(f"{pe.__name__}MacMode", (pe,),
                {"MAC_MODE": True, "__doc__": with_mac_mode.__doc__})
