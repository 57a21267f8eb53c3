"""ONNX's non-MAC operators as vector layers (workloads/vector_ops.py), one per node.

Relu, Clip, Sigmoid, Tanh, Gelu and an unfolded BatchNormalization are element-wise; Add, Sub,
Mul and Div are element-wise of two activations when both operands have the output's size
(add_tensors, mul_tensors, div_tensors) and otherwise of one activation and a broadcast operand
(a bias, a scale: add, sub, mul, div); Softmax, LayerNormalization and RMSNormalization work
along rows of the normalized axes; MaxPool, AveragePool (kernel, strides, pads, auto_pad) and
their global forms are windows without weights; LRN sums `size` channels; Concat and Transpose
move their data once. A tensor of any rank is counted as N x C x H x W: the first axis, the
second, and the rest as H (or H x W for rank 4); rows are N·H of C.
"""

from __future__ import annotations

import math

from dlaforge.errors import SpecError

from ..layer import Layer, vector

ELEMENTWISE = {"Relu": "relu", "Clip": "clip", "Sigmoid": "sigmoid", "Tanh": "tanh",
               "Gelu": "gelu", "BatchNormalization": "batchnorm"}
BINARY = {"Add": ("add_tensors", "add"), "Sub": ("add_tensors", "sub"),
          "Mul": ("mul_tensors", "mul"), "Div": ("div_tensors", "div")}


def _nchw(shape: tuple) -> dict:
    shape = tuple(shape) or (1,)
    if len(shape) == 4:
        return dict(N=shape[0], C=shape[1], H=shape[2], W=shape[3])
    rest = math.prod(shape[2:])
    return dict(N=shape[0], C=shape[1] if len(shape) > 1 else 1, H=rest, W=1)


def _same_size(node, op: str) -> Layer:
    return vector(node.name, op, **_nchw(node.output()))


def _elementwise(node) -> Layer:
    return _same_size(node, ELEMENTWISE[node.node.op_type])


def _binary(node) -> Layer:
    both, one = BINARY[node.node.op_type]
    size = math.prod(node.output())
    operands = [math.prod(node.shape(name)) for name in node.node.input[:2]]
    full = all(n == size for n in operands) and not any(node.is_weight(i) for i in (0, 1))
    return _same_size(node, both if full else one)


def _rows(node, op: str, axis: int) -> Layer:
    shape = node.output()
    axis = axis % len(shape)
    length = math.prod(shape[axis:]) if op != "softmax" else shape[axis]
    return vector(node.name, op, C=length, H=math.prod(shape) // length)


def _softmax(node) -> Layer:
    return _rows(node, "softmax", int(node.attrs.get("axis", -1)))


def _layernorm(node) -> Layer:
    return _rows(node, "layernorm", int(node.attrs.get("axis", -1)))


def _rmsnorm(node) -> Layer:
    return _rows(node, "rmsnorm", int(node.attrs.get("axis", -1)))


def _pool(node) -> Layer:
    x, y = node.input(0), node.output()
    if len(x) != 4:
        raise SpecError(f"only 2-D pooling is supported, not input {list(x)}")
    op_type = node.node.op_type
    op = "maxpool" if "Max" in op_type else "avgpool"
    if op_type.startswith("Global"):
        R, S, strides, pads = x[2], x[3], [1, 1], [0, 0, 0, 0]
    else:
        kernel = node.ints("kernel_shape", [])
        if len(kernel) != 2:
            raise SpecError(f"kernel_shape must give 2 sizes, not {kernel}")
        R, S = kernel
        strides = node.ints("strides", [1, 1])
        pads = node.ints("pads", [0, 0, 0, 0])
        if node.auto_pad().startswith("SAME"):
            pads = _same_pads(node.auto_pad(), x, y, (R, S), strides)
        if node.ints("dilations", [1, 1]) != [1, 1]:
            raise SpecError("dilated pooling is not supported")
    return Layer(name=node.name, kind="vector", op=op, N=x[0], C=x[1], K=x[1], H=x[2], W=x[3],
                 P=y[2], Q=y[3], R=R, S=S, stride=strides[0], stride_w=strides[1],
                 pads=tuple(pads))


def _same_pads(mode: str, x, y, kernel, strides) -> list:
    begin, end = [], []
    for size, out, k, s in zip(x[2:], y[2:], kernel, strides):
        total = max((out - 1) * s + k - size, 0)
        first = total - total // 2 if mode == "SAME_LOWER" else total // 2
        begin.append(first)
        end.append(total - first)
    return [begin[0], begin[1], end[0], end[1]]


def _lrn(node) -> Layer:
    shape = _nchw(node.output())
    return Layer(name=node.name, kind="vector", op="lrn", K=shape["C"], P=shape["H"],
                 Q=shape["W"], R=int(node.attrs["size"]), **shape)


def _moved(node) -> Layer:
    return _same_size(node, node.node.op_type.lower())


VECTOR_CONVERTERS = {**{op: _elementwise for op in ELEMENTWISE},
                     **{op: _binary for op in BINARY},
                     "Softmax": _softmax, "LayerNormalization": _layernorm,
                     "RMSNormalization": _rmsnorm, "SimplifiedLayerNormalization": _rmsnorm,
                     **{op: _pool for op in ("MaxPool", "AveragePool", "GlobalMaxPool",
                                             "GlobalAveragePool")},
                     "LRN": _lrn, "Concat": _moved, "Transpose": _moved}
