"""The skeleton explorer's clips: everything its figure shows, for every frame, as plain numpy (no
widgets, no figure).

A :class:`Clip` holds, in display coordinates, the 3D joints (metres, Z up, root at the origin),
the per-joint error (mm), the camera's 2D detections (pixels) with their missed and low-confidence
joints, and the per-frame MPJPE. :func:`dataset_clip` builds one from a registered dataset (with a
model's prediction, :class:`Predictions`), :func:`lift_clip` from a user's ``dilpose lift`` result.
The figure is :mod:`dilpose.explorer_figures`, the widget :mod:`dilpose.explorer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import camera as cam_mod
from . import checkpoints, datasets, evaluate, input_norm, limits, npz, paths, pretrained
from . import skeleton as sk
from .errors import DataError
from .keypoints import read_keypoints
from .lift import output_paths
from .viz import LOW_CONFIDENCE

#: Joints whose detector score is below this are drawn as low-confidence (``dilpose lift``'s
#: default ``--min-score``: below it a joint is treated as missing).
LOW_SCORE = LOW_CONFIDENCE  # one threshold for every figure (dilpose.viz)
#: Label of a user's own lift result in the dataset picker.
LIFT_SOURCE = "your lift result"


# --------------------------------------------------------------------------------------------------
# Clips: what the figure shows, without widgets
# --------------------------------------------------------------------------------------------------
@dataclass
class Clip:
    """One sequence as the explorer draws it. T frames; J3 3D joints, J2 2D joints.

    gt: (T, J3, 3) ground truth, metres, Z up, root at the origin, or None (a lift result).
    pred: (T, J3, 3) prediction in the same frame, or None (no model chosen).
    error_mm: (T, J3) per-joint distance between them (mm), or None.
    detections: (T, J2, 2) the 2D input in pixels (gaps filled, as the model saw them), or None.
    missed, low: (T, J2) bool, joints the detector missed (the value shown is the filled one) and
    joints below :data:`LOW_SCORE`. scores: (T, J2). clean: (T, J2c, 2) the ground truth projected
    through the camera (pixels), or None. image: (width, height) pixels.
    """

    title: str
    layout_3d: sk.Skeleton
    gt: np.ndarray | None
    pred: np.ndarray | None = None
    layout_2d: sk.Skeleton | None = None
    detections: np.ndarray | None = None
    scores: np.ndarray | None = None
    missed: np.ndarray | None = None
    clean: np.ndarray | None = None
    clean_layout: sk.Skeleton | None = None
    image: tuple[float, float] | None = None
    fps: float = 50.0
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        poses = self.gt if self.gt is not None else self.pred
        if poses is None:
            raise DataError(self.title, "a clip needs ground truth or a prediction")
        self.layout_3d.check(poses, self.title, dims=3)
        for name in ("pred",):
            arr = getattr(self, name)
            if arr is not None and arr.shape != poses.shape:
                raise DataError(self.title, f"{name} {arr.shape} differs from {poses.shape}")
        if self.detections is not None:
            if len(self.detections) != len(poses):
                raise DataError(
                    self.title,
                    f"the keypoints have {len(self.detections)} frames but the 3D poses have "
                    f"{len(poses)}",
                )
            if self.scores is None:
                self.scores = np.ones(self.detections.shape[:2])
            if self.missed is None:
                self.missed = np.zeros(self.detections.shape[:2], bool)

    def __len__(self) -> int:
        return len(self.gt if self.gt is not None else self.pred)

    @property
    def error_mm(self) -> np.ndarray | None:
        if self.gt is None or self.pred is None:
            return None
        return 1000.0 * np.linalg.norm(self.pred - self.gt, axis=-1)

    @property
    def mpjpe_mm(self) -> np.ndarray | None:
        """(T,) per-frame MPJPE (mm), root-relative as the protocol defines it."""
        err = self.error_mm
        return None if err is None else err.mean(-1)

    @property
    def low(self) -> np.ndarray | None:
        if self.scores is None:
            return None
        return (self.scores < LOW_SCORE) & ~self.missed

    def extent(self) -> float:
        """Half the side of a cube (m) that holds every 3D joint of the clip."""
        arrays = [a for a in (self.gt, self.pred) if a is not None]
        return float(max(np.abs(a).max() for a in arrays)) + 0.05


def _root_centred(x: np.ndarray) -> np.ndarray:
    return x - x[:, :1]


def camera_to_display(x_cam: np.ndarray) -> np.ndarray:
    """Camera space (x right, y down, z forward) -> a Z-up view: (x, z, -y). (..., 3) metres."""
    return np.stack([x_cam[..., 0], x_cam[..., 2], -x_cam[..., 1]], -1)


def dataset_clip(
    data, subject: str, action: str, camera: int, pred_cam=None, views=None, with_2d: bool = True
) -> Clip:
    """A clip of a loaded :class:`dilpose.datasets.PoseData`: the ground truth in world orientation
    (Z up), root-centred; ``pred_cam`` (T, J3, 3) camera-space root-relative metres (a model's
    output for ``camera``) rotated into the same frame. ``views``: the clip's
    :class:`dilpose.datasets.ExampleViews` (detections with NaN where missed; default
    :func:`dilpose.datasets.example_views`). ``with_2d=False``: the 3D only (for errors)."""
    data._check(subject, action)
    cams = data.cameras[subject]
    if not 0 <= camera < len(cams):
        raise DataError(data.name, f"{subject} has cameras 0-{len(cams) - 1}, not {camera}")
    cam = cams[camera]
    gt = _root_centred(np.asarray(data.positions_3d[subject][action], dtype=np.float64))
    pred = None
    if pred_cam is not None:
        pred_cam = _root_centred(np.asarray(pred_cam, dtype=np.float64))
        # Rotation only: both poses are root-centred, so the camera's position does not enter.
        pred = cam_mod.qrot(np.asarray(cam.orientation, dtype=np.float64), pred_cam)
    title = f"{data.name} · {subject} · {action} · camera {camera}"
    if not with_2d:
        return Clip(title, data.layout_3d, gt, pred, fps=float(data.fps))
    keypoints = np.asarray(data.keypoints[subject][action][camera], dtype=np.float64)
    scores = np.asarray(data.scores[subject][action][camera], dtype=np.float64)
    if views is None:
        views = datasets.example_views(data, subject, action)
    detected = np.asarray(views.detected[camera], dtype=np.float64)
    missed = ~np.isfinite(detected).all(-1) if detected.shape == keypoints.shape else None
    clean = np.asarray(views.clean[camera], dtype=np.float64)
    return Clip(
        title=title,
        layout_3d=data.layout_3d,
        gt=gt,
        pred=pred,
        layout_2d=data.layout_2d,
        detections=keypoints,
        scores=scores,
        missed=missed,
        clean=clean if clean.shape[0] == len(gt) else None,
        clean_layout=views.clean_layout,
        image=(float(cam.res_w), float(cam.res_h)),
        fps=float(data.fps),
    )


def confined(path: str | Path, root: Path) -> Path:
    """``path`` resolved inside ``root`` (relative paths from ``root``, symlinks followed), or a
    :class:`DataError`: checked before the file is looked at, so nothing outside ``root`` is read
    nor is its existence revealed."""
    try:
        p = Path(path)
        full = (p if p.is_absolute() else root / p).resolve()
    except (OSError, ValueError, RuntimeError):  # a NUL byte, a symlink loop
        raise DataError(path, "not a usable path") from None
    if not full.is_relative_to(root):
        raise DataError(
            path, f"is outside the folder the explorer reads ({root}); give a file inside it"
        )
    return full


def _read_result_json(js: Path) -> dict:
    doc = limits.read_json(js, "lift result")  # regular file, bounded size, depth, numbers
    if not isinstance(doc, dict):
        raise DataError(js, "expected the JSON object that `dilpose lift` writes")
    return doc


def _read_result_npy(npy: Path) -> np.ndarray:
    try:
        poses = npz.load_npy(npy)  # regular file; its header's shape must match its bytes
    except DataError:
        raise
    except Exception:  # numpy raises ValueError, SyntaxError, tokenize errors... for a bad header
        raise DataError(npy, "not a readable .npy array of numbers") from None
    if poses.ndim != 3 or poses.shape[1:] != (sk.H36M17.num_joints, 3):
        raise DataError(npy, f"expected (T, 17, 3) H36M-17 joints, got shape {poses.shape}")
    return np.asarray(poses, dtype=np.float64)


def read_poses3d(path: str | Path) -> tuple[np.ndarray, dict]:
    """The 3D poses ``dilpose lift`` wrote: ``PREFIX.npy`` or ``PREFIX.json`` (either name, or the
    prefix). Returns ``((T, 17, 3) metres root-relative camera orientation, the JSON record or
    {})``; a :class:`DataError` naming the file (and quoting none of it) for anything else."""

    path = Path(path)
    npy, js = output_paths(path)
    # exists(), not is_file(): a FIFO or device under either name is refused by name below.
    if not npy.exists() and not js.exists():
        raise DataError(
            path, "file not found (give the PREFIX.npy or PREFIX.json that `dilpose lift` wrote)"
        )
    doc = _read_result_json(js) if js.exists() else {}
    if npy.exists():
        source, poses = npy, _read_result_npy(npy)
    else:
        source = js
        if "positions_3d" not in doc:
            raise DataError(js, "no 'positions_3d' in the file")
        try:
            poses = np.asarray(doc["positions_3d"], dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise DataError(js, "'positions_3d' is not a (T, 17, 3) array of numbers") from None
    if poses.ndim != 3 or poses.shape[1:] != (sk.H36M17.num_joints, 3):
        raise DataError(
            source,
            f"expected (T, {sk.H36M17.num_joints}, 3) H36M-17 joints, got shape {poses.shape}",
        )
    if len(poses) == 0:
        raise DataError(source, "no frames")
    sk.H36M17.check(poses, source, dims=3)
    return poses, doc


def lift_clip(
    path: str | Path, keypoints: str | Path | None = None, root: str | Path | None = None
) -> Clip:
    """A user's own ``dilpose lift`` result as a clip: the prediction only (no ground truth), and,
    with ``keypoints`` (the 2D file it lifted), the detections with their missed and
    low-confidence joints. The keypoints must have as many frames as the poses.

    Both files must lie inside ``root`` (default :func:`dilpose.paths.explore_root`: the folder the
    explorer was started in); relative paths are taken from it (:func:`confined`)."""
    root = paths.explore_root() if root is None else Path(root).resolve()
    path = confined(path, root)
    keypoints = None if keypoints is None else confined(keypoints, root)
    poses, doc = read_poses3d(path)
    pred = camera_to_display(_root_centred(poses))
    clip_kw: dict = {}
    notes = [f"{len(poses)} frames lifted" + _model_note(doc)] if doc else []
    if keypoints is None:
        keypoints, note = recorded_keypoints(doc, path, root)
        notes += [note] if note else []
    if keypoints is not None:
        size = doc.get("image_size") if isinstance(doc.get("image_size"), list) else None
        w, h = size if size and len(size) == 2 else (None, None)
        kp = read_keypoints(keypoints, w, h)
        if len(kp) != len(poses):
            raise DataError(
                keypoints,
                f"{len(kp)} frames of keypoints but {len(poses)} frames of 3D poses in {path}: "
                "not the file that was lifted",
            )
        det = np.asarray(kp.keypoints, dtype=np.float64)
        missed = ~np.isfinite(det).all(-1)
        filled = det.copy()
        for j in range(det.shape[1]):  # show a missed joint where interpolation puts it
            seen = ~missed[:, j]
            if seen.any() and not seen.all():
                for d in range(2):
                    filled[:, j, d] = np.interp(
                        np.arange(len(det)), np.flatnonzero(seen), det[seen, j, d]
                    )
        clip_kw = dict(
            layout_2d=kp.layout,
            detections=filled,
            scores=np.where(missed, 0.0, kp.scores),
            missed=missed,
            image=(float(kp.width), float(kp.height)),
        )
    return Clip(
        title=f"{LIFT_SOURCE}: {Path(path).name}",
        layout_3d=sk.H36M17,
        gt=None,
        pred=pred,
        notes=notes,
        **clip_kw,
    )


def recorded_keypoints(doc: dict, result: Path, root: Path) -> tuple[Path | None, str]:
    """The keypoint file a lift result records as its ``input``, found the way a reader would:
    as written (relative to the explorer's folder ``root``), then beside the result. Returns
    ``(path, "")``, or ``(None, note)`` saying why the 2D is not shown. Only files inside ``root``
    are considered (the record is the user's file: a path, not a command)."""
    recorded = doc.get("input") if isinstance(doc, dict) else None
    if not isinstance(recorded, str) or not 0 < len(recorded) <= 4096 or recorded == "-":
        return None, ""
    name = Path(recorded).name[:80]
    for base in (root, result.parent):
        try:
            candidate = confined(
                Path(recorded) if Path(recorded).is_absolute() else base / recorded, root
            )
        except DataError:
            continue
        if candidate.is_file():
            return candidate, ""
    return None, f"its keypoints ({name}) were not found in {root}: 2D not shown"


def _model_note(doc: dict) -> str:
    """ " by <model>" from a lift result's record: a shipped model's name or the checkpoint's file
    name, only when it is a short string (the record is the user's file: shown, not trusted)."""
    model = doc.get("shipped_model") or doc.get("checkpoint")
    if not isinstance(model, str) or not 0 < len(model) <= 1000:
        return ""
    return f" by {Path(model).name[:80]}"


def model_choices(layout_2d: sk.Skeleton, out_joints: int, checkpoints: Path | None = None):
    """``{label: file}`` of the models that read ``layout_2d`` and write ``out_joints`` joints: the
    shipped ones, then the model cache's (:func:`dilpose.pretrained.cached`), by name."""

    out = {}
    try:
        found = pretrained.shipped()
    except DataError:
        found = []
    cached = sorted(
        (m for m in pretrained.cached(checkpoints) if not m.name.startswith("unreadable")),
        key=lambda m: m.name,
    )
    for m in [*found, *cached]:
        if m.input_layout != layout_2d.name or (out_joints != sk.H36M17.num_joints):
            # every model of this project writes H36M-17; other outputs are not offered
            continue
        kind = "causal" if m.causal else "symmetric"
        label = f"{m.name} ({m.where}, {m.receptive_field} frames, {kind}"
        label += f", {m.precision})" if m.precision else ")"
        out[label] = m.file
    return out


_LOADED: dict = {}


def load_data(name: str, seed: int = 0):
    """A registered dataset, loaded once per session and shared by every explorer (a
    :class:`DataError` saying what to put where when its files are not in place)."""
    spec = datasets.get(name)
    if (spec.name, seed) not in _LOADED:
        if not spec.available():
            raise DataError(spec.name, f"its files are not in place: {spec.source}")
        _LOADED[spec.name, seed] = datasets.load(spec.name, seed=seed)
    return _LOADED[spec.name, seed]


class Predictions:
    """Model outputs computed on demand and kept: ``get(file, data, subject, action, camera)`` ->
    (T, J3, 3) camera-space root-relative metres. Each model is loaded once."""

    def __init__(self):
        self._models: dict = {}
        self._out: dict = {}

    def get(self, file: Path, data, subject: str, action: str, camera: int) -> np.ndarray:
        key = (str(file), data.name, subject, action, camera)
        if key not in self._out:
            if str(file) not in self._models:
                self._models[str(file)] = checkpoints.model_from_checkpoint(file)
            model = self._models[str(file)]
            seq = datasets.sequences(data, [subject], [action], cameras=(camera,))[0]
            seq = input_norm.as_convention(seq, model.input_spec["normalization"])
            self._out[key] = evaluate.predict(
                model, seq, causal=model.cfg.causal, flip_test=True, layout_2d=data.layout_2d
            )
        return self._out[key]

    def __len__(self) -> int:
        return len(self._out)
