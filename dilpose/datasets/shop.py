"""The shop dataset: a folder in the shop format (:mod:`dilpose.datasets.shop_format`, documented in
``data/README.md``, "The shop format") as a :class:`~dilpose.datasets.base.PoseData`.

:func:`load` returns the folder's clips with missed detections interpolated over time
(:func:`dilpose.noise.fill_gaps`; how many is recorded in ``info``). The default folder is the
simulated shop (:func:`dilpose.datasets.shop_sim.ensure`), built on demand from the committed CMU
and HDM05 motion into ``data/shop_sim/`` (not committed). A real shop's capture, or HRI-I if
obtained, is loaded with ``path=<folder>``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import skeleton as sk
from ..noise import NoiseConfig, fill_gaps
from .base import DatasetSpec, PoseData
from .shop_format import MANIFEST, NAME, SIM_TEST_SUBJECTS, SIM_TRAIN_SUBJECTS, read
from .shop_sim import CREDIT, default_dir, ensure


def default_path() -> Path:
    """The simulated shop's folder (``data/shop_sim/``), built or not."""
    return default_dir()


def available(path: str | Path | None = None, subjects: tuple[str, ...] | None = None) -> bool:
    """A given folder has its manifest; the default (the simulated shop) is always available: it is
    built on demand from the committed motion."""
    return path is None or (Path(path) / MANIFEST).is_file()


def load(
    seed: int = 0,
    noise: NoiseConfig | None = NoiseConfig(),
    path: str | Path | None = None,
    subjects: tuple[str, ...] | None = None,
) -> PoseData:
    """A shop folder as :class:`PoseData` (default: the simulated shop, built if missing).

    The 2D detections come from the files, so ``seed`` and ``noise`` are not used (the simulator
    applied its own seeded noise when it wrote them). Missed detections (score 0) are interpolated
    per joint over time; their fraction is in ``info["missed_fraction"]``. ``info["labels"]``
    holds the per-frame labels ``[subject][action key]`` (T,) as action names' indices and
    ``info["actions"]`` the names.
    """
    if path is None:
        root = ensure()
    else:
        root = Path(path)
    raw = read(root, subjects)
    manifest, cams = raw["manifest"], raw["cameras"]
    positions, keypoints, scores, labels = {}, {}, {}, {}
    missed = total = 0
    for s, clips in raw["clips"].items():
        positions[s], keypoints[s], scores[s], labels[s] = {}, {}, {}, {}
        for key, clip in clips.items():
            positions[s][key] = clip["positions_3d"]
            labels[s][key] = clip["labels"]
            keypoints[s][key], scores[s][key] = [], []
            for c in range(len(cams)):
                kp, sc = clip["keypoints_2d"][c].copy(), clip["scores_2d"][c]
                kp[sc <= 0] = np.nan
                where = f"{root / manifest['subjects'][s]['file']}: {key} camera {c}"
                filled, gaps = fill_gaps(kp, sc, source=where)
                missed += int(gaps.sum())
                total += gaps.size
                keypoints[s][key].append(filled)
                scores[s][key].append(sc)
    split = {s: manifest["subjects"][s]["split"] for s in positions}
    info = {
        "source": str(root),
        "path": None if path is None else str(path),
        "actions": list(manifest["actions"]),
        "labels": labels,
        "subject_meta": {s: manifest["subjects"][s] for s in positions},
        "missed_fraction": missed / max(total, 1),
        "simulated": bool(manifest.get("simulated", False)),
        "title": manifest.get("title", ""),
        "credit": manifest.get("credit", ""),
        "seed": seed,
        "noise": None,
    }
    return PoseData(
        NAME,
        sk.COCO17,
        positions,
        keypoints,
        scores,
        {s: list(cams) for s in positions},
        tuple(s for s in sorted(positions) if split[s] == "train"),
        tuple(s for s in sorted(positions) if split[s] == "test"),
        fps=float(manifest["fps"]),
        info=info,
    )


SPEC = DatasetSpec(
    name=NAME,
    title="simulated shop (CMU and HDM05 motion), or a shop capture in the shop format",
    source=(
        "a shop folder (data/README.md, 'The shop format'); default: the simulated shop built "
        "on demand from data/{cmu,hdm05}_mocap_3d.npz into data/shop_sim/ "
        "(dilpose.datasets.shop_sim)"
    ),
    # the simulated shop's split; another folder's comes from its manifest
    train_subjects=SIM_TRAIN_SUBJECTS,
    test_subjects=SIM_TEST_SUBJECTS,
    cameras=4,
    fps=50.0,
    layout_2d=sk.COCO17,
    layout_3d=sk.H36M17,
    credit=CREDIT,
    load=load,
    available=available,
    options=("path", "subjects"),
)
