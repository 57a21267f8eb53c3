"""`dlaforge simulate --quant Q [--pow2-scales]`: the record and the table say the quantizer,
the models price its parameter table and stage, bad input is one line and exit 2."""

import json

import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.cli import main
from dlaforge.sim.controller_stats import requant_stage_pj
from dlaforge.stats import RunRecord
from dlaforge.workloads.quantizers import NAMES, Quantizer

CSV = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
       "Num Filter, Strides,\nconv1, 10, 10, 3, 3, 16, 24, 1,\n")


@pytest.fixture
def net(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text(CSV)
    return str(path)


def test_record_and_table_say_the_quantizer(net, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["simulate", "--arch", "edge_tiny", "--network", net, "--quant",
                 "per_tensor_asymmetric", "--pow2-scales", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["quantizer"] == "per_tensor_asymmetric+pow2"
    assert RunRecord.from_json(data).quantizer == "per_tensor_asymmetric+pow2"
    assert main(["simulate", "--arch", "edge_tiny", "--network", net]) == 0
    assert "quantizer per_channel_symmetric" in capsys.readouterr().out


def test_every_quantizer_priced_alike_by_the_analytical_and_cycle_models(net):
    arch = load_arch("edge_tiny")
    outputs = 8 * 8 * 24                # the layer's outputs, each through the stage
    runs = {}
    for name in NAMES:
        for pow2 in (False, True):
            q = Quantizer.of(name, pow2)
            runs[q.name] = [dlaforge.simulate("edge_tiny", net, model=model, quant=name,
                                              pow2_scales=pow2).totals
                            for model in ("analytical", "cycle")]
            for totals in runs[q.name]:     # the stage priced outright, the default's too
                assert totals.energy_breakdown_pj["requant"] == pytest.approx(
                    outputs * requant_stage_pj(arch, q), rel=1e-12), q.name
    for q, (ana, cyc) in runs.items():
        assert (ana.dram_read_bytes, ana.dram_write_bytes) == (cyc.dram_read_bytes,
                                                               cyc.dram_write_bytes), q
        assert ana.energy_pj == pytest.approx(cyc.energy_pj, rel=1e-12)
        stage = ana.energy_breakdown_pj["requant"]
        assert stage > 0
        if q.endswith("+pow2"):         # the multiplier the stage has without pow2 is gone
            assert stage < runs[q.removesuffix("+pow2")][0].energy_breakdown_pj["requant"]
    assert (runs["per_channel_asymmetric"][0].energy_breakdown_pj["requant"]
            > runs["per_tensor_symmetric"][0].energy_breakdown_pj["requant"]
            == runs["per_channel_symmetric"][0].energy_breakdown_pj["requant"])


@pytest.mark.parametrize("extra,message", [
    (["--quant", "per_row"], "unknown quantizer 'per_row'"),
    (["--quant", "per_tensor_symmetric", "--schedule", "rtl", "--method", "winograd_f2",
      "--model", "cycle", "--arch", "edge_tiny_winograd"],
     "runs on the first accelerator, which requantizes per_channel_symmetric only"),
])
def test_bad_quantizer_is_one_line_exit_2(net, tmp_path, capsys, extra, message):
    out = tmp_path / "r.json"
    assert main(["simulate", "--arch", "edge_tiny", "--network", net, "--json", str(out),
                 *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dlaforge: error: ") and message in err
    assert not out.exists()


ADDER_NET = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
             "Num Filter, Strides,\nconv1, 10, 10, 3, 3, 16, 24, 1,\n")


@pytest.mark.parametrize("model", ["analytical", "rtl"])
def test_asymmetric_quantizer_refused_on_a_non_mac_datapath(model, tmp_path, capsys):
    path = tmp_path / "adder.csv"
    path.write_text(ADDER_NET)
    assert main(["simulate", "--arch", "edge_tiny_addernet", "--method", "addernet",
                 "--network", str(path), "--model", model,
                 "--quant", "per_tensor_asymmetric"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "runs sad PE operations" in err
    assert "zero-point bias fold holds for MAC (linear) PEs only" in err


def test_non_default_quantizer_refused_under_train(net, capsys):
    assert main(["simulate", "--arch", "edge_tiny", "--network", net, "--phase", "train",
                 "--quant", "per_tensor_symmetric"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--phase train prices the default quantizer" in err
