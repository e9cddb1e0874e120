"""Joint layouts: tree structure, left/right symmetry, lookup by name, input checks, and the
COCO -> H36M conversion joint by joint on a hand-made pose."""

import numpy as np
import pytest

from dilpose import skeleton as sk
from dilpose.errors import DataError

LAYOUTS = [sk.H36M17, sk.COCO17, sk.HUMANEVA15]


@pytest.mark.parametrize("skel", LAYOUTS, ids=lambda s: s.name)
def test_parents_form_a_tree_rooted_at_joint_0(skel):
    assert skel.parents[0] == -1
    assert [j for j, p in enumerate(skel.parents) if p == -1] == [0]
    for j in range(skel.num_joints):
        seen, k = set(), j
        while k != 0:  # walking up must reach the root without a cycle
            assert k not in seen, f"cycle through joint {k}"
            seen.add(k)
            k = skel.parents[k]
            assert 0 <= k < skel.num_joints
    assert len(skel.bones()) == skel.num_joints - 1
    assert all(p != c for p, c in skel.bones())


@pytest.mark.parametrize("skel", LAYOUTS, ids=lambda s: s.name)
def test_left_right_lists_are_disjoint_and_name_matched(skel):
    left, right = set(skel.joints_left), set(skel.joints_right)
    assert len(left) == len(skel.joints_left) and len(right) == len(skel.joints_right)
    assert not left & right
    names = skel.joint_names
    assert left == {j for j, n in enumerate(names) if n.startswith("l_")}
    assert right == {j for j, n in enumerate(names) if n.startswith("r_")}
    for left_j, right_j in zip(skel.joints_left, skel.joints_right):
        assert names[right_j] == "r_" + names[left_j][2:]


@pytest.mark.parametrize("skel", LAYOUTS, ids=lambda s: s.name)
def test_flip_permutation_is_an_involution_swapping_twins(skel):
    perm = skel.flip_permutation()
    assert sorted(perm) == list(range(skel.num_joints))
    np.testing.assert_array_equal(perm[perm], np.arange(skel.num_joints))
    names = skel.joint_names
    for j, n in enumerate(names):
        if n.startswith("l_"):
            assert names[perm[j]] == "r_" + n[2:]
        elif n.startswith("r_"):
            assert names[perm[j]] == "l_" + n[2:]
        else:
            assert perm[j] == j
    assert (perm != np.arange(skel.num_joints)).sum() == 2 * len(skel.joints_left)


@pytest.mark.parametrize("skel", LAYOUTS, ids=lambda s: s.name)
def test_parent_of_a_sided_joint_is_on_the_same_side_or_central(skel):
    # a mirror image of the skeleton is a skeleton: flipping maps bones onto bones
    perm = skel.flip_permutation()
    bones = {frozenset(b) for b in skel.bones()}
    assert {frozenset((perm[p], perm[c])) for p, c in skel.bones()} == bones


def test_documented_h36m_joint_order():
    assert sk.H36M17.joint_names[:4] == ("hip", "r_hip", "r_knee", "r_foot")
    assert sk.H36M17.index("head") == 10 and sk.H36M17.index("r_wrist") == 16
    assert sk.COCO17.index("l_shoulder") == 5 and sk.COCO17.index("r_ankle") == 16
    assert sk.HUMANEVA15.index("head") == 14 and sk.HUMANEVA15.index("l_hip") == 8


def test_coco_edges_are_valid_joint_pairs():
    assert len(sk.COCO_EDGES) == 19
    assert all(0 <= a < 17 and 0 <= b < 17 and a != b for a, b in sk.COCO_EDGES)
    assert len({frozenset(e) for e in sk.COCO_EDGES}) == 19


@pytest.mark.parametrize(
    "name,skel",
    [
        ("h36m", sk.H36M17),
        ("h36m17", sk.H36M17),
        ("H36M", sk.H36M17),
        ("coco", sk.COCO17),
        ("coco17", sk.COCO17),
        ("COCO17", sk.COCO17),
        ("humaneva", sk.HUMANEVA15),
        ("humaneva15", sk.HUMANEVA15),
        ("mpii", sk.MPII16),
        ("mpii16", sk.MPII16),
    ],
)
def test_get_accepts_names_and_aliases(name, skel):
    assert sk.get(name) is skel


def test_get_unknown_name_raises_listing_known_layouts():
    with pytest.raises(DataError, match="unknown joint layout 'openpose25'") as e:
        sk.get("openpose25")
    for known in ("h36m17", "coco17", "humaneva15", "mpii16"):
        assert known in str(e.value)


def test_get_refuses_a_name_that_is_not_a_string():
    with pytest.raises(DataError, match="should be a string, got int"):
        sk.get(17)


def test_mpii16_pairs_left_and_right_by_name():
    """VideoPose3D's Stacked-Hourglass lists pair l_hip with r_ankle index by index; ours pair
    twins."""
    for left, right in zip(sk.MPII16.joints_left, sk.MPII16.joints_right):
        assert sk.MPII16.joint_names[left].replace("l_", "") == sk.MPII16.joint_names[
            right
        ].replace("r_", "")
    assert set(sk.MPII16.joints_left) == {3, 4, 5, 13, 14, 15} and set(sk.MPII16.joints_right) == {
        0,
        1,
        2,
        10,
        11,
        12,
    }
    assert sk.MPII16.parents[sk.MPII16.index("pelvis")] == -1


def test_index_unknown_joint_raises():
    with pytest.raises(DataError, match="unknown joint 'tail'"):
        sk.H36M17.index("tail")


# ----------------------------------------------------------------------------------------- check


def test_check_accepts_good_arrays_and_returns_them():
    a = np.zeros((3, 17, 2))
    assert sk.H36M17.check(a, "src", dims=2) is a
    sk.HUMANEVA15.check(np.zeros((2, 5, 15, 3)))  # any leading dims, any D when dims is None


@pytest.mark.parametrize("shape,dims", [((4, 16, 2), None), ((4, 17, 2), 3), ((17,), None)])
def test_check_rejects_wrong_shape_naming_the_source(shape, dims):
    with pytest.raises(DataError) as e:
        sk.H36M17.check(np.zeros(shape), "myfile.npz", dims=dims)
    assert str(e.value).startswith("myfile.npz: ")
    assert str(shape) in str(e.value) and "h36m17" in str(e.value)


def test_check_rejects_nan_naming_frame_and_joint():
    a = np.zeros((6, 17, 3))
    a[4, 12, 2] = np.nan
    a[5, 1, 0] = np.inf
    with pytest.raises(DataError) as e:
        sk.H36M17.check(a, "poses.npz")
    msg = str(e.value)
    assert msg.startswith("poses.npz: ")
    assert "frame 4" in msg and "joint 12 (l_elbow)" in msg and "2 non-finite" in msg


def test_check_rejects_inf_in_a_single_pose():
    a = np.zeros((15, 2))
    a[14, 0] = -np.inf
    with pytest.raises(DataError, match=r"frame 0, joint 14 \(head\)"):
        sk.HUMANEVA15.check(a)


# ---------------------------------------------------------------------------------- coco_to_h36m


def hand_coco_pose():
    """An upright person in image coordinates (y grows downwards), every joint at a distinct
    place."""
    kp = np.zeros((17, 2))
    kp[0] = [100, 50]  # nose
    kp[1] = [96, 44]  # l_eye
    kp[2] = [104, 46]  # r_eye
    kp[3] = [90, 48]  # l_ear
    kp[4] = [110, 48]  # r_ear
    kp[5] = [80, 80]  # l_shoulder
    kp[6] = [120, 82]  # r_shoulder
    kp[7] = [70, 120]  # l_elbow
    kp[8] = [130, 121]  # r_elbow
    kp[9] = [65, 160]  # l_wrist
    kp[10] = [135, 161]  # r_wrist
    kp[11] = [88, 170]  # l_hip
    kp[12] = [112, 172]  # r_hip
    kp[13] = [86, 230]  # l_knee
    kp[14] = [114, 231]  # r_knee
    kp[15] = [85, 290]  # l_ankle
    kp[16] = [115, 292]  # r_ankle
    return kp


def test_coco_to_h36m_joint_by_joint():
    coco = hand_coco_pose()
    h = sk.coco_to_h36m(coco)
    H = {n: h[i] for i, n in enumerate(sk.H36M17.joint_names)}
    np.testing.assert_allclose(H["hip"], [100, 171])  # midpoint of (88,170) and (112,172)
    np.testing.assert_allclose(H["thorax"], [100, 81])  # midpoint of (80,80) and (120,82)
    np.testing.assert_allclose(H["spine"], [100, 126])  # mean of shoulders and hips
    np.testing.assert_allclose(H["neck_nose"], [100, 50])  # the nose
    # eyes' midpoint (100, 45); nose -> eyes is (0, -5); head = (100, 40): above the eyes in the
    # image
    np.testing.assert_allclose(H["head"], [100, 40])
    assert H["head"][1] < coco[[1, 2], 1].min()
    copies = {
        "r_hip": 12,
        "r_knee": 14,
        "r_foot": 16,
        "l_hip": 11,
        "l_knee": 13,
        "l_foot": 15,
        "l_shoulder": 5,
        "l_elbow": 7,
        "l_wrist": 9,
        "r_shoulder": 6,
        "r_elbow": 8,
        "r_wrist": 10,
    }
    for name, j in copies.items():
        np.testing.assert_array_equal(H[name], coco[j], err_msg=name)


def test_coco_to_h36m_scores_are_min_of_sources():
    coco = hand_coco_pose()
    scores = np.linspace(0.2, 0.99, 17)[::-1].copy()  # all distinct, decreasing with index
    scores[1] = 0.05  # a weak left eye drags the head down
    _, s = sk.coco_to_h36m(coco, scores)
    S = {n: s[i] for i, n in enumerate(sk.H36M17.joint_names)}
    assert S["hip"] == min(scores[11], scores[12])
    assert S["spine"] == min(scores[[5, 6, 11, 12]])
    assert S["thorax"] == min(scores[5], scores[6])
    assert S["head"] == 0.05
    assert S["neck_nose"] == scores[0]
    assert S["r_wrist"] == scores[10] and S["l_foot"] == scores[15]


def test_coco_to_h36m_batched_and_consistent_with_single_pose():
    rng = np.random.default_rng(0)
    batch = rng.normal(size=(2, 3, 17, 2))
    scores = rng.uniform(size=(2, 3, 17))
    out, s = sk.coco_to_h36m(batch, scores)
    assert out.shape == (2, 3, 17, 2) and s.shape == (2, 3, 17)
    o11, s11 = sk.coco_to_h36m(batch[1, 1], scores[1, 1])
    np.testing.assert_allclose(out[1, 1], o11)
    np.testing.assert_allclose(s[1, 1], s11)


def test_coco_to_h36m_commutes_with_horizontal_flip():
    coco = hand_coco_pose()
    flip = lambda kp, skel: (kp * [-1, 1])[..., skel.flip_permutation(), :]  # noqa: E731
    np.testing.assert_allclose(
        sk.coco_to_h36m(flip(coco, sk.COCO17)), flip(sk.coco_to_h36m(coco), sk.H36M17), atol=1e-12
    )


def test_coco_to_h36m_rejects_bad_input():
    with pytest.raises(DataError, match="coco_to_h36m input"):
        sk.coco_to_h36m(np.zeros((4, 15, 2)))
    kp = hand_coco_pose()
    kp[3] = np.nan
    with pytest.raises(DataError, match="joint 3 \\(l_ear\\)"):
        sk.coco_to_h36m(kp)
    with pytest.raises(DataError, match="scores shape"):
        sk.coco_to_h36m(hand_coco_pose(), np.ones(16))
