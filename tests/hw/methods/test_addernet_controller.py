"""AdderNet on the mapped-program controller (issue 14's pilot: the PE swap and the MAC mode):
the controller built with the adder datapath (workloads/methods/addernet/plan.CONTROLLER_DATAPATH,
dual adder/MAC PEs in its array) runs adder layers and, in its MAC mode (the command's `mode`),
the int8 MAC layers an AdderNet keeps, under ws, os and is, outputs bit-exact against
adder_conv_int (a zero-padded tap counts -|0 - w|) or conv2d_int and every counter equal to
the exact timing model; the models price both on the controller (energy at the adder PE's
"sad" figure or the MAC's) and refuse MAC layers on a datapath without a MAC mode.

Amaranth: one ws layer whose last channel tile is shorter than the first (the lanes past it
are stale in the ifmap buffer: the ws fold must mask them, |a - 0| != 0; the MAC's unmasked
feed gets it wrong).
Icarus: one free-running build holding random adder layers and MAC-mode layers under the three
dataflows; `simulate --model rtl --method addernet` on a network with an int8 first conv and FC
equal to `--model cycle`."""

from dataclasses import replace

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.controller.free_run import run_free
from dlaforge.hw.controller.run import run_amaranth
from dlaforge.hw.controller.stimulus import ControllerJob
from dlaforge.program import CONTROLLER_DATAFLOWS, LOOP_ORDERS, Mapping, Shape, fits
from dlaforge.sim import controller_cost
from dlaforge.sim.cycle.controller_timing import controller_counters
from dlaforge.sim.energy import energy_table
from dlaforge.sim.methods.addernet import sad_pj
from dlaforge.workloads.hwop import HwOp
from dlaforge.workloads.methods.addernet.plan import CONTROLLER_DATAPATH as ADDER
from dlaforge.workloads.methods import datapath as datapath_module
from dlaforge.workloads.methods.datapath import BASELINE, controller_datapath
from controller_checks import assert_network_matches, assert_run_matches, random_window
from simulators import needs_icarus

ARCH = load_arch("edge_tiny_addernet")       # os first (the first accelerator's), ws, is


def check(result, job):
    assert_run_matches(result, job)


def test_the_datapath_is_found_by_pe_kind_and_pe_op():
    assert set(ARCH.pe_array.dataflows) == set(CONTROLLER_DATAFLOWS)
    assert controller_datapath(load_arch("edge_tiny")) is BASELINE
    assert controller_datapath(ARCH, "sad") is ADDER
    assert controller_datapath(ARCH, "mac") is ADDER         # its MAC mode
    assert ADDER.pe_ops == ("sad", "mac") and ADDER.mode_of("mac") == 1
    assert controller_datapath(ARCH, "xnor_popcount") is None
    with pytest.raises(ValueError, match="not pe_op 'sign_add'"):
        ADDER.mode_of("sign_add")
    shape, mapping = Shape(1, 2, 3, 3, 2, 1, 1, 3, 3, 1, 0), Mapping(2, 2, 3, "nckp")
    with pytest.raises(SpecError, match="runs sad, mac, not pe_op 'sign_add'"):
        ControllerJob.random(ARCH, shape, mapping, np.random.default_rng(0), datapath=ADDER,
                             pe_op="sign_add")
    with pytest.raises(SpecError, match="MAC PEs only"):
        ControllerJob.random(ARCH, shape, mapping, np.random.default_rng(0))


def test_ws_masks_the_lanes_past_a_short_channel_tile_in_amaranth():
    """C = 11 in tiles of 4, 4 and 3 channels under ws: the fourth ifmap lane of the third
    tile (in the buffer half of the first) still holds the first tile's channel 3 and must not
    reach the adders (a MAC is saved by
    the zero weight row, |a - 0| is not); padded taps count -|0 - w|; the raw sums."""
    rng = np.random.default_rng(11)
    job = ControllerJob.random(ARCH, Shape(1, 11, 3, 3, 2, 3, 3, 3, 3, 1, 1),
                               Mapping(2, 4, 3, "nckp"), rng, dataflow="ws", datapath=ADDER)
    check(run_amaranth(job), job)
    stale = replace(ADDER, zero_weight_idle=True)       # the MAC's unmasked feed
    unmasked = replace(job, datapath=stale)
    assert not np.array_equal(run_amaranth(unmasked).output, job.expected())


def test_random_adder_networks_draw_no_relu():
    """ControllerNetworkJob.random (the rtl model's networks) puts no ReLU after an adder
    layer (its sums are never positive: it would zero every output), so every chained layer
    reads varied inputs and every layer's outputs vary."""
    from dlaforge.hw.controller.network import ControllerNetworkJob, LayerSpec
    specs = [LayerSpec(name, Shape(1, C, 6, 6, K, 3, 3, 6, 6, 1, 1), Mapping(K, C, 6, "nckp"))
             for name, C, K in (("a", 3, 4), ("b", 4, 5), ("c", 5, 3))]
    net = ControllerNetworkJob.random(ARCH, specs, np.random.default_rng(0), ADDER)
    assert [layer.input_note for layer in net.layers][1:] == ["chained", "chained"]
    for layer, want in zip(net.layers, net.expected()):
        assert not layer.job.requant.relu
        assert np.count_nonzero(want) >= want.size / 2 and len(np.unique(want)) > 1


def adder_op(N, C, H, W, K, R, S, stride, padding):
    pe = ARCH.pe_array
    P, Q = (H + 2 * padding - R) // stride + 1, (W + 2 * padding - S) // stride + 1
    return HwOp(name="adder", N=N, K=K, C=C, P=P, Q=Q, R=R, S=S, H=H, W=W, stride=stride,
                padding=padding, groups=1, ifmap_bits=pe.ifmap_bits, weight_bits=pe.weight_bits,
                psum_bits=pe.psum_bits, ofmap_bits=pe.ofmap_bits, pe_op="sad",
                ops={"sub": 1, "abs": 1, "add": 1})


@pytest.mark.parametrize("pe_op", ["sad", "mac"])
def test_the_models_price_adder_and_mac_ops_on_the_controller(pe_op):
    """controller_runs takes "sad" ops on the adder array, and MAC ops in its MAC mode; the
    cycle model's Stats come from the exact timing (the analytical's cycles within 10%, its
    counters exact), the PEs' energy at the adder's figure or the MAC's."""
    from dlaforge.sim.analytical import controller_stats, search
    from dlaforge.sim.cycle.model import native_cycle_stats
    table = energy_table(ARCH)
    op = adder_op(1, 12, 8, 8, 10, 3, 3, 1, 1)
    if pe_op == "mac":
        op = replace(op, pe_op="mac", ops={"mult": 1, "add": 1})
    pj = sad_pj(ARCH, op) if pe_op == "sad" else table.mac_pj
    for dataflow in CONTROLLER_DATAFLOWS:
        assert controller_cost.controller_runs(ARCH, op, dataflow)
        mapping, cycle = native_cycle_stats(ARCH, op, dataflow, "energy", table)[:2]
        counters = controller_counters(ARCH, controller_cost.shape_of(op, ARCH), mapping, True,
                                       dataflow=dataflow)
        assert cycle.cycles == counters["cycles"]
        assert cycle.energy_breakdown_pj["mac"] == pytest.approx(op.pe_macs * pj)
        assert cycle.ops == op.ops
        analytical = controller_stats(ARCH, op, mapping, table, dataflow=dataflow)
        assert analytical.dram_read_bytes == cycle.dram_read_bytes
        assert analytical.dram_write_bytes == cycle.dram_write_bytes
        assert abs(analytical.cycles - cycle.cycles) <= 0.1 * cycle.cycles
        assert search(ARCH, op, dataflow, "energy", table)[0] == mapping


def test_a_datapath_without_a_mac_mode_refuses_mac_layers(monkeypatch):
    monkeypatch.setattr(datapath_module, "family_datapaths",
                        lambda: (replace(ADDER, mac_mode=False),))
    mac = replace(adder_op(1, 12, 8, 8, 10, 3, 3, 1, 1), pe_op="mac", ops={})
    for dataflow in CONTROLLER_DATAFLOWS:
        assert not controller_cost.controller_runs(ARCH, mac, dataflow)
        assert ("no PE for pe_op 'mac' (the method's datapath has no MAC mode)"
                in controller_cost.controller_refusal(ARCH, mac, dataflow))


def test_the_preset_declares_where_the_int8_layers_run():
    """pe_array.full_precision: the AdderNet presets declare the PEs' MAC mode; an arch that
    declares a MAC array beside them (not built) is refused by the controller and the RTL
    model, naming the key; an unknown value is refused when the spec is read."""
    import dlaforge
    from controller_checks import CHAIN
    assert ARCH.pe_array.full_precision == "mac_mode"
    beside = replace(ARCH, pe_array=replace(ARCH.pe_array, full_precision="beside"))
    with pytest.raises(SpecError, match=r"MAC array beside the addernet PEs \(pe_array"
                                        r"\.full_precision: beside\), which the controller "
                                        r"does not build"):
        ControllerJob.random(beside, Shape(1, 2, 3, 3, 2, 1, 1, 3, 3, 1, 0),
                             Mapping(2, 2, 3, "nckp"), np.random.default_rng(0), datapath=ADDER)
    with pytest.raises(SpecError, match="cannot run layer 'c1'.*full_precision: beside"):
        dlaforge.simulate(beside, CHAIN, "ws", model="rtl", method="addernet")
    with pytest.raises(SpecError, match="unknown pe_array.full_precision 'both'; choose from "
                                        "mac_mode, beside"):
        replace(ARCH.pe_array, full_precision="both")


def random_case(rng):
    """A small random layer and a mapping that fits ARCH (edge tiles on every loop likely)."""
    while True:
        R, S, stride, pad, H, W, P, Q = random_window(rng)
        N, C, K = int(rng.integers(1, 3)), int(rng.integers(1, 10)), int(rng.integers(1, 9))
        kt, ct, pt = (int(rng.integers(1, x + 1)) for x in (K, C, P))
        order = LOOP_ORDERS[int(rng.integers(0, len(LOOP_ORDERS)))]
        qt = int(rng.integers(1, Q + 1)) if rng.random() < 0.5 else None    # column tiles
        if N * P * Q * K <= 100 and fits(ARCH, W=W, H=H, R=R, S=S, Q=Q, stride=stride, kt=kt,
                                         ct=ct, pt=pt, qt=qt, padding=pad):
            return (Shape(N, C, H, W, K, R, S, P, Q, stride, pad),
                    Mapping(kt, ct, pt, order, qt=qt))


@needs_icarus
def test_random_adder_and_mac_layers_free_running_on_icarus(tmp_path):
    """Six random adder layers (strides 1-2, padding, hanging windows, groups, N = 2, column
    tiles, spilling loop orders) under ws, os and is, then three MAC-mode layers (one per
    dataflow) on the same build: bit-exact and equal to the timing model. The ReLU asked for
    on an adder layer is dropped (the sums are never positive: it would zero every output), so
    every adder job's expected outputs vary: at least half non-zero, not all equal; a MAC job's
    differ from the adder sums of the same operands (the mode is not ignored)."""
    rng = np.random.default_rng(14)
    jobs = []
    for index in range(9):
        shape, mapping = random_case(rng)
        dataflow = CONTROLLER_DATAFLOWS[index % 3]
        jobs.append(ControllerJob.random(ARCH, shape, mapping, rng, groups=1 + (index == 4),
                                         requant=index % 2 == 0, relu=index % 4 == 0,
                                         dataflow=dataflow, datapath=ADDER,
                                         pe_op="mac" if index >= 6 else "sad"))
    for job in jobs:
        want = job.expected()
        if job.pe_op == "sad":
            assert job.requant is None or not job.requant.relu
            assert np.count_nonzero(want) >= want.size / 2 and len(np.unique(want)) > 1
        else:
            assert not np.array_equal(job.sums(), replace(job, pe_op="sad").sums())
    for job, result in zip(jobs, run_free(jobs, tmp_path, "icarus")):
        check(result, job)


@needs_icarus
@pytest.mark.parametrize("dataflow", ["ws", pytest.param("os", marks=pytest.mark.long),
                                      pytest.param("is", marks=pytest.mark.long)])
def test_an_addernet_with_int8_layers_runs_on_one_design(dataflow):
    """`simulate --model rtl --method addernet` on a network whose first conv (3 channels) and
    FC stay int8 MAC layers (the MAC mode) between adder layers (a strided conv, a depthwise
    and a 1x1): every layer's statistics equal `--model cycle`'s (the outputs are checked
    bit-exact inside the run), the analytical model's cycles within 10%."""
    assert assert_network_matches(ARCH, dataflow, "addernet") == ["c1", "fc"]


def test_rtl_generate_builds_the_controller_with_the_adder_datapath(tmp_path):
    """`rtl generate --method addernet` writes the design `--model rtl --method addernet`
    runs: the controller (dlaforge_accel) whose manifest names the adder datapath and the
    command's `mode` field with its PE operations."""
    import json
    import dlaforge
    generated = dlaforge.rtl_generate(ARCH, tmp_path, method="addernet")
    names = sorted(path.name for path in generated.files)
    assert names == ["dlaforge_accel.json", "dlaforge_accel.v"]
    info = json.loads((tmp_path / "dlaforge_accel.json").read_text())
    assert info["parameters"]["datapath"] == {"family": "addernet", "pe_ops": ["sad", "mac"]}
    assert info["command"]["pe_modes"] == ["sad", "mac"] and "mode" in info["command"]["fields"]
    baseline = dlaforge.rtl_generate("edge_tiny", tmp_path / "base")
    info = json.loads((tmp_path / "base" / "dlaforge_accel.json").read_text())
    assert "datapath" not in info["parameters"] and "mode" not in info["command"]["fields"]
    assert len(baseline.files) == 2


@pytest.mark.long
def test_rtl_verify_runs_both_pe_operations():
    """`rtl verify --method addernet`: the controller's corner-case and random layers under
    ws, os and is, each once as adder layers and once in the MAC mode, every one bit-exact and
    equal to the exact timing model."""
    import dlaforge
    lines = []
    passed, failed = dlaforge.rtl_verify(ARCH, method="addernet", progress=lines.append)
    assert failed == 0 and passed == 222
    assert sum(" sad " in line for line in lines) == sum(" mac " in line for line in lines)


def test_an_int8_layer_on_any_adder_arch_runs_in_the_mac_mode():
    """The models find a datapath by the arch's PE kind: BWN's int8 first conv on edge_tiny_bwn
    (pe_kind adder) is timed in the MAC mode of the first adder-kind datapath (AdderNet's),
    which times it as BWN's own would (the timing depends on the array, not the PE's
    operation); `--model rtl --method bwn` builds BWN's (tests/hw/methods/test_bwn_controller)."""
    from dlaforge.sim.cycle.model import native_cycle_stats
    from dlaforge.workloads.layer import conv
    from dlaforge.workloads.methods import get_method
    from dlaforge.workloads.methods.datapath import method_datapath
    arch = load_arch("edge_tiny_bwn")
    [first] = get_method("bwn", arch).transform(conv("c1", 3, 8, 8), arch)
    assert controller_datapath(arch, first.pe_op) is ADDER
    assert first.pe_op in method_datapath(arch, get_method("bwn", arch)).pe_ops
    assert controller_cost.controller_runs(arch, first, "os")
    mapping, cycle = native_cycle_stats(arch, first, "os", "energy", energy_table(arch))[:2]
    counters = controller_counters(arch, controller_cost.shape_of(first, arch), mapping, True,
                                   dataflow="os")
    assert cycle.cycles == counters["cycles"]
