"""The sign-add array (hw/methods/bwn/): the sign-add PE against a simple model in Amaranth's
simulator; the adder accelerator with sign-add PEs bit-exact against the binary-weight
reference, its counters equal to the timing model (sim/methods/bwn.py), in Amaranth's simulator
and in Icarus; generation and the cells beside the int8 MAC PE."""

import json

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.hw.methods import OpCase, bwn, method_hardware
from dlaforge.hw.methods.bwn.pe import SignAddPE
from dlaforge.hw.methods.bwn.stimulus import BwnJob
from dlaforge.hw.pe import Mode
from dlaforge.hw.shapes import conv
from dlaforge.sim.methods import bwn as model
from dlaforge.workloads.layer import conv as conv_layer
from dlaforge.workloads.methods import get_method
from pe_steps import modelled, run_steps
from simulators import needs_icarus

ARCH = load_arch("edge_tiny_bwn")


@pytest.mark.parametrize("mode", [Mode.OS, Mode.WS])
def test_sign_add_pe_adds_or_subtracts_by_the_weights_sign(mode):
    """OS: c <= c ± a_in by the sign of b_in; WS: c <= c_in ± a_in by the held b's sign;
    12-bit sums wrap; IDLE clears."""
    dut = SignAddPE(8, 8, 12, ("ws", "os"))
    rng = np.random.default_rng(1)
    steps = [(int(a), int(b), int(c)) for a, b, c in zip(rng.integers(-128, 128, 30),
                                                          rng.choice([-1, 1, -128, 127, 0], 30),
                                                          rng.integers(-2048, 2048, 30))]
    steps += [(-128, -1, 0), (-128, 1, 0), (127, -1, 2047), (0, -1, 5)]
    held = -1
    seen = run_steps(dut, mode, held, steps)
    want = modelled(mode, held, steps, lambda partial, a, w: partial + (a if w >= 0 else -a), 12)
    assert seen == want + [0]


def test_amaranth_runs_a_bwn_layer_bit_and_cycle_exact():
    """A padded, strided layer over more than one tile: outputs are Σ ±x (padded taps adding
    nothing) requantized, and every counter is the timing model's."""
    from dlaforge.hw.accelerator import Accelerator
    from dlaforge.hw.run_amaranth import run_amaranth
    from dlaforge.sim.cycle.rtl_timing import rtl_timing
    job = BwnJob.random(ARCH, conv(6, 5, 5, 5, 3, 3, stride=2, padding=1),
                        np.random.default_rng(2), bandwidth=2.0, latency=3)
    assert set(np.unique(job.weight)) == {-1, 1}
    result = run_amaranth(job, dut=Accelerator(job.arch, pe=SignAddPE))
    assert np.array_equal(result.output, job.expected())
    timing = rtl_timing(job.arch, "os", job.gemm, 2.0, 3, requant=True)
    assert result.perf == timing.counters and result.testbench_cycles == timing.cycles


@needs_icarus
def test_icarus_transformed_ops_match_the_timing_model(tmp_path):
    """Ops of the method's transform (one grouped, one non-square) through the hardware
    interface's run_random: outputs equal to the reference, counters to command_counters."""
    method = get_method("bwn", ARCH)
    layers = [conv_layer("a", 6, 5, 5, R=3, W=6),
              conv_layer("g", 8, 4, 4, R=3, groups=2, stride=2)]
    cases = [OpCase(ARCH, layer, op, "os") for layer in layers
             for op in method.transform(layer, ARCH)]
    runs = method_hardware("bwn").run_random(cases, tmp_path, np.random.default_rng(3))
    for case, run in zip(cases, runs):
        assert run.problems == []
        expected = model.command_counters(ARCH, case.op, "os")
        assert run.counters == expected[:len(run.counters)]
        assert run.testbench_cycles == [c["cycles"] for c in run.counters]


@needs_icarus
@pytest.mark.long
def test_icarus_verify_passes_every_case():
    lines = []
    passed, failed = bwn.verify(ARCH, "icarus", lines.append)
    assert failed == 0 and passed == len(lines) > 20
    assert any(line.startswith("os min_act_minus_filters: ok") for line in lines)


@pytest.mark.long
def test_generate_writes_the_design_and_its_manifest(tmp_path):
    v, j = bwn.generate(ARCH, tmp_path / "out")
    assert v.name == "dlaforge_bwn.v" and "module dlaforge_bwn" in v.read_text()
    info = json.loads(j.read_text())
    assert info["top"] == "dlaforge_bwn" and info["parameters"]["method"] == "bwn"


def test_cells_of_the_sign_add_pe_beside_the_int8_mac_pe():
    cells = bwn.cell_stats(ARCH)
    sign_add, mac = cells["bwn_pe"]["by_type"], cells["mac_pe"]["by_type"]
    # the datapath: a conditional negation of the activation and the accumulator's adder
    arithmetic = ("$neg", "$add", "$sub", "$mul")
    assert sorted(kind[:4] for kind in sign_add if kind.startswith(arithmetic)) == ["$add", "$neg"]
    assert any(kind.startswith("$mul") for kind in mac)
    assert len(bwn.cells_row(cells)) == 10
