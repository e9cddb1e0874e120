"""Batches for training (windows of receptive-field length) and whole sequences for evaluation.

Each sequence is padded once by edge replication (the first and last frames repeated, as
VideoPose3D does), so that every frame gets a full window. With a causal model the window of frame
t is shifted to cover frames t - (R - 1) ... t only (``causal_shift = (R - 1) // 2``); with a
symmetric model it is centred on t.

Horizontal-flip augmentation mirrors a sequence: x -> -x in the 2D input (normalised screen
coordinates are centred, so this is a flip about the image centre) and in the 3D camera-space
target, with left and right joints swapped in each layout, and the camera's principal point x and
first tangential coefficient negated so that reprojection stays consistent.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from collections.abc import Sequence as Seq
from dataclasses import dataclass

import numpy as np

from . import skeleton as sk
from .datasets.base import Sequence
from .errors import DataError


@dataclass
class Batch:
    """inputs: (B, L + R - 1, J_in, 2) normalised 2D; targets: (B, L, 17, 3) metres, root-relative
    with the root joint zeroed; trajectory: (B, L, 1, 3) camera-space root position (metres);
    intrinsics: (B, 9); flipped: (B,) bool. L is the chunk length (1 for the strided model).
    2D-only batches (from unlabelled sequences) have ``targets`` and ``trajectory`` None.
    scores: (B, L, J_in) detector confidence in [0, 1] of the output frames' 2D joints (the frames
    the outputs belong to, joints swapped like the inputs in a flipped window), or None unless the
    stream was asked for them (``WindowBatches(scores=True)``)."""

    inputs: np.ndarray
    targets: np.ndarray | None
    trajectory: np.ndarray | None
    intrinsics: np.ndarray
    flipped: np.ndarray
    scores: np.ndarray | None = None

    @property
    def labelled(self) -> bool:
        return self.targets is not None


@dataclass
class MixedBatch:
    """One step of semi-supervised training: a labelled batch and a 2D-only (unlabelled) batch."""

    labelled: Batch
    unlabelled: Batch


#: The share of a centred window that must be real frames (not edge padding) for
#: ``min_context`` (:func:`context_frames`).
MIN_REAL_FRACTION = 0.9


def context_frames(length: int, receptive_field: int) -> np.ndarray:
    """Which frames of a clip of ``length`` frames have at least :data:`MIN_REAL_FRACTION` of a
    centred ``receptive_field``-frame window inside the clip: (length,) bool.

    Frame t's window holds ``min(t, p) + min(length - 1 - t, p) + 1`` real frames, p = (R - 1) // 2;
    the rest is edge padding (the first or last frame repeated). A clip shorter than
    ``MIN_REAL_FRACTION * R`` frames has none."""
    p = (receptive_field - 1) // 2
    t = np.arange(length)
    real = np.minimum(t, p) + np.minimum(length - 1 - t, p) + 1
    return real >= MIN_REAL_FRACTION * (2 * p + 1)


def receptive_field(filter_widths) -> int:
    """Frames one output sees: the product of the filter widths (243 for 3,3,3,3,3; 1 for none)."""
    return int(math.prod(int(w) for w in filter_widths))


def padding(receptive_field: int, causal: bool) -> tuple[int, int]:
    """(frames added before, frames added after) a sequence so that every frame has a full window:
    ``(pad, pad)`` with ``pad = (R - 1) // 2`` when symmetric, ``(2 * pad, 0)`` when causal (output
    t then sees frames t - R + 1 .. t)."""
    if receptive_field < 1 or receptive_field % 2 == 0:
        raise ValueError(f"receptive field must be odd and positive, got {receptive_field}")
    pad = (receptive_field - 1) // 2
    shift = pad if causal else 0  # causal: the window ends at the output frame
    return pad + shift, pad - shift


def split_root(positions_3d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 17, 3) camera space -> (root-relative pose with joint 0 zeroed, trajectory
    (..., 1, 3))."""
    traj = positions_3d[..., :1, :]
    return positions_3d - traj, traj.copy()


def flip_2d(x: np.ndarray, layout: sk.Skeleton) -> np.ndarray:
    """Mirror normalised 2D keypoints (..., J, 2): :func:`dilpose.skeleton.flip`."""
    return sk.flip(x, layout)


def flip_3d(X: np.ndarray, layout: sk.Skeleton = sk.H36M17) -> np.ndarray:
    """Mirror camera-space 3D joints (..., J, 3): :func:`dilpose.skeleton.flip`."""
    return sk.flip(X, layout)


def flip_intrinsics(k: np.ndarray) -> np.ndarray:
    """Mirror (..., 9) normalised intrinsics: negate cx and p1."""
    k = k.copy()
    k[..., 2] *= -1
    k[..., 7] *= -1
    return k


class WindowBatches:
    """Seeded, shuffled training batches of windows.

    Args:
        sequences: training :class:`Sequence` records.
        batch_size: windows per batch (per process when ``world_size > 1``).
        receptive_field: R, the model's receptive field in frames (odd).
        chunk_length: output frames per window (1 for the strided model; the window then holds R
            input frames; in general L + R - 1).
        causal: windows end at the output frame instead of being centred on it.
        augment: add a horizontally flipped copy of every window.
        shuffle: shuffle the windows each epoch, from ``(seed, epoch)`` (so a resumed run sees the
            same order as an uninterrupted one).
        layout_2d: the input joint layout (for left/right swaps).
        rank, world_size: shard every epoch's batches across DistributedDataParallel processes.
        subsample: use every k-th window per epoch, rotating the offset with the epoch so that k
            epochs together see every window (windows 20 ms apart are nearly identical, so this
            trades little accuracy for k times faster epochs on a CPU).
        labelled: False for 2D-only windows (as VideoPose3D's generator allows): the sequences'
            ``positions_3d`` may be None and batches carry no targets.
        min_context: 0 (every frame), or R_max, a receptive field in frames: only output frames
            whose centred window of R_max frames is at least :data:`MIN_REAL_FRACTION` inside the
            clip are trained on (:func:`context_frames`). Models of different receptive fields
            given the same R_max learn from the same frames, so a comparison of receptive fields
            is not a comparison of how much edge padding each model sees.
        scores: batches also carry the detector confidence of the output frames
            (:attr:`Batch.scores`; for a confidence-weighted reprojection loss). Off by default, so
            that a stream that does not need them builds exactly the batches it always did.
    """

    def __init__(
        self,
        sequences: Seq[Sequence],
        batch_size: int,
        receptive_field: int,
        chunk_length: int = 1,
        causal: bool = False,
        augment: bool = True,
        shuffle: bool = True,
        seed: int = 0,
        layout_2d: sk.Skeleton = sk.COCO17,
        rank: int = 0,
        world_size: int = 1,
        subsample: int = 1,
        labelled: bool = True,
        min_context: int = 0,
        scores: bool = False,
    ):
        if not sequences:
            raise DataError("WindowBatches", "no training sequences")
        if batch_size < 1 or chunk_length < 1 or subsample < 1:
            raise ValueError("batch_size, chunk_length and subsample must be positive")
        self.subsample = subsample
        self.before, self.after = padding(receptive_field, causal)
        self.receptive_field, self.chunk_length = receptive_field, chunk_length
        self.batch_size, self.augment, self.shuffle, self.seed = batch_size, augment, shuffle, seed
        self.layout_2d, self.rank, self.world_size = layout_2d, rank, world_size
        self.labelled, self.with_scores = labelled, scores
        padded_inputs, poses, trajectories, intrinsics, pairs = [], [], [], [], []
        confidences = []
        for i, seq in enumerate(sequences):
            where = f"{seq.subject}/{seq.action}/camera {seq.camera}"
            layout_2d.check(seq.keypoints_2d, where, dims=2)
            padded_inputs.append(
                np.pad(seq.keypoints_2d, ((self.before, self.after), (0, 0), (0, 0)), mode="edge")
            )
            if labelled:
                if seq.positions_3d is None:
                    raise DataError(
                        where,
                        "no 3D positions in a labelled stream (pass labelled=False for 2D-only)",
                    )
                sk.H36M17.check(seq.positions_3d, where, dims=3)
                if len(seq.keypoints_2d) != len(seq.positions_3d):
                    raise DataError(f"{seq.subject}/{seq.action}", "2D and 3D lengths differ")
                pose, traj = split_root(seq.positions_3d)
                poses.append(pose)
                trajectories.append(traj)
            intrinsics.append(seq.intrinsics)
            if scores:
                confidences.append(_checked_scores(seq, where))
            starts = np.arange(0, len(seq), chunk_length)
            if min_context:
                starts = starts[context_frames(len(seq), min_context)[starts]]
                if not len(starts):
                    continue
            for flip in (False, True) if augment else (False,):
                pairs.append(
                    np.stack([np.full_like(starts, i), starts, np.full_like(starts, flip)], 1)
                )
        if not pairs:
            raise DataError(
                "WindowBatches",
                f"no training frame has {MIN_REAL_FRACTION:.0%} of a {min_context}-frame window "
                "inside its clip (min_context)",
            )
        self.pairs = np.concatenate(pairs)  # (N, 3): sequence index, first output frame, flip
        # All sequences end to end (float32, the batch dtype), followed by their mirrored copies, so
        # that a batch is one fancy-indexing gather: no Python loop over windows and no per-batch
        # flipping (together about a fifth of a training step of the 243-frame, 128-channel model
        # on 2 CPU cores). Flipping is exact (negation and a joint permutation), so batches are
        # bit-identical to flipping each window.
        inputs, self._input_start, self._input_len = _concatenate(padded_inputs)
        intr = np.stack(intrinsics).astype(np.float32)
        self._flat_inputs = np.concatenate([inputs, flip_2d(inputs, layout_2d)])
        self._intr_array = np.concatenate([intr, flip_intrinsics(intr)])
        if scores:  # mirrored like the inputs: the joints swap, a confidence has no sign to flip
            conf, self._score_start, self._score_len = _concatenate(confidences)
            self._flat_scores = np.concatenate([conf, conf[:, layout_2d.flip_permutation()]])
        if labelled:
            targets, self._target_start, self._target_len = _concatenate(poses)
            traj = np.concatenate(trajectories).astype(np.float32)
            self._flat_targets = np.concatenate([targets, flip_3d(targets)])
            self._flat_traj = np.concatenate([traj, traj * np.array([-1, 1, 1], dtype=np.float32)])

    @property
    def num_windows(self) -> int:
        """All windows (flipped copies included), before subsampling."""
        return len(self.pairs)

    def _epoch_pairs(self, epoch: int) -> np.ndarray:
        if self.subsample == 1:
            return self.pairs
        keep = (self.pairs[:, 1] // self.chunk_length) % self.subsample == epoch % self.subsample
        return self.pairs[keep]

    def num_batches(self, epoch: int = 0) -> int:
        """Batches every process sees in an epoch. With several processes each gets the same
        number (the remainder is dropped) so that DistributedDataParallel's collectives stay in
        step."""
        total = -(-len(self._epoch_pairs(epoch)) // self.batch_size)
        return total if self.world_size == 1 else total // self.world_size

    def epoch(self, epoch: int) -> Iterator[Batch]:
        """The batches of one epoch (the same for a given ``(seed, epoch)``)."""
        pairs = self._epoch_pairs(epoch)
        order = (
            np.random.default_rng([self.seed, epoch]).permutation(len(pairs))
            if self.shuffle
            else np.arange(len(pairs))
        )
        for k in range(self.num_batches(epoch)):
            b = k * self.world_size + self.rank
            yield self._make(pairs[order[b * self.batch_size : (b + 1) * self.batch_size]])

    def _make(self, pairs: np.ndarray) -> Batch:
        L, width = self.chunk_length, self.chunk_length + self.receptive_field - 1
        seq, start, flip = pairs[:, 0], pairs[:, 1], pairs[:, 2].astype(bool)
        # Frame indices into the concatenated arrays, clamped to each sequence's last frame: the
        # last chunk of a sequence (chunk_length > 1) repeats its last frame, as the edge padding
        # does. Flipped windows read the mirrored half, which starts one whole length further on.
        x_idx = np.minimum(start[:, None] + np.arange(width), self._input_len[seq, None] - 1)
        x_idx += (self._input_start[seq] + flip * (len(self._flat_inputs) // 2))[:, None]
        intrinsics = self._intr_array[seq + flip * (len(self._intr_array) // 2)]  # (B, 9)
        scores = None
        if self.with_scores:  # the output frames, clamped like the targets
            s_idx = np.minimum(start[:, None] + np.arange(L), self._score_len[seq, None] - 1)
            s_idx += (self._score_start[seq] + flip * (len(self._flat_scores) // 2))[:, None]
            scores = self._flat_scores[s_idx]  # (B, L, J)
        if not self.labelled:
            return Batch(self._flat_inputs[x_idx], None, None, intrinsics, flip, scores)
        y_idx = np.minimum(start[:, None] + np.arange(L), self._target_len[seq, None] - 1)
        y_idx += (self._target_start[seq] + flip * (len(self._flat_targets) // 2))[:, None]
        return Batch(
            self._flat_inputs[x_idx],  # (B, width, J, 2)
            self._flat_targets[y_idx],  # (B, L, 17, 3)
            self._flat_traj[y_idx],  # (B, L, 1, 3)
            intrinsics,
            flip,
            scores,
        )


class MixedBatches:
    """Epochs that draw from a labelled and an unlabelled stream at once (semi-supervised training).

    An epoch has as many steps as the labelled stream has batches; each step pairs a labelled batch
    with the next unlabelled one. The unlabelled stream restarts (with its next epoch's shuffle)
    when it runs out, so it may be shorter or longer than the labelled one.
    """

    def __init__(self, labelled: WindowBatches, unlabelled: WindowBatches):
        if not labelled.labelled or unlabelled.labelled:
            raise ValueError(
                "MixedBatches needs a labelled stream and a 2D-only (labelled=False) stream"
            )
        if unlabelled.num_batches(0) == 0:
            raise ValueError("the unlabelled stream has no batch (fewer windows than processes)")
        self.labelled_stream, self.unlabelled_stream = labelled, unlabelled

    def num_batches(self, epoch: int = 0) -> int:
        return self.labelled_stream.num_batches(epoch)

    def epoch(self, epoch: int) -> Iterator[MixedBatch]:
        def cycle():
            k = 0
            while True:
                # Distinct epochs of the unlabelled stream for each restart, reproducibly.
                yield from self.unlabelled_stream.epoch(epoch * 1000 + k)
                k += 1

        unlabelled = cycle()
        for batch in self.labelled_stream.epoch(epoch):
            yield MixedBatch(batch, next(unlabelled))


def _checked_scores(seq: Sequence, where: str) -> np.ndarray:
    """A sequence's detector confidence (T, J), checked against its 2D keypoints (T, J, 2)."""
    conf = getattr(seq, "scores", None)
    if conf is None:
        raise DataError(where, "no detector scores, but the batches were asked to carry them")
    conf = np.asarray(conf)
    if conf.shape != seq.keypoints_2d.shape[:2]:
        raise DataError(
            where,
            f"detector scores have shape {conf.shape}; the 2D keypoints need "
            f"{seq.keypoints_2d.shape[:2]} (frames, joints)",
        )
    if not (np.isfinite(conf).all() and (conf >= 0).all() and (conf <= 1).all()):
        raise DataError(where, "detector scores must be finite and lie in [0, 1]")
    return conf


def _concatenate(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrays (T_i, ...) -> (their concatenation as float32, start index of each, length of
    each)."""
    lengths = np.array([len(a) for a in arrays])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.concatenate(arrays).astype(np.float32), starts, lengths


def whole_sequences(
    sequences: Seq[Sequence],
    receptive_field: int,
    causal: bool = False,
    flip_test: bool = False,
    layout_2d: sk.Skeleton = sk.COCO17,
):
    """Yield ``(sequence, inputs)`` for evaluation, one sequence at a time.

    inputs: (1, T + R - 1, J, 2) edge-padded normalised 2D, or (2, ...) with the flipped copy second
    when ``flip_test`` (undo with :func:`merge_flipped`).
    """
    before, after = padding(receptive_field, causal)
    for seq in sequences:
        layout_2d.check(seq.keypoints_2d, f"{seq.subject}/{seq.action}/camera {seq.camera}", dims=2)
        x = np.pad(seq.keypoints_2d, ((before, after), (0, 0), (0, 0)), mode="edge")[None]
        if flip_test:
            x = np.concatenate([x, flip_2d(x, layout_2d)])
        yield seq, x.astype(np.float32)


def merge_flipped(pred: np.ndarray) -> np.ndarray:
    """(2, T, 17, 3) predictions for the original and flipped input -> (T, 17, 3) average."""
    assert pred.shape[0] == 2, f"expected (2, T, J, 3), got {pred.shape}"
    return 0.5 * (pred[0] + flip_3d(pred[1]))
