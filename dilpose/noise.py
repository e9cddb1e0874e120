"""A seeded model of a 2D keypoint detector's errors, applied to clean projected keypoints.

Real detectors (Mask R-CNN, CPN) make four kinds of error, and the model reproduces each:

1. **Jitter**: every joint wobbles by a few pixels. The standard deviation of joint j is
   ``jitter_scale * person_height_px * OKS_SIGMA[j]``: COCO's per-keypoint OKS sigmas say how
   uncertain human annotators are about each joint relative to the person's size (hips and ankles
   are vaguer than eyes), and detector error follows the same pattern. The jitter is temporally
   correlated (AR(1), coefficient ``temporal_rho``) because a detector's errors on consecutive
   video frames are not independent.
2. **Low confidence / outliers**: in short bursts a joint is badly placed (``outlier_scale`` times
   its jitter) and gets a low score.
3. **Missing joints**: in short bursts a joint is not detected: coordinates NaN, score 0.
4. **Left/right swaps**: in short bursts a whole limb (shoulder-elbow-wrist or hip-knee-ankle) is
   swapped with its mirror twin, with an unchanged, confident score, as detectors do.

Scores are high for good detections and fall with the error, like a heatmap peak would.
Everything is drawn from one ``numpy.random.Generator`` seeded by the caller.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .errors import DataError

#: COCO's per-keypoint OKS sigmas (COCO-17 order).
OKS_SIGMA = np.array(
    [
        0.026,
        0.025,
        0.025,
        0.035,
        0.035,
        0.079,
        0.079,
        0.072,
        0.072,
        0.062,
        0.062,
        0.107,
        0.107,
        0.087,
        0.087,
        0.089,
        0.089,
    ]
)

#: COCO-17 limbs that a detector may swap left/right as a unit.
COCO_SWAP_LIMBS = (((5, 7, 9), (6, 8, 10)), ((11, 13, 15), (12, 14, 16)))


@dataclass(frozen=True)
class NoiseConfig:
    """Detector noise parameters. Rates are per joint (or per limb) per frame, at 50 Hz."""

    jitter_scale: float = (
        0.2  # sigma_j = scale * person height (px) * OKS sigma_j: ~5 px at 1000 px
    )
    temporal_rho: float = 0.7  # AR(1) correlation of the jitter between consecutive frames
    outlier_rate: float = 0.004  # start of a low-confidence burst, per joint per frame
    outlier_scale: float = 6.0  # an outlier's displacement, in units of that joint's jitter sigma
    missing_rate: float = 0.002  # start of a missed-detection burst, per joint per frame
    swap_rate: float = 0.0015  # start of a left/right limb swap, per limb pair per frame
    burst_frames: float = 5.0  # mean burst length (geometric), frames

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def of(cls, info: dict) -> NoiseConfig | None:
        """The noise a dataset was loaded with, from its ``info`` (``info["noise"]``, as
        :meth:`to_dict` wrote it), or None when it was loaded without noise."""
        return cls(**info["noise"]) if info.get("noise") else None


def _bursts(
    rng: np.random.Generator, shape: tuple[int, ...], rate: float, mean_len: float
) -> np.ndarray:
    """Boolean mask (T, ...) of bursts: starts ~ Bernoulli(rate) per frame, lengths ~ Geometric."""
    T = shape[0]
    mask = np.zeros(shape, dtype=bool)
    starts = np.argwhere(rng.random(shape) < rate)
    lengths = rng.geometric(1.0 / max(mean_len, 1.0), size=len(starts))
    for (t, *rest), n in zip(starts, lengths):
        mask[(slice(t, min(T, t + n)), *rest)] = True
    return mask


def jitter_sigma(clean: np.ndarray, config: NoiseConfig = NoiseConfig()) -> np.ndarray:
    """Each joint's jitter standard deviation per frame, (T, 17) pixels, for clean COCO-17
    keypoints (T, 17, 2) pixels: ``jitter_scale * person height * OKS_SIGMA[j]``, the person's
    height being the keypoints' vertical extent in that frame (the detector's scale), at least
    1 px. Outliers are displaced by ``outlier_scale`` times this."""
    clean = np.asarray(clean, dtype=np.float64)
    height = np.ptp(clean[..., 1], axis=1)
    height = np.maximum(height, 1.0)
    return config.jitter_scale * height[:, None] * OKS_SIGMA[None, :]


def apply_detector_noise(
    clean: np.ndarray, rng: np.random.Generator, config: NoiseConfig = NoiseConfig()
):
    """Corrupt clean COCO-17 keypoints like a 2D detector would.

    clean: (T, 17, 2) pixels. Returns ``(keypoints, scores, events)``: keypoints (T, 17, 2) pixels
    with NaN where a joint was missed, scores (T, 17) in [0, 1], and events, a dict of boolean masks
    ``outlier`` (T, 17), ``missing`` (T, 17) and ``swapped`` (T, 17).
    """
    clean = np.asarray(clean, dtype=np.float64)
    if clean.ndim != 3 or clean.shape[1:] != (17, 2):
        raise DataError(
            "apply_detector_noise",
            f"expected clean COCO-17 keypoints (T, 17, 2), got {clean.shape}",
        )
    T = clean.shape[0]
    sigma = jitter_sigma(clean, config)  # (T, 17) px

    # 1. AR(1) jitter with stationary unit variance, scaled by sigma.
    white = rng.standard_normal((T, 17, 2))
    jitter = np.empty_like(white)
    jitter[0] = white[0]
    a, b = config.temporal_rho, np.sqrt(1.0 - config.temporal_rho**2)
    for t in range(1, T):
        jitter[t] = a * jitter[t - 1] + b * white[t]
    noisy = clean + jitter * sigma[..., None]

    # 2. Outlier bursts: a large, fixed-direction displacement for the burst's duration.
    outlier = _bursts(rng, (T, 17), config.outlier_rate, config.burst_frames)
    direction = rng.standard_normal((17, 2))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    noisy = np.where(
        outlier[..., None], noisy + config.outlier_scale * sigma[..., None] * direction, noisy
    )

    # 4. Left/right limb swaps (before missing joints, so a swapped limb can also be missed).
    swapped = np.zeros((T, 17), dtype=bool)
    swap_mask = _bursts(rng, (T, len(COCO_SWAP_LIMBS)), config.swap_rate, config.burst_frames)
    for k, (left, right) in enumerate(COCO_SWAP_LIMBS):
        frames = swap_mask[:, k]
        li, ri = list(left), list(right)
        block = noisy[frames]  # boolean indexing copies: swap in the copy, write it back
        block[:, li + ri] = block[:, ri + li]
        noisy[frames] = block
        swapped[np.ix_(frames, li + ri)] = True

    # Scores fall with the displacement relative to the joint's own sigma (a heatmap-peak proxy);
    # swaps keep a confident score because the detector does not know it swapped.
    err = np.linalg.norm(np.where(swapped[..., None], 0.0, noisy - clean), axis=-1) / np.maximum(
        sigma, 1e-9
    )
    scores = 0.97 * np.exp(-0.5 * (err / 3.0) ** 2) + rng.uniform(-0.03, 0.03, size=(T, 17))
    scores = np.clip(scores, 0.01, 1.0)

    # 3. Missed detections.
    missing = _bursts(rng, (T, 17), config.missing_rate, config.burst_frames)
    noisy[missing] = np.nan
    scores[missing] = 0.0
    return noisy, scores, {"outlier": outlier, "missing": missing, "swapped": swapped}


def fill_gaps(
    keypoints: np.ndarray,
    scores: np.ndarray | None = None,
    max_gap: int | None = None,
    source: str = "keypoints",
) -> tuple[np.ndarray, np.ndarray]:
    """Fill missing joints (NaN) by linear interpolation over time, per joint and coordinate.

    keypoints: (T, J, 2). Leading/trailing gaps take the nearest detected value. Returns the filled
    keypoints and a boolean mask (T, J) of the filled entries (so nothing is filled silently).
    Raises :class:`DataError` when a joint is never detected, or when a gap is longer than
    ``max_gap`` frames (a long gap is not a detector glitch and interpolation would invent motion).
    """
    keypoints = np.array(keypoints, dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise DataError(source, f"expected keypoints (T, J, 2), got {keypoints.shape}")
    missing = ~np.isfinite(keypoints).all(-1)
    if scores is not None:
        scores = np.asarray(scores)
        if scores.shape != missing.shape:
            raise DataError(
                source, f"scores shape {scores.shape} does not match keypoints {keypoints.shape}"
            )
    T = len(keypoints)
    t = np.arange(T)
    for j in range(keypoints.shape[1]):
        gap = missing[:, j]
        if not gap.any():
            continue
        if gap.all():
            raise DataError(source, f"joint {j} is never detected in {T} frames")
        if max_gap is not None:
            # Longest run of consecutive missing frames.
            edges = np.diff(np.concatenate([[0], gap.astype(int), [0]]))
            longest = int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())
            if longest > max_gap:
                first = int(np.flatnonzero(gap)[0])
                raise DataError(
                    source,
                    f"joint {j} is missing for {longest} consecutive frames "
                    f"(first missing frame {first}); at most {max_gap} are interpolated",
                )
        for c in range(2):
            keypoints[gap, j, c] = np.interp(t[gap], t[~gap], keypoints[~gap, j, c])
    return keypoints, missing
