"""The ``dilpose`` command end to end: train -> evaluate -> lift a COCO keypoints JSON."""

import json

import numpy as np
import pytest

from dilpose import cli, dataset, skeleton as sk


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "model.pt"
    code = cli.main(["train", "--profile", "smoke", "--epochs", "1", "--channels", "16", "--filter-widths", "3,3",
                     "--checkpoint", str(path), "--quiet"])
    assert code == 0 and path.is_file()
    return path


def test_evaluate_writes_all_metrics_with_the_protocol(checkpoint, tmp_path, capsys):
    out = tmp_path / "results.json"
    assert cli.main(["evaluate", "--profile", "smoke", "--checkpoint", str(checkpoint), "--output", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {"mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "protocol"} <= set(result)
    assert result["protocol"]["flip_test"] is True and result["dataset"] == "cmu-default"
    assert set(result["mpjpe"]["per_action"]) == {"walk", "run", "sport"}
    assert "MPJPE" in capsys.readouterr().out


def test_lift_turns_a_coco_keypoints_json_into_3d_joints(checkpoint, tmp_path):
    # A COCO results file as a detector writes it: one person per image, [x, y, v] * 17.
    data = dataset.from_default(seed=1, subjects=("cmu09",))
    action = data.actions("cmu09")[0]
    kp, scores = data.keypoints["cmu09"][action][0], data.scores["cmu09"][action][0]
    detections = [{"image_id": t, "category_id": 1, "score": 0.95,
                   "keypoints": np.column_stack([kp[t], scores[t]]).ravel().round(2).tolist()}
                  for t in range(len(kp))]
    src = tmp_path / "person_keypoints_results.json"
    src.write_text(json.dumps(detections))
    assert cli.main(["lift", str(src), "--checkpoint", str(checkpoint), "--output", str(tmp_path / "poses3d"),
                     "--width", "1000", "--height", "1002"]) == 0
    poses = np.load(tmp_path / "poses3d.npy")
    assert poses.shape == (len(kp), 17, 3) and np.isfinite(poses).all()
    meta = json.loads((tmp_path / "poses3d.json").read_text())
    assert meta["joint_names"] == list(sk.H36M17.joint_names) and meta["units"] == "metres"
    assert len(meta["positions_3d"]) == len(kp)


def test_bad_files_give_a_clear_error_and_exit_code_2(tmp_path, capsys, checkpoint):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    assert cli.main(["evaluate", "--profile", "smoke", "--checkpoint", str(bad)]) == 2
    assert "broken.pt" in capsys.readouterr().err
    src = tmp_path / "dets.json"
    src.write_text('[{"image_id": 0, "category_id": 1, "keypoints": [1, 2, 1]}]')
    assert cli.main(["lift", str(src), "--checkpoint", str(checkpoint), "--output", str(tmp_path / "o"),
                     "--width", "100", "--height", "100"]) == 2
    err = capsys.readouterr().err
    assert "dets.json" in err and not (tmp_path / "o.npy").exists()
