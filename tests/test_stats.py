"""dilpose.stats: intervals that follow how the data was made, the four verdicts, Holm and power.

Errors are MPJPE in mm on hand-made results; units are named "subject/action/camera N".
"""

import json
import math

import numpy as np
import pytest

from dilpose import stats, student_t
from dilpose.arm_results import Design
from dilpose.errors import DataError

# 6 subjects x 3 clips x 2 views = 36 units
UNITS = [f"cmu{g:02d}/act{a}/camera {v}" for g in range(6) for a in range(3) for v in range(2)]


def _arm(seeds=(0, 1, 2), units=UNITS, shift=0.0, noise=0.0, rng=0, seed_effect=None):
    """{seed: {unit: error_mm}}: a per-unit difficulty shared by every arm, plus ``shift``, plus an
    optional per-seed offset, plus independent noise per seed and unit."""
    difficulty = np.random.default_rng(123).uniform(30, 90, len(units))
    g = np.random.default_rng(rng)
    out = {}
    for s in seeds:
        off = 0.0 if seed_effect is None else seed_effect[s]
        vals = difficulty + shift + off + noise * g.normal(size=len(units))
        out[s] = {u: float(v) for u, v in zip(units, vals)}
    return out


def _comp(diff, se, df=math.inf, margin=None, names=("dilated", "baseline")):
    """A Comparison with a chosen difference and standard error (all of it from the test set)."""
    design = Design(5, 59, 236, (0, 1, 2), (0, 1, 2))
    return stats.Comparison(*names, diff, se, 0.0, df, design, True, margin=margin)


# --------------------------------------------------------------------------------------------------
# Coverage on simulated clustered data: the reason this module exists
# --------------------------------------------------------------------------------------------------
def _sim_design(rng, n_subjects=5, views=4):
    """Units of 5 subjects with 9-15 clips each, 4 views per clip; frames per clip."""
    units, clip, subject, frames, n_clips = [], [], [], [], 0
    for g in range(n_subjects):
        for a in range(int(rng.integers(9, 16))):
            f = float(rng.integers(30, 600))
            for v in range(views):
                units.append(f"s{g}/act{a}/camera {v}")
                clip.append(n_clips)
                subject.append(g)
                frames.append(f)
            n_clips += 1
    return units, np.array(clip), np.array(subject), np.array(frames)


def _view_level_interval(ea, eb, w, rng, n_boot=400):
    """The old interval: percentile bootstrap re-drawing views as independent units and seeds with
    replacement, crossed (the same draws for both arms)."""
    s, u = ea.shape

    def counts(n):  # (n_boot, n): how often each index was drawn
        idx = rng.integers(0, n, (n_boot, n)) + n * np.arange(n_boot)[:, None]
        return np.bincount(idx.ravel(), minlength=n_boot * n).reshape(n_boot, n)

    uc, sc = counts(u) * w, counts(s)
    per_seed = uc @ (ea - eb).T / uc.sum(1, keepdims=True)  # (B, S)
    reps = (sc * per_seed).sum(1) / sc.sum(1)
    return np.quantile(reps, [0.025, 0.975])


def test_clustered_interval_covers_and_the_view_level_one_does_not():
    # Variances calibrated on the two shipped models (issue 25): per-view differences spread
    # ~10 mm, ~8 mm between clip means, ~4 mm between subject means; each seed shifts an arm by
    # ~1.5 mm and each seed-by-view error by ~3 mm. 400 experiments, true difference 1 mm.
    rng = np.random.default_rng(1)
    units, clip, subject, frames = _sim_design(rng)
    weights = dict(zip(units, frames))
    n_exp, seeds, true = 400, 3, 1.0
    g, c, u = subject.max() + 1, clip.max() + 1, len(units)
    new = old = 0
    for k in range(n_exp):
        d = true + rng.normal(0, 3.0, g)[subject] + rng.normal(0, 7.3, c)[clip]
        d = d + rng.normal(0, 5.7, u)
        base = 80 + rng.normal(0, 15, c)[clip] + rng.normal(0, 5, u)
        ea = base + d + rng.normal(0, 1.5, (seeds, 1)) + rng.normal(0, 3, (seeds, u))
        eb = base + rng.normal(0, 1.5, (seeds, 1)) + rng.normal(0, 3, (seeds, u))
        a = {s: dict(zip(units, ea[s].tolist())) for s in range(seeds)}
        b = {s: dict(zip(units, eb[s].tolist())) for s in range(seeds)}
        cmp = stats.compare(a, b, weights=weights, n_boot=500, rng_seed=k)
        new += cmp.lo <= true <= cmp.hi
        lo, hi = _view_level_interval(ea, eb, frames, rng)
        old += lo <= true <= hi
    assert cmp.design.n_subjects == 5 and cmp.design.n_views == u and cmp.design.n_clips == c
    print(
        f"coverage of the nominal 95 %: clustered {new / n_exp:.3f}, view-level {old / n_exp:.3f}"
    )
    assert new / n_exp >= 0.93, new / n_exp
    assert old / n_exp <= 0.85, old / n_exp  # the old interval is far too narrow


def test_views_of_one_clip_do_not_count_as_independent_evidence():
    # The same per-clip results seen by 1 or by 4 identical views: the same interval.
    one = _arm(units=[u for u in UNITS if u.endswith("camera 0")], noise=2.0, rng=1)
    other = _arm(units=[u for u in UNITS if u.endswith("camera 0")], shift=1, noise=2.0, rng=2)
    copies = (
        lambda arm: {  # noqa: E731
            s: {u[:-1] + str(v): x for u, x in r.items() for v in range(4)} for s, r in arm.items()
        }
    )
    c1, c4 = stats.compare(one, other), stats.compare(copies(one), copies(other))
    assert c4.design.n_views == 4 * c1.design.n_views and c4.design.n_clips == c1.design.n_clips
    assert (c4.lo, c4.hi) == pytest.approx((c1.lo, c1.hi), abs=1e-9)


# --------------------------------------------------------------------------------------------------
# The four verdicts
# --------------------------------------------------------------------------------------------------
def test_a_better_on_a_clear_shift():
    c = stats.compare(_arm(noise=0.5, rng=1), _arm(shift=2.0, noise=0.5, rng=2), "dil", "base")
    assert c.word == "A better" and c.winner == "dil" and c.hi < 0
    assert c.verdict.startswith("dil better by 2.")
    assert -2.6 < c.lo < c.diff < c.hi < -1.4


def test_b_better_on_a_clear_shift_the_other_way():
    c = stats.compare(_arm(shift=3.0, noise=0.5, rng=1), _arm(noise=0.5, rng=2), "dil", "base")
    assert c.word == "B better" and c.winner == "base" and c.lo > 0
    assert c.verdict.startswith("base better by 3.")


def test_equivalent_only_with_a_margin_and_a_90_percent_interval_inside_it():
    a, b = _arm(noise=0.3, rng=1), _arm(shift=0.05, noise=0.3, rng=2)
    plain = stats.compare(a, b)
    assert plain.word == "inconclusive" and plain.lo < 0 < plain.hi  # no margin: never equivalent
    c = stats.compare(a, b, margin=1.0)
    lo90, hi90 = c.equivalence_interval
    assert c.word == "equivalent" and -1 < lo90 and hi90 < 1
    assert c.lo < lo90 and hi90 < c.hi  # the 90 % interval sits inside the 95 % one
    assert c.verdict.startswith("equivalent within ±1 mm: ")
    assert c.p_equivalence < 0.05 < c.p_value


def test_inconclusive_when_the_interval_reaches_beyond_the_margin():
    c = stats.compare(_arm(noise=4.0, rng=1), _arm(noise=4.0, shift=0.3, rng=2), margin=0.5)
    assert c.word == "inconclusive" and c.lo < -0.5 or c.hi > 0.5
    assert c.verdict.startswith("inconclusive: ") and c.verdict.endswith("margin ±0.5 mm")
    assert c.p_equivalence >= 0.05


def test_verdicts_on_exact_numbers():
    assert _comp(-1.2, 0.4).verdict == "dilated better by 1.2 mm [0.4, 2.0]"
    assert _comp(0.8, 0.3).verdict == "baseline better by 0.8 mm [0.2, 1.4]"
    assert _comp(-0.3, 0.4).verdict == "inconclusive: -0.3 mm [-1.1, 0.5]"
    assert _comp(-0.3, 0.4, margin=2.0).verdict == "equivalent within ±2 mm: -0.3 mm [-1.0, 0.4]"
    assert _comp(-0.3, 0.4, margin=0.8).word == "inconclusive"  # 90 %: [-0.96, 0.36]
    # significant wins over equivalent: the interval excludes 0
    assert _comp(-0.5, 0.1, margin=2.0).word == "A better"
    assert _comp(-0.04, 0.01).verdict == "dilated better by 0.04 mm [0.02, 0.06]"
    # few degrees of freedom widen the interval: t(0.975, 2) = 4.30
    assert _comp(0.0, 1.0, df=2).hi == pytest.approx(4.3027, abs=1e-4)


def test_identical_and_exactly_shifted_arms():
    a = _arm(noise=2.0, rng=1)
    same = stats.compare(a, a, "x", "y")
    assert same.diff == 0 and same.se == 0 and same.verdict == "inconclusive: 0.0 mm [0.0, 0.0]"
    assert stats.compare(a, a, "x", "y", margin=0.1).word == "equivalent"
    b = {s: {u: v + 2.0 for u, v in r.items()} for s, r in a.items()}
    assert stats.compare(a, b).verdict == "A better by 2.0 mm [2.0, 2.0]"


# --------------------------------------------------------------------------------------------------
# Seeds: a sample of their own
# --------------------------------------------------------------------------------------------------
def test_paired_seeds_cancel_a_shared_seed_effect_and_unpaired_ones_do_not():
    effect = {0: -4.0, 1: 0.0, 2: 5.0, 10: -4.0, 11: 0.0, 12: 5.0}
    a = _arm(seed_effect=effect)
    b = _arm(shift=1.0, seed_effect=effect)
    paired = stats.compare(a, b)
    assert paired.paired_seeds and (paired.lo, paired.hi) == pytest.approx((-1.0, -1.0))
    unpaired = stats.compare(a, {s + 10: r for s, r in b.items()})
    assert not unpaired.paired_seeds and unpaired.seeds_b == (10, 11, 12)
    assert unpaired.diff == pytest.approx(-1.0) and unpaired.word == "inconclusive"
    assert "Welch" in unpaired.method and unpaired.df < 5


def test_seed_variance_is_a_t_over_seeds():
    # every unit moves with the seed, so all the uncertainty is the seed's: a t with 2 df
    a = _arm(seed_effect={0: 0.0, 1: 1.0, 2: 2.0})
    b = _arm()
    c = stats.compare(a, b)
    assert c.se_test == pytest.approx(0.0, abs=1e-12) and c.df == pytest.approx(2.0)
    assert c.se_seed == pytest.approx(1 / math.sqrt(3))  # sd 1 over 3 seeds
    assert c.hi - c.diff == pytest.approx(4.3027 / math.sqrt(3), abs=1e-4)


def test_one_seed_per_arm_says_seed_variation_is_not_captured():
    c = stats.compare(_arm(seeds=(0,), noise=1, rng=1), _arm(seeds=(0,), shift=2, noise=1, rng=2))
    assert c.se_seed == 0 and "NOT in the interval" in c.method and c.df == 5  # 6 subjects
    borrow = stats.compare(_arm(seed_effect={0: 0, 1: 1, 2: 2}), _arm(seeds=(7,)), "a", "b")
    assert "borrows" in borrow.method and borrow.se_seed == pytest.approx(math.sqrt(1 + 1 / 3))


# --------------------------------------------------------------------------------------------------
# Counts, power line, records
# --------------------------------------------------------------------------------------------------
def test_counts_of_subjects_clips_views_and_seeds():
    c = stats.compare(_arm(noise=1, rng=1), _arm(seeds=(0, 1), noise=1, rng=2))
    d = c.to_dict()
    assert (d["n_subjects"], d["n_clips"], d["n_views"], d["n_seeds"], d["n_seeds_b"]) == (
        6, 18, 36, 3, 2,
    )  # fmt: skip
    assert c.design.counts() == "6 subjects, 18 clips, 36 views, 3 + 2 seeds"
    assert d["cluster"] == "subject"
    one_subject = [u for u in UNITS if u.startswith("cmu00/")]
    single = stats.arm_interval(_arm(units=one_subject))  # no seed spread: df = 3 clips - 1
    assert single.design.cluster == "clip" and single.df == pytest.approx(2, abs=1e-6)
    assert single.to_dict()["n_subjects"] == 1 and single.n_units == 6


def test_power_line_is_the_detectable_difference_formula():
    c = _comp(-1.0, 1.0)  # normal: (1.960 + 0.842) * se
    assert c.detectable == pytest.approx(2.8016, abs=1e-4)
    assert c.power_line.startswith("could detect 2.8 mm (80 % power, alpha 0.05; 5 subjects")
    assert _comp(-1.0, 1.0, df=4).detectable == pytest.approx(2.7764 + 0.9410, abs=1e-3)


def test_record_is_json_ready_and_complete():
    c = stats.compare(_arm(noise=1, rng=1), _arm(shift=1, noise=1, rng=2), "a", "b", margin=0.5)
    d = json.loads(json.dumps(c.to_dict(), allow_nan=False))
    for key in ("diff", "lo", "hi", "margin", "verdict", "word", "winner", "n_subjects",
                "n_clips", "n_views", "n_seeds", "power_line", "detectable_mm", "method", "se",
                "df", "p_value", "equivalence_lo", "equivalence_hi"):  # fmt: skip
        assert key in d, key
    assert d["margin"] == 0.5 and d["word"] in stats.WORDS
    one = stats.compare(_arm(seeds=(0,)), _arm(seeds=(0,), shift=1.0))
    assert json.dumps(one.to_dict(), allow_nan=False)  # infinite df is written as null


def test_arm_interval_mean_weights_and_record():
    a = {0: {"s1/a/camera 0": 10.0, "s2/a/camera 0": 40.0}}
    frames = {"s1/a/camera 0": 100, "s2/a/camera 0": 300, "not evaluated": 50}
    assert stats.arm_interval(a).mean == pytest.approx(25.0)
    assert stats.arm_interval(a, frames).mean == pytest.approx(32.5)  # (100*10 + 300*40) / 400
    iv = stats.arm_interval(_arm(noise=2.0, rng=1), confidence=0.9)
    assert iv.lo < iv.mean < iv.hi and iv.n_seeds == 3 and iv.confidence == 0.9
    assert json.loads(json.dumps(iv.to_dict()))["n_clips"] == 18
    assert " mm [" in str(iv)


def test_zero_weight_units_are_left_out_and_results_are_deterministic():
    a, b = _arm(noise=1.0, rng=1), _arm(noise=1.0, rng=2, shift=1.0)
    w = {u: (0.0 if k < 12 else 1.0) for k, u in enumerate(UNITS)}
    sub = lambda arm: {s: {u: r[u] for u in UNITS[12:]} for s, r in arm.items()}  # noqa: E731
    c = stats.compare(a, b, weights=w)
    assert c.n_units == 24 and c.diff == pytest.approx(stats.compare(sub(a), sub(b)).diff)
    assert stats.compare(a, b, rng_seed=3) == stats.compare(a, b, rng_seed=3)
    reordered = {s: dict(reversed(list(a[s].items()))) for s in reversed(list(a))}
    assert stats.compare(reordered, b, rng_seed=3) == stats.compare(a, b, rng_seed=3)


# --------------------------------------------------------------------------------------------------
# Holm
# --------------------------------------------------------------------------------------------------
def _with_p(p, margin=None):
    """A 'better' comparison with two-sided p-value ``p`` (normal, se 1)."""
    from statistics import NormalDist

    return _comp(-NormalDist().inv_cdf(1 - p / 2), 1.0, margin=margin)


def test_holm_flips_the_claims_that_do_not_survive():
    family = {"x": _with_p(0.01), "y": _with_p(0.03), "z": _with_p(0.04)}
    assert all(c.word == "A better" for c in family.values())
    out = stats.holm(family)
    # adjusted: 3 * 0.01 = 0.03, max(0.03, 2 * 0.03) = 0.06, max(0.06, 0.04) = 0.06
    got = {k: v["p_holm"] for k, v in out["comparisons"].items()}
    assert got == pytest.approx({"x": 0.03, "y": 0.06, "z": 0.06}, abs=1e-9)
    assert out["flipped"] == ["y", "z"] and len(out["lines"]) == 2
    assert out["comparisons"]["y"]["word_holm"] == "inconclusive"
    assert out["comparisons"]["x"]["holds"] and out["comparisons"]["x"]["word_holm"] == "A better"
    assert "inconclusive under Holm over 3" in out["lines"][0]


def test_holm_accepts_records_keeps_inconclusive_and_tests_equivalence_by_tost():
    eq = _comp(0.1, 0.2, margin=1.0)
    fam = {"win": _with_p(0.001).to_dict(), "eq": eq, "open": _comp(0.5, 1.0).to_dict()}
    out = stats.holm(fam)
    assert out["comparisons"]["eq"]["p"] == pytest.approx(eq.p_equivalence)
    assert out["flipped"] == [] and out["comparisons"]["open"]["word_holm"] == "inconclusive"
    with pytest.raises(DataError, match="non-empty"):
        stats.holm({})


# --------------------------------------------------------------------------------------------------
# Student's t and bad input
# --------------------------------------------------------------------------------------------------
def test_student_t_matches_scipy():
    sst = pytest.importorskip("scipy.stats")
    for df in (1, 2, 2.5, 4, 10, 100, 1e5, math.inf):
        for p in (0.3, 0.8, 0.95, 0.975, 0.999):
            assert student_t.quantile(p, df) == pytest.approx(sst.t.ppf(p, df), rel=1e-8)
        for x in (-30, -2, -0.1, 0, 0.5, 3, 50):
            assert student_t.cdf(x, df) == pytest.approx(sst.t.cdf(x, df), abs=1e-9)


def _raises(match, fn, *args, **kw):
    with pytest.raises(DataError, match=match) as info:
        fn(*args, **kw)
    return info.value


def test_bad_input_is_rejected_with_the_arm_named():
    assert _raises("no seeds", stats.compare, {}, _arm(), "mine", "theirs").source == "mine"
    a = _arm()
    del a[1]["cmu03/act1/camera 1"]
    _raises(r"seed 1 lacks .*'cmu03/act1/camera 1'", stats.compare, a, _arm())
    b = _arm(units=UNITS[:-2] + ["x/y/extra 1", "x/y/extra 2"])
    err = _raises("different units", stats.compare, _arm(), b, "a", "b")
    assert "'cmu05/act2/camera 1'" in err.problem and "'x/y/extra 1'" in err.problem
    a = _arm()
    a[2]["cmu05/act0/camera 0"] = float("nan")
    assert "cmu05/act0/camera 0" in _raises("NaN", stats.arm_interval, a, name="d").problem
    flat = _arm(units=["walk 1", "walk 2"])
    assert "'subject/action/camera'" in _raises("must be named", stats.arm_interval, flat).problem
    _raises("at least 2 test clips", stats.arm_interval, _arm(units=["s/a/c 0", "s/a/c 1"]))


def test_bad_settings_are_rejected():
    w = {u: 1.0 for u in UNITS}
    _raises("negative", stats.compare, _arm(), _arm(), weights={**w, UNITS[3]: -1.0})
    _raises("lack 1 unit", stats.compare, _arm(), _arm(), weights={u: 1.0 for u in UNITS[1:]})
    for confidence in (0, 1, 1.5, float("nan")):
        _raises("confidence", stats.compare, _arm(), _arm(), confidence=confidence)
    for margin in (0, -1, float("inf"), "1"):
        _raises("margin", stats.compare, _arm(), _arm(), margin=margin)
    _raises("n_boot", stats.compare, _arm(), _arm(), n_boot=1)
    _raises("different names", stats.compare, _arm(), _arm(), "x", "x")
    _raises("integers", stats.arm_interval, {"0": {"a/b/c": 1.0, "a/c/c": 2.0}})
    mixed = {"a": _comp(1, 1), "b": stats.Comparison("p", "q", 1, 1, 0, 9, _comp(1, 1).design,
                                                     True, confidence=0.9)}  # fmt: skip
    _raises("mixes confidence", stats.holm, mixed)
