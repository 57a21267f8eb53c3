"""The Winograd transform units: adders and wired shifts around the MAC array.

Both units apply a constant integer matrix T on both sides of a tile, X -> T X Tᵀ, as two
passes of the same 1-D transform: first down every column (T X), then along every row
((T X) Tᵀ). A constant entry c is the sum of |c|'s set bits as wired left shifts, so a row of
T with t such terms costs t - 1 adders or subtractors (the count `vector_adds` in
workloads/methods/winograd/ charges); there is no multiplier.

- `InputTransform`: an a x a tile d of ifmap elements -> V = Bᵀ d B, then for every tap a
  rounding right shift by its `shift` (v + 2^(s-1)) >> s and a clamp to ±(2^(bits-1) - 1),
  so V fits the array's ifmap width (tap-wise power-of-two scales).
- `OutputTransform`: the a x a tap sums M of one output tile (psum_bits each) -> each shifted
  left by its tap's `align` to the common exponent, then Y = Aᵀ M A (m x m, exact: wide enough
  never to wrap).

Each is a pipeline of three registers that takes one tile per cycle (`i` and `o` are
amaranth.lib.stream interfaces; the pipeline advances when its output is empty or taken).
`busy` is high while any stage holds a tile. Tile elements are row-major: element (x, y) of
an a x a tile is lane x * a + y.
"""

from __future__ import annotations

from amaranth import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.workloads.methods.winograd.plan import (ALIGN_BITS, INPUT_STAGES, OUTPUT_STAGES,
                                                      SHIFT_BITS, gain_bits, output_bits)


def power_terms(c: int) -> list[tuple[int, int]]:
    """(sign, shift) for each set bit of |c|: c = Σ sign · 2^shift."""
    sign = 1 if c > 0 else -1
    return [(sign, k) for k in range(abs(c).bit_length()) if abs(c) >> k & 1]


def constant_matvec(matrix, vector) -> list:
    """matrix · vector for a constant integer matrix: each row a chain of adders and
    subtractors over wired shifts of the vector's elements (a positive term first)."""
    out = []
    for row in matrix:
        terms = [(sign, x << k) for c, x in zip(row, vector) if c for sign, k in power_terms(int(c))]
        terms.sort(key=lambda term: term[0] < 0)
        first_sign, total = terms[0]
        total = total if first_sign > 0 else -total
        for sign, value in terms[1:]:
            total = total + value if sign > 0 else total - value
        out.append(total)
    return out


def transform_rows(matrix, tile, side):
    """Apply `matrix` down every column of a row-major tile with `side` columns:
    (matrix · tile) as a row-major list."""
    rows = len(tile) // side
    columns = [constant_matvec(matrix, [tile[r * side + j] for r in range(rows)])
               for j in range(side)]
    return [columns[j][x] for x in range(len(matrix)) for j in range(side)]


def transform_columns(matrix, tile, side):
    """Apply `matrix` along every row of a row-major tile with `side` columns:
    (tile · matrixᵀ) as a row-major list."""
    rows = len(tile) // side
    out = []
    for r in range(rows):
        out += constant_matvec(matrix, [tile[r * side + j] for j in range(side)])
    return out


class _Pipeline:
    """The handshake of a pipeline of register stages fed by stream `i`, emptied into `o`."""

    def __init__(self, m, unit, stages):
        self.advance = Signal()
        self.valid = [Signal(name=f"stage{n}_valid") for n in range(stages)]
        m.d.comb += [self.advance.eq(~self.valid[-1] | unit.o.ready),
                     unit.i.ready.eq(self.advance), unit.o.valid.eq(self.valid[-1])]
        with m.If(self.advance):
            m.d.sync += self.valid[0].eq(unit.i.valid)
            m.d.sync += [after.eq(before) for before, after in zip(self.valid, self.valid[1:])]
        busy = self.valid[0]
        for v in self.valid[1:]:
            busy = busy | v
        m.d.comb += unit.busy.eq(busy)

    def register(self, m, name, shape, values):
        """A stage of registers loaded with `values` when the pipeline advances."""
        regs = Signal(data.ArrayLayout(shape, len(values)), name=name)
        with m.If(self.advance):
            m.d.sync += [regs[n].eq(v) for n, v in enumerate(values)]
        return [regs[n] for n in range(len(values))]


class InputTransform(wiring.Component):
    """a x a ifmap tile -> a x a quantized transformed tile V (see the module doc)."""

    def __init__(self, bt, bits: int):
        self.bt = [[int(c) for c in row] for row in bt]
        self.a, self.bits = len(self.bt), bits
        taps = self.a * self.a
        tile = stream.Signature(data.ArrayLayout(signed(bits), taps))
        super().__init__({"i": In(tile), "o": Out(tile), "busy": Out(1),
                          "shift": In(data.ArrayLayout(unsigned(SHIFT_BITS), taps))})

    def elaborate(self, platform):
        m = Module()
        a, bt, g = self.a, self.bt, gain_bits(self.bt)
        pipe = _Pipeline(m, self, INPUT_STAGES)
        d = [self.i.payload[n] for n in range(a * a)]
        half = pipe.register(m, "column_pass", signed(self.bits + g), transform_rows(bt, d, a))
        v = pipe.register(m, "row_pass", signed(self.bits + 2 * g),
                          transform_columns(bt, half, a))
        qmax = (1 << (self.bits - 1)) - 1
        quantized = []
        for n, value in enumerate(v):
            s = self.shift[n]
            rounding = Signal(unsigned((1 << SHIFT_BITS) - 1), name=f"rounding{n}")
            m.d.comb += rounding.eq((Const(1, 1 << SHIFT_BITS) << s) >> 1)   # 2^(s-1); 0 if s=0
            shifted = (value + rounding) >> s
            quantized.append(Mux(shifted > qmax, qmax, Mux(shifted < -qmax, -qmax, shifted)))
        out = pipe.register(m, "quantized", signed(self.bits), quantized)
        m.d.comb += [self.o.payload[n].eq(x) for n, x in enumerate(out)]
        return m


class OutputTransform(wiring.Component):
    """a x a tap sums -> m x m output tile Y = Aᵀ (M << align) A (see the module doc)."""

    def __init__(self, at, psum_bits: int):
        self.at = [[int(c) for c in row] for row in at]
        self.m_side, self.a = len(self.at), len(self.at[0])
        self.psum_bits = psum_bits
        self.aligned_bits = psum_bits + (1 << ALIGN_BITS) - 1
        self.out_bits = output_bits(self.at, psum_bits)
        taps = self.a * self.a
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(psum_bits), taps))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(self.out_bits),
                                                       self.m_side * self.m_side))),
            "busy": Out(1),
            "align": In(data.ArrayLayout(unsigned(ALIGN_BITS), taps)),
        })

    def elaborate(self, platform):
        m = Module()
        a, at, g = self.a, self.at, gain_bits(self.at)
        pipe = _Pipeline(m, self, OUTPUT_STAGES)
        aligned = pipe.register(m, "aligned", signed(self.aligned_bits),
                                [self.i.payload[n] << self.align[n] for n in range(a * a)])
        half = pipe.register(m, "column_pass", signed(self.aligned_bits + g),
                             transform_rows(at, aligned, a))
        y = pipe.register(m, "row_pass", signed(self.out_bits),
                          transform_columns(at, half, a))
        m.d.comb += [self.o.payload[n].eq(x) for n, x in enumerate(y)]
        return m
