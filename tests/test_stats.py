"""dilpose.stats: bootstrap comparisons of two arms on hand-made results (errors in mm)."""

import json
import math

import numpy as np
import pytest

from dilpose import stats
from dilpose.errors import DataError

UNITS = [f"cmu{k:02d}/walk/camera {c}" for k in range(10) for c in range(3)]  # 30 units


def _arm(seeds=(0, 1, 2), units=UNITS, base=50.0, shift=0.0, noise=0.0, rng=0, seed_effect=None):
    """{seed: {unit: error_mm}}: a per-unit difficulty (the same for every arm built with the same
    `base`), plus `shift`, plus an optional per-seed offset, plus independent noise."""
    difficulty = np.random.default_rng(123).uniform(30, 90, len(units))  # shared across arms
    g = np.random.default_rng(rng)
    out = {}
    for s in seeds:
        off = 0.0 if seed_effect is None else seed_effect[s]
        vals = base - 50.0 + difficulty + shift + off + noise * g.normal(size=len(units))
        out[s] = {u: float(v) for u, v in zip(units, vals)}
    return out


def _reference(errors_a, errors_b, weights, n_boot, rng_seed, confidence=0.95):
    """Slow per-replicate loop of the documented bootstrap, with the documented draw order."""
    seeds_a, seeds_b = sorted(errors_a), sorted(errors_b)
    units = sorted(errors_a[seeds_a[0]])
    w = np.array([1.0 if weights is None else weights[u] for u in units])
    ea = np.array([[errors_a[s][u] for u in units] for s in seeds_a])
    eb = np.array([[errors_b[s][u] for u in units] for s in seeds_b])
    rng = np.random.default_rng(rng_seed)
    ui = rng.integers(0, len(units), size=(n_boot, len(units)))
    sa = rng.integers(0, len(seeds_a), size=(n_boot, len(seeds_a)))
    sb = sa if seeds_a == seeds_b else rng.integers(0, len(seeds_b), size=(n_boot, len(seeds_b)))

    def stat(e, units_drawn, seeds_drawn):
        return np.mean(
            [
                np.sum(w[units_drawn] * e[s, units_drawn]) / np.sum(w[units_drawn])
                for s in seeds_drawn
            ]
        )

    reps = [stat(ea, ui[b], sa[b]) - stat(eb, ui[b], sb[b]) for b in range(n_boot)]
    alpha = 1 - confidence
    return np.quantile(reps, [alpha / 2, 1 - alpha / 2])


def test_constant_shift_of_two_mm_is_found_with_an_interval_around_two():
    a = _arm(noise=0.5, rng=1)
    b = _arm(shift=2.0, noise=0.5, rng=2)
    c = stats.compare(a, b, "dilated", "baseline")
    assert c.winner == "dilated"
    assert c.verdict.startswith("dilated better by ")
    assert c.hi < 0  # excludes 0
    assert -2.4 < c.lo < c.diff < c.hi < -1.6
    assert c.diff == pytest.approx(-2.0, abs=0.25)


def test_exact_constant_shift_gives_a_degenerate_interval_at_the_shift():
    # B = A + 2 mm on every unit and seed: every replicate's difference is exactly -2.
    a = _arm(noise=3.0, rng=1)
    b = {s: {u: v + 2.0 for u, v in r.items()} for s, r in a.items()}
    c = stats.compare(a, b)
    assert (c.diff, c.lo, c.hi) == pytest.approx((-2.0, -2.0, -2.0), abs=1e-9)
    assert c.verdict == "A better by 2.0 mm [2.0, 2.0]"


@pytest.mark.parametrize("paired", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_interval_matches_a_slow_reference_loop(paired, weighted):
    a = _arm(noise=2.0, rng=1)
    b = _arm(seeds=(0, 1, 2) if paired else (5, 6), shift=0.7, noise=2.0, rng=2)
    weights = {u: float(k % 7 + 1) for k, u in enumerate(UNITS)} if weighted else None
    c = stats.compare(a, b, weights=weights, n_boot=300, rng_seed=9)
    assert c.paired_seeds is paired
    np.testing.assert_allclose((c.lo, c.hi), _reference(a, b, weights, 300, 9), rtol=0, atol=1e-9)


def test_interval_width_agrees_with_the_standard_error_of_a_paired_mean():
    # One seed: the difference is the mean of 30 per-unit differences d_u; its bootstrap 95 %
    # interval is about diff +- 1.96 * sd(d) / sqrt(n) (sd with ddof=0, as the bootstrap uses).
    d = np.random.default_rng(4).normal(1.0, 3.0, len(UNITS))
    a = {0: {u: 50.0 + x for u, x in zip(UNITS, d)}}
    b = {0: {u: 50.0 for u in UNITS}}
    c = stats.compare(a, b, n_boot=4000)
    half = 1.96 * d.std() / math.sqrt(len(d))
    assert c.diff == pytest.approx(d.mean(), abs=1e-9)
    assert (c.hi - c.lo) / 2 == pytest.approx(half, rel=0.12)
    assert (c.lo + c.hi) / 2 == pytest.approx(d.mean(), abs=0.2 * half)


def test_zero_mean_difference_with_independent_noise_is_no_clear_difference():
    a = _arm(noise=2.0, rng=1)
    b = _arm(noise=2.0, rng=2)
    # make the observed mean difference exactly zero; the noise stays independent per unit and seed
    gap = np.mean([np.mean(list(a[s].values())) - np.mean(list(b[s].values())) for s in a])
    b = {s: {u: v + gap for u, v in r.items()} for s, r in b.items()}
    c = stats.compare(a, b, "dilated", "baseline")
    assert c.diff == pytest.approx(0.0, abs=1e-9)
    assert c.lo < 0 < c.hi and c.hi - c.lo > 0.2
    assert c.winner is None
    assert c.verdict.startswith("no clear difference: ")


def test_identical_arms_give_zero_difference_and_no_clear_difference():
    a = _arm(noise=2.0, rng=1)
    c = stats.compare(a, a, "x", "y")
    assert c.diff == 0 and c.lo <= 0 <= c.hi
    assert c.winner is None
    assert c.verdict == "no clear difference: 0.0 mm [0.0, 0.0]"


def test_same_seed_sets_are_paired_and_pairing_cancels_a_shared_seed_effect():
    effect = {0: -4.0, 1: 0.0, 2: 5.0, 10: -4.0, 11: 0.0, 12: 5.0}
    a = _arm(seed_effect=effect)
    b = _arm(shift=1.0, seed_effect=effect)
    paired = stats.compare(a, b)
    assert paired.paired_seeds and paired.seeds_a == paired.seeds_b == (0, 1, 2)
    # per seed and unit B - A is exactly 1 mm, so the paired interval is exactly [-1, -1]
    assert (paired.lo, paired.hi) == pytest.approx((-1.0, -1.0), abs=1e-9)
    # the same numbers under other seed labels: seeds are now resampled independently per arm and
    # the seed effect (spread 9 mm) swamps the 1 mm difference
    b_relabelled = {s + 10: r for s, r in b.items()}
    unpaired = stats.compare(a, b_relabelled)
    assert not unpaired.paired_seeds
    assert unpaired.seeds_a == (0, 1, 2) and unpaired.seeds_b == (10, 11, 12)
    assert unpaired.diff == pytest.approx(-1.0)
    assert unpaired.lo < -3 and unpaired.hi > 1 and unpaired.winner is None


def test_different_seed_sets_and_counts_work_unpaired():
    a = _arm(seeds=(0, 1, 2), noise=0.5, rng=1)
    b = _arm(seeds=(1, 2, 3, 4), shift=3.0, noise=0.5, rng=2)  # overlapping but not identical
    c = stats.compare(a, b, "a", "b")
    assert not c.paired_seeds and c.seeds_a == (0, 1, 2) and c.seeds_b == (1, 2, 3, 4)
    assert c.winner == "a" and c.diff == pytest.approx(-3.0, abs=0.3)
    assert "independently per arm" in c.method


def test_one_seed_per_arm_works_and_is_recorded():
    a = _arm(seeds=(0,), noise=1.0, rng=1)
    b = _arm(seeds=(0,), shift=2.0, noise=1.0, rng=2)
    c = stats.compare(a, b)
    assert c.seeds_a == (0,) and c.seeds_b == (0,) and c.winner == "A"
    assert "only one seed" in c.method and "only one seed" in c.to_dict()["method"]
    iv = stats.arm_interval(a)
    assert iv.n_seeds == 1 and iv.lo < iv.mean < iv.hi


def test_frame_weights_change_the_statistic_as_computed_by_hand():
    a = {0: {"u1": 10.0, "u2": 40.0}, 1: {"u1": 10.0, "u2": 40.0}}
    b = {0: {"u1": 20.0, "u2": 20.0}, 1: {"u1": 20.0, "u2": 20.0}}
    frames = {"u1": 100, "u2": 300, "not evaluated": 50}  # extra units in the weights are ignored
    assert stats.arm_interval(a).mean == pytest.approx(25.0)  # (10 + 40) / 2
    assert stats.arm_interval(a, frames).mean == pytest.approx(32.5)  # (100*10 + 300*40) / 400
    plain, weighted = stats.compare(a, b), stats.compare(a, b, weights=frames)
    assert plain.diff == pytest.approx(5.0) and weighted.diff == pytest.approx(12.5)
    assert weighted.weighted and not plain.weighted
    assert "frame-weighted" in weighted.method


def test_zero_weight_units_are_left_out():
    a = _arm(noise=1.0, rng=1)
    b = _arm(noise=1.0, rng=2, shift=1.0)
    w = {u: (0.0 if k < 10 else 1.0) for k, u in enumerate(UNITS)}
    c = stats.compare(a, b, weights=w)
    sub = lambda arm: {s: {u: r[u] for u in UNITS[10:]} for s, r in arm.items()}  # noqa: E731
    ref = stats.compare(sub(a), sub(b))
    assert c.n_units == 20 and c.diff == pytest.approx(ref.diff)


def test_arm_interval_contains_the_mean_and_reports_sizes():
    iv = stats.arm_interval(_arm(noise=2.0, rng=1), confidence=0.9)
    assert iv.lo < iv.mean < iv.hi and iv.n_seeds == 3 and iv.n_units == 30 and iv.confidence == 0.9
    assert json.loads(json.dumps(iv.to_dict()))["n_units"] == 30
    assert str(iv).endswith("]") and " mm [" in str(iv)


def test_same_rng_seed_same_result_and_dict_order_does_not_matter():
    a = _arm(noise=2.0, rng=1)
    b = _arm(shift=0.5, noise=2.0, rng=2)
    c1, c2 = stats.compare(a, b, rng_seed=3), stats.compare(a, b, rng_seed=3)
    assert c1 == c2
    reordered = {s: dict(reversed(list(a[s].items()))) for s in reversed(list(a))}
    assert stats.compare(reordered, b, rng_seed=3) == c1
    assert stats.compare(a, b, rng_seed=4) != c1
    assert stats.arm_interval(a, rng_seed=3) == stats.arm_interval(a, rng_seed=3)


def test_verdict_wording_and_to_dict():
    def comp(diff, lo, hi):
        return stats.Comparison(
            "dilated", "baseline", diff, lo, hi, True, (0, 1, 2), (0, 1, 2), 30, 0.95, 2000
        )

    assert comp(-1.23, -2.0, -0.4).verdict == "dilated better by 1.2 mm [0.4, 2.0]"
    assert comp(0.8, 0.2, 1.5).verdict == "baseline better by 0.8 mm [0.2, 1.5]"
    assert comp(-0.3, -1.1, 0.5).verdict == "no clear difference: -0.3 mm [-1.1, 0.5]"
    assert comp(0.5, 0.0, 1.0).winner is None  # a bound at exactly 0 counts as containing 0
    assert comp(-0.04, -0.06, -0.02).verdict == "dilated better by 0.04 mm [0.02, 0.06]"
    d = json.loads(json.dumps(comp(-1.23, -2.0, -0.4).to_dict()))
    assert d["winner"] == "dilated" and d["verdict"].startswith("dilated better")
    assert d["seeds_a"] == [0, 1, 2] and d["n_units"] == 30 and d["n_boot"] == 2000
    assert d["paired_seeds"] is True and "paired" in d["method"]
    assert {"name_a", "name_b", "diff", "lo", "hi", "confidence"} <= d.keys()


def _raises(match, fn, *args, **kw):
    with pytest.raises(DataError, match=match) as info:
        fn(*args, **kw)
    return info.value


def test_arm_without_seeds_is_rejected():
    err = _raises("no seeds", stats.compare, {}, _arm(), "mine", "theirs")
    assert err.source == "mine"


def test_unit_sets_must_agree_between_seeds_and_between_arms():
    a = _arm()
    del a[1]["cmu03/walk/camera 1"]
    _raises(r"seed 1 lacks .*'cmu03/walk/camera 1'", stats.compare, a, _arm())
    b = _arm(units=UNITS[:-2] + ["extra 1", "extra 2"])
    err = _raises("different units", stats.compare, _arm(), b, "a", "b")
    assert (
        "'cmu09/walk/camera 2'" in err.problem
        and "'extra 1'" in err.problem
        and err.source == "stats"
    )
    many = _arm(units=[f"x{k}" for k in range(30)])
    assert "and 25 more" in _raises("different units", stats.compare, _arm(), many).problem


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_errors_are_rejected(bad):
    a = _arm()
    a[2]["cmu05/walk/camera 0"] = bad
    err = _raises("NaN or infinite", stats.arm_interval, a, name="dilated")
    assert "cmu05/walk/camera 0" in err.problem and err.source == "dilated"


def test_bad_weights_are_rejected():
    w = {u: 1.0 for u in UNITS}
    _raises("negative", stats.compare, _arm(), _arm(), weights={**w, UNITS[3]: -1.0})
    _raises("lack 1 unit", stats.compare, _arm(), _arm(), weights={u: 1.0 for u in UNITS[1:]})
    _raises("finite", stats.arm_interval, _arm(), {**w, UNITS[0]: float("nan")})
    _raises("at least 2", stats.arm_interval, _arm(), {u: float(u == UNITS[0]) for u in UNITS})


def test_fewer_than_two_units_is_rejected():
    _raises("at least 2 test units", stats.compare, _arm(units=["only"]), _arm(units=["only"]))


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.1, float("nan")])
def test_confidence_outside_zero_one_is_rejected(confidence):
    _raises("confidence", stats.compare, _arm(), _arm(), confidence=confidence)
    _raises("confidence", stats.arm_interval, _arm(), confidence=confidence)


def test_other_bad_input_is_rejected():
    _raises("n_boot", stats.compare, _arm(), _arm(), n_boot=0)
    _raises("different names", stats.compare, _arm(), _arm(), "x", "x")
    _raises("integers", stats.arm_interval, {"0": {"a": 1.0, "b": 2.0}})
    _raises("must be a number", stats.arm_interval, {0: {"a": 1.0, "b": "oops"}})
