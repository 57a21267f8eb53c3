"""The result store of a sweep: one SQLite database in the sweep's folder, one row per run.

A run is one (point, network, dataflow, method); its key hashes everything its result depends
on (`run_key`). Each finished point's runs are committed in one transaction as the point
finishes, so a killed sweep loses only the points in flight, and a rerun asks the store which
keys it already holds. `session` names the sweep invocation that computed a row.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

STORE_NAME = "sweep.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,          -- ok | refused
    reason TEXT,                   -- why a refused run was refused
    totals TEXT,                   -- the run's Stats.to_dict() as JSON (ok runs)
    session TEXT NOT NULL,
    finished REAL NOT NULL
)
"""


@dataclass(frozen=True)
class Result:
    """What a run gave: `totals` (Stats.to_dict()) when `status` is "ok", else a reason."""

    key: str
    status: str
    reason: str | None = None
    totals: dict | None = None


def run_key(arch: dict, network, model: str, method: str, dataflow: str, objective: str,
            batch: int, version: str) -> str:
    """The store key of a run: a hash of the point's full arch mapping, the network's name
    and layers, and the rest of what the run's result depends on."""
    text = json.dumps({"arch": arch, "network": network.name,
                       "layers": repr(network.layers), "model": model, "method": method,
                       "dataflow": dataflow, "objective": objective, "batch": batch,
                       "version": version}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


class Store:
    """The sweep folder's database; only the process running the sweep writes it."""

    def __init__(self, folder: Path):
        self._db = sqlite3.connect(folder / STORE_NAME, isolation_level=None)
        # WAL without a sync per commit: a killed process loses nothing committed (only a
        # power cut could), and a commit costs microseconds instead of an fsync
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def commit(self, results, session: str) -> None:
        """Store one point's results in one transaction."""
        now = time.time()
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, ?)",
                [(r.key, r.status, r.reason, None if r.totals is None else json.dumps(r.totals),
                  session, now) for r in results])

    def results(self, keys) -> dict[str, Result]:
        """The stored results of `keys` (those it holds)."""
        keys, out = list(keys), {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            for key, status, reason, totals in self._db.execute(
                    f"SELECT key, status, reason, totals FROM runs WHERE key IN "
                    f"({','.join('?' * len(chunk))})", chunk):
                out[key] = Result(key, status, reason, None if totals is None else json.loads(totals))
        return out
