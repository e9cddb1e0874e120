"""The explorer's "lift result" box (issue 24): it reads only inside the folder the explorer was
started in, relative paths are taken from there, and its messages name the file and the problem
without quoting the file."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

from dilpose import app, explorer_data, paths
from dilpose.errors import DataError


@pytest.fixture
def root(tmp_path, monkeypatch):
    """The explorer's folder, holding one good lift result r.npy; the kernel's cwd elsewhere."""
    (tmp_path / "root").mkdir()
    np.save(tmp_path / "root" / "r.npy", np.random.default_rng(0).normal(size=(5, 17, 3)))
    monkeypatch.setenv(paths.EXPLORE_ROOT_ENV, str(tmp_path / "root"))
    (tmp_path / "kernel").mkdir()
    monkeypatch.chdir(tmp_path / "kernel")
    return tmp_path / "root"


def test_relative_paths_are_taken_from_the_explorer_s_folder(root):
    assert len(explorer_data.lift_clip("r.npy")) == 5
    assert len(explorer_data.lift_clip(root / "r.npy")) == 5
    assert len(explorer_data.lift_clip("./sub/../r")) == 5  # the prefix, inside after all


def test_paths_outside_the_folder_are_refused_without_probing_them(root, tmp_path):
    np.save(tmp_path / "outside.npy", np.zeros((5, 17, 3)))
    (root / "link.npy").symlink_to(tmp_path / "outside.npy")
    messages = []
    for path in (
        "/etc/passwd",
        "../outside.npy",
        tmp_path / "outside.npy",
        "link.npy",
        "/no/such/file.npy",
        "../nothing.npy",
    ):
        with pytest.raises(DataError, match="is outside the folder the explorer reads") as err:
            explorer_data.lift_clip(path)
        messages.append(err.value.problem)
    assert len(set(messages)) == 1  # an existing file and a missing one answer alike
    with pytest.raises(DataError, match="outside"):  # the keypoints file too
        explorer_data.lift_clip("r.npy", keypoints="/etc/passwd")


def _header(shape) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f4", "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


@pytest.mark.parametrize(
    "name, content",
    [
        ("a.json", '{"positions_3d": "SECRET-VALUE"}'),
        ("b.json", '{"SECRET-KEY": [1, 2, '),
        ("c.json", "[" * 100_000 + "]" * 100_000),
        ("d.json", '{"positions_3d": [[["SECRET-VALUE", 1, 2]]]}'),
        ("e.npy", b"\x93NUMPY\x01\x00\x76\x00{'descr': 'SECRET-VALUE', 'fortran_order': False, "),
        ("f.npy", _header((10**11, 17, 3)) + b"\0" * 1000),  # claims 10^11 frames
        ("g.npy", _header((4, 17, 3)).replace(b"<f4", b"|O8") + b"\0" * 1000),  # objects
    ],
)
def test_messages_name_the_file_and_quote_none_of_it(root, name, content):
    f = root / name
    f.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(DataError) as err:
        explorer_data.lift_clip(name)
    assert str(err.value).startswith(str(f)) and "SECRET" not in str(err.value)


def test_the_app_gives_its_kernels_the_folder_it_was_started_in(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = app.server_env("tok", base={"PATH": "/bin"})
    assert env[paths.EXPLORE_ROOT_ENV] == os.getcwd() and env["JUPYTER_TOKEN"] == "tok"
    chosen = app.server_env("tok", base={paths.EXPLORE_ROOT_ENV: "/data"})
    assert chosen[paths.EXPLORE_ROOT_ENV] == "/data"


def test_a_note_shows_the_model_file_name_only(root):
    (root / "r.json").write_text(json.dumps({"checkpoint": "/home/me/models/best.pt"}))
    assert explorer_data.lift_clip("r").notes == ["5 frames lifted by best.pt"]
    (root / "r.json").write_text(json.dumps({"checkpoint": {"x": "SECRET"}}))
    assert explorer_data.lift_clip("r").notes == ["5 frames lifted"]


def test_the_keypoints_a_lift_recorded_open_without_being_typed(root, monkeypatch):
    import shutil

    from dilpose import lift

    shutil.copy(paths.DATA_DIR / "examples" / "cmu09_walk_09_12_camera0.json", root / "walk.json")
    monkeypatch.chdir(root)  # lift it as a user would, from the folder they explore
    lift.lift_file("walk.json", output=root / "walk_3d", width=1000, height=1002)
    clip = explorer_data.lift_clip("walk_3d.json")
    assert clip.detections is not None and len(clip.detections) == len(clip)
    (root / "walk.json").unlink()  # moved away: the 3D still opens, and the note says why no 2D
    clip = explorer_data.lift_clip("walk_3d.json")
    assert clip.detections is None
    assert any("walk.json) were not found" in n for n in clip.notes)
