"""Human3.6M as VideoPose3D prepares it (Ionescu et al., TPAMI 2014; Pavllo et al., CVPR 2019).

Files (not redistributable, so not shipped): ``data_3d_h36m.npz``, written by VideoPose3D's
``data/prepare_data_h36m.py`` from the dataset's own downloads, and ``data_2d_h36m_<source>.npz``,
VideoPose3D's 2D detections (the paper's: ``cpn_ft_h36m_dbb``, CPN on Mask R-CNN boxes; also ``gt``,
``detectron_ft_h36m``, ...). Put them in ``data/`` or in ``$DILPOSE_DATA_DIR``.

Subjects: S1, S5, S6, S7, S8 train, S9 and S11 test (protocol 1); S2-S4 have no camera extrinsics
and are skipped. 3D: 32 joints in the file, the 17 VideoPose3D keeps, world metres. Cameras: 4 per
subject, calibrated (intrinsics and per-subject extrinsics from
``dilpose/resources/h36m_cameras.json``). 50 Hz. Actions are ``"Directions 1"``, ...: the part
before the space is the Table I column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import formats, paths
from .. import skeleton as sk
from ..camera import load_h36m_cameras
from ..errors import DataError
from ..noise import NoiseConfig
from .base import DatasetSpec, PoseData, files_present, missing_files, views_for_mocap

NAME = "h36m"
TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
DEFAULT_SOURCE_2D = "cpn_ft_h36m_dbb"  # the paper's 2D detections
FPS = 50.0


def files(source_2d: str = DEFAULT_SOURCE_2D) -> list[str]:
    return ["data_3d_h36m.npz", f"data_2d_h36m_{source_2d}.npz"]


def available(data_dir: str | Path | None = None, source_2d: str = DEFAULT_SOURCE_2D) -> bool:
    return files_present(data_dir, files(source_2d))


def load(
    seed: int = 0,
    noise: NoiseConfig | None = None,
    data_dir: str | Path | None = None,
    source_2d: str = DEFAULT_SOURCE_2D,
) -> PoseData:
    """Human3.6M from ``data_dir`` (default ``data/``, see :func:`paths.user_data_dir`); a
    :class:`DataError` saying which files to put where when they are missing. ``seed`` and ``noise``
    are unused: the 2D are real detections."""
    data_dir = Path(data_dir) if data_dir is not None else paths.user_data_dir()
    if not available(data_dir, source_2d):
        raise missing_files(
            NAME, data_dir, files(source_2d), "VideoPose3D's files, see DATASETS.md there"
        )
    return read(data_dir, source_2d)


def read(data_dir: str | Path | None = None, source_2d: str = DEFAULT_SOURCE_2D) -> PoseData:
    """Read the two files. As VideoPose3D does, 2D sequences longer than the motion capture are cut
    to its length (a few videos have extra frames); a 2D sequence shorter than the 3D one is an
    error."""
    data_dir = Path(data_dir) if data_dir is not None else paths.user_data_dir()
    path3d, path2d = (data_dir / f for f in files(source_2d))
    positions = formats.load_positions_3d(path3d, "h36m17")
    kps, meta = formats.load_positions_2d(path2d)
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
                raise DataError(
                    path2d, f"{subject}/{action} (in {path3d.name}) has no 2D keypoints"
                )
            cut = views_for_mocap(
                path2d, f"{subject}/{action}", kps[subject][action], len(pos), cameras=4
            )
            keypoints[subject][action] = cut
            scores[subject][action] = [np.ones(v.shape[:2]) for v in cut]
    positions = {s: positions[s] for s in cameras}
    train = tuple(s for s in TRAIN_SUBJECTS if s in positions)
    test = tuple(s for s in TEST_SUBJECTS if s in positions)
    return PoseData(
        NAME,
        sk.get(meta["layout_name"]),
        positions,
        keypoints,
        scores,
        cameras,
        train,
        test,
        fps=FPS,
        info={"source": [str(path3d), str(path2d)], "source_2d": source_2d},
    )


SPEC = DatasetSpec(
    name=NAME,
    title="Human3.6M (VideoPose3D's files)",
    source=(
        "data_3d_h36m.npz and data_2d_h36m_<source>.npz from VideoPose3D's "
        "data/prepare_data_h36m.py and its released 2D detections, in data/ or $DILPOSE_DATA_DIR"
    ),
    train_subjects=TRAIN_SUBJECTS,
    test_subjects=TEST_SUBJECTS,
    cameras=4,
    fps=FPS,
    layout_2d=sk.H36M17,  # cpn_ft_h36m_dbb; the detectron_pt_coco source is COCO-17
    layout_3d=sk.H36M17,
    credit="Human3.6M: Ionescu, Papava, Olaru and Sminchisescu, TPAMI 2014; academic licence from "
    "vision.imar.ro/human3.6m, not redistributed. Preprocessing and 2D detections: VideoPose3D "
    "(Pavllo et al., CVPR 2019).",
    load=load,
    available=available,
    options=("data_dir", "source_2d"),
    table_i=True,
    config_options=(("h36m_2d_source", "source_2d"),),
)
