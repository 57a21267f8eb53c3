"""Simulator processes that die with dlaforge.

cocotb's runner starts the simulator (Icarus' `vvp`, a Verilator binary, `make`) as a child
process. When dlaforge is ended by a timeout's SIGKILL, nothing in Python runs, and the
simulator would go on alone at full CPU. `cocotb_runner(sim)` is cocotb's runner for `sim`
whose every command starts through this file, run as a script: it asks Linux to SIGKILL it
when its parent dies (prctl PR_SET_PDEATHSIG) and then becomes the command (exec). Ctrl-C and
SIGTERM raise in dlaforge (cli.py), and subprocess.run kills its child on the way out.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def cocotb_runner(sim: str):
    """cocotb_tools.runner.get_runner(sim), its simulator processes dying with this one (on
    Linux; elsewhere the runner as it is)."""
    from cocotb_tools.runner import get_runner
    runner = get_runner(sim)
    if not sys.platform.startswith("linux"):
        return runner

    class DyingWithParent(type(runner)):
        def _execute_cmds(self, cmds, cwd, stdout=None):
            parent = str(os.getpid())
            super()._execute_cmds([[sys.executable, __file__, parent, *cmd] for cmd in cmds],
                                  cwd, stdout)
    return DyingWithParent()


def _exec_dying_with(parent: int, argv: list[str]) -> None:
    """Become `argv`, to be SIGKILLed when process `parent` ends (exits at once if it has)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:      # the parent died before the request took effect
        sys.exit(1)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    _exec_dying_with(int(sys.argv[1]), sys.argv[2:])
