"""Where dlaforge writes: every output checked before any work, published only when complete.

One helper for every output a command makes (DESIGN.md, "CLI": never a partial output file,
never a file that is not dlaforge's own destroyed):

- a file (`simulate --json/--csv`): `Outputs.file` checks it at once by creating its temporary
  sibling; `publish` renames every staged file into place together. A symlink is written
  through (its target is replaced, the link kept); a character device, a FIFO or `-` (stdout)
  is written directly, never replaced.
- a folder of files (`rtl generate --out`): `Outputs.folder` checks it; `publish_files` writes
  named files into it the same way, leaving every other file there alone.
- a folder dlaforge owns whole (`report --out`): `check_tree` accepts a new or empty folder or
  one that holds only what an earlier run wrote, as listed in its `MANIFEST`; `publish_tree`
  writes the new tree beside it and swaps it in, so nothing else is ever removed.
- a folder a model streams into (`simulate --trace`): `Outputs.streamed_folder` checks it
  exists and can be written and hands out a hidden folder inside it to stream into; `publish`
  moves what that holds into place with the other outputs. `inside` builds a path that
  cannot leave its folder.

Problems raise SpecError naming the flag and the path; nothing here prints.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

from .errors import SpecError

STDOUT = "-"
MANIFEST = ".dlaforge-manifest.json"


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _shown(path) -> str:
    """A path for a message, cut short if it is long."""
    text = str(path)
    return repr(text if len(text) <= 120 else text[:117] + "...")


def _mode(path: Path, error) -> int | None:
    """The st_mode of `path` (symlinks followed), None if it does not exist; error(why) when
    it cannot be looked at (a folder on its way that may not be searched)."""
    try:
        return os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise error(_why(exc)) from None


def _is_dir(path: Path, error) -> bool:
    mode = _mode(path, error)
    return mode is not None and stat.S_ISDIR(mode)


def inside(folder: Path, name: str) -> Path:
    """`folder / name`, refusing a name that would leave the folder (`..`, `/`, NUL)."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise SpecError(f"output name {_shown(name)} is not a plain file name")
    return Path(folder) / name


class _File:
    """One file output: its real place, and how it is written (renamed into place, or
    written directly when it is stdout, a character device or a FIFO)."""

    def __init__(self, path, flag: str):
        text = str(path)
        self.flag, self.shown, self.data = flag, _shown(text), None
        self.tmp = None
        if text == STDOUT:
            self.real, self.direct = None, True
            return
        if not text:
            raise SpecError(f"{flag} needs a file name, not ''")
        self.real = Path(os.path.realpath(text))    # a symlink is written through
        mode = _mode(self.real, self.error)
        if mode is not None and stat.S_ISDIR(mode):
            raise self.error("it is a folder")
        self.direct = mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode))
        if self.direct:
            if not os.access(self.real, os.W_OK):
                raise self.error("permission denied")
            return
        if mode is not None and not stat.S_ISREG(mode):
            raise self.error("it is not a regular file, a character device or a FIFO")
        if not _is_dir(self.real.parent, self.error):
            raise self.error(f"folder {_shown(self.real.parent)} does not exist")
        import tempfile         # here, as in the two below: a quicker start for the rest
        try:
            fd, tmp = tempfile.mkstemp(dir=self.real.parent, prefix=f".{self.real.name}.",
                                       suffix=".tmp")
        except OSError as exc:
            raise self.error(_why(exc)) from None
        os.close(fd)
        self.tmp = Path(tmp)
        os.chmod(self.tmp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())

    def error(self, why: str) -> SpecError:
        return SpecError(f"cannot write {self.flag} {self.shown}: {why}")

    def publish(self) -> None:
        if self.real is None:
            sys.stdout.buffer.write(self.data)
            sys.stdout.flush()
        elif self.direct:
            with open(self.real, "wb") as f:
                f.write(self.data)
        else:
            os.replace(self.tmp, self.real)
            self.tmp = None

    def discard(self) -> None:
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)
            self.tmp = None


class Outputs:
    """The outputs of one command: checked when added, before any work; published together by
    `publish` once every result is in hand; on an error (or Ctrl-C) inside the `with` block
    every temporary file is removed and nothing is published.

        with Outputs() as outs:
            out = outs.file(args.json, "--json")
            ...                       # the work
            outs.publish({out: text})
    """

    def __init__(self):
        self._files: list[_File] = []
        self._streamed: list[tuple[Path, Path, str]] = []   # (hidden folder, its folder, flag)

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, *exc) -> None:
        for f in self._files:
            f.discard()
        for hidden, _, _ in self._streamed:
            shutil.rmtree(hidden, ignore_errors=True)

    def file(self, path, flag: str) -> _File | None:
        """Check the file output `path` of `flag` (None: not asked for)."""
        if path is None:
            return None
        out = _File(path, flag)
        self._files.append(out)
        return out

    def folder(self, path, flag: str, create: bool = True) -> Path | None:
        """Check the folder output `path` of `flag`: a folder that can be written into, or
        with `create` a missing one whose parent is such a folder (None: not asked for)."""
        if path is None:
            return None
        text = str(path)
        if not text:
            raise SpecError(f"{flag} needs a folder name, not ''")
        real = Path(os.path.realpath(text))
        error = lambda why: SpecError(f"cannot write {flag} {_shown(text)}: {why}")
        mode = _mode(real, error)
        if mode is not None and not stat.S_ISDIR(mode):
            raise error("it is a file, not a folder")
        if mode is None:
            if not create:
                raise error("the folder does not exist")
            if not _is_dir(real.parent, error):
                raise error(f"folder {_shown(real.parent)} does not exist")
        _probe(real if mode is not None else real.parent, error)
        return real

    def streamed_folder(self, path, flag: str) -> Path | None:
        """Check the existing folder `path` of `flag` and return a hidden folder inside it for
        a model to stream its files into (None: not asked for)."""
        real = self.folder(path, flag, create=False)
        if real is None:
            return None
        import tempfile
        hidden = Path(tempfile.mkdtemp(dir=real, prefix=".dlaforge-"))
        self._streamed.append((hidden, real, flag))
        return hidden

    def publish(self, contents: dict) -> None:
        """Write {file output: text or bytes}, staging all before any is put in place; then
        move the streamed folders' files into place, then the files."""
        for out, data in contents.items():
            out.data = data.encode() if isinstance(data, str) else data
            if out.tmp is not None:
                try:
                    out.tmp.write_bytes(out.data)
                except OSError as exc:
                    raise out.error(_why(exc)) from None
        for hidden, real, flag in self._streamed:
            for path in sorted(hidden.iterdir()):
                try:
                    os.replace(path, real / path.name)
                except OSError as exc:
                    raise SpecError(f"cannot write {flag} {_shown(real)}: {_why(exc)}") from None
        for out in contents:
            try:
                out.publish()
            except OSError as exc:
                raise out.error(_why(exc)) from None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _probe(folder: Path, error) -> None:
    """Raise error(why) unless a file can be created in `folder` (also as root, where access
    checks pass on /proc and read-only mounts)."""
    import tempfile
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".dlaforge-probe.")
    except OSError as exc:
        raise error(_why(exc)) from None
    os.close(fd)
    os.unlink(tmp)


def publish_files(folder: Path, files: dict) -> tuple[Path, ...]:
    """Write {file name: text or bytes} into `folder` (created if its parent exists), each
    through `Outputs` so that it appears only complete; other files there are left alone."""
    folder = Path(folder)
    folder.mkdir(exist_ok=True)
    with Outputs() as outs:
        targets = {outs.file(inside(folder, name), name): body for name, body in files.items()}
        outs.publish(targets)
    return tuple(folder / name for name in files)


def check_tree(out: Path, flag: str) -> Path:
    """Check `out` for `publish_tree`: new, an empty folder, or a folder holding only what an
    earlier run listed in its manifest; not the current folder or one that holds it. Returns
    its real path."""
    text = str(out)
    error = lambda why: SpecError(f"cannot write {flag} {_shown(text)}: {why}")
    if not text:
        raise SpecError(f"{flag} needs a folder name, not ''")
    real = Path(os.path.realpath(text))
    if Path.cwd().resolve().is_relative_to(real):
        raise error("it is the current folder or holds it; give a folder inside it")
    mode = _mode(real, error)
    if mode is not None:
        if not stat.S_ISDIR(mode):
            raise error("it is a file, not a folder")
        try:
            foreign = _foreign(real)
        except OSError as exc:
            raise error(_why(exc)) from None
        if foreign:
            raise error(f"it holds {_shown(foreign)}, which dlaforge did not write (no "
                        f"{MANIFEST} lists it); give a new or empty folder")
    elif not _is_dir(real.parent, error):
        raise error(f"folder {_shown(real.parent)} does not exist")
    _probe(real.parent, error)
    return real


def _foreign(folder: Path) -> str | None:
    """The first entry of `folder` that its manifest does not list (files, and folders holding
    none of the listed files), or None."""
    try:
        listed = set(json.loads((folder / MANIFEST).read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        listed = set()
    parents = {str(Path(name).parent) for name in listed}
    parents |= {str(p) for name in listed for p in Path(name).parents}
    def refuse(exc):
        raise exc

    for root, dirs, names in os.walk(folder, onerror=refuse):
        rel = Path(root).relative_to(folder)
        for name in sorted(dirs):
            if str(rel / name) not in parents:
                return str(rel / name)
        for name in sorted(names):
            if name != MANIFEST or root != str(folder):
                if str(rel / name) not in listed:
                    return str(rel / name)
    return None


def publish_tree(out: Path, files: dict[str, bytes], flag: str) -> None:
    """Write {relative path: bytes} and its manifest as folder `out` (checked by check_tree):
    into a hidden sibling first, swapped in only when complete."""
    real = check_tree(out, flag)
    tmp = real.with_name(f".{real.name}.tmp{os.getpid()}")
    old = real.with_name(f".{real.name}.old{os.getpid()}")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        for rel, data in {**files, MANIFEST: json.dumps({"files": sorted(files)},
                                                         indent=1).encode()}.items():
            path = tmp / rel
            if not path.resolve().is_relative_to(tmp.resolve()):
                raise SpecError(f"output name {_shown(rel)} leaves the folder")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if real.exists():
            os.rename(real, old)
            try:
                os.rename(tmp, real)
            except OSError:
                os.rename(old, real)
                raise
        else:
            os.rename(tmp, real)
    except OSError as exc:
        raise SpecError(f"cannot write {flag} {_shown(out)}: {_why(exc)}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
