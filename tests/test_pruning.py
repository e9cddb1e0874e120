"""The pruning layer (activation pruning) and weight pruning of notebook 03."""

import dataclasses

import pytest
import torch

from dilpose import callbacks, checkpoints, pruning, regularizers, train
from dilpose.errors import ConfigError
from dilpose.model import ModelConfig, TemporalModel, TemporalModelStrided

NONZERO = "prune(rate=0.25, over='nonzero', rescale=False, at_eval=False)"


def test_keeps_exactly_the_largest_fraction_per_sample_and_time():
    torch.manual_seed(0)
    x = torch.relu(torch.randn(3, 16, 7))  # (N, C, T): channels on dim 1
    layer = pruning.ActivationPruning(0.25, over="nonzero", rescale=False).train()
    y = layer(x)
    for n in range(3):
        for t in range(7):
            col, out = x[n, :, t], y[n, :, t]
            nz = int((col != 0).sum())
            drop = round(0.25 * nz)
            kept = torch.sort(col[col != 0]).values[drop:]
            assert torch.equal(torch.sort(out[out != 0]).values, kept)
    all_layer = pruning.ActivationPruning(0.5, over="all", rescale=False).train()
    z = torch.randn(4, 10)  # (N*T, C): the strided path's layout
    kept = all_layer(z)
    assert torch.equal((kept != 0).sum(1), torch.full((4,), 5))
    assert torch.equal(kept.max(1).values, z.max(1).values)


def test_ties_are_broken_by_channel_index():
    layer = pruning.ActivationPruning(0.5, over="all", rescale=False).train()
    x = torch.ones(1, 4, 1)
    assert layer(x)[0, :, 0].tolist() == [0.0, 0.0, 1.0, 1.0]  # lower index pruned first


def _stable_sort_reference(key, m):
    """Keep mask that prunes the m smallest of each row by a stable sort (the definition)."""
    rank = torch.empty_like(order := torch.sort(key, dim=-1, stable=True).indices)
    rank.scatter_(-1, order, torch.arange(key.shape[-1]).expand_as(order))
    return rank >= m


@pytest.mark.parametrize("seed", range(6))
def test_selection_equals_a_stable_sort_with_ties_and_per_row_counts(seed):
    g = torch.Generator().manual_seed(seed)
    rows, C = 300, 37
    key = torch.round(torch.randn(rows, C, generator=g) * 3) / 2  # coarse values: many ties
    key[key < 0] = 0.0  # zeros as after ReLU
    m = torch.randint(0, C + 1, (rows, 1), generator=g)
    keep = pruning.prune_smallest(key, m)
    ref = _stable_sort_reference(key, m)
    assert torch.equal(key * keep, key * ref)  # ties at 0 may go either way: same output
    assert torch.equal(keep | (key == 0), ref | (key == 0))
    signed = torch.round(torch.randn(rows, C, generator=g) * 3) / 2  # no zero rule: exact
    signed[signed == 0] = 0.25
    for k in (0, 1, 9, C):
        assert torch.equal(pruning.prune_smallest(signed, k), _stable_sort_reference(signed, k))


def test_rescale_preserves_each_rows_sum():
    # the smallest values carry less than their share of the sum: the kept ones are scaled by
    # sum / kept sum (10 / 9 here), not by the count ratio 4 / 3 of inverted dropout
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 5.0, 0.0]])
    for over in ("all", "nonzero"):
        y = pruning.ActivationPruning(0.25, over=over, rescale=True).train()(x)
        assert y.sum(-1).tolist() == pytest.approx(x.sum(-1).tolist())
    y = pruning.ActivationPruning(0.25, over="all", rescale=True).train()(x)
    assert y[0].tolist() == pytest.approx([0.0, 2.0 * 10 / 9, 3.0 * 10 / 9, 4.0 * 10 / 9])
    # over all channels after ReLU the pruned entries are zeros: nothing changes at all
    assert torch.equal(y[1], x[1])


def test_rescaled_training_only_pruning_matches_evaluation_on_average():
    # what the next BatchNorm sees in training (pruned, rescaled) has the same per-row sum as at
    # evaluation (the identity), for rows of non-negative activations as after ReLU
    g = torch.Generator().manual_seed(0)
    x = torch.relu(torch.randn(64, 32, 9, generator=g))
    layer = pruning.ActivationPruning(0.25, over="nonzero", rescale=True)
    train_sum = layer.train()(x).sum(1)
    assert torch.allclose(train_sum, layer.eval()(x).sum(1), rtol=1e-5, atol=1e-5)


def test_over_all_channels_after_relu_can_prune_nothing():
    x = torch.tensor([[0.0, 0.0, 0.0, 5.0, 6.0, 0.0, 0.0, 7.0]])  # 5 of 8 zero already
    layer = pruning.ActivationPruning(0.25, over="all", rescale=False).train()
    assert torch.equal(layer(x), x) and float(layer.pruned_fraction) == 0.0
    layer = pruning.ActivationPruning(0.25, over="nonzero", rescale=False).train()
    assert float(layer.pruned_fraction) == 0.0 and layer(x)[0, 3] == 0.0  # smallest non-zero


@pytest.mark.parametrize("at_eval", [False, True])
def test_dilated_and_strided_paths_agree(at_eval):
    reg = f"prune(rate=0.25, over='nonzero', rescale=True, at_eval={at_eval})"
    cfg = ModelConfig(filter_widths=(3, 3), channels=16, regularizer=reg)
    torch.manual_seed(0)
    dilated = TemporalModel(cfg)
    strided = TemporalModelStrided(cfg)
    strided.load_state_dict(dilated.state_dict())
    x = torch.randn(5, 9, 17, 2)
    for pruning_active in (True, False):
        # BatchNorm on its running statistics in both (in training mode its batch statistics
        # differ by design: the dilated path sees every frame, the strided one only those it needs)
        for model in (dilated, strided):
            model.eval()
            for _, slot in pruning.slots(model):
                slot.train(pruning_active)
        with torch.no_grad():
            a, b = dilated(x), strided(x)
        assert torch.allclose(a, b, atol=1e-5)
        assert (float(dilated.expand.reg.pruned_fraction) > 0) == (pruning_active or at_eval)


def test_training_only_is_the_identity_at_evaluation_and_in_the_model_is_not(tmp_path):
    x = torch.relu(torch.randn(2, 8, 5))
    train_only = regularizers.build(NONZERO)(8).eval()
    assert torch.equal(train_only(x), x)
    in_model = regularizers.build(NONZERO.replace("at_eval=False", "at_eval=True"))(8).eval()
    assert not torch.equal(in_model(x), x)
    # ...and it survives a checkpoint round trip: the loaded model prunes at evaluation too
    cfg = ModelConfig(
        filter_widths=(3,), channels=8, regularizer=NONZERO.replace("at_eval=False", "at_eval=True")
    )
    model = TemporalModel(cfg).eval()
    path = tmp_path / "m.pt"
    torch.save(
        {
            "model": model.state_dict(),
            "model_config": dataclasses.asdict(cfg),
            "epoch": 1,
            "input": checkpoints.input_spec(__import__("dilpose").skeleton.COCO17),
        },
        path,
    )
    loaded = checkpoints.model_from_checkpoint(path)
    assert loaded.cfg.regularizer == cfg.regularizer
    assert isinstance(loaded.expand.reg, pruning.ActivationPruning) and loaded.expand.reg.at_eval
    inp = torch.randn(1, 7, 17, 2)
    with torch.no_grad():
        assert torch.equal(loaded(inp), model(inp))
        assert float(loaded.expand.reg.pruned_fraction) > 0


def test_prune_parameters_are_checked():
    for bad in ("prune(rate=1.0)", "prune(over='some')", "prune(rescale=1)", "prune(speed=2)"):
        with pytest.raises(ConfigError):
            regularizers.validate(bad)
    assert str(regularizers.validate("prune")) == (
        "prune(at_eval=False, over='nonzero', rate=0.25, rescale=True)"
    )


def test_magnitude_pruning_reaches_the_requested_sparsity_with_the_smallest_weights():
    torch.manual_seed(0)
    model = TemporalModel(ModelConfig(filter_widths=(3, 3), channels=128))
    before = {n: p.detach().clone() for n, p in pruning.prunable(model)}
    result = pruning.magnitude_prune(model, 0.75)
    for name, w in pruning.prunable(model):
        k = round(0.75 * w.numel())
        assert int((w == 0).sum()) == k and result[name] == pytest.approx(k / w.numel())
        kept = before[name][w != 0].abs()
        gone = before[name][w == 0].abs()
        assert kept.min() >= gone.max()  # exactly the smallest magnitudes went
    sizes = pruning.sparse_size_bytes(model)
    assert sizes["sparse"] < 0.5 * sizes["dense"]
    with pytest.raises(ValueError, match="sparsity"):
        pruning.magnitude_prune(model, 1.0)


def test_zero_fractions_see_every_slot_in_both_modes():
    cfg = ModelConfig(filter_widths=(3, 3), channels=16, regularizer=NONZERO)
    model = TemporalModel(cfg)
    x = torch.randn(2, 20, 17, 2)
    train_mode = pruning.zero_fractions(model, x, training=True)
    eval_mode = pruning.zero_fractions(model, x, training=False)
    assert list(train_mode) == [n for n, _ in pruning.slots(model)] and len(train_mode) == 3
    assert model.training  # the mode is restored
    # pruning adds zeros in training only (this variant): more zeros than at evaluation
    assert all(train_mode[k] > eval_mode[k] for k in train_mode)


@pytest.fixture(scope="module")
def seqs():
    from dilpose import datasets

    data = datasets.load("mocap", seed=0, subjects=("cmu02",))
    return datasets.sequences(data, ["cmu02"], cameras=(0,))


def _gmp_cfg(**kw):
    from dilpose import config

    settings = dict(filter_widths=(3, 3), channels=16, batch_size=64, stride_subsample=2)
    return config.for_profile("smoke", **{**settings, "epochs": 5, "device": "cpu", **kw})


def test_weight_pruning_holds_pruned_weights_at_zero_and_reaches_its_sparsity(seqs):
    seen = []

    def check(trainer, logs):
        gmp = trainer.weight_pruning
        for name, w in gmp.weights:
            assert torch.all(w[gmp.masks[name] == 0] == 0), f"{name}: a pruned weight moved"
        seen.append({name: m.clone() for name, m in gmp.masks.items()})

    t = train.Trainer(_gmp_cfg(weight_sparsity=0.6), seqs, progress=False)
    t.callbacks.append(
        type("Check", (callbacks.Callback,), {"on_batch_end": staticmethod(check)})()
    )
    t.fit()
    assert len(seen) > 10  # checked after many optimiser steps
    for before, after in zip(seen, seen[1:]):  # once pruned, pruned for good
        assert all(torch.all(after[k] <= before[k]) for k in before)
    for name, w in pruning.prunable(t.eval_network()):
        assert float((w == 0).float().mean()) == pytest.approx(
            round(0.6 * w.numel()) / w.numel()
        ), name


def test_weight_pruning_schedule_is_cubic_from_begin_to_end():
    model = TemporalModel(ModelConfig(filter_widths=(3,), channels=8))
    gmp = pruning.GradualMagnitudePruning(model, 0.8, begin=0.1, end=0.6)
    s = [gmp.sparsity_at(e, 40) for e in range(40)]
    assert s[:4] == [0.0] * 4 and s[24:] == [0.8] * 16
    assert all(a < b for a, b in zip(s[4:25], s[5:25]))  # rises strictly from e0 = 4 to e1 = 24
    assert s[14] == pytest.approx(0.8 * (1 - 0.5**3))  # half-way: 7/8 of the target
    assert pruning.GradualMagnitudePruning(model, 0.5).sparsity_at(0, 1) == 0.5  # one epoch


def test_weight_pruning_resumes_with_its_masks(seqs, tmp_path):
    cfg = _gmp_cfg(weight_sparsity=0.5, epochs=3)
    full = train.Trainer(cfg, seqs, progress=False)
    full.fit()
    part = train.Trainer(cfg, seqs, checkpoint=tmp_path / "p.pt", progress=False)
    part.fit(stop_after=1)
    resumed = train.Trainer(cfg, seqs, checkpoint=tmp_path / "p.pt", progress=False)
    resumed.fit(resume=True)
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k


def test_weight_sparsity_is_checked():
    with pytest.raises(ConfigError, match="weight_sparsity"):
        _gmp_cfg(weight_sparsity=1.0)
