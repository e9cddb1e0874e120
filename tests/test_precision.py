"""Mixed precision: auto resolves by hardware; bf16 training keeps fp32 weights, optimiser state,
BatchNorm statistics and loss; bf16 evaluation stays close to fp32; precision is recorded."""

import pytest
import torch

from dilpose import checkpoints, config, datasets, evaluate, precision, train
from dilpose.errors import ConfigError


@pytest.fixture(scope="module")
def seqs():
    data = datasets.load("mocap", seed=0, subjects=("cmu02", "cmu10"))
    return datasets.sequences(data, ["cmu02"], cameras=(0, 1)), datasets.sequences(data, ["cmu10"])


def _cfg(**kw):
    return config.for_profile(
        "smoke", **{**dict(filter_widths=(3, 3), channels=32, epochs=2, device="cpu"), **kw}
    )


def test_auto_resolves_to_bf16_only_where_the_hardware_multiplies_bf16(monkeypatch):
    cpu = torch.device("cpu")
    assert precision.resolve("fp32", cpu) == "fp32" and precision.resolve("bf16", cpu) == "bf16"
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert precision.resolve("auto", cpu) == "bf16"
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert precision.resolve("auto", cpu) == "fp32"
    with pytest.raises(ConfigError, match="precision must be"):
        precision.resolve("fp16", cpu)
    with pytest.raises(ConfigError, match="precision must be"):
        config.for_profile("smoke", precision="half")


def test_bf16_training_keeps_weights_statistics_optimiser_and_loss_in_fp32(seqs, tmp_path):
    t = train.Trainer(_cfg(precision="bf16"), seqs[0], checkpoint=tmp_path / "b.pt", progress=False)
    assert t.precision == "bf16"
    history = t.fit()
    assert all(v.dtype in (torch.float32, torch.int64) for v in t.model.state_dict().values())
    assert all(
        s.dtype == torch.float32
        for st in t.optimizer.state.values()
        for k, s in st.items()
        if k != "step"
    )
    assert history.epochs[-1].loss_mm < history.epochs[0].loss_mm  # it learns
    ckpt = checkpoints.load_checkpoint(tmp_path / "b.pt")
    assert ckpt["precision"] == "bf16" and ckpt["config"]["precision"] == "bf16"


def test_bf16_evaluation_stays_close_to_fp32_and_is_recorded(seqs):
    t = train.Trainer(_cfg(), seqs[0], progress=False)
    t.fit()
    model = t.eval_network()
    a = evaluate.evaluate(model, seqs[1], t.cfg, precision_="fp32")
    b = evaluate.evaluate(model, seqs[1], t.cfg, precision_="bf16")
    assert a["precision"] == a["protocol"]["precision"] == "fp32" and b["precision"] == "bf16"
    fp32, bf16 = a["mpjpe"]["frame_mean"], b["mpjpe"]["frame_mean"]
    # Smoke models are ~10x worse than trained ones; bf16 rounding scales with the error, so the
    # bound is relative here (0.15 %); on the default model the difference is measured in the note.
    assert fp32 != bf16 and abs(fp32 - bf16) <= 0.0015 * fp32
