"""Numerical precision of training and evaluation: ``fp32``, ``bf16`` (mixed) or ``auto``.

``bf16`` runs the convolutions (the matrix products that are nearly all of the work) in bfloat16
under ``torch.autocast``, while the weights, the optimiser state, the BatchNorm running statistics,
the loss and the metrics stay fp32: the usual mixed-precision recipe. bfloat16 keeps fp32's exponent
range, so no loss scaling is needed. It pays where the hardware has native bf16 matrix units: CPUs
with AVX512-BF16 or AMX (this project's machines have AVX512-BF16) and GPUs from Ampere on.
``auto`` picks ``bf16`` on such hardware and ``fp32`` elsewhere; the resolved precision is what
checkpoints, the model cache and every results JSON record.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from .config import PRECISIONS, check_precision

__all__ = ["PRECISIONS", "autocast", "cpu_has_native_bf16", "native_bf16", "resolve"]


def cpu_has_native_bf16() -> bool:
    """The CPU multiplies bf16 natively (AVX512-BF16 or AMX-BF16 in /proc/cpuinfo's flags)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next(
        (line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")),
        [],
    )
    return "avx512_bf16" in flags or "amx_bf16" in flags


def native_bf16(device: torch.device) -> bool:
    """``device`` runs bf16 matrix products natively."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_native_bf16()


def resolve(precision: str, device: torch.device) -> str:
    """``"fp32"`` or ``"bf16"``: ``precision`` with ``auto`` decided for ``device``.

    A training run resolves its setting once, in the :class:`dilpose.train.Trainer`; the model cache
    and evaluation read the Trainer's result. ConfigError for a value that is no precision (the rule
    is :func:`dilpose.config.check_precision`)."""
    if check_precision(precision) == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def autocast(precision: str, device: torch.device):
    """A context in which convolutions run in ``precision`` (resolved: ``fp32`` or ``bf16``)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
