"""Every figure, table and metric goes to ``reports/`` through this module (atomically), and the
tests read the metrics back with :func:`load_metrics`."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from . import __version__, datasets, paths
from .fileio import atomic_open, write_json, write_text


def provenance(cfg=None) -> dict:
    """What produced a result: package and library versions, machine, the config and the credit
    its dataset asks for."""
    import numpy as np

    info = {
        "dilpose": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "system": platform.system(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:  # notebook 01 does not need torch
        pass
    if cfg is not None:
        info["config"] = cfg.to_dict()
        spec = datasets.find(cfg.dataset)
        if spec is not None:  # results on licensed data carry its credit (HDM05: CC BY-SA 3.0)
            info["data_credit"] = spec.credit
    return info


def save_metrics(name: str, metrics: dict, cfg=None) -> Path:
    """Write ``reports/metrics/<name>.json`` with a ``provenance`` block added."""
    return write_json(
        paths.metrics_dir() / f"{name}.json", {**metrics, "provenance": provenance(cfg)}
    )


def load_metrics(name: str) -> dict:
    return json.loads((paths.metrics_dir() / f"{name}.json").read_text())


def load_bench(name: str) -> dict | None:
    """``reports/bench/<name>.json`` written by ``make bench``, or None when it has not run."""
    path = paths.bench_dir() / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def save_figure(fig: Any, name: str, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG, or a plotly figure as standalone HTML, under
    reports/figures/."""
    if hasattr(fig, "savefig"):
        path = paths.figures_dir() / f"{name}.png"
        with atomic_open(path, "wb") as f:
            fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight")
        return path
    if hasattr(fig, "to_html"):
        # The plotly.js bundle is loaded from its CDN to keep the report small (a few hundred kB).
        return write_text(
            paths.figures_dir() / f"{name}.html",
            fig.to_html(include_plotlyjs="cdn", full_html=True),
        )
    raise TypeError(f"cannot save a {type(fig).__name__} as a figure")
