"""Datasets as the model sees them: per subject, action and camera, 2D inputs and 3D targets.

Every dataset loads into the same :class:`PoseData`; the datasets themselves live in
:mod:`dilpose.datasets`, one module each, and :func:`load` takes one by name
(:func:`dilpose.datasets.names`: the embedded CMU motion capture, and VideoPose3D's Human3.6M and
HumanEva-I files placed in ``data/``).

:func:`sequences` turns a PoseData into :class:`Sequence` records for training and evaluation:
2D in normalised screen coordinates, 3D in camera space (metres).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import skeleton as sk
from .bvh import cmu_to_coco17
from .camera import Camera, normalize_screen_coordinates
from .errors import DataError
from .noise import NoiseConfig


@dataclass
class PoseData:
    """A dataset in memory. Nested dicts are keyed ``[subject][action]``.

    positions_3d: (T, J3, 3) world metres in ``layout_3d`` (H36M-17 unless the dataset says
    otherwise).
    keypoints: list per camera of (T, J, 2) pixels in ``layout_2d`` (NaN-free: missing detections
    already interpolated). scores: list per camera of (T, J) in [0, 1] (1 where the file has no
    scores). cameras: one :class:`Camera` per view, per subject. face_3d: (T, 5, 3) world metres,
    COCO's nose, eyes and ears, where the dataset has them (the embedded data), else None.
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
    info: dict = field(default_factory=dict)  # provenance and noise statistics
    layout_3d: sk.Skeleton = sk.H36M17
    face_3d: dict[str, dict[str, np.ndarray]] | None = field(default=None, repr=False)

    @property
    def subjects(self) -> list[str]:
        return sorted(self.positions_3d)

    def actions(self, subject: str) -> list[str]:
        self._check_subject(subject)
        return sorted(self.positions_3d[subject])

    def category(self, action: str) -> str:
        """The category tables pool ``action`` under: its dataset's rule (``action_of`` of its spec
        in :mod:`dilpose.datasets`), or :func:`action_category` for a dataset that is not
        registered."""
        from . import datasets

        spec = datasets.find(self.name)
        return spec.action_of(action) if spec is not None else action_category(action)

    def _check_subject(self, subject: str) -> None:
        if subject not in self.positions_3d:
            raise DataError(self.name, f"unknown subject {subject!r}; subjects are {self.subjects}")

    def _check(self, subject: str, action: str) -> None:
        self._check_subject(subject)
        if action not in self.positions_3d[subject]:
            raise DataError(
                self.name,
                f"unknown action {action!r} for subject {subject}; "
                f"actions are {self.actions(subject)}",
            )


def action_category(action: str) -> str:
    """``"Walking 1"`` -> ``"Walking"``, ``"walk 16_15"`` -> ``"walk"``: the per-action table
    key."""
    return action.split(" ")[0]


def coco_3d(positions_3d: np.ndarray, face_3d: np.ndarray) -> np.ndarray:
    """Assemble COCO-17 3D joints (T, 17, 3) from H36M-17 joints (T, 17, 3) and face points
    (T, 5, 3)."""
    return cmu_to_coco17(positions_3d, face_3d)


def coco_pose_3d(data: PoseData, subject: str, action: str) -> np.ndarray | None:
    """The clip's COCO-17 3D joints (T, 17, 3) world metres, or None when the dataset has no face
    points."""
    data._check(subject, action)
    if data.face_3d is None or data.layout_3d is not sk.H36M17:
        return None
    return coco_3d(data.positions_3d[subject][action], data.face_3d[subject][action])


# --------------------------------------------------------------------------------------------------
# Loading by name (the datasets live in dilpose.datasets, one module each)
# --------------------------------------------------------------------------------------------------
def load(
    name: str | None = None,
    seed: int = 0,
    noise: NoiseConfig | None = NoiseConfig(),
    source_2d: str | None = None,
    **options,
) -> PoseData:
    """Load a registered dataset by name (default :data:`dilpose.datasets.DEFAULT`); see
    :func:`dilpose.datasets.load` and :func:`dilpose.datasets.names`.

    source_2d: the value of ``Config.h36m_2d_source``, which the notebooks and the CLI pass for any
    dataset; a dataset receives it only where its spec maps that setting to one of its options
    (``config_options``). ``options``: the dataset's own keyword options.
    """
    from . import datasets

    spec = datasets.get(name if name is not None else datasets.DEFAULT)
    if source_2d is not None:
        options.update(
            {
                option: source_2d
                for setting, option in spec.config_options
                if setting == "h36m_2d_source"
            }
        )
    return datasets.load(spec.name, seed=seed, noise=noise, **options)


def from_default(
    seed: int = 0,
    noise: NoiseConfig | None = NoiseConfig(),
    path: str | Path | None = None,
    subjects: tuple[str, ...] | None = None,
) -> PoseData:
    """The embedded motion capture (CMU and HDM05): :func:`dilpose.datasets.mocap.load`."""
    from .datasets import mocap

    return mocap.load(seed=seed, noise=noise, path=path, subjects=subjects)


def h36m_available(data_dir: str | Path | None = None, source_2d: str | None = None) -> bool:
    """Whether VideoPose3D's Human3.6M files are in ``data_dir``:
    :func:`dilpose.datasets.h36m.available`."""
    from .datasets import h36m

    return h36m.available(data_dir, source_2d or h36m.DEFAULT_SOURCE_2D)


def from_h36m(data_dir: str | Path | None = None, source_2d: str | None = None) -> PoseData:
    """VideoPose3D's Human3.6M files from ``data_dir``: :func:`dilpose.datasets.h36m.read`."""
    from .datasets import h36m

    return h36m.read(data_dir, source_2d or h36m.DEFAULT_SOURCE_2D)


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------
@dataclass
class ExampleViews:
    """One clip seen by its cameras: ``clean[c]`` and ``detected[c]`` are (T, J, 2) pixels
    (``detected`` keeps NaN where the detector missed a joint); layouts say how to draw each."""

    cameras: list[Camera]
    clean: list[np.ndarray]
    detected: list[np.ndarray]
    clean_layout: sk.Skeleton
    detected_layout: sk.Skeleton


def example_views(data: PoseData, subject: str, action: str) -> ExampleViews:
    """Clean projections and detector output of one clip in every camera (for figures).

    A dataset's spec may say how (the embedded data regenerates its detector output from the same
    seeded stream, before gap filling); otherwise the "clean" views are the 3D ground truth
    projected through the cameras and the detections are the 2D inputs.
    """
    from . import datasets

    data._check(subject, action)
    spec = datasets.find(data.name)
    if spec is not None and spec.example_views is not None:
        return spec.example_views(data, subject, action)
    cams = data.cameras[subject]
    clean = [cam.project(data.positions_3d[subject][action]) for cam in cams]
    return ExampleViews(
        cams, clean, list(data.keypoints[subject][action]), data.layout_3d, data.layout_2d
    )


# --------------------------------------------------------------------------------------------------
# Model-ready sequences
# --------------------------------------------------------------------------------------------------
@dataclass
class Sequence:
    """One (subject, action, camera) video as the model sees it.

    keypoints_2d: (T, J, 2) normalised screen coordinates. positions_3d: (T, J3, 3) camera space,
    metres (absolute: joint 0 is the root trajectory). intrinsics: (9,) normalised.
    scores: (T, J) detector confidence. category: what per-action tables pool it under (its
    dataset's rule, :meth:`PoseData.category`; by default :func:`action_category` of ``action``).
    """

    subject: str
    action: str
    camera: int
    keypoints_2d: np.ndarray
    positions_3d: np.ndarray
    intrinsics: np.ndarray
    scores: np.ndarray
    category: str = ""

    def __post_init__(self):
        if not self.category:
            self.category = action_category(self.action)

    def __len__(self) -> int:
        return len(self.keypoints_2d)


def sequences(
    data: PoseData,
    subjects: tuple[str, ...] | list[str],
    actions: list[str] | None = None,
    cameras: tuple[int, ...] | None = None,
) -> list[Sequence]:
    """Model-ready sequences for the given subjects (and optionally actions / camera indices)."""
    out = []
    for subject in subjects:
        data._check_subject(subject)
        for action in actions if actions is not None else data.actions(subject):
            data._check(subject, action)
            pos = data.positions_3d[subject][action]
            data.layout_3d.check(pos, f"{data.name}:{subject}/{action} 3D", dims=3)
            category = data.category(action)
            for c, cam in enumerate(data.cameras[subject]):
                if cameras is not None and c not in cameras:
                    continue
                kp = data.keypoints[subject][action][c]
                data.layout_2d.check(kp, f"{data.name}:{subject}/{action}/camera {c}", dims=2)
                out.append(
                    Sequence(
                        subject,
                        action,
                        c,
                        keypoints_2d=normalize_screen_coordinates(kp, cam.res_w, cam.res_h).astype(
                            np.float32
                        ),
                        positions_3d=cam.world_to_camera(pos).astype(np.float32),
                        intrinsics=cam.intrinsic_vector().astype(np.float32),
                        scores=np.asarray(data.scores[subject][action][c], dtype=np.float32),
                        category=category,
                    )
                )
    if not out:
        raise DataError(data.name, f"no sequences for subjects {list(subjects)}")
    return out
