import numpy as np
import pytest

from dilpose import datasets, formats
from dilpose import skeleton as sk
from dilpose.camera import load_h36m_cameras, project_to_2d
from dilpose.datasets import h36m
from dilpose.errors import DataError


@pytest.fixture(scope="module")
def clean():
    return datasets.load("mocap", noise=None)


def test_default_2d_is_the_projection_of_the_3d(clean):
    seqs = datasets.sequences(clean, ["cmu09"])
    assert len(seqs) == 4 * len(clean.actions("cmu09"))
    for seq in seqs:
        proj = project_to_2d(seq.positions_3d.astype(np.float64), seq.intrinsics.astype(np.float64))
        # COCO shoulders..ankles are H36M joints 11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3.
        coco_body = [11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3]
        np.testing.assert_allclose(seq.keypoints_2d[:, 5:], proj[:, coco_body], atol=1e-5)
        assert (seq.positions_3d[..., 2] > 2).all()  # in front of the camera, metres


def test_default_noise_statistics_are_recorded():
    noisy = datasets.load("mocap", seed=0)
    stats = noisy.info["noise_stats"]
    assert 3 < stats["mean_error_px"] < 12
    assert stats["max_error_px"] > stats["mean_error_px"]
    assert 0 < stats["missing_fraction"] < 0.05
    for subject in noisy.subjects:
        for views in noisy.keypoints[subject].values():
            assert all(np.isfinite(v).all() for v in views)  # gaps were filled


def test_h36m_files_load_through_the_same_interface(tmp_path):
    rng = np.random.default_rng(0)
    cams = load_h36m_cameras()
    pos32 = rng.normal(size=(30, 32, 3)) * 0.3 + [0, 0, 1]
    formats.save_positions_3d(
        tmp_path / "data_3d_h36m.npz", {"S9": {"Walking 1": pos32}, "S2": {"Walking": pos32}}
    )
    views = [cam.project(pos32[:, list(sk.H36M32_TO_17)]) for cam in cams["S9"]]
    views[2] = np.concatenate([views[2], views[2][:3]])  # one video has 3 extra frames
    formats.save_positions_2d(
        tmp_path / "data_2d_h36m_cpn_ft_h36m_dbb.npz", {"S9": {"Walking 1": views}}, layout="h36m"
    )
    data = h36m.read(tmp_path, h36m.DEFAULT_SOURCE_2D)
    assert data.subjects == ["S9"] and data.test_subjects == ("S9",)  # S2 has no cameras: skipped
    assert all(len(v) == 30 for v in data.keypoints["S9"]["Walking 1"])  # cut to the mocap length
    seq = datasets.sequences(data, ["S9"])[0]
    np.testing.assert_allclose(
        project_to_2d(seq.positions_3d.astype(float), seq.intrinsics.astype(float)),
        seq.keypoints_2d,
        atol=1e-5,
    )


def test_h36m_short_2d_and_missing_subject_are_clear_errors(tmp_path):
    pos32 = np.ones((30, 32, 3))
    formats.save_positions_3d(tmp_path / "data_3d_h36m.npz", {"S9": {"Walking 1": pos32}})
    formats.save_positions_2d(
        tmp_path / "data_2d_h36m_cpn_ft_h36m_dbb.npz",
        {"S9": {"Walking 1": [np.ones((20, 17, 2))] * 4}},
        layout="h36m",
    )
    with pytest.raises(DataError, match="20 2D frames but 30 3D frames"):
        h36m.read(tmp_path, h36m.DEFAULT_SOURCE_2D)
    formats.save_positions_2d(
        tmp_path / "data_2d_h36m_cpn_ft_h36m_dbb.npz",
        {"S11": {"Walking 1": [np.ones((30, 17, 2))] * 4}},
        layout="h36m",
    )
    with pytest.raises(DataError, match="subject S9 .* has no 2D keypoints"):
        h36m.read(tmp_path, h36m.DEFAULT_SOURCE_2D)


def test_unknown_names_are_clear_errors(clean):
    with pytest.raises(DataError, match="unknown subject 'S7'"):
        datasets.sequences(clean, ["S7"])
    with pytest.raises(DataError, match="unknown action 'swim 1'"):
        datasets.sequences(clean, ["cmu09"], actions=["swim 1"])
    with pytest.raises(DataError, match="unknown dataset 'h37m'"):
        datasets.load("h37m")


def test_h36m_without_files_says_what_to_put_where(monkeypatch, tmp_path):
    monkeypatch.setenv("DILPOSE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="data_3d_h36m.npz"):
        datasets.load("h36m")


def test_example_views_match_the_training_input():
    noisy = datasets.load("mocap", seed=3, subjects=("cmu10",))
    action = noisy.actions("cmu10")[0]
    views = datasets.example_views(noisy, "cmu10", action)
    for c in range(4):
        seen = np.isfinite(views.detected[c]).all(-1)
        np.testing.assert_allclose(
            views.detected[c][seen], noisy.keypoints["cmu10"][action][c][seen]
        )
