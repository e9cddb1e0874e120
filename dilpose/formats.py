"""Readers (and writers, for tests and for users' own data) of VideoPose3D's npz file formats.

* ``data_3d_h36m.npz``: ``positions_3d[subject][action]`` (T, 32, 3) world metres; read back as the
  17 H36M joints, keeping the same 17 of 32 that VideoPose3D keeps.
* ``data_2d_h36m_<source>.npz``: ``positions_2d[subject][action][camera]`` (T, 17, 2) pixels, plus
  ``metadata = {layout_name, num_joints, keypoints_symmetry}``.
* ``data_3d_humaneva15.npz`` / ``data_2d_humaneva15_<source>.npz``: the same structure, 15 joints,
  subjects named like ``Train/S1``.
* ``data_2d_custom_<name>.npz``: ``positions_2d[video]['custom'] = [(T, 17, 2)]`` and
  ``metadata.video_metadata[video] = {'w': width, 'h': height}`` (in-the-wild videos).

VideoPose3D stores nested dicts as pickled numpy object arrays, so reading them needs
``allow_pickle=True``: only open such files from sources you trust. The project's own default dataset
(:mod:`dilpose.default_data`) uses flat keys and never needs pickle.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import skeleton as sk
from .errors import DataError
from .fileio import save_npz


def _open_npz(path: str | Path, allow_pickle: bool) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    # np.load with allow_pickle=True would unpickle a non-zip file (raising UnpicklingError, or
    # running a foreign pickle): only zip archives are npz files.
    if not zipfile.is_zipfile(path):
        raise DataError(path, "not a readable npz archive (truncated or foreign file: no zip directory)")
    try:
        with np.load(path, allow_pickle=allow_pickle) as f:
            return {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, EOFError) as e:
        raise DataError(path, f"not a readable npz archive (truncated or foreign file): {e}") from e
    except ValueError as e:
        # np.load raises ValueError for pickles when allow_pickle=False and for non-npy garbage.
        raise DataError(path, f"not a valid npz file: {e}") from e
    except OSError as e:
        raise DataError(path, f"cannot read npz file: {e}") from e


def _object(path, archive: dict, key: str) -> Any:
    """Unwrap a pickled 0-d object array (VideoPose3D's nested dict containers)."""
    if key not in archive:
        raise DataError(path, f"missing key {key!r} (found {sorted(archive)})")
    value = archive[key]
    if isinstance(value, np.ndarray) and value.dtype == object and value.shape == ():
        value = value.item()
    if not isinstance(value, dict):
        raise DataError(path, f"key {key!r} should hold a dict, found {type(value).__name__}")
    return value


def _check_array(path, where: str, arr: Any, num_joints: int, dims: int) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype == object or arr.ndim != 3 or arr.shape[1] != num_joints or arr.shape[2] != dims:
        raise DataError(path, f"{where}: expected shape (T, {num_joints}, {dims}), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise DataError(path, f"{where}: expected numbers, got dtype {arr.dtype}")
    if not np.isfinite(arr).all():
        frames = np.unique(np.argwhere(~np.isfinite(arr))[:, 0])
        raise DataError(path, f"{where}: NaN or inf in {len(frames)} frame(s), first at frame {frames[0]}")
    return arr.astype(np.float64)


# ---------------------------------------------------------------------------------------------------
# 3D
# ---------------------------------------------------------------------------------------------------
def load_positions_3d(path: str | Path, layout: str = "h36m17") -> dict[str, dict[str, np.ndarray]]:
    """Read a VideoPose3D ``data_3d_*.npz``: ``{subject: {action: (T, J, 3) world metres}}``.

    layout ``h36m17``: the file holds Human3.6M's 32 joints (or already 17) and the 17 kept by
    VideoPose3D are returned. layout ``humaneva15``: 15 joints.
    """
    skel = sk.get(layout)
    archive = _open_npz(path, allow_pickle=True)
    positions = _object(path, archive, "positions_3d")
    out: dict[str, dict[str, np.ndarray]] = {}
    allowed = {32, 17} if skel is sk.H36M17 else {skel.num_joints}
    for subject, actions in positions.items():
        if not isinstance(actions, dict):
            raise DataError(path, f"positions_3d[{subject!r}] should be a dict of actions")
        out[subject] = {}
        for action, arr in actions.items():
            arr = np.asarray(arr)
            where = f"positions_3d[{subject!r}][{action!r}]"
            if arr.ndim != 3 or arr.shape[1] not in allowed:
                raise DataError(path, f"{where}: expected (T, {' or '.join(map(str, sorted(allowed)))}, 3) "
                                      f"for layout {skel.name}, got {arr.shape}")
            arr = _check_array(path, where, arr, arr.shape[1], 3)
            if arr.shape[1] == 32:
                arr = arr[:, list(sk.H36M32_TO_17)]
            out[subject][action] = arr
    if not out:
        raise DataError(path, "positions_3d is empty")
    return out


def save_positions_3d(path: str | Path, positions: dict[str, dict[str, np.ndarray]]) -> Path:
    """Write ``{subject: {action: (T, J, 3)}}`` in VideoPose3D's ``data_3d`` format (pickled dict)."""
    return save_npz(path, positions_3d=np.array(positions, dtype=object))


# ---------------------------------------------------------------------------------------------------
# 2D
# ---------------------------------------------------------------------------------------------------
def load_positions_2d(path: str | Path, expect_layout: str | None = None):
    """Read a VideoPose3D ``data_2d_*.npz`` (Human3.6M, HumanEva or custom).

    Returns ``(keypoints, metadata)``: ``keypoints[subject][action]`` is a list with one
    (T, J, 2) pixel array per camera (for custom files the "subject" is the video name and the
    action is ``'custom'``), and ``metadata`` is the file's metadata dict (``layout_name``,
    ``num_joints``, ``keypoints_symmetry``; custom files add ``video_metadata``).
    Detectors that store a confidence as a third value (T, J, 3) are accepted; the confidence is
    dropped by VideoPose3D's convention, so it is dropped here too but reported in the metadata key
    ``had_scores``.
    """
    archive = _open_npz(path, allow_pickle=True)
    keypoints = _object(path, archive, "positions_2d")
    metadata = _object(path, archive, "metadata")
    for key in ("layout_name", "num_joints", "keypoints_symmetry"):
        if key not in metadata:
            raise DataError(path, f"metadata is missing {key!r}")
    num_joints = int(metadata["num_joints"])
    layout = str(metadata["layout_name"])
    if expect_layout is not None:
        try:
            same = sk.get(layout) is sk.get(expect_layout)
        except DataError as e:  # an unknown layout name: report it against this file
            raise DataError(path, e.problem) from None
        if not same:
            raise DataError(path, f"layout is {layout!r}, expected {expect_layout!r}")
    known = {"h36m": 17, "coco": 17, "humaneva15": 15, "humaneva": 15, "h36m17": 17, "coco17": 17}
    if layout in known and known[layout] != num_joints:
        raise DataError(path, f"metadata says layout {layout!r} with {num_joints} joints; "
                              f"that layout has {known[layout]}")
    sym = metadata["keypoints_symmetry"]
    if len(sym) != 2 or len(sym[0]) != len(sym[1]):
        raise DataError(path, "keypoints_symmetry must be two lists of equal length (left, right)")
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    had_scores = False
    for subject, actions in keypoints.items():
        if not isinstance(actions, dict):
            raise DataError(path, f"positions_2d[{subject!r}] should be a dict of actions")
        out[subject] = {}
        for action, cams in actions.items():
            if isinstance(cams, np.ndarray) and cams.dtype != object and cams.ndim == 3:
                cams = [cams]  # a single view stored without the list
            views = []
            for c, arr in enumerate(cams):
                arr = np.asarray(arr)
                if arr.ndim == 3 and arr.shape[-1] == 3:  # (x, y, score)
                    had_scores, arr = True, arr[..., :2]
                views.append(_check_array(path, f"positions_2d[{subject!r}][{action!r}][camera {c}]",
                                          arr, num_joints, 2))
            out[subject][action] = views
    if not out:
        raise DataError(path, "positions_2d is empty")
    metadata = dict(metadata)
    metadata["had_scores"] = had_scores
    return out, metadata


def save_positions_2d(path: str | Path, keypoints: dict, layout: str = "coco",
                      video_metadata: dict | None = None) -> Path:
    """Write ``{subject: {action: [(T, J, 2) per camera]}}`` in VideoPose3D's ``data_2d`` format."""
    skel = sk.get(layout)
    metadata = {"layout_name": layout, "num_joints": skel.num_joints,
                "keypoints_symmetry": [list(skel.joints_left), list(skel.joints_right)]}
    if video_metadata is not None:
        metadata["video_metadata"] = video_metadata
    return save_npz(path, positions_2d=np.array(keypoints, dtype=object),
                    metadata=np.array(metadata, dtype=object))


def load_custom_2d(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read ``data_2d_custom_<name>.npz``: ``{video: {'keypoints': (T, J, 2) pixels, 'w': int, 'h': int}}``."""
    keypoints, metadata = load_positions_2d(path)
    videos = metadata.get("video_metadata")
    if not isinstance(videos, dict):
        raise DataError(path, "metadata is missing 'video_metadata' (per-video resolution)")
    out = {}
    for video, actions in keypoints.items():
        if "custom" not in actions:
            raise DataError(path, f"video {video!r} has no 'custom' entry (found {sorted(actions)})")
        if video not in videos or not {"w", "h"} <= set(videos[video]):
            raise DataError(path, f"video {video!r} has no resolution in metadata['video_metadata']")
        out[video] = {"keypoints": actions["custom"][0], "w": int(videos[video]["w"]),
                      "h": int(videos[video]["h"])}
    return out
