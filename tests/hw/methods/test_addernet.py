"""The adder array (hw/methods/addernet/): the adder PE against a simple model in Amaranth's
simulator; the whole accelerator with adder PEs bit-exact against the adder reference, its
counters equal to the timing model (sim/methods/addernet.py), in Amaranth's simulator and in
Icarus; generation, the spec checks and the cells beside the int8 MAC PE."""

import json

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.methods import OpCase, addernet, method_hardware
from dlaforge.hw.methods.addernet.pe import AdderPE
from dlaforge.hw.methods.addernet.stimulus import AdderJob
from dlaforge.hw.pe import Mode
from dlaforge.hw.shapes import conv
from dlaforge.sim.methods import addernet as model
from dlaforge.workloads.layer import conv as conv_layer
from dlaforge.workloads.methods import get_method
from pe_steps import modelled, run_steps
from simulators import needs_icarus

ARCH = load_arch("edge_tiny_addernet")


@pytest.mark.parametrize("mode", [Mode.OS, Mode.WS])
def test_adder_pe_subtracts_the_distance(mode):
    """OS: c <= c - |a_in - b_in|; WS: c <= c_in - |a_in - b| with b loaded first; 12-bit sums
    wrap; IDLE clears."""
    dut = AdderPE(8, 8, 12, ("ws", "os"))
    rng = np.random.default_rng(1)
    steps = [(int(a), int(b), int(c)) for a, b, c in zip(rng.integers(-128, 128, 30),
                                                          rng.integers(-128, 128, 30),
                                                          rng.integers(-2048, 2048, 30))]
    steps += [(-128, 127, 0), (127, -128, 0), (0, 0, 5)]
    held = 77
    seen = run_steps(dut, mode, held, steps)
    want = modelled(mode, held, steps, lambda partial, a, w: partial - abs(a - w), 12)
    assert seen == want + [0]


def test_amaranth_runs_an_adder_layer_bit_and_cycle_exact():
    """A padded, strided layer over more than one tile: outputs are -Σ|x - w| (padded taps
    counting |0 - w|) requantized, and every counter is the timing model's."""
    from dlaforge.hw.run_amaranth import run_amaranth
    from dlaforge.hw.accelerator import Accelerator
    job = AdderJob.random(ARCH, conv(6, 5, 5, 5, 3, 3, stride=2, padding=1),
                          np.random.default_rng(2), bandwidth=2.0, latency=3)
    result = run_amaranth(job, dut=Accelerator(job.arch, pe=AdderPE))
    assert np.array_equal(result.output, job.expected())
    from dlaforge.sim.cycle.rtl_timing import rtl_timing
    timing = rtl_timing(job.arch, "os", job.gemm, 2.0, 3, requant=True)
    assert result.perf == timing.counters and result.testbench_cycles == timing.cycles


@needs_icarus
def test_icarus_transformed_ops_match_the_timing_model(tmp_path):
    """Ops of the method's transform (one grouped) through the hardware interface's
    run_random: outputs equal to the reference, counters equal to command_counters."""
    method = get_method("addernet", ARCH)
    layers = [conv_layer("a", 6, 5, 5, R=3), conv_layer("g", 8, 4, 4, R=3, groups=2, stride=2)]
    cases = [OpCase(ARCH, layer, op, "os") for layer in layers
             for op in method.transform(layer, ARCH)]
    runs = method_hardware("addernet").run_random(cases, tmp_path, np.random.default_rng(3))
    for case, run in zip(cases, runs):
        assert run.problems == []
        expected = model.command_counters(ARCH, case.op, "os")
        assert run.counters == expected[:len(run.counters)]
        assert run.testbench_cycles == [c["cycles"] for c in run.counters]


@needs_icarus
@pytest.mark.long
def test_icarus_verify_passes_every_case():
    lines = []
    passed, failed = addernet.verify(ARCH, "icarus", lines.append)
    assert (passed, failed) == (26, 0) and len(lines) == 26
    assert any(line.startswith("os min_act_max_weight: ok") for line in lines)


def test_check_refuses_what_the_adder_array_cannot_build(tmp_path):
    with pytest.raises(SpecError, match="needs pe_kind 'adder'"):
        addernet.check(load_arch("edge_tiny"))
    path = tmp_path / "ws_adder.yaml"
    path.write_text("base: edge_tiny\npe_array: {pe_kind: adder, dataflows: [ws]}\n")
    with pytest.raises(SpecError, match="lacks dataflow 'os'"):
        addernet.check(load_arch(path))


@pytest.mark.long
def test_generate_writes_the_design_and_its_manifest(tmp_path):
    v, j = addernet.generate(ARCH, tmp_path / "out")
    assert v.name == "dlaforge_addernet.v" and "module dlaforge_addernet" in v.read_text()
    info = json.loads(j.read_text())
    assert info["top"] == "dlaforge_addernet" and info["parameters"]["dataflows"] == ["os"]
    assert info["parameters"]["method"] == "addernet"


def test_cells_of_the_adder_pe_beside_the_int8_mac_pe():
    cells = addernet.cell_stats(ARCH)
    adder, mac = cells["adder_pe"]["by_type"], cells["mac_pe"]["by_type"]
    assert not any(kind.startswith("$mul") for kind in adder)
    assert any(kind.startswith("$mul") for kind in mac)
    assert any(kind.startswith("$neg") for kind in adder)         # the absolute value
    assert cells["pe_ratio"] == cells["adder_pe"]["total"] / cells["mac_pe"]["total"]
    assert len(addernet.cells_row(cells)) == 10
