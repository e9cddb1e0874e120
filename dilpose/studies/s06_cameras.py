"""Notebook 06's camera study: the camera-robust lifters on the shop, why a model trained elsewhere
fails there (measured one cause at a time), and the camera benchmark.

The camera-robust models are notebook 02's architecture and schedule trained on the embedded data
filmed through Human3.6M's cameras *and* sixteen virtual cameras per clip
(:func:`dilpose.virtual_cameras.training_set`); in the default profile they are the shipped
``lifter-243`` and ``lifter-243-focal`` (:mod:`dilpose.weights`), taken from the model cache.

**The gap, one cause at a time** (:func:`gap_setups`, :data:`GAP_STEPS`). Four lifters on the same
shop test takes, each changing one thing from the one before:

1. notebook 02's model as it is (Human3.6M's lens, viewpoints, CMU/HDM05 people);
2. the same model, its input re-scaled to the lens it was trained with (each point's ray, times
   the training cameras' focal length): what the focal length costs;
3. the camera-robust model told the focal length (trained on every viewpoint and lens, the same
   people): what the viewpoint and lens distortion cost, beyond the focal length;
4. the shop-trained model (the shop's own cameras, people, motions and shelves): what the rest,
   people, motions and occlusion, costs.

Each step is a verdict with its interval (:func:`dilpose.stats.compare`, re-drawing whole test
people) and the steps form one Holm family.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import bones, cache, callbacks, camera_bench, input_norm
from .. import virtual_cameras as vc
from ..config import Config
from ..datasets.base import PoseData, Sequence
from ..evaluate import predict
from . import s06_shop
from .common import run_label

#: Virtual cameras per training clip (as the shipped models: :data:`dilpose.weights.VIEWS`).
VIEWS = vc.TRAINING_VIEWS
#: setup prefix -> the input convention of the camera-robust model.
ROBUST = {"camera-robust": input_norm.SCREEN, "camera-robust, focal known": input_norm.FOCAL}
#: The steps of the gap (see the module docstring): (step, better setup, worse setup) by key.
GAP_STEPS = (
    ("focal length", "training lens", "as is"),
    ("viewpoint and lens distortion", "robust, focal known", "training lens"),
    ("people, motions and shelves", "shop-trained", "robust, focal known"),
)


def train_robust(cfg: Config, mocap: PoseData, progress: bool = True) -> dict:
    """The camera-robust symmetric models, one per input convention, trained or loaded from the
    model cache: ``{name: {"trainer", "cfg", "convention", "cached"}}``."""
    out = {}
    for prefix, convention in ROBUST.items():
        seqs = vc.training_set(mocap, mocap.train_subjects, VIEWS, cfg.seed, cfg.noise, convention)
        name = f"{prefix}, {run_label(cfg)}"
        trainer, now = cache.train_cached(
            cfg,
            seqs,
            mocap.layout_2d,
            name=f"06_robust_{convention}",
            callbacks=[callbacks.LineProgress(f"06 {name} seed {cfg.seed}", console=progress)],
            normalization=convention,
        )
        if not now:
            print(f"06 {name}: loaded from the model cache ({trainer.checkpoint.name})")
        out[name] = {"trainer": trainer, "cfg": cfg, "convention": convention, "cached": not now}
    return out


def _lifter(model, convention: str, causal: bool, scale: float | None = None):
    """A setup (:data:`dilpose.studies.s06_shop.Lifter`) that feeds ``model`` each sequence in
    ``convention``; with ``scale``, focal-convention points times ``scale`` (the normalised focal
    length of another lens: the input a screen model would have read through that lens)."""

    def lift(seq: Sequence) -> np.ndarray:
        seq = input_norm.as_convention(seq, convention)
        if scale is not None:
            kp = (seq.keypoints_2d * scale).astype(np.float32)
            seq = dataclasses.replace(seq, keypoints_2d=kp)
        return predict(model, seq, causal, not causal)

    return lift


def robust_setups(models: dict) -> dict:
    """``{setup name: lifter}`` of :func:`train_robust`'s models, fp32."""
    return {
        f"{name}, fp32": _lifter(m["trainer"].eval_network(), m["convention"], m["cfg"].causal)
        for name, m in models.items()
    }


#: Appended to a setup's name for its predictions with full-size bones.
FULL_SIZE = ", full-size bones"


def full_size_bones(preds: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    """Every setup's predictions ((T, 17, 3) metres per sequence) with each bone fitted to its
    full size over the take (:data:`dilpose.bones.FULL_SIZE_QUANTILE`, as ``dilpose lift
    --full-size-bones``), under the setup's name plus :data:`FULL_SIZE`."""
    q = bones.FULL_SIZE_QUANTILE
    return {
        name + FULL_SIZE: [bones.fit_bone_lengths(p, quantile=q) for p in ps]
        for name, ps in preds.items()
    }


def gap_setups(models: dict, robust: dict, mocap: PoseData) -> dict:
    """The four setups of the gap's steps, by the keys :data:`GAP_STEPS` uses. ``models``:
    :func:`dilpose.studies.s06_shop.train_models`' dict; ``robust``: :func:`train_robust`'s."""
    cmu = next(m for n, m in models.items() if n.startswith("CMU") and not m["cfg"].causal)
    shop = next(m for n, m in models.items() if n.startswith("shop") and not m["cfg"].causal)
    focal = next(m for m in robust.values() if m["convention"] == input_norm.FOCAL)
    net = cmu["trainer"].eval_network()
    return {
        "as is": _lifter(net, input_norm.SCREEN, False),
        "training lens": _lifter(net, input_norm.FOCAL, False, s06_shop.normalised_focal(mocap)),
        "robust, focal known": _lifter(focal["trainer"].eval_network(), input_norm.FOCAL, False),
        "shop-trained": _lifter(shop["trainer"].eval_network(), input_norm.SCREEN, False),
    }


def gap_comparisons(results: dict) -> dict:
    """``{step: comparison record}``: the better setup of each step minus the worse
    (:func:`dilpose.studies.s06_shop.compare`, margin :data:`s06_shop.MARGIN_MM`)."""
    return {step: s06_shop.compare(results, a, b) for step, a, b in GAP_STEPS}


def scale_errors(preds: dict[str, list[np.ndarray]], seqs: list[Sequence]) -> dict[str, float]:
    """Per setup, the predicted skeleton's total bone length over the true one, minus 1
    (frame-weighted mean over the test takes; :func:`dilpose.camera_bench.mean_scale_error`)."""
    return {name: camera_bench.mean_scale_error(seqs, ps) for name, ps in preds.items()}


def shop_table(results: dict, scales: dict[str, float], reference: str):
    """pandas table, one row per setup of ``scales``: MPJPE and P-MPJPE (mm, mean over actions),
    MPJPE over the ``reference`` setup's (the shop-trained model), and the scale error (%)."""
    import pandas as pd

    ref = results[reference]["mpjpe"]["action_mean"]
    return pd.DataFrame(
        {
            n: {
                "MPJPE (mm)": round(results[n]["mpjpe"]["action_mean"], 1),
                "P-MPJPE (mm)": round(results[n]["p_mpjpe"]["action_mean"], 1),
                "x shop-trained": round(results[n]["mpjpe"]["action_mean"] / ref, 2),
                "scale error (%)": round(100 * e, 1),
            }
            for n, e in scales.items()
        }
    ).T


def benchmark(models: dict, robust: dict, mocap: PoseData) -> dict:
    """The camera benchmark (:func:`dilpose.camera_bench.run`) on the embedded data's test people:
    notebook 02's symmetric model against the camera-robust ones."""
    cmu = next(m for n, m in models.items() if n.startswith("CMU") and not m["cfg"].causal)
    entrants = {
        "notebook 02's model": camera_bench.model_entrant(
            cmu["trainer"].eval_network(), False, input_norm.SCREEN
        )
    }
    for name, m in robust.items():
        entrants[name] = camera_bench.model_entrant(
            m["trainer"].eval_network(), False, m["convention"]
        )
    return camera_bench.run(entrants, mocap)


def benchmark_comparisons(bench: dict, a: str, b: str) -> dict[str, dict]:
    """``{family: comparison record}``: model ``a`` minus ``b`` on every camera family of the
    benchmark (:func:`dilpose.camera_bench.compare`, margin :data:`s06_shop.MARGIN_MM`)."""
    return {
        family: camera_bench.compare(bench, family, a, b, s06_shop.MARGIN_MM).to_dict()
        for family in bench
    }


def metrics_json(
    results: dict,
    gap: dict,
    holm_: dict,
    scales: dict,
    robust_vs_shop: dict,
    bench: dict,
    bench_comps: dict,
) -> dict:
    """``06_cameras.json``: MPJPE per setup on the shop (the gap's setups and the camera-robust
    ones), the gap's steps with their Holm record, the scale errors, the camera-robust model
    against the shop-trained one, and the camera benchmark."""
    return {
        "label": s06_shop.LABEL,
        "mpjpe_mm": {n: r["mpjpe"]["action_mean"] for n, r in results.items()},
        "robust_vs_shop_trained": robust_vs_shop,
        "scale_error": scales,
        "gap_steps": gap,
        "holm": holm_,
        "camera_benchmark": camera_bench.to_json(bench),
        "camera_benchmark_comparisons": bench_comps,
        "distribution": {"views_per_clip": VIEWS, **vc.CameraDistribution().to_dict()},
    }
