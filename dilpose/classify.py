"""The action classifier of the paper's shop application (Fig. 3): which of the six scenarios a
customer is in, from a short window of 3D poses.

Input: 3D pose sequences (T, 17, 3) metres, H36M-17, in any frame (camera space, world, root
relative): the features are the distances between every pair of joints (136 per frame), which a
rotation or a translation of the whole pose leaves unchanged, so predictions in the four cameras'
frames and the ground truth look alike to the classifier. A window of :data:`WINDOW` frames is
summarised by each distance's mean, standard deviation, minimum and maximum over it (544
features): posture (hunkering shortens hip-ankle distances; holding a box keeps the wrists
together in front) and motion (walking swings the ankles).

The classifier is scikit-learn's logistic regression on standardised features, the field's plain
baseline: deterministic, trained in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import DataError

WINDOW = 50  # frames: 1 s at 50 Hz
STRIDE = 10  # frames between window starts
_PAIRS = np.triu_indices(17, k=1)


def pose_features(poses: np.ndarray) -> np.ndarray:
    """(T, 17, 3) metres -> (T, 136) pairwise joint distances, metres."""
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (17, 3):
        raise DataError("pose_features", f"expected (T, 17, 3) poses, got {poses.shape}")
    d = np.linalg.norm(poses[:, :, None] - poses[:, None], axis=-1)
    return d[:, _PAIRS[0], _PAIRS[1]]


def window_features(poses: np.ndarray, window: int = WINDOW, stride: int = STRIDE):
    """Features of every window of a sequence: ``(X (N, 544), centres (N,))``. A sequence shorter
    than ``window`` gives one window, all of it; a longer one, windows every ``stride`` frames and
    one ending at its last frame."""
    f = pose_features(poses)
    T = len(f)
    if T == 0:
        raise DataError("window_features", "an empty sequence")
    starts = [0] if T <= window else sorted(set(range(0, T - window + 1, stride)) | {T - window})
    X, centres = [], []
    for s in starts:
        w = f[s : s + window]
        X.append(np.concatenate([w.mean(0), w.std(0), w.min(0), w.max(0)]))
        centres.append(min(s + window // 2, T - 1))
    return np.stack(X), np.array(centres)


def windows(
    sequences: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    window: int = WINDOW,
    stride: int = STRIDE,
):
    """Stack the windows of many sequences: ``(X, y, sequence index)``; a window's label is its
    centre frame's. labels: per sequence, (T,) integer action indices."""
    X, y, idx = [], [], []
    for i, (poses, lab) in enumerate(zip(sequences, labels)):
        if len(lab) != len(poses):
            raise DataError("windows", f"sequence {i}: {len(lab)} labels for {len(poses)} frames")
        x, centres = window_features(poses, window, stride)
        X.append(x)
        y.append(np.asarray(lab)[centres])
        idx.append(np.full(len(x), i))
    return np.concatenate(X), np.concatenate(y), np.concatenate(idx)


def train(X: np.ndarray, y: np.ndarray, seed: int = 0):
    """A fitted scikit-learn pipeline: standardise, then multinomial logistic regression.

    The fit runs its BLAS on one thread: with torch's OpenMP threads already started in the same
    process, a multi-threaded BLAS fights them and the fit is ten times slower on two cores.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    clf = make_pipeline(
        StandardScaler(), LogisticRegression(C=0.5, max_iter=3000, random_state=seed)
    )
    with threadpool_limits(1):
        return clf.fit(X, y)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """(classes, classes) counts: row = true action, column = predicted."""
    m = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return m
