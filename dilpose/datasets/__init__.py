"""Datasets by name: one module per dataset, one registry line each.

    from dilpose import datasets
    datasets.names()                     # ('mocap', 'h36m', 'humaneva', 'shop')
    datasets.get("h36m").test_subjects   # ('S9', 'S11')
    data = datasets.load("mocap", seed=0)  # a PoseData
    seqs = datasets.sequences(data, data.train_subjects)  # model-ready Sequence records

Each module (:mod:`~dilpose.datasets.mocap`, :mod:`~dilpose.datasets.h36m`,
:mod:`~dilpose.datasets.humaneva`, :mod:`~dilpose.datasets.shop`) says where its files come from,
its subjects and split, cameras and frame rate, and defines ``SPEC``, a :class:`DatasetSpec`.
Adding a dataset is one new module and its ``SPEC`` in :data:`_BUILT_IN` below; a test can
:func:`register` one of its own. The types every dataset loads into (:class:`PoseData`,
:class:`Sequence`, :class:`ExampleViews`) live in :mod:`dilpose.datasets.base`, which the dataset
modules import; they are re-exported here.

The embedded data's files are built by :mod:`dilpose.datasets.mocap_import` (``make data``) and
read by :mod:`dilpose.datasets.mocap_files`; the simulated shop is built by
:mod:`dilpose.datasets.shop_sim` in the format of :mod:`dilpose.datasets.shop_format`.

Importing this package reads no file: loading happens in :func:`load`.
"""

from __future__ import annotations

from ..errors import DataError
from ..noise import NoiseConfig
from . import h36m, humaneva, mocap, shop
from .base import (
    DatasetSpec,
    ExampleViews,
    PoseData,
    Sequence,
    action_category,
    coco_pose_3d,
    sequences,
)

__all__ = [
    "DEFAULT",
    "DatasetSpec",
    "ExampleViews",
    "PoseData",
    "Sequence",
    "action_category",
    "coco_pose_3d",
    "example_views",
    "find",
    "get",
    "load",
    "names",
    "register",
    "sequences",
    "unregister",
]

_BUILT_IN = (mocap.SPEC, h36m.SPEC, humaneva.SPEC, shop.SPEC)

#: The dataset a run uses unless told otherwise: the embedded one, which needs no download.
DEFAULT = mocap.SPEC.name

#: Earlier or longer names still accepted: old command lines keep working. "cmu" was the embedded
#: data's name while it held CMU clips only; it now names the grown data (CMU and HDM05).
ALIASES = {"cmu": mocap.SPEC.name, "cmu-default": mocap.SPEC.name, "human3.6m": h36m.SPEC.name}

_REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add a dataset; its name must be new (neither a registered name nor an alias)."""
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"register() takes a DatasetSpec, got {type(spec).__name__}")
    if spec.name in _REGISTRY or spec.name in ALIASES:
        raise DataError("dataset", f"a dataset named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a registered dataset (a test's own); unknown names are an error."""
    _REGISTRY.pop(get(name).name)


def names(aliases: bool = False) -> tuple[str, ...]:
    """The registered names, in registration order (with ``aliases=True``, then the aliases)."""
    return tuple(_REGISTRY) + (
        tuple(a for a, n in ALIASES.items() if n in _REGISTRY) if aliases else ()
    )


def find(name: str) -> DatasetSpec | None:
    """The spec registered under ``name`` or an alias of it, or None."""
    return _REGISTRY.get(ALIASES.get(name, name)) if isinstance(name, str) else None


def get(name: str) -> DatasetSpec:
    """The spec registered under ``name`` (or an alias); :class:`DataError` listing the known
    names."""
    spec = find(name)
    if spec is None:
        raise DataError(
            "dataset", f"unknown dataset {name!r}; known datasets: {', '.join(names())}"
        )
    return spec


def load(
    name: str | None = None,
    seed: int = 0,
    noise: NoiseConfig | None = NoiseConfig(),
    source_2d: str | None = None,
    **options,
) -> PoseData:
    """Load a dataset by name (default :data:`DEFAULT`): ``get(name).load(seed=seed, noise=noise,
    **options)``, with the dataset's category rule (``action_of``) recorded on the PoseData.

    source_2d: the value of ``Config.h36m_2d_source``, which the notebooks and the CLI pass for any
    dataset; a dataset receives it only where its spec maps that setting to one of its options
    (``config_options``). ``options`` are the dataset's own (:attr:`DatasetSpec.options`); any
    other is a :class:`DataError`.
    """
    spec = get(name if name is not None else DEFAULT)
    if source_2d is not None:
        options.update(
            {
                option: source_2d
                for setting, option in spec.config_options
                if setting == "h36m_2d_source"
            }
        )
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise DataError(
            spec.name, f"unknown option(s) {unknown}; this dataset takes {list(spec.options)}"
        )
    data = spec.load(seed=seed, noise=noise, **options)
    data.action_of = spec.action_of
    return data


def example_views(data: PoseData, subject: str, action: str) -> ExampleViews:
    """Clean projections and detector output of one clip in every camera (for figures).

    A dataset's spec may say how (the embedded data regenerates its detector output from the same
    seeded stream, before gap filling); otherwise the "clean" views are the 3D ground truth
    projected through the cameras and the detections are the 2D inputs.
    """
    data._check(subject, action)
    spec = find(data.name)
    if spec is not None and spec.example_views is not None:
        return spec.example_views(data, subject, action)
    cams = data.cameras[subject]
    clean = [cam.project(data.positions_3d[subject][action]) for cam in cams]
    return ExampleViews(
        cams, clean, list(data.keypoints[subject][action]), data.layout_3d, data.layout_2d
    )


for _spec in _BUILT_IN:
    register(_spec)
