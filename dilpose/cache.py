"""The model cache: a trained variant is stored under a key made from everything that determines it,
so that re-running the notebook series trains only what changed.

The key hashes (see :func:`model_key`):

* the run configuration, minus what only changes evaluation or naming (``profile``, ``flip_test``,
  ``eval_cameras``) or where the run executes (``device``);
* the regulariser and the objective (by name and parameters);
* the training data: a fingerprint of every training sequence's 2D input, 3D target and camera;
* the 2D input layout;
* the code that trains: the syntax tree of the model, trainer, batch, regulariser, objective and
  loss modules without docstrings and comments, so reformatting or rewording retrains nothing while
  any change to the code retrains everything (the safe direction).

The seed is part of the configuration. Files live in ``reports/checkpoints/`` as ``<key>.pt`` (the
finished model, a normal checkpoint) and ``<key>.partial.pt`` (the model in training, written after
every epoch): an interrupted run resumes from its last finished epoch. The file name does not
depend on the notebook that asked for the model, so notebooks share models: notebook 03's dropout
arm with seed 0 is notebook 02's main model. ``make paper RETRAIN=1`` trains every model again
once (see :func:`retrain_since`).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import paths
from . import skeleton as sk
from .config import NOT_TRAINING_FIELDS, Config

#: Modules whose source determines what training produces.
_CODE = (
    "model.py",
    "train.py",
    "batches.py",
    "regularizers.py",
    "pruning.py",
    "objectives.py",
    "metrics.py",
)


def code_version() -> str:
    """sha256 (16 hex digits) of the training code: each module's syntax tree, docstrings
    removed."""
    h = hashlib.sha256()
    root = Path(__file__).parent
    for name in _CODE:
        path = root / name
        if path.is_file():
            h.update(name.encode())
            h.update(_code_only(path.read_text(encoding="utf-8")).encode())
    return h.hexdigest()[:16]


def _code_only(source: str) -> str:
    """``ast.dump`` of ``source`` without docstrings (comments and layout are not in the tree)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def data_fingerprint(sequences: Seq) -> str:
    """sha256 (16 hex digits) of the training sequences: names, 2D inputs, 3D targets,
    intrinsics."""
    h = hashlib.sha256()
    for seq in sequences:
        h.update(f"{seq.subject}|{seq.action}|{seq.camera}|".encode())
        for arr in (seq.keypoints_2d, seq.positions_3d, seq.intrinsics):
            if arr is None:
                h.update(b"none")
                continue
            arr = np.ascontiguousarray(arr)
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(arr.tobytes())
    return h.hexdigest()[:16]


def key_inputs(
    cfg: Config,
    train_sequences: Seq,
    layout_2d: sk.Skeleton,
    objective: dict,
    precision: str | None = None,
) -> dict:
    """Everything the key is made from, as a JSON-ready dict (stored beside the model).

    precision: the resolved training precision (``fp32``/``bf16``), which replaces ``auto``: the
    same config trains differently on machines with and without native bf16.
    """
    settings = {k: v for k, v in cfg.to_dict().items() if k not in NOT_TRAINING_FIELDS}
    if precision is not None:
        settings["precision"] = precision
    return {
        "config": json.loads(json.dumps(settings, default=str)),
        "objective": objective,
        "layout_2d": layout_2d.name,
        "data": data_fingerprint(train_sequences),
        "code": code_version(),
    }


def model_key(inputs: dict) -> str:
    """20 hex digits of sha256 over :func:`key_inputs` (canonical JSON)."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class Entry:
    """Where one variant lives in the cache."""

    key: str
    inputs: dict

    @property
    def model(self) -> Path:
        return paths.checkpoints_dir() / f"{self.key}.pt"

    @property
    def partial(self) -> Path:
        return paths.checkpoints_dir() / f"{self.key}.partial.pt"

    @property
    def sidecar(self) -> Path:
        return paths.checkpoints_dir() / f"{self.key}.json"

    def finished(self) -> bool:
        """A finished model exists, and was written after a retrain request if there is one."""
        if not self.model.is_file():
            return False
        since = retrain_since()
        return since is None or self.model.stat().st_mtime >= since


def entry(
    cfg: Config,
    train_sequences: Seq,
    layout_2d: sk.Skeleton,
    objective: dict,
    precision: str | None = None,
) -> Entry:
    inputs = key_inputs(cfg, train_sequences, layout_2d, objective, precision)
    return Entry(model_key(inputs), inputs)


def retrain_since() -> float | None:
    """``DILPOSE_RETRAIN_SINCE`` (a Unix time, set by ``python -m dilpose.runner --retrain``):
    models finished before it are trained again; those finished after it (earlier in the same run,
    e.g. 02's main model when 03 asks for it) are reused."""
    value = os.environ.get("DILPOSE_RETRAIN_SINCE", "")
    try:
        return float(value) if value else None
    except ValueError:
        return None
