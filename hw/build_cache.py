"""A folder of built simulators, reused across runs and processes.

`cached_build(name, key_text, build)` returns the folder `<cache>/rtl/<name>-<hash>`, where
`hash` is the SHA-256 of `key_text` (the caller puts in it everything the build depends on:
the sources' text, the tool and its version, the flags). When that folder exists it is
returned as it is; otherwise `build(folder)` fills a fresh temporary folder beside it, which is
then renamed into place. A rename is atomic, so a reader never sees a half-built entry; when
two processes build the same key at once, the first rename wins and the other's copy is
thrown away. A build that raises leaves nothing behind.

The cache lives in `$DLAFORGE_CACHE` when set, else in ~/.cache/dlaforge (hw/area.cache_dir).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .area import cache_dir


def cache_root() -> Path:
    return cache_dir() / "rtl"


def key_of(key_text: str) -> str:
    return hashlib.sha256(key_text.encode()).hexdigest()[:24]


def cached_build(name: str, key_text: str, build: Callable[[Path], None]) -> tuple[Path, bool]:
    """(the entry's folder, whether it was built now) for `key_text`; `build(folder)` writes
    the entry into an empty `folder` when it is not cached yet."""
    root = cache_root()
    final = root / f"{name}-{key_of(key_text)}"
    if final.is_dir():
        return final, False
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=root))
    try:
        build(work)
        try:
            os.rename(work, final)
        except OSError:
            if not final.is_dir():      # not a lost race: a real failure
                raise
            shutil.rmtree(work, ignore_errors=True)
            return final, False
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return final, True
