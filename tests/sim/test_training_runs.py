"""`--phase train` through the models (sim/run.py): nominal MACs, the per-op breakdown, every
layer kind's backward priced by the analytical and cycle models, peak memory in the record."""

import json

import pytest

import dlaforge
from dlaforge.errors import SpecError
from dlaforge.stats import RunRecord
from dlaforge.workloads.layer import Layer, conv, linear, matmul, vector
from dlaforge.workloads.networks import Network, load_network

SMALL_CSV = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
             "Num Filter, Strides,\n"
             "conv1, 16, 16, 3, 3, 3, 8, 1,\n"
             "conv2, 16, 16, 3, 3, 8, 16, 2,\n"
             "conv3, 7, 7, 1, 1, 16, 16, 1,\n")


def _first_weighted(net):
    return next(layer for layer in net.layers if layer.kind not in ("vector", "matmul"))


@pytest.mark.parametrize("network", ["resnet18", "mobilenet_v2", "small.csv"])
@pytest.mark.parametrize("batch", [1, 4])
def test_train_macs_are_three_forwards_less_the_first_layers_dx(network, batch, tmp_path):
    if network.endswith(".csv"):
        (tmp_path / network).write_text(SMALL_CSV)
        network = str(tmp_path / network)
    infer = dlaforge.simulate("edge_tiny", network, batch=batch)
    train = dlaforge.simulate("edge_tiny", network, batch=batch, phase="train")
    first = _first_weighted(load_network(network, batch))
    assert train.totals.macs == 3 * infer.totals.macs - first.macs
    assert infer.totals.macs == load_network(network, batch).macs
    # per layer: the ops of the training iteration, named by phase, summing to the record
    for layer in train.layers:
        ops = layer.mapping["ops"]
        expected = ["forward", "dW", "update"] if layer.name == first.name else \
            ["forward", "dX", "dW", "update"]
        if layer is train.layers[-1]:
            expected.insert(1, "loss")                  # the loss starts the backward
        assert [p for i, p in enumerate(o["phase"] for o in ops)
                if i == 0 or ops[i - 1]["phase"] != p] == expected
        assert sum(o["cycles"] for o in ops) == layer.stats.cycles
        assert sum(o["energy_pj"] for o in ops) == pytest.approx(layer.stats.energy_pj)
        assert sum(o["pe_ops"] for o in ops) == layer.stats.pe_ops
    assert train.phase == "train" and train.training["optimizer"] == "sgd"
    assert train.peak_memory_bytes > infer.peak_memory_bytes > 0


def _every_kind() -> Network:
    tconv = Layer(name="up", kind="transposed_conv", K=4, C=8, H=4, W=4, P=8, Q=8, R=3, S=3,
                  stride=2, padding=1)
    return Network("kinds", (
        conv("c1", 3, 8, 8), vector("r1", "relu", 8, 8, 8),
        Layer(name="pool", kind="vector", op="maxpool", C=8, K=8, H=8, W=8, P=4, Q=4, R=2, S=2,
              stride=2),
        conv("dw", 8, 8, 4, groups=8), conv("grp", 8, 8, 4, groups=2), conv("pw", 8, 8, 4, R=1),
        tconv, Layer(name="proj", kind="gemm", K=8, C=16, P=4, Q=1, H=4, W=1),
        matmul("scores", P=4, C=8, K=4), vector("add", "add_tensors", 4, 4, 1),
        linear("fc", 16, 10)))


@pytest.mark.parametrize("model", ["analytical", "cycle"])
def test_every_layer_kind_trains_on_the_models(model):
    net = _every_kind()
    infer = dlaforge.simulate("edge_tiny", net, model=model)
    train = dlaforge.simulate("edge_tiny", net, model=model, phase="train", optimizer="adam")
    assert train.totals.macs == 3 * infer.totals.macs - net.layers[0].macs
    phases = {layer.name: [o["phase"] for o in layer.mapping["ops"]] for layer in train.layers}
    # dW and the update each followed by the biases' (dBias, bias_update)
    assert phases["c1"] == ["forward", "dW", "dW", "update", "update"]
    assert phases["r1"] == ["forward", "dX"] and phases["add"] == ["forward", "dX"]
    assert phases["scores"] == ["forward", "dX", "dW"]            # dA, dB; no weights
    assert phases["up"] == ["forward", "dX", "dW", "dW", "update", "update"]
    assert phases["fc"] == ["forward", "loss", "dX", "dW", "dW", "update", "update"]
    assert train.totals.cycles > 2 * infer.totals.cycles
    assert train.totals.energy_breakdown_pj["units"] > infer.totals.energy_breakdown_pj.get(
        "units", 0)                                               # the updates, the vector dX
    # analytical and cycle models agree on what they price
    assert all(layer.stats.pe_ops for layer in train.layers if layer.kind != "vector")


def test_records_round_trip_and_old_records_load(tmp_path):
    train = dlaforge.simulate("edge_tiny", _every_kind(), phase="train")
    data = json.loads(json.dumps(train.to_json()))
    assert data["phase"] == "train" and data["totals"]["peak_memory_bytes"] == max(
        layer["peak_memory_bytes"] for layer in data["layers"])
    again = RunRecord.from_json(data)
    assert again.to_json() == data
    old = dict(data, layers=[{k: v for k, v in layer.items() if k != "peak_memory_bytes"}
                             for layer in data["layers"]])
    del old["phase"], old["training"]
    loaded = RunRecord.from_json(old)
    assert loaded.phase == "infer" and loaded.peak_memory_bytes is None
    assert "peak_memory_bytes" not in loaded.to_json()["totals"]


def test_infer_records_keep_their_form_and_gain_peak_memory():
    record = dlaforge.simulate("edge_tiny", _every_kind())
    assert record.phase == "infer" and record.training == {}
    assert "ops" not in record.layers[0].mapping                  # one op: its mapping as is
    assert record.peak_memory_bytes == max(layer.peak_memory_bytes for layer in record.layers)


@pytest.mark.parametrize("kwargs, message", [
    (dict(phase="foo"), "unknown phase 'foo'; choose from infer, train"),
    (dict(phase="train", optimizer="foo"), "unknown optimizer 'foo'"),
    (dict(optimizer="foo"), "unknown optimizer 'foo'"),
    (dict(phase="train", schedule="rtl"), "--phase train runs on the analytical and cycle"),
    (dict(phase="train", model="rtl"), "not --model rtl"),
])
def test_bad_training_input_is_refused(kwargs, message):
    with pytest.raises(SpecError, match=message):
        dlaforge.simulate("edge_tiny", _every_kind(), **kwargs)


def test_every_method_trains_with_the_nominal_macs(tmp_path):
    """`macs` is nominal whatever method runs the forward: 3x less the first layer's dX, of
    the network the method runs (nisp's pruned one; the training methods, which change the
    backward itself, are tests/workloads/test_training_methods.py's)."""
    from dlaforge.workloads.methods import METHODS
    from dlaforge.workloads.training_methods import TrainingMethod, training_hooks
    (tmp_path / "small.csv").write_text(SMALL_CSV)
    net = load_network(str(tmp_path / "small.csv"), 2)
    for name, method in METHODS.items():
        if type(training_hooks(name, {})) is not TrainingMethod:
            continue
        arch = method.presets[0] if method.presets else "edge_tiny"
        train = dlaforge.simulate(arch, net, method=name, phase="train")
        forward = dlaforge.simulate(arch, net, method=name)
        nominal = forward.totals.macs       # the network's, unless the method rewrites it
        assert nominal == net.macs or METHODS[name].network_transform is not None, name
        assert train.totals.macs == 3 * nominal - forward.layers[0].stats.macs, name
        assert sum(o["energy_pj"] for layer in train.layers for o in layer.mapping["ops"]
                   if o["phase"] == "forward") == pytest.approx(forward.totals.energy_pj
                                                                - _clock(forward)), name


def _clock(record):
    """Energy priced per cycle (clock, control) on the layer totals, not on each op."""
    return sum(record.totals.energy_breakdown_pj.get(k, 0.0) for k in ("clock", "control"))


def test_the_ops_perform_the_nominal_macs(tmp_path):
    """The nominal MACs of the record are what the backward ops perform: on a 16-bit array
    (no bit slices) every dW op's PE MACs equal its layer's forward MACs, and a dX's at least
    those (its sub-convolutions also count taps that land on padding)."""
    (tmp_path / "small.csv").write_text(SMALL_CSV)
    network = load_network(str(tmp_path / "small.csv"))
    train = dlaforge.simulate("eyeriss_like", str(tmp_path / "small.csv"), phase="train")
    for layer, row in zip(network.layers, train.layers):
        performed = {}
        for op in row.mapping["ops"]:
            performed[op["phase"]] = performed.get(op["phase"], 0) + op["pe_ops"]
        assert performed["forward"] == performed["dW"] == layer.macs, layer.name
        if layer is not network.layers[0]:
            assert performed["dX"] >= layer.macs, layer.name
