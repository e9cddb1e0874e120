"""Atomic file writing: a temporary file in the target folder, then ``os.replace``.

A crash or an exception while writing never leaves a partial file under the final name. The
temporary file is named ``.<name>.<pid>.<random>.tmp``; one left behind by a process that was killed
(its pid no longer runs) is removed the next time the same file is written. A target that cannot be
written (a read-only folder, a parent that is a regular file) is a :class:`DataError` naming it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import DataError

#: A temporary file without a pid in its name (an older dilpose's) counts as stale after this long.
_STALE_SECONDS = 3600


def pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or an absurd pid): leave its file alone
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete ``.<name>.*.tmp`` files beside ``path`` left by killed writers; return what was
    removed.

    A file whose pid still runs (another writer, maybe this process) is kept.
    """
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    prefix = f".{path.name}."
    for tmp in path.parent.iterdir():
        name = tmp.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        middle = name[len(prefix) : -len(".tmp")].split(".")
        try:
            if len(middle) >= 2 and middle[0].isdigit():
                stale = not pid_running(int(middle[0]))
            else:
                stale = time.time() - tmp.stat().st_mtime > _STALE_SECONDS
            if stale and tmp.is_file():
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue  # vanished meanwhile or not ours to delete: not this write's problem
    return removed


def _unwritable(path: Path, e: OSError) -> DataError:
    for parent in path.parents:  # the common mistake: a folder in the path is a regular file
        if parent.exists():
            if not parent.is_dir():
                return DataError(path, f"cannot write here: {parent} is a file, not a folder")
            break
    return DataError(path, f"cannot write here: {e.strerror or e}")


def check_writable(path: str | Path) -> Path:
    """Create ``path``'s folder and try a temporary file in it; :class:`DataError` if that fails.

    Long runs call this first so that a bad output path fails at once, not after the work.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(path, "is a directory; a file name is needed")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
        )
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise _unwritable(path, e) from None
    return path


def _temporary_beside(path: Path) -> str:
    """A new empty ``.<name>.<pid>.<random>.tmp`` beside ``path`` with a plain open()'s
    permissions (stale ones of killed writers removed first); a :class:`DataError` naming ``path``
    if it cannot be made."""
    if path.is_dir():
        raise DataError(path, "is a directory; a file name is needed")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
        )
        os.close(fd)
    except OSError as e:
        raise _unwritable(path, e) from None
    # mkstemp creates 0600 files; give the final file the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return tmp


def check_folder(folder: str | Path) -> Path:
    """Create ``folder`` and try a temporary file in it; a :class:`DataError` naming the folder
    if that fails (read-only, a parent that is a regular file, no inodes left)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".probe.{os.getpid()}.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        for parent in [folder, *folder.parents]:
            if parent.exists() and not parent.is_dir():
                raise DataError(folder, f"cannot write here: {parent} is a file") from None
        raise DataError(folder, f"cannot write in this folder: {e.strerror or e}") from None
    return folder


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    tmp = _temporary_beside(path)
    try:
        with open(tmp, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError):  # a full disk, a target that became a folder, ...
            raise _unwritable(path, e) from e
        raise


def _write_all(path: str, data: bytes) -> None:
    """Write ``data`` to the new file ``path`` and flush it to the disk."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def replace_together(moves: list[tuple[str | Path, str | Path]]) -> None:
    """Rename each finished temporary file onto its target, as one result: if a rename fails,
    every target is removed (the new ones and the old siblings not yet replaced), so that a new
    file never sits beside an old sibling that no longer describes it; the temporary files are
    removed either way. A failure is a :class:`DataError` naming the target."""
    for src, dst in moves:
        try:
            os.replace(src, dst)
        except OSError as e:
            for pair in moves:  # renamed ones are gone from src already: FileNotFoundError
                for stale in pair:
                    with contextlib.suppress(OSError):
                        os.unlink(stale)
            raise _unwritable(Path(dst), e) from e


def write_together(contents: dict[str | Path, bytes]) -> list[Path]:
    """Write sibling files (``{path: bytes}``) as one result: each to a temporary file beside it,
    then all renamed (:func:`replace_together`). A failure while writing (a full disk) leaves the
    old files whole and no temporary behind: a :class:`DataError` naming the file."""
    moves: list[tuple[str, Path]] = []
    try:
        for path, data in contents.items():
            path = Path(path)
            moves.append((_temporary_beside(path), path))
            _write_all(moves[-1][0], data)
    except BaseException as e:
        for tmp, _ in moves:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(e, OSError):
            raise _unwritable(path, e) from e
        raise
    replace_together(moves)
    return [path for _, path in moves]


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_open(path, "w") as f:
        f.write(text)
    return Path(path)


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays appear in metrics; JSON has no type for them.
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def json_text(obj: Any) -> str:
    """``obj`` as the indented JSON :func:`write_json` writes (numpy values converted; NaN is a
    ValueError)."""
    return json.dumps(obj, indent=2, default=_json_default, allow_nan=False) + "\n"


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (numpy values converted), atomically. NaN is refused."""
    return write_text(path, json_text(obj))


def save_npz(path: str | Path, compressed: bool = True, **arrays: Any) -> Path:
    """``np.savez(_compressed)`` written atomically (numpy would otherwise append ``.npz``
    itself)."""
    saver = np.savez_compressed if compressed else np.savez
    with atomic_open(path, "wb") as f:
        saver(f, **arrays)
    return Path(path)


def save_torch(path: str | Path, obj: Any) -> Path:
    """``torch.save`` written atomically (a checkpoint is never half written)."""
    import torch  # imported here: fileio is used by modules that do not need torch

    with atomic_open(path, "wb") as f:
        torch.save(obj, f)
    return Path(path)


def sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks (manifests and shipped models record
    it)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
