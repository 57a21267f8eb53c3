"""Every row of hostile_cases.CASES through the command line, in process: the exit code, one
stderr line naming the problem (no traceback), and on failure the folder exactly as it was."""

import hashlib
import json
import os
import stat
import threading

import pytest

from dlaforge.cli import main
from hostile_cases import CASES, CHAR_DEVICE, ONE_LAYER, Symlink


def make(folder, files):
    (folder / "one.csv").write_text(ONE_LAYER)
    for name, body in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("/"):
            path.mkdir(exist_ok=True)
        elif body == CHAR_DEVICE:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        elif isinstance(body, Symlink):
            path.symlink_to(body.target)
        else:
            path.write_bytes(body if isinstance(body, bytes) else body.encode())


def snapshot(folder):
    """Every entry under `folder` with its kind and, for a regular file, a hash of its bytes."""
    out = {}
    for path in sorted(folder.rglob("*")):
        mode = path.lstat().st_mode
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(mode) else None
        out[str(path.relative_to(folder))] = (stat.S_IFMT(mode), digest)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case, tmp_path, monkeypatch, capsys):
    if os.geteuid() != 0 and any(b == CHAR_DEVICE for b in case.files.values()):
        pytest.skip("making a character device needs root")
    make(tmp_path, case.files)
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    assert main([a.format(d=tmp_path) for a in case.args]) == case.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if case.code == 2:
        assert err.count("\n") == 1 and err.startswith("dlaforge: error: "), err
        assert case.message in err
        assert snapshot(tmp_path) == before
    if case.after is not None:
        assert case.after(tmp_path, out)


def test_a_fifo_is_written_to_not_replaced(tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    (tmp_path / "one.csv").write_text(ONE_LAYER)
    assert main(["simulate", "--arch", "edge_tiny", "--network", str(tmp_path / "one.csv"),
                 "--json", str(fifo)]) == 0
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert json.loads(received[0])["arch"] == "edge_tiny"
    assert capsys.readouterr().out.startswith("one on edge_tiny")    # the table, as usual


def test_json_on_stdout_replaces_the_tables(tmp_path, capsys):
    (tmp_path / "one.csv").write_text(ONE_LAYER)
    assert main(["simulate", "--arch", "edge_tiny", "--network", str(tmp_path / "one.csv"),
                 "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["network"] == "one"


def test_a_failed_write_publishes_no_output_not_even_the_traces(tmp_path, capsys, monkeypatch):
    """The disk fills up as the JSON is written after the run: the traces streamed during it
    are not published either."""
    (tmp_path / "one.csv").write_text(ONE_LAYER)
    (tmp_path / "tr").mkdir()
    before = snapshot(tmp_path)

    def full(self, data):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(type(tmp_path), "write_bytes", full)
    assert main(["simulate", "--arch", "edge_tiny", "--network", str(tmp_path / "one.csv"),
                 "--model", "cycle", "--quiet", "--trace", str(tmp_path / "tr"), "--json",
                 str(tmp_path / "r.json")]) == 2
    monkeypatch.undo()
    assert capsys.readouterr().err == (f"dlaforge: error: cannot write --json "
                                       f"'{tmp_path / 'r.json'}': No space left on device\n")
    assert snapshot(tmp_path) == before
