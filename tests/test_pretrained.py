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
    assert set(shipped) == {"lifter-243", "lifter-243-causal"}
    for name, m in shipped.items():
        assert m.file.stat().st_size <= 5e6  # the limit per file
        path = pretrained.path_of(name)
        assert pretrained.sha256(path) == m.sha256
        ckpt = checkpoints.load_checkpoint(path)  # weights_only, checked
        assert set(ckpt) >= {"model", "model_config", "input", "epoch"}
        assert "optimizer" not in ckpt  # slim: weights, not the training state
        assert ckpt["model_config"].causal is m.causal and m.receptive_field == 243
        assert ckpt["input"]["layout"] == "coco17" == m.input_layout


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


@pytest.mark.parametrize("name", ["lifter-243", "lifter-243-causal"])
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
    assert cli.main(["lift", str(EXAMPLE), *WH]) == 0
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
    assert any(
        line.startswith("lifter-243 ") and "shipped" in line and "80.85" in line for line in out
    )
    assert any(line.startswith("lifter-243-causal") and "True" in line for line in out)


def test_the_example_is_a_coco_results_file_of_a_test_clip():
    dets = json.loads(EXAMPLE.read_text())
    assert isinstance(dets, list) and len(dets) == 799
    assert all(len(d["keypoints"]) == 51 and d["category_id"] == 1 for d in dets)
    subject, _, _ = weights.EXAMPLE_CLIP
    from dilpose.datasets import mocap_files

    assert subject in mocap_files.TEST_SUBJECTS  # never trained on
