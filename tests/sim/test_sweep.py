"""`dlaforge sweep`: spec expansion (grid, Latin hypercube, random), rows against
`simulate`, the Pareto column against brute force, refused points, the resumable store
(interrupted by SIGINT / SIGKILL and rerun), Dask against local workers, and bad specs."""

import csv
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml

import dlaforge
from dlaforge.arch import arch_from_mapping, load_arch
from dlaforge.cli import main
from dlaforge.sim.run import run_network
from dlaforge.sim.sweep.spec import load_sweep_spec
from dlaforge.sim.sweep.store import STORE_NAME
from dlaforge.sweep_driver import _with_pareto, sweep_folder
from dlaforge.workloads.networks import load_network

TOPOLOGY = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
            "Num Filter, Strides,\nc1, 16, 16, 3, 3, 8, 16, 1,\nc2, 14, 14, 3, 3, 16, 16, 2,\n")
FIGURES = ("energy_pj", "cycles", "dram_read_bytes", "dram_write_bytes", "utilization")


@pytest.fixture
def tiny_net(tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text(TOPOLOGY)
    return str(path)


def grid_spec(networks, **extra):
    return {"base": "edge_tiny", "networks": networks, "dataflows": ["ws", "os"],
            "objective": "edp",
            "vary": {"pe_array.rows": [4, 8], "memory.scratchpad.size_bytes": [16384, 65536],
                     "dram.bandwidth_bytes_per_cycle": [4]}, **extra}


def write_spec(tmp_path, spec, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec))
    return path


def stored_rows(out):
    """[(session, rows it stored)] of the sweep folder's store."""
    with sqlite3.connect(f"file:{out / STORE_NAME}?mode=ro", uri=True) as db:
        return db.execute("SELECT session, COUNT(*) FROM runs GROUP BY session").fetchall()


# Spec expansion -------------------------------------------------------------------------------
def test_grid_points_are_the_product_with_memory_levels_by_name():
    spec = load_sweep_spec(grid_spec(["alexnet"]))
    points = spec.points()
    assert spec.varied == ("pe_array.rows", "memory.scratchpad.size_bytes",
                           "dram.bandwidth_bytes_per_cycle")
    assert [tuple(v for _, v in p.values) for p in points] == list(
        itertools.product([4, 8], [16384, 65536], [4]))
    arch = arch_from_mapping(points[3].arch)
    assert (arch.pe_array.rows, arch.shared_level("ifmap").size_bytes,
            arch.dram.bandwidth_bytes_per_cycle) == (8, 65536, 4.0)
    assert load_arch("edge_tiny").shared_level("ifmap").size_bytes == 16384   # base untouched


@pytest.mark.parametrize("method", ["lhs", "random"])
def test_sampled_points_stay_in_their_ranges_and_repeat_with_the_seed(method):
    spec = {"base": "edge_tiny", "networks": ["alexnet"],
            "vary": {"pe_array.cols": [4, 8],
                     "dram.bandwidth_bytes_per_cycle": {"min": 1.0, "max": 16.0},
                     "memory.scratchpad.size_bytes": {"min": 4096, "max": 262144, "log": True}},
            "samples": {"count": 20, "method": method, "seed": 7}}
    points = load_sweep_spec(spec).points()
    assert len(points) == 40
    for p in points:
        values = dict(p.values)
        assert 1.0 <= values["dram.bandwidth_bytes_per_cycle"] < 16.0
        size = values["memory.scratchpad.size_bytes"]
        assert isinstance(size, int) and 4096 <= size <= 262144
    draws = [dict(p.values) for p in points[:20]]
    assert draws == [{**dict(p.values), "pe_array.cols": 4} for p in points[20:]]
    assert [p.values for p in load_sweep_spec(spec).points()] == [p.values for p in points]
    reseeded = load_sweep_spec({**spec, "samples": {**spec["samples"], "seed": 8}}).points()
    assert [p.values for p in reseeded] != [p.values for p in points]
    if method == "lhs":   # one draw in each of the 20 strata of every range
        bandwidths = [(d["dram.bandwidth_bytes_per_cycle"] - 1.0) / 15.0 for d in draws]
        assert sorted(int(b * 20) for b in bandwidths) == list(range(20))


# Rows ------------------------------------------------------------------------------------------
def test_rows_equal_simulate_on_the_same_arch(tmp_path, tiny_net):
    spec = grid_spec(["alexnet", tiny_net])
    rows = dlaforge.sweep(spec, tmp_path / "out", workers=1)
    points = load_sweep_spec(spec).points()
    assert len(rows) == len(points) * 2 * 2
    for row in rows:
        arch = arch_from_mapping(points[row["point"]].arch)
        assert row["pe_array.rows"] == arch.pe_array.rows
        totals = dlaforge.simulate(arch, tiny_net if row["network"] == "tiny" else "alexnet",
                                   dataflow=row["dataflow"], objective="edp").totals
        assert row["status"] == "ok"
        assert [row[f] for f in FIGURES] == [getattr(totals, f) for f in FIGURES]
    with open(tmp_path / "out" / "results.csv") as f:
        assert list(csv.DictReader(f)) == [{k: "" if v is None else str(v) for k, v in r.items()}
                                           for r in rows]
    page = (tmp_path / "out" / "index.html").read_text()
    for text in ("alexnet: Pareto front", "tiny: effect of each parameter",
                 "energy and cycles against memory.scratchpad.size_bytes",
                 "best runs by edp"):
        assert text in page


def test_pareto_column_against_brute_force():
    rng = __import__("random").Random(3)
    rows = [{"network": rng.choice("ab"), "status": rng.choice(["ok"] * 5 + ["refused"]),
             "energy_pj": float(rng.randint(1, 6)), "cycles": rng.randint(1, 6)}
            for _ in range(300)]
    marked = _with_pareto(rows)
    for row in marked:
        dominated = any(o is not row and o["network"] == row["network"] and o["status"] == "ok"
                        and o["energy_pj"] <= row["energy_pj"] and o["cycles"] <= row["cycles"]
                        and (o["energy_pj"], o["cycles"]) != (row["energy_pj"], row["cycles"])
                        for o in marked)
        assert row["pareto"] == (row["status"] == "ok" and not dominated)
    assert sum(r["pareto"] for r in marked) > 2


def test_refused_points_carry_the_reason(tmp_path):
    spec = {"base": "edge_tiny", "networks": ["alexnet"], "dataflows": ["ws"],
            "vary": {"pe_array.rows": [0, 4], "memory.scratchpad.size_bytes": [16, 16384]}}
    rows = dlaforge.sweep(spec, tmp_path / "out", workers=1)
    status = {(r["pe_array.rows"], r["memory.scratchpad.size_bytes"]): (r["status"], r["reason"])
              for r in rows}
    assert status[(0, 16384)] == ("refused", "`pe_array.rows` must be a positive integer, not 0")
    assert status[(4, 16)][0] == "refused" and "too small for any tile" in status[(4, 16)][1]
    assert status[(4, 16384)] == ("ok", "")
    assert not any(r["pareto"] for r in rows if r["status"] == "refused")
    assert "Refused runs (3)" in (tmp_path / "out" / "index.html").read_text()


def test_equal_points_are_computed_once(tmp_path):
    spec = {"base": "edge_tiny", "networks": ["alexnet"], "dataflows": ["ws"],
            "vary": {"pe_array.rows": [4, 4]}}
    export = sweep_folder(spec, tmp_path / "out", workers=1)
    assert (export.outcome.points, export.outcome.computed) == (2, 1)
    first, second = export.outcome.rows
    assert {**first, "point": 1} == second
    assert stored_rows(tmp_path / "out")[0][1] == 1


def test_ops_priced_once_across_points_that_differ_only_in_clock():
    net = load_network("alexnet")
    cache = {}
    slow, fast = (arch_from_mapping({**load_sweep_spec(grid_spec(["alexnet"])).base_arch,
                                     "clock_mhz": mhz}) for mhz in (100, 800))
    first = run_network(slow, net, "ws", "baseline", "energy", 1, "v", cache=cache)
    entries = len(cache)
    second = run_network(fast, net, "ws", "baseline", "energy", 1, "v", cache=cache)
    assert len(cache) == entries > 0
    assert first.totals == second.totals


def test_area_column_and_front(tmp_path):
    spec = {"base": "edge_tiny", "networks": ["alexnet"], "dataflows": ["ws"], "area": True,
            "vary": {"dram.bandwidth_bytes_per_cycle": [2, 8]}}
    rows = dlaforge.sweep(spec, tmp_path / "out", workers=1)
    assert len({r["area_cells"] for r in rows}) == 1 and rows[0]["area_cells"] > 0
    page = (tmp_path / "out" / "index.html").read_text()
    assert "energy against the PE array cells" in page


def test_area_shows_the_synthesized_um2_once_cached(tmp_path, synth_cache):
    """`area: true` reads each point's synthesized µm² from `rtl synth`'s cache (hw/area,
    stored by hand here: no Yosys run), "—" for a point not synthesized; `area: synth` would
    synthesize it."""
    synth_cache(load_arch("edge_tiny"), 1234567.0, 4321)
    spec = {"base": "edge_tiny", "networks": ["alexnet"], "dataflows": ["ws"], "area": True,
            "vary": {"pe_array.rows": [4, 8]}}
    rows = dlaforge.sweep(spec, tmp_path / "out", workers=1)
    um2 = {r["pe_array.rows"]: r["area_um2"] for r in rows}
    assert um2 == {4: 1234567.0, 8: None}
    assert "area_um2" in (tmp_path / "out" / "results.csv").read_text().splitlines()[0]
    page = (tmp_path / "out" / "index.html").read_text()
    assert "synthesized µm²" in page and "1,234,567" in page and "—" in page


# The store: resume after an interruption -------------------------------------------------------
@pytest.mark.parametrize("sig, workers", [(signal.SIGINT, 2), (signal.SIGKILL, 1)])
def test_interrupted_sweep_resumes_without_losing_or_repeating_a_point(tmp_path, tiny_net, sig,
                                                                       workers):
    spec = {"base": "edge_tiny", "networks": [tiny_net], "dataflows": ["ws"],
            "vary": {"dram.bandwidth_bytes_per_cycle": {"min": 1.0, "max": 32.0}},
            "samples": {"count": 150, "seed": 1}}
    path, out = write_spec(tmp_path, spec), tmp_path / "out"
    command = [sys.executable, "-m", "dlaforge.cli", "sweep", str(path), "--out", str(out),
               "--workers", str(workers)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if sum(n for _, n in stored_rows(out)) >= 10:
                break
        except sqlite3.OperationalError:      # the store or its table not made yet
            pass
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    before = sum(n for _, n in stored_rows(out))
    assert 10 <= before < 150, "the sweep was not stopped mid-way"
    assert not (out / "results.csv").exists()
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert err.strip().splitlines()[-1].startswith("dlaforge: sweep interrupted")
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{150 - before} points computed now, {before} from the store" in rerun.stderr
    sessions = stored_rows(out)
    assert sorted(n for _, n in sessions) == sorted([before, 150 - before])
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 150 and all(r["status"] == "ok" for r in rows)
    assert rerun.stdout.strip() == str(out / "index.html")


# Dask ------------------------------------------------------------------------------------------
def test_dask_cluster_gives_the_rows_of_local_workers(tmp_path, tiny_net):
    distributed = pytest.importorskip("distributed")
    spec = grid_spec([tiny_net])
    local = dlaforge.sweep(spec, tmp_path / "local", workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        on_dask = dlaforge.sweep(spec, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert on_dask == local


# Bad specs -------------------------------------------------------------------------------------
BAD = [
    ({"vary": {"pe_array.rowz": [4]}}, "pe_array has no field 'rowz'"),
    ({"vary": {"memory.sram.size_bytes": [4]}}, "the base has no memory level 'sram'"),
    ({"vary": {"fabric.width": [4]}}, "is not a path into the arch spec"),
    ({"vary": {"pe_array.rows": []}}, "`vary.pe_array.rows` is an empty list"),
    ({"vary": {"pe_array.rows": 4}}, "must be a list of values or a range"),
    ({"vary": {"pe_array.rows": {"min": 8, "max": 4}}}, "min < max"),
    ({"vary": {"pe_array.rows": {"min": 4, "max": 8}}}, "give `samples"),
    ({"networks": "alexnet"}, "`networks` must be a non-empty list"),
    ({"networks": ["nosuchnet"]}, "unknown network 'nosuchnet'"),
    ({"dataflows": ["wz"]}, "unknown dataflow 'wz'"),
    ({"model": "rtl"}, "`model` must be one of analytical, cycle"),
    ({"base": "nosucharch"}, "unknown arch 'nosucharch'"),
    ({"colour": "red"}, "unknown key `colour`"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m for _, m in BAD])
def test_bad_spec_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, change, message):
    path = write_spec(tmp_path, {**grid_spec(["alexnet"]), **change})
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dlaforge: error: ") and message in err
    assert not out.exists()


@pytest.mark.parametrize("text, message", [
    ("base: edge_tiny\nbase: tpu_like\n", "given twice"),
    (b"\xff\xfe\x00binary", "not UTF-8"),
    ("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi")), "values"),
], ids=["repeated key", "binary", "alias bomb"])
def test_spec_file_goes_through_the_input_boundary(tmp_path, capsys, text, message):
    """The sweep spec is read like an arch file: a repeated key, binary data or an alias bomb
    (10^9 values once expanded) is one line, exit 2, nothing written."""
    path = tmp_path / "spec.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sweep spec" in err and message in err, err
    assert not out.exists()


def test_missing_spec_file_and_out_in_a_missing_folder(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "no.yaml"), "--out", str(tmp_path / "o")]) == 2
    assert "sweep spec" in capsys.readouterr().err
    path = write_spec(tmp_path, grid_spec(["alexnet"]))
    assert main(["sweep", str(path), "--out", str(tmp_path / "a" / "b")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "o").exists()
