"""One training iteration of a layer as hardware ops: the forward op(s), the input gradient dX,
the weight gradient dW and the weight update (`--phase train`).

Every backward op is an ordinary `HwOp` (or a `VectorOp` for the vector unit), so the
analytical and cycle models and the mapper price it as they price any other op. The nominal
MACs of dX and dW are each the forward's (`Layer.macs`); what the array really performs
(`pe_macs`) follows from the lowering chosen here:

- dX of a convolution (conv2d, pointwise, depthwise, grouped, linear, gemm) is the
  transposed convolution of dY with the filters rotated 180 degrees and K/C swapped, per group.
  At stride 1 it is one plain convolution over dY with padding extent - 1 - padding. At stride
  s > 1 it is lowered by **kernel segregation** (workloads/segregation.py): s x s (rows x cols)
  stride-1 sub-convolutions, one per output phase (a, b), each convolving dY with the taps
  r = a + padding (mod s) of the kernel and producing dX's pixels (a + s*i, b + s*j); phases
  that no tap reaches (a strided 1x1 conv's skipped pixels) have zero gradient and no op. No
  zero is inserted, so the array multiplies only real dY values; like the forward, the
  sub-convolutions also count the taps that land on padding (a 'valid' conv's dX counts more
  PE MACs than its forward).
- dX of a transposed conv is a plain strided convolution of dY with W.
- dW of a convolution is the GEMM dW (K x C/g·R·S per group) = dY (K x N·P·Q) by the windows of
  X (N·P·Q x C/g·R·S), reduced over N, P and Q: an `HwOp` of C·R·S output channels, K/g rows and
  g·N·P·Q input channels in g groups, whose weight operand is X's windows (an activation, never
  stored as a weight) gathered as X streams from DRAM (an im2col address generator: DRAM moves
  the X elements some window reads, once per fetch, `dram_scale`). A transposed conv's dW is
  the same with X and dY's roles swapped (dY's windows).
- A `matmul` (two activations, N x (P x C) by (C x K)) has two input gradients: dA = dY Bᵀ and
  dB = Aᵀ dY, both products of activations; it has no weights, hence no update.
- A vector layer's backward is one vector-unit op reading dY (and its saved input when its
  derivative needs it), writing dX, with the forward's operation counts (the derivative of
  each operator costs about what the operator does; moves and additions route dY unchanged).
- The update is element-wise over each layer's weights on the vector unit, reading the weights,
  their gradient and the optimizer state from DRAM and writing the weights and the state back:
  SGD with momentum (v = m·v + g; w = w - lr·v: 2 mults, 2 adds per weight; one state copy) or
  Adam (m and v moments, bias-corrected step with a sqrt and a div: 6 mults, 4 adds, a sqrt and
  a div per weight; two state copies).

- The loss, priced with the network's last layer: softmax cross-entropy over its K outputs
  per image and position, whose gradient dY = softmax - onehot starts the backward: a vector-
  unit op reading the logits, writing dY (per row of K: the softmax's counts and K subtractions).

No layer before the first layer with weights, nor that layer itself, computes dX: nothing
below it needs a gradient (the layers are taken in the network's order).

Bits (integer training): the forward runs as the method makes it (int8 on the int8 presets);
the gradient tensors dY, dX and dW are `grad_bits` wide (16 by default); the optimizer state is
`state_bits` wide (32 by default); the weights are updated in place at their width (as
the int8 training of the Tiny Training Engine keeps them) and the activations are kept for the
backward at the widths the forward wrote them. An operand wider than the PE array's width is
split into ceil(bits / width) bit slices that the array multiplies one after another,
accumulating with a shift: the op's reduction dim (C) grows by the slice count, its operands
move at the array's width, and `dram_scale` keeps each tensor's DRAM bytes at its real size
(the other operand is re-used from the buffer for every slice). A 16-bit gradient on an int8
array thus costs twice the PE operations of the forward; on eyeriss_like (16-bit) none extra.

The backward ops and the update take the weights' and activations' widths from the layer (the
arch's native widths unless the layer gives its own), whatever method runs the forward. A
training method (gradient_filter, sparse_update, mobiletl, comet, smartdeal) changes the iteration through
its hooks (workloads/training_methods.py): which weights are trained, the ops of a layer's
backward, what the forward keeps for it; SmartDeal's training mode keeps the weights decomposed
(workloads/methods/smartdeal/training.py). On a 2-bit array (the PalQuant presets) a 16-bit gradient is 8 slices.

A training `VectorOp` mixes widths (8-bit weights, 16-bit gradients, 32-bit state), so it
counts its DRAM traffic in bytes (`bits` = 8, elements = bytes).

Biases (a layer with weights has one unless it says `bias=False`, workloads/layer.py; the
presets do not say: their convs are the deployed form, batch norm folded into a weight and a
bias): under train, a trained part's K biases get their gradient dBias = the sum of dY over
N·P·Q per output channel (a vector-unit op reading dY, K·(N·P·Q - 1) adds, phase "dW") and
their own update (phase "update", the optimizer's operations per bias); they are stored at the
array's psum width (32 bits on the int8 presets), their gradients and state as the weights'.
Both are added by `iteration_ops` for every training method (`bias_ops`), whatever its hooks
do with the weights. The forward's bias add is part of the output stage and is not priced
(inference prices no bias either); nor are the labels' reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property

from dlaforge.errors import SpecError, positive_int

from .hwop import HwOp
from .layer import Layer
from .segregation import axis_phases, sub_convolutions  # noqa: F401  (axis_phases: re-exported)
from .vector_ops import MOVES, VectorOp, vector_work

PHASES = ("infer", "train")
GRAD_BITS = 16
# per weight: (operations, optimizer state copies)
OPTIMIZERS = {"sgd": ({"mult": 2, "add": 2}, 1),
              "adam": ({"mult": 6, "add": 4, "sqrt": 1, "div": 1}, 2)}
# vector operators whose derivative needs no saved input (dY is routed or scaled as it is)
NO_SAVED_INPUT = (*MOVES, "add", "sub", "add_tensors", "avgpool")


@dataclass(frozen=True)
class Training:
    """The settings of `--phase train`: optimizer, the widths of gradients and state, and the
    training method (`method`, a registered method's name, with its `options`, e.g.
    {"compress_ratio": 8}) whose hooks (`hooks`, workloads/training_methods.py) shape the
    backward and the memory; "baseline" for every method without a training mode of its own."""

    optimizer: str = "sgd"
    grad_bits: int | None = None            # None: the method's (GRAD_BITS), else 16
    state_bits: int = 32
    method: str = "baseline"
    options: tuple = field(default=())      # sorted (name, value) pairs; a dict is accepted

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise SpecError(f"unknown optimizer {self.optimizer!r}; choose from "
                            f"{', '.join(OPTIMIZERS)}")
        if isinstance(self.options, dict):
            object.__setattr__(self, "options", tuple(sorted(self.options.items())))
        if self.grad_bits is None:      # the method's options are checked here, once
            object.__setattr__(self, "grad_bits", self.hooks.GRAD_BITS or GRAD_BITS)
        positive_int(self.grad_bits, "grad_bits")
        positive_int(self.state_bits, "state_bits")
        self.hooks

    @cached_property
    def hooks(self):
        """The training method's hooks (workloads/training_methods.py)."""
        from .training_methods import training_hooks
        return training_hooks(self.method, dict(self.options))

    def for_method(self, method: str) -> "Training":
        """These settings for a run of `method`: its hooks, and the gradient width it trains
        at when it has its own (the sparse update's int8)."""
        return self if method == self.method else replace(self, method=method, grad_bits=None)

    @property
    def state_copies(self) -> int:
        return OPTIMIZERS[self.optimizer][1]

    def to_dict(self) -> dict:
        out = {"optimizer": self.optimizer, "grad_bits": self.grad_bits,
               "state_bits": self.state_bits}
        if self.method != "baseline":
            out.update(method=self.method, options=dict(self.options))
        return out


def check_phase(phase: str) -> str:
    if phase not in PHASES:
        raise SpecError(f"unknown phase {phase!r}; choose from {', '.join(PHASES)}")
    return phase


def has_weights(layer: Layer) -> bool:
    return layer.kind not in ("vector", "matmul")


def weight_elements(layer: Layer) -> int:
    return layer.K * (layer.C // layer.groups) * layer.R * layer.S if has_weights(layer) else 0


def has_bias(layer: Layer) -> bool:
    """Whether `layer` has a bias: a layer with weights unless it says `bias=False`."""
    return has_weights(layer) and layer.bias is not False


def bias_elements(part) -> int:
    """The biases of a trained `part` (None: none): one per output channel."""
    return part.K if part is not None and has_bias(part) else 0


def activation_bits(layer: Layer, arch) -> int:
    return layer.ifmap_bits or arch.pe_array.ifmap_bits


def needs_input_gradient(layers, trained=None) -> list[bool]:
    """Per layer: whether its dX is computed: False up to and including the first layer whose
    weights are `trained` (per layer, the part of it that gets a gradient, or None; by default
    every layer with weights): nothing below it needs a gradient."""
    trained = [layer if has_weights(layer) else None for layer in layers] \
        if trained is None else trained
    first = next((i for i, part in enumerate(trained) if part is not None), len(layers))
    return [i > first for i in range(len(layers))]


def iteration_ops(layers, forward: list, arch, training: Training) -> list:
    """Per layer of `layers`, [(phase, op)] of one training iteration: its `forward` ops (the
    method's, and the training method's own), then its backward (the loss with the last
    layer), as the training method (`training.hooks`) shapes them."""
    hooks, last = training.hooks, len(layers) - 1
    trained, biased, needs = trained_and_biased(layers, hooks)
    return [[("forward", op)
             for op in ops + hooks.forward_ops(layer, part, arch, training, need)]
            + ([("loss", loss_op(layer, arch, training))] if i == last else [])
            + with_biases(hooks.backward(layer, part, arch, training, need),
                          bias_ops(layer, bias_part, arch, training))
            for i, (layer, ops, part, bias_part, need) in enumerate(
                zip(layers, forward, trained, biased, needs))]


def trained_and_biased(layers, hooks) -> tuple[list, list, list]:
    """Per layer: the part whose weights get a gradient, the part whose biases do (the
    training method's hooks), and whether its dX is computed (the backward reaches the lowest
    layer with either)."""
    trained = hooks.trained_parts(layers)
    biased = hooks.bias_parts(layers, trained)
    reach = [t if t is not None else b for t, b in zip(trained, biased)]
    return trained, biased, needs_input_gradient(layers, reach)


def backward_ops(layer: Layer, arch, training: Training, input_gradient: bool,
                 last: bool = False) -> list:
    """[(phase, op)] of `layer`'s backward: the "loss" when it is the `last` layer, "dX" (one
    op or several sub-convolutions) when `input_gradient`, "dW" for a layer with weights (a
    matmul's second input gradient is its "dW": dB), then its "update"."""
    loss = [("loss", loss_op(layer, arch, training))] if last else []
    part = layer if has_weights(layer) else None
    return loss + with_biases(training.hooks.backward(layer, part, arch, training,
                                                      input_gradient),
                              bias_ops(layer, part, arch, training))


def plain_backward(layer: Layer, part, arch, training: Training, input_gradient: bool,
                   saved_bits: int | None = None) -> list:
    """The backward as written above: dX when `input_gradient`; dW and the update of `part`
    (the layer, or the slice of its weights that is trained; None: no weight gradient).
    `saved_bits`: the bits a vector layer's backward reads of its saved input (default: the
    input at its width)."""
    if layer.kind == "vector":
        return [("dX", _vector_backward(layer, arch, training, saved_bits))] \
            if input_gradient else []
    if layer.kind == "matmul":      # no weights: neither input needs a gradient before them
        return _matmul_backward(layer, arch, training) if input_gradient else []
    ops = []
    if input_gradient:
        lower = _transposed_dx if layer.kind == "transposed_conv" else _conv_dx
        ops += [("dX", op) for op in lower(layer, arch, training)]
    if part is not None:
        ops.append(("dW", _conv_dw(part, arch, training)))
        ops.append(("update", update_op(part, arch, training)))
    return ops


# -- helpers -------------------------------------------------------------------------------------
def grad_op(arch, name, *, N, K, C, P, Q, R=1, S=1, H, W, groups=1, stride=1, padding=0,
            pads=None, dilation=(1, 1), stride_w=None, ifmap_bits, weight_bits, ofmap_bits,
            weight_is_activation=False, dram_scale=None) -> HwOp:
    """A conv-shaped op with `ifmap_bits`/`weight_bits` as the tensors really are, split into bit
    slices the array can multiply (module doc); its ops are one mult and one add per PE MAC."""
    pe = arch.pe_array
    slices_i = math.ceil(ifmap_bits / pe.ifmap_bits)
    slices_w = math.ceil(weight_bits / pe.weight_bits)
    scale = dict(dram_scale or {})
    if slices_i * slices_w > 1:
        scale["ifmap"] = scale.get("ifmap", 1.0) / slices_w
        scale["weight"] = scale.get("weight", 1.0) / slices_i
        C *= slices_i * slices_w
        ifmap_bits, weight_bits = min(ifmap_bits, pe.ifmap_bits), min(weight_bits, pe.weight_bits)
    op = HwOp(name=name, N=N, K=K, C=C, P=P, Q=Q, R=R, S=S, H=H, W=W, stride=stride,
              padding=padding, groups=groups, ifmap_bits=ifmap_bits, weight_bits=weight_bits,
              psum_bits=pe.psum_bits, ofmap_bits=ofmap_bits, stride_w=stride_w, pads=pads,
              dilation=dilation, weight_is_activation=weight_is_activation,
              dram_scale={k: v for k, v in scale.items() if v != 1.0})
    return replace(op, ops={"mult": op.pe_macs, "add": op.pe_macs})


def _conv_dx(layer: Layer, arch, training: Training) -> list[HwOp]:
    """dX of a convolution: the kernel-segregated sub-convolutions of dY (module doc)."""
    subs = sub_convolutions((layer.H, layer.W), (layer.P, layer.Q), layer)
    g = training.grad_bits
    return [grad_op(arch, f"{layer.name}.dX" + ("" if len(subs) == 1 else f"[{sub.i},{sub.j}]"),
                N=layer.N, K=layer.C, C=layer.K, groups=layer.groups, ifmap_bits=g,
                weight_bits=layer.weight_bits or arch.pe_array.weight_bits, ofmap_bits=g,
                **sub.dims())
            for sub in subs]


def _transposed_dx(layer: Layer, arch, training: Training) -> list[HwOp]:
    """dX of a transposed conv: a strided convolution of dY (P x Q) with W back to H x W."""
    (sh, sw), (top, left, _, _), (eh, ew) = layer.strides, layer.paddings, layer.extent
    bottom = max(0, (layer.H - 1) * sh - top + eh - layer.P)
    right = max(0, (layer.W - 1) * sw - left + ew - layer.Q)
    return [grad_op(arch, f"{layer.name}.dX", N=layer.N, K=layer.C, C=layer.K, P=layer.H,
                Q=layer.W, R=layer.R, S=layer.S, H=layer.P, W=layer.Q, groups=layer.groups,
                stride=sh, stride_w=sw, pads=(top, left, bottom, right),
                dilation=layer.dilation, ifmap_bits=training.grad_bits,
                weight_bits=layer.weight_bits or arch.pe_array.weight_bits,
                ofmap_bits=training.grad_bits)]


def _conv_dw(layer: Layer, arch, training: Training) -> HwOp:
    """dW as the GEMM of dY with the windows of X (module doc)."""
    g, act = layer.groups, activation_bits(layer, arch)
    if layer.kind == "transposed_conv":
        # dW[c, k, r, s] = sum over n, h, w of X[n, c, h, w] dY[n, k, h s + r - pad, ...]
        windows = layer.N * layer.H * layer.W * layer.K * layer.R * layer.S
        read = layer.N * layer.K * layer.P * layer.Q
        return grad_op(arch, f"{layer.name}.dW", N=1, K=layer.K * layer.R * layer.S,
                   C=g * layer.N * layer.H * layer.W, P=layer.C // g, Q=1, H=layer.C // g, W=1,
                   groups=g, ifmap_bits=act, weight_bits=training.grad_bits,
                   ofmap_bits=training.grad_bits, weight_is_activation=True,
                   dram_scale={"weight": min(1.0, read / windows)})
    windows = layer.N * layer.P * layer.Q * layer.C * layer.R * layer.S
    read = _forward_view(layer, arch).read_ifmap_elements
    return grad_op(arch, f"{layer.name}.dW", N=1, K=layer.C * layer.R * layer.S,
               C=g * layer.N * layer.P * layer.Q, P=layer.K // g, Q=1, H=layer.K // g, W=1,
               groups=g, ifmap_bits=training.grad_bits, weight_bits=act,
               ofmap_bits=training.grad_bits, weight_is_activation=True,
               dram_scale={"weight": min(1.0, read / windows)})


def _forward_view(layer: Layer, arch) -> HwOp:
    pe = arch.pe_array
    return HwOp(name=layer.name, N=layer.N, K=layer.K, C=layer.C, P=layer.P, Q=layer.Q,
                R=layer.R, S=layer.S, H=layer.H, W=layer.W, stride=layer.stride,
                padding=layer.padding, groups=layer.groups, ifmap_bits=pe.ifmap_bits,
                weight_bits=pe.weight_bits, psum_bits=pe.psum_bits, ofmap_bits=pe.ofmap_bits,
                stride_w=layer.stride_w, pads=layer.pads, dilation=layer.dilation)


def _matmul_backward(layer: Layer, arch, training: Training) -> list:
    """dA = dY Bᵀ (P x K by K x C) and dB = Aᵀ dY (C x P by P x K), per image."""
    act, g = activation_bits(layer, arch), training.grad_bits
    N, P, C, K = layer.N, layer.P, layer.C, layer.K
    dA = grad_op(arch, f"{layer.name}.dA", N=N, K=C, C=K, P=P, Q=1, H=P, W=1, ifmap_bits=g,
             weight_bits=act, ofmap_bits=g, weight_is_activation=True)
    dB = grad_op(arch, f"{layer.name}.dB", N=N, K=K, C=P, P=C, Q=1, H=C, W=1, ifmap_bits=act,
             weight_bits=g, ofmap_bits=g, weight_is_activation=True)
    return [("dX", dA), ("dW", dB)]


def _vector_backward(layer: Layer, arch, training: Training,
                     saved_bits: int | None = None) -> VectorOp:
    act = activation_bits(layer, arch)
    forward = vector_work(layer, act)
    outputs = layer.N * layer.K * layer.P * layer.Q
    inputs = forward.read_elements
    saved = 0 if layer.op in NO_SAVED_INPUT else (
        inputs * act if saved_bits is None else saved_bits)
    ops = {} if layer.op in MOVES else dict(forward.ops)
    return VectorOp(name=f"{layer.name}.dX", op=layer.op,
                    read_elements=_bytes(outputs * training.grad_bits + saved),
                    write_elements=_bytes(inputs * training.grad_bits), bits=8, ops=ops)


def loss_op(layer: Layer, arch, training: Training) -> VectorOp:
    """Softmax cross-entropy over the last layer's K outputs per image and position, and its
    gradient softmax - onehot (module doc)."""
    rows, L = layer.N * layer.P * layer.Q, layer.K
    bits = activation_bits(layer, arch) if layer.kind == "vector" else arch.pe_array.ofmap_bits
    return VectorOp(name=f"{layer.name}.loss", op="softmax_cross_entropy",
                    read_elements=_bytes(rows * L * bits),
                    write_elements=_bytes(rows * L * training.grad_bits), bits=8,
                    ops={"max": rows * (L - 1), "add": rows * (3 * L - 1), "exp": rows * L,
                         "div": rows * L})


def bias_ops(layer: Layer, part, arch, training: Training) -> list:
    """[(phase, op)] of the biases of `layer`'s trained `part` (module doc): dBias, the sum of
    dY over N·P·Q per channel ("dW"), and their update ("update"); none without a bias."""
    n = bias_elements(part) if has_weights(layer) else 0
    if not n:
        return []
    rows = layer.N * layer.P * layer.Q
    g = training.grad_bits
    per_bias, copies = OPTIMIZERS[training.optimizer]
    bits, state = arch.pe_array.psum_bits, copies * training.state_bits
    grad = VectorOp(name=f"{layer.name}.dBias", op="reduce_sum",
                    read_elements=_bytes(n * rows * g), write_elements=_bytes(n * g), bits=8,
                    ops={"add": n * (rows - 1)})
    update = VectorOp(name=f"{layer.name}.bias_update", op=f"update_{training.optimizer}",
                      read_elements=_bytes(n * (bits + g + state)),
                      write_elements=_bytes(n * (bits + state)), bits=8,
                      ops={name: k * n for name, k in per_bias.items()})
    return [("dW", grad), ("update", update)]


def with_biases(backward: list, biases: list) -> list:
    """`backward` with each of `biases` (phase, op) placed after the last op of its phase (at
    the end when there is none), so that a layer's phases stay grouped."""
    out = list(backward)
    for phase, op in biases:
        at = max((i + 1 for i, (p, _) in enumerate(out) if p == phase), default=len(out))
        out.insert(at, (phase, op))
    return out


def update_op(layer: Layer, arch, training: Training) -> VectorOp:
    """The optimizer step over `layer`'s weights on the vector unit (module doc)."""
    n = weight_elements(layer)
    per_weight, copies = OPTIMIZERS[training.optimizer]
    wbits = layer.weight_bits or arch.pe_array.weight_bits
    state = copies * training.state_bits
    return VectorOp(name=f"{layer.name}.update", op=f"update_{training.optimizer}",
                    read_elements=_bytes(n * (wbits + training.grad_bits + state)),
                    write_elements=_bytes(n * (wbits + state)), bits=8,
                    ops={name: k * n for name, k in per_weight.items()})


def _bytes(bits: int) -> int:
    return math.ceil(bits / 8)
