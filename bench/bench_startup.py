"""Cold start of the command line: wall time of `dlaforge --help`, `dlaforge list <what>` and an
analytical `dlaforge simulate`, each a fresh process (subprocess wall time, median of N after
one warm-up run that fills the OS file cache, numba's on-disk cache and the .pyc files), and
the CPU time (user + system) of the same processes: on a shared machine the wall time is
mostly the load, the CPU time much less so.

The processes may write .pyc files even when PYTHONDONTWRITEBYTECODE is set here (as it is in
some sandboxes): an installed package has them (pip compiles them), and without them every
run compiles the package's sources again, which is not what a user waits for.

    .venv/bin/python bench/bench_startup.py [--repeats N] [--baseline REV ...]

`--baseline REV` (repeatable) also times the tree of git revision REV (extracted with `git
archive` into a temporary folder, never checked out here), interleaved with the working tree,
and reports the first one's ratio to the working tree. For each tree it also says which of
the slow-to-import packages (HEAVY) the simulate command's imports load (numba alone takes
a few tenths of a second). Writes bench/RESULTS_startup.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (("--help",), ("list", "archs"), ("list", "networks"), ("list", "methods"),
            ("list", "dataflows"), ("simulate", "--arch", "edge_tiny", "--network", "resnet18"),
            ("simulate", "--arch", "tpu_like", "--network", "resnet18"))
TARGETS = {"--help": 0.3, "list": 0.3, "simulate": 0.5}
LAUNCH = "import sys; from dlaforge.cli import main; sys.exit(main())"
# the baseline tree: drop the editable install's finder, which would import the current tree
LAUNCH_BASELINE = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path "
                   "if 'editable' not in getattr(f, '__module__', '')]; " + LAUNCH)
# the package-dir mapping of pyproject.toml: subpackage -> folder of the tree
SUBPACKAGES = {"sim": "sim", "hw": "hw", "workloads": "workloads", "reports": "reports"}
# packages a quick command should not need to import
HEAVY = ("numba", "llvmlite", "matplotlib", "amaranth", "scipy", "pandas")


def extract(rev: str, into: Path) -> Path:
    """The tree of `rev` as an importable `dlaforge` package under `into` (symlinks stand in
    for the package-dir mapping)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    for name, folder in SUBPACKAGES.items():
        (into / "dlaforge" / name).symlink_to(into / folder, target_is_directory=True)
    return into


def _env(pythonpath=None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"PYTHONPATH": str(pythonpath)} if pythonpath else {})
    return env


def heavy_imports(pythonpath=None, cwd=None) -> list[str]:
    """The HEAVY packages in sys.modules once the simulate command's modules are imported
    (dlaforge.cli and dlaforge.sim.run)."""
    code = ((LAUNCH_BASELINE if pythonpath else LAUNCH).replace(
        "from dlaforge.cli import main; sys.exit(main())",
        "import dlaforge.cli, dlaforge.sim.run; print(' '.join(m for m in %r if m in "
        "sys.modules))" % (HEAVY,)))
    return subprocess.run([sys.executable, "-c", code], env=_env(pythonpath), cwd=cwd,
                          capture_output=True, text=True, check=True).stdout.split()


def run(args, pythonpath=None, cwd=None) -> tuple[float, float]:
    """(wall, CPU) time of one process; `cwd` a neutral folder (with -c, the working folder
    comes first on sys.path: /work/main's dlaforge/ would shadow the baseline)."""
    env = _env(pythonpath)
    if pythonpath:      # the baseline must not run the current tree's code
        check = subprocess.run([sys.executable, "-c", LAUNCH_BASELINE.replace(
            "from dlaforge.cli import main; sys.exit(main())",
            "import dlaforge.sim, dlaforge.cli; print(dlaforge.cli.__file__, dlaforge.sim.__file__)")],
            env=env, cwd=cwd, capture_output=True, text=True, check=True).stdout
        assert str(ROOT) not in check, f"the baseline imported the current tree: {check}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", LAUNCH_BASELINE if pythonpath else LAUNCH, *args], env=env,
                   cwd=cwd, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", action="append", default=[],
                        help="a git revision to time beside the working tree (repeatable)")
    args = parser.parse_args()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"current": None}
        neutral = Path(tmp, "cwd")
        neutral.mkdir()
        for i, rev in enumerate(reversed(args.baseline)):
            into = Path(tmp, f"baseline{i}")
            into.mkdir()
            trees = {f"rev {rev}": extract(rev, into), **trees}
        times = {(tree, cmd): [] for tree in trees for cmd in COMMANDS}
        heavy = {tree: heavy_imports(path, neutral) for tree, path in trees.items()}
        for tree, path in trees.items():      # warm-up: file cache, numba cache, .pyc files
            for cmd in COMMANDS:
                run(cmd, path, neutral)
        for _ in range(args.repeats):
            for cmd in COMMANDS:
                for tree, path in trees.items():
                    times[tree, cmd].append(run(cmd, path, neutral))
    load = os.getloadavg()
    lines = ["# Cold start of the command line (bench/bench_startup.py)", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; load average {load_start[0]:.2f} at the start, "
             f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end (a shared machine: other "
             f"jobs were running). Each figure is the median of {args.repeats} fresh processes "
             f"(`python -c '{LAUNCH}' ARGS`, the console script's work), interleaved across "
             "trees, after one warm-up run each (.pyc files written: see the script's doc). "
             "Wall time, then the CPU time (user + system) of the same processes, which the "
             "load inflates much less. Written by the script; none is typed in.", "",
             "`current` is the working tree as it was (uncommitted edits included); `rev R` the "
             "tree of git revision R. The ratio is the first column's wall time over "
             "`current`'s.", "",
             "Heavy packages the simulate command's imports load (dlaforge.cli and "
             "dlaforge.sim.run): " + "; ".join(f"{t}: {', '.join(h) or 'none'}"
                                                for t, h in heavy.items()) + ".", "",
             "| command | target s | " + " | ".join(f"{t} s" for t in trees)
             + (" | first / current |" if args.baseline else "")
             + " " + " | ".join(f"{t} cpu s" for t in trees) + " | all runs (current) s |",
             "|---|---|" + "---|" * len(trees) + ("---|" if args.baseline else "")
             + "---|" * len(trees) + "---|"]
    for cmd in COMMANDS:
        med = {tree: statistics.median(w for w, _ in times[tree, cmd]) for tree in trees}
        cpu = {tree: statistics.median(c for _, c in times[tree, cmd]) for tree in trees}
        cells = " | ".join(f"{med[t]:.3f}" for t in trees)
        ratio = f" | {med[next(iter(trees))] / med['current']:.2f}x" if args.baseline else ""
        cpus = " | ".join(f"{cpu[t]:.3f}" for t in trees)
        runs = " ".join(f"{w:.3f}" for w, _ in times["current", cmd])
        lines.append(f"| `dlaforge {' '.join(cmd)}` | {TARGETS[cmd[0]]} | {cells}{ratio} | "
                     f"{cpus} | {runs} |")
    text = "\n".join(lines) + "\n"
    (ROOT / "bench" / "RESULTS_startup.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
