"""An arm's results ``{seed: {unit: error_mm}}``: checks, weights and the units' structure.

A unit is one camera view of one clip, named ``"subject/action/camera N"``. The views of a clip
show the same motion and the clips of a subject the same person, so :mod:`dilpose.stats` resamples
whole subjects; :func:`structure` finds them (and counts subjects, clips and views in a
:class:`Design`). Bad input raises :class:`DataError` naming the arm and the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from .errors import DataError

SOURCE = "stats"
_SHOW = 5  # how many offending unit names an error message lists


@dataclass(frozen=True)
class Design:
    """How much data an interval rests on: test subjects, clips (subject/action), views (units) and
    seeds (per arm), and which level the bootstrap re-drew (``"subject"`` or ``"clip"``)."""

    n_subjects: int
    n_clips: int
    n_views: int
    seeds_a: tuple[int, ...]
    seeds_b: tuple[int, ...] = ()
    cluster: str = "subject"

    def counts(self) -> str:
        """``"5 subjects, 59 clips, 236 views, 3 seeds"`` (``"3 + 1 seeds"`` when unpaired)."""
        s = len(self.seeds_a)
        if self.seeds_b and self.seeds_b != self.seeds_a:
            seeds = f"{s} + {len(self.seeds_b)} seeds"
        else:
            seeds = f"{s} seed{'s' if s != 1 else ''}"
        return (
            f"{self.n_subjects} subject{'s' if self.n_subjects != 1 else ''}, {self.n_clips} "
            f"clips, {self.n_views} views, {seeds}"
        )

    def to_dict(self) -> dict:
        """JSON-ready counts (``n_units`` repeats ``n_views`` for older readers)."""
        out = {
            "n_subjects": self.n_subjects,
            "n_clips": self.n_clips,
            "n_views": self.n_views,
            "n_units": self.n_views,
            "n_seeds": len(self.seeds_a),
            "cluster": self.cluster,
        }
        if self.seeds_b:
            out["n_seeds_b"] = len(self.seeds_b)
        return out


def structure(units, seeds_a, seeds_b, name):
    """The clusters of the units: ``(labels, design)``, labels (U,) ints numbering the clusters
    0..G-1. Clusters are subjects when there are at least two, else clips (``"subject/action"``),
    as ``design.cluster`` records."""
    parts = [str(u).rsplit("/", 1) for u in units]
    bad = [u for u, p in zip(units, parts) if len(p) != 2 or "/" not in p[0]]
    if bad:
        raise DataError(
            name,
            f"test units must be named 'subject/action/camera' so that views of one clip and "
            f"clips of one subject are resampled together; {listing(bad)} are not",
        )
    clips = [p[0] for p in parts]
    subjects = [c.split("/", 1)[0] for c in clips]
    n_sub, n_clip = len(set(subjects)), len(set(clips))
    level, keys = ("subject", subjects) if n_sub >= 2 else ("clip", clips)
    if len(set(keys)) < 2:
        raise DataError(name, "need at least 2 test clips to estimate an interval, got 1")
    index = {k: i for i, k in enumerate(sorted(set(keys)))}
    labels = np.array([index[k] for k in keys])
    return labels, Design(n_sub, n_clip, len(units), tuple(seeds_a), tuple(seeds_b), level)


def listing(names) -> str:
    """``"3 units: 'a', 'b', 'c'"``, at most _SHOW names, sorted."""
    names = sorted(names, key=str)
    shown = ", ".join(repr(n) for n in names[:_SHOW])
    more = f" and {len(names) - _SHOW} more" if len(names) > _SHOW else ""
    return f"{len(names)} unit{'s' if len(names) != 1 else ''}: {shown}{more}"


def matrix(errors, name: str) -> tuple[tuple[int, ...], tuple[str, ...], np.ndarray]:
    """Validate one arm and return (sorted seeds, sorted units, errors as a (seeds, units)
    array)."""
    if not isinstance(errors, Mapping):
        raise DataError(
            name,
            f"results must be a dict {{seed: {{unit: error_mm}}}}, got {type(errors).__name__}",
        )
    if not errors:
        raise DataError(name, "no seeds: the arm has no results")
    for s in errors:
        if isinstance(s, bool) or not isinstance(s, Integral):
            raise DataError(
                name,
                f"seeds must be integers, got {s!r} ({type(s).__name__}); "
                f"convert the keys with int() (e.g. after reading JSON)",
            )
    seeds = tuple(sorted(int(s) for s in errors))
    if len(set(seeds)) != len(errors):
        raise DataError(name, "the same seed appears twice among the keys")
    by_seed = {int(s): r for s, r in errors.items()}
    for s in seeds:
        if not isinstance(by_seed[s], Mapping):
            raise DataError(
                name,
                f"seed {s}: expected a dict {{unit: error_mm}}, got {type(by_seed[s]).__name__}",
            )
    all_units = set().union(*(by_seed[s].keys() for s in seeds))
    for s in seeds:
        missing = all_units - set(by_seed[s])
        if missing:
            raise DataError(
                name,
                f"seed {s} lacks results that other seeds have, for {listing(missing)}; "
                f"every seed must be evaluated on the same units",
            )
    units = tuple(sorted(all_units, key=str))
    if len(units) < 2:
        raise DataError(
            name, f"need at least 2 test units to estimate an interval, got {len(units)}"
        )
    e = np.empty((len(seeds), len(units)))
    for i, s in enumerate(seeds):
        for j, u in enumerate(units):
            v = by_seed[s][u]
            try:
                e[i, j] = float(v)
            except (TypeError, ValueError):
                raise DataError(
                    name, f"seed {s}, unit {u!r}: error must be a number, got {v!r}"
                ) from None
    bad = ~np.isfinite(e)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DataError(
            name,
            f"{int(bad.sum())} error value(s) are NaN or infinite, e.g. seed "
            f"{seeds[i]}, unit {units[j]!r}: {e[i, j]}",
        )
    return seeds, units, e


def apply_weights(units, mats, weights):
    """Return (units, matrices, weight vector) with zero-weight units dropped; validates weights."""
    if weights is None:
        return units, mats, np.ones(len(units))
    if not isinstance(weights, Mapping):
        raise DataError(
            SOURCE, f"weights must be a dict {{unit: weight}}, got {type(weights).__name__}"
        )
    missing = set(units) - set(weights)
    if missing:
        raise DataError(SOURCE, f"weights lack {listing(missing)}")
    try:
        w = np.array([float(weights[u]) for u in units])
    except (TypeError, ValueError):
        raise DataError(SOURCE, "weights must be numbers") from None
    if not np.isfinite(w).all():
        raise DataError(
            SOURCE,
            f"weights must be finite, got NaN or infinite for "
            f"{listing(u for u, x in zip(units, w) if not np.isfinite(x))}",
        )
    if (w < 0).any():
        raise DataError(
            SOURCE,
            f"weights must not be negative: "
            f"{listing(u for u, x in zip(units, w) if x < 0)} have negative weight",
        )
    keep = w > 0
    if keep.sum() < 2:
        raise DataError(
            SOURCE, f"need at least 2 test units with a positive weight, got {int(keep.sum())}"
        )
    units = tuple(u for u, k in zip(units, keep) if k)
    return units, [m[:, keep] for m in mats], w[keep]
