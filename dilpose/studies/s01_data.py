"""Notebook 01's study: the walk-through of one clip from its BVH file to the detector's 2D output,
and the tables and metrics that describe a dataset.

The walk-through redoes the importer's steps (:mod:`dilpose.datasets.mocap_import`) for one frame
of the example clip, from the frame kept in ``data/bvh_example.json``, so that it runs without the
raw BVH files, and checks the result against the committed data.
"""

from __future__ import annotations

import numpy as np

from .. import datasets as ds
from .. import kinematics
from .. import skeleton as sk
from .. import virtual_cameras as vc
from ..camera import image_coordinates, project_to_2d
from ..datasets import mocap, mocap_files, mocap_import
from ..datasets.base import PoseData, coco_pose_3d
from ..errors import DataError
from ..noise import NoiseConfig, jitter_sigma

#: The walk-through's frame of the example clip (50 Hz;
#: :data:`dilpose.datasets.mocap_import.EXAMPLE_FRAME`).
EXAMPLE_FRAME = mocap_import.EXAMPLE_FRAME
#: Event kinds of the detector-noise model, in the order it applies them (jitter is on every frame).
NOISE_EVENTS = ("outlier", "swapped", "missing")


def frames_table(data: PoseData):
    """pandas table: frames (at the dataset's fps) per subject (rows) and action category
    (columns)."""
    import pandas as pd

    rows = [
        {"subject": s, "action": data.category(a), "frames": len(data.positions_3d[s][a])}
        for s in data.subjects
        for a in data.actions(s)
    ]
    table = pd.DataFrame(rows).pivot_table(
        index="subject", columns="action", values="frames", aggfunc="sum", fill_value=0
    )
    table["total"] = table.sum(1)
    table.loc["total"] = table.sum(0)
    split = {
        s: "train" if s in data.train_subjects else "test" if s in data.test_subjects else "-"
        for s in data.subjects
    }
    table.insert(0, "split", [split.get(s, "") for s in table.index])
    source = data.info.get("subject_source")
    if source:  # the embedded data mixes sources with different terms: say which is which
        table.insert(0, "source", [source.get(s, "") for s in table.index])
    return table


def sources_table(data: PoseData):
    """pandas table, one row per source of the embedded data (CMU, HDM05): subjects, clips, frames
    (50 Hz) in training and test, and the licence; one row for a dataset with a single source."""
    import pandas as pd

    source = data.info.get("subject_source", {})
    rows = {}
    for s in data.subjects:
        kind = source.get(s, data.name)
        row = rows.setdefault(
            kind,
            {
                "subjects": 0,
                "clips": 0,
                "train_frames": 0,
                "test_frames": 0,
                "terms": data.info.get("sources", {}).get(kind, {}).get("terms", ""),
            },
        )
        frames = sum(len(data.positions_3d[s][a]) for a in data.actions(s))
        row["subjects"] += 1
        row["clips"] += len(data.actions(s))
        row["train_frames" if s in data.train_subjects else "test_frames"] += frames
    table = pd.DataFrame(rows).T
    table.index.name = "source"
    return table


def long_test_clips(data: PoseData, window: int = 243):
    """pandas table: the test clips longer than ``window`` frames (the main model's receptive
    field), longest first: only on these does a window see a whole 243-frame context of real
    motion instead of a padded edge."""
    import pandas as pd

    rows = [
        {
            "subject": s,
            "action": a,
            "frames": len(data.positions_3d[s][a]),
            "seconds": round(len(data.positions_3d[s][a]) / data.fps, 1),
        }
        for s in data.test_subjects
        for a in data.actions(s)
        if len(data.positions_3d[s][a]) > window
    ]
    columns = ["subject", "action", "frames", "seconds"]
    return pd.DataFrame(rows, columns=columns).sort_values(
        "frames", ascending=False, ignore_index=True
    )


def example_clip(data: PoseData, frames: int = mocap_import.EXAMPLE_FRAMES) -> tuple[str, str]:
    """(subject, action) of the test clip whose length is nearest to ``frames`` (first in sorted
    order on a tie): long enough to show motion, short enough for an animated figure. The rule is
    :func:`dilpose.datasets.mocap_import.example_clip`'s, which also picks the clip of the BVH
    example."""
    lengths = {
        s: {a: len(data.positions_3d[s][a]) for a in data.actions(s)} for s in data.test_subjects
    }
    return mocap_import.example_clip(lengths, data.test_subjects, frames)


def bone_length_table(data: PoseData):
    """pandas table: median bone length (mm) per subject, H36M-17 bones, from the 3D ground
    truth."""
    import pandas as pd

    per_subject = {}
    for s in data.subjects:
        pos = np.concatenate([data.positions_3d[s][a] for a in data.actions(s)])
        per_subject[s] = {
            k: round(1000 * v, 1) for k, v in sk.bone_lengths(pos, data.layout_3d).items()
        }
    return pd.DataFrame(per_subject)


def camera_table(cameras) -> object:
    """pandas table of one subject's four cameras: intrinsics (px) and centre (m)."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "camera": c.id,
                "res": f"{c.res_w}x{c.res_h}",
                "fx": round(c.focal_length[0], 1),
                "fy": round(c.focal_length[1], 1),
                "cx": round(c.center[0], 1),
                "cy": round(c.center[1], 1),
                "k1": round(c.radial_distortion[0], 4),
                "centre_m": np.round(c.position(), 2).tolist(),
            }
            for c in cameras
        ]
    ).set_index("camera")


def data_metrics(data: PoseData) -> dict:
    """The facts notebook 01 writes to ``reports/metrics/01_data.json``."""
    subjects = {}
    for s in data.subjects:
        subjects[s] = {
            "split": "train"
            if s in data.train_subjects
            else "test"
            if s in data.test_subjects
            else "none",
            "frames": int(sum(len(data.positions_3d[s][a]) for a in data.actions(s))),
            "sequences": len(data.actions(s)),
            "actions": sorted({data.category(a) for a in data.actions(s)}),
            "source": data.info.get("subject_source", {}).get(s, data.name),
        }
    actions: dict[str, int] = {}
    for s in data.subjects:
        for a in data.actions(s):
            actions[data.category(a)] = actions.get(data.category(a), 0) + len(
                data.positions_3d[s][a]
            )
    test_categories = sorted(
        {data.category(a) for s in data.test_subjects for a in data.actions(s)}
    )
    long = long_test_clips(data)
    return {
        "dataset": data.name,
        "fps": data.fps,
        "layout_2d": data.layout_2d.name,
        "layout_3d": data.layout_3d.name,
        "cameras_per_subject": 4,
        "subjects": subjects,
        "actions": dict(sorted(actions.items())),
        "total_frames": int(sum(v["frames"] for v in subjects.values())),
        "clips": int(sum(v["sequences"] for v in subjects.values())),
        "train_subjects": list(data.train_subjects),
        "test_subjects": list(data.test_subjects),
        "train_frames": int(sum(v["frames"] for v in subjects.values() if v["split"] == "train")),
        "test_categories": test_categories,
        "long_test_clips": {
            "window": 243,
            "clips": len(long),
            "frames": int(long["frames"].sum()),
            "list": [f"{r.subject}/{r.action}" for r in long.itertuples()],
        },
        "sources": sources_table(data).to_dict(orient="index"),
        "info": data.info,
    }


def noise_table(noise_stats: dict):
    """pandas table: per-joint mean and max 2D detector error (pixels), COCO-17 order."""
    import pandas as pd

    return pd.DataFrame(
        {
            "mean_px": noise_stats["per_joint_mean_error_px"],
            "max_px": noise_stats["per_joint_max_error_px"],
        }
    ).round(2)


# ------------------------------------------------------------------- one clip through the pipeline


def bvh_walkthrough(data: PoseData, path=None) -> dict | None:
    """The importer's steps redone for one frame of the example clip, from the BVH frame kept in
    ``data/bvh_example.json`` (``path``: another file in that format).

    None when ``data`` has no BVH source: it is not the embedded ``mocap`` data (Human3.6M ships
    joint positions, not a BVH skeleton), or it was loaded without the example's clip. Otherwise a
    dict of:

    * ``example`` (the file's fields), ``motion``: the one-frame :class:`dilpose.bvh.BVHMotion`;
    * ``joints_bvh`` (J, 3) metres, BVH axes (Y up), and ``rotations`` (J, 3, 3): forward
      kinematics of every BVH joint, end sites included; ``joints_world`` (J, 3): the same in the
      Z-up world, before placement;
    * ``h36m_bvh`` (17, 3), ``face_bvh`` (5, 3): the H36M-17 joints and the synthesised face
      points, metres, BVH axes; ``h36m_world``, ``face_world``: the same in the Z-up world, before
      placement;
    * ``centre`` (3,) m, the capture volume's centre; ``axis_miss_m`` (4,), how far each camera's
      optical axis passes from it; ``pelvis_mean_xy`` (2,) m, the clip's mean pelvis position before
      placement; ``shift`` (3,) m; ``placed`` (17, 3) and ``placed_face`` (5, 3) world metres;
    * ``pelvis_track`` (T, 2) m, the placed clip's pelvis on the floor plane (committed data), and
      ``pelvis_before`` (T, 2), the same before the shift;
    * ``committed`` (17, 3) and ``committed_face`` (5, 3): the data's own frame, and ``error_mm``,
      the largest distance between a rebuilt point and its committed twin (storage step 0.5 mm).
    """
    if data.name != mocap.NAME:
        return None
    example = mocap_files.load_bvh_example(path)
    subject, action, frame = example["subject"], example["action"], example["frame"]
    if action not in data.positions_3d.get(subject, {}):
        return None
    source = example["path"]
    filmed_by = data.info.get("camera_subject", {}).get(subject)
    if filmed_by != example["camera_subject"]:
        raise DataError(
            source,
            f"{subject} is filmed by {example['camera_subject']}'s cameras here but by "
            f"{filmed_by}'s in the data: the example is stale (run `make data`)",
        )
    clip = data.positions_3d[subject][action]
    if not 0 <= frame < len(clip):
        raise DataError(source, f"frame {frame} lies beyond the {len(clip)} frames of {action}")
    motion = mocap_files.example_motion(example)
    joints, rotations = kinematics.forward_kinematics(motion, example["unit_to_m"])
    h36m = kinematics.cmu_to_h36m17(joints, motion.joint_names, source=source)[0]
    face = kinematics.cmu_face_points(joints, rotations, motion.joint_names, source=source)[0]
    cams = data.cameras[subject]
    centre = mocap_import.volume_centre(cams)
    pelvis = np.asarray(example["pelvis_mean_xy_m"], dtype=np.float64)
    shift = mocap_import.placement_shift(pelvis, centre)
    h36m_world, face_world = mocap_import.to_world(h36m), mocap_import.to_world(face)
    committed_face = data.face_3d[subject][action][frame]
    placed, placed_face = h36m_world + shift, face_world + shift
    error = np.linalg.norm(
        np.concatenate([placed - clip[frame], placed_face - committed_face]), axis=-1
    ).max()
    return {
        "example": example,
        "subject": subject,
        "action": action,
        "frame": frame,
        "motion": motion,
        "joints_bvh": joints[0],
        "rotations": rotations[0],
        "joints_world": mocap_import.to_world(joints[0]),
        "h36m_bvh": h36m,
        "face_bvh": face,
        "h36m_world": h36m_world,
        "face_world": face_world,
        "cameras": cams,
        "centre": centre,
        "axis_miss_m": np.array([_axis_distance(centre, cam) for cam in cams]),
        "pelvis_mean_xy": pelvis,
        "shift": shift,
        "placed": placed,
        "placed_face": placed_face,
        "pelvis_track": np.asarray(clip[:, 0, :2], dtype=np.float64),
        "pelvis_before": np.asarray(clip[:, 0, :2], dtype=np.float64) - shift[:2],
        "committed": np.asarray(clip[frame], dtype=np.float64),
        "committed_face": np.asarray(committed_face, dtype=np.float64),
        "error_mm": float(1000 * error),
    }


def _axis_distance(point: np.ndarray, cam) -> float:
    """Distance (m) from ``point`` (3,) to the camera's optical axis, a line through its centre."""
    d = cam.optical_axis()
    off = np.asarray(point) - cam.position()
    return float(np.linalg.norm(off - (off @ d) * d))


def no_bvh_note(data: PoseData) -> str:
    """The sentence a notebook prints where the walk-through's BVH steps do not apply."""
    return (
        f"{data.name}: no BVH source here (the dataset ships joint positions, not a BVH skeleton "
        "and its motion), so the BVH steps of the walk-through are skipped."
    )


def bvh_summary(walk: dict) -> str:
    """A few lines on the example's BVH file: which clip and frame, how many joints and channels,
    in which order the channels turn each joint, and the file's unit."""
    ex, motion = walk["example"], walk["motion"]
    ends = sum(not c for c in motion.channels)
    orders = {}
    for name, channels in zip(motion.joint_names, motion.channels):
        if channels:
            orders.setdefault(" ".join(channels), []).append(name)
    lines = [
        f"{walk['subject']} / {walk['action']}: frame {ex['frame']} at {ex['fps']:g} Hz = frame "
        f"{ex['source_frame']} of {ex['source_frames']} of {ex['file']} "
        f"({1 / ex['frame_time']:.0f} Hz; {ex['source']}, {ex['licence']})",
        f"{len(motion.joint_names)} joints ({len(motion.joint_names) - ends} with channels, "
        f"{ends} end sites), {motion.motion.shape[1]} channel values in this frame",
    ]
    for order, names in orders.items():
        who = names[0] if len(names) == 1 else f"{len(names)} joints"
        lines.append(f"  {who}: {order}")
    lines.append(f"one file unit = {1000 * ex['unit_to_m']:.3f} mm")
    return "\n".join(lines)


def bvh_joint_table(walk: dict):
    """pandas table, one row per BVH joint in file order: its parent, OFFSET (mm), channels with
    this frame's values (degrees; positions in file units), and the joint's position from forward
    kinematics (m, BVH axes: Y up)."""
    import pandas as pd

    motion = walk["motion"]
    unit_mm = 1000 * walk["example"]["unit_to_m"]
    rows = []
    for j, joint in enumerate(walk["example"]["joints"]):
        rows.append(
            {
                "joint": joint["name"],
                "parent": motion.joint_names[joint["parent"]] if joint["parent"] >= 0 else "-",
                "offset_mm": np.round(np.asarray(joint["offset"]) * unit_mm, 1).tolist(),
                "channels": " ".join(
                    f"{c[0]}{c[1:4]}={v:g}" for c, v in zip(joint["channels"], joint["values"])
                ),
                "fk_position_m": np.round(walk["joints_bvh"][j], 3).tolist(),
            }
        )
    return pd.DataFrame(rows).rename_axis("#")


def mapping_table():
    """pandas table, rows 0-16: which BVH joint becomes each H36M-17 joint, and where each COCO-17
    joint comes from (the 12 body joints are H36M joints; the 5 face points are synthesised from
    the head segment, since BVH skeletons have no face)."""
    import pandas as pd

    # Ask the importer itself: joints numbered 0-16 and face points 100-104 go through it.
    numbered = np.broadcast_to(np.arange(17.0)[None, :, None], (1, 17, 3))
    face = np.broadcast_to(100.0 + np.arange(5.0)[None, :, None], (1, 5, 3))
    source = kinematics.cmu_to_coco17(numbered, face)[0, :, 0].astype(int)
    coco_from = []
    for k in source:
        if k >= 100:
            a, b, c = sk.FACE_POINT_OFFSETS[k - 100]
            coco_from.append(f"face: Head + h({a:+.2f} up, {b:+.2f} fwd, {c:+.2f} left)")
        else:
            coco_from.append(f"H36M {k} {sk.H36M17.joint_names[k]} ({kinematics.CMU_TO_H36M[k]})")
    return pd.DataFrame(
        {
            "H36M-17": sk.H36M17.joint_names,
            "from BVH": kinematics.CMU_TO_H36M,
            "COCO-17": sk.COCO17.joint_names,
            "from": coco_from,
        }
    ).rename_axis("#")


def placement_summary(walk: dict) -> str:
    """The placement step in numbers: the volume centre and how close the optical axes pass to it,
    the clip's mean pelvis position, the shift, and the rebuilt frame against the committed one."""
    c, p, s = walk["centre"], walk["pelvis_mean_xy"], walk["shift"]
    miss = walk["axis_miss_m"]
    return "\n".join(
        [
            f"volume centre (nearest point to the {len(miss)} optical axes): "
            f"x {c[0]:.3f}, y {c[1]:.3f}, z {c[2]:.3f} m; the axes pass "
            f"{miss.min():.2f}-{miss.max():.2f} m from it",
            f"the clip's mean pelvis position before placement: x {p[0]:.3f}, y {p[1]:.3f} m",
            f"shift applied to every frame: x {s[0]:+.3f}, y {s[1]:+.3f}, z {s[2]:+.3f} m",
            f"frame {walk['frame']} rebuilt from the BVH frame vs the committed data: "
            f"largest distance {walk['error_mm']:.2f} mm (the files store 0.5 mm steps)",
        ]
    )


def distort_pixels(cam, uv: np.ndarray) -> np.ndarray:
    """Where lens distortion moves the ideal pinhole pixel positions ``uv`` (..., 2) of ``cam``:
    (..., 2) pixels (the ray through each pixel, distorted as :meth:`Camera.project` does)."""
    f, c = np.asarray(cam.focal_length), np.asarray(cam.center)
    xy = (np.asarray(uv, dtype=np.float64) - c) / f
    rays = np.concatenate([xy, np.ones(xy.shape[:-1] + (1,))], -1)
    return image_coordinates(project_to_2d(rays, cam.intrinsic_vector()), cam.res_w, cam.res_h)


def projection_step(data: PoseData, subject: str, action: str, frame: int, camera: int) -> dict:
    """One frame projected by one camera with and without lens distortion.

    Returns ``camera`` (the :class:`Camera`), ``layout`` (COCO-17 where the dataset has face
    points, else its 3D layout), ``pinhole`` and ``distorted`` (J, 2) pixels, ``shift_px`` (J,)
    how far the distortion moves each joint, and ``field``: ``(pinhole, distorted)`` (81, 2)
    pixels on a 9 x 9 grid over the whole image (:func:`distort_pixels`)."""
    data._check(subject, action)
    cam = data.cameras[subject][camera]
    coco = coco_pose_3d(data, subject, action)
    layout = sk.COCO17 if coco is not None else data.layout_3d
    pose = (coco if coco is not None else data.positions_3d[subject][action])[frame]
    pinhole, distorted = cam.project_linear(pose), cam.project(pose)
    u, v = np.meshgrid(np.linspace(0, cam.res_w, 9), np.linspace(0, cam.res_h, 9))
    grid = np.stack([u.ravel(), v.ravel()], -1)
    return {
        "camera": cam,
        "index": camera,
        "layout": layout,
        "pinhole": pinhole,
        "distorted": distorted,
        "shift_px": np.linalg.norm(distorted - pinhole, axis=-1),
        "field": (grid, distort_pixels(cam, grid)),
    }


def distortion_table(data: PoseData, subject: str, action: str, frame: int):
    """pandas table, one row per camera: its distortion coefficients and how many pixels the
    distortion moves the clip's joints (mean and max at ``frame``, max over the clip) and the
    image's corners (where it is largest)."""
    import pandas as pd

    coco = coco_pose_3d(data, subject, action)
    clip = coco if coco is not None else data.positions_3d[subject][action]
    rows = []
    for c, cam in enumerate(data.cameras[subject]):
        moved = np.linalg.norm(cam.project(clip) - cam.project_linear(clip), axis=-1)
        corners = np.array([[0, 0], [cam.res_w, 0], [0, cam.res_h], [cam.res_w, cam.res_h]])
        rows.append(
            {
                "camera": f"{c} ({cam.id})",
                "k1": round(cam.radial_distortion[0], 3),
                "k2": round(cam.radial_distortion[1], 3),
                "p1": round(cam.tangential_distortion[0], 4),
                "p2": round(cam.tangential_distortion[1], 4),
                "frame_mean_px": round(float(moved[frame].mean()), 2),
                "frame_max_px": round(float(moved[frame].max()), 2),
                "clip_max_px": round(float(moved.max()), 2),
                "corner_px": round(
                    float(np.linalg.norm(distort_pixels(cam, corners) - corners, axis=-1).max()), 1
                ),
            }
        )
    return pd.DataFrame(rows).set_index("camera")


def noise_trace(data: PoseData, subject: str, action: str, camera: int, joint: str) -> dict | None:
    """One joint's 2D track in one camera, clean and as the detector-noise model outputs it.

    None when ``data`` has no noise model (its 2D inputs come from a real detector, e.g. Human3.6M's
    CPN files). Otherwise: ``clean`` and ``detected`` (T, 2) pixels (detected NaN where missed),
    ``sigma`` (T,) the jitter's standard deviation per axis (px), ``events`` {kind: (T,) bool} for
    :data:`NOISE_EVENTS`, and ``camera``, ``joint``, ``fps``, ``config`` (:class:`NoiseConfig`).
    """
    if data.name != mocap.NAME or not data.info.get("noise"):
        return None
    j = data.layout_2d.index(joint)
    clean, detected, _, events = mocap.detector_views(data, subject, action)[camera]
    config = NoiseConfig(**data.info["noise"])
    return {
        "camera": camera,
        "camera_id": data.cameras[subject][camera].id,
        "joint": joint,
        "fps": data.fps,
        "clean": clean[:, j],
        "detected": detected[:, j],
        "sigma": jitter_sigma(clean, config)[:, j],
        "events": {k: events[k][:, j] for k in NOISE_EVENTS},
        "config": config,
    }


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) frame of every run of True in a (T,) mask."""
    edges = np.diff(np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]]))
    return list(
        zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist())
    )


def noise_event_table(trace: dict):
    """pandas table of a :func:`noise_trace`, event by event: first the jitter (on the frames with
    no other event), then every burst of an outlier, a left/right swap or a miss with its first and
    last frame, its length and the mean 2D error (px) it causes, and what the model does."""
    import pandas as pd

    err = np.linalg.norm(trace["detected"] - trace["clean"], axis=-1)  # NaN where missed
    ev, cfg = trace["events"], trace["config"]
    quiet = ~np.logical_or.reduce([ev[k] for k in NOISE_EVENTS])
    sigma = float(trace["sigma"][quiet].mean()) if quiet.any() else float("nan")
    rows = [
        {
            "event": "jitter",
            "first": None,
            "last": None,
            "frames": int(quiet.sum()),
            "mean_error_px": float(np.nanmean(err[quiet])) if quiet.any() else float("nan"),
            "model": f"AR(1) wobble, rho {cfg.temporal_rho:g}, sigma {sigma:.1f} px per axis",
        }
    ]
    what = {
        "outlier": f"pushed {cfg.outlier_scale:g} sigma one way, low score",
        "swapped": "limb swapped with its left/right twin, confident score",
        "missing": "not detected: NaN, score 0",
    }
    for kind in NOISE_EVENTS:
        for first, last in _runs(ev[kind]):
            burst = err[first : last + 1]
            rows.append(
                {
                    "event": kind,
                    "first": first,
                    "last": last,
                    "frames": last - first + 1,
                    "mean_error_px": float(np.nanmean(burst)) if np.isfinite(burst).any() else None,
                    "model": what[kind],
                }
            )
    table = pd.DataFrame(rows)
    table["first"] = table["first"].astype("Int64")
    table["last"] = table["last"].astype("Int64")
    table["mean_error_px"] = table["mean_error_px"].astype(float).round(1)
    return table


# --------------------------------------------------------------------------------------------------
# Virtual cameras (section 2.7)
# --------------------------------------------------------------------------------------------------
def camera_distribution_table():
    """pandas table of the virtual cameras' distribution (:class:`dilpose.virtual_cameras.
    CameraDistribution`): each setting and its range."""
    import pandas as pd

    return pd.Series(vc.CameraDistribution().to_dict()).to_frame("range")


def virtual_views(data: PoseData, subject: str, action: str, noise: NoiseConfig | None):
    """The clip through its first four virtual cameras
    (:func:`dilpose.virtual_cameras.example_views`), or None for a dataset without the COCO face
    points that rendering needs (only the embedded data has them)."""
    if data.face_3d is None:
        return None
    return vc.example_views(data, subject, action, noise=noise)


def person_size_table(data: PoseData, subject: str, views: int = 8):
    """pandas table: the 5th, 50th and 95th percentile over ``subject``'s frames of how large one
    metre at the person looks in the model's input (screen units, the image width mapping to 2:
    :func:`dilpose.virtual_cameras.image_scale`), through the dataset's cameras and through
    ``views`` virtual cameras per clip."""
    import pandas as pd

    sizes = {"dataset's cameras": vc.image_scale(ds.sequences(data, (subject,)))}
    if data.face_3d is not None:  # rendering COCO-17 needs the face points (the embedded data)
        seqs = vc.virtual_sequences(data, (subject,), views=views)
        sizes["virtual cameras"] = vc.image_scale(seqs)
    return pd.DataFrame(
        {k: np.percentile(v, [5, 50, 95]) for k, v in sizes.items()},
        index=["5th percentile", "median", "95th percentile"],
    ).round(2)
