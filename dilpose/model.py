"""The dilated temporal ConvNet that lifts a sequence of 2D keypoints to 3D joint positions.

Architecture (the paper's network, the same design as VideoPose3D's temporal model)::

    (N, T, J_in, 2) --expand: conv(w0) BN ReLU reg--> C channels
                    --B residual blocks:
                        [conv(w_b, dilation d_b) BN ReLU reg, conv(1) BN ReLU reg] + skip
                    --shrink: conv(1) with bias--> (N, T', J_out, 3) metres

with ``d_b = w_0 * ... * w_{b-1}`` (3, 9, 27, 81 for widths 3,3,3,3,3) so that the receptive field
is ``prod(filter_widths)`` frames (243).

Two forward paths share one set of weights (identical ``state_dict`` keys and shapes):

* :class:`TemporalModel` runs dilated convolutions over a whole sequence: T input frames give
  ``T - receptive_field + 1`` outputs, so one pass predicts every frame of a (padded) clip without
  recomputing the features that neighbouring windows share. Used for evaluation and inference.
* :class:`TemporalModelStrided` replaces every dilated convolution by a convolution with
  stride = width and no dilation. Fed exactly one receptive field of frames it computes only the
  features the single centre (or last) output needs: for widths 3,3,3,3,3 about 15x less work than
  the dilated network spends on that one window, which is what makes training on random windows
  cheap. (Over a whole clip the dilated path shares work between neighbouring outputs and is ~10x
  cheaper per frame, so it is the one to use for inference.)

Both paths compute the same function of a window; the tests check they agree to 1e-5.

Regularisers
------------
Every ``BN -> ReLU`` is followed by a *regulariser slot*, filled by the regulariser that
``ModelConfig.regularizer`` names (``dropout(p=0.25)`` by default), built by
:func:`dilpose.regularizers.build` as a factory ``channels -> nn.Module``. Because the name and
parameters are part of the config, checkpoints record them and a loaded model gets the regulariser
it was trained with. The module receives a tensor whose **dim 1 is the channel axis**,
the same contract as :class:`torch.nn.BatchNorm1d`: ``(N, C, T)`` in the whole-sequence path and
``(N * T', C)`` in the strided path. A per-channel module (a pruning mask, say) therefore only needs
to broadcast over dim 1.

Causal mode
-----------
A window of ``receptive_field`` frames always gives one output. In the symmetric model that output
belongs to the window's centre frame; with ``causal=True`` it belongs to the window's *last* frame,
so the skip connections take the right-aligned (latest) frames instead of the centred ones. The data
pipeline pads a clip with ``pad + causal_shift`` frames on the left and ``pad - causal_shift`` on
the right (:meth:`ModelConfig.padding <dilpose.config.ModelConfig.padding>`), where
``pad = (receptive_field - 1) // 2`` and
``causal_shift = pad`` when causal (0 otherwise): output t then depends on input frames
``t - receptive_field + 1 .. t`` only.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from . import regularizers
from .config import ModelConfig
from .regularizers import RegularizerFactory


def strided_conv1d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """Convolution with stride = kernel width on channel-last input, as a single matrix product.

    Equals ``F.conv1d(x.transpose(1, 2), weight, bias, stride=w).transpose(1, 2)`` when L is a
    multiple of w. Non-overlapping windows of a channel-last tensor are contiguous rows, so grouping
    them is a free reshape and the whole convolution becomes one large GEMM; on CPU this is much
    faster than a strided Conv1d and needs no permutes between layers.

    Args:
        x: (N, L, C_in) activations, frames before channels; L must be a multiple of w.
        weight: (C_out, C_in, w) a Conv1d weight.
        bias: (C_out,) or None.

    Returns:
        (N, L // w, C_out).
    """
    n, length, c_in = x.shape
    c_out, w_in, width = weight.shape
    assert w_in == c_in, f"weight expects {w_in} input channels, input has {c_in}"
    assert length % width == 0, f"length {length} is not a multiple of the kernel width {width}"
    groups = x.reshape(n, length // width, width * c_in)
    # Rows of `groups` are ordered (frame, channel); reorder the weight's (channel, frame) to match.
    matrix = weight.transpose(1, 2).reshape(c_out, width * c_in)
    return F.linear(groups, matrix, bias)


class ConvUnit(nn.Module):
    """conv -> BatchNorm -> ReLU -> regulariser: the repeating unit of the network.

    The same parameters serve both paths; ``strided`` picks how the conv runs and the layout:

    * whole-sequence (``strided=False``): input (N, C_in, T) channel-first, a dilated Conv1d,
      output (N, C_out, T - (w - 1) * dilation).
    * strided (``strided=True``): input (N, L, C_in) channel-last, :func:`strided_conv1d`,
      output (N, L // w, C_out).

    Args:
        c_in, c_out: channel counts.
        width: kernel width w (frames).
        dilation: spacing of the kernel taps in the whole-sequence path (ignored when strided).
        regularizer: factory called once with ``c_out``.
        strided: which path this unit belongs to.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        width: int,
        dilation: int,
        regularizer: RegularizerFactory,
        strided: bool,
    ):
        super().__init__()
        self.width = width
        self.dilation = dilation
        self.strided = strided
        # No conv bias: BatchNorm's shift makes it redundant (and fold_batchnorm restores one).
        if strided:
            self.conv = nn.Conv1d(c_in, c_out, width, stride=width, bias=False)
        else:
            self.conv = nn.Conv1d(c_in, c_out, width, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm1d(c_out, momentum=0.1)
        self.reg = regularizer(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.strided:
            return self.reg(F.relu(self.bn(self.conv(x)), inplace=True))
        y = strided_conv1d(x, self.conv.weight, self.conv.bias)
        n, length, c = y.shape
        # BatchNorm1d on (N*L, C) normalises over the same samples as on (N, C, L), with no copy.
        y = self.reg(F.relu(self.bn(y.reshape(n * length, c)), inplace=True))
        return y.reshape(n, length, c)


class ResidualBlock(nn.Module):
    """A temporal conv unit (width w, dilation d) then a 1x1 conv unit, plus a skip connection.

    The skip adds the block's input at the frames the output is aligned with: the centre of each
    w-tap window (symmetric) or its last tap (causal). Whole-sequence path: a crop of
    ``(w - 1) * d`` frames, split evenly (symmetric) or all from the left (causal). Strided path:
    every w-th frame starting at ``w // 2`` (symmetric) or ``w - 1`` (causal).

    Args:
        channels: C.
        width: w, the temporal kernel width.
        dilation: d, its dilation in the whole-sequence path.
        causal: right-aligned instead of centred skip.
        regularizer: factory, called twice with C (one slot per unit).
        strided: which path (and so which layout, see :class:`ConvUnit`) this block belongs to.
    """

    def __init__(
        self,
        channels: int,
        width: int,
        dilation: int,
        causal: bool,
        regularizer: RegularizerFactory,
        strided: bool,
    ):
        super().__init__()
        self.width = width
        self.dilation = dilation
        self.causal = causal
        self.strided = strided
        self.temporal = ConvUnit(channels, channels, width, dilation, regularizer, strided)
        self.pointwise = ConvUnit(channels, channels, 1, 1, regularizer, strided)

    def skip(self, x: torch.Tensor) -> torch.Tensor:
        """The input frames the block's outputs are aligned with (same layout as the output)."""
        w = self.width
        if self.strided:
            n, length, c = x.shape
            pick = w - 1 if self.causal else w // 2
            return x.reshape(n, length // w, w, c)[:, :, pick]
        crop = (w - 1) * self.dilation
        start = crop if self.causal else crop // 2
        return x[:, :, start : x.shape[2] - crop + start]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.pointwise(self.temporal(x))


class _TemporalBase(nn.Module):
    """The layer inventory both paths share (so their state_dicts are interchangeable)."""

    strided: bool = False

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        # A run's Config is a ModelConfig: the model takes it as it is and keeps the architecture.
        self.cfg = cfg = cfg.architecture()
        make_reg = regularizers.build(cfg.regularizer)
        widths, c = cfg.filter_widths, cfg.channels
        self.expand = ConvUnit(
            cfg.in_joints * cfg.in_features, c, widths[0], 1, make_reg, self.strided
        )
        self.blocks = nn.ModuleList(
            ResidualBlock(c, w, d, cfg.causal, make_reg, self.strided)
            for w, d in zip(widths[1:], cfg.dilations())
        )
        self.shrink = nn.Conv1d(c, cfg.out_joints * 3, 1, bias=True)

    def receptive_field(self) -> int:
        return self.cfg.receptive_field()

    def _check_input(self, x: torch.Tensor) -> None:
        cfg = self.cfg
        want = f"(N, T, {cfg.in_joints}, {cfg.in_features})"
        if not isinstance(x, torch.Tensor):
            raise ValueError(
                f"{type(self).__name__} expects a tensor of shape {want}, got {type(x).__name__}"
            )
        if x.dim() != 4 or x.shape[2] != cfg.in_joints or x.shape[3] != cfg.in_features:
            raise ValueError(
                f"{type(self).__name__} expects input of shape {want}, got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise ValueError(f"{type(self).__name__} expects floating-point input, got {x.dtype}")
        rf = self.receptive_field()
        if x.shape[1] < rf:
            raise ValueError(
                f"{type(self).__name__} needs at least receptive_field = {rf} frames, got T = "
                f"{x.shape[1]}; pad the sequence by cfg.padding() = {self.cfg.padding()} frames"
            )


class TemporalModel(_TemporalBase):
    """Whole-sequence path: dilated convolutions over a padded clip.

    Args:
        cfg: the architecture, regulariser included (``cfg.regularizer`` fills the 1 + 2B slots,
            each with ``cfg.channels``; a slot module is called with (N, C, T)).

    Forward:
        x: (N, T, J_in, in_features) 2D keypoints, T >= receptive_field.
        returns (N, T - receptive_field + 1, J_out, 3) joint positions in metres.
    """

    strided = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        n, t = x.shape[:2]
        h = x.reshape(n, t, -1).transpose(1, 2)  # (N, J_in*F, T): Conv1d wants channels first
        h = self.expand(h)
        for block in self.blocks:
            h = block(h)
        out = self.shrink(h)  # (N, J_out*3, T')
        return out.transpose(1, 2).reshape(n, out.shape[2], self.cfg.out_joints, 3)


class TemporalModelStrided(_TemporalBase):
    """Training path: stride = width, no dilation; one output per receptive-field window.

    Loads the same state_dict as :class:`TemporalModel`. Activations stay channel-last so every
    layer is a single GEMM (see :func:`strided_conv1d`).

    Args:
        cfg: the architecture.
        (Regulariser slot modules see (N * T', C) tensors here: channels still on dim 1.)

    Forward:
        x: (N, T, J_in, in_features) 2D keypoints with T a multiple of receptive_field (usually
            exactly one window); consecutive non-overlapping windows give one output each.
        returns (N, T // receptive_field, J_out, 3) joint positions in metres.
    """

    strided = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        n, t = x.shape[:2]
        rf = self.receptive_field()
        if t % rf != 0:
            raise ValueError(
                f"TemporalModelStrided needs T to be a multiple of receptive_field = {rf} "
                f"(one output per window), got T = {t}"
            )
        h = self.expand(x.reshape(n, t, -1))  # (N, T / w0, C) channel-last
        for block in self.blocks:
            h = block(h)
        out = strided_conv1d(h, self.shrink.weight, self.shrink.bias)  # (N, T / rf, J_out*3)
        return out.reshape(n, out.shape[1], self.cfg.out_joints, 3)


def set_bn_momentum(model: nn.Module, momentum: float) -> None:
    """Set the running-statistics momentum of every BatchNorm layer (the paper decays it in
    training)."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = momentum


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters (all of them, or only those with requires_grad)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _fold_unit(unit: ConvUnit) -> None:
    bn = unit.bn
    if not isinstance(bn, nn.BatchNorm1d):  # already folded
        return
    # eval-mode BN is y = (x - mean) * gamma / sqrt(var + eps) + beta: a per-channel affine map.
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias.detach() - bn.running_mean * scale
    conv = unit.conv
    if conv.bias is not None:
        shift = shift + conv.bias.detach() * scale
    conv.weight = nn.Parameter(conv.weight.detach() * scale[:, None, None], requires_grad=False)
    conv.bias = nn.Parameter(shift, requires_grad=False)
    unit.bn = nn.Identity()
    # Dropout is the identity at inference, so it goes; any other regulariser (a pruning mask, say)
    # changes eval outputs and is kept, which is still exact because it acts after the ReLU.
    if isinstance(unit.reg, nn.modules.dropout._DropoutNd):
        unit.reg = nn.Identity()


def fold_batchnorm(model: _TemporalBase) -> _TemporalBase:
    """An inference-only copy with each BatchNorm folded into the conv before it.

    Every conv gets ``weight * gamma / sqrt(var + eps)`` and a bias ``beta - mean * gamma /
    sqrt(var + eps)``; BN layers and dropout regularisers become ``nn.Identity``. The copy is in
    eval mode with gradients off and gives the same outputs as ``model.eval()`` (up to float
    rounding); its state_dict has conv biases and no BN entries, so it is not meant for training or
    saving.

    Args:
        model: a :class:`TemporalModel` or :class:`TemporalModelStrided` (left unchanged).
    """
    if not isinstance(model, _TemporalBase):
        raise ValueError(
            "fold_batchnorm expects a TemporalModel or TemporalModelStrided, "
            f"got {type(model).__name__}"
        )
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if isinstance(module, ConvUnit):
            _fold_unit(module)
    for p in folded.parameters():
        p.requires_grad_(False)
    return folded
