"""Write a built report into its folder all at once: the files go into a hidden sibling folder
that is renamed into place only when complete, so a failure never leaves a partial report."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPORT_MARKERS = ("index.html", "report.md")


def is_replaceable(out: Path) -> bool:
    """True when `out` does not exist, is an empty folder, or holds an earlier report."""
    if not out.exists():
        return True
    return out.is_dir() and (not any(out.iterdir())
                             or all((out / name).is_file() for name in REPORT_MARKERS))


def write_tree(out: Path, files: dict[str, bytes]) -> None:
    """Write {relative path: bytes} as folder `out`, replacing an earlier report there."""
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    old = out.with_name(f".{out.name}.old{os.getpid()}")
    try:
        for rel, data in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if out.exists():
            os.rename(out, old)
            try:
                os.rename(tmp, out)
            except OSError:
                os.rename(old, out)
                raise
        else:
            os.rename(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
