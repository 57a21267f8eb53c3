"""SmartDeal's training mode (workloads/methods/smartdeal/training.py): the backward and the
update of the decomposed weights against hand formulas, and the training memory (B and Ce's
nonzeros carry gradients and state, the dense dW only its layer's backward step)."""

import math

import pytest

from dlaforge.arch import load_arch
from dlaforge.workloads.hwop import HwOp
from dlaforge.workloads.layer import conv, linear, vector
from dlaforge.workloads.methods import METHODS
from dlaforge.workloads.methods.smartdeal import sampled_counts
from dlaforge.workloads.training import Training, iteration_ops
from dlaforge.workloads.training_memory import memory_steps

EDGE = load_arch("edge_tiny_smartdeal")     # int8 array: a 16-bit gradient is two slices


def net():
    return [conv("c1", 3, 8, 8), vector("r", "relu", 8, 8, 8), conv("c2", 8, 16, 8),
            linear("fc", 1024, 10)]


def iteration(layers, method, **training):
    training = Training(method=method, **training)
    forward = [METHODS[method].transform(layer, EDGE) if layer.kind != "vector" else []
               for layer in layers]
    return training, forward, iteration_ops(layers, forward, EDGE, training)


def counts(layer):
    """(nnz of Ce, its used rows, storage bits) by the storage formula of the reference."""
    cg = layer.C // layer.groups
    nnz, rows = sampled_counts(layer.K, cg, layer.R, layer.S)
    entries = math.ceil(cg * layer.R * layer.S / 3) * 3
    return nnz, rows, nnz * 4 + layer.K * (entries + 9 * 8 + 8)


def weights(layer):
    return layer.K * layer.C * layer.R * layer.S


def by_name(phases, suffix):
    return next(op for _, op in phases if op.name.endswith(suffix))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_backward_and_update_of_the_decomposed_weights(optimizer):
    layers = net()
    _, _, smart = iteration(layers, "smartdeal", optimizer=optimizer)
    _, _, base = iteration(layers, "baseline", optimizer=optimizer)
    state_bits = {"sgd": 32, "adam": 64}[optimizer]
    per = {"sgd": {"mult": 2, "add": 2}, "adam": {"mult": 6, "add": 4, "sqrt": 1, "div": 1}}
    for i in (0, 2, 3):
        layer, nnz, rows, storage = layers[i], *counts(layers[i])
        phases = [p for p, _ in smart[i]]
        assert [op.name for p, op in smart[i] if p in ("dW", "update")] == [
            f"{layer.name}.{n}" for n in ("dW", "dCe_dB", "dBias", "update", "bias_update")]
        # the products on the array are the baseline's: dX on the rebuilt W, the dense dW
        for phase in ("dX", "dW"):
            assert sum(op.pe_macs for p, op in smart[i] if p == phase and isinstance(op, HwOp)) \
                == sum(op.pe_macs for p, op in base[i] if p == phase and isinstance(op, HwOp))
        if i > 0:       # dX rebuilds W once and moves the decomposed form (16-bit dY: 2 slices)
            dx = by_name(smart[i], ".dX")
            assert dx.ops["rebuild_shift"] == 3 * nnz
            assert dx.ops["rebuild_add"] == 3 * (nnz - rows)
            assert math.isclose(dx.dram_scale["weight"], storage / (weights(layer) * 8) / 2)
        else:
            assert "dX" not in phases
        grad = by_name(smart[i], ".dCe_dB")
        assert grad.ops == {"mult": 3 * nnz, "add": 8 * nnz}
        assert grad.read_elements == math.ceil((weights(layer) * 16 + storage) / 8)
        assert grad.write_elements == (nnz + 9 * layer.K) * 16 // 8
        update = by_name(smart[i], ".update")
        n = nnz + 9 * layer.K
        expected = {k: v * n for k, v in per[optimizer].items()}
        expected["max"] = nnz                               # rounded back to powers of two
        assert update.ops == expected
        codes = nnz * 4 + layer.K * (72 + 8)
        assert update.read_elements == math.ceil((codes + n * (16 + state_bits)) / 8)
        assert update.write_elements == math.ceil((codes + n * state_bits) / 8)


def test_training_memory_keeps_state_for_b_and_the_nonzeros_only():
    layers = net()
    training, forward, _ = iteration(layers, "smartdeal")
    stored = [sum(op.weight_storage_bits for op in ops) for ops in forward]
    assert stored == [0 if layer.kind == "vector" else counts(layer)[2] for layer in layers]
    steps = memory_steps(layers, stored, EDGE, training)
    biases = sum(layer.K for layer in layers if layer.kind != "vector")   # 32-bit, trained
    params = sum(counts(layer)[0] + 9 * layer.K for layer in layers if layer.kind != "vector")
    static = math.ceil(sum(stored) / 8) + biases * 4, \
        math.ceil((params + biases) * (16 + 32) / 8)
    for layer, step in zip(layers, steps):
        assert (step["forward"]["weights"], step["forward"]["gradients_state"]) == static
    base = memory_steps(layers, stored, EDGE, Training())
    for i in (0, 2, 3):     # the dense dW (16 bits) lives in its layer's backward step only
        assert steps[i]["backward"]["working"] - base[i]["backward"]["working"] \
            == weights(layers[i]) * 16 // 8
        assert steps[i]["forward"]["working"] == base[i]["forward"]["working"]
    assert steps[1]["backward"]["working"] == base[1]["backward"]["working"]


def test_storage_of_training_against_the_baseline():
    """Weights + gradients + state of the decomposed form against the baseline's int8
    weights with 16-bit gradients and a 32-bit momentum, on ResNet-18 (bench figure)."""
    from dlaforge.workloads.networks import load_network
    layers = load_network("resnet18").layers
    smart, base = Training(method="smartdeal"), Training()
    arch = load_arch("tpu_like_smartdeal")
    fwd = [METHODS["smartdeal"].transform(layer, arch) for layer in layers]
    stored = [sum(op.weight_storage_bits for op in ops) for ops in fwd]
    plain = [weights(layer) * 8 for layer in layers]

    def storage(steps):
        return steps[0]["forward"]["weights"] + steps[0]["forward"]["gradients_state"]

    ratio = storage(memory_steps(layers, plain, arch, base)) \
        / storage(memory_steps(layers, stored, arch, smart))
    # the synthetic (untrained) Ce is nearly dense: the saving is the bitmap-and-code form
    # of the weights only, far below the paper's 10.56x after SmartDeal's training
    assert 1.0 < ratio < 1.2


@pytest.mark.parametrize("model", ["analytical", "cycle"])
def test_a_smartdeal_training_run_on_the_models(model):
    """The nominal MACs of any training run; the rebuild unit works in the forward and again
    for dX (a layer's dX ops rebuild its W once); the record stores the decomposed weights."""
    import dlaforge
    from dlaforge.workloads.networks import Network
    layers = (conv("c1", 3, 8, 8), vector("r", "relu", 8, 8, 8), conv("c2", 8, 16, 8, stride=2),
              linear("fc", 256, 10))
    net = Network("t", layers)
    infer = dlaforge.simulate("edge_tiny_smartdeal", net, method="smartdeal", model=model)
    train = dlaforge.simulate("edge_tiny_smartdeal", net, method="smartdeal", model=model,
                              phase="train")
    assert train.totals.macs == 3 * infer.totals.macs - layers[0].macs
    shifts = {layer.name: 3 * counts(layer)[0] for layer in layers if layer.kind != "vector"}
    for layer in train.layers:
        if layer.name in shifts:
            rebuilds = 1 if layer.name == "c1" else 2          # c1 has no dX
            assert layer.stats.ops["rebuild_shift"] == rebuilds * shifts[layer.name]
    assert train.totals.weight_storage_bits == infer.totals.weight_storage_bits
