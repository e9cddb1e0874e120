"""3D pose error metrics: pure formulas (their pooling over a test set and Table I are
:mod:`dilpose.evaluate`'s).

Error functions (pred and target are (..., J, 3) joint positions in metres; every leading axis is a
batch/time axis and each index of them is one "frame"):

* :func:`mpjpe` (protocol 1): mean Euclidean distance between predicted and true joints.
* :func:`p_mpjpe` (protocol 2): MPJPE after a per-frame similarity (Procrustes) alignment of the
  prediction to the target: rotation (det +1, no reflection), uniform scale and translation.
* :func:`n_mpjpe` (protocol 3): MPJPE after a per-frame least-squares scale of the prediction.
* :func:`mpjve`: mean per-joint velocity error (first differences along a time axis).
* :func:`weighted_mpjpe`: MPJPE with a weight per frame (or joint), the trajectory loss of the
  paper's Eq. (1) with weight 1 / depth.

Each accepts numpy arrays or torch tensors and returns the same kind. The torch path keeps the
autograd graph, so the functions double as training losses; the numpy path runs the very same code
on float64 tensors without a graph and hands numpy back, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

# --------------------------------------------------------------------------------------------------
# numpy / torch dispatch


def _is_torch(*arrays) -> bool:
    return any(isinstance(a, torch.Tensor) for a in arrays)


def _as_float_tensor(a, like: torch.Tensor | None = None) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a if a.is_floating_point() else a.to(torch.get_default_dtype())
    if like is not None:
        return torch.as_tensor(np.asarray(a), dtype=like.dtype, device=like.device)
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def _run(fn: Callable[..., torch.Tensor], *arrays, **kwargs):
    """Call the torch implementation ``fn`` on ``arrays`` and return the caller's kind of array.

    Any tensor among the inputs -> compute in torch (graph kept, dtype/device of the first tensor
    for the non-tensor inputs) and return a tensor. Otherwise compute in float64 without a graph and
    return numpy (a numpy scalar for 0-d results).
    """
    if _is_torch(*arrays):
        like = next(a for a in arrays if isinstance(a, torch.Tensor))
        like = _as_float_tensor(like)
        return fn(*(_as_float_tensor(a, like) for a in arrays), **kwargs)
    with torch.no_grad():
        out = fn(*(_as_float_tensor(a) for a in arrays), **kwargs)
    if isinstance(out, tuple):
        return tuple(o.numpy()[()] for o in out)
    return out.numpy()[()]


def _check_pair(pred, target, name: str) -> None:
    """ValueError naming both shapes unless pred and target are the same (..., J, 3) shape."""
    ps, ts = tuple(np.shape(pred)), tuple(np.shape(target))
    if ps != ts:
        raise ValueError(f"{name}: pred shape {ps} and target shape {ts} differ")
    if len(ps) < 2 or ps[-1] != 3:
        raise ValueError(
            f"{name}: expected (..., J, 3) joint positions, got pred shape {ps} and "
            f"target shape {ts}"
        )


# --------------------------------------------------------------------------------------------------
# torch implementations (the single source of truth for both kinds of input)


def _per_frame_mpjpe_t(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    # vector_norm's backward is 0 (not NaN) where pred == target exactly, so a perfect joint is
    # safe.
    return torch.linalg.vector_norm(pred - target, dim=-1).mean(-1)


def _procrustes_t(pred: torch.Tensor, target: torch.Tensor):
    """Per-frame similarity transform of pred onto target; see :func:`procrustes_align`."""
    mu_p = pred.mean(-2, keepdim=True)
    mu_t = target.mean(-2, keepdim=True)
    p0, t0 = pred - mu_p, target - mu_t
    # Row-vector convention: we look for R (3x3), s, t minimising || s * p0 @ R - t0 ||. With
    # H = p0^T t0 = U S V^T the optimum over all orthogonal R is U V^T (Kabsch / Umeyama).
    h = p0.transpose(-1, -2) @ t0
    u, s, vh = torch.linalg.svd(h)
    # U V^T may be a reflection (det -1); a mirror image is not a valid rigid motion of a body, so
    # flip the sign of the last (smallest) singular vector, the cheapest change that makes det +1.
    # The sign itself is piecewise constant, so it carries no gradient.
    det = torch.linalg.det(u @ vh).detach()
    sign = torch.where(det < 0, -torch.ones_like(det), torch.ones_like(det))
    flip = torch.cat([torch.ones_like(s[..., :-1]), sign[..., None]], dim=-1)  # (..., 3): 1, 1, ±1
    rotation = u @ (vh * flip[..., :, None])
    # Least-squares scale given R: tr(R^T H) / ||p0||^2 = sum(flip * s) / ||p0||^2.
    norm_p = (p0**2).sum(dim=(-2, -1))
    # A frame with all joints at one point has no scale to fit; clamp keeps it finite (scale 0).
    scale = (flip * s).sum(-1) / norm_p.clamp_min(torch.finfo(norm_p.dtype).tiny)
    translation = mu_t[..., 0, :] - scale[..., None] * (mu_p @ rotation)[..., 0, :]
    aligned = scale[..., None, None] * (pred @ rotation) + translation[..., None, :]
    return aligned, rotation, scale, translation


def _per_frame_p_mpjpe_t(pred, target):
    return _per_frame_mpjpe_t(_procrustes_t(pred, target)[0], target)


def _per_frame_n_mpjpe_t(pred, target):
    # argmin_s || s * pred - target ||^2 = <pred, target> / <pred, pred>, per frame, over joints and
    # coordinates. No translation is fitted: inputs are expected root-relative (as in evaluate()).
    num = (pred * target).sum(dim=(-2, -1))
    den = (pred * pred).sum(dim=(-2, -1)).clamp_min(torch.finfo(pred.dtype).tiny)
    return _per_frame_mpjpe_t((num / den)[..., None, None] * pred, target)


def _per_frame_mpjve_t(pred, target, axis: int):
    return _per_frame_mpjpe_t(torch.diff(pred, dim=axis), torch.diff(target, dim=axis))


def _weighted_mpjpe_t(pred, target, w):
    dist = torch.linalg.vector_norm(pred - target, dim=-1)  # (..., J)
    if w.ndim == dist.ndim - 1:  # one weight per frame
        w = w[..., None]
    return (w * dist).mean()


# --------------------------------------------------------------------------------------------------
# public error functions


def per_frame_mpjpe(pred, target):
    """Protocol 1 per frame: mean over the J joints of ||pred_j - target_j||.

    pred, target: (..., J, 3), same units in, same units out (metres here). Returns (...,).
    """
    _check_pair(pred, target, "per_frame_mpjpe")
    return _run(_per_frame_mpjpe_t, pred, target)


def mpjpe(pred, target):
    """Protocol 1, MPJPE: mean Euclidean joint error over all frames and joints.

    pred, target: (..., J, 3) metres. Returns a scalar (numpy float64 or 0-d tensor), metres. No
    alignment of any kind: centre both on the root first if a root-relative error is wanted.
    """
    _check_pair(pred, target, "mpjpe")
    return _run(lambda p, t: _per_frame_mpjpe_t(p, t).mean(), pred, target)


def procrustes_align(pred, target):
    """Align each frame of pred to target with the best rotation, uniform scale and translation.

    pred, target: (..., J, 3). Returns ``(aligned, rotation, scale, translation)`` with shapes
    (..., J, 3), (..., 3, 3), (...,), (..., 3) such that, per frame,
    ``aligned = scale * pred @ rotation + translation`` (row vectors) minimises the summed squared
    distance to target, under the constraint det(rotation) = +1 (reflections are not allowed, so a
    mirror image of target is NOT aligned perfectly).

    Solved in closed form from the SVD of the 3x3 cross-covariance of the centred point sets. The
    torch version is differentiable except where singular values coincide (e.g. all joints
    collinear), where the SVD gradient is undefined.
    """
    _check_pair(pred, target, "procrustes_align")
    return _run(_procrustes_t, pred, target)


def per_frame_p_mpjpe(pred, target):
    """Protocol 2 per frame: MPJPE after :func:`procrustes_align`. (..., J, 3) -> (...,)."""
    _check_pair(pred, target, "per_frame_p_mpjpe")
    return _run(_per_frame_p_mpjpe_t, pred, target)


def p_mpjpe(pred, target):
    """Protocol 2, P-MPJPE: mean over frames of the MPJPE after a per-frame Procrustes alignment.

    pred, target: (..., J, 3) metres -> scalar metres. See :func:`procrustes_align` for the
    alignment (rotation with det +1, uniform scale, translation, fitted to each frame separately).
    """
    _check_pair(pred, target, "p_mpjpe")
    return _run(lambda p, t: _per_frame_p_mpjpe_t(p, t).mean(), pred, target)


def per_frame_n_mpjpe(pred, target):
    """Protocol 3 per frame: MPJPE of ``s * pred`` with s = <pred, target> / <pred, pred> per frame.

    (..., J, 3) -> (...,). Only a scale is fitted, no translation or rotation.
    """
    _check_pair(pred, target, "per_frame_n_mpjpe")
    return _run(_per_frame_n_mpjpe_t, pred, target)


def n_mpjpe(pred, target):
    """Protocol 3, N-MPJPE: MPJPE after the per-frame least-squares scale of pred to target.

    pred, target: (..., J, 3) metres (root-relative: the scale is about the origin) -> scalar
    metres.
    """
    _check_pair(pred, target, "n_mpjpe")
    return _run(lambda p, t: _per_frame_n_mpjpe_t(p, t).mean(), pred, target)


def _time_axis(shape: tuple, axis: int, name: str) -> int:
    ndim = len(shape)
    if not (-ndim <= axis < ndim and axis % ndim < ndim - 2):
        raise ValueError(
            f"{name}: time axis {axis} must be one of the leading axes of shape {shape} "
            f"(not the joint or coordinate axis)"
        )
    axis = axis % ndim
    if shape[axis] < 2:
        raise ValueError(
            f"{name}: need at least 2 frames along axis {axis} of shape {shape} to take a velocity"
        )
    return axis


def per_frame_mpjve(pred, target, axis: int = -3):
    """Per-frame velocity error: mean over joints of ||Δpred_j - Δtarget_j||, Δ = first difference.

    pred, target: (..., T, ..., J, 3) with the time axis ``axis`` (default -3, i.e. (..., T, J, 3)).
    Returns the shape of the input without (J, 3) and with T-1 along the time axis; units are
    input units per frame (no frame-rate scaling).
    """
    _check_pair(pred, target, "per_frame_mpjve")
    axis = _time_axis(tuple(np.shape(pred)), axis, "per_frame_mpjve")
    return _run(_per_frame_mpjve_t, pred, target, axis=axis)


def mpjve(pred, target, axis: int = -3):
    """MPJVE: mean per-joint velocity error, velocities being first differences along ``axis``.

    pred, target: (..., T, J, 3) metres (T >= 2) -> scalar metres per frame. A constant offset
    between pred and target has zero MPJVE.
    """
    _check_pair(pred, target, "mpjve")
    axis = _time_axis(tuple(np.shape(pred)), axis, "mpjve")
    return _run(lambda p, t: _per_frame_mpjve_t(p, t, axis).mean(), pred, target)


def weighted_mpjpe(pred, target, w):
    """Weighted MPJPE, the paper's Eq. (1) trajectory loss: mean over frames and joints of
    ``w * ||pred_j - target_j||``.

    pred, target: (..., J, 3) metres; for the trajectory model J = 1 (the root position in camera
    space). w: per-frame weights with shape ``pred.shape[:-2]``, or per-joint weights broadcastable
    to ``pred.shape[:-1]`` (same number of axes). For Eq. (1), w = 1 / depth of the true root, from
    :func:`inverse_depth_weights`: a far-away person's image moves little for the same 3D error, so
    unweighted, the loss would be dominated by distant subjects' hopeless depth errors.

    The weights are not normalised (the mean divides by the number of terms, not by sum(w)), so the
    value has units of metres / metre = dimensionless when w = 1/depth. Returns a scalar.
    """
    _check_pair(pred, target, "weighted_mpjpe")
    ps, ws = tuple(np.shape(pred)), tuple(np.shape(w))
    if len(ws) == len(ps) - 2:
        ok = ws == ps[:-2]
    elif len(ws) == len(ps) - 1:
        ok = all(a in (1, b) for a, b in zip(ws, ps[:-1]))
    else:
        ok = False
    if not ok:
        raise ValueError(
            f"weighted_mpjpe: weights shape {ws} fits neither per-frame {ps[:-2]} nor "
            f"per-joint {ps[:-1]} for pred shape {ps}"
        )
    return _run(_weighted_mpjpe_t, pred, target, w)


def inverse_depth_weights(target):
    """Eq. (1) weights: 1 / z of the true positions. target: (..., J, 3) camera metres -> (..., J).

    Raises ValueError if any depth is not positive (a point at or behind the camera has no weight).
    """
    if not isinstance(target, torch.Tensor):
        target = np.asarray(target, dtype=np.float64)
    if tuple(target.shape[-1:]) != (3,):
        raise ValueError(
            f"inverse_depth_weights: expected (..., J, 3), got shape {tuple(np.shape(target))}"
        )
    z = target[..., 2]
    if not bool((z > 0).all()):
        raise ValueError(
            "inverse_depth_weights: depths must be > 0 (points in front of the camera)"
        )
    return 1.0 / z
