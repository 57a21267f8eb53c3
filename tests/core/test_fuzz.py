"""Fuzz the command line's inputs (issue 16): arch YAML, SCALE-Sim .cfg, topology CSV and saved
JSON records, each a valid seed with one mutation (a value replaced by a hostile one, a key
dropped or added, bytes spliced into the text), fed to `dlaforge` in a worker process under an
address-space limit (fuzz_worker.py). Whatever the input: exit 0 or 2, never a traceback, one
stderr line on exit 2, nothing written on failure, and the process stays within its memory.

The default run is modest (FUZZ_EXAMPLES per input kind, a few seconds each); set
DLAFORGE_FUZZ_EXAMPLES for a longer hunt.
"""

import hashlib
import json
import math
import os
import select
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlaforge.arch import PRESET_DIR
from scalesim_cfg import SCALESIM_CFG

FUZZ_EXAMPLES = int(os.environ.get("DLAFORGE_FUZZ_EXAMPLES", 60))
MEMORY_LIMIT = 3 * 2**30          # address space of the worker: bytes
RUN_SECONDS = 150                 # one run longer than this is a failure (a size not refused;
                                  # generous: a loaded machine compiling numba takes 60 s)
ONE_LAYER = "name, M, N, K,\nfc, 8, 8, 8,\n"
CONV = "name, H, W, R, S, C, K, stride,\nc1, 8, 8, 3, 3, 2, 4, 1,\nc2, 6, 6, 1, 1, 4, 8, 2,\n"
HOSTILE = [0, -1, 1, 3, 2**63, 10**30, 1e-300, math.inf, -math.inf, math.nan, -0.5, True,
           None, "false", "", "../x", "x" * 5000, "ws", [], {}, [1, 2], {"a": 1}]

FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def worker():
    """One fuzz_worker process for the module's examples."""
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("fuzz_worker.py")),
                             str(MEMORY_LIMIT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).parents[1])
    yield proc
    proc.stdin.close()
    proc.wait(timeout=30)


def run(worker, argv, cwd):
    worker.stdin.write(json.dumps([argv, str(cwd)]) + "\n")
    worker.stdin.flush()
    ready, _, _ = select.select([worker.stdout], [], [], RUN_SECONDS)
    assert ready, f"no answer in {RUN_SECONDS} s to {argv}"
    line = worker.stdout.readline()
    assert line, f"the worker died (out of its {MEMORY_LIMIT >> 30} GiB?) on {argv}"
    return json.loads(line)


def snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            if stat.S_ISREG(p.lstat().st_mode) else None for p in sorted(folder.rglob("*"))}


def check(worker, files: dict, argv: list, outputs: tuple):
    """Write `files` into a new folder, run `argv` ({d}: the folder) and check the contract;
    `outputs` are the files a successful run adds."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for name, body in files.items():
            (d / name).write_bytes(body if isinstance(body, bytes) else body.encode())
        before = snapshot(d)
        result = run(worker, [a.format(d=d) for a in argv], d)
        assert result["raised"] is None, result["raised"]
        assert result["code"] in (0, 2), result
        assert "Traceback" not in result["err"]
        after = snapshot(d)
        if result["code"] == 2:
            assert result["err"].count("\n") == 1, result["err"]
            assert after == before
        else:
            assert set(after) - set(before) <= set(outputs)


# Mutations ----------------------------------------------------------------------------------
def paths(value, prefix=()):
    """Every key path into a tree of dicts and lists."""
    out = [prefix] if prefix else []
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        out += paths(child, prefix + (key,))
    return out


@st.composite
def mutated_tree(draw, seed):
    """`seed` (dicts and lists) with one path replaced by a hostile value, dropped, or given an
    unknown sibling key."""
    tree = json.loads(json.dumps(seed))
    path = draw(st.sampled_from(paths(tree)))
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(st.sampled_from(HOSTILE))
    elif action == "drop":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent["unknown_key"] = draw(st.sampled_from(HOSTILE))
    return tree


@st.composite
def spliced(draw, text: str) -> bytes:
    """`text` with a few bytes cut out and text or random bytes put in at one place."""
    data = text.encode()
    at = draw(st.integers(0, len(data)))
    cut = draw(st.integers(0, 8))
    put = draw(st.one_of(st.text(max_size=12).map(str.encode), st.binary(max_size=4)))
    return data[:at] + put + data[at + cut:]


ARCH_SEED = yaml.safe_load((PRESET_DIR / "edge_tiny.yaml").read_text())
CFG_TEXT = SCALESIM_CFG.format(name="f", rows=4, cols=4, dataflow="os", mode="USER",
                               bandwidth=10, ifmap_kb=64, filter_kb=64, ofmap_kb=64,
                               bank_bandwidth=10, bank_num=1)


def csv_mutations(text):
    rows = [line.split(",") for line in text.splitlines()]
    cells = [(r, c) for r in range(1, len(rows)) for c in range(len(rows[r]) - 1)]

    @st.composite
    def one(draw):
        r, c = draw(st.sampled_from(cells))
        changed = [list(row) for row in rows]
        changed[r][c] = " " + str(draw(st.sampled_from(HOSTILE + ["-12", "1" * 40, "3.5"])))
        return "\n".join(",".join(row) for row in changed) + "\n"
    return one()


@st.composite
def cfg_text(draw):
    lines = CFG_TEXT.splitlines()
    keyed = [i for i, line in enumerate(lines) if ":" in line or "=" in line]
    i = draw(st.sampled_from(keyed))
    key = lines[i].split(":" if ":" in lines[i] else "=")[0]
    lines[i] = f"{key}: {draw(st.sampled_from(['0', '-5', '9' * 30, '', 'abc', '1e9', 'ws']))}"
    return "\n".join(lines) + "\n"


SIMULATE = ["simulate", "--network", "{d}/one.csv", "--quiet", "--json", "{d}/r.json",
            "--csv", "{d}/r.csv"]


@FUZZ
@given(arch=st.one_of(mutated_tree(ARCH_SEED).map(yaml.safe_dump),
                      spliced(yaml.safe_dump(ARCH_SEED))),
       model=st.sampled_from(["analytical", "cycle"]))
def test_fuzzed_arch_yaml(worker, arch, model):
    check(worker, {"a.yaml": arch, "one.csv": ONE_LAYER},
          SIMULATE + ["--arch", "{d}/a.yaml", "--model", model], ("r.json", "r.csv"))


@FUZZ
@given(cfg=st.one_of(cfg_text(), spliced(CFG_TEXT)), model=st.sampled_from(["analytical",
                                                                             "cycle"]))
def test_fuzzed_scalesim_cfg(worker, cfg, model):
    check(worker, {"a.cfg": cfg, "one.csv": ONE_LAYER},
          SIMULATE + ["--arch", "{d}/a.cfg", "--model", model], ("r.json", "r.csv"))


@FUZZ
@given(topology=st.one_of(csv_mutations(CONV), csv_mutations(ONE_LAYER), spliced(CONV)),
       model=st.sampled_from(["analytical", "cycle"]))
def test_fuzzed_topology_csv(worker, topology, model):
    check(worker, {"one.csv": topology},
          SIMULATE + ["--arch", "edge_tiny", "--model", model], ("r.json", "r.csv"))


def _record_seed():
    import dlaforge
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "one.csv").write_text(ONE_LAYER)
        return dlaforge.simulate("edge_tiny", str(Path(tmp) / "one.csv")).to_json()


RECORD_SEED = _record_seed()


@settings(FUZZ, max_examples=max(5, FUZZ_EXAMPLES // 3))
@given(record=st.one_of(mutated_tree(RECORD_SEED).map(json.dumps),
                        spliced(json.dumps(RECORD_SEED))))
def test_fuzzed_json_records(worker, record):
    outputs = ("o", "o/index.html", "o/report.md", "o/records.json", "o/figures",
               "o/.dlaforge-manifest.json")
    figures = tuple(f"o/figures/edge_tiny_{name}.png" for name in (
        "energy_totals", "energy_layers", "cycles_utilization", "dram_traffic", "roofline"))
    check(worker, {"r.json": record},
          ["report", "--from-json", "{d}/r.json", "--no-area", "--out", "{d}/o"],
          outputs + figures)
