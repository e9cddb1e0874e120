"""Real poses for the speed benchmarks: the embedded data's clips as the models read them.

A dense fp32 or bf16 kernel runs as fast on noise as on poses, but int8 does not only depend on
the kernels: its scales come from calibration, and scales set on noise fit real poses badly. A
benchmark that claims a speed-up for lifting poses should also run on poses. So the benchmarks'
inputs are the embedded data's 2D keypoints (screen-normalised, filmed through Human3.6M's cameras
with the simulated detector, gaps filled), and, where a training step needs them, the true
root-relative 3D of each window's centre frame.

Shapes: 2D (..., 17, 2) screen units (COCO-17); 3D (..., 17, 3) metres (H36M-17).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from . import datasets
from .batches import split_root


@lru_cache(maxsize=2)
def _sequences(split: str) -> tuple:
    """Every sequence (clip and camera) of the embedded data's ``split`` ("train" or "test")
    subjects, loaded once per process."""
    data = datasets.load(datasets.DEFAULT, seed=0)
    subjects = data.train_subjects if split == "train" else data.test_subjects
    return tuple(datasets.sequences(data, subjects))


def clip_2d(frames: int, rows: int = 1, split: str = "test") -> torch.Tensor:
    """(rows, frames, 17, 2) float32: row ``r`` is the ``split`` sequences from the ``r``-th on,
    concatenated end to end and cut to ``frames`` (a long video of real 2D, one per stream)."""
    seqs = _sequences(split)
    out = np.empty((rows, frames, 17, 2), np.float32)
    for r in range(rows):
        parts, total, k = [], 0, r
        while total < frames:
            kp = seqs[k % len(seqs)].keypoints_2d
            parts.append(kp)
            total, k = total + len(kp), k + 1
        out[r] = np.concatenate(parts)[:frames]
    return torch.from_numpy(out)


def windows(
    batch: int, receptive_field: int, split: str = "train", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``batch`` windows drawn (seeded) from the ``split`` sequences long enough to hold one:
    inputs (batch, receptive_field, 17, 2) float32 screen units and targets (batch, 1, 17, 3)
    float32, the centre frame's root-relative 3D in metres."""
    seqs = [s for s in _sequences(split) if len(s) >= receptive_field]
    rng = np.random.default_rng(seed)
    inputs = np.empty((batch, receptive_field, 17, 2), np.float32)
    targets = np.empty((batch, 1, 17, 3), np.float32)
    for b in range(batch):
        seq = seqs[rng.integers(len(seqs))]
        start = int(rng.integers(len(seq) - receptive_field + 1))
        inputs[b] = seq.keypoints_2d[start : start + receptive_field]
        centre = seq.positions_3d[start + receptive_field // 2][None]  # (1, 17, 3)
        targets[b] = split_root(centre.astype(np.float64))[0][0]
    return inputs, targets
