"""Regularisers by name: parse, validate, build, register; the text form round-trips."""

import pytest

from dilpose import regularizers as R
from dilpose.errors import ConfigError


@pytest.mark.parametrize(
    "text,canonical",
    [
        ("dropout", "dropout(p=0.25)"),
        ("dropout(p=0.1)", "dropout(p=0.1)"),
        (" Dropout ( p = 0.5 ) ", "dropout(p=0.5)"),
        ("none", "none"),
        ("none()", "none"),
    ],
)
def test_text_form_is_canonical_and_round_trips(text, canonical):
    spec = R.validate(text)
    assert str(spec) == canonical
    assert R.validate(str(spec)) == spec and R.Regularizer.from_value(spec.to_dict()) == spec
    assert hash(spec) == hash(R.validate(canonical))


def test_registering_a_regulariser_is_one_call(tmp_path):
    made = []
    R.register(
        "test_mask",
        lambda rate, where: lambda c: made.append((c, rate, where)) or c,
        {"rate": 0.3, "where": "all"},
    )
    try:
        spec = R.validate("test_mask(rate=0.5)")
        assert spec.params == {"rate": 0.5, "where": "all"} and "test_mask" in R.names()
        assert R.build(spec)(64) == 64 and made == [(64, 0.5, "all")]
        with pytest.raises(ConfigError, match="registered already"):
            R.register("test_mask", lambda: None)
    finally:
        R.unregister("test_mask")
    with pytest.raises(ConfigError, match="unknown regulariser 'test_mask'"):
        R.build("test_mask")


@pytest.mark.parametrize(
    "value,match",
    [
        ("Drop Out", "cannot read regulariser"),
        ("dropout(0.1)", "cannot read the parameters"),
        ("dropout(p=[1])", "not a plain value"),
        (42, "a regulariser is a name"),
        ({"name": "dropout", "p": 1}, "has 'name' and 'params'"),
        ("dropout(p=-0.1)", r"p must be a probability"),
    ],
)
def test_bad_regularisers_are_config_errors(value, match):
    with pytest.raises(ConfigError, match=match):
        R.validate(value)
