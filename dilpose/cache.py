"""The model cache: a trained variant is stored under a key made from everything that determines it,
so that re-running the notebook series trains only what changed. :func:`train_cached` trains or
loads through it.

The key hashes (see :func:`model_key`):

* the run configuration, minus what only changes evaluation or naming (``profile``, ``flip_test``,
  ``eval_cameras``) or where the run executes (``device``), with the precision the Trainer resolved
  (:attr:`dilpose.train.Trainer.precision`) in place of the setting;
* the regulariser and the objective (by name and parameters);
* the training data: a fingerprint of every training sequence's 2D input, 3D target and camera;
* the 2D input layout, and the input convention (:mod:`dilpose.input_norm`) where it is not
  ``screen`` (so that every key made before conventions existed stays what it was);
* the code that decides the trained weights (:data:`KEYED_CODE`): the syntax tree of those modules
  without docstrings, comments or the wording of error messages. Reformatting, rewording, progress
  output (:mod:`dilpose.callbacks`), checkpoint reading (:mod:`dilpose.checkpoints`) and reporting
  (:mod:`dilpose.evaluate`) retrain nothing; any change to the numeric code retrains everything
  (the safe direction). :data:`UNKEYED_CODE` says why each other module the training code imports
  is left out.

The seed is part of the configuration. Files live in ``reports/checkpoints/`` as ``<key>.pt`` (the
finished model, a normal checkpoint), ``<key>.json`` (what the key was made of, and the model file's
sha256) and ``<key>.partial.pt`` (the model in training, written after every epoch): an interrupted
run resumes from its last finished epoch. A finished model is served only if its sha256 matches the
record and its weights are finite; a damaged one is refused with one line and trained again. The
file name does not depend on the notebook that asked for the model, so notebooks share models:
notebook 03's dropout arm with seed 0 is notebook 02's main model. ``make paper RETRAIN=1`` trains
every model again once (see :func:`retrain_since`).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import input_norm, limits, objectives, paths
from . import skeleton as sk
from .checkpoints import check_finite, load_checkpoint
from .config import NOT_TRAINING_FIELDS, Config
from .datasets.base import Sequence
from .errors import ConfigError, DataError
from .fileio import remove_stale_temporaries, sha256, write_json
from .train import Trainer

#: Modules whose code decides the trained weights (package-relative paths): the training step and
#: schedule, the model and its regularisers, weight pruning, the objectives and the formulas they
#: use, the batches (windows, flip augmentation through the skeleton's left/right swap), the camera
#: (reprojection), the precision handling and the settings.
KEYED_CODE = (
    "train.py",
    "model.py",
    "regularizers.py",
    "pruning.py",
    "objectives.py",
    "metrics.py",
    "batches.py",
    "skeleton.py",
    "camera.py",
    "precision.py",
    "config.py",
)
#: Keyed modules of which only some top-level names decide the weights (imports are always kept).
#: The rest of config.py is the profiles' and notebooks' settings tables, which reach the key as the
#: values they set, so editing one notebook's settings retrains only the models whose values change.
KEYED_PARTS = {
    "config.py": ("PRECISIONS", "positive_int", "check_precision", "ModelConfig", "Config"),
}
#: The other project modules the keyed code imports, and why they cannot change the trained
#: weights.
UNKEYED_CODE = {
    "callbacks": "progress display and the epoch log (reads the numbers, never changes them)",
    "checkpoints": "checkpoint reading, writing and format checks",
    "evaluate": "evaluation and Table I (the trainer's validation only reports)",
    "devices": "where the run executes (the device is not part of the key, by design)",
    "fileio": "atomic file writing",
    "errors": "error types",
    "paths": "where files live",
    "datasets": "dataset registry and the sequence type; the data itself is fingerprinted",
    "limits": (
        "the bounds every reader checks: a refused file never trains, and what is read is "
        "fingerprinted as data"
    ),
    "noise": (
        "the data's noise settings: configuration values (keyed as values); training windows draw "
        "no noise"
    ),
}
#: Where the keyed code is read from (tests point it at an edited copy of the package).
CODE_ROOT = Path(__file__).parent


def code_version(root: Path | None = None) -> str:
    """sha256 (16 hex digits) of the code that decides the trained weights (:data:`KEYED_CODE`,
    read under ``root``, default :data:`CODE_ROOT`): each module's normalised syntax tree."""
    root = CODE_ROOT if root is None else Path(root)
    h = hashlib.sha256()
    for name in KEYED_CODE:
        path = root / name
        if path.is_file():
            h.update(name.encode())
            h.update(_code_only(path.read_text(encoding="utf-8"), KEYED_PARTS.get(name)).encode())
    return h.hexdigest()[:16]


def _defines(node: ast.stmt) -> set[str]:
    """The top-level names a statement defines (imports define nothing here: they are kept)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return {t.id for t in targets if isinstance(t, ast.Name)}


def _is_text(node) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


class _Normalise(ast.NodeTransformer):
    """Drop docstrings, and the wording of error messages (``raise X("...")``, ``assert c, "..."``):
    text that cannot change a number."""

    def generic_visit(self, node):
        node = super().generic_visit(node)
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if _is_text(body[0].value):
                node.body = body[1:] or [ast.Pass()]
        return node

    def visit_Raise(self, node):
        for sub in ast.walk(node):
            for name, value in ast.iter_fields(sub):
                if isinstance(value, list):
                    setattr(sub, name, [ast.Constant("") if _is_text(v) else v for v in value])
                elif _is_text(value):
                    setattr(sub, name, ast.Constant(""))
        return node

    def visit_Assert(self, node):
        node.msg = None
        return node


def _code_only(source: str, names: Seq[str] | None = None) -> str:
    """``ast.dump`` of ``source`` without docstrings or error-message text (comments and layout are
    not in the tree); with ``names``, only imports and the top-level statements defining those."""
    tree = ast.parse(source)
    if names is not None:
        tree.body = [
            node
            for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom)) or _defines(node) & set(names)
        ]
    return ast.dump(_Normalise().visit(tree))


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
    precision: str,
    normalization: str = input_norm.SCREEN,
) -> dict:
    """Everything the key is made from, as a JSON-ready dict (stored beside the model).

    precision: the training precision the Trainer resolved (``fp32``/``bf16``,
    :attr:`dilpose.train.Trainer.precision`), which replaces the setting: ``auto`` trains
    differently on machines with and without native bf16. normalization: the input convention the
    training 2D is in; recorded as ``"input"`` only when it is not ``screen``.
    """
    if precision not in ("fp32", "bf16"):
        raise ValueError(
            f"the key needs the resolved precision, 'fp32' or 'bf16', not {precision!r}"
        )
    settings = {k: v for k, v in cfg.to_dict().items() if k not in NOT_TRAINING_FIELDS}
    settings["precision"] = precision
    inputs = {
        "config": json.loads(json.dumps(settings, default=str)),
        "objective": objective,
        "layout_2d": layout_2d.name,
        "data": data_fingerprint(train_sequences),
        "code": code_version(),
    }
    # The data fingerprint already differs when the same clips are normalised another way; the
    # convention is keyed as well so that a model is never served to a run that declares another.
    # Screen adds nothing: the keys of every model trained before conventions existed stay valid.
    if input_norm.check_convention(normalization) != input_norm.SCREEN:
        inputs["input"] = normalization
    return inputs


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

    def check_paths(self, alias: Path | None = None) -> None:
        """DataError now, before any training, if a folder stands where the cache keeps a file."""
        for path in (self.model, self.partial, self.sidecar, alias):
            if path is not None and path.is_dir():
                raise DataError(path, "is a directory where the model cache keeps a file")

    def damage(self) -> str | None:
        """Why the finished model may not be served (None: it may): its sha256 differs from the
        one recorded when it was finished, it cannot be read as a checkpoint, or its weights are
        not finite."""
        try:
            record = limits.read_json(self.sidecar, "model cache record")
        except DataError:
            return f"its record {self.sidecar.name} is missing or unreadable"
        recorded = record.get("weights_sha256") if isinstance(record, dict) else None
        if not isinstance(recorded, str):
            return f"its record {self.sidecar.name} holds no checksum"
        if sha256(self.model) != recorded:
            return "its sha256 differs from the one recorded when it was trained"
        try:
            ckpt = load_checkpoint(self.model)
            check_finite(self.model, ckpt["model"])
        except DataError as e:
            return e.problem
        return None


def entry(
    cfg: Config,
    train_sequences: Seq,
    layout_2d: sk.Skeleton,
    objective: dict,
    precision: str,
    normalization: str = input_norm.SCREEN,
) -> Entry:
    """The cache entry of a run (see :func:`key_inputs`)."""
    inputs = key_inputs(cfg, train_sequences, layout_2d, objective, precision, normalization)
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


# --------------------------------------------------------------------------------------------------
# Train or load
# --------------------------------------------------------------------------------------------------
def train_cached(
    cfg: Config,
    train: Seq[Sequence],
    layout_2d: sk.Skeleton = sk.COCO17,
    name: str = "model",
    objective: objectives.Objective | None = None,
    unlabelled: Seq[Sequence] | None = None,
    callbacks: Seq = (),
    progress: bool = False,
    normalization: str = input_norm.SCREEN,
) -> tuple[Trainer, bool]:
    """Train through the model cache: ``(trainer, trained_now)``.

    normalization: the input convention the sequences' 2D is in (:mod:`dilpose.input_norm`;
    the caller normalised it). Every checkpoint written records it, a cached model of another
    convention is never served, and resuming a partial checkpoint of another one is refused.

    A finished model with the same key is loaded instead of trained (``trained_now`` False; its
    history, and so its training time, are the stored ones) if it passes :meth:`Entry.damage`'s
    checks; a damaged one is refused with one line on stderr and trained again. Otherwise training
    resumes from the key's partial checkpoint if an earlier run was interrupted, writes it after
    every epoch, and on completion renames it to the finished model, with a JSON record of what the
    key was made of and the file's sha256. ``reports/checkpoints/<name>.pt`` then names the model.
    """
    objective = objective if objective is not None else objectives.Supervised()
    try:
        input_norm.check_convention(normalization)
    except ValueError as e:
        raise ConfigError(f"normalization: {e}") from None
    trainer = Trainer(
        cfg,
        train,
        layout_2d=layout_2d,
        objective=objective,
        unlabelled=unlabelled,
        callbacks=callbacks,
        progress=progress,
    )
    # Before any checkpoint is written or restored: both record and check the convention.
    trainer.input_normalization = normalization
    entry_ = entry(
        trainer.cfg,
        list(train) + list(unlabelled or []),
        layout_2d,
        # The unlabelled stream's own fingerprint: moving a clip from one stream to the other
        # leaves the concatenation above unchanged but trains another model.
        {**objective.spec(), "unlabelled": data_fingerprint(unlabelled) if unlabelled else False},
        trainer.precision,  # resolved once, by the trainer
        normalization,
    )
    alias = entry_.model.with_name(f"{name}.pt")
    entry_.check_paths(alias)
    trained_now = _serve(entry_, trainer)
    if trained_now:
        trainer.set_checkpoint(entry_.partial)
        trainer.fit(resume=True)
        if trainer.rank == 0:
            _finish(entry_, trainer, name)
    trainer.checkpoint = entry_.model
    if trainer.rank == 0:
        _alias(entry_.model, alias)
    return trainer, trained_now


def _serve(entry_: Entry, trainer: Trainer) -> bool:
    """Load the finished model into ``trainer`` if there is a sound one; whether training is due."""
    if not entry_.finished():
        return True
    problem = entry_.damage()
    if problem is None:
        trainer.restore(entry_.model)
        return False
    print(
        f"[dilpose] model cache: refused {entry_.model} ({problem}); training it again",
        file=sys.stderr,
    )
    if trainer.rank == 0:
        for path in (entry_.model, entry_.sidecar):
            with contextlib.suppress(OSError):  # a read-only cache fails, by name, when training
                path.unlink(missing_ok=True)
    return True


def _finish(entry_: Entry, trainer: Trainer, name: str) -> None:
    """The partial checkpoint becomes the finished model, its record written first: a run killed in
    between leaves a partial checkpoint to resume from, never a model without its checksum."""
    write_json(
        entry_.sidecar,
        {
            "key": entry_.key,
            "name": name,
            **entry_.inputs,
            "train_seconds": round(sum(e.seconds for e in trainer.history.epochs), 1),
            "weights_sha256": sha256(entry_.partial),
        },
    )
    try:
        os.replace(entry_.partial, entry_.model)
    except OSError as e:
        raise DataError(entry_.model, f"cannot write here: {e.strerror or e}") from None


def _alias(target: Path, alias: Path) -> None:
    """``alias`` names the same file as ``target`` (a hard link; a copy where links fail), replacing
    what it named before: ``reports/checkpoints/02_main.pt`` stays the latest main model.

    Renaming a hard link onto another link of the same file does nothing (POSIX), which would leave
    the temporary link behind, so an alias that already names ``target`` is left alone.
    """
    if alias == target or (alias.is_file() and os.path.samefile(target, alias)):
        return
    remove_stale_temporaries(alias)  # links of killed runs
    tmp = alias.with_name(f".{alias.name}.{os.getpid()}.link.tmp")
    try:
        tmp.unlink(missing_ok=True)
        try:
            os.link(target, tmp)
        except OSError:
            shutil.copyfile(target, tmp)
        os.replace(tmp, alias)
    except OSError as e:  # a full or read-only disk: no half-written copy is left behind
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise DataError(alias, f"cannot write here: {e.strerror or e}") from None
