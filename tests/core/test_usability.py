"""Usability of the command line (issue 16, item 11): tables that fit the terminal (--wide for
every column), a progress bar on a terminal, usage for a bare `dlaforge`, aligned listings,
help for every option, and the error types exported."""

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import dlaforge
from dlaforge.cli import _parser, main
from dlaforge.reports.text import format_table


def test_the_table_fits_the_width_it_is_given():
    record = dlaforge.simulate("tpu_like", "resnet18")
    narrow, wide = format_table(record, 80), format_table(record)
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert "columns left out to fit 80 columns; --wide shows them" in narrow
    assert "SRAM wr KiB" in wide and "dram uJ" in wide and "left out" not in wide
    assert "DRAM rd KiB" in narrow                # traffic outranks the energy components


def test_a_bare_dlaforge_prints_its_usage(capsys):
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out.startswith("usage: dlaforge") and "simulate" in out and err == ""


def test_listings_align_whatever_the_name_length(capsys):
    assert main(["list", "archs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len({line.index(" dataflows ") for line in lines}) == 1
    assert any(len(line.split()[0]) > 14 for line in lines)


def test_every_simulate_option_has_help():
    sim = _parser()._subparsers._group_actions[0].choices["simulate"]
    assert all(action.help for action in sim._actions)


def test_the_error_types_are_exported():
    assert dlaforge.SpecError is dlaforge.errors.SpecError
    assert dlaforge.RunError is dlaforge.errors.RunError


def test_a_progress_bar_on_a_terminal(tmp_path):
    """On a terminal stderr shows how many layers are priced; in a pipe it stays quiet."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    (tmp_path / "slow.csv").write_text("name, M, N, K,\nbig, 10000000, 100000000, 100000000,"
                                       "\nfc, 8, 8, 8,\n")     # seconds in the mapper
    argv = [sys.executable, "-m", "dlaforge.cli", "simulate", "--arch", "edge_tiny",
            "--network", str(tmp_path / "slow.csv"), "--quiet"]
    proc = subprocess.Popen(argv, stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    assert proc.wait() == 0
    assert re.search(rb"\r[12] layers \[00:\d\d", shown), shown
    (tmp_path / "slow.csv").write_text("name, M, N, K,\nfc, 8, 8, 8,\n")
    piped = subprocess.run(argv, capture_output=True)
    assert (piped.returncode, piped.stderr) == (0, b"")
