"""Tests for dilpose.model: the two forward paths agree, causality, BN folding, parameter count."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dilpose import regularizers
from dilpose.model import (
    ModelConfig,
    TemporalModel,
    TemporalModelStrided,
    count_parameters,
    fold_batchnorm,
    set_bn_momentum,
    strided_conv1d,
)

SMALL = 16  # channels for the tests that only check behaviour, not size


@pytest.fixture(autouse=True)
def _seed():
    # Inputs come from the global generator; a fixed seed keeps every run identical.
    torch.manual_seed(1234)


def _randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial weights and BN statistics, so BN and the skips really matter in eval mode.

    Conv weights get variance 1/fan_in so activations stay O(1) through the residual stack, as in
    a trained network; the 1e-5 agreement tests are then about float32 rounding, not overflow.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var") or name.endswith("bn.weight"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=gen))
            elif tensor.dim() == 3:  # conv weight (C_out, C_in, w)
                fan_in = tensor.shape[1] * tensor.shape[2]
                tensor.copy_(torch.randn(tensor.shape, generator=gen) / fan_in**0.5)
            else:  # BN bias and running mean, shrink bias
                tensor.copy_(0.2 * torch.randn(tensor.shape, generator=gen))
    return model


def _windows(x: torch.Tensor, rf: int) -> torch.Tensor:
    """(N, T, J, 2) -> (N * (T - rf + 1), rf, J, 2): every sliding window, in order."""
    n, t = x.shape[:2]
    return torch.stack([x[:, i : i + rf] for i in range(t - rf + 1)], 1).reshape(
        -1, rf, *x.shape[2:]
    )


def _pair(cfg: ModelConfig, seed: int = 0):
    whole = _randomise(TemporalModel(cfg), seed).eval()
    strided = TemporalModelStrided(cfg).eval()
    strided.load_state_dict(whole.state_dict())
    return whole, strided


@pytest.mark.parametrize("widths", [(3, 3, 3), (3, 3, 3, 3, 3), (3, 5), (1,), (5, 1, 3)])
@pytest.mark.parametrize("causal", [False, True])
def test_paths_agree(widths, causal):
    cfg = ModelConfig(filter_widths=widths, channels=SMALL, causal=causal)
    whole, strided = _pair(cfg)
    rf = cfg.receptive_field()
    x = torch.randn(2, rf + 6, 17, 2)
    with torch.no_grad():
        seq = whole(x)
        win = strided(_windows(x, rf))
    assert seq.shape == (2, 7, 17, 3)
    assert win.shape == (14, 1, 17, 3)
    torch.testing.assert_close(win.reshape(2, 7, 17, 3), seq, atol=1e-5, rtol=0)


def test_strided_several_windows_per_sequence():
    cfg = ModelConfig(filter_widths=(3, 3), channels=SMALL)
    whole, strided = _pair(cfg)
    x = torch.randn(1, 27, 17, 2)
    with torch.no_grad():
        out = strided(x)
        assert out.shape == (1, 3, 17, 3)
        torch.testing.assert_close(out[0], whole(x)[0, ::9], atol=1e-5, rtol=0)


def test_paper_size():
    cfg = ModelConfig(filter_widths=(3, 3, 3, 3, 3), channels=1024, in_joints=17, out_joints=17)
    assert cfg.receptive_field() == 243
    assert cfg.dilations() == (3, 9, 27, 81)
    assert cfg.padding() == (121, 121)
    for cls in (TemporalModel, TemporalModelStrided):
        model = cls(cfg)
        assert model.receptive_field() == 243
        assert count_parameters(model) == 16_952_371


def test_causal_padding_and_shift():
    cfg = ModelConfig(filter_widths=(3, 3, 3), causal=True)
    assert cfg.pad == 13 and cfg.causal_shift == 13 and cfg.padding() == (26, 0)
    assert ModelConfig(filter_widths=(3, 3, 3)).causal_shift == 0


@pytest.mark.parametrize("causal", [True, False])
def test_causality(causal):
    cfg = ModelConfig(filter_widths=(3, 3, 3), channels=SMALL, causal=causal)
    whole, _ = _pair(cfg)
    frames, t = 40, 20
    left, right = cfg.padding()
    clip = torch.randn(1, frames, 17, 2)
    changed = clip.clone()
    changed[:, t + 1 :] += torch.randn_like(changed[:, t + 1 :])

    def run(c):
        # edge padding, as the data pipeline does
        padded = torch.cat(
            [c[:, :1].expand(-1, left, -1, -1), c, c[:, -1:].expand(-1, right, -1, -1)], 1
        )
        return whole(padded)

    with torch.no_grad():
        a, b = run(clip), run(changed)
    assert a.shape[1] == frames  # padding gives one output per input frame
    if causal:
        torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1], atol=0, rtol=0)
    else:
        assert not torch.allclose(a[:, t], b[:, t])
    assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])


def _with_bn_stats(model: nn.Module, rf: int) -> nn.Module:
    """Give BN real running statistics by a few train-mode passes over shifted, scaled data."""
    _randomise(model)
    set_bn_momentum(model, 0.5)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(3.0 * torch.randn(4, rf, 17, 2) + 1.0)
    return model.eval()


@pytest.mark.parametrize("cls", [TemporalModel, TemporalModelStrided])
@pytest.mark.parametrize("causal", [False, True])
def test_fold_batchnorm(cls, causal):
    cfg = ModelConfig(filter_widths=(3, 3, 3), channels=SMALL, causal=causal)
    model = _with_bn_stats(cls(cfg), cfg.receptive_field())
    bn = model.expand.bn
    assert not torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean))
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.Dropout)) for m in folded.modules())
    assert not folded.training and not any(p.requires_grad for p in folded.parameters())
    x = torch.randn(3, 2 * cfg.receptive_field(), 17, 2)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), atol=1e-5, rtol=1e-5)
    assert isinstance(model.expand.bn, nn.BatchNorm1d), "the original model is left unchanged"


class Scale(nn.Module):
    """A regulariser that acts at evaluation too: a per-channel gain (dim 1 is channels in both
    paths)."""

    def __init__(self, channels, low=0.5):
        super().__init__()
        self.gain = nn.Parameter(torch.linspace(low, 1.5, channels))

    def forward(self, x):
        return x * self.gain.view(1, -1, *[1] * (x.dim() - 2))


@pytest.fixture
def scale_regularizer():
    regularizers.register(
        "test_scale", lambda low: lambda channels: Scale(channels, low), {"low": 0.5}
    )
    yield "test_scale(low=0.5)"
    regularizers.unregister("test_scale")


def test_fold_keeps_non_dropout_regularizer(scale_regularizer):
    cfg = ModelConfig(filter_widths=(3, 3), channels=SMALL, regularizer=scale_regularizer)
    for cls in (TemporalModel, TemporalModelStrided):
        model = _with_bn_stats(cls(cfg), cfg.receptive_field())
        folded = fold_batchnorm(model)
        assert isinstance(folded.expand.reg, Scale)
        x = torch.randn(2, 9, 17, 2)
        with torch.no_grad():
            torch.testing.assert_close(folded(x), model(x), atol=1e-5, rtol=1e-5)


def test_state_dict_interchangeable():
    cfg = ModelConfig(filter_widths=(3, 3, 3), channels=SMALL)
    whole, strided = TemporalModel(cfg), TemporalModelStrided(cfg)
    a, b = whole.state_dict(), strided.state_dict()
    assert list(a) == list(b)
    assert all(a[k].shape == b[k].shape for k in a)
    _randomise(strided, seed=3)
    whole.load_state_dict(strided.state_dict())  # strict: both directions load
    strided.load_state_dict(whole.state_dict())


def test_regularizer_factory_called_per_slot():
    calls = []
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(tuple(x.shape))
            return x

    def factory(channels):
        calls.append(channels)
        return Probe()

    regularizers.register("test_probe", lambda: factory)
    cfg = ModelConfig(filter_widths=(3, 3, 3, 3), channels=SMALL, regularizer="test_probe")
    try:
        models = [(TemporalModel, (2, SMALL, 79)), (TemporalModelStrided, (2 * 27, SMALL))]
        for cls, shape in models:
            calls.clear()
            seen.clear()
            model = cls(cfg)
        assert calls == [SMALL] * (1 + 2 * cfg.num_blocks)
        assert sum(isinstance(m, Probe) for m in model.modules()) == len(calls)
        model(torch.randn(2, 81, 17, 2))
        assert len(seen) == len(calls)
        assert seen[0] == shape  # channels on dim 1 in both layouts
    finally:
        regularizers.unregister("test_probe")


def test_default_regularizer_is_dropout():
    assert str(ModelConfig().regularizer) == "dropout(p=0.25)"
    model = TemporalModel(
        ModelConfig(filter_widths=(3, 3), channels=SMALL, regularizer="dropout(p=0.1)")
    )
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 3 and all(d.p == 0.1 for d in drops)
    none = TemporalModel(ModelConfig(filter_widths=(3, 3), channels=SMALL, regularizer="none"))
    assert not any(isinstance(m, nn.Dropout) for m in none.modules())


@pytest.mark.parametrize("cls", [TemporalModel, TemporalModelStrided])
@pytest.mark.parametrize(
    "shape, message",
    [
        ((2, 27, 17), r"expects input of shape \(N, T, 17, 2\)"),
        ((2, 27, 16, 2), r"expects input of shape \(N, T, 17, 2\), got \(2, 27, 16, 2\)"),
        ((2, 27, 17, 3), r"expects input of shape"),
        ((2, 26, 17, 2), r"at least receptive_field = 27 frames"),
    ],
)
def test_bad_input_shapes(cls, shape, message):
    model = cls(ModelConfig(filter_widths=(3, 3, 3), channels=SMALL))
    with pytest.raises(ValueError, match=message):
        model(torch.randn(*shape))


def test_bad_input_strided_length_and_dtype():
    cfg = ModelConfig(filter_widths=(3, 3, 3), channels=SMALL)
    with pytest.raises(ValueError, match="multiple of receptive_field = 27"):
        TemporalModelStrided(cfg)(torch.randn(1, 28, 17, 2))
    with pytest.raises(ValueError, match="floating-point"):
        TemporalModel(cfg)(torch.zeros(1, 27, 17, 2, dtype=torch.long))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(filter_widths=()),
        dict(filter_widths=(3, 2)),
        dict(filter_widths=(0,)),
        dict(channels=0),
        dict(regularizer="dropout(p=1.0)"),
        dict(regularizer="pruning_unknown"),
        dict(regularizer="dropout(q=1)"),
    ],
)
def test_bad_config(kwargs):
    with pytest.raises(ValueError, match="ModelConfig"):
        ModelConfig(**kwargs)


@pytest.mark.parametrize("widths, rf", [((3, 5), 15), ((1,), 1), ((3, 3, 3), 27)])
def test_other_widths(widths, rf):
    cfg = ModelConfig(filter_widths=list(widths), channels=SMALL, in_joints=15, out_joints=14)
    assert cfg.filter_widths == widths and cfg.receptive_field() == rf
    model = TemporalModel(cfg).eval()
    assert model(torch.randn(2, rf + 4, 15, 2)).shape == (2, 5, 14, 3)
    assert TemporalModelStrided(cfg)(torch.randn(2, rf, 15, 2)).shape == (2, 1, 14, 3)


@pytest.mark.parametrize("width", [1, 3, 5])
def test_strided_conv1d_equals_conv1d(width):
    gen = torch.Generator().manual_seed(width)
    x = torch.randn(3, 4 * width, 7, generator=gen)  # (N, L, C_in) channel-last
    weight = torch.randn(5, 7, width, generator=gen)
    bias = torch.randn(5, generator=gen)
    ref = F.conv1d(x.transpose(1, 2), weight, bias, stride=width).transpose(1, 2)
    torch.testing.assert_close(strided_conv1d(x, weight, bias), ref, atol=1e-5, rtol=1e-5)
    ref = F.conv1d(x.transpose(1, 2), weight, stride=width).transpose(1, 2)
    torch.testing.assert_close(strided_conv1d(x, weight), ref, atol=1e-5, rtol=1e-5)


def test_set_bn_momentum_and_count_parameters():
    model = TemporalModel(ModelConfig(filter_widths=(3, 3), channels=SMALL))
    set_bn_momentum(model, 0.03)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(bns) == 3 and all(bn.momentum == 0.03 for bn in bns)
    # expand 34*16*3 + block (16*16*3 + 16*16) + 3 BNs * 32 + shrink 16*51 + 51
    assert count_parameters(model) == 1632 + 1024 + 96 + 867
    model.shrink.bias.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == 1632 + 1024 + 96 + 816


def test_gradients_flow_in_training():
    cfg = ModelConfig(filter_widths=(3, 3), channels=SMALL)
    model = TemporalModelStrided(cfg).train()
    out = model(torch.randn(4, 9, 17, 2))
    out.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_fast_dropout_has_nn_dropout_statistics():
    from dilpose.regularizers import Dropout

    torch.manual_seed(0)
    drop = Dropout(0.25)
    x = torch.ones(200_000)
    y = drop(x)
    assert abs(float((y == 0).float().mean()) - 0.25) < 0.005  # drop probability p
    # kept values scaled by 1/(1-p)
    assert torch.unique(y).tolist() == pytest.approx([0.0, 1.0 / 0.75])
    assert abs(float(y.mean()) - 1.0) < 0.01  # expectation preserved
    drop.eval()
    assert torch.equal(drop(x), x)  # identity at inference
    assert isinstance(drop, nn.Dropout)  # folded away like nn.Dropout
