"""The limits every reader of outside files holds to, stated once, and the checked reads that
apply them.

A file handed to dilpose (keypoints, a shop folder, a checkpoint, a BVH, a cache record, a lift
result) may be anything: a FIFO that blocks a reader forever, a symlink to ``/dev/zero`` that is
read until memory runs out, a 2 MB zip that inflates to gigabytes, JSON nested 200,000 deep (a
``RecursionError``) or holding a 401-digit number (an ``OverflowError`` once it meets a float).
Every reader therefore goes through :func:`open_regular` / :func:`read_bytes` / :func:`read_json`
(or :func:`check_regular` before handing a path to a library), which refuse such input with a
:class:`~dilpose.errors.DataError` naming the file and the limit, never quoting the file's
contents. The numbers below are far above anything real data needs (the reasons are beside each)
and far below what would exhaust a laptop.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import DataError

MiB = 1 << 20
GiB = 1 << 30

# -- file sizes --------------------------------------------------------------------------------
#: A JSON file (COCO keypoints, a shop manifest or calibration, a cache record, a lift result).
#: An hour of COCO detections at 30 fps is about 60 MB; Python's objects cost ~10x the text.
MAX_JSON_BYTES = 256 * MiB
#: A BVH file: CMU's longest takes are a few MB of text.
MAX_BVH_BYTES = 256 * MiB
#: A checkpoint: the paper's largest model is ~70 MB of float32 weights plus optimizer state.
MAX_CHECKPOINT_BYTES = 4 * GiB
#: An ``.npz`` archive on disk, and one member (or all members together) once inflated. Human3.6M's
#: largest VideoPose3D file holds about 0.4 GB.
MAX_NPZ_BYTES = 8 * GiB
MAX_MEMBER_BYTES = 8 * GiB
#: A plain ``.npy`` array (a lift result).
MAX_NPY_BYTES = 8 * GiB

# -- content -------------------------------------------------------------------------------------
#: A deflated npz member may inflate to this many times its compressed size, or to
#: :data:`INFLATE_ALLOWANCE` bytes whichever is more. Pose arrays compress 1-10x; small constant
#: arrays (labels, all-ones scores) compress far more, hence the allowance. Deflate itself allows
#: ~1032x, which let a 2 MB file claim 2 GiB.
MAX_INFLATE_RATIO = 100
INFLATE_ALLOWANCE = 16 * MiB
#: JSON nesting depth: COCO files nest 4 deep, a cache record 6; Python's parser recurses.
MAX_JSON_DEPTH = 64
#: Characters in one JSON number: 17 significant digits and an exponent need ~25. Longer integers
#: overflow a float (OverflowError past 309 digits) or Python's int() digit limit (4300).
MAX_NUMBER_CHARS = 100
#: One line of a line-oriented input (a stream line holds one frame: 17 joints are < 2 kB; 1 MiB
#: leaves room for any formatting while a 100 MB line cannot grow the process by gigabytes).
MAX_LINE_BYTES = 1 * MiB
#: Longest integer literal (digits) in a live stream line: more than any frame id or pixel needs,
#: and a 401-digit integer would otherwise overflow float conversion.
MAX_DIGITS = 18
#: Largest image side in pixels that a resolution may claim (today's largest sensors: ~20,000).
MAX_IMAGE_SIDE = 100_000


def _size(n: int) -> str:
    return f"{n / GiB:g} GiB" if n >= GiB else f"{n / MiB:g} MiB" if n >= MiB else f"{n:,} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check_stat(path: Path, st: os.stat_result, what: str, max_bytes: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise DataError(path, f"is {_kind(st.st_mode)}; the {what} must be a regular file")
    if st.st_size > max_bytes:
        raise DataError(
            path, f"is {_size(st.st_size)}, over the limit of {_size(max_bytes)} for the {what}"
        )


def check_regular(path: str | Path, what: str, max_bytes: int) -> Path:
    """``path`` if it is a regular file (a symlink to one counts) of at most ``max_bytes``; else a
    :class:`DataError` naming it. Uses ``os.stat`` only, so a FIFO is never opened (it would
    block). For readers that hand the path to a library; :func:`open_regular` closes the gap
    between check and open."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataError(path, f"file not found (the {what})") from None
    except OSError as e:  # a loop of symlinks, a parent that is a file, no permission
        raise DataError(path, f"cannot read the {what}: {e.strerror or e}") from None
    except ValueError:  # a NUL byte in the name
        raise DataError(path, f"cannot read the {what}: the name holds a NUL byte") from None
    _check_stat(path, st, what, max_bytes)
    return path


def open_regular(path: str | Path, what: str, max_bytes: int) -> BinaryIO:
    """Open ``path`` for binary reading after :func:`check_regular`, and check again what was
    opened (the file may have been swapped meanwhile). ``O_NONBLOCK``: opening a FIFO put there in
    between returns at once instead of waiting for a writer."""
    path = check_regular(path, what, max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise DataError(path, f"cannot read the {what}: {e.strerror or e}") from None
    try:
        _check_stat(path, os.fstat(fd), what, max_bytes)
        os.set_blocking(fd, True)  # a regular file: reads behave as usual
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_bytes(path: str | Path, what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (:func:`open_regular`); a file that
    grows past the limit while read is refused too."""
    try:
        with open_regular(path, what, max_bytes) as f:
            # read(n) allocates n bytes up front: ask for the size the file has, not the limit.
            size = os.fstat(f.fileno()).st_size
            data = f.read(size + 1)
            while len(data) > size and len(data) <= max_bytes:  # it grew meanwhile
                chunk = f.read(MiB)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        raise DataError(path, f"cannot read the {what}: {e.strerror or e}") from None
    if len(data) > max_bytes:
        raise DataError(
            path, f"grew past the limit of {_size(max_bytes)} for the {what} while read"
        )
    return data


# -- JSON ------------------------------------------------------------------------------------------
# A JSON string, escapes included (the unrolled form runs in linear time).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_LONG_NUMBER = re.compile(rb"[-+0-9.eE]{%d,}" % (MAX_NUMBER_CHARS + 1))
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = np.zeros(256, np.int8)
_STEP[list(b"[{")] = 1
_STEP[list(b"]}")] = -1
_CHUNK = 1 << 22


def _check_json_shape(raw: bytes, source: str | Path, what: str) -> None:
    """Refuse nesting deeper than :data:`MAX_JSON_DEPTH` and numbers longer than
    :data:`MAX_NUMBER_CHARS` before the parser (which recurses) sees the text."""
    bare = _STRING.sub(b'""', raw)  # brackets and digits inside strings are text, not structure
    if _LONG_NUMBER.search(bare):
        raise DataError(
            source, f"the {what} holds a number of more than {MAX_NUMBER_CHARS} characters"
        )
    steps = _STEP[np.frombuffer(bare.translate(None, _NOT_BRACKETS), np.uint8)]
    depth = 0
    for start in range(0, len(steps), _CHUNK):  # in chunks: a file of brackets stays cheap
        running = np.cumsum(steps[start : start + _CHUNK], dtype=np.int64) + depth
        if running.max() > MAX_JSON_DEPTH:
            raise DataError(source, f"the {what} is nested more than {MAX_JSON_DEPTH} levels deep")
        depth = int(running[-1])


def parse_json(data: bytes | str, source: str | Path, what: str = "JSON") -> Any:
    """Parse JSON text within the limits above; any failure is a :class:`DataError` naming
    ``source`` (a file, or e.g. ``"<stdin> line 7"``) and the problem, quoting no content."""
    if isinstance(data, str):
        text, raw = data, data.encode("utf-8", "surrogatepass")
    else:
        raw = data
        try:
            text = data.decode("utf-8-sig")  # -sig: tolerate a byte-order mark
        except UnicodeDecodeError as e:
            raise DataError(source, f"not UTF-8 text (byte {e.start}), so not a {what}") from None
    _check_json_shape(raw, source, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(
            source, f"not valid JSON (truncated?): {e.msg} at line {e.lineno}, column {e.colno}"
        ) from None
    except (ValueError, RecursionError) as e:  # belt and braces: the checks above prevent these
        raise DataError(source, f"cannot parse the {what}: {type(e).__name__}") from None


def read_json(path: str | Path, what: str, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The JSON value of a regular file within the limits above (:func:`read_bytes`,
    :func:`parse_json`); an empty file is a :class:`DataError` too."""
    data = read_bytes(path, what, max_bytes)
    if not data.strip():
        raise DataError(path, f"the {what} is empty")
    return parse_json(data, path, what)


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages that name a bad field's value
    (a multi-megabyte string must not become a multi-megabyte message)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
