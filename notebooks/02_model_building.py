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
# # 02 · Model building: the dilated temporal ConvNet
# > Paper §III: an expand convolution, then residual blocks of [conv (width W, dilation W^b), BN, ReLU,
# > regulariser, 1×1 conv, BN, ReLU, regulariser] + skip, then a 1×1 convolution to 17×3 outputs.
# > 4 blocks and widths 3,3,3,3,3 give a 243-frame receptive field (Table I's model).
# > Training (§IV-B): 90 epochs, lr 0.001 decayed ×0.95 per epoch, BN momentum 0.1 → 0.001.
# > Writes: `reports/metrics/02_model.json`, `reports/figures/02_*.png|html`.
#
# On the `default` profile the model has 128 channels instead of the paper's 1024 and trains for
# 60 short epochs (about 9 CPU minutes) on the embedded CMU data; the `paper` profile uses the paper's
# 1024 channels and 90 epochs. **Every number below is measured on the `cmu-default` data** (real CMU motion, rendered
# through Human3.6M's cameras with simulated detector noise) unless it is labelled as a published
# Human3.6M number; the two are not comparable.

# %% tags=["parameters"]
profile = "default"      # "smoke" (CI, seconds), "default" (a laptop CPU, minutes), "paper" (GPU, hours)
dataset = "cmu-default"  # or "h36m" with VideoPose3D's npz files in data/
seed = 0

# %%
# NBVAL_CHECK_OUTPUT
from dilpose import config, dataset as ds, experiments as ex, metrics, report, viz

cfg = config.for_notebook("02", profile, dataset=dataset, seed=seed)
print(cfg)

# %% [markdown]
# ## 1. Architecture
# Each layer multiplies the receptive field by its width; the dilation of block b is the product of
# the widths before it. Drawn for widths 3,3,3 (27 frames); 3,3,3,3,3 repeats the pattern to 243.
# A causal model sees only the past (for real-time use, notebook 05).

# %%
fig = viz.receptive_field_figure((3, 3, 3))
_ = report.save_figure(fig, "02_receptive_field")

# %%
# NBVAL_CHECK_OUTPUT
params = ex.parameter_table()
params

# %% [markdown]
# Parameters grow linearly with the number of blocks while the receptive field grows exponentially.
# The paper's model (1024 channels, 4 blocks) has 16,952,371 parameters, the same as VideoPose3D's.
#
# ## 2. Train on the default data

# %%
data = ds.load(cfg.dataset, seed=cfg.seed, noise=cfg.noise, source_2d=cfg.h36m_2d_source)
main = ex.train_variant("02_main", cfg, data)
print(f"{main.name}: {main.parameters:,} parameters, {main.cfg.receptive_field} frames, "
      f"{main.train_seconds:.0f} s of training")

# %% [markdown]
# ## 3. Results per action (test subjects, all four protocols, mm)
# MPJPE = protocol 1; P-MPJPE = after Procrustes alignment (protocol 2); N-MPJPE = after scale
# alignment (protocol 3); MPJVE = velocity error (mm per frame). Root-relative, 17 H36M joints,
# test-time flip augmentation as configured.

# %%
ex.per_action_table(main.results)

# %%
print(metrics.table_i_markdown(main.results["mpjpe"]["per_action"], data.name))

# %% [markdown]
# ## 4. Ablations: receptive field and causality
# The same training budget for every variant; only the filter widths (all 1 → a single-frame
# model of the same depth; 27, 81 frames) or the causal flag change. (The `smoke` profile's main
# model has 27 frames, so it only compares 1 frame and causal.)

# %%
runs = ex.train_ablations(cfg, data)
ex.ablation_table([*runs.values(), main])

# %% [markdown]
# Per test clip (mean over the four cameras), shortest first: a receptive field longer than the clip
# sees mostly repeated edge frames, so long windows can only help on long clips.

# %%
ex.clip_table([*runs.values(), main])

# %%
fig = viz.bar_chart({r.name: r.results["mpjpe"]["action_mean"] for r in [*runs.values(), main]},
                    title=f"MPJPE on {data.name} test subjects ({profile} profile)")
_ = report.save_figure(fig, "02_ablation")

# %% [markdown]
# ## 5. Learning curves

# %%
fig = viz.learning_curves({main.name: main.history, **{k: r.history for k, r in runs.items()}})
_ = report.save_figure(fig, "02_learning_curves")

# %% [markdown]
# ## 6. A prediction beside the ground truth (test subject)

# %%
example = ex.example_prediction(main, data)
fig = viz.pose_comparison(example["target"], example["prediction"], frames=example["frames"],
                          title=f"{example['subject']} · {example['action']} · camera {example['camera']}")
_ = report.save_figure(fig, "02_prediction")

# %%
fig = viz.plotly_skeleton(example["target"], fps=data.fps, step=4, others={"prediction": example["prediction"]},
                          title="ground truth (pose) and prediction, world metres")
_ = report.save_figure(fig, "02_prediction_3d")
fig

# %% [markdown]
# ## 7. What reproduces and what does not
# The printout below is computed from this run's numbers.

# %%
verdict = ex.model_verdict(main, runs, data.name)
print("\n".join(verdict["lines"]))

# %%
# NBVAL_CHECK_OUTPUT
path = report.save_metrics("02_model", ex.model_metrics(main, runs, data, params), cfg)
print(path.name, sorted(report.load_metrics("02_model")))
