"""``make weights``: train the shipped models reproducibly from the committed data, evaluate them,
and write them into the package with their manifest; also writes the example input of the README's
quick start.

Both shipped models are the default profile's model (128 channels, 40 epochs of every 32nd window,
seed 0) trained on all training subjects of the embedded data, symmetric and causal: exactly
notebook 02's main model and its causal twin, so that ``make weights`` after ``make paper`` takes
them from the model cache instead of training them again (:func:`dilpose.cache.train_cached`).
128 channels keep each file near 1 MB (the limit is 5 MB) and are the setting whose numbers the
series reports with three seeds.

The shipped file is a slim, weights-only checkpoint: weights, architecture, input record, epoch and
precision; no optimiser state. ``models.json`` records each file's sha256 and its test metrics
(:mod:`dilpose.pretrained` checks the sha256 before loading).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import cache, callbacks, config, datasets, evaluate, paths, pretrained
from . import datasets as ds
from .datasets import mocap
from .fileio import save_torch, sha256, write_json, write_text

#: name -> the config overrides of the default profile that make it.
SHIPPED = {"lifter-243": {"causal": False}, "lifter-243-causal": {"causal": True}}
SEED = 0
#: The example input: a test clip (never trained on) through one camera, with detector noise.
EXAMPLE_CLIP = ("cmu09", "walk 09_12", 0)
EXAMPLE = paths.DATA_DIR / "examples" / "cmu09_walk_09_12_camera0.json"


def shipped_config(name: str) -> config.Config:
    return config.for_profile("default", seed=SEED, **SHIPPED[name])


def slim_checkpoint(trainer) -> dict:
    """What a shipped file holds: weights (fp32), architecture, input record, epoch, precision."""
    state = trainer.state()
    return {k: state[k] for k in ("model", "model_config", "epoch", "input", "precision", "config")}


def build(out_dir: Path = pretrained.MODELS_DIR, example: Path = EXAMPLE) -> dict:
    """Train (or take from the model cache) and evaluate every model of :data:`SHIPPED`, write the
    slim checkpoints and ``models.json`` into ``out_dir``, and the example input; returns the
    manifest."""
    data = ds.load("mocap", seed=SEED, noise=shipped_config(pretrained.DEFAULT).noise)
    train_seqs = ds.sequences(data, data.train_subjects)
    entries = {}
    for name in SHIPPED:
        cfg = shipped_config(name)
        trainer, _ = cache.train_cached(
            cfg,
            train_seqs,
            data.layout_2d,
            name=f"weights {name}",
            callbacks=[callbacks.LineProgress(name)],
        )
        test_seqs = ds.sequences(data, data.test_subjects, cameras=cfg.eval_cameras)
        results = evaluate.evaluate(trainer.eval_network(), test_seqs, cfg, data.layout_2d)
        file = out_dir / f"{name}.pt"
        save_torch(file, slim_checkpoint(trainer))
        entries[name] = {
            "file": file.name,
            "sha256": sha256(file),
            "bytes": file.stat().st_size,
            "input_layout": data.layout_2d.name,
            "output_layout": data.layout_3d.name,
            "receptive_field": cfg.receptive_field(),
            "causal": cfg.causal,
            "channels": cfg.channels,
            "precision": trainer.precision,
            "parameters": int(sum(p.numel() for p in trainer.model.parameters())),
            "training": {
                "dataset": data.name,
                "train_subjects": list(data.train_subjects),
                "config": {
                    k: v for k, v in cfg.to_dict().items() if k not in config.NOT_TRAINING_FIELDS
                },
            },
            "test": {
                "subjects": list(data.test_subjects),
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
    doc = {
        "models": entries,
        "default": pretrained.DEFAULT,
        "default_stream": pretrained.DEFAULT_STREAM,
        "data_credit": datasets.get("mocap").credit,
        "data_licence": (
            "CMU terms (no resale of the data) and HDM05's CC BY-SA 3.0; see MODEL_CARD.md"
        ),
    }
    write_json(out_dir / "models.json", doc)
    write_example(data, example)
    return doc


def write_example(data, path: Path = EXAMPLE) -> Path:
    """A COCO keypoint results JSON of :data:`EXAMPLE_CLIP` as the simulated detector saw it
    (pixels, ``v`` = the detector's confidence, 0 for a missed joint), one detection per frame."""
    subject, action, camera = EXAMPLE_CLIP
    _, detected, scores, _ = mocap.detector_views(data, subject, action)[camera]
    dets = []
    for t, (kp, sc) in enumerate(zip(detected, scores)):
        flat = []
        for (x, y), s in zip(kp, sc):
            seen = bool(np.isfinite(x) and np.isfinite(y) and s > 0)
            flat += (
                [round(float(x), 1), round(float(y), 1), round(float(s), 3)] if seen else [0, 0, 0]
            )
        dets.append({"image_id": t, "category_id": 1, "keypoints": flat, "score": 1.0})
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text(path, json.dumps(dets, separators=(",", ":")) + "\n")


def main() -> None:
    doc = build()
    for name, e in doc["models"].items():
        test = {m: e["test"][m]["action_mean"] for m in ("mpjpe", "p_mpjpe", "mpjve")}
        print(
            f"{name}: {e['bytes'] / 1e6:.2f} MB, {e['receptive_field']} frames"
            f"{' causal' if e['causal'] else ''}, test MPJPE {test['mpjpe']} mm "
            f"(P-MPJPE {test['p_mpjpe']} mm, MPJVE {test['mpjve']} mm/frame)"
        )
    print(f"wrote {pretrained.MANIFEST} and {EXAMPLE}")


if __name__ == "__main__":
    main()
