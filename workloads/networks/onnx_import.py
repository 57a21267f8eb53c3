"""ONNX models as networks: every node that does work becomes one layer, named as in the graph
(the node's name, else its first output's).

The model is read without its external data (`load_external_data=False`: a file whose weights
live elsewhere, such as ZigZag's shipped shape-only models, still imports; only shapes are
needed), its graph inputs are fixed (`input_shapes` replaces an input's shape; a dimension that
stays symbolic is an error), and shapes come from ONNX shape inference. Supported: Conv (1-D
and 2-D; groups, dilations, pads, auto_pad, non-square kernels and strides), ConvTranspose
(output_padding, output_shape), Gemm (transA, transB) and MatMul with a weight operand (an
initializer or a Constant's output) or of two activations (batched: one product per leading
index, as attention's Q·Kᵀ and A·V). The non-MAC operators of onnx_vector.py (element-wise,
activations, pooling, softmax, normalization, LRN, Concat, Transpose) become vector layers.
Constant, Identity and Dropout do nothing at inference, and Reshape, Flatten, Squeeze and
Unsqueeze only reinterpret a contiguous tensor: they are passed over; so is a
BatchNormalization that is the only reader of a Conv's, a ConvTranspose's or a Gemm's
output: deployment folds it into that layer's weights and bias. Every other operator is
unsupported: `read_onnx` names them all in one error, or with `skip_unsupported` leaves them
out and returns them (the caller warns). A Gemm's bias is not counted (its Add is fused).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from dlaforge.errors import SpecError

from ..layer import Layer, conv_kind, matmul
from .onnx_vector import VECTOR_CONVERTERS

PASSED_OVER = ("Constant", "Identity", "Dropout", "Reshape", "Flatten", "Squeeze", "Unsqueeze")


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """`name=1x3x224x224` as (name, (1, 3, 224, 224))."""
    name, sep, dims = text.rpartition("=")
    try:
        shape = tuple(int(d) for d in dims.split("x"))
    except ValueError:
        shape = ()
    if not sep or not name or not shape or min(shape) <= 0:
        raise SpecError(f"--input-shape {text!r}: expected NAME=DxDx... with positive sizes, "
                        f"e.g. input=1x3x224x224")
    return name, shape


def read_onnx(path: Path, input_shapes: dict | None = None,
              skip_unsupported: bool = False) -> tuple[list[Layer], list[str]]:
    """The layers of the ONNX model at `path` and the unsupported operators left out (as
    "OpType (count)"; empty unless `skip_unsupported`)."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:        # protobuf's DecodeError and friends: a bad file
        raise SpecError(f"{path.name} is not a readable ONNX model "
                        f"({type(exc).__name__}: {_first_line(exc)})") from None
    graph = model.graph
    if not graph.node:
        raise SpecError(f"{path.name} is not a readable ONNX model: its graph has no nodes")
    _fix_inputs(path, graph, dict(input_shapes or {}))
    try:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except Exception as exc:
        raise SpecError(f"{path.name}: ONNX shape inference failed "
                        f"({_first_line(exc)})") from None
    graph = model.graph
    shapes = _known_shapes(graph)
    weights = ({t.name for t in graph.initializer}
               | {o for n in graph.node if n.op_type == "Constant" for o in n.output})
    layers, unsupported, folded = [], Counter(), _batch_norms_folded(graph)
    for index, node in enumerate(graph.node):
        convert = CONVERTERS.get(node.op_type)
        if node.op_type in PASSED_OVER or set(node.output[:1]) & folded:
            continue
        if convert is None:
            unsupported[node.op_type] += 1
            continue
        name = node.name or (node.output[0] if node.output else f"{node.op_type}_{index}")
        try:
            layers.append(convert(_Node(node, name, shapes, weights)))
        except SpecError as exc:
            raise SpecError(f"{path.name}: node {name!r} ({node.op_type}): {exc}") from None
        except (IndexError, KeyError, ValueError, TypeError) as exc:    # inputs or attributes
            raise SpecError(f"{path.name}: node {name!r} ({node.op_type}) is malformed "
                            f"({type(exc).__name__}: {_first_line(exc)})") from None
    left_out = [f"{op} ({count})" for op, count in sorted(unsupported.items())]
    if left_out and not skip_unsupported:
        raise SpecError(f"{path.name}: unsupported ONNX operators {', '.join(left_out)}; "
                        f"--skip-unsupported leaves them out")
    if not layers:
        raise SpecError(f"{path.name} has no operator dlaforge imports")
    return layers, left_out


def _batch_norms_folded(graph) -> set:
    """The BatchNormalization nodes (by first output) that fold into the layer whose output
    they alone read."""
    producers = {out: n.op_type for n in graph.node for out in n.output}
    readers = Counter(name for n in graph.node for name in n.input)
    readers.update(o.name for o in graph.output)
    return {n.output[0] for n in graph.node if n.op_type == "BatchNormalization" and n.input
            and producers.get(n.input[0]) in ("Conv", "ConvTranspose", "Gemm")
            and readers[n.input[0]] == 1}


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _fix_inputs(path: Path, graph, given: dict) -> None:
    """Set the graph inputs' shapes from `given`; SpecError for a symbolic dimension left."""
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    unknown = sorted(set(given) - {i.name for i in inputs})
    if unknown:
        raise SpecError(f"{path.name}: --input-shape names {', '.join(unknown)}, not an input "
                        f"of the graph ({', '.join(i.name for i in inputs)})")
    for value in inputs:
        dims = value.type.tensor_type.shape.dim
        if value.name in given:
            shape = given[value.name]
            del dims[:]
            for size in shape:
                dims.add().dim_value = size
        free = [d.dim_param or "?" for d in dims if not d.dim_value]
        if free or not value.type.tensor_type.HasField("shape"):
            raise SpecError(f"{path.name}: input {value.name!r} has a dynamic dimension "
                            f"({', '.join(free) or 'no shape'}); fix it with --input-shape "
                            f"{value.name}=" + "x".join(str(d.dim_value or 1) for d in dims))


def _known_shapes(graph) -> dict:
    shapes = {t.name: tuple(t.dims) for t in graph.initializer}
    for value in (*graph.input, *graph.value_info, *graph.output):
        tensor = value.type.tensor_type
        if tensor.HasField("shape") and all(d.dim_value > 0 for d in tensor.shape.dim):
            shapes[value.name] = tuple(d.dim_value for d in tensor.shape.dim)
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    shapes[node.output[0]] = tuple(attr.t.dims)
    return shapes


class _Node:
    """One node with its attributes and the shapes of its operands."""

    def __init__(self, node, name, shapes, weights):
        import onnx

        self.node, self.name, self.shapes, self.weights = node, name, shapes, weights
        self.attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    def shape(self, tensor: str) -> tuple:
        if tensor not in self.shapes:
            raise SpecError(f"the shape of {tensor!r} is unknown after shape inference")
        return self.shapes[tensor]

    def input(self, i: int) -> tuple:
        return self.shape(self.node.input[i])

    def output(self) -> tuple:
        return self.shape(self.node.output[0])

    def is_weight(self, i: int) -> bool:
        return self.node.input[i] in self.weights

    def ints(self, key: str, default: list) -> list:
        value = self.attrs.get(key, default)
        return [int(v) for v in value]

    def auto_pad(self) -> str:
        value = self.attrs.get("auto_pad", b"NOTSET")
        return value.decode() if isinstance(value, bytes) else str(value)


def _spatial(node: _Node, x: tuple, w: tuple) -> tuple:
    """(H, W, R, S, strides, dilations) of a 1-D or 2-D convolution (1-D as one row)."""
    if len(x) not in (3, 4) or len(w) != len(x):
        raise SpecError(f"only 1-D and 2-D convolutions are supported, not input {list(x)} "
                        f"with weight {list(w)}")
    rank = len(x) - 2
    strides = node.ints("strides", [1] * rank)
    dilations = node.ints("dilations", [1] * rank)
    if rank == 1:
        return 1, x[2], 1, w[2], [1] + strides, [1] + dilations
    return x[2], x[3], w[2], w[3], strides, dilations


def _pads(node: _Node, rank: int) -> list:
    """ONNX pads (begin..., end...) as (top, left, bottom, right)."""
    pads = node.ints("pads", [0] * 2 * rank)
    return [0, pads[0], 0, pads[1]] if rank == 1 else [pads[0], pads[1], pads[2], pads[3]]


def _conv(node: _Node) -> Layer:
    x, w, y = node.input(0), node.input(1), node.output()
    H, W, R, S, strides, dilations = _spatial(node, x, w)
    groups = int(node.attrs.get("group", 1))
    C, K = x[1], w[0]
    P, Q = (1, y[2]) if len(y) == 3 else (y[2], y[3])
    mode = node.auto_pad()
    if mode == "VALID":
        pads = [0, 0, 0, 0]
    elif mode.startswith("SAME"):
        pads = []
        for size, out, kernel, stride, dil in ((H, P, R, strides[0], dilations[0]),
                                               (W, Q, S, strides[1], dilations[1])):
            total = max((out - 1) * stride + dil * (kernel - 1) + 1 - size, 0)
            pads.append((total - total // 2, total // 2) if mode == "SAME_LOWER"
                        else (total // 2, total - total // 2))
        pads = [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]
    else:
        pads = _pads(node, len(x) - 2)
    return Layer(name=node.name, kind=conv_kind(C, K, R, S, groups), N=x[0], K=K, C=C, H=H,
                 W=W, P=P, Q=Q, R=R, S=S, stride=strides[0], stride_w=strides[1],
                 pads=tuple(pads), dilation=tuple(dilations), groups=groups)


def _conv_transpose(node: _Node) -> Layer:
    x, w, y = node.input(0), node.input(1), node.output()
    H, W, R, S, strides, dilations = _spatial(node, x, w)
    groups = int(node.attrs.get("group", 1))
    C, K = x[1], w[1] * groups
    P, Q = (1, y[2]) if len(y) == 3 else (y[2], y[3])
    rank = len(x) - 2
    if "output_shape" in node.attrs or node.auto_pad().startswith("SAME"):
        # ONNX: total padding = stride*(in-1) + output_padding + extent - out, split by auto_pad
        extra = node.ints("output_padding", [0] * rank)
        extra = [0] + extra if rank == 1 else extra
        begin, end = [], []
        for size, out, kernel, stride, dil, more in ((H, P, R, strides[0], dilations[0], extra[0]),
                                                     (W, Q, S, strides[1], dilations[1], extra[1])):
            total = max(stride * (size - 1) + more + dil * (kernel - 1) + 1 - out, 0)
            first = total // 2 if node.auto_pad() == "SAME_UPPER" else total - total // 2
            begin.append(first)
            end.append(total - first)
        pads = [begin[0], begin[1], end[0], end[1]]
    else:
        pads = _pads(node, rank)
    return Layer(name=node.name, kind="transposed_conv", N=x[0], K=K, C=C, H=H, W=W, P=P, Q=Q,
                 R=R, S=S, stride=strides[0], stride_w=strides[1], pads=tuple(pads),
                 dilation=tuple(dilations), groups=groups)


def _product(name: str, rows: int, C: int, K: int, batch: int, weight: bool) -> Layer:
    """`batch` products of a rows x C matrix by a C x K one (a weight, or an activation)."""
    if not weight:
        return matmul(name, rows, C, K, N=batch)
    rows *= batch
    return Layer(name=name, kind="linear" if rows == 1 else "gemm", K=K, C=C, P=rows, Q=1,
                 H=rows, W=1)


def _gemm(node: _Node) -> Layer:
    a, b = node.input(0), node.input(1)
    if len(a) != 2 or len(b) != 2:
        raise SpecError(f"Gemm operands must be matrices, not {list(a)} and {list(b)}")
    M, Ka = (a[1], a[0]) if node.attrs.get("transA", 0) else a
    Kb, N = (b[1], b[0]) if node.attrs.get("transB", 0) else b
    if Ka != Kb:
        raise SpecError(f"Gemm operands {list(a)} and {list(b)} do not chain")
    if node.is_weight(0) and not node.is_weight(1):      # W·X: the product transposed
        return _product(node.name, N, Ka, M, 1, True)
    return _product(node.name, M, Ka, N, 1, node.is_weight(1))


def _matmul(node: _Node) -> Layer:
    a, b = list(node.input(0)), list(node.input(1))
    a, b = ([1] + a if len(a) == 1 else a), (b + [1] if len(b) == 1 else b)
    if a[-1] != b[-2]:
        raise SpecError(f"MatMul operands {a} and {b} do not chain")
    M, Kd, N = a[-2], a[-1], b[-1]
    lead_a, lead_b = a[:-2], b[:-2]
    if node.is_weight(1) and not node.is_weight(0):
        if math.prod(lead_b) != 1:
            raise SpecError(f"a MatMul weight must be one matrix, not {b}")
        return _product(node.name, M, Kd, N, math.prod(lead_a), True)
    if node.is_weight(0) and not node.is_weight(1):      # W·X: rows are X's columns
        if math.prod(lead_a) != 1:
            raise SpecError(f"a MatMul weight must be one matrix, not {a}")
        return _product(node.name, N, Kd, M, math.prod(lead_b), True)
    batch = math.prod(_broadcast(lead_a, lead_b))
    return _product(node.name, M, Kd, N, batch, False)


def _broadcast(a: list, b: list) -> list:
    width = max(len(a), len(b))
    a, b = [1] * (width - len(a)) + a, [1] * (width - len(b)) + b
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)):
        raise SpecError(f"MatMul batch dimensions {a} and {b} do not broadcast")
    return [max(x, y) for x, y in zip(a, b)]


CONVERTERS = {"Conv": _conv, "ConvTranspose": _conv_transpose, "Gemm": _gemm,
              "MatMul": _matmul, **VECTOR_CONVERTERS}
