"""Virtual cameras, the camera families, the input conventions and the camera benchmark, on the
embedded motion capture (real clips of two subjects)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dilpose import camera_bench, input_norm
from dilpose import datasets as ds
from dilpose import virtual_cameras as vc
from dilpose.batches import split_root

SUBJECTS = ("cmu01", "cmu02")


@pytest.fixture(scope="module")
def data():
    return ds.load("mocap", seed=0, subjects=SUBJECTS)


def _pitch(cam):
    """Degrees the optical axis points below the horizon."""
    return math.degrees(math.asin(-cam.optical_axis()[2]))


def test_drawn_cameras_keep_to_the_stated_distribution_and_see_the_person(data):
    dist = vc.CameraDistribution()
    rng = np.random.default_rng(0)
    inside, hfovs, heights = [], [], []
    for subject in SUBJECTS:
        for action in data.actions(subject)[:6]:
            pos = data.positions_3d[subject][action]
            for _ in range(5):
                cam = vc.draw_camera(rng, pos, dist)
                hfovs.append(math.degrees(2 * math.atan(cam.res_w / 2 / cam.focal_length[0])))
                heights.append(cam.position()[2])
                assert (cam.res_w, cam.res_h) in vc.IMAGE_SIZES
                px = cam.project_linear(pos)
                inside.append(((px >= 0) & (px <= [cam.res_w, cam.res_h])).all(-1).mean())
    assert dist.hfov_deg[0] <= min(hfovs) and max(hfovs) <= dist.hfov_deg[1]
    assert dist.height_m[0] <= min(heights) and max(heights) <= dist.height_m[1]
    # the whole clip is framed: the aim offset and the fit distance keep the person in view
    assert np.mean(inside) > 0.99, np.mean(inside)
    # and the draws spread: wide and narrow lenses, low and high cameras
    assert np.ptp(hfovs) > 50 and np.ptp(heights) > 2


def test_look_at_aims_the_optical_axis_at_the_target():
    cam = vc.look_at("t", (3.0, 0.0, 2.0), (0.0, 0.0, 1.0), (1280, 720), 900.0, roll_deg=8.0)
    assert np.allclose(cam.project(np.array([[0.0, 0.0, 1.0]])), [[640, 360]])
    assert _pitch(cam) == pytest.approx(math.degrees(math.atan(1 / 3)), abs=1e-6)
    # a horizontal segment through the target, square to the view, tilts by the roll in the image
    (u0, v0), (u1, v1) = cam.project(np.array([[0.0, -1.0, 1.0], [0.0, 1.0, 1.0]]))
    assert abs(math.degrees(math.atan2(v1 - v0, u1 - u0))) == pytest.approx(8.0, abs=1e-6)


def test_rendering_is_seeded_per_clip_and_a_subset_renders_the_same(data):
    one = ds.load("mocap", seed=0, subjects=("cmu02",))
    a = vc.virtual_sequences(data, ("cmu02",), views=2)
    b = vc.virtual_sequences(one, ("cmu02",), views=2)
    assert len(a) == 2 * len(data.actions("cmu02"))
    for x, y in zip(a, b):
        assert np.array_equal(x.keypoints_2d, y.keypoints_2d)
        assert np.array_equal(x.intrinsics, y.intrinsics)
    # every clip and view has its own camera
    assert len({s.intrinsics.tobytes() for s in a}) == len(a)
    # the 3D target is the clip in that camera's frame: in front of it
    assert all((s.positions_3d[..., 2] > 0.3).all() for s in a)


def test_the_focal_convention_is_the_screen_one_divided_by_the_focal_length(data):
    screen = vc.virtual_sequences(data, ("cmu02",), views=1)[:3]
    focal = vc.virtual_sequences(data, ("cmu02",), views=1, convention=input_norm.FOCAL)[:3]
    for s, f in zip(screen, focal):
        assert np.allclose(input_norm.as_convention(s, input_norm.FOCAL).keypoints_2d,
                           f.keypoints_2d, atol=1e-5)  # fmt: skip
    # a person's size in focal units does not depend on the image size or lens: it is the angle
    # they subtend; in screen units it scales with focal / width
    assert input_norm.focal_from_fov(90.0, 1000) == pytest.approx(500.0)
    with pytest.raises(ValueError, match="field of view"):
        input_norm.focal_from_fov(180.0, 1000)
    with pytest.raises(ValueError, match="focal length"):
        input_norm.normalise(np.zeros((2, 2)), input_norm.FOCAL, 640, 480)


def test_the_h36m_family_is_the_datasets_own_detections(data):
    ours = vc.family_sequences(data, ("cmu01",), "h36m")
    theirs = ds.sequences(data, ("cmu01",))
    assert len(ours) == len(theirs)
    for x, y in zip(ours, theirs):
        assert (x.subject, x.action, x.camera) == (y.subject, y.action, y.camera)
        assert np.allclose(x.keypoints_2d, y.keypoints_2d, atol=1e-6)
        assert np.allclose(x.positions_3d, y.positions_3d, atol=1e-5)


def test_each_family_has_its_stated_lens_and_height(data):
    pos = data.positions_3d["cmu01"][data.actions("cmu01")[0]]
    shop = vc.family_cameras("shop", pos)
    assert len(shop) == 4 and all(c.focal_length[0] == 620.0 for c in shop)
    assert all(c.position()[2] == pytest.approx(3.5) for c in shop)
    assert 15.0 < _pitch(shop[0]) < 25.5  # the shop's 25 degrees, less as the clip wanders
    phone = vc.family_cameras("phone", pos)
    assert (phone[0].res_w, phone[0].res_h) == (1080, 1920)
    action = vc.family_cameras("action", pos)
    assert action[0].radial_distortion[0] < -0.2
    with pytest.raises(Exception, match="unknown family"):
        vc.family_cameras("drone", pos)


def _oracle(seq):
    target, _ = split_root(seq.positions_3d.astype(np.float64))
    return target


def test_the_benchmark_scores_a_perfect_and_a_shrinking_lifter(data):
    seen = {}

    def shrink(seq):
        seen["input"] = seq.keypoints_2d
        return 0.6 * _oracle(seq)

    entrants = {
        "oracle": camera_bench.Entrant(_oracle),
        "shrinks": camera_bench.Entrant(shrink, input_norm.FOCAL),
    }
    res = camera_bench.run(entrants, data, families=("h36m", "webcam"), subjects=SUBJECTS)
    for family in ("h36m", "webcam"):
        assert res[family]["oracle"]["mpjpe"] == pytest.approx(0.0, abs=1e-6)
        assert res[family]["oracle"]["scale_error"] == pytest.approx(0.0, abs=1e-6)
        assert res[family]["shrinks"]["scale_error"] == pytest.approx(-0.4, abs=1e-6)
        assert res[family]["shrinks"]["mpjpe"] > 50
        # full-size bones cannot restore a skeleton shrunk the same in every frame, and leave a
        # rigid true one as it is (to the stored half-millimetre)
        full = {name: res[family][name]["full_size"] for name in entrants}
        assert full["shrinks"]["scale_error"] == pytest.approx(-0.4, abs=1e-3)
        assert abs(full["oracle"]["scale_error"]) < 2e-3 and full["oracle"]["mpjpe"] < 1.0
    # the focal entrant was fed focal-normalised input: tangents, a few tenths at most
    assert np.abs(seen["input"]).max() < 1.5
    table = camera_bench.table(res)
    assert set(table["x Human3.6M"]) >= {1.0}
    comp = camera_bench.compare(res, "webcam", "shrinks", "oracle")
    assert comp.diff > 50 and comp.winner == "oracle"


def test_mean_scale_error_weights_sequences_by_frames(data):
    seqs = vc.family_sequences(data, SUBJECTS, "h36m")[:2]
    preds = [0.5 * _oracle(seqs[0]), 1.0 * _oracle(seqs[1])]
    n0, n1 = len(seqs[0]), len(seqs[1])
    expected = (n0 * -0.5 + n1 * 0.0) / (n0 + n1)
    assert camera_bench.mean_scale_error(seqs, preds) == pytest.approx(expected, abs=1e-9)
