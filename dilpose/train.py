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
import sys
import time
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import batches as B
from . import metrics, objectives, precision, pruning, regularizers
from . import skeleton as sk
from .config import NOT_TRAINING_FIELDS, Config
from .datasets.base import Sequence
from .errors import DataError
from .fileio import check_writable, remove_stale_temporaries, save_torch, write_json
from .model import ModelConfig, TemporalModel, TemporalModelStrided, set_bn_momentum


def model_config(cfg: Config, in_joints: int = 17) -> ModelConfig:
    """The architecture a run :class:`Config` asks for."""
    return ModelConfig(
        in_joints=in_joints,
        filter_widths=cfg.filter_widths,
        channels=cfg.channels,
        causal=cfg.causal,
        regularizer=cfg.regularizer,
    )


def bn_momentum(epoch: int, epochs: int, start: float, end: float) -> float:
    """Exponential decay from ``start`` (first epoch) to ``end`` (last epoch)."""
    if epochs <= 1:
        return start
    return start * math.exp(epoch / (epochs - 1) * math.log(end / start))


# --------------------------------------------------------------------------------------------------
# Distributed helpers
# --------------------------------------------------------------------------------------------------
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
    """``"auto"`` -> ``cuda:<LOCAL_RANK>`` when a GPU is visible, else ``cpu``; other names as
    given."""
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
            raise ValueError(
                f"device {device} requested but torch sees {torch.cuda.device_count()} GPU(s) "
                "(under torchrun: one process per GPU, or CUDA_VISIBLE_DEVICES= for CPU processes)"
            )
    return device


def weights_checksum(model: nn.Module) -> float:
    """A float summary of all parameters (to check that DDP ranks hold the same weights)."""
    return float(sum(p.detach().double().sum() * (i + 1) for i, p in enumerate(model.parameters())))


# --------------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------------
#: How 2D keypoints are normalised before they reach the model, recorded in every checkpoint so
#: that a model is never fed input prepared another way. ``screen``: pixels divided by the image
#: width, ``x / w * 2 - 1`` and ``y / w * 2 - h / w`` (VideoPose3D's normalize_screen_coordinates).
NORMALIZATION = "screen"
#: The image-size convention that goes with it: each video's own width and height, in pixels.
IMAGE_SIZE = "per-video width and height in pixels"


def input_spec(layout_2d: sk.Skeleton) -> dict:
    """What a model reads, as stored in a checkpoint: layout, joint names, values, normalisation."""
    return {
        "layout": layout_2d.name,
        "joint_names": list(layout_2d.joint_names),
        "features": ["x", "y"],
        "normalization": NORMALIZATION,
        "image_size": IMAGE_SIZE,
    }


def check_input(spec: dict, layout_2d: sk.Skeleton, source, what: str = "the input") -> None:
    """Raise :class:`DataError` unless 2D keypoints in ``layout_2d`` are what ``spec`` says the
    model reads."""
    if spec["layout"] != layout_2d.name or list(spec["joint_names"]) != list(layout_2d.joint_names):
        raise DataError(
            source,
            f"the model reads {spec['layout']} keypoints ({', '.join(spec['joint_names'])}) "
            f"but {what} is {layout_2d.name} ({', '.join(layout_2d.joint_names)})",
        )


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint with ``weights_only=True`` (tensors and plain containers only) and check
    it.

    The checkpoint must record the architecture (``model_config``, every value of the right type)
    and the input it was trained on (``input``: layout, joint names, normalisation); anything
    missing, unknown or mistyped is a :class:`DataError` naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "checkpoint not found")
    if path.is_dir():
        raise DataError(path, "is a directory, not a checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling errors differ by cause; all mean "not a safe checkpoint"
        raise DataError(
            path, f"not a readable dilpose checkpoint (or it contains code): {e}"
        ) from e
    if not isinstance(ckpt, dict):
        raise DataError(
            path, f"not a dilpose checkpoint: it holds {type(ckpt).__name__}, not a dict"
        )
    for key in ("model", "model_config", "epoch", "input"):
        if key not in ckpt:
            hint = (
                " (written by a dilpose older than the input record; retrain it)"
                if key == "input"
                else ""
            )
            raise DataError(path, f"checkpoint is missing {key!r}{hint}")
    ckpt["model_config"] = _model_config_from(path, ckpt["model_config"])
    ckpt["input"] = _input_spec_from(path, ckpt["input"], ckpt["model_config"])
    if isinstance(ckpt["epoch"], bool) or not isinstance(ckpt["epoch"], int) or ckpt["epoch"] < 0:
        raise DataError(
            path, f"checkpoint 'epoch' should be a non-negative integer, got {ckpt['epoch']!r}"
        )
    if not isinstance(ckpt["model"], dict) or not all(
        isinstance(v, torch.Tensor) for v in ckpt["model"].values()
    ):
        raise DataError(path, "checkpoint 'model' should be a state dict of tensors")
    return ckpt


def _model_config_from(path: Path, d) -> ModelConfig:
    """A :class:`ModelConfig` from a checkpoint's dict, refusing unknown keys and wrong types."""
    if not isinstance(d, dict):
        raise DataError(path, f"checkpoint 'model_config' should be a dict, got {type(d).__name__}")
    fields = {f.name: f for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(map(str, set(d) - set(fields)))
    if unknown:
        raise DataError(
            path, f"checkpoint 'model_config' has unknown key(s) {unknown}; known: {sorted(fields)}"
        )

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    checks = {
        "in_joints": is_int,
        "in_features": is_int,
        "out_joints": is_int,
        "channels": is_int,
        "filter_widths": lambda v: isinstance(v, (list, tuple)) and all(is_int(w) for w in v),
        "causal": lambda v: isinstance(v, bool),
        "regularizer": lambda v: isinstance(v, (dict, str)),
    }
    for key, value in d.items():
        if not checks[key](value):
            raise DataError(path, f"checkpoint 'model_config.{key}' has the wrong type: {value!r}")
    try:
        mcfg = ModelConfig(**d)
        regularizers.validate(mcfg.regularizer)  # an unknown name or parameter fails here, by name
    except (TypeError, ValueError) as e:  # ConfigError is a ValueError
        raise DataError(
            path, f"checkpoint 'model_config' is not a valid architecture: {e}"
        ) from None
    return mcfg


def _input_spec_from(path: Path, spec, mcfg: ModelConfig) -> dict:
    """Check a checkpoint's ``input`` record: a known layout whose joints the model reads."""
    if not isinstance(spec, dict) or not {"layout", "joint_names", "normalization"} <= set(spec):
        raise DataError(
            path, "checkpoint 'input' should record 'layout', 'joint_names' and 'normalization'"
        )
    try:
        layout = sk.get(spec["layout"])
    except DataError as e:
        raise DataError(path, f"checkpoint 'input': {e.problem}") from None
    if not isinstance(spec["joint_names"], (list, tuple)) or list(spec["joint_names"]) != list(
        layout.joint_names
    ):
        raise DataError(
            path,
            f"checkpoint 'input' joint names {spec['joint_names']} are not those of "
            f"{layout.name} {list(layout.joint_names)}",
        )
    if spec["normalization"] != NORMALIZATION:
        raise DataError(
            path,
            f"checkpoint 'input' normalisation {spec['normalization']!r} is not one this "
            f"version implements ({NORMALIZATION!r})",
        )
    if layout.num_joints != mcfg.in_joints:
        raise DataError(
            path,
            f"checkpoint 'input' layout {layout.name} has {layout.num_joints} joints but the "
            f"model reads {mcfg.in_joints}",
        )
    return {**input_spec(layout), **spec}


def model_from_checkpoint(path: str | Path, strided: bool = False) -> nn.Module:
    """Build the model a checkpoint was trained with and load its weights (eval mode).

    The model carries the checkpoint's input record as ``model.input_spec`` (see
    :func:`input_spec`); :func:`evaluate` and :mod:`dilpose.lift` refuse 2D input of another layout.
    """
    ckpt = load_checkpoint(path)
    mcfg = ckpt["model_config"]
    cls = TemporalModelStrided if strided else TemporalModel
    # Compare the weights with the architecture on the meta device (shapes only, no memory) before
    # building it: a forged model_config (channels=10**9) must not allocate what the file does not
    # hold.
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in cls(mcfg).state_dict().items()}
    except (
        RuntimeError,
        ValueError,
        OverflowError,
        MemoryError,
    ) as e:  # sizes beyond any real model
        raise DataError(
            path, f"checkpoint 'model_config' describes no buildable model: {e}"
        ) from None
    given = {k: tuple(v.shape) for k, v in ckpt["model"].items()}
    if expected != given:
        missing, extra = sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
        wrong = sorted(k for k in set(expected) & set(given) if expected[k] != given[k])
        detail = "; ".join(
            f"{name}: {keys[:3]}{' ...' if len(keys) > 3 else ''}"
            for name, keys in (("missing", missing), ("unexpected", extra), ("other shape", wrong))
            if keys
        )
        raise DataError(path, f"weights do not fit the recorded architecture ({detail})")
    model = cls(mcfg)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise DataError(path, f"weights do not fit the recorded architecture: {e}") from e
    model.input_spec, model.checkpoint_path = ckpt["input"], Path(path)
    return model.eval()


# --------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------
@dataclass
class EpochLog:
    epoch: int
    loss_mm: (
        float  # mean training loss of the epoch (supervised: MPJPE of flip-augmented windows), mm
    )
    lr: float
    bn_momentum: float
    seconds: float
    val_mpjpe_mm: float | None = None


@dataclass
class History:
    epochs: list[EpochLog] = field(default_factory=list)

    def to_dict(self) -> list[dict]:
        return [dataclasses.asdict(e) for e in self.epochs]


class Callback:
    """Hooks the trainer calls; override the ones you need. Progress display goes through these
    (a tqdm bar for the command line, one compact line per run in notebooks), so the training loop
    itself prints nothing."""

    def on_train_start(self, trainer: Trainer, epochs: int) -> None: ...
    def on_epoch_start(self, trainer: Trainer, epoch: int, num_batches: int) -> None: ...
    def on_batch_end(self, trainer: Trainer, logs: dict[str, float]) -> None: ...
    def on_epoch_end(self, trainer: Trainer, log: EpochLog) -> None: ...
    def on_train_end(self, trainer: Trainer) -> None: ...


class _EpochFunction(Callback):
    """A plain function ``cb(trainer, epoch_log)`` called after every epoch."""

    def __init__(self, fn):
        self.fn = fn

    def on_epoch_end(self, trainer, log):
        self.fn(trainer, log)


class TqdmProgress(Callback):
    """A tqdm bar per epoch with the running loss and the learning rate (the command line's
    display)."""

    def on_train_start(self, trainer, epochs):
        self.epochs = epochs

    def on_epoch_start(self, trainer, epoch, num_batches):
        from tqdm import tqdm

        self.bar = tqdm(total=num_batches, desc=f"epoch {epoch + 1}/{self.epochs}", leave=False)
        self.total, self.count = 0.0, 0

    def on_batch_end(self, trainer, logs):
        self.bar.update(1)
        if "loss_mm" in logs:
            self.total, self.count = self.total + logs["loss_mm"], self.count + 1
            self.bar.set_postfix(loss_mm=f"{self.total / self.count:.1f}", refresh=False)

    def on_epoch_end(self, trainer, log):
        self.bar.close()


def console_write(text: str) -> None:
    """Write ``text`` to the terminal the process was started from, bypassing a Jupyter kernel's
    capture: ipykernel redirects file descriptor 2 into the notebook and keeps the original as
    ``sys.stderr._original_stdstream_copy``; outside a kernel this is plain stderr."""
    fd = getattr(sys.stderr, "_original_stdstream_copy", None)
    if not isinstance(fd, int):
        stream = sys.__stderr__
        if stream is None:
            return
        stream.write(text)
        stream.flush()
        return
    try:
        os.write(fd, text.encode())
    except OSError:
        pass  # the terminal is gone: progress is not worth an error


class LineProgress(Callback):
    """Progress for notebooks: nothing in the notebook while training, one line when it ends.

    While a model trains, a line per epoch (name, epoch, loss, time left) goes to the console the
    notebook's kernel was started from (the terminal of ``make paper``, or JupyterLab's log), not
    to the notebook, which keeps one compact line per run and no widgets (:func:`console_write`).
    """

    def __init__(self, name: str, console: bool = True):
        self.name, self.console = name, console

    def on_train_start(self, trainer, epochs):
        self.epochs, self.start, self.first = epochs, time.perf_counter(), trainer.epoch

    def on_epoch_end(self, trainer, log):
        if not self.console:
            return
        done = trainer.epoch - self.first
        elapsed = time.perf_counter() - self.start
        left = elapsed / max(done, 1) * (self.epochs - trainer.epoch)
        console_write(
            f"[dilpose]   {self.name}: epoch {trainer.epoch}/{self.epochs}, "
            f"loss {log.loss_mm:.1f} mm, {elapsed:.0f} s, about {left:.0f} s left\n"
        )

    def on_train_end(self, trainer):
        h = trainer.history.epochs
        if h:
            print(
                f"{self.name}: trained {len(h)} epochs in {sum(e.seconds for e in h):.0f} s, "
                f"final training loss {h[-1].loss_mm:.1f} mm"
            )


class Trainer:
    """Trains a :class:`TemporalModelStrided` on windows; evaluates through :class:`TemporalModel`.

    Args:
        cfg: the run configuration (architecture and regulariser, schedule, augmentation, seed).
        train: labelled training sequences. val: optional sequences evaluated (MPJPE) after each
            epoch.
        layout_2d: input joint layout (left/right swaps in flip augmentation; recorded in
            checkpoints).
        checkpoint: path of the checkpoint written after every epoch (None: no checkpoints).
        objective: what a step minimises (:mod:`dilpose.objectives`); supervised MPJPE by default.
        unlabelled: 2D-only sequences (``positions_3d`` may be None); each step then gets a
            :class:`~dilpose.batches.MixedBatch` of a labelled and an unlabelled batch.
        callbacks: :class:`Callback` objects, or functions ``cb(trainer, epoch_log)`` called after
            every epoch.
        progress: add a :class:`TqdmProgress` bar (rank 0 only); notebooks pass ``False`` and a
            :class:`LineProgress` instead.
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
        self.cfg, self.val, self.layout_2d = cfg, val, layout_2d
        self.allow_config_change = allow_config_change
        self.objective = objective if objective is not None else objectives.Supervised()
        self.rank, self.world_size = distributed_context()
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        if self.checkpoint is not None and self.rank == 0:
            # Fail now, not after the first epoch's minutes of training; and drop the temporary file
            # of a run that was killed while writing this checkpoint.
            check_writable(self.checkpoint)
            remove_stale_temporaries(self.checkpoint)
        self.callbacks = [
            cb if isinstance(cb, Callback) else _EpochFunction(cb) for cb in callbacks
        ]
        if progress and self.rank == 0:
            self.callbacks.insert(0, TqdmProgress())
        self.device = resolve_device(cfg.device)
        # "auto" decided once, here, for this device; checkpoints and results record the outcome.
        self.precision = precision.resolve(cfg.precision, self.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        # same initial weights on every rank (drawn on the CPU, then moved)
        torch.manual_seed(cfg.seed)
        self.model_cfg = model_config(cfg, in_joints=layout_2d.num_joints)
        self.model = TemporalModelStrided(self.model_cfg).to(self.device)
        self.eval_model = TemporalModel(self.model_cfg).to(self.device)
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
        stream = dict(
            batch_size=cfg.batch_size,
            receptive_field=cfg.receptive_field,
            causal=cfg.causal,
            augment=cfg.flip_augment,
            seed=cfg.seed,
            layout_2d=layout_2d,
            rank=self.rank,
            world_size=self.world_size,
            subsample=cfg.stride_subsample,
        )
        self.batches = B.WindowBatches(train, **stream)
        if unlabelled:
            # Its own shuffle seed, so the two streams do not draw the same order.
            self.batches = B.MixedBatches(
                self.batches,
                B.WindowBatches(unlabelled, **{**stream, "seed": cfg.seed + 7919}, labelled=False),
            )
        elif self.objective.needs_unlabelled:
            raise DataError(
                "Trainer", f"objective {self.objective.name!r} needs unlabelled sequences"
            )
        self.objective.check_data(train, unlabelled, layout_2d)
        self.epoch = 0
        self.history = History()

    # -- checkpointing ---------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "model_config": dataclasses.asdict(self.model_cfg),
            "config": _plain(self.cfg.to_dict()),
            "history": self.history.to_dict(),
            "input": input_spec(self.layout_2d),
            "precision": self.precision,
            "objective": self.objective.spec(),
            "objective_modules": [m.state_dict() for m in self.objective.modules()],
            **(
                {"weight_masks": self.weight_pruning.state_dict()}
                if self.weight_pruning is not None
                else {}
            ),
            "torch_rng": torch.get_rng_state(),
            # dropout on a GPU draws from the GPU's generator; resuming must restore it too
            **(
                {"cuda_rng": torch.cuda.get_rng_state(self.device)}
                if self.device.type == "cuda"
                else {}
            ),
        }

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
        ckpt = load_checkpoint(path)
        if ckpt["model_config"] != self.model_cfg:
            raise DataError(
                path,
                f"checkpoint architecture {dataclasses.asdict(ckpt['model_config'])} differs "
                f"from this run's {dataclasses.asdict(self.model_cfg)}",
            )
        check_input(ckpt["input"], self.layout_2d, path, what="this run's training data")
        for key in ("optimizer", "torch_rng", "config"):
            if key not in ckpt:
                raise DataError(
                    path,
                    f"checkpoint is missing {key!r}, which resuming needs (a weights-only file?)",
                )
        stored, current = ckpt["config"], _plain(self.cfg.to_dict())
        if not isinstance(stored, dict):
            raise DataError(
                path, f"checkpoint 'config' should be a dict, got {type(stored).__name__}"
            )
        # Where a run executes, its profile's name and its evaluation settings are not what it is:
        # resuming a CPU run on a GPU is allowed.
        differ = sorted(
            k
            for k in set(stored) | set(current)
            if k not in NOT_TRAINING_FIELDS and stored.get(k) != current.get(k)
        )
        if differ and not self.allow_config_change:
            changes = "; ".join(
                f"{k}: {stored.get(k, '(absent)')!r} -> {current.get(k, '(absent)')!r}"
                for k in differ
            )
            raise DataError(
                path,
                f"resuming with a different configuration ({changes}); start a new checkpoint, "
                "or allow it explicitly (--allow-config-change)",
            )
        if ckpt.get("objective", self.objective.spec()) != self.objective.spec():
            raise DataError(
                path,
                f"checkpoint objective {ckpt.get('objective')} differs from this run's "
                f"{self.objective.spec()}",
            )
        self.model.load_state_dict(ckpt["model"])
        for module, state in zip(self.objective.modules(), ckpt.get("objective_modules", [])):
            module.load_state_dict(state)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.weight_pruning is not None:
            if "weight_masks" not in ckpt:
                raise DataError(
                    path, "checkpoint has no 'weight_masks' (weight pruning needs them)"
                )
            self.weight_pruning.load_state_dict(ckpt["weight_masks"])
        self.epoch = int(ckpt["epoch"])
        self.history = History([EpochLog(**e) for e in ckpt.get("history", [])])
        torch.set_rng_state(ckpt["torch_rng"])
        if self.device.type == "cuda" and "cuda_rng" in ckpt:
            torch.cuda.set_rng_state(ckpt["cuda_rng"], self.device)

    # -- the loop --------------------------------------------------------------------------------
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
            lr = self.cfg.lr * self.cfg.lr_decay**self.epoch
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            momentum = bn_momentum(self.epoch, epochs, *self.cfg.bn_momentum)
            set_bn_momentum(self.model, momentum)
            if self.weight_pruning is not None:
                self.weight_pruning.update(self.epoch, epochs)
            self.model.train()
            for module in self.objective.modules():
                module.train()
            self.objective.start_epoch(self.epoch)
            for cb in self.callbacks:
                cb.on_epoch_start(self, self.epoch, self.batches.num_batches(self.epoch))
            start = time.perf_counter()
            total, count = 0.0, 0
            for batch in self.batches.epoch(self.epoch):
                # Mixed precision: the convolutions run in bf16 under autocast; weights, optimiser
                # state, BatchNorm statistics and the loss stay fp32.
                with precision.autocast(self.precision, self.device):
                    loss, logs = self.objective.loss(self.net, batch, self.device)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                if self.weight_pruning is not None:
                    self.weight_pruning.apply()  # pruned weights stay zero
                size = len((batch.labelled if isinstance(batch, B.MixedBatch) else batch).inputs)
                total += logs.get("loss_mm", 1000.0 * float(loss.detach())) * size
                count += size
                for cb in self.callbacks:
                    cb.on_batch_end(self, logs)
            log = EpochLog(
                self.epoch + 1, total / max(count, 1), lr, momentum, time.perf_counter() - start
            )
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
        """The whole-sequence model with the current weights, in eval mode."""
        self.eval_model.load_state_dict(self.model.state_dict())
        return self.eval_model.eval()


def train_cached(
    cfg: Config,
    train: Seq[Sequence],
    layout_2d: sk.Skeleton = sk.COCO17,
    name: str = "model",
    objective: objectives.Objective | None = None,
    unlabelled: Seq[Sequence] | None = None,
    callbacks: Seq = (),
    progress: bool = False,
) -> tuple[Trainer, bool]:
    """Train through the model cache (:mod:`dilpose.cache`): ``(trainer, trained_now)``.

    A finished model with the same key is loaded instead of trained (``trained_now`` False; its
    history, and so its training time, are the stored ones). Otherwise training resumes from the
    key's partial checkpoint if an earlier run was interrupted, writes it after every epoch, and on
    completion renames it to the finished model with a JSON sidecar listing what the key was made
    of.
    """
    from . import cache

    objective = objective if objective is not None else objectives.Supervised()
    entry = cache.entry(
        cfg,
        list(train) + list(unlabelled or []),
        layout_2d,
        # The unlabelled stream's own fingerprint: moving a clip from one stream to the other
        # leaves the concatenation above unchanged but trains another model.
        {
            **objective.spec(),
            "unlabelled": cache.data_fingerprint(unlabelled) if unlabelled else False,
        },
        precision.resolve(cfg.precision, resolve_device(cfg.device)),
    )
    trainer = Trainer(
        cfg,
        train,
        layout_2d=layout_2d,
        checkpoint=entry.partial,
        objective=objective,
        unlabelled=unlabelled,
        callbacks=callbacks,
        progress=progress,
    )
    trained_now = not entry.finished()
    if trained_now:
        trainer.fit(resume=True)
        if trainer.rank == 0:
            os.replace(entry.partial, entry.model)
            write_json(
                entry.sidecar,
                {
                    "key": entry.key,
                    "name": name,
                    **entry.inputs,
                    "train_seconds": round(sum(e.seconds for e in trainer.history.epochs), 1),
                },
            )
    else:
        trainer.restore(entry.model)
    trainer.checkpoint = entry.model
    if trainer.rank == 0:
        _alias(entry.model, entry.model.with_name(f"{name}.pt"))
    return trainer, trained_now


def _alias(target: Path, alias: Path) -> None:
    """``alias`` names the same file as ``target`` (a hard link; a copy where links fail), replacing
    what it named before: ``reports/checkpoints/02_main.pt`` stays the latest main model."""
    import shutil

    if alias == target:
        return
    tmp = alias.with_name(f".{alias.name}.{os.getpid()}.link.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(target, tmp)
    except OSError:
        shutil.copyfile(target, tmp)
    os.replace(tmp, alias)


def _plain(obj):
    """Config dicts contain tuples and dataclasses; weights_only checkpoints want plain
    containers."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------
@torch.inference_mode()
def predict(
    model: TemporalModel,
    seq: Sequence,
    causal: bool,
    flip_test: bool,
    layout_2d: sk.Skeleton = sk.COCO17,
    precision_: str = "fp32",
) -> np.ndarray:
    """Root-relative 3D prediction (T, 17, 3) metres for a whole sequence (root joint zeroed).

    precision_: ``fp32`` or ``bf16`` (the convolutions under autocast; the output is fp32).
    """
    model.eval()
    ((_, x),) = B.whole_sequences(
        [seq], model.receptive_field(), causal=causal, flip_test=flip_test, layout_2d=layout_2d
    )
    device = next(model.parameters()).device
    with precision.autocast(precision_, device):
        out = model(torch.from_numpy(x).to(device))
    pred = out.float().cpu().numpy()
    pred = B.merge_flipped(pred) if flip_test else pred[0]
    return pred - pred[:, :1]


def evaluate(
    model: TemporalModel,
    seqs: Seq[Sequence],
    cfg: Config,
    layout_2d: sk.Skeleton = sk.COCO17,
    flip_test: bool | None = None,
    h36m_actions: bool = False,
    keep_predictions: bool = False,
    precision_: str | None = None,
) -> dict:
    """All four metrics (mm), per action and averaged both ways, for a whole-sequence model.

    precision_: ``fp32``, ``bf16`` or ``auto``; default ``cfg.precision``, resolved for the model's
    device. The metrics are computed in fp64 whatever the precision; the results record it.

    Actions are the part of the action name before the first space (``walk`` for ``walk 16_15``,
    ``Walking`` for ``Walking 1``).
    """
    spec = getattr(model, "input_spec", None)
    if spec is not None:  # a model read from a checkpoint knows what it was trained on
        check_input(
            spec, layout_2d, getattr(model, "checkpoint_path", "model"), what="the evaluation data"
        )
    flip_test = cfg.flip_test if flip_test is None else flip_test
    device = next(model.parameters()).device
    used = precision.resolve(cfg.precision if precision_ is None else precision_, device)
    results, per_sequence = [], []
    for seq in seqs:
        pred = predict(model, seq, model.cfg.causal, flip_test, layout_2d, used)
        target, _ = B.split_root(seq.positions_3d.astype(np.float64))
        results.append(
            {"subject": seq.subject, "action": seq.category, "pred": pred, "target": target}
        )
        per_sequence.append(
            {
                "subject": seq.subject,
                "action": seq.action,
                "camera": seq.camera,
                "frames": len(seq),
                "mpjpe_mm": 1000 * float(metrics.mpjpe(pred, target)),
            }
        )
    out = metrics.evaluate(
        results, flip_test=flip_test, action_of=metrics.h36m_action_base if h36m_actions else None
    )
    # Per clip and camera: shows how the error depends on the clip (and its length).
    out["per_sequence"] = per_sequence
    out["precision"] = used
    out["protocol"]["precision"] = used
    if keep_predictions:
        out["predictions"] = results
    return out
