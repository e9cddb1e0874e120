"""The paper's pruning layer, read two ways, and what notebook 03 measures about them.

The paper (§III, Fig. 4) puts a *pruning layer* after BN and ReLU in every block, which "keeps
larger ones and removes nodes with lower weights", and says it prevents overfitting better than
dropout; it gives no number and no exact rule. Two readings are implemented:

* **Activation pruning** (:class:`ActivationPruning`, registered as the regulariser ``prune``): per
  sample and time step, zero the fraction ``rate`` of channels with the smallest activations and
  keep the rest. Its variants are parameters, because each changes what the layer does:

  - ``over="nonzero"`` counts the rate over the channels ReLU left non-zero; ``over="all"`` over all
    channels. After ReLU about half the channels are zero already, so ``rate=0.25`` over all
    channels usually removes nothing: :attr:`ActivationPruning.pruned_fraction` logs what it did.
  - ``at_eval``: also prune at evaluation (the pruning is then part of the model, and its sparsity
    a property of inference), or only in training (like dropout: the identity at evaluation).
  - ``rescale``: multiply the kept values by (kept + pruned) / kept, as inverted dropout does, so
    the next layer sees the same expected sum in training as at evaluation.

* **Weight pruning** (:func:`magnitude_prune`): zero the smallest-magnitude weights of every
  convolution to a target sparsity. Notebook 03 applies it once to trained models to ask how far
  the weights can be pruned for at most 1 mm of MPJPE, and what that buys in model size.

A slot module receives a tensor whose dim 1 is the channel axis: (N, C, T) in the whole-sequence
path and (N * T', C) in the strided path, so pruning per (sample, time) is the same computation in
both.
"""

from __future__ import annotations

import io

import torch
from torch import nn


class ActivationPruning(nn.Module):
    """Zero the ``rate`` fraction of smallest activations per sample and time step (channels on
    dim 1). Ties are broken by channel index (the lower index is pruned first), so the result is
    deterministic. See the module docstring for ``over``, ``rescale`` and ``at_eval``.

    After each forward, ``pruned_fraction`` (a 0-d tensor) holds the fraction of all activations
    this layer set to zero. (The fraction of zeros in a slot's output, ReLU's included, is read by
    :func:`zero_fractions` with a hook, so the forward pass does not pay for it.)
    """

    def __init__(
        self, rate: float, over: str = "nonzero", rescale: bool = True, at_eval: bool = False
    ):
        super().__init__()
        self.rate, self.over, self.rescale, self.at_eval = (
            float(rate),
            over,
            bool(rescale),
            bool(at_eval),
        )
        self.pruned_fraction = torch.zeros(())

    def extra_repr(self) -> str:
        return (
            f"rate={self.rate}, over={self.over!r}, rescale={self.rescale}, at_eval={self.at_eval}"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training or self.at_eval) or self.rate == 0.0:
            self.pruned_fraction = torch.zeros(())
            return x
        xc = x.movedim(1, -1)  # (..., C): one row per sample and time step
        C = xc.shape[-1]
        nonzero = xc != 0
        if self.over == "all":
            key = xc
            n = torch.full(xc.shape[:-1] + (1,), C, device=x.device)
            already = torch.zeros_like(n)
        else:
            # zeros sort first and count as pruned already: the rate applies to the rest
            key = torch.where(nonzero, xc, torch.full_like(xc, float("-inf")))
            n = nonzero.sum(-1, keepdim=True)
            already = C - n
        drop = torch.round(self.rate * n.to(torch.float32)).to(torch.long)  # how many to prune
        order = torch.sort(key.float(), dim=-1, stable=True).indices  # ascending, ties by index
        rank = torch.empty_like(order).scatter_(
            -1, order, torch.arange(C, device=x.device).expand_as(order)
        )
        keep = rank >= already + drop  # (..., C)
        out = xc * keep
        if self.rescale:
            kept = (n - drop).clamp(min=1).to(xc.dtype)
            out = out * (n.to(xc.dtype) / kept)
        self.pruned_fraction = (nonzero & ~keep).float().mean().detach()
        return out.movedim(-1, 1)


def slots(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The regulariser slot modules of a temporal model, in forward order: ``(name, module)``."""
    return [
        (name, m) for name, m in model.named_modules() if name.endswith(".reg") or name == "reg"
    ]


@torch.no_grad()
def zero_fractions(model: nn.Module, x: torch.Tensor, training: bool) -> dict[str, float]:
    """Fraction of zeros in each slot's output for input ``x`` (N, T, J, 2), in training mode
    (dropout and pruning active, BatchNorm on batch statistics) or evaluation mode; the model's mode
    is restored. Keys are slot names (``expand.reg``, ``blocks.0.temporal.reg``, ...)."""
    seen: dict[str, float] = {}
    hooks = [
        m.register_forward_hook(
            lambda mod, inp, out, name=name: seen.__setitem__(
                name, float((out == 0).float().mean())
            )
        )
        for name, m in slots(model)
    ]
    was_training = model.training
    try:
        model.train(training)
        model(x)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return seen


def prunable(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The convolution weights magnitude pruning acts on (all of them; BatchNorm is not pruned)."""
    return [(n, p) for n, p in model.named_parameters() if n.endswith("weight") and p.dim() == 3]


@torch.no_grad()
def magnitude_prune(model: nn.Module, sparsity: float) -> dict[str, float]:
    """Zero, in place, the ``sparsity`` fraction of smallest-magnitude weights of every convolution
    (per layer, ties by index), and return each layer's resulting sparsity."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    out = {}
    for name, w in prunable(model):
        flat = w.view(-1)
        k = int(round(sparsity * flat.numel()))
        if k:
            order = torch.sort(flat.abs(), stable=True).indices
            flat[order[:k]] = 0.0
        out[name] = float((w == 0).float().mean())
    return out


def sparse_size_bytes(model: nn.Module) -> dict[str, int]:
    """What the weights take: ``dense`` (every parameter and buffer in fp32, as ``torch.save``
    writes them) and ``sparse`` (convolution weights as a bitmask of the non-zeros plus their fp32
    values, the rest as dense): the storage a pruned model saves."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    dense = buf.getbuffer().nbytes
    saved = 0
    for _, w in prunable(model):
        n = w.numel()
        nz = int((w != 0).sum())
        saved += 4 * n - (n + 7) // 8 - 4 * nz
    return {"dense": dense, "sparse": dense - saved}
