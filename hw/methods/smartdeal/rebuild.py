"""The SmartDeal rebuild engine: Ce codes and B from the unit's buffers to rebuilt weight rows.

It walks one filter block's Ce rows (filter j = 0 .. filters-1, row g = 0 .. rows-1), one step
per cycle. Each step looks at the bitmap of the next `WINDOW_ROWS` rows of the current filter
(read asynchronously from the bitmap buffer at bit 3 * (j * rows + g)):
- if one of them has a nonzero entry, it rebuilds the first such row: for each nonzero entry i
  (its 4-bit code taken in order from the code buffer: sign, exponent - p_min), B row i of the
  filter shifted left by the exponent code, negated for a negative sign, the three terms added
  into the row's 3 weights, written to word g' of the rebuilt-weight buffer at lanes
  3j .. 3j+2; the walk continues after that row;
- otherwise it skips the whole window: all-zero Ce rows cost no shift, no add, no write, and
  WINDOW_ROWS of them one cycle.
Rows it skips are not written: the unit clears the buffer before each block. `done` is high
in the cycle of the last step. `rebuilt` and `entries` say, per cycle, whether a row was
rebuilt and how many nonzero entries it had (the unit's counters of shifts and adds).

Integer result, as smartdeal_ref.rebuild: W[g][c] = sum_i +-(B[i][c] << e_i).
"""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.workloads.methods.smartdeal.plan import (BITMAP_READS, B_BYTES, ROW_ENTRIES,
                                                       WINDOW_ROWS)



class RebuildEngine(wiring.Component):
    def __init__(self, cols: int, weight_bits: int, dim_bits: int, bitmap_addr_bits: int,
                 code_addr_bits: int):
        self.cols, self.weight_bits = cols, weight_bits
        super().__init__({
            "start": In(1), "done": Out(1), "busy": Out(1),
            "filters": In(dim_bits), "rows": In(dim_bits),
            "bitmap_addr": Out(data.ArrayLayout(bitmap_addr_bits, BITMAP_READS)),
            "bitmap_data": In(data.ArrayLayout(8, BITMAP_READS)),
            "code_addr": Out(data.ArrayLayout(code_addr_bits, 2)),
            "code_data": In(data.ArrayLayout(8, 2)),
            "b_addr": Out(range(cols)),
            "b_data": In(data.ArrayLayout(signed(8), B_BYTES)),
            "wr_en": Out(1), "wr_row": Out(dim_bits), "wr_filter": Out(range(cols)),
            "wr_data": Out(data.ArrayLayout(signed(weight_bits), ROW_ENTRIES)),
            "rebuilt": Out(1), "entries": Out(2),
        })

    def elaborate(self, platform):
        m = Module()
        db = len(self.rows)
        filt, row = Signal(db), Signal(db)
        bit, nibble = Signal(db + 8), Signal(db + 8)    # bitmap bit and code nibble pointers
        running = Signal()
        m.d.comb += self.busy.eq(running)

        # the window: bitmap bits of rows row .. row+WINDOW_ROWS-1 of this filter
        byte0 = bit >> 3
        for i in range(BITMAP_READS):
            m.d.comb += self.bitmap_addr[i].eq(byte0 + i)
        window = Signal(ROW_ENTRIES * WINDOW_ROWS)
        m.d.comb += window.eq(Cat(*[self.bitmap_data[i] for i in range(BITMAP_READS)])
                              >> bit[:3])
        left = self.rows - row          # rows of this filter not walked yet
        row_bits = [window[ROW_ENTRIES * w:ROW_ENTRIES * (w + 1)] for w in range(WINDOW_ROWS)]
        nonzero = [Signal(name=f"nonzero_{w}") for w in range(WINDOW_ROWS)]
        m.d.comb += [nz.eq((bits != 0) & (w < left)) for w, (nz, bits)
                     in enumerate(zip(nonzero, row_bits))]
        found = Signal()
        first = Signal(range(WINDOW_ROWS))
        bits = Signal(ROW_ENTRIES)
        m.d.comb += found.eq(Cat(*nonzero).any())
        for w in reversed(range(WINDOW_ROWS)):      # priority: the lowest nonzero row
            with m.If(nonzero[w]):
                m.d.comb += [first.eq(w), bits.eq(row_bits[w])]
        step = Mux(found, first + 1, Mux(left < WINDOW_ROWS, left, WINDOW_ROWS))

        # the row's codes: nibbles nibble .. nibble+2, entry i takes the next one if nonzero
        m.d.comb += [self.code_addr[0].eq(nibble >> 1), self.code_addr[1].eq((nibble >> 1) + 1)]
        nibbles = Signal(12)
        m.d.comb += nibbles.eq(Cat(self.code_data[0], self.code_data[1]) >> (nibble[0] * 4))
        m.d.comb += self.b_addr.eq(filt)
        terms = []
        used = 0            # nonzero entries before entry i (a Value)
        for i in range(ROW_ENTRIES):
            code = Signal(4, name=f"code_{i}")
            m.d.comb += code.eq(nibbles.word_select(used, 4))
            for c in range(ROW_ENTRIES):
                shifted = Signal(signed(self.weight_bits), name=f"term_{i}_{c}")
                magnitude = self.b_data[ROW_ENTRIES * i + c] << code[:3]
                m.d.comb += shifted.eq(Mux(bits[i], Mux(code[3], -magnitude, magnitude), 0))
                terms.append(shifted)
            used = used + bits[i]
        for c in range(ROW_ENTRIES):
            m.d.comb += self.wr_data[c].eq(sum(terms[ROW_ENTRIES * i + c]
                                               for i in range(ROW_ENTRIES)))
        m.d.comb += [self.wr_row.eq(row + first), self.wr_filter.eq(filt),
                     self.wr_en.eq(running & found), self.rebuilt.eq(running & found),
                     self.entries.eq(Mux(running & found, used, 0))]

        last_of_filter = step == left
        m.d.comb += self.done.eq(running & last_of_filter & (filt + 1 == self.filters))
        with m.If(self.start):
            m.d.sync += [running.eq(1), filt.eq(0), row.eq(0), bit.eq(0), nibble.eq(0)]
        with m.Elif(running):
            m.d.sync += [bit.eq(bit + (step << 1) + step),     # 3 bitmap bits per row
                         nibble.eq(nibble + used),
                         row.eq(Mux(last_of_filter, 0, row + step))]
            with m.If(last_of_filter):
                m.d.sync += filt.eq(filt + 1)
            with m.If(self.done):
                m.d.sync += running.eq(0)
        return m
