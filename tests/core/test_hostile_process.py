"""Hostile conditions that need a process of their own (issue 16): Ctrl-C and SIGTERM in the
middle of a run, another user (unreadable input, no writable home) and a memory limit. Each
ends in one stderr line or a clean run, never a traceback, and leaves no output behind."""

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

DLAFORGE = [sys.executable, "-m", "dlaforge.cli"]
# a layer the analytical mapper takes seconds over (just under its size limit)
LONG_LAYER = "name, M, N, K,\nbig, 10000000, 100000000, 100000000,\n"
ONE_LAYER = "name, M, N, K,\nfc, 8, 8, 8,\n"
as_nobody = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                               reason="running as another user needs root and setpriv")


def _stop_mid_run(tmp_path, signum):
    """Start a run of LONG_LAYER with --json, send `signum` once its output is checked (its
    temporary file exists: the run has begun), and return (exit code, stderr)."""
    network = tmp_path.parent / f"{tmp_path.name}.csv"
    network.write_text(LONG_LAYER)
    proc = subprocess.Popen(DLAFORGE + ["simulate", "--arch", "edge_tiny", "--network",
                                        str(network), "--quiet", "--json",
                                        str(tmp_path / "r.json")],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


@pytest.mark.parametrize("signum, code, line", [(signal.SIGINT, 130, "dlaforge: interrupted"),
                                                (signal.SIGTERM, 143, "dlaforge: terminated")])
def test_a_signal_mid_run_ends_cleanly_and_leaves_nothing(tmp_path, signum, code, line):
    returncode, err = _stop_mid_run(tmp_path, signum)
    assert (returncode, err) == (code, line + "\n")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def shared_tmp():
    """A folder user nobody may use (pytest's tmp_path is inside a folder only root may)."""
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o777)
        yield Path(tmp)


def _as_nobody(args, cwd):
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           *DLAFORGE, *args], cwd=cwd, capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "HOME": "/nonexistent"})


@as_nobody
@pytest.mark.parametrize("name, locked", [("a.yaml", "a.yaml"), ("locked/a.yaml", "locked")])
def test_an_unreadable_file_is_one_line(shared_tmp, name, locked):
    path = shared_tmp / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("base: edge_tiny\n")
    (shared_tmp / locked).chmod(0o000)
    result = _as_nobody(["simulate", "--arch", str(path), "--network", "resnet18"], shared_tmp)
    assert (result.returncode, result.stderr) == (
        2, f"dlaforge: error: cannot read arch file '{path}': Permission denied\n")


@as_nobody
def test_a_user_without_a_writable_home_can_run_the_cycle_model(shared_tmp):
    tmp_path = shared_tmp
    (tmp_path / "one.csv").write_text(ONE_LAYER)
    result = _as_nobody(["simulate", "--arch", "edge_tiny", "--network", str(tmp_path / "one.csv"),
                         "--model", "cycle", "--quiet"], tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


def test_rtl_generate_under_a_memory_limit_is_one_line(tmp_path):
    """Yosys' WebAssembly runtime reserves more address space than `ulimit -v 3000000`."""
    limit = 3_000_000 * 1024
    result = subprocess.run(DLAFORGE + ["rtl", "generate", "--arch", "edge_tiny", "--out",
                                        str(tmp_path / "g")], capture_output=True, text=True,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS,
                                                                  (limit, limit)))
    assert result.returncode == 2
    assert result.stderr.startswith("dlaforge: error: out of memory") and \
        result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
