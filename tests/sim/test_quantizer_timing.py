"""The exact timing model's PARAMS jobs per quantizer (workloads/quantizers.py) against the plain
reading of the contract (controller_reference.run_command with the quantizer's head and entry
bytes), and the analytical closed forms' DRAM bytes against both."""

import random

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.sim import controller_cost
from dlaforge.sim.cycle.controller_timing import controller_counters
from dlaforge.workloads.quantizers import NAMES, Quantizer

from controller_reference import run_command
from test_controller_models import narrow_arch, random_mapping, random_shape

ALL = [Quantizer.of(name, pow2) for name in NAMES for pow2 in (False, True)]


@pytest.mark.parametrize("q", ALL, ids=[q.name for q in ALL])
def test_timing_model_equals_the_contract_per_quantizer(q):
    rng = random.Random(q.name)
    for arch in (load_arch("edge_tiny"), narrow_arch()):
        pe = arch.pe_array
        bits = (pe.ifmap_bits, pe.weight_bits, pe.psum_bits, pe.ofmap_bits)
        for _ in range(12):
            shape = random_shape(rng)
            mapping = random_mapping(rng, shape)
            bandwidth, latency = rng.choice([0.5, 1, 3, 4, 16]), rng.choice([0, 1, 20])
            dataflow = rng.choice(["ws", "os"])
            want = run_command(pe.rows, pe.cols, bits, bandwidth, latency, vars(shape),
                               vars(mapping), True, None, dataflow, q.head_pieces,
                               q.channel_pieces)
            got = controller_counters(arch, shape, mapping, q, bandwidth, latency, dataflow)
            assert got == want, (shape, mapping, bandwidth, latency, dataflow)
            closed = controller_cost.counters(arch, shape, mapping.as_grid(dataflow),
                                              mapping.order, requant=q, dataflow=dataflow)
            assert int(np.asarray(closed["dram_read_bytes"]).ravel()[0]) == \
                got["dram_read_bytes"]
