"""``make weights``: train the shipped models reproducibly from the committed data, evaluate them,
and write them into the package with their manifest; also writes the example input of the README's
quick start.

The shipped models are the default profile's model (128 channels, 40 epochs of every 32nd window,
seed 0) trained on all training subjects of the embedded data filmed through virtual cameras
(:mod:`dilpose.virtual_cameras`: sixteen cameras drawn per clip, from telephoto to action-camera
lenses, floor to ceiling): ``lifter-243`` and its causal twin read screen-normalised 2D (only the
image size is needed), ``lifter-243-focal`` reads 2D normalised by the focal length
(:mod:`dilpose.input_norm`). Notebook 06 trains the same models (:data:`SHIPPED`, through the model
cache), so ``make weights`` after ``make paper`` takes them from the cache. 128 channels keep each
file near 1 MB (the limit is 5 MB) and are the setting whose numbers the series reports with three
seeds.

The shipped file is a slim, weights-only checkpoint: weights, architecture, input record, epoch and
precision; no optimiser state. ``models.json`` records each file's sha256 and its test metrics
(:mod:`dilpose.pretrained` checks the sha256 before loading).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import (
    cache,
    callbacks,
    camera_bench,
    config,
    datasets,
    evaluate,
    input_norm,
    paths,
    pretrained,
)
from . import datasets as ds
from . import skeleton as sk
from . import virtual_cameras as vc
from .datasets import mocap
from .fileio import save_torch, sha256, write_json, write_text

#: name -> (the config overrides of the default profile that make it, its input convention).
SHIPPED = {
    "lifter-243": ({"causal": False}, input_norm.SCREEN),
    "lifter-243-causal": ({"causal": True}, input_norm.SCREEN),
    "lifter-243-focal": ({"causal": False}, input_norm.FOCAL),
}
#: Virtual cameras per training clip (each drawn afresh for its clip and view), beside the clip's
#: four Human3.6M views: four fifths of the windows come from the wider range of cameras.
VIEWS = vc.TRAINING_VIEWS
SEED = 0
#: The example input: a test clip (never trained on) through one camera, with detector noise.
EXAMPLE_CLIP = ("cmu09", "walk 09_12", 0)
EXAMPLE = paths.DATA_DIR / "examples" / "cmu09_walk_09_12_camera0.json"
#: The example's joints below this confidence are written as not placed (``dilpose lift``'s
#: default ``--min-score``).
EXAMPLE_MIN_SCORE = 0.3


def shipped_config(name: str) -> config.Config:
    return config.for_profile("default", seed=SEED, **SHIPPED[name][0])


def training_sequences(name: str, data) -> list:
    """The shipped model ``name``'s training set
    (:func:`dilpose.virtual_cameras.training_set`: the Human3.6M views and :data:`VIEWS` virtual
    cameras per clip), in the model's input convention."""
    cfg, convention = shipped_config(name), SHIPPED[name][1]
    return vc.training_set(
        data, data.train_subjects, views=VIEWS, seed=SEED, noise=cfg.noise, convention=convention
    )


def train_shipped(name: str, data, progress: bool = True):
    """Train (or take from the model cache) the shipped model ``name`` on ``data`` (the embedded
    data, loaded with the shipped config's noise) through :func:`training_sequences`:
    ``(trainer, trained_now)``."""
    return cache.train_cached(
        shipped_config(name),
        training_sequences(name, data),
        data.layout_2d,
        name=f"weights {name}",
        callbacks=[callbacks.LineProgress(name)] if progress else [],
        normalization=SHIPPED[name][1],
    )


def slim_checkpoint(trainer) -> dict:
    """What a shipped file holds: weights (fp32), architecture, input record, epoch, precision."""
    state = trainer.state()
    return {k: state[k] for k in ("model", "model_config", "epoch", "input", "precision", "config")}


def build(out_dir: Path = pretrained.MODELS_DIR, example: Path = EXAMPLE) -> dict:
    """Train (or take from the model cache) and evaluate every model of :data:`SHIPPED`, write the
    slim checkpoints and ``models.json`` into ``out_dir``, and the example input; returns the
    manifest. Each entry records the Human3.6M-camera test metrics (``test``) and the camera
    benchmark (``cameras``, :mod:`dilpose.camera_bench`), beside the Human3.6M-only model the
    package shipped before (``models.json``'s ``before``)."""
    data = ds.load("mocap", seed=SEED, noise=shipped_config(pretrained.DEFAULT).noise)
    entries, entrants = {}, {}
    for name, (_, convention) in SHIPPED.items():
        cfg = shipped_config(name)
        trainer, _ = train_shipped(name, data)
        net = trainer.eval_network()
        test_seqs = vc.family_sequences(data, data.test_subjects, "h36m", convention=convention)
        results = evaluate.evaluate(net, test_seqs, cfg, data.layout_2d)
        file = out_dir / f"{name}.pt"
        save_torch(file, slim_checkpoint(trainer))
        entries[name] = _entry(name, file, cfg, trainer, data, results, convention)
        entrants[name] = camera_bench.model_entrant(net, cfg.causal, convention)
    before = before_model(data)
    entrants[BEFORE] = camera_bench.model_entrant(before.eval_network(), False, input_norm.SCREEN)
    bench = camera_bench.to_json(camera_bench.run(entrants, data))
    for name, entry in entries.items():
        entry["cameras"] = {family: bench[family][name] for family in bench}
    doc = {
        "models": entries,
        "default": pretrained.DEFAULT,
        "default_stream": pretrained.DEFAULT_STREAM,
        "default_focal": pretrained.DEFAULT_FOCAL,
        "before": {
            "model": BEFORE,
            "what": "the default profile's model trained through Human3.6M's four cameras only",
            "cameras": {family: bench[family][BEFORE] for family in bench},
        },
        "data_credit": datasets.get("mocap").credit,
        "data_licence": (
            "CMU terms (no resale of the data) and HDM05's CC BY-SA 3.0; see MODEL_CARD.md"
        ),
    }
    write_json(out_dir / "models.json", doc)
    write_example(data, example)
    return doc


#: The shipped lifter-243 before the camera-robust models: notebook 02's main model.
BEFORE = "lifter-243, Human3.6M cameras only"


def before_model(data):
    """The Human3.6M-camera-only lifter-243 (notebook 02's main model, from the model cache)."""
    cfg = shipped_config(pretrained.DEFAULT)
    trainer, _ = cache.train_cached(
        cfg, ds.sequences(data, data.train_subjects), data.layout_2d, name="02 243 frames seed 0"
    )
    return trainer


def _entry(name, file, cfg, trainer, data, results, convention) -> dict:
    """One model's ``models.json`` entry: file, architecture, training and test metrics."""
    return {
        "file": file.name,
        "sha256": sha256(file),
        "bytes": file.stat().st_size,
        "input_layout": data.layout_2d.name,
        "input_convention": convention,
        "output_layout": data.layout_3d.name,
        "receptive_field": cfg.receptive_field(),
        "causal": cfg.causal,
        "channels": cfg.channels,
        "precision": trainer.precision,
        "parameters": int(sum(p.numel() for p in trainer.model.parameters())),
        "training": {
            "dataset": data.name,
            "train_subjects": list(data.train_subjects),
            "cameras": {"views_per_clip": VIEWS, **vc.CameraDistribution().to_dict()},
            "config": {
                k: v for k, v in cfg.to_dict().items() if k not in config.NOT_TRAINING_FIELDS
            },
        },
        "test": {
            "subjects": list(data.test_subjects),
            "cameras": "each subject's four Human3.6M cameras",
            "protocol": results["protocol"],
            "evaluated_in": results["precision"],
            **{
                m: {
                    "action_mean": round(results[m]["action_mean"], 2),
                    "frame_mean": round(results[m]["frame_mean"], 2),
                }
                for m in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")
            },
        },
    }


def write_example(data, path: Path = EXAMPLE) -> Path:
    """:data:`EXAMPLE_CLIP` as the simulated detector saw it, as a COCO keypoint *annotations* JSON:
    one image per frame with its ``width`` and ``height`` (so ``dilpose lift`` needs no numbers
    typed), one person annotation per image.

    Annotations carry visibility flags, not confidences: a joint the detector placed with at least
    ``dilpose lift``'s default threshold (:data:`EXAMPLE_MIN_SCORE`) is ``v = 2``, a missed or
    less confident one ``v = 0`` (not placed), which is what ``lift`` would have done with the
    confidences at that threshold."""
    subject, action, camera = EXAMPLE_CLIP
    cam = data.cameras[subject][camera]
    _, detected, scores, _ = mocap.detector_views(data, subject, action)[camera]
    images, annotations = [], []
    for t, (kp, sc) in enumerate(zip(detected, scores)):
        flat = []
        for (x, y), s in zip(kp, sc):
            seen = bool(np.isfinite(x) and np.isfinite(y) and s >= EXAMPLE_MIN_SCORE)
            flat += [round(float(x), 1), round(float(y), 1), 2] if seen else [0, 0, 0]
        images.append({"id": t, "width": cam.res_w, "height": cam.res_h})
        annotations.append(
            {
                "id": t,
                "image_id": t,
                "category_id": 1,
                "iscrowd": 0,
                "keypoints": flat,
                "num_keypoints": sum(v > 0 for v in flat[2::3]),
            }
        )
    doc = {
        "info": {"description": f"{subject} '{action}', camera {camera + 1}, simulated detector"},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "keypoints": list(sk.COCO17.joint_names)}],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text(path, json.dumps(doc, separators=(",", ":")) + "\n")


def camera_table_markdown(doc: dict) -> str:
    """The camera benchmark of a manifest as the model card's markdown table: one row per model and
    camera family (MPJPE and P-MPJPE mm, scale error %, and MPJPE and scale error with
    ``--full-size-bones``), the Human3.6M-only model first."""
    lines = [
        "| model | cameras | MPJPE (mm) | P-MPJPE (mm) | scale error (%) "
        "| full-size bones: MPJPE (mm) | full-size bones: scale error (%) |",
        "|---|---|---|---|---|---|---|",
    ]
    models = {doc["before"]["model"]: doc["before"]["cameras"]}
    models.update({name: e["cameras"] for name, e in doc["models"].items()})
    for name, families in models.items():
        for family, r in families.items():
            full = r["full_size"]
            lines.append(
                f"| {name} | {family} | {r['mpjpe']:.1f} | {r['p_mpjpe']:.1f} | "
                f"{100 * r['scale_error']:+.1f} | {full['mpjpe']:.1f} | "
                f"{100 * full['scale_error']:+.1f} |"
            )
    return "\n".join(lines)


def main() -> None:
    doc = build()
    for name, e in doc["models"].items():
        test = {m: e["test"][m]["action_mean"] for m in ("mpjpe", "p_mpjpe", "mpjve")}
        print(
            f"{name}: {e['bytes'] / 1e6:.2f} MB, {e['receptive_field']} frames"
            f"{' causal' if e['causal'] else ''}, test MPJPE {test['mpjpe']} mm "
            f"(P-MPJPE {test['p_mpjpe']} mm, MPJVE {test['mpjve']} mm/frame)"
        )
    print(f"wrote {pretrained.MANIFEST} and {EXAMPLE}; the model card's camera table:")
    print(camera_table_markdown(doc))


if __name__ == "__main__":
    main()
