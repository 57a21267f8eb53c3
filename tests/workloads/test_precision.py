"""Per-layer precision (`--precision POLICY.yaml`, workloads/precision.py): the policy sets the
layers' widths for any method, what is stored and moved follows them, and the MAC energy is
that of the bits used (sim/method_costs.mac_width_factor)."""

import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.cli import main
from dlaforge.errors import SpecError
from dlaforge.sim.energy import energy_table
from dlaforge.workloads.layer import conv, linear
from dlaforge.workloads.networks import Network
from dlaforge.workloads.precision import apply_policy, read_policy

NET = Network("three", (conv("c1", 3, 64, 16), conv("c2", 64, 64, 16), linear("fc", 64, 10)))


def _policy(tmp_path, text):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def test_the_policy_sets_each_layers_widths(tmp_path):
    policy = read_policy(_policy(tmp_path, "default: {weight_bits: 4, ifmap_bits: 4}\n"
                                           "layers: {c1: {weight_bits: 8, ifmap_bits: 8}, "
                                           "fc: {weight_bits: 2}}\n"))
    layers = apply_policy(NET, policy).layers
    assert [(l.weight_bits, l.ifmap_bits) for l in layers] == [(8, 8), (4, 4), (2, 4)]
    assert layers[1].shape()["weight_bits"] == 4         # the record's shape says it


def test_a_narrower_layer_stores_fewer_bits_and_pays_the_mac_of_its_widths(tmp_path):
    """On tpu_like's int8 array a 4x4-bit layer stores half the weight bits and its MAC costs
    the 4x4-bit multiply (1/4 of the int8 one) plus the int8 array's accumulate."""
    path = _policy(tmp_path, "layers: {c2: {weight_bits: 4, ifmap_bits: 4}}\n")
    int8 = dlaforge.simulate("tpu_like", NET)
    narrow = dlaforge.simulate("tpu_like", NET, precision=path)
    a, b = int8.layers[1].stats, narrow.layers[1].stats
    assert b.weight_storage_bits * 2 == a.weight_storage_bits
    mult, add = 0.2, 0.1          # pJ at 45 nm: int8 multiply, int32 add (sim/energy.py)
    table = energy_table(load_arch("tpu_like"))
    assert b.energy_breakdown_pj["mac"] == pytest.approx(
        b.pe_ops * table.mac_pj * (mult / 4 + add) / (mult + add))
    assert int8.layers[0].stats == narrow.layers[0].stats      # the others are untouched


def test_bit_fusion_runs_a_2_bit_layer_on_16_lanes(tmp_path):
    path = _policy(tmp_path, "layers: {c2: {weight_bits: 2, ifmap_bits: 2}}\n")
    wide = dlaforge.simulate("tpu_like_bitfusion", NET, method="bitfusion")
    narrow = dlaforge.simulate("tpu_like_bitfusion", NET, method="bitfusion", precision=path)
    assert wide.layers[1].stats.pe_ops == 16 * narrow.layers[1].stats.pe_ops


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "a policy is a mapping"),
    ("default: {weight_bits: 0}", "weight_bits must be an integer from 1 to 32, not 0"),
    ("default: {weight_bits: true}", "weight_bits must be an integer from 1 to 32"),
    ("layers: {c2: {psum_bits: 4}}", "must map weight_bits and/or ifmap_bits"),
    ("layers: {nope: {weight_bits: 4}}", "names layer 'nope', which network"),
    ("layers: [c2]", "`layers` must map layer names to widths"),
    ("default: !!python/object/apply:os.system ['true']", "precision policy"),
])
def test_a_bad_policy_is_refused(tmp_path, text, message):
    with pytest.raises(SpecError, match=message):
        dlaforge.simulate("edge_tiny", NET, precision=_policy(tmp_path, text))


def test_the_command_line_refuses_a_wider_layer_than_the_array_in_one_line(tmp_path, capsys):
    path = _policy(tmp_path, "default: {weight_bits: 16}\n")
    assert main(["simulate", "--arch", "tpu_like", "--network", "resnet18", "--precision",
                 str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs weight_bits=16" in err


def test_bwn_moves_narrower_activations(tmp_path):
    """bwn's binarized layers read the activations at the layer's width (they were priced at
    the array's whatever the policy said)."""
    path = _policy(tmp_path, "layers: {c2: {ifmap_bits: 4}}\n")
    wide = dlaforge.simulate("edge_tiny_bwn", NET, method="bwn")
    narrow = dlaforge.simulate("edge_tiny_bwn", NET, method="bwn", precision=path)
    assert narrow.layers[1].stats.dram_read_bytes < wide.layers[1].stats.dram_read_bytes
