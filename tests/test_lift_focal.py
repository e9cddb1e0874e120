"""``dilpose lift --focal``/``--fov`` and the recorded input convention (issue 26): a focal model
refuses to run without a focal length, a screen model refuses one, both before anything is
written; ``--fov`` is ``--focal`` computed from it; a keypoints file's recorded focal length is
read, checked and used, and an option that disagrees with it is refused; the live stream follows
the same rules."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from test_lift import results_json, sequences, walking_coco, write_json

from dilpose import cli, input_norm, keypoints, lift, live, pretrained, train
from dilpose.config import for_profile
from dilpose.errors import ConfigError, DataError

W, H = 1000, 800
F = 900.0  # the focal length the test camera has, pixels


def _checkpoint(path, normalization, causal=False):
    """An untrained (random weights, receptive field 9) COCO-17 checkpoint written by Trainer.save,
    recording ``normalization`` as its input convention."""
    cfg = for_profile("smoke", channels=16, filter_widths=(3, 3), causal=causal)
    trainer = train.Trainer(cfg, sequences(17), progress=False)
    trainer.input_normalization = normalization
    trainer.save(path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    return {
        "screen": _checkpoint(folder / "screen.pt", "screen"),
        "focal": _checkpoint(folder / "focal.pt", "focal"),
        "focal-causal": _checkpoint(folder / "focal_causal.pt", "focal", causal=True),
        "screen-causal": _checkpoint(folder / "screen_causal.pt", "screen", causal=True),
    }


@pytest.fixture
def dets(tmp_path):
    """40 frames of COCO detection results (no image size, no focal length recorded)."""
    return write_json(
        tmp_path / "dets.json", results_json(walking_coco(40), np.ones((40, 17)), range(40))
    )


def annotations(tmp_path, name="ann.json", T=30, **camera):
    """A COCO annotations file whose images record ``camera`` (width, height, focal_length, fov;
    a list value gives one value per image)."""
    kp = walking_coco(T)
    images = []
    for t in range(T):
        im = {"id": t}
        for k, v in camera.items():
            im[k] = v[t] if isinstance(v, list) else v
        images.append(im)
    doc = {
        "images": images,
        "annotations": [
            {
                "image_id": t,
                "category_id": 1,
                "keypoints": np.column_stack([kp[t], np.full(17, 2)]).ravel().tolist(),
            }
            for t in range(T)
        ],
    }
    return write_json(tmp_path / name, doc)


# ----------------------------------------------------------------------------------------- reading
def test_coco_annotations_and_npz_record_the_focal_length(tmp_path):
    ann = annotations(tmp_path, width=W, height=H, focal_length=F)
    assert keypoints.read_keypoints(ann).focal == F
    by_fov = annotations(tmp_path, "fov.json", width=W, height=H, fov=60)
    assert keypoints.read_keypoints(by_fov).focal == pytest.approx(W / 2 / math.tan(math.pi / 6))
    both = annotations(tmp_path, "both.json", width=W, height=H, focal_length=866.0, fov=60)
    assert keypoints.read_keypoints(both).focal == 866.0  # 866.03 from the fov: they agree
    plain = tmp_path / "plain.npz"
    np.savez(plain, keypoints=walking_coco(20), width=W, height=H, focal_length=F)
    assert keypoints.read_keypoints(plain).focal == F
    # nothing recorded, nothing given: unknown
    np.savez(tmp_path / "bare.npz", keypoints=walking_coco(20), width=W, height=H)
    assert keypoints.read_keypoints(tmp_path / "bare.npz").focal is None
    assert keypoints.read_keypoints(tmp_path / "bare.npz", focal=F).focal == F


@pytest.mark.parametrize(
    "camera, match",
    [
        ({"focal_length": -5.0}, "focal_length should be a positive number"),
        ({"focal_length": "900"}, "focal_length should be a positive number"),
        ({"focal_length": [900.0] * 29 + [950.0]}, "different focal_length values"),
        ({"fov": 200}, "fov must be a positive number of degrees below 180"),
        ({"focal_length": F, "fov": 90}, "disagree"),
    ],
    ids=["negative", "text", "differs-by-image", "fov-too-wide", "focal-vs-fov"],
)
def test_a_bad_recorded_focal_length_is_refused_naming_the_file(tmp_path, camera, match):
    path = annotations(tmp_path, width=W, height=H, **camera)
    with pytest.raises(DataError, match=match) as e:
        keypoints.read_keypoints(path)
    assert e.value.source == str(path)


def test_a_given_focal_length_must_agree_with_the_file(tmp_path):
    path = annotations(tmp_path, width=W, height=H, focal_length=F)
    assert keypoints.read_keypoints(path, focal=F * 1.005).focal == F * 1.005  # within 1 %
    with pytest.raises(DataError, match="the file says the focal length is 900.0 px but 950.0"):
        keypoints.read_keypoints(path, focal=950.0)
    with pytest.raises(
        DataError, match=r"900.0 px but a 80 degree field of view \(595.9 px\) was given"
    ):
        keypoints.read_keypoints(path, fov=80)
    with pytest.raises(DataError, match="not both"):
        keypoints.read_keypoints(path, focal=F, fov=58)


# ------------------------------------------------------------------------------------------ lifting
def test_a_focal_model_without_a_focal_length_is_refused_before_writing(tmp_path, dets, models):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match="pass --focal PX or --fov DEG") as e:
        lift.lift_file(dets, models["focal"], out / "r", width=W, height=H)
    assert e.value.source == str(models["focal"]) and "focal-normalised" in str(e.value)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("option", [{"focal": F}, {"fov": 60.0}])
def test_a_screen_model_refuses_a_focal_length(tmp_path, dets, models, option):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match="cannot use a focal length") as e:
        lift.lift_file(dets, models["screen"], out / "r", width=W, height=H, **option)
    assert e.value.source == str(models["screen"])
    assert f"drop --{next(iter(option))}" in str(e.value) and pretrained.DEFAULT_FOCAL in str(
        e.value
    )
    assert list(out.iterdir()) == []


def test_fov_is_focal_computed_from_it_and_the_focal_length_is_used(tmp_path, dets, models):
    fov = 70.0
    f = input_norm.focal_from_fov(fov, W)
    a = lift.lift_file(dets, models["focal"], tmp_path / "a", width=W, height=H, fov=fov)
    b = lift.lift_file(dets, models["focal"], tmp_path / "b", width=W, height=H, focal=f)
    np.testing.assert_array_equal(np.load(a["npy"]), np.load(b["npy"]))
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["input_convention"] == "focal" and doc["focal_px"] == pytest.approx(f)
    assert "focal length 714.1 px" in a["input_convention"]
    # The focal length reaches the model: another one gives other poses.
    c = lift.lift_file(dets, models["focal"], tmp_path / "c", width=W, height=H, focal=2 * f)
    assert np.abs(np.load(c["npy"]) - np.load(a["npy"])).max() > 1e-4
    screen = lift.lift_file(dets, models["screen"], tmp_path / "s", width=W, height=H)
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["input_convention"] == "screen" and doc["focal_px"] is None
    assert screen["input_convention"] == "screen"


def test_a_file_that_records_its_focal_length_needs_no_option(tmp_path, models):
    recorded = annotations(tmp_path, width=W, height=H, focal_length=F)
    bare = annotations(tmp_path, "bare.json", width=W, height=H)
    a = lift.lift_file(recorded, models["focal"], tmp_path / "a")
    b = lift.lift_file(bare, models["focal"], tmp_path / "b", focal=F)
    np.testing.assert_array_equal(np.load(a["npy"]), np.load(b["npy"]))
    with pytest.raises(DataError, match="the file says the focal length is 900.0 px"):
        lift.lift_file(recorded, models["focal"], tmp_path / "c", focal=1200.0)
    # a screen model does not use the file's focal length, and is not refused for it
    lift.lift_file(recorded, models["screen"], tmp_path / "d")
    assert json.loads((tmp_path / "d.json").read_text())["focal_px"] is None


def test_both_options_and_focal_streaming_without_a_model_are_refused(tmp_path, dets, models):
    with pytest.raises(ConfigError, match="--focal or --fov, not both"):
        lift.lift_file(dets, models["focal"], tmp_path / "r", width=W, height=H, focal=F, fov=60)
    with pytest.raises(ConfigError, match="no shipped causal model reads focal-normalised input"):
        lift.lift_file(dets, None, tmp_path / "r", width=W, height=H, focal=F, stream=True)
    assert not (tmp_path / "r.json").exists()


def test_the_default_model_follows_what_is_known(tmp_path, dets, models, monkeypatch):
    asked = []

    def path_of(name):
        asked.append(name)
        return models["focal-causal" if name == pretrained.DEFAULT_STREAM else "focal"]

    monkeypatch.setattr(pretrained, "path_of", path_of)
    s = lift.lift_file(dets, None, tmp_path / "a", width=W, height=H, fov=60.0)
    assert asked == [pretrained.DEFAULT_FOCAL] and s["model"] == "lifter-243-focal"
    recorded = annotations(tmp_path, width=W, height=H, focal_length=F)
    lift.lift_file(recorded, None, tmp_path / "b")
    assert asked[-1] == pretrained.DEFAULT_FOCAL
    with pytest.raises(DataError, match="pass --focal PX"):  # the (patched) default is focal
        lift.lift_file(dets, None, tmp_path / "c", width=W, height=H)
    assert asked[-1] == pretrained.DEFAULT
    # A causal model that reads focal input streams with --focal when it is named.
    s = lift.lift_file(dets, models["focal-causal"], tmp_path / "d", W, H, focal=F, stream=True)
    assert s["causal"] and "stream_latency_ms" in s


# ------------------------------------------------------------------------------- the live stream
def _lines(n=6):
    base = np.random.default_rng(0).uniform(300, 700, (17, 2))
    return [json.dumps({"frame": t, "keypoints": [[x, y, 0.9] for x, y in base]}) for t in range(n)]


def _stream(ckpt, **kw):
    out, err = io.StringIO(), io.StringIO()
    summary = live.stream_lines(_lines(), out, err, ckpt, width=W, height=H, **kw)
    return summary, [json.loads(line) for line in out.getvalue().splitlines()]


def test_the_live_stream_follows_the_checkpoints_convention(models):
    with pytest.raises(DataError, match="pass --focal PX or --fov DEG$"):
        _stream(models["focal-causal"])
    with pytest.raises(DataError, match="drop --fov or use the focal model"):
        _stream(models["screen-causal"], fov=60.0)
    with pytest.raises(ConfigError, match="pass --checkpoint"):
        _stream(None, focal=F)
    with pytest.raises(ConfigError, match="not both"):
        _stream(models["focal-causal"], focal=F, fov=60.0)
    with pytest.raises(DataError, match="focal_length must be a positive number of pixels"):
        _stream(models["focal-causal"], focal=-1.0)
    summary, by_fov = _stream(models["focal-causal"], fov=60.0)
    _, by_focal = _stream(models["focal-causal"], focal=input_norm.focal_from_fov(60.0, W))
    assert summary["frames"] == 6 and summary["refused_lines"] == 0
    assert [r["positions_3d"] for r in by_fov] == [r["positions_3d"] for r in by_focal]
    _, other = _stream(models["focal-causal"], focal=3 * F)
    assert [r["positions_3d"] for r in other] != [r["positions_3d"] for r in by_focal]


# ------------------------------------------------------------------------------------- the command
def test_the_command_passes_focal_and_fov(tmp_path, dets, models, capsys):
    base = ["lift", str(dets), "--checkpoint", str(models["focal"]), "--width", str(W)]
    base += ["--height", str(H)]
    assert cli.main(base + ["--fov", "60", "--output", str(tmp_path / "a")]) == 0
    f = str(input_norm.focal_from_fov(60, W))
    assert cli.main(base + ["--focal", f, "--output", str(tmp_path / "b")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    assert "input_convention: focal (focal length 866.0 px)" in capsys.readouterr().out
    assert cli.main(base + ["--output", str(tmp_path / "c")]) == 2
    assert "pass --focal PX or --fov DEG" in capsys.readouterr().err
    for bad, words in (
        (["--fov", "60", "--focal", "900"], "not allowed with argument"),
        (["--fov", "180"], "between 0 and 180"),
        (["--focal", "-3"], "positive number of pixels"),
    ):
        with pytest.raises(SystemExit) as e:
            cli.main(base + bad + ["--output", str(tmp_path / "d")])
        assert e.value.code == 2 and words in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists() and not (tmp_path / "d.json").exists()
