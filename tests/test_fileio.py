"""Atomic writes: no partial file and no temporary file is ever left behind, NaN never reaches JSON,
npz files land at exactly the given name, and files get ordinary (umask) permissions."""

import json
import os
import stat

import numpy as np
import pytest

from dilpose import fileio


class Boom(RuntimeError):
    pass


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_writer_raising_midway_keeps_old_content_and_leaves_no_temp(tmp_path):
    path = tmp_path / "result.txt"
    path.write_text("old content\n")
    with pytest.raises(Boom):
        with fileio.atomic_open(path, "w") as f:
            f.write("new partial ")
            f.flush()
            raise Boom("writer failed")
    assert path.read_text() == "old content\n"
    assert os.listdir(tmp_path) == ["result.txt"]


def test_writer_raising_on_new_path_leaves_nothing(tmp_path):
    path = tmp_path / "sub" / "new.bin"
    with pytest.raises(Boom):
        with fileio.atomic_open(path) as f:
            f.write(b"\x00" * 1000)
            raise Boom()
    assert not path.exists()
    assert os.listdir(tmp_path / "sub") == []


def test_keyboard_interrupt_also_cleans_up(tmp_path):
    path = tmp_path / "x.bin"
    with pytest.raises(KeyboardInterrupt):
        with fileio.atomic_open(path) as f:
            f.write(b"abc")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_failed_save_npz_keeps_old_file(tmp_path):
    path = tmp_path / "d.npz"
    fileio.save_npz(path, a=np.arange(3))

    class Unpicklable:
        def __reduce__(self):
            raise Boom("cannot pickle")

    with pytest.raises(Boom):
        fileio.save_npz(path, a=np.arange(5), b=np.array([Unpicklable()], dtype=object))
    with np.load(path) as f:
        np.testing.assert_array_equal(f["a"], np.arange(3))
    assert os.listdir(tmp_path) == ["d.npz"]


def test_successful_write_replaces_content_and_creates_parents(tmp_path):
    path = tmp_path / "a" / "b" / "f.txt"
    assert fileio.write_text(path, "one") == path
    fileio.write_text(path, "two")
    assert path.read_text() == "two"
    assert fileio.write_bytes(tmp_path / "g.bin", b"\x01\x02") == tmp_path / "g.bin"
    assert (tmp_path / "g.bin").read_bytes() == b"\x01\x02"
    assert sorted(os.listdir(tmp_path)) == ["a", "g.bin"]


def test_write_json_converts_numpy_and_paths(tmp_path):
    path = tmp_path / "m.json"
    fileio.write_json(path, {"mpjpe": np.float32(0.5), "n": np.int64(3), "per_joint": np.array([1.0, 2.0]),
                             "file": tmp_path / "x.npz"})
    assert json.loads(path.read_text()) == {"mpjpe": 0.5, "n": 3, "per_joint": [1.0, 2.0],
                                            "file": str(tmp_path / "x.npz")}
    assert path.read_text().endswith("\n")


@pytest.mark.parametrize("bad", [float("nan"), np.float64("nan"), np.array([1.0, np.inf]), float("-inf")])
def test_write_json_refuses_nan_and_inf_and_leaves_no_file(tmp_path, bad):
    path = tmp_path / "m.json"
    with pytest.raises(ValueError):
        fileio.write_json(path, {"value": bad})
    assert os.listdir(tmp_path) == []


def test_write_json_nan_keeps_existing_file(tmp_path):
    path = tmp_path / "m.json"
    fileio.write_json(path, {"value": 1.0})
    with pytest.raises(ValueError):
        fileio.write_json(path, {"value": float("nan")})
    assert json.loads(path.read_text()) == {"value": 1.0}
    assert os.listdir(tmp_path) == ["m.json"]


def test_write_json_refuses_unknown_objects(tmp_path):
    with pytest.raises(TypeError, match="object"):
        fileio.write_json(tmp_path / "m.json", {"x": object()})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("compressed", [True, False])
@pytest.mark.parametrize("name", ["data.npz", "data.bin", "noext"])
def test_save_npz_writes_loadable_file_at_exactly_the_name(tmp_path, compressed, name):
    path = tmp_path / name
    arrays = {"a": np.arange(12.0).reshape(3, 4), "b": np.array(["x", "y"])}
    assert fileio.save_npz(path, compressed=compressed, **arrays) == path
    assert os.listdir(tmp_path) == [name]
    with np.load(path) as f:
        assert sorted(f.files) == ["a", "b"]
        np.testing.assert_array_equal(f["a"], arrays["a"])
        np.testing.assert_array_equal(f["b"], arrays["b"])


def test_save_npz_compression_shrinks_redundant_data(tmp_path):
    fileio.save_npz(tmp_path / "c.npz", a=np.zeros(100_000))
    fileio.save_npz(tmp_path / "u.npz", compressed=False, a=np.zeros(100_000))
    assert (tmp_path / "c.npz").stat().st_size < (tmp_path / "u.npz").stat().st_size / 10


def test_save_torch_round_trip(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "ckpt.pt"
    fileio.save_torch(path, {"w": torch.arange(4.0)})
    assert torch.equal(torch.load(path)["w"], torch.arange(4.0))
    assert os.listdir(tmp_path) == ["ckpt.pt"]


@pytest.mark.parametrize("writer", [
    lambda p: fileio.write_text(p, "x"),
    lambda p: fileio.write_bytes(p, b"x"),
    lambda p: fileio.write_json(p, {"a": 1}),
    lambda p: fileio.save_npz(p, a=np.zeros(2)),
])
def test_files_get_umask_permissions_not_0600(tmp_path, umask_022, writer):
    path = tmp_path / "f"
    writer(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o644, oct(mode)  # what a plain open() gives under umask 022


def test_permissions_follow_a_stricter_umask(tmp_path):
    old = os.umask(0o077)
    try:
        fileio.write_text(tmp_path / "f", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o600
