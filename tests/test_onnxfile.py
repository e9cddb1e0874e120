"""ONNX files against tampering and bad disks (issue 24): an exported file carries a checksum of its
own weights and is refused when they change; malformed metadata is a DataError naming the file,
quoting nothing of it; ``export`` names its output (not its temporary folder) when writing fails."""

from __future__ import annotations

import dataclasses
import errno
import os
import tempfile

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from dilpose import checkpoints, export
from dilpose import skeleton as sk
from dilpose.errors import DataError
from dilpose.model import ModelConfig, TemporalModel


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """An untrained causal COCO-17 checkpoint (random weights)."""
    torch.manual_seed(0)
    mcfg = ModelConfig(filter_widths=(3, 3), channels=16, causal=True)
    path = tmp_path_factory.mktemp("onnx") / "causal.pt"
    ckpt = {
        "model": TemporalModel(mcfg).state_dict(),
        "model_config": dataclasses.asdict(mcfg),
        "epoch": 0,
        "input": checkpoints.input_spec(sk.COCO17),
    }
    torch.save(ckpt, path)
    return path


def _check():
    return [(0.3 * np.random.default_rng(0).standard_normal((30, 17, 2))).astype(np.float32)]


@pytest.fixture(scope="module")
def exported(ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    export.export_checkpoint(ckpt, out, _check())
    return out, checkpoints.model_from_checkpoint(ckpt)


def _edited(src, dst, weights=None, meta=None):
    """A copy of ``src`` with its largest initializer passed through ``weights`` and metadata key
    -> value set (None: removed) from ``meta``."""
    m = onnx.load(str(src))
    if weights:
        t = max(m.graph.initializer, key=lambda t: np.prod(t.dims))
        t.CopyFrom(numpy_helper.from_array(weights(numpy_helper.to_array(t)), t.name))
    props = {p.key: p.value for p in m.metadata_props}
    for k, v in (meta or {}).items():
        props.pop(k) if v is None else props.__setitem__(k, v)
    del m.metadata_props[:]
    for k, v in props.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, str(dst))
    return dst


def test_the_file_itself_is_accepted(exported):
    out, model = exported
    x = torch.randn(1, 20, 17, 2) * 0.3
    with torch.no_grad():
        assert (export.OnnxModel(out, model)(x) - model(x)).abs().max() <= 1e-4


@pytest.mark.parametrize("change", [lambda a: a * 10, np.zeros_like], ids=["x10", "zeroed"])
def test_changed_weights_are_refused(exported, tmp_path, change):
    out, model = exported
    bad = _edited(out, tmp_path / "bad.onnx", weights=change)
    with pytest.raises(DataError, match="bad.onnx: its weights differ from those it was exported"):
        export.OnnxModel(bad, model)
    step = _edited(export.step_path(out), tmp_path / "bad.step.onnx", weights=change)
    with pytest.raises(DataError, match="bad.step.onnx: its weights differ"):
        export.run_step_file(step, _check()[0])


@pytest.mark.parametrize(
    "value, match",
    [
        (None, "has no 'dilpose.model_config' in its metadata"),
        ("{", "metadata 'dilpose.model_config' is not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "metadata 'dilpose.model_config' is not valid JSON"),
        ('{"channels": "SECRET-VALUE"}', r"another architecture .*differing: .*channels"),
    ],
    ids=["missing", "malformed", "deep", "other"],
)
def test_missing_or_malformed_model_config_is_a_data_error(exported, tmp_path, value, match):
    out, model = exported
    bad = _edited(out, tmp_path / "meta.onnx", meta={export.ONNX_CONFIG: value})
    with pytest.raises(DataError, match=match) as err:
        export.OnnxModel(bad, model)
    assert str(bad) in str(err.value) and "SECRET" not in str(err.value)


def test_malformed_state_shapes_are_a_data_error(exported, tmp_path):
    out, _ = exported
    for value in ("nope", "[[1e12, 1]]", "[[1000000000, 1000000000]]"):
        bad = _edited(export.step_path(out), tmp_path / "s.onnx", meta={export.ONNX_STATES: value})
        with pytest.raises(DataError, match="s.onnx: metadata 'dilpose.state_shapes'"):
            export.run_step_file(bad, _check()[0])


def test_an_unwritable_output_names_the_output_not_the_temporary(ckpt, tmp_path, monkeypatch):
    def refuse(*args, dir=None, **kw):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), f"{dir}/.export-x1y2")

    monkeypatch.setattr(tempfile, "TemporaryDirectory", refuse)
    out = tmp_path / "model.onnx"
    with pytest.raises(DataError, match="model.onnx: cannot write the export here") as err:
        export.export_checkpoint(ckpt, out, _check())
    assert ".export-" not in str(err.value)


def test_a_full_disk_names_the_output_and_leaves_nothing(ckpt, tmp_path, monkeypatch):
    out = tmp_path / "model.onnx"
    export.export_checkpoint(ckpt, out, _check())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def full(model, path, *args, **kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(onnx, "save", full)
    with pytest.raises(DataError, match="model.onnx: cannot write the export here: No space left"):
        export.export_checkpoint(ckpt, out, _check())
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # old pair kept whole


def test_a_folder_where_the_step_file_goes_is_refused_before_the_work(ckpt, tmp_path):
    out = tmp_path / "model.onnx"
    export.step_path(out).mkdir()
    with pytest.raises(DataError, match="model.step.onnx: is a directory"):
        export.export_checkpoint(ckpt, out, _check())
    assert not out.exists()
