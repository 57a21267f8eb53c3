"""Tile walking in hardware: which tile comes next and where its blocks start.

`TileCounter` walks the tiles of a command in the order of dlaforge.rtl_plan (n-block
outermost, kd-block innermost). The accelerator keeps three: one for loads, one for the array,
one for write-back, each a few tiles behind the previous. `step_digits` is the mixed-radix
+1 the address generator uses on (p, q) and (c, r, s).
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


def step_digits(m: Module, digits, limits) -> None:
    """digits += 1 in a mixed radix: digits[-1] counts to limits[-1] then carries left;
    the first digit never wraps (its limit is None)."""
    carry = 1
    for digit, limit in reversed(list(zip(digits, limits))):
        if limit is None:
            with m.If(carry):
                m.d.sync += digit.eq(digit + 1)
            break
        wraps = Signal(name=f"{digit.name}_wraps")
        m.d.comb += wraps.eq(carry & (digit + 1 == limit))
        with m.If(carry):
            m.d.sync += digit.eq(Mux(wraps, 0, digit + 1))
        carry = wraps


class TileCounter(wiring.Component):
    """`restart` goes back to tile 0; `next` advances one tile. Block starts (n0, m0, kd0) and
    sizes are those of the current tile; `last_k` / `last_m` say the kd / m loop ends here;
    `half` is the tile's parity (its ifmap/weight buffer half), `out_half` its output's parity
    (its accumulator half); `finished` rises after the last tile."""

    def __init__(self, command_layout, dim_bits: int, addr_bits: int):
        super().__init__({
            "cmd": In(command_layout), "restart": In(1), "next": In(1),
            "n0": Out(addr_bits), "m0": Out(addr_bits), "kd0": Out(addr_bits),
            "n_size": Out(dim_bits), "m_size": Out(dim_bits), "k_size": Out(dim_bits),
            "first_k": Out(1), "last_k": Out(1), "last_m": Out(1),
            "half": Out(1), "out_half": Out(1), "finished": Out(1),
        })
        self.dim_bits = dim_bits

    def elaborate(self, platform):
        m = Module()
        cmd = self.cmd
        nb, mb, kb = (Signal(self.dim_bits, name=n) for n in ("nb", "mb", "kb"))
        last_n = Signal()
        m.d.comb += [
            self.last_k.eq(kb == cmd.tk - 1), self.last_m.eq(mb == cmd.tm - 1),
            last_n.eq(nb == cmd.tn - 1), self.first_k.eq(kb == 0),
            self.n_size.eq(_min(cmd.Nt, cmd.K - self.n0)),
            self.m_size.eq(_min(cmd.Mt, cmd.M - self.m0)),
            self.k_size.eq(_min(cmd.Kt, cmd.Kd - self.kd0)),
        ]
        with m.If(self.restart):
            m.d.sync += [nb.eq(0), mb.eq(0), kb.eq(0), self.n0.eq(0), self.m0.eq(0),
                         self.kd0.eq(0), self.half.eq(0), self.out_half.eq(0),
                         self.finished.eq(0)]
        with m.Elif(self.next):
            m.d.sync += [self.half.eq(~self.half), kb.eq(kb + 1), self.kd0.eq(self.kd0 + cmd.Kt)]
            with m.If(self.last_k):
                m.d.sync += [kb.eq(0), self.kd0.eq(0), self.out_half.eq(~self.out_half),
                             mb.eq(mb + 1), self.m0.eq(self.m0 + cmd.Mt)]
                with m.If(self.last_m):
                    m.d.sync += [mb.eq(0), self.m0.eq(0), nb.eq(nb + 1),
                                 self.n0.eq(self.n0 + cmd.Nt)]
                    with m.If(last_n):
                        m.d.sync += self.finished.eq(1)
        return m


def _min(a, b):
    return Mux(a < b, a, b)
