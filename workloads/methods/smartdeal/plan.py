"""How the SmartDeal unit (hw/methods/smartdeal/) stores a layer's codes and tiles its work.

Shared by the RTL and its timing model (sim/methods/smartdeal.py); reads only the ArchSpec.

Weights are never in DRAM. Filter k's weights, flattened in (c, r, s) order and zero-padded to
whole rows of 3 (Kd -> `ce_rows(Kd)` rows), are Ce[k] (rows x 3 signed powers of two) times
B[k] (3 x 3 8-bit codes); row g of the rebuilt integer weights holds the weights kd = 3g .. 3g+2.

DRAM, from the command's weight_base, one region per block of `cols` filters (the array's n
block), regions back to back, all in bytes (one DRAM element each):
  B      9 bytes per filter (B[k][i][j], i-major), two's complement;
  bitmap ceil(3 * filters * rows / 8) bytes: bit t (LSB first) of the region's bit string is
         Ce entry (filter j of the block, row g, entry i) with t = (j * rows + g) * 3 + i,
         1 when the entry is nonzero (the sparse index);
  codes  ceil(nnz / 2) bytes: one 4-bit code per nonzero entry in bitmap order, low nibble
         first: bit 3 the sign (1 = negative), bits 0-2 the exponent minus p_min.
The region's length follows from its bitmap, so no offsets are stored.

Tiles are those of the baseline ws schedule (accelerator_plan): Kt = rows reduction rows x
Nt = cols filters held in the array, Mt ifmap rows streamed, n block outermost. The unit runs
everything one step after another (no double buffering): per n block it loads the block's
codes and rebuilds its weights once into the rebuilt-weight buffer; per tile it loads the
ifmap block, copies the tile's rebuilt weights into the array's weight buffer, runs the fold,
and writes back finished outputs.

Buffers, from the spec: the ifmap level's ifmap share holds the ifmap buffer (words of `rows`
ifmap elements); the accumulator's share its words of `cols` partial sums; the weight level's
weight share is split: half for the rebuilt-weight buffer (words of 3 x cols rebuilt weights:
one Ce row of every filter of the block), a quarter for codes, an eighth for the bitmap,
the rest for B (cols words of 9 bytes) and the tile's weight buffer (rows words).
"""

from __future__ import annotations

from dataclasses import dataclass

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.program import ceil_div, operand_share_bits
from dlaforge.workloads.methods.accelerator_plan import Gemm, RtlPlan

from ..datapath import Datapath
from . import REBUILT_MAC
from .reference import B_BYTES, REBUILT_BITS, ROW_ENTRIES, rebuilt_bits  # noqa: F401
from .regions import SmartDealCode

WINDOW_ROWS = 4         # Ce rows the rebuild engine looks at per cycle when skipping zeros


def ce_rows(Kd: int) -> int:
    """Ce rows of one filter with Kd weights."""
    return ceil_div(Kd, ROW_ENTRIES)


BITMAP_READS = (7 + ROW_ENTRIES * WINDOW_ROWS + 7) // 8     # bitmap bytes a window can touch


def bitmap_bytes(filters: int, rows: int) -> int:
    return ceil_div(ROW_ENTRIES * filters * rows, 8)


def code_bytes(nnz: int) -> int:
    return ceil_div(nnz, 2)


@dataclass(frozen=True)
class SmartDealBuffers:
    """Depths (words) of the unit's buffers."""

    ifmap_words: int
    acc_words: int
    rebuilt_rows: int       # Ce rows per filter the rebuilt-weight buffer holds
    bitmap_bytes: int
    code_bytes: int
    spare_bits: int         # of the weight share, for the B buffer and the tile's weights

    @staticmethod
    def of(arch: ArchSpec, weight_bits: int) -> SmartDealBuffers:
        pe = arch.pe_array

        def share(operand):
            return operand_share_bits(arch, operand)

        weight = share("weight")
        return SmartDealBuffers(
            ifmap_words=share("ifmap") // (pe.rows * pe.ifmap_bits),
            acc_words=share("ofmap") // (pe.cols * pe.psum_bits),
            rebuilt_rows=weight // 2 // (ROW_ENTRIES * pe.cols * weight_bits),
            bitmap_bytes=weight // 8 // 8, code_bytes=weight // 4 // 8,
            spare_bits=weight - weight // 2 - weight // 4 - weight // 8)


@dataclass(frozen=True)
class SmartDealPlan:
    """The tiling of one Gemm on the SmartDeal unit; SpecError if the unit cannot run it."""

    tiling: RtlPlan
    buffers: SmartDealBuffers
    rows_per_filter: int

    @staticmethod
    def make(arch: ArchSpec, gemm: Gemm, weight_bits: int) -> SmartDealPlan:
        check_arch(arch)
        pe = arch.pe_array
        buffers = SmartDealBuffers.of(arch, weight_bits)
        Mt = min(buffers.ifmap_words, buffers.acc_words)
        tile_bits = pe.cols * (B_BYTES * 8 + pe.rows * weight_bits)
        if Mt < 1 or buffers.rebuilt_rows < 1 or buffers.spare_bits < tile_bits:
            raise SpecError(f"arch {arch.name!r}: buffers too small for the SmartDeal unit "
                            f"({buffers})")
        rows = ce_rows(gemm.Kd)
        worst_nnz = ROW_ENTRIES * pe.cols * rows
        limits = (("rebuilt-weight rows per filter", rows, buffers.rebuilt_rows),
                  ("bitmap bytes per filter block", bitmap_bytes(pe.cols, rows),
                   buffers.bitmap_bytes),
                  ("code bytes per filter block", code_bytes(worst_nnz), buffers.code_bytes))
        for what, need, have in limits:
            if need > have:
                raise SpecError(f"the SmartDeal unit of {arch.name!r} holds {have} {what}; a "
                                f"layer with Kd = {gemm.Kd} needs {need}")
        tiling = RtlPlan(arch, "ws", gemm, Mt=Mt, Kt=pe.rows, Nt=pe.cols)
        return SmartDealPlan(tiling, buffers, rows)


def check_arch(arch: ArchSpec) -> None:
    """SpecError unless the unit can be built for `arch` (ws on MAC PEs, DRAM bytes wide
    enough for the ifmap)."""
    pe = arch.pe_array
    if pe.pe_kind != "mac":
        raise SpecError(f"the SmartDeal unit feeds a MAC array, not pe_kind {pe.pe_kind!r}")
    if "ws" not in pe.dataflows:
        raise SpecError(f"the SmartDeal unit runs dataflow ws, which arch {arch.name!r} lacks")
    if pe.ifmap_bits > 8:
        raise SpecError(f"the SmartDeal unit's DRAM port moves bytes; ifmap_bits "
                        f"{pe.ifmap_bits} > 8")


# The controller's SmartDeal datapath (docs/plans/method_hardware_on_controller.md, Stage 3):
# the baseline's MAC array with weight lanes of the rebuilt integers, its weights loaded as
# code regions (regions.py) and rebuilt by the load (hw/methods/smartdeal/rebuild_stage.py).
# Under ws and os (is would hold 17-bit weights in 8-bit ifmap lanes).
CONTROLLER_DATAPATH = Datapath(pe_kind="mac", pe_op=REBUILT_MAC, family="smartdeal",
                               own_dataflows=("ws", "os"), weight_code=SmartDealCode())
