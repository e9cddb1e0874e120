"""What training minimises, pluggable: the trainer asks its objective for the loss of a batch.

An objective is a small object with a name and parameters (recorded in checkpoints and in the model
cache's key, like the regulariser), optional trainable modules of its own (a trajectory model, say:
the trainer optimises and checkpoints them with the lifting model) and one method::

    loss(net, batch, device) -> (scalar loss tensor, {"name": float, ...} to log)

``batch`` is a :class:`dilpose.batches.Batch` (labelled windows: 2D inputs and 3D targets) or, when
the trainer was given unlabelled sequences, a :class:`dilpose.batches.MixedBatch` holding one
labelled and one 2D-only batch. :class:`Supervised` is the paper's supervised MPJPE objective
(§IV-B); notebook 04 adds the semi-supervised one (2D reprojection and the 1/depth-weighted
trajectory loss of Eq. (1)) as another class here, and nothing in the trainer changes.
"""

from __future__ import annotations

import torch
from torch import nn

from . import metrics


class Objective:
    """Base class. Subclasses set ``name``, implement :meth:`loss` and, if they have any, list their
    parameters in :meth:`params` and their trainable modules in :meth:`modules`."""

    name = "objective"
    #: True when the objective needs an unlabelled (2D-only) stream beside the labelled one.
    needs_unlabelled = False

    def params(self) -> dict:
        """Plain-valued parameters (they go into checkpoints and cache keys)."""
        return {}

    def spec(self) -> dict:
        return {"name": self.name, "params": self.params()}

    def modules(self) -> list[nn.Module]:
        """Trainable modules besides the lifting model (optimised and checkpointed with it)."""
        return []

    def loss(
        self, net: nn.Module, batch, device: torch.device
    ) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


class Supervised(Objective):
    """MPJPE between predicted and true root-relative 3D joints of labelled windows (paper §IV-B).

    Logs ``loss_mm``: the batch's MPJPE in millimetres.
    """

    name = "supervised"

    def loss(self, net, batch, device):
        if batch.targets is None:
            raise ValueError(
                "the supervised objective needs labelled batches (3D targets); got 2D-only windows"
            )
        x = torch.from_numpy(batch.inputs).to(device, non_blocking=True)
        y = torch.from_numpy(batch.targets).to(device, non_blocking=True)
        # .float(): under bf16 autocast the network's output is bf16; the loss is taken in fp32.
        loss = metrics.mpjpe(net(x).float(), y)
        return loss, {"loss_mm": 1000.0 * float(loss.detach())}


def from_spec(spec: dict) -> Objective:
    """The objective a checkpoint or cache key names (only built-in objectives without modules)."""
    known = {cls.name: cls for cls in (Supervised,)}
    if not isinstance(spec, dict) or spec.get("name") not in known:
        raise ValueError(f"unknown objective {spec!r}; known: {sorted(known)}")
    return known[spec["name"]](**spec.get("params", {}))
