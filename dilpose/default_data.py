"""The embedded default dataset: real CMU motion capture, converted by the project's own BVH
importer.

``data/cmu_mocap_3d.npz`` (committed, a few MB) is built from the 33 BVH clips in
``../shared/data/mocap`` by :func:`build` (``make data``). It holds, per clip, the 17 H36M joints
and the 5 COCO face points in a Human3.6M-like world frame, at 50 Hz, keyed like VideoPose3D's
``data_3d`` files (subject -> action -> array), but with flat keys so that reading it needs no
pickle:

* ``positions_3d/<subject>/<action>``: (T, 17, 3) float32, world metres, H36M-17 order;
* ``face_3d/<subject>/<action>``: (T, 5, 3) float32, nose, l_eye, r_eye, l_ear, r_ear (COCO 0-4);
* ``labels/<subject>/<action>``: (T,) uint8 index into ``meta['actions']`` (per-frame action label);
* ``meta``: a JSON string: fps, joint names, clip descriptions, source sha256s, acknowledgement.

Subjects are ``cmu02`` ... ``cmu16`` (CMU subject numbers). Actions are ``"<category> <clip>"``,
e.g. ``"walk 16_15"``, so that, as with Human3.6M's ``"Walking 1"``, the part before the space is
the action category used for per-action tables.

World frame: Z up, floor at z = 0 (CMU is Y up: ``(x, y, z)_cmu -> (x, -z, y)``, a proper
rotation). Each subject is rendered through the four cameras of one Human3.6M subject
(:data:`CAMERA_SUBJECT`), and each clip is placed in that capture volume: its mean pelvis position
is moved onto the point nearest to the four optical axes.

The data used in this project was obtained from mocap.cs.cmu.edu. The database was created with
funding from NSF EIA-0196217.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import bvh, npz, paths
from . import skeleton as sk
from .camera import Camera, load_h36m_cameras
from .errors import DataError
from .fileio import save_npz

ACKNOWLEDGEMENT = (
    "The data used in this project was obtained from mocap.cs.cmu.edu. "
    "The database was created with funding from NSF EIA-0196217."
)

#: Coarse action categories (the six of the default data), from the manifest's ``category``.
ACTIONS = ("walk", "run", "jump", "exercise", "sport", "dance")

#: CMU subject -> the Human3.6M subject whose four calibrated cameras film it (7 and 7).
CAMERA_SUBJECT = {
    "cmu02": "S1",
    "cmu05": "S5",
    "cmu06": "S6",
    "cmu09": "S7",
    "cmu10": "S8",
    "cmu13": "S9",
    "cmu16": "S11",
}

#: Split by subject. Test subjects cover walk, run and sport (20 % of the frames); jump, exercise
#: and dance are only performed by training subjects in this small set.
TRAIN_SUBJECTS = ("cmu05", "cmu06", "cmu13", "cmu16")
TEST_SUBJECTS = ("cmu02", "cmu09", "cmu10")

FPS = 50.0  # the paper's (HRI-I's and Human3.6M's) frame rate

# CMU Y-up (x left, y up, z forward) -> Z-up world: a +90 degree rotation about x.
_CMU_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def category_of(manifest_category: str) -> str:
    """Map the manifest's free-text ``category`` (e.g. ``"walk + turn"``) to one of
    :data:`ACTIONS`."""
    c = manifest_category.strip().lower()
    if c.startswith("multi"):
        return "exercise"
    if c.startswith("sport"):
        return "sport"
    for action in ("walk", "run", "jump", "dance"):
        if c.startswith(action):
            return action
    raise DataError("MANIFEST.csv", f"unknown clip category {manifest_category!r}")


def volume_centre(cameras: list[Camera]) -> np.ndarray:
    """The point (3,) nearest, in least squares, to all cameras' optical axes: where they all
    look."""
    A, b = np.zeros((3, 3)), np.zeros(3)
    for cam in cameras:
        d = cam.optical_axis()
        P = np.eye(3) - np.outer(d, d)  # projector onto the plane normal to the axis
        A += P
        b += P @ cam.position()
    return np.linalg.solve(A, b)


def read_manifest(mocap_dir: Path) -> list[dict]:
    path = mocap_dir / "MANIFEST.csv"
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise DataError(path, f"cannot read manifest: {e}") from e
    need = {"file", "subject", "trial", "description", "category", "fps", "bvh_sha256"}
    if not rows or not need <= set(rows[0]):
        raise DataError(path, f"manifest must have columns {sorted(need)}")
    return rows


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build(mocap_dir: str | Path | None = None, out_path: str | Path | None = None) -> Path:
    """Convert the BVH clips listed in ``MANIFEST.csv`` into the default dataset file.

    Checks each clip's sha256 against the manifest, runs the BVH importer (forward kinematics,
    metres, 120 -> 50 Hz interpolation, CMU -> H36M-17 + face points), rotates to Z-up and places
    the clip in its camera subject's capture volume. Written atomically.
    """
    mocap_dir = Path(mocap_dir) if mocap_dir is not None else paths.mocap_dir()
    if mocap_dir is None:
        raise DataError(
            "../shared/data/mocap",
            "raw motion capture not found; the committed "
            f"{paths.DEFAULT_DATASET.name} is used instead",
        )
    out_path = Path(out_path) if out_path is not None else paths.DEFAULT_DATASET
    cameras = load_h36m_cameras()
    arrays: dict[str, np.ndarray] = {}
    clips = []
    for row in read_manifest(mocap_dir):
        bvh_path = mocap_dir / row["file"]
        if not bvh_path.is_file():
            raise DataError(bvh_path, "listed in MANIFEST.csv but missing")
        digest = _sha256(bvh_path)
        if digest != row["bvh_sha256"]:
            raise DataError(
                bvh_path, f"sha256 {digest} differs from the manifest's {row['bvh_sha256']}"
            )
        clip = bvh.load_cmu_clip(bvh_path, target_hz=FPS, unit_to_m=bvh.CMU_UNIT_TO_M)
        subject = f"cmu{int(row['subject']):02d}"
        clip_id = Path(row["file"]).stem
        category = category_of(row["category"])
        action = f"{category} {clip_id}"
        h36m = clip["h36m"] @ _CMU_TO_WORLD.T
        face = clip["face"] @ _CMU_TO_WORLD.T
        centre = volume_centre(cameras[CAMERA_SUBJECT[subject]])
        shift = np.array([centre[0], centre[1], 0.0]) - np.array([*h36m[:, 0, :2].mean(0), 0.0])
        key = f"{subject}/{action}"
        arrays[f"positions_3d/{key}"] = (h36m + shift).astype(np.float32)
        arrays[f"face_3d/{key}"] = (face + shift).astype(np.float32)
        arrays[f"labels/{key}"] = np.full(len(h36m), ACTIONS.index(category), dtype=np.uint8)
        clips.append(
            {
                "subject": subject,
                "action": action,
                "clip": clip_id,
                "category": category,
                "manifest_category": row["category"],
                "description": row["description"],
                "frames": int(len(h36m)),
                "source_frames": int(row["frames"]),
                "source_fps": float(row["fps"]),
                "bvh_sha256": digest,
                "camera_subject": CAMERA_SUBJECT[subject],
            }
        )
    meta = {
        "name": "cmu",
        "fps": FPS,
        "units": "metres",
        "world": "Z up, floor z=0",
        "joints_3d": "h36m17",
        "face_points": list(sk.FACE_POINTS),
        "actions": list(ACTIONS),
        "camera_subject": CAMERA_SUBJECT,
        "train_subjects": list(TRAIN_SUBJECTS),
        "test_subjects": list(TEST_SUBJECTS),
        "clips": clips,
        "acknowledgement": ACKNOWLEDGEMENT,
        "built_by": "dilpose.default_data.build (BVH -> FK -> 50 Hz -> H36M-17 + face)",
    }
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    return save_npz(out_path, **arrays)


@dataclass
class DefaultData:
    """The loaded default dataset. Nested dicts are ``[subject][action]``; arrays as in the file."""

    positions_3d: dict[str, dict[str, np.ndarray]]  # (T, 17, 3) world metres
    face_3d: dict[str, dict[str, np.ndarray]]  # (T, 5, 3) world metres
    labels: dict[str, dict[str, np.ndarray]]  # (T,) index into meta["actions"]
    meta: dict
    source: Path

    @property
    def subjects(self) -> list[str]:
        return sorted(self.positions_3d)

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


def load(path: str | Path | None = None) -> DefaultData:
    """Read the default dataset (no pickle), checking every array's shape and finiteness."""
    path = Path(path) if path is not None else paths.DEFAULT_DATASET
    if not path.is_file():
        raise DataError(path, "default dataset not found (run `make data` with ../shared present)")
    arrays = npz.load(path)  # plain arrays only; a truncated or forged file is a DataError
    if "meta" not in arrays:
        raise DataError(path, "missing key 'meta'; not a dilpose default dataset")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as e:
        raise DataError(path, f"'meta' is not valid JSON: {e}") from None
    out: dict[str, dict] = {"positions_3d": {}, "face_3d": {}, "labels": {}}
    shapes = {"positions_3d": (17, 3), "face_3d": (5, 3), "labels": ()}
    for key, arr in arrays.items():
        kind, subject, action = (key.split("/", 2) + ["", ""])[:3]
        if kind not in out or not action:
            raise DataError(path, f"unexpected key {key!r}")
        if arr.shape[1:] != shapes[kind]:
            raise DataError(
                path,
                f"{key}: expected shape (T, {', '.join(map(str, shapes[kind]))}), got {arr.shape}",
            )
        if kind != "labels" and not np.isfinite(arr).all():
            raise DataError(path, f"{key}: contains NaN or inf")
        out[kind].setdefault(subject, {})[action] = arr
    for subject, actions in out["positions_3d"].items():
        for action, arr in actions.items():
            for kind in ("face_3d", "labels"):
                other = out[kind].get(subject, {}).get(action)
                if other is None or len(other) != len(arr):
                    raise DataError(
                        path, f"{kind}/{subject}/{action} missing or of a different length"
                    )
    return DefaultData(out["positions_3d"], out["face_3d"], out["labels"], meta, path)


def main() -> None:
    """``python -m dilpose.default_data``: rebuild the committed file from ``../shared``."""
    path = build()
    data = load(path)
    frames = sum(len(a) for s in data.positions_3d.values() for a in s.values())
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): {len(data.subjects)} subjects, "
        f"{len(data.meta['clips'])} clips, {frames} frames at {data.meta['fps']:g} Hz"
    )


if __name__ == "__main__":
    main()
