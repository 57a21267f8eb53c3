"""The simulator started for `--model rtl` dies with dlaforge (issue 16, "Also found"): when
dlaforge is killed (SIGKILL, as a timeout does) through the parent-death signal, and when it is
terminated (SIGTERM: "terminated", exit 143) through subprocess.run's clean-up."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulators import needs_icarus

pytestmark = [needs_icarus, pytest.mark.skipif(sys.platform != "linux",
                                               reason="the parent-death signal is Linux's")]


def _children(pid: int) -> dict[int, str]:
    """{pid: command name} of the live (not zombie) children of `pid`."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:]
        state, ppid = rest.split()[:2]
        if int(ppid) == pid and state != "Z":
            out[int(stat.parent.name)] = name
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_the_simulator_dies_with_dlaforge(tmp_path, signum):
    (tmp_path / "rtl.csv").write_text("name, M, N, K,\nfc, 96, 96, 96,\n")   # ~60 s in vvp
    proc = subprocess.Popen([sys.executable, "-m", "dlaforge.cli", "simulate", "--arch",
                             "edge_tiny", "--network", str(tmp_path / "rtl.csv"), "--model",
                             "rtl", "--quiet"], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(tmp_path)})   # its build folder
    deadline, vvp = time.monotonic() + 120, []
    while not vvp and time.monotonic() < deadline and proc.poll() is None:
        vvp = [pid for pid, name in _children(proc.pid).items() if name == "vvp"]
        time.sleep(0.2)
    assert vvp, "the simulator did not start"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while _alive(vvp[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(vvp[0])
    if signum == signal.SIGTERM:
        assert (proc.returncode, err) == (143, "dlaforge: terminated\n")
