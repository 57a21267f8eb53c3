"""How the Winograd RTL (hw/methods/winograd/) runs a 3x3 stride-1 convolution, shared with
its timing model (sim/methods/winograd.py); neither may import the other, so it lives here.

F(m x m, 3x3) cuts the output into ⌈P/m⌉ x ⌈Q/m⌉ tiles of m x m; each reads an a x a input tile
(a = m + 2). One command to the Winograd top runs the layer in three phases, one after another,
every operand in DRAM behind the top's one stream port (the on-chip sequencer moves the data;
the phases meet in DRAM, not in on-chip buffers):

1. input transform: for every (channel, tile row, tile column) the sequencer reads the a x a
   input tile from the zero-padded ifmap (a² reads), pushes it through the input-transform
   unit and writes its a² transformed, quantized values V to the V region (tap t's V plane is
   a C x tp x tq ifmap of the tap GEMM);
2. tap GEMMs: for each of the a² taps the sequencer waits until the port is ready, then gives
   the baseline accelerator one command, the 1x1 convolution
   M_tap[k, tile] = Σ_c U_tap[k, c] · V_tap[c, tile] (`tap_gemm`: C -> K channels over the tile
   grid) with the tap's bases, timed by accelerator_plan / sim/cycle/rtl_timing.py;
3. output transform: for every (filter, tile) the sequencer reads the a² tap sums, pushes
   them through the output-transform unit and writes the m x m outputs (tile by tile).

The sequencer's cycle-by-cycle schedule is written out (and evaluated in closed form) in
sim/methods/winograd.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.program import ceil_div
from dlaforge.workloads.methods.accelerator_plan import Gemm, RtlPlan

from ..datapath import Datapath
from .variants import (ALIGN_BITS, SHIFT_BITS, VARIANTS, gain_bits,  # noqa: F401  (re-exported)
                       output_bits)

INPUT_STAGES = 3    # column transform, row transform, rounding shift and clamp
OUTPUT_STAGES = 3   # alignment shift, column transform, row transform
TILE_SIDES = {4: 6, 2: 4}   # output tile side m -> input tile side a (F4, F2)
UNIT = "winograd_transform"


# the top's counters: its own, those summed over the accelerator's tap commands, and the
# bytes that crossed its DRAM port in all three phases
ACCELERATOR_SUMMED = ("busy_cycles", "ifmap_reads", "ifmap_writes", "weight_reads",
                      "weight_writes", "acc_reads", "acc_writes")
LAYER_COUNTERS = ("cycles", "accelerator_cycles", "input_transform_cycles",
                  "output_transform_cycles", *ACCELERATOR_SUMMED, "dram_read_bytes",
                  "dram_write_bytes")
WRITE_KINDS = {"sum": 0, "v": 1, "y": 2}   # what a write beat carries: its width in DRAM

# The controller's Winograd datapaths, one per variant (docs/plans/method_hardware_on_
# controller.md, "Winograd on the controller"): the MAC array runs a layer's a² tap GEMMs in
# one command, the load's patch stage and the write-back's tile stage transforming on chip
# (hw/methods/winograd/patch_stage.py, tile_stage.py), and, in the MAC mode, the layers
# Winograd leaves direct. os sums the taps inside a fold, so only ws and is keep a plane per
# tap. Each method runs its variant's (METHOD_DATAPATHS).
TAP_DATAPATHS = {name: Datapath(pe_op=v.pe_op, family="winograd", mac_mode=True,
                                own_dataflows=("ws", "is"), tap_transform=v)
                 for name, v in VARIANTS.items()}
METHOD_DATAPATHS = {f"winograd_{name.lower()}": datapath
                    for name, datapath in TAP_DATAPATHS.items()}


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

    def tap_plan(self, arch: ArchSpec, dataflow: str) -> RtlPlan:
        """The accelerator's tiling of one tap GEMM (SpecError if it cannot run it)."""
        return RtlPlan.make(arch, dataflow, self.tap_gemm)
