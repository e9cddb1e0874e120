"""The embedded dataset: real motion capture (CMU and HDM05) filmed by Human3.6M's calibrated
cameras.

Files: ``data/cmu_mocap_3d.npz`` and ``data/hdm05_mocap_3d.npz`` (committed, about 6 MB in all;
read by :mod:`dilpose.datasets.mocap_files`), built by :mod:`dilpose.datasets.mocap_import`
(``make data``) from 391 BVH clips in ``../shared/data`` (``mocap``, ``mocap-extended``:
mocap.cs.cmu.edu; ``hdm05-cuts``: HDM05, CC BY-SA 3.0): 17 H36M joints and 5 COCO face points per
frame, world metres, Z up, 50 Hz.

Subjects: 15 (``cmu01`` ... ``cmu35``, CMU subject numbers; ``hdm_bd`` ... ``hdm_tr``, HDM05
actors); the split is chosen by a stated rule and recorded in the files
(:data:`dilpose.datasets.mocap_import.SPLIT_RULE`). Actions are ``"<category> <clip>"``
(``"walk 16_15"``); categories walk, run, jump, exercise, sport, dance, reach, floor.

Cameras: each subject is filmed by the four cameras of one Human3.6M subject
(:func:`dilpose.datasets.mocap_import.camera_sets`). 2D inputs: the COCO-17 projection (12 body
joints and the 5 face points) with a seeded detector-noise model (:mod:`dilpose.noise`); missed
joints are interpolated. 50 Hz.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import paths
from .. import skeleton as sk
from ..camera import Camera, load_h36m_cameras
from ..errors import DataError
from ..noise import NoiseConfig, apply_detector_noise, fill_gaps
from .base import DatasetSpec, ExampleViews, PoseData, coco_3d
from .mocap_files import ACKNOWLEDGEMENT, FPS, TEST_SUBJECTS, TRAIN_SUBJECTS, DefaultData
from .mocap_files import load as load_files

NAME = "mocap"


def available(path: str | Path | None = None, subjects: tuple[str, ...] | None = None) -> bool:
    files = [Path(path)] if path is not None else paths.DEFAULT_DATA_FILES
    return all(f.is_file() for f in files)


def load(
    seed: int = 0,
    noise: NoiseConfig | None = NoiseConfig(),
    path: str | Path | None = None,
    subjects: tuple[str, ...] | None = None,
) -> PoseData:
    """The embedded motion capture with COCO-17 2D from the four cameras; detector noise unless
    ``noise=None``.

    path: another file in the same format (default: both committed files). subjects: load only
    these. Each (subject, action, camera) gets its own reproducible noise stream (see
    :func:`_render_views`).
    """
    data = load_files(path)
    all_cams = load_h36m_cameras()
    positions, faces, keypoints, scores, cameras = {}, {}, {}, {}, {}
    # Per-joint sums of the 2D error of detected joints, for the noise statistics.
    err_sum, err_n, err_max = np.zeros(17), np.zeros(17), np.zeros(17)
    counts = {"outlier": 0, "missing": 0, "swapped": 0, "total": 0}
    outside = total_pts = 0
    for subject in data.subjects:
        if subjects is not None and subject not in subjects:
            continue
        cams = all_cams[data.meta["camera_subject"][subject]]
        cameras[subject] = cams
        positions[subject], faces[subject], keypoints[subject], scores[subject] = {}, {}, {}, {}
        for action in sorted(data.positions_3d[subject]):
            positions[subject][action] = data.positions_3d[subject][action].astype(np.float64)
            faces[subject][action] = data.face_3d[subject][action].astype(np.float64)
            keypoints[subject][action], scores[subject][action] = [], []
            for c, (clean, noisy, sc, events) in enumerate(
                _render_views(data, subject, action, cams, seed, noise)
            ):
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
    stats = (err_sum, err_n, err_max, counts) if noise is not None else None
    info = _info(data, positions, path, seed, noise, outside / max(total_pts, 1), stats)
    train = tuple(s for s in data.train_subjects if s in positions)
    test = tuple(s for s in data.test_subjects if s in positions)
    return PoseData(
        NAME,
        sk.COCO17,
        positions,
        keypoints,
        scores,
        cameras,
        train,
        test,
        fps=float(data.meta["fps"]),
        info=info,
        face_3d=faces,
    )


def _info(data: DefaultData, positions: dict, path, seed: int, noise, outside: float, stats):
    """:attr:`PoseData.info` of the loaded subjects: provenance, credit, the noise settings, the
    fraction of 2D points outside the image and (``stats``: per-joint error sums, counts, maxima
    and event counts of the detected joints, or None without noise) the noise statistics."""
    info = {
        "source": ", ".join(
            str(f.relative_to(paths.REPO_ROOT) if f.is_relative_to(paths.REPO_ROOT) else f)
            for f in data.files
        ),
        "path": None if path is None else str(path),
        "acknowledgement": data.meta["acknowledgement"],
        "sources": data.meta["sources"],
        "subject_source": {
            c["subject"]: c["source"] for c in data.meta["clips"] if c["subject"] in positions
        },
        "camera_subject": {s: data.meta["camera_subject"][s] for s in positions},
        "split_rule": data.meta["split"]["rule"],
        "seed": seed,
        "noise": None if noise is None else noise.to_dict(),
        "fraction_2d_outside_image": outside,
    }
    if stats is not None:
        err_sum, err_n, err_max, counts = stats
        per_joint = err_sum / np.maximum(err_n, 1)
        info["noise_stats"] = {
            "mean_error_px": float(err_sum.sum() / max(err_n.sum(), 1)),
            "max_error_px": float(err_max.max()),
            "per_joint_mean_error_px": dict(zip(sk.COCO17.joint_names, per_joint.tolist())),
            "per_joint_max_error_px": dict(zip(sk.COCO17.joint_names, err_max.tolist())),
            **{
                f"{k}_fraction": counts[k] / max(counts["total"], 1)
                for k in ("outlier", "missing", "swapped")
            },
        }
    return info


def render_coco(positions_3d: np.ndarray, face_3d: np.ndarray, cam: Camera) -> np.ndarray:
    """Project a clip's COCO-17 joints through a camera: (T, 17, 3) + (T, 5, 3) world m ->
    (T, 17, 2) px."""
    return cam.project(coco_3d(positions_3d, face_3d))


def _render_views(
    data: DefaultData,
    subject: str,
    action: str,
    cams: list[Camera],
    seed: int,
    noise: NoiseConfig | None,
):
    """Per camera: (clean (T,17,2) px, detector output (T,17,2) px with NaN for misses, scores
    (T,17), events).

    Each (subject, action, camera) has its own noise stream, seeded by ``seed`` and the indices of
    the subject, action and camera in the dataset file, so streams are independent and reproducible
    (and a subset of subjects gets the same noise as the full set).
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
            noisy, sc, events = apply_detector_noise(
                clean, np.random.default_rng([seed, s_idx, a_idx, c]), noise
            )
            out.append((clean, noisy, sc, events))
    return out


def detector_views(data: PoseData, subject: str, action: str) -> list[tuple]:
    """Per camera of one clip: ``(clean, detected, scores, events)`` regenerated from the seeded
    stream that :func:`load` used, before gap filling: clean and detected (T, 17, 2) pixels
    (detected NaN where missed), scores (T, 17), events the boolean masks (T, 17) of
    :func:`dilpose.noise.apply_detector_noise` (None when ``data`` was loaded without noise)."""
    raw = load_files(data.info.get("path"))
    noise = NoiseConfig.of(data.info)
    return _render_views(raw, subject, action, data.cameras[subject], data.info["seed"], noise)


def example_views(data: PoseData, subject: str, action: str) -> ExampleViews:
    """The clean COCO-17 projections and the detector output, regenerated from the seeded stream
    that :func:`load` used (before gap filling, so misses show as NaN)."""
    views = detector_views(data, subject, action)
    return ExampleViews(
        data.cameras[subject], [v[0] for v in views], [v[1] for v in views], sk.COCO17, sk.COCO17
    )


SPEC = DatasetSpec(
    name=NAME,
    title=(
        "CMU and HDM05 motion capture through Human3.6M's cameras "
        "(embedded, simulated detector noise)"
    ),
    source=(
        "data/cmu_mocap_3d.npz and data/hdm05_mocap_3d.npz, committed; rebuilt from "
        "../shared/data/{mocap,mocap-extended,hdm05-cuts} (BVH) by `make data`"
    ),
    train_subjects=TRAIN_SUBJECTS,
    test_subjects=TEST_SUBJECTS,
    cameras=4,
    fps=FPS,
    layout_2d=sk.COCO17,
    layout_3d=sk.H36M17,
    credit=ACKNOWLEDGEMENT,
    load=load,
    available=available,
    options=("path", "subjects"),
    example_views=example_views,
)
