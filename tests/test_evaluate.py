"""Pooling errors over a test set (per action, per frame, the written protocol) and the paper's
Table I, on cases worked out by hand; a model's evaluation is tested in test_train.py."""

import numpy as np
import pytest

from dilpose import evaluate as E
from dilpose.errors import DataError
from dilpose.paper import PAPER_TABLE_I, TABLE_I_COLUMNS


def random_poses(rng, shape):
    return rng.normal(scale=0.3, size=shape)


# ---------------------------------------------------------------------------------------- evaluate


def offset_record(action, subject, frames, error_mm, joints=3):
    """A record whose every joint is ``error_mm`` off (a 3-4-5 direction) in every frame."""
    rng = np.random.default_rng(len(action) + frames)
    target = random_poses(rng, (frames, joints, 3))
    step = np.array([0.6, 0.8, 0.0]) * error_mm / 1000
    return {"action": action, "subject": subject, "pred": target + step, "target": target}


def test_per_action_and_per_frame_averaging_differ():
    # walk: S1 2 frames at 10 mm + S2 1 frame at 40 mm; run: S1 1 frame at 70 mm.
    # per_action walk = (10 + 10 + 40) / 3 = 20 (frames pooled, not the mean of the sequences, 25);
    # run = 70; action_mean = (20 + 70) / 2 = 45; frame_mean = (10 + 10 + 40 + 70) / 4 = 32.5.
    results = [
        offset_record("walk", "S1", 2, 10),
        offset_record("walk", "S2", 1, 40),
        offset_record("run", "S1", 1, 70),
    ]
    out = E.aggregate(results, flip_test=False, root_relative=False, joint_layout=None)
    m = out["mpjpe"]
    assert m["per_action"] == pytest.approx({"walk": 20.0, "run": 70.0})
    assert m["action_mean"] == pytest.approx(45.0)
    assert m["frame_mean"] == pytest.approx(32.5)
    assert m["num_frames"] == {"walk": 3, "run": 1}
    # A constant offset is a translation: P-MPJPE and MPJVE see none of it.
    assert out["p_mpjpe"]["frame_mean"] == pytest.approx(0.0, abs=1e-9)
    v = out["mpjve"]
    assert v["num_frames"] == {"walk": 1, "run": 0}  # T-1 velocity frames per sequence
    assert v["per_action"]["walk"] == pytest.approx(0.0, abs=1e-9) and np.isnan(
        v["per_action"]["run"]
    )
    assert v["action_mean"] == pytest.approx(0.0, abs=1e-9)
    # Root-relative (the default) removes a whole-body offset altogether.
    out = E.aggregate(results, flip_test=False, joint_layout=None)
    assert out["mpjpe"]["frame_mean"] == pytest.approx(0.0, abs=1e-9)


def test_evaluate_protocol_and_h36m_pooling():
    results = [
        offset_record("Directions", "S9", 2, 10, joints=17),
        offset_record("Directions 1", "S11", 2, 30, joints=17),
    ]
    out = E.aggregate(results, flip_test=True, root_relative=False, action_of=E.h36m_action_base)
    assert out["mpjpe"]["per_action"] == pytest.approx({"Directions": 20.0})
    p = out["protocol"]
    assert p["flip_test"] is True and p["num_joints"] == 17 and p["joint_layout"] == "h36m17"
    assert p["subjects"] == ["S11", "S9"] and p["num_sequences"] == 2
    assert "h36m_action_base" in p["action_grouping"]
    assert set(p["metrics"]) == set(E.METRICS)
    assert "millimetres" in p["units"]
    with pytest.raises(TypeError):
        E.aggregate(results)  # flip_test must be stated
    with pytest.raises(DataError, match="layout h36m17 has 17"):
        E.aggregate([offset_record("walk", "S1", 2, 10, joints=3)], flip_test=False)
    bad = offset_record("walk", "S1", 2, 10)
    bad["pred"] = bad["pred"][:1]
    with pytest.raises(DataError, match="S1, walk"):
        E.aggregate([bad], flip_test=False, joint_layout=None)


# ---------------------------------------------------------------------------------------- Table I


def test_paper_table_is_self_consistent():
    for row, values in PAPER_TABLE_I.items():
        assert list(values) == list(TABLE_I_COLUMNS)
        per_action = [values[c] for c in TABLE_I_COLUMNS[:-1]]
        assert np.mean(per_action) == pytest.approx(values["Avg"], abs=0.06), row  # rounding


H36M_NAMES = [
    "Directions 1",
    "Discussion",
    "Eating",
    "Greeting",
    "Phoning",
    "TakingPhoto",
    "Posing",
    "Purchases",
    "Sitting",
    "SittingDown",
    "Smoking",
    "Waiting",
    "WalkingDog",
    "Walking",
    "WalkTogether",
]


def test_table_i_h36m():
    measured = {name: 40.0 + i for i, name in enumerate(H36M_NAMES)}  # 40..54, mean 47
    df = E.table_i(measured, "h36m")
    assert list(df.columns) == list(TABLE_I_COLUMNS)
    assert df.index[0] == "dilpose (measured)" and len(df) == 4
    row = df.loc["dilpose (measured)"]
    assert (
        row["Dir."] == 40.0
        and row["Photo"] == 45.0
        and row["WalkD."] == 52.0
        and row["Avg"] == 47.0
    )
    assert df.loc["Ours [paper Table I]", "Avg"] == 46.5
    assert df.loc["Pavlo et al. [11] CVPR'19 [paper Table I]", "SitD."] == 65.8
    md = E.table_i_markdown(measured, "h36m")
    assert "| dilpose (measured) | 40.0 |" in md and "not comparable" not in md
    # a missing action leaves its cell and the average empty rather than averaging a subset
    partial = E.table_i({"Walking": 30.0}, "h36m").loc["dilpose (measured)"]
    assert partial["Walk"] == 30.0 and np.isnan(partial["Avg"]) and np.isnan(partial["Dir."])
    with pytest.raises(DataError, match="both map"):
        E.table_i({"Directions": 1.0, "Directions 1": 2.0}, "h36m")
    with pytest.raises(DataError, match="unknown Human3.6M action"):
        E.table_i({"walk": 1.0}, "h36m")


def test_table_i_other_dataset_keeps_published_numbers_apart():
    df = E.table_i({"walk": 30.0, "run": 50.0, "jump": 70.0}, "cmu-default")
    assert list(df.columns) == ["walk", "run", "jump", "Avg"]
    assert df.loc["dilpose (measured)", "Avg"] == 50.0
    published = [r for r in df.index if "published, Human3.6M — not comparable" in r]
    assert len(published) == 2 and len(df) == 3
    avgs = sorted(df.loc[published, "Avg"])
    assert avgs == [46.5, 46.8]
    assert df.loc[published, ["walk", "run", "jump"]].isna().all().all()
    assert "cmu-default" in df.columns.name and df.attrs["dataset"] == "cmu-default"
    md = E.table_i_markdown({"walk": 30.0, "run": 50.0, "jump": 70.0}, "cmu-default")
    assert "not comparable" in md and "| dilpose (measured) | 30.0 | 50.0 | 70.0 | 50.0 |" in md
