"""Loop nests in hardware: counters with programmable bounds stepped as one mixed-radix number;
and the small arithmetic the engines share (minimum, clip, popcount_tree)."""

from __future__ import annotations

from amaranth import Const, Module, Mux


def step_nest(m: Module, digits) -> object:
    """Advance the nest `digits` (outermost first, each (register, step, last): `last` says the
    register holds its loop's final value) by one innermost step, in the current control
    context: a loop at its last value goes back to 0 and carries outwards. Returns the
    expression "every loop was at its last value" (the nest wrapped)."""
    carry = Const(1)
    for reg, step, last in reversed(digits):
        with m.If(carry):
            m.d.sync += reg.eq(Mux(last, 0, reg + step))
        carry = carry & last
    return carry


def minimum(a, b):
    return Mux(a < b, a, b)


def clip(value, low, high):
    return Mux(value < low, low, Mux(value > high, high, value))


def popcount_tree(value):
    """The number of ones in `value`, as a balanced tree of adders."""
    level = [value[i] for i in range(len(value))]
    while len(level) > 1:
        pairs = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
    return level[0]
