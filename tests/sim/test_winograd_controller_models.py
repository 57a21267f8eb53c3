"""The closed forms (sim/controller_cost.py) of a Winograd-domain command (program.tap_shape,
the controller's Winograd datapaths) against the exact timing model
(sim/cycle/controller_timing.py, itself equal to the RTL in
tests/hw/methods/test_winograd_controller.py): every counter equal, the cycles within 5%, on
random layers, tilings (channel tiles too: planes spilled and read back), loop orders and both
dataflows that keep a plane per tap."""

from __future__ import annotations

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.program import COUNTERS, Mapping, tap_shape
from dlaforge.sim import controller_cost, controller_cycles
from dlaforge.sim.cycle.controller_timing import controller_counters
from dlaforge.workloads.quantizers import DEFAULT_QUANTIZER


def random_case(rng, arch):
    """A random Winograd-domain command and a mapping of it that fits (None if none was
    found in a few tries)."""
    side = int(rng.choice([2, 4]))
    shape = tap_shape(int(rng.integers(1, 3)), int(rng.integers(1, 70)),
                      int(rng.integers(1, 40)), int(rng.integers(3, 30)),
                      int(rng.integers(3, 30)), int(rng.integers(0, 2)), side)
    dataflow = str(rng.choice(["ws", "is"]))
    order = str(rng.choice(["nkcp", "npkc", "ncpk", "nkpc", "kcpn", "nckp", "ckpn"]))
    for _ in range(20):
        mapping = Mapping(int(rng.integers(1, shape.K + 1)), int(rng.integers(1, shape.C + 1)),
                          int(rng.integers(1, shape.P + 1)), order,
                          qt=int(rng.integers(1, shape.Q + 1)))
        if controller_cost.grid_fits(arch, shape, mapping.as_grid(dataflow))[0]:
            return shape, mapping, dataflow
    return None


@pytest.mark.parametrize("arch_name", ["edge_tiny_winograd", "tpu_like_winograd"])
def test_closed_form_equals_the_timing_model(arch_name):
    arch, rng = load_arch(arch_name), np.random.default_rng(len(arch_name))
    errors = []
    while len(errors) < 40:
        case = random_case(rng, arch)
        if case is None:
            continue
        shape, mapping, dataflow = case
        timed = controller_counters(arch, shape, mapping, DEFAULT_QUANTIZER, dataflow=dataflow)
        g = mapping.as_grid(dataflow)
        closed = controller_cost.counters(arch, shape, g, mapping.order, DEFAULT_QUANTIZER,
                                          dataflow)
        for name in COUNTERS[1:]:
            assert int(np.asarray(closed[name]).ravel()[0]) == timed[name], (name, shape,
                                                                              mapping)
        estimate = controller_cycles.cycles(arch, shape, g, mapping.order, DEFAULT_QUANTIZER,
                                            dataflow=dataflow)[0]
        errors.append(abs(estimate / timed["cycles"] - 1))
        assert errors[-1] <= 0.05, (shape, mapping, dataflow, estimate, timed["cycles"])
    print(f"{arch_name}: {len(errors)} cases, worst {max(errors):.4%}")


def test_a_winograd_tile_holds_its_planes_and_spills_them_between_channel_tiles():
    """The fit rules: the accumulator half holds a² planes per output, a c tile any channels;
    an output tile leaving before its last c tile spills every plane (a² x its outputs'
    sums) and reads them back."""
    arch = load_arch("edge_tiny_winograd")          # acc_half 128 words, 4 columns
    shape = tap_shape(1, 8, 4, 16, 16, 1, 4)        # F4: 36 planes; 4 x 4 tile pixels
    fits = controller_cost.grid_fits
    assert fits(arch, shape, Mapping(4, 8, 1, qt=3).as_grid("ws"))[0]          # 108 words
    assert not fits(arch, shape, Mapping(4, 8, 1, qt=4).as_grid("ws"))[0]      # 144 words
    channel_tiles = Mapping(4, 3, 1, "nckp", qt=1)                            # 3 c tiles
    assert fits(arch, shape, channel_tiles.as_grid("ws"))[0]
    counted = controller_cost.counters(arch, shape, channel_tiles.as_grid("ws"), "nckp")
    sums = 1 * 4 * 4 * 4 * 36                       # N x K x tile pixels x planes
    assert int(counted["spill"][0]) == int(counted["readback"][0]) == 2 * sums
    assert controller_counters(arch, shape, channel_tiles, DEFAULT_QUANTIZER)[
        "dram_write_bytes"] == 16 * 16 * 4 + 2 * sums * 4      # outputs, 32-bit sums
    innermost = Mapping(4, 3, 1, "nkpc", qt=1)      # the c loop inside: nothing spilled
    assert int(controller_cost.counters(arch, shape, innermost.as_grid("ws"),
                                        "nkpc")["spill"][0]) == 0


def test_a_layer_whose_smallest_tile_cannot_hold_its_planes_is_refused_saying_why():
    """F4 on edge_tiny_winograd with a quarter of its accumulator (32 words a half): one 4x4
    output tile of one filter needs 36 planes."""
    from dataclasses import replace

    from dlaforge.workloads.layer import conv
    from dlaforge.workloads.methods import get_method
    arch = load_arch("edge_tiny_winograd")
    (op,) = get_method("winograd_f4", arch).transform(conv("c", 64, 8, 10, R=3), arch)
    assert controller_cost.controller_runs(arch, op, "ws")     # 64 channels, in c tiles
    small = replace(arch, memory=tuple(replace(level, size_bytes=1024)
                                       if level.name == "accumulator" else level
                                       for level in arch.memory))
    (op,) = get_method("winograd_f4", small).transform(conv("c", 64, 8, 10, R=3), small)
    assert not controller_cost.controller_runs(small, op, "ws")
    assert controller_cost.controller_refusal(small, op, "ws") == (
        "the controller's smallest tile (one filter, one channel, one 4x4 output tile) needs "
        "36 ofmap words (accumulator), more than the 32 of a buffer half; a Winograd-domain "
        "tile holds a plane of sums per tap")
    (fits,) = get_method("winograd_f2", small).transform(conv("c", 64, 8, 10, R=3), small)
    assert controller_cost.controller_runs(small, fits, "ws")     # F2: 16 planes


def test_every_layer_on_a_winograd_design_is_requantized_at_the_stage_width():
    """A Winograd design's requantizers are as wide as F4's transformed outputs (the writer's,
    hw/controller/writer.py), so a 1x1 layer it runs in the MAC mode is priced at that width
    too, not at psum_bits."""
    import dlaforge
    from dlaforge.sim.controller_stats import requant_stage_pj
    from dlaforge.workloads.layer import conv
    from dlaforge.workloads.methods.winograd import F4
    from dlaforge.workloads.networks import Network
    arch = load_arch("edge_tiny_winograd")
    net = Network("two", (conv("w", 4, 8, 8, R=3), conv("p", 8, 4, 8, R=1)))
    wide = requant_stage_pj(arch, DEFAULT_QUANTIZER, F4.output_bits(32))
    assert wide > requant_stage_pj(arch, DEFAULT_QUANTIZER)
    for model in ("analytical", "cycle"):
        rows = dlaforge.simulate("edge_tiny_winograd", net, "ws", model=model,
                                 method="winograd_f4").layers
        for row, filters in zip(rows, (8, 4)):
            assert row.stats.energy_breakdown_pj["requant"] == pytest.approx(
                8 * 8 * filters * wide, rel=1e-12), (model, row.name)
