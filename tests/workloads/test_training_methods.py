"""The seeds' training methods (workloads/methods/{gradient_filter,sparse_update,mobiletl,
comet}): their training ops against hand formulas, their memory against hand counts, and
bad options refused with one line."""

import math
from dataclasses import replace

import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.workloads.hwop import HwOp
from dlaforge.workloads.layer import conv, linear, vector
from dlaforge.workloads.methods import METHODS
from dlaforge.workloads.training import Training, iteration_ops
from dlaforge.workloads.training_memory import input_elements, memory_steps, peak_memory

EYERISS = load_arch("eyeriss_like")     # 16-bit array: 16-bit gradients need no slices
EDGE = load_arch("edge_tiny")           # int8 array


def iteration(layers, arch, method, **options):
    training = Training(method=method, options=options)
    forward = [METHODS[method].transform(layer, arch) if layer.kind != "vector" else []
               for layer in layers]
    return training, iteration_ops(layers, forward, arch, training)


def pe_macs(phases, phase):
    return sum(op.pe_macs for p, op in phases if p == phase and isinstance(op, HwOp))


def named(phases, suffix):
    return next(op for _, op in phases if op.name.endswith(suffix))


def slices(bits, width=16):
    return math.ceil(bits / width)


# -- gradient filtering ---------------------------------------------------------------------------
@pytest.mark.parametrize("r", [2, 4])
def test_gradient_filter_backward_runs_on_the_reduced_map(r):
    """conv 4->8 (3x3) on 10x10, a stride-2 depthwise conv of 8 channels (5x5 out), and a
    conv 8->8 on 3x3, which is filtered only when its map is at least r x r."""
    layers = [conv("c1", 4, 8, 10), conv("dw", 8, 8, 10, stride=2, groups=8),
              conv("c2", 8, 8, 3)]
    _, ops = iteration(layers, EYERISS, "gradient_filter", filter_patch=r)
    act, wbits, gb = 16, 16, 16                                      # eyeriss_like: 16 bits
    # c1: dW only (the first layer needs no dX); dY 10x10 -> ceil(10/r)^2, X pooled (r x r)
    ph = math.ceil(10 / r)
    assert pe_macs(ops[0], "dX") == 0
    assert pe_macs(ops[0], "dW") == 8 * 4 * ph * ph * slices(act + int(math.log2(r * r)))
    # dw: dY 5x5 -> ceil(5/r)^2; X pooled over (2r)x(2r); dX on the 1x1 map per channel with
    # the 3x3 taps summed (16 + 4 bits: two slices)
    q = math.ceil(5 / r)
    assert pe_macs(ops[1], "dX") == 8 * q * q * slices(wbits + 4)
    assert pe_macs(ops[1], "dW") == 8 * q * q * slices(act + int(math.log2(4 * r * r)))
    assert named(ops[1], ".dX_broadcast").write_elements == 8 * 10 * 10 * gb // 8
    avg = named(ops[1], ".avg_dY")
    assert avg.ops == {"add": 8 * 5 * 5, "mult": 8 * q * q}
    # c2: a 3x3 map is filtered only when r <= 3; otherwise its backward is the baseline's
    _, plain = iteration(layers, EYERISS, "baseline")
    if r > 3:
        assert ops[2] == plain[2]
    else:
        assert pe_macs(ops[2], "dX") == 8 * 8 * 2 * 2 * slices(wbits + 4)
    # fewer PE operations than the baseline's backward, the same nominal MACs recorded
    assert sum(pe_macs(o, "dW") for o in ops) < sum(pe_macs(o, "dW") for o in plain)


def test_gradient_filter_keeps_x_pooled():
    """Memory: the conv keeps X summed over 4x4 patches (ceil(10/4)^2 cells of 8 + 4 bits)."""
    layers = [conv("c", 4, 8, 10), linear("fc", 800, 10)]
    weights = [8 * 4 * 9 * 8, 800 * 10 * 8]
    training = Training(method="gradient_filter")
    params, biases = 8 * 4 * 9 + 800 * 10, 8 + 10
    # weights, the biases (32-bit), the gradients and momentum of both
    static = params + biases * 4 + (params + biases) * (16 + 32) // 8
    kept_c = math.ceil(4 * 3 * 3 * 12 / 8)                          # pooled X of c
    kept_fc = 800                                                   # fc's input, int8
    fc_bwd = static + kept_c + kept_fc + 10 * 2 + 800 * 2           # + dY and dX of fc
    fc_fwd = static + kept_c + 800 + 10
    assert peak_memory(layers, weights, EDGE, training)[1] == max(fc_fwd, fc_bwd)
    _, ops = iteration(layers, EDGE, "gradient_filter")
    assert named(ops[0], ".pool_x").write_elements == kept_c


# -- sparse update ---------------------------------------------------------------------------------
def _net():
    return [conv("c1", 3, 8, 8), conv("c2", 8, 8, 8), conv("c3", 8, 16, 8),
            linear("fc", 16 * 64, 10)]


def test_sparse_update_default_policy_stops_the_backward(tmp_path):
    layers = _net()
    training, ops = iteration(layers, EDGE, "sparse_update")
    assert training.grad_bits == 8                                  # int8 training
    # last: 4 -> every layer; a policy of the last 2 prunes c1 and c2 entirely
    # each of dW and the update followed by the biases' (dBias, bias_update)
    assert [p for p, _ in ops[1]] == ["forward", "dX", "dW", "dW", "update", "update"]
    policy = tmp_path / "p.yaml"
    policy.write_text("last: 2\n")
    _, ops = iteration(layers, EDGE, "sparse_update", train_policy=str(policy))
    assert [p for p, _ in ops[0]] == [p for p, _ in ops[1]] == ["forward"]
    assert [p for p, _ in ops[2]] == ["forward", "dW", "dW", "update", "update"]  # no dX
    # int8: no slices on the int8 array: dW's PE MACs are the forward's MACs
    assert pe_macs(ops[2], "dW") == layers[2].macs
    assert pe_macs(ops[3], "dX") == pe_macs(ops[3], "dW") == layers[3].macs


def test_sparse_update_partial_layer_and_memory(tmp_path):
    """c3 updates half its output channels, fc none: only c3's 8 of 16 filters have gradients
    and momentum; nothing below c3 keeps an input; fc computes dX only."""
    layers = _net()
    policy = tmp_path / "p.yaml"
    policy.write_text("layers: {c3: 0.5}\n")
    training, ops = iteration(layers, EDGE, "sparse_update", train_policy=str(policy))
    assert [p for p, _ in ops[3]] == ["forward", "loss", "dX"]
    assert pe_macs(ops[2], "dW") == layers[2].macs // 2
    assert named(ops[2], ".update").ops == {"mult": 2 * 8 * 8 * 9, "add": 2 * 8 * 8 * 9}
    weights = [layer.K * layer.C * layer.R * layer.S * 8 for layer in layers]
    # every layer's biases (8 + 8 + 16 + 10, 32-bit); c3's 8 trained filters and 8 biases
    static = sum(weights) // 8 + 42 * 4 + (8 * 8 * 9 + 8) * (8 + 32) // 8
    kept_c3 = 8 * 64                                                 # c3's input, int8
    fc_bwd = static + kept_c3 + 10 + 16 * 64                        # dY, dX of fc (8 bit)
    peaks = peak_memory(layers, weights, EDGE, training)
    assert peaks[3] == max(fc_bwd, static + kept_c3 + 16 * 64 + 10)
    assert peaks[0] == static + 3 * 64 + 8 * 64          # c1 has no backward step at all


def test_sparse_update_bias_only_layers_pull_the_backward_down(tmp_path):
    """`bias_last: 3` with `last: 1`: fc's weights and biases, c3's and c2's biases only: the
    backward reaches c2 (dX from c3 down to c2's output), c2 and c3 compute dBias but no dW,
    keep no input, and only their biases (and fc's parameters) have gradients and state."""
    layers = _net()
    policy = tmp_path / "p.yaml"
    policy.write_text("last: 1\nbias_last: 3\n")
    training, ops = iteration(layers, EDGE, "sparse_update", train_policy=str(policy))
    assert [p for p, _ in ops[0]] == ["forward"]                         # below: nothing
    assert [p for p, _ in ops[1]] == ["forward", "dW", "update"]          # c2: its biases
    assert named(ops[1], ".dBias").ops == {"add": 8 * (layers[1].P * layers[1].Q - 1)}
    assert [p for p, _ in ops[2]] == ["forward", "dX", "dW", "update"]    # c3: dX, biases
    assert [op.name for _, op in ops[2] if _ == "dW"] == ["c3.dBias"]
    assert [p for p, _ in ops[3]] == ["forward", "loss", "dX", "dW", "dW", "update", "update"]
    weights = [layer.K * layer.C * layer.R * layer.S * 8 for layer in layers]
    # fc's 10x1024 weights and 10 biases, c2's 8 and c3's 16 biases: gradients (8 bit) and
    # momentum (32 bit); every layer's biases stored at 32 bits
    static = sum(weights) // 8 + 42 * 4 + (10 * 16 * 64 + 10 + 8 + 16) * (8 + 32) // 8
    steps = memory_steps(layers, weights, EDGE, training)
    assert steps[0]["backward"] is None                                  # c1: forward only
    assert [step["backward"]["kept_activations"] for step in steps[1:]] == [0, 0, 16 * 64]
    assert {step["forward"]["weights"] + step["forward"]["gradients_state"]
            for step in steps} == {static}


def test_sparse_update_biases_alone(tmp_path):
    """A policy of biases only (`bias_last: 2`): no weight is trained, the last two layers'
    biases are."""
    layers = _net()
    policy = tmp_path / "p.yaml"
    policy.write_text("bias_last: 2\n")
    _, ops = iteration(layers, EDGE, "sparse_update", train_policy=str(policy))
    assert [op.name for _, op in ops[2] + ops[3] if _ == "dW"] == ["c3.dBias", "fc.dBias"]


@pytest.mark.parametrize("text, message", [
    ("last: -1\n", "`last` must be a non-negative integer"),
    ("bias_last: x\n", "`bias_last` must be a non-negative integer"),
    ("layers: {c3: 2}\n", "the fraction updated must be in (0, 1]"),
    ("bogus: 1\n", "a policy is a mapping"),
    ("last: [\n", "is not valid YAML at line 2"),
])
def test_sparse_update_bad_policies(tmp_path, text, message):
    policy = tmp_path / "p.yaml"
    policy.write_text(text)
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Training(method="sparse_update", options={"train_policy": str(policy)})


def test_sparse_update_policy_naming_an_unknown_layer(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("last: 0\nlayers: {nope: 1}\n")
    with pytest.raises(SpecError, match="names 'nope', which is not a layer with weights"):
        iteration(_net(), EDGE, "sparse_update", train_policy=str(policy))


# -- MobileTL ------------------------------------------------------------------------------------
def _irb(i, C, E, H):
    return [conv(f"block{i}.expand", C, E, H, R=1), vector(f"block{i}.relu1", "clip", E, H, H),
            conv(f"block{i}.dw", E, E, H, groups=E), vector(f"block{i}.bn", "batchnorm", E, H, H),
            vector(f"block{i}.relu2", "clip", E, H, H), conv(f"block{i}.project", E, C, H, R=1)]


def test_mobiletl_fine_tunes_the_top_blocks_with_masks():
    layers = [conv("stem", 3, 8, 8)] + _irb(0, 8, 16, 8) + _irb(1, 8, 16, 8) + \
        [linear("fc", 8 * 64, 10)]
    training, ops = iteration(layers, EDGE, "mobiletl", train_blocks=1)
    first = 7                                                        # block1.expand
    assert all(p == "forward" for o in ops[:first] for p, _ in o)    # nothing below: no work
    assert [p for p, _ in ops[first]] == ["forward", "dW", "dW", "update", "update"]
    relu = named(ops[first + 1], ".dX")                              # mask + dY read
    assert relu.read_elements == 16 * 64 * 16 // 8 + 16 * 64 // 8
    assert named(ops[first + 3], ".dX").read_elements == 16 * 64 * 16 // 8   # bn: dY only
    weights = [(layer.K * layer.C // layer.groups * layer.R * layer.S * 8
                if layer.kind != "vector" else 0) for layer in layers]
    peaks = peak_memory(layers, weights, EDGE, training)
    trained = sum(weights[first:]) // 8                              # int8: one byte each
    biases = sum(layer.K for layer in layers if layer.kind != "vector")      # 32-bit each
    trained_biases = 16 + 16 + 8 + 10                                # block1's layers, fc
    static = sum(weights) // 8 + biases * 4 + (trained + trained_biases) * (16 + 32) // 8
    kept = [8 * 64, 16 * 64 // 8, 16 * 64, 0, 16 * 64 // 8, 16 * 64]   # block1's kept bytes
    # the fc's backward step holds every kept input, its dY and its dX
    assert peaks[-1] == static + sum(kept) + 8 * 64 + 10 * 2 + 8 * 64 * 2


def test_mobiletl_refuses_more_blocks_than_the_network_has():
    """--train-blocks is the paper's knob: a network with fewer inverted-residual blocks, or
    none, is refused rather than silently trained some other way."""
    layers = [conv("stem", 3, 8, 8)] + _irb(0, 8, 16, 8) + [linear("fc", 8 * 64, 10)]
    _, ops = iteration(layers, EDGE, "mobiletl", train_blocks=1)
    assert [p for p, _ in ops[0]] == ["forward"]                     # the stem stays frozen
    assert [p for p, _ in ops[1]] == ["forward", "dW", "dW", "update", "update"]  # expand
    with pytest.raises(SpecError, match="--train-blocks 3: the network has 1 inverted"):
        iteration(layers, EDGE, "mobiletl", train_blocks=3)
    with pytest.raises(SpecError, match="this network has none"):
        iteration(_net(), EDGE, "mobiletl")


def test_mobiletl_finds_the_blocks_of_a_numbered_block_list():
    """ghostnet's layers are blocks.N.<part>.<layer>: each N is one block, so k moves the
    first trained layer (before, every blocks.* layer was one block and k changed nothing)."""
    from dlaforge.workloads.methods.mobiletl import block_of, inverted_residual_blocks
    from dlaforge.workloads.networks import load_network
    assert block_of("blocks.3.ghost1.primary") == "blocks.3"
    assert block_of("block7.dw") == "block7" and block_of("conv_stem") is None
    layers = load_network("ghostnet").layers
    blocks = inverted_residual_blocks(layers)
    assert len(blocks) > 5 and all(layers[i].name.startswith("blocks.") for i in blocks)


# -- COMET ---------------------------------------------------------------------------------------
def test_comet_compresses_what_the_backward_keeps():
    layers = [conv("c1", 3, 8, 8), vector("r", "relu", 8, 8, 8), conv("c2", 8, 8, 8)]
    _, plain = iteration(layers, EDGE, "baseline")
    training, ops = iteration(layers, EDGE, "comet", compress_ratio=4.0)
    x = input_elements(layers[2])                                    # c2 keeps 512 int8
    assert named(ops[2], ".compress").write_elements == x // 4
    assert named(ops[2], ".compress").ops == {"add": 4 * x, "mult": x}
    assert named(ops[2], ".decompress").ops == {"add": 3 * x, "mult": x}
    dw, base = named(ops[2], ".dW"), named(plain[2], ".dW")
    assert dw.dram_scale["weight"] == pytest.approx(base.dram_scale.get("weight", 1.0) / 4)
    relu, base_relu = named(ops[1], ".dX"), named(plain[1], ".dX")
    assert base_relu.read_elements - relu.read_elements == x - x // 4
    weights = [8 * 3 * 9 * 8, 0, 8 * 8 * 9 * 8]
    gap = [a - b for a, b in zip(peak_memory(layers, weights, EDGE, Training()),
                                 peak_memory(layers, weights, EDGE, training))]
    # the last step holds the kept inputs of all three layers, each a quarter
    assert gap[-1] == (3 * 64 + 512 + 512) - (3 * 64 // 4 + 512 // 4 + 512 // 4)


@pytest.mark.parametrize("method, options, message", [
    ("comet", {"compress_ratio": 0}, "--compress-ratio must be a positive number, not 0"),
    ("comet", {"train_blocks": 2}, "--train-blocks is not an option of method 'comet'"),
    ("gradient_filter", {"filter_patch": 2.5}, "--filter-patch must be a positive integer"),
    ("mobiletl", {"train_blocks": 0}, "--train-blocks must be a positive integer, not 0"),
    ("baseline", {"compress_ratio": 2}, "its training options: none"),
])
def test_bad_training_options(method, options, message):
    with pytest.raises(SpecError, match=message):
        Training(method=method, options=options)


def test_records_round_trip_the_method_and_options():
    training = Training(method="comet", options={"compress_ratio": 2.0})
    assert Training(**training.to_dict()) == training
    assert replace(training, method="baseline", options={}).to_dict() == {
        "optimizer": "sgd", "grad_bits": 16, "state_bits": 32}


# -- whole runs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["gradient_filter", "sparse_update", "mobiletl", "comet"])
def test_runs_record_the_nominal_macs_of_what_they_compute(method):
    """A stem, two inverted-residual blocks and a classifier: gradient filtering and COMET
    compute every dX and dW (3x the forward less the stem's dX), the sparse update's last 4
    layers and MobileTL's top block only their dW, and dX above the first of them."""
    import dlaforge
    from dlaforge.workloads.networks import Network
    layers = ([conv("stem", 3, 8, 8)] + _irb(0, 8, 16, 8) + _irb(1, 8, 16, 8)
              + [linear("fc", 8 * 64, 10)])
    record = dlaforge.simulate("edge_tiny", Network("tiny_irb", tuple(layers)), method=method,
                               phase="train", method_options={"mobiletl": {"train_blocks": 1}}
                               .get(method))
    weighted = [i for i, layer in enumerate(layers) if layer.kind != "vector"]
    first = {"sparse_update": weighted[-4], "mobiletl": 7}.get(method, 0)
    forward = sum(layer.macs for layer in layers)
    dw = sum(layers[i].macs for i in weighted if i >= first)
    dx = sum(layers[i].macs for i in weighted if i > first)
    assert record.totals.macs == forward + dw + dx
    assert record.training["method"] == method
