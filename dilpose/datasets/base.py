"""What every dataset module builds on: :class:`DatasetSpec`, and the checks shared by the readers
of VideoPose3D's ``data_3d_*`` / ``data_2d_*`` files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import paths
from .. import skeleton as sk
from ..dataset import ExampleViews, PoseData, action_category
from ..errors import DataError


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: the facts a reader needs before loading it, and how to load it.

    ``load(seed=..., noise=..., **options) -> PoseData`` reads (or renders) it;
    ``available(**options)`` says whether its files are in place without reading them. Both take the
    keyword ``options`` named here (a data folder, a 2D source, ...); ``seed`` and ``noise`` only
    matter to datasets that simulate their 2D detections.
    """

    name: str  # what configs, the CLI and the notebooks' parameters cells say
    title: str  # one line for tables and figure titles
    source: str  # where its files come from and where to put them
    train_subjects: tuple[str, ...]  # the split of its usual protocol
    test_subjects: tuple[str, ...]
    cameras: int  # views per subject
    fps: float  # frames per second of its 3D and 2D
    layout_2d: sk.Skeleton  # joints of the 2D inputs (with a choice of 2D source: the default's)
    layout_3d: sk.Skeleton  # joints of the 3D ground truth
    credit: str  # licence and acknowledgement to show with results
    load: Callable[..., PoseData]
    available: Callable[..., bool]
    options: tuple[str, ...] = ()  # keyword options load() and available() accept
    calibrated: bool = (
        True  # intrinsics known: the 3D can be projected (reprojection losses, figures)
    )
    action_of: Callable[[str], str] = (
        action_category  # action name -> the category tables pool it under
    )
    table_i: bool = False  # its actions are Human3.6M's: results fill the paper's Table I columns
    # Figures of one clip in every camera; None: the 3D projected through the cameras beside the 2D
    # inputs.
    example_views: Callable[[PoseData, str, str], ExampleViews] | None = None
    # (Config field, load option): the run settings it reads, e.g. ("h36m_2d_source", "source_2d").
    config_options: tuple[tuple[str, str], ...] = ()

    def options_from(self, cfg) -> dict:
        """The load options a :class:`dilpose.config.Config` sets for this dataset."""
        return {option: getattr(cfg, setting) for setting, option in self.config_options}


def files_present(data_dir: str | Path | None, names: list[str]) -> bool:
    """Every file of ``names`` is in ``data_dir`` (default: :func:`paths.user_data_dir`)."""
    data_dir = Path(data_dir) if data_dir is not None else paths.user_data_dir()
    return all((data_dir / f).is_file() for f in names)


def missing_files(name: str, data_dir: Path, files: list[str], origin: str) -> DataError:
    """The error for a dataset whose files are not in ``data_dir``: which files, from where."""
    absent = [f for f in files if not (data_dir / f).is_file()]
    return DataError(
        data_dir, f"dataset {name!r} needs {' and '.join(absent or files)} in {data_dir} ({origin})"
    )


def views_for_mocap(
    path2d: Path, where: str, views: list[np.ndarray], frames: int, cameras: int
) -> list[np.ndarray]:
    """The 2D views of one clip, each cut to the motion capture's ``frames`` as VideoPose3D does (a
    few videos run longer than the capture); a view shorter than the capture, or a camera count
    other than ``cameras``, is a :class:`DataError` naming ``where`` (``subject/action``)."""
    if len(views) != cameras:
        raise DataError(path2d, f"{where}: expected {cameras} cameras, got {len(views)}")
    cut = []
    for c, v in enumerate(views):
        if len(v) < frames:
            raise DataError(
                path2d, f"{where} camera {c}: {len(v)} 2D frames but {frames} 3D frames"
            )
        cut.append(v[:frames])
    return cut
