"""VideoPose3D npz formats: files written exactly as VideoPose3D's prepare_data scripts write them
(pickled dicts in 0-d object arrays) read back correctly; the save_* writers round-trip; bad files
raise DataError naming the file and the problem."""

import numpy as np
import pytest

from dilpose import formats as F
from dilpose import skeleton as sk
from dilpose.errors import DataError

# VideoPose3D's suggest_metadata() values.
META_H36M = {
    "layout_name": "h36m",
    "num_joints": 17,
    "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]],
}
META_COCO = {
    "layout_name": "coco",
    "num_joints": 17,
    "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]],
}
META_HUMANEVA = {
    "layout_name": "humaneva15",
    "num_joints": 15,
    "keypoints_symmetry": [[2, 3, 4, 8, 9, 10], [5, 6, 7, 11, 12, 13]],
}

# VideoPose3D's Human36mDataset.remove_joints list: the 32 - 15 = 17 kept are the complement.
VP3D_REMOVED = [4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24, 28, 29, 30, 31]
KEPT = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]


def write_upstream_3d(path, positions):
    np.savez_compressed(path, positions_3d=np.array(positions, dtype=object))
    return path


def write_upstream_2d(path, positions, metadata):
    np.savez_compressed(
        path,
        positions_2d=np.array(positions, dtype=object),
        metadata=np.array(metadata, dtype=object),
    )
    return path


def poses(rng, T, J, D, dtype=np.float32):
    return rng.normal(size=(T, J, D)).astype(dtype)


# ------------------------------------------------------------------------------------------- 3D


def test_kept_joint_list_is_videopose3d_complement():
    assert list(sk.H36M32_TO_17) == KEPT == sorted(set(range(32)) - set(VP3D_REMOVED))


def test_data_3d_h36m_32_joints_reduced_to_the_17_kept(tmp_path):
    T = 5
    raw = np.zeros((T, 32, 3), np.float32)
    raw[..., 0] = np.arange(32)  # x encodes the raw joint index
    raw[..., 1] = np.arange(T)[:, None]  # y encodes the frame
    raw[..., 2] = 1.5
    other = np.random.default_rng(0).normal(size=(3, 32, 3)).astype(np.float32)
    path = write_upstream_3d(
        tmp_path / "data_3d_h36m.npz",
        {"S1": {"Walking": raw, "Directions 1": other}, "S9": {"Eating": raw[:2]}},
    )
    out = F.load_positions_3d(path)
    assert sorted(out) == ["S1", "S9"] and sorted(out["S1"]) == ["Directions 1", "Walking"]
    w = out["S1"]["Walking"]
    assert w.shape == (T, 17, 3) and w.dtype == np.float64
    np.testing.assert_array_equal(w[0, :, 0], KEPT)
    np.testing.assert_array_equal(w[:, 0, 1], np.arange(T))
    np.testing.assert_array_equal(out["S1"]["Directions 1"], other[:, KEPT].astype(np.float64))
    assert out["S9"]["Eating"].shape == (2, 17, 3)


def test_data_3d_h36m_already_17_joints_kept_as_is(tmp_path):
    arr = poses(np.random.default_rng(1), 4, 17, 3)
    out = F.load_positions_3d(write_upstream_3d(tmp_path / "d.npz", {"S1": {"Walk": arr}}))
    np.testing.assert_array_equal(out["S1"]["Walk"], arr.astype(np.float64))


def test_data_3d_humaneva15_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    data = {
        "Train/S1": {"Walk 1": poses(rng, 6, 15, 3)},
        "Validate/S2": {"Jog 1": poses(rng, 3, 15, 3)},
    }
    out = F.load_positions_3d(
        write_upstream_3d(tmp_path / "data_3d_humaneva15.npz", data), layout="humaneva15"
    )
    assert sorted(out) == ["Train/S1", "Validate/S2"]
    for s in data:
        for a in data[s]:
            np.testing.assert_array_equal(out[s][a], data[s][a].astype(np.float64))


def test_3d_wrong_joint_count_for_layout_raises(tmp_path):
    rng = np.random.default_rng(3)
    path = write_upstream_3d(tmp_path / "d.npz", {"S1": {"Walk": poses(rng, 4, 20, 3)}})
    with pytest.raises(DataError, match=r"positions_3d\['S1'\]\['Walk'\].*\(4, 20, 3\)") as e:
        F.load_positions_3d(path)
    assert str(path) in str(e.value)
    path = write_upstream_3d(tmp_path / "he.npz", {"Train/S1": {"Walk 1": poses(rng, 4, 17, 3)}})
    with pytest.raises(DataError, match="humaneva15") as e:
        F.load_positions_3d(path, layout="humaneva15")
    assert str(path) in str(e.value)


def test_3d_nan_raises_naming_frame(tmp_path):
    arr = poses(np.random.default_rng(4), 8, 32, 3)
    arr[5, 7, 1] = np.nan
    path = write_upstream_3d(tmp_path / "d.npz", {"S1": {"Walk": arr}})
    with pytest.raises(DataError, match="NaN.*frame 5") as e:
        F.load_positions_3d(path)
    assert str(path) in str(e.value)


def test_3d_missing_key_raises(tmp_path):
    path = tmp_path / "d.npz"
    np.savez_compressed(path, positions=np.zeros((2, 17, 3)))
    with pytest.raises(DataError, match="missing key 'positions_3d'") as e:
        F.load_positions_3d(path)
    assert str(path) in str(e.value)


def test_save_positions_3d_round_trip_and_upstream_readable(tmp_path):
    rng = np.random.default_rng(5)
    data = {
        "S1": {"Walking": rng.normal(size=(4, 17, 3))},
        "S5": {"Sitting 1": rng.normal(size=(2, 17, 3))},
    }
    path = F.save_positions_3d(tmp_path / "data_3d_mine.npz", data)
    assert path == tmp_path / "data_3d_mine.npz"
    out = F.load_positions_3d(path)
    for s in data:
        for a in data[s]:
            np.testing.assert_array_equal(out[s][a], data[s][a])
    # VideoPose3D reads it with np.load(...)['positions_3d'].item()
    upstream = np.load(path, allow_pickle=True)["positions_3d"].item()
    np.testing.assert_array_equal(upstream["S1"]["Walking"], data["S1"]["Walking"])


# ------------------------------------------------------------------------------------------- 2D


def test_data_2d_h36m_round_trip_four_cameras(tmp_path):
    rng = np.random.default_rng(6)
    data = {
        "S1": {"Walking": [poses(rng, 5, 17, 2) * 500 for _ in range(4)]},
        "S11": {"Eating 2": [poses(rng, 3, 17, 2) for _ in range(4)]},
    }
    path = write_upstream_2d(tmp_path / "data_2d_h36m_gt.npz", data, META_H36M)
    kps, meta = F.load_positions_2d(path, expect_layout="h36m17")
    assert sorted(kps) == ["S1", "S11"]
    assert len(kps["S1"]["Walking"]) == 4
    for c in range(4):
        np.testing.assert_array_equal(
            kps["S1"]["Walking"][c], data["S1"]["Walking"][c].astype(np.float64)
        )
        np.testing.assert_array_equal(
            kps["S11"]["Eating 2"][c], data["S11"]["Eating 2"][c].astype(np.float64)
        )
    assert meta["layout_name"] == "h36m" and meta["num_joints"] == 17
    assert [list(x) for x in meta["keypoints_symmetry"]] == META_H36M["keypoints_symmetry"]
    assert meta["had_scores"] is False


def test_data_2d_h36m_cpn_file_as_the_generic_script_writes_it(tmp_path):
    """prepare_data_2d_h36m_generic.py takes its metadata from suggest_metadata('cpn_ft_h36m_dbb'),
    which matches 'h36m' in the name: the CPN file is in the H36M-17 layout."""
    rng = np.random.default_rng(7)
    data = {"S9": {"Photo": [poses(rng, 4, 17, 2) for _ in range(4)]}}
    path = write_upstream_2d(tmp_path / "data_2d_h36m_cpn_ft_h36m_dbb.npz", data, META_H36M)
    kps, meta = F.load_positions_2d(path, expect_layout="h36m17")
    assert meta["layout_name"] == "h36m" and meta["layout_inferred"] is False
    np.testing.assert_array_equal(kps["S9"]["Photo"][3], data["S9"]["Photo"][3].astype(np.float64))


def test_data_2d_h36m_detectron_coco_file(tmp_path):
    rng = np.random.default_rng(7)
    data = {"S9": {"Photo": [poses(rng, 4, 17, 2) for _ in range(4)]}}
    path = write_upstream_2d(tmp_path / "data_2d_h36m_detectron_pt_coco.npz", data, META_COCO)
    assert F.load_positions_2d(path, expect_layout="coco17")[1]["layout_name"] == "coco"


def test_data_2d_h36m_gt_as_prepare_data_h36m_writes_it(tmp_path):
    """prepare_data_h36m.py writes metadata with num_joints and keypoints_symmetry only
    (no layout_name), float32 arrays, one per camera, from Human36mDataset's skeleton after
    remove_joints."""
    rng = np.random.default_rng(11)
    data = {"S1": {"Walking": [poses(rng, 5, 17, 2) * 500 for _ in range(4)]}}
    metadata = {
        "num_joints": 17,
        "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]],
    }
    path = tmp_path / "data_2d_h36m_gt.npz"
    # the script passes the dicts as they are
    np.savez_compressed(path, positions_2d=data, metadata=metadata)
    kps, meta = F.load_positions_2d(path, expect_layout="h36m17")
    assert meta["layout_name"] == "h36m17" and meta["layout_inferred"] is True
    np.testing.assert_array_equal(kps["S1"]["Walking"][2], data["S1"]["Walking"][2])


@pytest.mark.parametrize("name", ["data_2d_h36m_sh_pt_mpii", "data_2d_h36m_sh_ft_h36m"])
def test_data_2d_h36m_stacked_hourglass_files(tmp_path, name):
    """prepare_data_2d_h36m_sh.py: 16 MPII joints, no layout_name, a None for every camera it
    lacks."""
    rng = np.random.default_rng(12)
    metadata = {
        "num_joints": 16,
        "keypoints_symmetry": [[3, 4, 5, 13, 14, 15], [0, 1, 2, 10, 11, 12]],
    }
    data = {"S1": {"Walking": [poses(rng, 5, 16, 2) for _ in range(4)]}}
    path = tmp_path / f"{name}.npz"
    np.savez_compressed(path, positions_2d=data, metadata=metadata)
    kps, meta = F.load_positions_2d(path)
    assert meta["layout_name"] == "mpii16" and sk.get(meta["layout_name"]).num_joints == 16
    np.testing.assert_array_equal(kps["S1"]["Walking"][1], data["S1"]["Walking"][1])
    # The converter starts each action with [None] * 4: a missing camera is named, not "got ()".
    data["S1"]["Walking"][2] = None
    np.savez_compressed(path, positions_2d=data, metadata=metadata)
    raises_naming(
        path,
        F.load_positions_2d,
        "['S1']['Walking'][camera 2]: no keypoints for this camera (found None",
    )


def test_layout_inferred_from_counts_must_agree_with_the_file_name(tmp_path):
    metadata = {"num_joints": 17, "keypoints_symmetry": META_H36M["keypoints_symmetry"]}
    path = tmp_path / "data_2d_h36m_detectron_pt_coco.npz"
    np.savez_compressed(path, positions_2d={"S1": {"W": [np.zeros((2, 17, 2))]}}, metadata=metadata)
    raises_naming(path, F.load_positions_2d, "suggests 'coco17'", "'h36m17'")
    metadata = {"num_joints": 17, "keypoints_symmetry": [[0, 1], [2, 3]]}
    path = tmp_path / "data_2d_h36m_gt.npz"
    np.savez_compressed(path, positions_2d={"S1": {"W": [np.zeros((2, 17, 2))]}}, metadata=metadata)
    raises_naming(path, F.load_positions_2d, "no 'layout_name'", "no known layout has 17 joints")


def test_2d_scores_are_dropped_and_reported(tmp_path):
    rng = np.random.default_rng(8)
    with_scores = poses(rng, 4, 17, 3)
    path = write_upstream_2d(tmp_path / "d.npz", {"S1": {"Walk": [with_scores]}}, META_COCO)
    kps, meta = F.load_positions_2d(path)
    assert meta["had_scores"] is True
    np.testing.assert_array_equal(kps["S1"]["Walk"][0], with_scores[..., :2].astype(np.float64))


def test_data_2d_humaneva15_round_trip(tmp_path):
    rng = np.random.default_rng(9)
    data = {
        "Train/S1": {"Walk 1 chunk0": [poses(rng, 6, 15, 2) for _ in range(3)]},
        "Validate/S3": {"Box 1 chunk2": [poses(rng, 2, 15, 2) for _ in range(3)]},
    }
    path = write_upstream_2d(tmp_path / "data_2d_humaneva15_gt.npz", data, META_HUMANEVA)
    kps, meta = F.load_positions_2d(path, expect_layout="humaneva15")
    assert sorted(kps) == ["Train/S1", "Validate/S3"] and meta["num_joints"] == 15
    for s in data:
        for a in data[s]:
            assert len(kps[s][a]) == 3
            for c in range(3):
                np.testing.assert_array_equal(kps[s][a][c], data[s][a][c].astype(np.float64))


def test_data_2d_custom_round_trip(tmp_path):
    rng = np.random.default_rng(10)
    a, b = poses(rng, 7, 17, 2) * 300, poses(rng, 3, 17, 2)
    data = {"clip_a.mp4": {"custom": [a]}, "clip_b.mp4": {"custom": [b]}}
    meta = dict(
        META_COCO,
        video_metadata={"clip_a.mp4": {"w": 1920, "h": 1080}, "clip_b.mp4": {"w": 640, "h": 480}},
    )
    path = write_upstream_2d(tmp_path / "data_2d_custom_myvideos.npz", data, meta)
    out = F.load_custom_2d(path)
    assert sorted(out) == ["clip_a.mp4", "clip_b.mp4"]
    np.testing.assert_array_equal(out["clip_a.mp4"]["keypoints"], a.astype(np.float64))
    assert (out["clip_a.mp4"]["w"], out["clip_a.mp4"]["h"]) == (1920, 1080)
    np.testing.assert_array_equal(out["clip_b.mp4"]["keypoints"], b.astype(np.float64))
    assert (out["clip_b.mp4"]["w"], out["clip_b.mp4"]["h"]) == (640, 480)


@pytest.mark.parametrize("layout,J,cams", [("h36m", 17, 4), ("coco", 17, 1), ("humaneva15", 15, 3)])
def test_save_positions_2d_round_trip(tmp_path, layout, J, cams):
    rng = np.random.default_rng(J + cams)
    data = {"S1": {"Walk": [rng.normal(size=(4, J, 2)) for _ in range(cams)]}}
    path = F.save_positions_2d(tmp_path / f"data_2d_{layout}_mine.npz", data, layout=layout)
    kps, meta = F.load_positions_2d(path, expect_layout=layout)
    assert meta["layout_name"] == layout and meta["num_joints"] == J
    skel = sk.get(layout)
    assert [list(x) for x in meta["keypoints_symmetry"]] == [
        list(skel.joints_left),
        list(skel.joints_right),
    ]
    for c in range(cams):
        np.testing.assert_array_equal(kps["S1"]["Walk"][c], data["S1"]["Walk"][c])


def test_save_positions_2d_custom_round_trip(tmp_path):
    kp = np.random.default_rng(11).normal(size=(5, 17, 2))
    path = F.save_positions_2d(
        tmp_path / "data_2d_custom_x.npz",
        {"v": {"custom": [kp]}},
        layout="coco",
        video_metadata={"v": {"w": 1280, "h": 720}},
    )
    out = F.load_custom_2d(path)
    np.testing.assert_array_equal(out["v"]["keypoints"], kp)
    assert (out["v"]["w"], out["v"]["h"]) == (1280, 720)


# ------------------------------------------------------------------------------------ bad inputs


@pytest.fixture
def good_2d(tmp_path):
    rng = np.random.default_rng(12)
    return write_upstream_2d(
        tmp_path / "good.npz",
        {"S1": {"Walk": [poses(rng, 50, 17, 2) for _ in range(4)]}},
        META_H36M,
    )


def raises_naming(path, fn, *words):
    with pytest.raises(DataError) as e:
        fn(path)
    msg = str(e.value)
    assert str(path) in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def test_truncated_npz_raises(good_2d, tmp_path):
    raw = good_2d.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(raw[: len(raw) // 2])
    raises_naming(cut, F.load_positions_2d, "truncated")
    raises_naming(cut, F.load_positions_3d, "truncated")


def test_foreign_text_file_raises(tmp_path):
    path = tmp_path / "data_2d_h36m_gt.npz"
    path.write_bytes(b"this is a text file, not an npz archive\n" * 10)
    raises_naming(path, F.load_positions_2d, "npz")
    raises_naming(path, F.load_positions_3d, "npz")


def test_foreign_npy_and_pickle_files_raise(tmp_path):
    npy = tmp_path / "a.npz"
    with open(npy, "wb") as f:
        np.save(f, np.zeros(3))
    raises_naming(npy, F.load_positions_2d, "npz")
    import pickle

    pkl = tmp_path / "b.npz"
    pkl.write_bytes(pickle.dumps({"positions_2d": 1}))
    raises_naming(pkl, F.load_positions_2d, "npz")


def test_empty_file_raises(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    raises_naming(path, F.load_positions_2d)


def test_missing_file_raises(tmp_path):
    raises_naming(tmp_path / "nope.npz", F.load_positions_2d, "not found")
    raises_naming(tmp_path / "nope.npz", F.load_positions_3d, "not found")
    raises_naming(tmp_path / "nope.npz", F.load_custom_2d, "not found")


def test_missing_metadata_key_raises(tmp_path):
    path = tmp_path / "d.npz"
    np.savez_compressed(
        path, positions_2d=np.array({"S1": {"W": [np.zeros((2, 17, 2))]}}, dtype=object)
    )
    raises_naming(path, F.load_positions_2d, "missing key 'metadata'")


def test_missing_positions_2d_key_raises(tmp_path):
    path = tmp_path / "d.npz"
    np.savez_compressed(path, metadata=np.array(META_H36M, dtype=object))
    raises_naming(path, F.load_positions_2d, "missing key 'positions_2d'")


@pytest.mark.parametrize("drop", ["num_joints", "keypoints_symmetry"])
def test_metadata_missing_field_raises(tmp_path, drop):
    meta = {k: v for k, v in META_H36M.items() if k != drop}
    path = write_upstream_2d(tmp_path / "d.npz", {"S1": {"W": [np.zeros((2, 17, 2))]}}, meta)
    raises_naming(path, F.load_positions_2d, f"metadata is missing {drop!r}")


def test_positions_not_a_dict_raises(tmp_path):
    path = tmp_path / "d.npz"
    np.savez_compressed(
        path, positions_2d=np.zeros((2, 17, 2)), metadata=np.array(META_H36M, dtype=object)
    )
    raises_naming(path, F.load_positions_2d, "'positions_2d' should hold a dict")


def test_2d_wrong_joint_count_raises(tmp_path):
    path = write_upstream_2d(
        tmp_path / "d.npz",
        {"S1": {"Walk": [np.zeros((2, 17, 2)), np.zeros((2, 16, 2))]}},
        META_H36M,
    )
    raises_naming(path, F.load_positions_2d, "camera 1", "(2, 16, 2)", "(T, 17, 2)")


def test_2d_nan_keypoints_raise_naming_nan_and_frame(tmp_path):
    kp = np.zeros((10, 17, 2))
    kp[6, 3, 0] = np.nan
    kp[8, 0, 1] = np.nan
    path = write_upstream_2d(
        tmp_path / "d.npz", {"S1": {"Walk": [np.zeros((10, 17, 2)), kp]}}, META_H36M
    )
    msg = raises_naming(path, F.load_positions_2d, "NaN", "frame 6", "camera 1", "2 frame(s)")
    assert "'S1'" in msg and "'Walk'" in msg


def test_2d_inf_keypoints_raise(tmp_path):
    kp = np.zeros((4, 17, 2))
    kp[2, 1, 1] = np.inf
    path = write_upstream_2d(tmp_path / "d.npz", {"S1": {"Walk": [kp]}}, META_H36M)
    raises_naming(path, F.load_positions_2d, "frame 2")


def test_metadata_num_joints_inconsistent_with_layout_raises(tmp_path):
    meta = dict(META_H36M, num_joints=15)
    path = write_upstream_2d(tmp_path / "d.npz", {"S1": {"W": [np.zeros((2, 15, 2))]}}, meta)
    raises_naming(path, F.load_positions_2d, "'h36m' with 15 joints", "17")


def test_metadata_num_joints_inconsistent_with_arrays_raises(tmp_path):
    meta = {"layout_name": "my_layout", "num_joints": 12, "keypoints_symmetry": [[1], [2]]}
    path = write_upstream_2d(tmp_path / "d.npz", {"S1": {"W": [np.zeros((2, 17, 2))]}}, meta)
    raises_naming(path, F.load_positions_2d, "(T, 12, 2)")


def test_keypoints_symmetry_unpaired_raises(tmp_path):
    meta = dict(META_H36M, keypoints_symmetry=[[4, 5, 6], [1, 2]])
    path = write_upstream_2d(tmp_path / "d.npz", {"S1": {"W": [np.zeros((2, 17, 2))]}}, meta)
    raises_naming(path, F.load_positions_2d, "keypoints_symmetry")


def test_expected_layout_mismatch_raises(good_2d):
    raises_naming(
        good_2d,
        lambda p: F.load_positions_2d(p, expect_layout="humaneva15"),
        "expected 'humaneva15'",
    )


def test_unknown_layout_with_expected_layout_raises_naming_the_file(tmp_path):
    meta = dict(META_COCO, layout_name="openpose25")
    path = write_upstream_2d(tmp_path / "d.npz", {"S1": {"W": [np.zeros((2, 17, 2))]}}, meta)
    raises_naming(
        path,
        lambda p: F.load_positions_2d(p, expect_layout="coco"),
        "unknown joint layout 'openpose25'",
    )


def test_empty_positions_raise(tmp_path):
    path = write_upstream_2d(tmp_path / "d.npz", {}, META_H36M)
    raises_naming(path, F.load_positions_2d, "empty")
    path3 = write_upstream_3d(tmp_path / "d3.npz", {})
    raises_naming(path3, F.load_positions_3d, "empty")


def test_custom_file_without_video_metadata_raises(tmp_path):
    path = write_upstream_2d(
        tmp_path / "data_2d_custom_x.npz", {"v.mp4": {"custom": [np.zeros((2, 17, 2))]}}, META_COCO
    )
    raises_naming(path, F.load_custom_2d, "video_metadata")


def test_custom_file_video_without_resolution_raises(tmp_path):
    meta = dict(META_COCO, video_metadata={"v.mp4": {"w": 100}})
    path = write_upstream_2d(
        tmp_path / "data_2d_custom_x.npz", {"v.mp4": {"custom": [np.zeros((2, 17, 2))]}}, meta
    )
    raises_naming(path, F.load_custom_2d, "'v.mp4'", "resolution")


def test_custom_file_without_custom_entry_raises(tmp_path):
    meta = dict(META_COCO, video_metadata={"v.mp4": {"w": 100, "h": 100}})
    path = write_upstream_2d(
        tmp_path / "data_2d_custom_x.npz", {"v.mp4": {"Walk": [np.zeros((2, 17, 2))]}}, meta
    )
    raises_naming(path, F.load_custom_2d, "'custom'")


def test_clips_of_zero_frames_are_refused(tmp_path):
    path3 = write_upstream_3d(
        tmp_path / "d3.npz", {"S1": {"Walk": np.zeros((0, 32, 3), np.float32)}}
    )
    raises_naming(path3, F.load_positions_3d, "positions_3d['S1']['Walk']: has 0 frames")
    path2 = write_upstream_2d(
        tmp_path / "d2.npz", {"S1": {"Walk": [np.zeros((0, 17, 2), np.float32)]}}, META_H36M
    )
    raises_naming(path2, F.load_positions_2d, "[camera 0]: has 0 frames")


@pytest.mark.parametrize("w", [0, -1920, "1920", float("nan"), None, True])
def test_custom_file_resolution_must_be_a_positive_number(tmp_path, w):
    meta = dict(META_COCO, video_metadata={"v.mp4": {"w": w, "h": 1080}})
    path = write_upstream_2d(
        tmp_path / "data_2d_custom_x.npz", {"v.mp4": {"custom": [np.zeros((2, 17, 2))]}}, meta
    )
    raises_naming(
        path, F.load_custom_2d, "'v.mp4'", "width 'w' should be a positive number of pixels"
    )


def test_custom_file_resolution_numpy_scalars_are_accepted(tmp_path):
    meta = dict(META_COCO, video_metadata={"v.mp4": {"w": np.int64(1920), "h": np.float32(1080)}})
    path = write_upstream_2d(
        tmp_path / "data_2d_custom_x.npz", {"v.mp4": {"custom": [np.zeros((2, 17, 2))]}}, meta
    )
    v = F.load_custom_2d(path)["v.mp4"]
    assert (v["w"], v["h"], v["layout"]) == (1920.0, 1080.0, "coco")
