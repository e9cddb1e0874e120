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
  - ``rescale``: multiply the kept values of each row by (sum of the row) / (sum of the kept
    values), so that the next layer sees the same sum in training as at evaluation, where a
    training-only layer is the identity. Why not inverted dropout's count ratio
    (kept + pruned) / kept: dropout removes values at random, so scaling by the count ratio keeps
    the expected sum; pruning removes the *smallest* values, which carry far less than their share
    of the sum, so the count ratio (4/3 at rate 0.25) inflates every sum in training and the
    next BatchNorm's running statistics no longer match what it sees at evaluation (notebook 03
    measured 128-160 mm with that reading, against 81 for dropout).

* **Weight pruning**, the reading of "removes nodes with lower weights": zero the
  smallest-magnitude weights of every convolution.

  - during training (:class:`GradualMagnitudePruning`, the config's ``weight_sparsity``): Zhu &
    Gupta's (2017) gradual schedule raises the sparsity from 0 to the target while the model
    trains, and the pruned weights are held at zero through every optimiser step, so the rest of
    the network learns to do without them;
  - once, after training (:func:`magnitude_prune`): the baseline that shows what pruning without
    retraining costs.

  Notebook 03 asks how far the weights can be pruned for at most 1 mm of MPJPE, and what that
  buys in model size.

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
            drop = int(round(self.rate * C))
            n = torch.tensor(C, device=x.device)
            keep = prune_smallest(xc, drop)
            pruned = (nonzero & ~keep).sum()
        else:
            # the rate applies to the channels ReLU left non-zero: the zeros are no candidates
            # (+inf, never among the smallest), and only the few to prune need selecting
            n = nonzero.sum(-1, keepdim=True)
            drop = torch.round(self.rate * n.to(torch.float32)).to(torch.long)  # how many to prune
            keep = prune_smallest(xc.masked_fill(~nonzero, float("inf")), drop)
            pruned = drop.sum()  # exactly `drop` non-zeros go in each row
        self.pruned_fraction = (pruned / xc.numel()).detach()
        out = xc * keep
        if self.rescale:
            # sum-preserving per row (see the module docstring); a row whose kept values sum to
            # zero keeps its scale of 1
            total, kept = xc.sum(-1, keepdim=True), out.sum(-1, keepdim=True)
            out = out * torch.where(kept != 0, total / torch.where(kept != 0, kept, 1), 1)
        return out.movedim(-1, 1)


def _kth_smallest(rows: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th smallest value of each row of ``rows`` (R, W), as (R, 1)."""
    return torch.topk(rows, k, dim=-1, largest=False, sorted=False).values.amax(-1, keepdim=True)


def prune_smallest(key: torch.Tensor, m: torch.Tensor | int) -> torch.Tensor:
    """Keep mask (bool, shape of ``key`` (..., C)) that prunes the ``m`` smallest entries of each
    row, ties broken by index (the lower index is pruned first), exactly as a stable ascending sort
    would. ``m`` is one int for every row or a (..., 1) long tensor of per-row counts in [0, C].

    Why not a sort: a full sort of every row is what made the layer slow (C log C per row, plus a
    scatter to turn the order into ranks). The m-th smallest value is a selection: the largest of
    an unsorted ``topk`` of the m smallest (faster on CPU than ``kthvalue`` for the small m the
    layer asks for), and the mask is one comparison against it. ``topk`` takes one k for all rows;
    per-row counts are brought to one k by padding row i with ``M - m_i`` entries of -inf (and +inf
    up to a common width), so the M-th smallest of the padded row is the m_i-th of the original.
    Ties at the threshold are the rare case and are resolved by a cumulative count, except
    ties at exactly 0, which the layer's inputs (after ReLU) always have: keeping or pruning a zero
    gives the same output, so they need no resolving.
    """
    rows = key.reshape(-1, key.shape[-1])
    if isinstance(m, int):
        if m == 0:
            return torch.ones_like(key, dtype=torch.bool)
        thr = _kth_smallest(rows, m)
        m_rows = torch.full((rows.shape[0], 1), m, device=key.device)
    else:
        m_rows = m.reshape(-1, 1)
        top, low = int(m_rows.max()), int(m_rows.min())
        if top == 0:
            return torch.ones_like(key, dtype=torch.bool)
        if top > low:
            width = top - low
            pad_low = torch.arange(width, device=key.device).expand(rows.shape[0], width) < (
                top - m_rows
            )
            pad = torch.where(pad_low, float("-inf"), float("inf")).to(rows.dtype)
            rows_padded = torch.cat([rows, pad], dim=-1)
        else:
            rows_padded = rows
        thr = _kth_smallest(rows_padded, top)
    at_or_below = rows <= thr
    keep = ~at_or_below
    extra = at_or_below.sum(-1, keepdim=True) - m_rows  # ties at the threshold pruned too many
    tied = (extra > 0) & (thr != 0)
    if bool(tied.any()):
        eq = (rows == thr) & tied
        # the tied entries are pruned in index order; the last `extra` of them are kept
        keep = keep | (eq & (eq.cumsum(-1) > eq.sum(-1, keepdim=True) - extra))
    return keep.reshape(key.shape)


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


def _prune_mask(w: torch.Tensor, k: int, held: torch.Tensor | None = None) -> torch.Tensor:
    """Mask (w's shape, w's dtype, 1 = keep) that prunes the k smallest |w|, ties by index; the
    entries ``held`` prunes already (mask 0) count first, so a pruned weight stays pruned."""
    score = w.detach().abs().reshape(-1)
    if held is not None:
        score = torch.where(held.reshape(-1) == 0, torch.full_like(score, -1.0), score)
    mask = torch.ones_like(score)
    if k:
        mask[torch.sort(score, stable=True).indices[:k]] = 0.0
    return mask.reshape(w.shape)


class GradualMagnitudePruning:
    """Gradual magnitude pruning during training (Zhu & Gupta 2017, "To prune, or not to prune").

    Every convolution weight (:func:`prunable`) gets a 0/1 mask. At the start of each epoch
    :meth:`update` sets each layer's sparsity to the cubic schedule

        s(e) = s_final * (1 - (1 - (e - e0) / (e1 - e0))**3),  e0 <= e <= e1

    (0 before e0, ``sparsity`` from e1 on; e0, e1 are the fractions ``begin``, ``end`` of the
    epochs), pruning the smallest-magnitude weights of each layer that are not pruned yet. After
    every optimiser step :meth:`apply` multiplies the weights by their masks, so pruned weights stay
    exactly zero (Adam's moments would otherwise move them again). The schedule prunes fast while
    the learning rate is high and there is redundancy, slowly near the end, and the epochs after e1
    fine-tune the survivors.
    """

    def __init__(self, model: nn.Module, sparsity: float, begin: float = 0.1, end: float = 0.6):
        if not 0.0 <= sparsity < 1.0:
            raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
        if not 0.0 <= begin <= end <= 1.0:
            raise ValueError(f"need 0 <= begin <= end <= 1, got begin={begin}, end={end}")
        self.sparsity, self.begin, self.end = float(sparsity), float(begin), float(end)
        self.weights = prunable(model)
        self.masks = {name: torch.ones_like(w) for name, w in self.weights}

    def sparsity_at(self, epoch: int, epochs: int) -> float:
        """The schedule's sparsity for 0-based ``epoch`` of ``epochs``."""
        e0, e1 = round(self.begin * epochs), min(round(self.end * epochs), epochs - 1)
        if epoch >= e1:
            return self.sparsity
        if epoch < e0:
            return 0.0
        return self.sparsity * (1.0 - (1.0 - (epoch - e0) / (e1 - e0)) ** 3)

    @torch.no_grad()
    def update(self, epoch: int, epochs: int) -> float:
        """Prune each layer to the schedule's sparsity for ``epoch`` and apply the masks; returns
        that sparsity."""
        s = self.sparsity_at(epoch, epochs)
        for name, w in self.weights:
            k = int(round(s * w.numel()))
            self.masks[name] = _prune_mask(w, k, held=self.masks[name])
        self.apply()
        return s

    @torch.no_grad()
    def apply(self) -> None:
        """Zero the pruned weights (after every optimiser step)."""
        for name, w in self.weights:
            w.mul_(self.masks[name])

    def state_dict(self) -> dict:
        return {name: m.clone() for name, m in self.masks.items()}

    def load_state_dict(self, state: dict) -> None:
        if set(state) != set(self.masks):
            raise ValueError(
                f"weight masks are for layers {sorted(state)}, this model has {sorted(self.masks)}"
            )
        self.masks = {name: state[name].to(self.masks[name]) for name in self.masks}


@torch.no_grad()
def magnitude_prune(model: nn.Module, sparsity: float) -> dict[str, float]:
    """Zero, in place, the ``sparsity`` fraction of smallest-magnitude weights of every convolution
    (per layer, ties by index), and return each layer's resulting sparsity."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    out = {}
    for name, w in prunable(model):
        w.mul_(_prune_mask(w, int(round(sparsity * w.numel()))))
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
