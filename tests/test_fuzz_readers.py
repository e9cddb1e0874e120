"""Property-based tests of the readers behind dilpose.limits: every JSON reader fed any JSON value,
deep nesting and huge numbers; the shop loader fed mutated manifests, cameras and file names; and
every reader given special files (FIFOs, /dev/zero, folders). Each input either gives a correct
result or a DataError naming the file, within hypothesis' deadline and a memory bound (a FIFO that
blocks fails through an alarm instead of hanging the suite).

Derandomized and small (tens of examples per test), so the file runs in seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from conftest import alarm_after, fuzz_settings, write_shop_folder
from hypothesis import given
from hypothesis import strategies as st

from dilpose import bvh, checkpoints, explorer_data, keypoints, limits, npz, pretrained
from dilpose.camera import load_h36m_cameras
from dilpose.datasets import shop_format
from dilpose.errors import DataError

FUZZ = fuzz_settings(max_examples=40, deadline=3000)
MEMORY_BOUND = 64e6  # bytes: every input here is under a few MB

_TMP = Path(tempfile.mkdtemp(prefix="dilpose-fuzz-readers-"))

# -- strategies ------------------------------------------------------------------------------------
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


@st.composite
def hostile_json(draw) -> str:
    """Text that is JSON, or nearly: deep nesting, long numbers, any value, a cut-off document."""
    kind = draw(st.sampled_from(["deep", "number", "value", "cut"]))
    if kind == "deep":
        depth = draw(st.integers(1, 300_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('[{"k":[', "]}]")]))
        return opener * depth + "0" + closer * depth
    if kind == "number":
        digits = draw(st.integers(1, 5000))
        sign, exp = draw(st.sampled_from(["", "-"])), draw(st.sampled_from(["", "e999", "e-999"]))
        return f'{{"n": [{sign}{"7" * digits}{exp}]}}'
    text = json.dumps(draw(json_values), allow_nan=True)
    if kind == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    return text


@contextlib.contextmanager
def bounded(seconds: int = 10):
    """Time and memory bound around one read: an alarm turns a blocking open into a failure."""
    tracemalloc.start()
    try:
        with alarm_after(seconds):
            yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"peak {peak / 1e6:.0f} MB"


def _loads_or_data_error(read, path: Path):
    """Call ``read``; a DataError must name ``path``. Returns the result, or None on DataError."""
    try:
        with bounded():
            return read()
    except DataError as e:
        assert str(path) in str(e), str(e)
        return None


# -- every JSON reader -----------------------------------------------------------------------------
def _shop_manifest(root: Path):
    return shop_format.read_manifest(root)


JSON_READERS = {
    # name: (file name inside the case folder, read(folder) -> result)
    "coco": ("kp.json", lambda d: keypoints.read_keypoints(d / "kp.json", 1000, 1000)),
    "lift-result": ("out.json", lambda d: explorer_data.read_poses3d(d / "out.json")),
    "shop-manifest": ("manifest.json", _shop_manifest),
    "shop-cameras": ("cameras.json", lambda d: shop_format.read_cameras(d / "cameras.json")),
    "camera-json": ("cams.json", lambda d: load_h36m_cameras(d / "cams.json")),
    "models-manifest": ("models.json", lambda d: pretrained.manifest(d / "models.json")),
    "parse": ("x.json", lambda d: limits.read_json(d / "x.json", "test file")),
}


@pytest.mark.parametrize("reader", sorted(JSON_READERS))
@FUZZ
@given(text=hostile_json())
def test_json_readers_give_a_result_or_a_data_error(reader, text):
    name, read = JSON_READERS[reader]
    folder = Path(tempfile.mkdtemp(dir=_TMP))
    path = folder / name
    path.write_text(text)
    _loads_or_data_error(lambda: read(folder), path)


@FUZZ
@given(text=hostile_json())
def test_models_lists_any_cache_record_without_a_traceback(text):
    folder = Path(tempfile.mkdtemp(dir=_TMP))
    (folder / "k.json").write_text(text)
    (folder / "k.pt").write_bytes(b"")
    with bounded():
        (info,) = pretrained.cached(folder)
    assert info.file == folder / "k.pt" or info.name.startswith("unreadable record")


@FUZZ
@given(text=hostile_json())
def test_parse_json_agrees_with_json_within_the_limits(text):
    try:
        expected = json.loads(text)
    except (ValueError, RecursionError):
        expected = DataError
    try:
        got = limits.parse_json(text, "<line 1>")
    except DataError as e:
        assert str(e).startswith("<line 1>: ")
        return
    assert expected is not DataError
    assert json.dumps(got, allow_nan=True) == json.dumps(expected, allow_nan=True)


# -- the shop loader -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    return write_shop_folder(tmp_path_factory.mktemp("shop"), frames=4)


def _copy_shop(shop: Path) -> Path:
    dst = Path(tempfile.mkdtemp(dir=_TMP)) / "shop"
    dst.mkdir()
    for f in shop.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


_names = st.sampled_from(
    ["cameras.json", "p01.npz", "../cameras.json", "/etc/passwd", "..", ".", "", "sub/x.json"]
) | st.text(max_size=12)


@FUZZ
@given(
    field=st.sampled_from(["format", "version", "fps", "actions", "calibration", "subjects"]),
    value=json_values | _names,
    mutate=st.booleans(),
    file_name=st.just("p01.npz") | _names,
)
def test_shop_manifest_mutations_read_correctly_or_fail_clearly(
    shop, field, value, mutate, file_name
):
    root = _copy_shop(shop)
    manifest = json.loads((root / "manifest.json").read_text())
    if mutate:
        manifest[field] = value
    if isinstance(manifest.get("subjects"), dict) and isinstance(
        manifest["subjects"].get("p01"), dict
    ):
        manifest["subjects"]["p01"]["file"] = file_name
    (root / "manifest.json").write_text(json.dumps(manifest, allow_nan=True))
    out = _loads_or_data_error(lambda: shop_format.read(root), root)
    if out is not None:  # what was read lies inside the folder and is what was written
        m = out["manifest"]
        assert Path(m["calibration"]).name == m["calibration"] not in ("", ".", "..")
        assert 0 < m["fps"] <= shop_format.MAX_FPS
        assert out["clips"]["p01"]["walk 01"]["positions_3d"].shape == (4, 17, 3)


@FUZZ
@given(
    field=st.sampled_from(
        ["id", "res_w", "res_h", "focal_length", "center", "radial_distortion", "azimuth"]
    ),
    value=json_values,
)
def test_shop_camera_mutations_read_correctly_or_fail_clearly(shop, field, value):
    root = _copy_shop(shop)
    cams = json.loads((root / "cameras.json").read_text())
    cams["intrinsics"][0][field] = value
    (root / "cameras.json").write_text(json.dumps(cams, allow_nan=True))
    out = _loads_or_data_error(lambda: shop_format.read_cameras(root / "cameras.json"), root)
    if out is not None:
        (cam,) = out
        assert 0 < cam.res_w <= limits.MAX_IMAGE_SIDE and 0 < cam.res_h <= limits.MAX_IMAGE_SIDE
        assert min(cam.focal_length) > 0 and np.isfinite(cam.center).all()


# -- special files, for every reader ---------------------------------------------------------------
SPECIAL_READERS = {
    "coco": ("kp.json", lambda p: keypoints.read_keypoints(p, 1000, 1000)),
    "keypoints-npz": ("kp.npz", lambda p: keypoints.read_keypoints(p, 1000, 1000)),
    "npz": ("x.npz", npz.load),
    "npy": ("x.npy", npz.load_npy),
    "lift-result": ("out.json", explorer_data.read_poses3d),
    "bvh": ("x.bvh", bvh.parse_bvh),
    "checkpoint": ("x.pt", checkpoints.load_checkpoint),
    "shop-cameras": ("cameras.json", shop_format.read_cameras),
    "json": ("x.json", lambda p: limits.read_json(p, "test file")),
}


def _make_special(path: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "dev-null":
        path.symlink_to("/dev/null")
    elif kind == "directory":
        path.mkdir()
    elif kind == "dangling":
        path.symlink_to(path.parent / "nowhere")
    elif kind == "loop":
        path.symlink_to(path)


@FUZZ
@given(
    reader=st.sampled_from(sorted(SPECIAL_READERS)),
    kind=st.sampled_from(["fifo", "dev-zero", "dev-null", "directory", "dangling", "loop"]),
)
def test_special_files_are_refused_by_every_reader(reader, kind):
    name, read = SPECIAL_READERS[reader]
    path = Path(tempfile.mkdtemp(dir=_TMP)) / name
    _make_special(path, kind)
    with pytest.raises(DataError) as e, bounded():
        read(path)
    assert str(path) in str(e.value)


@FUZZ
@given(
    name=st.sampled_from(["manifest.json", "cameras.json", "p01.npz"]),
    kind=st.sampled_from(["fifo", "dev-zero", "directory", "dangling"]),
)
def test_shop_with_a_special_file_is_refused(shop, name, kind):
    root = _copy_shop(shop)
    (root / name).unlink()
    _make_special(root / name, kind)
    with pytest.raises(DataError) as e, bounded():
        shop_format.read(root)
    assert name in str(e.value)
