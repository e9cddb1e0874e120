"""Readers (and writers, for tests and for users' own data) of VideoPose3D's npz file formats.

* ``data_3d_h36m.npz``: ``positions_3d[subject][action]`` (T, 32, 3) world metres; read back as the
  17 H36M joints, keeping the same 17 of 32 that VideoPose3D keeps.
* ``data_2d_h36m_<source>.npz``: ``positions_2d[subject][action][camera]`` (T, 17, 2) pixels, plus
  ``metadata = {layout_name, num_joints, keypoints_symmetry}``.
* ``data_3d_humaneva15.npz`` / ``data_2d_humaneva15_<source>.npz``: the same structure, 15 joints,
  subjects named like ``Train/S1``.
* ``data_2d_custom_<name>.npz``: ``positions_2d[video]['custom'] = [(T, 17, 2)]`` and
  ``metadata.video_metadata[video] = {'w': width, 'h': height}`` (in-the-wild videos).

VideoPose3D stores nested dicts as pickled numpy object arrays. They are read by
:mod:`dilpose.npz`, whose restricted unpickler builds only dicts, lists, strings, numbers and numpy
arrays and refuses anything else, so a crafted file cannot run code. The project's own default
dataset (:mod:`dilpose.datasets.mocap_files`) uses flat keys and needs no pickle at all.

Files written by VideoPose3D's own scripts do not all name their joint layout: ``data_2d_h36m_gt``
(``prepare_data_h36m.py``) and the Stacked-Hourglass files (``prepare_data_2d_h36m_sh.py``) store
only ``num_joints`` and ``keypoints_symmetry``. The layout is then inferred as VideoPose3D's
``suggest_metadata`` does, from the file's source name, and checked against the joint count and the
left/right lists (:func:`infer_layout`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import npz
from . import skeleton as sk
from .errors import DataError
from .fileio import save_npz


def _open_npz(path: str | Path, allow_objects: bool) -> dict[str, Any]:
    """Every array of the file; object members are unpickled by the restricted unpickler only."""
    return npz.load(path, allow_objects=allow_objects)


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
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise DataError(path, f"{where}: expected real numbers, got dtype {arr.dtype}")
    if arr.shape[0] == 0:
        raise DataError(path, f"{where}: has 0 frames")
    if not np.isfinite(arr).all():
        frames = np.unique(np.argwhere(~np.isfinite(arr))[:, 0])
        raise DataError(
            path, f"{where}: NaN or inf in {len(frames)} frame(s), first at frame {frames[0]}"
        )
    return arr.astype(np.float64)


# --------------------------------------------------------------------------------------------------
# 3D
# --------------------------------------------------------------------------------------------------
def load_positions_3d(path: str | Path, layout: str = "h36m17") -> dict[str, dict[str, np.ndarray]]:
    """Read a VideoPose3D ``data_3d_*.npz``: ``{subject: {action: (T, J, 3) world metres}}``.

    layout ``h36m17``: the file holds Human3.6M's 32 joints (or already 17) and the 17 kept by
    VideoPose3D are returned. layout ``humaneva15``: 15 joints.
    """
    skel = sk.get(layout)
    archive = _open_npz(path, allow_objects=True)
    positions = _object(path, archive, "positions_3d")
    out: dict[str, dict[str, np.ndarray]] = {}
    allowed = {32, 17} if skel is sk.H36M17 else {skel.num_joints}
    for subject, actions in positions.items():
        if not isinstance(actions, dict):
            raise DataError(path, f"positions_3d[{subject!r}] should be a dict of actions")
        out[subject] = {}
        for action, arr in actions.items():
            where = f"positions_3d[{subject!r}][{action!r}]"
            if not isinstance(arr, np.ndarray):
                raise DataError(path, f"{where}: expected an array, found {type(arr).__name__}")
            if arr.ndim != 3 or arr.shape[1] not in allowed:
                raise DataError(
                    path,
                    f"{where}: expected (T, {' or '.join(map(str, sorted(allowed)))}, 3) "
                    f"for layout {skel.name}, got {arr.shape}",
                )
            arr = _check_array(path, where, arr, arr.shape[1], 3)
            if arr.shape[1] == 32:
                arr = arr[:, list(sk.H36M32_TO_17)]
            out[subject][action] = arr
    if not out:
        raise DataError(path, "positions_3d is empty")
    return out


def save_positions_3d(path: str | Path, positions: dict[str, dict[str, np.ndarray]]) -> Path:
    """Write ``{subject: {action: (T, J, 3)}}`` in VideoPose3D's ``data_3d`` format
    (pickled dict)."""
    return save_npz(path, positions_3d=np.array(positions, dtype=object))


# --------------------------------------------------------------------------------------------------
# 2D
# --------------------------------------------------------------------------------------------------
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
    archive = _open_npz(path, allow_objects=True)
    keypoints = _object(path, archive, "positions_2d")
    metadata = _object(path, archive, "metadata")
    for key in ("num_joints", "keypoints_symmetry"):
        if key not in metadata:
            raise DataError(path, f"metadata is missing {key!r}")
    num_joints, layout, inferred = _check_metadata_2d(path, metadata, expect_layout)
    out, had_scores = _read_views_2d(path, keypoints, num_joints)
    if not out:
        raise DataError(path, "positions_2d is empty")
    metadata = dict(metadata)
    metadata["had_scores"] = had_scores
    metadata["layout_name"] = layout
    metadata["layout_inferred"] = inferred
    return out, metadata


def _check_metadata_2d(path, metadata: dict, expect_layout: str | None) -> tuple[int, str, bool]:
    """A 2D file's metadata checked: ``(num_joints, layout name, whether it was inferred)``."""
    num_joints = metadata["num_joints"]
    if (
        isinstance(num_joints, bool)
        or not isinstance(num_joints, (int, np.integer))
        or not 0 < num_joints < 1000
    ):
        raise DataError(
            path, f"metadata 'num_joints' should be a positive integer, got {num_joints!r}"
        )
    num_joints = int(num_joints)
    sym = metadata["keypoints_symmetry"]
    if (
        not isinstance(sym, (list, tuple, np.ndarray))
        or len(sym) != 2
        or not all(isinstance(side, (list, tuple, np.ndarray)) for side in sym)
        or len(sym[0]) != len(sym[1])
    ):
        raise DataError(path, "keypoints_symmetry must be two lists of equal length (left, right)")
    if "layout_name" in metadata:
        layout = metadata["layout_name"]
        if not isinstance(layout, str):
            raise DataError(
                path, f"metadata 'layout_name' should be a string, got {type(layout).__name__}"
            )
        inferred = False
    else:
        layout, inferred = None, True
    known = {
        "h36m": 17,
        "coco": 17,
        "humaneva15": 15,
        "humaneva": 15,
        "h36m17": 17,
        "coco17": 17,
        "mpii": 16,
        "mpii16": 16,
    }
    if layout in known and known[layout] != num_joints:
        raise DataError(
            path,
            f"metadata says layout {layout!r} with {num_joints} joints; "
            f"that layout has {known[layout]}",
        )
    if not all(_is_index(j, num_joints) for side in sym for j in side):
        raise DataError(
            path,
            f"keypoints_symmetry holds a value that is not a joint index below "
            f"num_joints={num_joints}",
        )
    if layout is None:
        layout = infer_layout(path, num_joints, sym)
    if expect_layout is not None:
        try:
            same = sk.get(layout) is sk.get(expect_layout)
        except DataError as e:  # an unknown layout name: report it against this file
            raise DataError(path, e.problem) from None
        if not same:
            raise DataError(path, f"layout is {layout!r}, expected {expect_layout!r}")
    return num_joints, layout, inferred


def _read_views_2d(path, keypoints: dict, num_joints: int):
    """``positions_2d``'s arrays checked: ``({subject: {action: [(T, J, 2) per camera]}}, whether
    a (x, y, score) array was seen)``."""
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    had_scores = False
    for subject, actions in keypoints.items():
        if not isinstance(actions, dict):
            raise DataError(path, f"positions_2d[{subject!r}] should be a dict of actions")
        out[subject] = {}
        for action, cams in actions.items():
            if isinstance(cams, np.ndarray) and cams.dtype != object and cams.ndim == 3:
                cams = [cams]  # a single view stored without the list
            if not isinstance(cams, (list, tuple)) or not cams:
                raise DataError(
                    path,
                    f"positions_2d[{subject!r}][{action!r}] should be a non-empty list with one "
                    f"(T, {num_joints}, 2) array per camera, found {_describe(cams)}",
                )
            views = []
            for c, arr in enumerate(cams):
                where = f"positions_2d[{subject!r}][{action!r}][camera {c}]"
                if not isinstance(arr, np.ndarray):
                    # VideoPose3D's converters start every action with [None] * 4 and fill the
                    # cameras they find: a None is a camera whose detections were missing.
                    raise DataError(
                        path,
                        f"{where}: no keypoints for this camera (found {_describe(arr)}; "
                        "the converter found no detections file for it)",
                    )
                if arr.ndim == 3 and arr.shape[-1] == 3:  # (x, y, score)
                    had_scores, arr = True, arr[..., :2]
                views.append(_check_array(path, where, arr, num_joints, 2))
            out[subject][action] = views
    return out, had_scores


def _is_index(j, n: int) -> bool:
    return isinstance(j, (int, np.integer)) and not isinstance(j, bool) and 0 <= j < n


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return "None" if value is None else type(value).__name__


# Source-name hints, in the order of VideoPose3D's suggest_metadata (first match wins).
_NAME_HINTS = (
    ("mpii", "mpii16"),
    ("coco", "coco17"),
    ("h36m", "h36m17"),
    ("humaneva15", "humaneva15"),
)


def infer_layout(path: str | Path, num_joints: int, symmetry) -> str:
    """The joint layout of a 2D file whose metadata has no ``layout_name``.

    VideoPose3D's ``prepare_data_h36m.py`` (``data_2d_h36m_gt``) and ``prepare_data_2d_h36m_sh.py``
    (``data_2d_h36m_sh_pt_mpii``, ``..._sh_ft_h36m``) write only ``num_joints`` and
    ``keypoints_symmetry``. The layout is the known one whose joint count and left/right sets match
    those; the file name (``data_2d_<dataset>_<source>``) must not contradict it: a ``gt`` source
    has the dataset's own layout, other sources the layout their name contains, as VideoPose3D's
    ``suggest_metadata`` reads it (the Stacked-Hourglass files are 16-joint MPII whatever their
    name).
    """
    left, right = ({int(j) for j in side} for side in symmetry)
    matches = [
        s
        for s in sk.SKELETONS.values()
        if s.num_joints == num_joints
        and set(s.joints_left) == left
        and set(s.joints_right) == right
    ]
    if not matches:
        raise DataError(
            path,
            f"metadata has no 'layout_name', and no known layout has {num_joints} joints with "
            f"left {sorted(left)} / right {sorted(right)}; known: {sorted(sk.SKELETONS)}",
        )
    layout = matches[0].name
    stem = Path(path).stem.lower()
    parts = stem.split("_", 3)  # data, 2d, dataset, source
    if len(parts) == 4 and parts[:2] == ["data", "2d"]:
        dataset, source = parts[2], parts[3]
        if source == "gt":
            hint = next((v for k, v in _NAME_HINTS if k == dataset), None)
        elif num_joints == 16:
            hint = (
                "mpii16"  # Stacked Hourglass: MPII joints, whatever the fine-tuning set in the name
            )
        else:
            hint = next((v for k, v in _NAME_HINTS if k in source), None)
        if hint is not None and hint != layout:
            raise DataError(
                path,
                f"metadata has no 'layout_name'; the file name suggests {hint!r} but its "
                f"{num_joints} joints and left/right lists are those of {layout!r}",
            )
    return layout


def save_positions_2d(
    path: str | Path, keypoints: dict, layout: str = "coco", video_metadata: dict | None = None
) -> Path:
    """Write ``{subject: {action: [(T, J, 2) per camera]}}`` in VideoPose3D's ``data_2d`` format."""
    skel = sk.get(layout)
    metadata = {
        "layout_name": layout,
        "num_joints": skel.num_joints,
        "keypoints_symmetry": [list(skel.joints_left), list(skel.joints_right)],
    }
    if video_metadata is not None:
        metadata["video_metadata"] = video_metadata
    return save_npz(
        path,
        positions_2d=np.array(keypoints, dtype=object),
        metadata=np.array(metadata, dtype=object),
    )


def load_custom_2d(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read ``data_2d_custom_<name>.npz``.

    Returns ``{video: {'keypoints': (T, J, 2) pixels, 'w': float, 'h': float, 'layout': name}}``;
    ``w``/``h`` are the video's image size in pixels (positive and finite, else an error: a zero
    would divide, a negative one would mirror the normalised keypoints without a word).
    """
    keypoints, metadata = load_positions_2d(path)
    videos = metadata.get("video_metadata")
    if not isinstance(videos, dict):
        raise DataError(path, "metadata is missing 'video_metadata' (per-video resolution)")
    out = {}
    for video, actions in keypoints.items():
        if "custom" not in actions:
            raise DataError(
                path, f"video {video!r} has no 'custom' entry (found {sorted(map(str, actions))})"
            )
        entry = videos.get(video)
        if not isinstance(entry, dict) or not {"w", "h"} <= set(entry):
            raise DataError(
                path, f"video {video!r} has no resolution in metadata['video_metadata']"
            )
        size = {}
        for key, name in (("w", "width"), ("h", "height")):
            v = entry[key]
            if isinstance(v, np.ndarray) and v.shape == ():
                v = v.item()
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float, np.number))
                or not np.isfinite(v)
                or v <= 0
            ):
                raise DataError(
                    path,
                    f"video {video!r}: image {name} {key!r} should be a positive number of "
                    f"pixels, got {v!r}",
                )
            size[key] = float(v)
        out[video] = {
            "keypoints": actions["custom"][0],
            "w": size["w"],
            "h": size["h"],
            "layout": metadata["layout_name"],
        }
    return out
