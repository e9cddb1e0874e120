"""The shop format: a smart shop's capture (HRI-I's kind of data) as a folder that this module
reads and checks, documented in ``data/README.md`` ("The shop format").

A shop folder holds::

    manifest.json   what the folder is: format name and version, fps, the action names, the
                    joint layouts, the calibration file's name, and per subject its data file,
                    split and free metadata (height, build, where its motion came from)
    cameras.json    the calibration, with the Human3.6M camera file's fields: ``intrinsics`` (one
                    per camera: id, res_w, res_h, focal_length, center, radial_distortion,
                    tangential_distortion) and ``extrinsics`` (one per camera: orientation, a
                    camera->world quaternion [w, x, y, z], and translation, the camera centre in
                    world millimetres). Every subject is filmed by all of them.
    <subject>.npz   per action key ``<action> <take>`` (``"fetch(stand) 02"``):
                    positions_3d/<key>  (T, 17, 3) world metres, H36M-17, Z up, floor z = 0
                    keypoints_2d/<key>  (C, T, 17, 2) pixels, COCO-17, one slice per camera
                    scores_2d/<key>     (C, T, 17) detector confidences in [0, 1]; 0 = missed
                    labels/<key>        (T,) integer index into the manifest's ``actions``

Every value must be finite (a missed detection is a score of 0, its coordinates are ignored);
:func:`read` refuses anything else with a :class:`~dilpose.errors.DataError` naming the file and
the problem (a missing camera, a wrong joint count, labels of another length than the clip, an
unknown action name, a NaN, ...). :func:`write` writes the format (the simulator
:mod:`dilpose.datasets.shop_sim` uses it). The dataset built on it, which turns a folder into a
PoseData, is :mod:`dilpose.datasets.shop`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import limits, npz
from .. import skeleton as sk
from ..camera import Camera
from ..errors import DataError
from ..fileio import save_npz, write_json
from .base import action_category

NAME = "shop"
FORMAT = "dilpose-shop"
VERSION = 1
MANIFEST = "manifest.json"
#: HRI-I's six scenarios (the paper's names), the default ``actions`` of a manifest.
ACTIONS = ("walk", "hunker", "fetch(stand)", "fetch(hunker)", "hold(stand)", "hold(hunker)")
KINDS = ("positions_3d", "keypoints_2d", "scores_2d", "labels")
SPLITS = ("train", "test")
#: The simulated shop's people and their split (:mod:`dilpose.datasets.shop_sim`): 26 people,
#: every third one tested (8 test, 18 train). Here so that the dataset's facts are known without
#: building it.
SIM_SUBJECTS = tuple(f"p{i:02d}" for i in range(1, 27))
SIM_TEST_SUBJECTS = SIM_SUBJECTS[2::3]
SIM_TRAIN_SUBJECTS = tuple(s for s in SIM_SUBJECTS if s not in SIM_TEST_SUBJECTS)
_INTRINSIC_FIELDS = ("id", "res_w", "res_h", "focal_length", "center", "radial_distortion")
_INTRINSIC_FIELDS += ("tangential_distortion",)
_MANIFEST_FIELDS = ("format", "version", "fps", "actions", "calibration", "subjects")
#: Highest frame rate a manifest may state (high-speed cameras film at 1,000 fps).
MAX_FPS = 10_000.0


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------
def camera_record(cam: Camera) -> tuple[dict, dict]:
    """(intrinsics, extrinsics) of one camera as ``cameras.json`` stores them (translation mm)."""
    intr = {
        "id": cam.id,
        "res_w": int(cam.res_w),
        "res_h": int(cam.res_h),
        "focal_length": [float(v) for v in cam.focal_length],
        "center": [float(v) for v in cam.center],
        "radial_distortion": [float(v) for v in cam.radial_distortion],
        "tangential_distortion": [float(v) for v in cam.tangential_distortion],
        "azimuth": float(cam.azimuth),
    }
    extr = {
        "orientation": [float(v) for v in cam.orientation],
        "translation": [1000.0 * float(v) for v in cam.translation],
    }
    return intr, extr


def write(
    root: str | Path,
    cameras: list[Camera],
    clips: dict[str, dict[str, dict[str, np.ndarray]]],
    subjects: dict[str, dict],
    actions: tuple[str, ...] = ACTIONS,
    fps: float = 50.0,
    about: dict | None = None,
) -> Path:
    """Write a shop folder; returns its manifest's path.

    clips[subject][action key] holds ``positions_3d`` (T, 17, 3), ``keypoints_2d`` (C, T, 17, 2),
    ``scores_2d`` (C, T, 17) and ``labels`` (T,), as in the module docstring. subjects[subject]:
    ``split`` ("train"/"test") and any JSON metadata. about: more manifest fields (title, credit).
    Each file is written atomically; the manifest last, so a folder with a manifest is complete.
    """
    root = Path(root)
    records = [camera_record(c) for c in cameras]
    write_json(
        root / "cameras.json",
        {"intrinsics": [r[0] for r in records], "extrinsics": [r[1] for r in records]},
    )
    manifest_subjects = {}
    for subject, takes in clips.items():
        arrays = {}
        for key, clip in takes.items():
            arrays[f"positions_3d/{key}"] = np.asarray(clip["positions_3d"], np.float32)
            arrays[f"keypoints_2d/{key}"] = np.asarray(clip["keypoints_2d"], np.float32)
            arrays[f"scores_2d/{key}"] = np.asarray(clip["scores_2d"], np.float32)
            arrays[f"labels/{key}"] = np.asarray(clip["labels"], np.uint8)
        save_npz(root / f"{subject}.npz", **arrays)
        manifest_subjects[subject] = {"file": f"{subject}.npz", **subjects[subject]}
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "fps": float(fps),
        "actions": list(actions),
        "joints_3d": sk.H36M17.name,
        "joints_2d": sk.COCO17.name,
        "calibration": "cameras.json",
        **(about or {}),
        "subjects": manifest_subjects,
    }
    return write_json(root / MANIFEST, manifest)


# --------------------------------------------------------------------------------------------------
# Reading and checking
# --------------------------------------------------------------------------------------------------
def _read_json(path: Path, what: str) -> dict:
    obj = limits.read_json(path, what)  # a regular file; size, depth and numbers bounded
    if not isinstance(obj, dict):
        raise DataError(path, f"the {what} must be a JSON object")
    return obj


def _numbers(path: Path, where: str, value, n: int) -> tuple[float, ...]:
    ok = (
        isinstance(value, list)
        and len(value) == n
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )
    if not ok or not np.isfinite(np.asarray(value, float)).all():
        raise DataError(path, f"{where} must be {n} finite numbers, got {limits.shown(value)}")
    return tuple(float(v) for v in value)


def read_cameras(path: str | Path) -> list[Camera]:
    """The cameras of a ``cameras.json`` (Human3.6M's fields, one entry per camera in
    ``intrinsics`` and in ``extrinsics``, translation in mm); a :class:`DataError` naming the file,
    the camera and the field for anything missing, non-finite or mismatched."""
    path = Path(path)
    spec = _read_json(path, "calibration file")
    for key in ("intrinsics", "extrinsics"):
        if not isinstance(spec.get(key), list) or not spec[key]:
            raise DataError(path, f"{key!r} must be a non-empty list, one entry per camera")
    intr, extr = spec["intrinsics"], spec["extrinsics"]
    if len(intr) != len(extr):
        raise DataError(
            path,
            f"{len(intr)} cameras have intrinsics but {len(extr)} have extrinsics: camera "
            f"{min(len(intr), len(extr))} is missing its "
            f"{'extrinsics' if len(intr) > len(extr) else 'intrinsics'}",
        )
    cams = []
    for c, (ci, ce) in enumerate(zip(intr, extr)):
        where = f"camera {c}"
        if not isinstance(ci, dict) or not isinstance(ce, dict):
            raise DataError(path, f"{where}: intrinsics and extrinsics must be JSON objects")
        missing = [k for k in _INTRINSIC_FIELDS if k not in ci]
        missing += [k for k in ("orientation", "translation") if k not in ce]
        if missing:
            raise DataError(path, f"{where}: missing {missing}")
        res = [ci["res_w"], ci["res_h"]]
        if not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= limits.MAX_IMAGE_SIDE
            for v in res
        ):
            raise DataError(
                path,
                f"{where}: res_w and res_h must be integers from 1 to {limits.MAX_IMAGE_SIDE:,} "
                f"pixels, got {limits.shown(res)}",
            )
        focal = _numbers(path, f"{where} focal_length", ci["focal_length"], 2)
        if min(focal) <= 0:  # a zero focal length projects every point to the centre
            raise DataError(path, f"{where}: focal_length must be positive, got {list(focal)}")
        azimuth = ci.get("azimuth", 0.0)
        if not (isinstance(azimuth, (int, float)) and not isinstance(azimuth, bool)) or not (
            math.isfinite(azimuth)
        ):
            raise DataError(path, f"{where}: azimuth must be a finite number")
        q = np.asarray(_numbers(path, f"{where} orientation", ce["orientation"], 4))
        if abs(np.linalg.norm(q) - 1.0) > 1e-3:
            raise DataError(
                path, f"{where}: orientation must be a unit quaternion, got {q.tolist()}"
            )
        cams.append(
            Camera(
                id=str(ci["id"]),
                res_w=res[0],
                res_h=res[1],
                focal_length=focal,
                center=_numbers(path, f"{where} center", ci["center"], 2),
                radial_distortion=_numbers(
                    path, f"{where} radial_distortion", ci["radial_distortion"], 3
                ),
                tangential_distortion=_numbers(
                    path, f"{where} tangential_distortion", ci["tangential_distortion"], 2
                ),
                orientation=tuple(q / np.linalg.norm(q)),
                translation=tuple(
                    np.asarray(_numbers(path, f"{where} translation", ce["translation"], 3))
                    / 1000.0
                ),
                azimuth=float(azimuth),
            )
        )
    return cams


def read_manifest(root: str | Path) -> dict:
    """The checked ``manifest.json`` of a shop folder."""
    path = Path(root) / MANIFEST
    m = _read_json(path, "shop manifest")
    missing = [k for k in _MANIFEST_FIELDS if k not in m]
    if missing:
        raise DataError(path, f"missing {missing}; a shop manifest has {list(_MANIFEST_FIELDS)}")
    if m["format"] != FORMAT or m["version"] != VERSION:
        raise DataError(
            path,
            f"format {limits.shown(m['format'])} version {limits.shown(m['version'])}; this "
            f"reader reads {FORMAT!r} version {VERSION}",
        )
    fps = m["fps"]
    if not (
        isinstance(fps, (int, float)) and not isinstance(fps, bool) and 0 < fps <= MAX_FPS
    ):  # NaN fails the comparison, Infinity the bound
        raise DataError(path, f"fps must be a number in (0, {MAX_FPS:g}], got {limits.shown(fps)}")
    _in_folder(path, "calibration", m["calibration"])
    actions = m["actions"]
    if (
        not isinstance(actions, list)
        or not actions
        or not all(isinstance(a, str) and a and " " not in a and "/" not in a for a in actions)
        or len(set(actions)) != len(actions)
    ):
        raise DataError(
            path, f"actions must be distinct names without spaces, got {limits.shown(actions)}"
        )
    for key, layout in (("joints_3d", sk.H36M17), ("joints_2d", sk.COCO17)):
        if m.get(key, layout.name) != layout.name:
            raise DataError(path, f"{key} must be {layout.name!r}, got {limits.shown(m[key])}")
    subjects = m["subjects"]
    if not isinstance(subjects, dict) or not subjects:
        raise DataError(path, "subjects must be a non-empty object: name -> {file, split, ...}")
    for s, info in subjects.items():
        if not isinstance(info, dict) or not isinstance(info.get("file"), str):
            raise DataError(path, f"subject {limits.shown(s)}: needs a 'file' (its npz)")
        _in_folder(path, f"subject {limits.shown(s)}: file", info["file"])
        if info.get("split") not in SPLITS:
            raise DataError(
                path,
                f"subject {limits.shown(s)}: split must be one of {list(SPLITS)}, got "
                f"{limits.shown(info.get('split'))}",
            )
    return m


def _in_folder(path: Path, what: str, name) -> None:
    """Refuse a file name that leaves the shop folder (``../x``, ``/etc/passwd``, ``..``): a
    manifest names files beside it, and must not make the reader open any other file."""
    if not isinstance(name, str) or name in ("", ".", "..") or Path(name).name != name:
        raise DataError(path, f"{what} {limits.shown(name)} must be a file name in the shop folder")
    if "\\" in name or "\0" in name:  # a Windows separator; a NUL byte that open() refuses
        raise DataError(path, f"{what} {limits.shown(name)} must be a plain file name")


def read_subject(path: str | Path, actions, cameras: int) -> dict[str, dict[str, np.ndarray]]:
    """One subject's npz, checked: ``{action key: {positions_3d, keypoints_2d, scores_2d,
    labels}}`` as float64 (labels int64). ``actions``: the manifest's names; ``cameras``: how many
    views each clip must have."""
    path = Path(path)
    arrays = npz.load(path)
    actions = list(actions)
    clips: dict[str, dict[str, np.ndarray]] = {}
    for name, arr in arrays.items():
        kind, _, key = name.partition("/")
        if kind not in KINDS or not key:
            raise DataError(
                path,
                f"unexpected member {name!r}; members are <kind>/<action key>, kinds {list(KINDS)}",
            )
        clips.setdefault(key, {})[kind] = arr
    if not clips:
        raise DataError(path, "no clips")
    out = {}
    for key, parts in sorted(clips.items()):
        missing = [k for k in KINDS if k not in parts]
        if missing:
            raise DataError(path, f"clip {key!r}: missing {missing}")
        scenario = action_category(key)
        if scenario not in actions:
            raise DataError(
                path, f"clip {key!r}: unknown action {scenario!r}; actions are {actions}"
            )
        out[key] = _check_clip(path, key, parts, len(actions), cameras)
    return out


def _check_clip(path: Path, key: str, parts: dict, n_actions: int, cameras: int) -> dict:
    for kind in KINDS:
        if parts[kind].dtype.kind not in ("f", "i", "u"):
            raise DataError(path, f"{kind}/{key}: numbers expected, got dtype {parts[kind].dtype}")
    pos = parts["positions_3d"]
    if pos.ndim != 3 or pos.shape[1:] != (17, 3) or len(pos) == 0:
        raise DataError(
            path, f"positions_3d/{key}: expected (T, 17, 3) H36M-17 joints, got {pos.shape}"
        )
    T = len(pos)
    kp, sc, lab = parts["keypoints_2d"], parts["scores_2d"], parts["labels"]
    if kp.ndim != 4 or kp.shape[2:] != (17, 2):
        raise DataError(
            path,
            f"keypoints_2d/{key}: expected (cameras, T, 17, 2) COCO-17 keypoints, got {kp.shape}",
        )
    if kp.shape[0] != cameras:
        raise DataError(
            path,
            f"keypoints_2d/{key}: {kp.shape[0]} camera views, but the "
            f"calibration has {cameras} cameras (camera {min(kp.shape[0], cameras)} "
            "is missing)",
        )
    if kp.shape[1] != T:
        raise DataError(path, f"keypoints_2d/{key}: {kp.shape[1]} frames, positions_3d has {T}")
    if sc.shape != kp.shape[:3]:
        raise DataError(path, f"scores_2d/{key}: expected {kp.shape[:3]}, got {sc.shape}")
    if lab.shape != (T,):
        raise DataError(path, f"labels/{key}: {lab.shape} labels for a clip of {T} frames")
    for kind in KINDS:
        bad = ~np.isfinite(parts[kind].astype(np.float64))
        if bad.any():
            first = np.argwhere(bad)[0].tolist()
            raise DataError(
                path,
                f"{kind}/{key}: {int(bad.sum())} non-finite values (NaN/inf), "
                f"first at index {first}",
            )
    if (sc < 0).any() or (sc > 1).any():
        raise DataError(path, f"scores_2d/{key}: confidences must lie in [0, 1]")
    if (lab < 0).any() or (lab >= n_actions).any() or (lab != np.round(lab)).any():
        raise DataError(
            path,
            f"labels/{key}: labels must be integers in [0, {n_actions}), got "
            f"{sorted(set(np.unique(lab).tolist()))[:8]}",
        )
    return {
        "positions_3d": pos.astype(np.float64),
        "keypoints_2d": kp.astype(np.float64),
        "scores_2d": sc.astype(np.float64),
        "labels": lab.astype(np.int64),
    }


def read(root: str | Path, subjects: tuple[str, ...] | None = None) -> dict:
    """Read and check a shop folder: ``{"manifest", "cameras", "clips"}``, clips as
    :func:`read_subject` returns them, keyed ``[subject][action key]`` (only ``subjects`` when
    given)."""
    root = Path(root)
    manifest = read_manifest(root)
    cameras = read_cameras(root / manifest["calibration"])
    chosen = sorted(manifest["subjects"]) if subjects is None else list(subjects)
    unknown = [s for s in chosen if s not in manifest["subjects"]]
    if unknown:
        raise DataError(
            root / MANIFEST,
            f"unknown subjects {unknown}; subjects are {sorted(manifest['subjects'])}",
        )
    clips = {
        s: read_subject(root / manifest["subjects"][s]["file"], manifest["actions"], len(cameras))
        for s in chosen
    }
    return {"manifest": manifest, "cameras": cameras, "clips": clips}
