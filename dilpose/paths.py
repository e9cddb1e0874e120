"""Every path the project uses, anchored at the package, never at the working directory.

papermill, nbval and a person in JupyterLab each start a notebook in a different directory, so all
paths are resolved from this file's location. ``DILPOSE_REPORTS`` overrides the reports folder (the
tests use it so that they never overwrite the committed reports); ``DILPOSE_SHARED`` overrides where
the optional ``../shared`` folder (raw motion capture, camera JSON) is looked for.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
DATA_DIR = REPO_ROOT / "data"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
RESOURCES_DIR = PACKAGE_DIR / "resources"

#: The committed default dataset: CMU and HDM05 motion capture converted by :mod:`dilpose.bvh`,
#: one file per source because their terms differ (:mod:`dilpose.datasets.mocap_files`).
DEFAULT_DATA_FILES = (DATA_DIR / "cmu_mocap_3d.npz", DATA_DIR / "hdm05_mocap_3d.npz")
#: One frame of notebook 01's example clip as its BVH file has it (hierarchy, channel values), so
#: that the notebook's forward-kinematics walk-through runs without the raw BVH files.
BVH_EXAMPLE = DATA_DIR / "bvh_example.json"
#: Human3.6M camera parameters shipped as package data.
H36M_CAMERAS = RESOURCES_DIR / "h36m_cameras.json"


def user_data_dir() -> Path:
    """Where the user's own dataset files (VideoPose3D's Human3.6M npz) are looked for: ``data/``,
    or ``DILPOSE_DATA_DIR`` when set."""
    return Path(os.environ.get("DILPOSE_DATA_DIR", DATA_DIR)).resolve()


#: The folder the explorer's "lift result" box may read. ``dilpose.app`` sets it for its kernels
#: (which run in build/explorer/) to the folder ``make explore`` was started in.
EXPLORE_ROOT_ENV = "DILPOSE_EXPLORE_ROOT"


def explore_root() -> Path:
    """The folder the explorer reads lift results from: ``DILPOSE_EXPLORE_ROOT``, else the current
    folder."""
    return Path(os.environ.get(EXPLORE_ROOT_ENV) or os.getcwd()).resolve()


def reports_dir() -> Path:
    """Root of the generated reports (``reports/`` in the repository unless ``DILPOSE_REPORTS`` is
    set)."""
    return Path(os.environ.get("DILPOSE_REPORTS", REPO_ROOT / "reports")).resolve()


def metrics_dir() -> Path:
    return reports_dir() / "metrics"


def figures_dir() -> Path:
    return reports_dir() / "figures"


def executed_dir() -> Path:
    return reports_dir() / "executed"


def bench_dir() -> Path:
    return reports_dir() / "bench"


def checkpoints_dir() -> Path:
    """Model checkpoints; kept out of git (see .gitignore)."""
    return reports_dir() / "checkpoints"


def shared_dir() -> Path | None:
    """The optional ``../shared`` folder beside the clone, or None when it is absent."""
    env = os.environ.get("DILPOSE_SHARED")
    candidate = Path(env) if env else REPO_ROOT.parent / "shared"
    return candidate.resolve() if candidate.is_dir() else None


def shared_data_dir() -> Path | None:
    """``../shared/data`` (the raw motion capture folders and their manifests), or None when
    absent."""
    shared = shared_dir()
    if shared is None or not (shared / "data").is_dir():
        return None
    return shared / "data"
