"""How the adder array (dlaforge.hw.methods.addernet) sees an adder layer, shared by the RTL and
its timing model (sim/methods/addernet.py), which may not import each other.

The adder accelerator is the first accelerator (hw/accelerator.py: loader, buffers, fold
engine, accumulator, requantizing writer, counters, command) with AdderPEs in its array, built
output stationary only: under os both operands stream through the array in step, so every
PE sees either a real (ifmap, weight) pair or two zeros outside its stream, and -|0 - 0| adds
nothing; the weight-stationary modes would feed held weights against the zero lanes of a
partial reduction tile, which a MAC ignores and an adder does not. Padded pixels are zeros
written by the loader, so they count -|0 - w| (workloads/methods/addernet/reference.py).
Operands are the array's own width (int8 on the presets); the outputs are the accumulators'
-Σ|x - w|, requantized by the writer as the baseline's (per channel: the group scale s_g and
the next layer's scale fold into its multiplier).
"""

from __future__ import annotations

from dataclasses import replace

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.workloads.methods.accelerator_plan import Gemm, RtlPlan
from dlaforge.workloads.methods.datapath import Datapath, twos_complement

from . import LOW_BITS
from .reference import adder_conv_int

DATAFLOW = "os"       # the adder array's one dataflow (module doc)


def controller_sums(x, w, stride=1, padding=0, groups=1, out_size=None):
    """The adder layer's accumulator sums, -Σ|x - w| over zero-padded windows (a padded tap
    counts -|0 - w|, which the controller's zero feed gives: Datapath.sums)."""
    return adder_conv_int(x, w, stride, padding, groups, out_size_=out_size)


# The mapped-program controller (hw/controller/) with adder PEs (hw/methods/addernet's
# CONTROLLER_PE) runs the adder ops ("sad") under ws, os and is: its ws fold zeroes the ifmap
# lanes past a tile's channels (zero_weight_idle False), os and is already feed zeros on both
# operands there. Its PEs have a MAC mode (mac_mode: a multiplier beside the subtractor, picked
# by the command's `mode`), in which the int8 layers an AdderNet keeps (first conv, FC) run, so
# one design runs the whole network. The adder sums are never positive (signed_sums False:
# random controller jobs draw no ReLU on an adder layer, which would zero every output).
CONTROLLER_DATAPATH = Datapath(pe_kind="adder", pe_op="sad", family="addernet",
                               zero_weight_idle=False, sums=controller_sums, signed_sums=False,
                               mac_mode=True)

# addernet_w4a4 on the same adder PEs and int8 lanes: its adder layers' 4-bit weights and
# activations are signed values (two's complement) that travel packed two to a byte in DRAM
# (weight_bits, and codes with signed_codes: each pixel's channels, where the layers allow
# it, Datapath.packs_codes_on and link_packed_codes) and that the load sign-extends into the
# lanes; the requantization clamps a layer's outputs to the signed range of the next layer's
# width (out_codes: 4 bits, or 8 before the int8 FC), the ReLU as the command says. Its own
# datapath (METHOD_DATAPATHS, by method name): the design packs and unpacks at 4 bits.
W4A4_DATAPATH = replace(CONTROLLER_DATAPATH, weight_bits=LOW_BITS,
                        weight_levels=twos_complement(LOW_BITS), codes=LOW_BITS,
                        signed_codes=True)
METHOD_DATAPATHS = {"addernet_w4a4": W4A4_DATAPATH}


def adder_arch(arch: ArchSpec) -> ArchSpec:
    """The spec as the accelerator's generator and tiling see it: its MAC-shaped array
    (same rows, cols, widths and buffers), output stationary only."""
    pe = replace(arch.pe_array, pe_kind="mac", dataflows=(DATAFLOW,))
    return replace(arch, pe_array=pe)


def check(arch: ArchSpec) -> None:
    """SpecError (one sentence) unless the adder array can be built from `arch`."""
    pe = arch.pe_array
    if pe.pe_kind != "adder":
        raise SpecError(f"arch {arch.name!r} has pe_kind {pe.pe_kind!r}; the adder array needs "
                        "pe_kind 'adder' (e.g. the edge_tiny_addernet preset)")
    if DATAFLOW not in pe.dataflows:
        raise SpecError(f"arch {arch.name!r} lacks dataflow 'os', the only one the adder array "
                        "runs")
    RtlPlan.make(adder_arch(arch), DATAFLOW, Gemm.matmul(1, 1, 1))


def sums_fit(arch: ArchSpec, gemm: Gemm) -> bool:
    """Whether the largest sum, Kd taps of |x - w| <= 2**bits - 1, fits the signed psum_bits
    accumulator (so the hardware's -Σ|x - w| is exact)."""
    pe = arch.pe_array
    bits = max(pe.ifmap_bits, pe.weight_bits)
    return gemm.Kd * ((1 << bits) - 1) <= 1 << (pe.psum_bits - 1)
