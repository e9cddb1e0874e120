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
baseline: deterministic, trained in seconds. Before standardising, :func:`train` drops the features
that are constant on its training data (:func:`near_constant`): on rigid skeletons a bone's length
never changes, so the standard deviation of its length within a window is float rounding (about
3.5e-8 m); standardising divides by that, and a lifter's few millimetres of bone-length jitter then
become z-scores around 1e5 that swamp every other feature (the same, less extremely, for distances
a rigid pelvis or shoulder girdle fixes). Which features were dropped, and by what
rule, is recorded with the classifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import skeleton as sk
from .errors import DataError

WINDOW = 50  # frames: 1 s at 50 Hz
STRIDE = 10  # frames between window starts
_PAIRS = np.triu_indices(17, k=1)
#: The window summaries, in the order of :func:`window_features`' columns (136 pairs each).
SUMMARIES = ("mean", "std", "min", "max")
#: A feature is kept when its standard deviation over the training windows exceeds this fraction of
#: its joint pair's mean distance (the scale all four summaries of a pair are measured in). 3e-4 is
#: 0.1 mm on a 30 cm pair, a tenth of what optical motion capture resolves (about 1 mm), so a
#: feature that varies less is a constant of the skeleton model rather than measured motion. On the
#: simulated shop's training people it drops the within-window spread of the 16 bones (float32
#: rounding, about 1e-7 of their length) and of the four distances the rigid pelvis and shoulder
#: girdle fix (about 1.5e-4); the next feature up varies by 1.1e-3.
MIN_RELATIVE_STD = 3e-4


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


def feature_names() -> list[str]:
    """The names of :func:`window_features`' 544 columns: ``"std of pelvis-r_hip"``, ..."""
    joints = sk.H36M17.joint_names
    pairs = [f"{joints[a]}-{joints[b]}" for a, b in zip(*_PAIRS)]
    return [f"{summary} of {pair}" for summary in SUMMARIES for pair in pairs]


def near_constant(X: np.ndarray, min_relative_std: float = MIN_RELATIVE_STD) -> np.ndarray:
    """(F,) bool, True for the features of ``X`` (N, 544) windows (:func:`window_features`) whose
    standard deviation over the N windows is at most ``min_relative_std`` times the mean over the
    windows of their joint pair's mean distance (metres): features that are constants of the
    data, such as the within-window spread of a rigid bone's length."""
    X = np.asarray(X, dtype=np.float64)
    n_pairs = len(_PAIRS[0])
    if X.ndim != 2 or X.shape[1] != len(SUMMARIES) * n_pairs or len(X) < 2:
        raise DataError(
            "near_constant",
            f"expected (N >= 2, {len(SUMMARIES) * n_pairs}) features, got {X.shape}",
        )
    scale = np.tile(np.abs(X[:, :n_pairs].mean(0)), len(SUMMARIES))  # (F,) metres
    return X.std(0) <= min_relative_std * scale


@dataclass
class Classifier:
    """A fitted action classifier: the features kept (``keep``, (544,) bool, decided on the
    training windows by :func:`near_constant`) and the scikit-learn pipeline fitted on them."""

    keep: np.ndarray
    pipeline: object
    min_relative_std: float = MIN_RELATIVE_STD

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(N, 544) window features -> (N,) action indices."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(self.keep):
            raise DataError("Classifier.predict", f"expected (N, {len(self.keep)}), got {X.shape}")
        return self.pipeline.predict(X[:, self.keep])

    @property
    def dropped(self) -> list[str]:
        """Names of the features left out as constant on the training data."""
        names = feature_names()
        return [names[i] for i in np.flatnonzero(~self.keep)]

    def record(self) -> dict:
        """JSON-ready: the rule, its threshold, how many features were kept and which dropped."""
        return {
            "rule": "dropped when its std over the training windows <= min_relative_std x its "
            "joint pair's mean distance",
            "min_relative_std": self.min_relative_std,
            "kept": int(self.keep.sum()),
            "dropped": self.dropped,
        }


def train(
    X: np.ndarray, y: np.ndarray, seed: int = 0, min_relative_std: float = MIN_RELATIVE_STD
) -> Classifier:
    """Drop the features constant on ``X`` (:func:`near_constant`), then fit a scikit-learn
    pipeline on the rest: standardise, then multinomial logistic regression.

    The fit runs its BLAS on one thread: with torch's OpenMP threads already started in the same
    process, a multi-threaded BLAS fights them and the fit is ten times slower on two cores.
    """
    # scikit-learn is imported here so that importing dilpose.classify stays cheap
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    keep = ~near_constant(X, min_relative_std)
    clf = make_pipeline(
        StandardScaler(), LogisticRegression(C=0.5, max_iter=3000, random_state=seed)
    )
    with threadpool_limits(1):
        clf.fit(np.asarray(X)[:, keep], y)
    return Classifier(keep, clf, min_relative_std)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """(classes, classes) counts: row = true action, column = predicted."""
    m = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return m
