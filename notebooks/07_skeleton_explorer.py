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
# # 07 · The 3D skeleton explorer
# Ground truth and prediction in 3D, frame by frame, opened where the model errs most. (Opening
# loads the data, finds the test person the model errs most on and runs the model over that
# clip: up to a minute on 2 CPU cores.)

# %% [markdown] tags=["tutorial"]
# > Paper (§I, §IV): the method is meant for video, frame after frame; the series is read in
# > JupyterLab "for interactive 3D skeleton exploration with widgets".
# > Writes: `reports/metrics/07_explorer.json`. `make explore` serves this notebook as a web app.
#
# **What you will learn.** How to look at a model's 3D output frame by frame: ground truth and
# prediction overlaid, each joint coloured by its error, the camera's 2D view with the detections
# the model read (missed and low-confidence joints marked), and the error curve of the whole clip.
# Keep it open beside the other notebooks: it works on every dataset of the registry, with every
# model in the model cache, and on your own `dilpose lift` output.
#
# It needs a running kernel: on a static page (GitHub, the committed notebook) the widget is not
# drawn. Open the notebook in JupyterLab (`make lab`) or run `make explore` for the web app. The
# app is this notebook without the cells tagged `tutorial` (sections 3 and 4 and the report).
#
# *Motion data: mocap.cs.cmu.edu (NSF EIA-0196217) and HDM05 (Müller et al., Technical report
# CG-2007-2, Universität Bonn, 2007; CC BY-SA 3.0).*

# %% tags=["parameters"]
profile = "default"      # "smoke" (CI, seconds), "default" (a laptop CPU, minutes),
                         # "paper" (GPU, hours); the explorer is the same in all three
dataset = "mocap"        # any name of dilpose.datasets.names() whose files are in place
seed = 0

# %%
from dilpose import config, report
from dilpose.explorer import Explorer, load_data
from dilpose.studies import s07_explorer as study

cfg = config.for_notebook("07", profile, dataset=dataset, seed=seed)
data = load_data(cfg.dataset, cfg.seed)
worst = study.worst_test_subject(data)

# %% tags=["tutorial"]
# NBVAL_CHECK_OUTPUT
print(cfg.dataset, "seed", cfg.seed)

# %% [markdown] tags=["tutorial"]
# ## 1. Where the model errs most
# The explorer opens where it is most worth looking: on the test subject with the largest error.
# The errors come from notebook 02's report (its main model, each test clip's MPJPE, weighted by
# frames); without that report the shipped model is run over every test clip.

# %% tags=["tutorial"]
print("from", worst["source"])
worst["per_subject_mm"]

# %% tags=["tutorial"]
print(f"{worst['subject']} errs most; its worst clip is {worst['action']!r}")

# %% [markdown] tags=["tutorial"]
# ## 2. The explorer
# One line opens it on that subject's worst clip, with the shipped 243-frame model, at the clip's
# worst frame.

# %%
explorer = Explorer(cfg.dataset, worst["subject"], worst["action"], frame="worst", seed=cfg.seed)
explorer

# %% [markdown] tags=["tutorial"]
# Without a running kernel (on GitHub, or a notebook opened without one) the widget above cannot be
# drawn; this is what it looks like, as the browser test photographs it in the web app:
#
# ![the skeleton explorer in the browser](../reports/figures/07_explorer.png)

# %% [markdown]
# How to read it:
# - **3D view** (left, drag to turn it): the ground truth in grey, the prediction in orange, each
#   predicted joint coloured by its distance to the true one (cividis: dark blue 0 mm, yellow
#   150 mm or more; safe for red-green colour blindness).
#   Both are root-centred, as the metric compares them. Hover a joint for its name and error.
# - **Camera view** (top right): the 2D detections the model read in this camera, over the ground
#   truth projected (faint grey). A red cross is a joint the detector missed (drawn where the gap
#   filling put it); a purple ring one it reported with a score under 0.3.
# - **MPJPE per frame** (bottom right): the whole clip's error, the dotted line at the frame shown.
# - **Pickers**: dataset, subject (test subjects first), action, camera, and the model: the shipped
#   models and every model in the model cache (`reports/checkpoints/`) that reads this dataset's
#   2D layout. A prediction is computed the first time it is asked for and kept; switching model,
#   camera or clip keeps the frame.
# - **Play** (▶, again to pause where it is; ■ goes back to the first frame) plays at the chosen
#   speed in real time (1x: 50 frames a second of the clip), skipping the frames the browser
#   has no time to draw.
# - **Your own result**: type the path of a `dilpose lift` output into *lift result* (and, if you
#   have it, the keypoint file it lifted into *keypoints*) and press *open*.

# %% [markdown] tags=["tutorial"]
# ## 3. How fast it answers
# Moving the slider sends one message to the browser with the new frame's joints (the traces are
# restyled, not rebuilt), so even a clip of minutes never sits in the browser whole. The kernel's
# share of a slider move, timed over 50 moves:

# %% tags=["tutorial"]
latency = study.update_latency(explorer)
print(f"median {latency['median_ms']:.1f} ms, 95th percentile {latency['p95_ms']:.1f} ms per move")

# %% [markdown] tags=["tutorial"]
# The browser's drawing comes on top; the browser test (`tests/test_explorer_browser.py`) measures
# the whole round trip in Chromium, from the key press on the slider to the redrawn figure, and
# writes it to `reports/bench/explorer.json`.
#
# ## 4. Your own video
# `dilpose lift keypoints.json` writes `keypoints_3d.npy` and `keypoints_3d.json`; the explorer
# opens either, with the keypoint file it lifted if you give it. Here the committed example (one
# camera of a CMU walk, detector-style keypoints) is lifted with the shipped model and opened.
# There is no ground truth, so there is no error: the joints are coloured as zero.

# %% tags=["tutorial"]
lifted, keypoints = study.example_lift()
mine = Explorer(lift=lifted, keypoints=keypoints)
mine

# %% [markdown] tags=["tutorial"]
# A wrong file is a message in the widget, not a traceback: here a keypoint file of another length
# than the poses.

# %% tags=["tutorial"]
mine.lift_path.value, mine.keypoints_path.value = str(lifted), str(study.short_keypoints())
mine.open_button.click()
print(mine.message.value)

# %% [markdown]
# ## What you learned
# - Where the model errs is worth looking at, not just averaging: the error curve shows whether a
#   clip's MPJPE comes from a few bad frames or from all of them, and the 2D view shows whether
#   those frames had missed or unsure detections.
# - The explorer is a library class (`dilpose.explorer.Explorer`); this notebook is its manual and,
#   served by Voila (`make explore`), its app.
#
# ## Try this
# - Pick the causal model and play the worst clip: where does seeing only the past cost most?
# - Pick another camera: the same pose seen from another side gives another error.

# %% tags=["tutorial"]
# NBVAL_CHECK_OUTPUT
path = report.save_metrics("07_explorer", study.metrics_json(worst, explorer, latency), cfg)
print(path.name, sorted(report.load_metrics("07_explorer")))
