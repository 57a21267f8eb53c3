"""Winograd on the mapped-program controller (workloads/methods/winograd/plan.TAP_DATAPATHS):
one command runs a layer's a² tap GEMMs (program.tap_shape), the load transforming raw windows
through the patch stage, the write-back transforming each tile pixel's planes through the tile
stage. Checked bit-exact, in Amaranth's simulator, against the integer pipeline of
workloads/methods/winograd/reference.winograd_tiles requantized as the controller's stage does
(hw/controller/stimulus.ControllerJob), and every counter, the cycles included, equal to the
timing model's (sim/cycle/controller_timing.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.controller.run import run_amaranth
from dlaforge.hw.controller.stimulus import ControllerJob
from dlaforge.program import Mapping, tap_shape
from dlaforge.sim.cycle.controller_timing import controller_counters
from dlaforge.workloads.methods.winograd.plan import TAP_DATAPATHS

ARCH = load_arch("edge_tiny_winograd")

# variant, (N, C, K, raw H, W, padding), mapping (kt, pt, qt in tile pixels; ct = C), dataflow
CASES = {
    # two channel blocks, two filter blocks, edge tiles past the bottom and right
    "f2_ws": ("F2", (1, 5, 6, 6, 5, 1), Mapping(4, 5, 1, "nkcp", qt=2), "ws"),
    "f4_ws": ("F4", (1, 3, 5, 6, 5, 1), Mapping(4, 3, 1, "nkcp", qt=1), "ws"),
    "f2_is_two_images": ("F2", (2, 4, 3, 5, 7, 0), Mapping(3, 4, 2, "npkc", qt=2), "is"),
}


def job_of(name: str, requant=True) -> ControllerJob:
    variant, dims, mapping, dataflow = CASES[name]
    datapath = TAP_DATAPATHS[variant]
    shape = tap_shape(*dims, side=datapath.tap_transform.m)
    return ControllerJob.random(ARCH, shape, mapping, np.random.default_rng(len(name)),
                                requant=requant, dataflow=dataflow, datapath=datapath)


@pytest.mark.parametrize("name", list(CASES))
def test_winograd_command_bit_exact(name):
    job = job_of(name)
    expected = job.expected()
    assert np.count_nonzero(expected) > expected.size // 2     # not a vacuous comparison
    result = run_amaranth(job)
    np.testing.assert_array_equal(result.output, expected)
    assert result.counters == controller_counters(job.arch, job.shape, job.mapping,
                                                  job.requant.quantizer, dataflow=job.dataflow)


def test_a_winograd_tile_holds_every_channel():
    variant, dims, mapping, dataflow = CASES["f2_ws"]
    with pytest.raises(SpecError, match="all 5 channels"):
        ControllerJob.random(ARCH, tap_shape(*dims, side=2), Mapping(4, 4, 1, qt=2),
                             np.random.default_rng(0), datapath=TAP_DATAPATHS[variant])
