"""Non-MAC layers: what the vector unit beside the PE array performs for a `vector` layer.

A vector layer is a `Layer` of kind "vector" naming its operator in `op`, with the layer's
dims read as follows (o = N·K·P·Q outputs):

- element-wise (relu, clip, sigmoid, tanh, gelu, silu, batchnorm; add, sub, mul, div with a
  constant or broadcast operand such as a bias; add_tensors, mul_tensors, div_tensors of two
  activations of the same size): C = K, H = P, W = Q;
- pooling (maxpool, avgpool; global pooling is the window R x S = H x W): a depthwise window
  without weights, C = K, with R, S, stride and padding;
- along rows (softmax, layernorm, rmsnorm): N·H rows of C elements (K = C, P = H, Q = W = 1);
- lrn: C = K, H = P, W = Q, R the number of channels summed;
- data movement (concat, transpose): the elements are read and written once, no operation.

Operation counts per element or row, as written below: relu one max; clip a max and a min;
sigmoid exp, add, div (1 / (1 + e^-x)); tanh exp, 2 adds, a mult, a div; silu a sigmoid and a
mult; gelu the tanh form 0.5x(1 + tanh(0.7979(x + 0.044715x³))): 6 mults, 4 adds, an exp, a
div; batchnorm at inference a mult and an add (scale and shift folded from the statistics);
softmax per row of L: L - 1 maxes, L subtractions and L - 1 additions, L exps, L divisions;
layernorm per row: mean (L - 1 adds, a mult by 1/L), centring (L subs), variance (L squares,
L - 1 adds, a mult), + eps, a sqrt, a reciprocal (div), normalizing (L mults) and the affine
γ, β (L mults, L adds); rmsnorm the same without the mean and β; maxpool R·S - 1 maxes per
output; avgpool R·S - 1 adds and a mult; lrn per element a square, R - 1 adds, a mult by α/R,
an add of the bias, the power β as exp(β·log(·)) (a log, a mult, an exp) and a div.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dlaforge.errors import SpecError

ELEMENTWISE = {"relu": {"max": 1}, "clip": {"max": 1, "min": 1},
               "sigmoid": {"exp": 1, "add": 1, "div": 1},
               "tanh": {"exp": 1, "add": 2, "mult": 1, "div": 1},
               "silu": {"exp": 1, "add": 1, "div": 1, "mult": 1},
               "gelu": {"mult": 6, "add": 4, "exp": 1, "div": 1},
               "batchnorm": {"mult": 1, "add": 1},
               "add": {"add": 1}, "sub": {"add": 1}, "mul": {"mult": 1}, "div": {"div": 1},
               "add_tensors": {"add": 1}, "mul_tensors": {"mult": 1}, "div_tensors": {"div": 1}}
TWO_INPUTS = ("add_tensors", "mul_tensors", "div_tensors")
POOLS = ("maxpool", "avgpool")
ROWS = ("softmax", "layernorm", "rmsnorm")
MOVES = ("concat", "transpose")
VECTOR_OPS = (*ELEMENTWISE, *POOLS, *ROWS, "lrn", *MOVES)


@dataclass(frozen=True)
class VectorOp:
    """The vector unit's work for one layer: its operation counts, and the elements it reads
    from and writes to DRAM at `bits` each."""

    name: str
    op: str
    read_elements: int
    write_elements: int
    bits: int
    ops: dict = field(default_factory=dict)


def check_vector_layer(layer) -> None:
    """SpecError unless the vector layer's dims fit its operator (see the module doc)."""
    where = f"layer {layer.name!r}"
    if layer.op not in VECTOR_OPS:
        raise SpecError(f"{where}: unknown vector op {layer.op!r}; choose from "
                        f"{', '.join(VECTOR_OPS)}")
    if layer.K != layer.C or layer.groups != 1:
        raise SpecError(f"{where}: a {layer.op} layer keeps its channels (K = C) and has no groups")
    if layer.op in ROWS and (layer.P, layer.Q, layer.W) != (layer.H, 1, 1):
        raise SpecError(f"{where}: a {layer.op} layer is N·H rows of C elements: P = H, Q = W = 1")
    if layer.op not in POOLS and (layer.P, layer.Q) != (layer.H, layer.W):
        raise SpecError(f"{where}: a {layer.op} layer keeps its size: P = H, Q = W")


def vector_work(layer, bits: int) -> VectorOp:
    """What the vector unit performs for vector layer `layer` at `bits`-bit activations."""
    outputs = layer.N * layer.K * layer.P * layer.Q
    inputs = layer.N * layer.C * layer.H * layer.W
    rows, L = layer.N * layer.H, layer.C
    window = layer.R * layer.S
    if layer.op in ELEMENTWISE:
        ops = {name: n * outputs for name, n in ELEMENTWISE[layer.op].items()}
    elif layer.op == "maxpool":
        ops = {"max": outputs * (window - 1)}
    elif layer.op == "avgpool":
        ops = {"add": outputs * (window - 1), "mult": outputs}
    elif layer.op == "softmax":
        ops = {"max": rows * (L - 1), "add": rows * (2 * L - 1), "exp": rows * L,
               "div": rows * L}
    elif layer.op == "layernorm":
        ops = {"add": rows * (4 * L - 1), "mult": rows * (3 * L + 2), "sqrt": rows,
               "div": rows}
    elif layer.op == "rmsnorm":
        ops = {"add": rows * L, "mult": rows * (3 * L + 1), "sqrt": rows, "div": rows}
    elif layer.op == "lrn":
        ops = {"mult": 3 * outputs, "add": outputs * layer.R, "log": outputs, "exp": outputs,
               "div": outputs}
    else:
        ops = {}
    reads = inputs * (2 if layer.op in TWO_INPUTS else 1)
    return VectorOp(name=layer.name, op=layer.op, read_elements=reads, write_elements=outputs,
                    bits=bits, ops={k: v for k, v in ops.items() if v})
