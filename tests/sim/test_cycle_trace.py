"""`--trace DIR`: the cycle model's DRAM request and SRAM tile traces, checked against the
record they come from and against the tensors' own address ranges."""

import csv
import gzip
import math

import pytest

import dlaforge
from dlaforge.cli import main
from dlaforge.sim.cycle.trace import BURST, DRAM_BASES

# two 3x3 convs (stride <= kernel: every ifmap row is read) and a repeat of the first, which
# the run prices once but must still trace
TOPOLOGY = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
            "Num Filter, Strides,\nc1, 12, 10, 3, 3, 6, 10, 1,\nc2, 11, 9, 3, 3, 10, 7, 2,\n"
            "c3, 12, 10, 3, 3, 6, 10, 1,\n")


def read_gz(path):
    with gzip.open(path, "rt") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trace")
    topology = folder / "t.csv"
    topology.write_text(TOPOLOGY)
    out = folder / "out"
    out.mkdir()
    record = dlaforge.simulate("edge_tiny", topology, model="cycle", trace=out)
    stem = out / f"edge_tiny_{record.network}_{record.dataflow}"
    return record, read_gz(f"{stem}_dram.csv.gz"), read_gz(f"{stem}_sram.csv.gz"), out


def blocks(first, size):
    """The BURST-aligned requests that cover bytes [first, first + size)."""
    return set(range(first // BURST * BURST, first + size, BURST))


def test_only_the_two_trace_files_are_left(traced):
    *_, out = traced
    assert sorted(p.name for p in out.iterdir()) == [
        "edge_tiny_t_ws_dram.csv.gz", "edge_tiny_t_ws_sram.csv.gz"]


def test_dram_requests_cover_each_tensor_and_the_recorded_traffic(traced):
    record, dram, _, _ = traced
    assert [layer.name for layer in record.layers] == ["c1", "c2", "c3"]
    for layer in record.layers:
        rows = [r for r in dram if r["layer"] == layer.name]
        addresses = {op: {int(r["address"], 16) - DRAM_BASES[op] for r in rows if r["operand"] == op}
                     for op in DRAM_BASES}
        sh = layer.shape
        assert all(int(r["address"], 16) % BURST == 0 for r in rows)
        # every ifmap row is read: the requests cover the whole NCHW ifmap, int8
        assert addresses["ifmap"] == blocks(0, sh["C"] * sh["H"] * sh["W"])
        assert addresses["weight"] == blocks(0, sh["K"] * sh["C"] * sh["R"] * sh["S"])
        assert addresses["ofmap"] == blocks(0, sh["K"] * sh["P"] * sh["Q"])
        assert {r["type"] for r in rows if r["operand"] == "ofmap"} == {"W"}
        reads = sum(r["type"] == "R" for r in rows) * BURST
        writes = sum(r["type"] == "W" for r in rows) * BURST
        assert reads >= layer.stats.dram_read_bytes and writes >= layer.stats.dram_write_bytes


def test_cycles_run_on_across_layers(traced):
    record, dram, sram, _ = traced
    start = 0
    for layer in record.layers:
        cycles = [int(r["cycle"]) for r in dram if r["layer"] == layer.name]
        spans = [(int(r["start"]), int(r["end"])) for r in sram if r["layer"] == layer.name]
        assert start <= min(cycles) and max(cycles) < start + layer.stats.cycles
        assert start <= min(s for s, _ in spans) and max(e for _, e in spans) <= start + layer.stats.cycles
        start += layer.stats.cycles


def test_sram_rows_sum_to_the_recorded_buffer_accesses(traced):
    record, _, sram, _ = traced
    for layer in record.layers:
        rows = [r for r in sram if r["layer"] == layer.name]
        total = {(op, col): sum(int(r[col]) for r in rows if r["operand"] == op)
                 for op in ("ifmap", "weight", "ofmap")
                 for col in ("array_reads", "array_writes", "dram_fills", "dram_drains")}
        acc = layer.stats.accesses
        for op in ("ifmap", "weight"):
            buffer = next(r["buffer"] for r in rows if r["operand"] == op)
            assert total[op, "array_reads"] == acc[buffer][op]["reads"]
            assert total[op, "dram_fills"] == acc[buffer][op]["writes"]
        buffer = next(r["buffer"] for r in rows if r["operand"] == "ofmap")
        # the accumulator takes the array's sums and partial sums coming back from DRAM
        assert total["ofmap", "array_writes"] + total["ofmap", "dram_fills"] == acc[buffer]["ofmap"]["writes"]
        assert total["ofmap", "dram_drains"] == acc["dram"]["ofmap"]["writes"]
        assert total["ofmap", "dram_fills"] == acc["dram"]["ofmap"]["reads"]


@pytest.mark.parametrize("args, message", [
    (["--arch", "edge_tiny", "--model", "analytical"], "--trace needs --model cycle"),
    (["--arch", "tests/fixtures/scalesim/conv_8x8_os/arch.cfg", "--model", "cycle"],
     "--trace needs --model cycle on a preset"),
])
def test_trace_refuses_other_models_with_exit_2(tmp_path, capsys, args, message):
    assert main(["simulate", *args, "--network", "resnet18", "--trace", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert list(tmp_path.iterdir()) == []


def test_trace_into_a_missing_folder_is_refused(tmp_path, capsys):
    args = ["simulate", "--arch", "edge_tiny", "--network", "resnet18", "--model", "cycle",
            "--trace", str(tmp_path / "nope"), "--quiet"]
    assert main(args) == 2
    assert "does not exist" in capsys.readouterr().err
