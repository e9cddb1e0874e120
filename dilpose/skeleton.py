"""Joint layouts: H36M-17 (the evaluation / output layout), COCO-17 (the 2D input layout, the
paper's "17 joints = 12 body + 5 facial") and HumanEva-15.

Joint orders (index: name):

H36M-17 (VideoPose3D's 17 of Human3.6M's 32 joints)::

    0 hip (pelvis)   1 r_hip   2 r_knee   3 r_foot   4 l_hip   5 l_knee   6 l_foot
    7 spine   8 thorax   9 neck_nose   10 head
    11 l_shoulder   12 l_elbow   13 l_wrist   14 r_shoulder   15 r_elbow   16 r_wrist

COCO-17 (MS-COCO keypoints, as output by Mask R-CNN / CPN / any COCO detector)::

    0 nose   1 l_eye   2 r_eye   3 l_ear   4 r_ear   5 l_shoulder   6 r_shoulder   7 l_elbow
    8 r_elbow   9 l_wrist   10 r_wrist   11 l_hip   12 r_hip   13 l_knee   14 r_knee
    15 l_ankle   16 r_ankle

HumanEva-15 (VideoPose3D's order)::

    0 pelvis   1 thorax   2 l_shoulder   3 l_elbow   4 l_wrist   5 r_shoulder   6 r_elbow
    7 r_wrist   8 l_hip   9 l_knee   10 l_ankle   11 r_hip   12 r_knee   13 r_ankle   14 head

MPII-16 (the Stacked-Hourglass detections of Human3.6M that VideoPose3D converts)::

    0 r_ankle   1 r_knee   2 r_hip   3 l_hip   4 l_knee   5 l_ankle   6 pelvis   7 thorax
    8 upper_neck   9 head_top   10 r_wrist   11 r_elbow   12 r_shoulder   13 l_shoulder
    14 l_elbow   15 l_wrist
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DataError


@dataclass(frozen=True)
class Skeleton:
    """A joint layout.

    ``parents[j]`` is the parent of joint j (-1 for the root); ``joints_left[i]`` and
    ``joints_right[i]`` are mirror images of each other, so a horizontal flip swaps them pairwise.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    joints_left: tuple[int, ...]
    joints_right: tuple[int, ...]

    def __post_init__(self):
        n = len(self.joint_names)
        assert len(self.parents) == n, "one parent per joint"
        assert len(self.joints_left) == len(self.joints_right), "left/right lists pair up"
        assert all(-1 <= p < n for p in self.parents)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def bones(self) -> list[tuple[int, int]]:
        """(parent, child) pairs, one per non-root joint."""
        return [(p, j) for j, p in enumerate(self.parents) if p >= 0]

    def index(self, name: str) -> int:
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise DataError(
                self.name, f"unknown joint {name!r}; joints are {list(self.joint_names)}"
            ) from None

    def flip_permutation(self) -> np.ndarray:
        """Index array that swaps every left joint with its right twin (centre joints stay)."""
        perm = np.arange(self.num_joints)
        perm[list(self.joints_left)] = self.joints_right
        perm[list(self.joints_right)] = self.joints_left
        return perm

    def check(self, array: np.ndarray, source=None, dims: int | None = None) -> np.ndarray:
        """Raise :class:`DataError` unless ``array`` is (..., num_joints, dims) and finite."""
        array = np.asarray(array)
        if (
            array.ndim < 2
            or array.shape[-2] != self.num_joints
            or (dims and array.shape[-1] != dims)
        ):
            want = f"(..., {self.num_joints}, {dims or 'D'})"
            raise DataError(
                source, f"expected {self.name} joints with shape {want}, got {array.shape}"
            )
        if not np.isfinite(array).all():
            bad = np.argwhere((~np.isfinite(array)).reshape(-1, *array.shape[-2:]).any(-1))
            frame, joint = bad[0]
            raise DataError(
                source,
                f"{len(bad)} non-finite (NaN/inf) joint values, first at frame {frame}, "
                f"joint {joint} ({self.joint_names[joint]})",
            )
        return array


def flip(points: np.ndarray, layout: Skeleton) -> np.ndarray:
    """Mirror points (..., J, D) of ``layout`` about the vertical image axis: negate x (the first
    coordinate; normalised 2D or camera-space 3D, both centred on x = 0) and swap every left joint
    with its right twin. Exact, so flipping twice gives the input back. Returns a new array."""
    out = np.asarray(points)[..., layout.flip_permutation(), :].copy()
    out[..., 0] *= -1
    return out


def bone_lengths(positions: np.ndarray, layout: Skeleton) -> dict[str, float]:
    """Median length of each bone over frames: positions (T, J, 3) in metres ->
    ``{"parent-child": m}``."""
    return {
        f"{layout.joint_names[p]}-{layout.joint_names[c]}": float(
            np.median(np.linalg.norm(positions[:, c] - positions[:, p], axis=-1))
        )
        for p, c in layout.bones()
    }


H36M17 = Skeleton(
    name="h36m17",
    joint_names=(
        "hip",
        "r_hip",
        "r_knee",
        "r_foot",
        "l_hip",
        "l_knee",
        "l_foot",
        "spine",
        "thorax",
        "neck_nose",
        "head",
        "l_shoulder",
        "l_elbow",
        "l_wrist",
        "r_shoulder",
        "r_elbow",
        "r_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    joints_left=(4, 5, 6, 11, 12, 13),
    joints_right=(1, 2, 3, 14, 15, 16),
)

# COCO is not a kinematic tree; these parents give a tree for drawing and bone statistics
# (face points hang off the nose, limbs off the torso). COCO_EDGES below is the official drawing
# list.
COCO17 = Skeleton(
    name="coco17",
    joint_names=(
        "nose",
        "l_eye",
        "r_eye",
        "l_ear",
        "r_ear",
        "l_shoulder",
        "r_shoulder",
        "l_elbow",
        "r_elbow",
        "l_wrist",
        "r_wrist",
        "l_hip",
        "r_hip",
        "l_knee",
        "r_knee",
        "l_ankle",
        "r_ankle",
    ),
    parents=(-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
    joints_left=(1, 3, 5, 7, 9, 11, 13, 15),
    joints_right=(2, 4, 6, 8, 10, 12, 14, 16),
)

#: The 19 limbs of the COCO keypoint task (0-based), used for skeleton drawings.
COCO_EDGES = (
    (15, 13),
    (13, 11),
    (16, 14),
    (14, 12),
    (11, 12),
    (5, 11),
    (6, 12),
    (5, 6),
    (5, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (1, 2),
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
)

HUMANEVA15 = Skeleton(
    name="humaneva15",
    joint_names=(
        "pelvis",
        "thorax",
        "l_shoulder",
        "l_elbow",
        "l_wrist",
        "r_shoulder",
        "r_elbow",
        "r_wrist",
        "l_hip",
        "l_knee",
        "l_ankle",
        "r_hip",
        "r_knee",
        "r_ankle",
        "head",
    ),
    parents=(-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1),
    joints_left=(2, 3, 4, 8, 9, 10),
    joints_right=(5, 6, 7, 11, 12, 13),
)

# VideoPose3D's Stacked-Hourglass files list the sides as left [3, 4, 5, 13, 14, 15] and right
# [0, 1, 2, 10, 11, 12], which pairs l_hip with r_ankle when swapped index by index; the same sets,
# paired by name, are below.
MPII16 = Skeleton(
    name="mpii16",
    joint_names=(
        "r_ankle",
        "r_knee",
        "r_hip",
        "l_hip",
        "l_knee",
        "l_ankle",
        "pelvis",
        "thorax",
        "upper_neck",
        "head_top",
        "r_wrist",
        "r_elbow",
        "r_shoulder",
        "l_shoulder",
        "l_elbow",
        "l_wrist",
    ),
    parents=(1, 2, 6, 6, 3, 4, -1, 6, 7, 8, 11, 12, 7, 7, 13, 14),
    joints_left=(3, 4, 5, 13, 14, 15),
    joints_right=(2, 1, 0, 12, 11, 10),
)

SKELETONS = {s.name: s for s in (H36M17, COCO17, HUMANEVA15, MPII16)}
# VideoPose3D's metadata says "h36m", "coco", "humaneva15" or "mpii"; accept both spellings.
_ALIASES = {"h36m": "h36m17", "coco": "coco17", "humaneva": "humaneva15", "mpii": "mpii16"}


def get(name: str) -> Skeleton:
    """Look a layout up by name (``h36m17``/``h36m``, ``coco17``/``coco``, ``humaneva15``,
    ``mpii16``/``mpii``)."""
    if not isinstance(name, str):
        raise DataError(
            "skeleton", f"a joint layout name should be a string, got {type(name).__name__}"
        )
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in SKELETONS:
        raise DataError("skeleton", f"unknown joint layout {name!r}; known: {sorted(SKELETONS)}")
    return SKELETONS[key]


#: The five COCO face points (nose, eyes, ears), which motion capture of the body does not mark:
#: the CMU importer synthesises them from the head (dilpose.kinematics.cmu_face_points).
FACE_POINTS: tuple[str, ...] = COCO17.joint_names[:5]

#: Their positions in the head's frame, in units of the head segment length h, along (u = up the
#: head segment, f = facing direction, l = the subject's left): the mocap data README's
#: anthropometric guesses. (5, 3), in FACE_POINTS order.
FACE_POINT_OFFSETS = np.array(
    [
        [-0.55, 1.05, 0.00],  # nose
        [-0.05, 0.85, 0.32],  # l_eye
        [-0.05, 0.85, -0.32],  # r_eye
        [-0.20, -0.10, 0.75],  # l_ear
        [-0.20, -0.10, -0.75],  # r_ear
    ]
)

# Human3.6M's raw 32-joint files keep these 17 (VideoPose3D's remove_joints keeps the complement of
# [4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24, 28, 29, 30, 31]).
H36M32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)

# COCO-17 -> H36M-17, joint by joint. Each H36M joint is the mean of the listed COCO joints, except
# ``head`` which is extrapolated (see coco_to_h36m).
COCO_TO_H36M_SOURCES = {
    "hip": (11, 12),  # pelvis = midpoint of the two COCO hips
    "r_hip": (12,),
    "r_knee": (14,),
    "r_foot": (16,),  # COCO ankle = H36M foot (ankle) joint
    "l_hip": (11,),
    "l_knee": (13,),
    "l_foot": (15,),
    "spine": (5, 6, 11, 12),  # torso centre: mean of shoulders and hips (H36M spine sits mid-torso)
    "thorax": (5, 6),  # midpoint of the shoulders
    "neck_nose": (0,),  # H36M's "neck/nose" marker lies near the nose
    "head": (1, 2, 0),  # top of head: eye midpoint pushed up by the nose->eye vector (below)
    "l_shoulder": (5,),
    "l_elbow": (7,),
    "l_wrist": (9,),
    "r_shoulder": (6,),
    "r_elbow": (8,),
    "r_wrist": (10,),
}


def coco_to_h36m(keypoints: np.ndarray, scores: np.ndarray | None = None):
    """Convert COCO-17 2D keypoints to the H36M-17 layout.

    keypoints: (..., 17, 2) pixels or normalised coordinates. scores: optional (..., 17)
    confidences. Returns (..., 17, 2) H36M-17 keypoints, and (..., 17) scores when ``scores`` was
    given: a derived joint gets the minimum confidence of the COCO joints it is built from.

    ``head`` is the eye midpoint plus the nose->eye-midpoint vector: H36M's head joint is the top of
    the head, above the eyes, which COCO does not annotate. This is an approximation.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    COCO17.check(keypoints, "coco_to_h36m input", dims=keypoints.shape[-1])
    out = np.empty_like(keypoints)
    for j, name in enumerate(H36M17.joint_names):
        src = list(COCO_TO_H36M_SOURCES[name])
        if name == "head":
            eyes = keypoints[..., [1, 2], :].mean(-2)
            out[..., j, :] = eyes + (eyes - keypoints[..., 0, :])
        else:
            out[..., j, :] = keypoints[..., src, :].mean(-2)
    if scores is None:
        return out
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != keypoints.shape[:-1]:
        raise DataError(
            "coco_to_h36m input",
            f"scores shape {scores.shape} does not match keypoints {keypoints.shape}",
        )
    out_scores = np.stack(
        [scores[..., list(COCO_TO_H36M_SOURCES[n])].min(-1) for n in H36M17.joint_names], -1
    )
    return out, out_scores
