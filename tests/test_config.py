"""Run configurations refuse settings that cannot work, naming the setting (not a torch shape error
later)."""

import pytest

from dilpose import config
from dilpose.errors import ConfigError


@pytest.mark.parametrize(
    "overrides,match",
    [
        (dict(channels=0), "channels must be a positive integer, got 0"),
        (dict(channels=True), "channels must be a positive integer, got True"),
        (dict(epochs=-1), "epochs must be a positive integer"),
        (dict(batch_size=2.5), "batch_size must be a positive integer"),
        (dict(stride_subsample=0), "stride_subsample"),
        (
            dict(filter_widths=(2, 2)),
            r"filter_widths must be one or more positive odd integers .* \(2, 2\)",
        ),
        (dict(filter_widths=()), "filter_widths"),
        (
            dict(regularizer="dropout(p=1.0)"),
            r"dropout\(p\): p must be a probability in \[0, 1\), got 1.0",
        ),
        (dict(regularizer="pruning_v9"), r"unknown regulariser 'pruning_v9'; known: \["),
        (dict(regularizer="dropout(q=2)"), r"regulariser 'dropout' has no parameter\(s\) \['q'\]"),
        (dict(regularizer="dropout(p=)"), "cannot read the parameters"),
        (dict(lr=0), "lr must be a positive number"),
        (dict(colour="blue"), r"unknown config keys \['colour'\]"),
        (dict(dataset="mnist"), "unknown dataset 'mnist'"),
    ],
)
def test_bad_settings_raise_config_error_naming_them(overrides, match):
    with pytest.raises(ConfigError, match=match):
        config.for_profile("smoke", **overrides)


def test_unknown_profile_and_valid_settings():
    with pytest.raises(ConfigError, match="unknown profile 'huge'"):
        config.for_profile("huge")
    cfg = config.for_profile("default", filter_widths=[3, 3, 3])
    assert cfg.filter_widths == (3, 3, 3) and cfg.receptive_field() == 27
    assert str(cfg.regularizer) == "dropout(p=0.25)"
    assert str(config.for_profile("smoke", regularizer="dropout").regularizer) == "dropout(p=0.25)"
    assert (
        str(config.for_profile("smoke", regularizer={"name": "none", "params": {}}).regularizer)
        == "none"
    )
    assert cfg.to_dict()["regularizer"] == "dropout(p=0.25)"  # JSON and the cache key: text


def test_for_notebook_applies_the_notebook_settings_then_the_overrides(monkeypatch):
    monkeypatch.setitem(config.NOTEBOOK_SETTINGS, "03", {"default": {"channels": 64, "epochs": 5}})
    cfg = config.for_notebook("03", "default", epochs=7)
    assert (cfg.channels, cfg.epochs) == (64, 7)  # notebook setting, then override
    assert config.for_notebook("03", "smoke").channels == config.for_profile("smoke").channels
    assert config.for_notebook("02", "default") == config.for_profile("default")
    with pytest.raises(ConfigError, match="unknown notebook '99'"):
        config.for_notebook("99", "default")


def test_the_model_takes_the_run_config_itself():
    # One config object: a run's Config is the model's config (no field-by-field copy); the model
    # keeps only the architecture, which is what checkpoints and ONNX files record.
    from dilpose.model import TemporalModel

    cfg = config.for_profile("smoke", channels=8, causal=True)
    assert isinstance(cfg, config.ModelConfig)
    model = TemporalModel(cfg)
    assert type(model.cfg) is config.ModelConfig and model.cfg == cfg.architecture()
    assert (model.cfg.channels, model.cfg.causal, model.cfg.filter_widths) == (8, True, (3, 3, 3))
    assert model.receptive_field() == cfg.receptive_field() == model.cfg.receptive_field() == 27
    # one spelling: a method on every config and model
    assert not isinstance(getattr(type(cfg), "receptive_field"), property)


def test_each_setting_is_validated_once(monkeypatch):
    from dilpose import regularizers

    calls = []
    real = regularizers.validate
    monkeypatch.setattr(regularizers, "validate", lambda spec: calls.append(spec) or real(spec))
    cfg = config.for_profile("smoke", regularizer="prune(rate=0.3)")
    assert len(calls) == 1  # not once by Config and again by ModelConfig
    from dilpose.model import TemporalModel

    TemporalModel(cfg)
    assert len(calls) == 1  # taking the architecture and building the model validate nothing again
    with pytest.raises(ConfigError, match="precision must be one of"):
        config.for_profile("smoke", precision="fp16")
