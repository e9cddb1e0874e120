"""Notebook 06's study: the paper's smart-shop evaluation (HRI-I, Fig. 3, Fig. 5) on the simulated
shop (:mod:`dilpose.datasets.shop_sim`), which stands in for HRI-I (not public). Every number is
labelled :data:`LABEL`, never HRI-I.

A *setup* is any lifter: a callable from a model-ready :class:`~dilpose.datasets.Sequence` (2D
inputs) to its root-relative 3D prediction (T, 17, 3) metres in the camera's frame. The setups
evaluated here are notebook 02's models as they are (trained on the CMU and HDM05 data; symmetric
and causal, fp32) and the same two architectures trained on the shop's training people. Another
runtime plugs in as one more entry of the setups dict (notebook 05's deployed int8 streaming model:
``setups["..."] = its_lifter``); everything downstream (per-action and per-camera errors,
comparisons, worst cases, the action classifier) takes whatever setups it is given.

Comparisons (:func:`comparisons`) carry the equivalence margin :data:`MARGIN_MM` stated in advance
and go through Holm's correction as one family (:func:`holm`). Each model is trained once (one
seed), so no interval holds the training seed's variation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import cache, callbacks, classify, metrics, stats, stream
from .. import datasets as ds
from .. import skeleton as sk
from ..batches import split_root
from ..config import Config
from ..datasets import shop
from ..datasets.base import PoseData, Sequence
from ..evaluate import aggregate, predict
from .common import run_label

#: How every result of this notebook is labelled.
LABEL = "simulated shop (CMU and HDM05 motion)"
NOT_HRI_I = (
    "HRI-I is not public: every number here is measured on a simulated shop built from CMU and "
    "HDM05 motion capture (dilpose.datasets.shop_sim), not on HRI-I, and is not comparable to it."
)
Lifter = Callable[[Sequence], np.ndarray]
#: The equivalence margin (mm) of every comparison in the notebook, stated before any result: two
#: setups are "equivalent" when the 90 % interval of their difference lies inside ±2 mm. 2 mm is
#: about 2 % of the shop-trained model's error (about 90 mm) and under a tenth of a typical
#: limb-length error: a difference no shop use of the poses (following a customer, telling the
#: six actions apart) would notice.
MARGIN_MM = 2.0


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------
def shop_data() -> PoseData:
    """The simulated shop (built from the committed motion on first use)."""
    return ds.load(shop.NAME)


def size_table(data: PoseData):
    """pandas table, one row per action: poses (frames of 3D), takes, people, and how they split
    into training and test people, plus a total row."""
    import pandas as pd

    rows = {
        a: {"poses": 0, "takes": 0, "train poses": 0, "test poses": 0} for a in data.info["actions"]
    }
    people = {a: set() for a in rows}
    for s in data.subjects:
        split = "test" if s in data.test_subjects else "train"
        for key, pos in data.positions_3d[s].items():
            a = ds.action_category(key)
            rows[a]["poses"] += len(pos)
            rows[a]["takes"] += 1
            rows[a][f"{split} poses"] += len(pos)
            people[a].add(s)
    for a in rows:
        rows[a]["people"] = len(people[a])
    table = pd.DataFrame(rows).T
    table.loc["total"] = table.sum()
    table.loc["total", "people"] = len(data.subjects)
    return table.astype(int)


def normalised_focal(data: PoseData) -> float:
    """The mean over ``data``'s cameras of the focal length in normalised image units (fx divided
    by half the image width, the units the lifter's 2D input is in): the larger it is, the more of
    the normalised image a person of a given size and distance covers."""
    cams = [c for s in data.subjects for c in data.cameras[s]]
    return float(np.mean([c.focal_length[0] / (c.res_w / 2) for c in cams]))


def labels_of(data: PoseData, seq: Sequence) -> np.ndarray:
    """The per-frame action indices (T,) of a sequence (into ``data.info["actions"]``)."""
    return data.info["labels"][seq.subject][seq.action]


# --------------------------------------------------------------------------------------------------
# Models and setups
# --------------------------------------------------------------------------------------------------
def shop_config(cfg: Config) -> Config:
    """The shop model's settings: the notebook's architecture and schedule, with every
    ``stride_subsample // 2``-th window (the shop's training set, 4 views of 17k poses, is about
    half the embedded data's, so this keeps the number of updates close to notebook 02's)."""
    return cfg.replace(stride_subsample=max(1, cfg.stride_subsample // 2))


def train_models(cfg: Config, mocap: PoseData, shop_: PoseData, progress: bool = True) -> dict:
    """The four models, trained or loaded from the model cache: notebook 02's symmetric model and
    its causal twin (trained on the embedded data's training subjects: the same cache entries as
    notebook 02's), and the same two trained on the shop's training people. Returns
    ``{name: {"trainer", "cfg", "trained_on", "cached", "train_seconds"}}``."""
    out = {}
    for trained_on, data, base in (("CMU/HDM05", mocap, cfg), ("shop", shop_, shop_config(cfg))):
        seqs = ds.sequences(data, data.train_subjects)
        for causal in (False, True):
            c = base.replace(causal=causal)
            name = f"{trained_on}-trained, {run_label(c)}"
            label = f"06 {name} seed {c.seed}"
            alias = f"06_{'cmu' if data is mocap else 'shop'}{'_causal' if causal else ''}"
            trainer, now = cache.train_cached(
                c,
                seqs,
                data.layout_2d,
                name=alias,
                callbacks=[callbacks.LineProgress(label, console=progress)],
            )
            if not now:
                print(f"{label}: loaded from the model cache ({trainer.checkpoint.name})")
            out[name] = {
                "trainer": trainer,
                "cfg": c,
                "trained_on": trained_on,
                "cached": not now,
                "train_seconds": sum(e["seconds"] for e in trainer.history.to_dict()),
            }
    return out


def torch_lifter(
    model,
    causal: bool,
    flip_test: bool = True,
    layout_2d: sk.Skeleton = sk.COCO17,
    precision: str = "fp32",
) -> Lifter:
    """A trained :class:`~dilpose.model.TemporalModel` as a setup: whole-sequence prediction
    (:func:`dilpose.evaluate.predict`), flip-averaged when ``flip_test`` (a symmetric model only: a
    causal model runs on the live stream, where flipping doubles the cost)."""

    def lift(seq: Sequence) -> np.ndarray:
        return predict(model, seq, causal, flip_test, layout_2d, precision)

    return lift


def setups_from(models: dict) -> dict[str, Lifter]:
    """``{setup name: lifter}`` of :func:`train_models`' models, fp32, named
    ``"<data>-trained, <frames> frames[ causal], fp32"``."""
    return {
        f"{name}, fp32": torch_lifter(
            m["trainer"].eval_network(), m["cfg"].causal, m["cfg"].flip_test and not m["cfg"].causal
        )
        for name, m in models.items()
    }


DEPLOYED_SUFFIX = "int8 streaming"


def deployed_setup(models: dict, shop_: PoseData) -> tuple[str, Lifter]:
    """The shop's deployed setup, as notebook 05 builds it: the shop-trained causal model,
    quantized to int8 (per-channel weights, histogram calibration on 64 clips of the shop's
    training people) and run by the streaming runtime (:func:`dilpose.stream.int8_lifter`), one
    frame at a time as a camera delivers them, without flip test (the live setting, like the causal
    fp32 setups). Returns ``(setup name, lifter)``; the name is the model's plus
    ``", int8 streaming"``."""
    name = next(n for n, m in models.items() if m["trained_on"] == "shop" and m["cfg"].causal)
    calibration = ds.sequences(shop_, shop_.train_subjects)
    lifter = stream.int8_lifter(
        models[name]["trainer"].eval_network(), calibration, streams=1, flip_test=False
    )
    return f"{name}, {DEPLOYED_SUFFIX}", streaming_setup(lifter)


def streaming_setup(lifter) -> Lifter:
    """A :class:`~dilpose.stream.StreamLifter` (one stream) as a setup: each take is pushed frame
    by frame from a fresh stream; ``.many(seqs)`` lifts many takes at once, one stream each."""

    def lift(seq: Sequence) -> np.ndarray:
        lifter.reset()  # each take is a new stream
        return np.stack([lifter.push(frame) for frame in seq.keypoints_2d])

    def lift_many(seqs: list[Sequence]) -> list[np.ndarray]:
        """Every take as its own stream, all streams in one call per frame: what one shop server
        does with many cameras, and the same per-stream result as :func:`lift` (static int8
        scales: a row does not depend on the others). A take that has ended repeats its last
        frame until the longest one ends; those outputs are dropped."""
        lens = np.array([len(q) for q in seqs])
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        frames = np.concatenate([q.keypoints_2d for q in seqs]).astype(np.float32)
        out = np.empty((len(frames), 17, 3), dtype=np.float32)
        many = stream.StreamLifter(lifter.net, streams=len(seqs), flip_test=lifter.flip_test)
        for t in range(int(lens.max())):
            pose = many.push(frames[starts + np.minimum(t, lens - 1)])  # (S, 17, 3)
            live = t < lens
            out[starts[live] + t] = pose[live]
        return [out[a : a + n] for a, n in zip(starts, lens)]

    lift.many = lift_many
    return lift


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------
def predict_all(setups: dict[str, Lifter], seqs: list[Sequence]) -> dict[str, list[np.ndarray]]:
    """Every setup's root-relative prediction (T, 17, 3) of every sequence, in order."""
    out = {}
    for name, lift in setups.items():
        preds = []
        # a setup may lift many sequences in one pass (the streaming runtime: one stream each)
        lifted = lift.many(seqs) if hasattr(lift, "many") else map(lift, seqs)
        for seq, p in zip(seqs, lifted):
            p = np.asarray(p, dtype=np.float64)
            if p.shape != seq.positions_3d.shape:
                raise ValueError(
                    f"setup {name!r}: prediction {p.shape} for a sequence of "
                    f"{seq.positions_3d.shape}"
                )
            preds.append(p - p[:, :1])
        out[name] = preds
    return out


def evaluate(preds: dict[str, list[np.ndarray]], seqs: list[Sequence]) -> dict[str, dict]:
    """Per setup: :func:`dilpose.evaluate.aggregate`'s four metrics per action, plus per-sequence
    MPJPE (``per_sequence``) and MPJPE per camera (``per_camera``, mm over all its frames)."""
    out = {}
    for name, ps in preds.items():
        records, per_seq = [], []
        for seq, p in zip(seqs, ps):
            target, _ = split_root(seq.positions_3d.astype(np.float64))
            records.append(
                {"subject": seq.subject, "action": seq.category, "pred": p, "target": target}
            )
            per_seq.append(
                {
                    "subject": seq.subject,
                    "action": seq.action,
                    "camera": seq.camera,
                    "category": seq.category,
                    "frames": len(seq),
                    "mpjpe_mm": 1000 * float(metrics.mpjpe(p, target)),
                }
            )
        res = aggregate(records, flip_test=False)
        cams = sorted({r["camera"] for r in per_seq})
        res["per_camera"] = {
            f"camera {c + 1}": float(
                np.average(
                    [r["mpjpe_mm"] for r in per_seq if r["camera"] == c],
                    weights=[r["frames"] for r in per_seq if r["camera"] == c],
                )
            )
            for c in cams
        }
        res["per_sequence"] = per_seq
        out[name] = res
    return out


def action_table(results: dict[str, dict], metric: str = "mpjpe"):
    """pandas table: rows = actions (+ the mean over actions and over frames), columns = setups,
    mm."""
    import pandas as pd

    table = pd.DataFrame({n: r[metric]["per_action"] for n, r in results.items()})
    table.loc["mean over actions"] = [r[metric]["action_mean"] for r in results.values()]
    table.loc["mean over frames"] = [r[metric]["frame_mean"] for r in results.values()]
    return table.round(1)


def camera_table(results: dict[str, dict]):
    """pandas table: rows = cameras, columns = setups, MPJPE mm."""
    import pandas as pd

    return pd.DataFrame({n: r["per_camera"] for n, r in results.items()}).round(1)


def _units(res: dict) -> dict[str, float]:
    return {
        f"{r['subject']}/{r['action']}/camera {r['camera']}": r["mpjpe_mm"]
        for r in res["per_sequence"]
    }


def compare(results: dict[str, dict], a: str, b: str, margin: float | None = MARGIN_MM) -> dict:
    """MPJPE over all test frames of setup ``a`` minus ``b``: :meth:`stats.Comparison.to_dict`
    (95 % interval re-drawing whole test people; one seed per model, so the training seed's
    variation is in no interval), the verdict against ``margin`` (mm), counts and power line."""
    weights = {
        f"{r['subject']}/{r['action']}/camera {r['camera']}": r["frames"]
        for r in results[a]["per_sequence"]
    }
    return stats.compare(
        {0: _units(results[a])}, {0: _units(results[b])}, a, b, weights=weights, margin=margin
    ).to_dict()


def comparisons(results: dict[str, dict], margin: float = MARGIN_MM) -> dict[str, dict]:
    """The family the notebook's conclusions rest on, ``{"A vs B": record}``: shop-trained against
    CMU/HDM05-trained (same architecture), symmetric against causal (same training data), and the
    deployed int8 streaming setup against its fp32 model, for the setups present."""
    names = list(results)
    pairs = []
    for n in names:
        if n.endswith(DEPLOYED_SUFFIX):
            fp32 = n.replace(DEPLOYED_SUFFIX, "fp32")
            if fp32 in results:
                pairs.append((n, fp32))
            continue
        if n.startswith("shop-trained"):
            twin = n.replace("shop-trained", "CMU/HDM05-trained")
            if twin in results:
                pairs.append((n, twin))
        if " causal" not in n:
            causal = n.replace(" frames,", " frames causal,")
            if causal in results:
                pairs.append((n, causal))
    return {f"{a} vs {b}": compare(results, a, b, margin) for a, b in pairs}


def holm(comps: dict[str, dict]) -> dict:
    """:func:`dilpose.stats.holm` over the family :func:`comparisons` returns."""
    return stats.holm(comps)


def verdict_lines(comps: dict[str, dict], holm_: dict) -> list[str]:
    """One line per comparison (its verdict and power line), then the Holm correction's flips
    (or that none flip)."""
    lines = [f"{name}: {c['verdict']}; {c['power_line']}" for name, c in comps.items()]
    flips = holm_["lines"] or ["none flip"]
    return lines + [f"Holm over {len(holm_['family'])} comparisons: " + "; ".join(flips)]


def worst_cases(
    results: dict[str, dict],
    setup: str,
    data: PoseData,
    preds: dict,
    seqs: list[Sequence],
    actions: int = 2,
) -> list[dict]:
    """The paper's Fig. 5 from the other side: for the ``actions`` actions where ``setup`` errs
    most, its worst test sequence, as ground truth and prediction in world coordinates (the
    prediction placed at the true root): ``{"action", "subject", "take", "camera", "mpjpe_mm",
    "frames" (4 frames, the worst one included), "target", "prediction"}`` ((T, 17, 3) metres)."""
    per_action = results[setup]["mpjpe"]["per_action"]
    out = []
    for action in sorted(per_action, key=per_action.get, reverse=True)[:actions]:
        idx = [i for i, s in enumerate(seqs) if s.category == action]
        i = max(idx, key=lambda i: results[setup]["per_sequence"][i]["mpjpe_mm"])
        seq, pred = seqs[i], preds[setup][i]
        cam = data.cameras[seq.subject][seq.camera]
        target_cam = seq.positions_3d.astype(np.float64)
        err = np.linalg.norm(pred - (target_cam - target_cam[:, :1]), axis=-1).mean(-1)
        worst = int(np.argmax(err))
        frames = sorted(set(np.linspace(0, len(seq) - 1, 4).astype(int).tolist()[:3]) | {worst})
        out.append(
            {
                "action": action,
                "subject": seq.subject,
                "take": seq.action,
                "camera": seq.camera,
                "mpjpe_mm": results[setup]["per_sequence"][i]["mpjpe_mm"],
                "frames": frames,
                "target": cam.camera_to_world(target_cam),
                "prediction": cam.camera_to_world(pred + target_cam[:, :1]),
            }
        )
    return out


# --------------------------------------------------------------------------------------------------
# The action classifier
# --------------------------------------------------------------------------------------------------
def _summary(y_true, y_pred, seq_index, seqs, classes: list[str], clf) -> dict:
    """Accuracy with its 95 % interval (test people re-drawn whole, windows as weights), the
    confusion matrix (rows true, columns predicted), the chance level (the largest class's share)
    and which features the classifier ``clf`` kept (:meth:`classify.Classifier.record`)."""
    per_unit, weights = {}, {}
    for i in np.unique(seq_index):
        m = seq_index == i
        unit = f"{seqs[i].subject}/{seqs[i].action}/camera {seqs[i].camera}"
        per_unit[unit] = 100.0 * float((y_true[m] == y_pred[m]).mean())
        weights[unit] = int(m.sum())
    iv = stats.arm_interval({0: per_unit}, weights=weights, name="accuracy").to_dict()
    conf = classify.confusion(y_true, y_pred, len(classes))
    return {
        "accuracy_pct": 100.0 * float((y_true == y_pred).mean()),
        "accuracy_interval_pct": {k: iv[k] for k in ("mean", "lo", "hi")},
        "windows": int(len(y_true)),
        "chance_pct": 100.0
        * float(np.bincount(y_true, minlength=len(classes)).max() / len(y_true)),
        "confusion": conf.tolist(),
        "per_action_recall_pct": {
            a: (100.0 * float(conf[k, k] / conf[k].sum()) if conf[k].sum() else float("nan"))
            for k, a in enumerate(classes)
        },
        "features": clf.record(),
    }


def classifier_study(
    data: PoseData, train_seqs, test_seqs, train_preds: dict, test_preds: dict, seed: int = 0
) -> dict[str, dict]:
    """The six-action classifier (:mod:`dilpose.classify`) trained on the shop's training people
    and tested on its test people: on ground-truth 3D (``"ground truth"``), and for every setup
    on its predicted 3D, trained on its own predictions of the training people (``setup``) and,
    to show what the pose error costs a classifier that never saw it, the ground-truth classifier
    applied to the predictions (``"<setup>, classifier trained on ground truth"``). Each
    classifier drops the features constant on its own training windows
    (:func:`dilpose.classify.near_constant`); the record says which."""
    classes = list(data.info["actions"])
    lab_tr = [labels_of(data, s) for s in train_seqs]
    lab_te = [labels_of(data, s) for s in test_seqs]
    gt_tr = [split_root(s.positions_3d.astype(np.float64))[0] for s in train_seqs]
    gt_te = [split_root(s.positions_3d.astype(np.float64))[0] for s in test_seqs]
    Xtr, ytr, _ = classify.windows(gt_tr, lab_tr)
    Xte, yte, ite = classify.windows(gt_te, lab_te)
    clf_gt = classify.train(Xtr, ytr, seed)
    out = {"ground truth": _summary(yte, clf_gt.predict(Xte), ite, test_seqs, classes, clf_gt)}
    for name in test_preds:
        Xp, yp, _ = classify.windows(train_preds[name], lab_tr)
        clf = classify.train(Xp, yp, seed)
        Xq, yq, iq = classify.windows(test_preds[name], lab_te)
        out[name] = _summary(yq, clf.predict(Xq), iq, test_seqs, classes, clf)
        out[f"{name}, classifier trained on ground truth"] = _summary(
            yq, clf_gt.predict(Xq), iq, test_seqs, classes, clf_gt
        )
    return out


def classifier_table(study: dict[str, dict]):
    """pandas table: accuracy [95 % interval], chance and features kept per classifier input."""
    import pandas as pd

    return pd.DataFrame(
        {
            name: {
                "accuracy %": round(r["accuracy_pct"], 1),
                "95 % interval": f"[{r['accuracy_interval_pct']['lo']:.1f}, "
                f"{r['accuracy_interval_pct']['hi']:.1f}]",
                "chance %": round(r["chance_pct"], 1),
                "features kept": r["features"]["kept"],
                "test windows": r["windows"],
            }
            for name, r in study.items()
        }
    ).T


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------


def example_takes(data: PoseData, subject: str) -> dict[str, tuple[str, int]]:
    """One take of each action of ``subject`` and the frame to show: the grasp for fetching (the
    right wrist's extreme height), the middle frame otherwise: ``{action: (take, frame)}``."""
    out = {}
    for key in data.actions(subject):
        a = ds.action_category(key)
        if a in out:
            continue
        pos = data.positions_3d[subject][key]
        z = pos[:, 16, 2]
        frame = (
            int(np.argmax(z))
            if a == "fetch(stand)"
            else int(np.argmin(z))
            if a == "fetch(hunker)"
            else len(pos) // 2
        )
        out[a] = (key, frame)
    return out


# --------------------------------------------------------------------------------------------------
# The metrics file
# --------------------------------------------------------------------------------------------------
def metrics_json(
    data: PoseData,
    sizes,
    models: dict,
    results: dict,
    comps: dict,
    holm_: dict,
    classifier: dict,
    focal: dict[str, float],
) -> dict:
    """The content of ``reports/metrics/06_shop.json``; ``focal``: the normalised focal length
    (:func:`normalised_focal`) of the shop's cameras and of the training data's, by data set."""
    return {
        "label": LABEL,
        "not_hri_i": NOT_HRI_I,
        "dataset": data.name,
        "data": {
            "title": data.info.get("title"),
            "simulated": data.info.get("simulated"),
            "people": len(data.subjects),
            "train_people": list(data.train_subjects),
            "test_people": list(data.test_subjects),
            "cameras": len(next(iter(data.cameras.values()))),
            "fps": data.fps,
            "poses": int(sizes.loc["total", "poses"]),
            "per_action": {
                a: {k: int(v) for k, v in row.items()}
                for a, row in sizes.drop(index="total").to_dict("index").items()
            },
            "missed_2d_fraction": round(data.info["missed_fraction"], 4),
        },
        "normalised_focal_length": focal,
        "hri_i_as_published": {
            "poses": "more than 16k",
            "people": 26,
            "scenarios": 6,
            "cameras": 4,
            "fps": 50,
            "errors": "none published",
        },
        "models": {
            name: {
                "trained_on": m["trained_on"],
                "receptive_field": m["cfg"].receptive_field(),
                "causal": m["cfg"].causal,
                "channels": m["cfg"].channels,
                "epochs": m["cfg"].epochs,
                "stride_subsample": m["cfg"].stride_subsample,
                "seed": m["cfg"].seed,
                "cached": m["cached"],
                "train_seconds": round(m["train_seconds"], 1),
            }
            for name, m in models.items()
        },
        "setups": {
            name: {
                "mpjpe_mm": round(r["mpjpe"]["action_mean"], 2),
                "p_mpjpe_mm": round(r["p_mpjpe"]["action_mean"], 2),
                "mpjpe_frame_mean_mm": round(r["mpjpe"]["frame_mean"], 2),
                "per_action_mpjpe_mm": {
                    a: round(v, 2) for a, v in r["mpjpe"]["per_action"].items()
                },
                "per_action_p_mpjpe_mm": {
                    a: round(v, 2) for a, v in r["p_mpjpe"]["per_action"].items()
                },
                "per_camera_mpjpe_mm": {c: round(v, 2) for c, v in r["per_camera"].items()},
            }
            for name, r in results.items()
        },
        "deployed_int8_streaming": next((n for n in results if n.endswith(DEPLOYED_SUFFIX)), None),
        "margin_mm": MARGIN_MM,
        "comparisons": comps,
        "holm": holm_,
        "classifier": {
            "method": "pairwise joint distances over 1 s windows (mean, std, min, "
            "max), those constant on the training windows dropped, standardised, logistic "
            "regression (scikit-learn)",
            "min_relative_std": classify.MIN_RELATIVE_STD,
            "window_frames": classify.WINDOW,
            "stride_frames": classify.STRIDE,
            "actions": list(data.info["actions"]),
            **classifier,
        },
    }
