"""2D keypoint files from any detector, read and checked into one :class:`Keypoints2D` (pixels,
COCO-17 unless the file says otherwise): the input side of ``dilpose lift``
(:mod:`dilpose.lift`) and of the explorer's "your lift result".

:func:`read_keypoints` sniffs the content (zip or JSON), not the suffix, and refuses anything
unreadable, malformed or ambiguous with a :class:`~dilpose.errors.DataError` naming the file. The
VideoPose3D and plain npz containers themselves are read by :mod:`dilpose.formats` and
:mod:`dilpose.npz`; this module turns their arrays into one person's keypoints over a video.

Inputs
------
* COCO keypoint **results** JSON: a list of
  ``{"image_id": int, "category_id": 1, "keypoints": [x1, y1, v1, ..., x17, y17, v17], "score":
  float}``. ``v`` is the detector's per-joint confidence.
* COCO keypoint **annotations** JSON: ``{"images": [{"id", "width", "height"}, ...], "annotations":
  [...]}``; ``v`` is COCO's visibility flag (0 unlabelled, 1 occluded, 2 visible), so any labelled
  joint gets score 1. An image may also record the camera's ``focal_length`` (pixels) or
  horizontal field of view ``fov`` (degrees), the same for every image.
* VideoPose3D's ``data_2d_custom_<name>.npz`` (see :func:`dilpose.formats.load_custom_2d`).
* A plain npz with ``keypoints`` (T, 17, 2) or (T, 17, 3) pixels (NaN marks a missed joint; a third
  channel is the score), and optional ``scores`` (T, 17), ``width``, ``height``, ``focal_length``
  (pixels), ``fov`` (horizontal, degrees) and ``frame_ids`` (T,).

A recorded focal length (or field of view, turned into pixels with the image width) is what a
focal-convention model needs (:mod:`dilpose.input_norm`); a focal length given by the caller must
agree with it within :data:`FOCAL_TOLERANCE`.

One person per video: in JSON, when an image has several detections the highest-scoring one is kept
and the others are counted in the report. A joint with ``v == 0`` (or score 0) was not detected.

Frames are the image ids in sorted order. When the ids are frame numbers (consecutive integers,
median step 1) an id missing between them is a missed frame and becomes an all-missing frame, so
that time stays uniform for the temporal model; otherwise (COCO's sparse ids) the sorted order is
used as is.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import formats, input_norm, limits, npz
from . import skeleton as sk
from .errors import DataError

NUM_JOINTS = sk.COCO17.num_joints
KP_LEN = 3 * NUM_JOINTS  # 51 numbers per COCO detection: (x, y, v) per joint
RESOLUTION_HINT = "pass --width and --height (image size in pixels)"
#: Largest relative difference accepted between a focal length the caller gives and the file's. A
#: field of view rounded to a whole degree is off by up to about 1 % at 60 degrees; more than that
#: means one of them is wrong, and the model would read the person at the wrong size.
FOCAL_TOLERANCE = 0.01


@dataclass
class Keypoints2D:
    """One person's 2D keypoints over a video, COCO-17 order.

    keypoints: (T, 17, 2) float64 pixels, NaN where a joint (or a whole frame) is missing.
    scores: (T, 17) float64 detector confidence, 0 where missing (1 where the input has no scores).
    frame_ids: T ints (image ids or frame numbers). width, height: image size in pixels.
    source: the file read. info: what the reader did (format, discarded detections, filled frames).
    layout: the joint order of ``keypoints`` (COCO-17 for COCO JSON; npz files may say otherwise).
    focal: the camera's focal length in pixels, given or recorded in the file (None: unknown).
    """

    keypoints: np.ndarray
    scores: np.ndarray
    frame_ids: list[int]
    width: float
    height: float
    source: str
    info: dict = field(default_factory=dict)
    layout: sk.Skeleton = sk.COCO17
    focal: float | None = None

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
    focal: float | None = None,
    fov: float | None = None,
) -> Keypoints2D:
    """Read 2D COCO-17 keypoints (see the module docstring for the accepted files).

    width, height: image size in pixels; needed when the file does not record it, and must agree
    with the file when it does. video: which video of a multi-video VideoPose3D custom npz.
    focal (pixels) or fov (horizontal, degrees), at most one: the camera's focal length, which must
    agree with the file's when it records one; otherwise the file's, if any, is used.
    Raises :class:`DataError` (naming the file) on any unreadable, malformed or ambiguous input.
    """
    path = Path(path)
    # A regular file within the npz size limit (JSON has a smaller one, checked when read): a FIFO
    # or a device is refused here, before anything opens it.
    if limits.check_regular(path, "keypoints file", limits.MAX_NPZ_BYTES).stat().st_size == 0:
        raise DataError(path, "file is empty")
    # Sniff the content rather than trusting the suffix; a .npz that is not a zip still goes to the
    # npz reader so that the error says "not a readable npz archive".
    if path.suffix.lower() == ".npz" or zipfile.is_zipfile(path):
        kp, scores, frame_ids, file_wh, info, layout, lens = _read_npz(path, video)
    else:
        kp, scores, frame_ids, file_wh, info, lens = _read_json(path)
        layout = sk.COCO17
    w, h = _resolution(path, file_wh, width, height)
    _check_pixels(path, kp, w)
    lens = focal_length(path, lens, focal, fov, w)
    return Keypoints2D(kp, scores, frame_ids, w, h, str(path), info, layout, lens)


def _resolution(path: Path, file_wh, width, height) -> tuple[float, float]:
    """The image size to normalise with: the caller's, the file's, and refuse if they disagree."""
    if (width is None) != (height is None):
        raise DataError(path, f"give both width and height, not one ({RESOLUTION_HINT})")
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
    elif file_wh is None:
        raise DataError(
            path,
            "the image resolution is unknown (the file does not record it) and it is needed "
            f"to normalise the keypoints: {RESOLUTION_HINT}",
        )
    else:
        given = (float(file_wh[0]), float(file_wh[1]))
    # A 10**30-pixel image would normalise every keypoint to the same point, silently.
    if max(given) > limits.MAX_IMAGE_SIDE:
        raise DataError(
            path,
            f"an image of {given[0]:g}x{given[1]:g} pixels: more than the "
            f"{limits.MAX_IMAGE_SIDE:,} pixels per side accepted",
        )
    return given


def _positive(v) -> bool:
    return (
        not isinstance(v, bool)
        and isinstance(v, (int, float, np.number))
        and math.isfinite(v)
        and v > 0
    )


def _lens_px(path: Path, lens: dict, width: float, what: str) -> float | None:
    """``{"focal_length": px}`` or ``{"fov": degrees}`` (or both, which must agree) -> pixels."""
    for name, v in lens.items():
        if not _positive(v) or (name == "fov" and not v < 180):
            unit = "number of degrees below 180" if name == "fov" else "number of pixels"
            raise DataError(path, f"{what} {name} must be a positive {unit}, got {v!r}")
    px = {k: float(v) for k, v in lens.items()}
    if "fov" in px:
        px["fov"] = input_norm.focal_from_fov(px["fov"], width)
    if len(px) == 2 and abs(px["fov"] / px["focal_length"] - 1) > FOCAL_TOLERANCE:
        raise DataError(
            path,
            f"{what} focal length {lens['focal_length']:g} px and field of view {lens['fov']:g} "
            f"degrees ({px['fov']:.1f} px at {width:g} px wide) disagree",
        )
    return px.get("focal_length", px.get("fov"))


def focal_length(path, lens: dict, focal, fov, width: float) -> float | None:
    """The focal length in pixels to normalise with: the caller's (``focal`` px or ``fov``
    degrees, turned into pixels with the image ``width``), the file's (``lens``: its recorded
    ``focal_length``/``fov``, ``{}`` for none), and refuse if they disagree by more than
    :data:`FOCAL_TOLERANCE`; None when neither knows it. ``path``: the source errors name."""
    if focal is not None and fov is not None:
        raise DataError(path, "give the focal length or the field of view, not both")
    given = {k: v for k, v in (("focal_length", focal), ("fov", fov)) if v is not None}
    given_px = _lens_px(path, given, width, "the given") if given else None
    file_px = _lens_px(path, lens, width, "the file's") if lens else None
    if given_px is not None and file_px is not None:
        if abs(given_px / file_px - 1) > FOCAL_TOLERANCE:
            said = f"{given_px:.1f} px"
            if fov is not None:
                said = f"a {fov:g} degree field of view ({said})"
            raise DataError(
                path, f"the file says the focal length is {file_px:.1f} px but {said} was given"
            )
    return given_px if given_px is not None else file_px


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
def is_int(v) -> bool:
    """A JSON integer (not a bool)."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v) -> bool:
    """A JSON number (not a bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _read_json(path: Path):
    doc = _json_document(path)
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

    file_wh, image_ids, lens = None, None, {}
    if images is not None:
        file_wh, image_ids, lens = _read_images(path, images)

    # Best detection per image: (rank, index, keypoints (17, 3)).
    best: dict[int, tuple[float, int, np.ndarray]] = {}
    counts: dict[int, int] = {}
    skipped = 0
    for i, det in enumerate(dets):
        found = _detection(path, det, i, style, image_ids)
        if found is None:
            skipped += 1
            continue
        image_id, arr, rank = found
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
    return kp, scores, frame_ids, file_wh, info, lens


def _detection(path: Path, det, i: int, style: str, image_ids):
    """One COCO entry, checked: ``(image_id, (17, 3) rows of x, y (pixels) and score, rank)``
    where rank orders the detections of one image (its score, or its number of labelled joints);
    None for an entry that is not one person (another category, a crowd)."""
    where = f"{'detection' if style == 'coco-results' else 'annotation'} {i}"
    if not isinstance(det, dict):
        raise DataError(path, f"{where} should be an object, found {type(det).__name__}")
    # Other categories carry no person keypoints; crowd annotations are not one person.
    if det.get("category_id", 1) != 1 or det.get("iscrowd", 0):
        return None
    image_id = det.get("image_id")
    if not is_int(image_id):
        raise DataError(path, f"{where}: 'image_id' should be an integer, got {image_id!r}")
    where = f"{where} (image_id {image_id})"
    if image_ids is not None and image_id not in image_ids:
        raise DataError(path, f"{where}: image_id is not listed in 'images'")
    values = det.get("keypoints")
    if not isinstance(values, list) or len(values) != KP_LEN:
        n = len(values) if isinstance(values, list) else type(values).__name__
        raise DataError(
            path,
            f"{where}: 'keypoints' should be {KP_LEN} numbers (x, y, v for each of the "
            f"17 COCO joints), got {n}",
        )
    if not all(is_number(v) for v in values):
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
    if score is not None and (not is_number(score) or not math.isfinite(score)):
        raise DataError(path, f"{where}: 'score' should be a finite number, got {score!r}")
    # Without a detection score, the detection with more labelled joints is the better one.
    rank = float(score) if score is not None else float((arr[:, 2] > 0).sum())
    return image_id, arr, rank


def _json_document(path: Path):
    """The file's JSON value; a :class:`DataError` for text that is not UTF-8 or not JSON."""
    # Size, nesting depth and number length bounded (dilpose.limits); a BOM is tolerated.
    return limits.read_json(path, "COCO JSON file")


#: The camera's lens as a keypoints file may record it: focal length in pixels, horizontal field of
#: view in degrees.
LENS_FIELDS = ("focal_length", "fov")


def _read_images(path: Path, images):
    """(width, height) shared by all images (None when they do not record it), the image ids, and
    ``{"focal_length": px, "fov": degrees}`` as far as the images record them (the same for all;
    checked for range by :func:`focal_length`)."""
    if not isinstance(images, list):
        raise DataError(path, "'images' should be a list")
    ids, sizes, lenses = set(), set(), {}
    for k, im in enumerate(images):
        if not isinstance(im, dict) or not is_int(im.get("id")):
            raise DataError(path, f"images[{k}] should be an object with an integer 'id'")
        if im["id"] in ids:
            raise DataError(path, f"images[{k}]: image id {im['id']} is listed twice")
        ids.add(im["id"])
        for name in LENS_FIELDS:
            if im.get(name) is not None:
                if not _positive(im[name]):
                    raise DataError(
                        path,
                        f"images[{k}] (id {im['id']}): {name} should be a positive number, "
                        f"got {im[name]!r}",
                    )
                lenses.setdefault(name, set()).add(float(im[name]))
        w, h = im.get("width"), im.get("height")
        if w is None and h is None:
            continue
        if not (
            is_number(w)
            and is_number(h)
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
    for name, values in lenses.items():
        if len(values) > 1:
            raise DataError(
                path,
                f"the images have different {name} values {sorted(values)}; one video "
                "has one camera",
            )
    return (sizes.pop() if sizes else None), ids, {n: v.pop() for n, v in lenses.items()}


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
    size = (entry["w"], entry["h"])
    return kp, np.ones(kp.shape[:2]), list(range(len(kp))), size, info, layout, {}


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
    file_wh, lens = _npz_camera(path, archive)
    frame_ids = list(range(len(kp)))
    if "frame_ids" in archive:
        ids = np.asarray(archive["frame_ids"])
        if ids.shape != (len(kp),) or not np.issubdtype(ids.dtype, np.integer):
            raise DataError(
                path, f"'frame_ids' should be {len(kp)} integers, got {ids.shape} {ids.dtype}"
            )
        frame_ids = [int(v) for v in ids]
    return kp, scores, frame_ids, file_wh, {"format": "npz"}, layout, lens


def _npz_camera(path: Path, archive) -> tuple[tuple[float, float] | None, dict]:
    """A plain npz's recorded image size ((width, height) pixels, or None) and lens (its
    ``focal_length``/``fov`` as stored; their range is :func:`focal_length`'s to check)."""
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
    lens = {}
    for name in LENS_FIELDS:
        if name in archive:
            v = np.asarray(archive[name])
            if v.shape != () or not np.issubdtype(v.dtype, np.number):
                raise DataError(path, f"{name!r} should be one number, got {v.dtype} {v.shape}")
            lens[name] = v.item()
    return file_wh, lens
