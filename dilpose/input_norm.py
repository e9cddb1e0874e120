"""How 2D keypoints in pixels become the numbers a model reads: the two input conventions.

* ``screen`` (VideoPose3D's, every model before the camera-robust ones): pixels divided by the
  image width, ``x / w * 2 - 1`` and ``y / w * 2 - h / w``. It needs only the image size, but a
  person's size in these units is ``focal / width`` times their size on the sensor, so a model
  that has seen one lens reads a wider lens as a smaller (further, or shorter) person.
* ``focal`` (intrinsics-aware): ``(pixel - principal point) / focal length``, the tangent of each
  point's ray, the same for every image size and lens. It needs the focal length in pixels (or the
  horizontal field of view, :func:`focal_from_fov`); the principal point defaults to the image
  centre.

A checkpoint records the convention it was trained on (``input.normalization``,
:func:`dilpose.checkpoints.input_spec`) and ``dilpose lift`` refuses to feed it input prepared the
other way. Lens distortion is left in the points in both conventions: the camera-robust models are
trained on distorted renderings (:mod:`dilpose.virtual_cameras`), as a user's detector would see.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

SCREEN = "screen"
FOCAL = "focal"
#: convention -> what a checkpoint's input record says it needs, in words.
CONVENTIONS = {
    SCREEN: "per-video width and height in pixels",
    FOCAL: "per-video width and height, and the focal length in pixels (or the field of view)",
}


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(
            f"unknown input convention {convention!r}; the conventions are {sorted(CONVENTIONS)}"
        )
    return convention


def focal_from_fov(fov_deg: float, width: float) -> float:
    """Focal length in pixels of a pinhole camera whose image, ``width`` pixels wide, spans
    ``fov_deg`` degrees horizontally."""
    fov_deg, width = float(fov_deg), float(width)
    if not 0.0 < fov_deg < 180.0 or not math.isfinite(fov_deg):
        raise ValueError(
            f"a field of view must lie strictly between 0 and 180 degrees, not {fov_deg}"
        )
    if not width > 0:
        raise ValueError(f"the image width must be positive, not {width}")
    return width / 2.0 / math.tan(math.radians(fov_deg) / 2.0)


def normalise(
    pixels: np.ndarray,
    convention: str,
    width: float,
    height: float,
    focal: float | tuple[float, float] | None = None,
    center: tuple[float, float] | None = None,
) -> np.ndarray:
    """Pixels (..., 2) -> the model's input (..., 2) float64 in ``convention``.

    width, height: the image size in pixels. focal: (fx, fy) or one value, pixels; required by
    ``focal`` and ignored by ``screen``. center: the principal point in pixels (default the image
    centre).
    """
    check_convention(convention)
    X = np.asarray(pixels, dtype=np.float64)
    if X.shape[-1] != 2:
        raise ValueError(f"expected (..., 2) pixel coordinates, got {X.shape}")
    if convention == SCREEN:
        return X / width * 2.0 - np.array([1.0, height / width])
    if focal is None:
        raise ValueError("the focal convention needs the focal length (or the field of view)")
    f = np.broadcast_to(np.asarray(focal, dtype=np.float64), (2,))
    if not (np.isfinite(f).all() and (f > 0).all()):
        raise ValueError(f"a focal length must be a positive number of pixels, not {f.tolist()}")
    c = np.array([width / 2.0, height / 2.0]) if center is None else np.asarray(center, float)
    return (X - c) / f


def camera_input(pixels: np.ndarray, convention: str, camera) -> np.ndarray:
    """:func:`normalise` with a :class:`dilpose.camera.Camera`'s image size, focal length and
    principal point: what a model reads from pixels that camera saw."""
    return normalise(
        pixels, convention, camera.res_w, camera.res_h, camera.focal_length, camera.center
    )


def screen_to_focal(keypoints_2d: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Screen-normalised 2D (..., 2) -> the focal convention, with the camera's normalised
    intrinsics (9,) ``[fx, fy, cx, cy, ...]`` (:meth:`dilpose.camera.Camera.intrinsic_vector`).

    Both conventions are affine in the pixels, and the normalised focal length and centre carry the
    same ``2 / w`` factor as the points, so ``(x - cx) / fx`` in screen units equals
    ``(u - cx_px) / fx_px`` in pixels: a model-ready sequence converts without its image size.
    """
    intr = np.asarray(intrinsics, dtype=np.float64)
    if intr.shape[-1] < 4 or not (intr[..., :2] > 0).all():
        raise ValueError("the focal convention needs the camera's focal length (intrinsics)")
    return (np.asarray(keypoints_2d, np.float64) - intr[..., 2:4]) / intr[..., :2]


def as_convention(seq, convention: str):
    """A :class:`~dilpose.datasets.Sequence` in screen convention (every dataset's) re-expressed in
    ``convention``: itself for ``screen``, a copy with :func:`screen_to_focal` inputs for
    ``focal``."""
    check_convention(convention)
    if convention == SCREEN:
        return seq
    kp = screen_to_focal(seq.keypoints_2d, seq.intrinsics).astype(np.float32)
    return dataclasses.replace(seq, keypoints_2d=kp)
