"""The speed benchmarks' inputs are real poses from the embedded data (dilpose.bench_data)."""

import numpy as np

from dilpose import bench_data, datasets


def test_clip_2d_is_the_test_clips_end_to_end_one_offset_per_row():
    data = datasets.load(datasets.DEFAULT, seed=0)
    seqs = datasets.sequences(data, data.test_subjects)
    clip = bench_data.clip_2d(len(seqs[0]) + 10, rows=2).numpy()
    assert clip.shape == (2, len(seqs[0]) + 10, 17, 2) and clip.dtype == np.float32
    np.testing.assert_array_equal(clip[0, : len(seqs[0])], seqs[0].keypoints_2d)
    np.testing.assert_array_equal(clip[0, len(seqs[0]) :], seqs[1].keypoints_2d[:10])
    np.testing.assert_array_equal(clip[1, :10], seqs[1].keypoints_2d[:10])
    assert np.isfinite(clip).all() and np.abs(clip).max() < 2  # screen units, no noise blow-up


def test_windows_are_real_2d_with_their_centre_frames_true_3d():
    inputs, targets = bench_data.windows(16, 27, seed=3)
    assert inputs.shape == (16, 27, 17, 2) and targets.shape == (16, 1, 17, 3)
    assert np.isfinite(inputs).all() and np.isfinite(targets).all()
    np.testing.assert_array_equal(targets[:, 0, 0], 0)  # root-relative
    # a person's joints lie within about a metre of the pelvis, unlike scaled noise's tails
    assert 0.1 < np.abs(targets).max() < 1.5
    again, _ = bench_data.windows(16, 27, seed=3)
    other, _ = bench_data.windows(16, 27, seed=4)
    np.testing.assert_array_equal(inputs, again)
    assert not np.array_equal(inputs, other)
