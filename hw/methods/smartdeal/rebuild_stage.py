"""SmartDeal's rebuild as a weight-load stage of the programmable controller (docs/plans/
method_hardware_on_controller.md, Stage 3): a filter block's code region comes in byte-rows
(workloads/methods/smartdeal/regions.py), and the weight buffer gets the block's rebuilt
integer weights, one word of the block's filters per cycle, where a plain weight load would
have put its int8 weights.

Loading: each byte-row is written (`load_addr`, `load_data`, `load_en`: one byte and enable
per filter lane, as a weight run's response writes a buffer word) into the lane's own bank of
the code buffer; the B byte-rows are also kept in registers. While the bitmap's byte-rows
(B_BYTES .. `code_start` - 1) come in, the stage counts each filter's ones (a rebuild's start
forgets them), so `code_rows`, the region's code byte-rows (the most of its filters'
ceil(nnz / 2)), is known once the bitmap is in: the fetch then reads that many code
byte-rows, from byte-row code_start on.

Rebuilding (`start`, held for one cycle): the weights of flattened index kd = (c*R + r)*S + s,
kd = 0 .. c_size*R*S - 1, one per cycle in that order; weight kd of filter j is
sum_i +-(B[j][i][kd % 3] << e_i) over the nonzero entries i of its Ce row kd // 3 (the row's
bitmap bits read at bit 3*(kd // 3) of the lane's bitmap, its codes at the lane's own nibble
pointer, which steps past the row's codes after its third weight). The word goes to weight
buffer word `word_base` + (r*S + s)*c_size + c, the controller's weight word of (r, s, c),
lanes below `filters` enabled, one cycle after it is formed (the output is registered). The
rebuild of a block takes c_size*R*S cycles whatever its codes; `done` is high in the cycle of
its last write. All-zero Ce rows are not skipped: the weight buffer must get every word.
"""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.workloads.methods.smartdeal.reference import B_BYTES, ROW_ENTRIES

from ...controller.nest import popcount_tree


class RebuildStage(wiring.Component):
    def __init__(self, lanes: int, depth: int, weight_bits: int, dim_bits: int,
                 word_bits: int):
        self.lanes, self.depth, self.weight_bits = lanes, depth, weight_bits
        super().__init__({
            "load_addr": In(range(depth)), "load_data": In(data.ArrayLayout(8, lanes)),
            "load_en": In(lanes),
            "code_start": In(range(depth)),     # the region's first code byte-row
            "code_rows": Out(range(depth + 1)),
            "start": In(1), "busy": Out(1), "done": Out(1),
            "c_size": In(dim_bits), "R": In(dim_bits), "S": In(dim_bits),
            "filters": In(range(lanes + 1)), "word_base": In(word_bits),
            "w_addr": Out(word_bits),
            "w_data": Out(data.ArrayLayout(signed(weight_bits), lanes)),
            "w_en": Out(lanes),
        })

    def elaborate(self, platform):
        m = Module()
        db = len(self.c_size)
        bitmap_end = self.code_start
        in_bitmap = (self.load_addr >= B_BYTES) & (self.load_addr < bitmap_end)

        running, last = Signal(), Signal()
        c, r, s = (Signal(db, name=n) for n in ("c", "r", "s"))
        wb = len(self.word_base)        # a block's words and bits count up to a weight half
        rs_word = Signal(wb)                        # (r*S + s) * c_size
        entry = Signal(range(ROW_ENTRIES))          # kd % 3
        row_bit = Signal(wb + 2)                    # 3 * (kd // 3)
        final = ((c + 1 == self.c_size) & (r + 1 == self.R) & (s + 1 == self.S))
        row_ends = entry == ROW_ENTRIES - 1

        nnz_bits = (ROW_ENTRIES * 8 * self.depth).bit_length()
        largest = None
        for j in range(self.lanes):
            bank = memory.Memory(shape=unsigned(8), depth=self.depth, init=[])
            m.submodules[f"codes_{j}"] = bank
            wr = bank.write_port()
            m.d.comb += [wr.addr.eq(self.load_addr), wr.data.eq(self.load_data[j]),
                         wr.en.eq(self.load_en[j])]
            b_regs = [Signal(signed(8), name=f"b_{j}_{q}") for q in range(B_BYTES)]
            for q, reg in enumerate(b_regs):
                with m.If(self.load_en[j] & (self.load_addr == q)):
                    m.d.sync += reg.eq(self.load_data[j])
            nnz = Signal(nnz_bits, name=f"nnz_{j}")
            with m.If(self.start):
                m.d.sync += nnz.eq(0)
            with m.Elif(self.load_en[j] & in_bitmap):
                m.d.sync += nnz.eq(nnz + popcount_tree(self.load_data[j]))
            codes = Signal.like(nnz, name=f"codes_{j}")
            m.d.comb += codes.eq((nnz + 1) >> 1)
            largest = codes if largest is None else Mux(codes > largest, codes, largest)

            # the rebuild of lane j: its Ce row's bits and codes, from its bank
            reads = [bank.read_port(domain="comb") for _ in range(4)]
            pointer = Signal(nnz_bits, name=f"pointer_{j}")     # the row's first code nibble
            m.d.comb += [reads[0].addr.eq(B_BYTES + (row_bit >> 3)),
                         reads[1].addr.eq(B_BYTES + (row_bit >> 3) + 1),
                         reads[2].addr.eq(bitmap_end + (pointer >> 1)),
                         reads[3].addr.eq(bitmap_end + (pointer >> 1) + 1)]
            bits = Signal(ROW_ENTRIES, name=f"bits_{j}")
            nibbles = Signal(12, name=f"nibbles_{j}")
            m.d.comb += [bits.eq(Cat(reads[0].data, reads[1].data) >> row_bit[:3]),
                         nibbles.eq(Cat(reads[2].data, reads[3].data) >> (pointer[0] * 4))]
            weight, used = 0, 0
            for i in range(ROW_ENTRIES):
                code = nibbles.word_select(used, 4)
                basis = Mux(entry == 0, b_regs[3 * i],
                            Mux(entry == 1, b_regs[3 * i + 1], b_regs[3 * i + 2]))
                magnitude = Signal(signed(self.weight_bits), name=f"term_{j}_{i}")
                m.d.comb += magnitude.eq(basis << code[:3])
                weight = weight + Mux(bits[i], Mux(code[3], -magnitude, magnitude), 0)
                used = used + bits[i]
            m.d.sync += self.w_data[j].eq(weight)
            m.d.sync += self.w_en[j].eq(running & (j < self.filters))
            with m.If(self.start):
                m.d.sync += pointer.eq(0)
            with m.Elif(running & row_ends):
                m.d.sync += pointer.eq(pointer + used)
        m.d.comb += self.code_rows.eq(largest)

        m.d.sync += [self.w_addr.eq(self.word_base + rs_word + c), last.eq(running & final)]
        m.d.comb += [self.done.eq(last), self.busy.eq(running | last)]
        with m.If(self.start):
            m.d.sync += [running.eq(1), c.eq(0), r.eq(0), s.eq(0), rs_word.eq(0), entry.eq(0),
                         row_bit.eq(0)]
        with m.Elif(running):
            m.d.sync += [entry.eq(Mux(row_ends, 0, entry + 1)),
                         row_bit.eq(row_bit + Mux(row_ends, ROW_ENTRIES, 0))]
            with m.If(s + 1 == self.S):         # the next (r, s), or the next channel
                m.d.sync += s.eq(0)
                with m.If(r + 1 == self.R):
                    m.d.sync += [r.eq(0), rs_word.eq(0), c.eq(c + 1)]
                with m.Else():
                    m.d.sync += [r.eq(r + 1), rs_word.eq(rs_word + self.c_size)]
            with m.Else():
                m.d.sync += [s.eq(s + 1), rs_word.eq(rs_word + self.c_size)]
            with m.If(final):
                m.d.sync += running.eq(0)
        return m
