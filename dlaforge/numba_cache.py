"""Where numba keeps the machine code of dlaforge's `cache=True` functions.

Numba caches beside the sources when that folder is writable, else in the user's cache folder
(`$XDG_CACHE_HOME` or `~/.cache`); with neither (a read-only install run by a user without a
writable home, such as `nobody`) every cached function would fail with "cannot cache
function". `use_writable_cache` then points numba at a folder of the system's temporary
directory instead (it only sets NUMBA_CACHE_DIR when the user has not).
"""

from __future__ import annotations

import os
from pathlib import Path


def _writable(path: Path) -> bool:
    """True if `path`, or the nearest folder above it that exists, can be written into."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return os.access(path, os.W_OK)


def use_writable_cache() -> None:
    """Set NUMBA_CACHE_DIR to a temporary folder when numba could cache nowhere else; call it
    before numba is imported."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    home = os.environ.get("HOME", "")
    user_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path(home or "/", ".cache"))
    if _writable(Path(__file__).parent / "__pycache__") or (home and _writable(user_cache)):
        return
    import tempfile         # here: every command imports this module, few get this far

    os.environ["NUMBA_CACHE_DIR"] = os.path.join(tempfile.gettempdir(),
                                                 f"dlaforge-numba-{os.getuid()}")
