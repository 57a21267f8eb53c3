"""The `cacti` energy model: SRAM energy, leakage and area from CACTI through hwcomponents.

A level with `energy_model: cacti` is priced as a CACTI SRAM of its word width, depth
(size_bytes * 8 / word_bits) and banks at the arch's technology node (hwcomponents-cacti
interpolates between CACTI's nodes, 22-180 nm, and scales outside them). A per-PE level is
one such SRAM per PE: its leakage and area are multiplied by the PE count.

hwcomponents 1.0.114 needs Python >= 3.12 and dlaforge runs on 3.11, so the estimate runs in
a side interpreter: `$DLAFORGE_HWCOMPONENTS_PYTHON` when set, else `<venv>/hwcomponents/bin/
python` (`make` creates that venv inside the project's, installs the pins below and builds
CACTI from the source hwcomponents-cacti ships, with g++), else this interpreter when it has
hwcomponents itself. hwc_worker.py does the asking; the pins must match what it finds.

Results are cached by their parameters (the pins included): in this process, and on disk as
one JSON file per SRAM under `$DLAFORGE_CACHE` (else ~/.cache/dlaforge)/energy/, written
atomically, so a repeat costs no CACTI run. A new SRAM costs 0.25-4 s of CACTI.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from dlaforge.arch import ArchSpec, MemoryLevel
from dlaforge.errors import SpecError
from dlaforge.outputs import publish_files

from . import MemoryCost
from .hwc_worker import estimate

# Pinned in pyproject.toml's `cacti` extra too (tests/sim/test_energy_models.py checks they agree).
PINS = {"hwcomponents": "1.0.114", "hwcomponents-cacti": "1.0.40"}
PYTHON_ENV = "DLAFORGE_HWCOMPONENTS_PYTHON"
TIMEOUT_S = 600

_memo: dict[str, dict] = {}


def cache_dir() -> Path:
    """Where answers are kept on disk (the same root as hw/area.py's cell counts)."""
    return Path(os.environ.get("DLAFORGE_CACHE") or Path.home() / ".cache" / "dlaforge") \
        / "energy"


def side_python() -> str | None:
    """The interpreter that runs hwcomponents, None when this one has it (see the docstring)."""
    given = os.environ.get(PYTHON_ENV)
    if given:
        return given
    venv = Path(sys.prefix) / "hwcomponents" / "bin" / "python"
    if venv.exists():
        return str(venv)
    if importlib.util.find_spec("hwcomponents") is not None:
        return None
    raise SpecError(f"energy_model 'cacti' needs hwcomponents {PINS['hwcomponents']} and "
                    f"hwcomponents-cacti {PINS['hwcomponents-cacti']} (Python >= 3.12): run "
                    f"`make` to install them into {Path(sys.prefix) / 'hwcomponents'}, or set "
                    f"{PYTHON_ENV} to a Python that has them")


def query(arch: ArchSpec, level: MemoryLevel) -> dict:
    """The parameters CACTI is asked about for `level` (and the cache key's contents)."""
    return {"tech_node_nm": arch.technology_nm, "width_bits": level.word_bits,
            "depth": max(1, level.size_bytes * 8 // level.word_bits), "banks": level.banks}


def key_of(q: dict) -> str:
    text = json.dumps({"pins": PINS, "sram": q}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _read_disk(key: str) -> dict | None:
    path = cache_dir() / f"cacti-{key}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    keys = ("read_pj", "write_pj", "leakage_mw", "area_um2")
    return data if isinstance(data, dict) and all(k in data for k in keys) else None


def _write_disk(key: str, answer: dict) -> None:
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        publish_files(cache_dir(), {f"cacti-{key}.json": json.dumps(answer, sort_keys=True)})
    except (OSError, SpecError):
        pass                        # a cache that cannot be written only costs a rerun


def run_cacti(queries: list[dict]) -> list[dict]:
    """Fresh answers from hwcomponents for `queries` (no cache); SpecError with one line."""
    request = {"pins": PINS, "queries": queries}
    python = side_python()
    if python is None:
        reply = estimate(request)
    else:
        worker = Path(__file__).with_name("hwc_worker.py")
        try:
            done = subprocess.run([python, str(worker)], input=json.dumps(request),
                                  capture_output=True, text=True, timeout=TIMEOUT_S,
                                  cwd=cache_dir().parent if cache_dir().parent.is_dir()
                                  else None)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SpecError(f"energy_model 'cacti': cannot run {python}: "
                            f"{getattr(exc, 'strerror', None) or type(exc).__name__}") from None
        try:
            reply = json.loads(done.stdout)
        except ValueError:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise SpecError(f"energy_model 'cacti': {python} failed: {last}") from None
    if "error" in reply:
        raise SpecError(f"energy_model 'cacti': {reply['error']}")
    return reply["ok"]


class CactiModel:
    name = "cacti"

    def memory_costs(self, arch: ArchSpec, levels: list[MemoryLevel]) -> dict[str, MemoryCost]:
        queries = {level.name: query(arch, level) for level in levels}
        keys = {name: key_of(q) for name, q in queries.items()}
        for name, key in keys.items():
            if key not in _memo:
                found = _read_disk(key)
                if found is not None:
                    _memo[key] = found
        missing = sorted({key: queries[name] for name, key in keys.items()
                          if key not in _memo}.items())
        if missing:
            for (key, _), answer in zip(missing, run_cacti([q for _, q in missing])):
                _memo[key] = answer
                _write_disk(key, answer)
        out = {}
        for level in levels:
            a = _memo[keys[level.name]]
            copies = arch.pe_count if level.per_pe else 1
            out[level.name] = MemoryCost(read_pj=a["read_pj"], write_pj=a["write_pj"],
                                         leakage_mw=a["leakage_mw"] * copies,
                                         area_um2=a["area_um2"] * copies)
        return out
