"""`--schedule rtl`: the generated accelerator's program priced by the cycle model (its exact
timing model, held equal to the RTL in tests/hw/test_icarus.py) and by the analytical closed
form of sim/rtl_program.py. The counters are exact in both; the closed form's cycles are an
estimate whose accuracy is stated here (and in the README)."""

import numpy as np
import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.workloads.methods.accelerator_plan import RtlPlan
from dlaforge.hw.shapes import shapes
from dlaforge.sim.controller_cost import shape_of
from dlaforge.sim.cycle.rtl_timing import rtl_op_stats, rtl_timing
from dlaforge.sim.energy import energy_table
from dlaforge.sim.rtl_program import (analytical_cycles, analytical_rtl_stats, gemm_of,
                                      ifmap_beats, program_counters)
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.networks import load_network

# (preset, networks): every dataflow the RTL builds for the preset
CASES = [("edge_tiny", ("mobilenet_v2", "alexnet")), ("nvdla_small", ("mobilenet_v2", "alexnet")),
         ("gemmini_like", ("resnet18", "mobilenet_v2")), ("tpu_like", ("resnet18", "alexnet"))]


def _ops(arch, network):
    for layer in load_network(network).layers:
        yield from get_method("baseline", arch).transform(layer, arch)


def _rtl_dataflows(arch):
    return [df for df in arch.pe_array.dataflows if df != "rs"]


@pytest.mark.parametrize("requant", [False, True])
def test_closed_form_counters_equal_the_timing_models_on_corner_shapes(requant):
    arch = load_arch("edge_tiny")
    for dataflow in ("ws", "os", "is"):
        for name, gemm in shapes(4, 4).items():
            plan = RtlPlan.make(arch, dataflow, gemm, requant)
            exact = rtl_timing(arch, dataflow, gemm, requant=requant).counters
            closed = program_counters(plan, exact["cycles"], ifmap_beats(plan))
            assert closed == exact, (dataflow, name)


def test_requantized_outputs_read_parameters_and_write_ofmap_bits():
    """Per command: 3 parameter bytes per filter read, one byte per output written, and the
    parameter fetches (one per n-block) cost cycles; the loads and folds are the same."""
    arch = load_arch("edge_tiny")
    for dataflow in ("ws", "os", "is"):
        gemm = shapes(4, 4)["channels_one_more"]
        sums = rtl_timing(arch, dataflow, gemm).counters
        out = rtl_timing(arch, dataflow, gemm, requant=True).counters
        assert out["dram_read_bytes"] == sums["dram_read_bytes"] + 3 * gemm.K
        assert out["dram_write_bytes"] * 4 == sums["dram_write_bytes"] == 4 * gemm.K * gemm.M
        assert out["busy_cycles"] == sums["busy_cycles"] and out["cycles"] != sums["cycles"]


@pytest.mark.parametrize("preset,networks", CASES)
def test_analytical_estimate_of_the_rtl_program(preset, networks):
    """Counters equal; cycles: every layer within 40%, 80% of them within 5%, each network's
    total within 12%. The closed form's two-stage pipeline and per-tile averages miss how
    the loader's zero-padding writes wait behind DRAM data (modelled for ws row ends only)
    and the channel waits of mixed load/write-back steps; layers without padding are closer."""
    arch = load_arch(preset)
    bandwidth, latency = arch.dram.bandwidth_bytes_per_cycle, arch.dram.latency_cycles
    errors = []
    for network in networks:
        for dataflow in _rtl_dataflows(arch):
            exact_total = estimate_total = 0
            for op in _ops(arch, network):
                plan = RtlPlan.make(arch, dataflow, gemm_of(op), requant=True)
                exact = rtl_timing(arch, dataflow, gemm_of(op), requant=True).counters
                estimate = analytical_cycles(plan, bandwidth, latency)
                closed = program_counters(plan, estimate, ifmap_beats(plan))
                assert {**closed, "cycles": exact["cycles"]} == exact, (network, op.name)
                errors.append(estimate / exact["cycles"] - 1)
                exact_total += exact["cycles"] * op.groups
                estimate_total += estimate * op.groups
            assert abs(estimate_total / exact_total - 1) <= 0.12, (network, dataflow)
    errors = np.abs(errors)
    assert errors.max() <= 0.40
    assert (errors <= 0.05).mean() >= 0.80


def test_grouped_op_runs_one_command_per_group_and_image():
    arch = load_arch("edge_tiny")
    depthwise = next(op for op in _ops(arch, "mobilenet_v2") if op.groups > 1)
    table = energy_table(arch)
    one = rtl_timing(arch, "ws", gemm_of(depthwise), requant=True).counters
    stats = rtl_op_stats(arch, depthwise, "ws", table)
    assert gemm_of(depthwise).C == depthwise.C // depthwise.groups
    assert stats.cycles == one["cycles"] * depthwise.groups * depthwise.N
    assert stats.dram_write_bytes == one["dram_write_bytes"] * depthwise.groups
    assert stats.macs == depthwise.pe_macs


def test_the_baselines_schedule_rtl_is_the_controllers_mapped_program():
    """The baseline's generated hardware is the controller, which runs the mapper's program:
    --schedule rtl prices exactly what --schedule mapped does, and not the first accelerator's
    fixed program (which prices the same layers 2-8x slower under os)."""
    arch = load_arch("edge_tiny")
    table = energy_table(arch)
    for model in ("cycle", "analytical"):
        on_rtl, mapped = (dlaforge.simulate("edge_tiny", "mobilenet_v2", dataflow="os",
                                            model=model, schedule=schedule)
                          for schedule in ("rtl", "mapped"))
        assert on_rtl.layers == mapped.layers
    first = load_network("mobilenet_v2").layers[0]
    (op,) = get_method("baseline", arch).transform(first, arch)
    assert rtl_op_stats(arch, op, "os", table).cycles > 2 * on_rtl.layers[0].stats.cycles


def test_winograd_runs_on_the_controller_under_schedule_rtl(tmp_path):
    """Winograd's generated hardware is the controller's Winograd datapath: its 3x3 stride-1
    layer runs as one Winograd-domain command (a plane per tap, program.tap_shape), the 1x1
    layer it leaves direct in the datapath's MAC mode; under --schedule rtl the cycle model
    times both exactly and the analytical model prices them with the closed forms."""
    csv = tmp_path / "two.csv"
    csv.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                   "Channels, Num Filter, Strides,\nc3, 10, 10, 3, 3, 4, 4, 1,\n"
                   "c1, 8, 8, 1, 1, 4, 4, 1,\n")
    records = {model: dlaforge.simulate("edge_tiny_winograd", str(csv), dataflow="ws",
                                        model=model, method="winograd_f4", schedule="rtl")
               for model in ("cycle", "analytical")}
    arch = load_arch("edge_tiny_winograd")
    layers = load_network(str(csv)).layers
    (wino_op,) = get_method("winograd_f4", arch).transform(layers[0], arch)
    (direct_op,) = get_method("winograd_f4", arch).transform(layers[1], arch)
    assert (wino_op.pe_op, direct_op.pe_op) == ("winograd_f4", "mac")
    shape = shape_of(wino_op, arch)
    assert (shape.tap_side, shape.R, shape.P, shape.raw_P) == (4, 6, 2, 8)
    for cycle_row, analytical_row in zip(records["cycle"].layers,
                                         records["analytical"].layers):
        assert cycle_row.mapping["tile"]["C"] == 4        # all 4 channels: nothing spilled
        assert cycle_row.stats.dram_read_bytes == analytical_row.stats.dram_read_bytes
        assert analytical_row.stats.cycles == pytest.approx(cycle_row.stats.cycles, rel=0.1)
