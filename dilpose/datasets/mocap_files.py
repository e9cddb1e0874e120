"""The embedded motion capture's files (CMU and HDM05): their format, facts and reader.

Two committed files, one per source, because the two sources have different terms:

* ``data/cmu_mocap_3d.npz``: the CMU clips of ``../shared/data/mocap`` and
  ``../shared/data/mocap-extended`` (103 clips, 10 subjects; CMU's terms, no resale);
* ``data/hdm05_mocap_3d.npz``: the HDM05 clips of ``../shared/data/hdm05-cuts`` (288 clips,
  5 actors; CC BY-SA 3.0, its credit travels with the file).

:mod:`dilpose.datasets.mocap_import` (``make data``) makes both from the BVH files; :func:`load`
reads both and merges them. Each file holds, per clip, the 17 H36M joints and the 5 COCO face points
in a Human3.6M-like world frame at 50 Hz, keyed like VideoPose3D's ``data_3d`` files
(subject -> action) but with flat keys, so that reading it needs no pickle:

* ``positions_3d/<subject>/<action>``: (T, 17, 3) int16, world position in units of
  ``meta["quantum_m"]`` (0.5 mm), H36M-17 order;
* ``face_3d/<subject>/<action>``: (T, 5, 3) int16, same units: nose, l_eye, r_eye, l_ear, r_ear;
* ``labels/<subject>/<action>``: (T,) uint8 index into ``meta["actions"]`` (the category);
* ``meta``: a JSON string: fps, quantum, categories and the table that maps each manifest to them,
  camera sets, the subject split and its rule, every clip's source and sha256, licence and credit.

:func:`load` turns the integers back into float32 metres. Rounding to 0.5 mm moves a coordinate by
at most 0.25 mm and a joint by at most 0.43 mm (sqrt(3) x 0.25); the files shrink from ~32 MB of
float32 to under 10 MB. Why int16 and not float16: float16 has 11 bits of mantissa, so at 4 m from
the origin its step is 2 mm; int16 has the same step everywhere.

Subjects are ``cmu01`` ... ``cmu35`` (CMU subject numbers; one number in both CMU folders is one
subject) and ``hdm_bd`` ... ``hdm_tr`` (HDM05 actors). Actions are ``"<category> <clip>"``
(``"walk 16_15"``, ``"floor depositFloorR_001"``): as with Human3.6M's ``"Walking 1"``, the part
before the space is the category used for per-action tables (:data:`ACTIONS`).

A third, small file, ``data/bvh_example.json``, keeps one BVH frame of notebook 01's example clip
(hierarchy, offsets, channel order and that frame's channel values), so that the notebook can run
the importer's first steps on a fresh clone, where the raw BVH files are absent
(:func:`load_bvh_example`, :func:`example_motion`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import bvh, limits, npz, paths
from ..errors import DataError

CMU_CREDIT = (
    "The data used in this project was obtained from mocap.cs.cmu.edu. "
    "The database was created with funding from NSF EIA-0196217."
)
CMU_TERMS = (
    "CMU: free for research and in commercially sold products, but the data may not be resold "
    "directly, even in converted form."
)
HDM05_CREDIT = (
    "The data used in this project was obtained from HDM05. M. Müller, T. Röder, M. Clausen, "
    "B. Eberhardt, B. Krüger, A. Weber: Documentation Mocap Database HDM05. Technical report "
    "CG-2007-2, Universität Bonn, June 2007. Licensed under CC BY-SA 3.0."
)
HDM05_TERMS = (
    "CC BY-SA 3.0 (https://creativecommons.org/licenses/by-sa/3.0/): derived data keeps the credit "
    "and the same licence. Changes: BVH -> forward kinematics -> 50 Hz -> H36M-17 joints and face "
    "points, placed in Human3.6M's capture volume, rounded to 0.5 mm."
)
#: Both credits, as results that use the default data show them.
ACKNOWLEDGEMENT = f"{CMU_CREDIT} {HDM05_CREDIT}"

#: The action categories, in label order: CMU's six, then what HDM05 adds (reaching up, and
#: crouching/floor work: putting an object on the floor, lying down).
ACTIONS = ("walk", "run", "jump", "exercise", "sport", "dance", "reach", "floor")

#: The committed files, by source kind, with their terms and credit.
FILES = {
    "cmu": {
        "file": paths.DEFAULT_DATA_FILES[0].name,
        "licence": "CMU terms (free use, no resale)",
        "terms": CMU_TERMS,
        "credit": CMU_CREDIT,
    },
    "hdm05": {
        "file": paths.DEFAULT_DATA_FILES[1].name,
        "licence": "CC BY-SA 3.0",
        "terms": HDM05_TERMS,
        "credit": HDM05_CREDIT,
    },
}

FPS = 50.0  # the paper's (HRI-I's and Human3.6M's) frame rate
QUANTUM_M = 0.0005  # stored positions are multiples of 0.5 mm (int16: +-16.38 m)

#: The split :func:`choose_split` makes of the committed data (recorded in its metadata; a test
#: checks that the two agree). Here so that the dataset's facts are known without reading a file.
TRAIN_SUBJECTS = (
    "cmu02",
    "cmu05",
    "cmu10",
    "cmu11",
    "cmu16",
    "cmu35",
    "hdm_bd",
    "hdm_bk",
    "hdm_dg",
    "hdm_tr",
)
TEST_SUBJECTS = ("cmu01", "cmu06", "cmu09", "cmu13", "hdm_mm")

#: The channel names a BVH file may use (canonical spelling, as :mod:`dilpose.bvh` returns them).
_CHANNELS = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")


def _finite_numbers(v, n: int | None = None) -> bool:
    ok = isinstance(v, list) and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in v
    )
    return ok and (n is None or len(v) == n) and bool(np.isfinite(np.asarray(v, float)).all())


def load_bvh_example(path: str | Path | None = None) -> dict:
    """Read ``data/bvh_example.json`` (default) and check it: every field :func:`bvh_example`
    writes, parents that precede their children, three finite numbers per OFFSET, known channel
    names and one finite value per channel. A problem is a :class:`DataError` naming the file."""
    path = Path(path) if path is not None else paths.BVH_EXAMPLE
    if not path.exists():
        raise DataError(path, "BVH example not found (`make data` writes it)")
    example = limits.read_json(path, "BVH example")  # a regular file; size, depth, numbers bounded
    need = ("subject", "action", "camera_subject", "unit_to_m", "frame_time", "frame")
    need += ("source_frame", "pelvis_mean_xy_m", "joints")
    if not isinstance(example, dict) or any(k not in example for k in need):
        raise DataError(path, f"a BVH example is a JSON object with the fields {list(need)}")
    for key in ("unit_to_m", "frame_time"):
        if not (_finite_numbers([example[key]]) and example[key] > 0):
            raise DataError(path, f"{key!r} must be a positive number, got {example[key]!r}")
    if not _finite_numbers(example["pelvis_mean_xy_m"], 2):
        raise DataError(path, "'pelvis_mean_xy_m' must be 2 finite numbers (metres)")
    joints = example["joints"]
    if not isinstance(joints, list) or not joints:
        raise DataError(path, "'joints' must be a non-empty list")
    names: list[str] = []
    for j, joint in enumerate(joints):
        where = f"joint {j}"
        if not isinstance(joint, dict) or not {
            "name",
            "parent",
            "offset",
            "channels",
            "values",
        } <= set(joint):
            raise DataError(path, f"{where}: needs name, parent, offset, channels and values")
        where = f"joint {j} ({joint['name']!r})"
        parent = joint["parent"]
        if not isinstance(parent, int) or not -1 <= parent < j or (parent == -1) != (j == 0):
            raise DataError(
                path, f"{where}: parent {parent!r} must be an earlier joint (-1 for the root only)"
            )
        if not _finite_numbers(joint["offset"], 3):
            raise DataError(path, f"{where}: 'offset' must be 3 finite numbers")
        channels = joint["channels"]
        if not isinstance(channels, list) or any(c not in _CHANNELS for c in channels):
            raise DataError(
                path, f"{where}: unknown channel in {channels!r}; known: {list(_CHANNELS)}"
            )
        if not _finite_numbers(joint["values"], len(channels)):
            raise DataError(
                path, f"{where}: 'values' must be {len(channels)} finite numbers, one per channel"
            )
        if joint["name"] in names:
            raise DataError(path, f"{where}: duplicate joint name")
        names.append(joint["name"])
    return {**example, "path": str(path)}


def example_motion(example: dict) -> bvh.BVHMotion:
    """The one-frame :class:`dilpose.bvh.BVHMotion` of a :func:`load_bvh_example` dict: motion
    (1, C) holds that frame's channel values in file order."""
    joints = example["joints"]
    return bvh.BVHMotion(
        joint_names=[j["name"] for j in joints],
        parents=np.array([j["parent"] for j in joints], dtype=np.int64),
        offsets=np.array([j["offset"] for j in joints], dtype=np.float64).reshape(-1, 3),
        channels=[tuple(j["channels"]) for j in joints],
        motion=np.array([[v for j in joints for v in j["values"]]], dtype=np.float64).reshape(
            1, -1
        ),
        frame_time=float(example["frame_time"]),
        source=example.get("path", str(paths.BVH_EXAMPLE)),
    )


@dataclass
class DefaultData:
    """The loaded default dataset. Nested dicts are ``[subject][action]``; positions float32 metres.

    ``meta`` is the files' metadata merged: ``clips`` of all files, ``sources`` (kind -> file,
    terms, credit), ``acknowledgement`` (every credit), and the keys the files share."""

    positions_3d: dict[str, dict[str, np.ndarray]]  # (T, 17, 3) world metres
    face_3d: dict[str, dict[str, np.ndarray]]  # (T, 5, 3) world metres
    labels: dict[str, dict[str, np.ndarray]]  # (T,) index into meta["actions"]
    meta: dict
    source: Path  # the first file (errors about a clip name it)
    files: tuple[Path, ...] = ()

    @property
    def subjects(self) -> list[str]:
        return sorted(self.positions_3d)

    @property
    def train_subjects(self) -> tuple[str, ...]:
        return tuple(s for s in self.meta["split"]["train"] if s in self.positions_3d)

    @property
    def test_subjects(self) -> tuple[str, ...]:
        return tuple(s for s in self.meta["split"]["test"] if s in self.positions_3d)

    def clip(self, subject: str, action: str) -> np.ndarray:
        """(T, 17, 3) world metres of one clip; a clear error for an unknown subject or action."""
        if subject not in self.positions_3d:
            raise DataError(
                self.source, f"unknown subject {subject!r}; subjects are {self.subjects}"
            )
        if action not in self.positions_3d[subject]:
            raise DataError(
                self.source,
                f"unknown action {action!r} for {subject}; "
                f"actions are {sorted(self.positions_3d[subject])}",
            )
        return self.positions_3d[subject][action]


def default_files() -> tuple[Path, ...]:
    """The committed files, in :data:`FILES` order (:data:`dilpose.paths.DEFAULT_DATA_FILES`)."""
    return paths.DEFAULT_DATA_FILES


#: Metadata keys every file must agree on when several are loaded together.
_SHARED_META = ("fps", "quantum_m", "actions", "world", "joints_3d", "face_points", "split")


def _load_one(path: Path) -> tuple[dict, dict]:
    if not path.is_file():
        raise DataError(path, "default dataset not found (run `make data` with ../shared present)")
    arrays = npz.load(path)  # plain arrays only; a truncated or forged file is a DataError
    if "meta" not in arrays:
        raise DataError(path, "missing key 'meta'; not a dilpose default dataset")
    meta = limits.parse_json(str(arrays.pop("meta")), path, "'meta' member")
    if not isinstance(meta, dict):
        raise DataError(path, "'meta' must be a JSON object")
    missing = [k for k in (*_SHARED_META, "clips", "camera_subject", "credit") if k not in meta]
    if missing:
        raise DataError(path, f"'meta' lacks {missing}")
    quantum = meta["quantum_m"]
    if not (isinstance(quantum, (int, float)) and 0 < quantum < 0.01):
        raise DataError(
            path, f"meta 'quantum_m' must be a positive length in metres, got {quantum!r}"
        )
    out: dict[str, dict] = {"positions_3d": {}, "face_3d": {}, "labels": {}}
    shapes = {"positions_3d": (17, 3), "face_3d": (5, 3), "labels": ()}
    dtypes = {"positions_3d": np.int16, "face_3d": np.int16, "labels": np.uint8}
    for key, arr in arrays.items():
        kind, subject, action = (key.split("/", 2) + ["", ""])[:3]
        if kind not in out or not action:
            raise DataError(path, f"unexpected key {key!r}")
        if arr.shape[1:] != shapes[kind] or arr.ndim != len(shapes[kind]) + 1:
            raise DataError(
                path,
                f"{key}: expected shape (T, {', '.join(map(str, shapes[kind]))}), got {arr.shape}",
            )
        if arr.dtype != dtypes[kind]:
            raise DataError(path, f"{key}: expected {np.dtype(dtypes[kind])}, got {arr.dtype}")
        if kind == "labels":
            if arr.size and arr.max() >= len(meta["actions"]):
                raise DataError(
                    path,
                    f"{key}: label {arr.max()} beyond the {len(meta['actions'])} actions of 'meta'",
                )
        else:
            arr = (arr.astype(np.float64) * quantum).astype(np.float32)
        out[kind].setdefault(subject, {})[action] = arr
    for subject, actions in out["positions_3d"].items():
        for action, arr in actions.items():
            for kind in ("face_3d", "labels"):
                other = out[kind].get(subject, {}).get(action)
                if other is None or len(other) != len(arr):
                    raise DataError(
                        path, f"{kind}/{subject}/{action} missing or of a different length"
                    )
        if subject not in meta["camera_subject"]:
            raise DataError(path, f"subject {subject!r} has no camera set in 'meta'")
    return out, meta


def load(path: str | Path | Sequence[str | Path] | None = None) -> DefaultData:
    """Read the default dataset: the committed CMU and HDM05 files (default), one file, or a list
    of files in this format. No pickle; every array's shape, dtype and range is checked, and files
    loaded together must agree on their shared metadata and hold different subjects."""
    if path is None:
        files = default_files()
    elif isinstance(path, (str, Path)):
        files = (Path(path),)
    else:
        files = tuple(Path(p) for p in path)
    merged: dict[str, dict] = {"positions_3d": {}, "face_3d": {}, "labels": {}}
    meta: dict = {}
    clips, sources, camera_subject = [], {}, {}
    for f in files:
        arrays, m = _load_one(f)
        if meta:
            differ = [k for k in _SHARED_META if m[k] != meta[k]]
            if differ:
                raise DataError(f, f"metadata {differ} differs from {files[0]}'s")
        else:
            meta = {k: m[k] for k in _SHARED_META}
        for subject in arrays["positions_3d"]:
            if subject in merged["positions_3d"]:
                raise DataError(f, f"subject {subject!r} is also in another file")
        for kind in merged:
            merged[kind].update(arrays[kind])
        clips += m["clips"]
        camera_subject.update(m["camera_subject"])
        sources[m.get("source", f.stem)] = {
            "file": f.name,
            "licence": m.get("licence", ""),
            "terms": m.get("terms", ""),
            "credit": m["credit"],
        }
    meta.update(
        clips=clips,
        sources=sources,
        camera_subject=camera_subject,
        acknowledgement=" ".join(s["credit"] for s in sources.values()),
    )
    return DefaultData(
        merged["positions_3d"], merged["face_3d"], merged["labels"], meta, files[0], files
    )
