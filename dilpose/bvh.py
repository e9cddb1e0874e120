"""BVH motion capture files: :func:`parse_bvh` reads one into a checked :class:`BVHMotion`
(hierarchy, offsets, channels, motion); a malformed file is a :class:`~dilpose.errors.DataError`
naming the file and line. End sites become joints named ``"<ParentName>_end"`` with no channels.

What the motion means (forward kinematics, resampling, the CMU -> H36M-17 / COCO-17 mapping) is
:mod:`dilpose.kinematics`. Both turn the CMU and HDM05 clips under ``shared/data`` (see its README)
into 3D joint sequences in the project's layouts.

Nothing happens on import.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import limits
from .errors import DataError

#: CMU's unit: (1/0.45) inch = 56.444 mm (CMU FAQ), so multiplying by this gives metres.
CMU_UNIT_TO_M = 0.056444

# Canonical spellings; files are matched case-insensitively because some exporters write
# "xrotation".
_CHANNEL_NAMES = {
    n.lower(): n
    for n in ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
}


@dataclass
class BVHMotion:
    """A parsed BVH file.

    joint_names: J names in file (depth-first) order, end sites included as ``"<Parent>_end"``.
    parents: (J,) int, parent index of each joint, -1 for a root; a parent always precedes its
        children.
    offsets: (J, 3) float64, OFFSET of each joint in file units (CMU: 56.444 mm).
    channels: J tuples of canonical channel names (``"Zrotation"``, ``"Xposition"``, ...); () for
        end sites.
    motion: (F, C) float64 channel values, C = total channel count, columns in joint-then-channel
        order; rotations in degrees, positions in file units.
    frame_time: seconds per frame as written in the file.
    source: the file path, for error messages.
    """

    joint_names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    channels: list[tuple[str, ...]]
    motion: np.ndarray
    frame_time: float
    source: str

    def __post_init__(self):
        n = len(self.joint_names)
        assert np.shape(self.parents) == (n,), "one parent per joint"
        assert np.shape(self.offsets) == (n, 3), "offsets are (J, 3)"
        assert len(self.channels) == n, "one channel tuple per joint"
        assert np.ndim(self.motion) == 2 and np.shape(self.motion)[1] == sum(
            map(len, self.channels)
        ), "motion is (F, total channel count)"
        if np.shape(self.motion)[0] == 0:
            # Caught here, with the file at hand, rather than later in resample() which has no
            # source.
            raise DataError(self.source, "MOTION has 0 frames")

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def fps(self) -> float:
        """Frame rate in Hz.

        Files print the frame time with few decimals (CMU: ``0.0083333`` for 1/120 s, i.e.
        120.0005 Hz); a rate within 1e-4 (relative) of a whole number is taken to be that whole
        number, so resampled time stamps do not drift by the printing error.
        """
        rate = 1.0 / self.frame_time
        whole = round(rate)
        return float(whole) if whole > 0 and abs(rate - whole) <= 1e-4 * rate else rate

    def index(self, name: str) -> int:
        """Index of joint ``name``; DataError naming the file if there is no such joint."""
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise DataError(self.source, f"no joint named {name!r}") from None


# ------------------------------------------------------------------------------------------ parsing

_FRAMES_RE = re.compile(r"^\s*frames\s*:\s*(\S+)\s*$", re.IGNORECASE)
_FRAME_TIME_RE = re.compile(r"^\s*frame\s+time\s*:\s*(\S+)\s*$", re.IGNORECASE)
# ASCII digits only: str.isdigit() is also True for superscripts and circled digits, which int()
# refuses.
_COUNT_RE = re.compile(r"[0-9]+")
# int() refuses strings of more than 4300 digits (ValueError), and no real BVH count comes near
# 10**18.
_MAX_COUNT_DIGITS = 18


def _parse_count(tok: str, src: str, what: str) -> int | None:
    """``tok`` as a non-negative decimal count; None if it is not one; DataError if absurdly long.

    what: the start of the error message (which line and field), e.g. ``"line 17: 'Frames:'"``.
    """
    if not _COUNT_RE.fullmatch(tok):
        return None
    digits = tok.lstrip("0") or "0"
    if len(digits) > _MAX_COUNT_DIGITS:
        raise DataError(src, f"{what} count of {len(digits)} digits is implausibly large")
    return int(digits)


def parse_bvh(path: str | Path) -> BVHMotion:
    """Parse a BVH file (HIERARCHY and MOTION sections).

    Any number of channels per joint, any rotation order and position channels on any joint are
    accepted. Raises :class:`DataError` naming the file, the problem and (where it helps) the line
    for: a missing or unreadable path or a directory, an empty file, an unknown channel name or a
    CHANNELS count that disagrees with the names, unbalanced braces, a missing MOTION section,
    ``Frames: 0``, a frame row with the wrong number of values, fewer rows than ``Frames:``
    announces (truncated file), non-numeric and NaN/inf values.
    """
    path = Path(path)
    src = str(path)
    # A regular file of bounded size (dilpose.limits): a FIFO would block, /dev/zero never end.
    # Its messages name the file and say "file not found", "is a directory", "is a device", ...
    data = limits.read_bytes(path, "BVH file", limits.MAX_BVH_BYTES)
    # errors="replace": a binary or foreign file then fails below with a readable message instead
    # of a UnicodeDecodeError that does not name the file.
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    if not text.strip():
        raise DataError(src, "empty file")

    motion_line = next((i for i, line in enumerate(lines) if line.split()[:1] == ["MOTION"]), None)
    hierarchy_end = motion_line if motion_line is not None else len(lines)
    names, parents, offsets, channels = _parse_hierarchy(
        lines[:hierarchy_end], src, motion_found=motion_line is not None
    )
    n_channels = sum(map(len, channels))
    motion, frame_time = _parse_motion(lines, motion_line, n_channels, names, channels, src)
    return BVHMotion(
        joint_names=names,
        parents=np.asarray(parents, dtype=np.int64),
        offsets=np.asarray(offsets, dtype=np.float64).reshape(-1, 3),
        channels=channels,
        motion=motion,
        frame_time=frame_time,
        source=src,
    )


def _parse_hierarchy(lines: list[str], src: str, motion_found: bool):  # noqa: C901 (see below)
    """Joint names, parents, offsets and channels from the lines before ``MOTION``.

    Token-based so that ``JOINT Foo {`` on one line works as well as the usual one-item-per-line
    layout; OFFSET and CHANNELS take their values from their own line (the format is line-oriented
    there, and that lets a wrong CHANNELS count be detected instead of swallowing the next keyword).
    """
    # Stays whole (over 80 lines): one pass of a small state machine (the open blocks, the joint
    # awaiting its "{", the joint lists) whose every branch reads and writes that state; split,
    # the state would travel through every helper. tests/test_fuzz_bvh.py covers its error paths.
    tokens = [
        (tok, ln + 1, ti, line_toks)
        for ln, line in enumerate(lines)
        for line_toks in [line.split()]
        for ti, tok in enumerate(line_toks)
    ]
    if not tokens or tokens[0][0] != "HIERARCHY":
        where = f"line {tokens[0][1]}, found {tokens[0][0]!r}" if tokens else "the start"
        raise DataError(src, f"not a BVH file: expected 'HIERARCHY' at {where}")

    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float] | None] = []
    channels: list[tuple[str, ...]] = []
    decl_line: list[int] = []
    is_end: list[bool] = []
    stack: list[tuple[int, int]] = []  # (joint index, line of its "{")
    pending: int | None = None  # a joint declared but whose "{" has not been seen yet

    i = 1
    while i < len(tokens):
        tok, ln, ti, line_toks = tokens[i]
        i += 1
        if tok in ("ROOT", "JOINT") or (
            tok == "End" and ti + 1 < len(line_toks) and line_toks[ti + 1] == "Site"
        ):
            if pending is not None:
                raise DataError(src, f"line {ln}: {tok} before the '{{' of {names[pending]!r}")
            if tok == "ROOT" and stack:
                raise DataError(
                    src,
                    f"line {ln}: ROOT inside the block of {names[stack[-1][0]]!r} "
                    f"(unbalanced braces?)",
                )
            if tok != "ROOT" and not stack:
                raise DataError(
                    src, f"line {ln}: {tok} outside any ROOT block (unbalanced braces?)"
                )
            parent = stack[-1][0] if stack else -1
            if parent >= 0 and is_end[parent]:
                raise DataError(src, f"line {ln}: an End Site cannot have children")
            if tok == "End":
                name = f"{names[parent]}_end"
                i += 1  # skip "Site"
            else:
                if ti + 1 >= len(line_toks) or line_toks[ti + 1] in ("{", "}"):
                    raise DataError(src, f"line {ln}: {tok} without a name")
                name = line_toks[ti + 1]
                i += 1
            if name in names:
                raise DataError(src, f"line {ln}: duplicate joint name {name!r}")
            names.append(name)
            parents.append(parent)
            offsets.append(None)
            channels.append(())
            decl_line.append(ln)
            is_end.append(tok == "End")
            pending = len(names) - 1
        elif tok == "{":
            if pending is None:
                raise DataError(
                    src, f"unbalanced braces: '{{' at line {ln} does not open a joint block"
                )
            stack.append((pending, ln))
            pending = None
        elif tok == "}":
            if not stack:
                raise DataError(src, f"unbalanced braces: unexpected '}}' at line {ln}")
            j, _ = stack.pop()
            if offsets[j] is None:
                raise DataError(src, f"joint {names[j]!r} (line {decl_line[j]}) has no OFFSET")
        elif tok == "OFFSET":
            j = _current_block(stack, pending, tok, ln, src)
            vals = line_toks[ti + 1 : ti + 4]
            try:
                xyz = [float(v) for v in vals]
            except ValueError:
                xyz = []
            if len(xyz) != 3 or not all(math.isfinite(v) for v in xyz):
                raise DataError(src, f"bad OFFSET line {ln}: expected 3 numbers, got {vals}")
            if offsets[j] is not None:
                raise DataError(src, f"line {ln}: second OFFSET for joint {names[j]!r}")
            offsets[j] = xyz
            i += len(vals)
        elif tok == "CHANNELS":
            j = _current_block(stack, pending, tok, ln, src)
            rest = line_toks[ti + 1 :]
            i += len(rest)
            channels[j] = _parse_channels(rest, ln, src, names[j], is_end[j], bool(channels[j]))
        else:
            raise DataError(src, f"line {ln}: unexpected {tok!r} in HIERARCHY")

    if stack or pending is not None:
        j, open_ln = stack[-1] if stack else (pending, decl_line[pending])
        what = (
            "missing MOTION section; the file ends inside the HIERARCHY"
            if not motion_found
            else "unbalanced braces before MOTION"
        )
        raise DataError(
            src, f"{what}: the block of {names[j]!r} opened at line {open_ln} is never closed"
        )
    if not motion_found:
        raise DataError(src, "missing MOTION section")
    if not names:
        raise DataError(src, "HIERARCHY has no ROOT joint")
    return names, parents, offsets, channels


def _current_block(stack, pending, tok, ln, src) -> int:
    if pending is not None or not stack:
        raise DataError(src, f"line {ln}: {tok} outside a joint block (unbalanced braces?)")
    return stack[-1][0]


def _parse_channels(
    rest: list[str], ln: int, src: str, joint: str, is_end: bool, seen: bool
) -> tuple[str, ...]:
    """``CHANNELS n name...`` -> canonical names; any inconsistency is a 'bad channel line'."""

    def bad(why: str) -> DataError:
        return DataError(src, f"bad channel line {ln} (joint {joint!r}): {why}")

    if is_end:
        raise bad("an End Site has no channels")
    if seen:
        raise bad("second CHANNELS line for this joint")
    count = (
        _parse_count(rest[0], src, f"bad channel line {ln} (joint {joint!r}): CHANNELS")
        if rest
        else None
    )
    if count is None:
        raise bad(f"expected a channel count, got {rest[:1]}")
    given = rest[1:]
    if count != len(given):
        raise bad(f"CHANNELS says {count} but lists {len(given)} names {given}")
    unknown = [g for g in given if g.lower() not in _CHANNEL_NAMES]
    if unknown:
        raise bad(f"unknown channel name(s) {unknown}; known: {sorted(_CHANNEL_NAMES.values())}")
    canon = tuple(_CHANNEL_NAMES[g.lower()] for g in given)
    if len(set(canon)) != len(canon):
        raise bad(f"repeated channel in {list(canon)}")
    return canon


def _parse_motion(lines, motion_line, n_channels, names, channels, src):
    """(F, C) channel values and the frame time from the lines after ``MOTION``."""
    body, n_frames, frames_ln, frame_time = _motion_header(lines, motion_line, src)
    rows = body[2:]
    split = [line.split() for _, line in rows]
    for k, ((ln, _), vals) in enumerate(zip(rows, split)):
        if len(vals) != n_channels:
            if k == len(rows) - 1 and len(vals) < n_channels:
                raise DataError(
                    src,
                    f"truncated file: the last frame row (line {ln}) has only {len(vals)} "
                    f"of {n_channels} values",
                )
            raise DataError(
                src,
                f"frame row at line {ln} has the wrong number of values: {len(vals)}, "
                f"expected {n_channels}",
            )
    if len(rows) < n_frames:
        raise DataError(
            src,
            f"truncated file: 'Frames: {n_frames}' (line {frames_ln}) but only "
            f"{len(rows)} frame rows",
        )
    if len(rows) > n_frames:
        raise DataError(
            src, f"'Frames: {n_frames}' (line {frames_ln}) but {len(rows)} frame rows follow"
        )
    if n_frames == 0:
        # Nothing downstream (forward kinematics, resampling) can use a clip without frames.
        raise DataError(src, f"MOTION has 0 frames ('Frames: 0' at line {frames_ln})")

    try:
        motion = np.array(split, dtype=np.float64).reshape(n_frames, n_channels)
    except ValueError:
        # Slow path only to locate the culprit for the message.
        for (ln, _), vals in zip(rows, split):
            for c, v in enumerate(vals):
                try:
                    float(v)
                except ValueError:
                    raise DataError(
                        src, f"non-numeric value {v!r} in frame row at line {ln}, column {c + 1}"
                    ) from None
        raise
    if not np.isfinite(motion).all():
        f, c = np.argwhere(~np.isfinite(motion))[0]
        joint, chan = _channel_owner(c, names, channels)
        kind = "NaN" if np.isnan(motion[f, c]) else "infinite"
        raise DataError(
            src, f"{kind} value in frame row at line {rows[f][0]}, column {c + 1} ({joint} {chan})"
        )
    return motion, frame_time


def _motion_header(lines, motion_line: int, src: str):
    """The non-blank (line number, text) rows after ``MOTION``, the ``Frames:`` count, its line,
    and the ``Frame Time:`` in seconds (> 0, with a finite frame rate); a DataError otherwise."""
    body = [
        (ln + 1, line)
        for ln, line in enumerate(lines[motion_line + 1 :], start=motion_line + 1)
        if line.strip()
    ]
    if len(lines[motion_line].split()) > 1:
        raise DataError(src, f"line {motion_line + 1}: unexpected text after MOTION")
    if len(body) < 2:
        raise DataError(
            src, "truncated file: MOTION section lacks the 'Frames:' and 'Frame Time:' lines"
        )
    (frames_ln, frames_text), (time_ln, time_text) = body[0], body[1]
    m = _FRAMES_RE.match(frames_text)
    n_frames = _parse_count(m.group(1), src, f"line {frames_ln}: 'Frames:'") if m else None
    if n_frames is None:
        raise DataError(
            src, f"line {frames_ln}: expected 'Frames: <count>', got {frames_text.strip()!r}"
        )
    m = _FRAME_TIME_RE.match(time_text)
    try:
        frame_time = float(m.group(1)) if m else math.nan
    except ValueError:
        frame_time = math.nan
    if not (frame_time > 0 and math.isfinite(frame_time)):
        raise DataError(
            src, f"line {time_ln}: expected 'Frame Time: <seconds > 0>', got {time_text.strip()!r}"
        )
    if not math.isfinite(1.0 / frame_time):
        # A denormal such as 1e-320: the frame rate would be infinite (and BVHMotion.fps would
        # raise).
        raise DataError(
            src,
            f"line {time_ln}: 'Frame Time: {m.group(1)}' is too small: the frame rate "
            f"1 / frame time is infinite",
        )
    return body, n_frames, frames_ln, frame_time


def _channel_owner(col: int, names, channels) -> tuple[str, str]:
    for name, chans in zip(names, channels):
        if col < len(chans):
            return name, chans[col]
        col -= len(chans)
    raise IndexError(col)
