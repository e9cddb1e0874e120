"""The input convention a checkpoint records (issue 26): written from the trainer, read back, an
unknown one refused naming the file, resuming across conventions refused; the model cache keys a
non-screen convention, leaves every screen key as it was, and keeps the convention of a model it
serves."""

from __future__ import annotations

import pytest
import torch
from conftest import small_config, small_sequences

from dilpose import cache, checkpoints, input_norm, objectives, pretrained, train
from dilpose import skeleton as sk
from dilpose.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def seqs():
    return small_sequences()[1]  # cmu10, camera 0: one short subject


def _trainer(seqs, normalization=None, **kw):
    t = train.Trainer(small_config(epochs=1, **kw), seqs, progress=False)
    if normalization is not None:
        t.input_normalization = normalization
    return t


def test_input_spec_records_the_convention_and_what_it_needs():
    spec = checkpoints.input_spec(sk.COCO17, "focal")
    assert spec["normalization"] == "focal"
    assert (
        spec["image_size"] == input_norm.CONVENTIONS["focal"]
        and "focal length" in (spec["image_size"])
    )
    assert checkpoints.input_spec(sk.COCO17)["normalization"] == "screen"
    with pytest.raises(ValueError, match="unknown input convention 'fisheye'"):
        checkpoints.input_spec(sk.COCO17, "fisheye")


def test_the_convention_round_trips_through_a_checkpoint(seqs, tmp_path):
    _trainer(seqs, "focal").save(tmp_path / "focal.pt")
    _trainer(seqs).save(tmp_path / "screen.pt")  # a trainer nobody told: screen, as before
    assert checkpoints.load_checkpoint(tmp_path / "focal.pt")["input"]["normalization"] == "focal"
    model = checkpoints.model_from_checkpoint(tmp_path / "focal.pt")
    assert model.input_spec["normalization"] == "focal"
    assert model.input_spec["image_size"] == input_norm.CONVENTIONS["focal"]
    screen = checkpoints.model_from_checkpoint(tmp_path / "screen.pt").input_spec
    assert screen["normalization"] == "screen" == checkpoints.NORMALIZATION


@pytest.mark.parametrize("value", ["fisheye", ["focal"], 3])
def test_an_unknown_convention_is_refused_naming_the_file(seqs, tmp_path, value):
    ckpt = _trainer(seqs).state()
    ckpt["input"]["normalization"] = value
    torch.save(ckpt, tmp_path / "odd.pt")
    with pytest.raises(DataError, match="normalisation .* is not one this version implements") as e:
        checkpoints.load_checkpoint(tmp_path / "odd.pt")
    assert e.value.source == str(tmp_path / "odd.pt") and "focal, screen" in str(e.value)


def test_resuming_with_another_convention_is_refused(seqs, tmp_path):
    _trainer(seqs, "focal").save(tmp_path / "focal.pt")
    screen = _trainer(seqs)
    screen.allow_config_change = True  # not even then: the weights read the other numbers
    with pytest.raises(DataError, match="trained on focal-normalised input but this run's"):
        screen.restore(tmp_path / "focal.pt")
    _trainer(seqs, "focal").restore(tmp_path / "focal.pt")  # the same convention resumes


# -------------------------------------------------------------------------------------- the cache
def _key_inputs(seqs, normalization=None):
    args = (small_config(epochs=1), seqs, sk.COCO17, objectives.Supervised().spec(), "fp32")
    if normalization is None:  # called as before conventions existed
        return cache.key_inputs(*args)
    return cache.key_inputs(*args, normalization)


def test_screen_keys_are_unchanged_and_focal_keys_differ(seqs):
    old = _key_inputs(seqs)
    # Exactly what the key was made of before conventions existed: every cached model stays valid.
    assert sorted(old) == ["code", "config", "data", "layout_2d", "objective"]
    assert _key_inputs(seqs, "screen") == old
    focal = _key_inputs(seqs, "focal")
    assert focal == {**old, "input": "focal"}
    assert cache.model_key(focal) != cache.model_key(old)
    with pytest.raises(ValueError, match="unknown input convention"):
        _key_inputs(seqs, "fisheye")


def test_the_cache_records_and_serves_the_convention(seqs, tmp_path, monkeypatch):
    monkeypatch.setenv("DILPOSE_REPORTS", str(tmp_path))
    monkeypatch.delenv("DILPOSE_RETRAIN_SINCE", raising=False)
    cfg = small_config(epochs=1, channels=8, filter_widths=(3,), stride_subsample=8)
    with pytest.raises(ConfigError, match="normalization: unknown input convention"):
        cache.train_cached(cfg, seqs, normalization="fisheye")
    trainer, trained = cache.train_cached(cfg, seqs, name="f", normalization="focal")
    assert trained and trainer.input_normalization == "focal"
    stored = checkpoints.load_checkpoint(trainer.checkpoint)["input"]
    assert stored["normalization"] == "focal"
    again, trained = cache.train_cached(cfg, seqs, name="f", normalization="focal")
    assert not trained and again.checkpoint == trainer.checkpoint
    assert again.input_normalization == "focal"
    # `dilpose models` reads the record, whose "input" now names the convention
    listed = {m.name: m for m in pretrained.cached()}
    assert listed["f"].input_layout == "coco17" and listed["f"].file == trainer.checkpoint
    # The same data declared screen is another model, trained anew and recorded as screen.
    screen, trained = cache.train_cached(cfg, seqs, name="s")
    assert trained and screen.checkpoint != trainer.checkpoint
    assert checkpoints.load_checkpoint(screen.checkpoint)["input"]["normalization"] == "screen"
