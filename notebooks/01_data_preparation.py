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
# here. By default the series runs on an *embedded* dataset: **real CMU motion capture** (33 clips,
# 7 subjects: walking, running, jumps, exercise, sport, dance), converted by dilpose's own BVH
# importer to the 17 Human3.6M joints plus 5 face points at 50 Hz, placed in the Human3.6M capture
# volume and filmed by the **real calibrated Human3.6M cameras**. The 2D inputs are these
# projections corrupted by a seeded detector-noise model (jitter, low-confidence outliers, missed
# joints, left/right swaps). Numbers computed on it are labelled `cmu`; they are **not** Human3.6M
# numbers.
#
# With VideoPose3D's `data_3d_h36m.npz` and `data_2d_h36m_<source>.npz` in `data/`, set
# `dataset = "h36m"` to run the series on Human3.6M itself.
#
# *The data used in this project was obtained from mocap.cs.cmu.edu. The database was created with
# funding from NSF EIA-0196217.*

# %% tags=["parameters"]
profile = "default"      # "smoke" (CI, seconds), "default" (a laptop CPU, minutes),
                         # "paper" (GPU, hours)
dataset = "cmu"          # or "h36m" with VideoPose3D's npz files in data/
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
subject, action = data.subjects[-1], data.actions(data.subjects[-1])[0]
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
# per subject). Each CMU subject is filmed by the cameras of one Human3.6M subject.

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
# Frames (50 Hz) per subject and action category; median bone lengths per subject (mm): every CMU
# subject has their own calibrated skeleton, so bone lengths differ.

# %%
# NBVAL_CHECK_OUTPUT
study.frames_table(data)

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
print({s: v["frames"] for s, v in metrics["subjects"].items()}, metrics["total_frames"])
