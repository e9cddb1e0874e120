"""Notebook 02's study on hand-made results: arms of seeds, comparisons decided by the shared
statistics, the verdict flags and the metrics JSON."""

import numpy as np

from dilpose import config
from dilpose.studies import common, s02_model


def _run(cfg, seed: int, errors: list[float]) -> common.RunResult:
    cfg = cfg.replace(seed=seed)
    clips = [
        {"subject": "s", "action": f"walk {k}", "camera": 0, "frames": 50 + 10 * k, "mpjpe_mm": e}
        for k, e in enumerate(errors)
    ]
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


def _study(main_shift: float, causal_shift: float, seeds=(0, 1, 2)):
    rng = np.random.default_rng(0)
    base = rng.uniform(40, 90, size=12)  # 12 test sequences of different difficulty
    cfg = config.for_profile("default")
    arms = s02_model.arms(cfg)
    for label, arm in arms.items():
        shift = {"243 frames": main_shift, "243 frames causal": causal_shift}.get(label, 0.0)
        arm.runs = [
            _run(arm.cfg, s, list(base + shift + rng.normal(0, 0.2, 12)))
            for s in (seeds if arm.decisive else seeds[:1])
        ]
    return arms


def test_arms_are_main_causal_27_81_decisive_and_1_illustrative():
    arms = s02_model.arms(config.for_profile("default"))
    assert list(arms) == ["243 frames", "243 frames causal", "27 frames", "81 frames", "1 frame"]
    assert [a.decisive for a in arms.values()] == [True, True, True, True, False]
    smoke = s02_model.arms(config.for_profile("smoke"))  # 27-frame main model: no 27/81-frame arm
    assert list(smoke) == ["27 frames", "27 frames causal", "1 frame"]


def test_a_clear_advantage_is_found_and_a_tie_is_no_clear_difference():
    study = _study(main_shift=-3.0, causal_shift=0.0)  # main 3 mm better than 27 frames and causal
    comps = s02_model.comparisons(study)
    c27 = comps["243 frames vs 27 frames"]
    assert c27["winner"] == "243 frames" and c27["hi"] < 0 and -3.4 < c27["diff"] < -2.6
    assert c27["seeds_a"] == c27["seeds_b"] == [0, 1, 2] and c27["paired_seeds"]
    verdict = s02_model.verdict(study, comps, "cmu")
    assert verdict["temporal_context_helps"] is True and verdict["seeing_the_future_helps"] is True
    assert any("(illustrative: seed 0 only)" in line for line in verdict["lines"])
    assert any(
        line.startswith("From 81 to 243 frames the error falls") for line in verdict["lines"]
    )
    assert any(
        line.startswith("From 27 to 81 frames the error does not clearly fall")
        for line in verdict["lines"]
    )

    tie = _study(main_shift=0.0, causal_shift=0.0)
    comps = s02_model.comparisons(tie)
    assert comps["243 frames vs 27 frames"]["winner"] is None
    assert comps["243 frames vs 27 frames"]["lo"] <= 0 <= comps["243 frames vs 27 frames"]["hi"]
    verdict = s02_model.verdict(tie, comps, "cmu")
    assert verdict["temporal_context_helps"] is False
    assert any(
        line.startswith("Temporal context beyond 27 frames does NOT clearly help")
        for line in verdict["lines"]
    )
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


def test_metrics_json_records_seeds_intervals_and_verdicts():
    import pandas as pd

    study = _study(-3.0, 1.0)
    comps = s02_model.comparisons(study)
    verdict = s02_model.verdict(study, comps, "cmu")

    class Data:
        name, test_subjects = "cmu", ("s",)

    doc = s02_model.metrics_json(
        study, comps, verdict, Data, pd.DataFrame({"B=1": [1]}, index=[128])
    )
    assert doc["arms"]["243 frames"]["seeds"] == [0, 1, 2] and doc["arms"]["1 frame"]["seeds"] == [
        0
    ]
    iv = doc["arms"]["243 frames"]["mpjpe_frames_mm"]
    assert iv["lo"] <= iv["mean"] <= iv["hi"]
    assert set(doc["comparisons"]) == {
        f"243 frames vs {k}" for k in ("243 frames causal", "27 frames", "1 frame", "81 frames")
    } | {"81 frames vs 27 frames"}
    assert doc["comparisons"]["81 frames vs 27 frames"]["seeds_a"] == [0, 1, 2]
    assert doc["comparisons"]["81 frames vs 27 frames"]["decisive"]
    assert not doc["comparisons"]["243 frames vs 1 frame"]["decisive"]
    assert all({"verdict", "lo", "hi", "winner"} <= set(c) for c in doc["comparisons"].values())
    assert doc["temporal_context_helps"] is True and doc["verdict"] == verdict["lines"]


def test_clip_length_table_groups_test_clips_by_length():
    study = _study(-3.0, 0.0)
    runs = s02_model.ablation_runs(study)
    table = common.clip_length_table(runs, edges=(81, 243))
    # the hand-made clips are 50, 60, ..., 160 frames long
    assert list(table.index) == ["1-81 frames", "82-243 frames", "> 243 frames"]
    assert table.loc["1-81 frames", "clips"] == 4 and table.loc["82-243 frames", "clips"] == 8
    assert table.loc["1-81 frames", "frames"] == 50 + 60 + 70 + 80
    assert table.loc["> 243 frames", "clips"] == 0
    first = runs[0].results["per_sequence"][:4]
    expected = sum(r["mpjpe_mm"] * r["frames"] for r in first) / sum(r["frames"] for r in first)
    assert table.loc["1-81 frames", "243 frames"] == round(expected, 1)


def test_key_verdicts_name_each_role_and_say_what_was_not_run():
    study = _study(-3.0, 0.0)
    v = s02_model.key_verdicts(study, s02_model.comparisons(study))
    assert v["main"] == "243 frames" and v["causal"] == "243 frames causal"
    assert v["future"].startswith("243 frames better by") and v["context"].startswith("243 frames")
    assert v["context_81"].startswith("inconclusive")
    smoke = {k: a for k, a in study.items() if k in ("243 frames", "243 frames causal")}
    v = s02_model.key_verdicts(smoke, s02_model.comparisons(smoke))
    assert v["context"] == v["single"] == "not run in this profile"


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
