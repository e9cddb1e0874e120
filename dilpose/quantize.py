"""From a trained fp32 model to int8 in PyTorch: BatchNorm folding, fp16/bf16, post-training int8
quantization and per-layer sensitivity. The neighbours: :mod:`dilpose.calibration` (activation
ranges), :mod:`dilpose.qat` (quantization-aware fine-tuning), :mod:`dilpose.export` (ONNX and
ONNX Runtime's int8), :mod:`dilpose.stream` (the int8 network one frame at a time).

The ladder (each step measured in notebook 05)::

    TemporalModel (fp32, BN)  --fold_batchnorm-->  folded fp32  --.to(fp16 / bf16)-->  CastModel
                                       |
                                       +--Network(model)--> each conv: "gather w taps, one matrix"
                                              |  calibrate(windows, method)   activation ranges
                                              |  quantize(per_channel, float_ops)  int8 weights
                                              |  qat.qat_finetune(...)        fake-quant fine-tuning
                                              +--> stream.StreamingNetwork (one frame per step)
    folded fp32 --export.export_whole--> model.onnx --onnxruntime static QDQ--> int8 .onnx

Engines (every number says which one it comes from):

* ``torch-fp32`` / ``torch-fp16`` / ``torch-bf16``: PyTorch's CPU convolutions (oneDNN).
* ``torch-int8``: PyTorch's own quantized CPU kernels (``torch.ops.quantized.linear``, the x86 /
  fbgemm backend: uint8 activations x int8 weights, int32 accumulation, VNNI on this CPU). A
  dilated conv of width w is run as one int8 matrix product over its w taps concatenated along
  channels (the taps of a quantized tensor are views; concatenating them copies bytes, not floats).
  PyTorch 2.13 marks its quantized-tensor API deprecated (in favour of ``torchao``, not installed
  here); the kernels are the ones ``torch.ao.quantization`` uses and still ship in the wheel.
* ``onnxruntime-int8``: ONNX Runtime's CPU provider on a static QDQ model (per-channel int8
  weights, uint8 activations, calibrated by onnxruntime.quantization): :mod:`dilpose.export`.

What is quantized in ``torch-int8``: every convolution's weights (int8, symmetric, per output
channel or per tensor) and its input activations (uint8, per tensor, ranges from calibration on
training windows); the residual additions run in int8 too (``quantized.add``) when both operands
are int8. The last layer (``shrink``, C -> 51 coordinates) reads int8 activations but writes
float metres: an 8-bit output would cost ~4 mm of rounding by itself. Layers listed in
``float_ops`` stay fp32 (chosen by measured sensitivity, :func:`sensitivity`).

Tensor shapes: model input (N, T, J_in, F) normalised 2D keypoints; output (N, T - R + 1, J_out, 3)
metres (R = receptive field), as :class:`dilpose.model.TemporalModel`.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .calibration import Observer, QParams, check_calibration
from .config import ModelConfig
from .errors import DataError
from .model import ConvUnit, _TemporalBase, fold_batchnorm

ENGINE_TORCH_INT8 = "torch-int8 (x86/fbgemm quantized kernels)"


@contextlib.contextmanager
def quantized_api():
    """Use torch's quantized tensors (deprecated in 2.13 with a warning per call, still shipped)
    on the x86 backend."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*quantize.*deprecated.*")
        warnings.filterwarnings("ignore", message=".*quantized.*deprecated.*")
        old = torch.backends.quantized.engine
        if "x86" in torch.backends.quantized.supported_engines:
            torch.backends.quantized.engine = "x86"
        try:
            yield
        finally:
            torch.backends.quantized.engine = old


# --------------------------------------------------------------------------------------------------
# The network as linear operations
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Op:
    """One convolution of the network: ``width`` taps ``dilation`` frames apart, one matrix.

    ``in_point`` / ``out_point`` name the activations it reads and writes (``out_point`` None for
    the last layer, whose float output is the pose)."""

    name: str
    width: int
    dilation: int
    relu: bool
    in_point: str
    out_point: str | None


def _taps(h: torch.Tensor, width: int, dilation: int) -> torch.Tensor:
    """(N, T, C) channel-last -> (N, T - (w - 1) d, w * C): each output frame's w input frames side
    by side, oldest first (the order of :func:`_tap_major` weights). Works on quantized tensors."""
    if width == 1:
        return h
    t_out = h.shape[1] - (width - 1) * dilation
    return torch.cat([h[:, k * dilation : k * dilation + t_out] for k in range(width)], dim=2)


def _tap_major(weight: torch.Tensor) -> torch.Tensor:
    """Conv1d weight (C_out, C_in, w) -> (C_out, w * C_in), columns ordered (tap, channel)."""
    c_out, c_in, w = weight.shape
    return weight.detach().transpose(1, 2).reshape(c_out, w * c_in).contiguous()


class Network(nn.Module):
    """A trained temporal ConvNet with BatchNorm folded, each conv one matrix over its taps: the
    form every precision of this module runs in (fp32, fake-quantized, int8) and the streaming
    runtime (:mod:`dilpose.stream`) steps through.

    Args:
        model: a :class:`~dilpose.model.TemporalModel` (or strided twin) in any state; it is copied
            and folded (:func:`dilpose.model.fold_batchnorm`), never changed. Its regulariser must
            be the identity at evaluation (dropout, or training-only pruning).

    Forward: (N, T, J_in, F) float, T >= R -> (N, T - R + 1, J_out, 3) float metres.

    Attributes:
        cfg: the model's :class:`ModelConfig`; ``input_spec``: the checkpoint's input record.
        ops: the :class:`Op` list (expand, per block temporal and pointwise, shrink).
        weight, bias: fp32 parameters per op, (C_out, w * C_in) and (C_out,).
        act: activation point -> :class:`QParams` after :meth:`calibrate` (else empty).
        int8_ops: names of the ops that run in int8 (empty: fp32).
        fake_quant: run in float with weights and activations fake-quantized (QAT).
    """

    def __init__(self, model: _TemporalBase):
        super().__init__()
        if not isinstance(model, _TemporalBase):
            raise DataError(
                getattr(model, "checkpoint_path", None),
                f"quantization needs a TemporalModel, got {type(model).__name__}",
            )
        folded = fold_batchnorm(model)
        for name, module in folded.named_modules():
            if isinstance(module, ConvUnit) and not isinstance(module.reg, nn.Identity):
                raise DataError(
                    getattr(model, "checkpoint_path", None),
                    f"{name} keeps a regulariser at evaluation ({type(module.reg).__name__}); "
                    "quantization supports models whose regulariser is training-only",
                )
        self.cfg: ModelConfig = copy.deepcopy(model.cfg)
        self.input_spec = getattr(model, "input_spec", None)
        self.checkpoint_path = getattr(model, "checkpoint_path", None)
        ops, convs = [], []
        ops.append(Op("expand", folded.expand.width, 1, True, "input", "expand"))
        convs.append(folded.expand.conv)
        prev = "expand"
        for b, block in enumerate(folded.blocks):
            ops.append(
                Op(
                    f"block{b}.temporal",
                    block.width,
                    block.dilation,
                    True,
                    prev,
                    f"block{b}.temporal",
                )
            )
            ops.append(
                Op(f"block{b}.pointwise", 1, 1, True, f"block{b}.temporal", f"block{b}.pointwise")
            )
            convs += [block.temporal.conv, block.pointwise.conv]
            prev = f"block{b}"
        ops.append(Op("shrink", 1, 1, False, prev, None))
        convs.append(folded.shrink)
        self.ops: list[Op] = ops
        self.weight = nn.ParameterList(
            nn.Parameter(_tap_major(c.weight), requires_grad=False) for c in convs
        )
        self.bias = nn.ParameterList(
            nn.Parameter(c.bias.detach().clone(), requires_grad=False) for c in convs
        )
        self.act: dict[str, QParams] = {}
        self.int8_ops: frozenset[str] = frozenset()
        self.per_channel = True
        self.fake_quant = False
        self._packed: dict[int, object] = {}
        self._record: Callable[[str, torch.Tensor], None] | None = None
        self.eval()

    # -- structure ---------------------------------------------------------------------------------
    def receptive_field(self) -> int:
        return self.cfg.receptive_field()

    @property
    def op_names(self) -> list[str]:
        return [op.name for op in self.ops]

    @property
    def points(self) -> list[str]:
        """Activation points in order: the input, every op's output, every block's sum."""
        out = ["input"]
        for op in self.ops:
            if op.out_point:
                out.append(op.out_point)
            if op.name.endswith(".pointwise"):
                out.append(op.name.split(".")[0])
        return out

    def block_ops(self, b: int) -> tuple[int, int]:
        """Indices of block b's temporal and pointwise ops."""
        return 1 + 2 * b, 2 + 2 * b

    @property
    def precision(self) -> str:
        if not self.int8_ops:
            return "fp32 (fake-quantized)" if self.fake_quant else "fp32"
        if len(self.int8_ops) == len(self.ops):
            return "int8"
        return f"int8 ({len(self.ops) - len(self.int8_ops)} of {len(self.ops)} layers fp32)"

    # -- int8 conversion ---------------------------------------------------------------------------
    def quantize(
        self,
        per_channel: bool = True,
        float_ops: Iterable[str] = (),
        only: Iterable[str] | None = None,
    ) -> Network:
        """An int8 copy (needs :meth:`calibrate` first). per_channel: one weight scale per output
        channel (else one per layer). float_ops: ops kept in fp32. only: quantize just these ops
        (per-layer sensitivity). This network is left unchanged."""
        if not self.act:
            raise ValueError("calibrate the network before quantizing it (Network.calibrate)")
        names = set(self.op_names)
        unknown = (set(float_ops) | set(only or ())) - names
        if unknown:
            raise ValueError(f"unknown layer(s) {sorted(unknown)}; layers are {self.op_names}")
        chosen = set(only) if only is not None else names - set(float_ops)
        net = copy.deepcopy(self)
        net.int8_ops, net.per_channel, net.fake_quant, net._packed = (
            frozenset(chosen),
            per_channel,
            False,
            {},
        )
        with quantized_api():
            net._pack()
        return net

    def _pack(self) -> None:
        """Prepack the int8 ops' weights; the last layer keeps its int8 weights as exact fp32
        values (its output is float metres, see the module docstring)."""
        self._packed = {}
        for i, op in enumerate(self.ops):
            if op.name in self.int8_ops:
                wq = self._weight_q(i)
                self._packed[i] = (
                    torch.ops.quantized.linear_prepack(wq, self.bias[i].detach())
                    if op.out_point
                    else wq.dequantize()
                )

    def _weight_scale(self, i: int) -> torch.Tensor:
        w = self.weight[i].detach()
        s = w.abs().amax(1) if self.per_channel else w.abs().max().expand(w.shape[0])
        return (s.clamp_min(1e-12) / 127.0).double()

    def _weight_q(self, i: int) -> torch.Tensor:
        w = self.weight[i].detach()
        scale = self._weight_scale(i)
        if self.per_channel:
            zeros = torch.zeros(w.shape[0], dtype=torch.long)
            return torch.quantize_per_channel(w, scale, zeros, 0, torch.qint8)
        return torch.quantize_per_tensor(w, float(scale[0]), 0, torch.qint8)

    def __deepcopy__(self, memo):
        # Packed int8 weights are opaque C++ objects that do not deep-copy; rebuild them instead.
        packed, self._packed = self._packed, {}
        try:
            cls = self.__class__
            new = cls.__new__(cls)
            memo[id(self)] = new
            for k, v in self.__dict__.items():
                setattr(new, k, copy.deepcopy(v, memo))
        finally:
            self._packed = packed
        if packed:
            with quantized_api():
                new._pack()
        return new

    def state_bytes(self) -> int:
        """Bytes of the deployable weights, serialised with ``torch.save``: int8 values plus
        per-channel (or per-layer) fp32 scales for int8 layers, fp32 for the others, fp32 biases
        and the activation ranges. The figure the "quarter of the size" claim is about."""
        state = {}
        for i, op in enumerate(self.ops):
            if op.name in self.int8_ops:
                state[f"{op.name}.weight_int8"] = self._weight_q(i).int_repr()
                scale = self._weight_scale(i).float()
                state[f"{op.name}.weight_scale"] = scale if self.per_channel else scale[:1]
            else:
                state[f"{op.name}.weight"] = self.weight[i].detach()
            state[f"{op.name}.bias"] = self.bias[i].detach()
        if self.int8_ops:
            state["activation_qparams"] = torch.tensor(
                [[q.scale, q.zero_point] for q in self.act.values()], dtype=torch.float32
            )
        with quantized_api():
            buf = io.BytesIO()
            torch.save(state, buf)
        return buf.tell()

    # -- running -----------------------------------------------------------------------------------
    def _point(self, name: str, h: torch.Tensor) -> torch.Tensor:
        if self._record is not None:
            self._record(name, h.dequantize() if h.is_quantized else h)
        if self.fake_quant and name in self.act:
            return self.act[name].fake(h)
        return h

    def apply_op(self, i: int, taps: torch.Tensor) -> torch.Tensor:
        """Op i on its taps (M, w * C_in): float or quantized in, float or quantized out (int8 ops
        write quantized activations, the last layer float)."""
        op = self.ops[i]
        if op.name in self.int8_ops:
            x = taps if taps.is_quantized else self.act[op.in_point].quantize(taps)
            if op.out_point is None:
                # float output: int8 activations times int8 weights, accumulated in fp32 (exact
                # for these 8-bit values up to float rounding; 51 outputs, a negligible cost).
                return F.linear(x.dequantize(), self._packed[i], self.bias[i])
            q = self.act[op.out_point]
            fn = torch.ops.quantized.linear_relu if op.relu else torch.ops.quantized.linear
            return fn(x, self._packed[i], q.scale, q.zero_point)
        x = taps.dequantize() if taps.is_quantized else taps
        w = self.weight[i]
        if self.fake_quant:
            s = self._weight_scale(i).float().detach()
            if not self.per_channel:
                s = s[:1].expand(w.shape[0]).contiguous()
            w = torch.fake_quantize_per_channel_affine(
                w, s, torch.zeros(w.shape[0], dtype=torch.int32), 0, -127, 127
            )
        y = F.linear(x, w, self.bias[i])
        return F.relu(y) if op.relu else y

    def quantize_input(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """``h`` as op i reads it: quantized with its input point's range when op i is int8."""
        if self.ops[i].name in self.int8_ops and not h.is_quantized:
            return self.act[self.ops[i].in_point].quantize(h)
        return h

    def add(self, b: int, skip: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Block b's residual sum (int8 when both operands are)."""
        if skip.is_quantized and out.is_quantized:
            q = self.act[f"block{b}"]
            return torch.ops.quantized.add(skip, out, q.scale, q.zero_point)
        skip = skip.dequantize() if skip.is_quantized else skip
        out = out.dequantize() if out.is_quantized else out
        return skip + out

    def _run(self, i: int, h: torch.Tensor) -> torch.Tensor:
        op = self.ops[i]
        h = self.quantize_input(i, h)
        taps = _taps(h, op.width, op.dilation)
        n, t = taps.shape[:2]
        out = self.apply_op(i, taps.reshape(n * t, -1))
        out = out.reshape(n, t, -1)
        return self._point(op.out_point, out) if op.out_point else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_model_input(self.cfg, x, type(self).__name__)
        with quantized_api() if self.int8_ops else contextlib.nullcontext():
            n, t = x.shape[:2]
            h = self._point("input", x.reshape(n, t, -1).float())
            h = self._run(0, h)
            for b in range(self.cfg.num_blocks):
                ti, pi = self.block_ops(b)
                op = self.ops[ti]
                h_in = self.quantize_input(ti, h)
                out = self._run(pi, self._run(ti, h_in))
                crop = (op.width - 1) * op.dilation
                start = crop if self.cfg.causal else crop // 2
                skip = h_in[:, start : h_in.shape[1] - crop + start]
                h = self._point(f"block{b}", self.add(b, skip, out))
            y = self._run(len(self.ops) - 1, h)
        y = y.dequantize() if y.is_quantized else y
        return y.reshape(n, y.shape[1], self.cfg.out_joints, 3)

    # -- calibration -------------------------------------------------------------------------------
    def calibrate(
        self,
        windows: np.ndarray | torch.Tensor,
        method: str = "histogram",
        batch: int = 16,
        seed: int = 0,
        source: str = "calibration data",
    ) -> Network:
        """Measure every activation point's range on ``windows`` (K, T, J_in, F) normalised 2D
        keypoints, T >= R (training clips, :func:`calibration_windows`), with the fp32 network;
        set :attr:`act`. Returns self. A wrong layout is a :class:`DataError` naming ``source``."""
        x = check_calibration(windows, self.cfg, source)
        observers = {p: Observer(method, seed) for p in self.points}
        self._record = lambda name, h: observers[name](h)
        saved, self.int8_ops, self.fake_quant = self.int8_ops, frozenset(), False
        try:
            with torch.inference_mode():
                for k in range(0, len(x), batch):
                    self(x[k : k + batch])
        finally:
            self._record, self.int8_ops = None, saved
        self.act = {p: o.qparams() for p, o in observers.items()}
        self.calibration = method
        return self


def check_model_input(cfg: ModelConfig, x, who: str) -> None:
    want = f"(N, T, {cfg.in_joints}, {cfg.in_features})"
    if (
        not isinstance(x, torch.Tensor)
        or x.dim() != 4
        or tuple(x.shape[2:])
        != (
            cfg.in_joints,
            cfg.in_features,
        )
    ):
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{who} expects input of shape {want}, got {got}")
    if x.shape[1] < cfg.receptive_field():
        raise ValueError(
            f"{who} needs at least receptive_field = {cfg.receptive_field()} frames, got "
            f"T = {x.shape[1]}; pad the sequence by {cfg.padding()} frames"
        )


# --------------------------------------------------------------------------------------------------
# fp16 / bf16
# --------------------------------------------------------------------------------------------------
class CastModel(nn.Module):
    """A (folded) model with its weights stored and run in ``dtype`` (float16 or bfloat16): the
    input is cast to it, the output back to fp32. Engine: PyTorch's CPU kernels for that dtype."""

    def __init__(self, model: _TemporalBase, dtype: torch.dtype):
        super().__init__()
        self.inner = fold_batchnorm(model).to(dtype)
        self.dtype, self.cfg = dtype, model.cfg
        self.input_spec = getattr(model, "input_spec", None)

    def receptive_field(self) -> int:
        return self.cfg.receptive_field()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.to(self.dtype)).float()


def state_bytes(model: nn.Module) -> int:
    """Bytes of ``model.state_dict()`` serialised with ``torch.save`` (a :class:`Network` counts its
    deployable int8 form: :meth:`Network.state_bytes`)."""
    if isinstance(model, Network):
        return model.state_bytes()
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.tell()


# --------------------------------------------------------------------------------------------------
# Sensitivity
# --------------------------------------------------------------------------------------------------
def sensitivity(
    net: Network, evaluate: Callable[[nn.Module], float], per_channel: bool = True
) -> dict[str, float]:
    """Quantize one layer at a time (the others fp32) and return ``{layer: evaluate(network)}``
    (an error in mm, say): which layers int8 hurts, measured. ``net`` must be calibrated."""
    return {name: evaluate(net.quantize(per_channel, only=[name])) for name in net.op_names}


__all__ = [
    "CastModel",
    "ENGINE_TORCH_INT8",
    "Network",
    "check_model_input",
    "quantized_api",
    "sensitivity",
    "state_bytes",
]
