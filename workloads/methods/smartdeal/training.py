"""SmartDeal's training mode (`smartdeal` under `--phase train`): the weights stay decomposed,
W = Ce·B per filter, through the whole iteration (Chen et al., "SmartDeal: Re-Modeling Deep
Network Weights for Efficient Inference and Training", the seed abstract: "energy-efficient
training ... while preserving the SD structure", 10.56x storage and 4.48x training energy).

What is priced, per layer with weights (its part trained whole):

- forward: the inference's op (smartdeal/__init__.py): the rebuild unit rebuilds W from the
  codes, the array runs the int8 GEMM, DRAM moves Ce's codes, the bitmap and B.
- dX: the baseline's lowering (workloads/training.py) on the rebuilt W: the rebuild unit
  rebuilds W again (its shifts and adds on the first dX op) and DRAM moves the decomposed form
  (`dram_scale` of the weight: storage bits / (weights x weight bits)).
- dW, then dB and dCe: the chain rule through the rebuild, as SmartDeal's training code does
  (VITA-Group/SmartDeal, SmartDeal-Training/se/conv_mask.py: W = bmm(mask·pow2(C), B) under
  autograd). First the dense dW, the baseline's GEMM of dY with X's windows (16-bit, written
  once); then, per filter, with A the m0 x 3 blocks of dW:
    dCe = (dW_A · Bᵀ) masked to Ce's nonzeros: 3 mults and 2 adds per nonzero (a sampled
      product: only the nonzeros are computed, Ce's pattern stays fixed);
    dB  = Ceᵀ · dW_A: per nonzero, its 3 products by ±2^p are exponent adds and 3 adds
      accumulate them: 6 adds per nonzero.
  Both run on the vector unit (`smartdeal_grad`: reads dW, the codes, the bitmap and B; writes
  dCe and dB at the gradient width). The masked product is element-wise and tiny per filter
  (3 x 3 B), a poor fit for the array; the vector unit is where the update runs anyway.
- update: the optimizer over B (9 entries per filter, 8-bit codes plus their exponent) and
  Ce's nonzeros only (the dense W has no state): the optimizer's operations per parameter,
  plus one compare per Ce nonzero that rounds the stepped value back to a power of two
  (log-domain rounding: the mantissa against √2). It reads and writes the codes and B at their
  stored widths (the bitmap is not touched: the pattern is fixed), the gradients and the state.
- memory: the weights in the decomposed form (weight_storage_bits, as inference), gradients and
  optimizer state of B and Ce's nonzeros only; the dense dW lives only in its layer's backward
  step (`backward_scratch_bits`).

Assumptions (beyond the abstract): Ce's nonzero pattern is fixed during training (the code's
mask), so the bitmap never changes; the optimizer state (32-bit) holds what a step's
power-of-two rounding loses (the reference keeps a float master copy of C instead: dense, and
not what the paper's accelerator stores); Ce's density is that of the inference's synthetic
decomposition (an untrained filter: far denser than after SmartDeal's training, so the savings
here are a lower bound); the dense dW is computed, then reduced (the rebuild unit does not run
backwards). A layer whose weights are an activation (a matmul) has nothing to decompose and
trains as the baseline.
"""

from __future__ import annotations

import math
from dataclasses import replace

from dlaforge.workloads.hwop import HwOp
from dlaforge.workloads.training import (OPTIMIZERS, has_weights, plain_backward,
                                         weight_elements)
from dlaforge.workloads.training_methods import TrainingMethod
from dlaforge.workloads.vector_ops import VectorOp

B_ENTRIES = 9                   # B is 3 x 3 per filter
GRAD_OPS = {"mult": 3, "add": 2 + 6}    # per Ce nonzero: dCe (3 mults, 2 adds), dB (6 adds)
ROUND_OPS = {"max": 1}          # per Ce nonzero: the step rounded back to a power of two


def decomposed(layer) -> dict:
    """The decomposed form of `layer`'s weights: nnz of Ce, its rows with a nonzero, B's
    entries, and the storage bits (smartdeal/__init__.py's sampled decomposition)."""
    from . import sampled_counts
    from .reference import entries_per_filter, storage_bits     # numba: when a layer is priced
    cg = layer.C // layer.groups
    nnz, rows = sampled_counts(layer.K, cg, layer.R, layer.S)
    return {"nnz": nnz, "rows": rows, "b": B_ENTRIES * layer.K,
            "storage_bits": storage_bits(nnz, layer.K, entries_per_filter(cg, layer.R, layer.S))}


def _bytes(bits: int) -> int:
    return math.ceil(bits / 8)


class SmartDealTraining(TrainingMethod):
    """The training hooks of SmartDeal (module doc)."""

    def trained_parameters(self, layer, part) -> int:
        if part is None or not has_weights(layer):
            return super().trained_parameters(layer, part)
        d = decomposed(part)
        return d["nnz"] + d["b"]

    def backward_scratch_bits(self, layer, part, arch, training) -> int:
        if part is None or not has_weights(layer):
            return 0
        return weight_elements(part) * training.grad_bits

    def backward(self, layer, part, arch, training, input_gradient: bool) -> list:
        ops = plain_backward(layer, part, arch, training, input_gradient)
        if not has_weights(layer):
            return ops
        d = decomposed(layer)
        wbits = layer.weight_bits or arch.pe_array.weight_bits
        ratio = d["storage_bits"] / (weight_elements(layer) * wbits)
        out, rebuilt = [], False
        for phase, op in ops:
            if phase == "dX" and isinstance(op, HwOp):
                scale = dict(op.dram_scale)
                scale["weight"] = scale.get("weight", 1.0) * ratio
                extra = {} if rebuilt else {"rebuild_shift": 3 * d["nnz"],
                                            "rebuild_add": 3 * (d["nnz"] - d["rows"])}
                rebuilt = True
                out.append((phase, replace(op, dram_scale=scale, ops={**op.ops, **extra})))
            elif phase == "dW":
                out.append((phase, op))
                if part is not None:
                    out.append(("dW", chain_op(part, training)))
            elif phase == "update":
                out.append((phase, update_op(part, training)))
            else:
                out.append((phase, op))
        return out


def chain_op(part, training) -> VectorOp:
    """dCe (masked) and dB from the dense dW (module doc)."""
    d, g = decomposed(part), training.grad_bits
    return VectorOp(name=f"{part.name}.dCe_dB", op="smartdeal_grad",
                    read_elements=_bytes(weight_elements(part) * g + d["storage_bits"]),
                    write_elements=_bytes((d["nnz"] + d["b"]) * g), bits=8,
                    ops={k: v * d["nnz"] for k, v in GRAD_OPS.items()})


def update_op(part, training) -> VectorOp:
    """The optimizer step over B and Ce's nonzeros, Ce rounded back to powers of two."""
    from .reference import B_BITS, B_EXP_BITS, CODE_BITS
    d = decomposed(part)
    per_parameter, copies = OPTIMIZERS[training.optimizer]
    n = d["nnz"] + d["b"]
    codes = d["nnz"] * CODE_BITS + part.K * (B_ENTRIES * B_BITS + B_EXP_BITS)
    state = copies * training.state_bits
    ops = {k: v * n for k, v in per_parameter.items()}
    for k, v in ROUND_OPS.items():
        ops[k] = ops.get(k, 0) + v * d["nnz"]
    return VectorOp(name=f"{part.name}.update", op=f"update_{training.optimizer}",
                    read_elements=_bytes(codes + n * (training.grad_bits + state)),
                    write_elements=_bytes(codes + n * state), bits=8, ops=ops)
