"""Supervised training of the temporal model: the :class:`Trainer` and its training step.

Training follows the paper (§IV-B) and VideoPose3D: Adam with amsgrad, lr 1e-3 multiplied by 0.95
after every epoch, BatchNorm momentum decayed exponentially from 0.1 to 0.001 over the run,
horizontal-flip augmentation, MPJPE loss on root-relative 3D joints. The strided model trains on
random windows; the whole-sequence (dilated) model shares its weights and evaluates.

This module holds what decides the trained weights and nothing else, because the model cache's key
hashes its code (:mod:`dilpose.cache`): progress display is :mod:`dilpose.callbacks`', checkpoint
reading and writing :mod:`dilpose.checkpoints`', evaluation :mod:`dilpose.evaluate`'s, devices
:mod:`dilpose.devices`'. A checkpoint is written atomically after every epoch; ``fit(resume=True)``
continues from it and ends with the same weights as an uninterrupted run.

Precision (``Config.precision``) is resolved once, here, for the trainer's device
(:attr:`Trainer.precision`): the training step, checkpoints, the model cache's key and evaluation
read it from the trainer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence as Seq
from pathlib import Path

import torch
from torch import nn

from . import batches as B
from . import objectives, precision, pruning
from . import skeleton as sk
from .callbacks import Callback, EpochLog, History, TqdmProgress, as_callback
from .checkpoints import restore_trainer, trainer_state
from .config import Config
from .datasets.base import Sequence
from .devices import distributed_context, resolve_device
from .errors import DataError
from .evaluate import evaluate
from .fileio import check_writable, remove_stale_temporaries, save_torch
from .model import TemporalModel, TemporalModelStrided, set_bn_momentum


def bn_momentum(epoch: int, epochs: int, start: float, end: float) -> float:
    """Exponential decay from ``start`` (first epoch) to ``end`` (last epoch)."""
    if epochs <= 1:
        return start
    return start * math.exp(epoch / (epochs - 1) * math.log(end / start))


def train_step(
    net: nn.Module,
    objective: objectives.Objective,
    optimizer: torch.optim.Optimizer,
    batch,
    device: torch.device,
    precision_: str,
    weight_pruning: pruning.GradualMagnitudePruning | None = None,
) -> tuple[torch.Tensor, dict]:
    """One optimisation step on ``batch`` (a :class:`~dilpose.batches.Batch` or
    :class:`~dilpose.batches.MixedBatch`): ``(loss, logs)``. :meth:`Trainer.train_step` is this
    with the trainer's parts; :mod:`dilpose.bench` times it.

    precision_: resolved, ``fp32`` or ``bf16``. Mixed precision: the convolutions run in bf16 under
    autocast; weights, optimiser state, BatchNorm statistics and the loss stay fp32.
    """
    with precision.autocast(precision_, device):
        loss, logs = objective.loss(net, batch, device)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if weight_pruning is not None:
        weight_pruning.apply()  # pruned weights stay zero
    return loss, logs


class Trainer:
    """Trains a :class:`TemporalModelStrided` on windows; evaluates through :class:`TemporalModel`.

    Args:
        cfg: the run configuration (architecture and regulariser, schedule, augmentation, seed).
            The model takes it as it is, with ``in_joints`` set from ``layout_2d``.
        train: labelled training sequences. val: optional sequences evaluated (MPJPE) after each
            epoch.
        layout_2d: input joint layout (left/right swaps in flip augmentation; recorded in
            checkpoints).
        checkpoint: path of the checkpoint written after every epoch (None: no checkpoints).
        objective: what a step minimises (:mod:`dilpose.objectives`); supervised MPJPE by default.
        unlabelled: 2D-only sequences (``positions_3d`` may be None); each step then gets a
            :class:`~dilpose.batches.MixedBatch` of a labelled and an unlabelled batch.
        callbacks: :class:`~dilpose.callbacks.Callback` objects, or functions
            ``cb(trainer, epoch_log)`` called after every epoch.
        progress: add a :class:`~dilpose.callbacks.TqdmProgress` bar (rank 0 only); notebooks pass
            ``False`` and a :class:`~dilpose.callbacks.LineProgress` instead.
        allow_config_change: let ``fit(resume=True)`` continue a checkpoint whose run configuration
            differs from ``cfg`` (the checkpoint then records ``cfg``).
    """

    def __init__(
        self,
        cfg: Config,
        train: Seq[Sequence],
        val: Seq[Sequence] | None = None,
        layout_2d: sk.Skeleton = sk.COCO17,
        checkpoint: str | Path | None = None,
        objective: objectives.Objective | None = None,
        unlabelled: Seq[Sequence] | None = None,
        callbacks: Seq = (),
        progress: bool = True,
        allow_config_change: bool = False,
    ):
        # The model reads the data's 2D layout: its joint count is the data's, not a setting.
        if cfg.in_joints != layout_2d.num_joints:
            cfg = cfg.replace(in_joints=layout_2d.num_joints)
        self.cfg, self.val, self.layout_2d = cfg, val, layout_2d
        self.allow_config_change = allow_config_change
        self.objective = objective if objective is not None else objectives.Supervised()
        self.rank, self.world_size = distributed_context()
        self.checkpoint: Path | None = None
        self.set_checkpoint(checkpoint)
        self.callbacks: list[Callback] = [as_callback(cb) for cb in callbacks]
        if progress and self.rank == 0:
            self.callbacks.insert(0, TqdmProgress())
        self.device = resolve_device(cfg.device)
        # "auto" decided once, here, for this device; the step, checkpoints, the model cache's key
        # and evaluation read it from here.
        self.precision = precision.resolve(cfg.precision, self.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self._build_model()
        self._build_batches(train, unlabelled)
        self.epoch = 0
        self.history = History()

    def _build_model(self) -> None:
        """Models, optimiser and weight pruning; the same initial weights on every rank."""
        cfg = self.cfg
        torch.manual_seed(cfg.seed)  # drawn on the CPU, then moved
        self.model = TemporalModelStrided(cfg).to(self.device)
        self.eval_model = TemporalModel(cfg).to(self.device)
        for module in self.objective.modules():
            module.to(self.device)
        self.net: nn.Module = self.model
        if self.world_size > 1:
            self.net = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device] if self.device.type == "cuda" else None
            )
        params = list(self.model.parameters()) + [
            p for m in self.objective.modules() for p in m.parameters()
        ]
        self.optimizer = torch.optim.Adam(params, lr=cfg.lr, amsgrad=True)
        self.weight_pruning = (
            pruning.GradualMagnitudePruning(self.model, cfg.weight_sparsity)
            if cfg.weight_sparsity
            else None
        )

    def _build_batches(self, train: Seq[Sequence], unlabelled: Seq[Sequence] | None) -> None:
        cfg = self.cfg
        stream = dict(
            batch_size=cfg.batch_size,
            receptive_field=cfg.receptive_field(),
            causal=cfg.causal,
            augment=cfg.flip_augment,
            seed=cfg.seed,
            layout_2d=self.layout_2d,
            rank=self.rank,
            world_size=self.world_size,
            subsample=cfg.stride_subsample,
        )
        self.batches = B.WindowBatches(train, **stream, min_context=cfg.min_context)
        if unlabelled:
            # Its own shuffle seed, so the two streams do not draw the same order.
            self.batches = B.MixedBatches(
                self.batches,
                B.WindowBatches(
                    unlabelled,
                    **{**stream, "seed": cfg.seed + 7919},
                    labelled=False,
                    scores=self.objective.needs_scores,
                ),
            )
        elif self.objective.needs_unlabelled:
            raise DataError(
                "Trainer", f"objective {self.objective.name!r} needs unlabelled sequences"
            )
        self.objective.check_data(train, unlabelled, self.layout_2d)

    # -- checkpointing (the format is dilpose.checkpoints') ----------------------------------------
    def set_checkpoint(self, path: str | Path | None) -> None:
        """Write checkpoints to ``path`` from now on (None: none)."""
        self.checkpoint = Path(path) if path is not None else None
        if self.checkpoint is not None and self.rank == 0:
            # Fail now, not after the first epoch's minutes of training; and drop the temporary file
            # of a run that was killed while writing this checkpoint.
            check_writable(self.checkpoint)
            remove_stale_temporaries(self.checkpoint)

    def state(self) -> dict:
        return trainer_state(self)

    def save(self, path: str | Path | None = None) -> Path | None:
        path = Path(path) if path is not None else self.checkpoint
        if path is None or self.rank != 0:
            return None
        return save_torch(path, self.state())

    def restore(self, path: str | Path) -> None:
        """Continue from a checkpoint of the same run.

        Refuses (:class:`DataError`) a checkpoint of another architecture or input layout, and one
        whose run configuration differs (listing the fields) unless ``allow_config_change`` was
        given: a resumed run that silently changed its seed or batch size would no longer be the run
        its checkpoint names.
        """
        restore_trainer(self, path)

    # -- the loop --------------------------------------------------------------------------------
    def train_step(self, batch) -> tuple[torch.Tensor, dict]:
        """One optimisation step on ``batch`` (:func:`train_step` with this trainer's parts)."""
        return train_step(
            self.net,
            self.objective,
            self.optimizer,
            batch,
            self.device,
            self.precision,
            self.weight_pruning,
        )

    def _start_epoch(self, epochs: int) -> tuple[float, float]:
        """Set this epoch's learning rate, BatchNorm momentum and pruning; ``(lr, momentum)``."""
        lr = self.cfg.lr * self.cfg.lr_decay**self.epoch
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        momentum = bn_momentum(self.epoch, epochs, *self.cfg.bn_momentum)
        set_bn_momentum(self.model, momentum)
        if self.weight_pruning is not None:
            self.weight_pruning.update(self.epoch, epochs)
        self.model.train()
        for module in self.objective.modules():
            # the objective's own networks (the trajectory model) follow the same BatchNorm
            # schedule, as VideoPose3D decays both models' momentum
            set_bn_momentum(module, momentum)
            module.train()
        self.objective.start_epoch(self.epoch)
        return lr, momentum

    def _run_epoch(self, epochs: int) -> EpochLog:
        """Train one epoch; its log (the mean loss over its windows, mm)."""
        lr, momentum = self._start_epoch(epochs)
        for cb in self.callbacks:
            cb.on_epoch_start(self, self.epoch, self.batches.num_batches(self.epoch))
        start = time.perf_counter()
        total, count = 0.0, 0
        for batch in self.batches.epoch(self.epoch):
            loss, logs = self.train_step(batch)
            size = len((batch.labelled if isinstance(batch, B.MixedBatch) else batch).inputs)
            total += logs.get("loss_mm", 1000.0 * float(loss.detach())) * size
            count += size
            for cb in self.callbacks:
                cb.on_batch_end(self, logs)
        return EpochLog(
            self.epoch + 1, total / max(count, 1), lr, momentum, time.perf_counter() - start
        )

    def fit(
        self, epochs: int | None = None, resume: bool = False, stop_after: int | None = None
    ) -> History:
        """Train until ``epochs`` (default ``cfg.epochs``) epochs are done.

        resume: continue from ``self.checkpoint`` when it exists. stop_after: return after this many
        epochs of this call (to simulate an interruption in tests).
        """
        epochs = self.cfg.epochs if epochs is None else epochs
        if resume and self.checkpoint is not None and self.checkpoint.is_file():
            self.restore(self.checkpoint)
        for cb in self.callbacks:
            cb.on_train_start(self, epochs)
        done_here = 0
        while self.epoch < epochs and (stop_after is None or done_here < stop_after):
            log = self._run_epoch(epochs)
            self.epoch += 1
            if self.val is not None and self.rank == 0:
                log.val_mpjpe_mm = evaluate(
                    self.eval_network(), self.val, self.cfg, self.layout_2d, flip_test=False
                )["mpjpe"]["frame_mean"]
            self.history.epochs.append(log)
            self.save()
            for cb in self.callbacks:
                cb.on_epoch_end(self, log)
            done_here += 1
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def eval_network(self) -> TemporalModel:
        """The whole-sequence model with the current weights, in eval mode; it carries the training
        precision (``.precision``), which evaluation uses."""
        self.eval_model.load_state_dict(self.model.state_dict())
        self.eval_model.precision = self.precision
        return self.eval_model.eval()
