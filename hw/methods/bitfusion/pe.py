"""The Bit Fusion processing element (Sharma et al., ISCA 2018): 16 BitBricks and the shift-add
fusion tree; a drop-in PE for hw/array.py's SystolicArray, and the runtime-configurable fusion
unit it is cut from.

A BitBrick multiplies two 2-bit digits, each signed (-2..1, the top digit of its code) or
unsigned (0..3): both are extended to 3-bit signed values (`extend`) and multiplied
(`brick_product`, a 3x3 signed multiply). At precision a_bits x w_bits the 16 bricks are routed
(`routes`) to lane l's digit pairs (i, j): brick product << 2(i + j), and the fusion tree
(`tree_sum`, a balanced tree of adders) sums all 16 shifted products, i.e. Σ_l a_l·w_l over
the fused words' lanes (workloads/methods/bitfusion/: 1 product at 8x8, 4 at 4x4, 16 at 2x2).

- `FusionUnit`: the unit with its precision a runtime input (`precision`, an index into
  PRECISIONS), the paper's: each brick's digits, signs and shift are chosen by muxes; words of
  up to 32 bits (sixteen 2-bit codes). Combinational.
- `BitFusionPE`: hw/pe.MacPE whose operation is c + (the fusion unit's sum), built for one
  precision, the one its port widths give (plan.precision_of: an ifmap word of 64 / w_bits and
  a weight word of 64 / a_bits bits), so the routes are wires and the accelerator generated for
  a precision (plan.fused_arch) carries it in its array unchanged. Same registers, modes and
  timing as the MAC PE: one fused MAC per cycle, sums wrapping at psum_bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

from amaranth import Cat, Module, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dlaforge.workloads.methods.bitfusion.plan import (BRICK_BITS, BRICKS, WIDTHS, lanes,
                                                       precision_of)

from ...pe import MacPE

PRECISIONS = tuple(product(WIDTHS[::-1], WIDTHS[::-1]))    # (a_bits, w_bits), 8x8 first
MAX_WORD_BITS = BRICKS * BRICK_BITS                         # sixteen 2-bit codes


@dataclass(frozen=True)
class Route:
    """Where one brick reads at one precision: digit indices into the a and w words, whether
    each digit is signed (its code's top digit), and the shift of its product."""

    a_digit: int
    w_digit: int
    a_signed: int
    w_signed: int
    shift: int


def routes(a_bits: int, w_bits: int) -> tuple[Route, ...]:
    """The 16 bricks' routes at a_bits x w_bits: lane by lane, digit pair (i, j)."""
    da, dw = a_bits // BRICK_BITS, w_bits // BRICK_BITS
    return tuple(Route(lane * da + i, lane * dw + j, int(i == da - 1), int(j == dw - 1),
                       BRICK_BITS * (i + j))
                 for lane in range(lanes(a_bits, w_bits)) for i in range(da) for j in range(dw))


def sum_bits() -> int:
    """Signed width of the fusion unit's sum at any precision: lanes x (-2^(a-1))(-2^(w-1))."""
    largest = max(lanes(a, w) << (a + w - 2) for a, w in PRECISIONS)
    return largest.bit_length() + 1


def extend(digit, is_signed):
    """A 2-bit digit as a 3-bit signed value: sign-extended if `is_signed` (0/1 or a 1-bit
    signal), else zero-extended."""
    return Cat(digit, digit[1] & is_signed).as_signed()


def brick_product(x, y, x_signed, y_signed):
    """One BitBrick: the 3-bit x 3-bit signed product of two extended digits."""
    return extend(x, x_signed) * extend(y, y_signed)


def tree_sum(values: list):
    """A balanced adder tree over `values`."""
    while len(values) > 1:
        values = [values[i] + values[i + 1] if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]


def fused_sum(a, w, a_bits: int, w_bits: int):
    """The fusion unit's sum of fused words `a`, `w` at a fixed precision (routes as wires)."""
    return tree_sum([brick_product(a.word_select(r.a_digit, BRICK_BITS),
                                   w.word_select(r.w_digit, BRICK_BITS),
                                   r.a_signed, r.w_signed) << r.shift
                     for r in routes(a_bits, w_bits)])


class FusionUnit(wiring.Component):
    """The fusion unit with a runtime precision (module doc): `sum` = Σ_l a_l·w_l of the
    words' lanes at PRECISIONS[precision] (an index outside it gives 0)."""

    def __init__(self):
        super().__init__({"precision": In(range(len(PRECISIONS))),
                          "a": In(unsigned(MAX_WORD_BITS)), "w": In(unsigned(MAX_WORD_BITS)),
                          "sum": Out(signed(sum_bits()))})

    def elaborate(self, platform):
        m = Module()
        table = [routes(a_bits, w_bits) for a_bits, w_bits in PRECISIONS]
        shifted = []
        for brick in range(BRICKS):
            x, y = Signal(BRICK_BITS, name=f"x{brick}"), Signal(BRICK_BITS, name=f"y{brick}")
            sx, sy = Signal(name=f"sx{brick}"), Signal(name=f"sy{brick}")
            shift = Signal(range(2 * MAX_WORD_BITS), name=f"shift{brick}")
            with m.Switch(self.precision):
                for index, precision_routes in enumerate(table):
                    r = precision_routes[brick]
                    with m.Case(index):
                        m.d.comb += [x.eq(self.a.word_select(r.a_digit, BRICK_BITS)),
                                     y.eq(self.w.word_select(r.w_digit, BRICK_BITS)),
                                     sx.eq(r.a_signed), sy.eq(r.w_signed), shift.eq(r.shift)]
            shifted.append(brick_product(x, y, sx, sy) << shift)
        m.d.comb += self.sum.eq(tree_sum(shifted))
        return m


class BitFusionPE(MacPE):
    """hw/pe.MacPE with the fusion unit's sum in place of a·w, at the precision its port widths
    give (module doc)."""

    def __init__(self, ifmap_bits: int, weight_bits: int, psum_bits: int,
                 dataflows=("ws", "os")):
        self.precision = precision_of(ifmap_bits, weight_bits)
        super().__init__(ifmap_bits, weight_bits, psum_bits, dataflows)

    def accumulate(self, partial, a, w):
        return partial + fused_sum(a.as_unsigned(), w.as_unsigned(), *self.precision)
