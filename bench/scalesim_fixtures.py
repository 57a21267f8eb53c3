"""Run SCALE-Sim 3.0 itself on small cases and save its reports as test fixtures.

SCALE-Sim needs numpy < 2.4, so it runs in its own venv (bench/_work/scalesim-venv, created on
first use). The tests compare against the saved reports, so CI needs no SCALE-Sim.

    .venv/bin/python bench/scalesim_fixtures.py [CASE ...]   # rewrites tests/fixtures/scalesim/
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / "_work" / "scalesim-venv"
OUT = ROOT / "tests" / "fixtures" / "scalesim"
sys.path.insert(0, str(ROOT / "tests"))
from scalesim_cfg import SCALESIM_CFG  # noqa: E402  (the same cfg text the tests write)

CONV = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
        "Num Filter, Strides,\n"
        "c1, 12, 10, 3, 3, 5, 7, 1,\n"
        "c2, 9, 9, 3, 2, 3, 10, 2,\n"
        "c3, 7, 7, 1, 1, 16, 33, 1,\n"
        "c4, 15, 13, 5, 5, 2, 4, 3,\n")
GEMM = "Layer, M, N, K,\ng1, 17, 9, 40,\ng2, 8, 8, 8,\ng3, 1, 33, 5,\n"
# one more conv layer whose ifmap (3200 elements) overflows a 1 kB SRAM several times over
CONV_LARGE = CONV + "c5, 20, 20, 3, 3, 8, 16, 1,\n"
GEMM_LARGE = GEMM + "g4, 60, 20, 70,\n"
ARRAYS = [(8, 8), (8, 4), (4, 16)]
# (suffix, mode, SRAM kB, ofmap DRAM bandwidth, (ifmap/filter bank bandwidth, banks), arrays)
VARIANTS = [
    ("", "CALC", 64, 10, (10, 10), ARRAYS),
    # small buffers: CALC's 100-set first-touch window and the ofmap drain quirks matter
    ("_sram1k", "CALC", 1, 10, (10, 10), [(8, 8), (4, 16)]),
    # USER bandwidth: streamed half-buffer prefetches and their stalls
    ("_user", "USER", 4, 10, (10, 10), [(8, 8), (8, 4)]),
    ("_user_bw2", "USER", 1, 2, (2, 1), [(4, 4)]),
]
REPORTS = ("COMPUTE_REPORT.csv", "DETAILED_ACCESS_REPORT.csv")


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "scalesim==3.0.0",
                        "numpy<2.4"], check=True)
    return python


def run_scalesim(python: Path, cfg: Path, topology: Path, gemm: bool, dest: Path) -> None:
    """Run SCALE-Sim on `cfg` and `topology`; copy its reports into `dest`."""
    name = next(line.split("=")[1].strip() for line in cfg.read_text().splitlines()
                if line.startswith("run_name"))
    with tempfile.TemporaryDirectory() as work:
        layout = Path(work) / "layout.csv"
        layout.write_text("Layer name,\n")
        cmd = [str(python), "-m", "scalesim.scale", "-c", str(cfg), "-t", str(topology),
               "-l", str(layout), "-p", work] + (["-i", "gemm"] if gemm else [])
        subprocess.run(cmd, check=True, capture_output=True, cwd=work)
        for report in REPORTS:
            shutil.copy(Path(work) / name / report, dest / report)


def write_case(case: Path, rows: int, cols: int, dataflow: str, topology: str, mode: str,
               kb: int, bandwidth: int, bank_bandwidth: int, bank_num: int) -> tuple[Path, Path]:
    """Write arch.cfg and topology.csv of one case into the folder `case`."""
    case.mkdir(parents=True, exist_ok=True)
    cfg = case / "arch.cfg"
    cfg.write_text(SCALESIM_CFG.format(name=case.name, rows=rows, cols=cols, dataflow=dataflow,
                                       mode=mode, bandwidth=bandwidth, ifmap_kb=kb, filter_kb=kb,
                                       ofmap_kb=kb, bank_bandwidth=bank_bandwidth,
                                       bank_num=bank_num))
    topo = case / "topology.csv"
    topo.write_text(topology)
    return cfg, topo


def main(only=()) -> None:
    python = ensure_venv()
    for suffix, mode, kb, bandwidth, (bank_bandwidth, bank_num), arrays in VARIANTS:
        for rows, cols in arrays:
            for dataflow in ("os", "ws", "is"):
                for form in ("conv", "gemm"):
                    name = f"{form}_{rows}x{cols}_{dataflow}{suffix}"
                    if only and name not in only:
                        continue
                    small = kb < 64
                    topology = {("gemm", False): GEMM, ("gemm", True): GEMM_LARGE,
                                ("conv", False): CONV, ("conv", True): CONV_LARGE}[form, small]
                    cfg, topo = write_case(OUT / name, rows, cols, dataflow, topology, mode, kb,
                                           bandwidth, bank_bandwidth, bank_num)
                    run_scalesim(python, cfg, topo, form == "gemm", OUT / name)
                    print("saved", name, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
