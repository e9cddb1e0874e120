import numpy as np
import pytest

from dilpose.errors import DataError
from dilpose.noise import (
    COCO_SWAP_LIMBS,
    OKS_SIGMA,
    NoiseConfig,
    apply_detector_noise,
    fill_gaps,
    jitter_sigma,
)


def _clean(T=2000):
    # A standing person ~400 px tall drifting slowly across the image.
    rng = np.random.default_rng(1)
    base = rng.uniform([400, 300], [500, 700], size=(17, 2))
    base[:, 1] = np.linspace(300, 700, 17)
    return base[None] + np.linspace(0, 50, T)[:, None, None]


def test_noise_is_seeded():
    a = apply_detector_noise(_clean(), np.random.default_rng(7))
    b = apply_detector_noise(_clean(), np.random.default_rng(7))
    c = apply_detector_noise(_clean(), np.random.default_rng(8))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(np.nan_to_num(a[0]), np.nan_to_num(c[0]))


def test_jitter_alone_matches_the_configured_sigma_and_is_temporally_correlated():
    cfg = NoiseConfig(outlier_rate=0, missing_rate=0, swap_rate=0)
    clean = _clean(20000)
    noisy, scores, events = apply_detector_noise(clean, np.random.default_rng(0), cfg)
    err = noisy - clean
    height = 400.0
    from dilpose.noise import OKS_SIGMA

    expected = cfg.jitter_scale * height * OKS_SIGMA
    np.testing.assert_allclose(err.std(axis=(0, 2)), expected, rtol=0.1)
    lag1 = np.corrcoef(err[1:, 5, 0], err[:-1, 5, 0])[0, 1]
    assert lag1 == pytest.approx(cfg.temporal_rho, abs=0.05)
    assert not any(e.any() for e in events.values())
    assert scores.mean() > 0.85 and np.percentile(scores, 1) > 0.5


def test_missing_joints_are_nan_with_zero_score():
    cfg = NoiseConfig(missing_rate=0.02)
    noisy, scores, events = apply_detector_noise(_clean(), np.random.default_rng(0), cfg)
    missing = events["missing"]
    assert 0.05 < missing.mean() < 0.15  # rate 0.02 x mean burst 5 frames ~ 0.1
    assert np.isnan(noisy[missing]).all() and (scores[missing] == 0).all()
    assert np.isfinite(noisy[~missing]).all()


def test_outliers_have_low_scores():
    cfg = NoiseConfig(outlier_rate=0.01, missing_rate=0, swap_rate=0)
    noisy, scores, events = apply_detector_noise(_clean(), np.random.default_rng(0), cfg)
    assert events["outlier"].any()
    assert scores[events["outlier"]].mean() < 0.4 < scores[~events["outlier"]].mean()


def test_swaps_exchange_whole_limbs_left_and_right():
    cfg = NoiseConfig(jitter_scale=0.0, outlier_rate=0, missing_rate=0, swap_rate=0.01)
    clean = _clean()
    noisy, scores, events = apply_detector_noise(clean, np.random.default_rng(0), cfg)
    swapped = events["swapped"]
    assert swapped.any()
    for left, right in COCO_SWAP_LIMBS:
        frames = swapped[:, left[0]]
        np.testing.assert_allclose(noisy[frames][:, list(left)], clean[frames][:, list(right)])
        np.testing.assert_allclose(noisy[frames][:, list(right)], clean[frames][:, list(left)])
    np.testing.assert_allclose(noisy[~swapped], clean[~swapped])
    assert scores[swapped].min() > 0.9  # a detector is confidently wrong


def test_wrong_shape_is_rejected():
    with pytest.raises(DataError, match=r"\(T, 17, 2\)"):
        apply_detector_noise(np.zeros((10, 16, 2)), np.random.default_rng(0))


def test_fill_gaps_interpolates_linearly_and_reports_what_it_filled():
    kp = np.stack([np.arange(10.0), 2 * np.arange(10.0)], -1)[:, None].repeat(2, 1)
    kp[3:6, 0] = np.nan
    kp[0, 1] = np.nan
    filled, mask = fill_gaps(kp)
    np.testing.assert_allclose(filled[:, 0], np.stack([np.arange(10.0), 2 * np.arange(10.0)], -1))
    np.testing.assert_allclose(filled[0, 1], [1.0, 2.0])  # leading gap takes the first detection
    assert mask.sum() == 4 and mask[3:6, 0].all() and mask[0, 1]


def test_fill_gaps_refuses_long_gaps_and_never_seen_joints():
    kp = np.zeros((20, 2, 2))
    kp[2:12, 0] = np.nan
    with pytest.raises(DataError, match="missing for 10 consecutive frames"):
        fill_gaps(kp, max_gap=5, source="clip.json")
    kp[:, 1] = np.nan
    with pytest.raises(DataError, match="joint 1 is never detected"):
        fill_gaps(kp, source="clip.json")


def test_jitter_sigma_scales_the_oks_sigmas_by_the_persons_height_in_each_frame():
    clean = _clean(3)
    clean[1, :, 1] = 500.0  # a frame with no vertical extent (lying flat): floored at 1 px
    sigma = jitter_sigma(clean, NoiseConfig(jitter_scale=0.5))
    assert sigma.shape == (3, 17)
    np.testing.assert_allclose(sigma[0], 0.5 * 400.0 * OKS_SIGMA)
    np.testing.assert_allclose(sigma[1], 0.5 * 1.0 * OKS_SIGMA)
