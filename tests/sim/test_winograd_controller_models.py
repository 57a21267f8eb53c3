"""The closed forms (sim/controller_cost.py) of a Winograd-domain command (program.tap_shape,
the controller's Winograd datapaths) against the exact timing model
(sim/cycle/controller_timing.py, itself equal to the RTL in
tests/hw/methods/test_winograd_controller.py): every counter equal, the cycles within 5%, on
random layers, tilings, loop orders and both dataflows that keep a plane per tap."""

from __future__ import annotations

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.program import COUNTERS, Mapping, tap_shape
from dlaforge.sim import controller_cost
from dlaforge.sim.cycle.controller_timing import controller_counters
from dlaforge.workloads.quantizers import DEFAULT_QUANTIZER


def random_case(rng, arch):
    """A random Winograd-domain command and a mapping of it that fits (None if none was
    found in a few tries)."""
    side = int(rng.choice([2, 4]))
    shape = tap_shape(int(rng.integers(1, 3)), int(rng.integers(1, 40)),
                      int(rng.integers(1, 40)), int(rng.integers(3, 30)),
                      int(rng.integers(3, 30)), int(rng.integers(0, 2)), side)
    dataflow = str(rng.choice(["ws", "is"]))
    order = str(rng.choice(["nkcp", "npkc", "ncpk", "nkpc", "kcpn"]))
    for _ in range(20):
        mapping = Mapping(int(rng.integers(1, shape.K + 1)), shape.C,
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
        estimate = controller_cost.cycles(arch, shape, g, mapping.order, DEFAULT_QUANTIZER,
                                          dataflow=dataflow)[0]
        errors.append(abs(estimate / timed["cycles"] - 1))
        assert errors[-1] <= 0.05, (shape, mapping, dataflow, estimate, timed["cycles"])
    print(f"{arch_name}: {len(errors)} cases, worst {max(errors):.4%}")


def test_a_winograd_tile_holds_all_channels_and_its_planes():
    """The fit rules: every c tile all C; the accumulator half holds a² planes per output."""
    arch = load_arch("edge_tiny_winograd")          # acc_half 128 words, 4 columns
    shape = tap_shape(1, 8, 4, 16, 16, 1, 4)        # F4: 36 planes; 4 x 4 tile pixels
    fits = controller_cost.grid_fits
    assert fits(arch, shape, Mapping(4, 8, 1, qt=3).as_grid("ws"))[0]          # 108 words
    assert not fits(arch, shape, Mapping(4, 8, 1, qt=4).as_grid("ws"))[0]      # 144 words
    assert not fits(arch, shape, Mapping(4, 4, 1, qt=1).as_grid("ws"))[0]      # half the C


def test_a_layer_whose_tile_cannot_hold_all_channels_is_refused_saying_why():
    """F4 on edge_tiny_winograd: one filter block's 36 x 64 transformed weights pass a weight
    half (1,024 words), and a Winograd-domain tile holds every channel."""
    from dlaforge.workloads.layer import conv
    from dlaforge.workloads.methods import get_method
    arch = load_arch("edge_tiny_winograd")
    (op,) = get_method("winograd_f4", arch).transform(conv("c", 64, 8, 10, R=3), arch)
    assert not controller_cost.controller_runs(arch, op, "ws")
    assert controller_cost.controller_refusal(arch, op, "ws") == (
        "the controller's smallest tile (one filter, 64 channels, one 4x4 output tile) needs "
        "2304 weight words, more than the 1024 of a buffer half; a Winograd-domain tile holds "
        "all its channels, a plane of sums per tap")
    (fits,) = get_method("winograd_f2", arch).transform(conv("c", 64, 8, 10, R=3), arch)
    assert controller_cost.controller_runs(arch, fits, "ws")      # F2: 16 x 64 words
