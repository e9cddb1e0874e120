"""Quantization, ONNX export and the command line's ``export`` and ``lift - --stream`` on a smoke
checkpoint, with the bad inputs the issue names."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from dilpose import calibration, checkpoints, cli, datasets, evaluate, export, qat, quantize, stream
from dilpose.errors import DataError
from dilpose.model import ModelConfig, TemporalModel


def _train(tmp_path_factory, causal: bool):
    path = tmp_path_factory.mktemp("q") / ("causal.pt" if causal else "symmetric.pt")
    args = ["train", "--profile", "smoke", "--epochs", "1", "--channels", "32"]
    args += ["--filter-widths", "3,3,3", "--checkpoint", str(path), "--quiet"]
    assert cli.main(args + (["--causal"] if causal else [])) == 0
    return path


@pytest.fixture(scope="module")
def causal_ckpt(tmp_path_factory):
    return _train(tmp_path_factory, causal=True)


@pytest.fixture(scope="module")
def symmetric_ckpt(tmp_path_factory):
    return _train(tmp_path_factory, causal=False)


@pytest.fixture(scope="module")
def data():
    return datasets.load("mocap")


def test_network_equals_the_model_and_folding_keeps_outputs():
    torch.manual_seed(0)
    model = TemporalModel(ModelConfig(channels=24, filter_widths=(3, 3), causal=False)).eval()
    x = torch.randn(2, 30, 17, 2)
    with torch.no_grad():
        assert (quantize.Network(model)(x) - model(x)).abs().max() < 1e-5
        assert (quantize.CastModel(model, torch.bfloat16)(x) - model(x)).abs().max() < 0.05


def test_int8_is_about_a_quarter_of_the_bytes_at_256_channels():
    torch.manual_seed(0)
    model = TemporalModel(ModelConfig(channels=256, causal=True)).eval()
    net = quantize.Network(model).calibrate(torch.randn(2, 250, 17, 2), "minmax")
    ratio = net.quantize().state_bytes() / quantize.state_bytes(model)
    assert 0.24 < ratio < 0.27, ratio  # int8 weights + fp32 scales and biases


def test_calibration_data_of_the_wrong_layout_is_refused():
    model = TemporalModel(ModelConfig(channels=16, filter_widths=(3, 3), causal=True)).eval()
    net = quantize.Network(model)
    with pytest.raises(DataError, match=r"calib.npy: calibration data must be .*got shape"):
        net.calibrate(np.zeros((4, 20, 2, 17)), source="calib.npy")  # joints and values swapped
    with pytest.raises(DataError, match="fewer than the receptive field 9"):
        net.calibrate(np.zeros((4, 5, 17, 2)))
    with pytest.raises(DataError, match="NaN"):
        net.calibrate(np.full((4, 20, 17, 2), np.nan))
    with pytest.raises(ValueError, match="calibrate the network"):
        net.quantize()


def test_int8_mpjpe_on_a_smoke_model_is_within_the_stated_bound_of_fp32(causal_ckpt, data):
    """Stated bound: int8 (per-channel weights, histogram calibration) within 5 % of fp32 MPJPE."""
    from dilpose import config

    cfg = config.for_profile("smoke", causal=True)
    model = checkpoints.model_from_checkpoint(causal_ckpt)
    seqs = datasets.sequences(data, data.test_subjects, cameras=(0,))
    windows = calibration.calibration_windows(
        datasets.sequences(data, data.train_subjects), model.receptive_field(), True, count=32
    )
    net = quantize.Network(model).calibrate(windows, "histogram")
    fp32 = evaluate.evaluate(model, seqs, cfg, data.layout_2d, precision_="fp32")
    int8 = evaluate.evaluate(net.quantize(), seqs, cfg, data.layout_2d, precision_="fp32")
    a, b = fp32["mpjpe"]["action_mean"], int8["mpjpe"]["action_mean"]
    assert b <= 1.05 * a, (a, b)


def test_qat_finetune_runs_and_returns_a_quantizable_network(causal_ckpt, data):
    model = checkpoints.model_from_checkpoint(causal_ckpt)
    seqs = datasets.sequences(data, data.train_subjects, cameras=(0,))[:5]
    windows = calibration.calibration_windows(seqs, model.receptive_field(), True, count=8)
    net = quantize.Network(model).calibrate(windows, "minmax")
    tuned, losses = qat.qat_finetune(net, seqs, steps=3, batch_size=4, chunk=4)
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert any((a != b).any() for a, b in zip(tuned.weight, net.weight))  # it trained
    assert tuned.quantize().precision == "int8"


def test_fp32_control_takes_qats_steps_on_the_same_clips_without_rounding(causal_ckpt, data):
    model = checkpoints.model_from_checkpoint(causal_ckpt)
    seqs = datasets.sequences(data, data.train_subjects, cameras=(0,))[:5]
    windows = calibration.calibration_windows(seqs, model.receptive_field(), True, count=8)
    net = quantize.Network(model).calibrate(windows, "minmax")
    # lr 0: nothing learns, so each step's loss is the network's error on that step's clips
    kw = dict(steps=4, batch_size=4, chunk=4, lr=0.0, seed=3)
    _, qat_losses = qat.qat_finetune(net, seqs, **kw)
    frozen, fp32_losses = qat.fp32_finetune(net, seqs, **kw)
    assert all((a == b).all() for a, b in zip(frozen.weight, net.weight))
    assert np.allclose(fp32_losses, qat_losses, rtol=0.1)  # the same clips in the same order ...
    assert fp32_losses != qat_losses  # ... seen without int8 rounding
    assert np.allclose(qat.fp32_finetune(net, seqs, **kw)[1], fp32_losses)  # seeded
    tuned, losses = qat.fp32_finetune(net, seqs, **{**kw, "lr": 1e-3})
    assert not tuned.fake_quant and tuned.precision == "fp32" and len(losses) == 4
    assert any((a != b).any() for a, b in zip(tuned.weight, net.weight))  # it trained


def test_sensitivity_quantizes_one_layer_at_a_time():
    torch.manual_seed(0)
    model = TemporalModel(ModelConfig(channels=16, filter_widths=(3, 3), causal=True)).eval()
    net = quantize.Network(model).calibrate(torch.randn(2, 30, 17, 2), "minmax")
    seen = []
    out = quantize.sensitivity(net, lambda q: seen.append(sorted(q.int8_ops)) or 0.0)
    assert list(out) == ["expand", "block0.temporal", "block0.pointwise", "shrink"]
    assert seen == [[name] for name in out]


def test_export_writes_onnx_equal_to_pytorch_and_a_step_model(causal_ckpt, tmp_path, capsys):
    out = tmp_path / "model.onnx"
    assert cli.main(["export", "--checkpoint", str(causal_ckpt), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.is_file() and export.step_path(out).is_file()
    model = checkpoints.model_from_checkpoint(causal_ckpt)
    x = torch.randn(1, 60, 17, 2) * 0.3
    with torch.no_grad():
        assert (export.OnnxModel(out, model)(x) - model(x)).abs().max() <= 1e-4
    seq = (0.3 * np.random.default_rng(0).standard_normal((40, 17, 2))).astype(np.float32)
    offline = stream.run_offline(quantize.Network(model), seq)
    assert np.abs(export.run_step_file(export.step_path(out), seq) - offline).max() <= 1e-4
    assert "step_fp32_max_diff_m" in printed


def _check_poses(data) -> list[np.ndarray]:
    return [s.keypoints_2d for s in datasets.sequences(data, data.test_subjects, cameras=(0,))]


def test_an_onnx_file_from_another_model_is_refused(causal_ckpt, symmetric_ckpt, data, tmp_path):
    out = tmp_path / "model.onnx"
    export.export_checkpoint(causal_ckpt, out, _check_poses(data))
    other = checkpoints.model_from_checkpoint(symmetric_ckpt)
    with pytest.raises(DataError, match="another"):
        export.OnnxModel(out, other)
    torch.manual_seed(1)
    same_arch = TemporalModel(checkpoints.model_from_checkpoint(causal_ckpt).cfg).eval()
    with pytest.raises(DataError, match="exported from another model"):
        export.OnnxModel(out, same_arch)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not an onnx file")
    with pytest.raises(DataError, match="junk.onnx: not a readable ONNX model"):
        export.OnnxModel(junk, other)


def test_export_of_a_symmetric_model_writes_no_step_model(symmetric_ckpt, data, tmp_path):
    out = tmp_path / "sym.onnx"
    summary = export.export_checkpoint(symmetric_ckpt, out, _check_poses(data))
    assert out.is_file() and not export.step_path(out).exists()
    assert summary["whole_fp32_max_diff_m"] <= 1e-4


def _lines(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    base = rng.uniform(300, 700, (17, 2))
    out = []
    for t in range(n):
        kp = base + rng.normal(0, 3, (17, 2))
        out.append(json.dumps({"frame": t, "keypoints": [[x, y, 0.9] for x, y in kp.tolist()]}))
    return out


def _run_lift(monkeypatch, capsys, ckpt, lines: list[str]):
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    code = cli.main(
        ["lift", "-", "--stream", "--checkpoint", str(ckpt), "--width", "1000", "--height", "1000"]
    )
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_lift_stream_reads_json_lines_and_keeps_state_across_a_bad_line(
    causal_ckpt, monkeypatch, capsys
):
    good = _lines(12)
    code, clean, err = _run_lift(monkeypatch, capsys, causal_ckpt, good)
    assert code == 0 and len(clean) == 12 and "frames 12" in err
    assert all(
        np.asarray(r["positions_3d"]).shape == (17, 3) and r["latency_ms"] > 0 for r in clean
    )
    bad = ["{not json", '{"keypoints": [1, 2, 3]}', '{"keypoints": [], "colour": 1}']
    code, mixed, err = _run_lift(monkeypatch, capsys, causal_ckpt, good[:6] + bad + good[6:])
    assert code == 2
    assert [r.get("error") is not None for r in mixed] == [False] * 6 + [True] * 3 + [False] * 6
    assert "<stdin> line 7: not valid JSON" in err and "line 8: 'keypoints' should be 51" in err
    assert "unknown key(s) ['colour']" in err
    # The bad lines cost nothing: the stream goes on exactly as without them.
    kept = [r for r in mixed if "error" not in r]
    assert [r["frame"] for r in kept] == list(range(12))
    assert np.allclose([r["positions_3d"] for r in kept], [r["positions_3d"] for r in clean])


def test_lift_stream_holds_a_missing_joint_and_refuses_one_never_seen(
    causal_ckpt, monkeypatch, capsys
):
    lines = _lines(4)
    first = json.loads(lines[0])
    first["keypoints"][5][2] = 0.0  # left shoulder not detected in the first frame
    second = json.loads(lines[1])
    second["keypoints"][5][2] = 0.0  # ... nor in the second: held from nowhere
    lines = [json.dumps(first), lines[2], json.dumps(second), lines[3]]
    code, out, err = _run_lift(monkeypatch, capsys, causal_ckpt, lines)
    assert code == 2 and "l_shoulder" in out[0]["error"]
    assert all("error" not in r for r in out[1:])  # held from line 2 on


def test_lift_stream_refuses_a_symmetric_checkpoint(symmetric_ckpt, monkeypatch, capsys):
    code, out, err = _run_lift(monkeypatch, capsys, symmetric_ckpt, _lines(2))
    assert code == 2 and "streaming needs a causal model" in err and not out


def test_lift_from_stdin_needs_stream_and_the_image_size(causal_ckpt, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["lift", "-", "--checkpoint", str(causal_ckpt)]) == 2
    assert "needs --stream" in capsys.readouterr().err
    assert cli.main(["lift", "-", "--stream", "--checkpoint", str(causal_ckpt)]) == 2
    assert "--width and --height" in capsys.readouterr().err
