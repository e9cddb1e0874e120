"""Lift a video's 2D COCO-17 keypoints from any detector to 3D joints: the engine of
``dilpose lift``.

Pipeline::

    read_keypoints   COCO keypoint JSON (detector results or annotations) or npz
                     -> Keypoints2D (pixels)
    prepare          low-confidence joints -> missing; short gaps interpolated, long gaps refused
    lift_file        normalise, run a trained checkpoint (default: the shipped lifter-243,
                     dilpose.models) over the whole sequence, or frame by frame through a
                     causal model (dilpose.stream, ``--stream``), write PREFIX.npy/.json
    stream_lines     ``dilpose lift - --stream``: JSON lines on stdin, one 3D pose per line out

Inputs
------
* COCO keypoint **results** JSON: a list of
  ``{"image_id": int, "category_id": 1, "keypoints": [x1, y1, v1, ..., x17, y17, v17], "score":
  float}``. ``v`` is the detector's per-joint confidence.
* COCO keypoint **annotations** JSON: ``{"images": [{"id", "width", "height"}, ...], "annotations":
  [...]}``; ``v`` is COCO's visibility flag (0 unlabelled, 1 occluded, 2 visible), so any labelled
  joint gets score 1.
* VideoPose3D's ``data_2d_custom_<name>.npz`` (see :func:`dilpose.formats.load_custom_2d`).
* A plain npz with ``keypoints`` (T, 17, 2) or (T, 17, 3) pixels (NaN marks a missed joint; a third
  channel is the score), and optional ``scores`` (T, 17), ``width``, ``height`` and ``frame_ids``
  (T,).

One person per video: in JSON, when an image has several detections the highest-scoring one is kept
and the others are counted in the report. A joint with ``v == 0`` (or score 0) was not detected.

Frames are the image ids in sorted order. When the ids are frame numbers (consecutive integers,
median step 1) an id missing between them is a missed frame and becomes an all-missing frame, so
that time stays uniform for the temporal model; otherwise (COCO's sparse ids) the sorted order is
used as is.

Outputs are root-relative H36M-17 joints in metres (camera orientation, root joint at the origin).
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import formats, npz
from . import skeleton as sk
from .camera import normalize_screen_coordinates
from .errors import DataError
from .fileio import atomic_open, check_writable, write_json
from .noise import fill_gaps

NUM_JOINTS = sk.COCO17.num_joints
_KP_LEN = 3 * NUM_JOINTS  # 51 numbers per COCO detection: (x, y, v) per joint
_CLI_RESOLUTION_HINT = "pass --width and --height (image size in pixels)"
#: Longest gap per joint (frames) that is interpolated by default: 0.5 s at 50 Hz. Detectors lose a
#: joint for a few tenths of a second under brief occlusion (the simulated detector's misses reach
#: 20 frames); a longer gap would make the motion up, so it is refused.
MAX_GAP = 25


@dataclass
class Keypoints2D:
    """One person's 2D keypoints over a video, COCO-17 order.

    keypoints: (T, 17, 2) float64 pixels, NaN where a joint (or a whole frame) is missing.
    scores: (T, 17) float64 detector confidence, 0 where missing (1 where the input has no scores).
    frame_ids: T ints (image ids or frame numbers). width, height: image size in pixels.
    source: the file read. info: what the reader did (format, discarded detections, filled frames).
    layout: the joint order of ``keypoints`` (COCO-17 for COCO JSON; npz files may say otherwise).
    """

    keypoints: np.ndarray
    scores: np.ndarray
    frame_ids: list[int]
    width: float
    height: float
    source: str
    info: dict = field(default_factory=dict)
    layout: sk.Skeleton = sk.COCO17

    def __len__(self) -> int:
        return len(self.keypoints)


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------
def read_keypoints(
    path: str | Path,
    width: float | None = None,
    height: float | None = None,
    video: str | None = None,
) -> Keypoints2D:
    """Read 2D COCO-17 keypoints (see the module docstring for the accepted files).

    width, height: image size in pixels; needed when the file does not record it, and must agree
    with the file when it does. video: which video of a multi-video VideoPose3D custom npz.
    Raises :class:`DataError` (naming the file) on any unreadable, malformed or ambiguous input.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    if path.stat().st_size == 0:
        raise DataError(path, "file is empty")
    # Sniff the content rather than trusting the suffix; a .npz that is not a zip still goes to the
    # npz reader so that the error says "not a readable npz archive".
    if path.suffix.lower() == ".npz" or zipfile.is_zipfile(path):
        kp, scores, frame_ids, file_wh, info, layout = _read_npz(path, video)
    else:
        kp, scores, frame_ids, file_wh, info = _read_json(path)
        layout = sk.COCO17
    w, h = _resolution(path, file_wh, width, height)
    _check_pixels(path, kp, w)
    return Keypoints2D(kp, scores, frame_ids, w, h, str(path), info, layout)


def _resolution(path: Path, file_wh, width, height) -> tuple[float, float]:
    """The image size to normalise with: the caller's, the file's, and refuse if they disagree."""
    if (width is None) != (height is None):
        raise DataError(path, f"give both width and height, not one ({_CLI_RESOLUTION_HINT})")
    if width is not None:
        for name, v in (("width", width), ("height", height)):
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float, np.number))
                or not math.isfinite(v)
                or v <= 0
            ):
                raise DataError(path, f"{name} must be a positive number of pixels, got {v!r}")
        given = (float(width), float(height))
        # A mismatch means one of them is wrong; normalising with the wrong size silently scales and
        # shifts the model's input, so ask rather than guess.
        if file_wh is not None and tuple(map(float, file_wh)) != given:
            raise DataError(
                path,
                f"the file says the images are {file_wh[0]:g}x{file_wh[1]:g} pixels but "
                f"{given[0]:g}x{given[1]:g} was given",
            )
        return given
    if file_wh is None:
        raise DataError(
            path,
            "the image resolution is unknown (the file does not record it) and it is needed "
            f"to normalise the keypoints: {_CLI_RESOLUTION_HINT}",
        )
    return float(file_wh[0]), float(file_wh[1])


def _check_pixels(path: Path, kp: np.ndarray, width: float) -> None:
    """Refuse keypoints that are already normalised: they would be normalised twice, silently."""
    seen = kp[np.isfinite(kp)]
    if seen.size == 0:
        raise DataError(path, "no joint is detected in any frame")
    if width > 16 and np.abs(seen).max() <= 2.0:
        raise DataError(
            path,
            f"all keypoints lie within [-2, 2] but the image is {width:g} pixels wide: they "
            "look normalised already; pixel coordinates are expected",
        )


# -- JSON ------------------------------------------------------------------------------------------
def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _read_json(path: Path):
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: tolerate a byte-order mark
    except UnicodeDecodeError as e:
        raise DataError(path, f"not UTF-8 text, so not a COCO JSON file: {e}") from e
    if not text.strip():
        raise DataError(path, "file is empty")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(
            path, f"not valid JSON (truncated?): {e.msg} at line {e.lineno}, column {e.colno}"
        ) from e

    if isinstance(doc, list):
        style, dets, images = "coco-results", doc, None
    elif isinstance(doc, dict) and "annotations" in doc:
        style, dets, images = "coco-annotations", doc["annotations"], doc.get("images")
        if not isinstance(dets, list):
            raise DataError(path, "'annotations' should be a list")
    else:
        found = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise DataError(
            path,
            "expected COCO keypoints: a results list of detections or a dict with "
            f"'images' and 'annotations'; found {found}",
        )
    if not dets:
        raise DataError(
            path, "holds no detections" if style == "coco-results" else "holds no annotations"
        )

    file_wh, image_ids = None, None
    if images is not None:
        file_wh, image_ids = _read_images(path, images)

    # Best detection per image: (rank, index, keypoints (17, 3)).
    best: dict[int, tuple[float, int, np.ndarray]] = {}
    counts: dict[int, int] = {}
    skipped = 0
    for i, det in enumerate(dets):
        where = f"{'detection' if style == 'coco-results' else 'annotation'} {i}"
        if not isinstance(det, dict):
            raise DataError(path, f"{where} should be an object, found {type(det).__name__}")
        # Other categories carry no person keypoints; crowd annotations are not one person.
        if det.get("category_id", 1) != 1 or det.get("iscrowd", 0):
            skipped += 1
            continue
        image_id = det.get("image_id")
        if not _is_int(image_id):
            raise DataError(path, f"{where}: 'image_id' should be an integer, got {image_id!r}")
        where = f"{where} (image_id {image_id})"
        if image_ids is not None and image_id not in image_ids:
            raise DataError(path, f"{where}: image_id is not listed in 'images'")
        values = det.get("keypoints")
        if not isinstance(values, list) or len(values) != _KP_LEN:
            n = len(values) if isinstance(values, list) else type(values).__name__
            raise DataError(
                path,
                f"{where}: 'keypoints' should be {_KP_LEN} numbers (x, y, v for each of the "
                f"17 COCO joints), got {n}",
            )
        if not all(_is_number(v) for v in values):
            raise DataError(path, f"{where}: 'keypoints' holds a value that is not a number")
        arr = np.asarray(values, dtype=np.float64).reshape(NUM_JOINTS, 3)
        if not np.isfinite(arr).all():
            j = int(np.argwhere(~np.isfinite(arr))[0, 0])
            raise DataError(
                path,
                f"{where}: non-finite (NaN/inf) keypoint value at joint {j} "
                f"({sk.COCO17.joint_names[j]})",
            )
        if style == "coco-annotations":
            # Visibility flags, not confidences: a labelled joint (occluded or not) is a sure
            # position.
            arr[:, 2] = (arr[:, 2] > 0).astype(np.float64)
        score = det.get("score")
        if score is not None and (not _is_number(score) or not math.isfinite(score)):
            raise DataError(path, f"{where}: 'score' should be a finite number, got {score!r}")
        # Without a detection score, the detection with more labelled joints is the better one.
        rank = float(score) if score is not None else float((arr[:, 2] > 0).sum())
        counts[image_id] = counts.get(image_id, 0) + 1
        if image_id not in best or rank > best[image_id][0]:
            best[image_id] = (rank, i, arr)
    if not best:
        raise DataError(
            path,
            f"no person detections (category_id 1): all {skipped} entries are other "
            "categories or crowds",
        )

    ids = sorted(image_ids if image_ids is not None else best)
    frame_ids, filled = _frame_ids(path, ids)
    row = {f: t for t, f in enumerate(frame_ids)}
    kp = np.full((len(frame_ids), NUM_JOINTS, 2), np.nan)
    scores = np.zeros((len(frame_ids), NUM_JOINTS))
    for image_id, (_, _, arr) in best.items():
        t = row[image_id]
        detected = arr[:, 2] != 0  # v == 0: the detector (or annotator) did not place this joint
        kp[t, detected] = arr[detected, :2]
        scores[t, detected] = arr[detected, 2]
    info = {
        "format": style,
        "detections": int(sum(counts.values())),
        "discarded_detections": int(sum(n - 1 for n in counts.values())),
        "frames_with_several_detections": int(sum(n > 1 for n in counts.values())),
        "skipped_non_person": skipped,
        "frames_without_detection": int(len(frame_ids) - len(best)),
        "filled_frame_ids": filled,
        "frame_order": "frame numbers" if filled is not None else "sorted image ids",
    }
    return kp, scores, frame_ids, file_wh, info


def _read_images(path: Path, images) -> tuple[tuple[float, float] | None, set[int]]:
    """(width, height) shared by all images (None when they do not record it), and the image ids."""
    if not isinstance(images, list):
        raise DataError(path, "'images' should be a list")
    ids, sizes = set(), set()
    for k, im in enumerate(images):
        if not isinstance(im, dict) or not _is_int(im.get("id")):
            raise DataError(path, f"images[{k}] should be an object with an integer 'id'")
        if im["id"] in ids:
            raise DataError(path, f"images[{k}]: image id {im['id']} is listed twice")
        ids.add(im["id"])
        w, h = im.get("width"), im.get("height")
        if w is None and h is None:
            continue
        if not (
            _is_number(w)
            and _is_number(h)
            and math.isfinite(w)
            and math.isfinite(h)
            and w > 0
            and h > 0
        ):
            raise DataError(
                path,
                f"images[{k}] (id {im['id']}): width/height should be positive numbers, "
                f"got {w!r} x {h!r}",
            )
        sizes.add((float(w), float(h)))
    if len(sizes) > 1:
        raise DataError(
            path, f"the images have different sizes {sorted(sizes)}; one video has one resolution"
        )
    return (sizes.pop() if sizes else None), ids


#: Longest run of missing frame numbers accepted between two detections. Longer is not a video with
#: a dropped frame or two but ids that are not frame numbers (and every missing frame costs memory).
MAX_MISSING_FRAMES = 10_000


def _frame_ids(path: Path, ids: list[int]) -> tuple[list[int], list[int] | None]:
    """All frame ids (missed frames inserted when the ids are frame numbers), and the inserted ones.

    Raises :class:`DataError` when the ids look like frame numbers (median step 1) but jump by more
    than :data:`MAX_MISSING_FRAMES`: filling that gap would allocate frames that no detector saw.
    """
    if len(ids) < 2 or np.median(np.diff(ids)) != 1:
        return list(ids), None
    steps = np.diff(ids)
    k = int(np.argmax(steps))
    if steps[k] - 1 > MAX_MISSING_FRAMES:
        raise DataError(
            path,
            f"frame ids jump from {ids[k]} to {ids[k + 1]} ({steps[k] - 1:,} missing frames, more "
            f"than the {MAX_MISSING_FRAMES:,} accepted): the ids are consecutive frame numbers "
            "elsewhere, so this one looks wrong; split the video or fix the id",
        )
    missing = int(ids[-1] - ids[0] + 1 - len(ids))
    if missing > MAX_MISSING_FRAMES + len(ids):
        raise DataError(
            path,
            f"{missing:,} frame numbers between {ids[0]} and {ids[-1]} have no detection, "
            f"more than the {len(ids):,} that have one: the ids do not look like one video's "
            "frame numbers",
        )
    frames = list(range(ids[0], ids[-1] + 1))
    present = set(ids)
    return frames, [f for f in frames if f not in present]


# -- npz -------------------------------------------------------------------------------------------
def _read_npz(path: Path, video: str | None):
    if not zipfile.is_zipfile(path):
        raise DataError(
            path, "not a readable npz archive (truncated or foreign file: no zip directory)"
        )
    try:
        with zipfile.ZipFile(path) as z:
            names = {n[:-4] if n.endswith(".npy") else n for n in z.namelist()}
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(path, f"not a readable npz archive: {e}") from e
    if "positions_2d" in names:
        return _read_custom_npz(path, video)
    if "keypoints" in names:
        return _read_plain_npz(path)
    raise DataError(
        path,
        "expected 'keypoints' (plain npz) or 'positions_2d' (VideoPose3D custom npz), "
        f"found {sorted(names)}",
    )


def _read_custom_npz(path: Path, video: str | None):
    videos = formats.load_custom_2d(path)
    names = sorted(videos)
    if video is None:
        if len(names) > 1:
            raise DataError(path, f"holds {len(names)} videos {names}; name one (--video)")
        video = names[0]
    elif video not in videos:
        raise DataError(path, f"has no video {video!r}; videos are {names}")
    entry = videos[video]
    layout = _layout(path, entry["layout"])
    kp = np.asarray(entry["keypoints"], dtype=np.float64)
    if kp.shape[1] != layout.num_joints:
        raise DataError(
            path,
            f"video {video!r} has {kp.shape[1]} joints per frame, expected {layout.num_joints} "
            f"({layout.name})",
        )
    # VideoPose3D's custom files keep no confidences (load_custom_2d drops them): all joints are
    # sure.
    info = {"format": "videopose3d-custom", "video": video, "videos": names}
    return kp, np.ones(kp.shape[:2]), list(range(len(kp))), (entry["w"], entry["h"]), info, layout


def _layout(path: Path, name) -> sk.Skeleton:
    try:
        return sk.get(name)
    except DataError as e:
        raise DataError(path, e.problem) from None


def _read_plain_npz(path: Path):
    archive = npz.load(path, allow_objects=False)  # plain arrays only: never unpickle here
    layout = sk.COCO17
    if "layout" in archive:
        name = archive["layout"]
        if name.shape != () or name.dtype.kind != "U":
            raise DataError(
                path,
                f"'layout' should be one string (a joint layout name), "
                f"got {name.dtype} {name.shape}",
            )
        layout = _layout(path, str(name))
    J = layout.num_joints
    kp = np.asarray(archive["keypoints"])
    if not np.issubdtype(kp.dtype, np.number) or np.issubdtype(kp.dtype, np.complexfloating):
        raise DataError(path, f"'keypoints' should hold real numbers, got dtype {kp.dtype}")
    if kp.ndim != 3 or kp.shape[2] not in (2, 3):
        raise DataError(path, f"'keypoints' should be (T, {J}, 2) or (T, {J}, 3), got {kp.shape}")
    if kp.shape[1] != J:
        raise DataError(
            path, f"'keypoints' has {kp.shape[1]} joints per frame, expected {J} ({layout.name})"
        )
    if len(kp) == 0:
        raise DataError(path, "'keypoints' has no frames")
    kp = kp.astype(np.float64)
    scores = None
    if kp.shape[2] == 3:
        if "scores" in archive:
            raise DataError(path, "both a third keypoint channel and 'scores' are given; keep one")
        kp, scores = kp[..., :2], kp[..., 2]
    elif "scores" in archive:
        scores = np.asarray(archive["scores"])
        if not np.issubdtype(scores.dtype, np.number) or scores.shape != kp.shape[:2]:
            raise DataError(
                path,
                f"'scores' should be numbers of shape {kp.shape[:2]}, got {scores.shape} "
                f"{scores.dtype}",
            )
        scores = scores.astype(np.float64)
    # NaN is this format's documented marker of a missed joint (dilpose.noise writes it); inf is
    # not.
    if np.isinf(kp).any():
        t = int(np.argwhere(np.isinf(kp))[0, 0])
        raise DataError(path, f"'keypoints' holds infinite values (first at frame {t})")
    missing = np.isnan(kp).any(-1)
    if scores is None:
        scores = np.ones(kp.shape[:2])
    elif not np.isfinite(scores[~missing]).all():
        t = int(np.argwhere(~np.isfinite(scores) & ~missing)[0, 0])
        raise DataError(path, f"scores hold non-finite values (first at frame {t})")
    kp[missing] = np.nan
    kp[scores == 0] = np.nan  # score 0: not detected, whatever coordinates were written
    scores = np.where(np.isnan(kp).any(-1), 0.0, scores)

    file_wh = None
    have = [k for k in ("width", "height") if k in archive]
    if have:
        if len(have) == 1:
            raise DataError(path, f"has {have[0]!r} but not the other of 'width'/'height'")
        try:
            file_wh = (float(archive["width"]), float(archive["height"]))
        except (TypeError, ValueError) as e:
            raise DataError(path, f"'width'/'height' should be numbers: {e}") from e
        if not all(math.isfinite(v) and v > 0 for v in file_wh):
            raise DataError(path, f"'width'/'height' should be positive, got {file_wh}")
    frame_ids = list(range(len(kp)))
    if "frame_ids" in archive:
        ids = np.asarray(archive["frame_ids"])
        if ids.shape != (len(kp),) or not np.issubdtype(ids.dtype, np.integer):
            raise DataError(
                path, f"'frame_ids' should be {len(kp)} integers, got {ids.shape} {ids.dtype}"
            )
        frame_ids = [int(v) for v in ids]
    return kp, scores, frame_ids, file_wh, {"format": "npz"}, layout


# --------------------------------------------------------------------------------------------------
# Preparing
# --------------------------------------------------------------------------------------------------
def prepare(
    kp: Keypoints2D, min_score: float = 0.3, max_gap: int | None = MAX_GAP, causal: bool = False
):
    """Drop low-confidence joints and interpolate short gaps.

    A joint with score < ``min_score`` is treated as missing: a detector's unsure joint is usually
    wrong, and a jump in the input makes the 3D output jump. Gaps of up to ``max_gap`` frames per
    joint are filled by linear interpolation (:func:`dilpose.noise.fill_gaps`); a longer gap, or a
    joint never seen, raises :class:`DataError` because interpolation would invent the motion.

    causal: fill a gap by holding the joint's last detected position instead (what a live stream
    can do: interpolation needs the frame after the gap); a joint missing from the first frames
    takes its first detection. Same ``max_gap`` rule.

    Returns ``(keypoints (T, 17, 2) pixels, filled (T, 17) bool, report)``: ``filled`` marks
    interpolated (or held) entries; ``report`` counts frames, missing and low-confidence joints and
    filled entries (plus what the reader recorded).
    """
    if not math.isfinite(min_score):
        raise DataError(kp.source, f"min_score must be a finite number, got {min_score!r}")
    if max_gap is not None and max_gap < 0:
        raise DataError(kp.source, f"max_gap must be >= 0 frames, got {max_gap}")
    keypoints = np.array(kp.keypoints, dtype=np.float64)
    T = len(keypoints)
    undetected = ~np.isfinite(keypoints).all(-1)
    low = ~undetected & (kp.scores < min_score)
    keypoints[low] = np.nan
    missing = undetected | low
    _check_gaps(kp, missing, min_score, max_gap)
    if causal:
        filled_kp, filled = hold_last(keypoints), missing.copy()
    else:
        filled_kp, filled = fill_gaps(keypoints, kp.scores, max_gap=max_gap, source=kp.source)
    report = {
        "frames": T,
        "joints": int(missing.size),
        "undetected_joints": int(undetected.sum()),
        "low_confidence_joints": int(low.sum()),
        "interpolated_joints": int(filled.sum()),
        "interpolated_fraction": float(filled.mean()),
        "interpolated_per_joint": {
            name: int(n) for name, n in zip(kp.layout.joint_names, filled.sum(0)) if n
        },
        "longest_gap": max(
            (_longest_run(missing[:, j]) for j in range(kp.layout.num_joints)), default=0
        ),
        "layout": kp.layout.name,
        "min_score": float(min_score),
        "max_gap": max_gap,
        "gap_filling": "hold the last detection (causal)" if causal else "linear interpolation",
        **kp.info,
    }
    return filled_kp, filled, report


def hold_last(keypoints: np.ndarray) -> np.ndarray:
    """(T, J, 2) pixels with NaN gaps -> each NaN entry replaced by the joint's last detected
    position; entries before a joint's first detection take that first detection. Every joint must
    be detected at least once (:func:`prepare` checks)."""
    out = np.array(keypoints, dtype=np.float64)
    T, J = out.shape[:2]
    seen = np.isfinite(out).all(-1)  # (T, J)
    # index of the last frame <= t where joint j was seen (-1 before the first detection)
    last = np.where(seen, np.arange(T)[:, None], -1)
    last = np.maximum.accumulate(last, axis=0)
    first = seen.argmax(0)  # (J,)
    src = np.where(last >= 0, last, first[None, :])
    return out[src, np.arange(J)[None, :]]


def _runs(gap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first index, length) of every run of True in a boolean (T,) array."""
    edges = np.diff(np.concatenate([[0], gap.astype(int), [0]]))
    starts = np.flatnonzero(edges == 1)
    return starts, np.flatnonzero(edges == -1) - starts


def _longest_run(gap: np.ndarray) -> int:
    _, lengths = _runs(gap)
    return int(lengths.max()) if len(lengths) else 0


def _check_gaps(
    kp: Keypoints2D, missing: np.ndarray, min_score: float, max_gap: int | None
) -> None:
    """fill_gaps refuses the same cases; checking here first names the joint and the file's frame
    id."""
    for j, name in enumerate(kp.layout.joint_names):
        gap = missing[:, j]
        if gap.all():
            raise DataError(
                kp.source,
                f"joint {name!r} is never detected with score >= {min_score:g} in "
                f"{len(gap)} frames",
            )
        starts, lengths = _runs(gap)
        if max_gap is not None and len(lengths) and lengths.max() > max_gap:
            k = int(np.argmax(lengths))
            raise DataError(
                kp.source,
                f"joint {name!r} is missing (or below score {min_score:g}) for "
                f"{lengths[k]} consecutive frames, from frame id {kp.frame_ids[starts[k]]}; "
                f"at most {max_gap} are interpolated (lower --min-score or raise --max-gap "
                "to accept it)",
            )


# --------------------------------------------------------------------------------------------------
# Lifting
# --------------------------------------------------------------------------------------------------
def _to_model_layout(
    kp: Keypoints2D, keypoints: np.ndarray, spec: dict, checkpoint: Path, report: dict
):
    """The prepared keypoints in the joint order the model was trained on, or a :class:`DataError`.

    Equal layouts pass; COCO-17 input for an H36M-17 model goes through the tested converter
    :func:`dilpose.skeleton.coco_to_h36m` (recorded in ``report["converted"]``); anything else is
    refused with what the model expects and what the file gives, never fed to the model silently.
    """
    want = sk.get(spec["layout"])
    if kp.layout is want:
        return keypoints, kp.scores, want
    if kp.layout is sk.COCO17 and want is sk.H36M17:
        converted, scores = sk.coco_to_h36m(keypoints, kp.scores)
        report["converted"] = f"{kp.layout.name} -> {want.name} (dilpose.skeleton.coco_to_h36m)"
        return converted, scores, want
    from .checkpoints import check_input  # torch: imported only when lifting

    check_input(
        spec,
        kp.layout,
        checkpoint,
        what=f"the input {kp.source} (no converter between these layouts)",
    )
    raise AssertionError("unreachable: check_input refuses different layouts")  # pragma: no cover


def output_paths(output: str | Path) -> tuple[Path, Path]:
    """``PREFIX``, ``PREFIX.npy`` or ``PREFIX.json`` -> (PREFIX.npy, PREFIX.json)."""
    prefix = Path(output)
    if prefix.suffix.lower() in (".npy", ".json"):
        prefix = prefix.with_suffix("")
    if not prefix.name:
        raise DataError(
            output, "output needs a file name (a prefix for PREFIX.npy and PREFIX.json)"
        )
    return prefix.with_name(prefix.name + ".npy"), prefix.with_name(prefix.name + ".json")


def lift_file(
    input_path: str | Path,
    checkpoint: str | Path | None = None,
    output: str | Path | None = None,
    width: float | None = None,
    height: float | None = None,
    min_score: float = 0.3,
    max_gap: int | None = MAX_GAP,
    flip_test: bool = True,
    video: str | None = None,
    stream: bool = False,
) -> dict:
    """Lift one video's 2D keypoints to 3D with a trained checkpoint and write the result.

    checkpoint: default the shipped model (:mod:`dilpose.models`: ``lifter-243``, or
    ``lifter-243-causal`` when streaming), checked against its sha256. output: default
    ``<input name>_3d`` in the current folder. stream: feed the frames one at a time to a causal
    model (:class:`dilpose.stream.StreamLifter`: ring buffers, one step per layer and frame), gaps
    filled by holding the last detection, as a live source
    would be; the summary adds the per-frame latency.

    Writes ``PREFIX.npy`` ((T, 17, 3) float32, H36M-17 joints, root-relative metres) and
    ``PREFIX.json`` (the same positions rounded to 0.1 mm, joint names, frame ids, the preparation
    report and the settings); ``output`` may be the prefix or either file name. Both files are
    written atomically and nothing is written unless the whole lift succeeds. Returns a flat summary
    dict (for printing).
    """
    # torch is imported only here: reading and checking keypoints should not pay for it.
    from . import checkpoints, evaluate, models
    from .dataset import Sequence

    input_path = Path(input_path)
    shipped = None
    if checkpoint is None:
        shipped = models.DEFAULT_STREAM if stream else models.DEFAULT
        checkpoint = models.path_of(shipped)
    checkpoint = Path(checkpoint)
    if output is None:
        output = Path.cwd() / f"{input_path.stem}_3d"
    npy_path, json_path = output_paths(output)
    if input_path.resolve() in (npy_path.resolve(), json_path.resolve()):
        raise DataError(input_path, f"the output {json_path} would overwrite the input")
    check_writable(npy_path)  # a bad output folder fails now, before any work
    kp = read_keypoints(input_path, width, height, video=video)
    keypoints, filled, report = prepare(kp, min_score=min_score, max_gap=max_gap, causal=stream)

    # Streaming loads the model once and refuses a symmetric one (dilpose.stream); the architecture
    # and input checks below read the same model either way.
    model = checkpoints.model_from_checkpoint(checkpoint)
    lifter = None
    if stream:
        from . import stream as streaming

        lifter = streaming.StreamLifter(
            streaming.checked_causal(model, checkpoint), flip_test=flip_test
        )
    mcfg = model.cfg
    if (mcfg.in_features, mcfg.out_joints) != (2, sk.H36M17.num_joints):
        raise DataError(
            checkpoint,
            f"the model reads {mcfg.in_features} values per joint and writes {mcfg.out_joints} "
            "joints; lifting needs (x, y) input and H36M-17 output",
        )
    keypoints, scores, layout = _to_model_layout(
        kp, keypoints, model.input_spec, checkpoint, report
    )
    T = len(keypoints)
    seq = Sequence(
        subject="lift",
        action=input_path.stem,
        camera=0,
        keypoints_2d=normalize_screen_coordinates(keypoints, kp.width, kp.height).astype(
            np.float32
        ),
        # No ground truth and no calibration: predict() reads only the 2D input.
        positions_3d=np.zeros((T, sk.H36M17.num_joints, 3), np.float32),
        intrinsics=np.zeros(9, np.float32),
        scores=scores.astype(np.float32),
    )
    latency = None
    if stream:
        pred, latency = _stream(lifter, seq.keypoints_2d)
    else:
        pred = evaluate.predict(
            model, seq, causal=mcfg.causal, flip_test=flip_test, layout_2d=layout
        )
    if pred.shape != (T, sk.H36M17.num_joints, 3) or not np.isfinite(pred).all():
        raise DataError(
            checkpoint,
            f"the model gave non-finite or misshapen 3D positions {pred.shape}; "
            "the weights may be broken",
        )
    pred = pred.astype(np.float32)
    receptive_field = int(model.receptive_field())
    doc = {
        "joint_names": list(sk.H36M17.joint_names),
        "units": "metres",
        "root_relative": True,
        "frames": [int(f) for f in kp.frame_ids],
        # 0.1 mm is far below the model's accuracy (tens of mm); more digits only bloat the file.
        "positions_3d": np.round(pred.astype(np.float64), 4).tolist(),
        "input": str(input_path),
        "checkpoint": str(checkpoint),
        "shipped_model": shipped,
        "stream": latency,
        "image_size": [kp.width, kp.height],
        "flip_test": bool(flip_test),
        "report": report,
        "receptive_field": receptive_field,
        "causal": bool(mcfg.causal),
        "input_layout": kp.layout.name,
        "model_input_layout": layout.name,
    }
    with atomic_open(npy_path, "wb") as f:
        np.save(f, pred)
    try:
        write_json(json_path, doc)
    except BaseException:
        # Half a result (positions without the frames and report that explain them) is worse than
        # none.
        npy_path.unlink(missing_ok=True)
        raise
    return {
        "npy": str(npy_path),
        "json": str(json_path),
        "model": shipped or str(checkpoint),
        "frames": T,
        "receptive_field": receptive_field,
        "causal": bool(mcfg.causal),
        "flip_test": bool(flip_test),
        "low_confidence_joints": report["low_confidence_joints"],
        "interpolated_joints": report["interpolated_joints"],
        "discarded_detections": report.get("discarded_detections", 0),
        **(
            {
                "stream_latency_ms": f"median {latency['median_ms']:.2f}, "
                f"95th percentile {latency['p95_ms']:.2f} per frame"
            }
            if latency
            else {}
        ),
    }


def _stream(lifter, keypoints_2d: np.ndarray):
    """Feed (T, J, 2) normalised keypoints to ``lifter`` one frame at a time: (T, 17, 3)
    predictions and the per-frame latency (ms)."""
    import time

    out, times = [], []
    for frame in keypoints_2d:
        start = time.perf_counter()
        out.append(lifter.push(frame))
        times.append(1000 * (time.perf_counter() - start))
    return np.stack(out), {
        "median_ms": float(np.median(times)),
        "p95_ms": float(np.percentile(times, 95)),
        "frames": len(times),
    }


# --------------------------------------------------------------------------------------------------
# Live streaming: JSON lines in, JSON lines out
# --------------------------------------------------------------------------------------------------
def _parse_line(text: str) -> tuple[np.ndarray, object, bool]:
    """One JSON line -> ((17, 3) x, y, v array, frame id or None, reset flag); ValueError says
    what is wrong with it."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON: {e.msg} at column {e.colno}") from None
    frame, reset = None, False
    if isinstance(doc, dict):
        unknown = sorted(set(doc) - {"keypoints", "frame", "image_id", "reset"})
        if unknown:
            raise ValueError(
                f"unknown key(s) {unknown}; a line holds 'keypoints' and optionally 'frame' "
                "(or 'image_id') and 'reset'"
            )
        if "keypoints" not in doc:
            raise ValueError("the object has no 'keypoints'")
        frame = doc.get("frame", doc.get("image_id"))
        reset = doc.get("reset", False)
        if not isinstance(reset, bool):
            raise ValueError(f"'reset' should be true or false, got {reset!r}")
        values = doc["keypoints"]
    else:
        values = doc
    if (
        isinstance(values, list)
        and len(values) == NUM_JOINTS
        and all(isinstance(v, list) for v in values)
    ):
        values = [x for v in values for x in (v if len(v) == 3 else [*v, 1.0])]
    if not isinstance(values, list) or len(values) != _KP_LEN:
        n = len(values) if isinstance(values, list) else type(values).__name__
        raise ValueError(
            f"'keypoints' should be {_KP_LEN} numbers (x, y, v for each of the 17 COCO joints) "
            f"or 17 [x, y(, v)] pairs, got {n}"
        )
    if not all(_is_number(v) for v in values):
        raise ValueError("'keypoints' holds a value that is not a number")
    arr = np.asarray(values, dtype=np.float64).reshape(NUM_JOINTS, 3)
    if not np.isfinite(arr).all():
        j = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise ValueError(f"non-finite keypoint value at joint {j} ({sk.COCO17.joint_names[j]})")
    return arr, frame, reset


class _HoldLast:
    """Causal gap filling for a live stream, as :func:`prepare` does with ``causal=True``: a
    missing joint takes its last detected position, for at most ``max_gap`` frames."""

    def __init__(self, min_score: float, max_gap: int | None):
        self.min_score, self.max_gap = min_score, max_gap
        self.reset()

    def reset(self) -> None:
        self.last = np.full((NUM_JOINTS, 2), np.nan)
        self.gap = np.zeros(NUM_JOINTS, dtype=int)

    def fill(self, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(17, 3) -> ((17, 2) keypoints, new last, new gap); ValueError (state unchanged) when a
        joint has never been seen or has been missing too long."""
        seen = (arr[:, 2] != 0) & (arr[:, 2] >= self.min_score)
        last = np.where(seen[:, None], arr[:, :2], self.last)
        gap = np.where(seen, 0, self.gap + 1)
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


def stream_lines(
    lines,
    out,
    err,
    checkpoint: str | Path | None = None,
    width: float | None = None,
    height: float | None = None,
    min_score: float = 0.3,
    max_gap: int | None = MAX_GAP,
    flip_test: bool = True,
    source: str = "<stdin>",
) -> dict:
    """``dilpose lift - --stream``: lift a live stream of COCO-17 keypoints, one frame per line.

    Each input line is a JSON array of 51 numbers (x, y, v per COCO joint, pixels), 17 [x, y(, v)]
    pairs, or an object ``{"keypoints": [...], "frame": id, "reset": false}``. For each line one
    JSON line is written to ``out`` and flushed at once: ``{"frame", "positions_3d"`` (17 H36M-17
    joints, root-relative metres, 0.1 mm), ``"latency_ms"}`` (parsing to output, this frame). A bad
    line gets ``{"line", "frame", "error"}`` instead (and the same message on ``err``): it is not
    fed to the model, and the stream's state (the model's buffers, held joints) is kept, so the
    next good line continues the stream. ``"reset": true`` starts a new stream at that line.

    Returns a summary: frames lifted, lines refused, latency median and 95th percentile (ms).
    """
    import time

    from . import checkpoints, models
    from . import stream as streaming

    if width is None or height is None:
        raise DataError(
            source, f"the image size is needed to normalise the keypoints: {_CLI_RESOLUTION_HINT}"
        )
    shipped = None
    if checkpoint is None:
        shipped = models.DEFAULT_STREAM
        checkpoint = models.path_of(shipped)
    model = streaming.checked_causal(checkpoints.model_from_checkpoint(checkpoint), checkpoint)
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
    lifter = streaming.StreamLifter(model, flip_test=flip_test)
    holder = _HoldLast(min_score, max_gap)
    latencies, refused, count = [], 0, 0
    for n, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        start = time.perf_counter()
        frame_id = None
        try:
            arr, frame_id, reset = _parse_line(text)
            if reset:
                holder.reset()
                lifter.reset()
            kp, last, gap = holder.fill(arr)
            if want is sk.H36M17:
                kp = sk.coco_to_h36m(kp[None])[0]
            x = normalize_screen_coordinates(kp[None], width, height)[0]
            pose = lifter.push(x)
            holder.last, holder.gap = last, gap  # only a lifted frame moves the stream on
        except ValueError as e:
            refused += 1
            msg = f"{source} line {n}: {e}"
            print(f"dilpose lift: error: {msg}", file=err, flush=True)
            out.write(json.dumps({"line": n, "frame": frame_id, "error": str(e)}) + "\n")
            out.flush()
            continue
        ms = 1000 * (time.perf_counter() - start)
        latencies.append(ms)
        count += 1
        out.write(
            json.dumps(
                {
                    "frame": frame_id if frame_id is not None else count - 1,
                    "positions_3d": np.round(pose.astype(np.float64), 4).tolist(),
                    "latency_ms": round(ms, 3),
                }
            )
            + "\n"
        )
        out.flush()
    return {
        "model": shipped or str(checkpoint),
        "frames": count,
        "refused_lines": refused,
        "latency_median_ms": float(np.median(latencies)) if latencies else None,
        "latency_p95_ms": float(np.percentile(latencies, 95)) if latencies else None,
    }
