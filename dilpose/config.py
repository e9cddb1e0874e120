"""Run profiles: ``smoke`` (CI, seconds), ``default`` (a laptop's CPU, minutes), ``paper`` (the
paper's settings, a GPU, hours).

Every notebook has one ``parameters`` cell (profile, dataset, seed) and calls
:func:`for_notebook`, which returns a :class:`Config`; printing it shows that papermill's injected
parameters took effect.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from . import datasets, regularizers
from .errors import ConfigError
from .noise import NoiseConfig

PROFILES = ("smoke", "default", "paper")
#: Config fields whose *setting* is not compared when a run resumes or reuses a cached model:
#: naming, evaluation only, where it runs, and how its arithmetic runs. ``precision`` is here
#: because its setting may be "auto", which resolves per machine: what counts is the resolved
#: precision, which the model cache puts into its key and checkpoints record (dilpose.cache).
NOT_TRAINING_FIELDS = ("profile", "flip_test", "eval_cameras", "device", "precision")


@dataclass(frozen=True)
class Config:
    """Everything a notebook or a training run needs to know. Field comments say why."""

    profile: str = "default"
    # a name in dilpose.datasets (the embedded data, or files in data/)
    dataset: str = datasets.DEFAULT
    seed: int = 0  # one seed drives data noise, init, shuffling
    h36m_2d_source: str = "cpn_ft_h36m_dbb"  # the paper's 2D detections are CPN on Mask R-CNN boxes
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    # Model (paper: 4 blocks, widths 3,3,3,3,3 -> 243 frames, 1024 channels).
    filter_widths: tuple[int, ...] = (3, 3, 3, 3, 3)
    channels: int = 128  # 1024 in the paper; 128 trains in minutes on 2 CPU cores
    # What fills the model's regulariser slots, by name and parameters (dilpose.regularizers):
    # "dropout(p=0.25)" is the paper's baseline; notebook 03 compares its pruning layer with it.
    regularizer: str = "dropout(p=0.25)"
    # Gradual magnitude pruning of the convolution weights while training, to this final fraction
    # of zeros (dilpose.pruning.GradualMagnitudePruning); 0: none. The paper's pruning layer read as
    # "removes nodes with lower weights" (notebook 03).
    weight_sparsity: float = 0.0
    causal: bool = False
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
    # "fp32", "bf16" (mixed: convolutions in bfloat16, weights, loss and statistics fp32) or "auto"
    # (bf16 where the CPU or GPU multiplies bf16 natively). See dilpose.precision.
    precision: str = "fp32"
    flip_augment: bool = True
    flip_test: bool = True
    eval_cameras: tuple[int, ...] = (0, 1, 2, 3)
    # "auto": the GPU when torch sees one (under torchrun: the GPU of LOCAL_RANK), else the CPU.
    # A GPU run is not bit-identical to a CPU run (other kernels, another dropout RNG stream).
    device: str = "auto"

    def __post_init__(self):
        # Fail where the setting is made, with its name, not deep inside torch with a shape error.
        def positive_int(name):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")

        for name in ("channels", "epochs", "batch_size", "stride_subsample"):
            positive_int(name)
        widths = self.filter_widths
        if (
            not isinstance(widths, (tuple, list))
            or not widths
            or not all(
                isinstance(w, int) and not isinstance(w, bool) and w >= 1 and w % 2 for w in widths
            )
        ):
            raise ConfigError(
                f"filter_widths must be one or more positive odd integers (a window has a centre "
                f"frame), got {widths!r}"
            )
        object.__setattr__(self, "filter_widths", tuple(widths))
        # Canonical text form ("dropout" -> "dropout(p=0.25)"), checked against the registry now.
        object.__setattr__(self, "regularizer", str(regularizers.validate(self.regularizer)))
        ws = self.weight_sparsity
        if isinstance(ws, bool) or not isinstance(ws, (int, float)) or not 0.0 <= ws < 1.0:
            raise ConfigError(f"weight_sparsity must be a fraction in [0, 1), got {ws!r}")
        if self.precision not in ("fp32", "bf16", "auto"):
            raise ConfigError(f"precision must be 'fp32', 'bf16' or 'auto', got {self.precision!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")

    @property
    def receptive_field(self) -> int:
        """Frames one output sees (:func:`dilpose.batches.receptive_field`)."""
        # the one definition; imported here to keep config light
        from .batches import receptive_field

        return receptive_field(self.filter_widths)

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["receptive_field"] = self.receptive_field
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
            + f", receptive_field={self.receptive_field})"
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
    # seeds 0-2 shows no clear difference (bf16 - fp32: -0.4 mm [-1.3, 0.5]) and trains ~1.2x faster
    # on 2 CPU cores. The smoke profile stays fp32: CI's pinned numbers were measured in fp32.
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
#: minutes: on the default profile that needs the 27-frame model (about 40 s each; notebook 02
#: found it level with 243 frames on this data), the same for every arm.
NOTEBOOK_SETTINGS: dict[str, dict[str, dict]] = {
    "03": {"default": {"filter_widths": (3, 3, 3)}},
    # 04 trains 14 models, half of them with two networks on two batches per step: the 27-frame
    # model keeps the notebook within its 25 minutes (see notebooks/04_semi_supervised.py).
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
    """

    warmup_epochs: int = 8  # VideoPose3D's default is 1 of 80; it advises more on smaller data
    trajectory_weight: float = 1.0
    unlabelled_weight: float = 1.0
    bone_weight: float = 1.0

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
