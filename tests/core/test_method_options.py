"""Method options: declared once per family (workloads/method_options.py), the command line's
flags built from that table, and where each option applies."""

import pytest

import dlaforge
from dlaforge.cli import _parser, main
from dlaforge.workloads.layer import conv, linear
from dlaforge.workloads.method_options import declared
from dlaforge.workloads.networks import Network

NET = Network("two", (conv("c1", 3, 8, 8), conv("c2", 8, 8, 8), linear("fc", 8 * 64, 10)))


def test_every_declared_option_is_a_simulate_flag_naming_its_methods():
    table = declared()
    assert {"prune", "filter_patch", "train_policy", "train_blocks", "compress_ratio"} \
        <= set(table)
    simulate = _parser("simulate")._subparsers._group_actions[0].choices["simulate"]
    flags = {action.option_strings[0]: action for action in simulate._actions
             if action.option_strings}
    for name, (option, methods) in table.items():
        assert option.flag in flags and all(m in flags[option.flag].help for m in methods)
    assert table["prune"][1] == ("nisp",)
    # the other commands' parser leaves them out: it imports no method family
    listing = _parser("list")._subparsers._group_actions[0].choices["simulate"]
    assert not any(a.option_strings == ["--prune"] for a in listing._actions)


def test_an_inference_method_takes_its_option_in_both_phases():
    for phase in ("infer", "train"):
        record = dlaforge.simulate("edge_tiny", NET, method="nisp", phase=phase,
                                   method_options={"prune": "0.5"})
        assert [layer.shape["K"] for layer in record.layers] == [4, 4, 10]
        assert [layer.shape["C"] for layer in record.layers] == [3, 4, 4 * 64]


@pytest.mark.parametrize("extra, message", [
    (["--method", "comet", "--prune", "0.5"],
     "--prune is not an option of method 'comet' (its options: --compress-ratio)"),
    (["--method", "nisp", "--filter-patch", "2"], "--filter-patch applies to --phase train"),
    (["--method", "nisp", "--phase", "train", "--filter-patch", "2"],
     "--filter-patch is not an option of method 'nisp' (its options: --prune)"),
    (["--method", "gradient_filter", "--filter-patch", "2"],
     "--filter-patch applies to --phase train"),
])
def test_an_option_the_method_does_not_take_there_is_one_line(capsys, extra, message):
    assert main(["simulate", "--arch", "edge_tiny", "--network", "resnet18", "--quiet",
                 *extra]) == 2
    assert capsys.readouterr().err.strip() == f"dlaforge: error: {message}"
