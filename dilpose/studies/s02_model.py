"""Notebook 02's study: the dilated temporal ConvNet, its receptive field and causality.

The arms:

* the main model (the profile's receptive field, symmetric) and its causal twin, each trained
  with every seed in ``seeds`` on every training frame: "does seeing the future help?";
* the *matched* receptive-field arms (27, 81 and 243 frames in the default profile), each trained
  with every seed in ``context_seeds`` on the same frames: those whose centred 243-frame window is
  at least 90 % inside its clip (``Config.min_context``, :func:`dilpose.batches.context_frames`).
  Most training clips are shorter than 243 frames, so on every frame a 243-frame model would
  otherwise see mostly edge padding where a 27-frame model sees motion: the unmatched comparison
  confounds the receptive field with how much of each window is real. The matched arms see as
  many windows as the main model (denser subsampling of fewer frames, :func:`matched_configs`) and
  are scored on all test frames and on the full-context frames of the long test clips;
* the 1-frame model, which only illustrates the trend (first seed).

Comparisons are decided by :mod:`dilpose.stats` with an equivalence margin stated in advance
(:data:`MARGIN_MM`) and Holm's correction over the family the conclusions rest on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import batches, datasets, paper, stats
from .. import skeleton as sk
from ..batches import WindowBatches
from ..config import Config
from ..datasets.base import PoseData, Sequence
from ..evaluate import FULL_CONTEXT, METRICS
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
_WIDTHS = {1: None, 9: (3, 3), 27: (3, 3, 3), 81: (3, 3, 3, 3), 243: (3, 3, 3, 3, 3)}
#: The equivalence margin (mm) of every comparison in notebook 02, stated before any result: 2 mm
#: is about 2.5 % of the 80-90 mm errors here, below what a user sees in a skeleton (it cannot
#: rule out VideoPose3D's steps of 0.6-1.9 mm between 27, 81 and 243 frames). Two arms
#: are called equivalent only when the whole 90 % interval of their difference lies inside +-2 mm.
MARGIN_MM = 2.0
#: The subsets of test frames the matched arms are scored on (dilpose.studies.common.SUBSETS).
SUBSET_NAMES = {"all": "all test frames", "full_context": "full-context frames of long clips"}


@dataclass
class Arm:
    """One variant and its runs (one per seed). ``decisive``: a conclusion rests on it
    (all seeds); ``matched``: one of the receptive-field arms trained on the same frames."""

    label: str
    cfg: Config
    decisive: bool
    matched: bool = False
    runs: list[RunResult] = field(default_factory=list)

    @property
    def first(self) -> RunResult:
        return self.runs[0]


def matched_share(data: PoseData, receptive_field: int) -> float:
    """The share of training frames whose centred ``receptive_field`` window is at least 90 %
    inside its clip (:func:`dilpose.batches.context_frames`)."""
    lengths = [len(v) for s in data.train_subjects for v in data.positions_3d[s].values()]
    kept = sum(int(batches.context_frames(n, receptive_field).sum()) for n in lengths)
    return kept / sum(lengths)


def matched_configs(cfg: Config, data: PoseData) -> dict[str, Config]:
    """The matched receptive-field arms: up to three fields of :data:`_WIDTHS` no longer than the
    main model's (27, 81, 243 in the default profile; 9 and 27 in the smoke profile), all trained
    on the frames of ``min_context`` = the main model's receptive field, with the window
    subsampling scaled by the share of frames kept, so each sees as many windows as the main
    model."""
    R = cfg.receptive_field()
    fields = [f for f in _WIDTHS if 1 < f <= R][-3:]
    subsample = max(1, round(cfg.stride_subsample * matched_share(data, R)))
    out = {}
    for f in fields:
        variant = cfg.replace(
            filter_widths=_WIDTHS[f], min_context=R, stride_subsample=subsample, causal=False
        )
        out[run_label(variant)] = variant
    return out


def arms(cfg: Config, data: PoseData) -> dict[str, Arm]:
    """The arms for a main config: main and causal twin (decisive), the matched receptive-field
    arms (decisive), then 1 frame (illustrative)."""
    out = {run_label(cfg): Arm(run_label(cfg), cfg, True)}
    twin = cfg.replace(causal=not cfg.causal)
    out[run_label(twin)] = Arm(run_label(twin), twin, True)
    for label, variant in matched_configs(cfg, data).items():
        out[label] = Arm(label, variant, True, matched=True)
    single = cfg.replace(filter_widths=(1,) * len(cfg.filter_widths))  # same depth, widths 1
    out[run_label(single)] = Arm(run_label(single), single, False)
    return out


def run(cfg: Config, data: PoseData, seeds, context_seeds=None, progress: bool = True):
    """Train (or load from the model cache) every arm: the main model and its twin with ``seeds``,
    the matched arms with ``context_seeds`` (default: ``seeds``), the 1-frame arm with the first
    seed. Returns ``{label: Arm}``, main first."""
    seeds = [int(s) for s in seeds]
    context_seeds = seeds if context_seeds is None else [int(s) for s in context_seeds]
    out = arms(cfg, data)
    for arm in out.values():
        use = context_seeds if arm.matched else seeds if arm.decisive else seeds[:1]
        arm.runs = train_arm(f"02 {arm.label}", arm.cfg, data, use, progress)
    return out


def _matched(study: dict[str, Arm]) -> list[Arm]:
    """The matched arms, longest receptive field first."""
    return sorted((a for a in study.values() if a.matched), key=lambda a: -a.cfg.receptive_field())


def _matched_pairs(study: dict[str, Arm]) -> list[tuple[Arm, Arm]]:
    """The longest matched arm against each shorter one, then the middle against the shortest."""
    m = _matched(study)
    pairs = [(m[0], b) for b in m[1:]]
    if len(m) == 3:
        pairs.append((m[1], m[2]))
    return pairs


def comparisons(study: dict[str, Arm]) -> dict[str, dict]:
    """Every comparison of the notebook (``stats.Comparison.to_dict`` with ``decisive``,
    ``subset`` and ``family`` added), keyed ``"<a> vs <b>"`` and, for the full-context frames,
    ``"<a> vs <b> (full-context frames)"``: the main model against its causal twin and against 1
    frame (illustrative: the first seed only), and the matched arms against each other on both
    subsets. ``family`` marks the comparisons the notebook's conclusions rest on (Holm)."""
    main, twin = list(study.values())[:2]
    single = next(a for a in study.values() if not a.decisive)
    todo = [(main, twin, "all"), (main, single, "all")]
    todo += [(a, b, subset) for subset in SUBSET_NAMES for a, b in _matched_pairs(study)]
    out = {}
    for a, b, subset in todo:
        seeds = {r.cfg.seed for r in b.runs} & {r.cfg.seed for r in a.runs}
        mine = [r for r in a.runs if r.cfg.seed in seeds]
        theirs = [r for r in b.runs if r.cfg.seed in seeds]
        c = compare_arms(mine, theirs, a.label, b.label, margin=MARGIN_MM, subset=subset)
        key = f"{a.label} vs {b.label}" + ("" if subset == "all" else " (full-context frames)")
        decisive = a.decisive and b.decisive
        out[key] = {**c.to_dict(), "decisive": decisive, "subset": subset, "family": decisive}
    return out


def holm(comps: dict[str, dict]) -> dict:
    """Holm's correction over the comparisons the notebook's conclusions rest on
    (``comps[k]["family"]``): :func:`dilpose.stats.holm`'s record."""
    return stats.holm({k: c for k, c in comps.items() if c["family"]})


def _reading(c: dict) -> str:
    """A comparison's verdict with its interval, then its power line."""
    return f"{c['verdict']}; {c['power_line']}"


def verdict(study: dict[str, Arm], comps: dict[str, dict], dataset: str, holm_: dict) -> dict:
    """The notebook's conclusion, measured: a line per comparison (with the Holm flips), and the
    flags ``seeing_the_future_helps`` (the symmetric model clearly beats its causal twin) and
    ``temporal_context_helps`` (the longest matched arm clearly beats the shortest on all test
    frames; None when the profile has one matched arm)."""
    main, twin = list(study.values())[:2]
    lines = []
    for key, c in comps.items():
        note = "" if c["decisive"] else f" (illustrative: seed {c['seeds_a'][0]} only)"
        lines.append(f"{key}: {c['verdict']}{note}")
    lines += holm_["lines"] or [
        f"Under Holm over {len(holm_['family'])} comparisons no verdict flips."
    ]
    future = comps[f"{main.label} vs {twin.label}"]
    symmetric = main.label if not main.cfg.causal else twin.label
    seeing_future = future["winner"] == symmetric
    lines.append(f"Seeing the future: {_reading(future)}.")
    matched = _matched(study)
    helps = None
    if len(matched) > 1:
        longest, shortest = matched[0], matched[-1]
        c = comps[f"{longest.label} vs {shortest.label}"]
        helps = c["winner"] == longest.label
        lines.append(f"Temporal context (matched frames, all test frames): {_reading(c)}.")
        full = comps.get(f"{longest.label} vs {shortest.label} (full-context frames)")
        if full is not None:
            lines.append(f"On the full-context frames of the long test clips: {_reading(full)}.")
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


def ablation_intervals(study: dict[str, Arm]) -> dict[str, dict]:
    """Every arm's MPJPE over all test frames with its 95 % interval (over test people and seeds),
    in a reading order: the 1-frame model, the matched arms from short to long, the main model and
    its causal twin; ``note`` gives the seeds and how the arm was trained. For
    :func:`dilpose.viz_plots.interval_chart`."""
    order = [a for a in study.values() if not a.decisive]
    order += sorted((a for a in study.values() if a.matched), key=lambda a: a.cfg.receptive_field())
    order += [a for a in study.values() if a.decisive and not a.matched]
    out = {}
    for arm in order:
        iv = arm_summary(arm.runs)["mpjpe_frames_mm"]
        seeds = len(arm.runs)
        how = "matched frames" if arm.matched else "all frames"
        out[arm.label] = {**iv, "note": f"{seeds} seed{'s' if seeds > 1 else ''}, {how}"}
    return out


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
            "trained on": "matched frames" if arm.matched else "all frames",
            "seeds": len(arm.runs),
            **{f"seed {r.cfg.seed}": round(r.results["mpjpe"]["action_mean"], 1) for r in arm.runs},
            "MPJPE over frames [95 % CI]": f"{iv['mean']:.1f} [{iv['lo']:.1f}, {iv['hi']:.1f}]",
            "training s (each)": round(sum(r.train_seconds for r in arm.runs) / len(arm.runs)),
        }
    return pd.DataFrame(rows).T


def metrics_json(
    study: dict[str, Arm], comps: dict, verdict_: dict, data: PoseData, params_table, holm_: dict
) -> dict:
    """The content of ``reports/metrics/02_model.json``: seeds, intervals, verdicts (with their
    margin, counts and power lines), the Holm correction and how the matched arms were trained."""
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
            label: {
                **arm_summary(arm.runs),
                "decisive": arm.decisive,
                "matched": arm.matched,
                "min_context": arm.cfg.min_context,
                "stride_subsample": arm.cfg.stride_subsample,
            }
            for label, arm in study.items()
        },
        "matched_training": {
            "min_context": main.cfg.receptive_field(),
            "min_real_fraction": batches.MIN_REAL_FRACTION,
            "share_of_training_frames": matched_share(data, main.cfg.receptive_field()),
            "full_context_frames": FULL_CONTEXT,
        },
        "margin_mm": MARGIN_MM,
        "holm": holm_,
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
    """The readings the notebook's conclusion shows, by role, whatever the profile's arms:
    ``future`` (main vs causal twin), ``single`` (main vs 1 frame), ``context`` (the longest
    matched arm vs the shortest), ``context_mid`` (the longest vs the middle one), ``context_low``
    (the middle vs the shortest), each also as ``<role>_full`` on the full-context frames; and the
    labels ``main``, ``causal``, ``longest``, ``shortest``. A comparison the profile does not run
    reads "not run in this profile"."""
    main, twin = list(study.values())[:2]
    single = next(a for a in study.values() if not a.decisive)
    m = [a.label for a in _matched(study)]
    keys = {"future": f"{main.label} vs {twin.label}", "single": f"{main.label} vs {single.label}"}
    if len(m) > 1:
        keys["context"] = f"{m[0]} vs {m[-1]}"
    if len(m) == 3:
        keys["context_mid"], keys["context_low"] = f"{m[0]} vs {m[1]}", f"{m[1]} vs {m[2]}"
    for role in ("context", "context_mid", "context_low"):
        if role in keys:
            keys[f"{role}_full"] = keys[role] + " (full-context frames)"
    roles = ("future", "single", "context", "context_mid", "context_low")
    out = {
        role: _reading(comps[keys[role]]) if keys.get(role) in comps else "not run in this profile"
        for role in (*roles, *(f"{r}_full" for r in roles[2:]))
    }
    return {
        **out,
        "main": main.label,
        "causal": twin.label,
        "longest": m[0] if m else "",
        "middle": m[1] if len(m) == 3 else "",
        "shortest": m[-1] if m else "",
    }
