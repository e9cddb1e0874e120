"""Evaluation: predictions of a whole-sequence model, their errors pooled over a test set, and the
paper's Table I.

* :func:`predict`: root-relative 3D joints (T, 17, 3) metres for one sequence, optionally averaged
  with the prediction of the horizontally flipped input.
* :func:`evaluate`: a model on test sequences, all four metrics per action and overall (mm).
* :func:`aggregate`: the pooling itself, for predictions made elsewhere, with a written protocol.
* :func:`table_i` / :func:`table_i_markdown`: measured numbers beside the paper's Table I.

The error formulas are :mod:`dilpose.metrics`'. Nothing here changes what training computes (the
trainer's per-epoch validation only reports), so the model cache's key leaves this module out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Sequence as Seq
from typing import Any

import numpy as np
import pandas as pd
import torch

from . import batches as B
from . import datasets, metrics, precision
from . import skeleton as sk
from .checkpoints import check_input
from .config import Config, check_precision
from .datasets.base import Sequence, action_category
from .errors import DataError
from .model import TemporalModel
from .paper import PAPER_TABLE_I, TABLE_I_COLUMNS


# --------------------------------------------------------------------------------------------------
# A model on test sequences
# --------------------------------------------------------------------------------------------------
@torch.inference_mode()
def predict(
    model: TemporalModel,
    seq: Sequence,
    causal: bool,
    flip_test: bool,
    layout_2d: sk.Skeleton = sk.COCO17,
    precision_: str = "fp32",
) -> np.ndarray:
    """Root-relative 3D prediction (T, 17, 3) metres for a whole sequence (root joint zeroed).

    precision_: ``fp32`` or ``bf16`` (the convolutions under autocast; the output is fp32).
    """
    model.eval()
    ((_, x),) = B.whole_sequences(
        [seq], model.receptive_field(), causal=causal, flip_test=flip_test, layout_2d=layout_2d
    )
    device = next(model.parameters()).device
    with precision.autocast(precision_, device):
        out = model(torch.from_numpy(x).to(device))
    pred = out.float().cpu().numpy()
    pred = B.merge_flipped(pred) if flip_test else pred[0]
    return pred - pred[:, :1]


def evaluation_precision(model, cfg: Config, precision_: str | None = None) -> str:
    """The precision a model is evaluated in: ``precision_`` if given (``auto`` resolved for the
    model's device); else the one it was trained in (``model.precision``, which
    :meth:`dilpose.train.Trainer.eval_network` sets); else ``cfg.precision`` resolved for the
    model's device (a model read from a file, or built by hand)."""
    device = next(model.parameters()).device
    if precision_ is not None:
        return precision.resolve(check_precision(precision_), device)
    trained = getattr(model, "precision", None)
    if trained is not None:
        return trained
    return precision.resolve(cfg.precision, device)


#: Frames of the paper's receptive field: a test frame has *full context* when the centred window
#: of this many frames lies wholly inside its clip (no edge padding for any model up to 243 frames).
FULL_CONTEXT = 243


def _full_context(pred: np.ndarray, target: np.ndarray) -> dict:
    """``full_context_frames`` (how many frames of the clip have a full :data:`FULL_CONTEXT`
    window: T - 242, or 0) and ``mpjpe_full_context_mm`` over them (None when there are none).
    pred, target: (T, 17, 3) metres."""
    pad = (FULL_CONTEXT - 1) // 2
    n = max(0, len(pred) - 2 * pad)
    err = 1000 * float(metrics.mpjpe(pred[pad : pad + n], target[pad : pad + n])) if n else None
    return {"full_context_frames": n, "mpjpe_full_context_mm": err}


def evaluate(
    model: TemporalModel,
    seqs: Seq[Sequence],
    cfg: Config,
    layout_2d: sk.Skeleton = sk.COCO17,
    flip_test: bool | None = None,
    h36m_actions: bool = False,
    keep_predictions: bool = False,
    precision_: str | None = None,
) -> dict:
    """All four metrics (mm), per action and averaged both ways, for a whole-sequence model.

    precision_: ``fp32``, ``bf16`` or ``auto``; default: the precision the model was trained in
    (see :func:`evaluation_precision`). The metrics are computed in fp64 whatever the precision; the
    results record it.

    Actions are the part of the action name before the first space (``walk`` for ``walk 16_15``,
    ``Walking`` for ``Walking 1``).
    """
    spec = getattr(model, "input_spec", None)
    if spec is not None:  # a model read from a checkpoint knows what it was trained on
        check_input(
            spec, layout_2d, getattr(model, "checkpoint_path", "model"), what="the evaluation data"
        )
    flip_test = cfg.flip_test if flip_test is None else flip_test
    used = evaluation_precision(model, cfg, precision_)
    results, per_sequence = [], []
    for seq in seqs:
        pred = predict(model, seq, model.cfg.causal, flip_test, layout_2d, used)
        target, _ = B.split_root(seq.positions_3d.astype(np.float64))
        results.append(
            {"subject": seq.subject, "action": seq.category, "pred": pred, "target": target}
        )
        per_sequence.append(
            {
                "subject": seq.subject,
                "action": seq.action,
                "camera": seq.camera,
                "frames": len(seq),
                "mpjpe_mm": 1000 * float(metrics.mpjpe(pred, target)),
                **_full_context(pred, target),
            }
        )
    out = aggregate(
        results, flip_test=flip_test, action_of=h36m_action_base if h36m_actions else None
    )
    # Per clip and camera: shows how the error depends on the clip (and its length).
    out["per_sequence"] = per_sequence
    out["precision"] = used
    out["protocol"]["precision"] = used
    if keep_predictions:
        out["predictions"] = results
    return out


# --------------------------------------------------------------------------------------------------
# Pooling over a test set
# --------------------------------------------------------------------------------------------------
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


#: Per-frame error of one sequence: (T, J, 3) float64 tensors -> (T,) metres (mpjve: (T-1,)).
_PER_FRAME = {
    "mpjpe": metrics.per_frame_mpjpe,
    "p_mpjpe": metrics.per_frame_p_mpjpe,
    "n_mpjpe": metrics.per_frame_n_mpjpe,
    "mpjve": lambda p, t: metrics.per_frame_mpjve(p, t, axis=0),
}


def h36m_action_base(action: str) -> str:
    """``"Directions 1"`` -> ``"Directions"``: drop the take number VideoPose3D's files append.

    Human3.6M action names contain no spaces, so this is the project's one action-name rule,
    :func:`dilpose.datasets.action_category` (the part before the first space).
    """
    return action_category(action)


def _checked_record(
    i: int, rec: Mapping[str, Any], expected_j: int | None, joint_layout, num_joints
):
    """(pred, target) float64 (T, J, 3) of ``results[i]``; DataError naming the record otherwise."""
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
        raise DataError(src, f"{pred.shape[1]} joints, but layout {joint_layout} has {expected_j}")
    if num_joints is not None and pred.shape[1] != num_joints:
        raise DataError(src, f"{pred.shape[1]} joints, earlier records had {num_joints}")
    if not (np.isfinite(pred).all() and np.isfinite(target).all()):
        raise DataError(src, "pred or target has non-finite values")
    return pred, target


def _pooled(per_frame: dict[str, list[np.ndarray]]) -> dict[str, Any]:
    """One metric's per-frame errors (mm) by action -> per_action, action_mean, frame_mean."""
    pooled = {a: np.concatenate(v) for a, v in per_frame.items()}
    per_action = {a: (float(v.mean()) if v.size else float("nan")) for a, v in pooled.items()}
    counted = [v for a, v in per_action.items() if pooled[a].size]
    everything = np.concatenate(list(pooled.values()))
    return {
        "per_action": per_action,
        "action_mean": float(np.mean(counted)) if counted else float("nan"),
        "frame_mean": float(everything.mean()) if everything.size else float("nan"),
        "num_frames": {a: int(v.size) for a, v in pooled.items()},
    }


def aggregate(
    results: Seq[Mapping[str, Any]],
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
        pred, target = _checked_record(i, rec, expected_j, joint_layout, num_joints)
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
    out: dict[str, Any] = {m: _pooled(per_frame[m]) for m in METRICS}
    out["protocol"] = _protocol(
        num_joints, joint_layout, root_relative, root_joint, flip_test, action_of
    )
    out["protocol"].update(
        num_sequences=len(results),
        subjects=sorted(subjects),
        actions=list(out["mpjpe"]["per_action"]),
    )
    return out


def _protocol(num_joints, joint_layout, root_relative, root_joint, flip_test, action_of) -> dict:
    """The written protocol of :func:`aggregate`: what each number is and how it was pooled."""
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
    return {
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
    }


# --------------------------------------------------------------------------------------------------
# the paper's Table I

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
