"""NISP channel pruning (`nisp`): the pruned ResNet-18 against a formula, its shapes chained
and its residual groups pruned alike, a per-layer YAML, the network rewrite on other shapes
(a depthwise conv, a flattening fc, a grouped conv), and bad input (one line, exit 2)."""

import json

import pytest

import dlaforge
from dlaforge.cli import main
from dlaforge.workloads.layer import conv, linear
from dlaforge.workloads.methods import METHODS
from dlaforge.workloads.networks import Network, load_network

PRUNE = METHODS["nisp"].network_transform
RESNET18 = load_network("resnet18")


def _by_name(network):
    return {layer.name: layer for layer in network.layers}


def _resnet18_input(name: str) -> str | None:
    """The layer whose output `name` reads in ResNet-18, written out from its structure: the
    previous layer's, a downsample's the block input (the layer before the block's conv1)."""
    names = [layer.name for layer in RESNET18.layers]
    i = names.index(name)
    if name == "conv1":
        return None
    if name.endswith("downsample"):
        return names[names.index(name.replace("downsample", "conv1")) - 1]
    return names[i - 1]


def test_resnet18_at_half_keeps_half_of_every_channel_but_the_image_and_the_classes():
    pruned = PRUNE(RESNET18, {"prune": 0.5})
    expected = 0
    for layer in RESNET18.layers:
        C = layer.C if layer.name == "conv1" else layer.C // 2
        K = layer.K if layer.name == "fc" else layer.K // 2
        expected += layer.N * K * C * layer.P * layer.Q * layer.R * layer.S
    assert pruned.macs == expected == 483_149_824
    layers = _by_name(pruned)
    for name, layer in layers.items():          # the shapes chain
        producer = _resnet18_input(name)
        assert layer.C == (3 if producer is None else layers[producer].K), name
    for stage in (2, 3, 4):                     # residual groups: the adds meet alike
        reader = layers[f"layer{stage + 1}.0.conv1" if stage < 4 else "fc"]
        assert layers[f"layer{stage}.0.conv2"].K == layers[f"layer{stage}.0.downsample"].K \
            == layers[f"layer{stage}.1.conv2"].K == reader.C


def test_a_yaml_of_per_layer_fractions_prunes_each_group_once(tmp_path):
    (tmp_path / "keep.yaml").write_text(
        "default: 1\nlayers: {layer1.0.conv1: 0.25, layer2.1.conv2: 0.5}\n")
    layers = _by_name(PRUNE(RESNET18, {"prune": str(tmp_path / "keep.yaml")}))
    assert (layers["layer1.0.conv1"].K, layers["layer1.0.conv2"].C) == (16, 16)
    assert layers["layer1.0.conv2"].K == 64                 # the default, 1
    # layer2.1.conv2 names the residual group of stage 2: its adds' operands and readers
    group = ("layer2.0.conv2", "layer2.0.downsample", "layer2.1.conv2")
    assert [layers[name].K for name in group] == [64, 64, 64]
    assert [layers[name].C for name in ("layer2.1.conv1", "layer3.0.conv1",
                                        "layer3.0.downsample")] == [64, 64, 64]
    assert layers["layer2.1.conv1"].K == 128 and layers["fc"].K == 1000


def test_a_depthwise_conv_follows_its_input_and_a_flattened_fc_its_conv():
    layers = (conv("stem", 3, 16, 16), conv("blk.pw", 16, 32, 16, R=1),
              conv("blk.dw", 32, 32, 16, groups=32), conv("blk.pw2", 32, 48, 16, R=1),
              conv("g", 48, 64, 8, groups=4), linear("fc", 64 * 4 * 4, 10))
    pruned = PRUNE(Network("small", layers), {"prune": 0.3})
    stem, pw, dw, pw2, grouped, fc = pruned.layers
    assert (stem.C, stem.K) == (3, 5)                       # ceil(0.3 * 16)
    assert (pw.C, pw.K) == (5, 10) and (dw.C, dw.K, dw.groups) == (10, 10, 10)
    assert pw2.C == 10 and pw2.K == 16                      # ceil(14.4) up to groups' multiple
    assert (grouped.C, grouped.K, grouped.groups) == (16, 20, 4)
    assert (fc.C, fc.K) == (20 * 16, 10)                    # 16 features per kept channel


def test_an_inverted_residual_adds_to_its_input(tmp_path):
    layers = (conv("stem", 3, 24, 16), conv("b1.expand", 24, 96, 16, R=1),
              conv("b1.dw", 96, 96, 16, groups=96), conv("b1.project", 96, 24, 16, R=1),
              linear("fc", 24, 10))
    net = Network("irb", layers)
    (tmp_path / "keep.yaml").write_text("layers: {b1.project: 0.5, stem: 0.25}\n")
    with pytest.raises(dlaforge.SpecError, match="pruned alike"):
        PRUNE(net, {"prune": str(tmp_path / "keep.yaml")})
    pruned = _by_name(PRUNE(net, {"prune": 0.5}))
    assert pruned["b1.project"].K == pruned["stem"].K == pruned["fc"].C == 12
    assert pruned["b1.expand"].K == pruned["b1.dw"].K == pruned["b1.project"].C == 48


@pytest.mark.parametrize("model", ["analytical", "cycle"])
def test_resnet18_runs_pruned_on_both_models(model):
    record = dlaforge.simulate("edge_tiny", "resnet18", model=model, method="nisp",
                               method_options={"prune": "0.5"})
    base = dlaforge.simulate("edge_tiny", "resnet18", model=model)
    assert record.totals.macs == 483_149_824 == record.totals.ops["mult"]
    assert record.totals.cycles < base.totals.cycles / 3
    assert record.layers[1].shape["C"] == 32


def _cli(tmp_path, *extra):
    return main(["simulate", "--arch", "edge_tiny", "--network", "resnet18", "--quiet",
                 "--method", "nisp", *extra])


@pytest.mark.parametrize("prune, message", [
    ("0", "--prune 0: the fraction of channels kept must be in (0, 1], not 0.0"),
    ("1.5", "must be in (0, 1], not 1.5"),
    ("nan", "must be in (0, 1]"),
    ("-0.5", "must be in (0, 1]"),
    ("missing.yaml", "does not exist"),
    ({"layers": {"conv9": 0.5}}, "'conv9' is not a conv or fully-connected layer"),
    ({"layers": {"layer1.0.conv1": 2}}, "layer 'layer1.0.conv1': the fraction"),
    ({"layers": {"fc": 0.5}}, "layer 'fc' are never pruned"),
    ({"layers": {"layer2.0.conv2": 0.5, "layer2.1.conv2": 0.25}}, "pruned alike"),
    ({"layers": ["conv1"]}, "`layers` must map layer names"),
    ("!!python/object/apply:os.system ['echo owned']", "is not valid YAML"),
    ("a: [1, *b]", "is not valid YAML"),
    ("[1, 2]", "a pruning file is a mapping"),
])
def test_bad_prune_input_is_one_line_and_exit_2(tmp_path, capsys, prune, message):
    if isinstance(prune, dict):
        (tmp_path / "p.yaml").write_text(json.dumps(prune))
        prune = str(tmp_path / "p.yaml")
    elif prune.startswith(("!!", "a:", "[")):
        (tmp_path / "p.yaml").write_text(prune)
        prune = str(tmp_path / "p.yaml")
    assert _cli(tmp_path, "--prune", prune) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_prune_is_refused_for_a_method_that_does_not_take_it(capsys):
    assert main(["simulate", "--arch", "edge_tiny", "--network", "resnet18", "--quiet",
                 "--prune", "0.5"]) == 2
    assert capsys.readouterr().err.strip() == \
        "dlaforge: error: --prune is not an option of method 'baseline' (its options: none)"


def test_a_saved_record_is_rebuilt_from_its_pruned_layers():
    """report_driver rebuilds a record's layers from their shapes: a nisp record's are the
    pruned ones, so its compulsory DRAM bytes are the pruned network's (not pruned twice)."""
    from dlaforge.arch import load_arch
    from dlaforge.report_driver import compulsory_dram_bytes
    from dlaforge.stats import RunRecord
    spec = load_arch("edge_tiny")
    record = dlaforge.simulate(spec, "resnet18", method="nisp")          # the default, 0.5
    saved = RunRecord.from_json(json.loads(json.dumps(record.to_json())))
    assert record.method_options == saved.method_options == {"prune": 0.5}   # it says so
    rebuilt = compulsory_dram_bytes(saved, spec)
    pruned = PRUNE(RESNET18, {"prune": 0.5})
    assert rebuilt == tuple(sum(sum(op.compulsory_dram_bytes())
                                for op in METHODS["baseline"].transform(layer, spec))
                            for layer in pruned.layers)


def test_a_vanishing_fraction_keeps_one_channel_per_layer():
    """--prune 1e-300 keeps at least one channel (one group) of every pruned layer instead of
    pruning a layer away."""
    record = dlaforge.simulate("edge_tiny", "resnet18", method="nisp",
                               method_options={"prune": "1e-300"})
    assert min(layer.shape["K"] for layer in record.layers) >= 1
    assert record.layers[1].shape["K"] == 1 and record.layers[-1].shape["K"] == 1000
