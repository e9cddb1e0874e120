"""What every dataset module builds on: the in-memory types (:class:`PoseData`, a dataset;
:class:`Sequence`, one video as the model sees it; :class:`ExampleViews`, one clip in every camera
for figures), :class:`DatasetSpec`, and the checks shared by the readers of VideoPose3D's
``data_3d_*`` / ``data_2d_*`` files.

:func:`sequences` turns a PoseData into :class:`Sequence` records for training and evaluation:
2D in normalised screen coordinates, 3D in camera space (metres). The registry (load by name) is
:mod:`dilpose.datasets`; this module imports no dataset, so every dataset can import it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import paths
from .. import skeleton as sk
from ..camera import Camera, normalize_screen_coordinates
from ..errors import DataError
from ..kinematics import cmu_to_coco17


def action_category(action: str) -> str:
    """``"Walking 1"`` -> ``"Walking"``, ``"walk 16_15"`` -> ``"walk"``: the per-action table
    key."""
    return action.split(" ")[0]


@dataclass
class PoseData:
    """A dataset in memory. Nested dicts are keyed ``[subject][action]``.

    positions_3d: (T, J3, 3) world metres in ``layout_3d`` (H36M-17 unless the dataset says
    otherwise).
    keypoints: list per camera of (T, J, 2) pixels in ``layout_2d`` (NaN-free: missing detections
    already interpolated). scores: list per camera of (T, J) in [0, 1] (1 where the file has no
    scores). cameras: one :class:`Camera` per view, per subject. face_3d: (T, 5, 3) world metres,
    COCO's nose, eyes and ears, where the dataset has them (the embedded data), else None.
    action_of: action name -> the category per-action tables pool it under.
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
    # The dataset's rule for the category tables pool an action under (its spec's ``action_of``;
    # :func:`dilpose.datasets.load` sets it, so a loaded PoseData carries its own rule).
    action_of: Callable[[str], str] = field(default=action_category, repr=False, compare=False)

    @property
    def subjects(self) -> list[str]:
        return sorted(self.positions_3d)

    def actions(self, subject: str) -> list[str]:
        self._check_subject(subject)
        return sorted(self.positions_3d[subject])

    def category(self, action: str) -> str:
        """The category tables pool ``action`` under: its dataset's rule (``action_of``)."""
        return self.action_of(action)

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
# Figures and model-ready sequences
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


# --------------------------------------------------------------------------------------------------
# Datasets: their facts, and checks their readers share
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: the facts a reader needs before loading it, and how to load it.

    ``load(seed=..., noise=..., **options) -> PoseData`` reads (or renders) it;
    ``available(**options)`` says whether its files are in place without reading them. Both take the
    keyword ``options`` named here (a data folder, a 2D source, ...); ``seed`` and ``noise`` only
    matter to datasets that simulate their 2D detections.
    """

    name: str  # what configs, the CLI and the notebooks' parameters cells say
    title: str  # one line for tables and figure titles
    source: str  # where its files come from and where to put them
    train_subjects: tuple[str, ...]  # the split of its usual protocol
    test_subjects: tuple[str, ...]
    cameras: int  # views per subject
    fps: float  # frames per second of its 3D and 2D
    layout_2d: sk.Skeleton  # joints of the 2D inputs (with a choice of 2D source: the default's)
    layout_3d: sk.Skeleton  # joints of the 3D ground truth
    credit: str  # licence and acknowledgement to show with results
    load: Callable[..., PoseData]
    available: Callable[..., bool]
    options: tuple[str, ...] = ()  # keyword options load() and available() accept
    calibrated: bool = (
        True  # intrinsics known: the 3D can be projected (reprojection losses, figures)
    )
    action_of: Callable[[str], str] = (
        action_category  # action name -> the category tables pool it under
    )
    table_i: bool = False  # its actions are Human3.6M's: results fill the paper's Table I columns
    # Figures of one clip in every camera; None: the 3D projected through the cameras beside the 2D
    # inputs.
    example_views: Callable[[PoseData, str, str], ExampleViews] | None = None
    # (Config field, load option): the run settings it reads, e.g. ("h36m_2d_source", "source_2d").
    config_options: tuple[tuple[str, str], ...] = ()

    def options_from(self, cfg) -> dict:
        """The load options a :class:`dilpose.config.Config` sets for this dataset."""
        return {option: getattr(cfg, setting) for setting, option in self.config_options}


def files_present(data_dir: str | Path | None, names: list[str]) -> bool:
    """Every file of ``names`` is in ``data_dir`` (default: :func:`paths.user_data_dir`)."""
    data_dir = Path(data_dir) if data_dir is not None else paths.user_data_dir()
    return all((data_dir / f).is_file() for f in names)


def missing_files(name: str, data_dir: Path, files: list[str], origin: str) -> DataError:
    """The error for a dataset whose files are not in ``data_dir``: which files, from where."""
    absent = [f for f in files if not (data_dir / f).is_file()]
    return DataError(
        data_dir, f"dataset {name!r} needs {' and '.join(absent or files)} in {data_dir} ({origin})"
    )


def views_for_mocap(
    path2d: Path, where: str, views: list[np.ndarray], frames: int, cameras: int
) -> list[np.ndarray]:
    """The 2D views of one clip, each cut to the motion capture's ``frames`` as VideoPose3D does (a
    few videos run longer than the capture); a view shorter than the capture, or a camera count
    other than ``cameras``, is a :class:`DataError` naming ``where`` (``subject/action``)."""
    if len(views) != cameras:
        raise DataError(path2d, f"{where}: expected {cameras} cameras, got {len(views)}")
    cut = []
    for c, v in enumerate(views):
        if len(v) < frames:
            raise DataError(
                path2d, f"{where} camera {c}: {len(v)} 2D frames but {frames} 3D frames"
            )
        cut.append(v[:frames])
    return cut
