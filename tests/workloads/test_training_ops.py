"""The training ops (workloads/training.py) against a plain numpy definition of a conv's
gradients, and the training memory (workloads/training_memory.py) against a hand count."""

import math

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.workloads.layer import Layer, conv, linear, matmul, vector
from dlaforge.workloads.training import (Training, axis_phases, backward_ops,
                                         needs_input_gradient)
from dlaforge.workloads.training_memory import peak_memory

EDGE = load_arch("edge_tiny")           # int8 array: 16-bit gradients run as 2 bit slices
EYERISS = load_arch("eyeriss_like")     # 16-bit array: no slices


def _pad(x, top, left, bottom, right):
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))


def _forward(x, w, stride, pad, groups, dilation=1):
    """Plain definition: y[n, k, p, q] = sum over c in k's group, r, s of
    x_pad[n, c, p s + d r, q s + d s'] w[k, c, r, s']."""
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    xp = _pad(x, pad, pad, pad, pad)
    P = (H + 2 * pad - dilation * (R - 1) - 1) // stride + 1
    Q = (W + 2 * pad - dilation * (S - 1) - 1) // stride + 1
    y = np.zeros((N, K, P, Q))
    for k in range(K):
        g = k // (K // groups)
        for r in range(R):
            for s in range(S):
                win = xp[:, g * Cg:(g + 1) * Cg, dilation * r:dilation * r + stride * P:stride,
                         dilation * s:dilation * s + stride * Q:stride]
                y[:, k] += np.einsum("ncpq,c->npq", win, w[k, :, r, s])
    return y


def _gradients(x, w, dy, stride, pad, groups, dilation=1):
    """dX and dW by the definition (the adjoint of `_forward`, by scattering each product)."""
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    P, Q = dy.shape[2:]
    xp = _pad(x, pad, pad, pad, pad)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for k in range(K):
        g = k // (K // groups)
        for r in range(R):
            for s in range(S):
                rows = slice(dilation * r, dilation * r + stride * P, stride)
                cols = slice(dilation * s, dilation * s + stride * Q, stride)
                win = xp[:, g * Cg:(g + 1) * Cg, rows, cols]
                dw[k, :, r, s] = np.einsum("ncpq,npq->c", win, dy[:, k])
                dxp[:, g * Cg:(g + 1) * Cg, rows, cols] += np.einsum("npq,c->ncpq", dy[:, k],
                                                                     w[k, :, r, s])
    return dxp[:, :, pad:pad + H, pad:pad + W], dw


def _phase_taps(a, kernel, stride, before, dilation):
    return [r for r in range(kernel) if (a + before - dilation * r) % stride == 0]


def _run_dx(layer, ops, dy, w):
    """Execute the dX sub-convolutions as the ops describe them (crop, pads, dilation, the
    segregated taps rotated 180 degrees, K and C swapped) and assemble dX."""
    (s, _), (pad, *_), (d, _) = layer.strides, layer.paddings, layer.dilation
    rows = axis_phases(layer.H, layer.P, layer.R, s, pad, d)
    cols = axis_phases(layer.W, layer.Q, layer.S, s, pad, d)
    live_r = [a for a in range(s) if _phase_taps(a, layer.R, s, pad, d)]
    live_c = [b for b in range(s) if _phase_taps(b, layer.S, s, pad, d)]
    dx = np.zeros((layer.N, layer.C, layer.H, layer.W))
    g, Kg, Cg = layer.groups, layer.K // layer.groups, layer.C // layer.groups
    it = iter(ops)
    for a, (P, R, rd, top, crop_r, H, bottom) in zip(live_r, rows):
        for b, (Q, S, cd, left, crop_c, W, right) in zip(live_c, cols):
            op = next(it)
            assert (op.P, op.Q, op.R, op.S, op.H, op.W) == (P, Q, R, S, H, W)
            assert op.paddings == (top, left, bottom, right) and op.dilation == (rd, cd)
            assert (op.K, op.C // 2, op.groups) == (layer.C, layer.K, layer.groups)
            taps_r = _phase_taps(a, layer.R, s, pad, d)[::-1]    # offsets increasing
            taps_c = _phase_taps(b, layer.S, s, pad, d)[::-1]
            src = _pad(dy[:, :, crop_r:crop_r + H, crop_c:crop_c + W], top, left, bottom, right)
            for c in range(layer.C):
                grp = c // Cg
                for t, r in enumerate(taps_r):
                    for u, q in enumerate(taps_c):
                        win = src[:, grp * Kg:(grp + 1) * Kg, rd * t:rd * t + P, cd * u:cd * u + Q]
                        dx[:, c, a::s, b::s] += np.einsum("nkpq,k->npq", win,
                                                          w[grp * Kg:(grp + 1) * Kg, c % Cg, r, q])
    assert next(it, None) is None
    return dx


CASES = [  # (C, K, H, R, stride, padding, groups, dilation)
    (3, 4, 7, 3, 1, 1, 1, 1),
    (3, 4, 7, 3, 2, 1, 1, 1),
    (4, 6, 9, 3, 2, 0, 2, 1),       # grouped, valid padding, odd size
    (4, 4, 8, 3, 2, 1, 4, 1),       # depthwise
    (2, 4, 8, 1, 2, 0, 1, 1),       # strided 1x1: only a quarter of dX is non-zero
    (3, 2, 11, 5, 3, 2, 1, 1),
    (2, 3, 9, 3, 1, 2, 1, 2),       # dilated
    (2, 3, 12, 7, 2, 3, 1, 1),      # ResNet's stem
]


@pytest.mark.parametrize("C, K, H, R, stride, padding, groups, dilation", CASES)
def test_dx_and_dw_ops_compute_the_defined_gradients(C, K, H, R, stride, padding, groups,
                                                     dilation):
    rng = np.random.default_rng(C * 100 + H)
    N = 2
    layer = Layer(name="l", kind="conv2d", K=K, C=C, H=H, W=H, R=R, S=R, N=N, stride=stride,
                  padding=padding, groups=groups, dilation=(dilation, dilation),
                  P=(H + 2 * padding - dilation * (R - 1) - 1) // stride + 1,
                  Q=(H + 2 * padding - dilation * (R - 1) - 1) // stride + 1)
    x = rng.standard_normal((N, C, H, H))
    w = rng.standard_normal((K, C // groups, R, R))
    y = _forward(x, w, stride, padding, groups, dilation)
    assert y.shape == (N, K, layer.P, layer.Q)
    dy = rng.standard_normal(y.shape)
    dx_ref, dw_ref = _gradients(x, w, dy, stride, padding, groups, dilation)
    # the adjoint identity <dy, conv(x)> = <dx, x> checks the reference itself
    assert np.vdot(dy, y) == pytest.approx(np.vdot(dx_ref, x))
    ops = dict()
    for phase, op in backward_ops(layer, EDGE, Training(), True):
        ops.setdefault(phase, []).append(op)
    dx = _run_dx(layer, ops["dX"], dy, w)
    np.testing.assert_allclose(dx, dx_ref, atol=1e-9)
    # dW: the GEMM dY (K/g rows x g·N·P·Q) by X's windows, C·R·S outputs, in g groups
    dw_op, dbias = ops["dW"]                        # the weights' GEMM, then the biases'
    # dBias = the sum of dY over N·P·Q per output channel: adds on the vector unit
    assert dbias.ops == {"add": K * (N * layer.P * layer.Q - 1)}
    assert dbias.read_elements == N * K * layer.P * layer.Q * 16 // 8
    assert dbias.write_elements == K * 16 // 8
    assert (dw_op.P, dw_op.K, dw_op.C // 2, dw_op.groups) == (K // groups, C * R * R,
                                                              groups * N * layer.P * layer.Q,
                                                              groups)
    assert dw_op.pe_macs == 2 * layer.macs          # 16-bit dY as two 8-bit slices
    assert dw_op.weight_is_activation and dw_op.weight_storage_bits == 0
    xp = _pad(x, padding, padding, padding, padding)
    span = lambda r: slice(dilation * r, dilation * r + stride * layer.P, stride)
    cols = np.stack([np.stack([xp[:, :, span(r), span(s)] for s in range(R)], 2)
                     for r in range(R)], 2)        # N, C, R, S, P, Q
    dw = np.zeros_like(w)
    for grp in range(groups):                      # one GEMM per group, as the op's groups
        Kg, Cg = K // groups, C // groups
        a = dy[:, grp * Kg:(grp + 1) * Kg].transpose(1, 0, 2, 3).reshape(Kg, -1)
        b = cols[:, grp * Cg:(grp + 1) * Cg].transpose(1, 2, 3, 0, 4, 5).reshape(Cg * R * R, -1)
        dw[grp * Kg:(grp + 1) * Kg] = (a @ b.T).reshape(Kg, Cg, R, R)
    np.testing.assert_allclose(dw, dw_ref, atol=1e-9)
    # at stride 1 with 'same' padding the sub-convolutions do the forward's MACs exactly
    if stride == 1 and 2 * padding == dilation * (R - 1):
        assert sum(op.pe_macs for op in ops["dX"]) == 2 * layer.macs


def test_kernel_segregation_does_the_forwards_macs_when_the_stride_divides_the_input():
    layer = conv("c", 16, 32, 56, R=3, stride=2)
    dx = [op for phase, op in backward_ops(layer, EYERISS, Training(), True) if phase == "dX"]
    assert len(dx) == 4 and sum(op.pe_macs for op in dx) == layer.macs
    assert all(op.ifmap_bits == 16 and not op.dram_scale for op in dx)   # 16-bit array


def test_first_weighted_layer_has_no_input_gradient():
    layers = [vector("norm", "relu", 3, 8, 8), conv("c1", 3, 8, 8), vector("r", "relu", 8, 8, 8),
              conv("c2", 8, 8, 8)]
    assert needs_input_gradient(layers) == [False, False, True, True]
    # dW and the weights' update, each followed by the biases' (dBias, bias_update)
    assert [op.name for _, op in backward_ops(layers[1], EDGE, Training(), False)] == [
        "c1.dW", "c1.dBias", "c1.update", "c1.bias_update"]


def test_linear_and_matmul_backward_are_gemms_with_the_forwards_macs():
    fc = linear("fc", 64, 10, N=4)
    ops = {}
    for phase, op in backward_ops(fc, EYERISS, Training(optimizer="adam"), True):
        ops.setdefault(phase, op)                   # the weights' op of each phase
    assert ops["dX"].pe_macs == ops["dW"].pe_macs == fc.macs
    assert (ops["dW"].P, ops["dW"].C, ops["dW"].K) == (10, 4, 64)    # dYᵀ X: 10 x 4 by 4 x 64
    update = ops["update"]
    # Adam over 640 weights: 16-bit w (eyeriss_like), 16-bit g, two 32-bit moments read; w and
    # the moments written; counted in bytes
    assert update.bits == 8 and update.read_elements == 640 * (16 + 16 + 64) // 8
    assert update.write_elements == 640 * (16 + 64) // 8
    assert update.ops == {"mult": 6 * 640, "add": 4 * 640, "sqrt": 640, "div": 640}
    # the 10 biases at the psum width (16 bits on eyeriss_like), their own Adam step; dBias
    # sums 4 rows of dY
    bias = {op.name: op for _, op in backward_ops(fc, EYERISS, Training(optimizer="adam"), True)}
    assert bias["fc.dBias"].ops == {"add": 10 * 3}
    assert bias["fc.bias_update"].read_elements == 10 * (16 + 16 + 64) // 8
    assert bias["fc.bias_update"].write_elements == 10 * (16 + 64) // 8
    assert bias["fc.bias_update"].ops == {"mult": 60, "add": 40, "sqrt": 10, "div": 10}
    mm = matmul("scores", P=16, C=8, K=16, N=2)
    phases = backward_ops(mm, EYERISS, Training(), True)
    assert [p for p, _ in phases] == ["dX", "dW"]                    # dA, dB; no update
    assert all(op.pe_macs == mm.macs and op.weight_is_activation for _, op in phases)
    # before the first layer with weights neither of its inputs needs a gradient
    assert backward_ops(mm, EYERISS, Training(), False) == []


def test_the_loss_is_a_softmax_cross_entropy_on_the_last_layer():
    fc = linear("fc", 64, 10, N=4)
    phases = backward_ops(fc, EDGE, Training(), True, last=True)
    assert [p for p, _ in phases] == ["loss", "dX", "dW", "dW", "update", "update"]
    loss = phases[0][1]
    # 4 rows of 10 logits (8-bit) in, 4 x 10 16-bit dY out, in bytes
    assert (loss.read_elements, loss.write_elements, loss.bits) == (40, 80, 8)
    assert loss.ops == {"max": 4 * 9, "add": 4 * 29, "exp": 40, "div": 40}


def test_unknown_optimizer_is_refused():
    with pytest.raises(SpecError, match="unknown optimizer 'foo'; choose from sgd, adam"):
        Training(optimizer="foo")


def test_peak_memory_against_a_hand_count():
    """conv 3->8 on 8x8 (3x3), relu, linear 512->10 on edge_tiny (8-bit activations and
    weights), SGD with momentum: 16-bit gradients, one 32-bit state copy."""
    layers = [conv("c", 3, 8, 8), vector("r", "relu", 8, 8, 8), linear("fc", 512, 10)]
    weights = [216 * 8, 0, 5120 * 8]                  # weight_storage_bits
    # inference: the weights (5,336 B) and the largest input + output pair (relu: 512 + 512)
    assert peak_memory(layers, weights, EDGE, None) == [5336 + 192 + 512, 5336 + 1024,
                                                        5336 + 512 + 10]
    # weights and biases (8 + 10, 32-bit: 72 B), the gradients and momentum of both (5,354)
    static = 5336 + 72 + 5354 * (16 + 32) // 8
    # kept for the backward: the conv's input (192 B), the relu's (512), the fc's (512)
    conv_fwd, conv_bwd = static + 192 + 512, static + 192 + 8 * 64 * 2       # + dY, no dX
    relu_fwd, relu_bwd = static + 192 + 512 + 512, static + 704 + 1024 + 1024
    fc_fwd, fc_bwd = static + 704 + 512 + 10, static + 1216 + 20 + 1024
    assert peak_memory(layers, weights, EDGE, Training()) == [
        max(conv_fwd, conv_bwd), max(relu_fwd, relu_bwd), max(fc_fwd, fc_bwd)]
    adam = peak_memory(layers, weights, EDGE, Training(optimizer="adam"))
    assert adam[1] == relu_bwd + 5354 * 32 // 8       # a second state copy
    assert math.isclose(max(adam), relu_bwd + 5354 * 4)
    # a layer that says it has no bias
    nobias = [Layer(**{**vars(layers[0]), "bias": False}), *layers[1:]]
    assert peak_memory(nobias, weights, EDGE, Training())[1] == relu_bwd - 8 * (4 + 6)


def test_a_phase_whose_taps_read_only_padding_has_no_op():
    """H = 4, R = 3, stride 3, dilation 2, one row of padding before, P = 1: dX rows 2 and 5
    would read dY row 1, past dY's one row, so phase 2 has a zero gradient and no op; phase
    0 (rows 0 and 3: dY rows -1 and 0) and phase 1 (row 1: dY row 0) remain."""
    phases = axis_phases(4, 1, 3, 3, 1, 2)
    assert [(outputs, taps) for outputs, taps, *_ in phases] == [(2, 1), (1, 1)]
    assert all(crop + length <= 1 for *_, crop, length, _ in phases)


def test_a_layer_says_whether_it_has_a_bias():
    """Layer.bias: None (a layer with weights has one), False (none: no dBias, no update of
    it); a layer without weights cannot have one."""
    c = conv("c", 3, 8, 8)
    named = [op.name for _, op in backward_ops(c, EDGE, Training(), False)]
    assert named == ["c.dW", "c.dBias", "c.update", "c.bias_update"]
    plain = Layer(**{**vars(c), "bias": False})
    assert [op.name for _, op in backward_ops(plain, EDGE, Training(), False)] == [
        "c.dW", "c.update"]
    assert plain.shape()["bias"] is False and "bias" not in c.shape()
    with pytest.raises(SpecError, match="a vector layer has no weights, hence no bias"):
        Layer(**{**vars(vector("r", "relu", 8, 8, 8)), "bias": True})
    with pytest.raises(SpecError, match="bias must be true or false, not 'yes'"):
        Layer(**{**vars(c), "bias": "yes"})
