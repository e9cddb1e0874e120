"""Run profiles: ``smoke`` (CI, seconds), ``default`` (a laptop's CPU, minutes), ``paper`` (the
paper's settings, a GPU, hours).

Every notebook has one ``parameters`` cell (profile, dataset, seed) and calls
:func:`for_notebook`, which returns a :class:`Config`; printing it shows that papermill's injected
parameters took effect.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from . import datasets, regularizers
from .batches import padding, receptive_field
from .errors import ConfigError
from .noise import NoiseConfig

PROFILES = ("smoke", "default", "paper")
#: Numerical precisions of training and evaluation (dilpose.precision says what each does).
PRECISIONS = ("fp32", "bf16", "auto")
#: Config fields whose *setting* is not compared when a run resumes or reuses a cached model:
#: naming, evaluation only, where it runs, and how its arithmetic runs. ``precision`` is here
#: because its setting may be "auto", which resolves per machine: what counts is the resolved
#: precision, which the model cache puts into its key and checkpoints record (dilpose.cache).
NOT_TRAINING_FIELDS = ("profile", "flip_test", "eval_cameras", "device", "precision")


def positive_int(owner: str, name: str, value) -> None:
    """ConfigError unless ``value`` is an integer >= 1 (a bool is not an integer here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{owner}.{name} must be a positive integer, got {value!r}")


def check_precision(value) -> str:
    """The one rule for a precision setting: ``fp32``, ``bf16`` or ``auto`` (dilpose.precision)."""
    if value not in PRECISIONS:
        raise ConfigError(f"precision must be one of {PRECISIONS}, got {value!r}")
    return value


@dataclass(frozen=True)
class ModelConfig:
    """The architecture of the temporal ConvNet (:mod:`dilpose.model`), validated here once.

    A run's :class:`Config` *is* a ModelConfig (it adds the data, training and evaluation
    settings), so the model takes the run configuration directly; checkpoints and ONNX files record
    only these fields (:meth:`architecture`).

    Args:
        in_joints: J_in, joints per input frame. 17 because the 2D detector emits COCO-17
            keypoints (12 body + 5 facial), the paper's input layout; the trainer sets it from the
            training data's 2D layout.
        in_features: values per input joint; 2 for (x, y) image coordinates. A confidence score
            would make it 3.
        out_joints: J_out, joints per output frame; 17 for the H36M-17 evaluation layout.
        filter_widths: kernel width of the expand layer followed by one width per residual block.
            Widths must be odd so that a window has a centre frame. (3, 3, 3, 3, 3) gives the
            paper's 243-frame receptive field with 4 residual blocks.
        channels: C, the width of every hidden layer. 1024 is the paper's setting; smaller values
            train faster and are used by the tests.
        causal: predict each frame from past frames only (real-time use); see dilpose.model.
        regularizer: what fills the regulariser slots, by name and parameters (a
            :class:`~dilpose.regularizers.Regularizer`, its text form ``"dropout(p=0.25)"`` or a
            dict), stored as a Regularizer with its defaults filled in; dropout with p = 0.25 as in
            the paper by default.
    """

    in_joints: int = 17
    in_features: int = 2
    out_joints: int = 17
    filter_widths: tuple[int, ...] = (3, 3, 3, 3, 3)
    channels: int = 1024
    causal: bool = False
    regularizer: regularizers.Regularizer = field(default_factory=regularizers.Regularizer)

    def __post_init__(self):
        # Fail where the setting is made, with its name, not deep inside torch with a shape error.
        owner = type(self).__name__
        for name in ("in_joints", "in_features", "out_joints", "channels"):
            positive_int(owner, name, getattr(self, name))
        widths = self.filter_widths
        if (
            not isinstance(widths, (tuple, list))
            or not widths
            or not all(
                isinstance(w, int) and not isinstance(w, bool) and w >= 1 and w % 2 for w in widths
            )
        ):
            raise ConfigError(
                f"{owner}.filter_widths must be one or more positive odd integers (a window has a "
                f"centre frame), got {widths!r}"
            )
        # A list (from JSON or argparse) is stored as a tuple so the config stays hashable.
        object.__setattr__(self, "filter_widths", tuple(widths))
        if not isinstance(self.causal, bool):
            raise ConfigError(f"{owner}.causal must be True or False, got {self.causal!r}")
        try:  # the registry fills in the defaults: "dropout" -> dropout(p=0.25)
            object.__setattr__(self, "regularizer", regularizers.validate(self.regularizer))
        except ConfigError as e:
            raise ConfigError(f"{owner}.regularizer: {e}") from None

    def architecture(self) -> ModelConfig:
        """Only the architecture: what a model, a checkpoint's ``model_config`` and an ONNX file
        hold (a plain ModelConfig, whatever settings a run's Config adds)."""
        if type(self) is ModelConfig:
            return self
        # The values were validated when this config was made: copy them without validating again.
        arch = object.__new__(ModelConfig)
        for f in dataclasses.fields(ModelConfig):
            object.__setattr__(arch, f.name, getattr(self, f.name))
        return arch

    def receptive_field(self) -> int:
        """Frames one output sees: the product of the filter widths (243 for 3,3,3,3,3)."""
        return receptive_field(self.filter_widths)

    @property
    def num_blocks(self) -> int:
        """B, the number of residual blocks (one per width after the first)."""
        return len(self.filter_widths) - 1

    def dilations(self) -> tuple[int, ...]:
        """Dilation of each residual block's temporal conv: prod(filter_widths[:b]) for b = 1..B."""
        return tuple(math.prod(self.filter_widths[:b]) for b in range(1, len(self.filter_widths)))

    @property
    def pad(self) -> int:
        """Frames of context on each side of a symmetric window: (receptive_field - 1) // 2."""
        return (self.receptive_field() - 1) // 2

    @property
    def causal_shift(self) -> int:
        """How far the padding moves left for a causal model: ``pad`` if causal, else 0."""
        return self.pad if self.causal else 0

    def padding(self) -> tuple[int, int]:
        """(left, right) frames to pad a clip with so that output t belongs to input frame t.

        Symmetric: (pad, pad). Causal: (2 * pad, 0), so frame t's output sees frames t-2*pad .. t.
        """
        return padding(self.receptive_field(), self.causal)


@dataclass(frozen=True)
class Config(ModelConfig):
    """Everything a notebook or a training run needs to know. Field comments say why.

    The architecture fields (``filter_widths``, ``channels``, ``causal``, ``regularizer``, and
    ``in_joints`` etc.) are :class:`ModelConfig`'s, validated there; the model takes a Config as it
    is (``TemporalModel(cfg)``).
    """

    profile: str = "default"
    # a name in dilpose.datasets (the embedded data, or files in data/)
    dataset: str = datasets.DEFAULT
    seed: int = 0  # one seed drives data noise, init, shuffling
    h36m_2d_source: str = "cpn_ft_h36m_dbb"  # the paper's 2D detections are CPN on Mask R-CNN boxes
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    # Model (paper: 4 blocks, widths 3,3,3,3,3 -> 243 frames, 1024 channels): ModelConfig's fields;
    # the run's default width differs from the paper's.
    channels: int = 128  # 1024 in the paper; 128 trains in minutes on 2 CPU cores
    # regularizer (ModelConfig): "dropout(p=0.25)" is the paper's baseline; notebook 03 compares
    # its pruning layer with it.
    # Gradual magnitude pruning of the convolution weights while training, to this final fraction
    # of zeros (dilpose.pruning.GradualMagnitudePruning); 0: none. The paper's pruning layer read as
    # "removes nodes with lower weights" (notebook 03).
    weight_sparsity: float = 0.0
    # Training (paper: 90 epochs, lr 1e-3 x 0.95 per epoch, BN momentum 0.1 -> 0.001).
    # The number of training windows seen, not epochs, sets the cost. 40 epochs of every 32nd window
    # (rotating) on the 40k training frames see 0.40M windows (flipped copies included; each window
    # about 1.25 times); before the data grew six-fold, 40 epochs of every 4th window saw 0.52M
    # (each 10 times). Keeping 40 epochs keeps the lr and BN schedules. Notebook 02 trains four arms
    # with 3 seeds each (12 models, 6 of 243 frames at ~2.5 minutes each) within its 35 minutes on 2
    # CPU cores. Under-training hurts long windows most (on the small data, 30 epochs of every 4th
    # window gave 75.2 vs 70.7 mm).
    epochs: int = 40  # 90 in the paper (1.5M windows per epoch; ours has 10k)
    batch_size: int = 128  # small data: more, smaller steps (the paper's setting is 1024)
    lr: float = 1e-3
    lr_decay: float = 0.95
    bn_momentum: tuple[float, float] = (0.1, 0.001)
    # every k-th window per epoch, rotating (50 Hz windows 0.02 s apart are near-duplicates)
    stride_subsample: int = 32
    # 0: train on every frame. R > 0: only on frames whose centred R-frame window is at least 90 %
    # inside its clip (dilpose.batches.context_frames). Notebook 02 gives its 27-, 81- and 243-frame
    # arms R = 243, so that they learn from the same frames: most training clips are shorter than
    # 243 frames, and on every frame the 243-frame model would otherwise see mostly edge padding.
    min_context: int = 0
    # "fp32", "bf16" (mixed: convolutions in bfloat16, weights, loss and statistics fp32) or "auto"
    # (bf16 where the CPU or GPU multiplies bf16 natively). The Trainer resolves it, once, for its
    # device (dilpose.precision); the model cache and results record the resolved value.
    precision: str = "fp32"
    flip_augment: bool = True
    flip_test: bool = True
    eval_cameras: tuple[int, ...] = (0, 1, 2, 3)
    # "auto": the GPU when torch sees one (under torchrun: the GPU of LOCAL_RANK), else the CPU.
    # A GPU run is not bit-identical to a CPU run (other kernels, another dropout RNG stream).
    device: str = "auto"

    def __post_init__(self):
        super().__post_init__()  # the architecture's fields
        for name in ("epochs", "batch_size", "stride_subsample"):
            positive_int("Config", name, getattr(self, name))
        mc = self.min_context
        if isinstance(mc, bool) or not isinstance(mc, int) or mc < 0:
            raise ConfigError(f"min_context must be 0 or a window length in frames, got {mc!r}")
        ws = self.weight_sparsity
        if isinstance(ws, bool) or not isinstance(ws, (int, float)) or not 0.0 <= ws < 1.0:
            raise ConfigError(f"weight_sparsity must be a fraction in [0, 1), got {ws!r}")
        check_precision(self.precision)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain values (JSON, checkpoints, the cache key); the regulariser in its text form."""
        d = dataclasses.asdict(self)
        d["regularizer"] = str(self.regularizer)
        d["receptive_field"] = self.receptive_field()
        return d

    def __str__(self) -> str:
        keys = (
            "profile",
            "dataset",
            "seed",
            "filter_widths",
            "channels",
            "epochs",
            "causal",
            "precision",
        )
        return (
            "Config("
            + ", ".join(f"{k}={getattr(self, k)!r}" for k in keys)
            + f", receptive_field={self.receptive_field()})"
        )


_PROFILE_SETTINGS = {
    "smoke": dict(
        filter_widths=(3, 3, 3),
        channels=64,
        epochs=1,
        batch_size=256,
        stride_subsample=64,
        eval_cameras=(0,),
    ),
    # bf16 where the hardware has it: notebook 02's main model trained in bf16 and in fp32 with
    # seeds 0-2 differed by -0.4 mm [-1.3, 0.5] (bf16 - fp32; a view-level interval, so too narrow;
    # inconclusive, not shown equal) and bf16 trains ~1.2x faster on 2 CPU cores. The smoke
    # profile stays fp32: CI's pinned numbers were measured in fp32.
    "default": dict(precision="auto"),
    "paper": dict(channels=1024, epochs=90, batch_size=1024, stride_subsample=1, precision="auto"),
}


def for_profile(profile: str, **overrides) -> Config:
    """The :class:`Config` of a profile, with keyword overrides (unknown keys are an error)."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    settings = {**_PROFILE_SETTINGS[profile], **overrides}
    unknown = set(settings) - {f.name for f in dataclasses.fields(Config)}
    if unknown:
        raise ConfigError(f"unknown config keys {sorted(unknown)}")
    if "dataset" in settings:  # a registered name or alias; the config records the registered name
        spec = datasets.find(settings["dataset"])
        if spec is None:
            raise ConfigError(
                f"unknown dataset {settings['dataset']!r}; choose one of {datasets.names()}"
            )
        settings["dataset"] = spec.name
    return Config(profile=profile, **settings)


#: The series' notebooks by number (what ``for_notebook`` accepts).
NOTEBOOKS = {
    "01": "data preparation",
    "02": "model building",
    "03": "pruning layer vs dropout",
    "04": "semi-supervised training",
    "05": "quantization and streaming",
    "06": "HRI-I evaluation",
    "07": "skeleton explorer",
}

#: Where a notebook departs from the series' profiles: ``{notebook: {profile: {field: value}}}``.
#: Kept here, beside the profiles, so that one place shows every setting a notebook runs with.
#: Notebooks 01 and 02 use the profiles as they are. Notebook 03 trains 8 arms x 3 seeds within 25
#: minutes: on the default profile that needs the 27-frame model (about 40 s each), the same for
#: every arm; notebook 02 compares receptive fields (its verdict does not make 27 the same as 243).
NOTEBOOK_SETTINGS: dict[str, dict[str, dict]] = {
    "03": {"default": {"filter_widths": (3, 3, 3)}},
    # 04 trains 18 models (6 arms x 3 seeds), half of them with two networks on two batches per
    # step: the 27-frame model keeps the notebook near 25 minutes (notebooks/04_*.py).
    "04": {"default": {"filter_widths": (3, 3, 3)}},
    # 05 quantizes notebook 02's causal variant: the same config with causal=True (so the model
    # cache hands it the same file).
    "05": {p: {"causal": True} for p in PROFILES},
}


@dataclass(frozen=True)
class SemiSupervisedConfig:
    """The weights and schedule of semi-supervised training
    (:class:`dilpose.objectives.SemiSupervised`, VideoPose3D's scheme with the paper's Eq. (1)).
    Kept apart from :class:`Config`, so that adding it changed no other model's cache key.

    The loss of a step is ``MPJPE(pose) + trajectory_weight * Eq.(1)`` on the labelled windows and,
    after ``warmup_epochs`` supervised epochs, ``+ unlabelled_weight * (reprojection + bone_weight *
    bone-length term)`` on the unlabelled ones. Units as in VideoPose3D, which adds them unweighted:
    metres, metres per metre of depth, normalised screen units (2 / image width per pixel), metres.
    ``confidence_weighted`` weights each joint's reprojection distance by the detector's confidence
    in that 2D joint (``sum(w * distance) / sum(w)``); False, the default, is VideoPose3D's
    unweighted reprojection.
    """

    warmup_epochs: int = 8  # VideoPose3D's default is 1 of 80; it advises more on smaller data
    trajectory_weight: float = 1.0
    unlabelled_weight: float = 1.0
    bone_weight: float = 1.0
    confidence_weighted: bool = False

    def __post_init__(self):
        if (
            isinstance(self.warmup_epochs, bool)
            or not isinstance(self.warmup_epochs, int)
            or (self.warmup_epochs < 0)
        ):
            raise ConfigError(f"warmup_epochs must be an integer >= 0, got {self.warmup_epochs!r}")
        for name in ("trajectory_weight", "unlabelled_weight", "bone_weight"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise ConfigError(f"{name} must be a number >= 0, got {v!r}")
        if not isinstance(self.confidence_weighted, bool):
            raise ConfigError(
                f"confidence_weighted must be True or False, got {self.confidence_weighted!r}"
            )


#: Per profile: the smoke profile trains one epoch, so its unlabelled term starts at once.
SEMI_SUPERVISED = {
    "smoke": SemiSupervisedConfig(warmup_epochs=0),
    "default": SemiSupervisedConfig(),
    "paper": SemiSupervisedConfig(warmup_epochs=10),
}


def for_notebook(
    notebook: str, profile: str, dataset: str = datasets.DEFAULT, seed: int = 0, **overrides
) -> Config:
    """The config notebook ``notebook`` ("01", "02", ...) runs with: the profile's settings, then
    the notebook's own (:data:`NOTEBOOK_SETTINGS`), then ``overrides`` (from the notebook's
    parameters)."""
    if notebook not in NOTEBOOKS:
        raise ConfigError(f"unknown notebook {notebook!r}; the series has {sorted(NOTEBOOKS)}")
    settings = {**NOTEBOOK_SETTINGS.get(notebook, {}).get(profile, {}), **overrides}
    return for_profile(profile, dataset=dataset, seed=seed, **settings)
