"""Calibration for int8: the activation ranges a network meets on real data, and the uint8 grid
(scale, zero point) each range gives.

An activation tensor ``x`` is stored as ``q = round(x / scale) + zero_point`` in 0..255; the range
``[lo, hi]`` seen during calibration fixes ``scale = (hi - lo) / 255`` and the zero point that
makes 0.0 exact. A value outside the calibrated range is clipped, so the calibration data must
cover every state the deployed model meets (for a streaming model: stream starts too).

Shapes: calibration windows (K, T >= R, J_in, F) normalised 2D keypoints (R: receptive field).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.ao.quantization.observer import HistogramObserver

from . import batches as B
from . import skeleton as sk
from .config import ModelConfig
from .errors import DataError

#: Calibration methods: ``minmax`` (the observed range), ``percentile`` (the 0.01 % .. 99.99 %
#: range: a few outliers no longer stretch the grid), ``histogram`` (torch's HistogramObserver:
#: the range that minimises the L2 quantization error of the observed histogram).
CALIBRATIONS = ("minmax", "percentile", "histogram")
PERCENTILE = 99.99


@dataclass(frozen=True)
class QParams:
    """uint8 affine quantization of one activation tensor: ``x ~ scale * (q - zero_point)``."""

    scale: float
    zero_point: int

    @classmethod
    def from_range(cls, lo: float, hi: float) -> QParams:
        # The range must contain 0 so that zero (ReLU's zeros, edge padding) is exact.
        lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
        scale = max((hi - lo) / 255.0, 1e-8)
        zp = int(min(255, max(0, round(-lo / scale))))
        return cls(scale, zp)

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        return torch.quantize_per_tensor(x.contiguous(), self.scale, self.zero_point, torch.quint8)

    def fake(self, x: torch.Tensor) -> torch.Tensor:
        """Quantize and dequantize (straight-through gradient): what int8 does to ``x``."""
        return torch.fake_quantize_per_tensor_affine(x, self.scale, self.zero_point, 0, 255)


class Observer:
    """Collects one activation point's values during calibration and gives its :class:`QParams`."""

    def __init__(self, method: str, seed: int = 0):
        if method not in CALIBRATIONS:
            raise ValueError(f"calibration method must be one of {CALIBRATIONS}, got {method!r}")
        self.method = method
        self.lo, self.hi = math.inf, -math.inf
        self.samples: list[torch.Tensor] = []
        self.gen = torch.Generator().manual_seed(seed)
        self.hist = None
        if method == "histogram":
            self.hist = HistogramObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine)

    def __call__(self, x: torch.Tensor) -> None:
        x = x.detach().float()
        self.lo, self.hi = min(self.lo, float(x.min())), max(self.hi, float(x.max()))
        if self.method == "percentile":
            flat = x.reshape(-1)
            # A random subsample bounds memory; 200k values per batch fix a 99.99th percentile to
            # within a few values of the full data's.
            if flat.numel() > 200_000:
                flat = flat[torch.randint(flat.numel(), (200_000,), generator=self.gen)]
            self.samples.append(flat)
        elif self.method == "histogram":
            self.hist(x)

    def qparams(self) -> QParams:
        if self.method == "minmax":
            return QParams.from_range(self.lo, self.hi)
        if self.method == "percentile":
            v = torch.cat(self.samples).numpy()
            return QParams.from_range(
                np.percentile(v, 100 - PERCENTILE), np.percentile(v, PERCENTILE)
            )
        scale, zp = self.hist.calculate_qparams()
        return QParams(float(scale), int(zp))


def check_calibration(windows, cfg: ModelConfig, source: str = "calibration data") -> torch.Tensor:
    """``windows`` as a float32 tensor, or a :class:`DataError` saying what layout is expected."""
    want = (
        f"(windows, T >= {cfg.receptive_field()}, {cfg.in_joints} joints, {cfg.in_features} "
        "values) normalised 2D keypoints"
    )
    arr = windows.numpy() if isinstance(windows, torch.Tensor) else np.asarray(windows)
    if arr.dtype.kind not in "fiu":
        raise DataError(source, f"calibration data must be numbers {want}, got dtype {arr.dtype}")
    if arr.ndim != 4 or arr.shape[2:] != (cfg.in_joints, cfg.in_features) or len(arr) == 0:
        raise DataError(source, f"calibration data must be {want}, got shape {arr.shape}")
    if arr.shape[1] < cfg.receptive_field():
        raise DataError(
            source,
            f"calibration windows have {arr.shape[1]} frames, fewer than the receptive field "
            f"{cfg.receptive_field()}: {want}",
        )
    if not np.isfinite(arr).all():
        raise DataError(source, "calibration data holds NaN or infinite values")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def calibration_windows(
    sequences,
    receptive_field: int,
    causal: bool,
    count: int = 64,
    length: int = 64,
    seed: int = 0,
    layout_2d: sk.Skeleton = sk.COCO17,
) -> np.ndarray:
    """``count`` random clips of the training sequences, each ``receptive_field + length - 1``
    frames of edge-padded normalised 2D keypoints (as evaluation pads them), half of them mirrored
    (flip-test runs the model on mirrored input too): (count, R + length - 1, J, 2) float32."""
    if count < 1:
        raise ValueError(f"calibration needs at least one window, got count = {count}")
    wb = B.WindowBatches(
        sequences,
        count,
        receptive_field,
        chunk_length=length,
        causal=causal,
        augment=True,
        shuffle=True,
        seed=seed,
        layout_2d=layout_2d,
    )
    return next(wb.epoch(0)).inputs
