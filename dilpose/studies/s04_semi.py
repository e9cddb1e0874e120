"""Notebook 04's study: semi-supervised training (VideoPose3D's scheme with the paper's Eq. (1))
against supervised training on the same labelled data, over a sweep of how much is labelled.

Each point of the sweep labels some training subjects (:func:`labelled_sets`) and gives the other
training subjects' 2D, without their 3D, as the unlabelled stream. Both arms train the pose model
and a trajectory model (Eq. (1)) on the labelled windows; the semi-supervised arm adds, after its
warm-up, the reprojection and bone-length terms on the unlabelled windows
(:class:`dilpose.objectives.SemiSupervised`). Every point trains the same number of updates: the
window subsampling shrinks with the labelled frames, so that a small labelled set is seen more often
rather than for fewer steps. Arms are compared by :mod:`dilpose.stats` (paired over test sequences
and seeds).
"""

from __future__ import annotations

import re

import numpy as np

from .. import cache, callbacks, datasets, objectives, stats
from ..camera import image_coordinates
from ..config import SemiSupervisedConfig
from ..datasets.base import PoseData
from ..evaluate import evaluate, predict
from ..model import count_parameters
from .common import RunResult, arm_summary, compare_arms

SUPERVISED, SEMI = "supervised", "semi-supervised"
#: The sweep per profile: the smoke profile checks the plumbing with its smallest and largest point.
SWEEP_POINTS = {
    "smoke": ("1 subject", "all"),
    "default": ("1 subject", "2 subjects", "half", "all"),
    "paper": ("1 subject", "2 subjects", "half", "all"),
}


# --------------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------------
def subject_order(data: PoseData) -> list[str]:
    """Training subjects in the order they become labelled: largest first within each source (the
    letters that begin the name: ``cmu``, ``hdm``; Human3.6M's ``S``), alternating between sources
    starting with the one whose subject is largest, so that one labelled subject is a real training
    set and two cover both kinds of motion capture."""
    frames = {s: sum(len(v) for v in data.positions_3d[s].values()) for s in data.train_subjects}
    groups: dict[str, list[str]] = {}
    for s in sorted(data.train_subjects, key=lambda s: (-frames[s], s)):
        groups.setdefault(re.match(r"[A-Za-z]*", s).group(0), []).append(s)
    order, queues = [], list(groups.values())
    while any(queues):
        for q in queues:
            if q:
                order.append(q.pop(0))
    return order


def labelled_sets(data: PoseData, points: tuple[str, ...]) -> dict[str, list[str]]:
    """``{point: labelled subjects}`` for points among ``"1 subject"``, ``"2 subjects"``, ``"half"``
    (the fewest leading subjects of :func:`subject_order` that hold half the training frames) and
    ``"all"``; a point that labels the same subjects as an earlier one is dropped."""
    order = subject_order(data)
    frames = np.array([sum(len(v) for v in data.positions_3d[s].values()) for s in order])
    half = int(np.searchsorted(np.cumsum(frames), frames.sum() / 2) + 1)
    sizes = {"1 subject": 1, "2 subjects": 2, "half": half, "all": len(order)}
    out: dict[str, list[str]] = {}
    for p in points:
        if p not in sizes:
            raise ValueError(f"unknown sweep point {p!r}; known: {sorted(sizes)}")
        subjects = order[: sizes[p]]
        if subjects not in out.values():
            out[p] = subjects
    return out


def frames_of(data: PoseData, subjects) -> int:
    return int(sum(len(v) for s in subjects for v in data.positions_3d[s].values()))


# --------------------------------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------------------------------
def train_run(
    name: str,
    cfg,
    data: PoseData,
    labelled: list[str],
    semi: SemiSupervisedConfig | None,
    progress: bool = True,
) -> RunResult:
    """One model (from the model cache when it was trained before): the pose and trajectory models
    on ``labelled`` subjects, semi-supervised with the other training subjects' 2D when ``semi`` is
    given. Evaluated on the test subjects (pose metrics, and the trajectory's errors in
    ``results["trajectory"]``)."""
    all_frames = frames_of(data, data.train_subjects)
    # The same number of updates at every point: fewer labelled frames, denser subsampling.
    subsample = max(1, round(cfg.stride_subsample * frames_of(data, labelled) / all_frames))
    cfg = cfg.replace(stride_subsample=subsample)
    pose_cfg = cfg.replace(in_joints=data.layout_2d.num_joints)  # the model reads the data's joints
    train_seqs = datasets.sequences(data, labelled)
    rest = [s for s in data.train_subjects if s not in labelled]
    if semi is not None:
        if not rest:
            raise ValueError("semi-supervised training needs training subjects left unlabelled")
        objective = objectives.SemiSupervised.from_config(pose_cfg, data.layout_2d, semi, cfg.seed)
        unlabelled = [_drop_3d(s) for s in datasets.sequences(data, rest)]
    else:
        objective = objectives.PoseTrajectory(pose_cfg, semi_weight(), cfg.seed)
        unlabelled = None
    trainer, trained_now = cache.train_cached(
        cfg,
        train_seqs,
        data.layout_2d,
        name=name,
        objective=objective,
        unlabelled=unlabelled,
        callbacks=[callbacks.LineProgress(name, console=progress)],
    )
    if not trained_now:
        print(f"{name}: loaded from the model cache ({trainer.checkpoint.name})")
    test_seqs = datasets.sequences(data, data.test_subjects, cameras=cfg.eval_cameras)
    results = evaluate(
        trainer.eval_network(),
        test_seqs,
        cfg,
        data.layout_2d,
        h36m_actions=datasets.get(data.name).table_i,
    )
    results["trajectory"] = objectives.trajectory_errors(
        trainer.objective.trajectory_network(), test_seqs, data.layout_2d
    )
    return RunResult(
        SEMI if semi is not None else SUPERVISED,
        cfg,
        trainer.history.to_dict(),
        results,
        sum(e["seconds"] for e in trainer.history.to_dict()),
        count_parameters(trainer.model) + count_parameters(trainer.objective.trajectory),
        trainer.checkpoint,
        trainer,
        cached=not trained_now,
    )


def semi_weight() -> float:
    """The trajectory weight of the supervised arm: the semi-supervised arm's default, so the two
    arms differ only in the unlabelled term."""
    return SemiSupervisedConfig().trajectory_weight


def _drop_3d(seq):
    """The sequence as an unlabelled stream sees it: 2D and camera, no 3D."""
    import dataclasses

    return dataclasses.replace(seq, positions_3d=None)


def run(
    cfg, data: PoseData, semi: SemiSupervisedConfig, points, seeds, progress: bool = True
) -> dict[str, dict[str, list[RunResult]]]:
    """Every point of the sweep, both arms, every seed: ``{point: {arm: runs}}``. Where every
    training subject is labelled there is nothing unlabelled: only the supervised arm."""
    out: dict[str, dict[str, list[RunResult]]] = {}
    for point, subjects in labelled_sets(data, points).items():
        arms = (
            {SUPERVISED: None, SEMI: semi}
            if len(subjects) < len(data.train_subjects)
            else {SUPERVISED: None}
        )
        out[point] = {
            arm: [
                train_run(f"04 {point} {arm} seed {s}", cfg.replace(seed=int(s)), data, subjects,
                          arm_semi, progress)
                for s in seeds
            ]
            for arm, arm_semi in arms.items()
        }  # fmt: skip
    return out


# --------------------------------------------------------------------------------------------------
# Statistics and tables
# --------------------------------------------------------------------------------------------------
def _trajectory_units(runs: list[RunResult], key: str) -> dict[int, dict[str, float]]:
    return {
        r.cfg.seed: {
            f"{t['subject']}/{t['action']}/camera {t['camera']}": t[key]
            for t in r.results["trajectory"]
        }
        for r in runs
    }


def _frame_weights(run: RunResult) -> dict[str, int]:
    return {
        f"{t['subject']}/{t['action']}/camera {t['camera']}": t["frames"]
        for t in run.results["trajectory"]
    }


def comparisons(sweep) -> dict[str, dict]:
    """Per point with both arms: semi-supervised minus supervised for MPJPE, the trajectory error
    and the root-depth error (mm over all test frames), each with its 95 % interval and verdict."""
    out = {}
    for point, arms in sweep.items():
        if SEMI not in arms:
            continue
        a, b = arms[SEMI], arms[SUPERVISED]
        out[point] = {
            "mpjpe": compare_arms(a, b, SEMI, SUPERVISED).to_dict(),
            **{
                key: stats.compare(
                    _trajectory_units(a, key),
                    _trajectory_units(b, key),
                    SEMI,
                    SUPERVISED,
                    weights=_frame_weights(a[0]),
                ).to_dict()
                for key in ("trajectory_mm", "depth_mm")
            },
        }
    return out


def _interval(runs, key=None):
    if key is None:
        return arm_summary(runs)["mpjpe_frames_mm"]
    return stats.arm_interval(
        _trajectory_units(runs, key), weights=_frame_weights(runs[0]), name=runs[0].name
    ).to_dict()


def _frame_mean(runs, metric):
    return float(np.mean([r.results[metric]["frame_mean"] for r in runs]))


def sweep_rows(sweep, data: PoseData) -> list[dict]:
    """One row per point and arm: labelled and unlabelled frames, the four pose metrics (mm, over
    frames, mean over seeds; MPJPE with its 95 % interval) and the trajectory's errors."""
    rows = []
    labelled = labelled_sets(data, tuple(sweep))
    for point, arms in sweep.items():
        lab = frames_of(data, labelled[point])
        for arm, runs in arms.items():
            iv, tr, dp = (
                _interval(runs),
                _interval(runs, "trajectory_mm"),
                _interval(runs, "depth_mm"),
            )
            rows.append(
                {
                    "point": point,
                    "arm": arm,
                    "labelled_subjects": labelled[point],
                    "labelled_frames": lab,
                    "unlabelled_frames": frames_of(data, data.train_subjects) - lab
                    if arm == SEMI
                    else 0,
                    "seeds": [r.cfg.seed for r in runs],
                    "stride_subsample": runs[0].cfg.stride_subsample,
                    "mpjpe_mm": iv,
                    "p_mpjpe_mm": _frame_mean(runs, "p_mpjpe"),
                    "n_mpjpe_mm": _frame_mean(runs, "n_mpjpe"),
                    "mpjpe_per_seed_mm": [round(r.results["mpjpe"]["frame_mean"], 2) for r in runs],
                    "trajectory_mm": tr,
                    "depth_mm": dp,
                    "train_seconds_per_seed": [round(r.train_seconds, 1) for r in runs],
                }
            )
    return rows


def sweep_table(rows: list[dict]):
    """pandas table of :func:`sweep_rows` for display."""
    import pandas as pd

    def ci(iv):
        return f"{iv['mean']:.1f} [{iv['lo']:.1f}, {iv['hi']:.1f}]"

    return pd.DataFrame(
        [
            {
                "labelled": r["point"],
                "arm": r["arm"],
                "labelled frames": r["labelled_frames"],
                "unlabelled frames": r["unlabelled_frames"],
                "MPJPE [95 % CI]": ci(r["mpjpe_mm"]),
                "P-MPJPE": round(r["p_mpjpe_mm"], 1),
                "N-MPJPE": round(r["n_mpjpe_mm"], 1),
                "trajectory mm": ci(r["trajectory_mm"]),
                "root depth mm": ci(r["depth_mm"]),
                "training s": round(float(np.mean(r["train_seconds_per_seed"])), 1),
            }
            for r in rows
        ]
    ).set_index(["labelled", "arm"])


def verdict_lines(comps: dict[str, dict]) -> list[str]:
    """One sentence per point, from the intervals: "semi-supervised better by x mm [lo, hi]" or
    "inconclusive"."""
    lines = []
    for point, c in comps.items():
        m, t = c["mpjpe"], c["trajectory_mm"]
        lines.append(
            f"{point} labelled: MPJPE {_say(m)}; trajectory {_say(t)}; root depth "
            f"{_say(c['depth_mm'])}"
        )
    return lines


def _say(c: dict) -> str:
    if c["winner"] is None:
        return f"inconclusive ({c['diff']:+.1f} mm [{c['lo']:.1f}, {c['hi']:.1f}])"
    better = c["winner"]
    size = abs(c["diff"])
    lo, hi = sorted((abs(c["lo"]), abs(c["hi"])))
    return f"{better} better by {size:.1f} mm [{lo:.1f}, {hi:.1f}]"


def claim(comps: dict[str, dict]) -> dict:
    """Does unlabelled 2D help here? ``helps_at``: points where the semi-supervised MPJPE is
    clearly lower; ``hurts_at``: clearly higher."""
    return {
        "helps_at": [p for p, c in comps.items() if c["mpjpe"]["winner"] == SEMI],
        "hurts_at": [p for p, c in comps.items() if c["mpjpe"]["winner"] == SUPERVISED],
        "unclear_at": [p for p, c in comps.items() if c["mpjpe"]["winner"] is None],
    }


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------


def reprojection_example(sweep, data: PoseData, point: str | None = None, frame: int | None = None):
    """One frame of an unlabelled clip through both arms (seed 0 of the smallest labelled set):
    the 2D input, each arm's 3D pose + trajectory, and its reprojection (pixels).

    Returns ``{"subject", "action", "camera", "frame", "detections": (17, 2) px, "layout_2d",
    "arms": {arm: {"pose_3d": (17, 3) camera m, "reprojection": (17, 2) px, "error_px": float}},
    "truth_3d": (17, 3) camera m}`` (the truth is used for the figure only: training never saw it).
    """
    import torch

    point = point or next(p for p, arms in sweep.items() if SEMI in arms)
    labelled = labelled_sets(data, tuple(sweep))[point]
    subject = next(s for s in subject_order(data) if s not in labelled)
    action = max(data.actions(subject), key=lambda a: len(data.positions_3d[subject][a]))
    seq = datasets.sequences(data, [subject], actions=[action], cameras=(0,))[0]
    cam = data.cameras[subject][0]
    frame = len(seq) // 2 if frame is None else frame
    idx_2d, idx_3d = objectives.reprojection_joints(data.layout_2d)
    out = {
        "subject": subject,
        "action": action,
        "camera": 0,
        "frame": frame,
        "layout_2d": data.layout_2d,
        "detections": _px(seq.keypoints_2d[frame], cam),
        "truth_3d": seq.positions_3d[frame],
        "arms": {},
    }
    for arm, runs in sweep[point].items():
        run = runs[0]
        pose = predict(run.trainer.eval_network(), seq, run.cfg.causal, False, data.layout_2d)
        traj = objectives.predict_trajectory(
            run.trainer.objective.trajectory_network(), seq, data.layout_2d
        )
        X = torch.from_numpy(pose[frame : frame + 1, None].astype(np.float64))
        T = torch.from_numpy(traj[frame : frame + 1, None].astype(np.float64))
        proj = objectives.reproject(X, T, torch.from_numpy(seq.intrinsics[None].astype(np.float64)))
        proj_px = _px(proj[0, 0].numpy(), cam)
        det = out["detections"]
        out["arms"][arm] = {
            "pose_3d": pose[frame] + traj[frame],
            "reprojection": proj_px,
            "error_px": float(
                np.linalg.norm(proj_px[list(idx_3d)] - det[list(idx_2d)], axis=-1).mean()
            ),
        }
    return out


def _px(normalised: np.ndarray, cam) -> np.ndarray:
    return image_coordinates(np.asarray(normalised, np.float64), cam.res_w, cam.res_h)


# --------------------------------------------------------------------------------------------------
# Published numbers and the results JSON
# --------------------------------------------------------------------------------------------------
PUBLISHED_NOTE = (
    "VideoPose3D (Pavllo et al., CVPR 2019, §6.2 and its semi-supervised figure) reports "
    "semi-supervised results on Human3.6M for labelled subsets down to 0.1 % of S1. Their exact "
    "values could not be checked against the paper here, so none are printed; the paper states "
    "that back-projection helps most when labelled data is scarce. Those numbers are for "
    "Human3.6M with CPN detections and 1024 channels, not for this data and model."
)


def metrics_json(sweep, rows, comps, verdicts, semi: SemiSupervisedConfig, data: PoseData) -> dict:
    """The content of ``reports/metrics/04_semi_supervised.json``."""
    import dataclasses

    first = next(iter(next(iter(sweep.values())).values()))[0]
    return {
        "dataset": data.name,
        "test_subjects": list(data.test_subjects),
        "protocol": first.results["protocol"],
        "model": {
            "receptive_field": first.cfg.receptive_field(),
            "channels": first.cfg.channels,
            "epochs": first.cfg.epochs,
            "parameters_pose_and_trajectory": first.parameters,
        },
        "semi_supervised": dataclasses.asdict(semi),
        "subject_order": subject_order(data),
        "sweep": rows,
        "comparisons": comps,
        "verdicts": verdicts,
        "claim": claim(comps),
        "published_note": PUBLISHED_NOTE,
        "history_seed0": {
            f"{point} / {arm}": runs[0].history
            for point, arms in sweep.items()
            for arm, runs in arms.items()
        },  # fmt: skip
    }
