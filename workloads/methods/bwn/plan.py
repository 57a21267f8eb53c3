"""How the mapped-program controller (hw/controller/) sees a binary-weight layer: its datapath,
shared by the RTL and the models, which may not import each other.

The controller with sign-add PEs (hw/methods/bwn's CONTROLLER_PE: c ± a as the weight's sign
bit picks) runs BWN's binarized layers ("sign_add") under ws and os, and its int8 first conv
and FC in the PEs' MAC mode (mac_mode), one design for the whole network. The ±1 weights move
packed, one bit each (weight_bits 1: a row of K filters is ceil(K/8) bytes in DRAM), and the
load turns bit 0 into the lane value +1 and bit 1 into -1 (weight_levels), so the weight
buffer and the MAC mode keep their int8 lanes. Not under is: it swaps the operands, and the
sign would then be taken from the activation (own_dataflows). A zero weight lane adds +a
(zero_weight_idle False: the ws fold masks the ifmap lanes past a tile's channels). The sums
are conv2d_int's with ±1 weights (the per-filter α folds into the requantization).
"""

from __future__ import annotations

from dlaforge.workloads.methods.datapath import Datapath

from . import PE_OP, WEIGHT_BITS

CONTROLLER_DATAPATH = Datapath(pe_kind="adder", pe_op=PE_OP, family="bwn",
                               zero_weight_idle=False, mac_mode=True, weight_bits=WEIGHT_BITS,
                               weight_levels=(1, -1), own_dataflows=("ws", "os"))
