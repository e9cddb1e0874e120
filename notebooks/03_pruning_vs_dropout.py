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
# # 03 · The pruning layer against dropout, decided by statistics
# > Paper (abstract, §III "Pruning Layer", Fig. 4, conclusion): each block ends in a *pruning
# > layer* that "keeps larger ones and removes nodes with lower weights", and it prevents
# > overfitting better than dropout, which drops nodes at random.
# > Writes: `reports/metrics/03_pruning.json`, `reports/figures/03_*.png`.
#
# **What you will learn.** What the paper's pruning layer can mean (it gives no exact rule and no
# number), how each reading changes a block's activations, and whether any of them beats dropout,
# or no regulariser at all, when everything else is equal and the verdict comes from three seeds
# and a 95 % interval rather than from one run. Beyond the paper: how many of a trained model's
# weights can be removed for at most 1 mm.
#
# **The arms.** One model, one dataset, one schedule and number of updates; only the regulariser
# in the model's slots (after every BN and ReLU) differs:
# - `none`; `dropout` (p = 0.25, the paper's baseline, training only);
# - the pruning layer read as **activation pruning**: per sample and time step, zero the quarter
#   of channels with the smallest activations. *prune, training only* counts the quarter among
#   the channels ReLU left non-zero and rescales the kept ones so that each time step's sum is
#   what it was (the next layer then sees in training what it sees at evaluation, where the layer
#   is off); *prune, in the model* also prunes at evaluation, so the pruning is part of the
#   trained model; *prune over all channels* counts the quarter over all channels, the most
#   literal reading, which after ReLU (about half the channels are zero) may prune almost nothing;
# - the pruning layer read as **weight pruning**, "removes nodes with lower weights": while the
#   model trains, the smallest-magnitude weights of every convolution are zeroed on Zhu & Gupta's
#   gradual schedule and held at zero, to 50, 75 or 90 % of the weights (*weights pruned 50 %*,
#   ...), with nothing in the slots, so their dense twin is `none`.
#
# Neither dropout's rate nor the pruning rate is tuned: both are 0.25, so neither arm gets a
# search the other did not. The model is the 27-frame one (128 channels) on the `default`
# profile: 24 models (8 arms, 3 seeds) must train within the notebook's 25 minutes (notebook 02
# compares receptive fields; its verdict does not make 27 frames the same as 243). A model takes
# 15-20 s on 2 idle CPU cores (about 12 minutes for all 24), a few minutes from the model cache.
# **Every number is measured on the `mocap` data** (CMU and HDM05 motion capture through
# Human3.6M's cameras, simulated detector noise), not on Human3.6M.
#
# *Motion data: mocap.cs.cmu.edu (NSF EIA-0196217) and HDM05 (Müller et al., Technical report
# CG-2007-2, Universität Bonn, 2007; CC BY-SA 3.0).*

# %% tags=["parameters"]
profile = "default"      # "smoke" (CI, seconds), "default" (a laptop CPU, minutes),
                         # "paper" (GPU, hours)
dataset = "mocap"        # or "h36m" with VideoPose3D's npz files in data/
seed = 0
seeds = [0, 1, 2]        # every arm is trained with each of these seeds

# %%
# NBVAL_CHECK_OUTPUT
from IPython.display import Markdown

from dilpose import config, report, viz_plots
from dilpose import datasets as ds
from dilpose.studies import s03_pruning as study

cfg = config.for_notebook("03", profile, dataset=dataset, seed=seed)
print(cfg)
for label, arm_cfg in study.arm_configs(cfg).items():
    print(f"{label:>24}: {arm_cfg.regularizer}, weight sparsity {arm_cfg.weight_sparsity:.0%}")

# %% [markdown]
# ## 1. Train every arm with every seed
# Each model is trained (or loaded from the model cache) with the same seeds, so that arm A's seed
# 1 and arm B's seed 1 saw the same initial weights' random stream and the same batches.

# %%
data = ds.load(cfg.dataset, seed=cfg.seed, noise=cfg.noise, source_2d=cfg.h36m_2d_source)
arms = study.run(cfg, data, seeds)

# %% [markdown]
# ## 2. What each regulariser does to a block's activations
# The first residual block's activations for 120 frames of a test clip (a model trained without a
# regulariser), as they enter the slot after BN and ReLU, and after each regulariser in training
# mode. White is exactly zero.

# %%
acts = study.block_activations(arms["none"][0], data)
fig = viz_plots.activation_heatmaps(acts, "block 1, channels x time (training mode)")
_ = report.save_figure(fig, "03_activations")

# %% [markdown]
# (The weight-pruning arms change the weights, not this map: they have no regulariser in the
# slots.) What to see: ReLU alone already zeroes about half of the map. Dropout whitens a random
# quarter of what is left, anywhere; the pruning layer whitens the *weakest* activations of every
# column, so the strong ones survive (scaled up slightly where it rescales, so that the column's
# sum is kept). Counted over all channels, a quarter is fewer than ReLU's zeros in most columns,
# and the map barely changes.
#
# *Why the sum, not dropout's 4/3.* An earlier version of this notebook rescaled like inverted
# dropout, by (kept + pruned) / kept = 4/3. Dropout removes values at random, so that ratio keeps
# the expected sum; pruning removes the *smallest* values, so 4/3 inflated every sum in training,
# BatchNorm's running statistics no longer matched evaluation, and those arms scored 128-160 mm
# with training errors as bad: a broken layer, not a reading of the paper.
#
# ## 3. Results per arm
# MPJPE and P-MPJPE on the test subjects (mm, mean over actions per seed; over frames with its 95 %
# interval over seeds and test sequences); the MPJPE on the *training* subjects (every 4th
# training clip, camera 0, the same evaluation) and the test-train gap: the overfitting a
# regulariser should shrink; and the training time of one model (the same number of updates for
# every arm).

# %%
train_mpjpe = study.train_errors(arms, data)
table = study.arms_table(arms, train_mpjpe)
table

# %% [markdown]
# ## 4. Verdicts
# Each line: the first arm's MPJPE over all test frames minus the second's, with its 95 %
# interval (whole test people re-drawn, with all their clips and views; seeds paired, with a t
# over seeds: `dilpose.stats`) and one of four verdicts: one arm better; "equivalent within
# ±2 mm", only when the whole 90 % interval lies inside a margin of **2 mm stated here before
# the results** (about 2.5 % of the errors, below what one sees in a skeleton); or
# "inconclusive", when the interval contains 0 and reaches beyond the margin: either arm may be
# better, which is not the same as equal. The power line says the smallest difference this design
# (5 test people, 3 seeds) would detect. All 13 comparisons are the family the conclusions below
# rest on, so Holm's correction over them says which verdicts would not survive it.

# %%
comparisons = study.comparisons(arms)
for key, c in comparisons.items():
    print(f"{key}: {c['verdict']}\n    {c['power_line']}")
holm = study.holm(comparisons)
print("\n".join(holm["lines"]) or f"Holm over {len(holm['family'])} comparisons: no verdict flips.")

# %%
claim = study.claim_verdict(comparisons, holm)
gap = table["test - train gap"]
Markdown(
    f"**The paper's claim** that the pruning layer prevents overfitting better than dropout is "
    f"**{'supported' if claim['supported'] else 'not reproduced'}** at this scale (128 channels, "
    f"27 frames, about one pass over the data's windows): "
    + (f"{', '.join(claim['better'])} beat dropout. " if claim["supported"] else
       f"no pruning variant is clearly better than dropout (the closest, *{claim['best']}*: "
       f"{claim['best_verdict']}; {claim['best_power_line']}). ")
    + (f"Worse than dropout: {', '.join(claim['worse'])}; of these, under Holm: "
       f"{', '.join(claim['worse_under_holm']) or 'none'}. " if claim["worse"] else "")
    + f"Dropout against no regulariser: {comparisons['dropout vs none']['verdict']} (under Holm: "
    f"{holm['comparisons']['dropout vs none']['word_holm']}). The test-train"
    f" gap is {gap['none']:.1f} mm without a regulariser, {gap['dropout']:.1f} mm with dropout and "
    f"{gap['prune, training only']:.1f} mm with the pruning layer (training only)."
)

# %% [markdown]
# How to read it: a pruning arm that is worse than dropout *and* has a training error as high as
# its test error is not failing to prevent overfitting, it is failing to fit; the test-train gap
# in the table above says which. The claim is tested at one scale only: 128 channels (the paper:
# 1024), a 27-frame model, 0.4M training windows (about one pass over the data's windows; the
# paper: 90 epochs of Human3.6M), rates not tuned. It is not tested at the paper's scale, where
# overfitting, and so a regulariser's use, may differ.
#
# ## 5. Learning curves (first seed)
# The training loss per epoch (regulariser active: dropout and pruning raise it by design).

# %%
fig = viz_plots.learning_curves({label: runs[0].history for label, runs in arms.items()})
_ = report.save_figure(fig, "03_learning_curves")

# %% [markdown]
# ## 6. How many activations are zero, in training and at evaluation
# The fraction of zeros in each slot's output (ReLU's zeros included), first seed, on 500 frames of
# a test clip. Training mode uses batch statistics in BatchNorm and the regulariser as trained;
# evaluation mode is how the model runs after training.

# %%
zeros = study.zeros_table(arms, data)
zeros

# %% [markdown]
# What to see: at evaluation dropout and the training-only pruning are gone (the zeros are ReLU's);
# *prune, in the model* keeps its extra zeros at evaluation: that sparsity is a property of the
# deployed model. Over all channels, pruning adds next to no zeros in training, as expected.
#
# ## 7. Beyond the paper: pruning the weights
# The other reading of "removes nodes with lower weights": zero the smallest weights. Applied once
# to the three trained dropout models, without retraining, at 50, 75 and 90 % of every
# convolution's weights; the difference to the dense models is paired over seeds and sequences.

# %%
sparsity = study.sparsity_study(arms["dropout"], data)
study.sparsity_table(sparsity)

# %% [markdown]
# What to see: whether any sparsity costs at most 1 mm (the interval's upper end; "costs <= 1 mm").
# On the default run none does: removing even half of every layer's smallest weights at once,
# without retraining, costs tens of millimetres. What sparsity would buy is a smaller file when
# stored sparse (a bitmask and the non-zero values), but no speed: dense convolution kernels
# multiply zeros like any other number (the inference times above are measured, dense and pruned,
# and equal within noise). Pruning during training with the mask held (gradual magnitude pruning)
# is how sparse models are usually obtained, and that is what the *weights pruned* arms did. Their
# cost is measured against the same model trained dense (`none`), paired over seeds and sequences:

# %%
trained_sparsity = study.trained_sparsity_study(arms, comparisons)
study.trained_sparsity_table(trained_sparsity)

# %%
once, during = study.sparsity_verdicts(sparsity, trained_sparsity)
Markdown(
    "Pruned once, after training: " + "; ".join(once) + ". Pruned while training (against the "
    "same model trained dense, `none`): " + "; ".join(during) + "."
)

# %% [markdown]
# What to see: how differently the same sparsity costs. Cut at once from a trained model, the
# remaining weights never learn to do without the pruned ones; pruned gradually while the model
# trains, they do. The verdicts above give each sparsity's cost against the same model trained
# dense, and whether it "costs at most 1 mm" is decided by the interval's upper end, not by the
# mean. What a sparse model buys is storage (the file above), not speed: the same dense kernels
# run it. Whether weight pruning regularises at all is section 4's comparison with `none`.
#
# ## 8. Step time of each regulariser
# `make bench` measures one training step of the 243-frame model with every regulariser beside
# dropout's (`reports/bench/regularizers.json`, 128 and 1024 channels); the pruning layer's limit is
# 1.3x dropout's step.

# %%
bench = report.load_bench("regularizers")
if bench:
    display(study.bench_table(bench))
else:
    print("no reports/bench/regularizers.json yet: run `make bench`")

# %% [markdown]
# ## What you learned
# - "Pruning layer" has several readings, and they are different layers: what the rate counts
#   (all channels or the non-zero ones) decides whether it does anything after ReLU, and whether it
#   acts at evaluation decides whether it is part of the model.
# - The verdicts above say whether dropout earns its place here and whether any reading of the
#   pruning layer beats it, at 128 channels, 27 frames and about one pass over the data; the
#   paper's scale was not tested. A layer that removes the smallest values cannot borrow
#   dropout's count rescaling: only a sum-preserving one keeps training and evaluation alike.
# - Paired seeds and intervals over test people decide even large-looking gaps; an inconclusive
#   verdict is a result, and "equivalent" needs a margin stated in advance.
# - A trained model's weights cannot simply be cut: one-shot magnitude pruning costs tens of mm even
#   at 50 %. Pruned gradually while training, half to three quarters of the weights go for about
#   a millimetre; with dense kernels that sparsity saves storage, not time.
# - Read as weight pruning, the pruning layer is compared with no regulariser and with dropout in
#   section 4: its verdicts say whether it regularises at all here.
#
# ## Try this
# - Add `"prune(rate=0.25, over='nonzero', rescale=False, at_eval=False)"` to `study.ARMS`
#   (training only, without the rescaling) and rerun: how much does the rescaling matter?
# - Set `seeds = [0, 1, 2, 3, 4]` (about 10 more minutes): the seed part of each interval narrows;
#   the part from having only 5 test people does not (read the power lines).

# %%
# NBVAL_CHECK_OUTPUT
path = report.save_metrics(
    "03_pruning",
    study.metrics_json(
        arms, train_mpjpe, comparisons, claim, zeros, sparsity, trained_sparsity, bench, data,
        holm,
    ),
    cfg,
)
print(path.name, sorted(report.load_metrics("03_pruning")))
