"""Property-based tests of every loader of foreign files: VideoPose3D npz (2D, 3D, custom), the
plain keypoints npz, the shop format's subject npz, COCO keypoint JSON and checkpoints. Truncated,
bit-flipped and structurally
mutated versions of valid files either load or raise DataError naming the file: never another
exception, never a hang (hypothesis' deadline), never an allocation beyond a bound, never code run
from the file.

Hypothesis runs derandomized, so CI sees the same cases on every run. (BVH: tests/test_fuzz_bvh.py.)
"""

from __future__ import annotations

import io
import json
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import fuzz_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from dilpose import checkpoints, formats, keypoints, train
from dilpose import skeleton as sk
from dilpose.config import for_profile
from dilpose.datasets import Sequence, shop_format
from dilpose.errors import DataError

MEMORY_BOUND = 64e6  # bytes: every base file is < 100 kB; nothing read from one may cost 64 MB
FUZZ = fuzz_settings(max_examples=150, deadline=2000)

_TMP = Path(tempfile.mkdtemp(prefix="dilpose-fuzz-"))
MARKER = _TMP / "pwned"  # created only if a file manages to run code


class _Evil:
    def __reduce__(self):
        return (open, (str(MARKER), "w"))


def _kp(T=6, J=17, D=2, seed=0):
    return np.random.default_rng(seed).uniform(100, 900, size=(T, J, D)).astype(np.float32)


META_H36M = {
    "layout_name": "h36m",
    "num_joints": 17,
    "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]],
}
META_COCO = {
    "layout_name": "coco",
    "num_joints": 17,
    "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]],
}


def _base_objects():
    """name -> (members dict of python objects / arrays, loader, file name)."""
    return {
        "2d": (
            {
                "positions_2d": {"S1": {"Walking": [_kp(), _kp(seed=1)], "Eating": [_kp(4)]}},
                "metadata": {
                    "num_joints": 17,
                    "keypoints_symmetry": META_H36M["keypoints_symmetry"],
                },
            },
            formats.load_positions_2d,
            "data_2d_h36m_gt.npz",
        ),
        "custom": (
            {
                "positions_2d": {"v.mp4": {"custom": [_kp(8)]}},
                "metadata": dict(META_COCO, video_metadata={"v.mp4": {"w": 1000, "h": 1000}}),
            },
            lambda p: keypoints.read_keypoints(p),
            "data_2d_custom_x.npz",
        ),
        "3d": (
            {"positions_3d": {"S1": {"Walking": _kp(5, 32, 3), "Eating": _kp(3, 17, 3)}}},
            formats.load_positions_3d,
            "data_3d_h36m.npz",
        ),
        "shop": (
            {
                "positions_3d/walk 01": _kp(6, 17, 3) / 500,
                "keypoints_2d/walk 01": np.stack([_kp(6), _kp(6, seed=2)]),
                "scores_2d/walk 01": np.full((2, 6, 17), 0.9, np.float32),
                "labels/walk 01": np.zeros(6, np.uint8),
                "positions_3d/hunker 01": _kp(4, 17, 3) / 500,
                "keypoints_2d/hunker 01": np.stack([_kp(4), _kp(4, seed=3)]),
                "scores_2d/hunker 01": np.full((2, 4, 17), 0.5, np.float32),
                "labels/hunker 01": np.ones(4, np.uint8),
            },
            lambda p: shop_format.read_subject(p, shop_format.ACTIONS, cameras=2),
            "p01.npz",
        ),
        "plain": (
            {
                "keypoints": _kp(8, 17, 3),
                "width": np.array(1000),
                "height": np.array(1000),
                "frame_ids": np.arange(8),
            },
            lambda p: keypoints.read_keypoints(p),
            "keys.npz",
        ),
    }


BASES = _base_objects()


def _npz_bytes(members: dict, compressed: bool = False) -> bytes:
    buf = io.BytesIO()
    # member names are strings in a zip; a mutation may have renamed one to another type
    arrays = {
        str(k): (v if isinstance(v, np.ndarray) else np.array(v, dtype=object))
        for k, v in members.items()
    }
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def _member_bytes(members: dict) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(_npz_bytes(members))) as z:
        return {n: z.read(n) for n in z.namelist()}


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _check(loader, data: bytes, name: str):
    """Write ``data`` and load it: a DataError naming the file, or a result; memory within the
    bound."""
    MARKER.unlink(missing_ok=True)
    folder = Path(tempfile.mkdtemp(dir=_TMP))
    path = folder / name
    path.write_bytes(data)
    tracemalloc.start()
    try:
        loader(path)
    except DataError as e:
        assert str(path) in str(e), str(e)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        path.unlink()
        folder.rmdir()
    assert peak < MEMORY_BOUND, f"{peak / 1e6:.0f} MB"
    assert not MARKER.exists(), "the file ran code"


# -- byte-level mutations --------------------------------------------------------------------------
@st.composite
def mutated_bytes(draw, data: bytes):
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    buf = bytearray(data)
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(buf) - 1))
            buf[i] ^= 1 << draw(st.integers(0, 7))
    else:
        i = draw(st.integers(0, len(buf) - 1))
        chunk = draw(st.binary(min_size=1, max_size=16))
        buf[i : i + len(chunk)] = chunk
    return bytes(buf)


# -- structural mutations --------------------------------------------------------------------------
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.lists(st.integers(-3, 20), max_size=4),
    st.builds(
        lambda t, j, d, dt: np.zeros((t, j, d), dtype=dt),
        st.integers(0, 3),
        st.sampled_from([0, 1, 15, 16, 17, 18, 32]),
        st.sampled_from([1, 2, 3, 4]),
        st.sampled_from(["f4", "f8", "i4", "?", "c8", "U3"]),
    ),
    st.builds(lambda: np.array([np.nan, np.inf])),
    st.builds(lambda: np.float32(np.nan)),
    st.builds(lambda: {}),
    st.builds(lambda: []),
    st.builds(lambda: [None, None, None, None]),
    st.builds(_Evil),
)


def _nodes(obj, out=None):
    """Every (container, key) of a nested dict/list structure."""
    out = [] if out is None else out
    items = (
        obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    )
    for k, v in list(items):
        out.append((obj, k))
        _nodes(v, out)
    return out


@st.composite
def mutated_members(draw, members: dict):
    import copy

    members = copy.deepcopy(members)
    for _ in range(draw(st.integers(1, 3))):
        nodes = _nodes(members)
        if not nodes:
            break
        container, key = nodes[draw(st.integers(0, len(nodes) - 1))]
        op = draw(st.sampled_from(["replace", "delete", "rename", "wrap"]))
        if op == "replace":
            container[key] = draw(LEAVES)  # every leaf strategy builds a fresh object
        elif op == "delete":
            del container[key]
        elif op == "rename" and isinstance(container, dict):
            container[draw(st.one_of(st.text(max_size=5), st.integers(), st.none()))] = (
                container.pop(key)
            )
        elif op == "wrap":
            container[key] = [container[key]]
    return members


# -- the npz loaders -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(BASES))
def test_npz_loaders_accept_their_base_files(name):
    members, loader, fname = BASES[name]
    for compressed in (False, True):
        path = _TMP / f"ok-{compressed}-{fname}"
        path.write_bytes(_npz_bytes(members, compressed))
        loader(path)  # the unmutated file loads


@pytest.mark.parametrize("name", sorted(BASES))
@FUZZ
@given(data=st.data())
def test_npz_file_bytes_mutated(name, data):
    members, loader, fname = BASES[name]
    blob = _npz_bytes(members, compressed=data.draw(st.booleans()))
    _check(loader, data.draw(mutated_bytes(blob)), fname)


@pytest.mark.parametrize("name", sorted(BASES))
@FUZZ
@given(data=st.data())
def test_npz_member_bytes_mutated_in_a_valid_zip(name, data):
    """The zip stays valid (CRCs recomputed), so the .npy headers and pickles themselves are
    fuzzed."""
    members, loader, fname = BASES[name]
    raw = _member_bytes(members)
    target = data.draw(st.sampled_from(sorted(raw)))
    raw[target] = data.draw(mutated_bytes(raw[target]))
    _check(loader, _zip(raw), fname)


@pytest.mark.parametrize("name", sorted(BASES))
@FUZZ
@given(data=st.data())
def test_npz_structure_mutated(name, data):
    members, loader, fname = BASES[name]
    _check(loader, _npz_bytes(data.draw(mutated_members(members))), fname)


# -- COCO keypoint JSON ----------------------------------------------------------------------------
def _coco_doc():
    kp = _kp(12, 17, 2)
    return [
        {
            "image_id": t,
            "category_id": 1,
            "score": 0.9,
            "keypoints": np.column_stack([kp[t], np.full(17, 0.9)]).ravel().round(1).tolist(),
        }
        for t in range(12)
    ]


COCO_TEXT = json.dumps(_coco_doc()).encode()
COCO_ANN = json.dumps(
    {
        "images": [{"id": t, "width": 1000, "height": 1000} for t in range(12)],
        "annotations": _coco_doc(),
    }
).encode()


def _read_json_keypoints(path):
    return (
        keypoints.read_keypoints(path, 1000, 1000)
        if "results" in path.name
        else keypoints.read_keypoints(path)
    )


def test_json_base_files_load():
    for name, text in (("results.json", COCO_TEXT), ("ann.json", COCO_ANN)):
        (_TMP / name).write_bytes(text)
        assert len(_read_json_keypoints(_TMP / name)) == 12


@FUZZ
@given(data=st.data())
def test_coco_json_bytes_mutated(data):
    name, text = data.draw(st.sampled_from([("results.json", COCO_TEXT), ("ann.json", COCO_ANN)]))
    _check(_read_json_keypoints, data.draw(mutated_bytes(text)), name)


JSON_LEAVES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True),
        st.text(max_size=6),
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)


@FUZZ
@given(data=st.data())
def test_coco_json_structure_mutated(data):
    import copy

    name, text = data.draw(st.sampled_from([("results.json", COCO_TEXT), ("ann.json", COCO_ANN)]))
    doc = json.loads(text)
    for _ in range(data.draw(st.integers(1, 3))):
        nodes = _nodes(doc)
        if not nodes:
            break
        container, key = nodes[data.draw(st.integers(0, len(nodes) - 1))]
        op = data.draw(st.sampled_from(["replace", "delete", "big_id"]))
        if op == "replace":
            container[key] = data.draw(JSON_LEAVES)
        elif op == "delete":
            del container[key]
        else:  # an id far from the others: must not make the reader allocate every frame between
            container[key] = data.draw(st.sampled_from([2_000_000, 10**12, -(10**9), 10**30]))
        doc = copy.deepcopy(doc)
    _check(_read_json_keypoints, json.dumps(doc).encode(), name)


# -- checkpoints -----------------------------------------------------------------------------------
def _checkpoint_bytes() -> bytes:
    cfg = for_profile("smoke", channels=8, filter_widths=(3, 3))
    rng = np.random.default_rng(0)
    seqs = [
        Sequence(
            "S1",
            "walk",
            0,
            rng.normal(size=(20, 17, 2)).astype(np.float32),
            rng.normal(size=(20, 17, 3)).astype(np.float32),
            np.zeros(9, np.float32),
            np.ones((20, 17), np.float32),
        )
    ]
    path = _TMP / "base.pt"
    train.Trainer(cfg, seqs, progress=False).save(path)
    return path.read_bytes()


CKPT = _checkpoint_bytes()


def test_checkpoint_base_file_loads():
    (_TMP / "ok.pt").write_bytes(CKPT)
    assert checkpoints.model_from_checkpoint(_TMP / "ok.pt").input_spec["layout"] == sk.COCO17.name


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_checkpoint_bytes_mutated(data):
    _check(checkpoints.model_from_checkpoint, data.draw(mutated_bytes(CKPT)), "model.pt")


CKPT_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=6),
    st.lists(st.integers(-2, 10**9), max_size=4),
    st.builds(lambda n: torch.zeros(n), st.integers(0, 5)),
    st.sampled_from([10**9, 2**31, 0, -1, [3] * 40, [10**6], "coco17", "h36m17", "screen"]),
)


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_checkpoint_structure_mutated(data):
    import copy

    ckpt = torch.load(io.BytesIO(CKPT), weights_only=True)
    ckpt = copy.deepcopy(ckpt)
    for _ in range(data.draw(st.integers(1, 3))):
        nodes = [(c, k) for c, k in _nodes(ckpt) if not isinstance(c, torch.Tensor)]
        if not nodes:
            break
        container, key = nodes[data.draw(st.integers(0, len(nodes) - 1))]
        op = data.draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        # Copies: sampled_from hands out the same list object every time, which a later mutation
        # could otherwise put inside itself.
        if op == "replace":
            container[key] = copy.deepcopy(data.draw(CKPT_LEAVES))
        elif op == "delete":
            del container[key]
        elif isinstance(container, dict):
            container[data.draw(st.text(max_size=5))] = copy.deepcopy(data.draw(CKPT_LEAVES))
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    _check(checkpoints.model_from_checkpoint, buf.getvalue(), "model.pt")
