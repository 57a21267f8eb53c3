"""DIR-Net on the XNOR unit (hw/methods/dirnet/): its jobs' power-of-two α_q, constant K_q and
shift make the unit's arithmetic DIR-Net's reference; a layer run in Amaranth's simulator and
the verification cases in Icarus come out bit-exact against that reference."""

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.hw.methods import dirnet
from dlaforge.hw.methods.dirnet.stimulus import DirnetJob, verification_jobs
from dlaforge.hw.methods.xnor.stimulus import XnorJob
from dlaforge.hw.methods.xnor.unit import XnorUnit
from dlaforge.workloads.methods.dirnet.reference import exponents
from simulators import needs_icarus

ARCH = load_arch("edge_tiny_xnor")


def test_the_units_arithmetic_on_a_dirnet_job_is_dirnets_reference():
    """dot · α_q · K_q >> out_shift (the unit's, XnorJob.expected) equals dirnet_conv_int
    (DirnetJob.expected) on every verification case; α_q are powers of two, K_q all 1."""
    names, jobs = verification_jobs(ARCH, np.random.default_rng(0))
    assert len(names) == len(jobs) == 15
    for job in jobs:
        assert np.array_equal(XnorJob.expected(job), job.expected())
        alpha = job.alpha_q
        assert (alpha > 0).all() and (alpha & (alpha - 1) == 0).all() and (job.k_q == 1).all()
        assert (np.log2(alpha) - job.out_shift == exponents(job.w_values) + job.frac_bits).all()


def test_exponents_beyond_alpha_q_are_refused():
    w = np.random.default_rng(1).normal(size=(2, 4, 3, 3))
    w[1] = 1.0                          # all equal: the smallest exponent, -32
    with pytest.raises(ValueError, match="do not fit"):
        DirnetJob.of(ARCH, np.zeros((4, 5, 5), np.int64), w, 1, 1)


def test_amaranth_runs_a_dirnet_layer_bit_exact():
    """A padded, strided layer of 70 channels (two words, a tail) with -128 activations."""
    from dlaforge.hw.run_amaranth import run_amaranth
    rng = np.random.default_rng(2)
    x = np.where(rng.random((70, 5, 4)) < 0.3, -128, rng.integers(-128, 128, (70, 5, 4)))
    job = DirnetJob.of(ARCH, x, rng.standard_t(2, (3, 70, 3, 3)), 2, 1, frac_bits=3)
    result = run_amaranth(job, dut=XnorUnit(ARCH))
    assert np.array_equal(result.output, job.expected())
    assert result.testbench_cycles == result.perf["cycles"]


@needs_icarus
@pytest.mark.long
def test_icarus_verify_passes_every_case():
    lines = []
    assert dirnet.verify(ARCH, "icarus", lines.append) == (15, 0)
    assert any(line.startswith("os min_act_outlier_filters: ok") for line in lines)
