"""The models of the mapped ws, os and is programs (docs/controller.md, "The ws program, cycle by
cycle", "The os program ...", "The is program ..."), each case under every dataflow:

- the exact timing model (sim/cycle/controller_timing.py, numba) equals a plain request-by-request
  interpretation of the contract (tests/sim/controller_reference.py) on small random cases:
  every counter, cycles included;
- the analytical model's closed forms (sim/analytical.py) equal the timing model's counters
  exactly, and its cycles are within 5% of the timing model's, on 60+ random layers x 3 archs x
  several mappings each (the mapper's choice among them).
"""

from __future__ import annotations

import random

import numpy as np

import pytest

from dlaforge.arch import arch_from_mapping, arch_mapping, load_arch
from dlaforge.program import (CONTROLLER_DATAFLOWS, COUNTERS, LOOP_ORDERS, BufferGeometry, Mapping,
                              Shape, fits)
from dlaforge.sim.cycle.controller_timing import controller_counters

from controller_reference import run_command


def narrow_arch():
    """A non-square array with small buffers and a narrow DRAM: edge_tiny at 4 x 8, a 4 KB
    scratchpad, a 1 KB accumulator and 2 bytes per cycle."""
    data = arch_mapping("edge_tiny")
    data["name"] = "edge_narrow"
    data["pe_array"] = {**data["pe_array"], "rows": 4, "cols": 8}
    data["memory"] = [dict(level) for level in data["memory"]]
    data["memory"][1]["size_bytes"] = 4096
    data["memory"][2]["size_bytes"] = 1024
    data["dram"] = {**data["dram"], "bandwidth_bytes_per_cycle": 2}
    return arch_from_mapping(data)


def wide_bits_arch():
    """3 x 5 array, 16-bit operands, 24-bit sums: elements of 2 and 3 bytes."""
    data = arch_mapping("edge_tiny")
    data["name"] = "edge_wide_bits"
    data["pe_array"] = {**data["pe_array"], "rows": 3, "cols": 5, "ifmap_bits": 16,
                        "weight_bits": 16, "psum_bits": 24, "ofmap_bits": 16}
    return arch_from_mapping(data)


def tall_arch():
    """A 6 x 3 array (more rows than columns: an is filter block takes `rows` cycles), 3 bytes
    per cycle."""
    data = arch_mapping("edge_tiny")
    data["name"] = "edge_tall"
    data["pe_array"] = {**data["pe_array"], "rows": 6, "cols": 3}
    data["dram"] = {**data["dram"], "bandwidth_bytes_per_cycle": 3}
    return arch_from_mapping(data)


def random_shape(rng, most=9):
    R, S = rng.choice([1, 2, 3]), rng.choice([1, 2, 3])
    stride = rng.choice([1, 2, 3])
    pad = rng.choice([0, 1, 2]) if max(R, S) > 1 else 0
    H, W = rng.randint(R, most), rng.randint(S, most)
    P, Q = (H + 2 * pad - R) // stride + 1, (W + 2 * pad - S) // stride + 1
    if rng.random() < 0.3:      # a hanging window: the rounded-up output size
        P = -(-(H + 2 * pad - R) // stride) + 1
    if rng.random() < 0.3:
        Q = -(-(W + 2 * pad - S) // stride) + 1
    return Shape(N=rng.choice([1, 1, 2]), C=rng.randint(1, most), H=H, W=W,
                 K=rng.randint(1, most), R=R, S=S, P=P, Q=Q, stride=stride, padding=pad)


def random_mapping(rng, shape, columns=False):
    """Random tile sizes and order; with `columns`, half of them tile the output columns too
    (qt < Q likely)."""
    m = Mapping(kt=rng.randint(1, shape.K), ct=rng.randint(1, shape.C),
                pt=rng.randint(1, shape.P), order=rng.choice(LOOP_ORDERS))
    if columns and rng.random() < 0.5:
        m = Mapping(m.kt, m.ct, m.pt, m.order, qt=rng.randint(1, shape.Q))
    return m


def mapping_fits(arch, shape, m):
    return fits(arch, W=shape.W, H=shape.H, R=shape.R, S=shape.S, Q=shape.Q,
                stride=shape.stride, kt=m.kt, ct=m.ct, pt=m.pt, qt=m.qt, padding=shape.padding)


def _reference(arch, shape, mapping, requant, bandwidth, latency, check_words=False,
               dataflow="ws"):
    pe = arch.pe_array
    bits = (pe.ifmap_bits, pe.weight_bits, pe.psum_bits, pe.ofmap_bits)
    geo = BufferGeometry.of(arch)
    halves = (geo.ifmap_half, geo.weight_half, geo.acc_half) if check_words else None
    return run_command(pe.rows, pe.cols, bits, bandwidth, latency, vars(shape), vars(mapping),
                       requant, halves, dataflow)


@pytest.mark.parametrize("dataflow", CONTROLLER_DATAFLOWS)
@pytest.mark.parametrize("arch", [load_arch("edge_tiny"), narrow_arch(), wide_bits_arch(),
                                  tall_arch()], ids=lambda a: a.name)
def test_timing_model_equals_the_contract(arch, dataflow):
    rng = random.Random(arch.name)
    for _ in range(120):
        shape = random_shape(rng)
        mapping = random_mapping(rng, shape)
        requant = rng.random() < 0.5
        bandwidth = rng.choice([0.5, 1, 2, 3, 4, 5, 16])
        latency = rng.choice([0, 1, 3, 20])
        expected = _reference(arch, shape, mapping, requant, bandwidth, latency,
                              dataflow=dataflow)
        got = controller_counters(arch, shape, mapping, requant, bandwidth, latency, dataflow)
        assert set(got) == set(COUNTERS)
        assert got == expected, (shape, mapping, requant, bandwidth, latency)


@pytest.mark.parametrize("dataflow", CONTROLLER_DATAFLOWS)
def test_mappings_that_fit_address_inside_their_halves(dataflow):
    """A mapping program.fits admits reads and writes buffer words inside one half."""
    arch, rng, checked = narrow_arch(), random.Random(7), 0
    while checked < 40:
        shape = random_shape(rng, most=12)
        mapping = random_mapping(rng, shape)
        if not fits(arch, W=shape.W, H=shape.H, R=shape.R, S=shape.S, Q=shape.Q,
                    stride=shape.stride, kt=mapping.kt, ct=mapping.ct, pt=mapping.pt):
            continue
        _reference(arch, shape, mapping, True, 2, 10, check_words=True, dataflow=dataflow)
        checked += 1


def test_timing_model_examples():
    """Hand-checked: one tile, one fold, no padding, edge_tiny (4 x 4, 4 bytes per cycle)."""
    arch = load_arch("edge_tiny")
    shape = Shape(N=1, C=4, H=1, W=2, K=4, R=1, S=1, P=1, Q=2)
    got = controller_counters(arch, shape, Mapping(kt=4, ct=4, pt=1), False, latency=5)
    # LOAD: 2 ifmap words (one 4-byte request each) at 1, 2; 4 weight words at 3 .. 6;
    # d = 6 + 5 + 1 = 12; the fold 13 .. 13 + (8 + 4 + 2 + 1) - 1 = 27, g = 14. Step 1: no
    # tile, g = 16. Step 2: g = max(16, 28) = 28, write-back: FETCH 29, 4 sums of 4 bytes (one
    # per request, gap 1) at 30 .. 33, FETCH 34, 35 .. 38 = dW, g = 39, then g = 41.
    # cycles = 42.
    assert got["cycles"] == 42
    assert got["busy_cycles"] == 15
    assert got["dram_read_bytes"] == 8 + 16 and got["dram_write_bytes"] == 2 * 4 * 4
    assert got["acc_reads"] == 2 * 4 and got["acc_writes"] == 2 * 4
    # os: the same LOAD (d = 12); one fold (4 filters x 2 pixels: one block of each) of Z =
    # 1 block x 4 steps, 4 + 2*4 + 4 + 1 = 17 cycles, 13 .. 29; step 2 from g = 30: FETCH 31,
    # requests 32 .. 35, FETCH 36, 37 .. 40 = dW, g = 41, then 43: cycles = 44.
    got = controller_counters(arch, shape, Mapping(kt=4, ct=4, pt=1), False, latency=5,
                              dataflow="os")
    assert got["cycles"] == 44 and got["busy_cycles"] == 17
    assert got["ifmap_reads"] == 2 * 4 and got["weight_reads"] == 4 * 4
    assert got["acc_reads"] == 2 * 4 and got["acc_writes"] == 2 * 4
    # is: the same LOAD (d = 12); one fold (2 pixels x 4 channels held, one filter block):
    # 0 + 2*4 + 3*4 + 2 = 22 cycles, 13 .. 34; step 2 from g = 35: FETCH 36, 37 .. 40, FETCH
    # 41, 42 .. 45 = dW, g = 46, then 48: cycles = 49.
    got = controller_counters(arch, shape, Mapping(kt=4, ct=4, pt=1), False, latency=5,
                              dataflow="is")
    assert got["cycles"] == 49 and got["busy_cycles"] == 22
    assert got["ifmap_reads"] == 2 * 4 and got["weight_reads"] == 4 * 4
    assert got["acc_reads"] == 2 * 4 and got["acc_writes"] == 2 * 4


# The analytical model against the timing model --------------------------------------------
def random_layer(rng):
    """A layer of realistic proportions: 1-64 channels and filters, 3-40 pixels a side."""
    R = rng.choice([1, 1, 3, 3, 5, 7])
    stride = rng.choice([1, 1, 2, 3])
    pad = rng.choice([0, R // 2]) if R > 1 else 0
    H, W = rng.randint(max(R, 3), 40), rng.randint(max(R, 3), 40)
    P, Q = (H + 2 * pad - R) // stride + 1, (W + 2 * pad - R) // stride + 1
    if rng.random() < 0.25:
        P = -(-(H + 2 * pad - R) // stride) + 1
    if rng.random() < 0.25:
        Q = -(-(W + 2 * pad - R) // stride) + 1
    groups = rng.choice([1, 1, 1, 2, 4])
    return groups, Shape(N=rng.choice([1, 1, 2]), C=rng.randint(1, 64), H=H, W=W,
                         K=rng.randint(1, 64), R=R, S=R, P=P, Q=Q, stride=stride, padding=pad)


def _op(shape, groups, arch):
    from dlaforge.workloads.hwop import HwOp
    pe = arch.pe_array
    return HwOp(name="l", N=shape.N, K=shape.K * groups, C=shape.C * groups, P=shape.P,
                Q=shape.Q, R=shape.R, S=shape.S, H=shape.H, W=shape.W, stride=shape.stride,
                padding=shape.padding, groups=groups, ifmap_bits=pe.ifmap_bits,
                weight_bits=pe.weight_bits, psum_bits=pe.psum_bits, ofmap_bits=pe.ofmap_bits)


def _mappings(rng, arch, shape, op, table, count, dataflow):
    """The mapper's choice, then random mappings that fit."""
    from dlaforge.sim.analytical import search
    found = {search(arch, op, dataflow, "energy", table)[0]}
    tries = 0
    while len(found) < count and tries < 200:
        tries += 1
        m = random_mapping(rng, shape, columns=True)
        if mapping_fits(arch, shape, m):
            found.add(m)
    return sorted(found, key=repr)


# three archs per dataflow (gemmini_like has no is: tpu_like stands in)
ANALYTICAL_CASES = [(arch, dataflow) for arch in (load_arch("edge_tiny"), load_arch("gemmini_like"),
                                                  narrow_arch(), load_arch("tpu_like"))
                    for dataflow in CONTROLLER_DATAFLOWS if dataflow in arch.pe_array.dataflows
                    and (arch.name != "tpu_like" or dataflow == "is")]


@pytest.mark.parametrize("arch,dataflow", ANALYTICAL_CASES,
                         ids=[f"{a.name}-{d}" for a, d in ANALYTICAL_CASES])
def test_analytical_equals_timing_model(arch, dataflow):
    import numpy as np

    from dlaforge.sim import controller_cost, controller_cycles
    from dlaforge.sim.analytical import evaluate
    from dlaforge.sim.cycle.model import native_cycle_stats
    from dlaforge.sim.energy import energy_table

    table, rng = energy_table(arch), random.Random(f"layers {arch.name}")
    errors, layers, column_tiled = [], 0, 0
    while layers < 64:
        groups, shape = random_layer(rng)
        op = _op(shape, groups, arch)
        if not controller_cost.controller_runs(arch, op, dataflow):
            continue            # its smallest tile does not fit (a wide image): tiled.py's
        layers += 1
        for mapping in _mappings(rng, arch, shape, op, table, 4, dataflow):
            column_tiled += mapping.columns(shape.Q) < shape.Q
            timed = controller_counters(arch, shape, mapping, True, dataflow=dataflow)
            g = mapping.as_grid(dataflow)
            closed = controller_cost.counters(arch, shape, g, mapping.order, dataflow=dataflow)
            for name in COUNTERS[1:]:
                assert int(np.asarray(closed[name]).ravel()[0]) == timed[name], (name, shape,
                                                                                  mapping)
            estimate = float(controller_cycles.cycles(arch, shape, g, mapping.order,
                                                      dataflow=dataflow)[0])
            errors.append(abs(estimate - timed["cycles"]) / timed["cycles"])
            assert errors[-1] <= 0.05, (shape, mapping, estimate, timed["cycles"])
            # the two models' Stats: equal but for the cycles
            ana = evaluate(arch, op, mapping, dataflow, table)
            _, cyc, _ = native_cycle_stats(arch, op, dataflow, "energy", table, mapping)
            assert cyc.cycles == timed["cycles"] * groups
            assert (ana.accesses, ana.compute_cycles, ana.dram_read_bytes,
                    ana.dram_write_bytes) == (cyc.accesses, cyc.compute_cycles,
                                              cyc.dram_read_bytes, cyc.dram_write_bytes)
            assert ana.energy_pj == pytest.approx(cyc.energy_pj, rel=1e-12)
    assert len(errors) >= 3 * 64
    assert column_tiled >= 32          # qt < Q in the sweep
    print(f"{arch.name} {dataflow}: {len(errors)} cases, {column_tiled} column-tiled, "
          f"worst {max(errors):.4%}")


# Column tiles -------------------------------------------------------------------------------
def test_a_full_width_column_tile_is_the_untiled_program():
    """qt = Q (or more) is qt None: the same tiles, counters and closed forms."""
    import numpy as np

    from dlaforge.sim import controller_cost, controller_cycles

    arch, rng = narrow_arch(), random.Random(11)
    for _ in range(40):
        shape = random_shape(rng, most=12)
        m = random_mapping(rng, shape)
        dataflow = rng.choice(CONTROLLER_DATAFLOWS)
        wide = Mapping(m.kt, m.ct, m.pt, m.order, qt=shape.Q + rng.choice([0, 0, 3]))
        assert (controller_counters(arch, shape, wide, True, dataflow=dataflow)
                == controller_counters(arch, shape, m, True, dataflow=dataflow))
        for fn in (controller_cost.counters, controller_cycles.cycles):
            got = [fn(arch, shape, x.as_grid(dataflow), m.order, dataflow=dataflow)
                   for x in (m, wide)]
            if isinstance(got[0], dict):
                got = [{k: np.asarray(v).ravel().tolist() for k, v in x.items()} for x in got]
            else:
                got = [x.tolist() for x in got]
            assert got[0] == got[1]


def test_column_tile_words():
    """A tile's ifmap words count the input columns of its output columns (the halo
    included); the last column tile reaches the right edge."""
    from dlaforge.program import cols_read, tile_words

    # W = 11, 3 x 3, stride 2, padding 1, Q = 7 (the last window hangs): tiles of 3 columns
    lo, hi = cols_read(11, 3, 2, 1, 7, np.array([0, 3, 6]), np.array([3, 3, 1]))
    assert lo.tolist() == [0, 5, 11] and hi.tolist() == [6, 11, 11]
    # every column of a full-width tile, even one no window reads (stride 2, W even)
    assert cols_read(12, 1, 2, 0, 6, 0, 6)[1] == 12
    words = tile_words(4, 4, W=224, H=224, R=7, S=7, Q=112, stride=2, kt=1, ct=1, pt=1, qt=1,
                       padding=3)
    assert (words["ifmap"], words["weight"], words["ofmap"]) == (7 * 7, 49, 1)
    assert tile_words(4, 4, W=224, H=224, R=7, S=7, Q=112, stride=2, kt=1, ct=1,
                      pt=1)["ifmap"] == 7 * 224


def _resnet18_ops(arch):
    from dlaforge.workloads.methods import get_method
    from dlaforge.workloads.networks import load_network

    method = get_method("baseline", arch)
    return [op for layer in load_network("resnet18").layers if layer.kind != "vector"
            for op in method.transform(layer, arch)]


@pytest.mark.parametrize("dataflow", CONTROLLER_DATAFLOWS)
def test_resnet18_conv1_runs_on_edge_tiny_by_column_tiles(dataflow):
    """edge_tiny's ifmap half (1024 words) holds no full-width row tile of conv1 (7 rows x
    224 columns); with column tiles the controller runs every ResNet-18 op, and the mapper's
    choice for conv1 prices within 5% of its exact timing (counters equal)."""
    import numpy as np

    from dlaforge.sim import controller_cost, controller_cycles
    from dlaforge.sim.analytical import search
    from dlaforge.sim.energy import energy_table

    arch = load_arch("edge_tiny")
    ops = _resnet18_ops(arch)
    assert all(controller_cost.controller_runs(arch, op, dataflow) for op in ops)
    conv1 = ops[0]
    shape = controller_cost.shape_of(conv1, arch)
    assert (conv1.name, shape.W, shape.R, shape.stride) == ("conv1", 224, 7, 2)
    assert not fits(arch, W=224, H=224, R=7, S=7, Q=112, stride=2, kt=1, ct=1, pt=1)
    mapping, _ = search(arch, conv1, dataflow, "energy", energy_table(arch))
    assert mapping.qt < shape.Q
    others = [Mapping(4, 3, 1, "nkcp", qt=16), Mapping(8, 3, 2, "ncpk", qt=7)]
    for m in [mapping] + [m for m in others if mapping_fits(arch, shape, m)]:
        timed = controller_counters(arch, shape, m, True, dataflow=dataflow)
        g = m.as_grid(dataflow)
        closed = controller_cost.counters(arch, shape, g, m.order, dataflow=dataflow)
        for name in COUNTERS[1:]:
            assert int(np.asarray(closed[name]).ravel()[0]) == timed[name], (name, m)
        estimate = float(controller_cycles.cycles(arch, shape, g, m.order, dataflow=dataflow)[0])
        assert abs(estimate - timed["cycles"]) <= 0.05 * timed["cycles"], (m, estimate, timed)


@pytest.mark.parametrize("objective", ["cycles", "edp"])
def test_bounded_search_picks_what_pricing_every_candidate_picks(objective, monkeypatch):
    """By cycles or edp the mapper prices candidates in order of a lower bound (the busy
    cycles) and stops past the best: the same mapping and Stats as pricing them all (8 random
    layers on edge_tiny and a 4 x 8 array)."""
    from dlaforge.sim import analytical, controller_cost, controller_cycles
    from dlaforge.sim.energy import energy_table

    def every(arch, op, shape, g, order, dataflow, objective, energy, busy, bound):
        cycles = controller_cycles.cycles(arch, shape, g, order, dataflow=dataflow) * op.groups
        return np.arange(len(energy)), cycles

    rng, checked = random.Random(f"bounded {objective}"), 0
    for arch in (load_arch("edge_tiny"), narrow_arch()):
        table = energy_table(arch)
        for _ in range(2):
            shape = random_shape(rng, most=10)
            op = _op(shape, 1, arch)
            dataflow = rng.choice(CONTROLLER_DATAFLOWS)
            if not controller_cost.controller_runs(arch, op, dataflow):
                continue
            bounded = analytical.search(arch, op, dataflow, objective, table)
            with monkeypatch.context() as m:
                m.setattr(analytical, "_bounded_cycles", every)
                assert analytical.search(arch, op, dataflow, objective, table) == bounded
            checked += 1
    assert checked >= 3
