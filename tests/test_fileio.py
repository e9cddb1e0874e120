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
    fileio.write_json(
        path,
        {
            "mpjpe": np.float32(0.5),
            "n": np.int64(3),
            "per_joint": np.array([1.0, 2.0]),
            "file": tmp_path / "x.npz",
        },
    )
    assert json.loads(path.read_text()) == {
        "mpjpe": 0.5,
        "n": 3,
        "per_joint": [1.0, 2.0],
        "file": str(tmp_path / "x.npz"),
    }
    assert path.read_text().endswith("\n")


@pytest.mark.parametrize(
    "bad", [float("nan"), np.float64("nan"), np.array([1.0, np.inf]), float("-inf")]
)
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


@pytest.mark.parametrize(
    "writer",
    [
        lambda p: fileio.write_text(p, "x"),
        lambda p: fileio.write_bytes(p, b"x"),
        lambda p: fileio.write_json(p, {"a": 1}),
        lambda p: fileio.save_npz(p, a=np.zeros(2)),
    ],
)
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


def test_a_writer_killed_mid_write_leaves_a_temp_that_the_next_write_removes(tmp_path):
    """kill -9 during a checkpoint write: the .tmp stays (nothing can clean up then); the next write
    of the same file removes it, while a temp of a writer that still runs is kept."""
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "ckpt.pt"
    code = (
        "import sys, time; from dilpose import fileio\n"
        "with fileio.atomic_open(sys.argv[1]) as f:\n"
        "    f.write(b'x' * 1000); f.flush(); print('writing', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "writing"
    live = [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert len(live) == 1 and live[0].startswith(f".ckpt.pt.{proc.pid}.")
    fileio.write_bytes(path, b"new")  # the writer still runs: its temp stays
    assert sorted(os.listdir(tmp_path)) == sorted(["ckpt.pt"] + live)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.05)
    fileio.write_bytes(path, b"newer")  # now it is stale: removed
    assert os.listdir(tmp_path) == ["ckpt.pt"] and path.read_bytes() == b"newer"


def test_stale_temps_of_other_files_and_foreign_files_are_left_alone(tmp_path):
    other = tmp_path / ".other.pt.999999999.abc.tmp"  # another target's temp
    mine_old = tmp_path / ".ckpt.pt.abcd1234.tmp"  # an older dilpose's name, no pid
    foreign = tmp_path / "ckpt.pt.tmp"  # not our naming
    for p in (other, mine_old, foreign):
        p.write_text("x")
    fileio.write_bytes(tmp_path / "ckpt.pt", b"1")
    assert mine_old.exists()  # too recent to call stale
    os.utime(mine_old, (0, 0))
    fileio.write_bytes(tmp_path / "ckpt.pt", b"2")
    assert not mine_old.exists() and other.exists() and foreign.exists()


def test_a_target_that_cannot_be_written_is_a_data_error(tmp_path):
    from dilpose.errors import DataError

    (tmp_path / "f").write_text("x")
    with pytest.raises(DataError, match="f is a file, not a folder"):
        fileio.write_json(tmp_path / "f" / "m.json", {})
    with pytest.raises(DataError, match="is a directory"):
        fileio.write_json(tmp_path, {})
    with pytest.raises(DataError, match="is a file, not a folder"):
        fileio.check_writable(tmp_path / "f" / "deeper" / "x.pt")
