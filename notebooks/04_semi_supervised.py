# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Semi-supervised training from unlabelled 2D, with a trajectory model and Eq. (1)
# > Paper (§III, after Fig. 4; after VideoPose3D): labelled 3D is scarce, so unlabelled videos
# > supervise the model through 2D–3D consistency: an encoder lifts 2D to 3D, a decoder projects
# > the 3D back to 2D, and the projection must match the 2D detections. The subject's trajectory is
# > trained with Eq. (1), $L = \frac{1}{y_z}\|f(x) - y\|$, so that far subjects do not dominate.
# > Writes: `reports/metrics/04_semi_supervised.json`, `reports/figures/04_*.png`.
#
# **What you will learn.**
# - How a lifting model can learn from video it has no 3D for: a second network, the *trajectory
#   model*, predicts where the subject's root is in camera space; pose plus trajectory, projected
#   through the camera's intrinsics and lens distortion, must land on the 2D detections. You will
#   compute that reprojection by hand for **one predicted window** and check it against the
#   library's differentiable version that the training loss calls.
# - Why the trajectory loss is divided by depth: Eq. (1) evaluated by hand for the same error at
#   two depths, beside the library's loss.
# - Whether, on this data, unlabelled 2D actually helps, decided per amount of labelled data by
#   three seeds, 95 % intervals, an equivalence margin stated in advance and a correction for
#   reading several comparisons at once.
# - Why *which* people are labelled matters as much as how many: the two motion-capture sources
#   mark the body differently, and the bone-length term carries the labelled people's convention
#   over to the unlabelled ones.
#
# **The scheme** (`dilpose.objectives.SemiSupervised`, VideoPose3D's, with the paper's Eq. (1)):
# - labelled windows: pose MPJPE + Eq. (1) for the trajectory (MPJPE of the root weighted by
#   1 / true depth);
# - after a few supervised warm-up epochs, unlabelled windows too: the 2D reprojection error of
#   pose + trajectory through the window's camera, and a bone-length term that keeps the unlabelled
#   predictions' mean bone lengths equal to the labelled ones' (otherwise a skeleton could shrink
#   along the viewing ray and still reproject well). Both streams are flip-augmented.
# - an option beyond VideoPose3D (whose reprojection is unweighted): weight each joint's
#   reprojection distance by the detector's confidence in that 2D joint,
#   `SemiSupervisedConfig(confidence_weighted=True)`, so that a missed or doubtful detection pulls
#   less (section 4.3). It is trained as a third arm at one point.
#
# **The sweep.** Labelled: the largest CMU training subject ("1 subject"), every CMU training
# subject ("1 source") and, as the supervised reference, every training subject ("all"); at each
# point every other training subject's 2D (no 3D) is the unlabelled stream. Each point trains its
# arms with the same three seeds and the same number of updates. The default profile drops two
# earlier points ("2 subjects", which labels nearly as many frames as "1 source", and "half",
# which cannot be drawn from CMU alone) so that three seeds fit: 6 arms x 3 seeds = 18 models of
# the 27-frame, 128-channel model (as in notebook 03), about 45-65 s each on 2 CPU cores and 75-90 s
# for the semi-supervised ones (two networks on two batches a step): about 25 minutes.
# **Every number is measured on the `mocap` data** (CMU and HDM05 motion capture through
# Human3.6M's cameras, simulated detector noise), not Human3.6M.
#
# *Motion data: mocap.cs.cmu.edu (NSF EIA-0196217) and HDM05 (Müller et al., Technical report
# CG-2007-2, Universität Bonn, 2007; CC BY-SA 3.0).*

# %% tags=["parameters"]
profile = "default"      # "smoke" (CI, seconds), "default" (a laptop CPU, minutes),
                         # "paper" (GPU, hours)
dataset = "mocap"        # or "h36m" with VideoPose3D's npz files in data/
seed = 0
seeds = [0, 1, 2]        # every arm at every point is trained with each of these seeds

# %%
# NBVAL_CHECK_OUTPUT
import numpy as np
import torch
from IPython.display import Markdown

from dilpose import camera, config, objectives, report, viz, viz_plots
from dilpose import datasets as ds
from dilpose.studies import s04_semi as study

cfg = config.for_notebook("04", profile, dataset=dataset, seed=seed)
semi = config.SEMI_SUPERVISED[profile]
points = study.SWEEP_POINTS[profile]  # how much of the training set is labelled
confidence_points = study.CONFIDENCE_POINTS[profile]  # where the confidence-weighted arm trains
seeds = study.seeds_for(profile, seeds)  # all of them, but the first two in the smoke profile
print(cfg)
print(semi, "seeds", seeds)

# %% [markdown]
# ## 1. Which subjects are labelled, and why from one source
# The data has two motion-capture sources whose skeletons are not marked alike: the table gives
# each person's hip-to-spine and spine-to-thorax bones (median 3D length). Three of the four HDM05
# training people have a hip-spine bone of 285-295 mm (the fourth, hdm_bd, 249 mm), every CMU
# person 220-250 mm; four of the five test people are CMU. The bone-length term pulls the
# unlabelled predictions to the *labelled* people's mean bone lengths, so labelling an HDM05 person
# first (as this notebook once did) makes the semi-supervised arm teach the CMU test people HDM05's
# convention: a result about skeleton conventions, not about unlabelled video.

# %%
data = ds.load(cfg.dataset, seed=cfg.seed, noise=cfg.noise, source_2d=cfg.h36m_2d_source)
study.convention_table(data)

# %% [markdown]
# So every labelled set below (but the reference "all") is drawn from one source, CMU, largest
# person first, and everything else in training is the point's unlabelled stream (2D, detector
# scores and camera only). The unlabelled stream still holds HDM05 people, whose predictions the
# bone-length term pulls to CMU lengths; that is the method as VideoPose3D defines it. To make any
# remaining convention effect visible, every test error below is also given per test source:
# on the CMU test people and on the HDM05 test person separately.

# %%
sets = study.labelled_sets(data, points)
for point, subjects in sets.items():
    rest = [s for s in data.train_subjects if s not in subjects]
    print(f"{point:>10}: {study.frames_of(data, subjects):6d} labelled frames {', '.join(subjects)}"
          f"  | unlabelled: {', '.join(rest) or 'none'}")
print("test people by source:", study.test_sources(data))

# %% [markdown]
# ## 2. What will be compared, decided before any result
# - **Margin.** Two arms are called *equivalent* only when the whole 90 % interval of their
#   difference lies within ±2 mm: about 2 % of the 80-100 mm errors of these models, invisible in
#   a drawn pose and about the spread between two seeds of one arm in earlier runs of this
#   notebook (1-4 mm); a semi-supervised gain worth its cost (a second batch through both networks
#   every step) would have to be larger.
#   Otherwise a verdict is "A better by x mm [lo, hi]", "B better ..." or "inconclusive" (the 95 %
#   interval holds 0 and reaches past the margin: either arm may be better by more than 2 mm).
# - **The family.** The conclusions rest on the test MPJPE, semi-supervised minus supervised, at
#   each point with both arms, and on confidence-weighted minus unweighted where that arm trains.
#   These are Holm-adjusted together; per-source, trajectory and depth verdicts are descriptive
#   (unadjusted).
# - **Power.** With five test people (the interval re-draws whole people) the design can detect
#   only differences of several millimetres, however many seeds: each verdict prints its own
#   "could detect" line.

# %%
print(f"margin: ±{study.MARGIN_MM:g} mm; Holm family: {study.FAMILY}")

# %% [markdown]
# ## 3. Train every arm at every point
# Each model is trained (or loaded from the model cache). Before training, the unlabelled stream
# is checked against the labelled one (`objectives.check_unlabelled`): a joint order or camera that
# does not fit is an error, not a silently wrong reprojection loss.

# %%
sweep = study.run(cfg, data, semi, points, seeds, confidence_points)

# %% [markdown]
# ## 4. What the decoder sees
# One frame of an unlabelled clip at the smallest labelled set: the 2D input; each arm's 3D pose
# placed at its predicted trajectory (from above: depth against x, with the truth, which training
# never saw); and each arm's reprojection through the camera over the detections. *Before* is the
# supervised model (what the semi-supervised one is at the end of its warm-up, roughly), *after*
# the semi-supervised one.

# %%
example = study.reprojection_example(sweep, data)
fig = viz.reprojection_figure(example)
_ = report.save_figure(fig, "04_reprojection")

# %% [markdown]
# What to see: the reprojection error in pixels in each title. The semi-supervised model was
# trained to make it small on exactly such clips; whether that also moves its 3D closer to the
# truth is what the sweep below measures.
#
# ### 4.1 The decoder by hand: one predicted window through the camera
# **Why.** The decoder has no weights: it is the camera. The model reads one window of 2D inputs
# (its receptive field, centred on the frame above) and predicts one root-relative pose; the
# trajectory model predicts where the root is in the camera's frame; their sum is a 3D pose in
# camera metres, which the camera projects. The loss works in normalised screen coordinates (the
# image width maps to [-1, 1]), with the camera's 9 normalised intrinsics: focal lengths,
# principal point, radial distortion `k1, k2, k3` and tangential `p1, p2`. Here is that
# projection for the semi-supervised arm's prediction of the frame above, beside
# `objectives.reproject`, the differentiable version the training step calls on every batch.

# %%
arm = "semi-supervised"  # or "supervised"
X = example["arms"][arm]["pose_3d"]  # (17, 3) camera metres: predicted pose + trajectory
cam = data.cameras[example["subject"]][example["camera"]]
f, c, k, p = np.split(cam.intrinsic_vector(), [2, 4, 7])  # normalised units (image width = 2)
xy = X[:, :2] / X[:, 2:]  # the pinhole: divide by depth
r2 = (xy**2).sum(-1, keepdims=True)
radial = 1 + (k * np.concatenate([r2, r2**2, r2**3], -1)).sum(-1, keepdims=True)
uv = f * (xy * (radial + (p * xy).sum(-1, keepdims=True)) + p * r2) + c  # (17, 2) with the lens
X_t = torch.from_numpy(X)[None, None]  # (1 window, 1 frame, 17, 3); the trajectory is already in X
lib = objectives.reproject(X_t, torch.zeros_like(X_t[..., :1, :]), cam.intrinsic_vector()[None])
print(f"depth of the root {X[0, 2]:.2f} m; by hand vs objectives.reproject: "
      f"{np.abs(uv - lib[0, 0].numpy()).max():.1e} (normalised units)")

# %% [markdown]
# The loss compares this projection with the 2D detections of the same frame, over the joints
# both layouts mark (COCO's face points have no H36M twin), as a mean distance:

# %%
px = camera.image_coordinates(uv, cam.res_w, cam.res_h)  # (17, 2) pixels
i2, i3 = map(list, objectives.reprojection_joints(data.layout_2d))  # joints both layouts mark
err_px = np.linalg.norm(px[i3] - example["detections"][i2], axis=-1).mean()
print(f"reprojection error over the {len(i2)} shared joints: {err_px:.1f} px = "
      f"{err_px / (cam.res_w / 2):.4f} in the loss's normalised units (the figure: "
      f"{example['arms'][arm]['error_px']:.1f} px)")

# %% [markdown]
# What to see: the hand-made projection and the library's agree to float rounding, and the error
# over the joints both layouts mark is the one in the figure's title. During training this number,
# averaged over a batch of unlabelled windows, is the reprojection loss: its gradient flows
# through these few lines (division by depth, the lens polynomial) back into both networks.
#
# ### 4.2 Eq. (1): the trajectory's weight, for two depths
# **Why.** The paper prints Eq. (1) as $L = \frac{1}{y_z}\|f(x) - y\|$. The printed text can be
# read either way: as the error weighted by $1/y_z$, or as one over the product of depth and
# error. This notebook reads it as the weight $1/y_z$ (the true root depth) times the error, as
# VideoPose3D does (`w = 1 / inputs_traj[..., 2]` in its training loop). The same 10 cm error
# then costs half as much at twice the depth, where the image holds half the evidence about the
# position.

# %%
# NBVAL_CHECK_OUTPUT
error = 0.10  # metres: the same trajectory error (along the optical axis) ...
for z in (2.5, 5.0):  # ... at two true root depths, metres
    target = torch.tensor([[[[0.0, 0.0, z]]]])  # (1 window, 1 frame, 1 root, xyz) camera metres
    pred = target + torch.tensor([0.0, 0.0, error])  # the prediction, 10 cm too far
    print(f"depth {z} m: weight 1/z = {1 / z:.2f} per metre; Eq. (1) by hand {error / z:.3f}, "
          f"objectives.trajectory_loss {objectives.trajectory_loss(pred, target).item():.3f}")

# %% [markdown]
# What to see: the weight halves when the depth doubles, and the library's loss is exactly the
# hand-made one (it is `metrics.weighted_mpjpe` with `metrics.inverse_depth_weights`). The
# loss is dimensionless (metres of error per metre of depth). Without the weight, the far
# subjects' large, nearly invisible depth errors would dominate the trajectory model's gradient.
#
# ### 4.3 The option: reprojection weighted by the detector's confidence
# **Why.** The 2D input comes from a detector that is sometimes unsure or misses a joint (its
# position is then filled in by interpolation, with confidence 0). The unweighted loss asks the 3D
# to reproject onto such a point as hard as onto a clear one. With `confidence_weighted=True` the
# loss is $\sum_j w_j d_j / \sum_j w_j$ over the shared joints, $w_j$ the detector's confidence and
# $d_j$ the reprojection distance: a joint of confidence 0 has no influence. By hand for the frame
# above, beside the library's loss:

# %%
w = example["scores"][i2]  # confidence of the shared joints in this frame, [0, 1]
d = np.linalg.norm(px[i3] - example["detections"][i2], axis=-1) / (cam.res_w / 2)  # normalised
scores_t = torch.from_numpy(example["scores"])[None, None]  # (1 window, 1 frame, 17)
det_t = torch.from_numpy(camera.normalize_screen_coordinates(example["detections"], cam.res_w,
                                                             cam.res_h))[None, None]
lib_w = objectives.reprojection_error(X_t, torch.zeros_like(X_t[..., :1, :]),
                                      cam.intrinsic_vector()[None], det_t, data.layout_2d, scores_t)
print(f"confidences {np.round(w, 2)}")
print(f"unweighted {d.mean():.4f}; weighted by hand {(w * d).sum() / w.sum():.4f}, "
      f"objectives.reprojection_error {lib_w.item():.4f} (normalised units)")

# %% [markdown]
# What to see: where every joint is detected with similar confidence, the two losses are close;
# a joint with a low score moves the weighted loss less. Whether training with it changes the
# test error is the third arm's comparison in section 6.
#
# ## 5. The sweep
# Per point and arm: labelled and unlabelled frames; MPJPE over all test frames with its 95 %
# interval (over test people, clips and seeds), and the same on the CMU and on the HDM05 test
# people; P-MPJPE and N-MPJPE (mean over seeds); the trajectory's error (mean distance of the
# predicted root from the true one) and its root-depth error, in mm.

# %%
rows = study.sweep_rows(sweep, data)
study.sweep_table(rows)

# %%
fig = viz_plots.sweep_figure(rows, (study.SUPERVISED, study.SEMI))
_ = report.save_figure(fig, "04_sweep")

# %% [markdown]
# ## 6. Verdicts
# Semi-supervised minus supervised at each point (and confidence-weighted minus unweighted where it
# trained), over all test frames, paired over test sequences and seeds, with the margin of section
# 2; then on each test source's people, and for the trajectory. Each MPJPE verdict comes with the
# smallest difference this design could detect.

# %%
comparisons = study.comparisons(sweep, margin=study.MARGIN_MM)
verdicts = study.verdict_lines(comparisons)
for line in verdicts:
    print(line)

# %% [markdown]
# The family of section 2 under Holm's correction: which verdicts flip when the comparisons are
# read together.

# %%
holm = study.holm(comparisons)
for line in study.holm_lines(holm):
    print(line)
claim = study.claim(comparisons, holm)
Markdown(f"**Does unlabelled 2D help here?** Holm-adjusted: {study.claim_text(claim)}")

# %% [markdown]
# ## 7. Beside VideoPose3D's published numbers
# VideoPose3D introduced this scheme ("back-projection") and measured it on Human3.6M.

# %%
print(study.PUBLISHED_NOTE)

# %% [markdown]
# ## What you learned
# - A trajectory model turns a root-relative pose into a camera-space one, and that is what a
#   camera can project: the decoder needs intrinsics *and* distortion of the clip's own camera,
#   which is why a wrong camera or joint order must be an error, not a quiet bad loss.
# - The decoder is the camera: a few lines (divide by depth, the lens polynomial, focal length and
#   principal point) that the loss differentiates through. Reprojecting one predicted window by
#   hand gives the library's numbers to float rounding.
# - Eq. (1), read as the weight 1/z as VideoPose3D does, divides the trajectory error by depth:
#   the same 10 cm error matters half as much at twice the distance, where the image holds half
#   the evidence.
# - Whether unlabelled 2D helps is a measurement per amount of labelled data, with intervals, a
#   margin stated in advance and a correction for the family of comparisons; read the verdicts
#   above for this run. Scale: 128 channels, 27 frames, 40 epochs, simulated detector noise on
#   about 40,000 training frames of motion capture; not tested: VideoPose3D's 1024 channels and
#   243 frames, real detections, or labelled sets as small as its 0.1 % of one subject.
# - Which people are labelled is part of the experiment: with sources that mark the body
#   differently, the bone-length term carries the labelled people's convention to everybody else.
#
# ## Try this
# - In section 4.1, set `k = np.zeros(3)` and `p = np.zeros(2)` after the line that reads them: the
#   pinhole projection, and how many pixels the lens adds to the reprojection error of this pose.
#   Set `arm = "supervised"` to reproject the model that never saw the unlabelled clip.
# - In section 4.2, try the other reading of Eq. (1), `1 / (z * error)`: the loss would *grow* as
#   the error shrinks, which is why it cannot be what the paper trains with.
# - `semi = config.SemiSupervisedConfig(bone_weight=0)`: without the bone-length term, do the
#   unlabelled subjects' skeletons drift in size (look at N-MPJPE against MPJPE)?
# - More seeds (`seeds = [0, 1, 2, 3, 4]`, about 15 more minutes) shrink the seed part of the
#   intervals; the test-people part stays, so the "could detect" lines shrink less.
# - `confidence_points = ("1 subject", "1 source")` trains the confidence-weighted arm at both
#   points (about 4 more minutes).

# %%
# NBVAL_CHECK_OUTPUT
path = report.save_metrics(
    "04_semi_supervised",
    study.metrics_json(sweep, rows, comparisons, verdicts, semi, data, holm),
    cfg,
)
print(path.name, sorted(report.load_metrics("04_semi_supervised")))
