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
# > Paper §III: an expand convolution, then residual blocks of [conv (width W, dilation W^b), BN,
# > ReLU, regulariser, 1×1 conv, BN, ReLU, regulariser] + skip, then a 1×1 convolution to 17×3
# > outputs.
# > 4 blocks and widths 3,3,3,3,3 give a 243-frame receptive field (Table I's model).
# > Training (§IV-B): 90 epochs, lr 0.001 decayed ×0.95 per epoch, BN momentum 0.1 → 0.001.
# > Writes: `reports/metrics/02_model.json`, `reports/figures/02_*.png|html`.
#
# On the `default` profile the model has 128 channels instead of the paper's 1024 and trains for
# 40 short epochs (0.4M training windows, about 2.5 CPU minutes, in bf16 mixed precision where the
# CPU has it) on the embedded motion capture; the `paper` profile uses the paper's 1024 channels
# and 90 epochs. The whole notebook takes about 30 minutes the first time. Every
# comparison the conclusions rest on is trained with three seeds and decided by a 95 % confidence
# interval, not by one run. Trained models are cached in `reports/checkpoints/`: a second run of
# this notebook loads them instead of training.
#
# **Every number below is measured on the `mocap` data** (real CMU and HDM05 motion capture,
# rendered through Human3.6M's cameras with simulated detector noise) unless it is labelled as a
# published Human3.6M number; the two are not comparable.
#
# *Motion data: mocap.cs.cmu.edu (created with funding from NSF EIA-0196217) and HDM05
# (M. Müller, T. Röder, M. Clausen, B. Eberhardt, B. Krüger, A. Weber: Documentation Mocap
# Database HDM05, Technical report CG-2007-2, Universität Bonn, 2007; CC BY-SA 3.0).*

# %% tags=["parameters"]
profile = "default"      # "smoke" (CI, seconds), "default" (a laptop CPU, minutes),
                         # "paper" (GPU, hours)
dataset = "mocap"        # or "h36m" with VideoPose3D's npz files in data/
seed = 0
seeds = [0, 1, 2]        # the decisive comparisons train every arm with each of these seeds

# %%
# NBVAL_CHECK_OUTPUT
from dilpose import config, metrics, report, viz
from dilpose import dataset as ds
from dilpose.studies import common
from dilpose.studies import s02_model as study

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
params = study.parameter_table()
params

# %% [markdown]
# Parameters grow linearly with the number of blocks while the receptive field grows exponentially.
# The paper's model (1024 channels, 4 blocks) has 16,952,371 parameters, the same as VideoPose3D's.
#
# ## 2. Train on the default data

# %%
data = ds.load(cfg.dataset, seed=cfg.seed, noise=cfg.noise, source_2d=cfg.h36m_2d_source)
main = common.train_variant("02_main", cfg, data)
print(f"{main.name}: {main.parameters:,} parameters, {main.cfg.receptive_field} frames, "
      f"{main.train_seconds:.0f} s of training")
print(f"precision: {main.cfg.precision} -> {main.results['precision']} on this machine")

# %% [markdown]
# ## 3. Results per action (test subjects, all four protocols, mm)
# MPJPE = protocol 1; P-MPJPE = after Procrustes alignment (protocol 2); N-MPJPE = after scale
# alignment (protocol 3); MPJVE = velocity error (mm per frame). Root-relative, 17 H36M joints,
# test-time flip augmentation as configured.

# %%
common.per_action_table(main.results)

# %%
print(metrics.table_i_markdown(main.results["mpjpe"]["per_action"], data.name))

# %% [markdown]
# ## 4. Ablations: receptive field and causality, with seeds
# The same training budget for every variant; only the filter widths (all 1 → a single-frame
# model of the same depth; 27, 81 frames) or the causal flag change. The comparisons the
# conclusions rest on (243 against 81 and 27 frames, 81 against 27, and the main model against its
# causal twin) train each arm with every seed in `seeds`; the 1-frame model only illustrates the
# trend and uses the first seed. (The `smoke` profile's main model has 27 frames: it compares causal
# and 1 frame.)

# %%
arms = study.run(cfg, data, seeds)
runs = {label: arm.first for label, arm in list(arms.items())[1:]}
study.seeds_table(arms)

# %% [markdown]
# Each difference below is the main model's MPJPE over all test frames minus the other arm's, with
# its 95 % bootstrap interval over test sequences and seeds (paired: both arms are scored on the
# same sequences and, for the decisive arms, trained with the same seeds). An interval that contains
# 0 is "no clear difference".

# %%
comparisons = study.comparisons(arms)
for key, c in comparisons.items():
    print(f"{key}: {c['verdict']}" + ("" if c["decisive"] else "  (one seed: illustrative)"))

# %%
common.ablation_table([main, *runs.values()])

# %% [markdown]
# By clip length (MPJPE over the frames of the test clips in each group, first seed): a receptive
# field longer than the clip sees mostly repeated edge frames, so long windows can only help on long
# clips. Most HDM05 clips are shorter than 81 frames; the long CMU takes are where 243 frames can
# show what they add.

# %%
common.clip_length_table([main, *runs.values()])

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
example = common.example_prediction(main, data)
fig = viz.pose_comparison(example["target"], example["prediction"], frames=example["frames"],
                          title=f"{example['subject']} · {example['action']} · "
                                f"camera {example['camera']}")
_ = report.save_figure(fig, "02_prediction")

# %%
fig = viz.plotly_skeleton(example["target"], fps=data.fps, step=4,
                          others={"prediction": example["prediction"]},
                          title="ground truth (pose) and prediction, world metres")
_ = report.save_figure(fig, "02_prediction_3d")
fig

# %% [markdown]
# ## 7. What reproduces and what does not
# The printout below is computed from this run's numbers.

# %%
verdict = study.verdict(arms, comparisons, data.name)
print("\n".join(verdict["lines"]))

# %%
# NBVAL_CHECK_OUTPUT
path = report.save_metrics(
    "02_model", study.metrics_json(arms, comparisons, verdict, data, params), cfg
)
print(path.name, sorted(report.load_metrics("02_model")))
