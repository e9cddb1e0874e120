"""From a parsed BVH motion (:mod:`dilpose.bvh`) to joint positions in the project's layouts:
forward kinematics, resampling to the paper's frame rate, and the CMU-style skeleton's mapping to
H36M-17 and COCO-17 (with five face points placed in the head's frame).

Conventions (the BVH standard, as the CMU files use it):

* A joint's local rotation is the product of its per-axis rotations in the order its CHANNELS line
  lists them, column vectors, degrees: ``Zrotation Yrotation Xrotation`` gives ``R = Rz @ Ry @ Rx``.
* Global rotation ``R_j = R_parent @ R_local``; position
  ``p_j = p_parent + R_parent @ (offset_j + t_j)`` where ``t_j`` holds the joint's own position
  channels (zero if it has none). The root has no parent, so its position is ``offset + t``.

Positions come out in metres in the file's own axes (CMU: Y up, rest pose facing +Z, subject's left
+X). No axis change is made here; cameras and projection are another module's business.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .bvh import CMU_UNIT_TO_M, BVHMotion, parse_bvh
from .errors import DataError
from .skeleton import COCO17, FACE_POINT_OFFSETS, H36M17

#: The 17 BVH joints in H36M-17 order (README of the CMU data set, "Mapping to the 17-joint
#: layouts").
CMU_TO_H36M: tuple[str, ...] = (
    "Hips",
    "RightUpLeg",
    "RightLeg",
    "RightFoot",
    "LeftUpLeg",
    "LeftLeg",
    "LeftFoot",
    "Spine1",
    "Neck",
    "Neck1",
    "Head_end",
    "LeftArm",
    "LeftForeArm",
    "LeftHand",
    "RightArm",
    "RightForeArm",
    "RightHand",
)

# The face points and their head-frame offsets are skeleton facts (dilpose.skeleton); the
# importer only places them in each frame's head.
_FACE_COEFFS = FACE_POINT_OFFSETS

# COCO-17 joints 5..16 are H36M joints of the same body part; the H36M "foot" joint is the ankle.
_COCO_FROM_H36M = {
    "l_shoulder": "l_shoulder",
    "r_shoulder": "r_shoulder",
    "l_elbow": "l_elbow",
    "r_elbow": "r_elbow",
    "l_wrist": "l_wrist",
    "r_wrist": "r_wrist",
    "l_hip": "l_hip",
    "r_hip": "r_hip",
    "l_knee": "l_knee",
    "r_knee": "r_knee",
    "l_ankle": "l_foot",
    "r_ankle": "r_foot",
}


# ------------------------------------------------------------------------------- forward kinematics


def _axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """(F,) angles in degrees -> (F, 3, 3) right-handed rotations about the X, Y or Z axis."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(a.shape + (3, 3))
    i, j = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}[axis]  # the plane the rotation turns, i -> j
    k = 3 - i - j
    R[..., k, k] = 1.0
    R[..., i, i] = c
    R[..., j, j] = c
    R[..., i, j] = -s
    R[..., j, i] = s
    return R


# Overflow (inf, then inf - inf = NaN) is reported once at the end as a DataError naming the joint
# and frame, instead of leaking numpy RuntimeWarnings and returning non-finite positions.
@np.errstate(over="ignore", invalid="ignore")
def forward_kinematics(
    motion: BVHMotion, unit_to_m: float = CMU_UNIT_TO_M
) -> tuple[np.ndarray, np.ndarray]:
    """Global joint positions and rotations for every frame.

    Returns ``positions`` (F, J, 3) in metres (file units times ``unit_to_m``; file axes, CMU: Y up)
    and ``rotations`` (F, J, 3, 3), each joint's global rotation (an end site has its parent's).
    Vectorised over frames; the loop runs over joints only. Raises DataError naming the file for a
    motion without frames and for positions that overflow float64 (offsets or values near 1e308).
    """
    J = len(motion.joint_names)
    F = motion.motion.shape[0]
    assert motion.offsets.shape == (J, 3) and motion.parents.shape == (J,)
    assert motion.motion.shape == (F, sum(map(len, motion.channels)))
    if not (unit_to_m > 0 and math.isfinite(unit_to_m)):
        raise DataError(motion.source, f"unit_to_m must be positive and finite, got {unit_to_m}")
    if F == 0:
        raise DataError(motion.source, "MOTION has 0 frames")

    positions = np.zeros((F, J, 3))
    rotations = np.zeros((F, J, 3, 3))
    eye = np.broadcast_to(np.eye(3), (F, 3, 3))
    col = 0
    for j in range(J):
        p = int(motion.parents[j])
        if p >= j:
            # FK fills joints in order, so a parent must come first (parse_bvh guarantees it).
            raise DataError(motion.source, f"joint {motion.joint_names[j]!r} precedes its parent")
        local_t = np.repeat(motion.offsets[j][None], F, axis=0)
        local_R = None
        for name in motion.channels[j]:
            values = motion.motion[:, col]
            col += 1
            axis = name[0]
            if name.endswith("position"):
                local_t[:, "XYZ".index(axis)] += values
            else:
                r = _axis_rotation(axis, values)
                local_R = r if local_R is None else local_R @ r
        if p < 0:
            positions[:, j] = local_t
            rotations[:, j] = eye if local_R is None else local_R
        else:
            parent_R = rotations[:, p]
            positions[:, j] = positions[:, p] + np.einsum("fij,fj->fi", parent_R, local_t)
            rotations[:, j] = parent_R if local_R is None else parent_R @ local_R
    positions *= unit_to_m
    bad = ~(np.isfinite(positions).all(-1) & np.isfinite(rotations).all((-2, -1)))  # (F, J)
    if bad.any():
        f, j = np.argwhere(bad)[0]
        raise DataError(
            motion.source,
            f"forward kinematics: joint {motion.joint_names[j]!r} is not finite "
            f"at frame {f + 1} (offsets or channel values too large or not finite)",
        )
    return positions, rotations


# --------------------------------------------------------------------------------------- resampling

#: resample() refuses to produce more values than this (2 GiB of float64): only a wrong frame rate
#: gets near it (an hour of 17 joints at 1000 Hz is 1.8e8 values).
_MAX_RESAMPLED_VALUES = 2**28


def resample(
    x: np.ndarray, src_hz: float, dst_hz: float, *, source: str | Path | None = None
) -> np.ndarray:
    """Resample a sequence by linear interpolation in time.

    x: (F, ...) samples at times ``i / src_hz``. Returns (F', ...) samples at ``t_k = k / dst_hz``
    for every k with ``t_k <= (F - 1) / src_hz`` (so F' = floor((F - 1) * dst_hz / src_hz) + 1).
    Every output frame blends its two neighbouring input frames; no frame is simply dropped, so
    120 -> 50 Hz has no jitter from an uneven 2-3-2-3 frame pick. Integer input becomes float64.
    source: the file the sequence came from, named in DataError messages (bad rates, no frames, or
    an output of more than 2**28 values, which only a wrong frame rate produces).
    """
    x = np.asarray(x)
    assert x.ndim >= 1, "x is (F, ...)"
    if not (src_hz > 0 and dst_hz > 0 and math.isfinite(src_hz) and math.isfinite(dst_hz)):
        raise DataError(
            source, f"resample: rates must be positive and finite, got {src_hz} -> {dst_hz}"
        )
    F = x.shape[0]
    if F == 0:
        raise DataError(source, "resample: empty sequence")
    x = x.astype(np.float64, copy=False)
    # The small epsilon keeps the last sample when (F-1)*dst/src is an integer up to rounding.
    span = (F - 1) * dst_hz / src_hz + 1e-9
    # A nonsense rate (a file's 'Frame Time: 1e6', or 1e-308 Hz) would make the output infinite or
    # of many GB; refuse it before np.arange allocates.
    n_values = (span + 1) * (x.size // F)
    if not (math.isfinite(span) and n_values <= _MAX_RESAMPLED_VALUES):
        n_frames = math.floor(span) + 1 if math.isfinite(span) else math.inf
        raise DataError(
            source,
            f"resample: {F} frames at {src_hz:g} Hz -> {dst_hz:g} Hz would give "
            f"{n_frames} frames; is the frame rate right?",
        )
    n_out = int(math.floor(span)) + 1
    pos = np.arange(n_out) * src_hz / dst_hz  # output times in input-frame units
    i0 = np.minimum(np.floor(pos + 1e-9).astype(np.int64), max(F - 2, 0))
    w = np.clip(pos - i0, 0.0, 1.0)
    i1 = np.minimum(i0 + 1, F - 1)
    w = w.reshape((-1,) + (1,) * (x.ndim - 1))
    return (1.0 - w) * x[i0] + w * x[i1]


# -------------------------------------------------------------------------------- CMU joint mapping


def _indices(joint_names, wanted, source, what) -> list[int]:
    names = list(joint_names)
    missing = [n for n in wanted if n not in names]
    if missing:
        raise DataError(source, f"{what}: joint(s) {missing} missing from the skeleton")
    return [names.index(n) for n in wanted]


def cmu_to_h36m17(positions: np.ndarray, joint_names, *, source=None) -> np.ndarray:
    """Select the H36M-17 joints from CMU BVH joints.

    positions: (F, J, 3) global joint positions (any unit) in the order of ``joint_names`` (J names,
    as :class:`BVHMotion` gives them). Returns (F, 17, 3) in H36M17 order (see :data:`CMU_TO_H36M`).
    Raises DataError (naming ``source``) if a needed joint is missing.
    """
    positions = np.asarray(positions)
    assert positions.ndim == 3 and positions.shape[1:] == (len(joint_names), 3), (
        f"positions must be (F, {len(joint_names)}, 3), got {positions.shape}"
    )
    idx = _indices(joint_names, CMU_TO_H36M, source, "cmu_to_h36m17")
    return positions[:, idx]


def cmu_face_points(
    positions: np.ndarray, rotations: np.ndarray, joint_names, *, source=None
) -> np.ndarray:
    """Synthesise nose, eyes and ears from the CMU head segment (CMU has no face markers).

    positions: (F, J, 3) global positions; rotations: (F, J, 3, 3) global rotations, both from
    :func:`forward_kinematics`, CMU axes (rest pose faces +Z). Returns (F, 5, 3) in COCO order
    nose, l_eye, r_eye, l_ear, r_ear, same unit as ``positions``.

    With Hj = Head, Ht = Head_end, h = |Ht - Hj|, u = (Ht - Hj)/h, f = Head's global rotation
    applied to +Z made orthogonal to u, and l = u x f (subject's left), each point is
    Hj + h * (a u + b f + c l) with the README's anthropometric (a, b, c).
    """
    positions = np.asarray(positions, dtype=np.float64)
    rotations = np.asarray(rotations, dtype=np.float64)
    J = len(joint_names)
    assert positions.ndim == 3 and positions.shape[1:] == (J, 3), f"positions must be (F, {J}, 3)"
    assert rotations.shape == positions.shape[:2] + (3, 3), f"rotations must be (F, {J}, 3, 3)"
    head, top = _indices(joint_names, ("Head", "Head_end"), source, "cmu_face_points")

    hj = positions[:, head]
    seg = positions[:, top] - hj
    h = np.linalg.norm(seg, axis=-1, keepdims=True)
    if not (h > 0).all():
        raise DataError(source, "cmu_face_points: zero-length head segment (Head == Head_end)")
    u = seg / h
    f = rotations[:, head, :, 2]  # R @ (0, 0, 1) is R's third column
    f = f - np.sum(f * u, -1, keepdims=True) * u
    fn = np.linalg.norm(f, axis=-1, keepdims=True)
    if not (fn > 1e-6).all():
        raise DataError(
            source, "cmu_face_points: the head's facing direction is parallel to the head segment"
        )
    f = f / fn
    side = np.cross(u, f)
    basis = np.stack([u, f, side], axis=-2)  # (F, 3 axes, 3 xyz)
    return hj[:, None] + h[:, None] * np.einsum("pa,fax->fpx", _FACE_COEFFS, basis)


def cmu_to_coco17(h36m: np.ndarray, face: np.ndarray) -> np.ndarray:
    """Assemble COCO-17 3D joints.

    h36m: (F, 17, 3) H36M-17 joints; face: (F, 5, 3) nose, l_eye, r_eye, l_ear, r_ear
    (:func:`cmu_face_points`). Returns (F, 17, 3) in COCO17 order: the face points, then shoulders,
    elbows, wrists, hips, knees and ankles taken from the H36M joints of the same name (H36M's
    "foot" joint is the ankle).
    """
    h36m = np.asarray(h36m)
    face = np.asarray(face)
    assert h36m.ndim == 3 and h36m.shape[1:] == (17, 3), (
        f"h36m must be (F, 17, 3), got {h36m.shape}"
    )
    assert face.shape == (h36m.shape[0], 5, 3), (
        f"face must be ({h36m.shape[0]}, 5, 3), got {face.shape}"
    )
    body = [H36M17.index(_COCO_FROM_H36M[name]) for name in COCO17.joint_names[5:]]
    return np.concatenate([face, h36m[:, body]], axis=1)


def load_cmu_clip(
    path: str | Path, target_hz: float = 50.0, unit_to_m: float = CMU_UNIT_TO_M
) -> dict:
    """Load a CMU BVH clip as H36M-17 joints and face points at ``target_hz``.

    Returns a dict with ``h36m`` (T, 17, 3) and ``face`` (T, 5, 3) float64 metres in the BVH's own
    axes (Y up, rest pose facing +Z), ``fps`` (= target_hz), ``source_fps`` (the file's rate) and
    ``source`` (the path).

    The 3D positions are resampled after forward kinematics rather than the Euler angles before it:
    interpolating Euler angles misbehaves at wrap-around (179 -> -179 deg) and near gimbal lock,
    while interpolating positions only shortens a rigid bone between two samples by the chord-vs-arc
    error L (1 - cos(theta/2)); at 120 Hz a limb turns at most a few degrees per frame, so for a
    0.4 m bone turning 5 deg per frame that is under 0.4 mm, far below any pose-error metric.
    """
    motion = parse_bvh(path)
    if not (target_hz > 0 and math.isfinite(target_hz)):
        raise DataError(motion.source, f"target_hz must be positive, got {target_hz}")
    positions, rotations = forward_kinematics(motion, unit_to_m)
    h36m = cmu_to_h36m17(positions, motion.joint_names, source=motion.source)
    face = cmu_face_points(positions, rotations, motion.joint_names, source=motion.source)
    return {
        "h36m": resample(h36m, motion.fps, target_hz, source=motion.source),
        "face": resample(face, motion.fps, target_hz, source=motion.source),
        "fps": float(target_hz),
        "source_fps": motion.fps,
        "source": motion.source,
    }
