"""The camera benchmark: how a lifter does on the test people filmed by each camera family.

For every family of :data:`dilpose.virtual_cameras.FAMILIES` (Human3.6M's cameras, the shop's
ceiling cameras, a phone at chest height, a laptop webcam, a wide action camera) the embedded
data's test subjects (never trained on) are filmed by the family's four views with the same
detector noise, and each model is scored by

* MPJPE and P-MPJPE (mm, mean over action categories, as Table I; root-relative),
* the scale error: the predicted skeleton's total bone length over the true one, minus 1, as a
  percentage (mean over frames); a model that reads a small image person as a small person
  scores about -40 % on the shop cameras;
* both again with every bone fitted to its full size over the clip (``dilpose lift
  --full-size-bones``, :data:`dilpose.bones.FULL_SIZE_QUANTILE`): ``full_size``.

A model is an :class:`Entrant`: a lifter and the input convention it reads
(:mod:`dilpose.input_norm`), so the focal-normalised model is fed each camera's focal length and
the screen models only the image size. Comparisons (:func:`compare`) use
:func:`dilpose.stats.compare`: 95 % intervals that re-draw whole test people (all their clips and
views together); one training seed per model, so no interval holds the seed's variation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import bones, input_norm, stats, virtual_cameras
from .batches import split_root
from .bones import scale_error
from .datasets.base import PoseData, Sequence
from .evaluate import aggregate, predict
from .noise import NoiseConfig

Lifter = Callable[[Sequence], np.ndarray]  # a sequence -> (T, 17, 3) root-relative metres


@dataclass(frozen=True)
class Entrant:
    """A model in the benchmark: its lifter and the input convention it reads."""

    lifter: Lifter
    convention: str = input_norm.SCREEN


def model_entrant(model, causal: bool, convention: str, flip_test: bool = True) -> Entrant:
    """A trained :class:`~dilpose.model.TemporalModel` as an entrant: whole-sequence prediction
    in fp32, flip-averaged unless causal (a causal model runs on the live stream)."""

    def lift(seq: Sequence) -> np.ndarray:
        return predict(model, seq, causal, flip_test and not causal)

    return Entrant(lift, convention)


def mean_scale_error(seqs: list[Sequence], preds: list[np.ndarray]) -> float:
    """The frame-weighted mean of :func:`scale_error` over sequences (a fraction); ``preds``:
    one (T, 17, 3) root-relative prediction (metres) per sequence."""
    errs = [
        scale_error(p, split_root(s.positions_3d.astype(np.float64))[0])
        for s, p in zip(seqs, preds)
    ]
    return float(np.average(errs, weights=[len(s) for s in seqs]))


def score(seqs: list[Sequence], preds: list[np.ndarray], action_of=None) -> dict:
    """Table I's aggregates (``mpjpe``, ``p_mpjpe``) of one model on one family, the mean scale
    error (``scale_error``, a fraction), per-sequence records (``per_sequence``: unit, frames,
    MPJPE mm, scale error) for the intervals, and ``full_size``: MPJPE and scale error with every
    bone fitted to its full size (:data:`dilpose.bones.FULL_SIZE_QUANTILE`)."""
    records, per_seq, full = [], [], []
    for seq, p in zip(seqs, preds):
        target, _ = split_root(seq.positions_3d.astype(np.float64))
        records.append(
            {"subject": seq.subject, "action": seq.category, "pred": p, "target": target}
        )
        fitted = bones.fit_bone_lengths(p, quantile=bones.FULL_SIZE_QUANTILE)
        full.append((scale_error(fitted, target), {**records[-1], "pred": fitted}))
        per_frame = np.linalg.norm(p - target, axis=-1).mean(-1)
        per_seq.append(
            {
                "unit": f"{seq.subject}/{seq.action}/camera {seq.camera}",
                "frames": len(seq),
                "mpjpe_mm": 1000 * float(per_frame.mean()),
                "scale_error": scale_error(p, target),
            }
        )
    res = aggregate(records, flip_test=False, action_of=action_of)
    res_full = aggregate([r for _, r in full], flip_test=False, action_of=action_of)
    frames = np.array([r["frames"] for r in per_seq], float)
    return {
        "mpjpe": res["mpjpe"]["action_mean"],
        "p_mpjpe": res["p_mpjpe"]["action_mean"],
        "scale_error": float(np.average([r["scale_error"] for r in per_seq], weights=frames)),
        "full_size": {
            "quantile": bones.FULL_SIZE_QUANTILE,
            "mpjpe": res_full["mpjpe"]["action_mean"],
            "scale_error": float(np.average([e for e, _ in full], weights=frames)),
        },
        "per_sequence": per_seq,
    }


def run(
    entrants: dict[str, Entrant],
    data: PoseData,
    families=tuple(virtual_cameras.FAMILIES),
    subjects=None,
    seed: int = 0,
    noise=None,
) -> dict[str, dict[str, dict]]:
    """``{family: {model: score(...)}}`` on ``subjects`` (default the test subjects), each family's
    sequences rendered once with ``noise`` (default the data's own settings) and ``seed``, so every
    model sees the same detections, each in its own input convention."""
    subjects = data.test_subjects if subjects is None else subjects
    if noise is None:
        noise = NoiseConfig.of(data.info)
    out = {}
    for family in families:
        seqs = virtual_cameras.family_sequences(data, subjects, family, seed=seed, noise=noise)
        out[family] = {}
        for name, entrant in entrants.items():
            preds = [entrant.lifter(input_norm.as_convention(s, entrant.convention)) for s in seqs]
            out[family][name] = score(seqs, preds, data.category)
    return out


def table(results: dict[str, dict[str, dict]]):
    """pandas table, one row per (family, model): MPJPE, P-MPJPE (mm), scale error (%), MPJPE
    over the same model's Human3.6M-camera MPJPE (where ``h36m`` was run), and MPJPE and scale
    error with full-size bones."""
    import pandas as pd

    rows = []
    for family, models in results.items():
        for name, r in models.items():
            base = results.get("h36m", {}).get(name)
            rows.append(
                {
                    "cameras": virtual_cameras.FAMILIES[family][0],
                    "model": name,
                    "MPJPE (mm)": round(r["mpjpe"], 1),
                    "P-MPJPE (mm)": round(r["p_mpjpe"], 1),
                    "scale error (%)": round(100 * r["scale_error"], 1),
                    "x Human3.6M": _ratio(r, base),
                    "full-size bones: MPJPE (mm)": round(r["full_size"]["mpjpe"], 1),
                    "full-size bones: scale error (%)": round(
                        100 * r["full_size"]["scale_error"], 1
                    ),
                }
            )
    return pd.DataFrame(rows)


def _ratio(r: dict, base: dict | None) -> float | None:
    """MPJPE over the base's, or None without a base (or a base with no error to divide by)."""
    if base is None or not base["mpjpe"] > 0:
        return None
    return round(r["mpjpe"] / base["mpjpe"], 2)


def compare(
    results: dict[str, dict[str, dict]], family: str, a: str, b: str, margin: float | None = None
) -> stats.Comparison:
    """MPJPE of model ``a`` minus ``b`` on ``family`` over all its frames (frame-weighted), with
    the 95 % interval re-drawing whole test people."""
    ra, rb = results[family][a]["per_sequence"], results[family][b]["per_sequence"]
    weights = {r["unit"]: r["frames"] for r in ra}
    return stats.compare(
        {0: {r["unit"]: r["mpjpe_mm"] for r in ra}},
        {0: {r["unit"]: r["mpjpe_mm"] for r in rb}},
        a,
        b,
        weights=weights,
        margin=margin,
    )


def to_json(results: dict[str, dict[str, dict]]) -> dict:
    """The results without per-sequence records: ``{family: {model: {mpjpe, p_mpjpe,
    scale_error}}}``."""
    return {
        f: {m: {k: v for k, v in r.items() if k != "per_sequence"} for m, r in models.items()}
        for f, models in results.items()
    }
