"""Cameras: quaternions, world <-> camera transforms, screen-coordinate maps, projection with
VideoPose3D's distortion model (checked against hand arithmetic), numpy/torch parity, and the
shipped Human3.6M calibration."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from dilpose import camera as C
from dilpose.errors import DataError


def random_unit_quaternions(rng, n):
    q = rng.normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def matrix_from_quaternion_textbook(q):
    """The standard closed form of the rotation matrix of a unit quaternion [w, x, y, z]."""
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


@pytest.fixture(scope="module")
def h36m():
    return C.load_h36m_cameras()


def simple_camera(**kw):
    args = dict(
        id="test", res_w=1000, res_h=1002, focal_length=(1150.0, 1140.0), center=(512.0, 515.0)
    )
    args.update(kw)
    return C.Camera(**args)


# ------------------------------------------------------------------------------------ quaternions


def test_qrot_quarter_turn_about_z_maps_x_to_y():
    q = np.array([np.cos(np.pi / 4), 0.0, 0.0, np.sin(np.pi / 4)])
    np.testing.assert_allclose(C.qrot(q, [1.0, 0.0, 0.0]), [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(C.qrot(q, [0.0, 0.0, 1.0]), [0.0, 0.0, 1.0], atol=1e-12)


def test_qrot_equals_textbook_rotation_matrix_and_quaternion_to_matrix():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(5, 3))
    for q in random_unit_quaternions(rng, 6):
        R = matrix_from_quaternion_textbook(q)
        np.testing.assert_allclose(C.quaternion_to_matrix(q), R, atol=1e-12)
        np.testing.assert_allclose(C.qrot(q, v), v @ R.T, atol=1e-12)
        assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-12)


def test_qrot_broadcasts_per_row_quaternions():
    rng = np.random.default_rng(2)
    q = random_unit_quaternions(rng, 4)
    v = rng.normal(size=(4, 3))
    out = C.qrot(q, v)
    for i in range(4):
        np.testing.assert_allclose(out[i], matrix_from_quaternion_textbook(q[i]) @ v[i], atol=1e-12)


def test_qinverse_undoes_qrot():
    rng = np.random.default_rng(3)
    q = random_unit_quaternions(rng, 1)[0]
    v = rng.normal(size=(7, 3))
    np.testing.assert_allclose(C.qrot(C.qinverse(q), C.qrot(q, v)), v, atol=1e-12)


# --------------------------------------------------------------------------- world <-> camera


def test_world_camera_world_round_trip(h36m):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(10, 17, 3))
    # Human3.6M's quaternions are unit only to float32 precision (|q| - 1 ~ 1e-7), so a round trip
    # is exact to about a micrometre; exactly unit quaternions round-trip to machine precision.
    for cam in h36m["S1"] + h36m["S11"]:
        np.testing.assert_allclose(cam.camera_to_world(cam.world_to_camera(X)), X, atol=1e-6)
    q = random_unit_quaternions(rng, 1)[0]
    t = rng.normal(size=3)
    np.testing.assert_allclose(C.world_to_camera(C.camera_to_world(X, q, t), q, t), X, atol=1e-12)


def test_world_to_camera_puts_centre_at_origin_and_axis_on_plus_z(h36m):
    cam = h36m["S9"][2]
    np.testing.assert_allclose(cam.world_to_camera(cam.position()), [0, 0, 0], atol=1e-12)
    ahead = cam.position() + 2.5 * cam.optical_axis()
    np.testing.assert_allclose(cam.world_to_camera(ahead), [0, 0, 2.5], atol=1e-6)


# ------------------------------------------------------------------- screen coordinate maps


def test_normalize_screen_coordinates_known_values_non_square():
    w, h = 1000, 1002
    px = np.array([[0.0, 0.0], [1000.0, 0.0], [500.0, 501.0], [0.0, 1002.0]])
    expected = np.array([[-1.0, -1.002], [1.0, -1.002], [0.0, 0.0], [-1.0, 1.002]])
    np.testing.assert_allclose(C.normalize_screen_coordinates(px, w, h), expected, atol=1e-12)


@pytest.mark.parametrize("w,h", [(1000, 1002), (1920, 1080), (640, 640)])
def test_normalize_and_image_coordinates_round_trip(w, h):
    rng = np.random.default_rng(w + h)
    px = rng.uniform(0, [w, h], size=(6, 17, 2))
    norm = C.normalize_screen_coordinates(px, w, h)
    assert np.abs(norm[..., 0]).max() <= 1.0  # width maps into [-1, 1]
    np.testing.assert_allclose(C.image_coordinates(norm, w, h), px, atol=1e-9)
    np.testing.assert_allclose(
        C.normalize_screen_coordinates(C.image_coordinates(norm, w, h), w, h), norm, atol=1e-12
    )


def test_intrinsic_vector_is_videopose3d_normalisation():
    cam = simple_camera(radial_distortion=(0.1, 0.2, 0.3), tangential_distortion=(0.4, 0.5))
    iv = cam.intrinsic_vector()
    assert iv.shape == (9,)
    np.testing.assert_allclose(iv[:2], [1150.0 / 1000 * 2, 1140.0 / 1000 * 2])
    np.testing.assert_allclose(iv[2:4], [512.0 / 1000 * 2 - 1, 515.0 / 1000 * 2 - 1002 / 1000])
    np.testing.assert_allclose(iv[4:], [0.1, 0.2, 0.3, 0.4, 0.5])


# ------------------------------------------------------------------------------- projection


def test_projection_without_distortion_is_pinhole_formula():
    cam = simple_camera(
        orientation=tuple(random_unit_quaternions(np.random.default_rng(5), 1)[0]),
        translation=(0.3, -4.0, 1.2),
    )
    rng = np.random.default_rng(6)
    Xc = np.column_stack([rng.uniform(-1, 1, 20), rng.uniform(-1, 1, 20), rng.uniform(2, 6, 20)])
    Xw = cam.camera_to_world(Xc)
    u = 1150.0 * Xc[:, 0] / Xc[:, 2] + 512.0
    v = 1140.0 * Xc[:, 1] / Xc[:, 2] + 515.0
    np.testing.assert_allclose(cam.project(Xw), np.column_stack([u, v]), atol=1e-9)
    # and in normalised units, the distortion-free path equals the linear projection
    iv = cam.intrinsic_vector()
    np.testing.assert_allclose(C.project_to_2d(Xc, iv), C.project_to_2d_linear(Xc, iv), atol=1e-12)


def test_distortion_matches_hand_computed_point():
    # intrinsics (normalised): f = (1.2, 1.1), c = (0.05, -0.02); k1, k2, k3 = 0.1, -0.05, 0.01;
    # p1, p2 = 0.002, -0.003. Camera-space point (0.3, -0.2, 2.0):
    #   x = 0.3 / 2 = 0.15, y = -0.2 / 2 = -0.1
    #   r2 = 0.15^2 + 0.1^2 = 0.0225 + 0.01 = 0.0325
    #   r2^2 = 0.00105625, r2^3 = 0.000034328125
    #   radial = 1 + 0.1*0.0325 - 0.05*0.00105625 + 0.01*0.000034328125
    #          = 1 + 0.00325 - 0.0000528125 + 0.00000034328125 = 1.00319753078125
    #   tan = p1 x + p2 y = 0.002*0.15 + (-0.003)*(-0.1) = 0.0003 + 0.0003 = 0.0006
    #   radial + tan = 1.00379753078125
    #   x' = 0.15 * 1.00379753078125 + 0.002 * 0.0325 = 0.1505696296171875 + 0.000065
    #      = 0.1506346296171875
    #   y' = -0.1 * 1.00379753078125 - 0.003 * 0.0325 = -0.100379753078125 - 0.0000975
    #      = -0.100477253078125
    #   u = 1.2 * 0.1506346296171875 + 0.05 = 0.230761555540625
    #   v = 1.1 * -0.100477253078125 - 0.02 = -0.1305249783859375
    iv = np.array([1.2, 1.1, 0.05, -0.02, 0.1, -0.05, 0.01, 0.002, -0.003])
    out = C.project_to_2d(np.array([0.3, -0.2, 2.0]), iv)
    np.testing.assert_allclose(out, [0.230761555540625, -0.1305249783859375], rtol=0, atol=1e-14)
    # the distortion moves the point: it differs from the pinhole answer
    # (1.2*0.15+0.05, 1.1*-0.1-0.02)
    assert abs(out[0] - 0.23) > 5e-4 and abs(out[1] + 0.13) > 5e-4


def test_point_on_optical_axis_projects_to_principal_point(h36m):
    for cam in (h36m["S1"][0], h36m["S11"][3]):  # real cameras, with distortion
        for depth in (1.0, 4.0):
            X = cam.position() + depth * cam.optical_axis()
            np.testing.assert_allclose(cam.project(X), cam.center, atol=1e-6)


def test_projection_with_per_frame_intrinsics_broadcasts_over_joints(h36m):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(3, 17, 3)) * 0.3 + [0, 0, 4]
    ivs = np.stack([c.intrinsic_vector() for c in h36m["S1"][:3]])  # (3, 9)
    out = C.project_to_2d(X, ivs)
    assert out.shape == (3, 17, 2)
    for i in range(3):
        np.testing.assert_allclose(out[i], C.project_to_2d(X[i], ivs[i]), atol=1e-12)


def test_torch_and_numpy_projection_agree_and_gradients_flow(h36m):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(4, 17, 3)) * 0.4 + [0.1, -0.2, 4.5]
    iv = h36m["S5"][1].intrinsic_vector()
    ref = C.project_to_2d(X, iv)
    Xt = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    out = C.project_to_2d(Xt, torch.tensor(iv))
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-12)
    # numpy intrinsics with torch points also work (converted to the points' dtype)
    np.testing.assert_allclose(C.project_to_2d(Xt, iv).detach().numpy(), ref, atol=1e-12)
    out.sum().backward()
    assert Xt.grad is not None and torch.isfinite(Xt.grad).all() and Xt.grad.abs().sum() > 0
    lin = C.project_to_2d_linear(Xt, torch.tensor(iv))
    np.testing.assert_allclose(lin.detach().numpy(), C.project_to_2d_linear(X, iv), atol=1e-12)


def test_torch_projection_gradient_is_correct():
    iv = torch.tensor([1.2, 1.1, 0.05, -0.02, 0.1, -0.05, 0.01, 0.002, -0.003], dtype=torch.float64)
    X = torch.tensor([[0.3, -0.2, 2.0], [-0.5, 0.4, 3.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: C.project_to_2d(x, iv), (X,))


def test_points_behind_camera_keep_finite_gradients():
    iv = torch.tensor([1.2, 1.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    X = torch.tensor([[0.1, 0.1, -1.0], [0.1, 0.1, 0.0]], dtype=torch.float64, requires_grad=True)
    out = C.project_to_2d(X, iv)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(X.grad).all()


def reference_projection(Xc, iv, clamp_xy):
    """VideoPose3D's distortion formula written out per point, z floored at 1e-6 as dilpose does.

    clamp_xy: clamp x = X/Z and y = Y/Z to [-1, 1] first (VideoPose3D's ``project_to_2d``) or not.
    """
    fx, fy, cx, cy, k1, k2, k3, p1, p2 = iv
    out = []
    for X, Y, Z in np.reshape(Xc, (-1, 3)):
        z = max(Z, 1e-6)
        x, y = X / z, Y / z
        if clamp_xy:
            x, y = min(max(x, -1.0), 1.0), min(max(y, -1.0), 1.0)
        r2 = x * x + y * y
        radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
        tan = p1 * x + p2 * y
        out.append(
            [fx * (x * (radial + tan) + p1 * r2) + cx, fy * (y * (radial + tan) + p2 * r2) + cy]
        )
    return np.array(out)


# Behind the camera, on the camera plane, and far outside the field of view (|X/Z| = 50 and 3).
OUT_OF_VIEW = np.array([[0.1, 0.1, -1.0], [0.3, -0.2, 0.0], [50.0, -3.0, 1.0], [-2.0, 0.5, 0.5]])


def test_out_of_view_points_are_clamped_like_videopose3d(h36m):
    iv = h36m["S9"][2].intrinsic_vector()  # real k1..k3, p1, p2
    out = C.project_to_2d(OUT_OF_VIEW, iv)
    # was ~1e33 for the point behind the camera
    assert np.isfinite(out).all() and np.abs(out).max() < 10
    np.testing.assert_allclose(
        out, reference_projection(OUT_OF_VIEW, iv, clamp_xy=True), rtol=1e-12, atol=1e-12
    )
    # the clamp really acts: unclamped, these points land far away
    assert np.abs(reference_projection(OUT_OF_VIEW, iv, clamp_xy=False)).max() > 1e6


def test_torch_projection_clamps_too_with_finite_gradients(h36m):
    iv = h36m["S9"][2].intrinsic_vector()
    Xt = torch.tensor(OUT_OF_VIEW, dtype=torch.float64, requires_grad=True)
    out = C.project_to_2d(Xt, torch.tensor(iv))
    np.testing.assert_allclose(
        out.detach().numpy(),
        reference_projection(OUT_OF_VIEW, iv, clamp_xy=True),
        rtol=1e-12,
        atol=1e-12,
    )
    out.sum().backward()
    assert torch.isfinite(Xt.grad).all()


def test_points_inside_the_view_are_unchanged_by_the_clamp(h36m):
    rng = np.random.default_rng(11)
    Xc = np.column_stack([rng.uniform(-0.9, 0.9, 200), rng.uniform(-0.9, 0.9, 200), np.ones(200)])
    Xc *= rng.uniform(0.5, 8.0, (200, 1))  # |X/Z|, |Y/Z| <= 0.9 at any depth
    Xc = np.vstack([Xc, [[2.0, -2.0, 2.0]]])  # exactly on the clamp edge: X/Z = 1, Y/Z = -1
    for cam in (h36m["S1"][0], h36m["S11"][3]):
        iv = cam.intrinsic_vector()
        np.testing.assert_allclose(
            C.project_to_2d(Xc, iv),
            reference_projection(Xc, iv, clamp_xy=False),
            rtol=0,
            atol=1e-12,
        )


def test_linear_projection_clamps_like_videopose3d():
    iv = np.array([1.2, 1.1, 0.05, -0.02, 0.1, -0.05, 0.01, 0.002, -0.003])
    X = np.array([[50.0, -3.0, 1.0], [0.3, -0.2, 2.0]])
    # inside the view: plain pinhole
    expected = [
        [1.2 * 1.0 + 0.05, 1.1 * -1.0 - 0.02],  # X/Z = 50 -> 1, Y/Z = -3 -> -1
        [1.2 * 0.15 + 0.05, 1.1 * -0.1 - 0.02],
    ]
    np.testing.assert_allclose(C.project_to_2d_linear(X, iv), expected, atol=1e-14)
    Xt = torch.tensor(X)
    np.testing.assert_allclose(
        C.project_to_2d_linear(Xt, torch.tensor(iv)).numpy(),
        C.project_to_2d_linear(X, iv),
        atol=1e-14,
    )


# ------------------------------------------------------------------------- Human3.6M calibration


def test_h36m_cameras_are_7_subjects_by_4_cameras(h36m):
    assert sorted(h36m) == sorted(["S1", "S5", "S6", "S7", "S8", "S9", "S11"])
    for subject, cams in h36m.items():
        assert [c.id for c in cams] == list(C.H36M_CAMERA_IDS), subject
        for c in cams:
            assert (c.res_w, c.res_h) in {(1000, 1002), (1000, 1000)}
            assert 0 < c.center[0] < c.res_w and 0 < c.center[1] < c.res_h


def test_h36m_translations_in_metres_and_quaternions_unit(h36m):
    for subject, cams in h36m.items():
        for c in cams:
            assert 3.0 < np.linalg.norm(c.position()) < 7.0, (subject, c.id, c.translation)
            assert np.linalg.norm(c.orientation) == pytest.approx(1.0, abs=1e-5)


def test_h36m_cameras_look_at_the_capture_volume_near_the_origin(h36m):
    for subject, cams in h36m.items():
        A, b = np.zeros((3, 3)), np.zeros(3)
        for c in cams:
            d, t = c.optical_axis(), c.position()
            assert np.linalg.norm(d) == pytest.approx(1.0)
            to_origin = -t / np.linalg.norm(t)
            angle = np.degrees(np.arccos(np.clip(d @ to_origin, -1, 1)))
            assert angle < 20.0, (subject, c.id, angle)
            P = np.eye(3) - np.outer(d, d)  # least-squares point closest to all four optical axes
            A += P
            b += P @ t
        centre = np.linalg.solve(A, b)
        assert np.linalg.norm(centre[:2]) < 1.5, (subject, centre)  # world z is up in Human3.6M


def test_h36m_origin_projects_inside_every_image(h36m):
    for cams in h36m.values():
        for c in cams:
            u, v = c.project(np.zeros(3))
            assert 0 < u < c.res_w and 0 < v < c.res_h


# ------------------------------------------------------------------------------ bad camera JSON


@pytest.fixture
def camera_json(tmp_path):
    from dilpose import paths

    spec = json.loads(paths.H36M_CAMERAS.read_text())
    path = tmp_path / "cams.json"

    def write(mutate=None, text=None):
        s = json.loads(json.dumps(spec))
        if mutate:
            mutate(s)
        path.write_text(text if text is not None else json.dumps(s))
        return path

    return write


def test_loading_a_copy_of_the_camera_json_gives_the_same_cameras(camera_json, h36m):
    assert C.load_h36m_cameras(camera_json()) == h36m


@pytest.mark.parametrize(
    "mutate,words",
    [
        (lambda s: s.pop("intrinsics"), "missing key 'intrinsics'"),
        (lambda s: s.pop("extrinsics"), "missing key 'extrinsics'"),
        (lambda s: s["intrinsics"].pop(), "expected 4 cameras' intrinsics, got 3"),
        (lambda s: s["extrinsics"]["S9"].pop(), "subject S9: expected 4 extrinsics, got 3"),
        (lambda s: s["intrinsics"][2].pop("focal_length"), "camera 2"),
        (lambda s: s["extrinsics"]["S5"][1].pop("translation"), "subject S5, camera 1"),
    ],
)
def test_bad_camera_json_raises_data_error_naming_file_and_problem(camera_json, mutate, words):
    path = camera_json(mutate)
    with pytest.raises(DataError) as e:
        C.load_h36m_cameras(path)
    assert str(path) in str(e.value)
    assert words in str(e.value)


def test_unparsable_camera_json_raises_data_error_naming_file(camera_json):
    path = camera_json(text='{"intrinsics": [')
    with pytest.raises(DataError, match="not valid JSON") as e:
        C.load_h36m_cameras(path)
    assert str(path) in str(e.value)


def test_missing_camera_json_raises_data_error_naming_file(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(DataError) as e:
        C.load_h36m_cameras(path)
    assert str(path) in str(e.value)


def test_project_linear_is_the_pinhole_and_differs_from_project_by_the_distortion(h36m):
    cam = h36m["S1"][0]
    X = np.array([[0.3, 0.2, 1.0], [-0.5, 0.4, 1.6]])
    ideal = dataclasses.replace(
        cam, radial_distortion=(0.0, 0.0, 0.0), tangential_distortion=(0, 0)
    )
    np.testing.assert_allclose(cam.project_linear(X), ideal.project(X))
    X_cam = cam.world_to_camera(X)
    expected = np.asarray(cam.focal_length) * X_cam[:, :2] / X_cam[:, 2:] + cam.center
    np.testing.assert_allclose(cam.project_linear(X), expected)
    assert np.linalg.norm(cam.project(X) - cam.project_linear(X), axis=-1).max() > 0.1
