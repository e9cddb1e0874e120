"""``dilpose lift - --stream``: lift a live stream of COCO-17 keypoints, one JSON line per frame.

The stream's promise: every input line gets exactly one output line, at once; a bad line gets an
error line and changes nothing (the model's buffers, the held joints and a requested reset all stay
as they were), so the next good line continues the stream. What file mode refuses (a checkpoint
with non-finite weights, keypoints that look normalised already) the stream refuses too, before a
frame is lifted.

Whatever a line holds, memory stays bounded: stdin is read as bytes with a bounded ``readline``
(a longer line is answered with an error and its rest discarded unread into memory), each line is
decoded on its own (a non-UTF-8 line is one bad line), and JSON nesting, number length and the
kept latency history are bounded (:data:`MAX_LINE_BYTES`, :data:`MAX_DIGITS`,
:data:`LATENCY_HISTORY`).

Each frame is normalised in the checkpoint's input convention (:mod:`dilpose.input_norm`), as file
mode does: a model that reads focal-normalised input needs ``--focal`` or ``--fov`` and a screen
model refuses them (:func:`dilpose.lift.model_input`), before the first line is read.
"""

from __future__ import annotations

import collections
import json
import math
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from . import checkpoints, input_norm, pretrained
from . import skeleton as sk
from . import stream as streaming
from .errors import ConfigError, DataError
from .keypoints import KP_LEN, NUM_JOINTS, RESOLUTION_HINT, focal_length, is_int, is_number
from .lift import MAX_GAP, focal_option, model_input
from .limits import MAX_DIGITS, MAX_LINE_BYTES

# The line-length and integer-length limits are the readers' own (dilpose.limits: one place).
#: Longest string frame id echoed back (characters).
MAX_FRAME_ID_CHARS = 200
#: A normalised coordinate beyond this (50 image widths outside the image in the screen convention,
#: a ray 89.4 degrees off the axis in the focal one) is refused: such a detection is garbage, and
#: 1e300 pixels would overflow the model's float32 input to infinity.
MAX_NORMALISED = 100.0
#: The summary's latency median and 95th percentile cover at most this many recent frames, so an
#: endless stream does not grow the process (8 bytes a frame).
LATENCY_HISTORY = 100_000


class LineTooLong(ValueError):
    """A line longer than :data:`MAX_LINE_BYTES` (its content is discarded, never held)."""


# --------------------------------------------------------------------------------------------------
# Reading lines
# --------------------------------------------------------------------------------------------------
def bounded_lines(stream, limit: int = MAX_LINE_BYTES) -> Iterator[bytes | str | LineTooLong]:
    """The lines of ``stream`` (a binary file, or a text file with a ``.buffer``, or one without),
    each at most ``limit`` bytes (characters for a text file without a buffer); an over-long line
    yields a :class:`LineTooLong` instead, after its rest has been read and dropped in ``limit``
    sized pieces. Trailing newlines are stripped; nothing is decoded here."""
    source = getattr(stream, "buffer", stream)
    newline = None
    while True:
        line = source.readline(limit + 1)
        if not line:
            return
        if newline is None:
            newline = b"\n" if isinstance(line, bytes) else "\n"
        if len(line) > limit and not line.endswith(newline):
            rest = line
            while rest and not rest.endswith(newline):  # drop the rest, never holding it all
                rest = source.readline(limit)
            yield LineTooLong(f"the line is longer than {limit} bytes; it was skipped unread")
            continue
        yield line.rstrip(newline).rstrip(b"\r" if isinstance(line, bytes) else "\r")


def _decode(line: bytes | str) -> str:
    if isinstance(line, str):
        return line
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 text (invalid byte at position {e.start})") from None


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"a number has more than {MAX_DIGITS} digits")
    return int(text)


def _loads(text: str):
    """``json.loads`` with the stream's limits: nesting deep enough to exhaust the parser's
    recursion and over-long integers are a ValueError (the standard parser raises
    RecursionError and accepts 4300-digit integers that overflow float conversion)."""
    try:
        return json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON: {e.msg} at column {e.colno}") from None
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None


# --------------------------------------------------------------------------------------------------
# Parsing one line
# --------------------------------------------------------------------------------------------------
def _short(keys) -> str:
    """Up to three key names, each cut to 32 characters (a line's keys may be anything)."""
    names = [k if len(k) <= 32 else k[:32] + "..." for k in sorted(keys)[:3]]
    return repr(names) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def _fields(doc) -> tuple[object, object, bool]:
    """A parsed line -> (keypoint values, frame id or None, reset flag); ValueError if the object
    holds anything else."""
    if not isinstance(doc, dict):
        return doc, None, False
    unknown = set(doc) - {"keypoints", "frame", "image_id", "reset"}
    if unknown:
        raise ValueError(
            f"unknown key(s) {_short(unknown)}; a line holds 'keypoints' and optionally 'frame' "
            "(or 'image_id') and 'reset'"
        )
    if "keypoints" not in doc:
        raise ValueError("the object has no 'keypoints'")
    frame = doc.get("frame", doc.get("image_id"))
    if frame is not None and not (
        is_int(frame) or (isinstance(frame, str) and len(frame) <= MAX_FRAME_ID_CHARS)
    ):
        raise ValueError(
            f"'frame' should be an integer or a string of at most {MAX_FRAME_ID_CHARS} "
            f"characters, got {type(frame).__name__}"
        )
    reset = doc.get("reset", False)
    if not isinstance(reset, bool):
        raise ValueError(f"'reset' should be true or false, got {type(reset).__name__}")
    return doc["keypoints"], frame, reset


def parse_line(line: bytes | str) -> tuple[np.ndarray, object, bool]:
    """One line -> ((17, 3) x, y, v float64 array, frame id or None, reset flag); a ValueError
    says what is wrong with it, quoting none of its values."""
    values, frame, reset = _fields(_loads(_decode(line)))
    if (
        isinstance(values, list)
        and len(values) == NUM_JOINTS
        and all(isinstance(v, list) and len(v) in (2, 3) for v in values)
    ):
        values = [x for v in values for x in (v if len(v) == 3 else [*v, 1.0])]
    if not isinstance(values, list) or len(values) != KP_LEN:
        n = len(values) if isinstance(values, list) else type(values).__name__
        raise ValueError(
            f"'keypoints' should be {KP_LEN} numbers (x, y, v for each of the 17 COCO joints) "
            f"or 17 [x, y(, v)] pairs, got {n}"
        )
    if not all(is_number(v) for v in values):
        raise ValueError("'keypoints' holds a value that is not a number")
    arr = np.asarray(values, dtype=np.float64).reshape(NUM_JOINTS, 3)
    if not np.isfinite(arr).all():
        j = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise ValueError(f"non-finite keypoint value at joint {j} ({sk.COCO17.joint_names[j]})")
    return arr, frame, reset


# --------------------------------------------------------------------------------------------------
# The stream's state
# --------------------------------------------------------------------------------------------------
class _HoldLast:
    """Causal gap filling for a live stream, as :func:`dilpose.lift.prepare` does with
    ``causal=True``: a missing joint takes its last detected position, for at most ``max_gap``
    frames."""

    def __init__(self, min_score: float, max_gap: int | None):
        self.min_score, self.max_gap = min_score, max_gap
        self.last, self.gap = self.fresh()

    @staticmethod
    def fresh() -> tuple[np.ndarray, np.ndarray]:
        """(last (17, 2) pixels, gap (17,) frames) of a stream that has seen nothing."""
        return np.full((NUM_JOINTS, 2), np.nan), np.zeros(NUM_JOINTS, dtype=int)

    def fill(self, arr: np.ndarray, reset: bool = False):
        """(17, 3) -> ((17, 2) keypoints, new last, new gap), from a fresh state when ``reset``;
        ValueError when a joint has never been seen or has been missing too long. Changes
        nothing: the caller stores the new state once the frame is lifted."""
        before, gap_before = self.fresh() if reset else (self.last, self.gap)
        seen = (arr[:, 2] != 0) & (arr[:, 2] >= self.min_score)
        last = np.where(seen[:, None], arr[:, :2], before)
        gap = np.where(seen, 0, gap_before + 1)
        never = np.flatnonzero(np.isnan(last).any(1))
        if len(never):
            names = [sk.COCO17.joint_names[j] for j in never]
            raise ValueError(
                f"joint(s) {names} not detected (score >= {self.min_score:g}) since the stream "
                "started: nothing to hold; the line is skipped"
            )
        if self.max_gap is not None and gap.max() > self.max_gap:
            j = int(np.argmax(gap))
            raise ValueError(
                f"joint {sk.COCO17.joint_names[j]!r} has been missing for {gap[j]} frames, more "
                f"than --max-gap {self.max_gap}; the line is skipped"
            )
        return last, last, gap


def _check_pixels(arr: np.ndarray, width: float) -> None:
    """Refuse a line whose detected joints all lie within [-2, 2] in an image wider than 16
    pixels: they look normalised already (file mode refuses such a file the same way)."""
    seen = arr[arr[:, 2] != 0, :2]
    if width > 16 and seen.size and np.abs(seen).max() <= 2.0:
        raise ValueError(
            f"all keypoints lie within [-2, 2] but the image is {width:g} pixels wide: they "
            "look normalised already; pixel coordinates are expected"
        )


def _image_size(source: str, width, height) -> tuple[float, float]:
    if width is None or height is None:
        raise DataError(
            source, f"the image size is needed to normalise the keypoints: {RESOLUTION_HINT}"
        )
    for name, v in (("width", width), ("height", height)):
        if not is_number(v) or not math.isfinite(v) or v <= 0:
            raise DataError(source, f"{name} must be a positive number of pixels, got {v!r}")
    return float(width), float(height)


def live_model(checkpoint: str | Path):
    """(causal model, the 2D layout it reads) for :func:`stream_lines`: a causal checkpoint with
    finite weights that reads COCO-17 or H36M-17 (x, y) and writes H36M-17, else a
    :class:`DataError` naming it."""
    model = streaming.checked_causal(checkpoints.model_from_checkpoint(checkpoint), checkpoint)
    # Checked now, before the first frame: NaN weights would give NaN poses on every line.
    checkpoints.check_finite(checkpoint, model.state_dict())
    want = sk.get(model.input_spec["layout"])
    if want not in (sk.COCO17, sk.H36M17) or (model.cfg.in_features, model.cfg.out_joints) != (
        2,
        sk.H36M17.num_joints,
    ):
        raise DataError(
            checkpoint,
            f"the model reads {want.name} ({model.cfg.in_features} values per joint) and writes "
            f"{model.cfg.out_joints} joints; live lifting takes COCO-17 (x, y) to H36M-17",
        )
    return model, want


# --------------------------------------------------------------------------------------------------
# The stream
# --------------------------------------------------------------------------------------------------
class _Live:
    """One live stream: the lifter, the held joints and the image size."""

    def __init__(self, model, want, size, min_score, max_gap, flip_test, convention, focal):
        self.lifter = streaming.StreamLifter(model, flip_test=flip_test)
        self.holder = _HoldLast(min_score, max_gap)
        self.want, (self.width, self.height) = want, size
        self.convention, self.focal = convention, focal  # focal: pixels, None for screen
        self.source = model.checkpoint_path

    def lift(self, line) -> tuple[np.ndarray, object]:
        """One line -> ((17, 3) metres, frame id); a ValueError leaves every state untouched:
        all checks run first, then the reset (if asked) and the model step."""
        if isinstance(line, LineTooLong):
            raise line
        arr, frame_id, reset = parse_line(line)
        try:
            _check_pixels(arr, self.width)
            kp, last, gap = self.holder.fill(arr, reset=reset)
            if self.want is sk.H36M17:
                kp = sk.coco_to_h36m(kp[None])[0]
            x = input_norm.normalise(kp, self.convention, self.width, self.height, self.focal)
            if np.abs(x).max() > MAX_NORMALISED:
                raise ValueError(
                    "a keypoint lies more than 50 image widths outside the image"
                    if self.convention == input_norm.SCREEN
                    else "a keypoint lies more than 89 degrees off the camera's axis"
                )
        except ValueError as e:
            e.frame_id = frame_id
            raise
        if reset:
            self.lifter.reset()
        pose = self.lifter.push(x)
        if not np.isfinite(pose).all():  # finite weights and bounded input: should not happen
            raise DataError(
                self.source, "the model gave non-finite 3D positions; the weights may be broken"
            )
        self.holder.last, self.holder.gap = last, gap  # only a lifted frame moves the stream on
        return pose, frame_id


def stream_lines(
    lines: Iterable,
    out,
    err,
    checkpoint: str | Path | None = None,
    width: float | None = None,
    height: float | None = None,
    min_score: float = 0.3,
    max_gap: int | None = MAX_GAP,
    flip_test: bool = True,
    source: str = "<stdin>",
    focal: float | None = None,
    fov: float | None = None,
) -> dict:
    """Lift a live stream of COCO-17 keypoints, one frame per line.

    lines: what :func:`bounded_lines` yields (bytes or str lines, or :class:`LineTooLong`).
    Each line is a JSON array of 51 numbers (x, y, v per COCO joint, pixels), 17 [x, y(, v)]
    pairs, or an object ``{"keypoints": [...], "frame": id, "reset": false}``. For each line one
    JSON line is written to ``out`` and flushed at once: ``{"frame", "positions_3d"`` (17 H36M-17
    joints, root-relative metres, 0.1 mm), ``"latency_ms"}`` (parsing to output, this frame). A bad
    line gets ``{"line", "frame", "error"}`` instead (and the same message on ``err``): it is not
    fed to the model and changes nothing, a reset it asks for included. ``"reset": true`` on a good
    line starts a new stream at that line.

    focal (pixels) or fov (horizontal field of view, degrees), at most one: the camera's focal
    length, needed by a model that reads focal-normalised input and refused by a screen one
    (:func:`dilpose.lift.model_input`). No shipped causal model reads focal input, so with either
    the checkpoint must be given.

    Returns a summary: frames lifted, lines refused, latency median and 95th percentile (ms) over
    the last :data:`LATENCY_HISTORY` frames.
    """
    size = _image_size(source, width, height)
    option = focal_option(focal, fov)
    shipped = None
    if checkpoint is None:
        if option:
            raise ConfigError(
                f"no shipped causal model reads focal-normalised input, so {option} with "
                "--stream needs one that does; pass --checkpoint"
            )
        shipped = pretrained.DEFAULT_STREAM
        checkpoint = pretrained.path_of(shipped)
    model, want = live_model(checkpoint)
    focal_px = focal_length(source, {}, focal, fov, size[0])  # checked, in pixels
    convention, focal_px = model_input(
        model.input_spec, model.checkpoint_path, focal_px, option, source_hint=""
    )
    live = _Live(model, want, size, min_score, max_gap, flip_test, convention, focal_px)
    latencies = collections.deque(maxlen=LATENCY_HISTORY)
    with streaming.small_work_threads():  # one frame is small work (STREAM_THREADS)
        count, refused = _serve(lines, out, err, live, latencies, source)
    return {
        "model": shipped or str(checkpoint),
        "frames": count,
        "refused_lines": refused,
        "latency_median_ms": float(np.median(latencies)) if latencies else None,
        "latency_p95_ms": float(np.percentile(latencies, 95)) if latencies else None,
        "latency_p99_ms": float(np.percentile(latencies, 99)) if latencies else None,
        "threads": streaming.STREAM_THREADS,
    }


def _serve(lines, out, err, live: _Live, latencies, source: str) -> tuple[int, int]:
    """The line loop of :func:`stream_lines`: ``(frames lifted, lines refused)``."""
    refused, count = 0, 0
    for n, line in enumerate(lines, start=1):
        if not isinstance(line, LineTooLong) and not line.strip():
            continue
        start = time.perf_counter()
        try:
            pose, frame_id = live.lift(line)
        except ValueError as e:
            refused += 1
            print(f"dilpose lift: error: {source} line {n}: {e}", file=err, flush=True)
            reply = {"line": n, "frame": getattr(e, "frame_id", None), "error": str(e)}
            out.write(json.dumps(reply) + "\n")
            out.flush()
            continue
        ms = 1000 * (time.perf_counter() - start)
        latencies.append(ms)
        count += 1
        reply = {
            "frame": frame_id if frame_id is not None else count - 1,
            "positions_3d": np.round(pose.astype(np.float64), 4).tolist(),
            "latency_ms": round(ms, 3),
        }
        out.write(json.dumps(reply, allow_nan=False) + "\n")
        out.flush()
    return count, refused
