"""Steadier skeletons: one set of bone lengths per clip (issue 28, item 5).

A lifting model predicts every frame's joints on their own, so a person's bones change length from
frame to frame: on the quick start's walk the median bone's length wobbles with a standard
deviation of about 13 mm, where the person's true bones do not change at all. A person does not
grow between frames, so after lifting a whole clip (or the frames of a stream so far) the bones
can be given one length each, the clip's median, keeping every bone's predicted direction:
:func:`fit_bone_lengths`. :func:`bone_length_sd` measures the wobble; ``python -m dilpose.bones``
measures both, and MPJPE, on the test clips of the embedded data with the shipped model
(``reports/bench/bones.json``).

Shapes: poses are (T, J, 3) metres, joints of a :class:`dilpose.skeleton.Skeleton` tree (H36M-17
for the models' output), root-relative or not (the root is kept where it is).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from . import datasets, evaluate, metrics, paths, pretrained
from . import skeleton as sk
from .checkpoints import model_from_checkpoint
from .fileio import write_json


def bone_lengths(poses: np.ndarray, layout: sk.Skeleton = sk.H36M17) -> np.ndarray:
    """(T, B) length of every bone (parent -> child, in ``layout.bones()`` order) in every frame,
    metres."""
    bones = layout.bones()
    parents, children = [p for p, _ in bones], [c for _, c in bones]
    return np.linalg.norm(poses[:, children] - poses[:, parents], axis=-1)


def bone_length_sd(poses: np.ndarray, layout: sk.Skeleton = sk.H36M17) -> np.ndarray:
    """(B,) standard deviation over time of every bone's length, metres: 0 for a rigid skeleton."""
    return bone_lengths(poses, layout).std(0)


def fit_bone_lengths(
    poses: np.ndarray, layout: sk.Skeleton = sk.H36M17, lengths: np.ndarray | None = None
) -> np.ndarray:
    """The same poses with every bone at one length: ``lengths`` (B,) metres, default the clip's
    median of each bone. Each bone keeps its predicted direction; joints are placed from the root
    outwards (a parent before its children), so a fixed bone moves the joints below it with it.

    poses: (T, J, 3). Returns a new (T, J, 3) array; the root joint is unchanged. A bone of zero
    predicted length (no direction) keeps its child on its parent."""
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (layout.num_joints, 3):
        raise ValueError(f"poses must be (T, {layout.num_joints}, 3), got {poses.shape}")
    bones = layout.bones()
    lengths = np.median(bone_lengths(poses, layout), 0) if lengths is None else lengths
    out = poses.copy()
    index = {child: k for k, (_, child) in enumerate(bones)}
    for j in _topological(layout):
        p = layout.parents[j]
        if p < 0:
            continue
        d = poses[:, j] - poses[:, p]
        norm = np.linalg.norm(d, axis=-1, keepdims=True)
        unit = np.divide(d, norm, out=np.zeros_like(d), where=norm > 0)
        out[:, j] = out[:, p] + unit * lengths[index[j]]
    return out


def _topological(layout: sk.Skeleton) -> list[int]:
    """Joints ordered so that every parent comes before its children."""
    order, seen = [], set()

    def visit(j: int) -> None:
        if j in seen:
            return
        p = layout.parents[j]
        if p >= 0:
            visit(p)
        seen.add(j)
        order.append(j)

    for j in range(layout.num_joints):
        visit(j)
    return order


def study(checkpoint: Path | None = None, cameras=(0, 1, 2, 3)) -> dict:
    """MPJPE and the bone-length wobble of the shipped symmetric model's predictions on the
    embedded data's test clips, as lifted and with one length per bone per clip (median over each
    clip's predicted frames: no ground truth is used)."""
    checkpoint = checkpoint or pretrained.path_of(pretrained.DEFAULT)
    model = model_from_checkpoint(checkpoint)
    data = datasets.load(datasets.DEFAULT, seed=0)
    rows = {"as lifted": ([], [], []), "one length per bone": ([], [], [])}
    for seq in datasets.sequences(data, data.test_subjects, cameras=cameras):
        pred = evaluate.predict(model, seq, model.cfg.causal, True, data.layout_2d)
        target = seq.positions_3d - seq.positions_3d[:, :1]
        for name, poses in (("as lifted", pred), ("one length per bone", fit_bone_lengths(pred))):
            err, sd, frames = rows[name]
            err.append(1000 * metrics.mpjpe(poses, target) * len(seq))
            sd.append(1000 * np.median(bone_length_sd(poses)))
            frames.append(len(seq))
    truth_sd = [
        1000 * np.median(bone_length_sd(seq.positions_3d))
        for seq in datasets.sequences(data, data.test_subjects, cameras=cameras[:1])
    ]
    out = {
        "what": "shipped model on the embedded test clips (all cameras), flip test; MPJPE over "
        "all frames (mm); bone_sd: per clip, the median over bones of each bone length's "
        "standard deviation over time (mm), then the median over clips",
        "model": str(checkpoint.name),
        "truth_bone_sd_mm": float(np.median(truth_sd)),
        "rows": {},
    }
    for name, (err, sd, frames) in rows.items():
        out["rows"][name] = {
            "mpjpe_mm": float(np.sum(err) / np.sum(frames)),
            "bone_sd_mm_median_over_clips": float(np.median(sd)),
            "clips": len(sd),
        }
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m dilpose.bones", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, help="report (default reports/bench/bones.json)")
    args = parser.parse_args(argv)
    report = study()
    write_json(args.out or paths.bench_dir() / "bones.json", report)
    for name, row in report["rows"].items():
        sd = row["bone_sd_mm_median_over_clips"]
        print(f"{name:>20}: MPJPE {row['mpjpe_mm']:.2f} mm, bone SD {sd:.1f} mm")
    print(f"{'ground truth':>20}: bone SD {report['truth_bone_sd_mm']:.2f} mm")
    return report


if __name__ == "__main__":
    main()
