"""A streaming runtime for causal models: one frame in, one pose out, many streams in one call.

A causal model's output at frame t depends on the input frames t - R + 1 .. t. Recomputing that
whole window for every new frame repeats almost all of the work of the frame before. Here every
dilated convolution keeps a **ring buffer** of the past inputs it needs ((w - 1) * d + 1 frames of
its input activations for width w and dilation d), so a new frame costs one step per layer: write
the layer's new input into its buffer, gather the w taps (t, t - d, ..., t - (w - 1) d), one matrix
product. The output equals the offline causal model on the same sequence (fp32: float rounding,
far below 1e-5 m), the first frame included: a fresh stream fills every buffer with what that layer
sees for a constant input, exactly what the offline model's edge padding (the first frame repeated
R - 1 times) gives.

It runs a :class:`dilpose.quantize.Network` in fp32 or int8 (int8 layers keep uint8 buffers: the
quantized activations themselves, so streaming and offline int8 see the same integers).

Entry points:

* :class:`StreamLifter` / :func:`from_checkpoint`: fp32 streaming lifter for S streams
  (``push((S, J, 2)) -> (S, 17, 3)``), flip-test included.
* :func:`int8_lifter`: **a causal model in, a deployed int8 streaming lifter out** (calibrated on
  training clips, per-channel int8 weights): what a shop deployment calls.
* :class:`WindowRecompute`: the baseline that recomputes the R-frame window per frame.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import batches
from . import skeleton as sk
from .calibration import calibration_windows
from .checkpoints import model_from_checkpoint
from .errors import DataError
from .model import TemporalModel, TemporalModelStrided, _TemporalBase
from .quantize import Network, quantized_api
from .timing import time_reps


def _refuse_symmetric(model, source=None) -> None:
    if not model.cfg.causal:
        raise DataError(
            source or getattr(model, "checkpoint_path", None) or "model",
            "streaming needs a causal model (one that sees only past frames); this one is "
            "symmetric: it needs future frames",
        )


def checked_causal(model, source=None):
    """``model`` if it is causal, else a :class:`DataError` naming ``source`` (the checkpoint)."""
    _refuse_symmetric(model, source)
    return model


class StreamingNetwork:
    """Step a causal :class:`~dilpose.quantize.Network` one frame at a time for ``rows``
    independent streams.

    step: (rows, J_in * F) float normalised 2D of the newest frame -> (rows, J_out * 3) float metres
    (not root-relative). reset(rows): those streams start afresh at their next frame.
    """

    def __init__(self, net: Network, rows: int = 1):
        _refuse_symmetric(net, net.checkpoint_path)
        if rows < 1:
            raise ValueError(f"a streaming network needs at least one stream, got {rows}")
        self.net, self.rows = net, rows
        c_in = [net.cfg.in_joints * net.cfg.in_features] + [net.cfg.channels] * (len(net.ops) - 1)
        self.buffers: dict[int, torch.Tensor] = {}
        self.pos: dict[int, int] = {}
        for i, op in enumerate(net.ops):
            if op.width > 1:
                length = (op.width - 1) * op.dilation + 1
                dtype = torch.uint8 if op.name in net.int8_ops else torch.float32
                self.buffers[i] = torch.zeros(rows, length, c_in[i], dtype=dtype)
                self.pos[i] = 0
        self.fresh = torch.ones(rows, dtype=torch.bool)

    def reset(self, rows: Iterable[int] | None = None) -> None:
        """Forget the past of the given rows (all when None): their next frame starts a stream."""
        if rows is None:
            self.fresh[:] = True
        else:
            self.fresh[list(rows)] = True

    def _conv(self, i: int, h: torch.Tensor) -> torch.Tensor:
        net, op = self.net, self.net.ops[i]
        h = net.quantize_input(i, h)
        if op.width == 1:
            return net.apply_op(i, h)
        buf = self.buffers[i]
        length = buf.shape[1]
        raw = h.int_repr() if h.is_quantized else h
        pos = (self.pos[i] + 1) % length
        self.pos[i] = pos
        buf[:, pos] = raw
        if self.fresh.any():
            # A new stream: the layer's past is its input held constant (the offline model's edge
            # padding repeats the first frame, and every layer then sees a constant input).
            buf[self.fresh] = raw[self.fresh].unsqueeze(1)
        idx = torch.tensor(
            [(pos - (op.width - 1 - k) * op.dilation) % length for k in range(op.width)]
        )
        taps = buf[:, idx].reshape(self.rows, -1)  # (rows, w * C), oldest tap first
        if h.is_quantized:
            taps = torch._make_per_tensor_quantized_tensor(taps, h.q_scale(), h.q_zero_point())
        return net.apply_op(i, taps)

    @torch.inference_mode()
    def step(self, x: torch.Tensor) -> torch.Tensor:
        net = self.net
        if x.shape != (self.rows, net.cfg.in_joints * net.cfg.in_features):
            raise ValueError(
                f"a step takes ({self.rows}, {net.cfg.in_joints * net.cfg.in_features}) values "
                f"(one frame per stream), got {tuple(x.shape)}"
            )
        with quantized_api():
            h = self._conv(0, x.float())
            for b in range(net.cfg.num_blocks):
                ti, pi = net.block_ops(b)
                h_in = net.quantize_input(ti, h)
                out = net.apply_op(pi, self._conv(ti, h_in))
                h = net.add(b, h_in, out)  # causal skip: the block's input at this frame
            y = net.apply_op(len(net.ops) - 1, h)
        self.fresh[:] = False
        return y.dequantize() if y.is_quantized else y


def run_offline(net: Network, keypoints_2d: np.ndarray) -> np.ndarray:
    """The offline causal prediction of one sequence (T, J, 2) -> (T, J_out, 3) metres (edge
    padded, no flip, not root-relative): what streaming must reproduce."""
    before, after = batches.padding(net.receptive_field(), True)
    x = np.pad(keypoints_2d, ((before, after), (0, 0), (0, 0)), mode="edge")[None]
    with torch.inference_mode():
        return net(torch.from_numpy(x.astype(np.float32)))[0].numpy()


class StreamLifter:
    """Lift ``streams`` live streams frame by frame with a causal model.

    :meth:`push` takes one frame per stream, (S, J, 2) (or (J, 2) for one stream) 2D keypoints
    normalised as :func:`dilpose.camera.normalize_screen_coordinates` does, and returns that frame's
    root-relative 3D joints (S, 17, 3) (or (17, 3)) in metres, from it and the frames before it.
    With ``flip_test`` every stream is also run mirrored (one more row in the same call) and the
    two are averaged, as the offline evaluation does: the output equals
    :func:`dilpose.evaluate.predict` on the whole sequence so far.

    Args:
        network: a causal :class:`~dilpose.quantize.Network` (fp32 or int8) or
            :class:`~dilpose.model.TemporalModel` (converted to an fp32 Network).
        streams: S, how many independent streams share each call.
        flip_test: average with the mirrored input.
    """

    def __init__(self, network: Network | _TemporalBase, streams: int = 1, flip_test: bool = True):
        net = network if isinstance(network, Network) else Network(network)
        _refuse_symmetric(net, net.checkpoint_path)
        self.net, self.streams, self.flip_test = net, streams, flip_test
        self.input_spec = net.input_spec
        self.layout = sk.get(net.input_spec["layout"]) if net.input_spec else sk.COCO17
        self.receptive_field = net.receptive_field()
        self.core = StreamingNetwork(net, streams * (2 if flip_test else 1))

    @property
    def cfg(self):
        return self.net.cfg

    def reset(self, stream: int | None = None) -> None:
        """Start stream ``stream`` (all when None) afresh at its next frame."""
        if stream is None:
            self.core.reset()
            return
        if not 0 <= stream < self.streams:
            raise ValueError(f"no stream {stream}: this lifter has {self.streams}")
        self.core.reset([stream, stream + self.streams] if self.flip_test else [stream])

    def push(self, keypoints_2d: np.ndarray) -> np.ndarray:
        frame = np.asarray(keypoints_2d, dtype=np.float32)
        single = frame.ndim == 2
        if single:
            frame = frame[None]
        want = (self.streams, self.cfg.in_joints, self.cfg.in_features)
        if frame.shape != want:
            raise ValueError(f"push takes one frame per stream {want}, got {frame.shape}")
        if not np.isfinite(frame).all():
            raise ValueError("push takes finite keypoints (fill missing joints first)")
        x = (
            np.concatenate([frame, batches.flip_2d(frame, self.layout)])
            if self.flip_test
            else frame
        )
        out = self.core.step(torch.from_numpy(x.reshape(len(x), -1))).numpy()
        out = out.reshape(len(x), self.cfg.out_joints, 3)
        if self.flip_test:
            out = batches.merge_flipped(np.stack([out[: self.streams], out[self.streams :]]))
        out = out - out[:, :1]
        return out[0] if single else out


#: Intra-op threads for one frame of one stream (``lift --stream``, stdin mode). A frame is a few
#: small matrix products: splitting them over threads costs more in hand-offs than it saves, and
#: on a busy machine each hand-off waits for a core (issue 28: with two threads the 95th
#: percentile per frame was 62-216 ms on a loaded 2-core machine, with one 2.4-3.6 ms).
STREAM_THREADS = 1


@contextlib.contextmanager
def small_work_threads(threads: int = STREAM_THREADS) -> Iterator[None]:
    """Run the block with ``threads`` intra-op torch threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def gemm_ready(model: torch.nn.Module) -> torch.nn.Module:
    """Store every Conv1d weight (C_out, C_in, w) as a view of a contiguous (C_out, w, C_in)
    tensor, for inference with fixed weights: :func:`dilpose.model.strided_conv1d` reorders a
    weight to a (C_out, w * C_in) matrix on every call, a copy of every weight per step (about a
    quarter of a window recompute's time); with this layout the reorder is a free reshape. The
    values, and so the outputs, are unchanged. Returns ``model``."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv1d):
                w = m.weight.detach().transpose(1, 2).contiguous().transpose(1, 2)
                m.weight = torch.nn.Parameter(w, requires_grad=False)
    return model


class WindowRecompute:
    """The baseline: keep the last R frames of every stream and run the model on the whole window
    for each new frame (fp32: the strided twin, the cheapest way to get one output of a window;
    a :class:`Network`, e.g. int8: its whole-window pass). Same interface as
    :class:`StreamingNetwork` (rows, J_in * F) -> (rows, J_out * 3)."""

    def __init__(self, model: _TemporalBase | Network, rows: int = 1, in_place: bool = True):
        _refuse_symmetric(model)
        if isinstance(model, TemporalModel):
            strided = TemporalModelStrided(model.cfg)
            strided.load_state_dict(model.state_dict())
            model = strided.eval()
            if in_place:  # False: the old baseline, for the bench's before/after
                gemm_ready(model)
        self.model, self.rows, self.cfg = model, rows, model.cfg
        self.window: torch.Tensor | None = None

    def reset(self, rows=None) -> None:
        self.window = None

    @torch.inference_mode()
    def step(self, x: torch.Tensor) -> torch.Tensor:
        cfg, rf = self.cfg, self.cfg.receptive_field()
        frame = x.reshape(self.rows, 1, cfg.in_joints, cfg.in_features)
        if self.window is None:
            self.window = frame.expand(-1, rf, -1, -1).clone()
        else:
            self.window = torch.cat([self.window[:, 1:], frame], 1)
        return self.model(self.window)[:, -1].reshape(self.rows, -1)


def stream_rate(runtime, frames: int = 200, min_seconds: float = 0.5) -> dict:
    """Frames/s of a runtime (:class:`StreamingNetwork` or :class:`WindowRecompute`) stepping
    ``runtime.rows`` streams: ``{"frames_per_s": all streams' frames per second, "step_ms": median
    ms of one step (the latency one frame sees), "rows": rows}``."""
    cfg = runtime.net.cfg if hasattr(runtime, "net") else runtime.cfg
    x = torch.randn(frames, runtime.rows, cfg.in_joints * cfg.in_features)
    runtime.reset()
    count = itertools.count()  # frame k % frames at call k, warm-up included
    times = time_reps(
        lambda: runtime.step(x[next(count) % frames]), min(10, frames), 5, min_seconds
    )
    step = float(np.median(times))
    return {"frames_per_s": runtime.rows / step, "step_ms": 1000 * step, "rows": runtime.rows}


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------
def from_checkpoint(
    checkpoint: str | Path, streams: int = 1, flip_test: bool = True
) -> StreamLifter:
    """An fp32 :class:`StreamLifter` for a causal checkpoint (a symmetric one is a
    :class:`DataError`)."""
    model = model_from_checkpoint(checkpoint)
    _refuse_symmetric(model, checkpoint)
    return StreamLifter(model, streams=streams, flip_test=flip_test)


def int8_lifter(
    model: _TemporalBase,
    calibration,
    streams: int = 1,
    flip_test: bool = True,
    method: str = "histogram",
    per_channel: bool = True,
    float_ops: Iterable[str] = (),
    layout_2d: sk.Skeleton | None = None,
) -> StreamLifter:
    """A causal model in, a deployed int8 streaming lifter out.

    Args:
        model: a trained causal :class:`~dilpose.model.TemporalModel` (e.g.
            ``checkpoints.model_from_checkpoint(path)`` or ``trainer.eval_network()``).
        calibration: training data to measure activation ranges on: a list of
            :class:`~dilpose.datasets.Sequence` (64 random clips are drawn) or an array
            (K, T >= R, J, 2) of normalised 2D windows.
        streams, flip_test: as :class:`StreamLifter`.
        method, per_channel, float_ops: the quantization recipe (:mod:`dilpose.quantize`); the
            default is the one notebook 05 measures best without fine-tuning.

    Returns a :class:`StreamLifter` whose network is int8 (``lifter.net.precision``).
    """
    _refuse_symmetric(model)
    net = Network(model)
    if isinstance(calibration, (list, tuple)):
        layout = layout_2d or (sk.get(net.input_spec["layout"]) if net.input_spec else sk.COCO17)
        calibration = calibration_windows(
            calibration, net.receptive_field(), True, layout_2d=layout
        )
    net.calibrate(calibration, method)
    return StreamLifter(
        net.quantize(per_channel, float_ops=float_ops), streams=streams, flip_test=flip_test
    )


# --------------------------------------------------------------------------------------------------
# The step model for ONNX
# --------------------------------------------------------------------------------------------------
class StepModel(torch.nn.Module):
    """The fp32 streaming step as a pure function, for export (ONNX has no mutable state): the
    ring buffers become shift buffers passed in and returned.

    Forward: ``frame`` (S, J_in, F) normalised 2D, ``fresh`` (S,) 1.0 where a stream starts (its
    buffers are then filled from this frame, as :class:`StreamingNetwork` does), and one state per
    temporal conv, (S, (w - 1) d + 1, C_in) (zeros at the start) -> ``pose_3d`` (S, J_out, 3)
    metres (not root-relative, no flip) and the new states.
    """

    def __init__(self, net: Network):
        super().__init__()
        _refuse_symmetric(net, net.checkpoint_path)
        if net.int8_ops:
            raise ValueError("StepModel exports the fp32 network (quantize the ONNX file instead)")
        self.cfg, self.ops = net.cfg, net.ops
        self.weight = torch.nn.ParameterList(
            torch.nn.Parameter(w.detach().clone(), requires_grad=False) for w in net.weight
        )
        self.bias = torch.nn.ParameterList(
            torch.nn.Parameter(b.detach().clone(), requires_grad=False) for b in net.bias
        )
        c_in = [net.cfg.in_joints * net.cfg.in_features] + [net.cfg.channels] * (len(net.ops) - 1)
        self.state_shapes = [
            ((op.width - 1) * op.dilation + 1, c_in[i])
            for i, op in enumerate(net.ops)
            if op.width > 1
        ]

    def initial_states(self, streams: int) -> list[torch.Tensor]:
        return [torch.zeros(streams, length, c) for length, c in self.state_shapes]

    def forward(self, frame: torch.Tensor, fresh: torch.Tensor, *states: torch.Tensor):
        s = frame.shape[0]
        new: list[torch.Tensor] = []
        f = fresh.reshape(s, 1, 1)

        def conv(i: int, h: torch.Tensor) -> torch.Tensor:
            op = self.ops[i]
            if op.width > 1:
                state = states[len(new)]
                state = state * (1.0 - f) + h[:, None, :] * f  # a fresh stream: held constant
                state = torch.cat([state[:, 1:], h[:, None, :]], 1)
                new.append(state)
                h = state[:, [k * op.dilation for k in range(op.width)]].reshape(s, -1)
            y = F.linear(h, self.weight[i], self.bias[i])
            return F.relu(y) if op.relu else y

        h = conv(0, frame.reshape(s, -1))
        for b in range(self.cfg.num_blocks):
            h = h + conv(2 + 2 * b, conv(1 + 2 * b, h))
        y = conv(len(self.ops) - 1, h)
        return (y.reshape(s, self.cfg.out_joints, 3), *new)
