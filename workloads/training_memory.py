"""Peak memory of one inference or one training iteration (`peak_memory_bytes`).

Every tensor counts at the width it is stored at: weights as the method stores them
(`weight_storage_bits`), activations at the forward's widths (inputs at the layer's ifmap
width, MAC layers' outputs at the array's ofmap width, a vector layer's at its activation
width), gradients (dY, dX, dW) at `grad_bits`, optimizer state at `state_bits` per copy
(workloads/training.py). A layer's input is everything it reads besides its weights (both of
a two-input element-wise op's operands, a matmul's second operand too).

- infer: the weights of every layer stay resident; a layer's step holds its input and output:
  peak = weights + the largest input + output pair.
- train: resident are the weights, their gradients and the optimizer state. The forward runs
  every layer in order, keeping each layer's input for its backward (except where the backward
  needs none: the layers before the first weighted one, moves and additions); layer i's step
  holds the kept inputs of layers 0..i and its output. The backward runs in reverse; layer i's
  step holds the kept inputs of layers 0..i (its own is freed after it), dY of its output and
  the dX it writes. A layer's figure is the larger of its two steps; the run's peak the largest
  of all. A training method (workloads/training_methods.py) says which weights are trained
  (only those have gradients and state; nothing below the first trained layer keeps an input)
  and how many bits each layer keeps for its backward (a pooled, masked or compressed input).
  A layer with a bias (workloads/training.py: `has_bias`) stores it at the array's psum
  width beside the weights, and a trained part's biases have gradients and state as its
  weights do (inference counts no bias: it prices none). A method may count its trained
  parameters its own way (`trained_parameters`: SmartDeal's B and Ce nonzeros) and hold a
  transient tensor in a layer's backward step (`backward_scratch_bits`: its dense dW).
  Layers are taken in the network's order, and the loss's own buffers are not counted. A
  tensor read by two layers (a residual block's input, read by its first conv and by the
  downsample or the addition) is kept once per reader: a network is a list of layers
  (workloads/networks), which says nothing of which layer produced which input, so two
  readers of one tensor cannot be told from two tensors of the same size.
"""

from __future__ import annotations

import math

from .layer import Layer
from .training import (NO_SAVED_INPUT, Training, activation_bits, bias_elements, has_bias,
                       has_weights, trained_and_biased)
from .vector_ops import TWO_INPUTS


def input_elements(layer: Layer) -> int:
    n = layer.N * layer.C * layer.H * layer.W
    if layer.kind == "vector" and layer.op in TWO_INPUTS:
        n *= 2
    if layer.kind == "matmul":
        n += layer.N * layer.C * layer.K
    return n


def output_elements(layer: Layer) -> int:
    return layer.N * layer.K * layer.P * layer.Q


def _bytes(bits: int) -> int:
    return math.ceil(bits / 8)


def keeps_input(layer: Layer, part, input_gradient: bool) -> bool:
    """Whether `layer` keeps its input for its backward: for the gradient of its trained
    weights (`part`), or for its dX when the derivative needs the input (a matmul's operands,
    a vector operator other than moves and additions)."""
    if has_weights(layer):
        return part is not None
    return input_gradient and layer.op not in NO_SAVED_INPUT


def kept_input_bits(layer: Layer, part, arch) -> int:
    """The bits of the input a layer keeps, at its width: the inputs its trained `part` reads
    (a slice of a grouped layer reads its groups' channels only), or all of them."""
    return input_elements(part if part is not None else layer) * activation_bits(layer, arch)


# the parts of the live memory at one step of the schedule (memory_steps), in bytes
MEMORY_PARTS = ("weights", "gradients_state", "kept_activations", "working")


def peak_memory(layers, weight_bits: list[int], arch, training: Training | None) -> list[int]:
    """Per layer, the bytes live at its step (the larger of forward and backward under train);
    `weight_bits` is each layer's `weight_storage_bits`; `training` None prices inference."""
    return [layer_peak(steps) for steps in memory_steps(layers, weight_bits, arch, training)]


def layer_peak(steps: dict) -> int:
    """The larger total of a layer's steps (one layer's `memory_steps`)."""
    return max(sum(step.values()) for step in steps.values() if step is not None)


def memory_steps(layers, weight_bits: list[int], arch,
                 training: Training | None) -> list[dict]:
    """Per layer, the memory live at each of its steps, {"forward": parts, "backward": parts}
    (only "forward" under inference; "backward" None for a layer with no backward step), each
    step's parts a dict of MEMORY_PARTS in bytes: the weights; their gradients and the
    optimizer state; the inputs kept for the backward by the layers before it (forward) or by
    it and those before it (backward); and the step's working tensors (its input and output
    in the forward, dY and dX in the backward). A step's total is the sum of its parts."""
    act = [activation_bits(layer, arch) for layer in layers]
    ins = [_bytes(input_elements(layer) * a) for layer, a in zip(layers, act)]
    outs = [_bytes(output_elements(layer) * (a if layer.kind == "vector"
                                             else arch.pe_array.ofmap_bits))
            for layer, a in zip(layers, act)]
    weights = _bytes(sum(weight_bits))

    def parts(state, kept, working):
        return dict(zip(MEMORY_PARTS, (weights, state, kept, working)))

    if training is None:
        return [{"forward": parts(0, 0, i + o)} for i, o in zip(ins, outs)]
    hooks = training.hooks
    trained, biased, dx = trained_and_biased(layers, hooks)
    params = sum(hooks.trained_parameters(layer, part) + bias_elements(bias_part)
                 for layer, part, bias_part in zip(layers, trained, biased))
    # the biases, stored at the psum width, live beside the weights under train
    weights = _bytes(sum(weight_bits) + arch.pe_array.psum_bits
                     * sum(layer.K for layer in layers if has_bias(layer)))
    state = _bytes(params * (training.grad_bits + training.state_copies * training.state_bits))
    kept = kept_bytes(layers, arch, training)
    steps, held = [], 0
    for k, layer in enumerate(layers):
        forward = parts(state, held, ins[k] + outs[k])
        held += kept[k]
        dy = _bytes(output_elements(layer) * training.grad_bits)
        dxb = _bytes(input_elements(layer) * training.grad_bits) if dx[k] else 0
        scratch = _bytes(hooks.backward_scratch_bits(layer, trained[k], arch, training)) \
            if trained[k] is not None else 0
        # a layer below everything trained has no backward step
        backward = parts(state, held, dy + dxb + scratch) \
            if trained[k] is not None or biased[k] is not None or dx[k] else None
        steps.append({"forward": forward, "backward": backward})
    return steps


def kept_bytes(layers, arch, training: Training) -> list[int]:
    """Per layer, the bytes it keeps from its forward for its backward (0 when it keeps
    nothing), as the training method stores them."""
    hooks = training.hooks
    trained, _, needs_dx = trained_and_biased(layers, hooks)
    return [_bytes(hooks.kept_bits(layer, part, arch, training))
            if keeps_input(layer, part, needs) else 0
            for layer, part, needs in zip(layers, trained, needs_dx)]
