"""One length per bone per clip (dilpose.bones): exact on a rigid skeleton, directions kept."""

import numpy as np
import pytest

from dilpose import bones, datasets
from dilpose import skeleton as sk


@pytest.fixture(scope="module")
def clip():
    data = datasets.load("mocap", seed=0, subjects=("cmu09",))
    seq = datasets.sequences(data, ["cmu09"], cameras=(0,))[0]
    return seq.positions_3d[:200].astype(np.float64)  # (T, 17, 3) real motion capture, metres


def test_a_rigid_skeleton_is_left_as_it_is(clip):
    # motion capture bones keep their length (to the stored half-millimetre): fitting them to
    # their median lengths moves no joint by more than a few tenths of a millimetre per bone
    assert bones.bone_length_sd(clip).max() < 0.5e-3
    np.testing.assert_allclose(bones.fit_bone_lengths(clip), clip, atol=3e-3)


def test_wobbling_bones_get_one_length_each_and_keep_their_directions(clip):
    rng = np.random.default_rng(0)
    noisy = clip + rng.normal(0, 0.015, clip.shape)  # 15 mm per joint, as a lifter's jitter
    noisy[:, 0] = clip[:, 0]
    fitted = bones.fit_bone_lengths(noisy)
    assert bones.bone_length_sd(noisy).max() > 0.005
    assert bones.bone_length_sd(fitted).max() < 1e-9  # one length per bone
    np.testing.assert_allclose(fitted[:, 0], noisy[:, 0])  # the root stays
    np.testing.assert_allclose(
        bones.bone_lengths(fitted)[0], np.median(bones.bone_lengths(noisy), 0), atol=1e-12
    )
    for p, c in sk.H36M17.bones():  # every bone points where the prediction pointed it
        a, b = noisy[:, c] - noisy[:, p], fitted[:, c] - fitted[:, p]
        cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        assert cos.min() > 1 - 1e-9


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\(T, 17, 3\)"):
        bones.fit_bone_lengths(np.zeros((5, 16, 3)))


def test_lift_steady_bones_gives_one_length_per_bone(tmp_path):
    from dilpose import lift, paths
    from dilpose.errors import ConfigError

    example = paths.DATA_DIR / "examples" / "cmu09_walk_09_12_camera0.json"
    plain = lift.lift_file(example, output=tmp_path / "plain", width=1000, height=1002)
    steady = lift.lift_file(
        example, output=tmp_path / "steady", width=1000, height=1002, steady_bones=True
    )
    a, b = np.load(plain["npy"]), np.load(steady["npy"])
    assert np.median(bones.bone_length_sd(a)) > 0.002  # the lifter's bones wobble
    assert bones.bone_length_sd(b).max() < 1e-5  # float32 rounding only
    with pytest.raises(ConfigError, match="--steady-bones"):
        lift.lift_file(example, output=tmp_path / "x", width=1000, height=1002, stream=True,
                       steady_bones=True)  # fmt: skip
    assert not (tmp_path / "x.npy").exists()


def test_an_upper_quantile_restores_bones_a_lifter_shrank_in_its_unsure_frames(clip):
    # a lifter unsure of a limb averages the directions it finds likely, so that frame's bone comes
    # out short; frames where it is sure keep the bone's length. Shrink each bone of each frame by
    # 0-20 %, more often a little than a lot, as a stand-in.
    rng = np.random.default_rng(1)
    layout_bones = sk.H36M17.bones()
    shrink = 1 - 0.2 * rng.beta(1, 3, (len(clip), len(layout_bones)))
    lengths = bones.bone_lengths(clip) * shrink
    shrunk = np.concatenate(
        [bones.fit_bone_lengths(clip[k : k + 1], lengths=lengths[k]) for k in range(len(clip))]
    )
    true = np.median(bones.bone_lengths(clip), 0)
    median = bones.bone_lengths(bones.fit_bone_lengths(shrunk))[0]
    full = bones.bone_lengths(bones.fit_bone_lengths(shrunk, quantile=0.9))[0]
    assert np.all(median < true) and np.abs(full - true).mean() < 0.5 * np.abs(median - true).mean()
    assert bones.scale_error(bones.fit_bone_lengths(shrunk, quantile=0.9), clip) > -0.03
    with pytest.raises(ValueError, match="quantile"):
        bones.fit_bone_lengths(clip, quantile=1.5)


def test_the_full_size_quantile_is_the_one_the_bones_bench_chose():
    """``FULL_SIZE_QUANTILE`` is the quantile ``python -m dilpose.bones`` chose on the non-shop
    camera families (``reports/bench/bones.json``), not a number set by hand."""
    import json

    from dilpose import paths

    report = json.loads((paths.REPO_ROOT / "reports" / "bench" / "bones.json").read_text())
    assert report["full_size"]["chosen"] == bones.FULL_SIZE_QUANTILE
    assert report["full_size"]["model"] == "lifter-243.pt"
    assert "shop" not in bones.CHOICE_FAMILIES


def test_lift_full_size_bones_gives_longer_bones_than_steady_bones(tmp_path):
    from dilpose import lift, paths
    from dilpose.errors import ConfigError

    example = paths.DATA_DIR / "examples" / "cmu09_walk_09_12_camera0.json"
    steady = lift.lift_file(example, output=tmp_path / "steady", steady_bones=True)
    full = lift.lift_file(example, output=tmp_path / "full", full_size_bones=True)
    a, b = np.load(steady["npy"]), np.load(full["npy"])
    assert bones.bone_length_sd(b).max() < 1e-5
    assert np.all(bones.bone_lengths(b)[0] >= bones.bone_lengths(a)[0] - 1e-6)
    with pytest.raises(ConfigError, match="at most one"):
        lift.lift_file(example, output=tmp_path / "x", steady_bones=True, full_size_bones=True)
    assert not (tmp_path / "x.npy").exists()
