"""Metrics on cases whose answers are worked out by hand (in the comments), plus numpy/torch
parity."""

import numpy as np
import pytest
import torch

from dilpose import metrics as M


def rotation(axis, angle):
    """Rodrigues: a proper rotation matrix (det +1) about ``axis`` by ``angle`` radians."""
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def random_poses(rng, shape):
    return rng.normal(scale=0.3, size=shape)


# --------------------------------------------------------------------------------------- protocol 1


def test_mpjpe_of_a_3_4_0_offset_is_5():
    rng = np.random.default_rng(0)
    target = random_poses(rng, (4, 17, 3))
    pred = target + np.array([0.003, 0.004, 0.0])  # every joint 3-4-5 triangle: 5 mm off
    assert M.mpjpe(pred, target) == pytest.approx(0.005, abs=1e-12)
    per = M.per_frame_mpjpe(pred, target)
    assert per.shape == (4,)
    np.testing.assert_allclose(per, 0.005, atol=1e-12)
    assert isinstance(M.mpjpe(pred, target), np.floating)
    t = M.mpjpe(torch.tensor(pred), torch.tensor(target))
    assert isinstance(t, torch.Tensor) and t.item() == pytest.approx(0.005, abs=1e-12)


def test_mpjpe_mean_over_joints_with_uneven_errors():
    # Two joints, errors 0 and 2 -> 1 per frame.
    target = np.zeros((1, 2, 3))
    pred = np.array([[[0.0, 0.0, 0.0], [0.0, 2.0, 0.0]]])
    assert M.mpjpe(pred, target) == pytest.approx(1.0)


def test_mpjpe_gradient_is_the_unit_error_direction():
    # d/dpred of mean_j ||pred_j - target_j|| over N*J terms = (pred_j - target_j)/||.|| / (N*J).
    target = torch.zeros(2, 3, 3, dtype=torch.float64)
    pred = target.clone()
    pred[0, 1] = torch.tensor([3.0, 4.0, 0.0])
    pred.requires_grad_(True)
    M.mpjpe(pred, target).backward()
    expected = torch.zeros_like(pred)
    expected[0, 1] = torch.tensor([0.6, 0.8, 0.0]) / 6
    torch.testing.assert_close(pred.grad, expected)  # exact joints (zero error) give 0, not NaN


# --------------------------------------------------------------------------------------- protocol 2


def test_p_mpjpe_is_zero_for_a_similarity_copy():
    rng = np.random.default_rng(1)
    target = random_poses(rng, (2, 5, 17, 3))
    r = rotation([1, 2, 3], 1.1)
    pred = 1.7 * target @ r + np.array([0.5, -2.0, 4.0])
    assert M.mpjpe(pred, target) > 0.1
    per = M.per_frame_p_mpjpe(pred, target)
    assert per.shape == (2, 5)
    np.testing.assert_allclose(per, 0.0, atol=1e-10)
    aligned, rot, scale, trans = M.procrustes_align(pred, target)
    np.testing.assert_allclose(aligned, target, atol=1e-10)
    np.testing.assert_allclose(rot, np.broadcast_to(r.T, rot.shape), atol=1e-10)  # undoes r
    np.testing.assert_allclose(scale, 1 / 1.7, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)


def test_p_mpjpe_of_a_mirror_image_by_hand():
    # Target: six points on the axes at ±a, ±b, ±c with a, b, c = 1, 2, 3 (centred). Pred: its
    # mirror image in x. Cross-covariance H = diag(-2a², 2b², 2c²) = diag(-2, 8, 18): the best
    # orthogonal map would be the reflection diag(-1, 1, 1) (error 0), but det must be +1, so the
    # smallest singular direction (x) is flipped back: R = I, scale s = (8 + 18 - 2) / (2 + 8 + 18)
    # = 6/7. Errors: x points a(1 + s) = 13/7, y points b(1 - s) = 2/7, z points c(1 - s) = 3/7;
    # mean over the six = 2 (13 + 2 + 3) / 7 / 6 = 6/7.
    a, b, c = 1.0, 2.0, 3.0
    target = np.array([[a, 0, 0], [-a, 0, 0], [0, b, 0], [0, -b, 0], [0, 0, c], [0, 0, -c]])
    mirror = target * np.array([-1.0, 1.0, 1.0])
    assert M.p_mpjpe(mirror, target) == pytest.approx(6 / 7, abs=1e-12)
    _, rot, scale, _ = M.procrustes_align(mirror, target)
    np.testing.assert_allclose(rot, np.eye(3), atol=1e-12)
    assert scale == pytest.approx(6 / 7)
    # Pre-moving the mirror image by any similarity changes nothing: the alignment undoes it.
    moved = 0.4 * mirror @ rotation([0.3, -1, 2], 2.0) + np.array([1.0, 2.0, 3.0])
    assert M.p_mpjpe(moved, target) == pytest.approx(6 / 7, abs=1e-10)
    _, rot, _, _ = M.procrustes_align(moved, target)
    assert np.linalg.det(rot) == pytest.approx(1.0, abs=1e-12)
    # torch takes the same branch
    t = M.p_mpjpe(torch.tensor(moved), torch.tensor(target))
    assert t.item() == pytest.approx(6 / 7, abs=1e-10)


def reference_p_mpjpe(pred, target):
    """Independent loop-based Procrustes (column-vector convention), for the parity test."""
    errors = []
    for p, t in zip(pred.reshape(-1, *pred.shape[-2:]), target.reshape(-1, *target.shape[-2:])):
        pc, tc = p - p.mean(0), t - t.mean(0)
        u, s, vt = np.linalg.svd(tc.T @ pc)  # t ≈ s R p with R = U D V^T
        d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
        r = u @ d @ vt
        scale = np.trace(d @ np.diag(s)) / (pc**2).sum()
        aligned = scale * pc @ r.T + t.mean(0)
        errors.append(np.linalg.norm(aligned - t, axis=-1).mean())
    return np.mean(errors)


def test_numpy_and_torch_agree_and_match_a_reference():
    rng = np.random.default_rng(2)
    target = random_poses(rng, (3, 6, 17, 3))
    pred = target + random_poses(rng, target.shape) * 0.2
    pred[0, 0] *= -1  # include a frame that needs the reflection fix
    tp, tt = torch.tensor(pred), torch.tensor(target)
    for name in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"):
        f = getattr(M, name)
        assert f(tp, tt).item() == pytest.approx(float(f(pred, target)), rel=1e-12), name
    for name in ("per_frame_mpjpe", "per_frame_p_mpjpe", "per_frame_n_mpjpe", "per_frame_mpjve"):
        f = getattr(M, name)
        np.testing.assert_allclose(f(tp, tt).numpy(), f(pred, target), rtol=1e-12, err_msg=name)
    assert M.p_mpjpe(pred, target) == pytest.approx(reference_p_mpjpe(pred, target), rel=1e-10)
    # float32 tensors stay float32 (losses in training)
    assert M.p_mpjpe(tp.float(), tt.float()).dtype == torch.float32


def test_torch_losses_are_differentiable():
    rng = np.random.default_rng(3)
    target = torch.tensor(random_poses(rng, (2, 4, 17, 3)))
    for name in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"):
        pred = (target + 0.05 * torch.randn_like(target)).requires_grad_(True)
        getattr(M, name)(pred, target).backward()
        assert (
            pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
        ), name
    traj = (target[..., :1, :] + torch.tensor([0.0, 0.0, 5.0])).detach()
    pred = (traj + 0.05).requires_grad_(True)
    M.weighted_mpjpe(pred, traj, M.inverse_depth_weights(traj)).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


# --------------------------------------------------------------------------------------- protocol 3


def test_n_mpjpe_zero_for_a_scaled_copy_and_a_hand_case():
    rng = np.random.default_rng(4)
    target = random_poses(rng, (5, 17, 3))
    assert M.n_mpjpe(0.37 * target, target) == pytest.approx(0.0, abs=1e-12)
    # target (1,0,0), (0,1,0); pred (2,0,0), (0,0,0): s = <p,t>/<p,p> = 2/4,
    # s*pred = (1,0,0), (0,0,0): errors 0 and 1 -> 0.5.
    target = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    pred = np.array([[2.0, 0, 0], [0, 0, 0]])
    assert M.n_mpjpe(pred, target) == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------- velocity


def test_mpjve_constant_offset_is_zero_and_a_known_velocity_error():
    rng = np.random.default_rng(5)
    target = random_poses(rng, (10, 17, 3))
    assert M.mpjve(target + np.array([0.1, -0.2, 0.3]), target) == pytest.approx(0.0, abs=1e-12)
    # One joint; target still; pred x = 0, 1, 3 -> velocity errors 1 and 2 -> mean 1.5.
    target = np.zeros((3, 1, 3))
    pred = np.array([[[0.0, 0, 0]], [[1.0, 0, 0]], [[3.0, 0, 0]]])
    assert M.mpjve(pred, target) == pytest.approx(1.5)
    np.testing.assert_allclose(M.per_frame_mpjve(pred, target), [1.0, 2.0])
    # (B, T, J, 3) with the default axis -3 equals (T, B, J, 3) with axis=0.
    # second batch item: errors 2, 4 -> mean of 1, 2, 2, 4 = 2.25
    pred_b = np.stack([pred, 2 * pred])
    assert M.mpjve(pred_b, np.zeros_like(pred_b)) == pytest.approx(2.25)
    assert M.mpjve(
        pred_b.swapaxes(0, 1), np.zeros_like(pred_b).swapaxes(0, 1), axis=0
    ) == pytest.approx(2.25)
    with pytest.raises(ValueError, match="time axis"):
        M.mpjve(pred, target, axis=-2)
    with pytest.raises(ValueError, match="at least 2 frames"):
        M.mpjve(pred[:1], target[:1])


# ---------------------------------------------------------------------------------------- weighted


def test_weighted_mpjpe_by_hand():
    # Root trajectory, two frames: errors 1 and 2 m at true depths 2 and 4 m
    # -> (1/2 + 2/4) / 2 = 0.5.
    target = np.array([[[0.0, 0, 2]], [[0.0, 0, 4]]])
    pred = target + np.array([[[1.0, 0, 0]], [[0.0, 2, 0]]])
    w = M.inverse_depth_weights(target)
    np.testing.assert_allclose(w, [[0.5], [0.25]])
    assert M.weighted_mpjpe(pred, target, w) == pytest.approx(0.5)
    assert M.weighted_mpjpe(pred, target, np.array([0.5, 0.25])) == pytest.approx(0.5)  # per frame
    with pytest.raises(ValueError, match="weights shape"):
        M.weighted_mpjpe(pred, target, np.ones(3))
    with pytest.raises(ValueError, match="depths"):
        M.inverse_depth_weights(-target)


# ---------------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize(
    "name",
    [
        "mpjpe",
        "p_mpjpe",
        "n_mpjpe",
        "mpjve",
        "per_frame_mpjpe",
        "per_frame_p_mpjpe",
        "per_frame_n_mpjpe",
        "per_frame_mpjve",
    ],
)
def test_shape_mismatch_raises_and_names_shapes(name):
    f = getattr(M, name)
    with pytest.raises(ValueError, match=r"\(4, 17, 3\).*\(4, 16, 3\)"):
        f(np.zeros((4, 17, 3)), np.zeros((4, 16, 3)))
    with pytest.raises(ValueError, match=r"\(4, 17, 2\)"):
        f(np.zeros((4, 17, 2)), np.zeros((4, 17, 2)))
    with pytest.raises(ValueError):
        f(torch.zeros(4, 17, 3), torch.zeros(5, 17, 3))
