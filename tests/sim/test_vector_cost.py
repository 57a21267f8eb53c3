"""Vector layers on the arch's vector unit: cycles, traffic and energy by the closed form of
sim/vector_cost.py, recomputed here; the same in the analytical and the cycle model; refused
in one line where there is no vector unit."""

import math
from pathlib import Path

import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.sim.energy import energy_table
from dlaforge.sim.method_costs import node_factor
from dlaforge.sim.run import run_network
from dlaforge.workloads.layer import conv, vector
from dlaforge.workloads.networks import Network

SCALESIM_CFG = Path(__file__).parent.parent / "fixtures/scalesim/conv_4x16_ws/arch.cfg"
FP16_ADD, FP16_MULT = 0.4, 1.1     # REFERENCES.md §1, Horowitz 45 nm


def run(arch, layers, model="analytical", method="baseline", **kwargs):
    dataflow = kwargs.pop("dataflow", arch.pe_array.dataflows[0])
    return run_network(arch, Network("t", tuple(layers)), dataflow, method, "energy", 1,
                       "test", model, **kwargs)


@pytest.mark.parametrize("model", ["analytical", "cycle"])
def test_softmax_is_priced_by_the_closed_form(model):
    arch = load_arch("gemmini_like")
    rows, L = 12 * 128, 128
    [record] = run(arch, [vector("sm", "softmax", C=L, H=rows)], model).layers
    s = record.stats
    ops = {"max": rows * (L - 1), "add": rows * (2 * L - 1), "exp": rows * L, "div": rows * L}
    assert s.ops == ops and s.macs == s.pe_ops == 0
    compute = math.ceil(sum(ops.values()) / arch.unit("vector").ops_per_cycle)
    moved = 2 * rows * L                      # int8 in and out
    busy = max(compute, moved / arch.dram.bandwidth_bytes_per_cycle)
    assert s.compute_cycles == compute
    assert s.cycles == math.ceil(busy) + arch.dram.latency_cycles
    assert (s.dram_read_bytes, s.dram_write_bytes) == (rows * L, rows * L)
    exp_pj, div_pj = 3 * FP16_MULT + 3 * FP16_ADD, 5 * FP16_MULT + 2 * FP16_ADD
    units = (ops["max"] * 0.029 * 1.15 / 2 + ops["add"] * FP16_ADD + ops["exp"] * exp_pj
             + ops["div"] * div_pj) * node_factor(arch)
    assert s.energy_breakdown_pj["units"] == pytest.approx(units)
    table = energy_table(arch)
    assert s.energy_breakdown_pj["dram"] == pytest.approx(
        rows * L * 8 * (table.dram_read_pj_per_bit + table.dram_write_pj_per_bit))
    assert s.accesses["dram"]["ifmap"]["reads"] == s.accesses["dram"]["ofmap"]["writes"] == rows * L


def test_a_wider_vector_unit_is_faster_when_compute_bound(tmp_path):
    narrow = tmp_path / "narrow.yaml"
    narrow.write_text("base: tpu_like\nunits:\n  vector:\n    ops_per_cycle: 2\n")
    layer = vector("gelu", "gelu", C=3072, H=128)
    slow = run(load_arch(str(narrow)), [layer]).totals
    fast = run(load_arch("tpu_like"), [layer]).totals
    assert slow.compute_cycles == math.ceil(12 * 3072 * 128 / 2)
    assert slow.cycles > fast.cycles and slow.energy_pj == pytest.approx(fast.energy_pj)


def test_methods_leave_vector_layers_to_the_vector_unit():
    arch = load_arch("tpu_like_winograd")
    layers = [conv("c", 16, 16, 28), vector("relu", "relu", C=16, H=28, W=28)]
    base = run(arch, layers).layers[1].stats
    wino = run(arch, layers, method="winograd_f4").layers[1].stats
    assert base == wino and base.ops == {"max": 16 * 28 * 28}


def test_vector_layers_are_refused_where_there_is_no_vector_unit(tmp_path):
    relu = vector("relu", "relu", C=4, H=4, W=4)
    bare = tmp_path / "bare.yaml"
    bare.write_text(load_arch_text("edge_tiny").split("units:")[0])
    with pytest.raises(SpecError, match="runs on a vector unit, which arch 'edge_tiny' does not "
                                        "declare"):
        run(load_arch(str(bare)), [relu])
    with pytest.raises(SpecError, match="a SCALE-Sim .cfg has no vector unit"):
        run(load_arch(SCALESIM_CFG), [relu])
    with pytest.raises(SpecError, match="--schedule rtl: the generated hardware has no vector "
                                        "unit for layer 'relu' \\(relu\\)"):
        run(load_arch("edge_tiny"), [relu], "cycle", schedule="rtl")
    import dlaforge.rtl_driver as driver
    with pytest.raises(SpecError, match="--model rtl cannot run layer 'relu' \\(relu\\): the "
                                        "generated accelerator has no vector unit"):
        driver.run_rtl_network(load_arch("edge_tiny"), Network("t", (relu,)), "ws", "baseline",
                               1, "test")


def load_arch_text(name):
    from dlaforge.arch import PRESET_DIR
    return (PRESET_DIR / f"{name}.yaml").read_text()


def test_reports_count_a_vector_layers_compulsory_traffic():
    from dlaforge.report_driver import compulsory_dram_bytes
    arch = load_arch("tpu_like")
    record = run(arch, [conv("c", 16, 16, 28), vector("relu", "relu", C=16, H=28, W=28)])
    assert compulsory_dram_bytes(record, arch)[1] == 2 * 16 * 28 * 28 == (
        record.layers[1].stats.dram_read_bytes + record.layers[1].stats.dram_write_bytes)


def test_an_arch_file_sets_the_vector_units_energy_per_operation(tmp_path):
    from dlaforge.arch import VECTOR_OPERATIONS
    from dlaforge.sim.vector_cost import OP_PJ_45NM
    from dlaforge.workloads.vector_ops import VECTOR_OPS, vector_work
    assert set(OP_PJ_45NM) == set(VECTOR_OPERATIONS)       # every operation is priced
    assert {name for op in VECTOR_OPS for name in vector_work(
        vector("v", op, C=4, H=2), 8).ops} <= set(VECTOR_OPERATIONS)
    own = tmp_path / "own.yaml"
    own.write_text("base: tpu_like\nunits:\n  vector:\n    ops_per_cycle: 32\n"
                   "    energy_pj: {exp: 2.5, div: 1.5}\n")
    layer = vector("sm", "softmax", C=64, H=32)
    ops = vector_work(layer, 8).ops
    mine = run(load_arch(str(own)), [layer]).totals
    table = run(load_arch("tpu_like"), [layer]).totals
    factor = node_factor(load_arch("tpu_like"))
    assert mine.energy_breakdown_pj["units"] == pytest.approx(
        table.energy_breakdown_pj["units"] + ops["exp"] * (2.5 - (3 * FP16_MULT + 3 * FP16_ADD)
                                                           * factor)
        + ops["div"] * (1.5 - (5 * FP16_MULT + 2 * FP16_ADD) * factor))
    for text, message in [("    energy_pj: {tan: 1}\n", "unknown operation 'tan'"),
                          ("    energy_pj: {exp: 0}\n", "energy_pj.exp` must be a positive"),
                          ("    energy_pj: 3\n", "must be a mapping of operation to pJ")]:
        own.write_text("base: tpu_like\nunits:\n  vector:\n    ops_per_cycle: 32\n" + text)
        with pytest.raises(SpecError, match=message):
            load_arch(str(own))
    own.write_text("base: tpu_like\nunits:\n  xnor_scale:\n    ops_per_cycle: 4\n"
                   "    energy_pj: {add: 1}\n")
    with pytest.raises(SpecError, match="only the vector unit takes energies per operation"):
        load_arch(str(own))
