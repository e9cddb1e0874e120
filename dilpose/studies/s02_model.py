"""Notebook 02's study: the dilated temporal ConvNet, its receptive field and causality.

The arms: the main model (the profile's receptive field, symmetric), its causal twin, and the 27-
and 81-frame models, each trained with every seed the notebook asks for: the notebook's conclusions
(how much temporal context helps, whether seeing the future helps) rest on these comparisons, so
they are decided by :mod:`dilpose.stats` (95 % bootstrap intervals over test sequences and seeds).
The 1-frame model only illustrates the trend: it is trained with the first seed alone, and its
comparison says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import datasets, paper
from .. import skeleton as sk
from ..batches import WindowBatches
from ..config import Config
from ..datasets.base import PoseData, Sequence
from ..evaluate import METRICS
from ..model import ModelConfig, TemporalModel, TemporalModelStrided, count_parameters
from .common import (
    RunResult,
    arm_summary,
    clip_length_table,
    clip_table,
    compare_arms,
    run_label,
    train_arm,
)

#: Receptive fields (frames) of the width-3 family this study draws its arms from.
_WIDTHS = {1: None, 27: (3, 3, 3), 81: (3, 3, 3, 3), 243: (3, 3, 3, 3, 3)}


@dataclass
class Arm:
    """One variant and its runs (one per seed). ``decisive``: a conclusion rests on it
    (all seeds)."""

    label: str
    cfg: Config
    decisive: bool
    runs: list[RunResult] = field(default_factory=list)

    @property
    def first(self) -> RunResult:
        return self.runs[0]


def arms(cfg: Config) -> dict[str, Arm]:
    """The arms for a main config: main, causal twin, 27 and 81 frames (decisive, if shorter than
    the main model), then 1 frame (illustrative)."""
    out = {run_label(cfg): Arm(run_label(cfg), cfg, True)}
    twin = cfg.replace(causal=not cfg.causal)
    out[run_label(twin)] = Arm(run_label(twin), twin, True)
    for frames, decisive in ((27, True), (81, True), (1, False)):
        # 1 frame: same depth, all widths 1
        widths = _WIDTHS[frames] or (1,) * len(cfg.filter_widths)
        if frames < cfg.receptive_field():
            variant = cfg.replace(filter_widths=widths)
            out[run_label(variant)] = Arm(run_label(variant), variant, decisive)
    return out


def run(cfg: Config, data: PoseData, seeds, progress: bool = True) -> dict[str, Arm]:
    """Train (or load from the model cache) every arm: decisive arms with every seed, the others
    with the first. Returns the arms, main first."""
    seeds = [int(s) for s in seeds]
    out = arms(cfg)
    for arm in out.values():
        arm.runs = train_arm(
            f"02 {arm.label}", arm.cfg, data, seeds if arm.decisive else seeds[:1], progress
        )
    return out


def comparisons(study: dict[str, Arm]) -> dict[str, dict]:
    """Main arm against every other arm, then 81 against 27 frames (when both are arms): the
    difference in MPJPE over all test frames with its 95 % interval and verdict
    (``stats.Comparison.to_dict``), keyed ``"<a> vs <b>"``. An arm with one seed is compared on the
    other arm's run with the same seed only."""
    main, *others = study.values()
    pairs = [(main, arm) for arm in others]
    if "81 frames" in study and "27 frames" in study:
        pairs.append((study["81 frames"], study["27 frames"]))
    out = {}
    for a, b in pairs:
        seeds = {r.cfg.seed for r in b.runs} & {r.cfg.seed for r in a.runs}
        mine = [r for r in a.runs if r.cfg.seed in seeds]
        theirs = [r for r in b.runs if r.cfg.seed in seeds]
        c = compare_arms(mine, theirs, a.label, b.label)
        out[f"{a.label} vs {b.label}"] = {**c.to_dict(), "decisive": a.decisive and b.decisive}
    return out


def verdict(study: dict[str, Arm], comps: dict[str, dict], dataset: str) -> dict:
    """The notebook's conclusion, measured: sentences with the numbers and intervals, and the flags
    ``temporal_context_helps`` (main beats the 27-frame arm: the interval excludes 0) and
    ``seeing_the_future_helps`` (the symmetric model beats its causal twin)."""
    main = next(iter(study.values()))
    causal_label = next(label for label, arm in study.items() if arm.cfg.causal != main.cfg.causal)
    lines = []
    for key, c in comps.items():
        note = "" if c["decisive"] else f" (illustrative: seed {c['seeds_a'][0]} only)"
        lines.append(f"{key}: {c['verdict']}{note}")
    helps = None
    key27 = f"{main.label} vs 27 frames"
    if key27 in comps:
        helps = comps[key27]["winner"] == main.label
    future = comps[f"{main.label} vs {causal_label}"]["winner"]
    seeing_future = future == (main.label if not main.cfg.causal else causal_label)
    if helps is not None:
        lines.append(
            (
                "Temporal context beyond 27 frames helps here: "
                if helps
                else "Temporal context beyond 27 frames does NOT clearly help here: "
            )
            + comps[key27]["verdict"]
            + "."
        )
    for key, what in (
        ("81 frames vs 27 frames", "From 27 to 81 frames"),
        (f"{main.label} vs 81 frames", f"From 81 to {main.cfg.receptive_field()} frames"),
    ):
        if key in comps:
            won = comps[key]["winner"] == key.split(" vs ")[0]
            lines.append(
                f"{what} the error {'falls' if won else 'does not clearly fall'}: "
                + comps[key]["verdict"]
                + "."
            )
    lines.append(
        (
            "Seeing the future helps: "
            if seeing_future
            else "Seeing the future does not clearly help: "
        )
        + comps[f"{main.label} vs {causal_label}"]["verdict"]
        + "."
    )
    m = main.first.results["mpjpe"]["action_mean"]
    if datasets.get(dataset).table_i:
        lines.append(
            f"Human3.6M: measured {m:.1f} mm (seed {main.first.cfg.seed}) vs the paper's "
            f"{paper.value('paper_mpjpe_h36m')} mm and VideoPose3D's "
            f"{paper.value('videopose3d_mpjpe_h36m')} "
            "mm (Table I, protocol 1)."
        )
    else:
        lines.append(
            f"The paper's {paper.value('paper_mpjpe_h36m')} mm (VideoPose3D: "
            f"{paper.value('videopose3d_mpjpe_h36m')} mm) is a Human3.6M result with CPN "
            "detections; the numbers above are measured on other data and are not comparable to it."
        )
    return {
        "lines": lines,
        "temporal_context_helps": helps,
        "seeing_the_future_helps": seeing_future,
    }


def ablation_runs(study: dict[str, Arm]) -> list[RunResult]:
    """The first-seed run of every arm (for per-clip tables and figures)."""
    return [arm.first for arm in study.values()]


def parameter_table(channels=(128, 256, 512, 1024), blocks=(1, 2, 3, 4), width: int = 3):
    """pandas table of parameter counts (rows: channels, columns: residual blocks B; receptive field
    width^(B+1)), for 17 COCO joints in and 17 H36M joints out."""
    import pandas as pd

    rows = {}
    for c in channels:
        rows[c] = {
            f"B={b} ({width ** (b + 1)} frames)": count_parameters(
                TemporalModel(ModelConfig(channels=c, filter_widths=(width,) * (b + 1)))
            )
            for b in blocks
        }
    table = pd.DataFrame(rows).T
    table.index.name = "channels"
    return table


def seeds_table(study: dict[str, Arm]):
    """pandas table: one row per arm, the MPJPE (mean over actions) of each seed, their mean, and
    the frame-weighted MPJPE with its 95 % interval over seeds and test sequences."""
    import pandas as pd

    rows = {}
    for label, arm in study.items():
        s = arm_summary(arm.runs)
        iv = s["mpjpe_frames_mm"]
        rows[label] = {
            "seeds": len(arm.runs),
            **{f"seed {r.cfg.seed}": round(r.results["mpjpe"]["action_mean"], 1) for r in arm.runs},
            "MPJPE over frames [95 % CI]": f"{iv['mean']:.1f} [{iv['lo']:.1f}, {iv['hi']:.1f}]",
            "training s (each)": round(sum(r.train_seconds for r in arm.runs) / len(arm.runs)),
        }
    return pd.DataFrame(rows).T


def metrics_json(
    study: dict[str, Arm], comps: dict, verdict_: dict, data: PoseData, params_table
) -> dict:
    """The content of ``reports/metrics/02_model.json``: seeds, intervals and verdicts included."""
    main = next(iter(study.values()))

    def detail(run: RunResult) -> dict:
        return {
            **run.summary(),
            "per_action": {m: run.results[m]["per_action"] for m in METRICS},
            "num_frames": run.results["mpjpe"]["num_frames"],
            "history": run.history,
        }

    clips = clip_table(ablation_runs(study))
    return {
        "dataset": data.name,
        "test_subjects": list(data.test_subjects),
        "protocol": main.first.results["protocol"],
        "main": detail(main.first),
        "arms": {
            label: {**arm_summary(arm.runs), "decisive": arm.decisive}
            for label, arm in study.items()
        },
        "ablations": {label: detail(arm.first) for label, arm in list(study.items())[1:]},
        "comparisons": comps,
        "temporal_context_helps": verdict_["temporal_context_helps"],
        "seeing_the_future_helps": verdict_["seeing_the_future_helps"],
        "verdict": verdict_["lines"],
        "per_clip_mpjpe_mm": clips.to_dict(orient="index"),
        "per_clip_length_mpjpe_mm": clip_length_table(ablation_runs(study)).to_dict(orient="index"),
        "parameter_table": {str(c): row for c, row in params_table.to_dict(orient="index").items()},
        "published_h36m_mpjpe_mm": {
            v["what"]: v["value"]
            for k, v in paper.PUBLISHED.items()
            if k in ("paper_mpjpe_h36m", "videopose3d_mpjpe_h36m")
        },
        "published_note": (
            "published Human3.6M numbers (Table I, protocol 1); not measured here and not "
            "comparable to results on other data"
        ),
    }


def window_and_flip(
    seq: Sequence,
    receptive_field: int,
    frame: int,
    causal: bool = False,
    layout_2d: sk.Skeleton = sk.COCO17,
) -> dict[str, np.ndarray]:
    """One training window of ``seq`` centred on (causal: ending at) ``frame``, and its flipped
    copy, exactly as :class:`~dilpose.batches.WindowBatches` makes them for the trainer.

    Returns ``x`` (R, J, 2) normalised 2D inputs, ``y`` (17, 3) the root-relative 3D target in
    camera space (metres, root zeroed), and ``x_flip``, ``y_flip``: the mirrored pair (x negated,
    left and right joints swapped) that flip augmentation adds.
    """
    if not 0 <= frame < len(seq):
        raise ValueError(f"frame {frame} is outside the sequence's {len(seq)} frames")
    windows = WindowBatches(
        [seq], 2 * len(seq), receptive_field, causal=causal, shuffle=False, layout_2d=layout_2d
    )
    batch = next(windows.epoch(0))  # every window of the sequence, then every flipped one
    k = len(seq)
    return {
        "x": batch.inputs[frame],
        "y": batch.targets[frame, 0],
        "x_flip": batch.inputs[k + frame],
        "y_flip": batch.targets[k + frame, 0],
    }


def strided_vs_dilated(
    mcfg: ModelConfig, windows: int = 256, repeats: int = 3, seed: int = 0
) -> dict[str, float]:
    """Run the same weights through the training path (:class:`TemporalModelStrided`) and the
    evaluation path (:class:`TemporalModel`) on ``windows`` random windows of one receptive field.

    Returns ``max_difference_mm`` (largest difference of the two outputs, eval mode, mm: float32
    rounding only), and the median time in ms of one training step's forward and backward pass on
    each path (``strided_ms``, ``dilated_ms``) and their ratio ``speedup``. Why the strided path is
    faster: for one output per window the dilated convolutions still compute every intermediate
    frame of the window; striding by the kernel width computes only the frames the output needs.
    """
    import torch

    torch.manual_seed(seed)
    dilated = TemporalModel(mcfg)
    strided = TemporalModelStrided(mcfg)
    strided.load_state_dict(dilated.state_dict())
    x = torch.randn(windows, mcfg.receptive_field(), mcfg.in_joints, mcfg.in_features)
    with torch.no_grad():
        diff = (dilated.eval()(x) - strided.eval()(x)).abs().max().item()

    def step_ms(net) -> float:
        net.train()
        times = []
        for _ in range(repeats + 1):  # the first run warms up the allocator and kernels
            start = time.perf_counter()
            net(x).square().mean().backward()
            times.append(1000 * (time.perf_counter() - start))
        return float(np.median(times[1:]))

    dilated_ms, strided_ms = step_ms(dilated), step_ms(strided)
    return {
        "windows": windows,
        "receptive_field": mcfg.receptive_field(),
        "max_difference_mm": 1000 * diff,
        "dilated_ms": dilated_ms,
        "strided_ms": strided_ms,
        "speedup": dilated_ms / strided_ms,
    }


def key_verdicts(study: dict[str, Arm], comps: dict[str, dict]) -> dict[str, str]:
    """The verdicts the notebook's conclusion reads, by role, whatever the profile's arms:
    ``future`` (main vs causal twin), ``context`` (main vs 27 frames), ``context_81`` (81 vs 27),
    ``beyond_81`` (main vs 81), ``single`` (main vs 1 frame), and ``main``, ``causal`` (the arms'
    labels). A comparison the profile does not run reads "not run in this profile"."""
    main = next(iter(study.values()))
    causal = next(label for label, arm in study.items() if arm.cfg.causal != main.cfg.causal)
    keys = {
        "future": f"{main.label} vs {causal}",
        "context": f"{main.label} vs 27 frames",
        "context_81": "81 frames vs 27 frames",
        "beyond_81": f"{main.label} vs 81 frames",
        "single": f"{main.label} vs 1 frame",
    }
    out = {
        role: comps[key]["verdict"] if key in comps else "not run in this profile"
        for role, key in keys.items()
    }
    return {**out, "main": main.label, "causal": causal}
