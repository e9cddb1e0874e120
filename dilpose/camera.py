"""Calibrated cameras: world <-> camera transforms, projection with lens distortion, and the
pixel <-> normalised screen coordinate maps, all in VideoPose3D's conventions so that its npz files
(and its 9-number intrinsic vectors) work unchanged.

Conventions
-----------
* World and camera coordinates are metres. Camera space: x right, y down, z forward (optical axis).
* ``orientation`` is a unit quaternion [w, x, y, z] giving the camera->world rotation;
  ``translation`` is the camera centre in world coordinates (metres; Human3.6M's JSON stores mm).
* Normalised screen coordinates map the image width to [-1, 1] keeping the aspect ratio:
  ``u_norm = u / w * 2 - 1``, ``v_norm = v / w * 2 - h / w``.
* The intrinsic vector (9,) is ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` in normalised units
  (focal / w * 2, centre normalised as above), k = radial and p = tangential distortion.
* Distortion is applied as VideoPose3D does: with ``x = clip(X/Z, -1, 1)`` (each of x, y clamped
  to [-1, 1], i.e. at most 45 degrees off the optical axis, before the distortion polynomial),
  ``r2 = |x|^2``, ``radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3``, ``tan = p1 x + p2 y``,
  ``x' = x * (radial + tan) + [p1, p2] * r2``, then ``f * x' + c``. The clamp puts a point far
  outside the field of view, or behind the camera, on the border of the square |x|, |y| <= 1 (well
  outside the image) instead of at ~1e33 (r2^3 blows up). Human3.6M's images end at |X/Z| < 0.46
  (24 degrees), so points in view are unaffected.
  Unlike VideoPose3D, Z is first floored at 1e-6 so a point on or behind the camera plane gives a
  finite value and finite gradients. :func:`project_to_2d_linear` uses the same clamped ``x``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import limits, paths
from .errors import DataError

# Human3.6M's own names of the four cameras, in VideoPose3D's order.
H36M_CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")


# --------------------------------------------------------------------------------------------------
# Quaternions (numpy; [w, x, y, z], broadcasting over leading axes)
# --------------------------------------------------------------------------------------------------
def qrot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v (..., 3) by unit quaternions q (4,) or (..., 4). Returns (..., 3)."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    assert q.shape[-1] == 4 and v.shape[-1] == 3
    w, u = q[..., :1], q[..., 1:]
    # v' = v + 2w (u x v) + 2 u x (u x v): the quaternion sandwich without building matrices.
    uv = np.cross(u, v)
    return v + 2.0 * (w * uv + np.cross(u, uv))


def qinverse(q: np.ndarray) -> np.ndarray:
    """Inverse of unit quaternions (..., 4): the conjugate."""
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Unit quaternion (4,) [w, x, y, z] -> rotation matrix (3, 3)."""
    return qrot(q, np.eye(3)).T  # columns are the images of the basis vectors


# --------------------------------------------------------------------------------------------------
# Camera parameters
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Camera:
    """One calibrated camera. Intrinsics in pixels, extrinsics in metres (see module docstring)."""

    id: str
    res_w: int
    res_h: int
    focal_length: tuple[float, float]  # fx, fy (pixels)
    center: tuple[float, float]  # cx, cy (pixels)
    radial_distortion: tuple[float, float, float] = (0.0, 0.0, 0.0)  # k1, k2, k3
    tangential_distortion: tuple[float, float] = (0.0, 0.0)  # p1, p2
    # camera->world, [w,x,y,z]
    orientation: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)  # camera centre, world metres
    azimuth: float = field(default=0.0, compare=False)  # for plots only

    def intrinsic_vector(self) -> np.ndarray:
        """The (9,) normalised intrinsics ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]``."""
        f = np.asarray(self.focal_length) / self.res_w * 2.0
        c = normalize_screen_coordinates(np.asarray(self.center), self.res_w, self.res_h)
        return np.concatenate([f, c, self.radial_distortion, self.tangential_distortion])

    def world_to_camera(self, X: np.ndarray) -> np.ndarray:
        return world_to_camera(X, self.orientation, self.translation)

    def camera_to_world(self, X: np.ndarray) -> np.ndarray:
        return camera_to_world(X, self.orientation, self.translation)

    def project(self, X_world: np.ndarray) -> np.ndarray:
        """World points (..., 3) metres -> pixel coordinates (..., 2), with distortion."""
        X_cam = self.world_to_camera(X_world)
        return image_coordinates(
            project_to_2d(X_cam, self.intrinsic_vector()), self.res_w, self.res_h
        )

    def project_linear(self, X_world: np.ndarray) -> np.ndarray:
        """World points (..., 3) metres -> pixel coordinates (..., 2) through the ideal pinhole,
        without lens distortion (:func:`project_to_2d_linear`): :meth:`project` minus this is
        what the distortion moves a point by."""
        X_cam = self.world_to_camera(X_world)
        return image_coordinates(
            project_to_2d_linear(X_cam, self.intrinsic_vector()), self.res_w, self.res_h
        )

    def position(self) -> np.ndarray:
        return np.asarray(self.translation, dtype=np.float64)

    def optical_axis(self) -> np.ndarray:
        """Unit viewing direction (camera +z) in world coordinates."""
        return qrot(np.asarray(self.orientation), np.array([0.0, 0.0, 1.0]))


def world_to_camera(X: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """World (..., 3) -> camera (..., 3): ``qrot(q^-1, X - t)``. R: camera->world quaternion."""
    X = np.asarray(X, dtype=np.float64)
    return qrot(qinverse(R), X - np.asarray(t, dtype=np.float64))


def camera_to_world(X: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Camera (..., 3) -> world (..., 3): ``qrot(q, X) + t``."""
    return qrot(R, np.asarray(X, dtype=np.float64)) + np.asarray(t, dtype=np.float64)


def normalize_screen_coordinates(X: np.ndarray, w: float, h: float) -> np.ndarray:
    """Pixels (..., 2) -> normalised screen coordinates: [0, w] maps to [-1, 1], aspect kept."""
    X = np.asarray(X, dtype=np.float64)
    assert X.shape[-1] == 2, f"expected (..., 2) pixel coordinates, got {X.shape}"
    return X / w * 2.0 - np.array([1.0, h / w])


def image_coordinates(X: np.ndarray, w: float, h: float) -> np.ndarray:
    """Inverse of :func:`normalize_screen_coordinates`: normalised (..., 2) -> pixels."""
    X = np.asarray(X, dtype=np.float64)
    assert X.shape[-1] == 2, f"expected (..., 2) screen coordinates, got {X.shape}"
    return (X + np.array([1.0, h / w])) * w / 2.0


def project_to_2d(X: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Camera-space points (..., 3) metres -> normalised screen coordinates (..., 2), with
    distortion.

    intrinsics: (9,) or broadcastable (..., 9) normalised vector (see
    :meth:`Camera.intrinsic_vector`). Works on numpy arrays and on torch tensors (the
    semi-supervised reprojection loss uses torch).
    """
    assert X.shape[-1] == 3, f"expected (..., 3) camera-space points, got {tuple(X.shape)}"
    assert intrinsics.shape[-1] == 9, f"expected (..., 9) intrinsics, got {tuple(intrinsics.shape)}"
    if _is_torch(X):
        import torch

        intrinsics = torch.as_tensor(intrinsics, dtype=X.dtype, device=X.device)
        cat = torch.cat
        total = lambda a: a.sum(-1, keepdim=True)  # noqa: E731
    else:
        intrinsics = np.asarray(intrinsics, dtype=np.float64)
        cat = np.concatenate
        total = lambda a: a.sum(-1, keepdims=True)  # noqa: E731
    while intrinsics.ndim < X.ndim:  # broadcast (N, 9) over the joint axis etc.
        intrinsics = intrinsics[..., None, :]
    f, c = intrinsics[..., 0:2], intrinsics[..., 2:4]
    k, p = intrinsics[..., 4:7], intrinsics[..., 7:9]
    XX = _clamped_xy(X)
    r2 = total(XX**2)
    radial = 1 + total(k * cat((r2, r2**2, r2**3), -1))
    tan = total(p * XX)
    XXX = XX * (radial + tan) + p * r2
    return f * XXX + c


def project_to_2d_linear(X: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Pinhole projection without distortion (..., 3) -> (..., 2) normalised; numpy or torch.

    ``f * x + c`` with the same clamped ``x = X/Z`` as :func:`project_to_2d` (VideoPose3D clamps
    here too), so the two agree exactly when the distortion coefficients are zero.
    """
    assert X.shape[-1] == 3 and intrinsics.shape[-1] == 9
    f, c = intrinsics[..., 0:2], intrinsics[..., 2:4]
    while f.ndim < X.ndim:
        f, c = f[..., None, :], c[..., None, :]
    return f * _clamped_xy(X) + c


def _is_torch(X) -> bool:
    return type(X).__module__.startswith("torch")


def _clamped_xy(X):
    """Camera-space points (..., 3) -> (..., 2) ``clip(X/Z, -1, 1)`` with Z floored at 1e-6; numpy
    or torch.

    The floor keeps a point on or behind the camera plane from dividing by ~0 (finite values and
    gradients); the [-1, 1] clamp is VideoPose3D's, so such points and points far outside the view
    land on the border of the square |x|, |y| <= 1 instead of being sent to ~1e33 by the distortion
    polynomial.
    Inside the clamp nothing changes. Outside it, torch gives a zero gradient for that coordinate.
    """
    if _is_torch(X):
        import torch

        return torch.clamp(X[..., :2] / torch.clamp(X[..., 2:3], 1e-6, None), -1.0, 1.0)
    return np.clip(X[..., :2] / np.clip(X[..., 2:3], 1e-6, None), -1.0, 1.0)


# --------------------------------------------------------------------------------------------------
# Human3.6M parameters (package data)
# --------------------------------------------------------------------------------------------------
def load_h36m_cameras(path: str | Path | None = None) -> dict[str, list[Camera]]:
    """Human3.6M's four cameras for each subject that has extrinsics.

    Returns ``{subject: [Camera x 4]}`` (S1, S5, S6, S7, S8, S9, S11), translations in metres.
    The JSON (``dilpose/resources/h36m_cameras.json``) records its provenance in ``_source``.
    """
    path = Path(path) if path is not None else paths.H36M_CAMERAS
    spec = limits.read_json(path, "camera JSON")  # a regular file; size, depth, numbers bounded
    if not isinstance(spec, dict):
        raise DataError(path, "the camera JSON must be an object")
    for key in ("intrinsics", "extrinsics"):
        if key not in spec:
            raise DataError(path, f"missing key {key!r}")
    intr = spec["intrinsics"]
    if len(intr) != 4:
        raise DataError(path, f"expected 4 cameras' intrinsics, got {len(intr)}")
    cameras: dict[str, list[Camera]] = {}
    for subject, extr in spec["extrinsics"].items():
        if not extr:  # S2-S4 have none
            continue
        if len(extr) != 4:
            raise DataError(path, f"subject {subject}: expected 4 extrinsics, got {len(extr)}")
        cams = []
        for i, (ci, ce) in enumerate(zip(intr, extr)):
            try:
                cams.append(
                    Camera(
                        id=str(ci["id"]),
                        res_w=int(ci["res_w"]),
                        res_h=int(ci["res_h"]),
                        focal_length=tuple(ci["focal_length"]),
                        center=tuple(ci["center"]),
                        radial_distortion=tuple(ci["radial_distortion"]),
                        tangential_distortion=tuple(ci["tangential_distortion"]),
                        orientation=tuple(ce["orientation"]),
                        # mm -> m
                        translation=tuple(np.asarray(ce["translation"], dtype=np.float64) / 1000.0),
                        azimuth=float(ci.get("azimuth", 0.0)),
                    )
                )
            except (KeyError, TypeError, ValueError) as e:
                raise DataError(
                    path, f"subject {subject}, camera {i}: bad or missing field ({e})"
                ) from e
        cameras[subject] = cams
    return cameras
