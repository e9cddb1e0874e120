"""Semi-supervised training (notebook 04): the trajectory model and Eq. (1), reprojection through
the camera, the objective's gradients and its weight-0 equivalence, and the unlabelled stream's
check."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from dilpose import batches, cache, callbacks, camera, config, datasets, metrics, objectives, train
from dilpose import skeleton as sk
from dilpose.errors import DataError


@pytest.fixture(scope="module")
def data():
    return datasets.load("mocap", seed=0, subjects=("cmu02", "cmu10", "cmu11"))


@pytest.fixture(scope="module")
def streams(data):
    labelled = datasets.sequences(data, ["cmu02"], cameras=(0, 1))
    unlabelled = datasets.sequences(data, ["cmu10", "cmu11"], cameras=(0, 2))
    return labelled, unlabelled


def _cfg(**kw):
    settings = dict(
        filter_widths=(3, 3), channels=16, batch_size=64, stride_subsample=2, epochs=2, device="cpu"
    )
    return config.for_profile("smoke", **{**settings, **kw})


def _semi(cfg, layout=sk.COCO17, **kw):
    return objectives.SemiSupervised(
        cfg.replace(in_joints=layout.num_joints), layout, seed=cfg.seed, **kw
    )


# --------------------------------------------------------------------------------------------------
# Reprojection
# --------------------------------------------------------------------------------------------------
def test_ground_truth_pose_and_trajectory_reproject_to_the_clean_2d_with_distortion(data):
    """The decoder's 2D of the true 3D equals the camera's own projection (float64, < 1e-6 px)."""
    cam = data.cameras["cmu10"][1]
    assert np.abs(cam.radial_distortion).max() > 0.1  # Human3.6M's lenses: distortion is on
    action = data.actions("cmu10")[0]
    world = data.positions_3d["cmu10"][action].astype(np.float64)
    clean_px = cam.project(world)  # (T, 17, 2) pixels, H36M-17
    X = cam.world_to_camera(world)
    pose, traj = batches.split_root(X)
    k = cam.intrinsic_vector()
    to_t = torch.from_numpy
    for layout, clean in ((sk.H36M17, clean_px), (sk.COCO17, None)):
        if clean is None:  # COCO-17: the 12 body joints are H36M's joints of the same name
            clean = np.zeros((len(X), 17, 2))
            idx_2d, idx_3d = objectives.reprojection_joints(layout)
            clean[:, list(idx_2d)] = clean_px[:, list(idx_3d)]
        target = camera.normalize_screen_coordinates(clean, cam.res_w, cam.res_h)
        err = objectives.reprojection_error(
            to_t(pose)[:, None], to_t(traj)[:, None], to_t(np.tile(k, (len(X), 1))),
            to_t(target)[:, None], layout,
        )  # fmt: skip
        assert float(err) * cam.res_w / 2 < 1e-6  # normalised units -> pixels
    # and the error is not trivially zero: 5 cm off in depth moves the image
    err = objectives.reprojection_error(
        to_t(pose)[:, None], to_t(traj + [0, 0, 0.05])[:, None], to_t(np.tile(k, (len(X), 1))),
        to_t(camera.normalize_screen_coordinates(clean_px, cam.res_w, cam.res_h))[:, None],
        sk.H36M17,
    )  # fmt: skip
    assert float(err) * cam.res_w / 2 > 0.5


def test_flipped_pose_with_flipped_intrinsics_reprojects_to_the_flipped_2d(data):
    cam = data.cameras["cmu10"][0]
    world = data.positions_3d["cmu10"][data.actions("cmu10")[0]][:50].astype(np.float64)
    X = cam.world_to_camera(world)
    k = cam.intrinsic_vector()
    clean = camera.project_to_2d(X, k)
    flipped_3d = batches.flip_3d(X)
    pose, traj = batches.split_root(flipped_3d)
    err = objectives.reprojection_error(
        torch.from_numpy(pose)[:, None], torch.from_numpy(traj)[:, None],
        torch.from_numpy(np.tile(batches.flip_intrinsics(k), (len(X), 1))),
        torch.from_numpy(batches.flip_2d(clean, sk.H36M17))[:, None], sk.H36M17,
    )  # fmt: skip
    assert float(err) < 1e-9


def test_reprojection_joints_by_name_and_a_layout_without_enough_is_refused():
    assert objectives.reprojection_joints(sk.H36M17) == (tuple(range(17)), tuple(range(17)))
    idx_2d, idx_3d = objectives.reprojection_joints(sk.COCO17)
    assert idx_2d == tuple(range(5, 17))  # COCO's face points have no H36M twin
    assert sk.H36M17.joint_names[idx_3d[idx_2d.index(15)]] == "l_foot"  # COCO l_ankle
    few = sk.Skeleton("face", ("nose", "l_eye", "r_eye"), (-1, 0, 0), (1,), (2,))
    with pytest.raises(DataError, match="face.*only 0 of its joints"):
        objectives.reprojection_joints(few)


# --------------------------------------------------------------------------------------------------
# Eq. (1)
# --------------------------------------------------------------------------------------------------
def test_eq1_equals_the_hand_computed_value_and_doubling_depth_halves_the_weight():
    target = torch.tensor([[[[0.0, 0.0, 2.0]]], [[[1.0, 0.0, 5.0]]]])  # (B=2, L=1, 1, 3)
    pred = target + torch.tensor([[[[0.3, 0.4, 0.0]]], [[[0.0, 0.0, 1.0]]]])  # errors 0.5 m, 1 m
    # mean over the two frames of error / depth: (0.5 / 2 + 1 / 5) / 2
    assert float(objectives.trajectory_loss(pred, target)) == pytest.approx(0.225, abs=1e-7)
    # a subject twice as far (same error) counts half
    far = target.clone()
    far[0, ..., 2] *= 2
    far_pred = far + (pred - target)
    one = objectives.trajectory_loss(pred[:1], target[:1])
    assert float(objectives.trajectory_loss(far_pred[:1], far[:1])) == pytest.approx(
        float(one) / 2, rel=1e-6
    )
    w = metrics.inverse_depth_weights(far)
    assert float(w[0, 0, 0]) == pytest.approx(
        0.5 * float(metrics.inverse_depth_weights(target)[0, 0, 0])
    )


# --------------------------------------------------------------------------------------------------
# The objective in the trainer
# --------------------------------------------------------------------------------------------------
def test_semi_supervised_gradients_reach_pose_and_trajectory_models(streams):
    labelled, unlabelled = streams
    cfg = _cfg()
    objective = _semi(cfg, warmup_epochs=0, trajectory_weight=0.0)  # unlabelled term only, below
    trainer = train.Trainer(
        cfg, labelled, objective=objective, unlabelled=unlabelled, progress=False
    )
    batch = next(iter(trainer.batches.epoch(0)))
    assert batch.unlabelled.flipped.any() and not batch.unlabelled.flipped.all()  # flip for both
    n = len(batch.labelled.inputs)
    x = torch.from_numpy(np.concatenate([batch.labelled.inputs, batch.unlabelled.inputs]))
    pose, traj = trainer.model(x), objective.trajectory(x)
    o = objective.output_frame
    reproj = objectives.reprojection_error(
        pose[n:], traj[n:], batch.unlabelled.intrinsics, x[n:, o : o + 1], sk.COCO17
    )
    reproj.backward()
    for module in (trainer.model, objective.trajectory):
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        assert grads and sum(float(g.abs().sum()) for g in grads) > 0
    # and the full loss logs every term
    _, logs = objective.loss(trainer.model, batch, torch.device("cpu"))
    assert {"loss_mm", "trajectory_mm", "reprojection", "bone_m"} <= set(logs)


def test_unlabelled_weight_zero_is_supervised_training_bit_for_bit(streams):
    labelled, unlabelled = streams
    cfg = _cfg()
    pose_cfg = cfg
    supervised = train.Trainer(
        cfg, labelled, objective=objectives.PoseTrajectory(pose_cfg, seed=0), progress=False
    )
    supervised.fit()
    semi = train.Trainer(
        cfg,
        labelled,
        objective=_semi(cfg, warmup_epochs=0, unlabelled_weight=0.0),
        unlabelled=unlabelled,
        progress=False,
    )
    semi.fit()
    for a, b in (
        (supervised.model, semi.model),
        *zip(supervised.objective.modules(), semi.objective.modules()),
    ):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    # with the unlabelled term on, the same seed trains another model
    on = train.Trainer(
        cfg, labelled, objective=_semi(cfg, warmup_epochs=0), unlabelled=unlabelled, progress=False
    )
    on.fit()
    assert not torch.equal(on.model.expand.conv.weight, semi.model.expand.conv.weight)


def test_warm_up_epochs_train_supervised_only(streams):
    labelled, unlabelled = streams
    cfg = _cfg(epochs=2)
    seen = []
    objective = _semi(cfg, warmup_epochs=1)
    trainer = train.Trainer(
        cfg,
        labelled,
        objective=objective,
        unlabelled=unlabelled,
        callbacks=[callbacks.Callback()],
        progress=False,
    )
    original = objective.loss

    def spy(net, batch, device):
        loss, logs = original(net, batch, device)
        seen.append((objective.epoch, "reprojection" in logs))
        return loss, logs

    objective.loss = spy
    trainer.fit()
    assert {s for s in seen if s[0] == 0} == {(0, False)}
    assert {s for s in seen if s[0] == 1} == {(1, True)}


def test_semi_supervised_model_resumes_and_caches_with_its_trajectory(streams, tmp_path):
    labelled, unlabelled = streams
    cfg = _cfg()
    first, trained = cache.train_cached(
        cfg, labelled, objective=_semi(cfg, warmup_epochs=0), unlabelled=unlabelled, name="semi"
    )
    assert trained
    again, trained = cache.train_cached(
        cfg, labelled, objective=_semi(cfg, warmup_epochs=0), unlabelled=unlabelled, name="semi"
    )
    assert not trained
    for a, b in zip(first.objective.modules(), again.objective.modules()):
        assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    # moving a clip from the unlabelled to the labelled stream is another model
    _, trained = cache.train_cached(
        cfg,
        labelled + unlabelled[:1],
        objective=_semi(cfg, warmup_epochs=0),
        unlabelled=unlabelled[1:],
        name="semi",
    )
    assert trained
    errors = objectives.trajectory_errors(
        again.objective.trajectory_network(), labelled[:1], sk.COCO17
    )
    assert (
        errors[0]["trajectory_mm"] > 0 and 0 < errors[0]["depth_mm"] <= errors[0]["trajectory_mm"]
    )


# --------------------------------------------------------------------------------------------------
# The unlabelled stream must fit its layout and camera
# --------------------------------------------------------------------------------------------------
def _with(seqs, keypoints=None, intrinsics=None):
    return [
        dataclasses.replace(
            s,
            positions_3d=None,
            keypoints_2d=s.keypoints_2d if keypoints is None else keypoints(s.keypoints_2d),
            intrinsics=s.intrinsics if intrinsics is None else intrinsics(s.intrinsics),
        )
        for s in seqs
    ]


def test_a_fitting_unlabelled_stream_passes(streams):
    labelled, unlabelled = streams
    objectives.check_unlabelled(_with(unlabelled), labelled, sk.COCO17)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(keypoints=lambda k: k[:, ::-1]), "are the joints in coco17 order"),
        (dict(keypoints=lambda k: k[:, [*range(9), 15, *range(10, 15), 9, 16]]), "l_elbow-l_wrist"),
        (dict(keypoints=lambda k: k[:, :15]), "expected coco17 joints"),
        (dict(intrinsics=lambda c: c * np.r_[2, 2, np.ones(7)].astype(c.dtype)), "cameras"),
        (dict(intrinsics=lambda c: c * np.r_[1, 2, np.ones(7)].astype(c.dtype)), "square"),
        (dict(intrinsics=lambda c: c * np.r_[500 * np.ones(4), np.ones(5)].astype(c.dtype)),
         "normalised"),
    ],
)  # fmt: skip
def test_a_wrong_layout_or_camera_for_unlabelled_data_is_refused(streams, change, message):
    labelled, unlabelled = streams
    with pytest.raises(DataError, match=message):
        objectives.check_unlabelled(_with(unlabelled, **change), labelled, sk.COCO17)
    # and the trainer refuses it before training
    cfg = _cfg()
    with pytest.raises(DataError, match=message):
        train.Trainer(
            cfg,
            labelled,
            objective=_semi(cfg),
            unlabelled=_with(unlabelled, **change),
            progress=False,
        )


def test_semi_supervised_needs_an_unlabelled_stream_and_its_layout(streams):
    labelled, _ = streams
    cfg = _cfg()
    with pytest.raises(DataError, match="needs unlabelled"):
        train.Trainer(cfg, labelled, objective=_semi(cfg), progress=False)


def test_semi_supervised_config_is_checked():
    with pytest.raises(Exception, match="warmup_epochs"):
        config.SemiSupervisedConfig(warmup_epochs=-1)
    with pytest.raises(Exception, match="bone_weight"):
        config.SemiSupervisedConfig(bone_weight=float("nan"))
    assert config.SEMI_SUPERVISED["smoke"].warmup_epochs == 0


def test_trajectory_model_batchnorm_momentum_decays_with_the_pose_models(streams):
    # VideoPose3D decays both models' BatchNorm momentum; the trajectory model once kept 0.1
    labelled, _ = streams
    cfg = _cfg(epochs=3)
    trainer = train.Trainer(
        cfg, labelled, objective=objectives.PoseTrajectory(cfg, seed=0), progress=False
    )
    trainer.fit()
    final = trainer.history.epochs[-1].bn_momentum
    assert final == pytest.approx(cfg.bn_momentum[1])
    for net in (trainer.model, trainer.objective.trajectory):
        bns = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        assert bns and all(bn.momentum == pytest.approx(final) for bn in bns)
