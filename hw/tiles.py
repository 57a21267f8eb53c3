"""Tile walking in hardware: which tile comes next and where its blocks start.

`TileCounter` walks the tiles of a command in the order of accelerator_plan (n-block
outermost, kd-block innermost). The accelerator keeps three: one for loads, one for the array,
one for write-back, each a few tiles behind the previous. `step_digits` is the mixed-radix
+1 the address generator uses on (p, q) and (c, r, s).

With bit-sliced passes (a command layout with the fields of hw/layouts.SLICE_FIELDS), the kd
blocks of every output tile are walked once per slice pair, between the m-block and the
kd-block loops: diagonal d = i + j from a_top + w_top down to 0, and on each diagonal the
ifmap slice i from min(d, a_top) down to max(0, d - w_top) (weight slice j = d - i), as
dlaforge.workloads.methods.palquant.plan.slice_passes lists them.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .layouts import SLICE_FIELDS


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
    (its accumulator half); `finished` rises after the last tile.
    Passes: `plane_a` / `plane_w` are the slices of the current pass; `first_k` / `last_k` are
    the output's first / last tile (first pass / last pass), `pass_end` the last kd tile of a
    pass before the last, `shift_acc` the first kd tile of a diagonal after the first (its
    accumulator rows are shifted before the sums are added). Without the fields of passes they
    are constant (one pass)."""

    def __init__(self, command_layout, dim_bits: int, addr_bits: int):
        self.passes = all(name in command_layout.members for name in SLICE_FIELDS)
        super().__init__({
            "cmd": In(command_layout), "restart": In(1), "next": In(1),
            "n0": Out(addr_bits), "m0": Out(addr_bits), "kd0": Out(addr_bits),
            "n_size": Out(dim_bits), "m_size": Out(dim_bits), "k_size": Out(dim_bits),
            "first_k": Out(1), "last_k": Out(1), "last_m": Out(1),
            "half": Out(1), "out_half": Out(1), "finished": Out(1),
            "plane_a": Out(4), "plane_w": Out(4), "pass_end": Out(1), "shift_acc": Out(1),
        })
        self.dim_bits = dim_bits

    def _walk_passes(self, m, kb_first, kb_last):
        """The pass registers: e counts the diagonals done (d = a_top + w_top - e), u the
        passes done on this diagonal (i = min(d, a_top) - u); both restart at 0, so `restart`
        needs no command field. Returns (first pass, last pass, advance one pass, rewind)."""
        cmd = self.cmd
        e, u = Signal(5), Signal(4)
        d, i, i_high, i_low = Signal(5), Signal(4), Signal(4), Signal(4)
        m.d.comb += [d.eq(cmd.a_top + cmd.w_top - e), i_high.eq(_min(d, cmd.a_top)),
                     i.eq(i_high - u), i_low.eq(Mux(d > cmd.w_top, d - cmd.w_top, 0)),
                     self.plane_a.eq(i), self.plane_w.eq(d - i)]
        first_pass, last_pass = Signal(), Signal()
        m.d.comb += [first_pass.eq(e == 0), last_pass.eq(d == 0),
                     self.pass_end.eq(kb_last & ~last_pass),
                     self.shift_acc.eq(kb_first & ~first_pass & (u == 0))]

        def advance():
            with m.If(i > i_low):
                m.d.sync += u.eq(u + 1)
            with m.Else():
                m.d.sync += [e.eq(e + 1), u.eq(0)]

        def rewind():
            m.d.sync += [e.eq(0), u.eq(0)]
        return first_pass, last_pass, advance, rewind

    def elaborate(self, platform):
        m = Module()
        cmd = self.cmd
        nb, mb, kb = (Signal(self.dim_bits, name=n) for n in ("nb", "mb", "kb"))
        last_n, last_kd = Signal(), Signal()
        m.d.comb += last_kd.eq(kb == cmd.tk - 1)
        if self.passes:
            first_pass, last_pass, advance, rewind = self._walk_passes(m, kb == 0, last_kd)
        else:
            first_pass, last_pass, advance, rewind = 1, 1, lambda: None, lambda: None
        m.d.comb += [
            self.last_k.eq(last_kd & last_pass), self.last_m.eq(mb == cmd.tm - 1),
            last_n.eq(nb == cmd.tn - 1), self.first_k.eq((kb == 0) & first_pass),
            self.n_size.eq(_min(cmd.Nt, cmd.K - self.n0)),
            self.m_size.eq(_min(cmd.Mt, cmd.M - self.m0)),
            self.k_size.eq(_min(cmd.Kt, cmd.Kd - self.kd0)),
        ]
        with m.If(self.restart):
            m.d.sync += [nb.eq(0), mb.eq(0), kb.eq(0), self.n0.eq(0), self.m0.eq(0),
                         self.kd0.eq(0), self.half.eq(0), self.out_half.eq(0),
                         self.finished.eq(0)]
            rewind()
        with m.Elif(self.next):
            m.d.sync += [self.half.eq(~self.half), kb.eq(kb + 1), self.kd0.eq(self.kd0 + cmd.Kt)]
            with m.If(self.pass_end):
                m.d.sync += [kb.eq(0), self.kd0.eq(0)]
                advance()
            with m.If(self.last_k):
                rewind()
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
