"""The embedded default dataset: real motion capture (CMU and HDM05), converted by the project's
own BVH importer and filmed by Human3.6M's calibrated cameras.

Two committed files, one per source, because the two sources have different terms:

* ``data/cmu_mocap_3d.npz``: the CMU clips of ``../shared/data/mocap`` and
  ``../shared/data/mocap-extended`` (103 clips, 10 subjects; CMU's terms, no resale);
* ``data/hdm05_mocap_3d.npz``: the HDM05 clips of ``../shared/data/hdm05-cuts`` (288 clips,
  5 actors; CC BY-SA 3.0, its credit travels with the file).

:func:`build` (``make data``) makes both; :func:`load` reads both and merges them. Each file holds,
per clip, the 17 H36M joints and the 5 COCO face points in a Human3.6M-like world frame at 50 Hz,
keyed like VideoPose3D's ``data_3d`` files (subject -> action) but with flat keys, so that reading
it needs no pickle:

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

World frame: Z up, floor at z = 0 (the BVH files are Y up: ``(x, y, z) -> (x, -z, y)``, a proper
rotation). Subjects are filmed by the seven Human3.6M camera sets in turn (:func:`camera_sets`), and
each clip is placed in its set's capture volume: its mean pelvis position is moved onto the point
nearest to the four optical axes.

A third, small file, ``data/bvh_example.json``, keeps one BVH frame of notebook 01's example clip
(hierarchy, offsets, channel order and that frame's channel values), so that the notebook can run
the importer's first steps on a fresh clone, where the raw BVH files are absent
(:func:`bvh_example`, :func:`write_bvh_example`, :func:`load_bvh_example`).
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import bvh, npz, paths
from . import skeleton as sk
from .camera import Camera, load_h36m_cameras
from .errors import DataError
from .fileio import save_npz, sha256, write_text

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

#: CMU manifests: the first word of the ``category`` column -> category. ``multi`` clips are CMU
#: subject 13's warm-up routines (jumping jacks, side twists, squats, bending over, jogging).
CMU_CATEGORY = {
    "walk": "walk",
    "run": "run",
    "jump": "jump",
    "dance": "dance",
    "sport": "sport",
    "multi": "exercise",
}
#: HDM05 manifest: ``motion_class`` -> category.
HDM05_CATEGORY = {
    "sneak2StepsLStart": "walk",  # a slow, crouched walk
    "jogLeftCircle4StepsRstart": "run",
    "hopBothLegs1hops": "jump",
    "squat1Reps": "exercise",  # CMU's squats are in its exercise routines too
    "elbowToKnee1RepsLelbowStart": "exercise",
    "rotateArmsBothBackward1Reps": "exercise",
    "kickLFront1Reps": "sport",  # as CMU's soccer kicks
    "throwBasketball": "sport",  # as CMU's basketball
    "grabHighR": "reach",
    "depositFloorR": "floor",
    "lieDownFloor": "floor",
}


@dataclass(frozen=True)
class Source:
    """One folder of ``../shared/data`` and the kind of its manifest, which also names the
    committed file (:data:`FILES`) its clips go to."""

    folder: str  # under ../shared/data
    kind: str  # "cmu" (mocap, mocap-extended: same manifest layout) or "hdm05"


SOURCES = (
    Source("mocap", "cmu"),
    Source("mocap-extended", "cmu"),
    Source("hdm05-cuts", "hdm05"),
)
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
#: The seven Human3.6M subjects whose four calibrated cameras film our subjects, in turn.
CAMERA_SETS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
#: Windows of the paper's main model: a test clip longer than this exercises all of its context.
LONG_CLIP = 243

#: The split rule, as recorded in the data's metadata (:func:`choose_split` implements it).
SPLIT_RULE = (
    "Whole subjects are held out. (1) A category that only one subject performs (CMU dance: cmu05) "
    "stays in training: it cannot be tested on an unseen person without leaving training without "
    "it. (2) Among the subsets of the other subjects that hold between a fifth and a quarter of "
    "the frames, include at least one subject of each source, and whose every category is also "
    "performed by a training subject, choose the one that tests the most categories, then holds "
    "the most frames in clips longer than 243 frames (the main model's window), then has the "
    "fewest subjects, then comes first in sorted order."
)
TEST_SHARE = (0.20, 0.25)
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

# BVH Y-up (x left, y up, z forward) -> Z-up world: a +90 degree rotation about x.
_BVH_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

#: Notebook 01's example clip is the test clip nearest to this many frames (6 s: long enough to show
#: motion, short enough for an animated figure; :func:`example_clip`) ...
EXAMPLE_FRAMES = 300
#: ... and its walk-through follows this 50 Hz frame (0.2 s in: the person still stands, which shows
#: the skeleton best). At 120 Hz it is source frame 24 exactly, so forward kinematics of that one
#: BVH frame gives it, with no interpolation between two source frames.
EXAMPLE_FRAME = 10
#: The channel names a BVH file may use (canonical spelling, as :mod:`dilpose.bvh` returns them).
_CHANNELS = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")


def to_world(points: np.ndarray) -> np.ndarray:
    """BVH axes (..., 3) (Y up, rest pose facing +Z) -> the Z-up world frame (..., 3), same unit."""
    return np.asarray(points) @ _BVH_TO_WORLD.T


def placement_shift(pelvis_mean_xy: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The (3,) shift, metres, that moves a clip into its capture volume: its mean pelvis position
    over the clip (``pelvis_mean_xy`` (2,), Z-up world, before placement) onto the volume centre
    (``centre`` (3,), :func:`volume_centre`), horizontally only: the floor stays at z = 0."""
    return np.array([centre[0], centre[1], 0.0]) - np.array([*pelvis_mean_xy, 0.0])


def category_of(label: str, kind: str = "cmu", source: str | Path = "MANIFEST.csv") -> str:
    """Map a manifest's label to one of :data:`ACTIONS`: CMU's free-text ``category`` (e.g.
    ``"walk + turn"``) by its first word (:data:`CMU_CATEGORY`), HDM05's ``motion_class`` by
    :data:`HDM05_CATEGORY`. An unknown label is a :class:`DataError` naming ``source``."""
    if kind == "cmu":
        word = label.strip().lower().replace("(", " ").replace(":", " ").split(" ")[0]
        category = CMU_CATEGORY.get(word)
    elif kind == "hdm05":
        category = HDM05_CATEGORY.get(label.strip())
    else:
        raise DataError(source, f"unknown source kind {kind!r}")
    if category is None:
        raise DataError(source, f"unknown clip category {label!r}")
    return category


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


def example_clip(
    lengths: dict[str, dict[str, int]], subjects: Sequence[str], frames: int = EXAMPLE_FRAMES
) -> tuple[str, str]:
    """(subject, action) of the clip of ``subjects`` whose length (``lengths[subject][action]``,
    frames) is nearest to ``frames``, first in sorted order on a tie: notebook 01's example clip
    when ``subjects`` are the test subjects."""
    clips = [(s, a) for s in sorted(subjects) for a in sorted(lengths.get(s, {}))]
    if not clips:
        raise DataError("example_clip", f"no clips for the subjects {list(subjects)}")
    return min(clips, key=lambda sa: abs(lengths[sa[0]][sa[1]] - frames))


def camera_sets(subjects: Sequence[str]) -> dict[str, str]:
    """Subject -> the Human3.6M subject whose cameras film it: sorted subjects take
    :data:`CAMERA_SETS` in turn (15 subjects: S1 films three, the others two each)."""
    return {s: CAMERA_SETS[i % len(CAMERA_SETS)] for i, s in enumerate(sorted(subjects))}


def choose_split(clips: list[dict]) -> dict:
    """The subject split of :data:`SPLIT_RULE`, from clip records with ``subject``, ``source``,
    ``category`` and ``frames`` (at 50 Hz). Returns ``{"train": [...], "test": [...], "rule": ...,
    "single_subject_categories": {...}, "test_share": ..., "test_long_clip_frames": ...}``.

    Exhaustive: 15 subjects give at most 2^14 subsets, checked in well under a second.
    """
    subjects = sorted({c["subject"] for c in clips})
    frames = {s: 0 for s in subjects}
    long_frames = {s: 0 for s in subjects}
    performs: dict[str, set[str]] = {s: set() for s in subjects}
    source = {}
    for c in clips:
        s = c["subject"]
        frames[s] += c["frames"]
        long_frames[s] += c["frames"] if c["frames"] > LONG_CLIP else 0
        performs[s].add(c["category"])
        source[s] = c["source"]
    total = sum(frames.values())
    by_category = {a: {s for s in subjects if a in performs[s]} for a in ACTIONS}
    single = {a: sorted(ss)[0] for a, ss in by_category.items() if len(ss) == 1}
    free = [s for s in subjects if s not in single.values()]
    kinds = sorted(set(source.values()))
    best, best_key = None, None
    for k in range(1, len(free) + 1):
        for test in itertools.combinations(free, k):
            share = sum(frames[s] for s in test) / total
            if not TEST_SHARE[0] <= share <= TEST_SHARE[1]:
                continue
            if {source[s] for s in test} != set(kinds):
                continue
            train = [s for s in subjects if s not in test]
            tested = set().union(*(performs[s] for s in test))
            if any(not any(a in performs[s] for s in train) for a in tested):
                continue
            key = (-len(tested), -sum(long_frames[s] for s in test), len(test), test)
            if best_key is None or key < best_key:
                best, best_key = test, key
    if best is None:
        raise DataError("split", f"no subject split satisfies the rule: {SPLIT_RULE}")
    test = sorted(best)
    return {
        "train": [s for s in subjects if s not in test],
        "test": test,
        "rule": SPLIT_RULE,
        "single_subject_categories": single,
        "test_share": round(sum(frames[s] for s in test) / total, 4),
        "test_long_clip_frames": sum(long_frames[s] for s in test),
    }


def _read_csv(path: Path, need: set[str]) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(path, f"cannot read manifest: {e}") from e
    if not rows or not need <= set(rows[0]):
        raise DataError(path, f"manifest must have columns {sorted(need)}")
    return rows


def _check(folder: Path, manifest: Path, name: str, expected: str) -> Path:
    """The file ``name`` of ``folder``, after checking it exists and its sha256 is the
    manifest's."""
    path = folder / name
    if not path.is_file():
        raise DataError(path, f"listed in {manifest} but missing")
    digest = sha256(path)
    if digest != expected:
        raise DataError(path, f"sha256 {digest} differs from the manifest's {expected}")
    return path


def read_manifest(folder: Path, kind: str) -> list[dict]:
    """The clips of one source folder, every checksum of its manifest verified (BVH, and the
    ASF/AMC files they were converted from). Each clip: ``path`` (the BVH), ``subject``, ``clip``,
    ``action``, ``category``, ``label`` (the manifest's), ``description``, ``source_frames``,
    ``source_fps``, ``bvh_sha256``."""
    manifest = folder / "MANIFEST.csv"
    clips = []
    if kind == "cmu":
        need = {"file", "subject", "trial", "description", "category", "frames", "fps"}
        need |= {"bvh_sha256", "original_amc", "amc_sha256", "original_asf", "asf_sha256"}
        checked_asf: set[str] = set()
        for row in _read_csv(manifest, need):
            path = _check(folder, manifest, row["file"], row["bvh_sha256"])
            _check(folder, manifest, row["original_amc"], row["amc_sha256"])
            if row["original_asf"] not in checked_asf:
                _check(folder, manifest, row["original_asf"], row["asf_sha256"])
                checked_asf.add(row["original_asf"])
            category = category_of(row["category"], "cmu", manifest)
            clip = Path(row["file"]).stem
            clips.append(
                {
                    "path": path,
                    "subject": f"cmu{int(row['subject']):02d}",
                    "clip": clip,
                    "action": f"{category} {clip}",
                    "category": category,
                    "label": row["category"],
                    "description": row["description"],
                    "source_frames": int(row["frames"]),
                    "source_fps": float(row["fps"]),
                    "bvh_sha256": row["bvh_sha256"],
                }
            )
    elif kind == "hdm05":
        need = {"file", "actor", "take", "motion_class", "description", "format", "frames"}
        need |= {"fps", "sha256"}
        for row in _read_csv(manifest, need):
            path = _check(folder, manifest, row["file"], row["sha256"])  # ASF, AMC and BVH rows
            if row["format"] != "bvh":
                continue
            category = category_of(row["motion_class"], "hdm05", manifest)
            clips.append(
                {
                    "path": path,
                    "subject": f"hdm_{row['actor']}",
                    "clip": Path(row["file"]).stem,
                    "action": f"{category} {row['motion_class']}_{row['take']}",
                    "category": category,
                    "label": row["motion_class"],
                    "description": row["description"],
                    "source_frames": int(row["frames"]),
                    "source_fps": float(row["fps"]),
                    "bvh_sha256": row["sha256"],
                }
            )
    else:
        raise DataError(manifest, f"unknown source kind {kind!r}")
    return clips


@dataclass
class Converted:
    """The default data before it is written: float64 world metres per clip, and the metadata.

    ``positions[subject][action]`` (T, 17, 3), ``faces`` (T, 5, 3); ``clips`` as in the files'
    metadata, ``split`` and ``camera_subject`` over all subjects."""

    positions: dict[str, dict[str, np.ndarray]]
    faces: dict[str, dict[str, np.ndarray]]
    clips: list[dict]
    split: dict
    camera_subject: dict[str, str]
    folders: dict[str, str]  # folder -> sha256 of its MANIFEST.csv
    example: dict | None = None  # data/bvh_example.json's content (:func:`bvh_example`)


def source_folders(shared_data: str | Path | None = None) -> dict[str, Path]:
    """The three folders of :data:`SOURCES` under ``shared_data`` (default ``../shared/data``);
    a clear error naming the first one that is missing."""
    root = Path(shared_data) if shared_data is not None else paths.shared_data_dir()
    if root is None:
        raise DataError(
            "../shared/data",
            "raw motion capture not found; the committed files in data/ are used instead",
        )
    folders = {}
    for src in SOURCES:
        folder = root / src.folder
        if not (folder / "MANIFEST.csv").is_file():
            raise DataError(
                folder / "MANIFEST.csv",
                "not found: `make data` needs all three "
                f"folders {[s.folder for s in SOURCES]} under {root}",
            )
        folders[src.folder] = folder
    return folders


def convert(shared_data: str | Path | None = None) -> Converted:
    """Read, check and convert every clip of the three source folders (no file is written).

    Each clip: sha256 checked against its manifest, BVH importer (forward kinematics, metres,
    120 -> 50 Hz interpolation, CMU-style skeleton -> H36M-17 + face points), Y-up -> Z-up, then
    moved into its camera set's capture volume.
    """
    folders = source_folders(shared_data)
    found = []
    for src in SOURCES:
        for clip in read_manifest(folders[src.folder], src.kind):
            found.append({**clip, "source": src.kind, "folder": src.folder})
    seen: dict[tuple[str, str], str] = {}
    for c in found:
        key = (c["subject"], c["action"])
        if key in seen:  # e.g. the same CMU take in both CMU folders
            raise DataError(c["path"], f"{c['subject']}/{c['action']} also comes from {seen[key]}")
        seen[key] = str(c["path"])
    cams = load_h36m_cameras()
    camera_subject = camera_sets({c["subject"] for c in found})
    positions: dict[str, dict[str, np.ndarray]] = {}
    faces: dict[str, dict[str, np.ndarray]] = {}
    pelvis_means: dict[tuple[str, str], np.ndarray] = {}  # kept for the example clip's record
    clips = []
    for c in found:
        clip = bvh.load_cmu_clip(c["path"], target_hz=FPS, unit_to_m=bvh.CMU_UNIT_TO_M)
        h36m = to_world(clip["h36m"])
        face = to_world(clip["face"])
        centre = volume_centre(cams[camera_subject[c["subject"]]])
        pelvis_means[c["subject"], c["action"]] = h36m[:, 0, :2].mean(0)
        shift = placement_shift(pelvis_means[c["subject"], c["action"]], centre)
        positions.setdefault(c["subject"], {})[c["action"]] = h36m + shift
        faces.setdefault(c["subject"], {})[c["action"]] = face + shift
        clips.append(
            {
                "subject": c["subject"],
                "action": c["action"],
                "clip": c["clip"],
                "category": c["category"],
                "manifest_label": c["label"],
                "description": c["description"],
                "source": c["source"],
                "folder": c["folder"],
                "frames": int(len(h36m)),
                "source_frames": c["source_frames"],
                "source_fps": c["source_fps"],
                "bvh_sha256": c["bvh_sha256"],
                "camera_subject": camera_subject[c["subject"]],
            }
        )
    split = choose_split(clips)
    manifests = {f: sha256(folders[f] / "MANIFEST.csv") for f in folders}
    lengths = {s: {a: len(p) for a, p in actions.items()} for s, actions in positions.items()}
    key = example_clip(lengths, split["test"])
    record = next(c for c in found if (c["subject"], c["action"]) == key)
    example = bvh_example(
        record["path"],
        {**record, "camera_subject": camera_subject[record["subject"]]},
        pelvis_means[key],
        relative_to=folders[record["folder"]].parent,
    )
    return Converted(positions, faces, clips, split, camera_subject, manifests, example)


def bvh_example(
    path: str | Path,
    clip: dict,
    pelvis_mean_xy: np.ndarray,
    frame: int = EXAMPLE_FRAME,
    relative_to: str | Path | None = None,
) -> dict:
    """The content of ``data/bvh_example.json``: one frame of one BVH clip, everything notebook
    01's walk-through needs to redo the importer's steps for that frame without the raw file.

    path: the BVH file. clip: its record (``subject``, ``action``, ``source`` kind, ``folder``,
    ``bvh_sha256``, ``camera_subject``). pelvis_mean_xy: (2,) metres, the clip's mean pelvis
    position over all its 50 Hz frames in the Z-up world before placement (the one fact that needs
    the whole clip). frame: the 50 Hz frame to keep; it must fall exactly on a source frame.
    relative_to: the folder the recorded ``file`` is relative to (default: the path as given).

    Each joint keeps its name, parent index, OFFSET (file units), channel names and that frame's
    channel values (degrees, file units), in file order.
    """
    path = Path(path)
    motion = bvh.parse_bvh(path)
    exact = frame * motion.fps / FPS
    source_frame = int(round(exact))
    if abs(exact - source_frame) > 1e-9 or not 0 <= source_frame < motion.num_frames:
        raise DataError(
            path,
            f"frame {frame} at {FPS:g} Hz is not one of the {motion.num_frames} frames of the "
            f"{motion.fps:g} Hz file",
        )
    values = motion.motion[source_frame]
    starts = np.cumsum([0] + [len(c) for c in motion.channels])
    joints = [
        {
            "name": name,
            "parent": int(parent),
            "offset": offset.tolist(),
            "channels": list(channels),
            "values": values[start : start + len(channels)].tolist(),
        }
        for name, parent, offset, channels, start in zip(
            motion.joint_names, motion.parents, motion.offsets, motion.channels, starts
        )
    ]
    kind = clip["source"]
    return {
        "about": (
            "One frame of one BVH clip (hierarchy, offsets, channel order, that frame's channel "
            "values): notebook 01's forward-kinematics walk-through. Written by `make data` "
            "(dilpose.default_data.bvh_example); the raw BVH files are never committed."
        ),
        "subject": clip["subject"],
        "action": clip["action"],
        "camera_subject": clip["camera_subject"],
        "source": kind,
        "file": str(path.relative_to(relative_to) if relative_to is not None else path),
        "bvh_sha256": clip["bvh_sha256"],
        "licence": FILES[kind]["licence"],
        "credit": FILES[kind]["credit"],
        "unit_to_m": bvh.CMU_UNIT_TO_M,
        "frame_time": motion.frame_time,
        "source_frames": motion.num_frames,
        "source_frame": source_frame,
        "fps": FPS,
        "frame": frame,
        "pelvis_mean_xy_m": [float(v) for v in pelvis_mean_xy],
        "joints": joints,
    }


def write_bvh_example(example: dict, out_dir: str | Path | None = None) -> Path:
    """Write :func:`bvh_example`'s dict as ``bvh_example.json`` (atomically), one joint per line
    so that a diff shows which joint changed."""
    out_dir = Path(out_dir) if out_dir is not None else paths.DATA_DIR

    def dump(v) -> str:
        return json.dumps(v, ensure_ascii=False, allow_nan=False)

    fields = [f"  {dump(k)}: {dump(v)}" for k, v in example.items() if k != "joints"]
    joints = ",\n".join(f"    {dump(j)}" for j in example["joints"])
    text = "{\n" + ",\n".join([*fields, f'  "joints": [\n{joints}\n  ]']) + "\n}\n"
    return write_text(out_dir / paths.BVH_EXAMPLE.name, text)


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
    try:
        example = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "BVH example not found (`make data` writes it)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(path, f"cannot read the BVH example: {e}") from None
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


def quantize(x: np.ndarray, where: str) -> np.ndarray:
    """World metres (float) -> int16 multiples of :data:`QUANTUM_M`; a position beyond int16's
    +-16.38 m is a :class:`DataError` naming the clip, never a silent wrap-around."""
    q = np.round(np.asarray(x, np.float64) / QUANTUM_M)
    if np.abs(q).max(initial=0) > np.iinfo(np.int16).max:
        raise DataError(
            where,
            f"a position lies {np.abs(x).max():.1f} m from the origin; "
            f"int16 at {QUANTUM_M * 1000} mm holds +-16.38 m",
        )
    return q.astype(np.int16)


def _meta(conv: Converted, kind: str) -> dict:
    return {
        "name": "mocap",
        "source": kind,
        "licence": FILES[kind]["licence"],
        "terms": FILES[kind]["terms"],
        "credit": FILES[kind]["credit"],
        "fps": FPS,
        "units": "int16 multiples of quantum_m metres",
        "quantum_m": QUANTUM_M,
        "world": "Z up, floor z=0",
        "joints_3d": "h36m17",
        "face_points": list(sk.FACE_POINTS),
        "actions": list(ACTIONS),
        "category_tables": {"cmu": CMU_CATEGORY, "hdm05": HDM05_CATEGORY},
        "camera_subject": conv.camera_subject,
        "split": conv.split,
        "manifest_sha256": {
            src.folder: conv.folders[src.folder] for src in SOURCES if src.kind == kind
        },
        "clips": [c for c in conv.clips if c["source"] == kind],
        "built_by": "dilpose.default_data.build (BVH -> FK -> 50 Hz -> H36M-17 + face -> int16)",
    }


def write(conv: Converted, out_dir: str | Path | None = None) -> list[Path]:
    """Write the converted data as one file per source kind (:data:`FILES`), each atomically."""
    out_dir = Path(out_dir) if out_dir is not None else paths.DATA_DIR
    payloads = []
    for kind, spec in FILES.items():  # everything is encoded before the first file is written
        arrays: dict[str, np.ndarray] = {}
        for c in conv.clips:
            if c["source"] != kind:
                continue
            s, a = c["subject"], c["action"]
            key = f"{s}/{a}"
            arrays[f"positions_3d/{key}"] = quantize(conv.positions[s][a], key)
            arrays[f"face_3d/{key}"] = quantize(conv.faces[s][a], key)
            arrays[f"labels/{key}"] = np.full(
                c["frames"], ACTIONS.index(c["category"]), dtype=np.uint8
            )
        arrays["meta"] = np.array(json.dumps(_meta(conv, kind), sort_keys=True, ensure_ascii=False))
        payloads.append((out_dir / spec["file"], arrays))
    return [save_npz(path, **arrays) for path, arrays in payloads]


def build(shared_data: str | Path | None = None, out_dir: str | Path | None = None) -> list[Path]:
    """``make data``: :func:`convert` the three folders, then :func:`write` both files and
    :func:`write_bvh_example` the example frame. Returns the two npz files, then the example."""
    conv = convert(shared_data)
    return [*write(conv, out_dir), write_bvh_example(conv.example, out_dir)]


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
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as e:
        raise DataError(path, f"'meta' is not valid JSON: {e}") from None
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


def main() -> None:
    """``python -m dilpose.default_data``: rebuild the committed files from ``../shared``; a
    missing folder or a failed checksum ends it with one line naming the file (exit status 2)."""
    try:
        written = build()
    except DataError as e:
        print(f"make data: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    npz_files, example = written[:-1], load_bvh_example(written[-1])
    data = load(npz_files)
    frames = sum(len(a) for s in data.positions_3d.values() for a in s.values())
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.2f} MB" for p in npz_files)
    split = data.meta["split"]
    print(
        f"wrote {sizes}: {len(data.subjects)} subjects, {len(data.meta['clips'])} clips, "
        f"{frames} frames at {data.meta['fps']:g} Hz; test {split['test']} "
        f"({100 * split['test_share']:.1f} % of the frames); {written[-1].name}: "
        f"{example['subject']}/{example['action']} frame {example['frame']}"
    )


if __name__ == "__main__":
    main()
