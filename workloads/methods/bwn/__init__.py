"""Binary-weight networks (`bwn`) on the adder array (references: bwn/reference.py; hardware:
hw/methods/bwn/; model: sim/methods/bwn.py).

What of the paper the model captures (XNOR-Net, ECCV 2016, §3.1 "Binary-Weight-Networks"):
- every conv but the first binarizes its filters, W_k ≈ α_k·sign(W_k) with α_k = mean |W_k|,
  and keeps its activations at the array's width (int8), so each tap is an addition or a
  subtraction, acc += x if w = +1 else -x: one PE operation ("sign_add") per nominal MAC, on
  the adder PE kind (`pe_kind: adder`), whose datapath has the add/subtract and the
  accumulator and no multiplier; `ops` counts one `add` (an addition or a subtraction, as
  the weight's sign picks) per MAC and no `mult`, priced from the energy table's add figures
  (sim/methods/bwn.py);
- the weights are stored and moved as packed sign bits, 1 bit per weight (`weight_bits` 1),
  plus α_k at ALPHA_BITS per filter (`weight_storage_bits`): the paper's 32x against fp32
  weights, 8x against int8;
- α_k is applied where the hardware already scales each output channel: the writer's
  per-channel requantization multiplier, which every int8 layer has (α_k and the output scale
  fold into one fixed-point multiplier, as a batch norm does). XNOR-Net needs its xnor_scale
  unit because K varies per output pixel; a BWN layer has only the per-filter α, so it adds
  no unit and no operation beyond the requantization every layer pays;
- the first conv and the fully connected layers stay int8 MAC layers, as the paper keeps them
  (common.keeps_full_precision); a transposed conv also stays a MAC layer.
What it leaves out: the training (real-valued weights kept for the updates, the straight-through
estimator), the batch norm (folded into the requantization), and the int8 quantization of the
activations themselves (the paper's are real-valued).
"""

from __future__ import annotations

from dataclasses import replace

from .. import Method, baseline
from ..common import keeps_full_precision, layer_op

WEIGHT_BITS = 1       # a packed sign per weight
ALPHA_BITS = 16       # α_k per filter, fixed point, stored with the weights
PE_OP = "sign_add"    # acc ± x, the sign of the weight picking + or -


def transform(layer, arch) -> list:
    if keeps_full_precision(layer) or layer.kind == "transposed_conv":
        return baseline.transform(layer, arch)
    op = layer_op(layer, arch, layer.ifmap_bits or arch.pe_array.ifmap_bits, WEIGHT_BITS,
                  pe_op=PE_OP)
    storage = op.weight_elements * WEIGHT_BITS + layer.K * ALPHA_BITS
    return [replace(op, ops={"add": op.pe_macs}, weight_storage_bits=storage)]


METHODS = (Method(name="bwn", transform=transform, pe_kinds=("adder",),
                  presets=("edge_tiny_bwn", "tpu_like_bwn"),
                  description="Binary-weight networks: ±1 weights with α per filter, int8 "
                              "activations, add/subtract on adder PEs; first conv and FC int8"),)
