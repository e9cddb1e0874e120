"""Notebook 04's study: semi-supervised training (VideoPose3D's scheme with the paper's Eq. (1))
against supervised training on the same labelled data, over a sweep of how much is labelled.

Each point of the sweep labels some training subjects of *one* motion-capture source
(:func:`labelled_sets`; CMU on the mocap data) and gives every other training subject's 2D, without
its 3D, as the unlabelled stream. One source, because the sources mark the body differently (HDM05's
hip-to-spine bone is 285-295 mm on three of its people, CMU's 220-250 mm: :func:`convention_table`)
and the bone-length term pulls the unlabelled predictions to the *labelled* people's bone lengths:
labelling an HDM05 person first, as this study once did, made the method's effect on the mostly-CMU
test people a question of skeleton convention. The test error is also reported per test source
(:func:`test_sources`), so a convention effect would show as the two sources disagreeing.

Both arms train the pose model and a trajectory model (Eq. (1)) on the labelled windows; the
semi-supervised arm adds, after its warm-up, the reprojection and bone-length terms on the
unlabelled windows (:class:`dilpose.objectives.SemiSupervised`); at some points a third arm weights
the reprojection by the detector's confidence. Every point trains the same number of updates: the
window subsampling shrinks with the labelled frames, so that a small labelled set is seen more
often rather than for fewer steps. Arms are compared by :mod:`dilpose.stats` with the margin
:data:`MARGIN_MM`, and the comparisons the conclusions rest on (:func:`family`) are Holm-adjusted
together.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from .. import cache, callbacks, datasets, objectives, stats
from .. import skeleton as sk
from ..camera import image_coordinates
from ..config import SemiSupervisedConfig
from ..datasets.base import PoseData
from ..evaluate import evaluate, predict
from ..model import count_parameters
from .common import RunResult, compare_arms, unit_errors, unit_frames

SUPERVISED, SEMI = "supervised", "semi-supervised"
SEMI_CONF = "semi-supervised, confidence-weighted"
#: The sweep per profile. The default profile keeps three points so that 3 seeds fit its time:
#: one labelled subject, every subject of the labelled source, and every training subject (the
#: supervised reference: nothing is left unlabelled there).
SWEEP_POINTS = {
    "smoke": ("1 subject", "all"),
    "default": ("1 subject", "1 source", "all"),
    "paper": ("1 subject", "2 subjects", "1 source", "all"),
}
#: Points that also train the confidence-weighted arm (its largest unlabelled stream).
CONFIDENCE_POINTS = {"smoke": ("1 subject",), "default": ("1 subject",), "paper": ("1 subject",)}
#: The smoke profile checks the plumbing (paired seeds included) with at most this many seeds.
SMOKE_SEEDS = 2
#: The source labelled subjects are drawn from, when the data has it (else the largest source).
LABELLED_SOURCE = "cmu"
SOURCE_NAMES = {"cmu": "CMU", "hdm": "HDM05", "S": "Human3.6M"}
#: The equivalence margin of every comparison here (mm), stated before any result: about 2 % of
#: the 80-100 mm errors, invisible in a drawn pose, about the spread between two seeds of one arm
#: (1-4 mm in earlier runs); a gain worth a second batch through both networks a step is larger.
MARGIN_MM = 2.0
FAMILY = (
    "test MPJPE: semi-supervised minus supervised at every sweep point with both arms, and "
    "confidence-weighted minus unweighted semi-supervised where that arm was trained"
)


# --------------------------------------------------------------------------------------------------
# Sources and the sweep
# --------------------------------------------------------------------------------------------------
def source_of(subject: str) -> str:
    """The letters that begin a subject's name: ``cmu``, ``hdm``; Human3.6M's ``S``."""
    return re.match(r"[A-Za-z]*", subject).group(0)


def labelled_source(data: PoseData) -> str:
    """:data:`LABELLED_SOURCE` when the data's training subjects include it, else the source with
    the most training frames."""
    frames: dict[str, int] = {}
    for s in data.train_subjects:
        frames[source_of(s)] = frames.get(source_of(s), 0) + frames_of(data, [s])
    return LABELLED_SOURCE if LABELLED_SOURCE in frames else max(frames, key=frames.get)


def subject_order(data: PoseData) -> list[str]:
    """Training subjects in the order they become labelled: those of :func:`labelled_source`,
    largest first (so that one labelled subject is a real training set), then the others, largest
    first (they are labelled only at the point ``"all"``)."""
    src = labelled_source(data)
    by_size = sorted(data.train_subjects, key=lambda s: (-frames_of(data, [s]), s))
    return [s for s in by_size if source_of(s) == src] + [s for s in by_size if source_of(s) != src]


def labelled_sets(data: PoseData, points: tuple[str, ...]) -> dict[str, list[str]]:
    """``{point: labelled subjects}`` for points among ``"1 subject"``, ``"2 subjects"`` (the
    largest of :func:`labelled_source`), ``"1 source"`` (every training subject of that source) and
    ``"all"`` (every training subject, both sources); a point that labels the same subjects as an
    earlier one is dropped. Everything else in training is a point's unlabelled stream."""
    order = subject_order(data)
    n_source = sum(source_of(s) == labelled_source(data) for s in order)
    sizes = {
        "1 subject": 1,
        "2 subjects": min(2, n_source),
        "1 source": n_source,
        "all": len(order),
    }
    out: dict[str, list[str]] = {}
    for p in points:
        if p not in sizes:
            raise ValueError(f"unknown sweep point {p!r}; known: {sorted(sizes)}")
        subjects = order[: sizes[p]]
        if subjects not in out.values():
            out[p] = subjects
    return out


def test_sources(data: PoseData) -> dict[str, list[str]]:
    """``{source: test subjects}``, in the order of the data's test subjects."""
    out: dict[str, list[str]] = {}
    for s in data.test_subjects:
        out.setdefault(source_of(s), []).append(s)
    return out


def seeds_for(profile: str, seeds) -> list[int]:
    """The seeds a profile trains: all of ``seeds``, but the first :data:`SMOKE_SEEDS` in the smoke
    profile (it checks the plumbing, and runs on every test)."""
    seeds = [int(s) for s in seeds]
    return seeds[:SMOKE_SEEDS] if profile == "smoke" else seeds


def frames_of(data: PoseData, subjects) -> int:
    return int(sum(len(v) for s in subjects for v in data.positions_3d[s].values()))


def convention_table(data: PoseData):
    """pandas table, one row per subject: source, split, frames and the median 3D length (mm) of
    the hip-spine and spine-thorax bones, where the sources' skeleton conventions differ most."""
    import pandas as pd

    rows = {}
    for s in (*data.train_subjects, *data.test_subjects):
        bones = sk.bone_lengths(np.concatenate(list(data.positions_3d[s].values())), sk.H36M17)
        rows[s] = {
            "source": SOURCE_NAMES.get(source_of(s), source_of(s)),
            "split": "train" if s in data.train_subjects else "test",
            "frames": frames_of(data, [s]),
            "hip-spine mm": round(1000 * bones["hip-spine"]),
            "spine-thorax mm": round(1000 * bones["spine-thorax"]),
        }
    return pd.DataFrame(rows).T


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
    arm: str | None = None,
) -> RunResult:
    """One model (from the model cache when it was trained before): the pose and trajectory models
    on ``labelled`` subjects, semi-supervised with the other training subjects' 2D when ``semi`` is
    given. Evaluated on the test subjects (pose metrics, and the trajectory's errors in
    ``results["trajectory"]``). ``arm`` names the run (default: by ``semi``)."""
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
        arm or (SUPERVISED if semi is None else SEMI_CONF if semi.confidence_weighted else SEMI),
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
    """The sequence as an unlabelled stream sees it: 2D, detector scores and camera, no 3D."""
    return dataclasses.replace(seq, positions_3d=None)


def arms_at(subjects, data: PoseData, semi: SemiSupervisedConfig, confidence: bool) -> dict:
    """``{arm: its SemiSupervisedConfig or None}`` at a point labelling ``subjects``: where every
    training subject is labelled there is nothing unlabelled, so only the supervised arm."""
    if len(subjects) == len(data.train_subjects):
        return {SUPERVISED: None}
    arms = {SUPERVISED: None, SEMI: semi}
    if confidence:
        arms[SEMI_CONF] = dataclasses.replace(semi, confidence_weighted=True)
    return arms


def run(
    cfg,
    data: PoseData,
    semi: SemiSupervisedConfig,
    points,
    seeds,
    confidence_points=(),
    progress: bool = True,
) -> dict[str, dict[str, list[RunResult]]]:
    """Every point of the sweep, every arm, every seed: ``{point: {arm: runs}}``; the
    confidence-weighted arm at ``confidence_points`` only."""
    out: dict[str, dict[str, list[RunResult]]] = {}
    for point, subjects in labelled_sets(data, points).items():
        arms = arms_at(subjects, data, semi, point in confidence_points)
        out[point] = {
            arm: [
                train_run(f"04 {point} {arm} seed {s}", cfg.replace(seed=int(s)), data, subjects,
                          arm_semi, progress, arm)
                for s in seeds
            ]
            for arm, arm_semi in arms.items()
        }  # fmt: skip
    return out


# --------------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------------
def _trajectory_units(runs: list[RunResult], key: str) -> dict[int, dict[str, float]]:
    """``{seed: {unit: value}}`` of a trajectory error; ``key="frames"``: ``{unit: frames}``."""
    units = {
        r.cfg.seed: {f"{t['subject']}/{t['action']}/camera {t['camera']}": t[key]
                     for t in r.results["trajectory"]}
        for r in runs
    }  # fmt: skip
    return next(iter(units.values())) if key == "frames" else units


def _per_source(errors: dict[int, dict], weights: dict) -> dict[str, tuple[dict, dict]]:
    """``{source: (errors, weights)}`` restricted to that test source's units (subject/...)."""

    def keep(units: dict, src: str) -> dict:
        return {u: v for u, v in units.items() if source_of(u.split("/")[0]) == src}

    sources = sorted({source_of(u.split("/")[0]) for u in weights})
    return {
        src: ({s: keep(e, src) for s, e in errors.items()}, keep(weights, src)) for src in sources
    }


def by_source(a: list[RunResult], b: list[RunResult], name_a: str, name_b: str, margin=MARGIN_MM):
    """``{source: Comparison.to_dict()}``: MPJPE of A minus B on each test source's people."""
    eb = _per_source(unit_errors(b), unit_frames(a[0]))
    return {
        src: stats.compare(ea, eb[src][0], name_a, name_b, weights=w, margin=margin).to_dict()
        for src, (ea, w) in _per_source(unit_errors(a), unit_frames(a[0])).items()
    }


def comparisons(sweep, margin: float | None = MARGIN_MM) -> dict[str, dict]:
    """Per point with a semi-supervised arm: semi-supervised minus supervised for MPJPE (over all
    test frames, and per test source), the trajectory error and the root-depth error (mm), and,
    where it was trained, confidence-weighted minus unweighted semi-supervised MPJPE; each the
    full :meth:`dilpose.stats.Comparison.to_dict` (interval, margin, counts, power line)."""
    out = {}
    for point, arms in sweep.items():
        if SEMI not in arms:
            continue
        a, b = arms[SEMI], arms[SUPERVISED]
        out[point] = {
            "mpjpe": compare_arms(a, b, SEMI, SUPERVISED, margin=margin).to_dict(),
            "mpjpe_by_source": by_source(a, b, SEMI, SUPERVISED, margin),
            **{
                key: stats.compare(
                    _trajectory_units(a, key), _trajectory_units(b, key), SEMI, SUPERVISED,
                    weights=_trajectory_units(a, "frames"), margin=margin,
                ).to_dict()
                for key in ("trajectory_mm", "depth_mm")
            },
        }  # fmt: skip
        if SEMI_CONF in arms:
            c = arms[SEMI_CONF]
            out[point].update(
                confidence_weighted=compare_arms(c, a, SEMI_CONF, SEMI, margin=margin).to_dict(),
                confidence_weighted_by_source=by_source(c, a, SEMI_CONF, SEMI, margin),
            )
    return out


def family(comps: dict[str, dict]) -> dict[str, dict]:
    """The comparisons the notebook's conclusions rest on (:data:`FAMILY`), by name."""
    out = {f"{p}: {SEMI} vs {SUPERVISED}": c["mpjpe"] for p, c in comps.items()}
    out.update(
        {f"{p}: {SEMI_CONF} vs {SEMI}": c["confidence_weighted"]
         for p, c in comps.items() if "confidence_weighted" in c}
    )  # fmt: skip
    return out


def holm(comps: dict[str, dict]) -> dict:
    """:func:`dilpose.stats.holm` over :func:`family`, with the family's description (an empty
    family when no point has both arms)."""
    members = family(comps)
    if not members:
        return {"description": FAMILY, "family": [], "comparisons": {}, "flipped": [], "lines": []}
    return {"description": FAMILY, **stats.holm(members)}


def holm_lines(result: dict) -> list[str]:
    """What Holm's correction changes: one line per flipped verdict, or that none flips."""
    n = len(result["family"])
    return result["lines"] or [f"Holm over the {n} comparisons of the family: no verdict flips"]


def verdict_lines(comps: dict[str, dict]) -> list[str]:
    """Per point, the measured verdicts (:attr:`dilpose.stats.Comparison.verdict`, one of the four
    forms) with the MPJPE comparison's power line, then per test source and for the trajectory."""
    lines = []
    for point, c in comps.items():
        m = c["mpjpe"]
        lines.append(f"{point} labelled, {SEMI} vs {SUPERVISED}, MPJPE: {m['verdict']}")
        lines.append(f"    {m['power_line']}")
        for src, s in c["mpjpe_by_source"].items():
            one = " (one person: the interval re-draws clips, not people)"
            lines.append(
                f"    on the {SOURCE_NAMES.get(src, src)} test people: {s['verdict']}"
                + (one if s["n_subjects"] == 1 else "")
            )
        lines.append(f"    trajectory: {c['trajectory_mm']['verdict']}")
        lines.append(f"    root depth: {c['depth_mm']['verdict']}")
        if "confidence_weighted" in c:
            w = c["confidence_weighted"]
            lines.append(f"{point} labelled, {SEMI_CONF} vs {SEMI}, MPJPE: {w['verdict']}")
            lines.append(f"    {w['power_line']}")
    return lines


def claim(comps: dict[str, dict], holm_result: dict) -> dict:
    """Does unlabelled 2D help here, point by point, by the Holm-adjusted verdict of the MPJPE
    comparison: ``helps_at`` (semi-supervised better), ``hurts_at``, ``equivalent_at`` (within
    the margin) and ``inconclusive_at``."""
    words = {
        p: holm_result["comparisons"][f"{p}: {SEMI} vs {SUPERVISED}"]["word_holm"] for p in comps
    }
    return {
        "helps_at": [p for p, w in words.items() if w == "A better"],
        "hurts_at": [p for p, w in words.items() if w == "B better"],
        "equivalent_at": [p for p, w in words.items() if w == "equivalent"],
        "inconclusive_at": [p for p, w in words.items() if w == "inconclusive"],
        "margin_mm": next(iter(comps.values()))["mpjpe"]["margin"] if comps else None,
    }


def claim_text(c: dict) -> str:
    """The claim in words, with nothing but what the verdicts say (an inconclusive point is
    called inconclusive, never "no difference")."""
    parts = [
        (c["helps_at"], "semi-supervised better (Holm-adjusted) at"),
        (c["hurts_at"], "supervised better (Holm-adjusted) at"),
        (c["equivalent_at"], f"equivalent within ±{c['margin_mm']:g} mm at"),
        (
            c["inconclusive_at"],
            "inconclusive (the interval holds 0 and reaches past the margin) at",
        ),
    ]
    said = [f"{words} {', '.join(points)} labelled" for points, words in parts if points]
    return "; ".join(said) + "." if said else "no point has both arms."


# --------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------
def _interval(runs, key=None):
    if key is None:  # what arm_summary reports as mpjpe_frames_mm
        return stats.arm_interval(
            unit_errors(runs), weights=unit_frames(runs[0]), name=runs[0].name
        ).to_dict()
    return stats.arm_interval(
        _trajectory_units(runs, key), weights=_trajectory_units(runs, "frames"), name=runs[0].name
    ).to_dict()


def _source_intervals(runs) -> dict[str, dict]:
    return {
        src: stats.arm_interval(e, weights=w, name=runs[0].name).to_dict()
        for src, (e, w) in _per_source(unit_errors(runs), unit_frames(runs[0])).items()
    }


def _frame_mean(runs, metric):
    return float(np.mean([r.results[metric]["frame_mean"] for r in runs]))


def sweep_rows(sweep, data: PoseData) -> list[dict]:
    """One row per point and arm: labelled and unlabelled frames, the four pose metrics (mm, over
    frames, mean over seeds; MPJPE with its 95 % interval, also per test source) and the
    trajectory's errors."""
    rows = []
    labelled = labelled_sets(data, tuple(sweep))
    for point, arms in sweep.items():
        lab = frames_of(data, labelled[point])
        for arm, runs in arms.items():
            rows.append(
                {
                    "point": point,
                    "arm": arm,
                    "labelled_subjects": labelled[point],
                    "labelled_frames": lab,
                    "unlabelled_frames": frames_of(data, data.train_subjects) - lab
                    if arm != SUPERVISED
                    else 0,
                    "seeds": [r.cfg.seed for r in runs],
                    "stride_subsample": runs[0].cfg.stride_subsample,
                    "mpjpe_mm": _interval(runs),
                    "mpjpe_by_source_mm": _source_intervals(runs),
                    "p_mpjpe_mm": _frame_mean(runs, "p_mpjpe"),
                    "n_mpjpe_mm": _frame_mean(runs, "n_mpjpe"),
                    "mpjpe_per_seed_mm": [round(r.results["mpjpe"]["frame_mean"], 2) for r in runs],
                    "trajectory_mm": _interval(runs, "trajectory_mm"),
                    "depth_mm": _interval(runs, "depth_mm"),
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
                **{
                    f"MPJPE {SOURCE_NAMES.get(src, src)} test": ci(iv)
                    for src, iv in r["mpjpe_by_source_mm"].items()
                },
                "P-MPJPE": round(r["p_mpjpe_mm"], 1),
                "N-MPJPE": round(r["n_mpjpe_mm"], 1),
                "trajectory mm": ci(r["trajectory_mm"]),
                "root depth mm": ci(r["depth_mm"]),
                "training s": round(float(np.mean(r["train_seconds_per_seed"])), 1),
            }
            for r in rows
        ]
    ).set_index(["labelled", "arm"])


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------
def reprojection_example(sweep, data: PoseData, point: str | None = None, frame: int | None = None):
    """One frame of an unlabelled clip through the supervised and semi-supervised arms (seed 0 of
    the smallest labelled set): the 2D input with its detector scores, each arm's 3D pose +
    trajectory, and its reprojection (pixels). The clip is of the labelled source when one is left
    unlabelled.

    Returns ``{"subject", "action", "camera", "frame", "detections": (17, 2) px, "scores": (17,),
    "layout_2d", "arms": {arm: {"pose_3d": (17, 3) camera m, "reprojection": (17, 2) px,
    "error_px": float}}, "truth_3d": (17, 3) camera m}`` (the truth is used for the figure only:
    training never saw it).
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
        "scores": np.asarray(seq.scores[frame], np.float64),
        "truth_3d": seq.positions_3d[frame],
        "arms": {},
    }
    for arm in (SUPERVISED, SEMI):
        run = sweep[point][arm][0]
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


def metrics_json(
    sweep, rows, comps, verdicts, semi: SemiSupervisedConfig, data: PoseData, holm_result: dict
) -> dict:
    """The content of ``reports/metrics/04_semi_supervised.json``."""
    first = next(iter(next(iter(sweep.values())).values()))[0]
    return {
        "dataset": data.name,
        "test_subjects": list(data.test_subjects),
        "test_sources": test_sources(data),
        "labelled_source": labelled_source(data),
        "protocol": first.results["protocol"],
        "model": {
            "receptive_field": first.cfg.receptive_field(),
            "channels": first.cfg.channels,
            "epochs": first.cfg.epochs,
            "parameters_pose_and_trajectory": first.parameters,
        },
        "semi_supervised": dataclasses.asdict(semi),
        "subject_order": subject_order(data),
        "margin_mm": MARGIN_MM,
        "sweep": rows,
        "comparisons": comps,
        "verdicts": verdicts,
        "holm": holm_result,
        "claim": claim(comps, holm_result),
        "published_note": PUBLISHED_NOTE,
        "history_seed0": {
            f"{point} / {arm}": runs[0].history
            for point, arms in sweep.items()
            for arm, runs in arms.items()
        },  # fmt: skip
    }
