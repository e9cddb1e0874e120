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
from dilpose.studies import s04_semi as s04


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


# --------------------------------------------------------------------------------------------------
# Confidence-weighted reprojection (an option; VideoPose3D's reprojection is unweighted)
# --------------------------------------------------------------------------------------------------
def _scored(seqs, seed=0):
    """The sequences with random detector scores in [0, 1], a tenth of them 0 (missed joints)."""
    rng = np.random.default_rng(seed)
    out = []
    for s in seqs:
        conf = rng.uniform(0.2, 1.0, s.scores.shape) * (rng.uniform(size=s.scores.shape) > 0.1)
        out.append(dataclasses.replace(s, scores=conf.astype(np.float32)))
    return out


@pytest.mark.parametrize("R, L, causal", [(9, 1, False), (27, 1, True), (5, 10, False)])
def test_batches_carry_the_scores_of_the_output_frames_only_when_asked(streams, R, L, causal):
    seqs = _scored(streams[0][:3])
    kw = dict(batch_size=32, receptive_field=R, chunk_length=L, causal=causal, seed=3)
    plain = batches.WindowBatches(seqs, **kw)
    scored = batches.WindowBatches(seqs, **kw, scores=True)
    unlabelled = batches.WindowBatches(seqs, **kw, scores=True, labelled=False)
    perm = sk.COCO17.flip_permutation()
    for b0, b1, b2 in zip(plain.epoch(1), scored.epoch(1), unlabelled.epoch(1)):
        assert b0.scores is None  # and the other fields are the batches of a stream without them
        for f in ("inputs", "targets", "trajectory", "intrinsics", "flipped"):
            np.testing.assert_array_equal(getattr(b0, f), getattr(b1, f))
        np.testing.assert_array_equal(b1.scores, b2.scores)
        assert b1.scores.shape == (len(b1.inputs), L, 17)
        for k in range(len(b1.inputs)):
            # the window's clip and first output frame, by its root trajectory
            i, start = next(
                (i, t)
                for i, s in enumerate(seqs)
                for t in range(0, len(s), L)
                if np.allclose(np.abs(b1.trajectory[k, 0, 0]), np.abs(s.positions_3d[t, 0]))
            )
            rows = np.minimum(np.arange(start, start + L), len(seqs[i]) - 1)
            want = seqs[i].scores[rows]
            np.testing.assert_array_equal(b1.scores[k], want[:, perm] if b1.flipped[k] else want)


def test_scores_that_do_not_fit_the_keypoints_are_refused(streams):
    seq = streams[0][0]
    bad = [
        (dataclasses.replace(seq, scores=seq.scores[:, :15]), "detector scores have shape"),
        (dataclasses.replace(seq, scores=seq.scores * 2 + 0.5), r"lie in \[0, 1\]"),
        (dataclasses.replace(seq, scores=None), "no detector scores"),
    ]
    for s, message in bad:
        with pytest.raises(DataError, match=f"{seq.subject}/{seq.action}.*{message}"):
            batches.WindowBatches([s], 16, 9, scores=True)
        batches.WindowBatches([s], 16, 9)  # not asked for: not read


def _reprojection_case(seed=0, B=4, L=3):
    g = torch.Generator().manual_seed(seed)
    pose = 0.3 * torch.randn(B, L, 17, 3, generator=g, dtype=torch.float64)
    traj = torch.tensor([0.1, -0.2, 4.0], dtype=torch.float64) + 0.1 * torch.randn(
        B, L, 1, 3, generator=g, dtype=torch.float64
    )
    k = torch.tensor(
        [[1.1, 1.1, 0.01, -0.02, 0.1, -0.05, 0.01, 0.001, -0.001]], dtype=torch.float64
    )
    target = 0.05 * torch.randn(B, L, 17, 2, generator=g, dtype=torch.float64)
    target += objectives.reproject(pose, traj, k.expand(B, 9))  # near the reprojection
    w = torch.rand(B, L, 17, generator=g, dtype=torch.float64)
    return pose, traj, k.expand(B, 9), target, w


def test_weighted_reprojection_is_the_weighted_mean_distance_over_shared_joints():
    pose, traj, k, target, w = _reprojection_case()
    idx_2d, idx_3d = objectives.reprojection_joints(sk.COCO17)
    got = objectives.reprojection_error(pose, traj, k, target, sk.COCO17, w)
    proj = objectives.reproject(pose, traj, k).numpy()[..., list(idx_3d), :]
    dist = np.linalg.norm(proj - target.numpy()[..., list(idx_2d), :], axis=-1)
    ww = w.numpy()[..., list(idx_2d)]
    assert float(got) == pytest.approx(float((ww * dist).sum() / ww.sum()), rel=1e-12)
    # all-ones weights: the unweighted loss
    ones = objectives.reprojection_error(pose, traj, k, target, sk.COCO17, torch.ones_like(w))
    plain = objectives.reprojection_error(pose, traj, k, target, sk.COCO17)
    assert float(ones) == pytest.approx(float(plain), rel=1e-12)
    # weights on COCO's face points (no H36M twin) change nothing
    face = w.clone()
    face[..., :5] = 7.0
    assert float(objectives.reprojection_error(pose, traj, k, target, sk.COCO17, face)) == (
        pytest.approx(float(got), rel=1e-12)
    )


def test_a_joint_of_weight_zero_has_no_influence_on_the_loss_or_its_gradient():
    pose, traj, k, target, w = _reprojection_case(seed=1)
    j = 9  # COCO's left wrist
    w[..., j] = 0
    moved = target.clone()
    moved[..., j, :] += 0.5  # the detection of that joint far away
    pose.requires_grad_(True)
    a = objectives.reprojection_error(pose, traj, k, target, sk.COCO17, w)
    (ga,) = torch.autograd.grad(a, pose)
    b = objectives.reprojection_error(pose, traj, k, moved, sk.COCO17, w)
    (gb,) = torch.autograd.grad(b, pose)
    assert float(a.detach()) == float(b.detach()) and torch.equal(ga, gb)
    # with its weight back, the far detection raises the loss
    w[..., j] = 1
    far = objectives.reprojection_error(pose, traj, k, moved, sk.COCO17, w)
    assert float(far.detach()) > float(a.detach())
    # every weight 0: a loss of 0, not NaN
    zero = objectives.reprojection_error(pose, traj, k, target, sk.COCO17, torch.zeros_like(w))
    assert float(zero.detach()) == 0.0


def test_confidence_weighting_is_off_by_default_and_on_trains_with_the_scores(streams):
    labelled, unlabelled = streams
    assert config.SemiSupervisedConfig().confidence_weighted is False
    cfg = _cfg(epochs=1)
    on = config.SemiSupervisedConfig(warmup_epochs=0, confidence_weighted=True)
    objective = objectives.SemiSupervised.from_config(
        cfg.replace(in_joints=17), sk.COCO17, on, seed=cfg.seed
    )
    assert objective.needs_scores and objective.params()["confidence_weighted"] is True

    def fit(objective, unl):
        trainer = train.Trainer(cfg, labelled, objective=objective, unlabelled=unl, progress=False)
        first = next(iter(trainer.batches.epoch(0)))
        trainer.fit()
        return first.unlabelled.scores, trainer.model.state_dict()

    scores, default = fit(_semi(cfg, warmup_epochs=0), unlabelled)
    assert scores is None  # the default stream carries no scores: the batches it always built
    ones = [dataclasses.replace(s, scores=np.ones_like(s.scores)) for s in unlabelled]
    scores, weighted_ones = fit(_semi(cfg, warmup_epochs=0, confidence_weighted=True), ones)
    assert scores is not None and (scores == 1).all()
    # all-ones confidence trains the unweighted model (up to the rounding of sum / n vs mean)
    assert all(torch.allclose(default[k], weighted_ones[k], atol=1e-4) for k in default)
    real = _scored(unlabelled)
    scores, weighted = fit(_semi(cfg, warmup_epochs=0, confidence_weighted=True), real)
    assert (scores == 0).any() and (scores < 1).all()
    assert not torch.allclose(default["expand.conv.weight"], weighted["expand.conv.weight"])
    with pytest.raises(Exception, match="confidence_weighted must be True or False"):
        config.SemiSupervisedConfig(confidence_weighted=1)


# --------------------------------------------------------------------------------------------------
# The study: labelled sets from one source, test errors per source, the family and Holm
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mocap():
    return datasets.load("mocap", seed=0)


def test_labelled_sets_come_from_one_source_largest_first(mocap):
    points = ("1 subject", "2 subjects", "1 source", "all")
    sets = s04.labelled_sets(mocap, points)
    assert s04.labelled_source(mocap) == "cmu"
    cmu = [s for s in mocap.train_subjects if s.startswith("cmu")]
    by_size = sorted(cmu, key=lambda s: -s04.frames_of(mocap, [s]))
    assert sets["1 subject"] == by_size[:1] == ["cmu16"]  # not HDM05's largest person any more
    assert sets["2 subjects"] == by_size[:2]
    assert sorted(sets["1 source"]) == sorted(cmu)
    assert sorted(sets["all"]) == sorted(mocap.train_subjects)
    for point in points[:-1]:  # every set but the reference is one source's people
        assert {s04.source_of(s) for s in sets[point]} == {"cmu"}
        arms = s04.arms_at(sets[point], mocap, config.SemiSupervisedConfig(), True)
        assert set(arms) == {s04.SUPERVISED, s04.SEMI, s04.SEMI_CONF}
        assert arms[s04.SEMI_CONF].confidence_weighted and not arms[s04.SEMI].confidence_weighted
    # the unlabelled stream of "1 source" is HDM05's training people; "all" has none
    rest = [s for s in mocap.train_subjects if s not in sets["1 source"]]
    assert rest and all(s.startswith("hdm") for s in rest)
    assert set(s04.arms_at(sets["all"], mocap, config.SemiSupervisedConfig(), True)) == {
        s04.SUPERVISED
    }
    assert s04.test_sources(mocap) == {
        "cmu": [s for s in mocap.test_subjects if s.startswith("cmu")],
        "hdm": [s for s in mocap.test_subjects if s.startswith("hdm")],
    }
    with pytest.raises(ValueError, match="unknown sweep point 'half'"):
        s04.labelled_sets(mocap, ("half",))
    # the skeleton conventions the choice avoids mixing: HDM05's long hip-spine bone
    table = s04.convention_table(mocap)
    assert table.loc["cmu16", "hip-spine mm"] < 255 < table.loc["hdm_bk", "hip-spine mm"]


def test_a_single_source_dataset_labels_its_own_people(data):
    # the test fixture's subjects are all CMU training people: "1 source" is then all of them
    sets = s04.labelled_sets(data, ("1 subject", "1 source", "all"))
    assert list(sets) == ["1 subject", "1 source"]  # "all" labels the same people: dropped
    assert s04.seeds_for("smoke", [0, 1, 2]) == [0, 1]  # the smoke profile keeps two
    assert s04.seeds_for("default", [0, 1, 2]) == [0, 1, 2]


def _fake_runs(arm, seeds, shift, rng):
    """Runs of one arm on a made-up test set: 3 CMU people and 1 HDM05 person, 3-4 clips of 2
    views each; the arm's error is a shared difficulty plus ``shift[source]`` plus noise."""
    units = [
        (s, f"act{a}", c) for s in ("cmu01", "cmu06", "cmu09") for a in range(3) for c in (0, 1)
    ]
    units += [("hdm_mm", f"act{a}", c) for a in range(4) for c in (0, 1)]
    base = {u: 90 + 10 * np.sin(k) for k, u in enumerate(units)}
    runs = []
    for seed in seeds:
        errors = {u: base[u] + shift[u[0][:3]] + rng.normal(0, 0.3) for u in units}
        rows = [
            {"subject": s, "action": a, "camera": c, "frames": 100 + 10 * c} for s, a, c in units
        ]
        results = {
            "per_sequence": [{**r, "mpjpe_mm": errors[u]} for r, u in zip(rows, units)],
            "trajectory": [
                {**r, "trajectory_mm": 2 * errors[u], "depth_mm": errors[u]}
                for r, u in zip(rows, units)
            ],
            **{
                m: {"frame_mean": float(np.mean(list(errors.values())))}
                for m in ("mpjpe", "p_mpjpe", "n_mpjpe")
            },
            "protocol": "made up",
        }
        cfg = config.for_profile("smoke", seed=seed)
        runs.append(s04.RunResult(arm, cfg, [], results, 1.0, 10, None))
    return runs


def test_per_source_comparisons_holm_and_the_verdict_wording():
    rng = np.random.default_rng(0)
    seeds = [0, 1, 2]
    sup = _fake_runs(s04.SUPERVISED, seeds, {"cmu": 0.0, "hdm": 0.0}, rng)
    semi = _fake_runs(s04.SEMI, seeds, {"cmu": -6.0, "hdm": 6.0}, rng)  # helps CMU, hurts HDM05
    conf = _fake_runs(s04.SEMI_CONF, seeds, {"cmu": -6.0, "hdm": 6.0}, rng)
    sweep = {"1 subject": {s04.SUPERVISED: sup, s04.SEMI: semi, s04.SEMI_CONF: conf}}
    comps = s04.comparisons(sweep)
    c = comps["1 subject"]
    by = c["mpjpe_by_source"]
    assert by["cmu"]["diff"] == pytest.approx(-6.0, abs=0.5) and by["cmu"]["word"] == "A better"
    assert by["hdm"]["diff"] == pytest.approx(6.0, abs=0.5) and by["hdm"]["word"] == "B better"
    assert by["cmu"]["n_subjects"] == 3 and by["hdm"]["n_subjects"] == 1
    assert by["hdm"]["cluster"] == "clip"
    # every stored verdict is the full record: interval, margin, counts and power line
    for rec in (
        c["mpjpe"],
        c["trajectory_mm"],
        c["depth_mm"],
        c["confidence_weighted"],
        *by.values(),
    ):
        assert rec["margin"] == s04.MARGIN_MM and rec["lo"] <= rec["diff"] <= rec["hi"]
        assert rec["power_line"].startswith("could detect") and rec["n_seeds"] == 3
    assert c["confidence_weighted"]["name_a"] == s04.SEMI_CONF
    assert c["confidence_weighted"]["word"] in ("equivalent", "inconclusive")
    holm = s04.holm(comps)
    assert holm["family"] == [
        f"1 subject: {s04.SEMI} vs {s04.SUPERVISED}",
        f"1 subject: {s04.SEMI_CONF} vs {s04.SEMI}",
    ]
    assert holm["description"] == s04.FAMILY
    lines = s04.verdict_lines(comps) + s04.holm_lines(holm)
    text = "\n".join(lines) + s04.claim_text(s04.claim(comps, holm))
    for banned in ("no clear difference", "does not help", "level", "the same"):
        assert banned not in text
    assert "one person" in text and "could detect" in text
    claim = s04.claim(comps, holm)
    assert (
        sum(len(claim[k]) for k in ("helps_at", "hurts_at", "equivalent_at", "inconclusive_at"))
        == 1
    )


def test_sweep_rows_report_each_test_source(mocap):
    rng = np.random.default_rng(1)
    sweep = {
        "1 subject": {
            s04.SUPERVISED: _fake_runs(s04.SUPERVISED, [0, 1], {"cmu": 0.0, "hdm": 3.0}, rng),
            s04.SEMI: _fake_runs(s04.SEMI, [0, 1], {"cmu": 1.0, "hdm": 0.0}, rng),
        }
    }
    rows = s04.sweep_rows(sweep, mocap)
    assert [r["labelled_subjects"] for r in rows] == [["cmu16"], ["cmu16"]]
    assert rows[0]["unlabelled_frames"] == 0 < rows[1]["unlabelled_frames"]
    sup = rows[0]["mpjpe_by_source_mm"]
    assert set(sup) == {"cmu", "hdm"}
    assert sup["hdm"]["mean"] - sup["cmu"]["mean"] == pytest.approx(
        rows[1]["mpjpe_by_source_mm"]["hdm"]["mean"]
        - rows[1]["mpjpe_by_source_mm"]["cmu"]["mean"]
        + 4.0,
        abs=0.5,
    )
    table = s04.sweep_table(rows)
    assert {"MPJPE CMU test", "MPJPE HDM05 test"} <= set(table.columns)
