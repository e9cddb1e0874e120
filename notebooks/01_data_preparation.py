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
# # 01 · Data preparation
# > Paper §III–IV: 2D keypoints (17 COCO joints = 12 body + 5 facial) from a detector are lifted to
# > 3D (17 Human3.6M joints), video at 50 Hz, cameras calibrated.
# > Writes: `reports/metrics/01_data.json`, `reports/figures/01_*.png|html`.
#
# **What data this notebook uses.** Human3.6M, HumanEva-I and the paper's HRI-I cannot be downloaded
# here. By default the series runs on an *embedded* dataset, `mocap`: **real motion capture** from
# two databases, 391 clips of 15 people (about 53,000 frames at 50 Hz):
# - **CMU** (103 clips, 10 subjects: walking, running, jumps, warm-up exercises, basketball and
#   soccer, ballet), `data/cmu_mocap_3d.npz`;
# - **HDM05** (288 short clips, 5 actors: squats, reaching up, putting things on the floor, lying
#   down, kicks, hops, jogging, sneaking, arm circles, basketball throws),
#   `data/hdm05_mocap_3d.npz`.
#
# dilpose's own BVH importer converts every clip to the 17 Human3.6M joints plus 5 face points at
# 50 Hz, places it in the Human3.6M capture volume and films it with the **real calibrated
# Human3.6M cameras**. The 2D inputs are these projections corrupted by a seeded detector-noise
# model (jitter, low-confidence outliers, missed joints, left/right swaps). Numbers computed on it
# are labelled `mocap`; they are **not** Human3.6M numbers.
#
# With VideoPose3D's `data_3d_h36m.npz` and `data_2d_h36m_<source>.npz` in `data/`, set
# `dataset = "h36m"` to run the series on Human3.6M itself.
#
# *The data used in this project was obtained from mocap.cs.cmu.edu. The database was created with
# funding from NSF EIA-0196217.*
# *The data used in this project was obtained from HDM05. M. Müller, T. Röder, M. Clausen,
# B. Eberhardt, B. Krüger, A. Weber: Documentation Mocap Database HDM05. Technical report CG-2007-2,
# Universität Bonn, June 2007. The HDM05 part (`data/hdm05_mocap_3d.npz`) is licensed under
# CC BY-SA 3.0.*

# %% tags=["parameters"]
profile = "default"      # "smoke" (CI, seconds), "default" (a laptop CPU, minutes),
                         # "paper" (GPU, hours)
dataset = "mocap"        # or "h36m" with VideoPose3D's npz files in data/
seed = 0

# %%
# NBVAL_CHECK_OUTPUT
from dilpose import config, report, viz
from dilpose import dataset as ds
from dilpose import skeleton as sk
from dilpose.studies import s01_data as study

cfg = config.for_notebook("01", profile, dataset=dataset, seed=seed)
print(cfg)

# %% [markdown]
# ## 1. Load the dataset
# 3D ground truth is in world metres (Z up); 2D inputs in pixels, one array per camera. Missed
# detections are filled by linear interpolation over time (and counted, never silently).

# %%
# NBVAL_CHECK_OUTPUT
data = ds.load(cfg.dataset, seed=cfg.seed, noise=cfg.noise, source_2d=cfg.h36m_2d_source)
print(f"{data.name}: {len(data.subjects)} subjects, "
      f"{sum(len(data.actions(s)) for s in data.subjects)} sequences x 4 cameras, {data.fps:g} Hz")
print("train:", data.train_subjects, " test:", data.test_subjects)

# %% [markdown]
# ## 2. Skeletons
# The model reads **COCO-17** 2D keypoints (what detectors output) and predicts **H36M-17** 3D
# joints (the evaluation layout). Joint numbers follow each layout's order (also listed in the
# README).

# %%
subject, action = study.example_clip(data)  # the test clip nearest to 6 s long
frame = 50
pose = data.positions_3d[subject][action]
coco = ds.coco_pose_3d(data, subject, action)  # None where the dataset has no face points
fig = viz.skeleton_diagrams(pose[frame], coco[frame] if coco is not None else None)
_ = report.save_figure(fig, "01_skeletons")

# %%
# NBVAL_CHECK_OUTPUT
for layout in (sk.H36M17, sk.COCO17):
    print(f"{layout.name}: " + ", ".join(f"{j} {n}" for j, n in enumerate(layout.joint_names)))

# %% [markdown]
# ## 3. Cameras
# Human3.6M's four calibrated cameras (intrinsics with radial and tangential distortion, extrinsics
# per subject). Each of our 15 subjects is filmed by the cameras of one of the seven Human3.6M
# subjects, in turn (sorted subjects take S1, S5, S6, S7, S8, S9, S11, S1, ...).

# %%
cams = data.cameras[subject]
study.camera_table(cams)

# %%
fig = viz.camera_layout(cams, pose[frame])
_ = report.save_figure(fig, "01_camera_layout")

# %% [markdown]
# ## 4. One clip in the four views, clean and as a detector sees it
# Top: the exact projection (full image). Bottom: the detector-noise model's output over the faint
# clean pose, zoomed on the person.

# %%
views = ds.example_views(data, subject, action)
fig = viz.multi_view(views, frame, title=f"{data.name} · {subject} · {action} · frame {frame}")
_ = report.save_figure(fig, "01_four_views")

# %% [markdown]
# ## 5. How much data, and what bodies
# Where the frames come from, and under what terms: the two sources are kept in separate files
# because their licences differ.

# %%
# NBVAL_CHECK_OUTPUT
study.sources_table(data)

# %% [markdown]
# Frames (50 Hz) per subject and action category. CMU's six categories are joined by two that
# HDM05 brings, *reach* (grabbing high) and *floor* (putting an object down, lying down); the
# table that maps each manifest's labels to them is `dilpose.default_data.CMU_CATEGORY` and
# `HDM05_CATEGORY`.

# %%
# NBVAL_CHECK_OUTPUT
study.frames_table(data)

# %% [markdown]
# **The split** holds out whole people, by a rule written down before looking at any result (it is
# recorded in the data files): dance is performed by one person only (CMU 05), so it can only be
# trained on; every other tested category is also trained on by someone else; and among the splits
# that test a fifth to a quarter of the frames, the chosen one tests the most categories and the
# most frames in clips longer than the main model's 243-frame window.

# %%
print(data.info.get("split_rule", "the dataset's own protocol"))

# %% [markdown]
# The test clips longer than 243 frames: only on these does the 243-frame model see real motion
# across its whole window rather than a padded edge.

# %%
# NBVAL_CHECK_OUTPUT
study.long_test_clips(data)

# %% [markdown]
# Median bone lengths per subject (mm): every subject has their own calibrated skeleton, so bone
# lengths differ.

# %%
study.bone_length_table(data)

# %% [markdown]
# ## 6. Detector noise, per joint
# Mean 2D error (pixels) of detected joints against the clean projection; the max includes the
# left/right swaps and outliers.

# %%
metrics = study.data_metrics(data)
stats = metrics["info"].get("noise_stats")
if stats:
    print(f"mean {stats['mean_error_px']:.2f} px, max {stats['max_error_px']:.1f} px; "
          f"outliers {100 * stats['outlier_fraction']:.2f} %, "
          f"missed {100 * stats['missing_fraction']:.2f} %, "
          f"swapped {100 * stats['swapped_fraction']:.2f} % of joint detections")
    display(study.noise_table(stats))

# %% [markdown]
# ## 7. Interactive 3D skeleton
# Drag to rotate; press play or move the slider.

# %%
fig = viz.plotly_skeleton(pose, sk.H36M17, fps=data.fps, step=4,
                          title=f"{subject} · {action} (3D ground truth)")
_ = report.save_figure(fig, "01_skeleton_3d")
fig

# %% [markdown]
# ## 8. Write the metrics

# %%
# NBVAL_CHECK_OUTPUT
path = report.save_metrics("01_data", metrics, cfg)
print(path.name)
print(f"{metrics['clips']} clips, {len(metrics['subjects'])} subjects, "
      f"{metrics['total_frames']} frames at {data.fps:g} Hz; "
      f"{metrics['train_frames'] / metrics['total_frames']:.1%} of the frames train; "
      f"test categories: {', '.join(metrics['test_categories'])}")
