"""BVH motion capture: parsing, forward kinematics, resampling and the CMU -> H36M-17 / COCO-17
mapping.

Used to turn the CMU clips under ``shared/data/mocap`` (see its README) into 3D joint sequences in
the project's layouts. Conventions (the BVH standard, as the CMU files use it):

* A joint's local rotation is the product of its per-axis rotations in the order its CHANNELS line
  lists them, column vectors, degrees: ``Zrotation Yrotation Xrotation`` gives ``R = Rz @ Ry @ Rx``.
* Global rotation ``R_j = R_parent @ R_local``; position
  ``p_j = p_parent + R_parent @ (offset_j + t_j)`` where ``t_j`` holds the joint's own position
  channels (zero if it has none). The root has no parent, so its position is ``offset + t``.
* End sites become joints named ``"<ParentName>_end"`` with no channels.

Positions come out in metres in the file's own axes (CMU: Y up, rest pose facing +Z, subject's left
+X). No axis change is made here; cameras and projection are another module's business.

Nothing happens on import.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError
from .skeleton import COCO17, FACE_POINT_OFFSETS, H36M17

#: CMU's unit: (1/0.45) inch = 56.444 mm (CMU FAQ), so multiplying by this gives metres.
CMU_UNIT_TO_M = 0.056444

# Canonical spellings; files are matched case-insensitively because some exporters write
# "xrotation".
_CHANNEL_NAMES = {
    n.lower(): n
    for n in ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
}

#: The 17 BVH joints in H36M-17 order (README of the CMU data set, "Mapping to the 17-joint
#: layouts").
CMU_TO_H36M: tuple[str, ...] = (
    "Hips",
    "RightUpLeg",
    "RightLeg",
    "RightFoot",
    "LeftUpLeg",
    "LeftLeg",
    "LeftFoot",
    "Spine1",
    "Neck",
    "Neck1",
    "Head_end",
    "LeftArm",
    "LeftForeArm",
    "LeftHand",
    "RightArm",
    "RightForeArm",
    "RightHand",
)

# The face points and their head-frame offsets are skeleton facts (dilpose.skeleton); the
# importer only places them in each frame's head.
_FACE_COEFFS = FACE_POINT_OFFSETS

# COCO-17 joints 5..16 are H36M joints of the same body part; the H36M "foot" joint is the ankle.
_COCO_FROM_H36M = {
    "l_shoulder": "l_shoulder",
    "r_shoulder": "r_shoulder",
    "l_elbow": "l_elbow",
    "r_elbow": "r_elbow",
    "l_wrist": "l_wrist",
    "r_wrist": "r_wrist",
    "l_hip": "l_hip",
    "r_hip": "r_hip",
    "l_knee": "l_knee",
    "r_knee": "r_knee",
    "l_ankle": "l_foot",
    "r_ankle": "r_foot",
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
    try:
        # errors="replace": a binary or foreign file then fails below with a readable message
        # instead of a UnicodeDecodeError that does not name the file.
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise DataError(src, "file not found") from None
    except IsADirectoryError:
        raise DataError(src, "is a directory, not a BVH file") from None
    except OSError as e:
        if os.path.isdir(
            path
        ):  # Windows reports a directory as PermissionError (os.path: never raises)
            raise DataError(src, "is a directory, not a BVH file") from None
        # strerror ("Permission denied", "Not a directory", ...) leaves out the path the message
        # starts with.
        raise DataError(src, f"cannot read file: {e.strerror or e}") from e
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


def _parse_hierarchy(lines: list[str], src: str, motion_found: bool):
    """Joint names, parents, offsets and channels from the lines before ``MOTION``.

    Token-based so that ``JOINT Foo {`` on one line works as well as the usual one-item-per-line
    layout; OFFSET and CHANNELS take their values from their own line (the format is line-oriented
    there, and that lets a wrong CHANNELS count be detected instead of swallowing the next keyword).
    """
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


def _channel_owner(col: int, names, channels) -> tuple[str, str]:
    for name, chans in zip(names, channels):
        if col < len(chans):
            return name, chans[col]
        col -= len(chans)
    raise IndexError(col)


# ------------------------------------------------------------------------------- forward kinematics


def _axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """(F,) angles in degrees -> (F, 3, 3) right-handed rotations about the X, Y or Z axis."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(a.shape + (3, 3))
    i, j = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}[axis]  # the plane the rotation turns, i -> j
    k = 3 - i - j
    R[..., k, k] = 1.0
    R[..., i, i] = c
    R[..., j, j] = c
    R[..., i, j] = -s
    R[..., j, i] = s
    return R


# Overflow (inf, then inf - inf = NaN) is reported once at the end as a DataError naming the joint
# and frame, instead of leaking numpy RuntimeWarnings and returning non-finite positions.
@np.errstate(over="ignore", invalid="ignore")
def forward_kinematics(
    motion: BVHMotion, unit_to_m: float = CMU_UNIT_TO_M
) -> tuple[np.ndarray, np.ndarray]:
    """Global joint positions and rotations for every frame.

    Returns ``positions`` (F, J, 3) in metres (file units times ``unit_to_m``; file axes, CMU: Y up)
    and ``rotations`` (F, J, 3, 3), each joint's global rotation (an end site has its parent's).
    Vectorised over frames; the loop runs over joints only. Raises DataError naming the file for a
    motion without frames and for positions that overflow float64 (offsets or values near 1e308).
    """
    J = len(motion.joint_names)
    F = motion.motion.shape[0]
    assert motion.offsets.shape == (J, 3) and motion.parents.shape == (J,)
    assert motion.motion.shape == (F, sum(map(len, motion.channels)))
    if not (unit_to_m > 0 and math.isfinite(unit_to_m)):
        raise DataError(motion.source, f"unit_to_m must be positive and finite, got {unit_to_m}")
    if F == 0:
        raise DataError(motion.source, "MOTION has 0 frames")

    positions = np.zeros((F, J, 3))
    rotations = np.zeros((F, J, 3, 3))
    eye = np.broadcast_to(np.eye(3), (F, 3, 3))
    col = 0
    for j in range(J):
        p = int(motion.parents[j])
        if p >= j:
            # FK fills joints in order, so a parent must come first (parse_bvh guarantees it).
            raise DataError(motion.source, f"joint {motion.joint_names[j]!r} precedes its parent")
        local_t = np.repeat(motion.offsets[j][None], F, axis=0)
        local_R = None
        for name in motion.channels[j]:
            values = motion.motion[:, col]
            col += 1
            axis = name[0]
            if name.endswith("position"):
                local_t[:, "XYZ".index(axis)] += values
            else:
                r = _axis_rotation(axis, values)
                local_R = r if local_R is None else local_R @ r
        if p < 0:
            positions[:, j] = local_t
            rotations[:, j] = eye if local_R is None else local_R
        else:
            parent_R = rotations[:, p]
            positions[:, j] = positions[:, p] + np.einsum("fij,fj->fi", parent_R, local_t)
            rotations[:, j] = parent_R if local_R is None else parent_R @ local_R
    positions *= unit_to_m
    bad = ~(np.isfinite(positions).all(-1) & np.isfinite(rotations).all((-2, -1)))  # (F, J)
    if bad.any():
        f, j = np.argwhere(bad)[0]
        raise DataError(
            motion.source,
            f"forward kinematics: joint {motion.joint_names[j]!r} is not finite "
            f"at frame {f + 1} (offsets or channel values too large or not finite)",
        )
    return positions, rotations


# --------------------------------------------------------------------------------------- resampling

#: resample() refuses to produce more values than this (2 GiB of float64): only a wrong frame rate
#: gets near it (an hour of 17 joints at 1000 Hz is 1.8e8 values).
_MAX_RESAMPLED_VALUES = 2**28


def resample(
    x: np.ndarray, src_hz: float, dst_hz: float, *, source: str | Path | None = None
) -> np.ndarray:
    """Resample a sequence by linear interpolation in time.

    x: (F, ...) samples at times ``i / src_hz``. Returns (F', ...) samples at ``t_k = k / dst_hz``
    for every k with ``t_k <= (F - 1) / src_hz`` (so F' = floor((F - 1) * dst_hz / src_hz) + 1).
    Every output frame blends its two neighbouring input frames; no frame is simply dropped, so
    120 -> 50 Hz has no jitter from an uneven 2-3-2-3 frame pick. Integer input becomes float64.
    source: the file the sequence came from, named in DataError messages (bad rates, no frames, or
    an output of more than 2**28 values, which only a wrong frame rate produces).
    """
    x = np.asarray(x)
    assert x.ndim >= 1, "x is (F, ...)"
    if not (src_hz > 0 and dst_hz > 0 and math.isfinite(src_hz) and math.isfinite(dst_hz)):
        raise DataError(
            source, f"resample: rates must be positive and finite, got {src_hz} -> {dst_hz}"
        )
    F = x.shape[0]
    if F == 0:
        raise DataError(source, "resample: empty sequence")
    x = x.astype(np.float64, copy=False)
    # The small epsilon keeps the last sample when (F-1)*dst/src is an integer up to rounding.
    span = (F - 1) * dst_hz / src_hz + 1e-9
    # A nonsense rate (a file's 'Frame Time: 1e6', or 1e-308 Hz) would make the output infinite or
    # of many GB; refuse it before np.arange allocates.
    n_values = (span + 1) * (x.size // F)
    if not (math.isfinite(span) and n_values <= _MAX_RESAMPLED_VALUES):
        n_frames = math.floor(span) + 1 if math.isfinite(span) else math.inf
        raise DataError(
            source,
            f"resample: {F} frames at {src_hz:g} Hz -> {dst_hz:g} Hz would give "
            f"{n_frames} frames; is the frame rate right?",
        )
    n_out = int(math.floor(span)) + 1
    pos = np.arange(n_out) * src_hz / dst_hz  # output times in input-frame units
    i0 = np.minimum(np.floor(pos + 1e-9).astype(np.int64), max(F - 2, 0))
    w = np.clip(pos - i0, 0.0, 1.0)
    i1 = np.minimum(i0 + 1, F - 1)
    w = w.reshape((-1,) + (1,) * (x.ndim - 1))
    return (1.0 - w) * x[i0] + w * x[i1]


# -------------------------------------------------------------------------------- CMU joint mapping


def _indices(joint_names, wanted, source, what) -> list[int]:
    names = list(joint_names)
    missing = [n for n in wanted if n not in names]
    if missing:
        raise DataError(source, f"{what}: joint(s) {missing} missing from the skeleton")
    return [names.index(n) for n in wanted]


def cmu_to_h36m17(positions: np.ndarray, joint_names, *, source=None) -> np.ndarray:
    """Select the H36M-17 joints from CMU BVH joints.

    positions: (F, J, 3) global joint positions (any unit) in the order of ``joint_names`` (J names,
    as :class:`BVHMotion` gives them). Returns (F, 17, 3) in H36M17 order (see :data:`CMU_TO_H36M`).
    Raises DataError (naming ``source``) if a needed joint is missing.
    """
    positions = np.asarray(positions)
    assert positions.ndim == 3 and positions.shape[1:] == (len(joint_names), 3), (
        f"positions must be (F, {len(joint_names)}, 3), got {positions.shape}"
    )
    idx = _indices(joint_names, CMU_TO_H36M, source, "cmu_to_h36m17")
    return positions[:, idx]


def cmu_face_points(
    positions: np.ndarray, rotations: np.ndarray, joint_names, *, source=None
) -> np.ndarray:
    """Synthesise nose, eyes and ears from the CMU head segment (CMU has no face markers).

    positions: (F, J, 3) global positions; rotations: (F, J, 3, 3) global rotations, both from
    :func:`forward_kinematics`, CMU axes (rest pose faces +Z). Returns (F, 5, 3) in COCO order
    nose, l_eye, r_eye, l_ear, r_ear, same unit as ``positions``.

    With Hj = Head, Ht = Head_end, h = |Ht - Hj|, u = (Ht - Hj)/h, f = Head's global rotation
    applied to +Z made orthogonal to u, and l = u x f (subject's left), each point is
    Hj + h * (a u + b f + c l) with the README's anthropometric (a, b, c).
    """
    positions = np.asarray(positions, dtype=np.float64)
    rotations = np.asarray(rotations, dtype=np.float64)
    J = len(joint_names)
    assert positions.ndim == 3 and positions.shape[1:] == (J, 3), f"positions must be (F, {J}, 3)"
    assert rotations.shape == positions.shape[:2] + (3, 3), f"rotations must be (F, {J}, 3, 3)"
    head, top = _indices(joint_names, ("Head", "Head_end"), source, "cmu_face_points")

    hj = positions[:, head]
    seg = positions[:, top] - hj
    h = np.linalg.norm(seg, axis=-1, keepdims=True)
    if not (h > 0).all():
        raise DataError(source, "cmu_face_points: zero-length head segment (Head == Head_end)")
    u = seg / h
    f = rotations[:, head, :, 2]  # R @ (0, 0, 1) is R's third column
    f = f - np.sum(f * u, -1, keepdims=True) * u
    fn = np.linalg.norm(f, axis=-1, keepdims=True)
    if not (fn > 1e-6).all():
        raise DataError(
            source, "cmu_face_points: the head's facing direction is parallel to the head segment"
        )
    f = f / fn
    side = np.cross(u, f)
    basis = np.stack([u, f, side], axis=-2)  # (F, 3 axes, 3 xyz)
    return hj[:, None] + h[:, None] * np.einsum("pa,fax->fpx", _FACE_COEFFS, basis)


def cmu_to_coco17(h36m: np.ndarray, face: np.ndarray) -> np.ndarray:
    """Assemble COCO-17 3D joints.

    h36m: (F, 17, 3) H36M-17 joints; face: (F, 5, 3) nose, l_eye, r_eye, l_ear, r_ear
    (:func:`cmu_face_points`). Returns (F, 17, 3) in COCO17 order: the face points, then shoulders,
    elbows, wrists, hips, knees and ankles taken from the H36M joints of the same name (H36M's
    "foot" joint is the ankle).
    """
    h36m = np.asarray(h36m)
    face = np.asarray(face)
    assert h36m.ndim == 3 and h36m.shape[1:] == (17, 3), (
        f"h36m must be (F, 17, 3), got {h36m.shape}"
    )
    assert face.shape == (h36m.shape[0], 5, 3), (
        f"face must be ({h36m.shape[0]}, 5, 3), got {face.shape}"
    )
    body = [H36M17.index(_COCO_FROM_H36M[name]) for name in COCO17.joint_names[5:]]
    return np.concatenate([face, h36m[:, body]], axis=1)


def load_cmu_clip(
    path: str | Path, target_hz: float = 50.0, unit_to_m: float = CMU_UNIT_TO_M
) -> dict:
    """Load a CMU BVH clip as H36M-17 joints and face points at ``target_hz``.

    Returns a dict with ``h36m`` (T, 17, 3) and ``face`` (T, 5, 3) float64 metres in the BVH's own
    axes (Y up, rest pose facing +Z), ``fps`` (= target_hz), ``source_fps`` (the file's rate) and
    ``source`` (the path).

    The 3D positions are resampled after forward kinematics rather than the Euler angles before it:
    interpolating Euler angles misbehaves at wrap-around (179 -> -179 deg) and near gimbal lock,
    while interpolating positions only shortens a rigid bone between two samples by the chord-vs-arc
    error L (1 - cos(theta/2)); at 120 Hz a limb turns at most a few degrees per frame, so for a
    0.4 m bone turning 5 deg per frame that is under 0.4 mm, far below any pose-error metric.
    """
    motion = parse_bvh(path)
    if not (target_hz > 0 and math.isfinite(target_hz)):
        raise DataError(motion.source, f"target_hz must be positive, got {target_hz}")
    positions, rotations = forward_kinematics(motion, unit_to_m)
    h36m = cmu_to_h36m17(positions, motion.joint_names, source=motion.source)
    face = cmu_face_points(positions, rotations, motion.joint_names, source=motion.source)
    return {
        "h36m": resample(h36m, motion.fps, target_hz, source=motion.source),
        "face": resample(face, motion.fps, target_hz, source=motion.source),
        "fps": float(target_hz),
        "source_fps": motion.fps,
        "source": motion.source,
    }
