"""A rows x cols systolic array of MAC PEs, and the skew lines that feed it.

The PE is the MAC PE of hw/pe.py unless `pe` names another component with the same ports
(a method's PE, e.g. the XNOR-popcount PE of hw/methods/xnor/pe.py), built as
`pe(ifmap_bits, weight_bits, psum_bits, dataflows)`. A dual PE (hw/pe.with_mac_mode) gives the
array a `mac` input, broadcast to every PE as `mode` is.

Edges: `west[i]` enters row i (ifmap elements), `north[j]` enters column j (weights), and
`south[j]` is the `c` register of the bottom PE of column j. The top row sees a zero partial
sum from the north. Inputs are expected already skewed: element t of row i arrives at cycle
t + i (and of column j at t + j), which `Skew` does for a vector that is presented aligned.

Timing (cycle x = first element at PE(0,0)):
- ws: PE(i,j) adds its product for stream step t at cycle x + t + i + j; the sum for step t
  leaves column j at cycle x + t + rows + j (visible on `south[j]`).
- os: PE(i,j) sees reduction step t at cycle x + t + i + j; after the last step has crossed
  the array (T + rows + cols - 2 cycles of OS), `rows` DRAIN cycles bring out rows
  rows-1, rows-2, ..., 0 on `south`.
"""

from __future__ import annotations

from amaranth import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .pe import MacPE, Mode


class SystolicArray(wiring.Component):
    def __init__(self, rows: int, cols: int, ifmap_bits: int, weight_bits: int, psum_bits: int,
                 dataflows=("ws", "os"), pe=MacPE):
        self.rows, self.cols = rows, cols
        self.pe = pe
        self.bits = (ifmap_bits, weight_bits, psum_bits)
        self.dataflows = tuple(dataflows)
        ports = {
            "mode": In(Mode),
            "west": In(data.ArrayLayout(signed(ifmap_bits), rows)),
            "north": In(data.ArrayLayout(signed(weight_bits), cols)),
            "south": Out(data.ArrayLayout(signed(psum_bits), cols)),
        }
        if getattr(pe, "MAC_MODE", False):
            ports["mac"] = In(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        pes = [[self.pe(*self.bits, self.dataflows) for _ in range(self.cols)]
               for _ in range(self.rows)]
        for i, row in enumerate(pes):
            for j, pe in enumerate(row):
                m.submodules[f"pe_{i}_{j}"] = pe
                m.d.comb += [
                    pe.mode.eq(self.mode),
                    pe.a_in.eq(self.west[i] if j == 0 else row[j - 1].a_out),
                    pe.b_in.eq(self.north[j] if i == 0 else pes[i - 1][j].b_out),
                    pe.c_in.eq(0 if i == 0 else pes[i - 1][j].c_out),
                ]
                if "mac" in self.signature.members:
                    m.d.comb += pe.mac.eq(self.mac)
        m.d.comb += [self.south[j].eq(pes[-1][j].c_out) for j in range(self.cols)]
        return m


class Skew(wiring.Component):
    """Delays lane i of a vector by `i` cycles (or by lanes-1-i with `reverse`): turns an
    aligned vector into a systolic wavefront, or a wavefront back into a vector."""

    def __init__(self, lanes: int, shape, reverse: bool = False):
        self.lanes, self.reverse, self.shape = lanes, reverse, shape
        layout = data.ArrayLayout(shape, lanes)
        super().__init__({"i": In(layout), "o": Out(layout)})

    def elaborate(self, platform):
        m = Module()
        for lane in range(self.lanes):
            delay = self.lanes - 1 - lane if self.reverse else lane
            value = self.i[lane]
            for step in range(delay):
                reg = Signal(self.shape, name=f"lane{lane}_d{step}")
                m.d.sync += reg.eq(value)
                value = reg
            m.d.comb += self.o[lane].eq(value)
        return m
