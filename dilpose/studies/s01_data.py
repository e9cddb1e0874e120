"""Notebook 01's study: tables and metrics that describe a dataset."""

from __future__ import annotations

import numpy as np

from .. import skeleton as sk
from ..dataset import PoseData


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


def example_clip(data: PoseData, frames: int = 300) -> tuple[str, str]:
    """(subject, action) of the test clip whose length is nearest to ``frames`` (first in sorted
    order on a tie): long enough to show motion, short enough for an animated figure."""
    clips = [(s, a) for s in sorted(data.test_subjects) for a in data.actions(s)]
    return min(clips, key=lambda sa: abs(len(data.positions_3d[sa[0]][sa[1]]) - frames))


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
