"""AdderNet (`addernet`, int8; `addernet_w4a4`, 4-bit) on an adder PE array (references:
addernet/reference.py; hardware: hw/methods/addernet/; model: sim/methods/addernet.py).

What of the papers the model captures (AdderNet, CVPR 2020; its quantization, the seed's
"Redistribution of weights and activations for AdderNet quantization"):
- every conv but the first becomes an adder layer, y = -Σ|x - w| over the window: one PE
  operation ("sad") per nominal MAC, each a subtraction, an absolute value and an accumulate
  (`ops`: `sub`, `abs`, `add`, one each per MAC; no `mult`), on `pe_kind: adder` PEs, priced
  from the energy table's add figures (sim/methods/addernet.py), never a multiplier's;
- the first conv and the fully connected layers stay int8 MAC layers, as the paper keeps them
  (common.keeps_full_precision: the first conv reads the image, a linear layer is the
  classifier); a transposed conv also stays a MAC layer (no adder form is defined for it);
- quantization: weights and activations of an adder layer at 8 bits (`addernet`) or 4 bits
  (`addernet_w4a4`) with one scale shared by weights and activations per group of output
  channels (SCALE_GROUPS groups, SCALE_BITS bits each, stored with the weights); the weights
  are stored and moved at that width, the activations too (`ifmap_bits`).
What it leaves out: the training (full-precision gradients, adaptive learning rate), the
batch norm after each adder layer (folded into the requantization), and the per-group
re-quantization of the activations (the paper quantizes a layer's input with each group's
scale; the model stores and reads the input once, at the code width, and does not price the
G - 1 extra quantizations of each activation; the reference does implement them).
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from .. import Method, baseline
from ..common import keeps_full_precision, layer_op

SCALE_GROUPS = 4      # groups of output channels sharing a scale (per layer, at most K)
SCALE_BITS = 16       # one fixed-point scale per group, stored with the weights
LOW_BITS = 4          # addernet_w4a4's weights and activations


def adder_ops(pe_macs: int) -> dict:
    """An adder array's counts: a subtraction, an absolute value and an accumulate per PE
    operation."""
    return {"sub": pe_macs, "abs": pe_macs, "add": pe_macs}


def transform(layer, arch, bits: int) -> list:
    if keeps_full_precision(layer) or layer.kind == "transposed_conv":
        return baseline.transform(layer, arch)
    op = layer_op(layer, arch, bits, bits, pe_op="sad")
    storage = op.weight_elements * bits + min(SCALE_GROUPS, layer.K) * SCALE_BITS
    return [replace(op, ops=adder_ops(op.pe_macs), weight_storage_bits=storage)]


METHODS = (
    Method(name="addernet", transform=partial(transform, bits=8), pe_kinds=("adder",),
           presets=("edge_tiny_addernet", "tpu_like_addernet"),
           description="AdderNet: -sum|x - w| on adder PEs (int8, a scale per channel group), "
                       "first conv and FC int8 MACs"),
    Method(name="addernet_w4a4", transform=partial(transform, bits=LOW_BITS), pe_kinds=("adder",),
           presets=("edge_tiny_addernet", "tpu_like_addernet"),
           description="AdderNet at 4-bit weights and activations (a scale per channel group), "
                       "first conv and FC int8 MACs"),
)
