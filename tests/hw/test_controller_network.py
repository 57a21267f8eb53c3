"""A whole network on the mapped-program controller (hw/controller/network.py): one DRAM image,
one command per group, each layer's requantized outputs read back as the next layer's ifmap
where the shapes chain. In Amaranth's simulator: every layer bit-exact against the reference
network, every command's counters equal to the exact timing model
(sim/cycle/controller_timing.py); the image's layout checked without a simulator."""

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.controller.network import (REGIONS, ControllerNetworkJob, LayerSpec,
                                            relocated, run_network)
from dlaforge.program import Mapping, Shape
from dlaforge.sim.cycle.controller_timing import controller_counters

EDGE_TINY = load_arch("edge_tiny")

# N = 2 images in every command; b (stride 2, its last window hanging two rows and columns past
# the edges) reads a's 2 x 5 x 5 x 4 outputs, the depthwise c (3 groups of one channel, padding
# 1) b's 2 x 3 x 3 x 3, the 1x1 d c's; e's input is not d's output. a and b spill partial sums
# (their c loop is split and not innermost).
SPECS = [
    LayerSpec("a", Shape(2, 3, 5, 5, 4, 3, 3, 5, 5, 1, 1),
              Mapping(kt=4, ct=2, pt=3, order="nkcp")),
    LayerSpec("b", Shape(2, 4, 5, 5, 3, 3, 3, 3, 3, 2, 0),
              Mapping(kt=3, ct=3, pt=2, order="kcpn")),
    LayerSpec("c", Shape(2, 1, 3, 3, 1, 3, 3, 3, 3, 1, 1),
              Mapping(kt=1, ct=1, pt=2, order="npkc"), groups=3),
    LayerSpec("d", Shape(2, 3, 3, 3, 5, 1, 1, 3, 3),
              Mapping(kt=5, ct=3, pt=2, order="ncpk")),
    LayerSpec("e", Shape(2, 4, 2, 2, 3, 1, 1, 2, 2),
              Mapping(kt=3, ct=4, pt=2, order="nkcp")),
]


def network(specs=SPECS, arch=EDGE_TINY, seed=0):
    return ControllerNetworkJob.random(arch, specs, np.random.default_rng(seed))


def test_layers_chain_through_dram_and_say_why_not():
    job = network()
    notes = [layer.input_note for layer in job.layers]
    assert notes[0] == "random: first layer" and notes[1:4] == ["chained"] * 3
    assert notes[4] == "random: its input 4x2x2 is not the previous layer's output 5x3x3"
    image = job.dram_image()
    for index in (1, 2, 3):     # a chained ifmap is the previous layer's outputs region
        ifmap, previous = job.bases[index]["ifmap"], job.bases[index - 1]
        assert ifmap == previous["ofmap"]
        size = previous["psum"] - previous["ofmap"]
        assert not image[ifmap:ifmap + size].any()      # nothing the host wrote there
        commands = job.layer_commands(index)
        assert [c["ifmap_base"] - ifmap for c in commands] == \
            [g * SPECS[index].shape.C for g in range(SPECS[index].groups)]
    # a chained job's ifmap (the reference's input) is the previous layer's expected outputs
    expected = job.expected()
    assert np.array_equal(job.layers[2].job.ifmap, expected[1].transpose(0, 3, 1, 2))
    assert all(layer.job.requant.relu for layer in job.layers[:-1])
    assert not job.layers[-1].job.requant.relu
    # a fresh layer's operands are its own job's image, moved to the layer's bases
    for index in (0, 4):
        layer, bases = job.layers[index], job.bases[index]
        own = layer.job.dram_image()
        local = layer.job.regions
        for name, end in (("ifmap", "weight"), ("weight", "requant"), ("requant", "ofmap")):
            assert np.array_equal(image[bases[name]:bases[name] + local[end] - local[name]],
                                  own[local[name]:local[end]])
    # the regions the image holds (a chained ifmap is no region of its own) tile it
    spans = sorted((bases[name], bases[name] + layer.job.regions[end] - layer.job.regions[name])
                   for layer, bases in zip(job.layers, job.bases)
                   for name, end in zip(REGIONS, REGIONS[1:] + ("end",))
                   if not (name == "ifmap" and layer.chained))
    assert spans[0][0] == 0 and spans[-1][1] == job.size == image.size
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))


def test_what_does_not_chain_reads_fresh_operands(tmp_path):
    wide = tmp_path / "wide.yaml"
    wide.write_text("base: edge_tiny\nname: wide\npe_array: {ofmap_bits: 16}\n")
    specs = SPECS[:2]
    assert [layer.input_note for layer in network(specs, load_arch(wide)).layers][1] == \
        "random: 16-bit outputs are wider than the 8-bit ifmap"
    several = [specs[0], LayerSpec("b", specs[1].shape, specs[1].mapping, chainable=False)]
    job = network(several)
    assert job.layers[1].input_note == "random: the layer is several hardware ops"
    assert job.bases[1]["ifmap"] != job.bases[0]["ofmap"]


def test_a_base_that_overflows_its_field_is_refused():
    job = network(SPECS[:1])
    command = job.layer_commands(0)[0]
    bases = {**job.bases[0], "psum": 1 << job.geo.params.addr_bits}
    with pytest.raises(SpecError, match="command field psum_base"):
        relocated(job.geo, command, job.layers[0].job.regions, bases)


def test_network_in_amaranth_bit_exact_and_equal_to_the_timing_model():
    job = network()
    result = run_network(job, "amaranth")
    assert job.first_difference(result.output) is None
    for layer, commands in zip(job.layers, job.per_layer(result)):
        s = layer.job
        assert len(commands) == s.groups
        model = controller_counters(s.arch, s.shape, s.mapping, True)
        for counters, cycles in commands:
            assert counters == model and cycles == counters["cycles"]
    # the check is a real one: a wrong reference is told apart
    wrong = [out.copy() for out in result.output]
    wrong[3][1, 2, 0, 4] += 1
    assert job.first_difference(wrong) == 3
