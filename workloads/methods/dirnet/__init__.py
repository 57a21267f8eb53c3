"""IR-Net / DIR-Net (`dirnet`): balanced binary weights with power-of-two scales, on the XNOR
arch (pe_kind xnor, the xnor_scale unit; references: dirnet/reference.py; hardware: the XNOR
unit's, hw/methods/dirnet/; model: sim/methods/dirnet.py).

What of the papers the model captures (IR-Net, CVPR 2020; DIR-Net, the seed):
- a binarized layer runs on the XNOR-popcount array exactly as XNOR-Net's
  (xnor/__init__.py): signs packed into xnor_word_bits words along channels, one
  XNOR-popcount-accumulate per word and tap (`xnor_bits`, `popcount`, `add`), activations read
  from DRAM at int8 and packed by the binarization unit on the way in;
- the weights are balanced and standardized per filter before the sign (Libra-PB / IMB: the
  mean subtracted offline, so the inference hardware sees only the signs) and scaled by 2^s_k:
  the scaling stage shifts each output by its filter's exponent (`shift`, one per output)
  where XNOR-Net multiplies by K and α (`scale_mult`, two per output), after the
  2·popcount - n correction (`scale_add`, one per output); the activations take no scale, so
  no K map is formed (none of XNOR-Net's A sums and box-filter adds);
- storage: the packed signs plus s_k at EXPONENT_BITS per filter (XNOR-Net: a 16-bit α);
- the first conv and the fully connected layers stay int8 MAC layers (common.keeps_full_
  precision), as both papers keep them.
What it leaves out: the training-time parts (DIR-Net's distribution-sensitive two-stage
estimator of the gradient, the representation distillation, the standardization's use in
the backward pass), the batch norm and the real-valued shortcuts (priced as the network's
layers are, at int8), and a shift-only RTL: the family's hardware is the XNOR unit, whose
scaling stage multiplies (hw/methods/dirnet/).
"""

from __future__ import annotations

from dataclasses import replace

from .. import Method
from .. import xnor

EXPONENT_BITS = 6      # s_k, signed: -32 .. 31, stored per filter (reference.exponents)


def transform(layer, arch) -> list:
    ops = xnor.transform(layer, arch)
    if len(ops) != 1 or ops[0].pe_op != "xnor_popcount":
        return ops                                  # an int8 MAC layer
    [op] = ops
    outputs = op.N * op.K * op.P * op.Q
    counts = {key: op.ops[key] for key in ("xnor_bits", "popcount", "add")}
    return [replace(op, ops={**counts, "shift": outputs, "scale_add": outputs},
                    weight_storage_bits=op.weight_elements * op.weight_bits
                    + op.K * EXPONENT_BITS)]


METHODS = (Method(name="dirnet", transform=transform, pe_kinds=("xnor",), units=("xnor_scale",),
                  presets=("edge_tiny_xnor", "tpu_like_xnor"),
                  description="IR-Net/DIR-Net: balanced binary weights, power-of-two scales "
                              "(a shift per output), binary activations; first conv and FC int8"),)
