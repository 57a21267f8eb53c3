"""Winograd on the mapped-program controller (workloads/methods/winograd/plan.TAP_DATAPATHS):
one command runs a layer's a² tap GEMMs (program.tap_shape), the load transforming raw windows
through the patch stage, the write-back transforming each tile pixel's planes through the tile
stage, a tile leaving before its last channel tile spilling its a² planes (read back by the
next). Checked bit-exact, in Amaranth's simulator, against the integer pipeline of
workloads/methods/winograd/reference.winograd_tiles requantized as the controller's stage does
(hw/controller/stimulus.ControllerJob), and every counter, the cycles included, equal to the
timing model's (sim/cycle/controller_timing.py)."""

from __future__ import annotations

import numpy as np
import pytest
from controller_checks import STATS
from simulators import needs_icarus

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.hw.controller.run import run_amaranth
from dlaforge.hw.controller.stimulus import ControllerJob
from dlaforge.program import Mapping, tap_shape
from dlaforge.sim.cycle.controller_timing import controller_counters
from dlaforge.workloads.layer import Layer, conv
from dlaforge.workloads.methods.winograd.plan import TAP_DATAPATHS
from dlaforge.workloads.networks import Network

ARCH = load_arch("edge_tiny_winograd")

# variant, (N, C, K, raw H, W, padding), mapping (kt, ct, pt, qt in tile pixels), dataflow
CASES = {
    # two channel blocks, two filter blocks, edge tiles past the bottom and right
    "f2_ws": ("F2", (1, 5, 6, 6, 5, 1), Mapping(4, 5, 1, "nkcp", qt=2), "ws"),
    "f4_ws": ("F4", (1, 3, 5, 6, 5, 1), Mapping(4, 3, 1, "nkcp", qt=1), "ws"),
    "f2_is_two_images": ("F2", (2, 4, 3, 5, 7, 0), Mapping(3, 4, 2, "npkc", qt=2), "is"),
    # padding 2: the first tile's patches start two rows and columns outside the image
    "f2_ws_pad2": ("F2", (1, 3, 4, 4, 5, 2), Mapping(4, 3, 2, "nkcp", qt=1), "ws"),
    # channel tiles outside an output loop: every output tile spills its planes and reads them
    # back at the next channel tile (ws: two filter blocks a tile, the tap between them)
    "f2_ws_channel_tiles": ("F2", (1, 3, 6, 4, 4, 1), Mapping(6, 2, 1, "ckpn", qt=1), "ws"),
    "f2_is_channel_tiles": ("F2", (2, 4, 3, 5, 7, 0), Mapping(3, 2, 2, "ncpk", qt=2), "is"),
    "f4_ws_channel_tiles": ("F4", (1, 3, 6, 8, 5, 1), Mapping(6, 2, 1, "ckpn", qt=1), "ws"),
}
LONG = ("f2_ws", "f4_ws_channel_tiles")     # 5-14 s each, in make test-long


def job_of(name: str, requant=True) -> ControllerJob:
    variant, dims, mapping, dataflow = CASES[name]
    datapath = TAP_DATAPATHS[variant]
    shape = tap_shape(*dims, side=datapath.tap_transform.m)
    return ControllerJob.random(ARCH, shape, mapping, np.random.default_rng(len(name)),
                                requant=requant, dataflow=dataflow, datapath=datapath)


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.long)
                                  if name in LONG else name for name in CASES])
def test_winograd_command_bit_exact(name):
    job = job_of(name)
    expected = job.expected()
    assert np.count_nonzero(expected) > expected.size // 2     # not a vacuous comparison
    result = run_amaranth(job)
    np.testing.assert_array_equal(result.output, expected)
    assert result.counters == controller_counters(job.arch, job.shape, job.mapping,
                                                  job.requant.quantizer, dataflow=job.dataflow)
    if name.endswith("channel_tiles"):      # the planes went out and came back (int8 outputs)
        assert result.counters["dram_write_bytes"] > expected.size


# a 3x3 layer in the Winograd domain, the next reading its outputs (chained; F4: 32 channels,
# more than a tile's weight half holds, so in channel tiles, the c loop innermost: the mapper
# spills nothing here), a strided 3x3 and a 1x1 in the MAC mode, on one design
NETWORK = Network("wino", (
    conv("w1", 4, 32, 9, R=3),
    conv("w2", 32, 5, 9, R=3),
    Layer(name="s2", kind="conv2d", C=5, K=4, H=9, W=9, R=3, S=3, stride=2, P=4, Q=4),
    conv("p1", 4, 3, 4, R=1),
))


@pytest.mark.long       # 30-100 s: Verilator's build of the design, or Icarus
@needs_icarus
@pytest.mark.parametrize("method", ["winograd_f4", "winograd_f2"])
def test_a_network_on_the_winograd_datapath_equals_the_cycle_model(method):
    """`--model rtl --method winograd_f*` runs the whole network on one design (outputs checked
    bit-exact inside the run) and equals `--model cycle` in every statistic of every layer,
    under ws and is; the analytical model is within 2% of its cycles."""
    for dataflow in ("ws", "is"):
        runs = {model: dlaforge.simulate("edge_tiny_winograd", NETWORK, dataflow, model=model,
                                         method=method).to_json()
                for model in ("rtl", "cycle", "analytical")}
        rtl, cycle = runs["rtl"], runs["cycle"]
        assert rtl["totals"] == cycle["totals"]
        assert [row["mapping"].pop("input") for row in rtl["layers"]][1] == "chained"
        for rtl_row, cycle_row, ana_row in zip(rtl["layers"], cycle["layers"],
                                               runs["analytical"]["layers"]):
            rtl_row["mapping"].pop("simulator")
            assert rtl_row["mapping"] == cycle_row["mapping"]
            for key in STATS:
                assert rtl_row[key] == cycle_row[key], (rtl_row["name"], key)
            assert ana_row["cycles"] == pytest.approx(rtl_row["cycles"], rel=0.02)
        # the Winograd layers' transforms are charged, the MAC-mode layers' not
        units = [row["energy_breakdown_pj"].get("units", 0) for row in rtl["layers"]]
        assert units[0] > 0 and units[1] > 0 and units[2] == units[3] == 0
        if method == "winograd_f4":     # 36 x 32 weight words of a filter: channel tiles
            assert rtl["layers"][1]["mapping"]["tile"]["C"] < 32
