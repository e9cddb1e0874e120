"""The ``dilpose`` command end to end: train -> evaluate -> lift a COCO keypoints JSON."""

import json

import numpy as np
import pytest

from dilpose import cli, datasets
from dilpose import skeleton as sk


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "model.pt"
    code = cli.main(
        [
            "train",
            "--profile",
            "smoke",
            "--epochs",
            "1",
            "--channels",
            "16",
            "--filter-widths",
            "3,3",
            "--checkpoint",
            str(path),
            "--quiet",
        ]
    )
    assert code == 0 and path.is_file()
    return path


def test_evaluate_writes_all_metrics_with_the_protocol(checkpoint, tmp_path, capsys):
    out = tmp_path / "results.json"
    assert (
        cli.main(
            [
                "evaluate",
                "--profile",
                "smoke",
                "--checkpoint",
                str(checkpoint),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert {"mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "protocol"} <= set(result)
    assert result["protocol"]["flip_test"] is True and result["dataset"] == "mocap"
    # every category the default split tests (dance is performed by one training subject only)
    assert set(result["mpjpe"]["per_action"]) == {
        "walk",
        "run",
        "jump",
        "exercise",
        "sport",
        "reach",
        "floor",
    }
    assert "MPJPE" in capsys.readouterr().out


def test_lift_turns_a_coco_keypoints_json_into_3d_joints(checkpoint, tmp_path, capsys):
    # A COCO results file as a detector writes it: one person per image, [x, y, v] * 17.
    data = datasets.load("mocap", seed=1, subjects=("cmu09",))
    action = data.actions("cmu09")[0]
    kp, scores = data.keypoints["cmu09"][action][0], data.scores["cmu09"][action][0]
    detections = [
        {
            "image_id": t,
            "category_id": 1,
            "score": 0.95,
            "keypoints": np.column_stack([kp[t], scores[t]]).ravel().round(2).tolist(),
        }
        for t in range(len(kp))
    ]
    src = tmp_path / "person_keypoints_results.json"
    src.write_text(json.dumps(detections))
    assert (
        cli.main(
            [
                "lift",
                str(src),
                "--checkpoint",
                str(checkpoint),
                "--output",
                str(tmp_path / "poses3d"),
                "--width",
                "1000",
                "--height",
                "1002",
            ]
        )
        == 0
    )
    poses = np.load(tmp_path / "poses3d.npy")
    assert poses.shape == (len(kp), 17, 3) and np.isfinite(poses).all()
    meta = json.loads((tmp_path / "poses3d.json").read_text())
    assert meta["joint_names"] == list(sk.H36M17.joint_names) and meta["units"] == "metres"
    assert len(meta["positions_3d"]) == len(kp)
    # and it says where to look at the result
    assert f"'lift result' {tmp_path / 'poses3d.json'}" in capsys.readouterr().out


def test_bad_files_give_a_clear_error_and_exit_code_2(tmp_path, capsys, checkpoint):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    assert cli.main(["evaluate", "--profile", "smoke", "--checkpoint", str(bad)]) == 2
    assert "broken.pt" in capsys.readouterr().err
    src = tmp_path / "dets.json"
    src.write_text('[{"image_id": 0, "category_id": 1, "keypoints": [1, 2, 1]}]')
    assert (
        cli.main(
            [
                "lift",
                str(src),
                "--checkpoint",
                str(checkpoint),
                "--output",
                str(tmp_path / "o"),
                "--width",
                "100",
                "--height",
                "100",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "dets.json" in err and not (tmp_path / "o.npy").exists()


def _one_line_error(capsys, *words):
    """The command printed exactly one line on stderr, containing every word."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    for w in words:
        assert w in err, err
    return err


@pytest.mark.parametrize(
    "argv,words",
    [
        (
            ["train", "--channels", "0"],
            ["dilpose train: error:", "--channels", "positive integer", "'0'"],
        ),
        (["train", "--filter-widths", "2,2"], ["--filter-widths", "odd", "'2,2'"]),
        (["train", "--epochs", "-3"], ["--epochs", "positive integer"]),
        (["train", "--batch-size", "many"], ["--batch-size", "'many'"]),
        (["lift", "x.json", "--checkpoint", "c.pt", "--output", "o", "--width", "0"], ["--width"]),
        (
            ["lift", "x.json", "--checkpoint", "c.pt", "--output", "o", "--min-score", "nan"],
            ["--min-score", "finite"],
        ),
        (
            ["lift", "x.json", "--checkpoint", "c.pt", "--output", "o", "--max-gap", "-1"],
            ["--max-gap"],
        ),
    ],
)
def test_bad_options_are_one_line_errors_with_status_2(argv, words, tmp_path, capsys):
    argv = [a if a not in ("x.json", "c.pt", "o") else str(tmp_path / a) for a in argv]
    if argv[0] == "train":
        argv += ["--checkpoint", str(tmp_path / "c.pt")]
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    _one_line_error(capsys, *words)
    assert not (tmp_path / "c.pt").exists()


def test_unwritable_outputs_are_one_line_errors(checkpoint, tmp_path, capsys, monkeypatch):
    (tmp_path / "plain").write_text("a regular file")
    under_file = tmp_path / "plain" / "out"
    src = tmp_path / "dets.json"
    kp = np.full((20, 17, 3), 1.0)
    kp[..., :2] = 300 + np.arange(17)[None, :, None] * 5
    src.write_text(
        json.dumps(
            [
                {"image_id": t, "category_id": 1, "score": 0.9, "keypoints": kp[t].ravel().tolist()}
                for t in range(20)
            ]
        )
    )
    cases = {
        "lift": [
            "lift",
            str(src),
            "--checkpoint",
            str(checkpoint),
            "--output",
            str(under_file),
            "--width",
            "1000",
            "--height",
            "1000",
        ],
        "evaluate": [
            "evaluate",
            "--profile",
            "smoke",
            "--checkpoint",
            str(checkpoint),
            "--output",
            str(under_file / "r.json"),
        ],
        "train": [
            "train",
            "--profile",
            "smoke",
            "--checkpoint",
            str(under_file / "m.pt"),
            "--quiet",
        ],
    }
    for command, argv in cases.items():
        assert cli.main(argv) == 2, command
        _one_line_error(
            capsys, f"dilpose {command}: error:", str(tmp_path / "plain"), "is a file, not a folder"
        )
    # A folder that refuses new files (read-only; root ignores chmod, so the refusal is simulated at
    # the system call every writer goes through).
    import tempfile

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    for command, argv in cases.items():
        argv = [str(tmp_path / "ro" / "x.pt") if a.startswith(str(under_file)) else a for a in argv]
        assert cli.main(argv) == 2, command
        _one_line_error(
            capsys, f"dilpose {command}: error:", str(tmp_path / "ro"), "Permission denied"
        )


def test_a_checkpoint_with_a_bad_model_config_is_a_one_line_error(checkpoint, tmp_path, capsys):
    import torch

    ckpt = torch.load(checkpoint, weights_only=True)
    ckpt["model_config"]["colour"] = "blue"
    torch.save(ckpt, tmp_path / "extra.pt")
    assert (
        cli.main(["evaluate", "--profile", "smoke", "--checkpoint", str(tmp_path / "extra.pt")])
        == 2
    )
    _one_line_error(capsys, "extra.pt", "unknown key(s) ['colour']")


def test_resume_with_other_settings_needs_the_flag(tmp_path, capsys):
    base = [
        "train",
        "--profile",
        "smoke",
        "--epochs",
        "1",
        "--channels",
        "8",
        "--filter-widths",
        "3",
        "--checkpoint",
        str(tmp_path / "m.pt"),
        "--quiet",
    ]
    assert cli.main(base) == 0
    capsys.readouterr()
    assert cli.main(base + ["--resume", "--seed", "3"]) == 2
    _one_line_error(capsys, "m.pt", "seed: 0 -> 3", "--allow-config-change")
    assert cli.main(base + ["--resume", "--seed", "3", "--allow-config-change"]) == 0
