"""Notebook 03's study: the paper's pruning layer against dropout and against no regulariser.

Every arm is the same model, data, schedule and number of updates; only the regulariser in the
slots differs (:data:`ARMS`). Each arm is trained with every seed (the same seeds across arms, so
comparisons are paired) and compared by :mod:`dilpose.stats` (95 % bootstrap intervals over test
sequences and seeds). The pruning layer is read two ways: as activation pruning (a regulariser in
the slots, :data:`ARMS`) and as weight pruning during training (gradual magnitude pruning of the
convolution weights, :data:`WEIGHT_ARMS`, with no regulariser in the slots). Beyond the paper,
:func:`sparsity_study` prunes the trained dropout models' weights once, without retraining, and
:func:`trained_sparsity_study` asks what pruning during training costs against the dense model.
"""

from __future__ import annotations

import copy
import time

import numpy as np

from .. import batches, pruning, regularizers, stats
from .. import datasets as ds
from ..config import Config
from ..datasets.base import PoseData
from ..evaluate import evaluate, predict
from .common import RunResult, arm_summary, compare_arms, train_arm

#: label -> regulariser. "prune" is the paper's pruning layer read as activation pruning
#: (dilpose.pruning): its three variants differ in what the rate counts and when it acts; where
#: they rescale, the kept values are scaled to keep each row's sum (dilpose.pruning says why the
#: count ratio of inverted dropout is wrong for a layer that removes the smallest values).
#: Neither dropout's rate nor the pruning rate is tuned: both are the paper's 0.25.
ARMS = {
    "none": "none",
    "dropout": "dropout(p=0.25)",
    "prune, training only": "prune(rate=0.25, over='nonzero', rescale=True, at_eval=False)",
    "prune, in the model": "prune(rate=0.25, over='nonzero', rescale=False, at_eval=True)",
    "prune over all channels": "prune(rate=0.25, over='all', rescale=True, at_eval=False)",
}
SPARSITIES = (0.5, 0.75, 0.9)
#: label -> final weight sparsity: the pruning layer read as "removes nodes with lower weights",
#: gradual magnitude pruning while training (dilpose.pruning.GradualMagnitudePruning). The slots
#: hold no regulariser, so each arm's dense counterpart is "none".
WEIGHT_ARMS = {f"weights pruned {s:.0%}": s for s in SPARSITIES}
PRUNE_ARMS = [k for k in ARMS if k.startswith("prune")] + list(WEIGHT_ARMS)


def arm_configs(cfg: Config) -> dict[str, Config]:
    """Every arm's configuration: ``cfg`` with only the regulariser or the weight sparsity set."""
    return {
        **{label: cfg.replace(regularizer=reg) for label, reg in ARMS.items()},
        **{
            label: cfg.replace(regularizer="none", weight_sparsity=s)
            for label, s in WEIGHT_ARMS.items()
        },
    }


def run(cfg: Config, data: PoseData, seeds, progress: bool = True) -> dict[str, list[RunResult]]:
    """Train (or load from the model cache) every arm with every seed: ``{label: runs}``."""
    return {
        label: train_arm(f"03 {label}", arm_cfg, data, seeds, progress)
        for label, arm_cfg in arm_configs(cfg).items()
    }


def train_errors(
    arms: dict[str, list[RunResult]], data: PoseData, every: int = 4
) -> dict[str, list[float]]:
    """MPJPE (mm, mean over actions) of every run on the *training* subjects (every ``every``-th
    training clip in sorted order, camera 0; a fixed quarter keeps this step to seconds per model):
    with the test MPJPE it gives the train-test gap, the overfitting a regulariser is meant to
    reduce."""
    seqs = ds.sequences(data, data.train_subjects, cameras=(0,))[::every]
    out = {}
    for label, runs in arms.items():
        out[label] = [
            evaluate(r.trainer.eval_network(), seqs, r.cfg, data.layout_2d)["mpjpe"]["action_mean"]
            for r in runs
        ]
    return out


def arms_table(arms: dict[str, list[RunResult]], train_mpjpe: dict[str, list[float]]):
    """pandas table, one row per arm: MPJPE per seed, MPJPE and P-MPJPE over frames with their 95 %
    intervals (over seeds and test sequences), the train-test gap and the training time."""
    import pandas as pd

    rows = {}
    for label, runs in arms.items():
        s = arm_summary(runs)
        iv = s["mpjpe_frames_mm"]
        test = [r.results["mpjpe"]["action_mean"] for r in runs]
        p = [r.results["p_mpjpe"]["action_mean"] for r in runs]
        rows[label] = {
            **{f"seed {r.cfg.seed}": round(r.results["mpjpe"]["action_mean"], 1) for r in runs},
            "MPJPE [95 % CI]": f"{iv['mean']:.1f} [{iv['lo']:.1f}, {iv['hi']:.1f}]",
            "P-MPJPE": round(float(np.mean(p)), 1),
            "train MPJPE": round(float(np.mean(train_mpjpe[label])), 1),
            "test - train gap": round(float(np.mean(test) - np.mean(train_mpjpe[label])), 1),
            "training s": round(float(np.mean([r.train_seconds for r in runs])), 1),
        }
    return pd.DataFrame(rows).T


#: The equivalence margin (mm) of notebook 03's comparisons, stated before any result: 2 mm, about
#: 2.5 % of the 80-90 mm errors here and below what a user sees in a skeleton.
MARGIN_MM = 2.0


def comparisons(arms: dict[str, list[RunResult]]) -> dict[str, dict]:
    """Every pruning arm against dropout and against none, and dropout against none: the difference
    in MPJPE over all test frames with its 95 % interval, margin (:data:`MARGIN_MM`), power line
    and verdict, keyed ``"<a> vs <b>"``. All of them form the family the notebook's conclusions
    rest on (:func:`holm`)."""
    pairs = [(p, "dropout") for p in PRUNE_ARMS] + [(p, "none") for p in PRUNE_ARMS]
    pairs.append(("dropout", "none"))
    return {
        f"{a} vs {b}": compare_arms(arms[a], arms[b], a, b, margin=MARGIN_MM).to_dict()
        for a, b in pairs
        if a in arms and b in arms
    }


def holm(comps: dict[str, dict]) -> dict:
    """Holm's correction over every comparison of :func:`comparisons`
    (:func:`dilpose.stats.holm`'s record)."""
    return stats.holm(comps)


def claim_verdict(comps: dict[str, dict], holm_: dict | None = None) -> dict:
    """The paper's claim (the pruning layer beats dropout) against the comparisons: ``supported``
    (a pruning variant is clearly better than dropout, and stays so under Holm when ``holm_`` is
    given), the arms clearly better / worse (and those whose "worse" holds under Holm) /
    equivalent, and the facts a sentence needs."""
    against = {k.split(" vs ")[0]: c for k, c in comps.items() if k.endswith(" vs dropout")}
    held = (holm_ or {}).get("comparisons", {})

    def holds(p: str) -> bool:
        return held.get(f"{p} vs dropout", {}).get("holds", True)

    better = [p for p, c in against.items() if c["winner"] == p and holds(p)]
    worse = [p for p, c in against.items() if c["winner"] == "dropout"]
    worse_holm = [p for p in worse if holds(p)]
    equivalent = [p for p, c in against.items() if c["word"] == "equivalent"]
    best = min(against, key=lambda p: against[p]["diff"])
    return {
        "supported": bool(better),
        "better": better,
        "worse": worse,
        "worse_under_holm": worse_holm,
        "equivalent": equivalent,
        "best": best,
        "best_verdict": against[best]["verdict"],
        "best_power_line": against[best]["power_line"],
    }


def zeros_table(arms: dict[str, list[RunResult]], data: PoseData, frames: int = 500):
    """pandas table: fraction of zeros in each regulariser slot's output (ReLU's zeros included),
    in training mode and at evaluation, for the first seed of every arm, on the first ``frames``
    frames of the first test sequence (camera 0)."""
    import pandas as pd
    import torch

    seq = ds.sequences(data, data.test_subjects[:1], cameras=(0,))[0]
    run0 = next(iter(arms.values()))[0]
    ((_, x),) = batches.whole_sequences(
        [seq], run0.cfg.receptive_field(), causal=run0.cfg.causal, layout_2d=data.layout_2d
    )
    x = torch.from_numpy(x[:, : frames + run0.cfg.receptive_field() - 1])
    rows = {}
    for label, runs in arms.items():
        net = copy.deepcopy(runs[0].trainer.eval_network())
        torch.manual_seed(0)
        for mode, training in (("training", True), ("evaluation", False)):
            for slot, z in pruning.zero_fractions(net, x, training).items():
                rows.setdefault((slot, mode), {})[label] = round(z, 3)
    table = pd.DataFrame(rows).T
    table.index.names = ["slot", "mode"]
    return table


def block_activations(run: RunResult, data: PoseData, frames: int = 120) -> dict[str, np.ndarray]:
    """One block's activations (channels x time) for ``frames`` frames of a test clip, as they enter
    the regulariser slot (after BN and ReLU, training mode), and after each regulariser of
    :data:`ARMS` applied to them in training mode: ``{label: (C, T) array}``."""
    import torch

    net = copy.deepcopy(run.trainer.eval_network())
    seq = ds.sequences(data, data.test_subjects[:1], cameras=(0,))[0]
    ((_, x),) = batches.whole_sequences([seq], run.cfg.receptive_field(), layout_2d=data.layout_2d)
    x = torch.from_numpy(x[:, : frames + run.cfg.receptive_field() - 1])
    seen = {}
    slot = net.blocks[0].temporal.reg
    hook = slot.register_forward_hook(lambda m, inp, out: seen.__setitem__("in", inp[0].detach()))
    with torch.no_grad():
        net.train()
        net(x)
    hook.remove()
    acts = seen["in"][0]  # (C, T)
    out = {"after BN and ReLU": acts.numpy()}
    for label, reg in ARMS.items():
        if label == "none":
            continue
        torch.manual_seed(0)
        module = regularizers.build(reg)(acts.shape[0]).train()
        with torch.no_grad():
            out[label] = module(acts[None])[0].numpy()
    return out


def sparsity_study(runs: list[RunResult], data: PoseData, sparsities=SPARSITIES) -> dict[str, dict]:
    """Prune the weights of trained models (one arm's runs) by magnitude, once, without retraining,
    and evaluate them on the test subjects. For each sparsity: MPJPE per seed, the paired
    difference to the dense models with its 95 % interval, the weight file's size dense and stored
    sparse (bitmask and non-zero values), and the whole-sequence inference time dense vs pruned
    (the same dense kernels: zeros are multiplied like any other number)."""
    import torch

    test_seqs = ds.sequences(data, data.test_subjects, cameras=runs[0].cfg.eval_cameras)
    timing_seq = max(test_seqs, key=len)
    out = {}
    for s in sparsities:
        pruned_runs, sizes, times = [], None, {"dense": [], "pruned": []}
        for r in runs:
            net = copy.deepcopy(r.trainer.eval_network())
            dense_net = r.trainer.eval_network()
            pruning.magnitude_prune(net, s)
            sizes = pruning.sparse_size_bytes(net)
            results = evaluate(net, test_seqs, r.cfg, data.layout_2d)
            pruned_runs.append(
                RunResult(
                    f"{s:.0%} pruned", r.cfg, [], results, r.train_seconds, r.parameters, None
                )
            )
            for name, model in (("dense", dense_net), ("pruned", net)):
                start = time.perf_counter()
                with torch.no_grad():
                    predict(model, timing_seq, r.cfg.causal, False, data.layout_2d)
                times[name].append(time.perf_counter() - start)
        c = compare_arms(pruned_runs, runs, f"{s:.0%} pruned", "dense", margin=MARGIN_MM).to_dict()
        out[f"{s:.0%}"] = {
            "sparsity": s,
            "mpjpe_per_seed": [round(p.results["mpjpe"]["action_mean"], 2) for p in pruned_runs],
            "dense_mpjpe_per_seed": [round(r.results["mpjpe"]["action_mean"], 2) for r in runs],
            "vs_dense": c,
            "within_1mm": bool(c["hi"] <= 1.0),
            "dense_bytes": sizes["dense"],
            "sparse_bytes": sizes["sparse"],
            "inference_s_dense": float(np.median(times["dense"])),
            "inference_s_pruned": float(np.median(times["pruned"])),
        }
    return out


def trained_sparsity_study(arms: dict[str, list[RunResult]], comps: dict[str, dict]) -> dict:
    """The weight-pruning arms against their dense counterpart (``none``: the same model without
    pruning), from :func:`comparisons`: per sparsity, MPJPE per seed, the paired difference with
    its 95 % interval, whether
    it costs at most 1 mm (the interval's upper end), the measured fraction of zero convolution
    weights and the weight file's size dense and stored sparse."""
    out = {}
    for label, s in WEIGHT_ARMS.items():
        runs = arms[label]
        c = comps[f"{label} vs none"]
        net = runs[0].trainer.eval_network()
        weights = pruning.prunable(net)
        sizes = pruning.sparse_size_bytes(net)
        out[f"{s:.0%}"] = {
            "sparsity": s,
            "measured_sparsity": sum(int((w == 0).sum()) for _, w in weights)
            / sum(w.numel() for _, w in weights),
            "mpjpe_per_seed": [round(r.results["mpjpe"]["action_mean"], 2) for r in runs],
            "vs_dense": c,
            "within_1mm": bool(c["hi"] <= 1.0),
            "dense_bytes": sizes["dense"],
            "sparse_bytes": sizes["sparse"],
        }
    return out


def sparsity_verdicts(once: dict[str, dict], during: dict[str, dict]) -> tuple[list, list]:
    """One line per sparsity for :func:`sparsity_study` (pruned once) and
    :func:`trained_sparsity_study` (pruned while training): ``"50%: <verdict>, costs <= 1 mm"``
    (or ``"more than 1 mm"`` where the interval's upper end passes 1 mm)."""

    def line(key, v):
        within = "costs <= 1 mm" if v["within_1mm"] else "not shown to cost <= 1 mm"
        return f"{key}: {v['vs_dense']['verdict']} ({within})"

    return [line(k, v) for k, v in once.items()], [line(k, v) for k, v in during.items()]


def trained_sparsity_table(study: dict[str, dict]):
    """pandas table of :func:`trained_sparsity_study`: one row per sparsity."""
    import pandas as pd

    return pd.DataFrame(
        {
            k: {
                "zero weights": f"{v['measured_sparsity']:.1%}",
                "MPJPE (mean over seeds)": round(float(np.mean(v["mpjpe_per_seed"])), 1),
                "vs dense (none) [95 % CI]": v["vs_dense"]["verdict"],
                "costs <= 1 mm": v["within_1mm"],
                "file MB dense -> sparse": f"{v['dense_bytes'] / 1e6:.2f} -> "
                f"{v['sparse_bytes'] / 1e6:.2f}",
            }
            for k, v in study.items()
        }
    ).T


def sparsity_table(study: dict[str, dict]):
    """pandas table of :func:`sparsity_study`: one row per sparsity."""
    import pandas as pd

    return pd.DataFrame(
        {
            k: {
                "MPJPE (mean over seeds)": round(float(np.mean(v["mpjpe_per_seed"])), 1),
                "vs dense [95 % CI]": v["vs_dense"]["verdict"],
                "costs <= 1 mm": v["within_1mm"],
                "file MB dense -> sparse": f"{v['dense_bytes'] / 1e6:.2f} -> "
                f"{v['sparse_bytes'] / 1e6:.2f}",
                "inference ms dense / pruned": f"{1000 * v['inference_s_dense']:.1f} / "
                f"{1000 * v['inference_s_pruned']:.1f}",
            }
            for k, v in study.items()
        }
    ).T


def bench_table(bench: dict):
    """pandas table of ``reports/bench/regularizers.json``: ms per training step of each regulariser
    (rows) at each channel count (columns), and the step time relative to dropout's."""
    import pandas as pd

    rows: dict[str, dict] = {}
    for r in bench["rows"]:
        rows.setdefault(r["regularizer"], {})[f"{r['channels']} ch ms"] = round(r["step_ms"], 1)
        rows[r["regularizer"]][f"{r['channels']} ch vs dropout"] = round(r["step_vs_dropout"], 2)
    return pd.DataFrame(rows).T


def metrics_json(
    arms, train_mpjpe, comps, verdict, zeros, sparsity, trained_sparsity, bench, data, holm_=None
) -> dict:
    """The content of ``reports/metrics/03_pruning.json`` (``holm_``: :func:`holm`'s record)."""
    first = next(iter(arms.values()))[0]
    return {
        "dataset": data.name,
        "test_subjects": list(data.test_subjects),
        "protocol": first.results["protocol"],
        "model": {
            "receptive_field": first.cfg.receptive_field(),
            "channels": first.cfg.channels,
            "epochs": first.cfg.epochs,
            "stride_subsample": first.cfg.stride_subsample,
        },
        "arms": {
            label: {
                "regularizer": str(runs[0].cfg.regularizer),
                "weight_sparsity": runs[0].cfg.weight_sparsity,
                **arm_summary(runs),
                "p_mpjpe_action_mean_mm_per_seed": [
                    round(r.results["p_mpjpe"]["action_mean"], 2) for r in runs
                ],
                "train_mpjpe_mm_per_seed": [round(v, 2) for v in train_mpjpe[label]],
                "train_seconds_per_seed": [round(r.train_seconds, 1) for r in runs],
                "history_seed0": runs[0].history,
            }
            for label, runs in arms.items()
        },
        "comparisons": comps,
        "margin_mm": MARGIN_MM,
        "holm": holm_,
        "claim": verdict,
        "zero_fractions": {f"{s} / {m}": row for (s, m), row in zeros.to_dict("index").items()},
        "weight_sparsity": sparsity,
        "weight_sparsity_in_training": trained_sparsity,
        "bench": bench,
    }
