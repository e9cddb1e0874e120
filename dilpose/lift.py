"""Lift a video's 2D COCO-17 keypoints from any detector to 3D joints: the engine of
``dilpose lift``.

Pipeline::

    read_keypoints   COCO keypoint JSON (detector results or annotations) or npz
                     -> Keypoints2D (pixels): dilpose.keypoints
    prepare          low-confidence joints -> missing; short gaps interpolated, long gaps refused
    lift_file        normalise in the checkpoint's input convention (dilpose.input_norm), run
                     the checkpoint (default: a shipped model, dilpose.pretrained) over the whole
                     sequence, or frame by frame through a causal model (dilpose.stream,
                     ``--stream``), write PREFIX.npy/.json

Options (:func:`lift_file`, ``dilpose lift``): ``--checkpoint`` (default ``lifter-243``;
``lifter-243-focal`` when the focal length is known; ``lifter-243-causal`` with ``--stream``),
``--output`` PREFIX, ``--width``/``--height`` (pixels, when the file does not record them),
``--focal PX`` or ``--fov DEG`` (the camera's focal length, or horizontal field of view, when the
file does not record it), ``--min-score``, ``--max-gap``, ``--video``, ``--no-flip-test``,
``--stream``, ``--steady-bones`` or ``--full-size-bones``.

Input conventions: a checkpoint records how its 2D input was normalised
(``input.normalization``). A ``screen`` model needs only the image size and refuses a focal length
(it could not use it); a ``focal`` model needs the focal length (``--focal``, ``--fov``, or a
keypoints file that records it) and refuses to run without one. Both are refused before anything
is written.

Live streaming (``dilpose lift - --stream``: JSON lines on stdin, one 3D pose per line out) is
:mod:`dilpose.live`.

The accepted keypoint files are described in :mod:`dilpose.keypoints`. Outputs are root-relative
H36M-17 joints in metres (camera orientation, root joint at the origin).
"""

from __future__ import annotations

import io
import math
import time
from pathlib import Path

import numpy as np

from . import bones, checkpoints, evaluate, input_norm, pretrained
from . import skeleton as sk
from . import stream as streaming
from .datasets.base import Sequence
from .errors import ConfigError, DataError
from .fileio import check_writable, json_text, write_together
from .keypoints import (
    Keypoints2D,
    read_keypoints,
)
from .noise import fill_gaps

#: Longest gap per joint (frames) that is interpolated by default: 0.5 s at 50 Hz. Detectors lose a
#: joint for a few tenths of a second under brief occlusion (the simulated detector's misses reach
#: 20 frames); a longer gap would make the motion up, so it is refused.
MAX_GAP = 25


# --------------------------------------------------------------------------------------------------
# Preparing
# --------------------------------------------------------------------------------------------------
def prepare(
    kp: Keypoints2D, min_score: float = 0.3, max_gap: int | None = MAX_GAP, causal: bool = False
):
    """Drop low-confidence joints and interpolate short gaps.

    A joint with score < ``min_score`` is treated as missing: a detector's unsure joint is usually
    wrong, and a jump in the input makes the 3D output jump. Gaps of up to ``max_gap`` frames per
    joint are filled by linear interpolation (:func:`dilpose.noise.fill_gaps`); a longer gap, or a
    joint never seen, raises :class:`DataError` because interpolation would invent the motion.

    causal: fill a gap by holding the joint's last detected position instead (what a live stream
    can do: interpolation needs the frame after the gap); a joint missing from the first frames
    takes its first detection. Same ``max_gap`` rule.

    Returns ``(keypoints (T, 17, 2) pixels, filled (T, 17) bool, report)``: ``filled`` marks
    interpolated (or held) entries; ``report`` counts frames, missing and low-confidence joints and
    filled entries (plus what the reader recorded).
    """
    if not math.isfinite(min_score):
        raise DataError(kp.source, f"min_score must be a finite number, got {min_score!r}")
    if max_gap is not None and max_gap < 0:
        raise DataError(kp.source, f"max_gap must be >= 0 frames, got {max_gap}")
    keypoints = np.array(kp.keypoints, dtype=np.float64)
    T = len(keypoints)
    undetected = ~np.isfinite(keypoints).all(-1)
    low = ~undetected & (kp.scores < min_score)
    keypoints[low] = np.nan
    missing = undetected | low
    _check_gaps(kp, missing, min_score, max_gap)
    if causal:
        filled_kp, filled = hold_last(keypoints), missing.copy()
    else:
        filled_kp, filled = fill_gaps(keypoints, kp.scores, max_gap=max_gap, source=kp.source)
    report = {
        "frames": T,
        "joints": int(missing.size),
        "undetected_joints": int(undetected.sum()),
        "low_confidence_joints": int(low.sum()),
        "interpolated_joints": int(filled.sum()),
        "interpolated_fraction": float(filled.mean()),
        "interpolated_per_joint": {
            name: int(n) for name, n in zip(kp.layout.joint_names, filled.sum(0)) if n
        },
        "longest_gap": max(
            (_longest_run(missing[:, j]) for j in range(kp.layout.num_joints)), default=0
        ),
        "layout": kp.layout.name,
        "min_score": float(min_score),
        "max_gap": max_gap,
        "gap_filling": "hold the last detection (causal)" if causal else "linear interpolation",
        **kp.info,
    }
    return filled_kp, filled, report


def hold_last(keypoints: np.ndarray) -> np.ndarray:
    """(T, J, 2) pixels with NaN gaps -> each NaN entry replaced by the joint's last detected
    position; entries before a joint's first detection take that first detection. Every joint must
    be detected at least once (:func:`prepare` checks)."""
    out = np.array(keypoints, dtype=np.float64)
    T, J = out.shape[:2]
    seen = np.isfinite(out).all(-1)  # (T, J)
    # index of the last frame <= t where joint j was seen (-1 before the first detection)
    last = np.where(seen, np.arange(T)[:, None], -1)
    last = np.maximum.accumulate(last, axis=0)
    first = seen.argmax(0)  # (J,)
    src = np.where(last >= 0, last, first[None, :])
    return out[src, np.arange(J)[None, :]]


def _runs(gap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first index, length) of every run of True in a boolean (T,) array."""
    edges = np.diff(np.concatenate([[0], gap.astype(int), [0]]))
    starts = np.flatnonzero(edges == 1)
    return starts, np.flatnonzero(edges == -1) - starts


def _longest_run(gap: np.ndarray) -> int:
    _, lengths = _runs(gap)
    return int(lengths.max()) if len(lengths) else 0


def _check_gaps(
    kp: Keypoints2D, missing: np.ndarray, min_score: float, max_gap: int | None
) -> None:
    """fill_gaps refuses the same cases; checking here first names the joint and the file's frame
    id."""
    for j, name in enumerate(kp.layout.joint_names):
        gap = missing[:, j]
        if gap.all():
            raise DataError(
                kp.source,
                f"joint {name!r} is never detected with score >= {min_score:g} in "
                f"{len(gap)} frames",
            )
        starts, lengths = _runs(gap)
        if max_gap is not None and len(lengths) and lengths.max() > max_gap:
            k = int(np.argmax(lengths))
            raise DataError(
                kp.source,
                f"joint {name!r} is missing (or below score {min_score:g}) for "
                f"{lengths[k]} consecutive frames, from frame id {kp.frame_ids[starts[k]]}; "
                f"at most {max_gap} are interpolated (lower --min-score or raise --max-gap "
                "to accept it)",
            )


# --------------------------------------------------------------------------------------------------
# Lifting
# --------------------------------------------------------------------------------------------------
def _to_model_layout(
    kp: Keypoints2D, keypoints: np.ndarray, spec: dict, checkpoint: Path, report: dict
):
    """The prepared keypoints in the joint order the model was trained on, or a :class:`DataError`.

    Equal layouts pass; COCO-17 input for an H36M-17 model goes through the tested converter
    :func:`dilpose.skeleton.coco_to_h36m` (recorded in ``report["converted"]``); anything else is
    refused with what the model expects and what the file gives, never fed to the model silently.
    """
    want = sk.get(spec["layout"])
    if kp.layout is want:
        return keypoints, kp.scores, want
    if kp.layout is sk.COCO17 and want is sk.H36M17:
        converted, scores = sk.coco_to_h36m(keypoints, kp.scores)
        report["converted"] = f"{kp.layout.name} -> {want.name} (dilpose.skeleton.coco_to_h36m)"
        return converted, scores, want
    checkpoints.check_input(
        spec,
        kp.layout,
        checkpoint,
        what=f"the input {kp.source} (no converter between these layouts)",
    )
    raise AssertionError("unreachable: check_input refuses different layouts")  # pragma: no cover


def output_paths(output: str | Path) -> tuple[Path, Path]:
    """``PREFIX``, ``PREFIX.npy`` or ``PREFIX.json`` -> (PREFIX.npy, PREFIX.json)."""
    prefix = Path(output)
    if prefix.suffix.lower() in (".npy", ".json"):
        prefix = prefix.with_suffix("")
    if not prefix.name:
        raise DataError(
            output, "output needs a file name (a prefix for PREFIX.npy and PREFIX.json)"
        )
    return prefix.with_name(prefix.name + ".npy"), prefix.with_name(prefix.name + ".json")


def lift_file(
    input_path: str | Path,
    checkpoint: str | Path | None = None,
    output: str | Path | None = None,
    width: float | None = None,
    height: float | None = None,
    min_score: float = 0.3,
    max_gap: int | None = MAX_GAP,
    flip_test: bool = True,
    video: str | None = None,
    stream: bool = False,
    steady_bones: bool = False,
    focal: float | None = None,
    fov: float | None = None,
    full_size_bones: bool = False,
) -> dict:
    """Lift one video's 2D keypoints to 3D with a trained checkpoint and write the result.

    checkpoint: default a shipped model (:mod:`dilpose.pretrained`, checked against its sha256):
    ``lifter-243``; ``lifter-243-focal`` when the focal length is known (``focal``, ``fov`` or the
    file); ``lifter-243-causal`` when streaming (which reads screen input, so streaming with
    ``focal``/``fov`` needs a checkpoint). focal (pixels) or fov (horizontal field of view,
    degrees), at most one: the camera's focal length, for a model that reads focal-normalised
    input; it must agree with the file's where the file records one, and a model that reads
    screen-normalised input refuses it (:func:`model_input`). output: default
    ``<input name>_3d`` in the current folder. stream: feed the frames one at a time to a causal
    model (:class:`dilpose.stream.StreamLifter`: ring buffers, one step per layer and frame), gaps
    filled by holding the last detection, as a live source
    would be; the summary adds the per-frame latency. steady_bones: give every bone one length
    over the clip, its median, keeping each bone's direction
    (:func:`dilpose.bones.fit_bone_lengths`; after the whole clip is lifted, so not with
    ``stream``). full_size_bones: the same, at each bone's full size over the clip (its
    :data:`dilpose.bones.FULL_SIZE_QUANTILE` quantile), which undoes most of the lifter's
    shrinking of uncertain limbs at a small cost in MPJPE (the camera benchmark measures both);
    at most one of the two.

    Writes ``PREFIX.npy`` ((T, 17, 3) float32, H36M-17 joints, root-relative metres) and
    ``PREFIX.json`` (the same positions rounded to 0.1 mm, joint names, frame ids, the preparation
    report and the settings); ``output`` may be the prefix or either file name. Both files are
    written as one (:func:`_write_result`) and nothing is written unless the whole lift
    succeeds. Returns a flat summary dict (for printing).
    """
    # Settings that cannot work together fail before anything is read or written.
    bone_option = _bone_option(steady_bones, full_size_bones)
    if bone_option and stream:
        raise ConfigError(f"{bone_option} needs the whole clip: it cannot go with --stream")
    option = focal_option(focal, fov)
    if stream and option and checkpoint is None:
        raise ConfigError(
            f"no shipped causal model reads focal-normalised input, so {option} with --stream "
            "needs one that does; pass --checkpoint"
        )
    input_path = Path(input_path)
    npy_path, json_path = _output_files(input_path, output)
    kp = read_keypoints(input_path, width, height, video=video, focal=focal, fov=fov)
    shipped = None
    if checkpoint is None:
        shipped = default_model(stream, kp.focal is not None)
        checkpoint = pretrained.path_of(shipped)
    checkpoint = Path(checkpoint)
    keypoints, filled, report = prepare(kp, min_score=min_score, max_gap=max_gap, causal=stream)
    model, lifter = _load_model(checkpoint, stream, flip_test)
    convention, focal_px = model_input(model.input_spec, checkpoint, kp.focal, option)
    keypoints, scores, layout = _to_model_layout(
        kp, keypoints, model.input_spec, checkpoint, report
    )
    seq = _sequence(kp, keypoints, scores, input_path.stem, convention, focal_px)
    pred, latency = _predict(model, lifter, seq, layout, flip_test, checkpoint)
    if bone_option:
        q = bones.FULL_SIZE_QUANTILE if full_size_bones else 0.5
        pred = bones.fit_bone_lengths(pred, quantile=q).astype(np.float32)
    doc = {
        "joint_names": list(sk.H36M17.joint_names),
        "units": "metres",
        "root_relative": True,
        "frames": [int(f) for f in kp.frame_ids],
        # 0.1 mm is far below the model's accuracy (tens of mm); more digits only bloat the file.
        "positions_3d": np.round(pred.astype(np.float64), 4).tolist(),
        "input": str(input_path),
        "checkpoint": str(checkpoint),
        "shipped_model": shipped,
        "stream": latency,
        "image_size": [kp.width, kp.height],
        "input_convention": convention,
        "focal_px": focal_px,  # None: the model read screen-normalised input
        "flip_test": bool(flip_test),
        "report": report,
        "receptive_field": int(model.receptive_field()),
        "causal": bool(model.cfg.causal),
        "steady_bones": bool(steady_bones),
        "full_size_bones": bool(full_size_bones),
        "input_layout": kp.layout.name,
        "model_input_layout": layout.name,
    }
    _write_result(npy_path, json_path, pred, doc)
    return _summary(npy_path, json_path, doc, shipped or str(checkpoint))


def focal_option(focal, fov) -> str | None:
    """Which focal-length option was given (``"--focal"``, ``"--fov"`` or None); both at once is a
    :class:`ConfigError`: they say the same thing twice, possibly differently."""
    if focal is not None and fov is not None:
        raise ConfigError("give --focal or --fov, not both: they are two ways to say one thing")
    return "--focal" if focal is not None else "--fov" if fov is not None else None


def default_model(stream: bool, focal_known: bool) -> str:
    """The shipped model to use without ``--checkpoint``: the causal one when streaming, the focal
    one when the focal length is known, else the screen one."""
    if stream:
        return pretrained.DEFAULT_STREAM
    return pretrained.DEFAULT_FOCAL if focal_known else pretrained.DEFAULT


def _bone_option(steady_bones: bool, full_size_bones: bool) -> str | None:
    """The bone-length option given (its command-line name), or None; both at once is refused."""
    if steady_bones and full_size_bones:
        raise ConfigError("--steady-bones and --full-size-bones: give at most one")
    if full_size_bones:
        return "--full-size-bones"
    return "--steady-bones" if steady_bones else None


def model_input(
    spec: dict,
    checkpoint: Path,
    focal: float | None,
    option: str | None,
    source_hint: str = " (or a keypoints file that records its focal length)",
) -> tuple[str, float | None]:
    """(convention, focal length in pixels or None) to prepare a model's input with, from its
    checkpoint's input record ``spec`` and the focal length known (``focal``; ``option`` names the
    command-line option it came from, None when it came from the file or nowhere).

    A model that reads focal-normalised input without a focal length, and a screen model given one
    by option, are :class:`DataError` s naming the checkpoint: the first cannot run, and the second
    would silently ignore what the user asked for. A focal length recorded in the file is simply
    not used by a screen model.
    """
    convention = spec["normalization"]
    if convention == input_norm.FOCAL:
        if focal is None:
            raise DataError(
                checkpoint,
                "the model reads focal-normalised input ((pixel - image centre) / focal length): "
                f"pass --focal PX or --fov DEG{source_hint}",
            )
        return convention, float(focal)
    if option is not None:
        raise DataError(
            checkpoint,
            f"the model reads {convention}-normalised input and cannot use a focal length; drop "
            f"{option} or use the focal model ({pretrained.DEFAULT_FOCAL})",
        )
    return convention, None


def _output_files(input_path: Path, output: str | Path | None) -> tuple[Path, Path]:
    """(PREFIX.npy, PREFIX.json) for ``output`` (default ``<input name>_3d`` in the current
    folder), checked before any work: writable, and not the input itself."""
    if output is None:
        output = Path.cwd() / f"{input_path.stem}_3d"
    npy_path, json_path = output_paths(output)
    if input_path.resolve() in (npy_path.resolve(), json_path.resolve()):
        raise DataError(input_path, f"the output {json_path} would overwrite the input")
    check_writable(npy_path)  # a bad output folder fails now, before any work
    return npy_path, json_path


def _load_model(checkpoint: Path, stream: bool, flip_test: bool):
    """(model, stream lifter or None): the checkpoint's model, checked to read (x, y) per joint and
    write H36M-17. Streaming loads the model once and refuses a symmetric one (dilpose.stream)."""
    model = checkpoints.model_from_checkpoint(checkpoint)
    # NaN weights give NaN poses: refuse them before any work, as the stream does.
    checkpoints.check_finite(checkpoint, model.state_dict())
    lifter = None
    if stream:
        lifter = streaming.StreamLifter(
            streaming.checked_causal(model, checkpoint), flip_test=flip_test
        )
    mcfg = model.cfg
    if (mcfg.in_features, mcfg.out_joints) != (2, sk.H36M17.num_joints):
        raise DataError(
            checkpoint,
            f"the model reads {mcfg.in_features} values per joint and writes {mcfg.out_joints} "
            "joints; lifting needs (x, y) input and H36M-17 output",
        )
    return model, lifter


def _sequence(
    kp: Keypoints2D,
    keypoints: np.ndarray,
    scores: np.ndarray,
    name: str,
    convention: str = input_norm.SCREEN,
    focal: float | None = None,
) -> Sequence:
    """The prepared (T, J, 2) pixel keypoints as a model-ready Sequence, normalised in
    ``convention`` (:func:`dilpose.input_norm.normalise`; ``focal`` in pixels for ``focal``)."""
    T = len(keypoints)
    x = input_norm.normalise(keypoints, convention, kp.width, kp.height, focal)
    return Sequence(
        subject="lift",
        action=name,
        camera=0,
        keypoints_2d=x.astype(np.float32),
        # No ground truth and no calibration: predict() reads only the 2D input.
        positions_3d=np.zeros((T, sk.H36M17.num_joints, 3), np.float32),
        intrinsics=np.zeros(9, np.float32),
        scores=scores.astype(np.float32),
    )


def _predict(model, lifter, seq: Sequence, layout, flip_test: bool, checkpoint: Path):
    """(T, 17, 3) float32 root-relative metres for ``seq``, and the per-frame latency when
    streaming (else None); non-finite or misshapen output is a :class:`DataError`."""
    latency = None
    if lifter is not None:
        pred, latency = _stream(lifter, seq.keypoints_2d)
    else:
        pred = evaluate.predict(
            model, seq, causal=model.cfg.causal, flip_test=flip_test, layout_2d=layout
        )
    if pred.shape != (len(seq), sk.H36M17.num_joints, 3) or not np.isfinite(pred).all():
        raise DataError(
            checkpoint,
            f"the model gave non-finite or misshapen 3D positions {pred.shape}; "
            "the weights may be broken",
        )
    return pred.astype(np.float32), latency


def _write_result(npy_path: Path, json_path: Path, pred: np.ndarray, doc: dict) -> None:
    """Write PREFIX.npy and PREFIX.json as one result (:func:`dilpose.fileio.write_together`):
    both to temporary files, then both renamed. A full disk keeps the previous pair whole; a
    positions file beside an older report (which the explorer would show as this result) never
    happens."""
    buf = io.BytesIO()
    np.save(buf, pred)  # (T, 17, 3) float32: a few MB at most, fine to hold
    write_together({npy_path: buf.getvalue(), json_path: json_text(doc).encode()})


def _summary(npy_path: Path, json_path: Path, doc: dict, model: str) -> dict:
    """The flat summary :func:`lift_file` returns (for printing)."""
    report, latency = doc["report"], doc["stream"]
    return {
        "npy": str(npy_path),
        "json": str(json_path),
        "model": model,
        "frames": len(doc["frames"]),
        "receptive_field": doc["receptive_field"],
        "causal": doc["causal"],
        "flip_test": doc["flip_test"],
        "input_convention": doc["input_convention"]
        + (f" (focal length {doc['focal_px']:.1f} px)" if doc["focal_px"] else ""),
        "low_confidence_joints": report["low_confidence_joints"],
        "interpolated_joints": report["interpolated_joints"],
        "discarded_detections": report.get("discarded_detections", 0),
        **(
            {
                "stream_latency_ms": f"median {latency['median_ms']:.2f}, "
                f"95th percentile {latency['p95_ms']:.2f}, 99th {latency['p99_ms']:.2f} per "
                f"frame ({latency['threads']} thread)"
            }
            if latency
            else {}
        ),
    }


def _stream(lifter, keypoints_2d: np.ndarray):
    """Feed (T, J, 2) normalised keypoints to ``lifter`` one frame at a time: (T, 17, 3)
    predictions and the per-frame latency (ms)."""
    out, times = [], []
    with streaming.small_work_threads():  # one frame is small work (STREAM_THREADS)
        for frame in keypoints_2d:
            start = time.perf_counter()
            out.append(lifter.push(frame))
            times.append(1000 * (time.perf_counter() - start))
    return np.stack(out), {
        "median_ms": float(np.median(times)),
        "p95_ms": float(np.percentile(times, 95)),
        "p99_ms": float(np.percentile(times, 99)),
        "frames": len(times),
        "threads": streaming.STREAM_THREADS,
    }
