"""The embedded motion capture's importer (``make data``): BVH clips of ``../shared/data`` ->
the committed files :mod:`dilpose.datasets.mocap_files` describes and reads.

:func:`build` reads the three folders' manifests, checks every clip's sha256, runs the project's
own BVH importer (:mod:`dilpose.bvh`: forward kinematics, metres, 120 -> 50 Hz, CMU-style skeleton
-> H36M-17 + face points), and writes ``data/cmu_mocap_3d.npz``, ``data/hdm05_mocap_3d.npz`` and
``data/bvh_example.json``. Run it as ``python -m dilpose.datasets.mocap_import``.

World frame: Z up, floor at z = 0 (the BVH files are Y up: ``(x, y, z) -> (x, -z, y)``, a proper
rotation). Subjects are filmed by the seven Human3.6M camera sets in turn (:func:`camera_sets`), and
each clip is placed in its set's capture volume: its mean pelvis position is moved onto the point
nearest to the four optical axes. The subject split follows a stated rule (:data:`SPLIT_RULE`,
:func:`choose_split`).
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

from .. import bvh, kinematics, paths
from .. import skeleton as sk
from ..camera import Camera, load_h36m_cameras
from ..errors import DataError
from ..fileio import save_npz, sha256, write_text
from .mocap_files import (
    ACTIONS,
    FILES,
    FPS,
    QUANTUM_M,
    load,
    load_bvh_example,
)

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

# BVH Y-up (x left, y up, z forward) -> Z-up world: a +90 degree rotation about x.
_BVH_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

#: Notebook 01's example clip is the test clip nearest to this many frames (6 s: long enough to show
#: motion, short enough for an animated figure; :func:`example_clip`) ...
EXAMPLE_FRAMES = 300
#: ... and its walk-through follows this 50 Hz frame (0.2 s in: the person still stands, which shows
#: the skeleton best). At 120 Hz it is source frame 24 exactly, so forward kinematics of that one
#: BVH frame gives it, with no interpolation between two source frames.
EXAMPLE_FRAME = 10


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
        clip = kinematics.load_cmu_clip(c["path"], target_hz=FPS, unit_to_m=bvh.CMU_UNIT_TO_M)
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
    # The committed file records the module's name at the time it was built
    # (dilpose.default_data, now this module); kept so that a rebuild stays byte-identical.
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
        # the name the committed files record (now mocap_import.build); kept byte-identical
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


def main() -> None:
    """``python -m dilpose.datasets.mocap_import``: rebuild the committed files from
    ``../shared``; a missing folder or a failed checksum ends it with one line naming the file
    (exit status 2)."""
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
