"""dilpose lift's engine: COCO JSON (results and annotations) and npz inputs (plain and VideoPose3D
custom) lift to finite root-relative H36M-17 joints with a tiny untrained checkpoint; every bad
input raises DataError naming the file; failed lifts leave no output behind."""

import dataclasses
import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from dilpose import checkpoints, fileio, formats, keypoints, lift, train
from dilpose import skeleton as sk
from dilpose.config import for_profile
from dilpose.datasets import Sequence
from dilpose.errors import DataError
from dilpose.model import ModelConfig, TemporalModel

W, H = 1000, 800


def walking_coco(T, seed=0):
    """(T, 17, 2) pixel COCO-17 keypoints of a person swaying about the image centre."""
    rng = np.random.default_rng(seed)
    base = rng.uniform([400, 200], [600, 700], size=(17, 2))
    t = np.arange(T)[:, None, None]
    return base + 20 * np.sin(0.2 * t + np.arange(17)[None, :, None]) + rng.normal(0, 1, (T, 17, 2))


def results_json(kp, scores, ids):
    return [
        {
            "image_id": int(i),
            "category_id": 1,
            "score": 0.9,
            "keypoints": np.column_stack([kp[k], scores[k]]).ravel().tolist(),
        }
        for k, i in enumerate(ids)
    ]


def write_json(path, obj):
    path.write_text(json.dumps(obj))
    return path


def sequences(J, n=2, T=30):
    rng = np.random.default_rng(1)
    return [
        Sequence(
            "S1",
            f"walk {k}",
            0,
            rng.normal(size=(T, J, 2)).astype(np.float32),
            rng.normal(size=(T, 17, 3)).astype(np.float32),
            np.zeros(9, np.float32),
            np.ones((T, J), np.float32),
        )
        for k in range(n)
    ]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained (random weights, receptive field 9) COCO-17 checkpoint written by
    Trainer.save."""
    cfg = for_profile("smoke", channels=16, filter_widths=(3, 3))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    train.Trainer(cfg, sequences(17), progress=False).save(path)
    return path


@pytest.fixture(scope="module")
def causal_checkpoint(tmp_path_factory):
    cfg = for_profile("smoke", channels=16, filter_widths=(3, 3), causal=True)
    path = tmp_path_factory.mktemp("ckpt") / "causal.pt"
    train.Trainer(cfg, sequences(17), progress=False).save(path)
    return path


@pytest.fixture
def results_file(tmp_path):
    """60 detections over frames 0..60 (frame 30 missed), a second weaker detection in frame 10 and
    a few undetected (v = 0) joints."""
    T = 61
    kp = walking_coco(T)
    scores = np.full((T, 17), 0.9)
    scores[5, 3] = scores[6, 3] = scores[40, 16] = 0.0
    ids = [i for i in range(T) if i != 30]
    dets = results_json(kp[ids], scores[ids], ids)
    dets.append(
        {
            "image_id": 10,
            "category_id": 1,
            "score": 0.2,
            "keypoints": np.column_stack([kp[10] + 300, np.ones(17)]).ravel().tolist(),
        }
    )
    # not a person
    dets.append({"image_id": 12, "category_id": 2, "score": 0.99, "keypoints": [0] * 51})
    return write_json(tmp_path / "dets.json", dets), kp


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------------------------ reading


def test_results_json_keeps_best_detection_and_inserts_missed_frames(results_file):
    path, kp = results_file
    k = keypoints.read_keypoints(path, width=W, height=H)
    assert k.keypoints.shape == (61, 17, 2) and k.scores.shape == (61, 17)
    assert (
        k.frame_ids == list(range(61)) and (k.width, k.height) == (W, H) and k.source == str(path)
    )
    np.testing.assert_allclose(k.keypoints[10], kp[10])  # the 0.9 detection, not the 0.2 one
    assert np.isnan(k.keypoints[30]).all() and (k.scores[30] == 0).all()
    assert np.isnan(k.keypoints[5, 3]).all() and k.scores[5, 3] == 0
    assert k.info["discarded_detections"] == 1 and k.info["frames_with_several_detections"] == 1
    assert k.info["skipped_non_person"] == 1 and k.info["filled_frame_ids"] == [30]


def test_sparse_image_ids_keep_sorted_order(tmp_path):
    kp = walking_coco(3)
    path = write_json(tmp_path / "d.json", results_json(kp, np.ones((3, 17)), [632, 139, 285]))
    k = keypoints.read_keypoints(path, W, H)
    assert k.frame_ids == [139, 285, 632] and not np.isnan(k.keypoints).any()
    np.testing.assert_allclose(k.keypoints[0], kp[1])


def test_annotations_json_gives_resolution_and_visibility(tmp_path):
    T = 20
    kp = walking_coco(T)
    vis = np.full((T, 17), 2.0)
    vis[3, 0] = 1.0  # occluded but labelled: a sure position
    vis[4, 1] = 0.0  # unlabelled
    doc = {
        "images": [
            {"id": 100 + t, "width": W, "height": H, "file_name": f"{t}.jpg"} for t in range(T)
        ],
        "annotations": [
            {
                "id": t,
                "image_id": 100 + t,
                "category_id": 1,
                "iscrowd": 0,
                "num_keypoints": 17,
                "keypoints": np.column_stack([kp[t], vis[t]]).ravel().tolist(),
            }
            for t in range(T)
        ],
        "categories": [{"id": 1, "name": "person"}],
    }
    path = write_json(tmp_path / "person_keypoints.json", doc)
    k = keypoints.read_keypoints(path)
    assert (k.width, k.height) == (W, H) and k.frame_ids == list(range(100, 100 + T))
    assert k.scores[3, 0] == 1.0 and k.scores[4, 1] == 0.0 and np.isnan(k.keypoints[4, 1]).all()
    with pytest.raises(DataError, match="600x400 was given"):
        keypoints.read_keypoints(path, 600, 400)


def test_plain_npz_with_score_channel_and_with_scores_key(tmp_path):
    T = 15
    kp = walking_coco(T)
    with_channel = np.concatenate([kp, np.full((T, 17, 1), 0.8)], -1)
    with_channel[2, 5] = [np.nan, np.nan, 0.0]  # NaN marks a missed joint
    p1 = tmp_path / "a.npz"
    np.savez(p1, keypoints=with_channel, width=W, height=H)
    k = keypoints.read_keypoints(p1)
    assert (k.width, k.height) == (W, H) and k.frame_ids == list(range(T))
    assert np.isnan(k.keypoints[2, 5]).all() and k.scores[2, 5] == 0 and k.scores[0, 0] == 0.8

    p2 = tmp_path / "b.npz"
    scores = np.ones((T, 17))
    scores[7, 2] = 0.0
    np.savez(p2, keypoints=kp, scores=scores, frame_ids=np.arange(T) + 50)
    k = keypoints.read_keypoints(p2, W, H)
    assert k.frame_ids[0] == 50 and np.isnan(k.keypoints[7, 2]).all()


def test_videopose3d_custom_npz_and_video_choice(tmp_path):
    a, b = walking_coco(12, 1), walking_coco(9, 2)
    one = formats.save_positions_2d(
        tmp_path / "data_2d_custom_one.npz",
        {"clip.mp4": {"custom": [a]}},
        video_metadata={"clip.mp4": {"w": W, "h": H}},
    )
    k = keypoints.read_keypoints(one)
    assert (
        k.keypoints.shape == (12, 17, 2)
        and (k.width, k.height) == (W, H)
        and k.info["video"] == "clip.mp4"
    )

    two = formats.save_positions_2d(
        tmp_path / "data_2d_custom_two.npz",
        {"a.mp4": {"custom": [a]}, "b.mp4": {"custom": [b]}},
        video_metadata={"a.mp4": {"w": W, "h": H}, "b.mp4": {"w": 640, "h": 480}},
    )
    with pytest.raises(DataError, match=r"2 videos \['a.mp4', 'b.mp4'\]") as err:
        keypoints.read_keypoints(two)
    assert str(two) in str(err.value)
    k = keypoints.read_keypoints(two, video="b.mp4")
    assert len(k) == 9 and (k.width, k.height) == (640, 480)
    with pytest.raises(DataError, match="no video 'c.mp4'"):
        keypoints.read_keypoints(two, video="c.mp4")


# ------------------------------------------------------------------------------------------- errors


def _bad_files(tmp_path):
    kp = walking_coco(10)
    good = results_json(kp, np.ones((10, 17)), range(10))
    text = json.dumps(good)
    cases = {}

    def add(name, content, match, size=(W, H)):
        path = tmp_path / name
        if isinstance(content, (bytes, str)):
            path.write_bytes(content.encode() if isinstance(content, str) else content)
        else:
            content(path)
        cases[name] = (path, match, dict(zip(("width", "height"), size)) if size else {})

    add("truncated.json", text[: len(text) // 2], "not valid JSON")
    add("empty.json", "", "empty")
    add("blank.json", "  \n", "empty")
    add(
        "short.json",
        json.dumps([{**good[0], "keypoints": good[0]["keypoints"][:50]}] + good[1:]),
        "should be 51 numbers.*got 50",
    )
    add("nan.json", text.replace(str(good[3]["keypoints"][4]), "NaN", 1), "non-finite")
    add("text.json", json.dumps([{**good[0], "keypoints": ["1"] * 51}]), "not a number")
    add("noperson.json", json.dumps([{**good[0], "category_id": 3}]), "no person detections")
    add("none.json", "[]", "no detections")
    add("dict.json", json.dumps({"foo": 1}), "expected COCO keypoints")
    add("nores.json", text, "pass --width and --height", size=None)
    add("conflict.npz", lambda p: np.savez(p, keypoints=kp, width=640, height=480), "640x480")
    add(
        "joints.npz",
        lambda p: np.savez(p, keypoints=np.zeros((10, 15, 2)) + 100),
        "15 joints.*expected 17",
    )
    add(
        "inf.npz",
        lambda p: np.savez(p, keypoints=np.where(np.arange(17)[:, None] == 3, np.inf, kp)),
        "infinite",
    )
    add("nokeys.npz", lambda p: np.savez(p, poses=kp), "expected 'keypoints'")
    add(
        "truncated.npz",
        lambda p: (np.savez(p, keypoints=kp), p.write_bytes(p.read_bytes()[:200])),
        "not a readable npz",
    )
    add("normalised.npz", lambda p: np.savez(p, keypoints=kp / W - 0.5), "look normalised")
    add(
        "layout.npz",
        lambda p: np.savez(p, keypoints=kp, layout="openpose25"),
        "unknown joint layout 'openpose25'",
    )
    add(
        "layout15.npz",
        lambda p: np.savez(p, keypoints=kp, layout="humaneva15"),
        "17 joints.*expected 15",
    )
    for w in (0, -640, "wide", float("nan")):
        add(
            f"data_2d_custom_w{w}.npz",
            lambda p, w=w: formats.save_positions_2d(
                p, {"v": {"custom": [kp]}}, layout="coco", video_metadata={"v": {"w": w, "h": H}}
            ),
            f"image width 'w' should be a positive number of pixels, got {w!r}".replace(
                "(", r"\("
            ).replace(")", r"\)"),
            size=None,
        )
    add(
        "data_2d_custom_none.npz",
        lambda p: formats.save_positions_2d(
            p, {"v": {"custom": [None]}}, layout="coco", video_metadata={"v": {"w": W, "h": H}}
        ),
        r"\['v'\]\['custom'\]\[camera 0\]: no keypoints for this camera \(found None",
        size=None,
    )
    add(
        "bigjump.json",
        json.dumps(
            results_json(walking_coco(30), np.ones((30, 17)), list(range(29)) + [2_000_000])
        ),
        "frame ids jump from 28 to 2000000",
    )
    return cases


def test_each_bad_input_raises_data_error_naming_the_file(tmp_path):
    cases = _bad_files(tmp_path)
    for name, (path, match, kwargs) in cases.items():
        with pytest.raises(DataError, match=match) as err:
            keypoints.read_keypoints(path, **kwargs)
        assert str(path) in str(err.value), name
    with pytest.raises(DataError, match="file not found"):
        keypoints.read_keypoints(tmp_path / "absent.json", W, H)
    with pytest.raises(DataError, match="both width and height"):
        keypoints.read_keypoints(cases["nores.json"][0], width=W)


# ------------------------------------------------------------------------------------------ prepare


def test_prepare_drops_low_confidence_and_interpolates(results_file):
    path, kp = results_file
    k = keypoints.read_keypoints(path, W, H)
    k.scores[20:23, 9] = 0.1  # three unsure wrist detections
    filled_kp, filled, report = lift.prepare(k, min_score=0.3, max_gap=10)
    assert np.isfinite(filled_kp).all() and filled.shape == (61, 17)
    assert filled[20:23, 9].all() and filled[30].all() and filled[5, 3]
    assert report["low_confidence_joints"] == 3 and report["frames"] == 61
    assert report["undetected_joints"] == 17 + 3  # frame 30 and three v = 0 joints
    assert report["interpolated_joints"] == int(filled.sum()) == 17 + 3 + 3
    assert (
        report["discarded_detections"] == 1 and report["interpolated_per_joint"]["l_wrist"] == 3 + 1
    )  # and frame 30
    # Interpolation is linear in time between the neighbouring detections.
    np.testing.assert_allclose(filled_kp[30], 0.5 * (kp[29] + kp[31]))


def test_gap_longer_than_max_gap_is_refused(tmp_path):
    kp = walking_coco(40)
    scores = np.ones((40, 17))
    scores[10:22, 13] = 0.1  # 12 frames of an unsure knee
    path = write_json(tmp_path / "gap.json", results_json(kp, scores, range(100, 140)))
    k = keypoints.read_keypoints(path, W, H)
    with pytest.raises(
        DataError, match=r"'l_knee' is missing .* for 12 consecutive frames, from frame id 110"
    ) as e:
        lift.prepare(k, max_gap=10)
    assert str(path) in str(e.value)
    assert lift.prepare(k, max_gap=12)[2]["interpolated_joints"] == 12
    assert lift.prepare(k, min_score=0.05)[2]["interpolated_joints"] == 0
    scores[:, 0] = 0.0
    never = write_json(tmp_path / "never.json", results_json(kp, scores, range(40)))
    with pytest.raises(DataError, match="'nose' is never detected"):
        lift.prepare(keypoints.read_keypoints(never, W, H))


# ------------------------------------------------------------------------------------------ lifting


def test_lift_results_json(results_file, checkpoint, tmp_path):
    path, _ = results_file
    summary = lift.lift_file(path, checkpoint, tmp_path / "out" / "poses", width=W, height=H)
    npy, js = tmp_path / "out" / "poses.npy", tmp_path / "out" / "poses.json"
    assert summary["npy"] == str(npy) and summary["json"] == str(js) and summary["frames"] == 61
    assert summary["discarded_detections"] == 1 and summary["receptive_field"] == 9
    pred = np.load(npy)
    assert pred.shape == (61, 17, 3) and pred.dtype == np.float32 and np.isfinite(pred).all()
    assert np.abs(pred[:, 0]).max() == 0  # root-relative
    doc = json.loads(js.read_text())
    assert doc["joint_names"] == list(sk.H36M17.joint_names)
    assert doc["units"] == "metres" and doc["root_relative"] is True and doc["causal"] is False
    assert doc["frames"] == list(range(61)) and doc["receptive_field"] == 9
    assert doc["input"] == str(path) and doc["checkpoint"] == str(checkpoint)
    assert (
        doc["report"]["interpolated_joints"] == 17 + 3
        and doc["report"]["discarded_detections"] == 1
    )
    np.testing.assert_allclose(np.array(doc["positions_3d"]), pred, atol=5.1e-5)
    assert files_in(tmp_path / "out") == ["poses.json", "poses.npy"]  # no temporary files left


def test_lift_other_inputs_suffixes_and_causal(tmp_path, checkpoint, causal_checkpoint):
    T = 25
    kp = walking_coco(T)
    custom = formats.save_positions_2d(
        tmp_path / "data_2d_custom_x.npz",
        {"v.mp4": {"custom": [kp]}},
        video_metadata={"v.mp4": {"w": W, "h": H}},
    )
    plain = tmp_path / "plain.npz"
    np.savez(plain, keypoints=np.concatenate([kp, np.ones((T, 17, 1))], -1), width=W, height=H)
    doc = {
        "images": [{"id": t, "width": W, "height": H} for t in range(T)],
        "annotations": [
            {
                "image_id": t,
                "category_id": 1,
                "keypoints": np.column_stack([kp[t], np.full(17, 2)]).ravel().tolist(),
            }
            for t in range(T)
        ],
    }
    ann = write_json(tmp_path / "ann.json", doc)
    outs = {}
    for name, src, ckpt, out in (
        ("custom", custom, checkpoint, "c.npy"),
        ("plain", plain, checkpoint, "p.json"),
        ("ann", ann, causal_checkpoint, "a"),
    ):
        s = lift.lift_file(src, ckpt, tmp_path / out, flip_test=name != "plain")
        outs[name] = np.load(s["npy"])
        assert outs[name].shape == (T, 17, 3) and np.isfinite(outs[name]).all()
        assert s["json"].endswith(".json") and s["npy"].endswith(".npy")
    assert json.loads((tmp_path / "a.json").read_text())["causal"] is True
    assert files_in(tmp_path) == sorted(
        [
            "a.json",
            "a.npy",
            "ann.json",
            "c.json",
            "c.npy",
            "data_2d_custom_x.npz",
            "p.json",
            "p.npy",
            "plain.npz",
        ]
    )
    # The same keypoints through two readers give the same 3D (flip test only averages two passes).
    flipped = lift.lift_file(plain, checkpoint, tmp_path / "p2")
    np.testing.assert_allclose(np.load(flipped["npy"]), outs["custom"], atol=1e-6)


def test_output_paths():
    expected = (Path("r/x.npy"), Path("r/x.json"))
    assert (
        lift.output_paths("r/x")
        == lift.output_paths("r/x.npy")
        == lift.output_paths("r/x.JSON")
        == expected
    )
    assert lift.output_paths("r/x.v2") == (Path("r/x.v2.npy"), Path("r/x.v2.json"))


def test_failed_lifts_leave_no_output(tmp_path, checkpoint, monkeypatch):
    kp = walking_coco(40)
    scores = np.ones((40, 17))
    scores[5:35, 4] = 0.0  # 30 frames: beyond the default max_gap of 25
    gap = write_json(tmp_path / "gap.json", results_json(kp, scores, range(40)))
    out = tmp_path / "out"
    with pytest.raises(DataError, match="30 consecutive frames"):
        lift.lift_file(gap, checkpoint, out / "gap", width=W, height=H)
    assert not out.exists() or files_in(out) == []

    ok = write_json(tmp_path / "ok.json", results_json(kp, np.ones((40, 17)), range(40)))
    with pytest.raises(DataError, match="pass --width"):
        lift.lift_file(ok, checkpoint, out / "nores")
    with pytest.raises(DataError, match="checkpoint not found"):
        lift.lift_file(ok, tmp_path / "missing.pt", out / "x", width=W, height=H)
    with pytest.raises(DataError, match="would overwrite the input"):
        lift.lift_file(ok, checkpoint, tmp_path / "ok", width=W, height=H)

    # A 15-joint (HumanEva) checkpoint cannot read COCO-17.
    mcfg = ModelConfig(in_joints=15, filter_widths=(3, 3), channels=8)
    he = tmp_path / "he.pt"
    import torch

    torch.save(
        {
            "model": TemporalModel(mcfg).state_dict(),
            "model_config": dataclasses.asdict(mcfg),
            "epoch": 0,
            "input": checkpoints.input_spec(sk.HUMANEVA15),
        },
        he,
    )
    with pytest.raises(DataError, match="reads humaneva15 keypoints .* is coco17") as err:
        lift.lift_file(ok, he, out / "he", width=W, height=H)
    assert str(he) in str(err.value)

    # A file in another layout than the model's, with no converter: refused, not fed to the model.
    for layout, J in (("h36m", 17), ("humaneva15", 15)):
        f = formats.save_positions_2d(
            tmp_path / f"data_2d_custom_{layout}.npz",
            {"v": {"custom": [kp[:, :J]]}},
            layout=layout,
            video_metadata={"v": {"w": W, "h": H}},
        )
        expected = f"the model reads coco17 keypoints .* but the input .* is {sk.get(layout).name}"
        with pytest.raises(DataError, match=expected):
            lift.lift_file(f, checkpoint, out / layout)
    assert not out.exists() or files_in(out) == []

    # A checkpoint that does not record its input layout (an older dilpose's) is refused, not
    # guessed.
    old = torch.load(checkpoint, weights_only=True)
    del old["input"]
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(DataError, match="checkpoint is missing 'input'"):
        lift.lift_file(ok, tmp_path / "old.pt", out / "old", width=W, height=H)

    # The JSON write failing after the npy was written (a full disk): nothing is left.
    _disk_full_for(monkeypatch, ".json")
    with pytest.raises(DataError, match="half.json: cannot write here: No space left"):
        lift.lift_file(ok, checkpoint, out / "half", width=W, height=H)
    assert not out.exists() or files_in(out) == []


def _disk_full_for(monkeypatch, suffix: str) -> None:
    """Writing the temporary file of a target ending in ``suffix`` fails as on a full disk."""
    real = fileio._write_all

    def write_all(path, data):
        if f"{suffix}." in Path(path).name:  # .<name>.<pid>.<random>.tmp
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        real(path, data)

    monkeypatch.setattr(fileio, "_write_all", write_all)


def test_a_full_disk_keeps_the_previous_result_whole(tmp_path, checkpoint, monkeypatch):
    """Room for the new .npy but not the .json: the old pair stays, both files, byte for byte
    (the explorer would otherwise show the old report as the new result)."""
    kp = walking_coco(40)
    first = write_json(tmp_path / "a.json", results_json(kp, np.ones((40, 17)), range(40)))
    second = write_json(tmp_path / "b.json", results_json(kp[::-1], np.ones((40, 17)), range(40)))
    lift.lift_file(first, checkpoint, tmp_path / "out" / "r", width=W, height=H)
    before = {f: (tmp_path / "out" / f).read_bytes() for f in ("r.npy", "r.json")}
    _disk_full_for(monkeypatch, ".json")
    with pytest.raises(DataError, match="r.json: cannot write here: No space left on device"):
        lift.lift_file(second, checkpoint, tmp_path / "out" / "r", width=W, height=H)
    assert {f: (tmp_path / "out" / f).read_bytes() for f in before} == before
    assert files_in(tmp_path / "out") == ["r.json", "r.npy"]  # no temporary left


def test_a_failed_rename_removes_the_pair_together(tmp_path, checkpoint, monkeypatch):
    kp = walking_coco(40)
    ok = write_json(tmp_path / "a.json", results_json(kp, np.ones((40, 17)), range(40)))
    lift.lift_file(ok, checkpoint, tmp_path / "out" / "r", width=W, height=H)
    real = os.replace

    def replace(src, dst):
        if str(dst).endswith(".json"):
            raise OSError(errno.EIO, os.strerror(errno.EIO), dst)
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(DataError, match="r.json: cannot write here"):
        lift.lift_file(ok, checkpoint, tmp_path / "out" / "r", width=W, height=H)
    assert files_in(tmp_path / "out") == []  # never a new .npy beside the old .json


def test_a_nan_weight_checkpoint_is_refused_before_lifting(tmp_path, checkpoint):
    import torch

    ckpt = torch.load(checkpoint, weights_only=True)
    next(iter(ckpt["model"].values()))[0] = float("nan")
    torch.save(ckpt, tmp_path / "nan.pt")
    ok = write_json(
        tmp_path / "a.json", results_json(walking_coco(40), np.ones((40, 17)), range(40))
    )
    with pytest.raises(DataError, match="nan.pt: weights are not finite"):
        lift.lift_file(ok, tmp_path / "nan.pt", tmp_path / "r", width=W, height=H)


def test_checkpoints_record_the_input_layout(checkpoint):
    import torch

    spec = torch.load(checkpoint, weights_only=True)["input"]
    assert spec["layout"] == "coco17" and spec["joint_names"] == list(sk.COCO17.joint_names)
    assert (
        spec["normalization"] == checkpoints.NORMALIZATION == "screen"
        and "width and height" in spec["image_size"]
    )
    assert checkpoints.model_from_checkpoint(checkpoint).input_spec["layout"] == "coco17"


def test_coco_input_to_an_h36m_model_goes_through_the_converter(tmp_path):
    """An H36M-17-input model lifts COCO JSON by converting with coco_to_h36m, and says so; the
    result equals lifting the converted keypoints directly."""
    cfg = for_profile("smoke", channels=16, filter_widths=(3, 3))
    ckpt = tmp_path / "h36m_in.pt"
    train.Trainer(cfg, sequences(17), layout_2d=sk.H36M17, progress=False).save(ckpt)
    kp = walking_coco(30)
    path = write_json(tmp_path / "coco.json", results_json(kp, np.ones((30, 17)), range(30)))
    lift.lift_file(path, ckpt, tmp_path / "a", width=W, height=H)
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["report"]["converted"].startswith("coco17 -> h36m17")
    assert doc["input_layout"] == "coco17" and doc["model_input_layout"] == "h36m17"
    direct = tmp_path / "h36m.npz"
    np.savez(direct, keypoints=sk.coco_to_h36m(kp), layout="h36m", width=W, height=H)
    lift.lift_file(direct, ckpt, tmp_path / "b")
    np.testing.assert_allclose(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"), atol=1e-6)


def test_frame_ids_far_apart_are_refused_without_allocating_them(tmp_path):
    import tracemalloc

    kp = walking_coco(61)
    ids = list(range(60)) + [2_000_000]
    path = write_json(tmp_path / "jump.json", results_json(kp, np.ones((61, 17)), ids))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="frame ids jump from 59 to 2000000"):
            keypoints.read_keypoints(path, W, H)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6  # the old reader allocated all 2M frames (1.3 GB) before failing
    # Many gaps that are each short but together dwarf the detections are refused too.
    ids = sorted(set(list(range(40)) + [40 + 9000 * k for k in range(1, 22)]))
    path = write_json(
        tmp_path / "gaps.json", results_json(kp[: len(ids)], np.ones((len(ids), 17)), ids)
    )
    with pytest.raises(DataError, match="have no detection"):
        keypoints.read_keypoints(path, W, H)
