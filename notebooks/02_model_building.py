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
# **What you will learn.** How a stack of dilated 1-D convolutions turns a window of 2D keypoints
# into one 3D pose; what the model sees in a training window and why flipping it doubles the data;
# what one training step does; why training runs a *strided* twin of the model that is an order of
# magnitude faster yet gives the same answer; and, trained with three seeds per variant, whether
# the paper's long window (243 frames) and its look at future frames pay off on our data.
#
# On the `default` profile the model has 128 channels instead of the paper's 1024 and trains for
# 40 short epochs (0.4M training windows, about 2.5 CPU minutes, in bf16 mixed precision where the
# CPU has it) on the embedded motion capture; the `paper` profile uses the paper's 1024 channels
# and 90 epochs. The whole notebook takes about 35 minutes the first time and about a minute after
# that: trained models are cached in `reports/checkpoints/`.
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
seeds = [0, 1, 2]        # the main model and its causal twin are trained with each of these seeds
context_seeds = [0, 1, 2, 3, 4]  # the matched receptive-field arms, with each of these

# %%
# NBVAL_CHECK_OUTPUT
import torch
from IPython.display import Markdown

from dilpose import batches, config, evaluate, metrics, model, report, viz, viz_plots
from dilpose import datasets as ds
from dilpose.studies import common
from dilpose.studies import s02_model as study

cfg = config.for_notebook("02", profile, dataset=dataset, seed=seed)
print(cfg)

# %% [markdown]
# ## 1. The architecture, drawn
# Each layer multiplies the receptive field by its width; the dilation of block b is the product of
# the widths before it. Drawn for widths 3,3,3 (27 frames); 3,3,3,3,3 repeats the pattern to 243.
# A causal model sees only the past (for real-time use, notebook 05).

# %%
fig = viz_plots.receptive_field_figure((3, 3, 3))
_ = report.save_figure(fig, "02_receptive_field")

# %% [markdown]
# Top: every output frame (top row) sees 13 frames before and 13 after it. Bottom: the causal
# twin shifts the same connections so that an output sees only its own frame and the 26 before.
#
# ## 2. Build a small model and look inside
# A 27-frame model with 32 channels: the expand convolution (width 3) reads the 17 × 2 input
# values per frame, two residual blocks (dilations 3 and 9) refine them, and a 1×1 convolution
# writes 17 × 3 coordinates. The regulariser slots hold the paper's dropout (notebook 03 puts its
# pruning layer there).

# %%
# NBVAL_CHECK_OUTPUT
small = model.TemporalModel(model.ModelConfig(filter_widths=(3, 3, 3), channels=32))
print(small)
print("receptive field:", small.receptive_field(), "frames; dilations:", small.cfg.dilations())

# %% [markdown]
# A batch of 2 clips of 40 frames goes in as (N, T, joints, xy); out comes one pose per frame that
# has a full window: T − 27 + 1 = 14 poses of 17 joints × xyz, in metres. Padding a clip by 13
# frames at each end (`cfg.padding()`) gives one pose per input frame.

# %%
# NBVAL_CHECK_OUTPUT
x = torch.zeros(2, 40, 17, 2)
print(tuple(x.shape), "->", tuple(small.eval()(x).shape), "  padding:", small.cfg.padding())

# %% [markdown]
# Parameters grow linearly with the number of blocks while the receptive field grows
# exponentially. The paper's model (1024 channels, 4 blocks, 243 frames):

# %%
# NBVAL_CHECK_OUTPUT
params = study.parameter_table()
print(f"paper-size model: {params.loc[1024, 'B=4 (243 frames)']:,} parameters "
      "(VideoPose3D's: 16,952,371)")
params

# %% [markdown]
# ## 3. What the model is trained on: one window, and its mirror image
# Training cuts the clips into windows of one receptive field, each labelled with the 3D pose of
# its centre frame (root-relative, in the camera's coordinates). Flip augmentation adds every
# window mirrored: x negated, left and right joints swapped, in the 2D input and the 3D target
# alike; a mirrored person is still a plausible person, so the data doubles for free.

# %%
data = ds.load(cfg.dataset, seed=cfg.seed, noise=cfg.noise, source_2d=cfg.h36m_2d_source)
train_seqs = ds.sequences(data, data.train_subjects)
seq = max(train_seqs, key=len)  # the longest training clip, first camera
pair = study.window_and_flip(seq, cfg.receptive_field(), len(seq) // 2, cfg.causal, data.layout_2d)
print(f"{seq.subject} · {seq.action} · camera {seq.camera}: window {pair['x'].shape} "
      f"-> target {pair['y'].shape}")
_ = report.save_figure(viz.window_figure(pair, data.layout_2d), "02_window")

# %% [markdown]
# Top: the 2D input is a short film of the person (the grey line is one wrist's path through the
# window) and the target is the pose at the window's centre. Bottom: the mirrored copy. Every limb
# now does what its opposite limb did (compare the legs), and because the left/right labels are
# swapped along with the mirror, blue stays on the person's left in both the input and the target:
# a plausible person, and the same 2D-to-3D relation for the model to learn.
#
# ## 4. One training step by hand
# What the `Trainer` repeats 0.4 million windows' worth of times: take a batch of windows, predict,
# measure the mean per-joint position error (MPJPE, the paper's loss), back-propagate, step the
# optimiser. Shown on the small model with the same batch before and after one Adam step.

# %%
windows = batches.WindowBatches(train_seqs, 64, small.receptive_field(), seed=cfg.seed,
                                layout_2d=data.layout_2d)
batch = next(windows.epoch(0))
net = model.TemporalModelStrided(small.cfg).train()
opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
x, y = torch.from_numpy(batch.inputs), torch.from_numpy(batch.targets)
torch.manual_seed(0)  # the same dropout masks before and after the step
loss = metrics.mpjpe(net(x), y)  # forward, then the loss: metres
loss.backward()                  # gradients of the loss for every weight
opt.step()                       # move every weight a little against its gradient
torch.manual_seed(0)
print(f"batch {tuple(x.shape)} -> {tuple(net(x).shape)}; MPJPE {1000 * loss.item():.0f} mm "
      f"before the step, {1000 * metrics.mpjpe(net(x), y).item():.0f} mm after")

# %% [markdown]
# One step already lowers the error on this batch; training repeats it over shuffled batches, 40
# epochs, with the learning rate and BatchNorm momentum decaying as the paper prescribes.
#
# ## 5. Why training uses a strided twin
# To predict one frame, the dilated model still computes every intermediate frame of the window.
# The strided twin (`TemporalModelStrided`) replaces dilation by a stride equal to the kernel
# width, computing only the frames the output needs. It holds the same weights, so it is the same
# function on a single window; the trainer uses it and evaluation uses the dilated model on whole
# clips. Measured here on the configured model (forward and backward of 256 windows):

# %%
twin = study.strided_vs_dilated(cfg.replace(in_joints=data.layout_2d.num_joints), windows=256)
print(f"largest difference between the two outputs: {twin['max_difference_mm']:.5f} mm")
print(f"one training step: dilated {twin['dilated_ms']:.0f} ms, strided {twin['strided_ms']:.0f} ms"
      f" -> {twin['speedup']:.1f}x faster")

# %% [markdown]
# The two paths agree to float32 rounding (a thousandth of a millimetre), and the strided one is
# many times faster on a window of the full receptive field: the larger the window, the bigger the
# saving, which is what makes a 243-frame model trainable on a CPU.
#
# ## 6. Train on the default data
# The `Trainer` runs the steps above for every batch of every epoch (or the model comes from the
# cache, trained with exactly these settings on exactly these data).

# %%
main = common.train_variant("02_main", cfg, data)
print(f"{main.name}: {main.parameters:,} parameters, {main.cfg.receptive_field()} frames, "
      f"{main.train_seconds:.0f} s of training")
print(f"precision: {main.cfg.precision} -> {main.results['precision']} on this machine")

# %%
fig = viz_plots.learning_curves({main.name: main.history})
_ = report.save_figure(fig, "02_learning_curves")

# %%
h, q = main.history, max(1, len(main.history) // 4)  # q: the last quarter of the epochs
Markdown(f"**Reading the learning curve.** The training MPJPE falls from {h[0]['loss_mm']:.0f} mm "
         f"after the first epoch to {h[-1]['loss_mm']:.0f} mm after the last; most of the gain "
         f"comes in the first few epochs, and the last {q} epochs change it by "
         f"{h[max(0, len(h) - 1 - q)]['loss_mm'] - h[-1]['loss_mm']:.1f} mm. This is the error on "
         "training windows with dropout on; the test error below is the one that counts.")

# %% [markdown]
# ## 7. Results per action (test subjects, all four protocols, mm)
# MPJPE = protocol 1; P-MPJPE = after Procrustes alignment (protocol 2); N-MPJPE = after scale
# alignment (protocol 3); MPJVE = velocity error (mm per frame). Root-relative, 17 H36M joints,
# test-time flip augmentation as configured.

# %%
common.per_action_table(main.results)

# %%
pa = main.results["mpjpe"]["per_action"]
best, worst = min(pa, key=pa.get), max(pa, key=pa.get)
Markdown(f"**Reading the table.** *{best}* is easiest ({pa[best]:.1f} mm) and *{worst}* hardest "
         f"({pa[worst]:.1f} mm). Aligning each predicted pose to the truth (P-MPJPE, "
         f"{main.results['p_mpjpe']['action_mean']:.1f} mm) removes about "
         f"{main.results['mpjpe']['action_mean'] - main.results['p_mpjpe']['action_mean']:.0f} mm:"
         " that much of the error is a pose turned or scaled as a whole, the rest is its shape.")

# %%
print(evaluate.table_i_markdown(main.results["mpjpe"]["per_action"], data.name))

# %% [markdown]
# ## 8. A prediction beside the ground truth (test subject)

# %%
example = common.example_prediction(main, data)
fig = viz.pose_comparison(example["target"], example["prediction"], frames=example["frames"],
                          title=f"{example['subject']} · {example['action']} · "
                                f"camera {example['camera']}")
_ = report.save_figure(fig, "02_prediction")

# %% [markdown]
# Grey is the truth and colour the prediction, both placed at the true pelvis; the number above
# each panel is that frame's MPJPE. Look for where the two part: usually the wrists and ankles,
# the joints that move fastest and that the detector misses most. Drag the 3D view below to see
# the whole clip.

# %%
fig = viz.plotly_skeleton(example["target"], fps=data.fps, step=4,
                          others={"prediction": example["prediction"]},
                          title="ground truth (grey) and prediction, world metres")
fig  # its static twin is the figure above (reports/figures/02_prediction.png)

# %% [markdown]
# ## 9. Ablations: receptive field and causality, with seeds
# Two questions, each with its own arms and the same training budget (the number of training
# windows) for every arm:
#
# - **Does seeing the future help?** The main model against its causal twin, trained on every
#   training frame with each seed in `seeds`.
# - **Does temporal context help?** 27, 81 and 243 frames. Most training clips here are short (the
#   median is under 100 frames), so on most frames a 243-frame window is largely edge padding (the
#   first or last frame repeated) where a 27-frame window is real motion: comparing models trained
#   on every frame would confound the receptive field with how much of each window is real. The
#   *matched* arms are therefore all trained on the same frames, those whose centred 243-frame
#   window is at least 90 % inside its clip (`Config.min_context`), with denser subsampling so that
#   each still sees as many windows as the main model, and with each seed in `context_seeds`. They
#   are scored on all test frames and, separately, on the full-context frames of the long test
#   clips (a whole 243-frame window inside the clip).
#
# The 1-frame model (same depth, all widths 1) only illustrates the trend, with the first seed.
# (The `smoke` profile's main model has 27 frames: its matched arms are 9 and 27 frames.)

# %%
share = study.matched_share(data, cfg.receptive_field())
print(f"training frames with >= 90 % of a {cfg.receptive_field()}-frame window inside the clip: "
      f"{share:.0%}")
arms = study.run(cfg, data, seeds, context_seeds)
runs = {label: arm.first for label, arm in list(arms.items())[1:]}
study.seeds_table(arms)

# %% [markdown]
# Matching has a price, printed above the table: only the frames of the long clips have a
# 243-frame window that is 90 % real, so the matched arms learn from that share of the training
# frames (as many windows as the main model, but drawn from far less varied motion). Compare their
# errors with the main model's in the table: the matched comparison is fair between the three
# receptive fields, but it is a comparison on little, long-clip data, and says nothing about what
# more data would change.
#
# Each row is one arm: its MPJPE for every seed, and over all test frames with a 95 % interval.
# Seeds alone move an arm by a millimetre or more, which is why one run per arm could not decide
# anything. A comparison is the first arm's MPJPE over the test frames minus the second's. Its
# 95 % interval re-draws whole test people (with all their clips and camera views: views of one
# clip are not independent) and adds the seed-to-seed variation with a t over the paired seeds
# (`dilpose.stats`). The verdict is one of four:
#
# - "A better by x mm [lo, hi]" or "B better ...": the interval excludes 0;
# - "equivalent within ±2 mm": the whole 90 % interval lies inside a margin of **2 mm, stated
#   here before the results**: about 2.5 % of the 80-90 mm errors, below what one sees in a
#   skeleton. It is *not* small enough to rule out gains of VideoPose3D's size: on Human3.6M its
#   27-, 81- and 243-frame models score 48.8, 47.7 and 46.8 mm with CPN detections (the
#   repository's model table; 40.6, 38.7 and 37.8 mm on ground-truth 2D, the paper's Table 5),
#   steps of 0.6-1.9 mm;
# - "inconclusive": the interval contains 0 and reaches beyond the margin. Either arm may be
#   better by more than 2 mm; it does **not** mean the two are the same.
#
# Each verdict carries a power line: the smallest difference this design (5 test people, a few
# seeds) would detect 80 % of the time. The conclusions rest on a family of comparisons (the
# causal one and the matched ones); Holm's correction over that family says which verdicts would
# not survive it.

# %%
comparisons = study.comparisons(arms)
for key, c in comparisons.items():
    print(f"{key}: {c['verdict']}" + ("" if c["decisive"] else "  (one seed: illustrative)"))
    print(f"    {c['power_line']}")
holm = study.holm(comparisons)
print("\n".join(holm["lines"]) or f"Holm over {len(holm['family'])} comparisons: no verdict flips.")

# %%
common.ablation_table([main, *runs.values()])

# %% [markdown]
# By clip length (MPJPE over the frames of the test clips in each group, first seed): a receptive
# field longer than the clip sees mostly repeated edge frames, so long windows can only help on long
# clips.

# %%
lengths = common.clip_length_table([main, *runs.values()])
lengths

# %%
fig = viz_plots.interval_chart(
    study.ablation_intervals(arms),
    title=f"Every arm, with its 95 % interval over test people and seeds ({data.name}, {profile})",
)
_ = report.save_figure(fig, "02_ablation")

# %% [markdown]
# Each row is one arm: the dot is its MPJPE over all test frames (mean over its seeds), the line
# its 95 % interval over test people and seeds. These intervals are wide because the test people
# differ; two arms whose intervals overlap can still differ clearly, because the paired
# comparisons above cancel what both arms share (the same people, clips and seeds). Read the
# verdicts there, not the overlap here.

# %% [markdown]
# ## 10. What reproduces and what does not
# The paper's claims, against this run's verdicts (computed above, inserted here):

# %%
v = study.key_verdicts(arms, comparisons)
Markdown(f"""
- **Seeing the future** (the paper's symmetric model against a causal one): {v['future']}.
  A causal model is what real-time use needs; notebook 05 measures what it costs there.
- **Temporal context** (matched arms, all test frames). {v['longest']} against
  {v['shortest']}: {v['context']}. {v['longest']} against {v['middle']}: {v['context_mid']}.
  {v['middle']} against {v['shortest']}: {v['context_low']}. On the full-context frames of the
  long test clips, {v['longest']} against {v['shortest']}: {v['context_full']}.
- Against a single frame (one seed, illustrative): {v['single']}.
""")

# %% [markdown]
# - **Scale of the test.** 128 channels (the paper: 1024), 0.4M training windows per model (the
#   paper: 90 epochs of 1.5M), motion capture of 15 people (the paper: Human3.6M's 7). The paper
#   itself reports no receptive-field ablation (its Table I is 243 frames only); VideoPose3D's on
#   Human3.6M is the reference at the paper's scale: 48.8 / 47.7 / 46.8 mm for 27 / 81 / 243
#   frames with CPN detections (1024 channels; its repository's table), 40.6 / 38.7 / 37.8 mm on
#   ground-truth 2D (Pavllo et al. 2019, Table 5), and 49.0 mm causal against 46.8 symmetric
#   (Table 1).
# - **The paper's numbers** (46.5 mm; VideoPose3D 46.8 mm) are Human3.6M results with CPN
#   detections; the numbers here are measured on other data and are not comparable to them.
# - **The regulariser**: every model here uses the paper's baseline, dropout; notebook 03 puts the
#   paper's pruning layer in its place and compares the two the same way.
#
# ## What you learned
# - A dilated temporal ConvNet turns T frames of 2D keypoints into T − R + 1 poses; its receptive
#   field R is the product of its filter widths, and its parameters grow only linearly with R.
# - Training reads windows of R frames, mirrored copies included, and trains a strided twin that
#   computes the same function an order of magnitude faster.
# - A comparison of receptive fields must train them on the same frames: on short clips a long
#   window is mostly padding.
# - A variant's MPJPE moves by a millimetre or more between seeds, and test people differ more:
#   comparisons need seeds and intervals over people, an "inconclusive" verdict is a result, and
#   "equivalent" needs a margin stated in advance.
#
# ## Try this
# - Set `seeds = [0]` and `context_seeds = [0]`: the comparisons become single-run guesses (the
#   seed variation is then in no interval); see which verdicts change.
# - Set `profile = "smoke"` for a one-minute version of the whole notebook (a 27-frame model, one
#   epoch): the numbers are meaningless, the plumbing is the same.
# - Read the power lines: with 5 test people, more seeds narrow the intervals only a little; more
#   test people would narrow them most.

# %%
# NBVAL_CHECK_OUTPUT
verdict = study.verdict(arms, comparisons, data.name, holm)
path = report.save_metrics(
    "02_model", study.metrics_json(arms, comparisons, verdict, data, params, holm), cfg
)
print(path.name, sorted(report.load_metrics("02_model")))
