"""Pretrained lifting models shipped inside the package, and the trained models in the model cache.

The shipped models (``dilpose/resources/models/``, listed with their sha256 and test metrics in
``models.json``; made by ``make weights``, :mod:`dilpose.weights`) let ``dilpose lift`` work right
after installation, with no training:

* ``lifter-243``: COCO-17 2D in, H36M-17 3D out, 243 frames, symmetric (the paper's model, at the
  default profile's 128 channels); ``dilpose lift`` uses it unless given ``--checkpoint``;
* ``lifter-243-causal``: its causal twin, which sees only past frames; ``dilpose lift --stream``
  uses it;
* ``lifter-243-focal``: reads focal-normalised input (:mod:`dilpose.input_norm`); ``dilpose lift``
  uses it when the focal length is known (``--focal``, ``--fov`` or the keypoints file).

Every shipped file is checked against its sha256 before it is loaded (and loaded weights-only, as
every checkpoint is: :func:`dilpose.checkpoints.load_checkpoint`). ``MODEL_CARD.md`` describes them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from . import limits, paths
from .errors import DataError
from .fileio import sha256

MODELS_DIR = paths.RESOURCES_DIR / "models"
MANIFEST = MODELS_DIR / "models.json"
#: The shipped model ``dilpose lift`` uses, and the one ``dilpose lift --stream`` uses.
DEFAULT = "lifter-243"
DEFAULT_STREAM = "lifter-243-causal"
#: The shipped model ``dilpose lift`` uses when the focal length is known: it reads
#: focal-normalised input (:data:`dilpose.input_norm.FOCAL`).
DEFAULT_FOCAL = "lifter-243-focal"


@dataclass(frozen=True)
class ModelInfo:
    """One model, as ``dilpose models`` lists it. ``test_mpjpe_mm`` is the MPJPE (mean over
    actions, mm) on the default data's test subjects, None where it was not measured."""

    name: str
    where: str  # "shipped" or "cache"
    file: Path
    input_layout: str
    receptive_field: int
    causal: bool
    channels: int
    precision: str
    test_mpjpe_mm: float | None
    sha256: str = ""
    input_convention: str = "screen"  # dilpose.input_norm: what the 2D input is normalised by

    def row(self) -> dict:
        d = asdict(self)
        d["file"] = str(self.file)
        return d


def manifest(path: Path = MANIFEST) -> dict:
    """The shipped models' manifest: ``{"models": {name: entry}, ...}``; a clear error if it is
    missing or malformed."""
    try:
        doc = limits.read_json(path, "models manifest")
    except DataError as e:
        if not Path(path).exists():
            raise DataError(
                path, "no shipped models: the manifest is missing (run `make weights`)"
            ) from None
        raise DataError(path, f"unreadable manifest: {e.problem}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), dict) or not doc["models"]:
        raise DataError(path, "manifest must hold a non-empty 'models' dict")
    need = {"file", "sha256", "input_layout", "receptive_field", "causal", "channels", "test"}
    for name, entry in doc["models"].items():
        if not isinstance(entry, dict) or not need <= set(entry):
            raise DataError(path, f"model {name!r} must record {sorted(need)}")
    return doc


def shipped(path: Path = MANIFEST) -> list[ModelInfo]:
    """The models shipped with the package, in manifest order."""
    doc = manifest(path)
    return [
        ModelInfo(
            name,
            "shipped",
            Path(path).parent / e["file"],
            e["input_layout"],
            int(e["receptive_field"]),
            bool(e["causal"]),
            int(e["channels"]),
            e.get("precision", ""),
            e["test"]["mpjpe"]["action_mean"],
            e["sha256"],
            e.get("input_convention", "screen"),
        )
        for name, e in doc["models"].items()
    ]


def path_of(name: str, path: Path = MANIFEST) -> Path:
    """The file of shipped model ``name``, after checking that its bytes match the manifest's sha256
    (a damaged or replaced file is refused before torch reads it)."""
    models = {m.name: m for m in shipped(path)}
    if name not in models:
        raise DataError(path, f"no shipped model {name!r}; shipped: {sorted(models)}")
    m = models[name]
    if not m.file.is_file():
        raise DataError(m.file, f"shipped model {name!r} is missing (reinstall, or `make weights`)")
    digest = sha256(m.file)
    if digest != m.sha256:
        raise DataError(
            m.file, f"sha256 {digest} differs from the manifest's {m.sha256}: the file is damaged"
        )
    return m.file


def _convention(record_input) -> str:
    """A cache record's input convention: its ``"input"`` names one when it is not ``screen``
    (older records may hold a dict there, or nothing: screen)."""
    return record_input if isinstance(record_input, str) else "screen"


def cached(checkpoints: Path | None = None) -> list[ModelInfo]:
    """The trained models in the model cache (``reports/checkpoints/<key>.json`` beside each
    ``<key>.pt``), newest first; unreadable records are skipped with their reason in ``name``."""
    folder = checkpoints if checkpoints is not None else paths.checkpoints_dir()
    out = []
    for record in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        pt = record.with_suffix(".pt")
        if not pt.is_file():
            continue
        try:
            doc = limits.read_json(record, "model cache record")
            cfg = doc["config"]
            widths = cfg["filter_widths"]
            rf = 1
            for w in widths:
                rf *= int(w)
            out.append(
                ModelInfo(
                    doc.get("name", record.stem),
                    "cache",
                    pt,
                    # a record's "input", where present, names a non-screen input convention
                    doc["layout_2d"]
                    if "layout_2d" in doc
                    else doc.get("input", {}).get("layout", "coco17"),
                    rf,
                    bool(cfg["causal"]),
                    int(cfg["channels"]),
                    str(cfg.get("precision", "")),
                    None,
                    input_convention=_convention(doc.get("input")),
                )
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            out.append(
                ModelInfo(f"unreadable record: {e}", "cache", record, "", 0, False, 0, "", None)
            )
    return out
