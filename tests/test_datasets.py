"""Datasets by name: the registry, a dataset added in one place, and HumanEva-I read from the files
VideoPose3D's ``prepare_data_humaneva.py`` writes."""

import numpy as np
import pytest

from dilpose import cli, config, datasets
from dilpose import skeleton as sk
from dilpose.camera import Camera
from dilpose.errors import ConfigError, DataError
from dilpose.noise import NoiseConfig


# --------------------------------------------------------------------------------------------------
# A dataset defined in the test: one spec, one register() call
# --------------------------------------------------------------------------------------------------
def _tiny_load(seed=0, noise=None, frames=12):
    """Two subjects walking in front of one camera; the 2D are the exact projections."""
    rng = np.random.default_rng(seed)
    cam = Camera("c0", 1000, 1000, focal_length=(1100.0, 1100.0), center=(500.0, 500.0))
    positions, keypoints, scores = {}, {}, {}
    for subject in ("t1", "t2"):
        # 4 m in front of the camera
        pos = rng.normal(scale=0.2, size=(frames, 17, 3)) + [0.0, 0.0, 4.0]
        positions[subject] = {"stroll 1": pos}
        keypoints[subject] = {"stroll 1": [cam.project(pos)]}
        scores[subject] = {"stroll 1": [np.ones((frames, 17))]}
    return datasets.PoseData(
        "tiny",
        sk.H36M17,
        positions,
        keypoints,
        scores,
        {"t1": [cam], "t2": [cam]},
        ("t1",),
        ("t2",),
        fps=25.0,
    )


TINY = datasets.DatasetSpec(
    name="tiny",
    title="two synthetic subjects",
    source="made in tests/test_datasets.py",
    train_subjects=("t1",),
    test_subjects=("t2",),
    cameras=1,
    fps=25.0,
    layout_2d=sk.H36M17,
    layout_3d=sk.H36M17,
    credit="none needed",
    load=_tiny_load,
    available=lambda **options: True,
    options=("frames",),
    action_of=lambda action: action.split(" ")[0].upper(),
)


@pytest.fixture
def tiny():
    datasets.register(TINY)
    yield TINY
    datasets.unregister("tiny")


def test_a_registered_dataset_loads_by_name_everywhere(tiny):
    assert "tiny" in datasets.names()
    cfg = config.for_profile("smoke", dataset="tiny")
    data = datasets.load(
        cfg.dataset, seed=cfg.seed, noise=cfg.noise, source_2d=cfg.h36m_2d_source, frames=9
    )
    assert data.name == "tiny" and data.train_subjects == ("t1",) and data.test_subjects == ("t2",)
    train = datasets.sequences(data, data.train_subjects)
    assert (
        len(train) == 1
        and train[0].keypoints_2d.shape == (9, 17, 2)
        and train[0].positions_3d.shape == (9, 17, 3)
    )
    assert train[0].category == "STROLL"  # the dataset's own action rule
    assert (
        cli.build_parser()
        .parse_args(["evaluate", "--dataset", "tiny", "--checkpoint", "m.pt"])
        .dataset
        == "tiny"
    )


def test_a_name_is_registered_once_and_leaves_with_unregister(tiny):
    with pytest.raises(DataError, match="'tiny' is already registered"):
        datasets.register(TINY)
    datasets.unregister("tiny")
    assert "tiny" not in datasets.names()
    datasets.register(TINY)  # for the fixture's teardown


def test_unknown_names_and_options_are_clear_errors():
    with pytest.raises(
        DataError, match=r"unknown dataset 'h37m'; known datasets: mocap, h36m, humaneva"
    ):
        datasets.get("h37m")
    with pytest.raises(DataError, match="unknown dataset 'mnist'"):
        datasets.load("mnist")
    with pytest.raises(
        ConfigError,
        match=r"unknown dataset 'mnist'; choose one of \('mocap', 'h36m', 'humaneva', 'shop'\)",
    ):
        config.for_profile("smoke", dataset="mnist")
    with pytest.raises(
        DataError,
        match=r"unknown option\(s\) \['colour'\]; this dataset takes \['path', 'subjects'\]",
    ):
        datasets.load("mocap", colour="blue")


def test_the_old_names_of_the_embedded_data_still_work():
    assert datasets.DEFAULT == "mocap"
    assert datasets.get("cmu-default") is datasets.get("cmu") is datasets.get("mocap")
    assert config.for_profile("smoke", dataset="cmu-default").dataset == "mocap"
    assert config.for_profile("smoke", dataset="cmu").dataset == "mocap"
    assert config.for_profile("smoke").dataset == "mocap"
    assert (
        cli.build_parser()
        .parse_args(["train", "--dataset", "cmu-default", "--checkpoint", "m.pt"])
        .dataset
        == "cmu-default"
    )
    data = datasets.load("cmu-default", noise=None, subjects=("cmu09",))
    assert data.name == "mocap" and data.subjects == ["cmu09"] and data.test_subjects == ("cmu09",)


def test_every_built_in_spec_states_its_facts():
    for name in datasets.names():
        spec = datasets.get(name)
        assert spec.title and spec.source and spec.credit and spec.cameras >= 1 and spec.fps > 0
        assert (
            spec.train_subjects
            and spec.test_subjects
            and not set(spec.train_subjects) & set(spec.test_subjects)
        )
    assert datasets.get("humaneva").fps == 60.0 and not datasets.get("humaneva").calibrated
    assert datasets.get("h36m").table_i and not datasets.get("mocap").table_i
    assert datasets.get("mocap").available()
    cfg = config.for_profile("smoke", h36m_2d_source="gt")
    assert (
        datasets.get("h36m").options_from(cfg) == {"source_2d": "gt"}
        and datasets.get("mocap").options_from(cfg) == {}
    )


def test_importing_the_registry_reads_no_file():
    import subprocess
    import sys

    code = (
        "import builtins, sys; opened = []; real = builtins.open\n"
        "builtins.open = lambda f, *a, **k: (opened.append(str(f)), real(f, *a, **k))[1]\n"
        "import dilpose.datasets\n"
        "print([f for f in opened if f.endswith(('.npz', '.json'))]);"
        "print(sorted(m for m in sys.modules if m.startswith(('torch', 'matplotlib', 'plotly'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["[]", "[]"]


# --------------------------------------------------------------------------------------------------
# HumanEva-I, written as VideoPose3D's prepare_data_humaneva.py writes it
# --------------------------------------------------------------------------------------------------
def _write_humaneva(folder, source="gt"):
    """``np.savez_compressed`` of plain dicts, as the upstream script does: 3D float32 metres
    (T, 15, 3), 2D a list of 3 camera arrays (T, 15, 2) float32, metadata from its
    ``suggest_metadata('humaneva15')``."""
    rng = np.random.default_rng(0)
    positions_3d, positions_2d = {}, {}
    clips = {"Walking 1 chunk0": 20, "Jog 1 chunk0": 14, "Box 1 chunk2": 10, "Gestures 1 chunk0": 8}
    for subject in ("Train/S1", "Train/S2", "Validate/S1"):
        positions_3d[subject], positions_2d[subject] = {}, {}
        for action, frames in clips.items():
            positions_3d[subject][action] = (
                rng.normal(scale=0.3, size=(frames, 15, 3)) + [0, 0, 1]
            ).astype("float32")
            poses_2d = (rng.uniform(0, 480, size=(3, frames, 15, 2))).astype("float32")
            positions_2d[subject][action] = list(poses_2d)
    positions_2d["Unlabeled/Train/S2"] = {
        "Walking 1": list(rng.uniform(0, 480, size=(3, 5, 15, 2)).astype("float32"))
    }
    metadata = {
        "layout_name": "humaneva15",
        "num_joints": 15,
        "keypoints_symmetry": [[2, 3, 4, 8, 9, 10], [5, 6, 7, 11, 12, 13]],
    }
    np.savez_compressed(folder / "data_3d_humaneva15.npz", positions_3d=positions_3d)
    np.savez_compressed(
        folder / f"data_2d_humaneva15_{source}.npz", positions_2d=positions_2d, metadata=metadata
    )
    return positions_3d, positions_2d


def test_humaneva_reads_videopose3d_files_and_yields_sequences(tmp_path, monkeypatch):
    positions_3d, positions_2d = _write_humaneva(tmp_path)
    monkeypatch.setenv("DILPOSE_DATA_DIR", str(tmp_path))
    assert datasets.get("humaneva").available()
    # Human3.6M's 2D setting is not HumanEva's
    data = datasets.load("humaneva", source_2d="cpn_ft_h36m_dbb")
    assert data.name == "humaneva" and data.fps == 60.0
    assert data.layout_2d is sk.HUMANEVA15 and data.layout_3d is sk.HUMANEVA15
    assert data.train_subjects == ("Train/S1", "Train/S2") and data.test_subjects == (
        "Validate/S1",
    )
    # VideoPose3D's protocol: Walk, Jog and Box; Gestures is left out, Unlabeled/ has no 3D.
    assert data.actions("Validate/S1") == ["Box 1 chunk2", "Jog 1 chunk0", "Walking 1 chunk0"]
    seqs = datasets.sequences(data, data.test_subjects)
    assert len(seqs) == 3 * 3 and {s.category for s in seqs} == {"Walk", "Jog", "Box"}
    walk = next(s for s in seqs if s.action == "Walking 1 chunk0" and s.camera == 2)
    assert walk.keypoints_2d.shape == (20, 15, 2) and walk.positions_3d.shape == (20, 15, 3)
    # world, as filed
    np.testing.assert_allclose(walk.positions_3d, positions_3d["Validate/S1"]["Walking 1 chunk0"])
    np.testing.assert_allclose(
        walk.keypoints_2d,
        positions_2d["Validate/S1"]["Walking 1 chunk0"][2] / 640 * 2 - [1, 480 / 640],
        atol=1e-6,
    )
    assert not walk.intrinsics.any()  # no calibration in the files: intrinsics unknown
    views = datasets.example_views(data, "Train/S1", "Jog 1 chunk0")
    assert len(views.cameras) == 3 and views.clean_layout is sk.HUMANEVA15
    everything = datasets.load("humaneva", actions=None)
    assert "Gestures 1 chunk0" in everything.actions("Train/S1")


def test_humaneva_missing_files_and_clips_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("DILPOSE_DATA_DIR", str(tmp_path))
    assert not datasets.get("humaneva").available()
    with pytest.raises(
        DataError, match=r"'humaneva' needs data_3d_humaneva15.npz and data_2d_humaneva15_gt.npz"
    ):
        datasets.load("humaneva")
    _write_humaneva(tmp_path, source="detectron_pt_coco")
    with pytest.raises(DataError, match="needs data_2d_humaneva15_gt.npz"):
        datasets.load("humaneva")
    positions_3d, positions_2d = _write_humaneva(tmp_path)
    positions_2d["Train/S2"]["Jog 1 chunk0"] = positions_2d["Train/S2"]["Jog 1 chunk0"][:2]
    np.savez_compressed(
        tmp_path / "data_2d_humaneva15_gt.npz",
        positions_2d=positions_2d,
        metadata={
            "layout_name": "humaneva15",
            "num_joints": 15,
            "keypoints_symmetry": [[2, 3, 4, 8, 9, 10], [5, 6, 7, 11, 12, 13]],
        },
    )
    with pytest.raises(DataError, match=r"Train/S2/Jog 1 chunk0: expected 3 cameras, got 2"):
        datasets.load("humaneva")


def test_humaneva_action_names_map_to_the_protocol_actions():
    action_of = datasets.get("humaneva").action_of
    assert [
        action_of(a)
        for a in ("Walking 1 chunk0", "Jog 1 chunk3", "Box 1 chunk0", "ThrowCatch 1 chunk0")
    ] == ["Walk", "Jog", "Box", "ThrowCatch"]


def test_noise_settings_reach_the_embedded_data_only():
    clean = datasets.load("mocap", noise=None, subjects=("cmu10",))
    noisy = datasets.load("mocap", noise=NoiseConfig(), subjects=("cmu10",))
    assert "noise_stats" in noisy.info and "noise_stats" not in clean.info
