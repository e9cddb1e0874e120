"""Notebook 02's study on hand-made results: arms of seeds, comparisons decided by the shared
statistics, the verdict flags and the metrics JSON."""

import numpy as np

from dilpose import batches, config
from dilpose.studies import common, s02_model

MATCHED = ("243 frames, matched", "81 frames, matched", "27 frames, matched")


class _Data:
    """What the study reads of a dataset: names, and clip lengths by subject (train: two clips of
    300 and two of 100 frames)."""

    name, test_subjects, train_subjects = "cmu", ("s1", "s2", "s3"), ("t1",)
    positions_3d = {"t1": {k: np.zeros((n, 1)) for k, n in zip("abcd", (300, 300, 100, 100))}}


def _run(cfg, seed: int, errors: list[float]) -> common.RunResult:
    cfg = cfg.replace(seed=seed)
    clips = []
    for k, e in enumerate(errors):
        frames = 100 + 40 * k  # 100 ... 540 frames: the longer ones have full-context frames
        full = max(0, frames - 242)
        clips.append({
            "subject": f"s{k % 3 + 1}", "action": f"walk {k}", "camera": 0, "frames": frames,
            "mpjpe_mm": e, "full_context_frames": full,
            "mpjpe_full_context_mm": e if full else None,
        })  # fmt: skip
    mean = float(np.mean(errors))
    results = {
        m: {
            "action_mean": mean,
            "frame_mean": mean,
            "per_action": {"walk": mean},
            "num_frames": {"walk": 1},
        }
        for m in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")
    }
    results["per_sequence"], results["protocol"] = clips, {"flip_test": True}
    return common.RunResult(common.run_label(cfg), cfg, [], results, 1.0, 0, None)


def _study(main_shift: float, causal_shift: float, seeds=(0, 1, 2), context=(0, 1, 2, 3, 4),
           shifts=None):  # fmt: skip
    """Hand-made arms on 12 test units of 3 subjects: every arm's error is the same per-unit
    difficulty plus its shift plus small noise."""
    rng = np.random.default_rng(0)
    base = rng.uniform(40, 90, size=12)  # 12 test sequences of different difficulty
    arms = s02_model.arms(config.for_profile("default"), _Data)
    shifts = {"243 frames": main_shift, "243 frames causal": causal_shift, **(shifts or {})}
    for label, arm in arms.items():
        use = context if arm.matched else seeds if arm.decisive else seeds[:1]
        arm.runs = [
            _run(arm.cfg, s, list(base + shifts.get(label, 0.0) + rng.normal(0, 0.2, 12)))
            for s in use
        ]
    return arms


def test_arms_main_causal_matched_and_1_frame_illustrative():
    arms = s02_model.arms(config.for_profile("default"), _Data)
    assert list(arms) == ["243 frames", "243 frames causal", *MATCHED[::-1], "1 frame"]
    assert [a.decisive for a in arms.values()] == [True] * 5 + [False]
    assert [a.matched for a in arms.values()] == [False, False, True, True, True, False]
    # the matched arms train on the same frames, subsampled so they see as many windows
    share = s02_model.matched_share(_Data, 243)
    kept = 2 * int(batches.context_frames(300, 243).sum())
    assert share == kept / 800 and 0 < share < 1
    for label in MATCHED:
        cfg = arms[label].cfg
        assert cfg.min_context == 243 and cfg.stride_subsample == max(1, round(32 * share))
    smoke = s02_model.arms(config.for_profile("smoke"), _Data)  # 27-frame main model
    assert list(smoke) == [
        "27 frames", "27 frames causal", "9 frames, matched", "27 frames, matched", "1 frame"
    ]  # fmt: skip


def test_a_clear_advantage_is_found_and_an_unclear_one_is_inconclusive():
    # main 3 mm better than its causal twin; the 243-frame matched arm 4 mm better than 27 frames
    study = _study(-3.0, 0.0, shifts={"243 frames, matched": -4.0})
    comps = s02_model.comparisons(study)
    c = comps["243 frames, matched vs 27 frames, matched"]
    assert c["winner"] == "243 frames, matched" and c["hi"] < 0 and -4.4 < c["diff"] < -3.6
    assert c["seeds_a"] == c["seeds_b"] == [0, 1, 2, 3, 4] and c["paired_seeds"]
    assert c["margin"] == s02_model.MARGIN_MM and "could detect" in c["power_line"]
    assert c["n_subjects"] == 3 and c["family"]
    full = comps["243 frames, matched vs 27 frames, matched (full-context frames)"]
    assert full["subset"] == "full_context" and full["n_views"] < c["n_views"]
    holm = s02_model.holm(comps)
    assert "243 frames vs 1 frame" not in holm["family"]  # illustrative: not in the family
    verdict = s02_model.verdict(study, comps, "cmu", holm)
    assert verdict["temporal_context_helps"] is True and verdict["seeing_the_future_helps"] is True
    assert any("(illustrative: seed 0 only)" in line for line in verdict["lines"])
    assert any(line.startswith("Temporal context (matched") for line in verdict["lines"])

    tie = _study(0.0, 0.0)
    comps = s02_model.comparisons(tie)
    c = comps["243 frames, matched vs 27 frames, matched"]
    assert c["winner"] is None and c["lo"] <= 0 <= c["hi"]
    assert c["word"] in ("equivalent", "inconclusive")
    verdict = s02_model.verdict(tie, comps, "cmu", s02_model.holm(comps))
    assert verdict["temporal_context_helps"] is False
    assert not any("does not help" in line or "level" in line for line in verdict["lines"])
    assert "not comparable" in verdict["lines"][-1]


def test_identical_arms_give_an_interval_containing_zero():
    study = _study(0.0, 0.0)
    twin = study["243 frames causal"]
    twin.runs = [
        common.RunResult(r.name, r.cfg.replace(causal=True), [], r.results, 1.0, 0, None)
        for r in study["243 frames"].runs
    ]
    c = s02_model.comparisons(study)["243 frames vs 243 frames causal"]
    assert c["diff"] == 0 and c["lo"] <= 0 <= c["hi"] and c["winner"] is None
    assert c["word"] == "equivalent"  # exactly 0 with no spread: inside any margin


def test_metrics_json_records_seeds_intervals_verdicts_and_holm():
    import pandas as pd

    study = _study(-3.0, 1.0)
    comps = s02_model.comparisons(study)
    holm = s02_model.holm(comps)
    verdict = s02_model.verdict(study, comps, "cmu", holm)
    doc = s02_model.metrics_json(
        study, comps, verdict, _Data, pd.DataFrame({"B=1": [1]}, index=[128]), holm
    )
    assert doc["arms"]["243 frames"]["seeds"] == [0, 1, 2] and doc["arms"]["1 frame"]["seeds"] == [
        0
    ]
    assert doc["arms"]["27 frames, matched"]["seeds"] == [0, 1, 2, 3, 4]
    iv = doc["arms"]["243 frames"]["mpjpe_frames_mm"]
    assert iv["lo"] <= iv["mean"] <= iv["hi"]
    pairs = {f"{MATCHED[0]} vs {MATCHED[1]}", f"{MATCHED[0]} vs {MATCHED[2]}",
             f"{MATCHED[1]} vs {MATCHED[2]}"}  # fmt: skip
    assert set(doc["comparisons"]) == {
        "243 frames vs 243 frames causal", "243 frames vs 1 frame", *pairs,
        *(f"{k} (full-context frames)" for k in pairs),
    }  # fmt: skip
    assert not doc["comparisons"]["243 frames vs 1 frame"]["decisive"]
    for c in doc["comparisons"].values():
        assert {"verdict", "lo", "hi", "margin", "power_line", "n_subjects", "n_seeds"} <= set(c)
    assert doc["holm"]["family"] == [k for k, c in comps.items() if c["family"]]
    assert doc["matched_training"]["min_context"] == 243 and doc["margin_mm"] == 2.0
    assert doc["verdict"] == verdict["lines"]


def test_clip_length_table_groups_test_clips_by_length():
    study = _study(-3.0, 0.0)
    runs = s02_model.ablation_runs(study)
    table = common.clip_length_table(runs, edges=(81, 243))
    # the hand-made clips are 100, 140, ..., 540 frames long
    assert list(table.index) == ["1-81 frames", "82-243 frames", "> 243 frames"]
    assert table.loc["1-81 frames", "clips"] == 0 and table.loc["82-243 frames", "clips"] == 4
    assert table.loc["82-243 frames", "frames"] == 100 + 140 + 180 + 220
    assert table.loc["> 243 frames", "clips"] == 8
    first = runs[0].results["per_sequence"][:4]
    expected = sum(r["mpjpe_mm"] * r["frames"] for r in first) / sum(r["frames"] for r in first)
    assert table.loc["82-243 frames", "243 frames"] == round(expected, 1)


def test_key_verdicts_name_each_role_and_say_what_was_not_run():
    study = _study(-3.0, 0.0, shifts={"243 frames, matched": -4.0})
    v = s02_model.key_verdicts(study, s02_model.comparisons(study))
    assert v["main"] == "243 frames" and v["causal"] == "243 frames causal"
    assert v["future"].startswith("243 frames better by") and "; could detect" in v["future"]
    assert v["context"].startswith("243 frames, matched better by")
    assert v["longest"] == MATCHED[0] and v["shortest"] == MATCHED[2]
    assert "full" not in v["context_full"] and v["context_full"] != "not run in this profile"
    assert v["context_low"].startswith(("inconclusive", "equivalent"))
    smoke = {k: a for k, a in study.items() if k in ("243 frames", "243 frames causal", "1 frame")}
    v = s02_model.key_verdicts(smoke, s02_model.comparisons(smoke))
    assert v["context"] == v["context_full"] == "not run in this profile"
    assert v["single"] != "not run in this profile"


def _sequence(frames=60):
    from dilpose import skeleton as sk
    from dilpose.datasets import Sequence

    rng = np.random.default_rng(1)
    pos = rng.normal(0, 0.3, (frames, 17, 3)) + np.array([0, 0, 4.0])  # camera space, 4 m away
    kp = rng.uniform(-0.5, 0.5, (frames, sk.COCO17.num_joints, 2))
    return Sequence("s", "walk 1", 0, kp, pos, np.zeros(9), np.ones((frames, 17)))


def test_window_and_flip_is_the_trainers_window_and_its_mirror():
    from dilpose import skeleton as sk

    seq = _sequence()
    pair = s02_model.window_and_flip(seq, 27, frame=30)
    np.testing.assert_allclose(pair["x"], seq.keypoints_2d[30 - 13 : 30 + 14], atol=1e-6)
    root_relative = seq.positions_3d[30] - seq.positions_3d[30, :1]
    np.testing.assert_allclose(pair["y"][1:], root_relative[1:], atol=1e-6)
    assert np.all(pair["y"][0] == 0)  # the root is zeroed: the trajectory is learnt apart
    mirror = pair["x"].copy()
    mirror[..., 0] *= -1
    left, right = list(sk.COCO17.joints_left), list(sk.COCO17.joints_right)
    mirror[:, left + right] = mirror[:, right + left]
    np.testing.assert_allclose(pair["x_flip"], mirror, atol=1e-6)
    assert pair["y_flip"][sk.H36M17.index("l_knee"), 0] == -pair["y"][sk.H36M17.index("r_knee"), 0]
    causal = s02_model.window_and_flip(seq, 27, frame=30, causal=True)
    np.testing.assert_allclose(causal["x"], seq.keypoints_2d[30 - 26 : 31], atol=1e-6)
    import pytest

    with pytest.raises(ValueError, match="outside the sequence's 60 frames"):
        s02_model.window_and_flip(seq, 27, frame=60)


def test_strided_and_dilated_paths_agree_on_a_window():
    from dilpose.model import ModelConfig

    twin = s02_model.strided_vs_dilated(
        ModelConfig(channels=16, filter_widths=(3, 3)), windows=8, repeats=1
    )
    assert twin["receptive_field"] == 9 and twin["windows"] == 8
    assert 0 <= twin["max_difference_mm"] < 1e-3  # float32 rounding only
    assert twin["dilated_ms"] > 0 and twin["strided_ms"] > 0
    assert twin["speedup"] == twin["dilated_ms"] / twin["strided_ms"]
