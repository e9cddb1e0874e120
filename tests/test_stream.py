"""The streaming runtime: ring buffers per dilated conv reproduce the offline causal model, frame by
frame, for one and for several streams, in fp32 and int8; resets; refusing a symmetric model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dilpose import batches, evaluate, quantize, stream
from dilpose.datasets import Sequence
from dilpose.errors import DataError
from dilpose.model import ModelConfig, TemporalModel


def _model(causal=True, widths=(3, 3, 3), channels=32, seed=0) -> TemporalModel:
    torch.manual_seed(seed)
    model = TemporalModel(ModelConfig(channels=channels, filter_widths=widths, causal=causal))
    # Non-trivial BatchNorm statistics, so that folding is exercised.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def _offline(model: TemporalModel, seq: np.ndarray) -> np.ndarray:
    """The offline causal model's output for every frame (edge-padded, no flip): (T, 17, 3)."""
    before, after = batches.padding(model.receptive_field(), True)
    x = np.pad(seq, ((before, after), (0, 0), (0, 0)), mode="edge")[None].astype(np.float32)
    with torch.no_grad():
        return model(torch.from_numpy(x))[0].numpy()


@pytest.mark.parametrize("length", [1, 5, 26, 27, 60])
@pytest.mark.parametrize("widths", [(3, 3, 3), (3, 5), (1,)])
def test_streaming_equals_offline_causal_model(length, widths):
    model = _model(widths=widths)
    rng = np.random.default_rng(length)
    seq = (0.4 * rng.standard_normal((length, 17, 2))).astype(np.float32)
    runtime = stream.StreamingNetwork(quantize.Network(model), rows=1)
    streamed = np.stack(
        [runtime.step(torch.from_numpy(f.reshape(1, -1)))[0].numpy() for f in seq]
    ).reshape(length, 17, 3)
    assert np.abs(streamed - _offline(model, seq)).max() <= 1e-5  # metres


def test_several_streams_in_one_call_each_equal_its_own_offline_run():
    model = _model()
    rng = np.random.default_rng(1)
    seqs = (0.4 * rng.standard_normal((4, 40, 17, 2))).astype(np.float32)
    runtime = stream.StreamingNetwork(quantize.Network(model), rows=4)
    out = np.stack(
        [runtime.step(torch.from_numpy(seqs[:, t].reshape(4, -1))).numpy() for t in range(40)], 1
    ).reshape(4, 40, 17, 3)
    for s in range(4):
        assert np.abs(out[s] - _offline(model, seqs[s])).max() <= 1e-5


def test_resetting_a_stream_restores_its_initial_state_and_leaves_the_others():
    model = _model()
    rng = np.random.default_rng(2)
    a = (0.4 * rng.standard_normal((30, 2, 17, 2))).astype(np.float32)
    b = (0.4 * rng.standard_normal((20, 17, 2))).astype(np.float32)
    runtime = stream.StreamingNetwork(quantize.Network(model), rows=2)
    for t in range(30):
        runtime.step(torch.from_numpy(a[t].reshape(2, -1)))
    runtime.reset([0])
    outs = []
    for t in range(20):  # stream 0 starts sequence b afresh; stream 1 continues sequence a
        frame = np.stack([b[t], a[t % 30, 1]])
        outs.append(runtime.step(torch.from_numpy(frame.reshape(2, -1))).numpy())
    out = np.stack(outs)
    assert np.abs(out[:, 0].reshape(20, 17, 3) - _offline(model, b)).max() <= 1e-5
    continued = np.concatenate([a[:, 1], a[:20, 1]])
    assert np.abs(out[:, 1].reshape(20, 17, 3) - _offline(model, continued)[30:]).max() <= 1e-5


def test_stream_lifter_with_flip_test_equals_train_predict():

    model = _model()
    rng = np.random.default_rng(3)
    x = (0.4 * rng.standard_normal((50, 17, 2))).astype(np.float32)
    lifter = stream.StreamLifter(model, streams=1, flip_test=True)
    streamed = np.stack([lifter.push(f) for f in x])
    seq = Sequence("s", "a", 0, x, np.zeros((50, 17, 3), np.float32), np.zeros(9), None)
    whole = evaluate.predict(model, seq, causal=True, flip_test=True)
    assert np.abs(streamed - whole).max() <= 1e-5
    assert np.all(streamed[:, 0] == 0)  # root-relative


def test_int8_streaming_equals_offline_int8_and_stays_near_fp32():
    model = _model()
    rng = np.random.default_rng(4)
    net = quantize.Network(model).calibrate(0.4 * rng.standard_normal((8, 60, 17, 2)), "minmax")
    q = net.quantize(per_channel=True)
    seq = (0.4 * rng.standard_normal((45, 17, 2))).astype(np.float32)
    offline_q = stream.run_offline(q, seq)
    runtime = stream.StreamingNetwork(q, rows=1)
    streamed = np.stack(
        [runtime.step(torch.from_numpy(f.reshape(1, -1)))[0].numpy() for f in seq]
    ).reshape(45, 17, 3)
    # The same integers in both paths; only the fp32 last layer may round differently.
    assert np.abs(streamed - offline_q).max() <= 1e-5
    assert q.int8_ops and runtime.buffers[1].dtype == torch.uint8
    # int8 is not fp32, but close on the calibrated range (a loose bound: a plumbing check)
    assert np.abs(offline_q - _offline(model, seq)).max() < 0.05


def test_int8_lifter_entry_point_takes_sequences_and_returns_a_working_lifter():
    model = _model()
    rng = np.random.default_rng(5)
    seqs = [
        Sequence(
            "s",
            f"a{k}",
            0,
            (0.4 * rng.standard_normal((80, 17, 2))).astype(np.float32),
            (0.2 * rng.standard_normal((80, 17, 3))).astype(np.float32),
            np.zeros(9, np.float32),
            None,
        )
        for k in range(3)
    ]
    lifter = stream.int8_lifter(model, seqs, streams=3)
    assert lifter.net.precision == "int8"
    out = lifter.push(np.stack([s.keypoints_2d[0] for s in seqs]))
    assert out.shape == (3, 17, 3) and np.isfinite(out).all()


def test_streaming_refuses_a_symmetric_model():
    with pytest.raises(DataError, match="streaming needs a causal model"):
        stream.StreamLifter(_model(causal=False))
    with pytest.raises(DataError, match="streaming needs a causal model"):
        stream.int8_lifter(_model(causal=False), np.zeros((2, 30, 17, 2)))


def test_push_refuses_wrong_shapes_and_nan_without_changing_state():
    model = _model()
    lifter = stream.StreamLifter(model, streams=2)
    good = np.zeros((2, 17, 2), np.float32)
    first = lifter.push(good)
    with pytest.raises(ValueError, match="one frame per stream"):
        lifter.push(np.zeros((17, 2)))
    bad = good.copy()
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        lifter.push(bad)
    assert np.allclose(lifter.push(good), first)  # a constant input stays at its fixed point


def test_window_recompute_keeps_its_weights_in_place_and_its_outputs():
    model = _model()
    seq = np.random.default_rng(0).normal(size=(40, 17, 2)).astype(np.float32)
    before, after = stream.WindowRecompute(model, in_place=False), stream.WindowRecompute(model)
    for frame in seq:
        x = torch.from_numpy(frame).reshape(1, -1)
        assert torch.equal(before.step(x), after.step(x))  # same values, same arithmetic
    # the reorder model.strided_conv1d does per call is a view of the stored weight: no copy
    convs = [m for m in after.model.modules() if isinstance(m, torch.nn.Conv1d)]
    assert convs
    for conv in convs:
        w = conv.weight
        assert w.transpose(1, 2).reshape(w.shape[0], -1).data_ptr() == w.data_ptr()
