"""The simulated shop's scene and people (:mod:`dilpose.datasets.shop_sim` films them).

* **The shop** (:data:`SHELVES`, :func:`shop_cameras`): a 10 m x 6 m room, Z up, floor z = 0,
  with two wall shelves and an island between two aisles, each a solid box 1.9 m high with boards
  at :data:`BOARDS`; four cameras in the ceiling corners (3.5 m, beyond the shelves' ends) look
  down at the middle of the shop through a wide lens with barrel distortion. :func:`occluded`
  ray-tests which joints a shelf hides from a camera.
* **26 people** (:func:`make_people`): each takes the median bone lengths of one default-data
  subject (of the same split: test people from the default data's test subjects), scales them by a
  stature factor (0.88-1.12) and its arms and legs by their own factors (0.94-1.06), left and right
  alike. Every clip is retargeted onto a person's bones (:func:`retarget`): bone directions from
  the motion, lengths from the person, so each bone keeps one length throughout; a hand is moved
  onto a target by analytic two-bone IK (:func:`two_bone_ik`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import skeleton as sk
from ..camera import Camera
from .mocap_files import DefaultData
from .shop_format import SIM_SUBJECTS, SIM_TEST_SUBJECTS

PELVIS, R_HIP, R_KNEE, R_FOOT, L_HIP, L_KNEE, L_FOOT = 0, 1, 2, 3, 4, 5, 6
THORAX, NECK, HEAD = 8, 9, 10
L_ARM = (11, 12, 13)  # shoulder, elbow, wrist
R_ARM = (14, 15, 16)
ARM_BONES = {12, 13, 15, 16}  # child joints of upper and lower arms
LEG_BONES = {2, 3, 5, 6}


# --------------------------------------------------------------------------------------------------
# The shop
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shelf:
    """A shelf unit: a solid box ``lo``..``hi`` (world metres) with boards at :data:`BOARDS`; its
    ``faces`` are the sides that open onto an aisle, as (axis, coordinate, outward normal sign)."""

    name: str
    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    faces: tuple[tuple[int, float, int], ...]


ROOM = ((-1.0, 0.0), (9.0, 6.0))  # floor extent (x, y), metres: the wall shelves stand at the walls
SHELVES = (
    Shelf("wall shelf (south)", (0.5, 0.0, 0.0), (7.5, 0.5, 1.9), ((1, 0.5, +1),)),
    Shelf("island", (1.5, 2.7, 0.0), (6.5, 3.3, 1.9), ((1, 2.7, -1), (1, 3.3, +1))),
    Shelf("wall shelf (north)", (0.5, 5.5, 0.0), (7.5, 6.0, 1.9), ((1, 5.5, -1),)),
)
#: Board heights (m): items stand on them, the hand grasps them 8 cm higher.
BOARDS = (0.1, 0.5, 0.9, 1.3, 1.7)
ITEM_ABOVE_BOARD = 0.08
#: Aisles: (y centre, half width), x from 1.2 to 6.8.
AISLES = ((1.6, 1.1), (4.4, 1.1))
AISLE_X = (1.2, 6.8)
#: Where the four cameras look (m), and their height.
LOOK_AT = (4.0, 3.0, 0.9)
CAMERA_HEIGHT = 3.5


def shelf_boxes() -> np.ndarray:
    """(B, 2, 3) lower and upper corners of every shelf, metres."""
    return np.array([[s.lo, s.hi] for s in SHELVES], dtype=np.float64)


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) -> unit quaternion [w, x, y, z] (w >= 0)."""
    w = np.sqrt(max(0.0, 1.0 + np.trace(R))) / 2.0
    if w > 1e-6:
        q = np.array(
            [
                w,
                (R[2, 1] - R[1, 2]) / (4 * w),
                (R[0, 2] - R[2, 0]) / (4 * w),
                (R[1, 0] - R[0, 1]) / (4 * w),
            ]
        )
    else:  # a half turn: take the largest diagonal element's axis
        i = int(np.argmax(np.diag(R)))
        axis = np.sqrt(np.maximum(0.0, (np.diag(R) + 1.0) / 2.0))
        axis[np.arange(3) != i] *= np.sign(R[i, np.arange(3) != i])
        q = np.array([0.0, *axis])
    return q / np.linalg.norm(q)


def look_at_camera(
    name: str,
    position,
    target,
    res=(1280, 960),
    focal=620.0,
    radial=(-0.18, 0.03, 0.0),
    tangential=(0.0005, -0.0003),
) -> Camera:
    """A camera at ``position`` (m) looking at ``target`` (m), image x along the horizon: camera
    axes x right, y down, z forward (:mod:`dilpose.camera`)."""
    position, target = np.asarray(position, float), np.asarray(target, float)
    z = target - position
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    q = matrix_to_quaternion(np.stack([x, y, z], axis=1))  # columns: camera axes in the world
    azimuth = float(np.degrees(np.arctan2(z[1], z[0])))
    return Camera(
        id=name,
        res_w=res[0],
        res_h=res[1],
        focal_length=(focal, focal),
        center=(res[0] / 2 + 3.0, res[1] / 2 - 2.0),
        radial_distortion=tuple(radial),
        tangential_distortion=tuple(tangential),
        orientation=tuple(q),
        translation=tuple(position),
        azimuth=azimuth,
    )


def shop_cameras() -> list[Camera]:
    """The four ceiling-corner cameras, each looking down at :data:`LOOK_AT`."""
    (x0, y0), (x1, y1) = ROOM
    corners = [
        (x0 + 0.2, y0 + 0.2),
        (x1 - 0.2, y0 + 0.2),
        (x1 - 0.2, y1 - 0.2),
        (x0 + 0.2, y1 - 0.2),
    ]
    return [
        look_at_camera(f"shop-cam{i + 1}", (x, y, CAMERA_HEIGHT), LOOK_AT)
        for i, (x, y) in enumerate(corners)
    ]


def occluded(origin: np.ndarray, points: np.ndarray, boxes: np.ndarray | None = None) -> np.ndarray:
    """Whether the segment from a camera centre ``origin`` (3,) to each point (..., 3) passes
    through a shelf box (``boxes`` (B, 2, 3), default :func:`shelf_boxes`): (...) bool.

    The slab test: the segment ``origin + t d``, t in [0, 1], meets an axis-aligned box when the
    intervals of t inside its three slabs overlap within [0, 1). A point inside a box is hidden.
    """
    boxes = shelf_boxes() if boxes is None else np.asarray(boxes, float)
    origin = np.asarray(origin, float)
    d = np.asarray(points, float) - origin
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d[..., None, :]  # (..., 1, 3); inf along an axis the segment does not move
        t1 = (boxes[:, 0] - origin) * inv  # (..., B, 3)
        t2 = (boxes[:, 1] - origin) * inv
    # 0 * inf (a segment lying in a slab's plane) is NaN: treat it as inside that slab
    t_near = np.where(np.isnan(t1), -np.inf, np.minimum(t1, t2)).max(-1)
    t_far = np.where(np.isnan(t2), np.inf, np.maximum(t1, t2)).min(-1)
    hit = (t_far >= np.maximum(t_near, 0.0)) & (t_near < 1.0 - 1e-9)
    return hit.any(-1)


# --------------------------------------------------------------------------------------------------
# Skeletons: retargeting and two-bone IK
# --------------------------------------------------------------------------------------------------
def bone_vector(positions: np.ndarray) -> np.ndarray:
    """Each joint's bone length (17,) metres (0 for the root), median over frames of (T, 17, 3)."""
    out = np.zeros(17)
    for p, c in sk.H36M17.bones():
        out[c] = np.median(np.linalg.norm(positions[:, c] - positions[:, p], axis=-1))
    return out


def retarget(positions: np.ndarray, face: np.ndarray, lengths: np.ndarray):
    """Put a clip's motion on another skeleton: (T, 17, 3) joints and (T, 5, 3) face points
    (metres) -> the same shapes, each bone (child joint c) of length ``lengths[c]`` in every frame
    and pointing where the clip's bone points. The pelvis path and height scale with the legs
    (a longer leg takes longer steps); face points ride on the head, scaled with it."""
    src = bone_vector(positions)
    leg = (lengths[[2, 3, 5, 6]].sum()) / max(src[[2, 3, 5, 6]].sum(), 1e-6)
    out = np.empty_like(positions)
    start = positions[0, PELVIS, :2].copy()
    out[:, PELVIS] = positions[:, PELVIS]
    out[:, PELVIS, :2] = start + (positions[:, PELVIS, :2] - start) * leg
    out[:, PELVIS, 2] = positions[:, PELVIS, 2] * leg
    for p, c in sk.H36M17.bones():  # parents come first in H36M-17's order
        d = positions[:, c] - positions[:, p]
        d /= np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)
        out[:, c] = out[:, p] + d * lengths[c]
    # the feet meet the floor where the clip's did
    out[..., 2] += positions[:, [R_FOOT, L_FOOT], 2].min() - out[:, [R_FOOT, L_FOOT], 2].min()
    head = lengths[HEAD] / max(src[HEAD], 1e-6)
    new_face = out[:, NECK, None] + (face - positions[:, NECK, None]) * head
    return out, new_face


def two_bone_ik(root: np.ndarray, mid: np.ndarray, end: np.ndarray, target: np.ndarray):
    """Analytic two-bone IK: move ``end`` (T, 3) onto ``target`` (T, 3) by bending at ``mid``,
    keeping both bone lengths (|mid - root|, |end - mid|, per frame) exactly.

    The elbow (knee) stays in the plane of root, target and its old position (the pole), so the
    limb bends the way it did. An unreachable target (too far or too near) is approached as closely
    as the bones allow, along the same line. Returns ``(mid, end, reachable)``: new positions
    (T, 3) and (T,) bool.
    """
    root, mid, end, target = (np.asarray(a, np.float64) for a in (root, mid, end, target))
    l1 = np.linalg.norm(mid - root, axis=-1)
    l2 = np.linalg.norm(end - mid, axis=-1)
    d_vec = target - root
    d = np.linalg.norm(d_vec, axis=-1)
    dmax, dmin = (l1 + l2) * (1 - 1e-9), np.abs(l1 - l2) * (1 + 1e-9) + 1e-9
    reachable = (d <= dmax) & (d >= dmin)
    dc = np.clip(d, dmin, dmax)
    u = np.where(d[:, None] > 1e-9, d_vec / np.maximum(d, 1e-9)[:, None], end - root)
    u /= np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-12)
    pole = mid - root
    pole = pole - (pole * u).sum(-1, keepdims=True) * u
    # a straight limb gives no pole: bend it downwards-outwards instead
    fallback = np.cross(u, [0.0, 0.0, 1.0]) + [0.0, 0.0, -1e-3]
    fallback -= (fallback * u).sum(-1, keepdims=True) * u
    pole = np.where(np.linalg.norm(pole, axis=-1, keepdims=True) > 1e-6, pole, fallback)
    v = pole / np.maximum(np.linalg.norm(pole, axis=-1, keepdims=True), 1e-12)
    a = (l1**2 - l2**2 + dc**2) / (2 * dc)
    h = np.sqrt(np.maximum(l1**2 - a**2, 0.0))
    new_mid = root + a[:, None] * u + h[:, None] * v
    new_end = root + dc[:, None] * u
    return new_mid, new_end, reachable


def smooth(x: np.ndarray, frames: int = 15) -> np.ndarray:
    """Moving average over time (axis 0) with edge padding: (T, ...) -> (T, ...)."""
    if frames <= 1 or len(x) < 2:
        return x.copy()
    k = np.ones(frames) / frames
    pad = frames // 2
    xp = np.concatenate([np.repeat(x[:1], pad, 0), x, np.repeat(x[-1:], frames - 1 - pad, 0)])
    return np.apply_along_axis(lambda s: np.convolve(s, k, mode="valid"), 0, xp)


def facing(positions: np.ndarray) -> np.ndarray:
    """Horizontal facing direction (T, 3) unit vectors: the hips' left-right axis turned 90 deg."""
    left = (
        positions[:, L_HIP] - positions[:, R_HIP] + positions[:, L_ARM[0]] - positions[:, R_ARM[0]]
    )
    left[:, 2] = 0.0
    f = np.cross(left, [0.0, 0.0, 1.0])
    return f / np.maximum(np.linalg.norm(f, axis=-1, keepdims=True), 1e-9)


def rotate_z(points: np.ndarray, angle: float, about: np.ndarray) -> np.ndarray:
    """Rotate (..., 3) points by ``angle`` radians about the vertical through ``about`` (3,)."""
    c, s = np.cos(angle), np.sin(angle)
    R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return (points - about) @ R.T + about


# --------------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------------
def make_people(
    data: DefaultData,
    rng: np.random.Generator,
    names=SIM_SUBJECTS,
    test=SIM_TEST_SUBJECTS,
) -> dict[str, dict]:
    """Each person's bone lengths (17,) and metadata: a template subject of the same split, its
    left and right bones averaged, scaled by stature and limb factors."""
    templates = {}
    for s in data.subjects:
        clips = list(data.positions_3d[s].values())
        L = np.median([bone_vector(c.astype(np.float64)) for c in clips], axis=0)
        for left, right in zip(sk.H36M17.joints_left, sk.H36M17.joints_right):
            L[left] = L[right] = (L[left] + L[right]) / 2
        templates[s] = L
    people = {}
    for i, name in enumerate(names):
        group = data.test_subjects if name in test else data.train_subjects
        template = group[i % len(group)]
        stature = float(np.clip(rng.normal(1.0, 0.05), 0.88, 1.12))
        arms = float(np.clip(rng.normal(1.0, 0.025), 0.94, 1.06))
        legs = float(np.clip(rng.normal(1.0, 0.025), 0.94, 1.06))
        L = templates[template] * stature
        L[list(ARM_BONES)] *= arms
        L[list(LEG_BONES)] *= legs
        # standing height: ankle to head top along the chain, plus the ankle's height
        height = L[[R_KNEE, R_FOOT]].sum() + L[[R_HIP]].sum() * 0.3 + L[[7, 8, 9, 10]].sum() + 0.08
        people[name] = {
            "lengths": L,
            "meta": {
                "split": "test" if name in test else "train",
                "template_subject": template,
                "stature_factor": round(stature, 4),
                "arm_factor": round(arms, 4),
                "leg_factor": round(legs, 4),
                "height_m": round(float(height), 3),
                "bone_lengths_m": {
                    f"{sk.H36M17.joint_names[p]}-{sk.H36M17.joint_names[c]}": round(float(L[c]), 4)
                    for p, c in sk.H36M17.bones()
                },
            },
        }
    return people
