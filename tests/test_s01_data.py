"""Notebook 01's walk-through of one clip: the committed BVH example frame rebuilds the committed
data, each step's helper does what its docstring says, and bad input is a clear DataError."""

import json
import re

import matplotlib

matplotlib.use("Agg")  # the figures are checked, never shown

import numpy as np
import pytest

from dilpose import bvh, kinematics, paths, viz, viz_scene
from dilpose import skeleton as sk
from dilpose.camera import Camera, load_h36m_cameras
from dilpose.datasets import PoseData, mocap, mocap_files, mocap_import
from dilpose.errors import DataError
from dilpose.studies import s01_data as study


@pytest.fixture(scope="module")
def committed():
    return mocap_files.load()


@pytest.fixture(scope="module")
def example():
    return mocap_files.load_bvh_example()


@pytest.fixture(scope="module")
def data():
    """The embedded data of the test subject whose clip the walk-through follows (fast to load)."""
    return mocap.load(seed=0, subjects=("hdm_mm",))


@pytest.fixture(scope="module")
def walk(data):
    return study.bvh_walkthrough(data)


# ------------------------------------------------------------------------ the committed example


def _rebuild(example: dict) -> tuple[np.ndarray, np.ndarray]:
    """The importer's steps on the example frame, written out here: FK, H36M-17 and face points,
    Y-up -> Z-up, placed by the clip's mean pelvis. Returns (17, 3) and (5, 3) world metres."""
    motion = mocap_files.example_motion(example)
    joints, rotations = kinematics.forward_kinematics(motion, example["unit_to_m"])
    h36m = kinematics.cmu_to_h36m17(joints, motion.joint_names)[0]
    face = kinematics.cmu_face_points(joints, rotations, motion.joint_names)[0]
    y_up_to_z_up = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
    centre = mocap_import.volume_centre(load_h36m_cameras()[example["camera_subject"]])
    shift = np.array([*(centre[:2] - example["pelvis_mean_xy_m"]), 0.0])
    return h36m @ y_up_to_z_up.T + shift, face @ y_up_to_z_up.T + shift


def test_example_frame_rebuilds_the_committed_positions_within_a_millimetre(committed, example):
    h36m, face = _rebuild(example)
    subject, action, frame = example["subject"], example["action"], example["frame"]
    stored = committed.positions_3d[subject][action][frame]
    stored_face = committed.face_3d[subject][action][frame]
    assert np.linalg.norm(h36m - stored, axis=-1).max() < 1e-3
    assert np.linalg.norm(face - stored_face, axis=-1).max() < 1e-3


def test_a_changed_channel_value_no_longer_rebuilds_the_committed_frame(committed, example):
    changed = json.loads(json.dumps(example))
    knee = next(j for j in changed["joints"] if j["name"] == "RightLeg")
    knee["values"][2] += 10.0  # bend the right knee by 10 degrees more
    h36m, _ = _rebuild(changed)
    stored = committed.positions_3d[example["subject"]][example["action"]][example["frame"]]
    moved = np.linalg.norm(h36m - stored, axis=-1)
    assert moved[sk.H36M17.index("r_foot")] > 0.03  # the ankle swings by centimetres
    assert moved[sk.H36M17.index("l_foot")] < 1e-3  # the other leg stays


def test_example_is_the_notebooks_clip_and_frame_with_its_source_and_terms(committed, example):
    lengths = {
        s: {a: len(p) for a, p in acts.items()} for s, acts in committed.positions_3d.items()
    }
    assert (example["subject"], example["action"]) == mocap_import.example_clip(
        lengths, committed.test_subjects
    )
    assert example["frame"] == study.EXAMPLE_FRAME == mocap_import.EXAMPLE_FRAME
    assert example["source_frame"] == example["frame"] * 120 // 50  # on a 120 Hz frame exactly
    clip = next(
        c
        for c in committed.meta["clips"]
        if (c["subject"], c["action"]) == (example["subject"], example["action"])
    )
    assert example["bvh_sha256"] == clip["bvh_sha256"]
    assert example["source_frames"] == clip["source_frames"]
    assert example["camera_subject"] == committed.meta["camera_subject"][example["subject"]]
    assert example["credit"] == mocap_files.FILES[clip["source"]]["credit"]
    assert example["licence"] == mocap_files.FILES[clip["source"]]["licence"]


def test_example_motion_is_one_frame_of_the_whole_hierarchy(example):
    motion = mocap_files.example_motion(example)
    assert motion.motion.shape == (1, sum(len(j["channels"]) for j in example["joints"]))
    assert motion.fps == 120.0
    assert set(kinematics.CMU_TO_H36M) <= set(motion.joint_names)
    assert motion.motion[0, :3].tolist() == example["joints"][0]["values"][:3]  # root position


# ------------------------------------------------- writing, reading and refusing the example file


def _tiny_bvh(tmp_path, frames: int = 13):
    from test_bvh import cmu_like_bvh

    path = tmp_path / "clip.bvh"
    text = cmu_like_bvh(frames).splitlines()
    first = text.index(f"Frames: {frames}") + 2
    for k in range(frames):  # the root walks along x: frame k is at x = k file units
        values = text[first + k].split()
        values[0] = str(k)
        text[first + k] = " ".join(values)
    path.write_text("\n".join(text) + "\n")
    return path


_CLIP = {
    "subject": "cmu99",
    "action": "walk 99_01",
    "source": "cmu",
    "bvh_sha256": "0" * 64,
    "camera_subject": "S1",
}


def test_bvh_example_keeps_the_source_frame_and_round_trips(tmp_path):
    path = _tiny_bvh(tmp_path)
    made = mocap_import.bvh_example(
        path, _CLIP, np.array([0.5, -0.25]), frame=5, relative_to=tmp_path
    )
    assert made["source_frame"] == 12 and made["file"] == "clip.bvh"
    assert made["joints"][0]["values"][0] == 12.0  # the root's x on source frame 12
    written = mocap_import.write_bvh_example(made, tmp_path)
    assert written.name == paths.BVH_EXAMPLE.name
    loaded = mocap_files.load_bvh_example(written)
    assert {k: v for k, v in loaded.items() if k != "path"} == made
    motion = mocap_files.example_motion(loaded)
    full = bvh.parse_bvh(path)
    np.testing.assert_array_equal(
        kinematics.forward_kinematics(motion)[0][0], kinematics.forward_kinematics(full)[0][12]
    )


def test_bvh_example_refuses_a_frame_between_source_frames(tmp_path):
    path = _tiny_bvh(tmp_path)
    with pytest.raises(DataError, match=r"clip.bvh: frame 3 at 50 Hz is not one of the 13 frames"):
        mocap_import.bvh_example(path, _CLIP, np.zeros(2), frame=3)  # 7.2 source frames
    with pytest.raises(DataError, match="frame 10 at 50 Hz is not one of"):
        mocap_import.bvh_example(path, _CLIP, np.zeros(2), frame=10)  # beyond the file


def _broken(example: dict, change) -> dict:
    copy = json.loads(json.dumps({k: v for k, v in example.items() if k != "path"}))
    change(copy)
    return copy


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda e: e.pop("joints"), "a JSON object with the fields"),
        (lambda e: e.update(frame_time=0), "'frame_time' must be a positive number"),
        (lambda e: e.update(pelvis_mean_xy_m=[1.0]), "'pelvis_mean_xy_m' must be 2 finite"),
        (lambda e: e.update(joints=[]), "'joints' must be a non-empty list"),
        (lambda e: e["joints"][3].update(parent=7), "joint 3 ('LeftLeg'): parent 7 must be an"),
        (lambda e: e["joints"][0].update(parent=0), "joint 0 ('Hips'): parent 0"),
        (lambda e: e["joints"][2].update(offset=[1, 2]), "joint 2 ('LeftUpLeg'): 'offset' must"),
        (lambda e: e["joints"][2]["channels"].__setitem__(0, "Wrotation"), "unknown channel"),
        (lambda e: e["joints"][2]["values"].pop(), "'values' must be 3 finite numbers"),
        (lambda e: e["joints"][2].update(name="LeftLeg"), "duplicate joint name"),
        (lambda e: e["joints"][4].pop("values"), "joint 4: needs name, parent, offset"),
    ],
)
def test_a_broken_example_file_is_a_data_error_naming_it(tmp_path, example, change, words):
    path = tmp_path / "bvh_example.json"
    path.write_text(json.dumps(_broken(example, change)))
    with pytest.raises(DataError, match=re.escape(words)) as info:
        mocap_files.load_bvh_example(path)
    assert info.value.source == str(path)


def test_a_missing_or_unparsable_example_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="BVH example not found"):
        mocap_files.load_bvh_example(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text('{"joints": [')
    with pytest.raises(DataError, match="bad.json: not valid JSON"):
        mocap_files.load_bvh_example(tmp_path / "bad.json")
    (tmp_path / "nan.json").write_text('{"joints": [], "frame_time": NaN}')
    with pytest.raises(DataError, match="nan.json"):
        mocap_files.load_bvh_example(tmp_path / "nan.json")


# ------------------------------------------------------------------- the importer's small steps


def test_example_clip_is_the_nearest_length_first_in_sorted_order_on_a_tie():
    lengths = {"b": {"x 1": 290, "x 2": 500}, "a": {"y 1": 310, "y 0": 100}, "c": {"z": 300}}
    assert mocap_import.example_clip(lengths, ["b", "a"]) == ("a", "y 1")  # 310 and 290 tie
    assert mocap_import.example_clip(lengths, ["a", "b", "c"]) == ("c", "z")
    assert mocap_import.example_clip(lengths, ["b"], frames=450) == ("b", "x 2")
    with pytest.raises(DataError, match="no clips for the subjects"):
        mocap_import.example_clip(lengths, ["d"])


def test_to_world_turns_bvh_up_into_z_and_the_rest_pose_faces_minus_y():
    np.testing.assert_array_equal(mocap_import.to_world([0.0, 1.0, 0.0]), [0, 0, 1])
    np.testing.assert_array_equal(mocap_import.to_world([0.0, 0.0, 1.0]), [0, -1, 0])
    np.testing.assert_array_equal(mocap_import.to_world([[2.0, 0, 0]]), [[2, 0, 0]])


def test_placement_shift_moves_the_mean_pelvis_onto_the_centre_and_keeps_the_floor():
    shift = mocap_import.placement_shift(np.array([1.0, -2.0]), np.array([0.5, 0.25, 1.7]))
    np.testing.assert_allclose(shift, [-0.5, 2.25, 0.0])


# ---------------------------------------------------------------------- the notebook's helpers


def test_walkthrough_redoes_the_importer_on_the_notebooks_clip(data, walk):
    assert (walk["subject"], walk["action"]) == study.example_clip(data)
    assert walk["frame"] == study.EXAMPLE_FRAME
    assert walk["joints_bvh"].shape == (len(walk["motion"].joint_names), 3)
    assert walk["error_mm"] < 0.5  # within the files' 0.5 mm storage step
    np.testing.assert_allclose(walk["placed"], walk["committed"], atol=1e-3)
    np.testing.assert_allclose(walk["placed"][0, :2] - walk["shift"][:2], walk["h36m_world"][0, :2])
    # the axes all pass near the centre, and the shift brings the clip's mean pelvis onto it
    assert walk["axis_miss_m"].shape == (4,) and walk["axis_miss_m"].max() < 1.0
    np.testing.assert_allclose(walk["pelvis_track"].mean(0), walk["centre"][:2], atol=1e-3)
    np.testing.assert_allclose(walk["pelvis_before"].mean(0), walk["pelvis_mean_xy"], atol=1e-3)


def test_walkthrough_is_none_without_a_bvh_source(data):
    other = PoseData(
        "h36m", sk.H36M17, data.positions_3d, data.keypoints, data.scores, data.cameras, (), ()
    )
    assert study.bvh_walkthrough(other) is None
    assert "no BVH source" in study.no_bvh_note(other) and "h36m" in study.no_bvh_note(other)
    no_clip = mocap.load(seed=0, subjects=("cmu01",))
    assert study.bvh_walkthrough(no_clip) is None


def test_walkthrough_refuses_an_example_filmed_by_other_cameras(tmp_path, data, example):
    path = tmp_path / "bvh_example.json"
    path.write_text(json.dumps(_broken(example, lambda e: e.update(camera_subject="S5"))))
    with pytest.raises(DataError, match="filmed by S5's cameras here but by S11's"):
        study.bvh_walkthrough(data, path)


def test_bvh_summary_and_joint_table_describe_the_frame(walk):
    text = study.bvh_summary(walk)
    assert "38 joints (31 with channels, 7 end sites), 96 channel values" in text
    assert "Hips: Xposition Yposition Zposition Zrotation Yrotation Xrotation" in text
    table = study.bvh_joint_table(walk)
    assert len(table) == 38 and table.loc[0, "parent"] == "-"
    leg = table.index[table["joint"] == "LeftLeg"][0]
    offset = next(j["offset"] for j in walk["example"]["joints"] if j["name"] == "LeftLeg")
    np.testing.assert_allclose(table.loc[leg, "offset_mm"], np.array(offset) * 56.444, atol=0.05)
    assert table.loc[leg, "channels"].startswith("Zrot=")
    assert table.loc[table["joint"] == "Head_end", "channels"].item() == ""  # an End Site


def test_mapping_table_says_where_every_joint_comes_from():
    table = study.mapping_table()
    assert len(table) == 17
    assert table.loc[10, "H36M-17"] == "head" and table.loc[10, "from BVH"] == "Head_end"
    assert (
        table.loc[15, "COCO-17"] == "l_ankle"
        and table.loc[15, "from"] == "H36M 6 l_foot (LeftFoot)"
    )
    assert table.loc[0, "from"] == "face: Head + h(-0.55 up, +1.05 fwd, +0.00 left)"
    assert sum(f.startswith("face:") for f in table["from"]) == 5


def test_placement_summary_prints_the_centre_shift_and_the_check(walk):
    text = study.placement_summary(walk)
    assert f"x {walk['centre'][0]:.3f}" in text
    assert f"shift applied to every frame: x {walk['shift'][0]:+.3f}" in text
    assert f"largest distance {walk['error_mm']:.2f} mm" in text


def _camera(**distortion) -> Camera:
    return Camera("test", 1000, 1000, (1150.0, 1150.0), (500.0, 500.0), **distortion)


def test_distort_pixels_agrees_with_the_camera_projection(data):
    cam = data.cameras["hdm_mm"][2]
    pose = data.positions_3d["hdm_mm"]["floor lieDownFloor_015"][10]
    np.testing.assert_allclose(
        study.distort_pixels(cam, cam.project_linear(pose)), cam.project(pose)
    )
    ideal = _camera()
    corners = np.array([[0.0, 0.0], [1000.0, 1000.0]])
    np.testing.assert_allclose(study.distort_pixels(ideal, corners), corners, atol=1e-9)
    barrel = _camera(radial_distortion=(-0.2, 0.0, 0.0))
    moved = study.distort_pixels(barrel, corners)
    assert np.all(np.abs(moved - 500) < np.abs(corners - 500))  # pulled towards the centre


def test_projection_step_measures_what_the_distortion_moves(data):
    step = study.projection_step(data, "hdm_mm", "floor lieDownFloor_015", 10, camera=2)
    assert step["layout"] is sk.COCO17 and step["pinhole"].shape == (17, 2)
    np.testing.assert_allclose(
        step["shift_px"], np.linalg.norm(step["distorted"] - step["pinhole"], axis=-1)
    )
    assert 0 < step["shift_px"].max() < 10
    grid, moved = step["field"]
    assert grid.shape == moved.shape == (81, 2)
    centre = np.argmin(np.linalg.norm(grid - step["camera"].center, axis=-1))
    assert (
        np.linalg.norm(moved - grid, axis=-1)[centre] < np.linalg.norm(moved - grid, axis=-1).max()
    )


def test_distortion_table_is_small_on_the_person_and_large_at_the_corners(data):
    table = study.distortion_table(data, "hdm_mm", "floor lieDownFloor_015", 10)
    assert len(table) == 4
    assert (table["frame_max_px"] <= table["clip_max_px"]).all()
    assert (table["clip_max_px"] < table["corner_px"]).all()


def test_noise_trace_follows_the_datasets_own_noise_stream(data):
    trace = study.noise_trace(data, "hdm_mm", "floor lieDownFloor_015", 2, "r_wrist")
    clean, detected, _, events = mocap.detector_views(data, "hdm_mm", "floor lieDownFloor_015")[2]
    j = sk.COCO17.index("r_wrist")
    np.testing.assert_array_equal(trace["clean"], clean[:, j])
    np.testing.assert_array_equal(np.isnan(trace["detected"][:, 0]), trace["events"]["missing"])
    assert set(trace["events"]) == set(study.NOISE_EVENTS)
    # filled as the model's inputs are, the trace is exactly the data's 2D input of that joint
    filled = data.keypoints["hdm_mm"]["floor lieDownFloor_015"][2][:, j]
    seen = ~trace["events"]["missing"]
    np.testing.assert_allclose(filled[seen], trace["detected"][seen])
    assert trace["sigma"].shape == (len(clean),) and (trace["sigma"] > 0).all()
    clean_only = PoseData("h36m", sk.COCO17, {}, {}, {}, {}, (), ())
    assert study.noise_trace(clean_only, "S1", "x", 0, "r_wrist") is None


def test_noise_event_table_lists_every_burst_in_order_of_the_model():
    T = 40
    clean = np.zeros((T, 2))
    detected = clean + 1.0  # 1 px on each axis: sqrt(2) px of 2D error
    events = {k: np.zeros(T, bool) for k in study.NOISE_EVENTS}
    events["outlier"][5:8] = True
    detected[5:8] = [30.0, 40.0]  # 50 px
    events["missing"][20:22] = events["missing"][30:31] = True
    detected[20:22] = detected[30] = np.nan
    trace = {
        "clean": clean,
        "detected": detected,
        "sigma": np.full(T, 2.0),
        "events": events,
        "config": study.NoiseConfig(),
    }
    table = study.noise_event_table(trace)
    assert list(table["event"]) == ["jitter", "outlier", "missing", "missing"]
    assert table.loc[0, "frames"] == T - 6 and table.loc[0, "mean_error_px"] == 1.4
    assert "sigma 2.0 px per axis" in table.loc[0, "model"]
    assert table.loc[1, ["first", "last", "frames", "mean_error_px"]].tolist() == [5, 7, 3, 50.0]
    assert table.loc[3, ["first", "last", "frames"]].tolist() == [30, 30, 1]
    assert np.isnan(table.loc[2, "mean_error_px"])


# ---------------------------------------------------------------------------------- the figures


def test_walkthrough_figures_draw_every_step(data, walk):
    names = walk["motion"].joint_names
    fig = viz.bvh_skeleton(walk["joints_world"], walk["motion"].parents, names)
    assert len(fig.axes) == 2 and len(fig.axes[0].texts) == len(names)  # every joint numbered
    fig = viz.bvh_to_layouts(
        walk["joints_world"], walk["motion"].parents, names, walk["h36m_world"], walk["face_world"]
    )
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "10 head <- Head_end" in labels and len(labels) == 17
    assert {t.get_text() for t in fig.axes[1].texts} >= set(sk.FACE_POINTS)
    fig = viz_scene.capture_volume_top_view(
        walk["cameras"], walk["centre"], walk["pelvis_before"], walk["pelvis_track"]
    )
    assert len(fig.axes) == 2 and "pelvis, placed" in [
        t.get_text() for t in fig.axes[1].get_legend().texts
    ]
    step = study.projection_step(data, walk["subject"], walk["action"], walk["frame"], 2)
    fig = viz_scene.distortion_figure(step, magnify=5)
    assert "arrows x5" in fig.axes[0].get_title()
    trace = study.noise_trace(data, walk["subject"], walk["action"], 2, "r_wrist")
    fig = viz_scene.noise_events_figure(trace)
    assert len(fig.axes) == 3 and "r_wrist in camera 2" in fig._suptitle.get_text()
    import matplotlib.pyplot as plt

    plt.close("all")
