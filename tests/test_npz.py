"""dilpose.npz: npz files are read without running code from them and without allocating what a
forged header claims; every reader of the project that opens an npz with objects goes through it."""

import io
import os
import pickle
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from dilpose import formats, keypoints, npz
from dilpose.errors import DataError

META_COCO = {
    "layout_name": "coco",
    "num_joints": 17,
    "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]],
}


class _CreatesAFile:
    """Unpickling this runs ``open(path, 'w')``: the stand-in for any command an attacker picks."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class _RunsACommand:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def _crafted_files(tmp_path, payload):
    """The formats the project reads, each with the payload hidden where its pickles are."""
    kp = np.full((5, 17, 2), 300.0)
    files = {}
    p = tmp_path / "data_2d_custom_evil.npz"
    np.savez_compressed(
        p,
        positions_2d=np.array({"v": {"custom": [kp]}, "x": payload}, dtype=object),
        metadata=np.array(
            dict(META_COCO, video_metadata={"v": {"w": 1000, "h": 1000}}), dtype=object
        ),
    )
    files["custom"] = p
    p = tmp_path / "data_2d_h36m_evil.npz"
    np.savez_compressed(
        p,
        positions_2d=np.array({"S1": {"W": [kp]}}, dtype=object),
        metadata=np.array(dict(META_COCO, extra=payload), dtype=object),
    )
    files["2d"] = p
    p = tmp_path / "data_3d_evil.npz"
    np.savez_compressed(p, positions_3d=np.array({"S1": {"W": payload}}, dtype=object))
    files["3d"] = p
    p = tmp_path / "plain_evil.npz"
    np.savez(p, keypoints=np.array([payload], dtype=object))
    files["plain"] = p
    return files


@pytest.mark.parametrize("kind", ["open", "os.system"])
def test_crafted_pickles_are_refused_and_run_nothing(tmp_path, kind):
    marker = tmp_path / "pwned"
    payload = _CreatesAFile(marker) if kind == "open" else _RunsACommand(marker)
    files = _crafted_files(tmp_path, payload)
    readers = {
        "custom": formats.load_custom_2d,
        "2d": formats.load_positions_2d,
        "3d": formats.load_positions_3d,
        "plain": lambda p: keypoints.read_keypoints(p, 1000, 1000),
    }
    for name, path in files.items():
        with pytest.raises(DataError) as e:
            readers[name](path)
        assert str(path) in str(e.value), name
        if name != "plain":
            assert "refused to unpickle" in str(e.value), name
        else:
            assert "holds pickled Python objects" in str(e.value)
        assert not marker.exists(), f"{name}: the pickle ran"
    # lift reads custom files by sniffing: still refused, still nothing created.
    with pytest.raises(DataError, match="refused to unpickle"):
        keypoints.read_keypoints(files["custom"])
    assert not marker.exists()


def test_dilpose_lift_on_a_crafted_pickle_runs_nothing(tmp_path):
    """The whole command, as a user would run it: exit status 2, one line, no file created."""
    marker = tmp_path / "pwned"
    path = _crafted_files(tmp_path, _RunsACommand(marker))["custom"]
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "dilpose.cli",
            "lift",
            str(path),
            "--checkpoint",
            str(tmp_path / "none.pt"),
            "--output",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "refused to unpickle posix.system" in r.stderr
    assert not marker.exists() and not (tmp_path / "out.npy").exists()


def test_pickles_written_by_numpy_1_and_2_both_load():
    d = {
        "S1": {"W": [np.arange(6.0).reshape(1, 3, 2)]},
        "n": np.int64(3),
        "s": "x",
        "t": (1, 2.5, None),
    }
    arr = np.array(d, dtype=object)
    data = pickle.dumps(arr, protocol=3)  # np.save's protocol: GLOBAL opcodes, "module\nname\n"
    old_module = (
        b"numpy._core.multiarray" if b"numpy._core.multiarray" in data else b"numpy.core.multiarray"
    )
    assert b"c" + old_module + b"\n" in data
    for module in (b"numpy._core.multiarray", b"numpy.core.multiarray"):
        blob = data.replace(old_module, module)
        back = npz.unpickle(blob, "test").item()
        np.testing.assert_array_equal(back["S1"]["W"][0], d["S1"]["W"][0])
        assert back["n"] == 3 and back["s"] == "x" and back["t"] == (1, 2.5, None)


@pytest.mark.parametrize(
    "module,name",
    [
        ("builtins", "eval"),
        ("os", "system"),
        ("subprocess", "Popen"),
        ("numpy", "load"),
        ("numpy.testing", "assert_equal"),
        ("builtins", "getattr"),
    ],
)
def test_every_other_global_is_refused(module, name):
    blob = b"\x80\x03c" + module.encode() + b"\n" + name.encode() + b"\nq\x00."
    with pytest.raises(DataError, match=f"refused to unpickle {module}.{name}"):
        npz.unpickle(blob, "test")


def test_direct_ndarray_call_cannot_allocate_more_than_the_file():
    # REDUCE(numpy.ndarray, ((10**9,),)): 8 GB of uninitialised memory from a 60-byte pickle.
    blob = b"\x80\x03cnumpy\nndarray\nJ\x00\xca\x9a;\x85\x85R."
    with pytest.raises(DataError, match="broken pickle.*larger than the file"):
        npz.unpickle(blob, "test")


def _npy_bytes(header: dict, body: bytes) -> bytes:
    text = repr(header).encode()
    text += b" " * (63 - (len(text) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + body


def test_a_header_claiming_a_huge_shape_is_refused_without_allocating(tmp_path):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "keypoints.npy",
            _npy_bytes(
                {"descr": "<f8", "fortran_order": False, "shape": (10**12, 17, 2)}, b"\x00" * 64
            ),
        )
    with pytest.raises(
        DataError, match="'keypoints.npy' truncated: shape .* needs 272,000,000,000,000 bytes"
    ):
        npz.load(path)


def test_forged_member_sizes_and_zip_bombs_are_refused(tmp_path):
    path = tmp_path / "bomb.npz"
    body = np.zeros(3_000_000, np.uint8)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, body)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.npy", buf.getvalue())
    assert npz.load(path)["a"].shape == (3_000_000,)  # a real, highly compressible member is fine
    with pytest.raises(DataError, match="more than the limit"):
        npz.load(path, max_member_bytes=1_000_000)
    # Forge the declared size in both headers: ratio far beyond what deflate can reach.
    raw = bytearray(path.read_bytes())
    size = struct.pack("<I", 3_000_000 + len(buf.getvalue()) - 3_000_000)
    forged = struct.pack("<I", 0xFFFFFFF0)
    raw = raw.replace(size, forged)
    path.write_bytes(bytes(raw))
    with pytest.raises(
        DataError, match="forged sizes or a zip bomb|more than the limit|not a readable"
    ):
        npz.load(path, max_member_bytes=2**33)


def test_plain_reader_refuses_objects_and_reports_members(tmp_path):
    path = tmp_path / "o.npz"
    np.savez(path, a=np.arange(3), b=np.array({"x": 1}, dtype=object))
    with pytest.raises(DataError, match="member 'b.npy' holds pickled Python objects"):
        npz.load(path)
    out = npz.load(path, allow_objects=True)
    assert out["a"].tolist() == [0, 1, 2] and out["b"].item() == {"x": 1}


def test_fortran_order_and_structured_arrays_round_trip(tmp_path):
    a = np.asfortranarray(np.arange(24.0).reshape(2, 3, 4))
    s = np.zeros(3, dtype=[("x", "<f4"), ("y", "<i2")])
    s["x"], s["y"] = [1, 2, 3], [4, 5, 6]
    np.savez(tmp_path / "f.npz", a=a, s=s, u=np.array("coco"))
    out = npz.load(tmp_path / "f.npz")
    np.testing.assert_array_equal(out["a"], a)
    np.testing.assert_array_equal(out["s"], s)
    assert str(out["u"]) == "coco"


def test_missing_and_directory_paths(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        npz.load(tmp_path / "nope.npz")
    with pytest.raises(DataError, match="is a directory"):
        npz.load(tmp_path)


def test_no_module_of_the_project_calls_np_load_with_pickles():
    """The README promises that no path of the project unpickles without the restriction."""
    from dilpose import paths

    offenders = []
    for f in sorted((paths.REPO_ROOT / "dilpose").rglob("*.py")):
        text = f.read_text()
        for bad in ("allow_pickle=True", "pickle.load(", "pickle.loads(", "weights_only=False"):
            if bad in text:
                offenders.append(f"{f.name}: {bad}")
    assert offenders == []


def test_a_pickle_announcing_a_huge_string_is_refused_without_allocating_it():
    """Found by the fuzzer: a BINBYTES opcode whose 4-byte length says 1.2 GB made the unpickler
    allocate 1.2 GB before finding the data truncated."""
    import tracemalloc

    blob = b"\x80\x04B" + struct.pack("<I", 1_200_000_000) + b"abc."
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="broken pickle"):
            npz.unpickle(blob, "test")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10e6
