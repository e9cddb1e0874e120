import json

import numpy as np
import pytest
from conftest import needs_shared

from dilpose import default_data, paths
from dilpose.errors import DataError
from dilpose.fileio import save_npz


@pytest.fixture(scope="module")
def committed():
    return default_data.load()


def test_committed_dataset_is_small_and_complete(committed):
    assert paths.DEFAULT_DATASET.stat().st_size < 5e6  # "a few MB at most"
    assert committed.subjects == ["cmu02", "cmu05", "cmu06", "cmu09", "cmu10", "cmu13", "cmu16"]
    assert len(committed.meta["clips"]) == 33
    assert committed.meta["fps"] == 50.0
    assert "mocap.cs.cmu.edu" in committed.meta["acknowledgement"]
    for subject, actions in committed.positions_3d.items():
        for action, pos in actions.items():
            assert pos.shape[1:] == (17, 3) and pos.dtype == np.float32
            assert committed.face_3d[subject][action].shape == (len(pos), 5, 3)
            assert action.split(" ")[0] in default_data.ACTIONS


def test_frames_are_resampled_to_50hz_not_dropped(committed):
    for clip in committed.meta["clips"]:
        # 120 Hz -> 50 Hz by interpolation keeps the duration: floor((F-1) * 50/120) + 1 frames.
        assert clip["frames"] == (clip["source_frames"] - 1) * 50 // 120 + 1


def test_subjects_stand_on_the_floor_inside_the_capture_volume(committed):
    from dilpose.camera import load_h36m_cameras

    cams = load_h36m_cameras()
    for subject, actions in committed.positions_3d.items():
        centre = default_data.volume_centre(cams[default_data.CAMERA_SUBJECT[subject]])
        for pos in actions.values():
            feet = pos[:, [3, 6], 2].min(1)
            assert np.median(feet) == pytest.approx(0.08, abs=0.08)  # ankles ~8 cm above the floor
            assert np.abs(pos[:, 0, :2].mean(0) - centre[:2]).max() < 1e-3
            # head above pelvis (Z up; bending clips dip)
            assert np.median(pos[:, 10, 2] - pos[:, 0, 2]) > 0.5


def test_train_and_test_subjects_are_disjoint_and_cover_all(committed):
    assert not set(default_data.TRAIN_SUBJECTS) & set(default_data.TEST_SUBJECTS)
    assert set(default_data.TRAIN_SUBJECTS) | set(default_data.TEST_SUBJECTS) == set(
        committed.subjects
    )


def test_per_frame_labels_follow_the_manifest_category(committed):
    for clip in committed.meta["clips"]:
        labels = committed.labels[clip["subject"]][clip["action"]]
        assert len(labels) == clip["frames"]
        assert set(labels) == {
            default_data.ACTIONS.index(default_data.category_of(clip["manifest_category"]))
        }


def test_category_mapping():
    assert default_data.category_of("walk + turn") == "walk"
    assert default_data.category_of("multi: squat, twist, jog") == "exercise"
    assert default_data.category_of("sport (kick)") == "sport"
    with pytest.raises(DataError, match="unknown clip category"):
        default_data.category_of("juggling")


@needs_shared
def test_rebuild_from_shared_equals_committed_file(tmp_path, committed):
    rebuilt = default_data.load(default_data.build(out_path=tmp_path / "rebuilt.npz"))
    assert rebuilt.meta == committed.meta
    for kind in ("positions_3d", "face_3d", "labels"):
        a, b = getattr(rebuilt, kind), getattr(committed, kind)
        assert a.keys() == b.keys()
        for subject in a:
            assert a[subject].keys() == b[subject].keys()
            for action in a[subject]:
                # float32 of the same float64 FK: equal to well under a micrometre.
                np.testing.assert_allclose(
                    a[subject][action], b[subject][action], atol=1e-6, rtol=0
                )


def test_unknown_subject_and_action_are_named(committed):
    with pytest.raises(DataError, match="unknown subject 'S1'"):
        committed.clip("S1", "walk 16_15")
    with pytest.raises(DataError, match="unknown action 'fly 16_15'"):
        committed.clip("cmu16", "fly 16_15")


def test_truncated_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "cmu_mocap_3d.npz"
    bad.write_bytes(paths.DEFAULT_DATASET.read_bytes()[:5000])
    with pytest.raises(DataError, match="truncated or foreign") as e:
        default_data.load(bad)
    assert str(bad) in str(e.value)


def test_missing_meta_and_bad_shapes_are_clear_errors(tmp_path):
    path = save_npz(tmp_path / "x.npz", **{"positions_3d/cmu01/walk 1": np.zeros((4, 17, 3))})
    with pytest.raises(DataError, match="missing key 'meta'"):
        default_data.load(path)
    meta = np.array(json.dumps({"fps": 50}))
    path = save_npz(
        tmp_path / "y.npz", meta=meta, **{"positions_3d/cmu01/walk 1": np.zeros((4, 16, 3))}
    )
    with pytest.raises(DataError, match=r"expected shape \(T, 17, 3\), got \(4, 16, 3\)"):
        default_data.load(path)
    nan = np.zeros((4, 17, 3))
    nan[2, 5, 1] = np.nan
    path = save_npz(tmp_path / "z.npz", meta=meta, **{"positions_3d/cmu01/walk 1": nan})
    with pytest.raises(DataError, match="NaN"):
        default_data.load(path)


def test_missing_mocap_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="MANIFEST.csv"):
        default_data.build(mocap_dir=tmp_path, out_path=tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()
