import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.sim import analytical
from dlaforge.sim.analytical import Mapping, default_mapping, evaluate, search
from dlaforge.sim.energy import energy_table
from dlaforge.workloads.layer import conv, linear
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.networks import load_network

SYSTOLIC = [("tpu_like", "ws"), ("tpu_like", "os"), ("tpu_like", "is"), ("gemmini_like", "os"),
            ("gemmini_like", "ws"), ("nvdla_small", "ws"), ("nvdla_small", "os"),
            ("edge_tiny", "ws"), ("edge_tiny", "os"), ("edge_tiny", "is")]
NETWORKS = ["resnet18", "resnet50", "mobilenet_v2", "vgg16", "alexnet"]
RUNS = [(a, d, n) for (a, d) in SYSTOLIC for n in NETWORKS] + \
       [("eyeriss_like", "rs", n) for n in ("resnet18", "alexnet", "mobilenet_v2")]


def ops_of(arch, network):
    method = get_method("baseline", arch)
    return [op for layer in load_network(network).layers for op in method.transform(layer, arch)]


@pytest.mark.parametrize("arch_name, dataflow, network", RUNS)
def test_network_invariants(arch_name, dataflow, network):
    record = dlaforge.simulate(arch_name, network, dataflow=dataflow)
    arch = load_arch(arch_name)
    ops = ops_of(arch, network)
    for layer, op in zip(record.layers, ops):
        s = layer.stats
        assert s.macs == op.pe_macs == s.pe_ops            # baseline: PE ops are the layer's MACs
        assert 0 < s.utilization <= 1
        assert s.cycles == s.compute_cycles + s.stall_cycles
        assert s.stall_cycles >= arch.dram.latency_cycles
        assert all(v >= 0 for v in s.energy_breakdown_pj.values())
        compulsory_read, compulsory_write = op.compulsory_dram_bytes()
        assert s.dram_read_bytes >= compulsory_read
        assert s.dram_write_bytes >= compulsory_write
        dram = s.accesses["dram"]
        assert dram["weight"]["reads"] >= op.weight_elements
        assert dram["ofmap"]["writes"] >= op.ofmap_elements
    totals = record.to_json()["totals"]
    assert totals["macs"] == load_network(network).macs
    assert totals["energy_pj"] == pytest.approx(sum(totals["energy_breakdown_pj"].values()))
    assert totals["energy_pj"] == pytest.approx(sum(l.stats.energy_pj for l in record.layers))
    assert totals["cycles"] == sum(l.stats.cycles for l in record.layers)


def objective_of(stats, objective):
    return {"energy": stats.energy_pj, "cycles": stats.cycles,
            "edp": stats.energy_pj * stats.cycles}[objective]


@pytest.mark.parametrize("objective", ["energy", "cycles", "edp"])
@pytest.mark.parametrize("arch_name, dataflow", SYSTOLIC[:6] + [("eyeriss_like", "rs")])
def test_mapper_never_worse_than_the_fixed_default(arch_name, dataflow, objective):
    arch = load_arch(arch_name)
    table = energy_table(arch)
    for op in ops_of(arch, "resnet18")[::3] + ops_of(arch, "mobilenet_v2")[::7]:
        mapping, found = search(arch, op, dataflow, objective, table)
        fixed = evaluate(arch, op, default_mapping(arch, op, dataflow), dataflow, table)
        assert objective_of(found, objective) <= objective_of(fixed, objective) * (1 + 1e-12)
        # the mapping it reports, priced on its own, is the one it chose
        assert evaluate(arch, op, mapping, dataflow, table) == found


def test_mapper_improves_on_the_default_when_buffers_are_small():
    arch = load_arch("edge_tiny")
    table = energy_table(arch)
    gains = []
    for op in ops_of(arch, "resnet18"):
        _, found = search(arch, op, "ws", "energy", table)
        fixed = evaluate(arch, op, default_mapping(arch, op, "ws"), "ws", table)
        gains.append(fixed.energy_pj / found.energy_pj)
    assert max(gains) > 2 and min(gains) >= 1


def brute_force_fetches(order, trips, relevant):
    """Walk the loop nest; count how often the operand's resident tile has to change."""
    loops = [range(trips[l]) for l in order]
    resident, fetches = None, 0
    for index in itertools.product(*loops):
        tile = tuple(i for l, i in zip(order, index) if l in relevant)
        if tile != resident:
            fetches, resident = fetches + 1, tile
    return fetches


@settings(max_examples=80, deadline=None)
@given(order=st.sampled_from(analytical.LOOP_ORDERS),
       trips=st.fixed_dictionaries({l: st.integers(1, 4) for l in "nkcp"}))
def test_reuse_rule_matches_walking_the_loop_nest(order, trips):
    as_arrays = {l: np.array([t]) for l, t in trips.items()}
    for operand, relevant in analytical.RELEVANT.items():
        formula = int(np.asarray(analytical._fetches(order, as_arrays, operand)).ravel()[0])
        assert formula == brute_force_fetches(order, trips, relevant)


def test_psums_spill_to_dram_when_channels_are_the_outer_loop():
    arch = load_arch("edge_tiny")
    table = energy_table(arch)
    [op] = get_method("baseline", arch).transform(conv("c", 64, 16, 8), arch)
    inner = evaluate(arch, op, Mapping(kt=8, ct=16, pt=2, order="nkpc"), "ws", table)
    outer = evaluate(arch, op, Mapping(kt=8, ct=16, pt=2, order="nckp"), "ws", table)
    assert inner.accesses["dram"]["ofmap"] == {"reads": 0, "writes": op.ofmap_elements}
    spills = 3 * op.ofmap_elements            # four channel tiles: three round trips
    assert outer.accesses["dram"]["ofmap"] == {"reads": spills, "writes": spills + op.ofmap_elements}
    assert outer.dram_read_bytes - inner.dram_read_bytes >= spills * 4 - \
        (inner.accesses["dram"]["ifmap"]["reads"] - outer.accesses["dram"]["ifmap"]["reads"]) - \
        (inner.accesses["dram"]["weight"]["reads"] - outer.accesses["dram"]["weight"]["reads"])


def test_edge_tiles_price_exactly_the_layers_macs():
    arch = load_arch("nvdla_small")
    table = energy_table(arch)
    [op] = get_method("baseline", arch).transform(conv("odd", 13, 19, 11, R=3, stride=2), arch)
    for mapping in (Mapping(kt=5, ct=4, pt=3), Mapping(kt=19, ct=13, pt=6), Mapping(kt=1, ct=1, pt=1)):
        assert evaluate(arch, op, mapping, "os", table).pe_ops == op.pe_macs


def test_a_buffer_too_small_for_any_tile(arch_yaml):
    arch = load_arch(arch_yaml({"memory.1.size_bytes": 16}))
    with pytest.raises(SpecError, match="too small for any tile of layer 'conv1'"):
        dlaforge.simulate(arch, "resnet18", dataflow="ws")


def test_compute_cycles_of_a_single_fold_follow_the_systolic_formula():
    arch = load_arch("edge_tiny")
    table = energy_table(arch)
    [op] = get_method("baseline", arch).transform(linear("fc", 4, 4, N=10), arch)
    # ws runs on the generated controller (docs/controller.md): one fold per tile (4 filters,
    # 4 channels, a 1x1 kernel) streaming its one pixel, program.ws_fold_length = 2*rows +
    # cols + pixels + 1 cycles; one tile per image
    stats = evaluate(arch, op, Mapping(kt=4, ct=4, pt=1), "ws", table)
    assert stats.compute_cycles == 10 * (2 * 4 + 4 + 1 + 1)
    assert stats.pe_ops == 10 * 16


def test_dram_bandwidth_produces_stalls(arch_yaml):
    fast = load_arch(arch_yaml({"dram.bandwidth_bytes_per_cycle": 1000, "memory.1.size_bytes": 65536}))
    slow = load_arch(arch_yaml({"dram.bandwidth_bytes_per_cycle": 0.25, "memory.1.size_bytes": 65536}))
    a = dlaforge.simulate(fast, "alexnet", dataflow="os").totals
    b = dlaforge.simulate(slow, "alexnet", dataflow="os").totals
    assert b.stall_cycles > 10 * a.stall_cycles
    assert b.stall_cycles >= (b.dram_read_bytes + b.dram_write_bytes) / 0.25 - b.compute_cycles


def test_objective_changes_the_choice():
    energy = dlaforge.simulate("tpu_like", "resnet18", dataflow="os", objective="energy").totals
    cycles = dlaforge.simulate("tpu_like", "resnet18", dataflow="os", objective="cycles").totals
    assert cycles.cycles <= energy.cycles and energy.energy_pj <= cycles.energy_pj
    with pytest.raises(SpecError, match="unknown objective 'area'"):
        dlaforge.simulate("tpu_like", "resnet18", dataflow="os", objective="area")
