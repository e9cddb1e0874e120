"""Reading and checking checkpoints: weights-only loading, the recorded architecture and input, the
state a :class:`dilpose.train.Trainer` writes after every epoch and resumes from.

Checkpoints are read with ``torch.load(weights_only=True)`` (tensors and plain containers only), so
a file from elsewhere cannot run code; every problem is a one-line :class:`DataError` naming the
file. What a checkpoint holds:

* ``model`` (state dict), ``model_config`` (:class:`~dilpose.config.ModelConfig` as a dict: the
  architecture only), ``input`` (what the model reads, :func:`input_spec`: the 2D layout and the
  input convention, :mod:`dilpose.input_norm`), ``epoch``;
* for resuming: ``optimizer``, ``config`` (the run's :class:`~dilpose.config.Config`), ``history``,
  ``precision`` (resolved), ``objective``, RNG states, and ``weight_masks`` with weight pruning.

Nothing here decides what training computes, so the model cache's key leaves this module out
(:mod:`dilpose.cache`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from . import input_norm, limits
from . import skeleton as sk
from .callbacks import EpochLog, History
from .config import NOT_TRAINING_FIELDS, ModelConfig
from .errors import DataError
from .model import TemporalModel, TemporalModelStrided

#: How 2D keypoints are normalised before they reach the model unless a run says otherwise,
#: recorded in every checkpoint so that a model is never fed input prepared another way.
#: ``screen``: pixels divided by the image width, ``x / w * 2 - 1`` and ``y / w * 2 - h / w``
#: (VideoPose3D's normalize_screen_coordinates); the other conventions are
#: :data:`dilpose.input_norm.CONVENTIONS`.
NORMALIZATION = input_norm.SCREEN
#: What the screen convention needs: each video's own width and height, in pixels.
IMAGE_SIZE = input_norm.CONVENTIONS[NORMALIZATION]


def input_spec(layout_2d: sk.Skeleton, normalization: str = NORMALIZATION) -> dict:
    """What a model reads, as stored in a checkpoint: layout, joint names, values, the input
    convention (``normalization``, one of :data:`dilpose.input_norm.CONVENTIONS`) and what that
    convention needs to be applied (``image_size``, in words)."""
    input_norm.check_convention(normalization)
    return {
        "layout": layout_2d.name,
        "joint_names": list(layout_2d.joint_names),
        "features": ["x", "y"],
        "normalization": normalization,
        "image_size": input_norm.CONVENTIONS[normalization],
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


def weights_checksum(model: nn.Module) -> float:
    """A float summary of all parameters (to check that DDP ranks hold the same weights)."""
    return float(sum(p.detach().double().sum() * (i + 1) for i, p in enumerate(model.parameters())))


def plain(obj):
    """Config dicts contain tuples; weights_only checkpoints want plain containers."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def architecture_dict(cfg: ModelConfig) -> dict:
    """The ``model_config`` a checkpoint stores: the architecture's fields (regulariser: a dict)."""
    return dataclasses.asdict(cfg.architecture())


def _torch_load(path: Path):
    """``torch.load(weights_only=True)`` of a regular file within the checkpoint size limit
    (a FIFO or ``/dev/zero`` is refused, not read), its errors as one line naming the file."""
    f = limits.open_regular(path, "checkpoint", limits.MAX_CHECKPOINT_BYTES)
    try:
        with f:
            return torch.load(f, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling errors differ by cause; all mean "not a safe checkpoint"
        if "weights only load failed" in str(e).lower():  # torch's advice would be to trust it
            problem = (
                "holds pickled Python objects besides tensors; dilpose loads weights only, "
                "because such objects can run code"
            )
        else:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            problem = f"not a readable dilpose checkpoint (damaged or truncated?): {first[:160]}"
        raise DataError(path, problem) from None


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
    ckpt = _torch_load(path)  # a regular file of bounded size
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


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


#: The type each stored ``model_config`` value must have (ranges are ModelConfig's to check).
_MODEL_CONFIG_TYPES = {
    "in_joints": _is_int,
    "in_features": _is_int,
    "out_joints": _is_int,
    "channels": _is_int,
    "filter_widths": lambda v: isinstance(v, (list, tuple)) and all(_is_int(w) for w in v),
    "causal": lambda v: isinstance(v, bool),
    "regularizer": lambda v: isinstance(v, (dict, str)),
}


def _model_config_from(path: Path, d) -> ModelConfig:
    """A :class:`ModelConfig` from a checkpoint's dict, refusing unknown keys and wrong types."""
    if not isinstance(d, dict):
        raise DataError(path, f"checkpoint 'model_config' should be a dict, got {type(d).__name__}")
    unknown = sorted(map(str, set(d) - set(_MODEL_CONFIG_TYPES)))
    if unknown:
        raise DataError(
            path,
            f"checkpoint 'model_config' has unknown key(s) {unknown}; "
            f"known: {sorted(_MODEL_CONFIG_TYPES)}",
        )
    for key, value in d.items():
        if not _MODEL_CONFIG_TYPES[key](value):
            raise DataError(path, f"checkpoint 'model_config.{key}' has the wrong type: {value!r}")
    try:  # ModelConfig validates every value, the regulariser against the registry included
        return ModelConfig(**d)
    except (TypeError, ValueError) as e:  # ConfigError is a ValueError
        raise DataError(
            path, f"checkpoint 'model_config' is not a valid architecture: {e}"
        ) from None


def _input_spec_from(path: Path, spec, mcfg: ModelConfig) -> dict:
    """Check a checkpoint's ``input`` record: a known layout whose joints the model reads, and a
    known input convention."""
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
    norm = spec["normalization"]
    if not isinstance(norm, str) or norm not in input_norm.CONVENTIONS:
        shown = repr(norm[:40]) if isinstance(norm, str) else f"of type {type(norm).__name__}"
        raise DataError(
            path,
            f"checkpoint 'input' normalisation {shown} is not one this version implements "
            f"({', '.join(sorted(input_norm.CONVENTIONS))})",
        )
    if layout.num_joints != mcfg.in_joints:
        raise DataError(
            path,
            f"checkpoint 'input' layout {layout.name} has {layout.num_joints} joints but the "
            f"model reads {mcfg.in_joints}",
        )
    return {**input_spec(layout, norm), **spec}


def check_finite(path: str | Path, state: dict) -> None:
    """DataError naming the file and the first tensor holding NaN or infinity."""
    for name, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise DataError(path, f"weights are not finite (NaN or infinity in {name!r})")


def _check_shapes(path: Path, cls: type, mcfg: ModelConfig, state: dict) -> None:
    """DataError unless ``state`` holds exactly the tensors ``cls(mcfg)`` has, in their shapes."""
    # Compare on the meta device (shapes only, no memory) before building the model: a forged
    # model_config (channels=10**9) must not allocate what the file does not hold.
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in cls(mcfg).state_dict().items()}
    except (RuntimeError, ValueError, OverflowError, MemoryError) as e:  # beyond any real model
        raise DataError(
            path, f"checkpoint 'model_config' describes no buildable model: {e}"
        ) from None
    given = {k: tuple(v.shape) for k, v in state.items()}
    if expected != given:
        missing, extra = sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
        wrong = sorted(k for k in set(expected) & set(given) if expected[k] != given[k])
        detail = "; ".join(
            f"{name}: {keys[:3]}{' ...' if len(keys) > 3 else ''}"
            for name, keys in (("missing", missing), ("unexpected", extra), ("other shape", wrong))
            if keys
        )
        raise DataError(path, f"weights do not fit the recorded architecture ({detail})")


def model_from_checkpoint(path: str | Path, strided: bool = False) -> nn.Module:
    """Build the model a checkpoint was trained with and load its weights (eval mode).

    The model carries the checkpoint's input record as ``model.input_spec`` (see
    :func:`input_spec`); :func:`dilpose.evaluate.evaluate` and :mod:`dilpose.lift` refuse 2D input
    of another layout.
    """
    path = Path(path)
    ckpt = load_checkpoint(path)
    mcfg = ckpt["model_config"]
    cls = TemporalModelStrided if strided else TemporalModel
    _check_shapes(path, cls, mcfg, ckpt["model"])
    model = cls(mcfg)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise DataError(path, f"weights do not fit the recorded architecture: {e}") from e
    model.input_spec, model.checkpoint_path = ckpt["input"], path
    return model.eval()


# --------------------------------------------------------------------------------------------------
# The trainer's state
# --------------------------------------------------------------------------------------------------
def trainer_state(trainer) -> dict:
    """What :func:`restore_trainer` needs to continue ``trainer`` (a Trainer) bit-identically."""
    state = {
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "epoch": trainer.epoch,
        "model_config": architecture_dict(trainer.cfg),
        "config": plain(trainer.cfg.to_dict()),
        "history": trainer.history.to_dict(),
        # A Trainer trains on what its sequences hold; the convention they were normalised in is
        # declared by whoever built them (dilpose.cache.train_cached), screen when nobody did.
        "input": input_spec(
            trainer.layout_2d, getattr(trainer, "input_normalization", NORMALIZATION)
        ),
        "precision": trainer.precision,
        "objective": trainer.objective.spec(),
        "objective_modules": [m.state_dict() for m in trainer.objective.modules()],
        "torch_rng": torch.get_rng_state(),
    }
    if trainer.weight_pruning is not None:
        state["weight_masks"] = trainer.weight_pruning.state_dict()
    if trainer.device.type == "cuda":  # dropout on a GPU draws from the GPU's generator
        state["cuda_rng"] = torch.cuda.get_rng_state(trainer.device)
    return state


def check_resumable(path: Path, ckpt: dict, trainer) -> None:
    """DataError unless ``ckpt`` continues ``trainer``'s run: the same architecture, input layout,
    input convention, objective and (unless ``trainer.allow_config_change``) training settings."""
    stored_arch, arch = dataclasses.asdict(ckpt["model_config"]), architecture_dict(trainer.cfg)
    if stored_arch != arch:
        raise DataError(
            path, f"checkpoint architecture {stored_arch} differs from this run's {arch}"
        )
    check_input(ckpt["input"], trainer.layout_2d, path, what="this run's training data")
    stored_norm = ckpt["input"]["normalization"]
    norm = getattr(trainer, "input_normalization", NORMALIZATION)
    if stored_norm != norm:  # never allowed: the weights learnt to read the other numbers
        raise DataError(
            path,
            f"the checkpoint was trained on {stored_norm}-normalised input but this run's "
            f"training data is {norm}-normalised; start a new checkpoint",
        )
    for key in ("optimizer", "torch_rng", "config"):
        if key not in ckpt:
            raise DataError(
                path, f"checkpoint is missing {key!r}, which resuming needs (a weights-only file?)"
            )
    stored, current = ckpt["config"], plain(trainer.cfg.to_dict())
    if not isinstance(stored, dict):
        raise DataError(path, f"checkpoint 'config' should be a dict, got {type(stored).__name__}")
    # Where a run executes, its profile's name and its evaluation settings are not what it is:
    # resuming a CPU run on a GPU is allowed.
    differ = sorted(
        k
        for k in set(stored) | set(current)
        if k not in NOT_TRAINING_FIELDS and stored.get(k) != current.get(k)
    )
    if differ and not trainer.allow_config_change:
        changes = "; ".join(
            f"{k}: {stored.get(k, '(absent)')!r} -> {current.get(k, '(absent)')!r}" for k in differ
        )
        raise DataError(
            path,
            f"resuming with a different configuration ({changes}); start a new checkpoint, "
            "or allow it explicitly (--allow-config-change)",
        )
    if ckpt.get("objective", trainer.objective.spec()) != trainer.objective.spec():
        raise DataError(
            path,
            f"checkpoint objective {ckpt.get('objective')} differs from this run's "
            f"{trainer.objective.spec()}",
        )
    if trainer.weight_pruning is not None and "weight_masks" not in ckpt:
        raise DataError(path, "checkpoint has no 'weight_masks' (weight pruning needs them)")


def restore_trainer(trainer, path: str | Path) -> None:
    """Load a checkpoint of the same run into ``trainer`` (see :func:`check_resumable`)."""
    path = Path(path)
    ckpt = load_checkpoint(path)
    check_resumable(path, ckpt, trainer)
    trainer.model.load_state_dict(ckpt["model"])
    for module, state in zip(trainer.objective.modules(), ckpt.get("objective_modules", [])):
        module.load_state_dict(state)
    trainer.optimizer.load_state_dict(ckpt["optimizer"])
    if trainer.weight_pruning is not None:
        trainer.weight_pruning.load_state_dict(ckpt["weight_masks"])
    trainer.epoch = int(ckpt["epoch"])
    trainer.history = History([EpochLog(**e) for e in ckpt.get("history", [])])
    torch.set_rng_state(ckpt["torch_rng"])
    if trainer.device.type == "cuda" and "cuda_rng" in ckpt:
        torch.cuda.set_rng_state(ckpt["cuda_rng"], trainer.device)
