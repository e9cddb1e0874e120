"""Experiment drivers the notebooks call: train a variant, evaluate it, tabulate the results.

Each function returns plain data (dicts, pandas tables); notebooks only display and save them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import dataset as ds
from . import metrics, paths
from .config import Config
from .dataset import PoseData
from .model import ModelConfig, TemporalModel, count_parameters


@dataclass
class RunResult:
    """One trained variant: its config, training history, test results and cost."""

    name: str                # label in tables ("243 frames", "243 frames causal")
    cfg: Config
    history: list[dict]
    results: dict            # train.evaluate output (metrics per action + protocol)
    train_seconds: float
    parameters: int
    checkpoint: Path | None
    trainer: object = None   # the Trainer, for predictions in the notebook

    def summary(self) -> dict:
        return {"name": self.name, "receptive_field": self.cfg.receptive_field, "causal": self.cfg.causal,
                "filter_widths": list(self.cfg.filter_widths), "channels": self.cfg.channels,
                "epochs": self.cfg.epochs, "parameters": self.parameters,
                "train_seconds": round(self.train_seconds, 1),
                **{f"{m}_mm": round(self.results[m]["action_mean"], 2) for m in metrics.METRICS},
                **{f"{m}_frame_mean_mm": round(self.results[m]["frame_mean"], 2) for m in metrics.METRICS}}


def train_variant(name: str, cfg: Config, data: PoseData, regularizer: Callable | None = None,
                  checkpoint: bool = True, progress: bool = True) -> RunResult:
    """Train ``cfg`` on the training subjects, evaluate on the test subjects (cameras ``cfg.eval_cameras``).

    ``name`` is the checkpoint's file stem (``reports/checkpoints/<name>.pt``); the run is labelled
    in tables by :func:`run_label` ("243 frames", ...).
    """
    from . import train

    train_seqs = ds.sequences(data, data.train_subjects)
    test_seqs = ds.sequences(data, data.test_subjects, cameras=cfg.eval_cameras)
    ckpt = paths.checkpoints_dir() / f"{name}.pt" if checkpoint else None
    trainer = train.Trainer(cfg, train_seqs, layout_2d=data.layout_2d, regularizer=regularizer,
                            checkpoint=ckpt, progress=progress)
    start = time.perf_counter()
    history = trainer.fit()
    seconds = time.perf_counter() - start
    results = train.evaluate(trainer.eval_network(), test_seqs, cfg, data.layout_2d,
                             h36m_actions=data.name == "h36m")
    return RunResult(run_label(cfg), cfg, history.to_dict(), results, seconds,
                     count_parameters(trainer.model), ckpt, trainer)


def run_label(cfg: Config) -> str:
    """``"243 frames"``, ``"243 frames causal"``: how a variant is named in tables and plots."""
    return f"{cfg.receptive_field} frame{'s' if cfg.receptive_field > 1 else ''}" + (" causal" if cfg.causal else "")


def ablation_variants(cfg: Config) -> dict[str, Config]:
    """The notebook-02 ablations of a main config: every shorter receptive field of 1, 27, 81 and 243
    frames (same width-3 design; 1 frame = all widths 1, same depth), and the causal twin."""
    variants = []
    for widths in ((1,) * len(cfg.filter_widths), (3, 3, 3), (3, 3, 3, 3), (3, 3, 3, 3, 3)):
        candidate = cfg.replace(filter_widths=widths)
        if candidate.receptive_field < cfg.receptive_field:
            variants.append(candidate)
    variants.append(cfg.replace(causal=not cfg.causal))
    return {run_label(v): v for v in variants}


def train_ablations(cfg: Config, data: PoseData, progress: bool = False) -> dict[str, RunResult]:
    """Train and evaluate every :func:`ablation_variants` entry with the main run's budget."""
    return {label: train_variant(f"02_{label.replace(' ', '_')}", v, data, progress=progress)
            for label, v in ablation_variants(cfg).items()}


def parameter_table(channels=(128, 256, 512, 1024), blocks=(1, 2, 3, 4), width: int = 3):
    """pandas table of parameter counts (rows: channels, columns: residual blocks B; receptive field
    width^(B+1)), for 17 COCO joints in and 17 H36M joints out."""
    import pandas as pd

    rows = {}
    for c in channels:
        rows[c] = {f"B={b} ({width ** (b + 1)} frames)":
                   count_parameters(TemporalModel(ModelConfig(channels=c, filter_widths=(width,) * (b + 1))))
                   for b in blocks}
    table = pd.DataFrame(rows).T
    table.index.name = "channels"
    return table


def per_action_table(results: dict):
    """pandas table: rows = actions (+ the two averages), columns = the four metrics (mm)."""
    import pandas as pd

    table = pd.DataFrame({m: results[m]["per_action"] for m in metrics.METRICS})
    table["frames"] = pd.Series(results["mpjpe"]["num_frames"])
    table.loc["mean over actions"] = [results[m]["action_mean"] for m in metrics.METRICS] + [table["frames"].sum()]
    table.loc["mean over frames"] = [results[m]["frame_mean"] for m in metrics.METRICS] + [table["frames"].iloc[:-1].sum()]
    table["frames"] = table["frames"].astype(int)
    return table.round(2)


def clip_table(runs: list[RunResult]):
    """pandas table: MPJPE (mm, mean over cameras) per test clip (rows, with its length in frames) and
    variant (columns). Short clips give a long receptive field little real context: the rest of its
    window is the clip's first or last frame repeated."""
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


def ablation_table(runs: list[RunResult]):
    """pandas table of variants: receptive field, causality, parameters, time and the four metrics."""
    import pandas as pd

    return pd.DataFrame([r.summary() for r in runs]).set_index("name")


def example_prediction(run: RunResult, data: PoseData, subject: str | None = None, action: str | None = None,
                       camera: int = 0) -> dict:
    """Ground truth and prediction of one test clip in world coordinates (for 3D plots).

    Returns ``{"subject", "action", "camera", "frames", "target", "prediction"}`` with (T, 17, 3) world
    metres (``frames``: four frame indices to show): the
    prediction is root-relative, so it is placed at the ground-truth root trajectory for display.
    """
    from . import train

    subject = subject or data.test_subjects[0]
    # Default: the subject's longest clip, so that the figure shows several seconds of motion.
    action = action or max(data.actions(subject), key=lambda a: len(data.positions_3d[subject][a]))
    seq = ds.sequences(data, [subject], actions=[action], cameras=(camera,))[0]
    pred_cam = train.predict(run.trainer.eval_network(), seq, run.cfg.causal, run.cfg.flip_test, data.layout_2d)
    pred_cam = pred_cam + seq.positions_3d[:, :1]
    cam = data.cameras[subject][camera]
    frames = np.linspace(0, len(seq) - 1, 6).astype(int)[1:-1].tolist()  # four frames inside the clip
    return {"subject": subject, "action": action, "camera": camera, "frames": frames,
            "target": data.positions_3d[subject][action], "prediction": cam.camera_to_world(pred_cam)}


#: Differences in mean MPJPE below this are reported as "no clear difference". Seeds of one recipe
#: on the default data landed up to 1.3 mm apart for the 27-frame model and 3.3 mm for the
#: 243-frame one (seeds 0-2, notebook 02's former 30-epoch recipe): a gap under 1 mm is well inside
#: that spread; larger gaps are printed with their size, to be read against it.
CLEAR_MARGIN_MM = 1.0


def comparison_lines(main: RunResult, others: dict[str, RunResult], margin_mm: float = CLEAR_MARGIN_MM) -> list[str]:
    """Plain-language comparison of the main run against ablations, from the measured numbers."""
    lines = []
    m = main.results["mpjpe"]["action_mean"]
    for label, run in others.items():
        o = run.results["mpjpe"]["action_mean"]
        if abs(o - m) < margin_mm:
            lines.append(f"{main.name} ({m:.1f} mm) and {label} ({o:.1f} mm) differ by {abs(o - m):.1f} mm: "
                         f"no clear difference (under {margin_mm:.1f} mm)")
            continue
        verdict = "better" if m < o else "worse"
        lines.append(f"{main.name} ({m:.1f} mm) is {abs(o - m):.1f} mm {verdict} than {label} ({o:.1f} mm)")
    return lines


#: Published averages (Table I, MPJPE protocol 1, Human3.6M, mm), labelled for what they are.
PUBLISHED_H36M = {"paper (Liu & Ren), Human3.6M": 46.5, "VideoPose3D (Pavllo et al.), Human3.6M": 46.8}


def model_verdict(main: RunResult, runs: dict[str, RunResult], dataset: str,
                  margin_mm: float = CLEAR_MARGIN_MM) -> dict:
    """Measured statements for notebook 02's "what reproduces" section.

    ``temporal_context_helps`` is True only when the main model beats every shorter receptive field
    (same causality) by at least ``margin_mm`` of mean MPJPE.
    """
    paper_params = count_parameters(TemporalModel(ModelConfig(channels=1024)))
    m = main.results["mpjpe"]["action_mean"]
    lines = [f"Architecture: widths 3,3,3,3,3 with 1024 channels has {paper_params:,} parameters and a "
             f"243-frame receptive field, as the paper's (and VideoPose3D's) model.",
             f"This run: {main.cfg.receptive_field} frames, {main.cfg.channels} channels, {main.cfg.epochs} epochs, "
             f"{main.train_seconds:.0f} s on this machine; MPJPE {m:.1f} mm (mean over actions) on {dataset}."]
    lines += comparison_lines(main, runs, margin_mm)
    beats = {label: r.results["mpjpe"]["action_mean"] - m >= margin_mm for label, r in runs.items()
             if r.cfg.causal == main.cfg.causal}
    if beats and all(beats.values()):
        lines.append(f"Temporal context helps here: the {main.name} model beats every shorter receptive field "
                     f"by at least {margin_mm:.1f} mm.")
    elif beats:
        lines.append(f"Temporal context does NOT clearly help here: the {main.name} model does not beat "
                     + ", ".join(k for k, v in beats.items() if not v) + f" by {margin_mm:.1f} mm or more.")
    clips = clip_table([*runs.values(), main])
    longest = clips.index[-1]
    shorter = {label: clips.loc[longest, label] for label, r in runs.items() if r.cfg.causal == main.cfg.causal}
    if shorter:
        best = min(shorter, key=shorter.get)
        lines.append(f"On the longest test clip ({longest}, {clips.loc[longest, 'frames']} frames) {main.name}: "
                     f"{clips.loc[longest, main.name]:.1f} mm; best shorter window ({best}): {shorter[best]:.1f} mm.")
    if dataset == "h36m":
        lines.append(f"Human3.6M: measured {m:.1f} mm vs the paper's 46.5 mm and VideoPose3D's 46.8 mm "
                     f"(Table I, protocol 1).")
    else:
        lines.append("The paper's 46.5 mm (VideoPose3D: 46.8 mm) is a Human3.6M result with CPN detections; it "
                     "cannot be reproduced without Human3.6M, and the number above is not comparable to it "
                     f"(different subjects, motions, 2D noise and {len(main.results['mpjpe']['per_action'])} "
                     "action categories).")
    return {"lines": lines, "temporal_context_helps": bool(beats) and all(beats.values()), "clips": clips,
            "margin_mm": margin_mm}


def model_metrics(main: RunResult, runs: dict[str, RunResult], data: PoseData, params_table) -> dict:
    """The content of ``reports/metrics/02_model.json``."""
    def detail(run: RunResult) -> dict:
        return {**run.summary(), "per_action": {m: run.results[m]["per_action"] for m in metrics.METRICS},
                "num_frames": run.results["mpjpe"]["num_frames"], "history": run.history}

    verdict = model_verdict(main, runs, data.name)
    return {"dataset": data.name, "test_subjects": list(data.test_subjects),
            "protocol": main.results["protocol"], "main": detail(main),
            "ablations": {label: detail(r) for label, r in runs.items()},
            "temporal_context_helps": verdict["temporal_context_helps"],
            "clear_margin_mm": verdict["margin_mm"], "verdict": verdict["lines"],
            "per_clip_mpjpe_mm": verdict["clips"].to_dict(orient="index"),
            "parameter_table": {str(c): row for c, row in params_table.to_dict(orient="index").items()},
            "published_h36m_mpjpe_mm": PUBLISHED_H36M,
            "published_note": "published Human3.6M numbers (Table I, protocol 1); not measured here and not "
                              "comparable to results on other data"}
