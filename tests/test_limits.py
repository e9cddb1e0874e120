"""The limits every reader holds to (dilpose.limits) and issue 24's examples for the readers: JSON
nested 200,000 deep or holding a 401-digit number, special files (FIFOs, /dev/zero, folders), an
npz that inflates 1000x, an .npy header that claims 10**11 frames, and the shop format's silent
wrong answers (a calibration path outside the folder, fps Infinity, a zero focal length, a 10**30
pixel image). Each must be a DataError naming the file, quickly and without a large allocation.
"""

from __future__ import annotations

import json
import os
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import alarm_after, write_shop_folder

from dilpose import bvh, checkpoints, explorer_data, keypoints, limits, npz, pretrained
from dilpose.camera import load_h36m_cameras
from dilpose.datasets import shop_format
from dilpose.errors import DataError

DEEP = "[" * 200_000 + "]" * 200_000
HUGE_INT = "9" * 401
W, H = 1000, 1000


bounded = alarm_after  # a blocking open (a FIFO) fails instead of hanging the suite


def _coco(values) -> list:
    return [{"image_id": 0, "category_id": 1, "keypoints": values, "score": 0.9}]


def _kp_values() -> list:
    return [v for j in range(17) for v in (100.0 + 10 * j, 200.0 + 5 * j, 1.0)]


# -- the limits themselves -------------------------------------------------------------------------
def test_json_nested_to_the_limit_parses_and_deeper_is_refused():
    depth = limits.MAX_JSON_DEPTH
    assert limits.parse_json("[" * depth + "]" * depth, "x") is not None
    with pytest.raises(DataError, match=f"nested more than {depth} levels"):
        limits.parse_json("[" * (depth + 1) + "]" * (depth + 1), "x")


def test_brackets_and_digits_inside_strings_are_text():
    text = json.dumps({"a": "[" * 500 + '\\"' + "9" * 500, "b": [1, 2.5e-3, -7]})
    assert limits.parse_json(text, "x") == json.loads(text)


def test_number_length_limit_and_limit_violations_quote_no_content(tmp_path):
    assert limits.parse_json("[" + "1" * limits.MAX_NUMBER_CHARS + "]", "x")[0] > 0
    path = tmp_path / "secret.json"
    path.write_text('{"password": "hunter2", "n": ' + HUGE_INT + "}")
    with pytest.raises(DataError) as e:
        limits.read_json(path, "test file")
    assert str(path) in str(e.value) and "hunter2" not in str(e.value)
    assert f"more than {limits.MAX_NUMBER_CHARS} characters" in str(e.value)


def test_size_limit_is_checked_before_reading(tmp_path):
    path = tmp_path / "big.json"
    path.write_text("[" + "0," * 1000 + "0]")
    with pytest.raises(DataError, match="over the limit of 1,000 bytes"):
        limits.read_json(path, "test file", max_bytes=1000)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory", "missing"])
def test_special_files_are_refused_without_blocking(tmp_path, kind):
    path = _special(tmp_path, kind)
    with bounded(), pytest.raises(DataError) as e:
        limits.read_json(path, "test file")
    assert str(path) in str(e.value)


def _special(tmp_path: Path, kind: str, name: str = "thing") -> Path:
    path = tmp_path / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    return path


# -- every reader: deep JSON, a 401-digit number, special files ------------------------------------
def _write_lift_result(prefix: Path, text: str) -> Path:
    path = prefix.with_suffix(".json")
    path.write_text(text)
    return path


@pytest.mark.parametrize("content", [DEEP, "NUMBER"])
def test_coco_keypoints_deep_json_or_huge_number_is_a_data_error(tmp_path, content):
    path = tmp_path / "kp.json"
    if content == "NUMBER":
        values = _kp_values()
        text = json.dumps(_coco(values)).replace(str(values[0]), HUGE_INT, 1)
    else:
        text = content
    path.write_text(text)
    with pytest.raises(DataError) as e:
        keypoints.read_keypoints(path, W, H)  # was RecursionError / OverflowError
    assert str(path) in str(e.value)


def test_ragged_coco_keypoints_are_refused(tmp_path):
    rows = [[100.0 + j, 200.0, 1.0] for j in range(16)] + [[1.0, 2.0]]  # one row short
    path = tmp_path / "kp.json"
    path.write_text(json.dumps(_coco(rows)))
    with pytest.raises(DataError, match="'keypoints' should be 51 numbers"):
        keypoints.read_keypoints(path, W, H)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_keypoints_special_files_are_refused(tmp_path, kind):
    path = _special(tmp_path, kind, "kp.json")
    with bounded(), pytest.raises(DataError, match="must be a regular file"):
        keypoints.read_keypoints(path, W, H)


def test_keypoints_image_of_ten_to_the_thirty_pixels_is_refused(tmp_path):
    path = tmp_path / "kp.json"
    path.write_text(json.dumps(_coco(_kp_values())))
    assert keypoints.read_keypoints(path, W, H).width == W
    with pytest.raises(DataError, match="100,000 pixels per side"):
        keypoints.read_keypoints(path, 1e30, 1e30)


@pytest.mark.parametrize("content", [DEEP, "[" + HUGE_INT + "]"])
def test_lift_result_deep_or_huge_json_is_a_data_error(tmp_path, content):
    path = _write_lift_result(tmp_path / "out", content)
    with pytest.raises(DataError) as e:
        explorer_data.read_poses3d(path)
    assert str(path) in str(e.value)


def test_lift_result_npy_claiming_1e11_frames_is_refused_before_allocation(tmp_path):
    path = tmp_path / "out.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (10**11, 17, 3)}
        )
        f.write(np.zeros((2, 17, 3), np.float32).tobytes())
    with pytest.raises(DataError, match="needs 20,400,000,000,000 bytes"):
        explorer_data.read_poses3d(path)  # was MemoryError from np.load


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_lift_result_special_files_are_refused(tmp_path, kind):
    path = _special(tmp_path, kind, "out.json")
    with bounded(), pytest.raises(DataError, match="regular file"):
        explorer_data.read_poses3d(path)


@pytest.mark.parametrize("content", [DEEP, '{"config": ' + HUGE_INT + "}", "DEVZERO"])
def test_models_lists_a_damaged_cache_record_as_unreadable(tmp_path, content):
    record = tmp_path / "abc.json"
    if content == "DEVZERO":
        record.symlink_to("/dev/zero")  # was read until memory ran out
    else:
        record.write_text(content)
    (tmp_path / "abc.pt").write_bytes(b"x")
    with bounded():
        (info,) = pretrained.cached(tmp_path)  # was a RecursionError traceback
    assert info.name.startswith("unreadable record") and str(record) in info.name


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_bvh_and_checkpoint_special_files_are_refused(tmp_path, kind):
    for reader, name in ((bvh.parse_bvh, "x.bvh"), (checkpoints.load_checkpoint, "x.pt")):
        path = _special(tmp_path, kind, name)
        with bounded(), pytest.raises(DataError, match="regular file"):
            reader(path)


def test_camera_json_deep_is_a_data_error(tmp_path):
    path = tmp_path / "cams.json"
    path.write_text(DEEP)
    with pytest.raises(DataError, match="nested more than"):
        load_h36m_cameras(path)


# -- npz -------------------------------------------------------------------------------------------
def test_npz_member_inflating_1000x_is_refused_before_allocation(tmp_path):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, zeros=np.zeros(64 * 2**20, np.uint8))  # 64 MiB in ~65 kB
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="100x inflation allowed"):
            npz.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8e6


def test_npz_small_constant_members_still_load(tmp_path):
    path = tmp_path / "ok.npz"
    np.savez_compressed(path, labels=np.zeros(1_000_000, np.uint8), x=np.arange(5.0))
    out = npz.load(path)
    assert out["labels"].shape == (1_000_000,) and out["x"][-1] == 4.0


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_npz_special_files_are_refused(tmp_path, kind):
    path = _special(tmp_path, kind, "x.npz")
    with bounded(), pytest.raises(DataError, match="regular file"):
        npz.load(path)


# -- the shop format -------------------------------------------------------------------------------
@pytest.fixture
def shop(tmp_path) -> Path:
    """A one-subject, one-camera, one-clip shop folder."""
    return write_shop_folder(tmp_path / "shop", frames=5)


def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def test_shop_fixture_reads(shop):
    assert len(shop_format.read(shop)["clips"]["p01"]["walk 01"]["labels"]) == 5


@pytest.mark.parametrize("calibration", ["../../x.json", "/etc/passwd", "..", "", "a\\b.json"])
def test_shop_calibration_outside_the_folder_is_refused(shop, calibration):
    (shop.parent / "x.json").write_text((shop / "cameras.json").read_text())
    _edit(shop / "manifest.json", lambda m: m.update(calibration=calibration))
    with pytest.raises(DataError, match="calibration .* must be a"):
        shop_format.read(shop)  # ../x.json and /etc/passwd were read


@pytest.mark.parametrize("fps", [float("inf"), float("nan"), 0, -50, 1e30])
def test_shop_impossible_fps_is_refused(shop, fps):
    manifest = shop / "manifest.json"
    text = manifest.read_text().replace('"fps": 50.0', f'"fps": {json.dumps(fps)}')
    manifest.write_text(text)
    with pytest.raises(DataError, match="fps must be a number"):
        shop_format.read_manifest(shop)  # Infinity and 1e30 were accepted


@pytest.mark.parametrize(
    "field, value, problem",
    [
        ("focal_length", [0.0, 1145.0], "focal_length must be positive"),
        ("focal_length", [-1145.0, -1145.0], "focal_length must be positive"),
        ("res_w", 10**30, "res_w and res_h must be integers"),
        ("res_h", 10**6, "res_w and res_h must be integers"),
        ("azimuth", "east", "azimuth must be a finite number"),
    ],
)
def test_shop_impossible_cameras_are_refused(shop, field, value, problem):
    _edit(shop / "cameras.json", lambda c: c["intrinsics"][0].update({field: value}))
    with pytest.raises(DataError, match=problem):
        shop_format.read_cameras(shop / "cameras.json")  # a zero focal length was accepted


@pytest.mark.parametrize("name", ["manifest.json", "cameras.json", "p01.npz"])
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_shop_special_files_are_refused_without_blocking(shop, name, kind):
    (shop / name).unlink()
    _special(shop, kind, name)
    with bounded(), pytest.raises(DataError, match=name.replace(".", r"\.")):
        shop_format.read(shop)


@pytest.mark.parametrize("name", ["manifest.json", "cameras.json"])
@pytest.mark.parametrize("content", [DEEP, '{"x": ' + HUGE_INT + "}"])
def test_shop_deep_or_huge_json_is_a_data_error(shop, name, content):
    (shop / name).write_text(content)
    with pytest.raises(DataError, match=name.replace(".", r"\.")):
        shop_format.read(shop)


def test_shop_camera_number_of_401_digits_is_a_data_error(shop):
    path = shop / "cameras.json"
    _edit(path, lambda c: c["intrinsics"][0]["center"].__setitem__(0, int(HUGE_INT)))
    with pytest.raises(DataError, match="more than 100 characters"):
        shop_format.read_cameras(path)  # was OverflowError in np.asarray(value, float)


def test_shop_subject_npz_zip_bomb_is_refused(shop):
    with zipfile.ZipFile(shop / "p01.npz", "a", zipfile.ZIP_DEFLATED) as z:
        with z.open("labels/walk 02.npy", "w") as f:
            np.lib.format.write_array(f, np.zeros(64 * 2**20, np.uint8))
    with pytest.raises(DataError, match="p01.npz.*inflation allowed"):
        shop_format.read(shop)
