"""Datasets as the model sees them: per subject, action and camera, 2D inputs and 3D targets.

Two sources give the same :class:`PoseData`:

* :func:`from_default` - the embedded CMU motion capture (:mod:`dilpose.default_data`) rendered
  through the four Human3.6M cameras of each subject's camera subject, COCO-17 2D with a seeded
  detector-noise model (:mod:`dilpose.noise`);
* :func:`from_h36m` - VideoPose3D's real Human3.6M files (``data_3d_h36m.npz`` and
  ``data_2d_h36m_<source>.npz``) placed in ``data/``, with the shipped camera parameters.

:func:`sequences` turns a PoseData into :class:`Sequence` records for training and evaluation:
2D in normalised screen coordinates, 3D in camera space (metres).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import default_data, formats, paths
from . import skeleton as sk
from .bvh import cmu_to_coco17
from .camera import Camera, load_h36m_cameras, normalize_screen_coordinates
from .errors import DataError
from .noise import NoiseConfig, apply_detector_noise, fill_gaps

H36M_TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
H36M_TEST_SUBJECTS = ("S9", "S11")


@dataclass
class PoseData:
    """A dataset in memory. Nested dicts are keyed ``[subject][action]``.

    positions_3d: (T, 17, 3) world metres, H36M-17. keypoints: list per camera of (T, J, 2) pixels
    (NaN-free: missing detections already interpolated). scores: list per camera of (T, J) in
    [0, 1] (1 where the file has no scores). cameras: four :class:`Camera` per subject.
    """

    name: str
    layout_2d: sk.Skeleton
    positions_3d: dict[str, dict[str, np.ndarray]]
    keypoints: dict[str, dict[str, list[np.ndarray]]]
    scores: dict[str, dict[str, list[np.ndarray]]]
    cameras: dict[str, list[Camera]]
    train_subjects: tuple[str, ...]
    test_subjects: tuple[str, ...]
    fps: float = 50.0
    info: dict = field(default_factory=dict)   # provenance and noise statistics

    @property
    def subjects(self) -> list[str]:
        return sorted(self.positions_3d)

    def actions(self, subject: str) -> list[str]:
        self._check_subject(subject)
        return sorted(self.positions_3d[subject])

    def _check_subject(self, subject: str) -> None:
        if subject not in self.positions_3d:
            raise DataError(self.name, f"unknown subject {subject!r}; subjects are {self.subjects}")

    def _check(self, subject: str, action: str) -> None:
        self._check_subject(subject)
        if action not in self.positions_3d[subject]:
            raise DataError(self.name, f"unknown action {action!r} for subject {subject}; "
                                       f"actions are {self.actions(subject)}")


def action_category(action: str) -> str:
    """``"Walking 1"`` -> ``"Walking"``, ``"walk 16_15"`` -> ``"walk"``: the per-action table key."""
    return action.split(" ")[0]


# ---------------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------------
def render_coco(positions_3d: np.ndarray, face_3d: np.ndarray, cam: Camera) -> np.ndarray:
    """Project a clip's COCO-17 joints through a camera: (T, 17, 3) + (T, 5, 3) world m -> (T, 17, 2) px."""
    coco = coco_3d(positions_3d, face_3d)
    return cam.project(coco)


def coco_3d(positions_3d: np.ndarray, face_3d: np.ndarray) -> np.ndarray:
    """Assemble COCO-17 3D joints (T, 17, 3) from H36M-17 joints (T, 17, 3) and face points (T, 5, 3)."""
    return cmu_to_coco17(positions_3d, face_3d)


def from_default(seed: int = 0, noise: NoiseConfig | None = NoiseConfig(), path: str | Path | None = None,
                 subjects: tuple[str, ...] | None = None) -> PoseData:
    """The embedded CMU dataset with COCO-17 2D from the four cameras; detector noise unless ``noise=None``.

    Each (subject, action, camera) gets its own reproducible noise stream (see :func:`_render_views`).
    """
    data = default_data.load(path)
    all_cams = load_h36m_cameras()
    positions, keypoints, scores, cameras = {}, {}, {}, {}
    # Per-joint sums of the 2D error of detected joints, for the noise statistics.
    err_sum, err_n, err_max = np.zeros(17), np.zeros(17), np.zeros(17)
    counts = {"outlier": 0, "missing": 0, "swapped": 0, "total": 0}
    outside = total_pts = 0
    for subject in data.subjects:
        if subjects is not None and subject not in subjects:
            continue
        cams = all_cams[data.meta["camera_subject"][subject]]
        cameras[subject] = cams
        positions[subject], keypoints[subject], scores[subject] = {}, {}, {}
        for action in sorted(data.positions_3d[subject]):
            pos = data.positions_3d[subject][action].astype(np.float64)
            positions[subject][action] = pos
            keypoints[subject][action], scores[subject][action] = [], []
            for c, (clean, noisy, sc, events) in enumerate(_render_views(data, subject, action, cams, seed, noise)):
                inside = ((clean >= 0) & (clean <= [cams[c].res_w, cams[c].res_h])).all(-1)
                outside += int((~inside).sum())
                total_pts += inside.size
                if noise is not None:
                    seen = ~events["missing"]
                    err = np.where(seen, np.linalg.norm(np.nan_to_num(noisy - clean), axis=-1), 0.0)
                    err_sum += err.sum(0)
                    err_n += seen.sum(0)
                    err_max = np.maximum(err_max, err.max(0))
                    for k in ("outlier", "missing", "swapped"):
                        counts[k] += int(events[k].sum())
                    counts["total"] += events["missing"].size
                kp, _ = fill_gaps(noisy, sc, source=f"{subject}/{action}/camera {c}")
                keypoints[subject][action].append(kp)
                scores[subject][action].append(sc)
    if not positions:
        raise DataError(data.source, f"none of the subjects {subjects} are in the default data")
    info = {"source": str(data.source.relative_to(paths.REPO_ROOT) if data.source.is_relative_to(paths.REPO_ROOT)
                          else data.source),
            "acknowledgement": data.meta["acknowledgement"], "seed": seed,
            "noise": None if noise is None else noise.to_dict(),
            "fraction_2d_outside_image": outside / max(total_pts, 1)}
    if noise is not None:
        per_joint = err_sum / np.maximum(err_n, 1)
        info["noise_stats"] = {"mean_error_px": float(err_sum.sum() / max(err_n.sum(), 1)),
                               "max_error_px": float(err_max.max()),
                               "per_joint_mean_error_px": dict(zip(sk.COCO17.joint_names, per_joint.tolist())),
                               "per_joint_max_error_px": dict(zip(sk.COCO17.joint_names, err_max.tolist())),
                               **{f"{k}_fraction": counts[k] / max(counts["total"], 1)
                                  for k in ("outlier", "missing", "swapped")}}
    train = tuple(s for s in default_data.TRAIN_SUBJECTS if s in positions)
    test = tuple(s for s in default_data.TEST_SUBJECTS if s in positions)
    return PoseData("cmu-default", sk.COCO17, positions, keypoints, scores, cameras, train, test,
                    fps=float(data.meta["fps"]), info=info)


def _render_views(data: default_data.DefaultData, subject: str, action: str, cams: list[Camera], seed: int,
                  noise: NoiseConfig | None):
    """Per camera: (clean (T,17,2) px, detector output (T,17,2) px with NaN for misses, scores (T,17), events).

    Each (subject, action, camera) has its own noise stream, seeded by ``seed`` and the indices of the
    subject, action and camera in the dataset file, so streams are independent and reproducible (and
    a subset of subjects gets the same noise as the full set).
    """
    pos = data.clip(subject, action).astype(np.float64)
    face = data.face_3d[subject][action].astype(np.float64)
    s_idx, a_idx = data.subjects.index(subject), sorted(data.positions_3d[subject]).index(action)
    out = []
    for c, cam in enumerate(cams):
        clean = render_coco(pos, face, cam)
        if noise is None:
            out.append((clean, clean.copy(), np.ones(clean.shape[:2]), None))
        else:
            noisy, sc, events = apply_detector_noise(clean, np.random.default_rng([seed, s_idx, a_idx, c]), noise)
            out.append((clean, noisy, sc, events))
    return out


@dataclass
class ExampleViews:
    """One clip seen by its four cameras: ``clean[c]`` and ``detected[c]`` are (T, J, 2) pixels
    (``detected`` keeps NaN where the detector missed a joint); layouts say how to draw each."""

    cameras: list[Camera]
    clean: list[np.ndarray]
    detected: list[np.ndarray]
    clean_layout: sk.Skeleton
    detected_layout: sk.Skeleton


def example_views(data: PoseData, subject: str, action: str) -> ExampleViews:
    """Clean projections and detector output of one clip in every camera (for figures).

    For the default data the detector output is regenerated from the same seeded stream that
    :func:`from_default` used, before gap filling. For Human3.6M the "clean" views are the 3D
    ground truth projected through the cameras (H36M-17) and the detections are the file's.
    """
    data._check(subject, action)
    cams = data.cameras[subject]
    if data.name == "cmu-default":
        raw = default_data.load()
        noise = NoiseConfig(**data.info["noise"]) if data.info.get("noise") else None
        views = _render_views(raw, subject, action, cams, data.info["seed"], noise)
        return ExampleViews(cams, [v[0] for v in views], [v[1] for v in views], sk.COCO17, sk.COCO17)
    clean = [cam.project(data.positions_3d[subject][action]) for cam in cams]
    return ExampleViews(cams, clean, list(data.keypoints[subject][action]), sk.H36M17, data.layout_2d)


def h36m_available(data_dir: str | Path | None = None, source_2d: str = "cpn_ft_h36m_dbb") -> bool:
    data_dir = Path(data_dir) if data_dir is not None else paths.user_data_dir()
    return (data_dir / "data_3d_h36m.npz").is_file() and (data_dir / f"data_2d_h36m_{source_2d}.npz").is_file()


def from_h36m(data_dir: str | Path | None = None, source_2d: str = "cpn_ft_h36m_dbb") -> PoseData:
    """VideoPose3D's Human3.6M files from ``data_dir`` (default ``data/``, see :func:`paths.user_data_dir`).

    As VideoPose3D does, 2D sequences longer than the motion capture are cut to its length (a few
    videos have extra frames); a 2D sequence shorter than the 3D one is an error.
    """
    data_dir = Path(data_dir) if data_dir is not None else paths.user_data_dir()
    path3d, path2d = data_dir / "data_3d_h36m.npz", data_dir / f"data_2d_h36m_{source_2d}.npz"
    positions = formats.load_positions_3d(path3d, "h36m17")
    kps, meta = formats.load_positions_2d(path2d)
    layout = sk.get(meta["layout_name"])
    cameras_all = load_h36m_cameras()
    keypoints, scores, cameras = {}, {}, {}
    for subject, actions in positions.items():
        if subject not in cameras_all:
            continue  # S2-S4: no extrinsics, not in any protocol
        if subject not in kps:
            raise DataError(path2d, f"subject {subject} (in {path3d.name}) has no 2D keypoints")
        cameras[subject] = cameras_all[subject]
        keypoints[subject], scores[subject] = {}, {}
        for action, pos in actions.items():
            if action not in kps[subject]:
                raise DataError(path2d, f"{subject}/{action} (in {path3d.name}) has no 2D keypoints")
            views = kps[subject][action]
            if len(views) != 4:
                raise DataError(path2d, f"{subject}/{action}: expected 4 cameras, got {len(views)}")
            cut = []
            for c, v in enumerate(views):
                if len(v) < len(pos):
                    raise DataError(path2d, f"{subject}/{action} camera {c}: {len(v)} 2D frames but "
                                            f"{len(pos)} 3D frames")
                cut.append(v[: len(pos)])
            keypoints[subject][action] = cut
            scores[subject][action] = [np.ones(v.shape[:2]) for v in cut]
    positions = {s: positions[s] for s in cameras}
    train = tuple(s for s in H36M_TRAIN_SUBJECTS if s in positions)
    test = tuple(s for s in H36M_TEST_SUBJECTS if s in positions)
    return PoseData("h36m", layout, positions, keypoints, scores, cameras, train, test, fps=50.0,
                    info={"source": [str(path3d), str(path2d)], "source_2d": source_2d})


def load(name: str = "cmu-default", seed: int = 0, noise: NoiseConfig | None = NoiseConfig(),
         source_2d: str = "cpn_ft_h36m_dbb") -> PoseData:
    """Load a dataset by name: ``"cmu-default"`` (embedded) or ``"h36m"`` (files in ``data/``)."""
    if name == "cmu-default":
        return from_default(seed=seed, noise=noise)
    if name == "h36m":
        if not h36m_available(source_2d=source_2d):
            raise DataError(paths.user_data_dir(), f"dataset 'h36m' needs data_3d_h36m.npz and "
                                            f"data_2d_h36m_{source_2d}.npz in data/ (VideoPose3D's files)")
        return from_h36m(source_2d=source_2d)
    raise DataError("dataset", f"unknown dataset {name!r}; choose 'cmu-default' or 'h36m'")


# ---------------------------------------------------------------------------------------------------
# Model-ready sequences
# ---------------------------------------------------------------------------------------------------
@dataclass
class Sequence:
    """One (subject, action, camera) video as the model sees it.

    keypoints_2d: (T, J, 2) normalised screen coordinates. positions_3d: (T, 17, 3) camera space,
    metres (absolute: joint 0 is the root trajectory). intrinsics: (9,) normalised.
    scores: (T, J) detector confidence.
    """

    subject: str
    action: str
    camera: int
    keypoints_2d: np.ndarray
    positions_3d: np.ndarray
    intrinsics: np.ndarray
    scores: np.ndarray

    @property
    def category(self) -> str:
        return action_category(self.action)

    def __len__(self) -> int:
        return len(self.keypoints_2d)


def sequences(data: PoseData, subjects: tuple[str, ...] | list[str], actions: list[str] | None = None,
              cameras: tuple[int, ...] | None = None) -> list[Sequence]:
    """Model-ready sequences for the given subjects (and optionally actions / camera indices)."""
    out = []
    for subject in subjects:
        data._check_subject(subject)
        for action in (actions if actions is not None else data.actions(subject)):
            data._check(subject, action)
            pos = data.positions_3d[subject][action]
            for c, cam in enumerate(data.cameras[subject]):
                if cameras is not None and c not in cameras:
                    continue
                kp = data.keypoints[subject][action][c]
                data.layout_2d.check(kp, f"{data.name}:{subject}/{action}/camera {c}", dims=2)
                out.append(Sequence(
                    subject, action, c,
                    keypoints_2d=normalize_screen_coordinates(kp, cam.res_w, cam.res_h).astype(np.float32),
                    positions_3d=cam.world_to_camera(pos).astype(np.float32),
                    intrinsics=cam.intrinsic_vector().astype(np.float32),
                    scores=np.asarray(data.scores[subject][action][c], dtype=np.float32)))
    if not out:
        raise DataError(data.name, f"no sequences for subjects {list(subjects)}")
    return out
