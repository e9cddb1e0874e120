"""Supervised training and evaluation of the temporal model.

Training follows the paper (§IV-B) and VideoPose3D: Adam with amsgrad, lr 1e-3 multiplied by 0.95
after every epoch, BatchNorm momentum decayed exponentially from 0.1 to 0.001 over the run,
horizontal-flip augmentation, MPJPE loss on root-relative 3D joints. The strided model trains on
random windows; the whole-sequence (dilated) model shares its weights and evaluates.

A checkpoint is written atomically after every epoch: model, optimiser, epoch, RNG state and
history. ``fit(resume=True)`` continues from it and ends with the same weights as an
uninterrupted run. Checkpoints are read with ``torch.load(weights_only=True)``, so a file from
elsewhere cannot run code.

Training runs on the GPU when torch sees one (``Config.device = "auto"``), else on the CPU. Under
``torchrun`` (DistributedDataParallel; gloo on CPU, nccl on GPU, one GPU per process) the same code
shards every epoch's batches across processes; rank 0 writes checkpoints and shows the progress bar.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence as Seq

import numpy as np
import torch
from torch import nn

from . import batches as B
from . import metrics
from . import skeleton as sk
from .config import Config
from .dataset import Sequence
from .errors import DataError
from .fileio import save_torch
from .model import ModelConfig, TemporalModel, TemporalModelStrided, set_bn_momentum


def model_config(cfg: Config, in_joints: int = 17) -> ModelConfig:
    """The architecture a run :class:`Config` asks for."""
    return ModelConfig(in_joints=in_joints, filter_widths=cfg.filter_widths, channels=cfg.channels,
                       causal=cfg.causal, dropout=cfg.dropout)


def bn_momentum(epoch: int, epochs: int, start: float, end: float) -> float:
    """Exponential decay from ``start`` (first epoch) to ``end`` (last epoch)."""
    if epochs <= 1:
        return start
    return start * math.exp(epoch / (epochs - 1) * math.log(end / start))


# ---------------------------------------------------------------------------------------------------
# Distributed helpers
# ---------------------------------------------------------------------------------------------------
def distributed_context() -> tuple[int, int]:
    """(rank, world_size); initialises the process group when started by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":  # one GPU per process, chosen before NCCL binds a communicator to it
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        torch.distributed.init_process_group(backend=backend)
    if torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` -> ``cuda:<LOCAL_RANK>`` when a GPU is visible, else ``cpu``; other names as given."""
    if name == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    else:
        device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} requested but torch sees no GPU")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {device} requested but torch sees {torch.cuda.device_count()} GPU(s) "
                             "(under torchrun: one process per GPU, or CUDA_VISIBLE_DEVICES= for CPU processes)")
    return device


def weights_checksum(model: nn.Module) -> float:
    """A float summary of all parameters (to check that DDP ranks hold the same weights)."""
    return float(sum(p.detach().double().sum() * (i + 1) for i, p in enumerate(model.parameters())))


# ---------------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------------
def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint with ``weights_only=True`` (tensors and plain containers only)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling errors differ by cause; all mean "not a safe checkpoint"
        raise DataError(path, f"not a readable dilpose checkpoint (or it contains code): {e}") from e
    for key in ("model", "model_config", "epoch"):
        if not isinstance(ckpt, dict) or key not in ckpt:
            raise DataError(path, f"checkpoint is missing {key!r}")
    return ckpt


def model_from_checkpoint(path: str | Path, strided: bool = False) -> nn.Module:
    """Build the model a checkpoint was trained with and load its weights (eval mode)."""
    ckpt = load_checkpoint(path)
    mcfg = ModelConfig(**ckpt["model_config"])
    model = (TemporalModelStrided if strided else TemporalModel)(mcfg)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise DataError(path, f"weights do not fit the recorded architecture: {e}") from e
    return model.eval()


# ---------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------
@dataclass
class EpochLog:
    epoch: int
    loss_mm: float          # mean training MPJPE of the epoch (flip-augmented windows), mm
    lr: float
    bn_momentum: float
    seconds: float
    val_mpjpe_mm: float | None = None


@dataclass
class History:
    epochs: list[EpochLog] = field(default_factory=list)

    def to_dict(self) -> list[dict]:
        return [dataclasses.asdict(e) for e in self.epochs]


class Trainer:
    """Trains a :class:`TemporalModelStrided` on windows; evaluates through :class:`TemporalModel`.

    Args:
        cfg: the run configuration (architecture, schedule, augmentation, seed).
        train: training sequences. val: optional sequences evaluated (MPJPE) after each epoch.
        layout_2d: input joint layout (left/right swaps in flip augmentation).
        regularizer: factory ``channels -> nn.Module`` for the model's regulariser slots.
        checkpoint: path of the checkpoint written after every epoch (None: no checkpoints).
        callbacks: called as ``cb(trainer, epoch_log)`` after every epoch (e.g. notebook plots).
        progress: show a tqdm bar (rank 0 only).
    """

    def __init__(self, cfg: Config, train: Seq[Sequence], val: Seq[Sequence] | None = None,
                 layout_2d: sk.Skeleton = sk.COCO17, regularizer: Callable[[int], nn.Module] | None = None,
                 checkpoint: str | Path | None = None, callbacks: Seq[Callable] = (), progress: bool = True):
        self.cfg, self.val, self.layout_2d = cfg, val, layout_2d
        self.rank, self.world_size = distributed_context()
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.callbacks, self.progress = list(callbacks), progress and self.rank == 0
        self.device = resolve_device(cfg.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        torch.manual_seed(cfg.seed)  # same initial weights on every rank (drawn on the CPU, then moved)
        self.model_cfg = model_config(cfg, in_joints=layout_2d.num_joints)
        self.model = TemporalModelStrided(self.model_cfg, regularizer).to(self.device)
        self.eval_model = TemporalModel(self.model_cfg, regularizer).to(self.device)
        self.net: nn.Module = self.model
        if self.world_size > 1:
            self.net = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device] if self.device.type == "cuda" else None)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, amsgrad=True)
        self.batches = B.WindowBatches(train, cfg.batch_size, cfg.receptive_field, causal=cfg.causal,
                                       augment=cfg.flip_augment, seed=cfg.seed, layout_2d=layout_2d,
                                       rank=self.rank, world_size=self.world_size,
                                       subsample=cfg.stride_subsample)
        self.epoch = 0
        self.history = History()

    # -- checkpointing ---------------------------------------------------------------------------
    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "epoch": self.epoch, "model_config": dataclasses.asdict(self.model_cfg),
                "config": _plain(self.cfg.to_dict()), "history": self.history.to_dict(),
                "torch_rng": torch.get_rng_state(),
                # dropout on a GPU draws from the GPU's generator; resuming must restore it too
                **({"cuda_rng": torch.cuda.get_rng_state(self.device)} if self.device.type == "cuda" else {})}

    def save(self, path: str | Path | None = None) -> Path | None:
        path = Path(path) if path is not None else self.checkpoint
        if path is None or self.rank != 0:
            return None
        return save_torch(path, self.state())

    def restore(self, path: str | Path) -> None:
        ckpt = load_checkpoint(path)
        if ckpt["model_config"] != dataclasses.asdict(self.model_cfg):
            raise DataError(path, f"checkpoint architecture {ckpt['model_config']} differs from this run's "
                                  f"{dataclasses.asdict(self.model_cfg)}")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.epoch = int(ckpt["epoch"])
        self.history = History([EpochLog(**e) for e in ckpt.get("history", [])])
        torch.set_rng_state(ckpt["torch_rng"])
        if self.device.type == "cuda" and "cuda_rng" in ckpt:
            torch.cuda.set_rng_state(ckpt["cuda_rng"], self.device)

    # -- the loop --------------------------------------------------------------------------------
    def fit(self, epochs: int | None = None, resume: bool = False, stop_after: int | None = None) -> History:
        """Train until ``epochs`` (default ``cfg.epochs``) epochs are done.

        resume: continue from ``self.checkpoint`` when it exists. stop_after: return after this many
        epochs of this call (to simulate an interruption in tests).
        """
        from tqdm.auto import tqdm

        epochs = self.cfg.epochs if epochs is None else epochs
        if resume and self.checkpoint is not None and self.checkpoint.is_file():
            self.restore(self.checkpoint)
        done_here = 0
        while self.epoch < epochs and (stop_after is None or done_here < stop_after):
            lr = self.cfg.lr * self.cfg.lr_decay ** self.epoch
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            momentum = bn_momentum(self.epoch, epochs, *self.cfg.bn_momentum)
            set_bn_momentum(self.model, momentum)
            self.model.train()
            start = time.perf_counter()
            total, count = 0.0, 0
            bar = tqdm(self.batches.epoch(self.epoch), total=self.batches.num_batches(self.epoch),
                       desc=f"epoch {self.epoch + 1}/{epochs}", disable=not self.progress, leave=False)
            for batch in bar:
                x = torch.from_numpy(batch.inputs).to(self.device, non_blocking=True)
                y = torch.from_numpy(batch.targets).to(self.device, non_blocking=True)
                pred = self.net(x)
                loss = metrics.mpjpe(pred, y)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                total += float(loss.detach()) * len(x)
                count += len(x)
                bar.set_postfix(loss_mm=f"{1000 * total / count:.1f}", lr=f"{lr:.2e}")
            log = EpochLog(self.epoch + 1, 1000 * total / max(count, 1), lr, momentum, time.perf_counter() - start)
            self.epoch += 1
            if self.val is not None and self.rank == 0:
                log.val_mpjpe_mm = evaluate(self.eval_network(), self.val, self.cfg, self.layout_2d,
                                            flip_test=False)["mpjpe"]["frame_mean"]
            self.history.epochs.append(log)
            self.save()
            for cb in self.callbacks:
                cb(self, log)
            done_here += 1
        return self.history

    def eval_network(self) -> TemporalModel:
        """The whole-sequence model with the current weights, in eval mode."""
        self.eval_model.load_state_dict(self.model.state_dict())
        return self.eval_model.eval()


def _plain(obj):
    """Config dicts contain tuples and dataclasses; weights_only checkpoints want plain containers."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


# ---------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------
@torch.inference_mode()
def predict(model: TemporalModel, seq: Sequence, causal: bool, flip_test: bool,
            layout_2d: sk.Skeleton = sk.COCO17) -> np.ndarray:
    """Root-relative 3D prediction (T, 17, 3) metres for a whole sequence (root joint zeroed)."""
    model.eval()
    (_, x), = B.whole_sequences([seq], model.receptive_field(), causal=causal, flip_test=flip_test,
                                layout_2d=layout_2d)
    device = next(model.parameters()).device
    pred = model(torch.from_numpy(x).to(device)).cpu().numpy()
    pred = B.merge_flipped(pred) if flip_test else pred[0]
    return pred - pred[:, :1]


def evaluate(model: TemporalModel, seqs: Seq[Sequence], cfg: Config, layout_2d: sk.Skeleton = sk.COCO17,
             flip_test: bool | None = None, h36m_actions: bool = False, keep_predictions: bool = False) -> dict:
    """All four metrics (mm), per action and averaged both ways, for a whole-sequence model.

    Actions are the part of the action name before the first space (``walk`` for ``walk 16_15``,
    ``Walking`` for ``Walking 1``).
    """
    flip_test = cfg.flip_test if flip_test is None else flip_test
    results, per_sequence = [], []
    for seq in seqs:
        pred = predict(model, seq, model.cfg.causal, flip_test, layout_2d)
        target, _ = B.split_root(seq.positions_3d.astype(np.float64))
        results.append({"subject": seq.subject, "action": seq.category, "pred": pred, "target": target})
        per_sequence.append({"subject": seq.subject, "action": seq.action, "camera": seq.camera, "frames": len(seq),
                             "mpjpe_mm": 1000 * float(metrics.mpjpe(pred, target))})
    out = metrics.evaluate(results, flip_test=flip_test,
                           action_of=metrics.h36m_action_base if h36m_actions else None)
    # Per clip and camera: shows how the error depends on the clip (and its length).
    out["per_sequence"] = per_sequence
    if keep_predictions:
        out["predictions"] = results
    return out
