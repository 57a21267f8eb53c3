"""How the Winograd RTL (hw/methods/winograd.py) runs a 3x3 stride-1 convolution, shared with
its timing model (sim/cycle/rtl_winograd.py); neither may import the other, so it lives here.

F(m x m, 3x3) cuts the output into ⌈P/m⌉ x ⌈Q/m⌉ tiles of m x m; each reads an a x a input tile
(a = m + 2). The layer runs in three phases, one after another:

1. input transform: every (channel, tile) input tile streams through the input-transform
   unit, one tile per cycle, and comes out as a² transformed, quantized values V (one per
   Winograd-domain tap);
2. tap GEMMs: for each of the a² taps, the baseline accelerator runs the 1x1 convolution
   M_tap[k, tile] = Σ_c U_tap[k, c] · V_tap[c, tile] (`tap_gemm`: C -> K channels over the
   tile grid), one command per tap, timed by dlaforge.rtl_plan / sim/cycle/rtl_timing.py;
3. output transform: every (filter, tile) group of a² tap sums streams through the
   output-transform unit, one per cycle, and comes out as an m x m output tile.

A transform unit is a pipeline of `stages` registers that takes one tile per cycle; fed every
cycle and never stalled, n tiles keep it busy n + stages - 1 cycles (`stream_cycles`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .arch import ArchSpec
from .errors import SpecError
from .rtl_plan import Gemm, RtlPlan, ceil_div

INPUT_STAGES = 3    # column transform, row transform, rounding shift and clamp
OUTPUT_STAGES = 3   # alignment shift, column transform, row transform
SHIFT_BITS = 4      # each tap's input right shift: 0 .. 15
ALIGN_BITS = 4      # each tap's alignment left shift: 0 .. 15
TILE_SIDES = {4: 6, 2: 4}   # output tile side m -> input tile side a (F4, F2)
UNIT = "winograd_transform"


def stream_cycles(tiles: int, stages: int) -> int:
    """Cycles a `stages`-deep one-tile-per-cycle pipeline holds data while `tiles` tiles pass,
    fed every cycle and never stalled."""
    return tiles + stages - 1 if tiles else 0


@dataclass(frozen=True)
class WinogradPlan:
    """One image of a layer as the Winograd RTL runs it: output tile side m, channels C -> K,
    a grid of tp x tq tiles."""

    m: int
    C: int
    K: int
    tp: int
    tq: int

    def __post_init__(self):
        if self.m not in TILE_SIDES:
            raise SpecError(f"Winograd output tile side must be 4 or 2, not {self.m}")

    @staticmethod
    def of_conv(m: int, C: int, K: int, P: int, Q: int) -> WinogradPlan:
        return WinogradPlan(m, C, K, ceil_div(P, m), ceil_div(Q, m))

    @property
    def a(self) -> int:
        return TILE_SIDES[self.m]

    @property
    def taps(self) -> int:
        return self.a * self.a

    @property
    def tap_gemm(self) -> Gemm:
        """The 1x1 convolution one tap runs on the accelerator: C x tp x tq transformed inputs,
        K x C weights, K x tp x tq sums."""
        return Gemm(C=self.C, H=self.tp, W=self.tq, K=self.K, R=1, S=1, P=self.tp, Q=self.tq)

    @property
    def input_tiles(self) -> int:
        return self.C * self.tp * self.tq

    @property
    def output_tiles(self) -> int:
        return self.K * self.tp * self.tq

    @property
    def input_cycles(self) -> int:
        return stream_cycles(self.input_tiles, INPUT_STAGES)

    @property
    def output_cycles(self) -> int:
        return stream_cycles(self.output_tiles, OUTPUT_STAGES)

    def tap_plan(self, arch: ArchSpec, dataflow: str) -> RtlPlan:
        """The accelerator's tiling of one tap GEMM (SpecError if it cannot run it)."""
        return RtlPlan.make(arch, dataflow, self.tap_gemm)


def layer_counters(accelerator: dict, input_cycles: int, output_cycles: int) -> dict:
    """A layer's counters from the accelerator's summed over the taps (its `cycles` become
    `accelerator_cycles`) and the transform units' busy cycles; `cycles` is all three phases."""
    counters = dict(accelerator)
    counters["accelerator_cycles"] = counters.pop("cycles")
    counters["input_transform_cycles"] = input_cycles
    counters["output_transform_cycles"] = output_cycles
    counters["cycles"] = input_cycles + counters["accelerator_cycles"] + output_cycles
    return counters
