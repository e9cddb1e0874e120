"""What every notebook's study shares: train (or load from the model cache) and evaluate a variant,
group seeds of one variant into an arm, compare arms by statistics, tabulate.

Each function returns plain data (dicts, pandas tables); notebooks only display and save them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import cache, callbacks, datasets, stats
from ..config import Config
from ..datasets.base import PoseData
from ..evaluate import METRICS, evaluate, predict
from ..model import count_parameters


@dataclass
class RunResult:
    """One trained variant: its config, training history, test results and cost."""

    name: str  # label in tables ("243 frames", "243 frames causal")
    cfg: Config
    history: list[dict]
    results: dict  # dilpose.evaluate.evaluate output (metrics per action + protocol)
    train_seconds: float  # the model's training time (stored with it when it came from the cache)
    parameters: int
    checkpoint: Path | None
    trainer: object = None  # the Trainer, for predictions in the notebook
    cached: bool = False  # loaded from the model cache instead of trained in this run

    def summary(self) -> dict:
        return {
            "name": self.name,
            "receptive_field": self.cfg.receptive_field(),
            "causal": self.cfg.causal,
            "filter_widths": list(self.cfg.filter_widths),
            "channels": self.cfg.channels,
            "epochs": self.cfg.epochs,
            "regularizer": str(self.cfg.regularizer),
            "seed": self.cfg.seed,
            "parameters": self.parameters,
            "train_seconds": round(self.train_seconds, 1),
            "cached": self.cached,
            # "auto" as configured, and what it resolved to here (training and evaluation)
            "precision_setting": self.cfg.precision,
            "precision": self.results.get("precision"),
            **{f"{m}_mm": round(self.results[m]["action_mean"], 2) for m in METRICS},
            **{f"{m}_frame_mean_mm": round(self.results[m]["frame_mean"], 2) for m in METRICS},
        }


def train_variant(name: str, cfg: Config, data: PoseData, progress: bool = True) -> RunResult:
    """Train ``cfg`` on the training subjects (or load it from the model cache), evaluate on the
    test subjects (cameras ``cfg.eval_cameras``).

    ``name`` labels the run in progress lines; the model's file is named by its cache key
    (:mod:`dilpose.cache`), so two notebooks asking for the same variant share one model. The run
    is labelled in tables by :func:`run_label` ("243 frames", ...). progress: a line per epoch on
    the console and one line in the notebook when a model is trained.
    """
    train_seqs = datasets.sequences(data, data.train_subjects)
    test_seqs = datasets.sequences(data, data.test_subjects, cameras=cfg.eval_cameras)
    progress_line = [callbacks.LineProgress(name, console=progress)]
    trainer, trained_now = cache.train_cached(
        cfg, train_seqs, data.layout_2d, name=name, callbacks=progress_line
    )
    if not trained_now:
        print(f"{name}: loaded from the model cache ({trainer.checkpoint.name})")
    seconds = sum(e["seconds"] for e in trainer.history.to_dict())
    results = evaluate(
        trainer.eval_network(),
        test_seqs,
        cfg,
        data.layout_2d,
        h36m_actions=datasets.get(data.name).table_i,
    )
    return RunResult(
        run_label(cfg),
        cfg,
        trainer.history.to_dict(),
        results,
        seconds,
        count_parameters(trainer.model),
        trainer.checkpoint,
        trainer,
        cached=not trained_now,
    )


def run_label(cfg: Config) -> str:
    """``"243 frames"``, ``"243 frames causal"``, ``"27 frames, matched"`` (trained only on the
    frames of ``cfg.min_context``): how a variant is named in tables and plots."""
    return (
        f"{cfg.receptive_field()} frame{'s' if cfg.receptive_field() > 1 else ''}"
        + (" causal" if cfg.causal else "")
        + (", matched" if cfg.min_context else "")
    )


def per_action_table(results: dict):
    """pandas table: rows = actions (+ the two averages), columns = the four metrics (mm)."""
    import pandas as pd

    table = pd.DataFrame({m: results[m]["per_action"] for m in METRICS})
    table["frames"] = pd.Series(results["mpjpe"]["num_frames"])
    table.loc["mean over actions"] = [results[m]["action_mean"] for m in METRICS] + [
        table["frames"].sum()
    ]
    table.loc["mean over frames"] = [results[m]["frame_mean"] for m in METRICS] + [
        table["frames"].iloc[:-1].sum()
    ]
    table["frames"] = table["frames"].astype(int)
    return table.round(2)


def clip_table(runs: list[RunResult]):
    """pandas table: MPJPE (mm, mean over cameras) per test clip (rows, with its length in frames)
    and variant (columns). Short clips give a long receptive field little real context: the rest of
    its window is the clip's first or last frame repeated."""
    import pandas as pd

    frames, columns = {}, {}
    for run in runs:
        per_clip: dict[str, list[float]] = {}
        for r in run.results["per_sequence"]:
            key = f"{r['subject']} · {r['action']}"
            per_clip.setdefault(key, []).append(r["mpjpe_mm"])
            frames[key] = r["frames"]
        columns[run.name] = {k: float(np.mean(v)) for k, v in per_clip.items()}
    table = pd.DataFrame(columns)
    table.insert(0, "frames", pd.Series(frames))
    return table.sort_values("frames").round(1)


def clip_length_table(runs: list[RunResult], edges: tuple[int, ...] = (81, 243)):
    """pandas table: MPJPE (mm, frame-weighted over clips and cameras) of each variant (columns) on
    test clips grouped by length in frames (rows: up to ``edges[0]``, ..., longer than
    ``edges[-1]``), with the number of clips and frames per group. A receptive field longer than a
    clip sees its first or last frame repeated, so long windows can only help on long clips."""
    import pandas as pd

    def group(frames: int) -> str:
        lo = 0
        for edge in edges:
            if frames <= edge:
                return f"{lo + 1}-{edge} frames"
            lo = edge
        return f"> {edges[-1]} frames"

    order = [group(e) for e in edges] + [group(edges[-1] + 1)]
    clips = {(r["subject"], r["action"]): r["frames"] for r in runs[0].results["per_sequence"]}
    table = {
        g: {
            "clips": sum(1 for f in clips.values() if group(f) == g),
            "frames": sum(f for f in clips.values() if group(f) == g),
        }
        for g in order
    }
    for run in runs:
        err = {g: [0.0, 0] for g in order}
        for r in run.results["per_sequence"]:
            err[group(r["frames"])][0] += r["mpjpe_mm"] * r["frames"]
            err[group(r["frames"])][1] += r["frames"]
        for g in order:
            table[g][run.name] = err[g][0] / err[g][1] if err[g][1] else float("nan")
    return pd.DataFrame(table).T.round(1)


def ablation_table(runs: list[RunResult]):
    """pandas table of variants: receptive field, causality, parameters, time and the four
    metrics."""
    import pandas as pd

    return pd.DataFrame([r.summary() for r in runs]).set_index("name")


def example_prediction(
    run: RunResult,
    data: PoseData,
    subject: str | None = None,
    action: str | None = None,
    camera: int = 0,
) -> dict:
    """Ground truth and prediction of one test clip in world coordinates (for 3D plots).

    Returns ``{"subject", "action", "camera", "frames", "target", "prediction"}`` with (T, 17, 3)
    world metres (``frames``: four frame indices to show): the
    prediction is root-relative, so it is placed at the ground-truth root trajectory for display.
    """
    subject = subject or data.test_subjects[0]
    # Default: the subject's longest clip, so that the figure shows several seconds of motion.
    action = action or max(data.actions(subject), key=lambda a: len(data.positions_3d[subject][a]))
    seq = datasets.sequences(data, [subject], actions=[action], cameras=(camera,))[0]
    pred_cam = predict(
        run.trainer.eval_network(), seq, run.cfg.causal, run.cfg.flip_test, data.layout_2d
    )
    pred_cam = pred_cam + seq.positions_3d[:, :1]
    cam = data.cameras[subject][camera]
    # four frames inside the clip
    frames = np.linspace(0, len(seq) - 1, 6).astype(int)[1:-1].tolist()
    return {
        "subject": subject,
        "action": action,
        "camera": camera,
        "frames": frames,
        "target": data.positions_3d[subject][action],
        "prediction": cam.camera_to_world(pred_cam),
    }


# --------------------------------------------------------------------------------------------------
# Arms: one variant trained with several seeds
# --------------------------------------------------------------------------------------------------
def train_arm(
    name: str, cfg: Config, data: PoseData, seeds, progress: bool = True
) -> list[RunResult]:
    """``cfg`` trained (or loaded from the cache) once per seed: the runs of one arm."""
    return [
        train_variant(f"{name} seed {s}", cfg.replace(seed=int(s)), data, progress=progress)
        for s in seeds
    ]


#: What a comparison is scored on: ``"all"`` test frames, or only the ``"full_context"`` frames
#: (a centred 243-frame window inside the clip: :data:`dilpose.evaluate.FULL_CONTEXT`) of the
#: test clips long enough to have any. ``{subset: (error key, frame-count key)}`` in
#: ``results["per_sequence"]``.
SUBSETS = {
    "all": ("mpjpe_mm", "frames"),
    "full_context": ("mpjpe_full_context_mm", "full_context_frames"),
}


def unit_errors(runs: list[RunResult], subset: str = "all") -> dict[int, dict[str, float]]:
    """``{seed: {test unit: MPJPE mm}}`` of an arm; a unit is one test sequence seen by one
    camera. ``subset`` (:data:`SUBSETS`): units without frames of the subset are left out."""
    err, n = SUBSETS[subset]
    return {r.cfg.seed: {_unit(s): s[err] for s in r.results["per_sequence"] if s[n]} for r in runs}


def unit_frames(run: RunResult, subset: str = "all") -> dict[str, int]:
    """Frames per test unit: the weights that make an arm's statistic MPJPE over all test frames
    (of the ``subset``)."""
    _, n = SUBSETS[subset]
    return {_unit(s): s[n] for s in run.results["per_sequence"] if s[n]}


def _unit(s: dict) -> str:
    return f"{s['subject']}/{s['action']}/camera {s['camera']}"


def compare_arms(
    a: list[RunResult],
    b: list[RunResult],
    name_a: str,
    name_b: str,
    margin: float | None = None,
    subset: str = "all",
) -> stats.Comparison:
    """MPJPE over all test frames (of the ``subset``, :data:`SUBSETS`) of arm A minus arm B, with
    its 95 % interval (test subjects re-drawn whole, seeds as a t over seeds) and verdict;
    ``margin`` (mm, stated in advance) allows "equivalent": see :mod:`dilpose.stats`."""
    return stats.compare(
        unit_errors(a, subset),
        unit_errors(b, subset),
        name_a,
        name_b,
        weights=unit_frames(a[0], subset),
        margin=margin,
    )


def arm_summary(runs: list[RunResult]) -> dict:
    """An arm in a results JSON: seeds, the per-seed metrics, and the frame-weighted MPJPE with its
    interval over seeds and test sequences."""
    interval = stats.arm_interval(
        unit_errors(runs), weights=unit_frames(runs[0]), name=runs[0].name
    )
    return {
        "name": runs[0].name,
        "seeds": [r.cfg.seed for r in runs],
        "mpjpe_frames_mm": interval.to_dict(),
        "mpjpe_action_mean_mm_per_seed": [
            round(r.results["mpjpe"]["action_mean"], 2) for r in runs
        ],
        "runs": [r.summary() for r in runs],
    }
