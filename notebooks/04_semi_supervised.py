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
# **What you will learn.** How a lifting model can learn from video it has no 3D for: a second
# network, the *trajectory model*, predicts where the subject's root is in camera space; pose plus
# trajectory, projected through the camera's intrinsics and lens distortion, must land on the 2D
# detections. Why the trajectory loss is divided by depth. And whether, on this data, unlabelled
# 2D actually helps, decided per amount of labelled data by seeds and 95 % intervals.
#
# **The scheme** (`dilpose.objectives.SemiSupervised`, VideoPose3D's, with the paper's Eq. (1)):
# - labelled windows: pose MPJPE + Eq. (1) for the trajectory (MPJPE of the root weighted by
#   1 / true depth);
# - after a few supervised warm-up epochs, unlabelled windows too: the 2D reprojection error of
#   pose + trajectory through the window's camera, and a bone-length term that keeps the unlabelled
#   predictions' mean bone lengths equal to the labelled ones' (otherwise a skeleton could shrink
#   along the viewing ray and still reproject well). Both streams are flip-augmented.
#
# **The sweep.** Labelled: 1 training subject, 2, half the training frames, all; the other
# training subjects' 2D (no 3D) is the unlabelled stream. Each point trains both arms with the same
# seeds and the same number of updates. The model is the 27-frame one (128 channels), as in
# notebook 03: 14 models, half of them running two networks on two batches a step, must train
# within the notebook's 25 minutes. **Every number is measured on the `mocap` data** (CMU and
# HDM05 motion capture through Human3.6M's cameras, simulated detector noise), not Human3.6M.
#
# *Motion data: mocap.cs.cmu.edu (NSF EIA-0196217) and HDM05 (Müller et al., Technical report
# CG-2007-2, Universität Bonn, 2007; CC BY-SA 3.0).*

# %% tags=["parameters"]
profile = "default"      # "smoke" (CI, seconds), "default" (a laptop CPU, minutes),
                         # "paper" (GPU, hours)
dataset = "mocap"        # or "h36m" with VideoPose3D's npz files in data/
seed = 0
seeds = [0, 1]           # every arm at every point is trained with each of these seeds

# %%
# NBVAL_CHECK_OUTPUT
from IPython.display import Markdown

from dilpose import config, report, viz, viz_plots
from dilpose import datasets as ds
from dilpose.studies import s04_semi as study

cfg = config.for_notebook("04", profile, dataset=dataset, seed=seed)
semi = config.SEMI_SUPERVISED[profile]
points = study.SWEEP_POINTS[profile]  # how much of the training set is labelled
print(cfg)
print(semi)

# %% [markdown]
# ## 1. Which subjects are labelled
# Training subjects become labelled in a fixed order: the largest first, alternating between the
# two motion-capture sources, so that even one labelled subject is a real training set. Everything
# not labelled at a point is its unlabelled stream (2D and camera only).

# %%
data = ds.load(cfg.dataset, seed=cfg.seed, noise=cfg.noise, source_2d=cfg.h36m_2d_source)
sets = study.labelled_sets(data, points)
for point, subjects in sets.items():
    frames = study.frames_of(data, subjects)
    print(f"{point:>10}: {frames:6d} labelled frames  {', '.join(subjects)}")

# %% [markdown]
# ## 2. Train both arms at every point
# Each model is trained (or loaded from the model cache). Before training, the unlabelled stream
# is checked against the labelled one (`objectives.check_unlabelled`): a joint order or camera that
# does not fit is an error, not a silently wrong reprojection loss.

# %%
sweep = study.run(cfg, data, semi, points, seeds)

# %% [markdown]
# ## 3. What the decoder sees
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
# ## 4. The sweep
# Per point and arm: labelled and unlabelled frames; MPJPE over all test frames with its 95 %
# interval (over seeds and test sequences); P-MPJPE and N-MPJPE (mean over seeds); the trajectory's
# error (mean distance of the predicted root from the true one) and its root-depth error, in mm.

# %%
rows = study.sweep_rows(sweep, data)
study.sweep_table(rows)

# %%
fig = viz_plots.sweep_figure(rows, (study.SUPERVISED, study.SEMI))
_ = report.save_figure(fig, "04_sweep")

# %% [markdown]
# ## 5. Verdicts
# Semi-supervised minus supervised at each point, over all test frames, paired over test sequences
# and seeds; an interval containing 0 is "no clear difference".

# %%
comparisons = study.comparisons(sweep)
verdicts = study.verdict_lines(comparisons)
for line in verdicts:
    print(line)

# %%
claim = study.claim(comparisons)
Markdown(
    "**Does unlabelled 2D help here?** "
    + (f"Clearly at: {', '.join(claim['helps_at'])} labelled. " if claim["helps_at"] else
       "At no point of the sweep is the semi-supervised model clearly better. ")
    + (f"Clearly worse at: {', '.join(claim['hurts_at'])}. " if claim["hurts_at"] else "")
    + (f"No clear difference at: {', '.join(claim['unclear_at'])}." if claim["unclear_at"] else "")
)

# %% [markdown]
# ## 6. Beside VideoPose3D's published numbers
# VideoPose3D introduced this scheme ("back-projection") and measured it on Human3.6M.

# %%
print(study.PUBLISHED_NOTE)

# %% [markdown]
# ## What you learned
# - A trajectory model turns a root-relative pose into a camera-space one, and that is what a
#   camera can project: the decoder needs intrinsics *and* distortion of the clip's own camera,
#   which is why a wrong camera or joint order must be an error, not a quiet bad loss.
# - Eq. (1) divides the trajectory error by depth: the same 10 cm error matters half as much at
#   twice the distance, where the image holds half the evidence.
# - Whether unlabelled 2D helps is a measurement per amount of labelled data, with intervals; read
#   the verdicts above for this run.
#
# ## Try this
# - `semi = config.SemiSupervisedConfig(bone_weight=0)`: without the bone-length term, do the
#   unlabelled subjects' skeletons drift in size (look at N-MPJPE against MPJPE)?
# - More seeds (`seeds = [0, 1, 2]`, about 8 more minutes) narrow the intervals.

# %%
# NBVAL_CHECK_OUTPUT
path = report.save_metrics(
    "04_semi_supervised",
    study.metrics_json(sweep, rows, comparisons, verdicts, semi, data),
    cfg,
)
print(path.name, sorted(report.load_metrics("04_semi_supervised")))
