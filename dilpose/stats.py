"""Deciding whether one trained variant beats another by statistics, not by a fixed margin.

Two variants of a model ("arms", e.g. the baseline and the dilated model) are each trained with a
few random seeds and evaluated on the same test units (a unit is one test sequence, such as
``"cmu09/walk 09_12/camera 0"``). The error is MPJPE in millimetres, so **lower is better**.

How to read ``"A better by 1.2 mm [0.4, 2.0]"``
------------------------------------------------

* ``1.2 mm`` is how much lower A's error is than B's. An arm's error is the mean over its seeds of
  the (optionally frame-weighted) mean error over the test units.
* ``[0.4, 2.0]`` is the 95 % confidence interval of that advantage, in mm: the range of advantages
  that are consistent with the results once we allow for the fact that the numbers depend on *which*
  test sequences happened to be in the test set and *which* training seeds happened to be run. Had
  we tested on other sequences of the same kind and trained with other seeds, the advantage would
  typically land inside that range. An interval that lies wholly above zero means the advantage is
  not plausibly a fluke of those choices.
* ``"no clear difference: -0.3 mm [-1.1, 0.5]"`` is printed whenever the interval contains 0. The
  number is then A's error minus B's (negative: A's error is the lower one), and the interval says
  that either arm may truly be the better one. It does *not* say that the arms are equal.

How the interval is made
------------------------

A percentile bootstrap: the results are re-drawn many times (2000 by default), each time picking
the test units with replacement and the seeds with replacement, and the difference is recomputed;
the interval spans the middle 95 % of those re-computed differences.

The re-drawing is **paired**. Both arms are scored on the very same test sequences, and sequences
differ much more from each other (a fast dance is far harder than a slow walk) than the arms differ
on any one sequence. Each bootstrap draw therefore picks the *same* sequences for both arms, so that
the shared difficulty cancels in the difference, just as it does in the real comparison; re-drawing
the arms' sequences independently would blow that between-sequence spread into the interval and
hide real differences. Seeds are paired in the same way when both arms were trained with the same
seed set (seed 0 of A goes with seed 0 of B); arms trained with different seed sets have their seeds
re-drawn independently.

Caveats: with only a handful of seeds the seed re-drawing captures seed-to-seed variation only
roughly (the bootstrap tends to make intervals a little too narrow with few samples), and with a
single seed per arm not at all; :class:`Comparison` records the seed counts so a report can say so.

Everything here is numpy only and deterministic for a given ``rng_seed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from .errors import DataError

__all__ = ["Interval", "Comparison", "arm_interval", "compare"]

SOURCE = "stats"
_SHOW = 5  # how many offending unit names an error message lists


@dataclass(frozen=True)
class Interval:
    """One arm's error (mm) with its bootstrap confidence interval.

    ``mean`` is the arm's statistic: the mean over seeds of the (weighted) mean error over test
    units, in mm. ``[lo, hi]`` is the ``confidence`` (95 % by default) interval: the range in which
    the arm's error would typically land had other test sequences of the same kind and other
    training seeds been used. ``n_seeds`` and ``n_units`` say how much data it rests on.
    """

    mean: float
    lo: float
    hi: float
    n_seeds: int
    n_units: int
    confidence: float = 0.95

    def to_dict(self) -> dict:
        """JSON-ready dictionary of the fields (errors in mm)."""
        return {
            "mean": float(self.mean),
            "lo": float(self.lo),
            "hi": float(self.hi),
            "n_seeds": int(self.n_seeds),
            "n_units": int(self.n_units),
            "confidence": float(self.confidence),
        }

    def __str__(self) -> str:
        d = _decimals(self.mean, self.lo, self.hi)
        return f"{_fmt(self.mean, d)} mm [{_fmt(self.lo, d)}, {_fmt(self.hi, d)}]"


@dataclass(frozen=True)
class Comparison:
    """The difference between two arms' errors (mm) with its bootstrap confidence interval.

    ``diff`` is ``statistic(A) - statistic(B)`` in mm, so a negative ``diff`` means A has the lower
    (better) error. ``[lo, hi]`` is the ``confidence`` interval of ``diff``: the range of
    differences consistent with the results, given that they depend on which test sequences and
    which training seeds were used. When the interval excludes 0 one arm is called better
    (:attr:`winner`); when it contains 0 (bounds included) the verdict is "no clear difference".

    The bootstrap always re-draws the same test units for both arms (they were tested on the same
    sequences, whose shared difficulty then cancels). ``paired_seeds`` is True when both arms were
    trained with the same seed set; their seeds were then re-drawn together as well, otherwise
    independently. ``seeds_a``/``seeds_b`` list the seeds behind each arm: with one seed per arm
    the interval says nothing about seed-to-seed variation.
    """

    name_a: str
    name_b: str
    diff: float
    lo: float
    hi: float
    paired_seeds: bool
    seeds_a: tuple[int, ...]
    seeds_b: tuple[int, ...]
    n_units: int
    confidence: float
    n_boot: int
    weighted: bool = False

    @property
    def winner(self) -> str | None:
        """Name of the arm with the lower error, or None when the interval contains 0."""
        if self.hi < 0:
            return self.name_a
        if self.lo > 0:
            return self.name_b
        return None

    @property
    def verdict(self) -> str:
        """One line for a report.

        ``"<A> better by x mm [lo, hi]"`` (x and the interval are A's advantage, positive numbers),
        ``"<B> better by x mm [lo, hi]"``, or ``"no clear difference: d mm [lo, hi]"`` with the
        signed difference A - B when the interval contains 0.
        """
        winner = self.winner
        if winner == self.name_a:  # advantage of A = B - A = -diff
            x, lo, hi = -self.diff, -self.hi, -self.lo
        else:
            x, lo, hi = self.diff, self.lo, self.hi
        d = _decimals(x, lo, hi)
        numbers = f"{_fmt(x, d)} mm [{_fmt(lo, d)}, {_fmt(hi, d)}]"
        if winner is None:
            return f"no clear difference: {numbers}"
        return f"{winner} better by {numbers}"

    @property
    def method(self) -> str:
        """Plain-words description of how the interval was made, for a report's footnote."""
        pct = f"{100 * self.confidence:g} %"
        stat = "frame-weighted mean" if self.weighted else "mean"
        text = (
            f"difference {self.name_a} - {self.name_b} of the mean over seeds of the {stat} MPJPE "
            f"(mm) over {self.n_units} test units; {pct} percentile bootstrap interval from "
            f"{self.n_boot} replicates; units re-drawn with replacement, the same units for both "
            f"arms (paired: both arms are tested on the same sequences); "
        )
        if self.paired_seeds:
            text += (
                f"seeds re-drawn with replacement, the same seeds for both arms (paired: both "
                f"arms trained with seeds {list(self.seeds_a)})"
            )
        else:
            text += (
                f"seeds re-drawn with replacement independently per arm (different seed sets: "
                f"{self.name_a} {list(self.seeds_a)}, {self.name_b} {list(self.seeds_b)})"
            )
        if min(len(self.seeds_a), len(self.seeds_b)) == 1:
            text += "; only one seed for an arm, so seed-to-seed variation is not captured"
        return text

    def to_dict(self) -> dict:
        """JSON-ready dictionary: names, diff/lo/hi (mm), verdict, winner, seeds, sizes and
        method."""
        return {
            "name_a": self.name_a,
            "name_b": self.name_b,
            "diff": float(self.diff),
            "lo": float(self.lo),
            "hi": float(self.hi),
            "unit": "mm",
            "verdict": self.verdict,
            "winner": self.winner,
            "paired_seeds": bool(self.paired_seeds),
            "seeds_a": [int(s) for s in self.seeds_a],
            "seeds_b": [int(s) for s in self.seeds_b],
            "n_units": int(self.n_units),
            "confidence": float(self.confidence),
            "n_boot": int(self.n_boot),
            "weighted": bool(self.weighted),
            "method": self.method,
        }


def arm_interval(
    errors: Mapping[int, Mapping[str, float]],
    weights: Mapping[str, float] | None = None,
    confidence: float = 0.95,
    n_boot: int = 2000,
    rng_seed: int = 0,
    name: str = "arm",
) -> Interval:
    """One arm's error (mm) with its percentile-bootstrap confidence interval.

    ``errors[seed][unit]`` is the MPJPE (mm) of the model trained with ``seed`` on test ``unit``;
    every seed must cover the same units. ``weights[unit]`` (e.g. frame counts) turns the mean over
    units into a weighted mean; units with weight 0 are left out. The statistic is the mean over
    seeds of the mean over units; the interval is the range in which it would typically land had
    other test sequences of the same kind and other seeds been used (units and seeds re-drawn with
    replacement ``n_boot`` times). ``name`` only labels error messages. Raises :class:`DataError`
    on bad input.
    """
    _check_settings(confidence, n_boot)
    seeds, units, e = _matrix(errors, name)
    units, e, w = _apply_weights(units, [e], weights)
    e = e[0]
    rng = np.random.default_rng(rng_seed)
    unit_counts = _counts(rng.integers(0, len(units), size=(n_boot, len(units))), len(units))
    seed_counts = _counts(rng.integers(0, len(seeds), size=(n_boot, len(seeds))), len(seeds))
    reps = _replicates(e, w, unit_counts, seed_counts)
    lo, hi = _percentiles(reps, confidence)
    return Interval(
        mean=_statistic(e, w),
        lo=lo,
        hi=hi,
        n_seeds=len(seeds),
        n_units=len(units),
        confidence=float(confidence),
    )


def compare(
    errors_a: Mapping[int, Mapping[str, float]],
    errors_b: Mapping[int, Mapping[str, float]],
    name_a: str = "A",
    name_b: str = "B",
    weights: Mapping[str, float] | None = None,
    confidence: float = 0.95,
    n_boot: int = 2000,
    rng_seed: int = 0,
) -> Comparison:
    """Compare two arms' errors (mm; lower is better) with a paired percentile bootstrap.

    ``errors_a[seed][unit]`` / ``errors_b[seed][unit]`` are MPJPEs in mm; both arms must cover the
    same units (seeds may differ). ``diff`` = statistic(A) - statistic(B), where an arm's statistic
    is the mean over its seeds of the (``weights``-weighted) mean over units; negative means A is
    better. The returned interval is the range of differences consistent with the results given
    which test sequences and seeds happened to be used.

    Each of ``n_boot`` replicates re-draws the units with replacement, the *same* units for both
    arms, because both arms were tested on the same sequences and the sequences' shared difficulty
    must cancel in the difference as it does in the real comparison. Seeds are re-drawn with
    replacement too: the same seed positions for both arms when their seed sets are identical
    (paired), independently otherwise. Random draws, in order: units ``(n_boot, n_units)``, seeds of
    A ``(n_boot, n_seeds_a)``, and only when unpaired seeds of B ``(n_boot, n_seeds_b)``, all from
    ``np.random.default_rng(rng_seed).integers``; units and seeds are taken in sorted order.
    """
    _check_settings(confidence, n_boot)
    if name_a == name_b:
        raise DataError(SOURCE, f"both arms are named {name_a!r}; give them different names")
    seeds_a, units_a, ea = _matrix(errors_a, name_a)
    seeds_b, units_b, eb = _matrix(errors_b, name_b)
    if units_a != units_b:
        sa, sb = set(units_a), set(units_b)
        parts = []
        if sa - sb:
            parts.append(f"only {name_a} has {_listing(sa - sb)}")
        if sb - sa:
            parts.append(f"only {name_b} has {_listing(sb - sa)}")
        raise DataError(SOURCE, f"the arms were evaluated on different units: {'; '.join(parts)}")
    units, (ea, eb), w = _apply_weights(units_a, [ea, eb], weights)
    paired = seeds_a == seeds_b
    n_units = len(units)

    rng = np.random.default_rng(rng_seed)
    unit_counts = _counts(rng.integers(0, n_units, size=(n_boot, n_units)), n_units)
    seed_counts_a = _counts(
        rng.integers(0, len(seeds_a), size=(n_boot, len(seeds_a))), len(seeds_a)
    )
    if paired:
        seed_counts_b = seed_counts_a
    else:
        seed_counts_b = _counts(
            rng.integers(0, len(seeds_b), size=(n_boot, len(seeds_b))), len(seeds_b)
        )
    reps = _replicates(ea, w, unit_counts, seed_counts_a) - _replicates(
        eb, w, unit_counts, seed_counts_b
    )
    lo, hi = _percentiles(reps, confidence)
    return Comparison(
        name_a=name_a,
        name_b=name_b,
        diff=_statistic(ea, w) - _statistic(eb, w),
        lo=lo,
        hi=hi,
        paired_seeds=paired,
        seeds_a=seeds_a,
        seeds_b=seeds_b,
        n_units=n_units,
        confidence=float(confidence),
        n_boot=int(n_boot),
        weighted=weights is not None,
    )


# --- helpers -------------------------------------------------------------------------------------


def _check_settings(confidence, n_boot) -> None:
    if isinstance(confidence, bool) or not isinstance(confidence, Real) or not 0 < confidence < 1:
        raise DataError(
            SOURCE,
            f"confidence must be a number strictly between 0 and 1 (e.g. 0.95), got {confidence!r}",
        )
    if isinstance(n_boot, bool) or not isinstance(n_boot, Integral) or n_boot < 1:
        raise DataError(SOURCE, f"n_boot must be a positive integer, got {n_boot!r}")


def _listing(names) -> str:
    """``"3 units: 'a', 'b', 'c'"``, at most _SHOW names, sorted."""
    names = sorted(names, key=str)
    shown = ", ".join(repr(n) for n in names[:_SHOW])
    more = f" and {len(names) - _SHOW} more" if len(names) > _SHOW else ""
    return f"{len(names)} unit{'s' if len(names) != 1 else ''}: {shown}{more}"


def _matrix(errors, name: str) -> tuple[tuple[int, ...], tuple[str, ...], np.ndarray]:
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
                f"seed {s} lacks results that other seeds have, for {_listing(missing)}; "
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


def _apply_weights(units, mats, weights):
    """Return (units, matrices, weight vector) with zero-weight units dropped; validates weights."""
    if weights is None:
        return units, mats, np.ones(len(units))
    if not isinstance(weights, Mapping):
        raise DataError(
            SOURCE, f"weights must be a dict {{unit: weight}}, got {type(weights).__name__}"
        )
    missing = set(units) - set(weights)
    if missing:
        raise DataError(SOURCE, f"weights lack {_listing(missing)}")
    try:
        w = np.array([float(weights[u]) for u in units])
    except (TypeError, ValueError):
        raise DataError(SOURCE, "weights must be numbers") from None
    if not np.isfinite(w).all():
        raise DataError(
            SOURCE,
            f"weights must be finite, got NaN or infinite for "
            f"{_listing(u for u, x in zip(units, w) if not np.isfinite(x))}",
        )
    if (w < 0).any():
        raise DataError(
            SOURCE,
            f"weights must not be negative: "
            f"{_listing(u for u, x in zip(units, w) if x < 0)} have negative weight",
        )
    keep = w > 0
    if keep.sum() < 2:
        raise DataError(
            SOURCE, f"need at least 2 test units with a positive weight, got {int(keep.sum())}"
        )
    units = tuple(u for u, k in zip(units, keep) if k)
    return units, [m[:, keep] for m in mats], w[keep]


def _statistic(e: np.ndarray, w: np.ndarray) -> float:
    """Mean over seeds (rows) of the w-weighted mean over units (columns)."""
    return float(np.mean(e @ w / w.sum()))


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    """(n_boot, k) indices in [0, n) -> (n_boot, n) float array: how often each index was drawn."""
    b = idx.shape[0]
    flat = (idx + n * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)


def _replicates(
    e: np.ndarray, w: np.ndarray, unit_counts: np.ndarray, seed_counts: np.ndarray
) -> np.ndarray:
    """Bootstrap replicates of the statistic, all at once.

    A unit drawn k times counts k times, so a replicate's weighted unit mean for every seed is
    ``(counts * w) @ e.T / sum(counts * w)``; likewise its seed mean weighs each seed by how often
    it was drawn. Returns an (n_boot,) array.
    """
    uw = unit_counts * w  # (B, U)
    per_seed = uw @ e.T / uw.sum(1, keepdims=True)  # (B, S)
    return (seed_counts * per_seed).sum(1) / seed_counts.sum(1)


def _percentiles(reps: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _decimals(*values: float) -> int:
    """1 decimal, more (up to 3) while a non-zero value would print as 0."""
    d = 1
    while d < 3 and any(v != 0 and round(abs(v), d) == 0 for v in values):
        d += 1
    return d


def _fmt(v: float, d: int) -> str:
    s = f"{v:.{d}f}"
    return s.lstrip("-") if float(s) == 0 else s  # no "-0.0"
