"""How a Bit Fusion array (hw/methods/bitfusion/) sees a layer, shared by the RTL and its
timing model (sim/methods/bitfusion.py), which may not import each other.

A fusion unit has BRICKS 2-bit x 2-bit BitBricks. A layer runs at its own widths, each rounded
up to 2, 4 or 8 bits (`fused_bits`); an a-bit x w-bit product takes (a/2)(w/2) bricks, so the
unit forms `lanes(a, w)` = 16 / ((a/2)(w/2)) products per cycle (1 at 8x8, 2 at 8x4, 4 at 4x4
and 8x2, 8 at 4x2, 16 at 2x2) and sums them: the lanes are consecutive input channels of the
same output, so each PE operation is a "fused MAC" over `lanes` channels. The operands arrive
as fused words, `lanes` codes side by side (lane l in bits [l·b, (l+1)·b)): an ifmap word of
lanes·a = 64 / w bits and a weight word of lanes·w = 64 / a bits (so the words' widths give the
precision back, `precision_of`).

The Bit Fusion accelerator is the first accelerator (hw/accelerator.py: loader, buffers, fold
engine, accumulator, writer, counters, command) with fusion PEs in its array, built for one
precision: `fused_arch` is the spec as its generator and tiling see it, a MAC-shaped array of
the same rows, cols and buffers whose elements are the fused words (pe_kind mac, ifmap_bits and
weight_bits the words' widths). A layer's C channels become C' = ceil(C / lanes) words
(`packed_channels`, per group; the last word's missing lanes are zeros, which add nothing).
The requantizing writer is built where the elements are 8 bits (program.requant_refusal: its
parameters are read as bytes), i.e. at 8x8; at narrower precisions the outputs are the
psum_bits sums.
"""

from __future__ import annotations

from dataclasses import replace

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.program import requant_refusal
from dlaforge.workloads.methods.accelerator_plan import Gemm, RtlPlan

PE_KIND = "bitfusion"
BRICK_BITS = 2
BRICKS = 16
WIDTHS = (2, 4, 8)          # the precisions a fusion unit fuses to
WORD_BITS = 64              # lanes x a x w = BRICKS x BRICK_BITS**2: ifmap word = 64 / w bits


def fused_bits(bits: int, what: str = "bits") -> int:
    """`bits` rounded up to the nearest width the bricks fuse to (2, 4 or 8)."""
    for width in WIDTHS:
        if bits <= width:
            return width
    raise SpecError(f"{what}={bits}: a Bit Fusion unit fuses its 2-bit bricks up to "
                    f"{WIDTHS[-1]} bits")


def bricks_per_product(a_bits: int, w_bits: int) -> int:
    return (a_bits // BRICK_BITS) * (w_bits // BRICK_BITS)


def lanes(a_bits: int, w_bits: int) -> int:
    """Products one fusion unit forms per cycle at a_bits x w_bits (module doc)."""
    return BRICKS // bricks_per_product(a_bits, w_bits)


def word_bits(a_bits: int, w_bits: int) -> tuple[int, int]:
    """(ifmap, weight) fused word widths at a_bits x w_bits."""
    n = lanes(a_bits, w_bits)
    return n * a_bits, n * w_bits


def precision_of(ifmap_word_bits: int, weight_word_bits: int) -> tuple[int, int]:
    """(a_bits, w_bits) of fused words of these widths (module doc), or SpecError."""
    a_bits, w_bits = WORD_BITS // weight_word_bits, WORD_BITS // ifmap_word_bits
    if (a_bits not in WIDTHS or w_bits not in WIDTHS
            or word_bits(a_bits, w_bits) != (ifmap_word_bits, weight_word_bits)):
        raise SpecError(f"{ifmap_word_bits}-bit and {weight_word_bits}-bit words are not fused "
                        f"words of a Bit Fusion precision")
    return a_bits, w_bits


def packed_channels(channels: int, n_lanes: int) -> int:
    return -(-channels // n_lanes)


def fused_arch(arch: ArchSpec, a_bits: int = 8, w_bits: int = 8) -> ArchSpec:
    """The spec as the accelerator built for a_bits x w_bits sees it (module doc): a MAC-shaped
    array of fused words; input stationary (which swaps the operands) only where the two
    words have one width."""
    ifmap, weight = word_bits(a_bits, w_bits)
    pe = arch.pe_array
    dataflows = tuple(d for d in pe.dataflows if d != "is" or ifmap == weight)
    return replace(arch, pe_array=replace(pe, pe_kind="mac", ifmap_bits=ifmap,
                                          weight_bits=weight, dataflows=dataflows))


def requantizes(arch: ArchSpec, a_bits: int, w_bits: int) -> bool:
    """Whether the accelerator built for this precision has the requantizing writer."""
    return requant_refusal(fused_arch(arch, a_bits, w_bits)) is None


def check(arch: ArchSpec) -> None:
    """SpecError (one sentence) unless the Bit Fusion array can be built from `arch`."""
    pe = arch.pe_array
    if pe.pe_kind != PE_KIND:
        raise SpecError(f"arch {arch.name!r} has pe_kind {pe.pe_kind!r}; the Bit Fusion array "
                        f"needs pe_kind {PE_KIND!r} (e.g. the edge_tiny_bitfusion preset)")
    if (pe.ifmap_bits, pe.weight_bits) != (8, 8):
        raise SpecError(f"arch {arch.name!r}: a Bit Fusion array of 16 2-bit bricks has 8-bit "
                        f"operands, not ifmap_bits {pe.ifmap_bits} / weight_bits "
                        f"{pe.weight_bits}")
    built = fused_arch(arch)
    runs = [d for d in built.pe_array.dataflows if d in ("ws", "os", "is")]
    if not runs:
        raise SpecError(f"arch {arch.name!r} has no dataflow the Bit Fusion array runs "
                        f"(ws, os, is)")
    RtlPlan.make(built, runs[0], Gemm.matmul(1, 1, 1))
