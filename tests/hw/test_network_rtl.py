"""Whole networks on the accelerator (hw/network_stimulus.py): one DRAM image, each layer's
requantized outputs left in DRAM as the next layer's ifmap; every layer's outputs bit-exact
against the chained numba reference, every command's counters equal to the timing model."""

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.hw.network_stimulus import NetworkJob
from dlaforge.hw.shapes import conv
from dlaforge.hw.run_amaranth import run_commands_amaranth
from dlaforge.hw.run_cocotb import run_programs
from dlaforge.workloads.methods.accelerator_plan import Gemm
from dlaforge.sim.cycle.rtl_timing import rtl_timing
from simulators import needs_icarus

EDGE_TINY = load_arch("edge_tiny")


# name, one command's gemm (one image, one group), groups, images, chainable
NET = [("c1", conv(3, 7, 7, 6, 3, 3, padding=1), 1, 2, True),          # 2 images: 6x7x7 each
       ("dw", conv(1, 7, 7, 1, 3, 3, stride=2, padding=1), 6, 2, True),  # depthwise: 6x4x4
       ("pw", conv(6, 4, 4, 5, 1, 1), 1, 2, True),                     # -> 5x4x4
       ("other", conv(2, 5, 5, 3, 3, 3), 1, 2, True),                  # does not chain
       ("hang", Gemm(C=3, H=3, W=3, K=4, R=2, S=2, P=2, Q=2, stride=2), 1, 2, True)]


def check(job, memory, perfs, cycles=None):
    outs, want = job.outputs_of(memory), job.expected()
    for layer, out, ref in zip(job.layers, outs, want):
        assert np.array_equal(out, ref), layer.name
    done = 0
    for i, layer in enumerate(job.layers):
        model = rtl_timing(job.arch, job.dataflow, layer.gemm, job.bandwidth, job.latency,
                           requant=True)
        for k in range(layer.images * layer.groups):
            assert perfs[done + k] == model.counters, (layer.name, k)
            if cycles is not None:
                assert cycles[done + k] == model.cycles
        done += layer.images * layer.groups
    assert done == len(perfs)


def test_layers_chain_where_the_shapes_follow():
    job = NetworkJob.random(EDGE_TINY, "ws", NET, np.random.default_rng(0))
    notes = [layer.input_note for layer in job.layers]
    assert notes[:3] == ["random: first layer", "chained", "chained"]
    assert notes[3].startswith("random: its input 2x5x5") and notes[4] == "chained"
    # a chained layer reads the previous layer's output region, which starts empty
    image = job.dram_image()
    for prev, (layer, region) in zip(job.regions, zip(job.layers[1:], job.regions[1:])):
        if layer.chained:
            assert region["ifmap"] == prev["out"]
            assert not image[prev["out"]:region["weight"]].any()
    # the reference feeds each layer's requantized outputs forward; ReLU but on the last
    want = job.expected()
    assert np.array_equal(want[1], job.layers[1].outputs(want[0], EDGE_TINY))
    assert all(out.min() >= 0 for out in want[:-1]) and want[-1].min() < 0


@needs_icarus
@pytest.mark.parametrize("dataflow", ["os", pytest.param("is", marks=pytest.mark.long)])
def test_network_on_icarus(tmp_path, dataflow):
    job = NetworkJob.random(EDGE_TINY, dataflow, NET, np.random.default_rng(1), latency=3)
    ((memory, perfs, cycles),), _ = run_programs([job], [job.commands()], tmp_path, "icarus")
    check(job, memory, perfs, cycles)


def test_network_in_amaranth():
    net = [("a", conv(2, 4, 4, 3, 3, 3, padding=1), 1, 1, True),
           ("b", conv(3, 4, 4, 2, 2, 2), 1, 1, True)]
    job = NetworkJob.random(EDGE_TINY, "ws", net, np.random.default_rng(2))
    memory = job.dram_image()
    runs = run_commands_amaranth(job, memory, job.commands())
    assert job.layers[1].chained
    check(job, memory, [perf for perf, _ in runs], [t for _, t in runs])


def test_simulator_choice(monkeypatch):
    """Verilator for runs long enough to repay its build, else Icarus, else Amaranth's."""
    from dlaforge.hw import run_cocotb
    from dlaforge.rtl_driver import ICARUS_SLOWDOWN, VERILATOR_MIN_CYCLES, choose_simulator
    from dlaforge.workloads.methods.winograd.plan import TAP_DATAPATHS
    monkeypatch.setattr(run_cocotb, "simulator_available", lambda sim: None)
    assert choose_simulator(VERILATOR_MIN_CYCLES) == "verilator"
    assert choose_simulator(VERILATOR_MIN_CYCLES - 1) == "icarus"
    # a Winograd design, ten times slower in Icarus
    short = VERILATOR_MIN_CYCLES // ICARUS_SLOWDOWN
    assert choose_simulator(short, TAP_DATAPATHS["F4"]) == "verilator"
    assert choose_simulator(short - 1, TAP_DATAPATHS["F4"]) == "icarus"
    monkeypatch.setattr(run_cocotb, "simulator_available", lambda sim: f"no {sim}")
    assert choose_simulator(VERILATOR_MIN_CYCLES) == "amaranth"
