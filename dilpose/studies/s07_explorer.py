"""Notebook 07's helpers: where to open the explorer, how fast it answers, and a lift result to
open in it.

:func:`worst_test_subject` finds the test subject where the model errs most, from notebook 02's
per-clip errors in ``reports/metrics/02_model.json`` (its main model, frames weighted) or, when
that report is missing or was made on another dataset, by running the shipped model over the
test clips (camera 0).
"""

from __future__ import annotations

import json
import time

import numpy as np

from .. import explorer, explorer_data, lift, paths
from ..datasets.base import PoseData
from ..errors import DataError
from ..fileio import write_json

SEPARATOR = " · "  # how 02_model.json keys its per-clip errors: "subject · action"


def errors_from_reports(data: PoseData) -> tuple[dict[str, dict[str, float]], str] | None:
    """``({subject: {action: MPJPE mm}}, what)`` of the test clips from notebook 02's report (its
    main model), or None when the report is missing, unreadable or about another dataset."""
    path = paths.metrics_dir() / "02_model.json"
    try:
        doc = json.loads(path.read_text())
        main = doc["main"]["name"]
        per_clip = doc["per_clip_mpjpe_mm"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if doc.get("dataset") != data.name:
        return None
    out: dict[str, dict[str, float]] = {}
    for key, row in per_clip.items():
        subject, _, action = key.partition(SEPARATOR)
        if subject in data.test_subjects and main in row:
            out.setdefault(subject, {})[action] = (float(row[main]), int(row["frames"]))
    if not out:
        return None
    return out, f"notebook 02's report ({path.name}), model '{main}'"


def errors_by_prediction(data: PoseData, model: str | None = None):
    """The same by computation: the shipped model (or ``model``, a label of
    :func:`dilpose.explorer_data.model_choices`) on camera 0 of every test clip."""
    choices = explorer_data.model_choices(data.layout_2d, data.layout_3d.num_joints)
    if not choices:
        return None
    label = next((k for k in choices if model is None or model in k), None)
    if label is None:
        raise DataError("model", f"no model {model!r}; models: {list(choices)}")
    preds = explorer_data.Predictions()
    out: dict[str, dict[str, tuple[float, int]]] = {}
    for subject in data.test_subjects:
        for action in data.actions(subject):
            pred = preds.get(choices[label], data, subject, action, 0)
            clip = explorer_data.dataset_clip(data, subject, action, 0, pred, with_2d=False)
            out.setdefault(subject, {})[action] = (float(clip.mpjpe_mm.mean()), len(clip))
    return out, f"the model {label} on camera 0 of every test clip"


def worst_test_subject(data: PoseData) -> dict:
    """The test subject where the model errs most (frame-weighted MPJPE over its clips), its worst
    clip and that clip's worst frame: ``{"subject", "action", "frame", "subject_mpjpe_mm",
    "clip_mpjpe_mm", "source", "per_subject_mm"}``."""
    found = errors_from_reports(data) or errors_by_prediction(data)
    if found is None:
        subject = data.test_subjects[0]
        return {
            "subject": subject,
            "action": data.actions(subject)[0],
            "source": f"no model reads {data.layout_2d.name} input: the first test subject",
            "per_subject_mm": {},
        }
    errors, source = found
    per_subject = {
        s: float(sum(e * n for e, n in clips.values()) / sum(n for _, n in clips.values()))
        for s, clips in errors.items()
    }
    subject = max(per_subject, key=per_subject.get)
    action = max(errors[subject], key=lambda a: errors[subject][a][0])
    return {
        "subject": subject,
        "action": action,
        "subject_mpjpe_mm": round(per_subject[subject], 1),
        "clip_mpjpe_mm": round(errors[subject][action][0], 1),
        "source": source,
        "per_subject_mm": {
            s: round(v, 1) for s, v in sorted(per_subject.items(), key=lambda kv: -kv[1])
        },
    }


def update_latency(ex: explorer.Explorer, moves: int = 50) -> dict:
    """How long the kernel takes to answer a slider move (ms): the explorer's frame is set to
    ``moves`` frames in turn and each update (the traces' new data, in one message) is timed. The
    browser's own drawing comes on top: the browser test measures the whole round trip."""
    start_frame = ex.frame.value
    frames = np.linspace(0, len(ex.clip) - 1, moves).astype(int)
    times = []
    for t in frames:
        t0 = time.perf_counter()
        ex.frame.value = int(t)
        times.append(1000 * (time.perf_counter() - t0))
    ex.frame.value = start_frame
    return {
        "moves": moves,
        "median_ms": round(float(np.median(times)), 2),
        "p95_ms": round(float(np.percentile(times, 95)), 2),
    }


def example_lift() -> tuple:
    """Lift the committed example keypoints (``data/examples/``, one camera of a CMU walk) with the
    shipped model, as ``dilpose lift`` would, into ``reports/explorer/``: returns
    ``(PREFIX.npy, the keypoint file)``."""
    keypoints = paths.DATA_DIR / "examples" / "cmu09_walk_09_12_camera0.json"
    out = paths.reports_dir() / "explorer" / "example_walk_3d"
    out.parent.mkdir(parents=True, exist_ok=True)
    # The example's camera (Human3.6M's 54138969) films 1000 x 1002 pixels; the file does not say.
    summary = lift.lift_file(keypoints, output=out)  # the file records its image size
    return summary["npy"], keypoints


def short_keypoints(frames: int = 20):
    """A copy of the example keypoints cut to its first ``frames`` images (in
    ``reports/explorer/``): a keypoint file that does not belong to the lifted poses, to show how
    the explorer reports one."""
    source = paths.DATA_DIR / "examples" / "cmu09_walk_09_12_camera0.json"
    doc = json.loads(source.read_text())  # a COCO annotations file: images and annotations
    doc["images"] = [im for im in doc["images"] if im["id"] < frames]
    doc["annotations"] = [a for a in doc["annotations"] if a["image_id"] < frames]
    return write_json(paths.reports_dir() / "explorer" / "short_keypoints.json", doc)


def metrics_json(worst: dict, ex: explorer.Explorer, latency: dict) -> dict:
    """The content of ``reports/metrics/07_explorer.json``: where the explorer opened and why, the
    models it offers and the kernel's time per slider move."""
    return {
        "dataset": ex.source.value,
        "opened_on": {
            "subject": ex.subject.value,
            "action": ex.action.value,
            "camera": ex.camera.value,
            "frame": ex.frame.value,
            "model": ex.model.value,
            "frame_mpjpe_mm": None
            if ex.clip.mpjpe_mm is None
            else round(float(ex.clip.mpjpe_mm[ex.frame.value]), 1),
        },
        "worst_test_subject": worst,
        "models_offered": [m for m in ex.model.options if m != explorer.NO_MODEL],
        "kernel_update_ms": latency,
    }
