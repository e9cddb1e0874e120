"""Quantization-aware fine-tuning (QAT): train a calibrated :class:`~dilpose.quantize.Network` a
little further with every weight and activation fake-quantized as int8 will round them, so that
the weights learn to sit well on the int8 grid (notebook 05's last rung of the ladder).

QAT gives the model training steps it never had, so whatever it gains may come from the steps
rather than from the rounding: :func:`fp32_finetune` is its control, the same loop (steps, clips,
batch order, optimiser, learning rate, seed) with nothing fake-quantized.

Shapes: training clips (N, chunk + R - 1, J_in, F) normalised 2D in, (N, chunk, J_out, 3) m out.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from . import batches as B
from . import metrics
from . import skeleton as sk
from .quantize import Network


def finetune(
    net: Network,
    sequences,
    layout_2d: sk.Skeleton = sk.COCO17,
    steps: int = 200,
    batch_size: int = 16,
    chunk: int = 16,
    lr: float = 1e-5,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
    fake_quant: bool = True,
) -> tuple[Network, list[float]]:
    """A copy of the calibrated ``net`` trained for ``steps`` Adam steps (constant ``lr``) on
    training clips (``chunk`` outputs each, flip-augmented, MPJPE loss), the clips and their order
    fixed by ``seed``. ``fake_quant``: every weight and activation fake-quantized as int8 will
    round them (straight-through gradients), so the weights learn to sit well on the int8 grid
    (QAT); False: plain fp32 steps (QAT's control). Activation ranges stay the calibrated ones.

    Returns ``(network in fp32, loss_mm per step)``; quantize the network with
    :meth:`Network.quantize` (the same per-channel choice: ``net.per_channel``).
    """
    tuned = copy.deepcopy(net)
    tuned.int8_ops, tuned._packed, tuned.fake_quant = frozenset(), {}, fake_quant
    for p in tuned.parameters():
        p.requires_grad_(True)
    opt = torch.optim.Adam(tuned.parameters(), lr=lr)
    wb = B.WindowBatches(
        sequences,
        batch_size,
        net.receptive_field(),
        chunk_length=chunk,
        causal=net.cfg.causal,
        augment=True,
        shuffle=True,
        seed=seed,
        layout_2d=layout_2d,
    )
    losses: list[float] = []
    torch.manual_seed(seed)
    epoch = 0
    tuned.train()
    while len(losses) < steps:
        for batch in wb.epoch(epoch):
            pred = tuned(torch.from_numpy(batch.inputs))
            loss = metrics.mpjpe(pred, torch.from_numpy(batch.targets))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(1000 * float(loss.detach()))
            if progress is not None:
                progress(len(losses), losses[-1])
            if len(losses) >= steps:
                break
        epoch += 1
    tuned.fake_quant = False
    for p in tuned.parameters():
        p.requires_grad_(False)
    return tuned.eval(), losses


def qat_finetune(
    net: Network, sequences, layout_2d: sk.Skeleton = sk.COCO17, **kwargs
) -> tuple[Network, list[float]]:
    """Quantization-aware fine-tuning: :func:`finetune` with fake quantization (same arguments)."""
    return finetune(net, sequences, layout_2d, fake_quant=True, **kwargs)


def fp32_finetune(
    net: Network, sequences, layout_2d: sk.Skeleton = sk.COCO17, **kwargs
) -> tuple[Network, list[float]]:
    """QAT's control: :func:`finetune` with the same arguments and nothing fake-quantized, so that
    comparing the two separates what the rounding-aware training buys from what the extra training
    steps buy."""
    return finetune(net, sequences, layout_2d, fake_quant=False, **kwargs)
