"""Student's t distribution, written out so that :mod:`dilpose.stats` needs no scipy.

``cdf(x, df)`` and ``quantile(p, df)`` for any df > 0, fractional (Welch-Satterthwaite) or
infinite (the normal). Accurate to about 1e-10 against scipy (tests/test_stats.py checks it).
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist


def cdf(x: float, df: float) -> float:
    """P(T <= x) for Student's t with ``df`` (> 0, may be fractional or inf) degrees of freedom."""
    if math.isinf(df):
        return NormalDist().cdf(x)
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + x * x))
    return 1 - tail if x > 0 else tail


@lru_cache(maxsize=4096)  # the same (p, df) is asked for by lo, hi and the power line
def quantile(p: float, df: float) -> float:
    """The ``p`` quantile (0 < p < 1) of Student's t with ``df`` degrees of freedom (inf: normal).

    Newton's method from the normal quantile. For p > 1/2 the cdf is concave right of 0 and the
    normal quantile lies left of the t one, so every step stays left of the root and approaches
    it monotonically (doubling while far, then quadratically); p < 1/2 by symmetry."""
    if p < 0.5:
        return -quantile(1 - p, df)
    x = NormalDist().inv_cdf(p)
    if math.isinf(df) or p == 0.5:
        return x
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    for _ in range(200):
        pdf = math.exp(log_c - (df + 1) / 2 * math.log1p(x * x / df))
        step = (p - cdf(x, df)) / pdf
        x += step
        if abs(step) <= 1e-12 * max(1.0, abs(x)):
            break
    return x


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) by its continued fraction (Numerical Recipes 6.4)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast only below this point
        return 1.0 - _betainc(b, a, 1 - x)
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 300):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * f / a
