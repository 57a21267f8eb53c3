"""`--model rtl` under ws runs the mapper's program on the mapped-program controller
(dlaforge/rtl_driver.py, hw/controller/network.py): the same mapping as `--model cycle`, and
every layer's cycles, stalls, accesses and energy equal to the cycle model's exact timing of
that program. A ws layer the controller cannot run, or one too long to simulate, is refused
before anything runs."""

import pytest

import dlaforge
import dlaforge.hw.controller.network as network_module
from dlaforge.arch import load_arch
from dlaforge.cli import main
from dlaforge.errors import SpecError
from dlaforge.rtl_driver import MAX_RTL_CYCLES
from dlaforge.sim.analytical import search
from dlaforge.sim.energy import energy_table
from dlaforge.workloads.layer import Layer, conv, linear
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.networks import Network, load_network
from simulators import needs_icarus

# c2 (stride 2; its last window hangs past the bottom and right edges), the depthwise dw and
# the 1x1 pw each read the previous layer's outputs; fc (a GEMM) reads fresh operands
CHAIN = Network("chain", (
    conv("c1", 3, 8, 8, R=3),
    Layer(name="c2", kind="conv2d", C=8, K=8, H=8, W=8, R=3, S=3, stride=2, P=4, Q=4),
    conv("dw", 8, 8, 4, R=3, groups=8),
    conv("pw", 8, 6, 4, R=1),
    linear("fc", 96, 10),
))
# 3 x 5 PEs, buffers that split every layer into several tiles, a 2 byte/cycle DRAM
A3X5 = ("base: edge_tiny\nname: a3x5\npe_array: {rows: 3, cols: 5}\nmemory:\n"
        "  - {name: pe_reg, per_pe: true, size_bytes: 8, word_bits: 8,"
        " operands: [ifmap, weight, ofmap], double_buffered: false}\n"
        "  - {name: scratchpad, size_bytes: 512, word_bits: 32, operands: [ifmap, weight]}\n"
        "  - {name: accumulator, size_bytes: 640, word_bits: 128, operands: [ofmap]}\n"
        "dram: {type: LPDDR4, bandwidth_bytes_per_cycle: 2, latency_cycles: 3}\n")
STATS = ("cycles", "compute_cycles", "stall_cycles", "energy_pj", "energy_breakdown_pj",
         "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes",
         "accesses", "macs", "ops", "weight_storage_bits", "utilization")


@needs_icarus
@pytest.mark.parametrize("arch,batch,small", [("edge_tiny", 2, False), ("a3x5", 1, True)])
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
        assert rtl_row["mapping"].pop("simulator") == "icarus"
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


def test_a_ws_layer_the_controller_cannot_run_is_refused_before_anything_runs(monkeypatch):
    """edge_tiny's buffer half holds 1024 ifmap words: one output row of a 3 x 3 window over
    400 columns reads 3 x 400."""
    def must_not_run(*args, **kwargs):
        raise AssertionError("a network with a refused layer ran")
    monkeypatch.setattr(network_module, "run_network", must_not_run)
    wide = Network("wide", (conv("c1", 3, 4, 6, R=3), conv("wide", 4, 4, 8, R=3, stride=4, W=400)))
    with pytest.raises(SpecError) as refused:
        dlaforge.simulate("edge_tiny", wide, "ws", model="rtl")
    assert str(refused.value) == (
        "--model rtl cannot run layer 'wide' under ws: the controller's smallest tile (one "
        "filter, one channel, one output row of 100 columns) needs 1200 ifmap words (3 input "
        "rows of 400 pixels), more than the 1024 of a buffer half")


def test_the_cycle_limit_is_the_controllers_closed_form(tmp_path, capsys):
    """tpu_like runs ResNet-18's conv1 in 1.3 M cycles under ws; two images are over the limit,
    by the estimate the mapper picked its mapping with."""
    arch, network = load_arch("tpu_like"), load_network("resnet18", batch=2)
    conv1 = get_method("baseline", arch).transform(network.layers[0], arch)[0]
    _, estimate = search(arch, conv1, "ws", "energy", energy_table(arch))
    assert estimate.cycles > MAX_RTL_CYCLES > estimate.cycles // 2
    out = tmp_path / "r.json"
    assert main(["simulate", "--arch", "tpu_like", "--network", "resnet18", "--batch", "2",
                 "--model", "rtl", "--json", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"dlaforge: error: layer 'conv1' needs {estimate.cycles} cycles on the RTL, more than "
        f"--model rtl simulates ({MAX_RTL_CYCLES}); use --model cycle, the controller's exact "
        f"timing model\n")
    assert not out.exists()
