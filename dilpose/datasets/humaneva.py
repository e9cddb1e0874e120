"""HumanEva-I as VideoPose3D prepares it (Sigal, Balan and Black, IJCV 2010).

Files (not redistributable, so not shipped): ``data_3d_humaneva15.npz`` and
``data_2d_humaneva15_<source>.npz``, written by VideoPose3D's ``data/prepare_data_humaneva.py`` from
the dataset's own downloads (``gt``: the ground-truth 2D; ``--convert-2d`` adds detections such as
``detectron_pt_coco``). Put them in ``data/`` or in ``$DILPOSE_DATA_DIR``.

Subjects: S1-S3, each split by frame range into ``Train/Sx`` and ``Validate/Sx``; VideoPose3D's
protocol trains on the ``Train/`` subjects and tests on ``Validate/`` (``Unlabeled/...`` entries of
a 2D file have no 3D and are skipped). Actions are ``"Walking 1 chunk0"``, ... (a take split where
the motion capture drops out); the protocol keeps Walk, Jog and Box (:data:`ACTIONS`, matched by
prefix as VideoPose3D does). 15 joints (:data:`dilpose.skeleton.HUMANEVA15`), 60 Hz, 3 colour
cameras (C1-C3).

Cameras: the calibrations are not in these files. The cameras here are uncalibrated stand-ins: the
videos' 640x480 pixels (to normalise the 2D), identity extrinsics and unknown intrinsics (focal
length 0, so the 9-number intrinsic vector is all zeros). The 3D targets therefore stay the file's
world coordinates (metres), not camera space, and reprojection-based training cannot use this data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import formats, paths
from .. import skeleton as sk
from ..camera import Camera
from ..errors import DataError
from ..noise import NoiseConfig
from .base import DatasetSpec, ExampleViews, PoseData, files_present, missing_files, views_for_mocap

NAME = "humaneva"
TRAIN_SUBJECTS = ("Train/S1", "Train/S2", "Train/S3")
TEST_SUBJECTS = ("Validate/S1", "Validate/S2", "Validate/S3")
#: The actions HumanEva-I records, as VideoPose3D's files begin their names ("Walking 1 chunk0" is
#: Walk).
ALL_ACTIONS = ("Walk", "Jog", "ThrowCatch", "Gestures", "Box")
#: The actions of VideoPose3D's HumanEva protocol.
ACTIONS = ("Walk", "Jog", "Box")
DEFAULT_SOURCE_2D = "gt"
FPS = 60.0
CAMERA_IDS = ("C1", "C2", "C3")
RES_W, RES_H = 640, 480


def files(source_2d: str = DEFAULT_SOURCE_2D) -> list[str]:
    return ["data_3d_humaneva15.npz", f"data_2d_humaneva15_{source_2d}.npz"]


def action_of(action: str) -> str:
    """``"Walking 1 chunk0"`` -> ``"Walk"``, ``"Box 1 chunk2"`` -> ``"Box"``: the first of
    :data:`ALL_ACTIONS` the name starts with (else the part before the first space)."""
    return next((a for a in ALL_ACTIONS if action.startswith(a)), action.split(" ")[0])


def cameras() -> list[Camera]:
    """The three uncalibrated stand-in cameras (see the module docstring)."""
    return [
        Camera(cid, RES_W, RES_H, focal_length=(0.0, 0.0), center=(RES_W / 2, RES_H / 2))
        for cid in CAMERA_IDS
    ]


def available(
    data_dir: str | Path | None = None,
    source_2d: str = DEFAULT_SOURCE_2D,
    actions: tuple[str, ...] | None = ACTIONS,
) -> bool:
    return files_present(data_dir, files(source_2d))


def load(
    seed: int = 0,
    noise: NoiseConfig | None = None,
    data_dir: str | Path | None = None,
    source_2d: str = DEFAULT_SOURCE_2D,
    actions: tuple[str, ...] | None = ACTIONS,
) -> PoseData:
    """HumanEva-I from ``data_dir`` (default ``data/``); the actions whose :func:`action_of` is in
    ``actions`` (None: all five). ``seed`` and ``noise`` are unused: the 2D come from the file.

    2D views longer than the motion capture are cut to it; shorter ones, a missing 2D entry or a
    camera count other than 3 are :class:`DataError`\\ s naming the file and clip.
    """
    data_dir = Path(data_dir) if data_dir is not None else paths.user_data_dir()
    if not available(data_dir, source_2d):
        raise missing_files(
            NAME, data_dir, files(source_2d), "VideoPose3D's prepare_data_humaneva.py writes them"
        )
    path3d, path2d = (data_dir / f for f in files(source_2d))
    positions = formats.load_positions_3d(path3d, "humaneva15")
    kps, meta = formats.load_positions_2d(path2d)
    out3d, keypoints, scores = {}, {}, {}
    for subject, clips in positions.items():
        kept = {a: pos for a, pos in clips.items() if actions is None or action_of(a) in actions}
        if not kept:
            continue
        out3d[subject], keypoints[subject], scores[subject] = kept, {}, {}
        for action, pos in kept.items():
            if action not in kps.get(subject, {}):
                raise DataError(
                    path2d, f"{subject}/{action} (in {path3d.name}) has no 2D keypoints"
                )
            cut = views_for_mocap(
                path2d,
                f"{subject}/{action}",
                kps[subject][action],
                len(pos),
                cameras=len(CAMERA_IDS),
            )
            keypoints[subject][action] = cut
            scores[subject][action] = [np.ones(v.shape[:2]) for v in cut]
    if not out3d:
        raise DataError(path3d, f"no clips of the actions {list(actions or ALL_ACTIONS)}")
    train = tuple(s for s in TRAIN_SUBJECTS if s in out3d)
    test = tuple(s for s in TEST_SUBJECTS if s in out3d)
    return PoseData(
        NAME,
        sk.get(meta["layout_name"]),
        out3d,
        keypoints,
        scores,
        {s: cameras() for s in out3d},
        train,
        test,
        fps=FPS,
        layout_3d=sk.HUMANEVA15,
        action_of=action_of,
        info={
            "source": [str(path3d), str(path2d)],
            "source_2d": source_2d,
            "actions": None if actions is None else list(actions),
            "cameras": "uncalibrated: intrinsics unknown (zeros), 3D in world coordinates",
        },
    )


def example_views(data: PoseData, subject: str, action: str) -> ExampleViews:
    """The file's 2D in each camera, as both the clean and the detected views: without calibrations
    the 3D cannot be projected (with the ``gt`` source the file's 2D are the ground-truth
    projection)."""
    views = list(data.keypoints[subject][action])
    return ExampleViews(data.cameras[subject], views, views, data.layout_2d, data.layout_2d)


SPEC = DatasetSpec(
    name=NAME,
    title="HumanEva-I (VideoPose3D's files; uncalibrated)",
    source="data_3d_humaneva15.npz and data_2d_humaneva15_<source>.npz from VideoPose3D's "
    "data/prepare_data_humaneva.py, in data/ or $DILPOSE_DATA_DIR",
    train_subjects=TRAIN_SUBJECTS,
    test_subjects=TEST_SUBJECTS,
    cameras=len(CAMERA_IDS),
    fps=FPS,
    layout_2d=sk.HUMANEVA15,  # the gt source; detectron_pt_coco is COCO-17
    layout_3d=sk.HUMANEVA15,
    credit=(
        "HumanEva-I: Sigal, Balan and Black, IJCV 2010; research licence from "
        "humaneva.is.tue.mpg.de, not redistributed. Preprocessing: VideoPose3D "
        "(Pavllo et al., CVPR 2019)."
    ),
    load=load,
    available=available,
    options=("data_dir", "source_2d", "actions"),
    calibrated=False,
    action_of=action_of,
    example_views=example_views,
)
