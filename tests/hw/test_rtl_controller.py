"""`--model rtl` runs the mapper's program on the mapped-program controller
(dlaforge/rtl_driver.py, hw/controller/network.py) under ws, os and is: the same mapping as
`--model cycle`, and every layer's cycles, stalls, accesses and energy equal to the cycle
model's exact timing of that program. A layer the controller cannot run is refused before
anything runs, under every dataflow; no layer is refused for its length: the simulation's
cycle limit is a margin over the cycle model's total."""

import pytest

import dlaforge
import dlaforge.hw.controller.network as network_module
from dlaforge import rtl_driver
from dlaforge.arch import load_arch
from dlaforge.cli import main
from dlaforge.errors import SpecError
from dlaforge.workloads.layer import conv
from dlaforge.workloads.networks import Network, load_network
from controller_checks import CHAIN, STATS
from simulators import needs_icarus

# 3 x 5 PEs, buffers that split every layer into several tiles, a 2 byte/cycle DRAM
A3X5 = ("base: edge_tiny\nname: a3x5\npe_array: {rows: 3, cols: 5}\nmemory:\n"
        "  - {name: pe_reg, per_pe: true, size_bytes: 8, word_bits: 8,"
        " operands: [ifmap, weight, ofmap], double_buffered: false}\n"
        "  - {name: scratchpad, size_bytes: 512, word_bits: 32, operands: [ifmap, weight]}\n"
        "  - {name: accumulator, size_bytes: 640, word_bits: 128, operands: [ofmap]}\n"
        "dram: {type: LPDDR4, bandwidth_bytes_per_cycle: 2, latency_cycles: 3}\n")


@needs_icarus
@pytest.mark.parametrize("arch,batch,small", [("edge_tiny", 2, False),
                                               pytest.param("a3x5", 1, True,
                                                            marks=pytest.mark.long)])
def test_rtl_equals_the_cycle_model_under_ws(tmp_path, arch, batch, small):
    if arch == "a3x5":
        arch = tmp_path / "a3x5.yaml"
        arch.write_text(A3X5)
    measured = dlaforge.simulate(arch, CHAIN, "ws", model="rtl", batch=batch).to_json()
    modelled = dlaforge.simulate(arch, CHAIN, "ws", model="cycle", batch=batch).to_json()
    assert measured["totals"] == modelled["totals"]
    inputs = [row["mapping"].pop("input") for row in measured["layers"]]
    assert inputs[0] == "random: first layer" and inputs[1:4] == ["chained"] * 3
    assert inputs[4].startswith("random: its input 96x1x1")
    split = 0
    for rtl_row, cycle_row in zip(measured["layers"], modelled["layers"]):
        assert rtl_row["mapping"].pop("simulator") in ("icarus", "verilator")
        assert rtl_row["mapping"] == cycle_row["mapping"]       # the same program
        for key in STATS:
            assert rtl_row[key] == cycle_row[key], (rtl_row["name"], key)
        shape = rtl_row["shape"]
        outputs = shape["N"] * shape["K"] * shape["P"] * shape["Q"]
        writes = rtl_row["accesses"]["dram"]["ofmap"]["writes"]
        assert writes >= outputs and rtl_row["cycles"] > rtl_row["compute_cycles"] > 0
        tile = rtl_row["mapping"]["tile"]
        split += tile["C"] < shape["C"] // shape["groups"] and tile["K"] < shape["K"]
    # small buffers: some layer's output tiles take several passes over the channels
    assert bool(split) == small


@needs_icarus
@pytest.mark.parametrize("method", ["ghost", "nisp", "mgic"])
def test_methods_of_plain_mac_ops_run_on_the_rtl(method):
    """GhostNet (a primary conv and a cheap depthwise op per layer), NISP (the network its
    network_transform prunes, half the channels kept) and MGIC make int8 MAC ops only, which
    the baseline controller runs: `--model rtl --method M` equals `--model cycle` on every
    layer (outputs checked bit-exact inside the run)."""
    runs = {model: dlaforge.simulate("edge_tiny", CHAIN, "ws", model=model,
                                     method=method).to_json() for model in ("rtl", "cycle")}
    rtl, cycle = runs["rtl"], runs["cycle"]
    assert rtl["totals"] == cycle["totals"]
    assert rtl.get("method_options") == cycle.get("method_options")
    for rtl_row, cycle_row in zip(rtl["layers"], cycle["layers"]):
        rtl_row["mapping"].pop("input"), rtl_row["mapping"].pop("simulator")
        assert rtl_row["mapping"] == cycle_row["mapping"]
        for key in STATS + ("shape",):
            assert rtl_row[key] == cycle_row[key], (rtl_row["name"], key)
    if method == "nisp":           # the pruned network ran: fc reads half of pw's 6 x 4 x 4
        assert rtl["layers"][-1]["shape"]["C"] == 48 and rtl["method_options"]
    if method == "ghost":          # two ops per conv after the first
        assert "ops" in rtl["layers"][1]["mapping"]


def test_a_method_whose_ops_need_its_units_is_refused_naming_them(monkeypatch, tmp_path):
    monkeypatch.setattr(network_module, "run_network", lambda *a, **k: 1 / 0)
    with pytest.raises(SpecError) as refused:       # os: no plane per Winograd tap
        dlaforge.simulate("edge_tiny_winograd", CHAIN, "os", model="rtl", method="winograd_f4")
    assert str(refused.value) == ("--model rtl cannot run layer 'c1' under os: the winograd "
                                  "PEs run winograd_f4 under ws, is only")
    policy = tmp_path / "policy.yaml"       # a 4-bit layer on the int8 MAC array
    policy.write_text("layers: {c2: {weight_bits: 4, ifmap_bits: 4}}\n")
    with pytest.raises(SpecError) as refused:       # the controller's widths: no hint
        dlaforge.simulate("edge_tiny", CHAIN, "os", model="rtl", precision=str(policy))
    assert str(refused.value) == ("--model rtl cannot run layer 'c2' under os: operand "
                                  "widths other than the array's")
    with pytest.raises(SpecError) as refused:       # Bit Fusion's array: no datapath
        dlaforge.simulate("edge_tiny_bitfusion", CHAIN, "os", model="rtl", method="bitfusion")
    assert str(refused.value) == ("--model rtl cannot run layer 'c1' under os: it needs method "
                                  "bitfusion's own units, which `dlaforge rtl verify --method "
                                  "bitfusion` checks (the controller has no datapath with "
                                  "bitfusion PEs (pe_kind 'bitfusion'))")


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_a_layer_the_controller_cannot_run_is_refused_before_anything_runs(monkeypatch,
                                                                           dataflow):
    """edge_tiny's buffer halves hold 1024 ifmap and 1024 weight words: one output pixel of a
    40 x 40 window reads 40 x 40 pixels of one channel, one filter of it 40 x 40 weights."""
    def must_not_run(*args, **kwargs):
        raise AssertionError("a network with a refused layer ran")
    monkeypatch.setattr(network_module, "run_network", must_not_run)
    big = Network("big", (conv("c1", 3, 4, 6, R=3), conv("big", 4, 4, 48, R=40)))
    with pytest.raises(SpecError) as refused:
        dlaforge.simulate("edge_tiny", big, dataflow, model="rtl")
    assert str(refused.value) == (
        f"--model rtl cannot run layer 'big' under {dataflow}: the controller's smallest tile "
        f"(one filter, one channel, one output pixel) needs 1600 ifmap words (the input "
        f"window), more than the 1024 of a buffer half; 1600 weight words, more than the 1024 "
        f"of a buffer half")


def test_no_layer_is_refused_for_its_length():
    """tpu_like's ResNet-18 for two images (conv1 alone 2.6 M cycles under ws; the whole
    network 9 M) is planned to run: the simulation's limit is a quarter over the cycle
    model's total, which the plan holds."""
    arch, network = load_arch("tpu_like"), load_network("resnet18", batch=2)
    plan = rtl_driver._plan(arch, network, "ws", "baseline", "energy")
    modelled = dlaforge.simulate(arch, network, "ws", model="cycle")
    assert plan.cycles == modelled.totals.cycles > 5_000_000
    assert rtl_driver.cycle_limit(plan.cycles) > plan.cycles * 5 // 4
    assert [mapping.to_dict() for _, _, mapping in plan.ops] == \
        [row.mapping for row in modelled.layers]


@needs_icarus
def test_a_run_past_its_cycle_limit_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    """A command still busy at the limit ends the run (here a limit of 100 cycles)."""
    monkeypatch.setattr(rtl_driver, "cycle_limit", lambda expected: 100)
    csv = tmp_path / "one.csv"
    csv.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                   "Channels, Num Filter, Strides,\nc1, 6, 6, 3, 3, 3, 4, 1,\n")
    out = tmp_path / "r.json"
    assert main(["simulate", "--arch", "edge_tiny", "--network", str(csv), "--model", "rtl",
                 "--dataflow", "os", "--json", str(out)]) == 2
    assert capsys.readouterr().err == \
        "dlaforge: error: the controller did not finish in 100 cycles\n"
    assert not out.exists()
