"""Tests for dilpose.bvh: parsing, errors, forward kinematics, resampling and the CMU mapping.

Small BVH files are written in each test; tests on the real CMU clips skip when the shared data
folder is absent.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from dilpose import bvh, kinematics, paths
from dilpose.errors import DataError
from dilpose.skeleton import COCO17, H36M17

# The shared data folder beside the clone (../shared), as dilpose.paths finds it.
SHARED_DATA = paths.shared_data_dir() or Path("/nonexistent")
MOCAP = SHARED_DATA / "mocap"
HDM05 = SHARED_DATA / "hdm05-cuts"
needs_mocap = pytest.mark.skipif(
    not (MOCAP / "bvh" / "16_15.bvh").is_file(),
    reason="../shared/data/mocap is not beside the clone",
)
needs_hdm05 = pytest.mark.skipif(
    not (HDM05 / "bvh").is_dir(), reason="../shared/data/hdm05-cuts is not beside the clone"
)

# A two-bone chain: 6-channel root, a ZYX knee, an end site. 10 units per bone, pointing down.
CHAIN = """HIERARCHY
ROOT Hips
{
	OFFSET 0.0 0.0 0.0
	CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
	JOINT Knee
	{
		OFFSET 0.0 -10.0 0.0
		CHANNELS 3 Zrotation Yrotation Xrotation
		End Site
		{
			OFFSET 0.0 -10.0 0.0
		}
	}
}
MOTION
Frames: 2
Frame Time: 0.0083333
0 0 0 0 0 0 0 0 0
1 2 3 90 0 0 0 0 90
"""

# Non-ZYX order, a 3-channel root without positions, and position channels on a non-root joint.
ODD = """HIERARCHY
ROOT Base
{
	OFFSET 1.0 2.0 3.0
	CHANNELS 3 Xrotation Zrotation Yrotation
	JOINT Slider
	{
		OFFSET 1.0 0.0 0.0
		CHANNELS 4 Xposition Yposition Zposition Yrotation
		End Site
		{
			OFFSET 0.0 0.0 1.0
		}
	}
}
MOTION
Frames: 1
Frame Time: 0.02
90 90 0 0.5 0 0 0
"""


def write(tmp_path: Path, text: str, name: str = "clip.bvh") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_parse_chain_hierarchy_and_motion(tmp_path):
    m = bvh.parse_bvh(write(tmp_path, CHAIN))
    assert m.joint_names == ["Hips", "Knee", "Knee_end"]
    assert m.parents.tolist() == [-1, 0, 1]
    np.testing.assert_array_equal(m.offsets, [[0, 0, 0], [0, -10, 0], [0, -10, 0]])
    assert m.channels == [
        ("Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation"),
        ("Zrotation", "Yrotation", "Xrotation"),
        (),
    ]
    assert m.motion.shape == (2, 9) and m.motion.dtype == np.float64
    np.testing.assert_array_equal(m.motion[1], [1, 2, 3, 90, 0, 0, 0, 0, 90])
    assert m.frame_time == pytest.approx(0.0083333)
    assert m.fps == 120.0  # 1/0.0083333 = 120.0005 snaps to the intended 120 Hz
    assert m.source == str(tmp_path / "clip.bvh")


def test_parse_non_zyx_order_and_position_channels_on_child(tmp_path):
    m = bvh.parse_bvh(write(tmp_path, ODD))
    assert m.channels[0] == ("Xrotation", "Zrotation", "Yrotation")
    assert m.channels[1] == ("Xposition", "Yposition", "Zposition", "Yrotation")
    assert m.motion.shape == (1, 7)
    assert m.fps == pytest.approx(50.0)


def test_parse_braces_on_the_joint_line(tmp_path):
    text = CHAIN.replace("ROOT Hips\n{", "ROOT Hips {").replace("JOINT Knee\n\t{", "JOINT Knee {")
    m = bvh.parse_bvh(write(tmp_path, text))
    assert m.joint_names == ["Hips", "Knee", "Knee_end"]


def test_fk_two_bone_chain_hand_computed(tmp_path):
    m = bvh.parse_bvh(write(tmp_path, CHAIN))
    pos, rot = kinematics.forward_kinematics(m, unit_to_m=1.0)
    assert pos.shape == (2, 3, 3) and rot.shape == (2, 3, 3, 3)
    # Rest frame: straight down.
    np.testing.assert_allclose(pos[0], [[0, 0, 0], [0, -10, 0], [0, -20, 0]], atol=1e-12)
    # Frame 2: root at (1,2,3) turned 90 deg about Z, so the thigh (0,-10,0) points along +X;
    # the knee's local Rx(90) turns the shin (0,-10,0) to (0,0,-10), which Rz(90) leaves alone.
    np.testing.assert_allclose(pos[1], [[1, 2, 3], [11, 2, 3], [11, 2, -7]], atol=1e-12)
    rz = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
    np.testing.assert_allclose(rot[1, 0], rz, atol=1e-12)
    np.testing.assert_allclose(rot[1, 1], rz @ rx, atol=1e-12)
    np.testing.assert_allclose(rot[1, 2], rot[1, 1])  # an end site inherits its parent's rotation


def test_fk_respects_channel_order_and_child_translation(tmp_path):
    m = bvh.parse_bvh(write(tmp_path, ODD))
    pos, rot = kinematics.forward_kinematics(m, unit_to_m=1.0)
    # Root R = Rx(90) @ Rz(90) (channel order), not Rz @ Rx: it sends +X to +Z
    # (Rz @ Rx sends it to +Y).
    np.testing.assert_allclose(rot[0, 0], [[0, -1, 0], [0, 0, -1], [1, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(pos[0, 0], [1, 2, 3])
    # Slider: offset (1,0,0) plus its Xposition 0.5 -> (1.5,0,0) in the root frame -> (0,0,1.5).
    np.testing.assert_allclose(pos[0, 1], [1, 2, 4.5], atol=1e-12)
    # End site: (0,0,1) through the root rotation (Slider's Yrotation is 0) -> (0,-1,0).
    np.testing.assert_allclose(pos[0, 2], [1, 1, 4.5], atol=1e-12)


def test_fk_units_to_metres(tmp_path):
    m = bvh.parse_bvh(write(tmp_path, CHAIN))
    pos_m, _ = kinematics.forward_kinematics(m)  # CMU default
    pos_u, _ = kinematics.forward_kinematics(m, unit_to_m=1.0)
    np.testing.assert_allclose(pos_m, pos_u * 0.056444)
    assert np.linalg.norm(pos_m[0, 2] - pos_m[0, 0]) == pytest.approx(20 * 0.056444)


def test_fk_rotations_are_orthonormal(tmp_path):
    text = CHAIN.replace("1 2 3 90 0 0 0 0 90", "1 2 3 31 -47 112 -13 77 5")
    pos, rot = kinematics.forward_kinematics(bvh.parse_bvh(write(tmp_path, text)))
    np.testing.assert_allclose(
        rot @ np.swapaxes(rot, -1, -2), np.broadcast_to(np.eye(3), rot.shape), atol=1e-12
    )
    np.testing.assert_allclose(np.linalg.det(rot), 1.0)
    # Rotations never change bone length.
    np.testing.assert_allclose(np.linalg.norm(pos[:, 1] - pos[:, 0], axis=-1), 10 * 0.056444)


# ----------------------------------------------------------------------------------------- resample


def test_resample_linear_ramp_is_exact():
    F = 121  # exactly 1 s at 120 Hz
    t = np.arange(F) / 120.0
    x = np.stack([3.0 * t - 1.0, -2.0 * t], axis=-1)[:, None, :]  # (F, 1, 2)
    y = kinematics.resample(x, 120.0, 50.0)
    assert y.shape == (51, 1, 2)  # t = 0, 0.02, ..., 1.0
    tk = np.arange(51) / 50.0
    np.testing.assert_allclose(y[:, 0, 0], 3.0 * tk - 1.0, atol=1e-12)
    np.testing.assert_allclose(y[:, 0, 1], -2.0 * tk, atol=1e-12)


@pytest.mark.parametrize("F, expected", [(1, 1), (2, 1), (3, 1), (4, 2), (471, 196), (480, 200)])
def test_resample_frame_count(F, expected):
    # t_k = k/50 <= (F-1)/120  ->  floor((F-1) * 50 / 120) + 1 frames.
    assert kinematics.resample(np.zeros((F, 3)), 120, 50).shape == (expected, 3)


def test_resample_keeps_sine_amplitude():
    t = np.arange(1200) / 120.0
    x = np.sin(2 * np.pi * 1.0 * t)  # 1 Hz, like a gait cycle
    y = kinematics.resample(x, 120.0, 50.0)
    tk = np.arange(len(y)) / 50.0
    np.testing.assert_allclose(y, np.sin(2 * np.pi * tk), atol=2e-3)
    # Least-squares amplitude against the exact 50 Hz sine (the raw max depends on where samples
    # fall).
    ref = np.sin(2 * np.pi * tk)
    assert np.sum(y * ref) / np.sum(ref * ref) == pytest.approx(1.0, abs=2e-3)


def test_resample_upsampling_and_identity():
    x = np.arange(10.0)
    np.testing.assert_allclose(kinematics.resample(x, 50, 50), x)
    np.testing.assert_allclose(kinematics.resample(x, 10, 20), np.arange(19) / 2.0)


def test_resample_rejects_bad_input():
    with pytest.raises(DataError, match="empty"):
        kinematics.resample(np.zeros((0, 3)), 120, 50)
    with pytest.raises(DataError, match="positive"):
        kinematics.resample(np.zeros((5, 3)), 120, 0)


# ------------------------------------------------------------------------------------------- errors

ERROR_CASES = {
    "empty": ("", "empty file"),
    "blank": ("\n  \n", "empty file"),
    "not_bvh": ("hello world\n", "HIERARCHY"),
    "bad_channel_name": (
        CHAIN.replace(
            "CHANNELS 3 Zrotation Yrotation Xrotation", "CHANNELS 3 Zrotation Yrotation Wrotation"
        ),
        "bad channel line 9",
    ),
    "channel_count": (
        CHAIN.replace("CHANNELS 3 Zrotation", "CHANNELS 4 Zrotation"),
        "bad channel line 9",
    ),
    "channel_count_short": (
        CHAIN.replace("CHANNELS 3 Zrotation Yrotation Xrotation", "CHANNELS 3 Zrotation"),
        "bad channel line 9",
    ),
    "missing_close": (CHAIN.replace("\t}\n}\nMOTION", "\t}\nMOTION"), "unbalanced braces"),
    "extra_close": (CHAIN.replace("}\nMOTION", "}\n}\nMOTION"), "unbalanced braces"),
    "no_motion": (CHAIN.split("MOTION")[0], "missing MOTION"),
    "row_too_long": (CHAIN.replace("0 0 0 0 0 0 0 0 0\n", "0 0 0 0 0 0 0 0 0 0\n"), "line 19"),
    "row_too_short_mid": (
        CHAIN.replace("0 0 0 0 0 0 0 0 0\n", "0 0 0 0 0 0 0 0\n"),
        "wrong number of values",
    ),
    "truncated_rows": (CHAIN.replace("Frames: 2", "Frames: 5"), "truncated"),
    "truncated_mid_row": (CHAIN.replace("0 0 90\n", "0\n"), "truncated"),
    "non_numeric": (CHAIN.replace("1 2 3 90", "1 2 abc 90"), "non-numeric value 'abc'"),
    "nan": (CHAIN.replace("1 2 3 90", "1 2 nan 90"), "NaN value in frame row at line 20, column 3"),
    "bad_frames": (CHAIN.replace("Frames: 2", "Frames: two"), "Frames"),
    "bad_frame_time": (CHAIN.replace("Frame Time: 0.0083333", "Frame Time: 0"), "Frame Time"),
    "zero_frames": (
        CHAIN.split("Frames:")[0] + "Frames: 0\nFrame Time: 0.0083333\n",
        "MOTION has 0 frames",
    ),
    "zero_frames_with_rows": (
        CHAIN.replace("Frames: 2", "Frames: 0"),
        "'Frames: 0' (line 17) but 2 frame rows",
    ),
    # 1/1e-320 overflows to inf, so the file's frame rate would be infinite (fps used to raise
    # OverflowError).
    "denormal_frame_time": (
        CHAIN.replace("Frame Time: 0.0083333", "Frame Time: 1e-320"),
        "Frame Time",
    ),
    # Python's int() refuses more than 4300 digits (ValueError); "²".isdigit() is True but int("²")
    # fails.
    "huge_frames_count": (CHAIN.replace("Frames: 2", "Frames: " + "9" * 5000), "implausibly large"),
    "superscript_frames_count": (
        CHAIN.replace("Frames: 2", "Frames: \u00b2"),
        "expected 'Frames: <count>'",
    ),
    "huge_channel_count": (
        CHAIN.replace("CHANNELS 3 Zrotation", "CHANNELS " + "9" * 5000 + " Zrotation"),
        "bad channel line 9",
    ),
    "superscript_channel_count": (
        CHAIN.replace("CHANNELS 3 Zrotation", "CHANNELS \u00b3 Zrotation"),
        "bad channel line 9",
    ),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_parse_errors_name_file_and_problem(tmp_path, case):
    text, problem = ERROR_CASES[case]
    path = write(tmp_path, text, f"{case}.bvh")
    with pytest.raises(DataError) as info:
        bvh.parse_bvh(path)
    message = str(info.value)
    assert str(path) in message
    assert problem in message, message


def test_missing_path_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "nope.bvh"
    with pytest.raises(DataError) as info:
        bvh.parse_bvh(path)
    assert str(info.value).startswith(f"{path}: file not found")


def test_directory_is_a_data_error_naming_it(tmp_path):
    with pytest.raises(DataError) as info:
        bvh.parse_bvh(tmp_path)
    assert str(info.value).startswith(f"{tmp_path}: is a directory")


@pytest.mark.parametrize(
    "make, why",
    [
        # a file used as a folder (ENOTDIR)
        (lambda d: write(d, CHAIN) / "inner.bvh", "Not a directory"),
        (lambda d: d / ("x" * 300 + ".bvh"), "File name too long"),  # ENAMETOOLONG
    ],
)
def test_other_read_errors_are_data_errors_naming_the_path(tmp_path, make, why):
    path = make(tmp_path)
    with pytest.raises(DataError) as info:
        bvh.parse_bvh(path)
    assert str(info.value) == f"{path}: cannot read the BVH file: {why}"


def cmu_like_bvh(n_frames: int) -> str:
    """A BVH chain holding every joint load_cmu_clip needs (CMU_TO_H36M names plus Head), n_frames
    rows."""
    names = [n for n in kinematics.CMU_TO_H36M if n != "Head_end"] + ["Head"]
    lines = ["HIERARCHY"]
    for depth, name in enumerate(names):
        tab = "\t" * depth
        lines += [
            f"{tab}{'ROOT' if depth == 0 else 'JOINT'} {name}",
            f"{tab}{{",
            f"{tab}\tOFFSET 0 1 0",
            f"{tab}\tCHANNELS "
            + ("6 Xposition Yposition Zposition " if depth == 0 else "3 ")
            + "Zrotation Yrotation Xrotation",
        ]
    tab = "\t" * len(names)
    lines += [f"{tab}End Site", f"{tab}{{", f"{tab}\tOFFSET 0 1 0", f"{tab}}}"]
    lines += ["\t" * d + "}" for d in reversed(range(len(names)))]
    n_channels = 6 + 3 * (len(names) - 1)
    lines += ["MOTION", f"Frames: {n_frames}", "Frame Time: 0.0083333"]
    lines += [" ".join(["0"] * n_channels)] * n_frames
    return "\n".join(lines) + "\n"


def test_load_cmu_clip_on_a_small_cmu_like_file(tmp_path):
    clip = kinematics.load_cmu_clip(write(tmp_path, cmu_like_bvh(13)))
    assert clip["h36m"].shape == (6, 17, 3) and clip["face"].shape == (6, 5, 3)  # 12/120 s at 50 Hz


def test_zero_frames_error_names_the_file_not_in_memory_data(tmp_path):
    # Used to parse, then fail in resample() with source "<in-memory data>".
    text = cmu_like_bvh(0)
    path = write(tmp_path, text)
    with pytest.raises(DataError) as info:
        kinematics.load_cmu_clip(path)
    assert info.value.source == str(path)
    line = text.splitlines().index("Frames: 0") + 1
    assert str(info.value) == f"{path}: MOTION has 0 frames ('Frames: 0' at line {line})"


def test_absurd_frame_time_is_refused_before_resampling_allocates(tmp_path):
    # 'Frame Time: 1000000' (one frame every 11.6 days) parses; resampling 3 such frames to 50 Hz
    # would make 1e8 frames (40 GB for 17 joints), so resample refuses with the file named.
    path = write(tmp_path, cmu_like_bvh(3).replace("Frame Time: 0.0083333", "Frame Time: 1000000"))
    with pytest.raises(
        DataError, match=r"3 frames at 1e-06 Hz -> 50 Hz would give 100000001 "
    ) as info:
        kinematics.load_cmu_clip(path)
    assert info.value.source == str(path)


def test_zero_frame_motion_built_by_hand_names_its_source(tmp_path):
    m = bvh.parse_bvh(write(tmp_path, CHAIN))
    with pytest.raises(DataError, match=r"^hand\.bvh: MOTION has 0 frames$"):
        bvh.BVHMotion(
            m.joint_names, m.parents, m.offsets, m.channels, m.motion[:0], m.frame_time, "hand.bvh"
        )
    m.motion = m.motion[:0]  # the dataclass is mutable: FK checks again
    with pytest.raises(DataError, match=r"^.*clip\.bvh: MOTION has 0 frames$"):
        kinematics.forward_kinematics(m)


def test_forward_kinematics_overflow_is_a_data_error_naming_the_file(tmp_path):
    # Found by tests/test_fuzz_bvh.py: offsets of 1e308 parse (they are finite) but their sum along
    # the chain overflows; FK used to return inf/NaN positions with numpy RuntimeWarnings.
    path = write(tmp_path, CHAIN.replace("OFFSET 0.0 -10.0 0.0", "OFFSET 0.0 -1e308 0.0"))
    m = bvh.parse_bvh(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(DataError) as info:
            kinematics.forward_kinematics(m, unit_to_m=1.0)
    assert str(info.value) == (
        f"{path}: forward kinematics: joint 'Knee_end' is not finite at frame 1 "
        f"(offsets or channel values too large or not finite)"
    )


def test_resample_errors_name_the_source_when_given():
    with pytest.raises(DataError) as info:
        kinematics.resample(np.zeros((0, 3)), 120, 50, source="walk.bvh")
    assert str(info.value) == "walk.bvh: resample: empty sequence"
    with pytest.raises(DataError, match="^walk.bvh: resample: rates"):
        kinematics.resample(np.zeros((5, 3)), 120, math.inf, source="walk.bvh")
    # 1e-308 Hz -> 50 Hz: the output length is infinite (used to raise OverflowError from
    # math.floor).
    with pytest.raises(
        DataError, match="^walk.bvh: resample: 3 frames at 1e-308 Hz -> 50 Hz would give inf"
    ):
        kinematics.resample(np.zeros((3, 2)), 1e-308, 50, source="walk.bvh")
    # Positional use stays as before.
    assert kinematics.resample(np.zeros((5, 3)), 120, 60).shape == (3, 3)


def test_mapping_missing_joint_is_named():
    names = list(kinematics.CMU_TO_H36M)
    names[names.index("LeftForeArm")] = "LeftElbow"
    with pytest.raises(DataError, match="LeftForeArm"):
        kinematics.cmu_to_h36m17(np.zeros((2, 17, 3)), names)
    with pytest.raises(DataError, match="Head"):
        kinematics.cmu_face_points(np.zeros((2, 10, 3)), np.zeros((2, 10, 3, 3)), names[:10])


def test_h36m_and_coco_assembly_are_consistent():
    rng = np.random.default_rng(0)
    names = ["Extra"] + list(kinematics.CMU_TO_H36M)[::-1]
    positions = rng.normal(size=(4, len(names), 3))
    h36m = kinematics.cmu_to_h36m17(positions, names)
    np.testing.assert_array_equal(h36m[:, 0], positions[:, names.index("Hips")])
    np.testing.assert_array_equal(
        h36m[:, H36M17.index("head")], positions[:, names.index("Head_end")]
    )
    face = rng.normal(size=(4, 5, 3))
    coco = kinematics.cmu_to_coco17(h36m, face)
    assert coco.shape == (4, 17, 3)
    np.testing.assert_array_equal(coco[:, :5], face)
    for coco_name, h36m_name in [
        ("l_ankle", "l_foot"),
        ("r_ankle", "r_foot"),
        ("l_wrist", "l_wrist"),
        ("r_shoulder", "r_shoulder"),
        ("l_hip", "l_hip"),
        ("r_knee", "r_knee"),
    ]:
        np.testing.assert_array_equal(
            coco[:, COCO17.index(coco_name)], h36m[:, H36M17.index(h36m_name)]
        )


def test_face_points_in_rest_pose():
    # Head at the origin, top 0.1 m above, facing +Z: points follow the README formulas directly.
    names = ["Head", "Head_end"]
    pos = np.array([[[0, 0, 0], [0, 0.1, 0]]], dtype=float)
    rot = np.broadcast_to(np.eye(3), (1, 2, 3, 3))
    face = kinematics.cmu_face_points(pos, rot, names)[0]
    np.testing.assert_allclose(face[0], [0, -0.055, 0.105])  # nose
    np.testing.assert_allclose(face[1], [0.032, -0.005, 0.085])  # l_eye: +X is the left
    np.testing.assert_allclose(face[4], [-0.075, -0.020, -0.010])  # r_ear


# --------------------------------------------------------------------------------------- real clips


@pytest.fixture(scope="module")
def walk():
    path = MOCAP / "bvh" / "16_15.bvh"
    m = bvh.parse_bvh(path)
    pos, rot = kinematics.forward_kinematics(m)
    return m, pos, rot


@needs_mocap
def test_real_clip_structure(walk):
    m, pos, _ = walk
    assert m.num_frames == 471 and m.fps == 120.0
    assert m.motion.shape[1] == 96
    assert len([c for c in m.channels if c]) == 31
    assert {"Head_end", "LeftToeBase_end", "RightToeBase_end"} <= set(m.joint_names)
    assert pos.shape == (471, len(m.joint_names), 3)


@needs_mocap
def test_real_clip_bone_lengths_constant(walk):
    m, pos, _ = walk
    child = np.arange(1, len(m.joint_names))
    lengths = np.linalg.norm(pos[:, child] - pos[:, m.parents[child]], axis=-1)  # (F, J-1) metres
    assert lengths.std(axis=0).max() < 1e-6
    thigh = lengths[0, m.index("LeftLeg") - 1]
    assert 0.35 < thigh < 0.50  # femur length in metres: the unit conversion is right


@needs_mocap
def test_real_clip_h36m_face_and_speed(walk):
    m, pos, rot = walk
    clip = kinematics.load_cmu_clip(MOCAP / "bvh" / "16_15.bvh")
    h36m, face = clip["h36m"], clip["face"]
    assert clip["fps"] == 50.0 and clip["source_fps"] == 120.0
    assert h36m.shape == (196, 17, 3) and face.shape == (196, 5, 3) and h36m.dtype == np.float64

    # Walking speed of the pelvis over the ground plane (X, Z; Y is up).
    hip = h36m[:, 0]
    speed = np.linalg.norm((hip[-1] - hip[0])[[0, 2]]) / ((len(hip) - 1) / clip["fps"])
    assert 0.8 < speed < 1.5

    y = h36m[..., 1]
    assert (y[:, H36M17.index("head")] > y[:, H36M17.index("neck_nose")]).all()
    assert (y[:, H36M17.index("neck_nose")] > y[:, H36M17.index("thorax")]).all()

    # Resampled positions keep bone lengths (chord error only) to well under a millimetre.
    bones = np.array(H36M17.bones())
    lengths = np.linalg.norm(h36m[:, bones[:, 1]] - h36m[:, bones[:, 0]], axis=-1)
    assert np.ptp(lengths, axis=0).max() < 1e-3

    # Face geometry, at 120 Hz with the head frame at hand.
    face120 = kinematics.cmu_face_points(pos, rot, m.joint_names)
    nose, l_eye, r_eye, l_ear, r_ear = np.moveaxis(face120, 1, 0)
    ear_dist = np.linalg.norm(l_ear - r_ear, axis=-1)
    assert ((ear_dist > 0.10) & (ear_dist < 0.18)).all()
    lr = (l_ear - r_ear) / ear_dist[:, None]
    proj = lambda p: np.sum(p * lr, axis=-1)  # noqa: E731
    assert (
        (proj(r_ear) < proj(r_eye)) & (proj(r_eye) < proj(l_eye)) & (proj(l_eye) < proj(l_ear))
    ).all()
    head = pos[:, m.index("Head")]
    f = rot[:, m.index("Head"), :, 2]
    assert (np.sum((nose - head) * f, axis=-1) > 0.05).all()
    # The left ear is on the subject's left: same side as the left hip.
    hips = pos[:, m.index("LeftUpLeg")] - pos[:, m.index("RightUpLeg")]
    assert (np.sum(hips * lr, axis=-1) > 0).all()


@needs_hdm05
def test_an_hdm05_clip_reads_with_the_cmu_conventions():
    """HDM05's BVH files follow the CMU folder's conventions: same joints, units and 120 Hz."""
    clip = kinematics.load_cmu_clip(HDM05 / "bvh" / "HDM_mm_squat1Reps_037_120.bvh")
    h36m = clip["h36m"]
    assert clip["source_fps"] == 120.0 and h36m.shape[1:] == (17, 3)
    femur = np.linalg.norm(
        h36m[:, H36M17.index("l_knee")] - h36m[:, H36M17.index("l_hip")], axis=-1
    ).mean()
    assert 0.36 < femur < 0.45  # the README's 368-445 mm: CMU units to metres is right here too
    y = h36m[..., 1]  # Y up: a squat lowers the pelvis by tens of centimetres, then rises again
    assert y[:, 0].max() - y[:, 0].min() > 0.2
    assert abs(y[0, 0] - y[-1, 0]) < 0.1
