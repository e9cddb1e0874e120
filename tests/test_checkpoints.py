"""Checkpoints: read weights-only, refuse code with one line naming the file, record and check the
architecture and the input layout, and rebuild the model they were trained as."""

import os

import pytest
import torch
from conftest import small_config, small_sequences
from torch import nn

from dilpose import checkpoints, config, evaluate, pretrained, train
from dilpose.errors import DataError


@pytest.fixture(scope="module")
def seqs():
    return small_sequences()


_cfg = small_config


def test_checkpoints_load_weights_only_and_refuse_code(seqs, tmp_path):
    t = train.Trainer(_cfg(epochs=1), seqs[0], checkpoint=tmp_path / "ok.pt", progress=False)
    t.fit()
    model = checkpoints.model_from_checkpoint(tmp_path / "ok.pt")
    assert not model.training and model.cfg.channels == 16

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    torch.save(
        {"model": {}, "model_config": {}, "epoch": 0, "payload": Evil()}, tmp_path / "evil.pt"
    )
    with pytest.raises(DataError, match="evil.pt"):
        checkpoints.load_checkpoint(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()
    (tmp_path / "cut.pt").write_bytes((tmp_path / "ok.pt").read_bytes()[:1000])
    with pytest.raises(DataError, match="cut.pt"):
        checkpoints.load_checkpoint(tmp_path / "cut.pt")


def test_evaluate_refuses_data_in_another_layout_than_the_checkpoint(seqs, tmp_path):
    from dilpose import skeleton as sk

    train.Trainer(_cfg(epochs=1), seqs[0], checkpoint=tmp_path / "a.pt", progress=False).save()
    model = checkpoints.model_from_checkpoint(tmp_path / "a.pt")
    with pytest.raises(
        DataError, match=r"a.pt: the model reads coco17 .* the evaluation data is h36m17"
    ):
        evaluate.evaluate(model, seqs[1], _cfg(), layout_2d=sk.H36M17)
    assert evaluate.evaluate(model, seqs[1], _cfg(), layout_2d=sk.COCO17)["mpjpe"]["frame_mean"] > 0


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda c: c["model_config"].update(extra=1), r"unknown key\(s\) \['extra'\]"),
        (
            lambda c: c["model_config"].update(channels="16"),
            "'model_config.channels' has the wrong type: '16'",
        ),
        (lambda c: c["model_config"].update(channels=0), "not a valid architecture.*channels"),
        (lambda c: c["model_config"].update(filter_widths=[2, 2]), "not a valid architecture.*odd"),
        (
            lambda c: c["model_config"].update(causal="no"),
            "'model_config.causal' has the wrong type",
        ),
        (lambda c: c.update(model_config=[1, 2]), "'model_config' should be a dict"),
        (lambda c: c["input"].update(layout="openpose25"), "unknown joint layout 'openpose25'"),
        (lambda c: c["input"].update(normalization="imagenet"), "normalisation 'imagenet'"),
        (lambda c: c["input"].update(joint_names=["a"] * 17), "joint names"),
        (lambda c: c.update(epoch=-1), "'epoch' should be a non-negative integer"),
        (lambda c: c.update(model={"w": [1, 2]}), "state dict of tensors"),
        (lambda c: c["model"].update({"expand.conv.weight": torch.zeros(3)}), "weights do not fit"),
    ],
)
def test_malformed_checkpoints_are_clear_errors(seqs, tmp_path, change, match):
    train.Trainer(_cfg(epochs=1), seqs[0], checkpoint=tmp_path / "ok.pt", progress=False).save()
    ckpt = torch.load(tmp_path / "ok.pt", weights_only=True)
    change(ckpt)
    torch.save(ckpt, tmp_path / "bad.pt")
    with pytest.raises(DataError, match=match) as e:
        checkpoints.model_from_checkpoint(tmp_path / "bad.pt")
    assert str(tmp_path / "bad.pt") in str(e.value)


class _Gain(nn.Module):
    """A regulariser that acts at evaluation too (a fixed per-channel gain, as a pruning mask
    would)."""

    def __init__(self, channels, low):
        super().__init__()
        self.register_buffer("gain", torch.linspace(low, 1.0, channels))

    def forward(self, x):
        return x * self.gain.view(1, -1, *[1] * (x.dim() - 2))


@pytest.fixture
def gain_regularizer():
    from dilpose import regularizers

    regularizers.register("test_gain", lambda low: lambda c: _Gain(c, low), {"low": 0.2})
    yield "test_gain(low=0.2)"
    regularizers.unregister("test_gain")


def test_a_regulariser_that_acts_at_evaluation_round_trips_through_a_checkpoint(
    seqs, tmp_path, gain_regularizer
):
    t = train.Trainer(
        _cfg(epochs=1, regularizer=gain_regularizer),
        seqs[0],
        checkpoint=tmp_path / "g.pt",
        progress=False,
    )
    t.fit()
    before = evaluate.evaluate(t.eval_network(), seqs[1], t.cfg, flip_test=False)["mpjpe"][
        "frame_mean"
    ]
    model = checkpoints.model_from_checkpoint(tmp_path / "g.pt")
    assert str(model.cfg.regularizer) == "test_gain(low=0.2)"
    after = evaluate.evaluate(model, seqs[1], t.cfg, flip_test=False)["mpjpe"]["frame_mean"]
    assert after == pytest.approx(before, abs=1e-9)
    # The same weights in a dropout model (what every checkpoint was rebuilt as before) differ.
    import dataclasses as dc

    from dilpose.model import TemporalModel

    wrong = TemporalModel(dc.replace(model.cfg, regularizer="dropout"))
    wrong.load_state_dict({k: v for k, v in model.state_dict().items() if not k.endswith("gain")})
    assert evaluate.evaluate(wrong, seqs[1], t.cfg, flip_test=False)["mpjpe"][
        "frame_mean"
    ] != pytest.approx(before)


def test_an_unknown_regulariser_in_a_checkpoint_is_a_clear_error(seqs, tmp_path):
    train.Trainer(_cfg(epochs=1), seqs[0], checkpoint=tmp_path / "a.pt", progress=False).save()
    ckpt = torch.load(tmp_path / "a.pt", weights_only=True)
    assert ckpt["model_config"]["regularizer"] == {"name": "dropout", "params": {"p": 0.25}}
    ckpt["model_config"]["regularizer"] = {"name": "pruning_v9", "params": {"rate": 0.3}}
    torch.save(ckpt, tmp_path / "b.pt")
    with pytest.raises(
        DataError, match=r"b.pt: .*unknown regulariser 'pruning_v9'; known: \[.*'dropout'"
    ):
        checkpoints.model_from_checkpoint(tmp_path / "b.pt")


def test_a_pickled_payload_is_one_line_naming_the_file_without_torchs_advice(tmp_path):
    torch.save({"model": {}, "payload": os.system}, tmp_path / "evil.pt")
    with pytest.raises(DataError) as e:
        checkpoints.load_checkpoint(tmp_path / "evil.pt")
    message = str(e.value)
    assert message.startswith(str(tmp_path / "evil.pt")) and "\n" not in message
    assert "pickled Python objects" in message and "weights_only" not in message


@pytest.mark.parametrize("name", ["lifter-243", "lifter-243-causal"])
def test_the_shipped_models_still_load_as_the_architecture_they_record(name):
    # Shipped files were written before Config became a ModelConfig: their stored model_config
    # (a dict of the architecture's fields) must still build the same model.
    path = pretrained.path_of(name)
    stored = torch.load(path, weights_only=True)
    model = checkpoints.model_from_checkpoint(path)
    assert type(model.cfg) is config.ModelConfig
    assert checkpoints.architecture_dict(model.cfg) == stored["model_config"] | {
        "filter_widths": tuple(stored["model_config"]["filter_widths"])
    }
    assert all(torch.equal(model.state_dict()[k], v) for k, v in stored["model"].items())
    assert model.cfg.causal is name.endswith("causal") and model.receptive_field() == 243
