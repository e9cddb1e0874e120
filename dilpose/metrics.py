"""3D pose error metrics, their aggregation over a test set, and the paper's Table I.

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

:func:`evaluate` pools per-frame errors of many sequences into per-action and overall numbers (mm)
and writes down the exact protocol; :func:`table_i` sets measured numbers beside the paper's
Table I.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from . import skeleton as sk
from .errors import DataError

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


# --------------------------------------------------------------------------------------------------
# aggregation over a test set

METRICS = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")

_METRIC_WORDS = {
    "mpjpe": (
        "Protocol 1 (MPJPE): per frame, mean over the joints of the Euclidean distance between "
        "predicted and ground-truth joint positions; no alignment beyond the root centring "
        "stated under 'joints'."
    ),
    "p_mpjpe": (
        "Protocol 2 (P-MPJPE): per frame, the prediction is aligned to the ground truth by the "
        "least-squares similarity transform (rotation with det +1 via SVD, reflections not "
        "allowed; one uniform scale; translation), then MPJPE of that frame."
    ),
    "n_mpjpe": "Protocol 3 (N-MPJPE): per frame, the prediction is multiplied by the least-squares "
    "scale s = <pred, gt> / <pred, pred> (about the origin, no rotation or translation), "
    "then MPJPE of that frame.",
    "mpjve": "MPJVE: per frame pair, velocities are first differences of consecutive frames of one "
    "sequence (no frame-rate scaling, so mm per frame); the mean over joints of the Euclidean "
    "distance between predicted and ground-truth velocities. A sequence of T frames gives "
    "T-1 values; sequences are never differenced across their boundaries.",
}

_PER_FRAME = {
    "mpjpe": _per_frame_mpjpe_t,
    "p_mpjpe": _per_frame_p_mpjpe_t,
    "n_mpjpe": _per_frame_n_mpjpe_t,
    "mpjve": lambda p, t: _per_frame_mpjve_t(p, t, axis=0),
}


def h36m_action_base(action: str) -> str:
    """``"Directions 1"`` -> ``"Directions"``: drop the take number VideoPose3D's files append.

    Human3.6M action names contain no spaces, so this is the project's one action-name rule,
    :func:`dilpose.datasets.action_category` (the part before the first space).
    """
    from .datasets.base import action_category  # the rule lives with the data; imported when used

    return action_category(action)


def evaluate(
    results: Sequence[Mapping[str, Any]],
    *,
    flip_test: bool,
    root_relative: bool = True,
    root_joint: int = 0,
    joint_layout: str | None = "h36m17",
    action_of: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Errors of a whole test set, per action and overall, in millimetres, with a written protocol.

    results: one record per test sequence, a mapping with ``action`` (str), ``subject`` (str),
        ``pred`` and ``target`` ((T, J, 3) metres, same shape, finite).
    flip_test: whether the caller averaged the prediction with that of the horizontally flipped
        input (test-time augmentation). Not applied here, only recorded in the protocol, so it is
        required.
    root_relative: subtract joint ``root_joint`` from pred and target in every frame before every
        metric (VideoPose3D's evaluation: the root's own error is then 0 and it still counts in the
        mean over J joints). With False, pred and target are used as given.
    joint_layout: name of the joint order (``dilpose.skeleton.get``); J must match it. None:
        unchecked.
    action_of: maps a record's action to the action it is pooled under; default: the name as given.
        Pass :func:`h36m_action_base` for Human3.6M so that "Directions" and "Directions 1" pool.

    Returns ``{metric: {"per_action": {action: mm}, "action_mean": mm, "frame_mean": mm,
    "num_frames": {action: n}}`` for metric in :data:`METRICS`, plus ``"protocol"`` (a dict of words
    and settings). per_action pools the frames of all sequences (all subjects) of an action and
    takes their mean; action_mean is the unweighted mean of per_action (VideoPose3D's reported
    number); frame_mean is the mean over every frame of the test set (MMPose's). For mpjve, frames
    are velocity frames (T-1 per sequence); an action whose sequences all have T = 1 gets NaN there
    and is left out of action_mean.
    """
    if len(results) == 0:
        raise DataError("evaluate", "no results to evaluate")
    group = action_of or (lambda a: a)
    expected_j = sk.get(joint_layout).num_joints if joint_layout is not None else None

    per_frame: dict[str, dict[str, list[np.ndarray]]] = {m: {} for m in METRICS}
    subjects, num_joints = set(), None
    for i, rec in enumerate(results):
        missing = [k for k in ("action", "subject", "pred", "target") if k not in rec]
        if missing:
            raise DataError(f"results[{i}]", f"record lacks {missing}")
        src = f"results[{i}] ({rec['subject']}, {rec['action']})"
        pred = np.asarray(rec["pred"], dtype=np.float64)
        target = np.asarray(rec["target"], dtype=np.float64)
        if pred.shape != target.shape or pred.ndim != 3 or pred.shape[-1] != 3 or pred.shape[0] < 1:
            raise DataError(
                src, f"pred {pred.shape} and target {target.shape} must both be (T, J, 3), T >= 1"
            )
        if expected_j is not None and pred.shape[1] != expected_j:
            raise DataError(
                src, f"{pred.shape[1]} joints, but layout {joint_layout} has {expected_j}"
            )
        if num_joints is not None and pred.shape[1] != num_joints:
            raise DataError(src, f"{pred.shape[1]} joints, earlier records had {num_joints}")
        if not (np.isfinite(pred).all() and np.isfinite(target).all()):
            raise DataError(src, "pred or target has non-finite values")
        num_joints = pred.shape[1]
        if root_relative:
            pred = pred - pred[:, root_joint : root_joint + 1]
            target = target - target[:, root_joint : root_joint + 1]
        action = group(str(rec["action"]))
        subjects.add(str(rec["subject"]))
        p, t = torch.from_numpy(pred), torch.from_numpy(target)
        with torch.no_grad():
            for m in METRICS:
                if m == "mpjve" and pred.shape[0] < 2:
                    values = np.zeros(0)
                else:
                    values = _PER_FRAME[m](p, t).numpy() * 1000.0  # metres -> mm
                per_frame[m].setdefault(action, []).append(values)

    out: dict[str, Any] = {}
    for m in METRICS:
        pooled = {a: np.concatenate(v) for a, v in per_frame[m].items()}
        per_action = {a: (float(v.mean()) if v.size else float("nan")) for a, v in pooled.items()}
        counted = [v for a, v in per_action.items() if pooled[a].size]
        everything = np.concatenate(list(pooled.values()))
        out[m] = {
            "per_action": per_action,
            "action_mean": float(np.mean(counted)) if counted else float("nan"),
            "frame_mean": float(everything.mean()) if everything.size else float("nan"),
            "num_frames": {a: int(v.size) for a, v in pooled.items()},
        }

    if joint_layout is not None:
        layout = sk.get(joint_layout)
        joints = f"{num_joints} joints in {layout.name} order ({', '.join(layout.joint_names)})"
    else:
        joints = f"{num_joints} joints, order not stated"
    if root_relative:
        joints += (
            f"; root-relative: joint {root_joint} is subtracted from pred and from target in every "
            f"frame before every metric, so its own error is 0 and it still counts as one of the "
            f"{num_joints} joints averaged"
        )
    else:
        joints += "; positions used as given (no root centring)"
    out["protocol"] = {
        "metrics": dict(_METRIC_WORDS),
        "units": (
            "millimetres (inputs in metres, multiplied by 1000); MPJVE in millimetres per frame"
        ),
        "averaging": {
            "per_action": (
                "frames of all sequences (all subjects) of one action pooled, then the mean"
            ),
            "action_mean": (
                "unweighted mean of the per-action values over actions (VideoPose3D's protocol)"
            ),
            "frame_mean": "mean over every frame of every sequence (MMPose's protocol)",
        },
        "joints": joints,
        "num_joints": num_joints,
        "joint_layout": joint_layout,
        "root_relative": root_relative,
        "root_joint": root_joint if root_relative else None,
        "flip_test": bool(flip_test),
        "flip_test_note": (
            "test-time horizontal-flip averaging is done (or not) by the caller before "
            "evaluate(); this field only records what the caller said"
        ),
        "action_grouping": (
            "records' action names as given"
            if action_of is None
            else "records' action names mapped by "
            f"{getattr(action_of, '__name__', repr(action_of))}"
        ),
        "num_sequences": len(results),
        "subjects": sorted(subjects),
        "actions": list(out["mpjpe"]["per_action"]),
    }
    return out


# --------------------------------------------------------------------------------------------------
# the paper's Table I

# The published numbers live in dilpose.paper (one table, each with its source and protocol).
from .paper import PAPER_TABLE_I, TABLE_I_COLUMNS  # noqa: E402

#: Human3.6M action names as VideoPose3D's files spell them (after :func:`h36m_action_base`) -> the
#: Table I column. S1 spells two actions differently ("TakingPhoto", "WalkingDog").
H36M_ACTION_COLUMNS: dict[str, str] = {
    "Directions": "Dir.",
    "Discussion": "Disc.",
    "Eating": "Eat",
    "Greeting": "Greet",
    "Phoning": "Phone",
    "Photo": "Photo",
    "TakingPhoto": "Photo",
    "Posing": "Posing",
    "Purchases": "Purch.",
    "Sitting": "Sit",
    "SittingDown": "SitD.",
    "Smoking": "Smoke",
    "Waiting": "Wait",
    "WalkDog": "WalkD.",
    "WalkingDog": "WalkD.",
    "Walking": "Walk",
    "WalkTogether": "WalkT.",
}

MEASURED_ROW = "dilpose (measured)"
_PAPER_SUFFIX = " [paper Table I]"
_NOT_COMPARABLE = " [published, Human3.6M — not comparable]"


def h36m_action_column(action: str) -> str:
    """Table I column of a Human3.6M action name ("Directions 1" -> "Dir."); DataError if
    unknown."""
    base = h36m_action_base(action)
    if base not in H36M_ACTION_COLUMNS:
        raise DataError(
            "table_i", f"unknown Human3.6M action {action!r}; known: {sorted(H36M_ACTION_COLUMNS)}"
        )
    return H36M_ACTION_COLUMNS[base]


def _is_h36m(dataset: str) -> bool:
    """Whether ``dataset`` (a registered name or alias, any case) has Human3.6M's actions, Table I's
    columns."""
    from . import datasets

    spec = datasets.find(dataset.lower())
    return spec is not None and spec.table_i


def table_i(per_action: Mapping[str, float], dataset: str) -> pd.DataFrame:
    """Measured per-action MPJPE (mm) beside the paper's Table I.

    per_action: {action: MPJPE mm}, e.g. ``evaluate(...)["mpjpe"]["per_action"]``.
    dataset "h36m": columns :data:`TABLE_I_COLUMNS`; row ``"dilpose (measured)"`` with the actions
        mapped by :func:`h36m_action_column` and Avg the mean over the 15 actions (NaN, like any
        missing action, unless all 15 are present: a partial mean would not be comparable), then the
        three paper rows, suffixed " [paper Table I]". Two names landing in one column raise
        DataError: pool them in :func:`evaluate` (``action_of=h36m_action_base``), where the frame
        counts are known.
    any other dataset: columns are the dataset's own actions (in the given order) plus "Avg" (their
        mean); row "dilpose (measured)", then the paper's and VideoPose3D's published Human3.6M
        averages as rows labelled "[published, Human3.6M — not comparable]", NaN under the actions.

    ``df.columns.name`` says what the numbers are and on which data; ``df.attrs["dataset"]`` holds
    it.
    """
    if not per_action:
        raise DataError("table_i", "no measured actions")
    if _is_h36m(dataset):
        measured: dict[str, float] = {}
        sources: dict[str, str] = {}
        for action, value in per_action.items():
            col = h36m_action_column(action)
            if col in measured:
                raise DataError(
                    "table_i",
                    f"actions {sources[col]!r} and {action!r} both map to column "
                    f"{col!r}; pool them in evaluate(action_of=h36m_action_base)",
                )
            measured[col], sources[col] = float(value), action
        actions = TABLE_I_COLUMNS[:-1]
        values = [measured.get(c, float("nan")) for c in actions]
        avg = float(np.mean(values)) if all(c in measured for c in actions) else float("nan")
        rows = {MEASURED_ROW: values + [avg]}
        for name, paper in PAPER_TABLE_I.items():
            rows[name + _PAPER_SUFFIX] = [paper[c] for c in TABLE_I_COLUMNS]
        df = pd.DataFrame.from_dict(rows, orient="index", columns=list(TABLE_I_COLUMNS))
        df.columns.name = "MPJPE (mm), Human3.6M"
    else:
        actions = [str(a) for a in per_action]
        values = [float(v) for v in per_action.values()]
        nan_row = [float("nan")] * len(actions)
        rows = {
            MEASURED_ROW: values + [float(np.mean(values))],
            "Ours" + _NOT_COMPARABLE: nan_row + [PAPER_TABLE_I["Ours"]["Avg"]],
            "Pavlo et al. [11] CVPR'19" + _NOT_COMPARABLE: nan_row
            + [PAPER_TABLE_I["Pavlo et al. [11] CVPR'19"]["Avg"]],
        }
        df = pd.DataFrame.from_dict(rows, orient="index", columns=actions + ["Avg"])
        df.columns.name = f"MPJPE (mm), {dataset}"
    df.attrs["dataset"] = dataset
    return df


def table_i_markdown(per_action: Mapping[str, float], dataset: str, digits: int = 1) -> str:
    """:func:`table_i` as a Markdown table (NaN shown as "–"), with a note when not on Human3.6M."""
    df = table_i(per_action, dataset)
    fmt = lambda v: "–" if pd.isna(v) else f"{v:.{digits}f}"  # noqa: E731
    lines = [
        "| " + " | ".join([str(df.columns.name)] + [str(c) for c in df.columns]) + " |",
        "|" + "---|" * (len(df.columns) + 1),
    ]
    for name, row in df.iterrows():
        lines.append("| " + " | ".join([str(name)] + [fmt(v) for v in row]) + " |")
    if not _is_h36m(dataset):
        lines.append("")
        lines.append(
            f"Measured on {dataset}. Rows marked 'published, Human3.6M — not comparable' are the "
            f"action-wise averages the paper reports on Human3.6M (Table I); they are a different "
            f"dataset and cannot be compared with the measured row."
        )
    return "\n".join(lines) + "\n"
