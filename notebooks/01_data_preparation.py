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
# **What you will learn.**
# - How a motion-capture clip becomes what the model trains on, step by step on **one clip**:
#   a BVH skeleton and its forward kinematics; which of its joints become the 17 Human3.6M joints
#   (the 3D targets) and the 17 COCO keypoints (the 2D inputs, 5 of them synthesised face points);
#   how the clip is placed where Human3.6M's four calibrated cameras look; what a camera's lens
#   distortion does to the projection; and how a seeded detector-noise model turns clean
#   projections into detector-like 2D inputs (jitter, outliers, misses, left/right swaps).
# - What the whole dataset holds: its two sources and their licences, frames per subject and
#   category, the train/test split and the rule that chose it, the long test clips, every
#   subject's bone lengths and the detector noise per joint.
#
# **What it writes.** `reports/metrics/01_data.json`: the dataset's facts (subjects, frames,
# categories, split, noise statistics, provenance), which the tests read back; and the figures
# `reports/figures/01_*.png` (one per step of the walk-through, the skeletons, the cameras, the four
# views) and `01_skeleton_3d.png` (the 3D skeleton at five moments; the notebook shows it
# interactively too).
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
# `dataset = "h36m"` to run the series on Human3.6M itself (the walk-through's BVH and noise steps
# are then skipped: Human3.6M ships joint positions and real detections).
#
# *The data used in this project was obtained from mocap.cs.cmu.edu. The database was created with
# funding from NSF EIA-0196217.*
# *The data used in this project was obtained from HDM05. M. Müller, T. Röder, M. Clausen,
# B. Eberhardt, B. Krüger, A. Weber: Documentation Mocap Database HDM05. Technical report CG-2007-2,
# Universität Bonn, June 2007. The HDM05 part (`data/hdm05_mocap_3d.npz`, and
# `data/bvh_example.json`) is licensed under CC BY-SA 3.0.*

# %% tags=["parameters"]
profile = "default"      # "smoke" (CI, seconds), "default" (a laptop CPU, minutes),
                         # "paper" (GPU, hours)
dataset = "mocap"        # or "h36m" with VideoPose3D's npz files in data/
seed = 0

# %%
# NBVAL_CHECK_OUTPUT
from dilpose import config, report, viz, viz_scene
from dilpose import datasets as ds
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
# ## 2. One clip through the pipeline
# The model never sees motion capture directly. Between the capture lab's file and a training
# window there are five steps, and each one can quietly go wrong (a wrong axis, a wrong joint, a
# camera looking the other way), so we run them here one at a time on **one clip**, and check
# that the result is exactly what the committed data holds:
#
# BVH file → (2.1) forward kinematics → (2.2) 17 H36M joints + 5 face points → (2.3) Z-up world,
# placed in the capture volume → (2.4) projected by each camera, with lens distortion →
# (2.5) detector noise → the 2D inputs.
#
# The clip is the test clip nearest to 6 s (300 frames at 50 Hz), and the frame is 0.2 s in,
# where the person still stands upright (the skeleton reads best that way).

# %%
# NBVAL_CHECK_OUTPUT
subject, action = study.example_clip(data)  # the test clip nearest to 6 s long
frame = study.EXAMPLE_FRAME  # 0.2 s in
pose = data.positions_3d[subject][action]  # (T, 17, 3) world metres
print(f"{subject} / {action}: {len(pose)} frames = {len(pose) / data.fps:.1f} s; frame {frame}")
walk = study.bvh_walkthrough(data)  # the importer's steps redone on that frame; None without BVH
if walk is None:
    print(study.no_bvh_note(data))

# %% [markdown]
# ### 2.1 The BVH skeleton and forward kinematics
# **Why.** A BVH file stores motion the way a capture system measures it: a tree of joints, each
# with a fixed OFFSET from its parent (the bone, in the file's unit), and per frame a few channel
# values: three rotations per joint in degrees, plus the root's position. Forward kinematics
# turns these into joint positions by walking the tree from the root: a joint's global rotation is
# its parent's times its own, and its position is its parent's position plus the parent's
# rotation applied to the offset. The raw BVH files are not in the repository (and a fresh clone
# has no `../shared`), so `make data` keeps the one frame we need in `data/bvh_example.json`:
# the hierarchy, offsets, channel order and that frame's values.

# %%
# NBVAL_CHECK_OUTPUT
if walk:
    print(study.bvh_summary(walk))

# %% [markdown]
# The frame, joint by joint, in file order (a parent always comes before its children): the
# parent, the OFFSET converted to millimetres, the channels with this frame's values, and the
# position forward kinematics gives (metres, in the file's own axes: **Y is up**, so the middle
# number is the height).

# %%
if walk:
    display(study.bvh_joint_table(walk))

# %% [markdown]
# What to see: the offsets are the bones. Some joints coincide: `LHipJoint`, `RHipJoint` and
# `LowerBack` sit on `Hips` (offset zero), and both shoulders start where `Neck` does (the same
# offset from `Spine1`), so they share a position; the `_end` rows are the file's *End Sites*,
# tips with an offset and no channels. Only the root has position channels: it carries the whole
# body through the room, every other joint only turns.
#
# The same frame drawn from the front and from the side (rotated to Z up; numbers are the rows
# above). Blue limbs are the subject's left, red the right.

# %%
if walk:
    fig = viz.bvh_skeleton(walk["joints_world"], walk["motion"].parents, walk["motion"].joint_names)
    _ = report.save_figure(fig, "01_bvh_fk")

# %% [markdown]
# What to see: a person standing, leaning slightly forward with the head bowed (the side view):
# the clip is about to lie down on the floor. Fingers, thumbs and toes are joints too, though the
# capture hardly measures the fingers; the next step keeps 17 joints that every layout shares.
#
# ### 2.2 From BVH joints to H36M-17 and COCO-17
# **Why.** The model predicts the 17 joints of Human3.6M's evaluation layout (**H36M-17**) and
# reads the 17 keypoints a COCO-trained detector outputs (**COCO-17**: 12 body joints and 5 face
# points). Each H36M joint is one BVH joint, chosen by name. COCO's nose, eyes and ears have no
# BVH joint at all, so they are **synthesised** in the head's own frame: with the head segment
# `Head` → `Head_end` of length h, the direction up it (u), the face's direction (f, the head
# joint's rotated forward axis) and the subject's left (l), each face point is
# `Head + h (a u + b f + c l)` with fixed anthropometric coefficients (the table's last column).
# The 12 COCO body joints are the H36M joints of the same body parts.

# %%
# NBVAL_CHECK_OUTPUT
study.mapping_table()

# %% [markdown]
# What to see: the H36M `head` is the top of the head (`Head_end`), `neck_nose` is the upper neck
# (`Neck1`) and `spine` is `Spine1`; BVH's `Foot` joint is the ankle, so COCO's ankles are H36M's
# "feet". Both layouts share the 12 limb joints, and only the 2D side has a face.

# %%
if walk:
    fig = viz.bvh_to_layouts(walk["joints_world"], walk["motion"].parents,
                             walk["motion"].joint_names, walk["h36m_world"], walk["face_world"])
    _ = report.save_figure(fig, "01_bvh_to_h36m")

# %% [markdown]
# What to see (left): the H36M-17 skeleton drawn over all BVH bones (grey), each joint named with
# the BVH joint it comes from; the clavicles, hands beyond the wrist, toes and the lower spine are
# dropped. Right: the head from the side, facing right: the eyes and nose sit in front of the
# head segment and the ears at its sides, slightly behind, and all turn with the head (this
# person looks down, so the nose is below the head joint).
#
# The two layouts as the committed data stores this frame, joints numbered in each layout's order
# (the order every array in the project uses):

# %%
coco = ds.coco_pose_3d(data, subject, action)  # None where the dataset has no face points
fig = viz.skeleton_diagrams(pose[frame], coco[frame] if coco is not None else None)
_ = report.save_figure(fig, "01_skeletons")
for layout in (sk.H36M17, sk.COCO17):
    print(f"{layout.name}: " + ", ".join(f"{j} {n}" for j, n in enumerate(layout.joint_names)))

# %% [markdown]
# What to see: the numbering. H36M-17 starts at the pelvis and lists the right leg before the
# left; COCO-17 starts with the face and alternates left/right. Blue is always the subject's left.
#
# ### 2.3 Cameras and the capture volume
# **Why.** The 2D inputs are made by filming the 3D motion with **Human3.6M's four calibrated
# cameras** (intrinsics with radial and tangential distortion, extrinsics per subject). Each of our
# 15 subjects is filmed by the cameras of one of the seven Human3.6M subjects, in turn (sorted
# subjects take S1, S5, S6, S7, S8, S9, S11, S1, ...). The example subject's four cameras:

# %%
cams = data.cameras[subject]
study.camera_table(cams)

# %% [markdown]
# What to see: the four cameras share the image size and nearly the same focal length; their
# centres (metres) are spread around the room at a height of about 1.5 m; `k1`, the main radial
# distortion coefficient, is negative (barrel distortion: points are pulled towards the centre).

# %%
fig = viz_scene.camera_layout(cams, pose[frame])
_ = report.save_figure(fig, "01_camera_layout")

# %% [markdown]
# What to see: the cameras stand in the corners and all look down at one region near the middle of
# the room, where the person (this frame's skeleton) stands.
#
# **Placement.** A BVH file's origin is wherever its lab put it, and its axes are Y up. So the
# importer first rotates the clip to the Z-up world (`(x, y, z)` → `(x, -z, y)`, a proper
# rotation) and then moves it to where the cameras look: the **volume centre**, the point nearest
# (in least squares) to the four optical axes. One horizontal shift per clip puts the clip's mean
# pelvis position there: the floor stays at z = 0, and the motion within the clip is untouched.

# %%
# NBVAL_CHECK_OUTPUT
if walk:
    print(study.placement_summary(walk))

# %% [markdown]
# What to see: the optical axes do not meet in one point (they pass a few tens of centimetres from
# the centre, printed above), which is why the centre is a least-squares point. The last line is
# the check of the whole walk-through so far: the frame rebuilt from the BVH frame by forward
# kinematics, the joint mapping, the rotation and this shift lands on the committed data within
# its storage step, so these cells redo exactly what `make data` did.

# %%
if walk:
    fig = viz_scene.capture_volume_top_view(cams, walk["centre"], walk["pelvis_before"],
                                      walk["pelvis_track"])
    _ = report.save_figure(fig, "01_placement")

# %% [markdown]
# What to see: seen from above, the clip's pelvis track as the BVH file has it (dotted) lies off
# centre; the shift (red arrow) moves its mean onto the volume centre (star), between the four
# optical axes. The track keeps its shape: the pelvis travels as the person gets down and
# stretches out on the floor.
#
# ### 2.4 Projection, with and without lens distortion
# **Why.** A camera maps a world point to a pixel in three steps: into the camera's frame
# (its rotation and centre), divided by the depth (the pinhole model), then scaled by the focal
# length and offset by the principal point. A real lens also bends rays: radially (`k1`, `k2`,
# `k3`) and tangentially (`p1`, `p2`). Human3.6M's calibration includes both, and the 2D inputs
# are rendered with them, as in the real images. How much does the distortion move a joint? The
# table compares `Camera.project` (distorted) with the ideal pinhole `Camera.project_linear`, for
# every camera: on this frame's 17 COCO joints, over the whole clip, and at the image corners.

# %%
# NBVAL_CHECK_OUTPUT
camera = 2  # followed through 2.4 and 2.5
study.distortion_table(data, subject, action, frame)

# %% [markdown]
# What to see: on the person the distortion moves joints by a few pixels at most, because the
# person stands near the image centre, where it vanishes; at the image corners it reaches tens of
# pixels. Small, but not negligible next to a detector's error, and a model that takes 2D inputs
# from the distorted images must learn it (the paper's cameras are calibrated for this reason).

# %%
step = study.projection_step(data, subject, action, frame, camera)
print(f"camera {camera}: distortion moves this frame's joints by "
      f"{step['shift_px'].mean():.2f} px on average, {step['shift_px'].max():.2f} px at most")
fig = viz_scene.distortion_figure(step)
_ = report.save_figure(fig, "01_distortion")

# %% [markdown]
# What to see (left): the distortion over the whole image, arrows ten times their length: zero at
# the centre, growing towards the edges and pointing inwards (barrel distortion); the blue box is
# where the person is. Right: the pose through the ideal pinhole (thick, faint) and through the
# real lens (thin), arrows again ten times longer: the joints farthest from the image centre move
# most.
#
# ### 2.5 The detector-noise model, event by event
# **Why.** The paper's 2D inputs come from a detector, whose mistakes the lifter must learn to
# ride through; clean projections would make the task too easy. `dilpose.noise` reproduces four
# kinds of detector error, applied in this order, each drawn from a seeded random stream per
# (subject, clip, camera):
# 1. **jitter** on every frame: temporally correlated wobble (AR(1)), its size per joint set by
#    COCO's keypoint uncertainties (OKS sigmas) times the person's height in the image;
# 2. **outliers**: short bursts where a joint is pushed several sigmas one way, with a low score;
# 3. **left/right swaps**: short bursts where a whole arm or leg is exchanged with its mirror
#    twin, with a confident score (the detector does not know);
# 4. **misses**: short bursts where a joint is not detected at all (NaN, score 0), later filled
#    by interpolation over time.
#
# We follow one joint, the right wrist (wrists move most, and a swap moves them farthest), in
# the camera above.

# %%
# NBVAL_CHECK_OUTPUT
trace = study.noise_trace(data, subject, action, camera, joint="r_wrist")
if trace is None:
    print(f"{data.name}: the 2D inputs come from a real detector; there is no noise model to show")
else:
    display(study.noise_event_table(trace))

# %% [markdown]
# What to see: one row per event. Jitter is on every frame; its row covers the frames with no
# other event, where the mean 2D error is of the order of the model's sigma (the `model` column
# gives it per axis; a round wobble's 2D error averages about 1.25 sigma). Each burst has its
# first and last frame, its length and the mean 2D error it causes: a swap puts the wrist where
# the other wrist is, so its error is the distance between the wrists, far larger than any
# jitter; a miss has no error because there is no detection.

# %%
if trace is not None:
    fig = viz_scene.noise_events_figure(trace)
    _ = report.save_figure(fig, "01_noise_events")

# %% [markdown]
# What to see: the wrist's image coordinates over the clip, clean (black) and as detected (blue),
# each event's frames shaded. The jitter is the thin wobble around the clean line, larger at the
# start; the miss is a gap in the blue line; the swap is a jump to the other wrist and back; the
# outlier is a short, constant push. The bottom panel shows the 2D error against the jitter's
# sigma (dashed, log scale above 5 px): the sigma shrinks as the person lies down, because the
# model scales it with the person's *vertical* extent in the image, so an outlier late in this
# clip is a small push. A real detector's error would not shrink for a lying person; it is a known
# simplification of the model.
#
# ### 2.6 The clip in the four views, clean and as the detector sees it
# The whole pipeline's output for this frame. Top: the exact projection (full image). Bottom: the
# detector-noise model's output over the faint clean pose, zoomed on the person.

# %%
views = ds.example_views(data, subject, action)
fig = viz.multi_view(views, frame, title=f"{data.name} · {subject} · {action} · frame {frame}")
_ = report.save_figure(fig, "01_four_views")

# %% [markdown]
# What to see: the same pose from four directions, each its own 2D input sequence for the model
# (the person covers a small part of each image, so a few pixels of detector error is a real
# share of a limb). A joint the detector misses is named under its view; the model receives it
# interpolated from the frames around it.

# %% [markdown]
# ### 2.7 The same clip through cameras people actually use
# Human3.6M's four cameras are all alike: a 2.3 normalised focal length, 1.4-1.9 m high, pitched
# 11-16 degrees down. A user's phone, webcam or shop camera is not, and a model that has only seen
# one lens reads a wider lens as a smaller person. Motion capture has the true 3D of every frame, so
# it can be filmed again through any camera: the camera-robust models (notebook 06, and the
# shipped `lifter-243`) see each training clip through its four Human3.6M views and sixteen virtual
# cameras drawn from this distribution (`dilpose.virtual_cameras`; each range's reason is in its
# docstring):

# %%
study.camera_distribution_table()

# %% [markdown]
# The first four virtual cameras drawn for this clip, through the same detector-noise model (the
# embedded data only: rendering COCO-17 needs its face points):

# %%
virtual = study.virtual_views(data, subject, action, cfg.noise)  # None: no face points to render
if virtual is not None:
    fig = viz.multi_view(virtual, frame, title=f"{subject} · {action} · virtual cameras")
    _ = report.save_figure(fig, "01_virtual_views")

# %%
study.person_size_table(data, subject)

# %% [markdown]
# The table gives how large one metre at the person looks in the model's input units (the image
# width maps to 2): the camera's normalised focal length over the person's depth, the 5th, 50th
# and 95th percentile over this subject's frames. Most virtual cameras show people smaller than
# Human3.6M's do, through wider lenses or from further back (each frames the clip's whole motion),
# so the camera-robust models train on both sets together: the range from the smallest virtual
# view to the nearest Human3.6M one. A model trained on that range must read a person's size from
# their proportions and motion, not from how large they look.

# %% [markdown]
# ## 3. How much data, and what bodies
# Where the frames come from, and under what terms: the two sources are kept in separate files
# because their licences differ.

# %%
# NBVAL_CHECK_OUTPUT
study.sources_table(data)

# %% [markdown]
# What to see: HDM05 brings more clips than CMU but shorter ones (its clips are single
# repetitions of a movement); both sources have test frames, so the test measures how the model
# does on people from either lab.
#
# Frames (50 Hz) per subject and action category. CMU's six categories are joined by two that
# HDM05 brings, *reach* (grabbing high) and *floor* (putting an object down, lying down); the
# table that maps each manifest's labels to them is `dilpose.datasets.mocap_import.CMU_CATEGORY` and
# `HDM05_CATEGORY`.

# %%
# NBVAL_CHECK_OUTPUT
study.frames_table(data)

# %% [markdown]
# What to see: the CMU subjects each cover one to three categories, while every HDM05 actor
# performs every category but dance; dance comes from one person only (`cmu05`), which the split
# below has to respect.
#
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
# What to see: a handful of long CMU clips carry most of these frames; the walk-through's clip is
# one of the HDM05 entries at the bottom. Every other test clip is shorter than the window, so
# most test predictions see padded edges.
#
# Median bone lengths per subject (mm): every subject has their own calibrated skeleton, so bone
# lengths differ.

# %%
study.bone_length_table(data)

# %% [markdown]
# What to see: the rows are the H36M-17 bones; legs differ by several centimetres between people,
# and one subject stands out: `cmu05`'s forearms (`elbow-wrist`) are much shorter than anyone
# else's. A lifter trained on one set of bodies and tested on another has to cope with such
# differences, which is what holding out whole subjects measures.
#
# ## 4. Detector noise over the whole dataset, per joint
# Section 2.5 showed the noise model on one joint; here is what it does over every clip, camera
# and joint: the mean 2D error (pixels) of detected joints against the clean projection; the max
# includes the left/right swaps and outliers.

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
# What to see: the face points have the smallest mean error and the hips the largest, following
# COCO's per-keypoint uncertainties; the largest errors are at the wrists and ankles, the ends of
# the limbs a swap exchanges, so they jump farthest.
#
# ## 5. Interactive 3D skeleton
# The walk-through's clip in 3D, as the model's targets: drag to rotate; press play or move the
# slider.

# %%
fig = viz.plotly_skeleton(pose, sk.H36M17, fps=data.fps, step=4,
                          title=f"{subject} · {action} (3D ground truth)")
fig

# %% [markdown]
# The same clip at five moments, as a static picture (what a page without a running notebook,
# such as GitHub's, can show of the figure above):

# %%
frames = [round(k * (len(pose) - 1) / 4) for k in range(5)]
static = viz.pose_comparison(pose, None, frames, title=f"{subject} · {action} (3D ground truth)")
_ = report.save_figure(static, "01_skeleton_3d")

# %% [markdown]
# What to see: the whole clip the walk-through followed one frame of: the person crouches, sits
# down on the floor and lies back (the interactive figure keeps every fourth frame).
#
# ## 6. Write the metrics

# %%
# NBVAL_CHECK_OUTPUT
path = report.save_metrics("01_data", metrics, cfg)
print(path.name)
print(f"{metrics['clips']} clips, {len(metrics['subjects'])} subjects, "
      f"{metrics['total_frames']} frames at {data.fps:g} Hz; "
      f"{metrics['train_frames'] / metrics['total_frames']:.1%} of the frames train; "
      f"test categories: {', '.join(metrics['test_categories'])}")

# %% [markdown]
# **Next.** Notebook 02 cuts these clips into windows of 2D inputs and 3D targets and trains the
# paper's dilated temporal model on them.
