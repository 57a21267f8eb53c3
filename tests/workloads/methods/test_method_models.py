"""Methods on the models: `simulate --method` on the method presets with the analytical and the
cycle model, what each charges for the method's PE operations, units and stored forms, and the
refusal of an arch that lacks the method's hardware."""

import json

import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.cli import main
from dlaforge.sim.controller_cost import controller_runs
from dlaforge.sim.method_costs import unit_cycles
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.methods.common import keeps_full_precision
from dlaforge.workloads.methods.datapath import controller_datapath
from dlaforge.workloads.networks import load_network

CASES = [("edge_tiny_winograd", "winograd_f4"), ("edge_tiny_winograd", "winograd_f2"),
         ("edge_tiny_xnor", "xnor"), ("edge_tiny_smartdeal", "smartdeal"),
         ("edge_tiny_palquant", "palquant"), ("edge_tiny_palquant", "bitslice_w4a4")]
NETWORK = "alexnet"


@pytest.fixture(scope="module")
def runs():
    return {(arch, method, model): dlaforge.simulate(arch, NETWORK, method=method, model=model)
            for arch, method in CASES for model in ("analytical", "cycle")}


def _ops(arch_name, method):
    arch = load_arch(arch_name)
    chosen = get_method(method, arch)
    return [[op for op in chosen.transform(layer, arch)] for layer in load_network(NETWORK).layers]


@pytest.mark.parametrize("arch, method", CASES)
def test_both_models_charge_the_method(runs, arch, method):
    ana, cyc = runs[arch, method, "analytical"], runs[arch, method, "cycle"]
    for a, c, ops in zip(ana.layers, cyc.layers, _ops(arch, method)):
        sa, sc = a.stats, c.stats
        # the array's operations and the units' work are the same program in both models
        assert sa.ops == sc.ops and sa.weight_storage_bits == sc.weight_storage_bits
        for part in ("mac", "units"):
            assert sc.energy_breakdown_pj.get(part, 0.0) == pytest.approx(
                sa.energy_breakdown_pj.get(part, 0.0))
        # a unit's work is charged; on the generated controller only where its datapath has
        # the units (XNOR's scaling stage, SmartDeal's rebuild stage, Winograd's transform
        # stages): PalQuant's slice passes combine in the accumulator
        spec = load_arch(arch)
        on_controller = all(controller_runs(spec, op, "ws") for op in ops)
        with_units = any(controller_datapath(spec, op.pe_op).prices_units
                         or controller_datapath(spec, op.pe_op).rebuilt_bits
                         or controller_datapath(spec, op.pe_op).tap_transform is not None
                         for op in ops if on_controller and op.pe_op != "mac")
        assert sa.energy_breakdown_pj.get("units", 0.0) > 0 or on_controller or all(
            not op.ops.keys() - {"mult", "add", "direct_conv_fallback"} for op in ops)
        assert (sa.energy_breakdown_pj.get("units", 0.0) > 0) == with_units or not on_controller
        # DRAM moves the method's stored form: never below each tensor once, in both models
        read = sum(op.compulsory_dram_bytes()[0] for op in ops)
        write = sum(op.compulsory_dram_bytes()[1] for op in ops)
        for s in (sa, sc):
            assert s.dram_read_bytes >= read - 1 and s.dram_write_bytes >= write - 1
        # the same schedule: the event model's DRAM traffic is the closed form's, halos aside
        assert sc.dram_read_bytes == pytest.approx(sa.dram_read_bytes, rel=0.03)
        assert sc.dram_write_bytes == pytest.approx(sa.dram_write_bytes, rel=0.03)
        # a unit slower than the array stretches the layer in both models (the spec's unit;
        # the controller's stages are timed as built: the rebuild stage a weight word a cycle
        # per load, the transform stages a word a cycle)
        rebuilt = on_controller and any(controller_datapath(spec, op.pe_op).rebuilt_bits
                                        or controller_datapath(spec, op.pe_op).tap_transform
                                        is not None for op in ops if op.pe_op != "mac")
        busy = sum(unit_cycles(load_arch(arch), op) for op in ops)
        assert rebuilt or (sa.cycles >= busy and sc.cycles >= busy)


def test_methods_change_what_the_array_does(runs):
    base = dlaforge.simulate("edge_tiny", NETWORK)
    wino = runs["edge_tiny_winograd", "winograd_f4", "analytical"].totals
    assert wino.macs == base.totals.macs and wino.ops["mult"] < base.totals.ops["mult"]
    xnor = runs["edge_tiny_xnor", "xnor", "analytical"].totals
    kept = sum(layer.macs for layer in load_network(NETWORK).layers if keeps_full_precision(layer))
    assert xnor.ops["xnor_bits"] > 0 and xnor.ops["mult"] == kept < base.totals.ops["mult"] / 4
    xnor_layers = runs["edge_tiny_xnor", "xnor", "analytical"].layers
    for layer, x, b in zip(load_network(NETWORK).layers, xnor_layers, base.layers):
        ratio = x.stats.weight_storage_bits / b.stats.weight_storage_bits
        # 1-bit signs (packed in 64-bit words) and α against int8; first conv and FC stay int8
        assert ratio == 1 if keeps_full_precision(layer) else ratio < 1 / 4


@pytest.mark.parametrize("model", ["analytical", "cycle"])
@pytest.mark.parametrize("arch, method, needs", [
    ("tpu_like", "xnor", "needs a PE array of kind xnor"),
    ("edge_tiny", "winograd_f4", "needs the unit winograd_transform"),
    ("edge_tiny_xnor", "smartdeal", "needs a PE array of kind mac"),
    ("edge_tiny_winograd", "palquant", "needs the unit slice_combine"),
])
def test_cli_refuses_a_method_the_arch_cannot_run(tmp_path, capsys, model, arch, method, needs):
    out = tmp_path / "r.json"
    code = main(["simulate", "--arch", arch, "--network", "resnet18", "--method", method,
                 "--model", model, "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and not out.exists()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dlaforge: error: ") and needs in lines[0]


def test_cli_writes_a_method_record(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["simulate", "--arch", "edge_tiny_xnor", "--network", NETWORK, "--method", "xnor",
                 "--model", "cycle", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert (data["method"], data["model"]) == ("xnor", "cycle")
    assert data["totals"]["ops"]["popcount"] > 0 and "units" in data["totals"]["energy_breakdown_pj"]
    assert "units uJ" in capsys.readouterr().out


def test_method_energies_follow_the_arch_node(tmp_path):
    from dlaforge.sim.energy import energy_table, technology_factor
    from dlaforge.sim.method_costs import node_factor, unit_op_pj
    tpu = load_arch("tpu_like_winograd")
    assert node_factor(tpu) == technology_factor(28)
    # eyeriss_like (65 nm, outside the scaling table) gives its own MAC energy: a method's
    # operations keep their 45 nm ratio to that MAC
    path = tmp_path / "ey.yaml"
    path.write_text("base: eyeriss_like\nunits:\n  winograd_transform:\n    ops_per_cycle: 64\n")
    ey = load_arch(path)
    ratio = unit_op_pj(ey)["wino_in_add"] / energy_table(ey).mac_pj
    at_45nm = unit_op_pj(load_arch("edge_tiny_winograd"))["wino_in_add"]
    assert ratio == pytest.approx(at_45nm / (0.2 * 16 * 16 / 64 + 0.1 * 16 / 32))
