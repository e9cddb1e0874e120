import json

import numpy as np
import pytest
from conftest import needs_shared

from dilpose import paths
from dilpose.datasets import mocap_files, mocap_import
from dilpose.errors import DataError
from dilpose.fileio import save_npz


@pytest.fixture(scope="module")
def committed():
    return mocap_files.load()


@pytest.fixture(scope="module")
def converted():
    """The importer's float64 output from ../shared (about 8 s), shared by the rebuild tests."""
    return mocap_import.convert()


def test_committed_data_is_small_and_complete(committed):
    sizes = {p.name: p.stat().st_size for p in paths.DEFAULT_DATA_FILES}
    assert sum(sizes.values()) <= 15e6, sizes  # the limit for data/
    assert len(committed.subjects) == 15 and len(committed.meta["clips"]) == 391
    frames = sum(len(a) for s in committed.positions_3d.values() for a in s.values())
    assert frames >= 50_000
    assert committed.meta["fps"] == 50.0
    assert "mocap.cs.cmu.edu" in committed.meta["acknowledgement"]
    assert "HDM05" in committed.meta["acknowledgement"]
    assert "CC BY-SA 3.0" in committed.meta["sources"]["hdm05"]["terms"]
    for subject, actions in committed.positions_3d.items():
        for action, pos in actions.items():
            assert pos.shape[1:] == (17, 3) and pos.dtype == np.float32
            assert committed.face_3d[subject][action].shape == (len(pos), 5, 3)
            assert action.split(" ")[0] in mocap_files.ACTIONS


def test_each_source_is_its_own_file_with_its_terms():
    for kind, path in zip(mocap_files.FILES, paths.DEFAULT_DATA_FILES):
        data = mocap_files.load(path)
        sources = {c["source"] for c in data.meta["clips"]}
        assert sources == {kind}
        assert data.meta["sources"][kind]["credit"] == mocap_files.FILES[kind]["credit"]
        prefix = "cmu" if kind == "cmu" else "hdm_"
        assert all(s.startswith(prefix) for s in data.subjects)


def test_stored_integers_are_half_millimetres(committed):
    raw = mocap_files.npz.load(paths.DEFAULT_DATA_FILES[1])
    key = next(k for k in raw if k.startswith("positions_3d/"))
    assert raw[key].dtype == np.int16
    subject, action = key.split("/", 2)[1:]
    np.testing.assert_array_equal(
        committed.positions_3d[subject][action],
        (raw[key].astype(np.float64) * 0.0005).astype(np.float32),
    )


def test_frames_are_resampled_to_50hz_not_dropped(committed):
    for clip in committed.meta["clips"]:
        # 120 Hz -> 50 Hz by interpolation keeps the duration: floor((F-1) * 50/120) + 1 frames.
        assert clip["frames"] == (clip["source_frames"] - 1) * 50 // 120 + 1
        assert len(committed.positions_3d[clip["subject"]][clip["action"]]) == clip["frames"]


def test_subjects_stand_on_the_floor_inside_the_capture_volume(committed):
    from dilpose.camera import load_h36m_cameras

    cams = load_h36m_cameras()
    for subject, actions in committed.positions_3d.items():
        centre = mocap_import.volume_centre(cams[committed.meta["camera_subject"][subject]])
        for action, pos in actions.items():
            feet = pos[:, [3, 6], 2].min(1)  # the lower ankle; hops leave the floor a while
            assert np.percentile(feet, 10) == pytest.approx(0.07, abs=0.1), (subject, action)
            assert np.abs(pos[:, 0, :2].mean(0) - centre[:2]).max() < 1e-3
            # Z up: the head is well above the pelvis while standing (bending and lying down
            # clips dip, but start or end standing)
            assert np.percentile(pos[:, 10, 2] - pos[:, 0, 2], 90) > 0.4, (subject, action)


def test_camera_sets_take_turns_over_sorted_subjects(committed):
    sets = committed.meta["camera_subject"]
    assert sets == mocap_import.camera_sets(committed.subjects)
    assert set(sets.values()) == set(mocap_import.CAMERA_SETS)
    assert sets["cmu01"] == "S1" and sets["cmu02"] == "S5" and sets["hdm_tr"] == "S1"


def test_split_follows_the_rule_recorded_in_the_data(committed):
    split = committed.meta["split"]
    assert tuple(split["train"]) == mocap_files.TRAIN_SUBJECTS
    assert tuple(split["test"]) == mocap_files.TEST_SUBJECTS
    assert split == mocap_import.choose_split(committed.meta["clips"])
    assert split["rule"] == mocap_import.SPLIT_RULE
    assert not set(split["train"]) & set(split["test"])
    assert set(split["train"]) | set(split["test"]) == set(committed.subjects)
    frames = {s: 0 for s in committed.subjects}
    tested, trained, long_test = set(), set(), 0
    for clip in committed.meta["clips"]:
        frames[clip["subject"]] += clip["frames"]
        if clip["subject"] in split["test"]:
            tested.add(clip["category"])
            long_test += clip["frames"] > 243
        else:
            trained.add(clip["category"])
    total = sum(frames.values())
    assert sum(frames[s] for s in split["train"]) >= 2 / 3 * total
    assert len(tested) >= 5 and tested <= trained  # every tested category is also trained
    assert long_test >= 5  # clips longer than the 243-frame window are tested (9 today)
    assert split["single_subject_categories"] == {"dance": "cmu05"}
    assert "cmu05" in split["train"]
    assert {"cmu", "hdm05"} == {
        c["source"] for c in committed.meta["clips"] if c["subject"] in split["test"]
    }


def test_split_rule_on_a_toy_dataset():
    def clip(subject, category, frames, source="cmu"):
        return {"subject": subject, "category": category, "frames": frames, "source": source}

    clips = [
        clip("a", "dance", 3000),  # dance: one subject only -> a trains
        clip("a", "walk", 2000),
        clip("b", "walk", 2000),
        clip("b", "run", 1000),
        clip("c", "walk", 600),  # c: walk and run in clips longer than 243 frames
        clip("c", "run", 400),
        *[clip("g", "walk", 200) for _ in range(3)],  # g: the same, in short clips
        *[clip("g", "run", 200) for _ in range(2)],
        clip("d", "walk", 1000, "hdm05"),
        clip("d", "reach", 500, "hdm05"),
        clip("e", "reach", 500, "hdm05"),
        clip("e", "walk", 2000, "hdm05"),
        clip("f", "walk", 1000),
    ]
    split = mocap_import.choose_split(clips)
    assert split["single_subject_categories"] == {"dance": "a"}
    # Of 15000 frames the test takes 3000-3750. {f, e} tests two categories; {g, e} three, but
    # only 2500 frames of long clips; {c, d, f} ties with {c, e} (3500) but has more subjects.
    assert split["test"] == ["c", "e"] and split["test_share"] == round(3500 / 15000, 4)
    assert split["test_long_clip_frames"] == 3500
    assert split["train"] == ["a", "b", "d", "f", "g"]
    with pytest.raises(DataError, match="no subject split"):
        mocap_import.choose_split([clip("a", "walk", 10), clip("b", "run", 10)])


def test_per_frame_labels_follow_the_category_tables(committed):
    for clip in committed.meta["clips"]:
        labels = committed.labels[clip["subject"]][clip["action"]]
        assert len(labels) == clip["frames"]
        expected = mocap_import.category_of(clip["manifest_label"], clip["source"])
        assert clip["category"] == expected
        assert set(labels) == {mocap_files.ACTIONS.index(expected)}


def test_category_tables():
    assert mocap_import.category_of("walk + turn") == "walk"
    assert mocap_import.category_of("multi: squat, twist, jog") == "exercise"
    assert mocap_import.category_of("sport (kick)") == "sport"
    assert mocap_import.category_of("jump + turn (playground)") == "jump"
    assert mocap_import.category_of("grabHighR", "hdm05") == "reach"
    assert mocap_import.category_of("lieDownFloor", "hdm05") == "floor"
    with pytest.raises(DataError, match="unknown clip category 'juggling'"):
        mocap_import.category_of("juggling")
    with pytest.raises(DataError, match="unknown clip category 'cartwheel'"):
        mocap_import.category_of("cartwheel", "hdm05")
    # every category of the tables is a label, and every label comes from some table
    tables = set(mocap_import.CMU_CATEGORY.values()) | set(mocap_import.HDM05_CATEGORY.values())
    assert tables == set(mocap_files.ACTIONS)


@needs_shared
def test_quantization_error_is_under_half_a_millimetre(committed, converted):
    worst = 0.0
    for subject, actions in converted.positions.items():
        for action, exact in actions.items():
            for kind, ref in (
                ("positions_3d", exact),
                ("face_3d", converted.faces[subject][action]),
            ):
                stored = getattr(committed, kind)[subject][action].astype(np.float64)
                worst = max(worst, np.linalg.norm(stored - ref, axis=-1).max())
    # rounding each coordinate to 0.5 mm moves a point at most sqrt(3) * 0.25 = 0.43 mm
    assert 0.2e-3 < worst <= 0.5e-3


@needs_shared
def test_rebuild_from_shared_equals_committed_files(tmp_path, committed, converted):
    written = mocap_import.write(converted, tmp_path)
    assert [p.name for p in written] == [p.name for p in paths.DEFAULT_DATA_FILES]
    rebuilt = mocap_files.load(written)
    assert rebuilt.meta == committed.meta | {"sources": rebuilt.meta["sources"]}
    assert rebuilt.meta["sources"].keys() == committed.meta["sources"].keys()
    for kind in ("positions_3d", "face_3d", "labels"):
        a, b = getattr(rebuilt, kind), getattr(committed, kind)
        assert a.keys() == b.keys()
        for subject in a:
            assert a[subject].keys() == b[subject].keys()
            for action in a[subject]:
                # Forward kinematics can differ in the last bits between CPUs, which can move a
                # value that lies on a rounding boundary by one 0.5 mm step: compare with that
                # tolerance, not bytes.
                np.testing.assert_allclose(
                    a[subject][action], b[subject][action], atol=0.5e-3 + 1e-6, rtol=0
                )


@needs_shared
def test_rebuilt_bvh_example_equals_the_committed_one(tmp_path, converted):
    written = mocap_import.write_bvh_example(converted.example, tmp_path)
    rebuilt = mocap_files.load_bvh_example(written)
    stored = mocap_files.load_bvh_example(paths.BVH_EXAMPLE)
    rebuilt.pop("path"), stored.pop("path")
    # The clip's mean pelvis comes from forward kinematics, which can differ in the last bits
    # between CPUs; everything else is copied from the BVH file and its manifest.
    np.testing.assert_allclose(
        rebuilt.pop("pelvis_mean_xy_m"), stored.pop("pelvis_mean_xy_m"), rtol=0, atol=1e-9
    )
    assert rebuilt == stored


def test_unknown_subject_and_action_are_named(committed):
    with pytest.raises(DataError, match="unknown subject 'S1'"):
        committed.clip("S1", "walk 16_15")
    with pytest.raises(DataError, match="unknown action 'fly 16_15'"):
        committed.clip("cmu16", "fly 16_15")


def test_truncated_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "cmu_mocap_3d.npz"
    bad.write_bytes(paths.DEFAULT_DATA_FILES[0].read_bytes()[:5000])
    with pytest.raises(DataError, match="truncated or foreign") as e:
        mocap_files.load(bad)
    assert str(bad) in str(e.value)


def _meta(**changes):
    meta = dict(mocap_files.load(paths.DEFAULT_DATA_FILES[1]).meta)
    meta.pop("sources"), meta.pop("acknowledgement")
    meta["credit"] = "x"
    meta.update(changes)
    return np.array(json.dumps(meta))


def test_missing_meta_bad_shapes_and_dtypes_are_clear_errors(tmp_path):
    q = np.zeros((4, 17, 3), np.int16)
    path = save_npz(tmp_path / "x.npz", **{"positions_3d/cmu01/walk 1": q})
    with pytest.raises(DataError, match="missing key 'meta'"):
        mocap_files.load(path)
    path = save_npz(tmp_path / "m.npz", meta=np.array(json.dumps({"fps": 50})))
    with pytest.raises(DataError, match=r"'meta' lacks \["):
        mocap_files.load(path)
    meta = _meta()
    path = save_npz(
        tmp_path / "y.npz", meta=meta, **{"positions_3d/cmu01/walk 1": np.zeros((4, 16, 3), "i2")}
    )
    with pytest.raises(DataError, match=r"expected shape \(T, 17, 3\), got \(4, 16, 3\)"):
        mocap_files.load(path)
    path = save_npz(
        tmp_path / "z.npz", meta=meta, **{"positions_3d/cmu01/walk 1": np.zeros((4, 17, 3))}
    )
    with pytest.raises(DataError, match="expected int16, got float64"):
        mocap_files.load(path)
    arrays = {
        "positions_3d/hdm_mm/walk 1": q,
        "face_3d/hdm_mm/walk 1": np.zeros((4, 5, 3), np.int16),
        "labels/hdm_mm/walk 1": np.full(4, 9, np.uint8),
    }
    path = save_npz(tmp_path / "l.npz", meta=meta, **arrays)
    with pytest.raises(DataError, match="label 9 beyond the 8 actions"):
        mocap_files.load(path)
    path = save_npz(tmp_path / "q.npz", meta=_meta(quantum_m=-1), **arrays)
    with pytest.raises(DataError, match="quantum_m"):
        mocap_files.load(path)


def test_files_loaded_together_must_agree_and_not_share_subjects(tmp_path):
    cmu, hdm = paths.DEFAULT_DATA_FILES
    with pytest.raises(DataError, match="subject 'hdm_bd' is also in another file"):
        mocap_files.load([hdm, hdm])
    arrays = dict(mocap_files.npz.load(hdm))
    arrays["meta"] = _meta(fps=25.0)
    other = save_npz(tmp_path / "other.npz", **arrays)
    with pytest.raises(DataError, match=r"metadata \['fps'\] differs") as e:
        mocap_files.load([cmu, other])
    assert str(other) in str(e.value)


def test_quantize_refuses_what_int16_cannot_hold():
    with pytest.raises(DataError, match="17.0 m from the origin"):
        mocap_import.quantize(np.array([[0.0, 17.0, 1.0]]), "cmu99/walk 1")


def test_missing_source_folder_is_a_clear_error(tmp_path):
    (tmp_path / "mocap").mkdir()
    (tmp_path / "mocap" / "MANIFEST.csv").write_text("file\n")
    with pytest.raises(DataError, match="mocap-extended/MANIFEST.csv: not found"):
        mocap_import.build(shared_data=tmp_path, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


@needs_shared
def test_a_changed_clip_fails_its_checksum(tmp_path):
    import shutil

    src = paths.shared_data_dir()
    for folder in ("mocap", "mocap-extended", "hdm05-cuts"):
        (tmp_path / folder).mkdir()
        shutil.copy(src / folder / "MANIFEST.csv", tmp_path / folder)
    rows = (tmp_path / "hdm05-cuts" / "MANIFEST.csv").read_text().splitlines()
    first = rows[1].split(",")[0]  # an ASF file: checksums of ASF/AMC rows are verified too
    (tmp_path / "hdm05-cuts" / first).parent.mkdir(parents=True)
    (tmp_path / "hdm05-cuts" / first).write_text("# not the original\n")
    with pytest.raises(DataError, match="differs from the manifest's"):
        mocap_import.read_manifest(tmp_path / "hdm05-cuts", "hdm05")


def test_make_data_without_shared_is_one_line(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DILPOSE_SHARED": str(tmp_path / "absent")}
    r = subprocess.run(
        [sys.executable, "-m", "dilpose.datasets.mocap_import"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == (
        "make data: ../shared/data: raw motion capture not found; "
        "the committed files in data/ are used instead"
    )
