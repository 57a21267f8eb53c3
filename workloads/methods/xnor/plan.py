"""How the XNOR-popcount unit (dlaforge.hw.methods.xnor) sees a binarized layer, shared by the
RTL and its timing model (sim/methods/xnor.py), which may not import each other.

Packing. Signs are packed along channels into words of `pe_array.xnor_word_bits` bits (the
packing width of the spec), as workloads/methods/xnor/reference.pack_signs does: bit c % w of word
c // w is 1 for +1, 0 for -1, and the unused high bits of the last word are 0 in both the
activations and the weights. A binarized layer of C channels is therefore a convolution of
`words = ceil(C / w)` word-channels, and the unit runs it as the baseline's output-stationary
GEMM (accelerator_plan) on the `binary_arch` view of the spec: one w-bit word per ifmap and
weight element, plus one `valid` bit stored with every ifmap element in the buffer (0 for a
zero-padding pixel, so that padded taps add nothing, as the reference skips them).

What the array accumulates. Each PE adds popcount(XNOR(a, b)) for every valid word. The unused
bits of the last word are 0 on both sides, so XNOR makes them 1 and each tap counts
U = words*w - C of them too; the reference's dot product follows as

    dot = 2 * popcount_sum - taps * tap_bias,   tap_bias = 2*words*w - C,

where taps (the in-image taps of the output pixel) = rows(p) * cols(q) of the R x S window
that fall inside the H x W image. This is exact while the popcount sums fit the signed
psum_bits accumulator (`sums_fit`).

Scaling (XNOR-Net's K and alpha, in fixed point): alpha_q[k] (from the weights, offline) and
K_q[p, q] are unsigned SCALE_BITS-bit integers; the unit writes
    y = (dot * alpha_q[k] * K_q[p, q]) >> out_shift    (arithmetic shift, wrapped to psum_bits).
K_q comes from the host, or, with the command's `binarize` flag, from the unit's pre-pass over
the int8 activations (hw/methods/xnor/binarize.py), which also packs their signs:
    A[h, w] = sum_c |x[c, h, w]|,   Ksum[p, q] = sum of A over the window's in-image taps,
    K_q = min((Ksum * recip_q) >> k_shift, 2**SCALE_BITS - 1),
with recip_q ~ 2**(k_shift + f) / (C*R*S) (`kmap_scale`), i.e. xnor_ref.k_map in f-bit fixed
point. Every DRAM beat moves one 64-bit element (DRAM_WORD_BYTES): a packed word, eight int8
activations, A, alpha_q, K_q or one output.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.program import BINARY_WORD_BITS, ceil_div
from dlaforge.workloads.methods.accelerator_plan import Gemm, RtlPlan
from dlaforge.workloads.methods.datapath import Datapath


DATAFLOW = "os"           # the unit's one dataflow: every PE owns an (output pixel, filter)
SCALE_BITS = 16           # width of alpha_q and K_q (stored per filter, priced by sim/methods)
SHIFT_BITS = 6            # the command's out_shift field
DRAM_WORD_BYTES = 8       # the DRAM port moves one 64-bit element per beat, whatever it holds
MAC_BITS = 8              # the controller's XNOR PEs' MAC mode: int8 in the low lane bits
INT8_PER_ELEMENT = 8      # int8 activations (channels of one pixel) per DRAM element


def kmap_scale(channels: int, R: int, S: int, frac_bits: int) -> tuple[int, int]:
    """(recip_q, k_shift): the largest k_shift (at most 63) whose recip_q =
    round(2**(k_shift + frac_bits) / (channels*R*S)) fits SCALE_BITS bits."""
    n = channels * R * S
    for k_shift in range((1 << SHIFT_BITS) - 1, -1, -1):
        recip = round(2 ** (k_shift + frac_bits) / n)
        if recip < 1 << SCALE_BITS:
            return recip, k_shift
    raise SpecError(f"no {SCALE_BITS}-bit reciprocal of {n} with {frac_bits} fraction bits")


def word_bits(arch: ArchSpec) -> int:
    return arch.pe_array.xnor_word_bits


def words_of(arch: ArchSpec, channels: int) -> int:
    """Packed words per pixel (or per filter tap) of `channels` signs."""
    return ceil_div(channels, word_bits(arch))


def tap_bias(arch: ArchSpec, channels: int) -> int:
    """What one in-image tap adds to 2*popcount beyond the signs' dot product (module doc)."""
    return 2 * words_of(arch, channels) * word_bits(arch) - channels


def binary_arch(arch: ArchSpec) -> ArchSpec:
    """The spec as the unit's tiling sees it: output stationary, ifmap elements of one packed
    word plus its valid bit, weight elements of one packed word (so the buffer depths are what
    the SRAM holds of them)."""
    w = word_bits(arch)
    pe = replace(arch.pe_array, pe_kind="mac", ifmap_bits=w + 1, weight_bits=w,
                 dataflows=(DATAFLOW,))
    return replace(arch, pe_array=pe)


def check(arch: ArchSpec) -> None:
    """SpecError (one sentence) unless the XNOR unit can be built from `arch`."""
    pe = arch.pe_array
    if pe.pe_kind != "xnor":
        raise SpecError(f"arch {arch.name!r} has pe_kind {pe.pe_kind!r}; the XNOR unit needs "
                        "pe_kind 'xnor' (e.g. the edge_tiny_xnor preset)")
    if DATAFLOW not in pe.dataflows:
        raise SpecError(f"arch {arch.name!r} lacks dataflow 'os', the only one the XNOR unit runs")
    if arch.unit("xnor_scale") is None:
        raise SpecError(f"arch {arch.name!r} declares no xnor_scale unit (units: xnor_scale)")
    if not (1 <= pe.xnor_word_bits <= 64 and pe.xnor_word_bits % INT8_PER_ELEMENT == 0):
        raise SpecError(f"the XNOR unit packs a multiple of 8, at most 64 signs per DRAM "
                        f"element, not xnor_word_bits {pe.xnor_word_bits}")
    if pe.psum_bits < 2:
        raise SpecError("the XNOR unit needs psum_bits >= 2")
    RtlPlan.make(binary_arch(arch), DATAFLOW, Gemm.matmul(1, 1, 1))


def xnor_gemm(arch: ArchSpec, C: int, H: int, W: int, K: int, R: int, S: int, P: int, Q: int,
              stride: int = 1, padding: int = 0) -> Gemm:
    """The packed layer: C channels become ceil(C / w) word-channels."""
    return Gemm(C=words_of(arch, C), H=H, W=W, K=K, R=R, S=S, P=P, Q=Q, stride=stride,
                padding=padding)


def layer_channels(arch: ArchSpec, op) -> int:
    """The binarized layer's own C of a HwOp of workloads/methods/xnor/ (whose C counts
    packed words): its transform sets the ifmap's dram_scale to C * ifmap_bits / (words * w)."""
    return round(op.dram_factor("ifmap") * op.C * word_bits(arch) / arch.pe_array.ifmap_bits)


def sums_fit(arch: ArchSpec, gemm: Gemm) -> bool:
    """Whether the largest popcount sum of the packed layer (every bit of every tap agreeing)
    fits the signed psum_bits accumulator, so that the unit's dot products are exact."""
    return gemm.Kd * word_bits(arch) < 1 << (arch.pe_array.psum_bits - 1)


def plan(arch: ArchSpec, gemm: Gemm) -> RtlPlan:
    """The unit's tiling of a packed layer (the baseline's os tiles on binary_arch)."""
    return RtlPlan.make(binary_arch(arch), DATAFLOW, gemm)



def popcount_sums(x, w, stride: int = 1, padding: int = 0, groups: int = 1,
                  out_size: tuple | None = None):
    """reference.popcount_sums (imported when called: the references load numba)."""
    from .reference import popcount_sums as sums
    return sums(x, w, stride, padding, groups, out_size)


def controller_word_bits(arch: ArchSpec) -> int:
    """The width of the controller's XNOR operands: sign words of BINARY_WORD_BITS signs, one 8-byte
    DRAM element each (SpecError for an arch packing another width, or whose MAC mode is
    not int8)."""
    pe = arch.pe_array
    if word_bits(arch) != BINARY_WORD_BITS:
        raise SpecError(f"the controller's xnor datapath packs {BINARY_WORD_BITS} signs per word, "
                        f"not xnor_word_bits {word_bits(arch)}")
    if pe.ifmap_bits not in (MAC_BITS, BINARY_WORD_BITS) or pe.weight_bits != pe.ifmap_bits:
        raise SpecError(f"the controller's xnor datapath multiplies {MAC_BITS}-bit operands "
                        f"in its MAC mode, not {pe.ifmap_bits}-bit ifmap and "
                        f"{pe.weight_bits}-bit weight lanes")
    return BINARY_WORD_BITS


def binarized_channels(arch: ArchSpec, op) -> int:
    """The int8 channels per group a binarized op's load packs: its ifmap's dram_scale prices
    C words of BINARY_WORD_BITS signs at the MAC mode's MAC_BITS per channel (the transform's)."""
    return round(op.dram_factor("ifmap") * op.C * op.ifmap_bits / MAC_BITS) // op.groups


def scaled_dot(sums, scale, taps, tap_bias: int):
    """The requantizer's input on the controller's XNOR datapath: the dot product of the signs
    (2 x popcount sum - taps x tap_bias, module doc) times the pixel's K_q; alpha_q is folded
    into the requantizer's per-filter multiplier."""
    return (2 * np.asarray(sums) - taps * tap_bias) * scale


# The XNOR-popcount array on the mapped-program controller (hw/controller/; PE:
# hw/methods/xnor/pe.XnorPE on lanes of a sign word and its valid bit, under ws, os and is,
# with a MAC mode for the int8 first conv and FC; write stage: hw/methods/xnor/scale.
# controller_output; the binarizer packing int8 activations on the load and forming the K map
# on chip: hw/controller/binarize.py).
CONTROLLER_DATAPATH = Datapath(pe_kind="xnor", pe_op="xnor_popcount", family="xnor",
                               sums=popcount_sums, operand_bits=controller_word_bits,
                               valid_lanes=True, scale_map_bits=SCALE_BITS, scaled=scaled_dot,
                               binarizes=True, mac_mode=True, mac_bits=MAC_BITS,
                               binarized_channels=binarized_channels,
                               prices_units=True)
