"""Run configurations refuse settings that cannot work, naming the setting (not a torch shape error later)."""

import pytest

from dilpose import config
from dilpose.errors import ConfigError


@pytest.mark.parametrize("overrides,match", [
    (dict(channels=0), "channels must be a positive integer, got 0"),
    (dict(channels=True), "channels must be a positive integer, got True"),
    (dict(epochs=-1), "epochs must be a positive integer"),
    (dict(batch_size=2.5), "batch_size must be a positive integer"),
    (dict(stride_subsample=0), "stride_subsample"),
    (dict(filter_widths=(2, 2)), r"filter_widths must be one or more positive odd integers .* \(2, 2\)"),
    (dict(filter_widths=()), "filter_widths"),
    (dict(dropout=1.0), r"dropout must be in \[0, 1\)"),
    (dict(lr=0), "lr must be a positive number"),
    (dict(colour="blue"), r"unknown config keys \['colour'\]"),
    (dict(dataset="mnist"), "unknown dataset 'mnist'"),
])
def test_bad_settings_raise_config_error_naming_them(overrides, match):
    with pytest.raises(ConfigError, match=match):
        config.for_profile("smoke", **overrides)


def test_unknown_profile_and_valid_settings():
    with pytest.raises(ConfigError, match="unknown profile 'huge'"):
        config.for_profile("huge")
    cfg = config.for_profile("default", filter_widths=[3, 3, 3])
    assert cfg.filter_widths == (3, 3, 3) and cfg.receptive_field == 27
