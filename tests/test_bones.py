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
