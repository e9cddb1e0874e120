"""A simulated smart shop in the shop format (:mod:`dilpose.datasets.shop`), built from the real
motion capture of the default data: the stand-in for HRI-I, which is not public. Everything it
produces is labelled "simulated shop (CMU and HDM05 motion)", never HRI-I.

* **The shop** (:data:`SHELVES`, :func:`shop_cameras`): a 10 m x 6 m room, Z up, floor z = 0,
  with two wall shelves and an island between two aisles, each a solid box 1.9 m high with boards
  at :data:`BOARDS`; four cameras in the ceiling corners (3.5 m, beyond the shelves' ends) look
  down at the middle of the shop through a wide lens with barrel distortion.
* **26 people** (:func:`make_people`): each takes the median bone lengths of one default-data
  subject (of the same split: test people from the default data's test subjects), scales them by a
  stature factor (0.88-1.12) and its arms and legs by their own factors (0.94-1.06), left and right
  alike. Every clip is retargeted onto a person's bones (:func:`retarget`): bone directions from
  the motion, lengths from the person, so each bone keeps one length throughout.
* **Six scenarios**, each a sequence of real clips adapted to the shop (:func:`scenario_take`):
  ``walk`` (CMU walking and turning, turned and placed along an aisle); ``hunker`` (HDM05 squats,
  and CMU 13's squats for the test people); ``fetch(stand)`` (HDM05 ``grabHighR``: the right hand
  moved onto an item on a high board by analytic two-bone IK, :func:`two_bone_ik`, the offset
  faded in and out with the reach itself); ``fetch(hunker)`` (HDM05 ``depositFloorR``, onto an
  item on a low board); ``hold(stand)`` and ``hold(hunker)`` (the walking and squatting clips
  with both hands on a held box, IK'd to points that ride a smoothed torso frame). Motion comes
  from the default data's test subjects for the shop's test people and from its training
  subjects for the others, so no clip is seen by both sides of either split.
* **2D** (:func:`render`): COCO-17 projections through the four cameras, the detector-noise model
  (:mod:`dilpose.noise`), then shelf occlusion by ray tests (:func:`occluded`): an occluded joint
  gets a low confidence and a larger error, and is missed in bursts; a joint outside the image is
  missed.

:func:`build` writes the folder (seeded: the same seed writes the same files); :func:`ensure`
builds it into ``data/shop_sim/`` when it is missing or was built by other code or data
(``make data`` rebuilds it; it is not committed: 2D detections of 4 cameras do not compress).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import default_data, paths
from . import skeleton as sk
from .bvh import cmu_to_coco17
from .camera import Camera
from .datasets import shop
from .fileio import sha256
from .noise import NoiseConfig, _bursts, apply_detector_noise, jitter_sigma

SEED = 0
FPS = default_data.FPS
#: Frames each person performs of each scenario, at least (takes are added until reached):
#: 26 people x 6 scenarios x 110 = 17,160 or more poses.
FRAMES_PER_SCENARIO = 110

# H36M-17 indices.
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
    data: default_data.DefaultData,
    rng: np.random.Generator,
    names=shop.SIM_SUBJECTS,
    test=shop.SIM_TEST_SUBJECTS,
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


# --------------------------------------------------------------------------------------------------
# Source motion
# --------------------------------------------------------------------------------------------------
def squat_segments(positions: np.ndarray, margin: int = 40) -> list[tuple[int, int]]:
    """(start, stop) frames around each squat of a long clip (CMU 13's warm-ups): where the
    pelvis drops below 75 % of its median height, with ``margin`` frames either side."""
    z = positions[:, PELVIS, 2]
    low = z < 0.75 * np.median(z)
    edges = np.diff(np.concatenate([[0], low.astype(int), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [
        (max(0, a - margin), min(len(z), b + margin)) for a, b in zip(starts, stops) if b - a >= 5
    ]


def source_pools(
    data: default_data.DefaultData,
) -> dict[tuple[str, str], list[tuple[str, str, int, int]]]:
    """``{(split, pool): [(subject, action, start, stop), ...]}``: the real clips (or parts) each
    scenario draws from, for the test people (the default data's test subjects) and the others.
    Pools: ``walk`` (CMU walking), ``squat`` (HDM05 squats, CMU 13's squats), ``grab_high`` (HDM05
    grabHighR), ``deposit`` (HDM05 depositFloorR)."""
    pools: dict[tuple[str, str], list] = {}
    test = set(data.test_subjects)
    for clip in data.meta["clips"]:
        s, a, label = clip["subject"], clip["action"], clip["manifest_label"]
        split = "test" if s in test else "train"
        n = len(data.positions_3d[s][a])
        if clip["source"] == "cmu" and clip["category"] == "walk":
            pools.setdefault((split, "walk"), []).append((s, a, 0, n))
        elif label == "squat1Reps":
            pools.setdefault((split, "squat"), []).append((s, a, 0, n))
        elif label == "grabHighR":
            pools.setdefault((split, "grab_high"), []).append((s, a, 0, n))
        elif label == "depositFloorR":
            pools.setdefault((split, "deposit"), []).append((s, a, 0, n))
        elif clip["source"] == "cmu" and "squat" in label:
            pos = data.positions_3d[s][a]
            for start, stop in squat_segments(pos):
                pools.setdefault((split, "squat"), []).append((s, a, start, stop))
    return {k: sorted(v) for k, v in pools.items()}


#: Scenario -> the pool its motion comes from.
SCENARIO_POOL = {
    "walk": "walk",
    "hunker": "squat",
    "fetch(stand)": "grab_high",
    "fetch(hunker)": "deposit",
    "hold(stand)": "walk",
    "hold(hunker)": "squat",
}
WALK_FRAMES = 150  # 3 s windows of the walking clips


# --------------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------------
def _walk_window(pos: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """The straightest of a few random windows of :data:`WALK_FRAMES` (least sideways spread of
    the pelvis path about its start-end line), so that it fits an aisle."""
    n = len(pos)
    if n <= WALK_FRAMES:
        return 0, n
    best, best_spread = (0, WALK_FRAMES), np.inf
    for start in rng.integers(0, n - WALK_FRAMES + 1, size=6):
        path = pos[start : start + WALK_FRAMES, PELVIS, :2]
        d = path[-1] - path[0]
        d = d / max(np.linalg.norm(d), 1e-6)
        spread = np.abs((path - path[0]) @ np.array([-d[1], d[0]])).max()
        if spread < best_spread:
            best, best_spread = (int(start), int(start) + WALK_FRAMES), spread
    return best


def _place_in_aisle(pos, face, rng, along: bool):
    """Turn a clip about the vertical and move it into a random aisle: ``along``, its start-end
    direction along the aisle (walking), else a random heading around a random spot (in place)."""
    aisle_y, half = AISLES[rng.integers(len(AISLES))]
    pivot = pos[0, PELVIS].copy()
    pivot[2] = 0.0
    if along:
        d = pos[-1, PELVIS, :2] - pos[0, PELVIS, :2]
        angle = -np.arctan2(d[1], d[0]) + (np.pi if rng.random() < 0.5 else 0.0)
    else:
        angle = rng.uniform(-np.pi, np.pi)
    pos, face = rotate_z(pos, angle, pivot), rotate_z(face, angle, pivot)
    path = pos[:, PELVIS, :2]
    lo_x, hi_x = AISLE_X[0] - path[:, 0].min(), AISLE_X[1] - path[:, 0].max()
    x = rng.uniform(lo_x, hi_x) if hi_x > lo_x else (lo_x + hi_x) / 2
    y_room = max(half - 0.55 - np.ptp(path[:, 1]) / 2, 0.0)
    y = aisle_y + rng.uniform(-y_room, y_room) - (path[:, 1].min() + path[:, 1].max()) / 2
    shift = np.array([x, y, 0.0])
    return pos + shift, face + shift


def _shelf_faces():
    return [(shelf, axis, coord, sign) for shelf in SHELVES for axis, coord, sign in shelf.faces]


def fetch(pos, face, rng, boards, low: bool):
    """Face a shelf and move the right hand onto an item there, as the clip reaches (up, or down
    when ``low``): the frame where the wrist is highest (lowest) is the grasp; the hand's offset to
    the item fades in and out with the reach (its progress between rest and grasp heights) and the
    arm follows by :func:`two_bone_ik`. Returns positions, face points and the take's facts."""
    z = pos[:, R_ARM[2], 2]
    tp = int(np.argmin(z) if low else np.argmax(z))
    shelf, axis, coord, sign = _shelf_faces()[rng.integers(len(_shelf_faces()))]
    normal = np.zeros(3)
    normal[axis] = sign
    # turn the person to face the shelf at the grasp (facing = -normal)
    f = facing(pos)[tp]
    angle = np.arctan2(-normal[1], -normal[0]) - np.arctan2(f[1], f[0])
    pivot = pos[tp, PELVIS] * [1, 1, 0]
    pos, face = rotate_z(pos, angle, pivot), rotate_z(face, angle, pivot)
    # move the person so the wrist at the grasp is over a spot of the shelf's front, then back off
    # until the trunk, head and feet keep 5 cm from the face in every frame
    grasp = pos[tp, R_ARM[2]]
    other = 1 - axis
    item = np.zeros(3)
    item[axis] = coord + sign * 0.03  # the item stands at the front, the hand grasps it 3 cm out
    item[other] = rng.uniform(shelf.lo[other] + 0.6, shelf.hi[other] - 0.6)
    shift = item - grasp
    shift[2] = 0.0
    pos, face = pos + shift, face + shift
    body = [PELVIS, 7, THORAX, NECK, HEAD, R_FOOT, L_FOOT]
    depth = sign * (pos[:, body, axis] - coord)  # > 0 in front of the face
    back = max(0.0, 0.05 - float(depth.min()))
    pos[..., axis] += sign * back
    face[..., axis] += sign * back
    # the item's board: the one nearest the grasp height among those the arm can reach from
    # where the shoulder is at the grasp (the nearest one if none can be reached)
    shoulder, arm = pos[tp, R_ARM[0]], bone_vector(pos)[[R_ARM[1], R_ARM[2]]].sum()
    heights = np.array(boards) + ITEM_ABOVE_BOARD
    spots = np.repeat(item[None], len(heights), 0)
    spots[:, 2] = heights
    reach = np.linalg.norm(spots - shoulder, axis=-1)
    ok = reach <= 0.97 * arm
    pick = (
        np.argmin(np.where(ok, np.abs(heights - grasp[2]), np.inf))
        if ok.any()
        else np.argmin(reach)
    )
    item = spots[pick]
    # the reach's progress: 0 at rest (the clip's first and last frames), 1 at the grasp
    z = pos[:, R_ARM[2], 2]
    rest = np.median(np.concatenate([z[:5], z[-5:]]))
    w = (
        np.clip((z - rest) / (z[tp] - rest), 0.0, 1.0)
        if abs(z[tp] - rest) > 1e-3
        else np.ones(len(z))
    )
    w = smooth(w, 5)
    w[tp] = 1.0
    target = pos[:, R_ARM[2]] + w[:, None] * (item - pos[tp, R_ARM[2]])
    s, e, h = R_ARM
    pos[:, e], pos[:, h], reachable = two_bone_ik(pos[:, s], pos[:, e], pos[:, h], target)
    return (
        pos,
        face,
        {
            "shelf": shelf.name,
            "item_m": [round(float(v), 3) for v in item],
            "grasp_frame": tp,
            "item_reached": bool(reachable[tp]),
            "hand_to_item_mm": round(1000 * float(np.linalg.norm(pos[tp, h] - item)), 1),
        },
    )


def hold(pos, face, rng, low: bool):
    """Both hands on a held box that rides in front of the torso: the box's grip points follow a
    smoothed torso frame (thorax position and shoulder line over 15 frames, so the hands move
    smoothly), and both arms reach them by :func:`two_bone_ik`."""
    # the box's size and where it is held scale with the arm (upper arm + forearm), so that every
    # build can hold it: its grip points lie about 0.75 arm lengths from the shoulders
    arm = bone_vector(pos)[[R_ARM[1], R_ARM[2]]].sum()
    width = rng.uniform(0.26, 0.40)
    ahead = arm * rng.uniform(0.45, 0.60)
    below = arm * (rng.uniform(0.50, 0.65) if not low else rng.uniform(0.40, 0.55))
    thorax = smooth(pos[:, THORAX], 15)
    left = smooth(pos[:, L_ARM[0]] - pos[:, R_ARM[0]], 15)
    left[:, 2] = 0.0
    left /= np.maximum(np.linalg.norm(left, axis=-1, keepdims=True), 1e-9)
    fwd = np.cross(left, [0.0, 0.0, 1.0])
    centre = thorax + ahead * fwd - [0.0, 0.0, below]
    reach = []
    for arm, side in ((L_ARM, +1), (R_ARM, -1)):
        s, e, h = arm
        target = centre + side * width / 2 * left
        pos[:, e], pos[:, h], ok = two_bone_ik(pos[:, s], pos[:, e], pos[:, h], target)
        reach.append(ok)
    return (
        pos,
        face,
        {
            "box_width_m": round(float(width), 3),
            "hands_on_box_fraction": round(float(np.mean(reach[0] & reach[1])), 3),
        },
    )


def scenario_take(scenario, data, source, person, rng):
    """One take of ``scenario`` by ``person`` from the source clip part ``(subject, action, start,
    stop)``: (T, 17, 3) world metres, (T, 5, 3) face points, and its facts (JSON)."""
    s, a, start, stop = source
    pos = data.positions_3d[s][a][start:stop].astype(np.float64)
    face = data.face_3d[s][a][start:stop].astype(np.float64)
    if SCENARIO_POOL[scenario] == "walk":
        w0, w1 = _walk_window(pos, rng)
        pos, face = pos[w0:w1], face[w0:w1]
        start, stop = start + w0, start + w1
    pos, face = retarget(pos, face, person["lengths"])
    facts = {"source": f"{s}/{a}", "source_frames": [int(start), int(stop)]}
    if scenario.startswith("fetch"):
        low = scenario == "fetch(hunker)"
        boards = BOARDS[:2] if low else BOARDS[2:]
        pos, face, more = fetch(pos, face, rng, boards, low)
    else:
        pos, face = _place_in_aisle(pos, face, rng, along=SCENARIO_POOL[scenario] == "walk")
        more = {}
        if scenario.startswith("hold"):
            pos, face, more = hold(pos, face, rng, low=scenario == "hold(hunker)")
    return pos, face, {**facts, **more}


# --------------------------------------------------------------------------------------------------
# 2D
# --------------------------------------------------------------------------------------------------
#: What a shelf does to an occluded joint's detection: its confidence is multiplied by this ...
OCCLUDED_SCORE = 0.3
#: ... its error grows by this many jitter sigmas (fixed direction per burst-free stretch) ...
OCCLUDED_ERROR_SIGMAS = 3.0
#: ... and it is missed in bursts starting at this rate per frame (mean length 8 frames).
OCCLUDED_MISS_RATE = 0.08


def render(
    coco: np.ndarray, cam: Camera, rng: np.random.Generator, noise: NoiseConfig = NoiseConfig()
) -> dict[str, np.ndarray]:
    """One camera's detections of COCO-17 3D joints (T, 17, 3) world metres: ``keypoints`` (T, 17,
    2) px (0 where missed), ``scores`` (T, 17) (0 = missed), ``clean`` (T, 17, 2) px, and the masks
    ``occluded``, ``outside`` and ``missed`` (T, 17)."""
    clean = cam.project(coco)
    noisy, scores, events = apply_detector_noise(clean, rng, noise)
    occ = occluded(cam.position(), coco)
    sigma = jitter_sigma(clean, noise)
    push = rng.standard_normal((17, 2))
    noisy = np.where(occ[..., None], noisy + OCCLUDED_ERROR_SIGMAS * sigma[..., None] * push, noisy)
    scores = np.where(occ, scores * OCCLUDED_SCORE, scores)
    outside = ~((clean >= 0) & (clean <= [cam.res_w, cam.res_h])).all(-1)
    missed = events["missing"] | outside | (occ & _bursts(rng, occ.shape, OCCLUDED_MISS_RATE, 8.0))
    # a joint the detector never finds in a whole take cannot be interpolated: keep its best
    # frame as a low-confidence guess (counted in the manifest)
    never = missed.all(0)
    for j in np.flatnonzero(never):
        t = int(np.argmin(np.linalg.norm(clean[:, j] - clean[:, j].mean(0), axis=-1)))
        missed[t, j] = False
        noisy[t, j] = clean[t, j]
        scores[t, j] = 0.05
    noisy = np.where(missed[..., None] | ~np.isfinite(noisy), 0.0, noisy)
    scores = np.where(missed, 0.0, np.maximum(scores, 0.01))
    return {
        "keypoints": noisy,
        "scores": scores,
        "clean": clean,
        "occluded": occ,
        "outside": outside,
        "missed": missed,
        "kept_guesses": int(never.sum()),
    }


# --------------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------------
def default_dir() -> Path:
    """Where the simulated shop is built: ``data/shop_sim/`` (not committed)."""
    return paths.DATA_DIR / "shop_sim"


def fingerprint(
    seed: int = SEED, frames: int = FRAMES_PER_SCENARIO, people=shop.SIM_SUBJECTS
) -> str:
    """What the simulated shop is made from: this module's, the noise model's and the camera
    code's source, the default data's files, and the build's settings (16 hex digits)."""
    h = hashlib.sha256()
    for module in ("shop_sim.py", "noise.py", "camera.py", "datasets/shop.py"):
        h.update((paths.PACKAGE_DIR / module).read_bytes())
    for f in default_data.default_files():
        h.update(sha256(f).encode())
    h.update(json.dumps([seed, frames, list(people)]).encode())
    return h.hexdigest()[:16]


def simulate(
    seed: int = SEED,
    frames: int = FRAMES_PER_SCENARIO,
    people=shop.SIM_SUBJECTS,
    data: default_data.DefaultData | None = None,
) -> dict:
    """Everything :func:`build` writes, in memory: ``cameras``, ``clips`` (per person and take, the
    format's arrays plus ``face_3d``, ``occluded``, ``clean_2d``), ``subjects`` (metadata) and
    ``stats``."""
    data = data if data is not None else default_data.load()
    rng = np.random.default_rng(seed)
    cams = shop_cameras()
    everyone = make_people(
        data, rng, names=people, test=[p for p in people if p in shop.SIM_TEST_SUBJECTS]
    )
    pools = source_pools(data)
    clips, subjects = {}, {}
    counts = {"occluded": 0, "missed": 0, "outside": 0, "points": 0, "kept_guesses": 0}
    for p_idx, (name, person) in enumerate(everyone.items()):
        split = person["meta"]["split"]
        clips[name], takes_meta = {}, {}
        for a_idx, scenario in enumerate(shop.ACTIONS):
            pool = pools[(split, SCENARIO_POOL[scenario])]
            done, take = 0, 0
            while done < frames:
                take_rng = np.random.default_rng([seed, p_idx, a_idx, take])
                source = pool[int(take_rng.integers(len(pool)))]
                pos, face, facts = scenario_take(scenario, data, source, person, take_rng)
                coco = cmu_to_coco17(pos, face)
                views = [
                    render(coco, cam, np.random.default_rng([seed, p_idx, a_idx, take, c]))
                    for c, cam in enumerate(cams)
                ]
                key = f"{scenario} {take + 1:02d}"
                clips[name][key] = {
                    "positions_3d": pos,
                    "face_3d": face,
                    "keypoints_2d": np.stack([v["keypoints"] for v in views]),
                    "scores_2d": np.stack([v["scores"] for v in views]),
                    "labels": np.full(len(pos), shop.ACTIONS.index(scenario)),
                    "clean_2d": np.stack([v["clean"] for v in views]),
                    "occluded": np.stack([v["occluded"] for v in views]),
                }
                for k in ("occluded", "missed", "outside"):
                    counts[k] += int(sum(v[k].sum() for v in views))
                counts["points"] += sum(v["missed"].size for v in views)
                counts["kept_guesses"] += sum(v["kept_guesses"] for v in views)
                takes_meta[key] = facts
                done += len(pos)
                take += 1
        subjects[name] = {**person["meta"], "takes": takes_meta}
    stats = {k: counts[k] / counts["points"] for k in ("occluded", "missed", "outside")}
    stats["kept_guesses"] = counts["kept_guesses"]
    return {"cameras": cams, "clips": clips, "subjects": subjects, "stats": stats}


def build(
    out_dir: str | Path | None = None,
    seed: int = SEED,
    frames: int = FRAMES_PER_SCENARIO,
    people=shop.SIM_SUBJECTS,
    data: default_data.DefaultData | None = None,
) -> Path:
    """Simulate the shop and write it in the shop format to ``out_dir`` (default
    :func:`default_dir`); returns the manifest's path."""
    out_dir = Path(out_dir) if out_dir is not None else default_dir()
    sim = simulate(seed, frames, people, data)
    fields = ("positions_3d", "keypoints_2d", "scores_2d", "labels")
    clips = {
        s: {k: {f: c[f] for f in fields} for k, c in takes.items()}
        for s, takes in sim["clips"].items()
    }
    about = {
        "title": "simulated shop (CMU and HDM05 motion)",
        "simulated": True,
        "not": "HRI-I (not public): a simulation built from real motion capture",
        "credit": shop.SPEC.credit,
        "generator": {
            "module": "dilpose.shop_sim",
            "seed": seed,
            "frames_per_scenario": frames,
            "fingerprint": fingerprint(seed, frames, people),
            "noise": NoiseConfig().to_dict(),
            "occlusion": {
                "score_factor": OCCLUDED_SCORE,
                "error_sigmas": OCCLUDED_ERROR_SIGMAS,
                "miss_rate": OCCLUDED_MISS_RATE,
            },
            "stats": sim["stats"],
        },
        "shelves": [{"name": s.name, "lo": list(s.lo), "hi": list(s.hi)} for s in SHELVES],
        "boards_m": list(BOARDS),
    }
    return shop.write(out_dir, sim["cameras"], clips, sim["subjects"], shop.ACTIONS, FPS, about)


def ensure(out_dir: str | Path | None = None) -> Path:
    """The simulated shop's folder, built first when it is missing or was built from other code,
    data or settings (its manifest's fingerprint differs)."""
    out_dir = Path(out_dir) if out_dir is not None else default_dir()
    manifest = out_dir / shop.MANIFEST
    if manifest.is_file():
        try:
            current = json.loads(manifest.read_text())["generator"]["fingerprint"]
        except (OSError, ValueError, KeyError, TypeError):
            current = None
        if current == fingerprint():
            return out_dir
    build(out_dir)
    return out_dir


def main() -> None:
    """``python -m dilpose.shop_sim`` (``make data``): rebuild ``data/shop_sim/`` and summarise."""
    path = build()
    data = shop.read(path.parent)
    frames = {a: 0 for a in shop.ACTIONS}
    for takes in data["clips"].values():
        for key, clip in takes.items():
            frames[key.split(" ")[0]] += len(clip["labels"])
    size = sum(f.stat().st_size for f in path.parent.iterdir()) / 1e6
    print(
        f"wrote {path.parent} ({size:.1f} MB): {len(data['clips'])} people, "
        f"{sum(frames.values())} poses at {FPS:g} Hz; per action {frames}",
        file=sys.stdout,
    )


if __name__ == "__main__":
    main()
