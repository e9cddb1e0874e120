"""An interactive 3D skeleton explorer: ground truth and prediction of one clip, frame by frame.

Two layers:

* :class:`Clip` and the functions that build it (:func:`dataset_clip`, :func:`lift_clip`): plain
  numpy, no widgets. A clip holds everything the figure shows, for every frame, in display
  coordinates: 3D joints (metres, Z up, root at the origin), the per-joint error (mm), the camera's
  2D detections (pixels) with their missed and low-confidence joints, and the per-frame MPJPE.
* :class:`Explorer`: ipywidgets pickers (dataset, subject, action, camera, model), a frame slider
  with play/pause and speed, and one plotly ``FigureWidget`` (3D view, the camera's 2D view, the
  error curve). Moving the slider restyles the figure's existing traces with one frame's data, in
  one message: the browser never holds more than one frame of joints, however long the clip.

Notebook 07 opens one in a line (``Explorer(...).widget``); ``make explore`` serves that notebook
with Voila. Bad input (a missing file, another joint count, a sequence whose length differs from
its keypoints) is shown as a message in the widget, never as a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import camera as cam_mod
from . import skeleton as sk
from .errors import DataError

#: Joints whose detector score is below this are drawn as low-confidence (``dilpose lift``'s
#: default ``--min-score``: below it a joint is treated as missing).
LOW_SCORE = 0.3
#: The colour scale of the per-joint error, mm: green at 0, red at and beyond this.
ERROR_SCALE_MM = 150.0
#: The error curve keeps at most this many points (a per-bin maximum, so peaks stay visible).
CURVE_POINTS = 2000
#: Label of "no model" in the model picker.
NO_MODEL = "none (ground truth only)"
#: Label of a user's own lift result in the dataset picker.
LIFT_SOURCE = "your lift result"
#: The play widget's tick (ms); the speed sets how many frames each tick advances.
TICK_MS = 100
SPEEDS = {"0.1x": 0.1, "0.25x": 0.25, "0.5x": 0.5, "1x": 1.0, "2x": 2.0}

GT_COLOUR, PRED_COLOUR, DET_COLOUR = "#7f7f7f", "#ff7f0e", "#1f77b4"
MISSED_COLOUR, LOW_COLOUR = "#d62728", "#9467bd"


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
    """A clip of a loaded :class:`dilpose.dataset.PoseData`: the ground truth in world orientation
    (Z up), root-centred; ``pred_cam`` (T, J3, 3) camera-space root-relative metres (a model's
    output for ``camera``) rotated into the same frame. ``views``: the clip's
    :class:`dilpose.dataset.ExampleViews` (detections with NaN where missed; default
    :func:`dilpose.dataset.example_views`). ``with_2d=False``: the 3D only (for errors)."""
    from . import dataset as ds

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
        views = ds.example_views(data, subject, action)
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


def read_poses3d(path: str | Path) -> tuple[np.ndarray, dict]:
    """The 3D poses ``dilpose lift`` wrote: ``PREFIX.npy`` or ``PREFIX.json`` (either name, or the
    prefix). Returns ``((T, 17, 3) metres root-relative camera orientation, the JSON record or
    {})``; a :class:`DataError` naming the file for anything else."""
    from .lift import output_paths

    path = Path(path)
    npy, js = output_paths(path)
    if not npy.is_file() and not js.is_file():
        raise DataError(
            path, "file not found (give the PREFIX.npy or PREFIX.json that `dilpose lift` wrote)"
        )
    doc = {}
    if js.is_file():
        try:
            doc = json.loads(js.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(js, f"not readable JSON: {e}") from None
        if not isinstance(doc, dict):
            raise DataError(js, "expected the JSON object that `dilpose lift` writes")
    if npy.is_file():
        source = npy
        try:
            poses = np.load(npy, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise DataError(npy, f"not a readable .npy array: {e}") from None
    else:
        source = js
        if "positions_3d" not in doc:
            raise DataError(js, "no 'positions_3d' in the file")
        try:
            poses = np.asarray(doc["positions_3d"], dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise DataError(
                js, f"'positions_3d' is not a (T, 17, 3) array of numbers: {e}"
            ) from None
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (sk.H36M17.num_joints, 3):
        raise DataError(
            source,
            f"expected (T, {sk.H36M17.num_joints}, 3) H36M-17 joints, got shape {poses.shape}",
        )
    if len(poses) == 0:
        raise DataError(source, "no frames")
    sk.H36M17.check(poses, source, dims=3)
    return poses, doc


def lift_clip(path: str | Path, keypoints: str | Path | None = None) -> Clip:
    """A user's own ``dilpose lift`` result as a clip: the prediction only (no ground truth), and,
    with ``keypoints`` (the 2D file it lifted), the detections with their missed and
    low-confidence joints. The keypoints must have as many frames as the poses."""
    from .lift import read_keypoints

    poses, doc = read_poses3d(path)
    pred = camera_to_display(_root_centred(poses))
    clip_kw: dict = {}
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
        notes=[f"{len(poses)} frames lifted by {doc.get('shipped_model') or doc.get('checkpoint')}"]
        if doc
        else [],
        **clip_kw,
    )


def model_choices(layout_2d: sk.Skeleton, out_joints: int, checkpoints: Path | None = None):
    """``{label: file}`` of the models that read ``layout_2d`` and write ``out_joints`` joints: the
    shipped ones, then the model cache's (:func:`dilpose.models.cached`), by name."""
    from . import models

    out = {}
    try:
        found = models.shipped()
    except DataError:
        found = []
    cached = sorted(
        (m for m in models.cached(checkpoints) if not m.name.startswith("unreadable")),
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
    from . import dataset as ds
    from . import datasets

    spec = datasets.get(name)
    if (spec.name, seed) not in _LOADED:
        if not spec.available():
            raise DataError(spec.name, f"its files are not in place: {spec.source}")
        _LOADED[spec.name, seed] = ds.load(spec.name, seed=seed)
    return _LOADED[spec.name, seed]


class Predictions:
    """Model outputs computed on demand and kept: ``get(file, data, subject, action, camera)`` ->
    (T, J3, 3) camera-space root-relative metres. Each model is loaded once."""

    def __init__(self):
        self._models: dict = {}
        self._out: dict = {}

    def get(self, file: Path, data, subject: str, action: str, camera: int) -> np.ndarray:
        from . import checkpoints, evaluate
        from . import dataset as ds

        key = (str(file), data.name, subject, action, camera)
        if key not in self._out:
            if str(file) not in self._models:
                self._models[str(file)] = checkpoints.model_from_checkpoint(file)
            model = self._models[str(file)]
            seq = ds.sequences(data, [subject], [action], cameras=(camera,))[0]
            self._out[key] = evaluate.predict(
                model, seq, causal=model.cfg.causal, flip_test=True, layout_2d=data.layout_2d
            )
        return self._out[key]

    def __len__(self) -> int:
        return len(self._out)


# --------------------------------------------------------------------------------------------------
# Figure: trace data for one frame
# --------------------------------------------------------------------------------------------------
def _edges(layout: sk.Skeleton) -> np.ndarray:
    """(E*3,) indices into a pose with a NaN row appended: a, b, gap for each limb."""
    from .viz import edges_of

    J = layout.num_joints
    return np.array([[a, b, J] for a, b in edges_of(layout)], dtype=int).ravel()


def _lines(pose: np.ndarray, layout: sk.Skeleton) -> np.ndarray:
    """(J, D) -> (E*3, D): the limb segments separated by NaN, for one line trace."""
    padded = np.vstack([pose, np.full((1, pose.shape[1]), np.nan)])
    return padded[_edges(layout)]


def _curve(values: np.ndarray, points: int = CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(T,) -> frame numbers and values, at most ``points`` of them (each bin's maximum)."""
    T = len(values)
    if T <= points:
        return np.arange(T), values
    bins = np.array_split(np.arange(T), points)
    return np.array([b[np.argmax(values[b])] for b in bins]), np.array(
        [values[b].max() for b in bins]
    )


# trace indices of the figure
T_GT_BONES, T_GT_JOINTS, T_PRED_BONES, T_PRED_JOINTS = 0, 1, 2, 3
T_CLEAN, T_DET_BONES, T_DET_JOINTS, T_MISSED, T_LOW = 4, 5, 6, 7, 8
T_CURVE, T_CURSOR = 9, 10


def empty_figure():
    """The explorer's figure with its 11 traces (all empty): 3D view left, the camera's 2D view top
    right, the error curve bottom right."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=2,
        cols=2,
        column_widths=[0.6, 0.4],
        row_heights=[0.62, 0.38],
        specs=[[{"type": "scene", "rowspan": 2}, {"type": "xy"}], [None, {"type": "xy"}]],
        horizontal_spacing=0.06,
        vertical_spacing=0.12,
        subplot_titles=("", "camera view (pixels)", "MPJPE per frame (mm)"),
    )
    line3 = dict(mode="lines", hoverinfo="skip")
    fig.add_trace(
        go.Scatter3d(name="ground truth", line=dict(color=GT_COLOUR, width=6), **line3), 1, 1
    )
    fig.add_trace(
        go.Scatter3d(
            name="ground truth joints",
            mode="markers",
            showlegend=False,
            marker=dict(size=3, color=GT_COLOUR),
            hovertemplate="%{text} (ground truth)<extra></extra>",
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter3d(name="prediction", line=dict(color=PRED_COLOUR, width=4), **line3), 1, 1
    )
    fig.add_trace(
        go.Scatter3d(
            name="prediction joints (colour: error)",
            mode="markers",
            showlegend=False,
            marker=dict(
                size=5,
                color=[],
                colorscale="RdYlGn_r",
                cmin=0,
                cmax=ERROR_SCALE_MM,
                colorbar=dict(title="error (mm)", x=0.0, len=0.5, thickness=12),
            ),
            hovertemplate="%{text}<extra></extra>",
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(
            name="ground truth projected",
            mode="lines",
            hoverinfo="skip",
            line=dict(color=GT_COLOUR, width=5),
            opacity=0.35,
        ),
        1,
        2,
    )
    fig.add_trace(
        go.Scatter(
            name="detections", mode="lines", hoverinfo="skip", line=dict(color=DET_COLOUR, width=2)
        ),
        1,
        2,
    )
    fig.add_trace(
        go.Scatter(
            name="detected joints",
            mode="markers",
            showlegend=False,
            marker=dict(size=6, color=DET_COLOUR),
            hovertemplate="%{text}<extra></extra>",
        ),
        1,
        2,
    )
    fig.add_trace(
        go.Scatter(
            name="missed (filled)",
            mode="markers",
            marker=dict(size=11, symbol="x", color=MISSED_COLOUR),
            hovertemplate="%{text}: missed, filled<extra></extra>",
        ),
        1,
        2,
    )
    fig.add_trace(
        go.Scatter(
            name=f"score < {LOW_SCORE}",
            mode="markers",
            marker=dict(size=11, symbol="circle-open", color=LOW_COLOUR, line=dict(width=2)),
            hovertemplate="%{text}: low confidence<extra></extra>",
        ),
        1,
        2,
    )
    fig.add_trace(
        go.Scatter(
            name="MPJPE",
            mode="lines",
            showlegend=False,
            line=dict(color=PRED_COLOUR, width=1.5),
            hovertemplate="frame %{x}: %{y:.0f} mm<extra></extra>",
        ),
        2,
        2,
    )
    fig.add_trace(
        go.Scatter(
            name="frame",
            mode="lines",
            showlegend=False,
            hoverinfo="skip",
            line=dict(color="black", width=1.5, dash="dot"),
        ),
        2,
        2,
    )
    fig.update_layout(
        height=620,
        margin=dict(l=10, r=10, t=90, b=10),
        title=dict(y=0.98, x=0.01, font=dict(size=15)),
        legend=dict(orientation="h", x=0, y=1.1, font=dict(size=11)),
        scene=dict(
            aspectmode="cube", uirevision="keep", camera=dict(eye=dict(x=1.4, y=-1.4, z=0.6))
        ),
        uirevision="keep",
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", row=1, col=2)
    fig.update_xaxes(title_text="frame", row=2, col=2)
    return fig


def frame_update(clip: Clip, t: int) -> dict[int, dict]:
    """``{trace index: {property: value}}``: what changes in the figure when frame ``t`` is
    shown (the per-frame traces only; :func:`clip_update` sets the rest)."""
    out: dict[int, dict] = {}
    names3 = clip.layout_3d.joint_names
    empty3 = dict(x=[], y=[], z=[])
    for bones, joints, poses in (
        (T_GT_BONES, T_GT_JOINTS, clip.gt),
        (T_PRED_BONES, T_PRED_JOINTS, clip.pred),
    ):
        if poses is None:
            out[bones], out[joints] = dict(empty3), dict(empty3)
            continue
        seg = _lines(poses[t], clip.layout_3d)
        out[bones] = dict(x=seg[:, 0], y=seg[:, 1], z=seg[:, 2])
        out[joints] = dict(x=poses[t, :, 0], y=poses[t, :, 1], z=poses[t, :, 2])
    err = clip.error_mm
    if clip.pred is not None:
        out[T_PRED_JOINTS]["marker.color"] = err[t] if err is not None else np.zeros(len(names3))
        out[T_PRED_JOINTS]["text"] = (
            [f"{n}: {e:.0f} mm" for n, e in zip(names3, err[t])]
            if err is not None
            else list(names3)
        )
    empty2 = dict(x=[], y=[])
    if clip.clean is not None:
        seg = _lines(clip.clean[t], clip.clean_layout)
        out[T_CLEAN] = dict(x=seg[:, 0], y=seg[:, 1])
    else:
        out[T_CLEAN] = dict(empty2)
    if clip.detections is not None:
        det, layout = clip.detections[t], clip.layout_2d
        seg = _lines(det, layout)
        names = layout.joint_names
        missed, low = clip.missed[t], clip.low[t]
        ok = ~missed & ~low
        out[T_DET_BONES] = dict(x=seg[:, 0], y=seg[:, 1])
        out[T_DET_JOINTS] = dict(
            x=det[ok, 0],
            y=det[ok, 1],
            text=[f"{names[j]} (score {clip.scores[t, j]:.2f})" for j in np.flatnonzero(ok)],
        )
        out[T_MISSED] = dict(
            x=det[missed, 0], y=det[missed, 1], text=[names[j] for j in np.flatnonzero(missed)]
        )
        out[T_LOW] = dict(
            x=det[low, 0],
            y=det[low, 1],
            text=[f"{names[j]} (score {clip.scores[t, j]:.2f})" for j in np.flatnonzero(low)],
        )
    else:
        for i in (T_DET_BONES, T_DET_JOINTS, T_MISSED, T_LOW):
            out[i] = dict(empty2)
    mpjpe = clip.mpjpe_mm
    if mpjpe is not None:
        top = float(np.nanmax(mpjpe)) if len(mpjpe) else 1.0
        out[T_CURSOR] = dict(x=[t, t], y=[0, top * 1.05])
    else:
        out[T_CURSOR] = dict(empty2)
    return out


def frame_title(clip: Clip, t: int) -> str:
    """The figure's title at frame ``t``: where we are, and the frame's MPJPE."""
    text = f"frame {t} / {len(clip) - 1} ({t / clip.fps:.2f} s)"
    mpjpe = clip.mpjpe_mm
    if mpjpe is not None:
        text += f" · MPJPE {mpjpe[t]:.0f} mm (clip mean {mpjpe.mean():.0f} mm)"
    elif clip.pred is None:
        text += " · no prediction: choose a model"
    return text


def clip_update(clip: Clip) -> tuple[dict[int, dict], dict]:
    """What changes once per clip: hover names, the error curve, and the axes' ranges (fixed over
    the clip so that the skeleton moves, not the axes). Returns (trace updates, layout updates)."""
    names3 = list(clip.layout_3d.joint_names)
    traces: dict[int, dict] = {T_GT_JOINTS: dict(text=names3)}
    mpjpe = clip.mpjpe_mm
    if mpjpe is not None:
        x, y = _curve(mpjpe)
        traces[T_CURVE] = dict(x=x, y=y)
    else:
        traces[T_CURVE] = dict(x=[], y=[])
    h = clip.extent()
    layout = {
        "scene.xaxis.range": [-h, h],
        "scene.yaxis.range": [-h, h],
        "scene.zaxis.range": [-h, h],
        "scene.xaxis.title.text": "x (m)",
        "scene.yaxis.title.text": "y (m)",
        "scene.zaxis.title.text": "z, up (m)",
    }
    pts = [a for a in (clip.detections, clip.clean) if a is not None]
    if pts:
        allpts = np.concatenate([a.reshape(-1, 2) for a in pts])
        allpts = allpts[np.isfinite(allpts).all(-1)]
        lo, hi = allpts.min(0) - 30, allpts.max(0) + 30
        layout["xaxis.range"] = [float(lo[0]), float(hi[0])]
        layout["yaxis.range"] = [float(hi[1]), float(lo[1])]
    layout["xaxis2.range"] = [0, max(len(clip) - 1, 1)]
    if mpjpe is not None:
        layout["yaxis2.range"] = [0, float(np.nanmax(mpjpe)) * 1.08 + 1]
    return traces, layout


# --------------------------------------------------------------------------------------------------
# The widget
# --------------------------------------------------------------------------------------------------
class Explorer:
    """Pick a clip and a model, scrub through it frame by frame.

    ``Explorer(dataset, subject, action, camera, model)`` opens a clip of a registered dataset
    (:func:`dilpose.datasets.names`); ``model`` is a label of :func:`model_choices` or a substring
    of one (default: the first, the shipped ``lifter-243`` where the input layout fits), or
    :data:`NO_MODEL`. ``lift``: a ``dilpose lift`` result to open instead (``keypoints``: the 2D
    file it lifted). ``frame``: the frame to open at, or ``"worst"`` for the clip's largest
    MPJPE. Show ``explorer.widget``. Choose the opening clip and frame here rather than by
    :meth:`select` before showing it: changes to the figure before the browser shows it do not
    reach the browser.

    Switching model, camera or clip keeps the frame (clamped to the new clip's length). Errors
    (missing files, bad shapes, a dataset whose files are not in place) appear in
    ``explorer.message``.
    """

    def __init__(
        self,
        dataset: str = "mocap",
        subject: str | None = None,
        action: str | None = None,
        camera: int = 0,
        model: str | None = None,
        lift: str | Path | None = None,
        keypoints: str | Path | None = None,
        frame: int | str = 0,
        seed: int = 0,
    ):
        import ipywidgets as W
        import plotly.graph_objects as go

        from . import datasets

        self.seed = seed
        self._views: dict = {}
        self.predictions = Predictions()
        self.clip: Clip | None = None
        self._busy = False
        self._models: dict[str, Path] = {}
        self.lift_clip: Clip | None = None

        style = dict(description_width="initial")
        self.source = W.Dropdown(
            options=list(datasets.names()),
            description="dataset",
            style=style,
            layout=W.Layout(width="210px"),
        )
        self.subject = W.Dropdown(
            description="subject", style=style, layout=W.Layout(width="180px")
        )
        self.action = W.Dropdown(description="action", style=style, layout=W.Layout(width="330px"))
        self.camera = W.Dropdown(description="camera", style=style, layout=W.Layout(width="130px"))
        self.model = W.Dropdown(description="model", style=style, layout=W.Layout(width="560px"))
        self.frame = W.IntSlider(
            min=0,
            max=0,
            value=0,
            description="frame",
            continuous_update=True,
            layout=W.Layout(width="520px"),
        )
        self.play = W.Play(min=0, max=0, interval=TICK_MS, description="play")
        W.jslink((self.play, "value"), (self.frame, "value"))
        self.speed = W.Dropdown(
            options=list(SPEEDS),
            value="1x",
            description="speed",
            style=style,
            layout=W.Layout(width="130px"),
        )
        self.status = W.HTML()
        self.message = W.HTML()
        self.lift_path = W.Text(
            placeholder="PREFIX.npy or PREFIX.json from `dilpose lift`",
            description="lift result",
            style=style,
            layout=W.Layout(width="420px"),
        )
        self.keypoints_path = W.Text(
            placeholder="the keypoint JSON it lifted (optional)",
            description="keypoints",
            style=style,
            layout=W.Layout(width="380px"),
        )
        self.open_button = W.Button(description="open", layout=W.Layout(width="80px"))
        for w in (
            self.frame,
            self.play,
            self.subject,
            self.action,
            self.camera,
            self.model,
            self.source,
            self.lift_path,
            self.keypoints_path,
            self.open_button,
        ):
            w.add_class("dilpose-explorer-" + (w.description or "x").replace(" ", "-"))
        self.status.add_class("dilpose-explorer-status")
        self.message.add_class("dilpose-explorer-message")

        # The starting state is drawn into a plain figure, which then becomes the FigureWidget:
        # updates made to a FigureWidget before the browser shows it do not reach the browser.
        self.figure = empty_figure()
        worst = frame == "worst"  # the clip's worst frame: known once the clip is predicted
        start = 0 if worst else max(int(frame), 0)
        self.frame.max = start  # the clip's length clamps it in _redraw_clip
        self.frame.value = start
        self._guard(lambda: self._open_dataset(dataset, subject, action, camera, model))
        if lift is not None:
            self._guard(lambda: self.open_lift(lift, keypoints))
        if self.clip is None or lift is None:
            self._guard(self._redraw_clip)
        if worst and self.clip is not None and self.clip.mpjpe_mm is not None:
            # chosen here, before the figure becomes a widget (see above), so the browser sees it
            self.frame.value = int(np.nanargmax(self.clip.mpjpe_mm))
            self._guard(self._redraw_clip)
        self.figure = go.FigureWidget(self.figure)
        self.widget = W.VBox(
            [
                W.HBox([self.source, self.subject, self.action, self.camera]),
                W.HBox([self.model]),
                W.HBox([self.play, self.frame, self.speed]),
                self.status,
                self.message,
                self.figure,
                W.HBox([self.lift_path, self.keypoints_path, self.open_button]),
            ]
        )
        self.widget.add_class("dilpose-explorer")

        self.frame.observe(lambda ch: self._guard(self._show_frame), "value")
        self.speed.observe(lambda ch: self._set_speed(), "value")
        self.source.observe(lambda ch: self._guard(self._source_changed), "value")
        self.subject.observe(lambda ch: self._guard(self._subject_changed), "value")
        for w in (self.action, self.camera, self.model):
            w.observe(lambda ch: self._guard(self._clip_changed), "value")
        self.open_button.on_click(
            lambda b: self._guard(
                lambda: self.open_lift(
                    self.lift_path.value.strip(), self.keypoints_path.value.strip() or None
                )
            )
        )
        self._set_speed()

    # -- state changes ---------------------------------------------------------------------------
    def _guard(self, fn):
        """Run a UI step; an error becomes the widget's message, not a traceback."""
        if self._busy:
            return
        try:
            fn()
        except Exception as e:  # noqa: BLE001 (every failure is shown to the reader)
            self.message.value = f"<div style='color:#b00020'><b>Cannot show this:</b> {_html(str(e)) if isinstance(e, DataError) else _html(type(e).__name__ + ': ' + str(e))}</div>"  # noqa: E501

    def _set_options(self, widget, options, value=None):
        self._busy = True
        try:
            widget.options = options
            if value is not None and value in [
                o[1] if isinstance(o, tuple) else o for o in options
            ]:
                widget.value = value
        finally:
            self._busy = False

    def data(self, name: str):
        """The loaded dataset ``name`` (loaded once)."""
        return load_data(name, self.seed)

    def _open_dataset(self, name, subject=None, action=None, camera=0, model=None):
        self._set_options(self.source, self.source.options, name)
        data = self.data(name)
        subjects = list(data.test_subjects) + [
            s for s in data.subjects if s not in data.test_subjects
        ]
        self._set_options(
            self.subject,
            [(f"{s} (test)" if s in data.test_subjects else f"{s} (train)", s) for s in subjects],
            subject if subject in subjects else subjects[0],
        )
        self._fill_actions(action, camera)
        self._fill_models(data, model)

    def _fill_actions(self, action=None, camera=None):
        data = self.data(self.source.value)
        actions = data.actions(self.subject.value)
        self._set_options(
            self.action,
            actions,
            action
            if action in actions
            else (self.action.value if self.action.value in actions else actions[0]),
        )
        n = len(data.cameras[self.subject.value])
        cam = camera if camera is not None else self.camera.value
        self._set_options(
            self.camera,
            [(str(c), c) for c in range(n)],
            cam if cam is not None and 0 <= cam < n else 0,
        )

    def _fill_models(self, data, model=None):
        self._models = model_choices(data.layout_2d, data.layout_3d.num_joints)
        labels = [*self._models, NO_MODEL]
        want = self.model.value
        if model is not None:
            hits = [label for label in labels if model in label]
            if not hits:
                raise DataError("model", f"no model {model!r}; models: {labels}")
            want = hits[0]
        self._set_options(self.model, labels, want if want in labels else labels[0])

    def _source_changed(self):
        if self.source.value == LIFT_SOURCE:
            for w in (self.subject, self.action, self.camera, self.model):
                w.disabled = True
            self.clip = self.lift_clip
            self._redraw_clip()
            return
        for w in (self.subject, self.action, self.camera, self.model):
            w.disabled = False
        self._open_dataset(self.source.value)
        self._redraw_clip()

    def _subject_changed(self):
        self._fill_actions()
        self._redraw_clip()

    def _clip_changed(self):
        self._redraw_clip()

    def open_lift(self, path, keypoints=None):
        """Open a ``dilpose lift`` result (and the keypoints it lifted) in the explorer."""
        if not path:
            raise DataError("lift result", "give the path of PREFIX.npy or PREFIX.json")
        clip = lift_clip(path, keypoints)  # raises before anything changes
        self.lift_clip = clip
        if LIFT_SOURCE not in self.source.options:
            self._set_options(self.source, [*self.source.options, LIFT_SOURCE])
        self._busy = True
        try:
            self.source.value = LIFT_SOURCE
        finally:
            self._busy = False
        for w in (self.subject, self.action, self.camera, self.model):
            w.disabled = True
        self.clip = clip
        self._redraw_clip()

    def current_clip(self) -> Clip:
        """The clip the pickers select, with the chosen model's prediction (computed once)."""
        from . import dataset as ds

        if self.source.value == LIFT_SOURCE:
            return self.lift_clip
        data = self.data(self.source.value)
        subject, action, camera = self.subject.value, self.action.value, self.camera.value
        key = (data.name, subject, action)
        if key not in self._views:
            self._views[key] = ds.example_views(data, subject, action)
        pred = None
        notes = []
        if self.model.value != NO_MODEL and self.model.value in self._models:
            pred = self.predictions.get(
                self._models[self.model.value], data, subject, action, camera
            )
        elif not self._models:
            notes.append(f"no model reads {data.layout_2d.name} 2D input: ground truth only")
        clip = dataset_clip(data, subject, action, camera, pred, self._views[key])
        clip.notes += notes
        return clip

    def _redraw_clip(self):
        """A new clip (or model): new traces throughout, the frame kept where it was."""
        self.message.value = ""
        if self.source.value != LIFT_SOURCE:
            self.clip = self.current_clip()
        clip = self.clip
        t = min(self.frame.value, len(clip) - 1)
        self._busy = True
        try:
            self.frame.max = self.play.max = len(clip) - 1
            self.frame.value = t
        finally:
            self._busy = False
        traces, layout = clip_update(clip)
        self._apply(frame_update(clip, t), traces, {**layout, "title.text": frame_title(clip, t)})
        self._set_speed()
        if clip.notes:
            self.message.value = "<i>" + _html("; ".join(clip.notes)) + "</i>"

    def _show_frame(self):
        """Slider moved: one restyle of the existing traces."""
        clip, t = self.clip, self.frame.value
        if clip is None or not 0 <= t < len(clip):
            return
        self._apply(frame_update(clip, t), {}, {"title.text": frame_title(clip, t)})

    def _apply(self, per_frame: dict, per_clip: dict, layout: dict):
        fig = self.figure
        with fig.batch_update():
            for i in {**per_clip, **per_frame}:
                props = {**per_clip.get(i, {}), **per_frame.get(i, {})}
                trace = fig.data[i]
                for key, value in _plain(props).items():
                    trace[key] = value
            for key, value in _plain(layout).items():
                fig.layout[key] = value
        mpjpe = self.clip.mpjpe_mm
        t = self.frame.value
        self.status.value = (
            f"<b>{_html(self.clip.title)}</b> · frame {t}: "
            + (
                f"MPJPE <b>{mpjpe[t]:.1f} mm</b>"
                if mpjpe is not None
                else "no ground truth"
                if self.clip.gt is None
                else "no prediction"
            )
            + f" · {len(self.clip)} frames at {self.clip.fps:g} Hz"
        )

    def _set_speed(self):
        fps = self.clip.fps if self.clip is not None else 50.0
        self.play.step = max(1, int(round(fps * SPEEDS[self.speed.value] * TICK_MS / 1000)))
        self.play.interval = TICK_MS

    # -- for code and tests ------------------------------------------------------------------
    def select(self, **values):
        """Set pickers by name, as a reader would: ``select(subject="cmu09", model="causal")``
        (``model`` may be a substring of a label). Returns self."""
        for name in ("source", "subject", "action", "camera", "model", "frame", "speed"):
            if name not in values:
                continue
            value = values[name]
            widget = getattr(self, name)
            if name == "model" and value not in widget.options:
                hits = [label for label in widget.options if value in label]
                if not hits:
                    raise DataError("model", f"no model {value!r}; models: {list(widget.options)}")
                value = hits[0]
            widget.value = value
        unknown = set(values) - {"source", "subject", "action", "camera", "model", "frame", "speed"}
        if unknown:
            raise DataError("explorer", f"unknown picker(s) {sorted(unknown)}")
        return self

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def _plain(props: dict) -> dict:
    """numpy arrays -> lists of floats with None for NaN (plotly's JSON for gaps)."""
    out = {}
    for k, v in props.items():
        if isinstance(v, np.ndarray):
            if v.dtype.kind == "f":
                v = np.where(np.isfinite(v), np.round(v, 5), np.nan)
                v = [None if x != x else float(x) for x in v.tolist()]
            else:
                v = v.tolist()
        out[k] = v
    return out


def _html(text: str) -> str:
    import html

    return html.escape(text)
