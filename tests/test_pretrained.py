"""The shipped pretrained models: files, checksums, the model card's numbers, and `dilpose lift`
with no checkpoint, offline and streaming."""

import json
import re
import shutil

import numpy as np
import pytest

from dilpose import checkpoints, cli, evaluate, lift, paths, pretrained, stream, weights
from dilpose.errors import DataError
from dilpose.keypoints import read_keypoints

CARD = paths.REPO_ROOT / "MODEL_CARD.md"
EXAMPLE = weights.EXAMPLE
WH = ["--width", "1000", "--height", "1002"]  # the example camera's image size (H36M S8, camera 0)


def test_shipped_models_are_small_load_and_match_their_checksums():
    shipped = {m.name: m for m in pretrained.shipped()}
    assert set(shipped) == {"lifter-243", "lifter-243-causal", "lifter-243-focal"}
    doc = pretrained.manifest()
    for name, m in shipped.items():
        assert m.file.stat().st_size <= 5e6  # the limit per file
        path = pretrained.path_of(name)
        assert pretrained.sha256(path) == m.sha256
        ckpt = checkpoints.load_checkpoint(path)  # weights_only, checked
        assert set(ckpt) >= {"model", "model_config", "input", "epoch"}
        assert "optimizer" not in ckpt  # slim: weights, not the training state
        assert ckpt["model_config"].causal is m.causal and m.receptive_field == 243
        assert ckpt["input"]["layout"] == "coco17" == m.input_layout
        # the convention the checkpoint records is the one the manifest and lift go by
        assert ckpt["input"]["normalization"] == doc["models"][name]["input_convention"]
        assert (ckpt["input"]["normalization"] == "focal") == (name == pretrained.DEFAULT_FOCAL)


def test_a_damaged_shipped_file_is_refused_before_loading(tmp_path):
    for f in pretrained.MODELS_DIR.iterdir():
        shutil.copy(f, tmp_path / f.name)
    data = bytearray((tmp_path / "lifter-243.pt").read_bytes())
    data[-100] ^= 1
    (tmp_path / "lifter-243.pt").write_bytes(bytes(data))
    with pytest.raises(DataError, match="differs from the manifest's .* the file is damaged"):
        pretrained.path_of("lifter-243", tmp_path / "models.json")
    with pytest.raises(DataError, match="no shipped model 'lifter-9'"):
        pretrained.path_of("lifter-9", tmp_path / "models.json")
    (tmp_path / "models.json").write_text("{}")
    with pytest.raises(DataError, match="non-empty 'models'"):
        pretrained.shipped(tmp_path / "models.json")


@pytest.mark.parametrize("name", ["lifter-243", "lifter-243-causal", "lifter-243-focal"])
def test_evaluate_reproduces_the_model_cards_numbers(name, tmp_path, capsys):
    entry = pretrained.manifest()["models"][name]
    out = tmp_path / "results.json"
    assert (
        cli.main(["evaluate", "--checkpoint", str(pretrained.path_of(name)), "--output", str(out)])
        == 0
    )
    result = json.loads(out.read_text())
    for metric in ("mpjpe", "p_mpjpe", "mpjve"):
        assert abs(result[metric]["action_mean"] - entry["test"][metric]["action_mean"]) <= 0.5
    # the card states the manifest's numbers
    row = next(
        line
        for line in CARD.read_text().splitlines()
        if line.startswith(f"| `{name}` |") and "**" in line
    )
    stated = [float(x) for x in re.findall(r"\d+\.\d+", row)]
    t = entry["test"]
    assert stated == [
        t["mpjpe"]["action_mean"],
        t["mpjpe"]["frame_mean"],
        t["p_mpjpe"]["action_mean"],
        t["n_mpjpe"]["action_mean"],
        t["mpjve"]["action_mean"],
    ]


def test_lift_without_a_checkpoint_uses_the_shipped_model(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["lift", str(EXAMPLE)]) == 0  # the file records its image size
    printed = capsys.readouterr().out
    assert "model: lifter-243\n" in printed
    out = tmp_path / f"{EXAMPLE.stem}_3d.npy"  # the default output: next to where it ran
    assert f"npy: {out}" in printed
    pred = np.load(out)
    assert pred.shape == (799, 17, 3) and np.isfinite(pred).all()
    assert np.all(pred[:, 0] == 0)  # root-relative
    # a plausible body: thigh bones 0.3-0.6 m
    thigh = np.linalg.norm(pred[:, 2] - pred[:, 1], axis=-1)
    assert 0.3 < np.median(thigh) < 0.6
    doc = json.loads((tmp_path / f"{EXAMPLE.stem}_3d.json").read_text())
    assert doc["shipped_model"] == "lifter-243" and doc["stream"] is None


def test_stream_gives_the_causal_models_whole_sequence_output(tmp_path):
    """Frame by frame through the streaming runtime equals the causal model on the whole clip."""
    kp = read_keypoints(EXAMPLE, 1000, 1002)
    keypoints, _, report = lift.prepare(kp, causal=True)
    assert report["gap_filling"].startswith("hold")
    from dilpose.camera import normalize_screen_coordinates
    from dilpose.datasets import Sequence

    x = normalize_screen_coordinates(keypoints[:300], 1000, 1002).astype(np.float32)
    path = pretrained.path_of("lifter-243-causal")
    streamed, latency = lift._stream(stream.from_checkpoint(path, flip_test=True), x)
    seq = Sequence(
        "s", "a", 0, x, np.zeros((300, 17, 3), np.float32), np.zeros(9), np.ones((300, 17))
    )
    whole = evaluate.predict(
        checkpoints.model_from_checkpoint(path), seq, causal=True, flip_test=True
    )
    assert np.abs(streamed - whole).max() < 1e-4  # metres: float32 rounding only
    assert latency["frames"] == 300 and latency["median_ms"] > 0


def test_stream_refuses_a_symmetric_model(tmp_path):
    with pytest.raises(DataError, match="streaming needs a causal model"):
        stream.from_checkpoint(pretrained.path_of("lifter-243"))
    code = cli.main(
        [
            "lift",
            str(EXAMPLE),
            *WH,
            "--stream",
            "--checkpoint",
            str(pretrained.path_of("lifter-243")),
            "--output",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2 and not (tmp_path / "o.npy").exists()


def test_hold_last_fills_gaps_from_the_past_only():
    kp = np.array([[np.nan, np.nan], [1.0, 1.0], [np.nan, np.nan], [np.nan, np.nan], [4.0, 4.0]])
    held = lift.hold_last(kp[:, None, :])[:, 0]
    np.testing.assert_array_equal(held[:, 0], [1.0, 1.0, 1.0, 1.0, 4.0])


def test_models_command_lists_shipped_and_cached_models(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DILPOSE_REPORTS", str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["name", "where", "input_layout", "receptive_field"]
    mpjpe = pretrained.manifest()["models"]["lifter-243"]["test"]["mpjpe"]["action_mean"]
    assert any(
        line.startswith("lifter-243 ") and "shipped" in line and str(mpjpe) in line for line in out
    )
    assert any(line.startswith("lifter-243-causal") and "True" in line for line in out)


def test_the_example_is_a_coco_annotations_file_of_a_test_clip_with_its_image_size():
    doc = json.loads(EXAMPLE.read_text())
    assert len(doc["images"]) == len(doc["annotations"]) == 799
    assert {(im["width"], im["height"]) for im in doc["images"]} == {(1000, 1002)}
    assert all(len(a["keypoints"]) == 51 and a["category_id"] == 1 for a in doc["annotations"])
    # visibility flags: placed (2) or not (0), the detector's misses and low-confidence joints
    flags = {v for a in doc["annotations"] for v in a["keypoints"][2::3]}
    assert flags == {0, 2}
    subject, _, _ = weights.EXAMPLE_CLIP
    from dilpose.datasets import mocap_files

    assert subject in mocap_files.TEST_SUBJECTS  # never trained on
    # the quick start types no numbers: the file's image size is enough
    kp = read_keypoints(EXAMPLE)
    assert (kp.width, kp.height) == (1000, 1002)


def test_lift_with_the_focal_length_uses_the_focal_model(tmp_path, capsys, monkeypatch):
    """The example's camera (Human3.6M S8, camera 0) has a 1145 px focal length: given it, lift
    picks lifter-243-focal, and --fov of the same lens gives the same poses."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["lift", str(EXAMPLE), "--focal", "1145", "--output", "a"]) == 0
    assert "model: lifter-243-focal\n" in capsys.readouterr().out
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["shipped_model"] == "lifter-243-focal" and doc["input_convention"] == "focal"
    fov = 2 * np.degrees(np.arctan(1000 / 2 / 1145))
    assert cli.main(["lift", str(EXAMPLE), "--fov", f"{fov:.6f}", "--output", "b"]) == 0
    assert np.abs(np.load(tmp_path / "a.npy") - np.load(tmp_path / "b.npy")).max() < 1e-4
    thigh = np.linalg.norm(
        np.load(tmp_path / "a.npy")[:, 2] - np.load(tmp_path / "a.npy")[:, 1], axis=-1
    )
    assert 0.3 < np.median(thigh) < 0.6
    # the screen model refuses a focal length it cannot use, before writing anything
    code = cli.main(["lift", str(EXAMPLE), "--focal", "1145", "--checkpoint",
                     str(pretrained.path_of("lifter-243")), "--output", "c"])  # fmt: skip
    assert code == 2 and not (tmp_path / "c.npy").exists()


def test_the_model_cards_camera_table_states_the_manifests_numbers():
    """Every row of the card's camera benchmark table is the manifest's, to 0.1 mm and 0.1 %."""
    doc = pretrained.manifest()
    text = CARD.read_text()
    rows = {}
    for name in doc["models"]:
        for family, r in doc["models"][name]["cameras"].items():
            rows[(name, family)] = r
    for family, r in doc["before"]["cameras"].items():
        rows[(doc["before"]["model"], family)] = r
    for (name, family), r in rows.items():
        cells = f"| {name} | {family} | {r['mpjpe']:.1f} | {r['p_mpjpe']:.1f} | "
        cells += f"{100 * r['scale_error']:+.1f} | {r['full_size']['mpjpe']:.1f} | "
        cells += f"{100 * r['full_size']['scale_error']:+.1f} |"
        assert cells in text, cells
