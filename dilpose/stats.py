"""Verdicts on trained variants whose intervals follow how the test data and the seeds were made.

Two variants of a model ("arms") are each trained with a few random seeds and evaluated on the same
test units. A unit is one camera view of one clip, named ``"subject/action/camera N"``; the views
of a clip show the same motion, and the clips of a subject the same person, so units are *not*
independent: they are views nested in clips nested in subjects. The error is MPJPE in mm, so
**lower is better**. An arm's statistic is the mean over its seeds of the (optionally
frame-weighted) mean error over the units.

How to read the four verdicts
-----------------------------

* ``"A better by 1.2 mm [0.4, 2.0]"``: A's error is 1.2 mm lower; ``[0.4, 2.0]`` is the 95 %
  confidence interval of that advantage: the range of true advantages (over people and motions of
  this kind, and over training seeds) that the results are consistent with. It is *not* where the
  advantage of a rerun would land: a rerun with new seeds and new test people adds its own noise,
  so that prediction interval is wider still.
* ``"B better by ..."``: the same with the arms swapped.
* ``"equivalent within ±1.0 mm: 0.2 mm [-0.6, 0.9]"``: only when a margin ``m`` was stated in
  advance (``compare(..., margin=m)``) and the whole 90 % interval lies inside ``(-m, m)``. That is
  the two one-sided tests (TOST) at alpha 0.05: each of "A - B <= -m" and "A - B >= m" is rejected
  at 5 %, which is the same as the 90 % (= 1 - 2 alpha) interval lying inside the margin.
* ``"inconclusive: 0.9 mm [-5.0, 6.9]"``: the 95 % interval contains 0 and reaches beyond the
  margin (or no margin was given). Either arm may be the better one, by more than the margin. It
  never means "level" or "no effect".

Every verdict carries a power line, ``"could detect 2.8 mm"``: the smallest true difference the
design would call with 80 % power at two-sided alpha 0.05,
``(t(1 - alpha/2, df) + t(0.80, df)) * se`` (about 2.8 se with many degrees of freedom). A
difference smaller than that may well exist and go unseen.

How the interval is made
------------------------

``diff = stat(A) - stat(B)``; its variance has two parts, estimated separately and added:

1. *Which test people and motions were used* (``se_test``): a clustered bootstrap of the
   seed-averaged per-unit differences that re-draws whole subjects with replacement, each with all
   its clips and every view of each clip (Davison & Hinkley 1997, sec. 3.8; Ren et al. 2010:
   re-draw the top level only, because re-drawing the lower levels as well counts their variation
   twice). Both arms get the same draws (paired: their shared difficulty cancels). The bootstrap
   variance of a mean over G clusters is (G - 1)/G of the unbiased one, so it is scaled by
   G/(G - 1); the part has G - 1 degrees of freedom. With a single test subject the clips are the
   clusters instead, and the method says the interval does not generalise over people.
2. *Which seeds were run* (``se_seed``): seeds are a sample of their own, neither crossed with the
   units nor percentile-bootstrapped (3 seeds have 10 distinct resamples). With the same seed set
   in both arms: the sample variance over seeds of the per-seed differences / n_seeds, with
   n_seeds - 1 degrees of freedom; with different seed sets, Welch's two-sample form. An arm with
   one seed borrows the other arm's seed variance (the method says so); with one seed in both arms
   seed variation is not in the interval at all.

The interval is ``diff ± t(1 - alpha/2, df) * sqrt(se_test² + se_seed²)`` with Welch-Satterthwaite
degrees of freedom, so few subjects or few seeds widen it as they should. (The seed-by-unit
interaction enters both parts, which errs on the wide side; a simulation of clustered data in
``tests/test_stats.py`` shows the 95 % interval covers the true difference at least 93 % of the
time, where a view-level bootstrap covers far less.) The test-time 2D detector noise is one
realisation and is in no interval.

:func:`holm` adjusts a named family of comparisons (the ones a notebook's conclusions rest on) with
Holm's step-down procedure and lists the verdicts that flip. Everything is numpy only and
deterministic for a given ``rng_seed``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from . import student_t
from .arm_results import Design, apply_weights, listing, matrix, structure
from .errors import DataError

__all__ = ["Design", "Interval", "Comparison", "arm_interval", "compare", "holm"]

SOURCE = "stats"
POWER = 0.80  # the power of the "could detect" line
WORDS = ("A better", "B better", "equivalent", "inconclusive")


@dataclass(frozen=True)
class Interval:
    """One arm's error (mm) with its confidence interval.

    ``mean`` is the mean over seeds of the (weighted) mean error over the test units, in mm;
    ``[lo, hi]`` the ``confidence`` interval of the arm's true error over people, motions and
    seeds of this kind (made as in the module docstring, with ``se`` and ``df``). ``design`` gives
    the counts of subjects, clips, views and seeds.
    """

    mean: float
    se: float
    df: float
    design: Design
    confidence: float = 0.95

    @property
    def lo(self) -> float:
        return self.mean - _half_width(self.se, self.df, self.confidence)

    @property
    def hi(self) -> float:
        return self.mean + _half_width(self.se, self.df, self.confidence)

    @property
    def n_seeds(self) -> int:
        return len(self.design.seeds_a)

    @property
    def n_units(self) -> int:
        return self.design.n_views

    def to_dict(self) -> dict:
        """JSON-ready dictionary: mean/lo/hi/se (mm), df, confidence and the counts."""
        return {
            "mean": float(self.mean),
            "lo": float(self.lo),
            "hi": float(self.hi),
            "se": float(self.se),
            "df": _json_df(self.df),
            "confidence": float(self.confidence),
            **self.design.to_dict(),
        }

    def __str__(self) -> str:
        d = _decimals(self.mean, self.lo, self.hi)
        return f"{_fmt(self.mean, d)} mm [{_fmt(self.lo, d)}, {_fmt(self.hi, d)}]"


@dataclass(frozen=True)
class Comparison:
    """``diff = stat(A) - stat(B)`` in mm (negative: A has the lower error) and how sure it is.

    ``se_test``/``se_seed`` are the two parts of its standard error (module docstring), ``df`` the
    Welch-Satterthwaite degrees of freedom, ``margin`` the equivalence margin stated in advance (mm,
    or None), ``design`` the counts, ``paired_seeds`` whether both arms ran the same seed set.
    """

    name_a: str
    name_b: str
    diff: float
    se_test: float
    se_seed: float
    df: float
    design: Design
    paired_seeds: bool
    margin: float | None = None
    confidence: float = 0.95
    n_boot: int = 2000
    weighted: bool = False

    @property
    def se(self) -> float:
        return math.hypot(self.se_test, self.se_seed)

    @property
    def lo(self) -> float:
        return self.interval(self.confidence)[0]

    @property
    def hi(self) -> float:
        return self.interval(self.confidence)[1]

    def interval(self, confidence: float) -> tuple[float, float]:
        """The ``confidence`` interval of ``diff`` (mm)."""
        h = _half_width(self.se, self.df, confidence)
        return self.diff - h, self.diff + h

    @property
    def equivalence_interval(self) -> tuple[float, float]:
        """The 1 - 2 alpha (90 % for a 95 % comparison) interval that TOST checks against the
        margin."""
        return self.interval(1 - 2 * (1 - self.confidence))

    @property
    def seeds_a(self) -> tuple[int, ...]:
        return self.design.seeds_a

    @property
    def seeds_b(self) -> tuple[int, ...]:
        return self.design.seeds_b

    @property
    def n_units(self) -> int:
        return self.design.n_views

    @property
    def p_value(self) -> float:
        """Two-sided p-value of "no difference" (t with ``df``)."""
        if self.se == 0:
            return 0.0 if self.diff != 0 else 1.0
        return 2 * (1 - student_t.cdf(abs(self.diff) / self.se, self.df))

    @property
    def p_equivalence(self) -> float | None:
        """TOST p-value of "the difference is at least the margin" (None without a margin)."""
        if self.margin is None:
            return None
        if self.se == 0:
            return 0.0 if abs(self.diff) < self.margin else 1.0
        lower = 1 - student_t.cdf((self.diff + self.margin) / self.se, self.df)
        upper = student_t.cdf((self.diff - self.margin) / self.se, self.df)
        return max(lower, upper)

    @property
    def winner(self) -> str | None:
        """Name of the arm with the clearly lower error, or None when the interval contains 0."""
        lo, hi = self.lo, self.hi
        return self.name_a if hi < 0 else self.name_b if lo > 0 else None

    @property
    def word(self) -> str:
        """One of :data:`WORDS`: ``"A better"``, ``"B better"``, ``"equivalent"``,
        ``"inconclusive"`` (A and B mean the arms, not their names)."""
        winner = self.winner
        if winner is not None:
            return "A better" if winner == self.name_a else "B better"
        if self.margin is not None:
            lo, hi = self.equivalence_interval
            if -self.margin < lo and hi < self.margin:
                return "equivalent"
        return "inconclusive"

    @property
    def verdict(self) -> str:
        """The verdict sentence with its interval (see the module docstring for the four forms).

        Better: the advantage (a positive number) and its 95 % interval. Equivalent: A - B with the
        90 % interval. Inconclusive: A - B with the 95 % interval, and the margin if there is one.
        """
        word = self.word
        if word == "A better":  # advantage of A = B - A = -diff
            return f"{self.name_a} better by {_numbers(-self.diff, -self.hi, -self.lo)}"
        if word == "B better":
            return f"{self.name_b} better by {_numbers(self.diff, self.lo, self.hi)}"
        if word == "equivalent":
            lo, hi = self.equivalence_interval
            return f"equivalent within ±{self.margin:g} mm: {_numbers(self.diff, lo, hi)}"
        text = f"inconclusive: {_numbers(self.diff, self.lo, self.hi)}"
        return text + (f", margin ±{self.margin:g} mm" if self.margin is not None else "")

    @property
    def detectable(self) -> float:
        """Smallest true difference (mm) found with 80 % power at the comparison's two-sided alpha:
        ``(t(1 - alpha/2, df) + t(0.80, df)) * se``."""
        alpha = 1 - self.confidence
        return (
            student_t.quantile(1 - alpha / 2, self.df) + student_t.quantile(POWER, self.df)
        ) * self.se

    @property
    def power_line(self) -> str:
        """``"could detect 2.8 mm (80 % power, alpha 0.05; 5 subjects, 59 clips, ...)"``."""
        return (
            f"could detect {self.detectable:.1f} mm ({100 * POWER:g} % power, alpha "
            f"{1 - self.confidence:.2g}; {self.design.counts()})"
        )

    @property
    def method(self) -> str:
        """Plain-words description of how the interval was made, for a report's footnote."""
        d = self.design
        stat = "frame-weighted mean" if self.weighted else "mean"
        if d.cluster == "subject":
            test = (
                f"{self.n_boot} bootstrap draws of whole test subjects (each with all its "
                f"clips and views), the same draws for both arms, variance x G/(G-1)"
            )
        else:
            test = (
                f"{self.n_boot} bootstrap draws of whole clips (all views together): only "
                f"one test subject, so the interval does not generalise over people"
            )
        if len(d.seeds_a) == 1 and len(d.seeds_b) == 1:
            seed = "one seed per arm: seed-to-seed variation is NOT in the interval"
        elif self.paired_seeds:
            seed = f"t over the per-seed differences (seeds {list(d.seeds_a)}, paired)"
        elif min(len(d.seeds_a), len(d.seeds_b)) == 1:
            seed = (
                f"one arm has one seed and borrows the other arm's seed variance (seeds "
                f"{list(d.seeds_a)} vs {list(d.seeds_b)})"
            )
        else:
            seed = f"Welch over seeds {list(d.seeds_a)} vs {list(d.seeds_b)} (unpaired)"
        return (
            f"difference {self.name_a} - {self.name_b} of the mean over seeds of the {stat} MPJPE "
            f"(mm); {d.counts()}; {100 * self.confidence:g} % t interval (df {self.df:.1f}) with "
            f"the test-set variance from {test}, plus the seed variance from {seed}"
        )

    def to_dict(self) -> dict:
        """JSON-ready record: names, diff/lo/hi/se (mm), margin, verdict sentence and word,
        winner, p-values, the 90 % equivalence interval, the counts, the power line and method."""
        eq_lo, eq_hi = self.equivalence_interval
        return {
            "name_a": self.name_a,
            "name_b": self.name_b,
            "diff": float(self.diff),
            "lo": float(self.lo),
            "hi": float(self.hi),
            "unit": "mm",
            "confidence": float(self.confidence),
            "margin": self.margin,
            "verdict": self.verdict,
            "word": self.word,
            "winner": self.winner,
            "equivalence_lo": float(eq_lo),
            "equivalence_hi": float(eq_hi),
            "p_value": float(self.p_value),
            "p_equivalence": self.p_equivalence,
            "se": float(self.se),
            "se_test": float(self.se_test),
            "se_seed": float(self.se_seed),
            "df": _json_df(self.df),
            "detectable_mm": float(self.detectable),
            "power_line": self.power_line,
            "paired_seeds": bool(self.paired_seeds),
            "seeds_a": [int(s) for s in self.seeds_a],
            "seeds_b": [int(s) for s in self.seeds_b],
            **self.design.to_dict(),
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
    """One arm's error (mm) with its confidence interval over people, motions and seeds.

    ``errors[seed][unit]`` is the MPJPE (mm) of the model trained with ``seed`` on test ``unit``
    (``"subject/action/camera N"``); every seed must cover the same units. ``weights[unit]`` (e.g.
    frame counts) turns the mean over units into a weighted mean; units with weight 0 are left out.
    The interval is made as in the module docstring (clustered bootstrap over subjects plus a t
    over seeds). ``name`` labels error messages. Raises :class:`DataError` on bad input.
    """
    _check_settings(confidence, n_boot)
    seeds, units, e = matrix(errors, name)
    units, (e,), w = apply_weights(units, [e], weights)
    labels, design = structure(units, seeds, (), name)
    per_seed = e @ w / w.sum()  # (S,)
    var_t, df_t = _cluster_variance(e.mean(0), w, labels, n_boot, rng_seed)
    var_s, df_s = _seed_variance(per_seed, None)
    return Interval(
        mean=float(per_seed.mean()),
        se=math.sqrt(var_t + var_s),
        df=_satterthwaite((var_t, df_t), (var_s, df_s)),
        design=design,
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
    margin: float | None = None,
) -> Comparison:
    """Compare two arms' errors (mm; lower is better) on the same test units.

    ``errors_a[seed][unit]`` / ``errors_b[seed][unit]``: MPJPE in mm per seed and unit
    (``"subject/action/camera N"``); both arms must cover the same units (seeds may differ: the
    seeds are then unpaired). ``weights[unit]``: e.g. frame counts. ``margin`` (mm, > 0): the
    equivalence margin stated in advance; without one a non-significant result is "inconclusive",
    never "equivalent". The interval is made as in the module docstring; the bootstrap draws come
    from ``np.random.default_rng(rng_seed)``. Raises :class:`DataError` on bad input.
    """
    _check_settings(confidence, n_boot)
    if name_a == name_b:
        raise DataError(SOURCE, f"both arms are named {name_a!r}; give them different names")
    if margin is not None and (
        isinstance(margin, bool) or not isinstance(margin, Real) or not 0 < margin < math.inf
    ):
        raise DataError(SOURCE, f"margin must be a positive number of mm or None, got {margin!r}")
    seeds_a, units_a, ea = matrix(errors_a, name_a)
    seeds_b, units_b, eb = matrix(errors_b, name_b)
    if units_a != units_b:
        sa, sb = set(units_a), set(units_b)
        parts = []
        if sa - sb:
            parts.append(f"only {name_a} has {listing(sa - sb)}")
        if sb - sa:
            parts.append(f"only {name_b} has {listing(sb - sa)}")
        raise DataError(SOURCE, f"the arms were evaluated on different units: {'; '.join(parts)}")
    units, (ea, eb), w = apply_weights(units_a, [ea, eb], weights)
    labels, design = structure(units, seeds_a, seeds_b, name_a)
    paired = seeds_a == seeds_b
    per_a, per_b = ea @ w / w.sum(), eb @ w / w.sum()  # (S_a,), (S_b,)
    # the seed-averaged per-unit difference: its spread over people and motions is the test part
    var_t, df_t = _cluster_variance(ea.mean(0) - eb.mean(0), w, labels, n_boot, rng_seed)
    var_s, df_s = _seed_variance(per_a - per_b, None) if paired else _seed_variance(per_a, per_b)
    return Comparison(
        name_a=name_a,
        name_b=name_b,
        diff=float(per_a.mean() - per_b.mean()),
        se_test=math.sqrt(var_t),
        se_seed=math.sqrt(var_s),
        df=_satterthwaite((var_t, df_t), (var_s, df_s)),
        design=design,
        paired_seeds=paired,
        margin=None if margin is None else float(margin),
        confidence=float(confidence),
        n_boot=int(n_boot),
        weighted=weights is not None,
    )


def holm(family: Mapping[str, Comparison | Mapping]) -> dict:
    """Holm's step-down correction over a named family of comparisons.

    ``family``: ``{name: Comparison or its to_dict() record}``, the comparisons a conclusion rests
    on (all with the same confidence). Each comparison's claim is tested: "better" and
    "inconclusive" by the p-value of no difference, "equivalent" by the TOST p-value. With p-values
    sorted ascending, the k-th (from 0) is adjusted to ``max over j <= k of min(1, (m - j) p_j)``;
    a claim holds when the adjusted p-value is below alpha. A "better" or "equivalent" claim that
    does not hold becomes "inconclusive".

    Returns ``{"alpha", "family": [names], "comparisons": {name: {"verdict", "word", "p",
    "p_holm", "holds", "word_holm", "flipped"}}, "flipped": [names], "lines": [one per flip]}``.
    """
    if not family:
        raise DataError(SOURCE, "holm needs a non-empty family of comparisons")
    recs = {k: (c.to_dict() if isinstance(c, Comparison) else dict(c)) for k, c in family.items()}
    levels = {r.get("confidence") for r in recs.values()}
    if len(levels) != 1 or None in levels:
        raise DataError(SOURCE, f"the family mixes confidence levels {sorted(map(str, levels))}")
    alpha = 1 - levels.pop()
    p = {
        k: (r["p_equivalence"] if r["word"] == "equivalent" else r["p_value"])
        for k, r in recs.items()
    }
    order = sorted(p, key=lambda k: p[k])
    m, running, out, flipped, lines = len(order), 0.0, {}, [], []
    for j, k in enumerate(order):
        running = max(running, min(1.0, (m - j) * p[k]))
        r = recs[k]
        holds = running < alpha
        claim = r["word"] != "inconclusive"
        word = r["word"] if holds or not claim else "inconclusive"
        flip = word != r["word"]
        out[k] = {
            "verdict": r["verdict"],
            "word": r["word"],
            "p": p[k],
            "p_holm": running,
            "holds": holds,
            "word_holm": word,
            "flipped": flip,
        }
        if flip:
            flipped.append(k)
            lines.append(
                f"{k}: {r['verdict']} -> inconclusive under Holm over {m} comparisons "
                f"(p {p[k]:.3g}, adjusted {running:.3g} >= {alpha:.2g})"
            )
    return {
        "alpha": alpha,
        "family": list(family),
        "comparisons": {k: out[k] for k in family},
        "flipped": [k for k in family if k in flipped],
        "lines": lines,
    }


# --- the two variance parts ----------------------------------------------------------------------


def _cluster_variance(x: np.ndarray, w: np.ndarray, labels: np.ndarray, n_boot: int, rng_seed):
    """Variance of the w-weighted mean of ``x`` (U,) over re-drawn clusters, and its df.

    ``labels`` (U,) numbers the clusters 0..G-1. Whole clusters are re-drawn with replacement
    ``n_boot`` times; a cluster drawn k times counts k times, so each replicate is the ratio of
    the drawn clusters' weighted sums. The variance is scaled by G/(G-1) (module docstring).
    """
    g = int(labels.max()) + 1
    sums = np.bincount(labels, weights=w * x, minlength=g)  # (G,)
    mass = np.bincount(labels, weights=w, minlength=g)
    rng = np.random.default_rng(rng_seed)
    counts = rng.multinomial(g, np.full(g, 1.0 / g), size=n_boot).astype(float)  # (B, G)
    reps = counts @ sums / (counts @ mass)
    return float(reps.var(ddof=1)) * g / (g - 1) if n_boot > 1 else 0.0, g - 1


def _seed_variance(a: np.ndarray, b: np.ndarray | None) -> tuple[float, float]:
    """Variance of a mean over seeds (``b`` None: of ``a``; else of mean(a) - mean(b), unpaired)
    with its (Welch) df; (0, inf) when it cannot be estimated (one seed)."""
    if b is None:
        return (float(a.var(ddof=1)) / len(a), len(a) - 1) if len(a) > 1 else (0.0, math.inf)
    if len(a) == 1 and len(b) == 1:
        return 0.0, math.inf
    if min(len(a), len(b)) == 1:  # the one-seed arm borrows the other's seed variance
        other = a if len(a) > 1 else b
        return float(other.var(ddof=1)) * (1 / len(a) + 1 / len(b)), len(other) - 1
    va, vb = float(a.var(ddof=1)) / len(a), float(b.var(ddof=1)) / len(b)
    return va + vb, _satterthwaite((va, len(a) - 1), (vb, len(b) - 1))


def _satterthwaite(*parts: tuple[float, float]) -> float:
    """Welch-Satterthwaite df of a sum of independent variance estimates ``(variance, df)``."""
    total = sum(v for v, _ in parts)
    denom = sum(v * v / d for v, d in parts if v > 0 and d < math.inf)
    return total * total / denom if denom > 0 else math.inf


def _half_width(se: float, df: float, confidence: float) -> float:
    return student_t.quantile(1 - (1 - confidence) / 2, df) * se if se > 0 else 0.0


def _check_settings(confidence, n_boot) -> None:
    if isinstance(confidence, bool) or not isinstance(confidence, Real) or not 0.5 < confidence < 1:
        raise DataError(
            SOURCE,
            f"confidence must be a number between 0.5 and 1 (e.g. 0.95), got {confidence!r}",
        )
    if isinstance(n_boot, bool) or not isinstance(n_boot, Integral) or n_boot < 2:
        raise DataError(SOURCE, f"n_boot must be an integer of at least 2, got {n_boot!r}")


def _json_df(df: float) -> float | None:
    """JSON has no infinity: an infinite df (normal) is written as null."""
    return None if math.isinf(df) else float(df)


def _numbers(x: float, lo: float, hi: float) -> str:
    """``"1.2 mm [0.4, 2.0]"`` with enough decimals that nothing non-zero prints as 0."""
    d = _decimals(x, lo, hi)
    return f"{_fmt(x, d)} mm [{_fmt(lo, d)}, {_fmt(hi, d)}]"


def _decimals(*values: float) -> int:
    """1 decimal, more (up to 3) while a non-zero value would print as 0."""
    d = 1
    while d < 3 and any(v != 0 and round(abs(v), d) == 0 for v in values):
        d += 1
    return d


def _fmt(v: float, d: int) -> str:
    s = f"{v:.{d}f}"
    return s.lstrip("-") if float(s) == 0 else s  # no "-0.0"
