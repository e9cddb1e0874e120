"""ONNX: a trained model to ``.onnx`` files (fp32, or int8 by onnxruntime's static quantization),
ONNX Runtime to run them, and ``dilpose export``, which checks every file before it writes it.

Reading and running the files (metadata, :class:`OnnxModel`) is :mod:`dilpose.onnxfile`.

Files: ``OUTPUT`` (whole sequence: ``keypoints_2d`` (N, T, J, F) -> ``pose_3d`` (N, T - R + 1,
J_out, 3) metres) and, for a causal model, ``OUTPUT`` with ``.step.onnx`` (``frame`` (S, J, F),
``fresh`` (S,), ``state_k`` -> ``pose_3d`` (S, J_out, 3), ``state_k_out``: see
:class:`dilpose.stream.StepModel`). Every file records in its metadata which model it comes from
(a fingerprint of the weights), so that it is never used with another one (:class:`OnnxModel`).

The checks (:func:`export_checkpoint`), each failing the export with a :class:`DataError`:

* the weights are finite;
* fp32 ONNX equals PyTorch to :data:`FP32_TOLERANCE` (float rounding only), the step model equals
  the offline causal model from the first frame of a stream on;
* int8 stays within :data:`INT8_BOUND_MM` of fp32 on real poses (test clips of the embedded data,
  streamed from their first frame), separately over the warm-up (the first R - 1 frames of a
  stream, whose window reaches back before its start) and after it.

The int8 step model is calibrated on streams that start inside the calibration windows, so that
its tensors that are non-zero only at a stream start (the frame that fills a fresh buffer) get a
real range: calibrated on later frames only, they were zero, and the first ~R frames of every
stream came out tens of mm wrong.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import batches
from .calibration import PERCENTILE, check_calibration
from .checkpoints import model_from_checkpoint
from .config import ModelConfig
from .errors import DataError
from .fileio import check_writable, replace_together
from .model import _TemporalBase, fold_batchnorm
from .onnxfile import (  # the reading side, re-exported: export.OnnxModel etc. stay valid names
    ONNX_CONFIG,
    ONNX_FILE_WEIGHTS,
    ONNX_FINGERPRINT,
    ONNX_INPUT,
    ONNX_KIND,
    ONNX_STATES,
    OnnxModel,
    config_dict,
    file_bytes,  # noqa: F401 (re-exported for the bench and the studies)
    file_weights_sha256,
    onnx_metadata,
    run_step_file,
    run_whole_file,
    weights_fingerprint,
)
from .quantize import Network
from .stream import StepModel

#: fp32 ONNX must equal PyTorch to this (metres): float rounding of a different kernel order only.
FP32_TOLERANCE = 1e-4
#: int8 ONNX may differ from fp32 by this much (mm, mean joint distance on real test poses, over
#: the warm-up and after it, each). Measured on the shipped causal model: whole-sequence int8 is
#: ~6 mm from fp32 and the step model, calibrated on stream starts, the same; the step model
#: calibrated without them was 80 mm off at frames 1-9 and 29 mm over frames 1-241.
INT8_BOUND_MM = 15.0
#: How many frames of real poses the self-check streams (:func:`check_sequences`).
CHECK_FRAMES = 1500

ENGINE_ORT_INT8 = "onnxruntime-int8 (CPU provider, static QDQ)"


# --------------------------------------------------------------------------------------------------
# Metadata (``onnx`` takes ~1.4 s to import, so the functions that need it import it when called:
# importing this module, the bench or the CLI does not pay for it)
# --------------------------------------------------------------------------------------------------
def _metadata_of(model: _TemporalBase, kind: str) -> dict[str, str]:
    return {
        ONNX_KIND: kind,
        ONNX_FINGERPRINT: weights_fingerprint(model),
        ONNX_CONFIG: json.dumps(config_dict(model.cfg)),
        ONNX_INPUT: json.dumps(getattr(model, "input_spec", None)),
    }


def _set_metadata(path: Path, meta: dict[str, str]) -> None:
    import onnx  # slow to import: see the section comment

    m = onnx.load(str(path))
    del m.metadata_props[:]
    meta = {**meta, ONNX_FILE_WEIGHTS: file_weights_sha256(m)}
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, str(path))


# --------------------------------------------------------------------------------------------------
# Writing ONNX files
# --------------------------------------------------------------------------------------------------
def _onnx_export(module: nn.Module, args: tuple, path: Path, inputs, outputs, dynamic) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer warns about every Python-level shape check
        torch.onnx.export(
            module,
            args,
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=dynamic,
        )


def export_whole(model: _TemporalBase, path: str | Path, frames: int | None = None) -> Path:
    """Export the folded fp32 whole-sequence model to ONNX (opset 17, dynamic batch and length):
    input ``keypoints_2d`` (N, T, J_in, F), output ``pose_3d`` (N, T - R + 1, J_out, 3)."""
    path = Path(path)
    cfg = model.cfg
    x = torch.zeros(1, frames or cfg.receptive_field() + 15, cfg.in_joints, cfg.in_features)
    dynamic = {"keypoints_2d": {0: "batch", 1: "frames"}, "pose_3d": {0: "batch", 1: "outputs"}}
    _onnx_export(fold_batchnorm(model), (x,), path, ["keypoints_2d"], ["pose_3d"], dynamic)
    _set_metadata(path, _metadata_of(model, "whole-sequence"))
    return path


def export_step(model: _TemporalBase, path: str | Path) -> Path:
    """Export a causal model's fp32 streaming step (:class:`dilpose.stream.StepModel`) to ONNX,
    with a dynamic number of streams; the metadata records the state shapes."""
    path = Path(path)
    step = StepModel(Network(model)).eval()
    s = 2
    states = step.initial_states(s)
    frame = torch.zeros(s, model.cfg.in_joints, model.cfg.in_features)
    names = [f"state_{k}" for k in range(len(states))]
    outputs = ["pose_3d", *[n + "_out" for n in names]]
    dynamic = {n: {0: "streams"} for n in ["frame", "fresh", *names, *outputs]}
    _onnx_export(
        step, (frame, torch.ones(s), *states), path, ["frame", "fresh", *names], outputs, dynamic
    )
    meta = _metadata_of(model, "streaming-step")
    meta[ONNX_STATES] = json.dumps(step.state_shapes)
    _set_metadata(path, meta)
    return path


def step_path(output: Path) -> Path:
    """Where ``dilpose export`` writes the step model: ``x.onnx`` -> ``x.step.onnx``."""
    return output.with_name(output.name[: -len(".onnx")] + ".step.onnx")


class _Reader:
    """onnxruntime CalibrationDataReader over a list of input dicts."""

    def __init__(self, feeds: list[dict]):
        self.feeds = iter(feeds)

    def get_next(self):
        return next(self.feeds, None)


@contextlib.contextmanager
def _quiet_root_logger():
    # onnxruntime's quantizer logs advice at WARNING per layer through the root logger.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def ort_quantize(
    src: str | Path,
    dst: str | Path,
    feeds: list[dict[str, np.ndarray]],
    method: str = "minmax",
    per_channel: bool = True,
) -> Path:
    """onnxruntime static quantization, QDQ format: int8 weights (per channel), uint8 activations
    calibrated on ``feeds`` (input name -> array) with ``minmax``, ``percentile`` or ``entropy``.
    The file keeps the source's dilpose metadata, with ``-int8`` added to its kind."""
    # onnxruntime.quantization imports onnx (slow, see above): imported when quantizing.
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }
    if method not in methods:
        raise ValueError(
            f"onnxruntime calibration must be one of {sorted(methods)}, got {method!r}"
        )
    src, dst = Path(src), Path(dst)
    meta = onnx_metadata(src)
    pre = dst.with_name(dst.stem + ".pre.onnx")
    try:
        with _quiet_root_logger():
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            quantize_static(
                str(pre),
                str(dst),
                _Reader(feeds),
                quant_format=QuantFormat.QDQ,
                per_channel=per_channel,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=methods[method],
                extra_options={"CalibPercentile": PERCENTILE} if method == "percentile" else {},
            )
    finally:
        pre.unlink(missing_ok=True)
    meta[ONNX_KIND] = meta.get(ONNX_KIND, "model") + "-int8"
    _set_metadata(dst, meta)
    return dst


def step_feeds(model: _TemporalBase, windows: np.ndarray, per_window: int = 4) -> list[dict]:
    """Calibration inputs for the step model: the frames and buffer states met while streaming each
    calibration window (K, T, J, F) in fp32 from its first frame, a stream start on a real pose.

    Recorded per window: its first frame, frames 1, 2, 4, 8, ... of the warm-up and its last
    ``per_window`` frames (buffers full of real frames), and each of them once more as a stream
    start (``fresh`` = 1). The tensors that fill a fresh buffer are non-zero only at a start: seen
    at one start per window their range is that of a few poses, and a stream starting outside it
    would be clipped for all its first R frames."""
    step = StepModel(Network(model)).eval()
    x = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32))  # (K, T, J, F)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small work per step: see run_step_file
    try:
        return _stream_feeds(step, x, per_window)
    finally:
        torch.set_num_threads(threads)


def _stream_feeds(step: StepModel, x: torch.Tensor, per_window: int) -> list[dict]:
    k, length = x.shape[:2]
    keep = {0, *(2**i for i in range(12)), *range(length - per_window, length)}
    feeds = []
    with torch.inference_mode():
        states = step.initial_states(k)  # all windows stream side by side, one row each
        for t in range(length):
            fresh = torch.full((k,), 1.0 if t == 0 else 0.0)
            if t in keep:
                for row in range(k):
                    feed = {"frame": x[row, t][None].numpy(), "fresh": fresh[row : row + 1].numpy()}
                    feed.update(
                        {f"state_{i}": s[row : row + 1].numpy() for i, s in enumerate(states)}
                    )
                    feeds.append(feed)
                    if t > 0:
                        feeds.append({**feed, "fresh": np.ones(1, np.float32)})
            _, *states = step(x[:, t], fresh, *states)
    return feeds


# --------------------------------------------------------------------------------------------------
# The checks and ``dilpose export``
# --------------------------------------------------------------------------------------------------
def check_finite_weights(model: nn.Module, source) -> None:
    """A :class:`DataError` naming ``source`` if any weight or BatchNorm statistic is NaN or
    infinite (such a model exports and runs, and every pose it gives is NaN)."""
    bad = [k for k, v in model.state_dict().items() if not torch.isfinite(v.float()).all()]
    if bad:
        raise DataError(
            source,
            f"{len(bad)} weight tensor(s) hold NaN or infinite values ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}); nothing was exported",
        )


def check_sequences(sequences, cfg: ModelConfig, frames: int = CHECK_FRAMES) -> list[np.ndarray]:
    """The self-check's real poses, from ``sequences`` (each (T, J, F) normalised 2D): the shortest
    one longer than two warm-ups (the longest if none is), so that both parts of a stream are
    checked, then the others in order while they fit in ``frames`` frames in all."""
    arrays = [np.asarray(s, dtype=np.float32) for s in sequences]
    for i, a in enumerate(arrays):
        if a.ndim != 3 or a.shape[1:] != (cfg.in_joints, cfg.in_features) or not len(a):
            raise DataError(
                f"check sequence {i}",
                f"must be (T, {cfg.in_joints}, {cfg.in_features}) 2D keypoints, got {a.shape}",
            )
        if not np.isfinite(a).all():
            raise DataError(f"check sequence {i}", "holds NaN or infinite values")
    if not arrays:
        raise DataError("check sequences", "the export check needs at least one sequence")
    long_enough = [i for i, a in enumerate(arrays) if len(a) > 2 * _warmup_frames(cfg)]
    if long_enough:
        first = min(long_enough, key=lambda i: len(arrays[i]))
    else:
        first = max(range(len(arrays)), key=lambda i: len(arrays[i]))
    chosen, total = [arrays[first]], len(arrays[first])
    for i, a in enumerate(arrays):
        if i != first and total + len(a) <= frames:
            chosen.append(a)
            total += len(a)
    return chosen


def _warmup_frames(cfg: ModelConfig) -> int:
    """Frames at a sequence's start whose window reaches before it (edge padding stands in)."""
    rf = cfg.receptive_field()
    return rf - 1 if cfg.causal else (rf - 1) // 2


def error_mm(got: list[np.ndarray], ref: list[np.ndarray], warmup: int) -> dict:
    """Mean joint distance (mm) of ``got`` from ``ref`` (per sequence (T, J, 3) metres) over the
    warm-up frames (``t < warmup``) and after it (None where no frame falls in a part). NaN
    anywhere gives NaN, which fails any bound."""
    parts: dict[str, list[np.ndarray]] = {"warm-up": [], "after": []}
    for g, r in zip(got, ref):
        d = 1000 * np.linalg.norm(g - r, axis=-1).mean(-1)  # (T,)
        parts["warm-up"].append(d[:warmup])
        parts["after"].append(d[warmup:])
    return {
        name: float(np.concatenate(ds).mean()) if sum(map(len, ds)) else None
        for name, ds in parts.items()
    }


def _max_diff(got: list[np.ndarray], ref: list[np.ndarray]) -> float:
    # np.max over an array keeps a NaN (Python's max() would drop it depending on the order).
    return float(np.max([np.abs(g - r).max() for g, r in zip(got, ref)]))


def _require(value: float, bound: float, unit: str, output: Path, what: str) -> float:
    """``value`` if it is at most ``bound`` (NaN is not), else the export fails naming ``what``."""
    if not value <= bound:
        raise DataError(
            output, f"export check failed: {what} (bound {bound:g} {unit}); nothing was written"
        )
    return value


def fp32_poses(model: _TemporalBase, seqs: list[np.ndarray]) -> list[np.ndarray]:
    """PyTorch fp32 on each sequence, edge padded as evaluation pads it: (T, J_out, 3) metres."""
    before, after = batches.padding(model.cfg.receptive_field(), model.cfg.causal)
    out = []
    with torch.inference_mode():
        for s in seqs:
            x = np.pad(s, ((before, after), (0, 0), (0, 0)), mode="edge")[None]
            out.append(model(torch.from_numpy(x)).numpy()[0])
    return out


def _export_fp32(model, tmp: Path, seqs, reference, output: Path) -> tuple[dict, dict]:
    """The fp32 files and their checks against PyTorch: ``(files {role: path}, summary)``."""
    files = {"whole": export_whole(model, tmp / "whole.onnx")}
    onnx_model = OnnxModel(files["whole"], model)
    diff = _max_diff([run_whole_file(onnx_model, s) for s in seqs], reference)
    summary = {
        "whole_fp32_max_diff_m": _require(
            diff, FP32_TOLERANCE, "m", output, f"onnxruntime differs from PyTorch by {diff:.2e} m"
        )
    }
    if model.cfg.causal:
        files["step"] = export_step(model, tmp / "step.onnx")
        diff = _max_diff([run_step_file(files["step"], s) for s in seqs], reference)
        what = f"the ONNX step model differs from the offline causal model by {diff:.2e} m"
        summary["step_fp32_max_diff_m"] = _require(diff, FP32_TOLERANCE, "m", output, what)
    return files, summary


def _export_int8(
    model, tmp: Path, files: dict, calibration, method, seqs, reference, output, bound
):
    """Quantize the fp32 files (the step model calibrated on stream starts too, :func:`step_feeds`)
    and check each against fp32 on the real poses, warm-up and after: ``(files, summary)``."""
    feeds = [{"keypoints_2d": w[None]} for w in calibration]
    q = {"whole": ort_quantize(files["whole"], tmp / "whole8.onnx", feeds, method)}
    got = {"whole": [run_whole_file(OnnxModel(q["whole"], model), s) for s in seqs]}
    if "step" in files:
        feeds = step_feeds(model, calibration)
        q["step"] = ort_quantize(files["step"], tmp / "step8.onnx", feeds, method)
        got["step"] = [run_step_file(q["step"], s) for s in seqs]
    summary = {}
    warmup = _warmup_frames(model.cfg)
    parts = {
        "warm-up": f"the first {warmup} frames",
        "after": f"the frames after the first {warmup}",
    }
    names = {"whole": "whole-sequence", "step": "streaming step"}
    for role, poses in got.items():
        errors = error_mm(poses, reference, warmup)
        for part, mm in errors.items():
            if mm is not None:
                what = (
                    f"the int8 {names[role]} model is {mm:.1f} mm from fp32 (mean joint distance) "
                    f"over {parts[part]} of the real test poses"
                )
                _require(mm, bound, "mm", output, what)
        summary[f"{role}_int8_error_mm"] = errors
    return q, summary


def export_checkpoint(
    checkpoint: str | Path,
    output: str | Path,
    check,
    int8: bool = False,
    calibration: np.ndarray | None = None,
    method: str = "minmax",
    int8_bound_mm: float = INT8_BOUND_MM,
) -> dict:
    """Export ``checkpoint`` to ``output`` (and its ``.step.onnx`` for a causal model), check each
    file with onnxruntime (module docstring), and only then write them, atomically.

    Args:
        check: real poses for the self-check: sequences (T, J, F) of normalised 2D keypoints,
            e.g. the test clips of the data the model was trained on (:func:`check_sequences`
            picks up to :data:`CHECK_FRAMES` frames of them).
        int8: quantize with onnxruntime (static QDQ, per-channel int8 weights), calibrated on
            ``calibration`` (K, T >= R, J, F) normalised training windows (required with int8).
        int8_bound_mm: the most int8 may differ from fp32 (mean joint distance on the check
            poses, warm-up and after each).

    Returns a summary: files, bytes, the largest fp32 difference to PyTorch (metres) and the int8
    error against fp32 (mm, warm-up and after). Any failed check is a :class:`DataError`.
    """
    output = Path(output)
    if output.suffix.lower() != ".onnx":
        raise DataError(output, "the output should be an .onnx file")
    check_writable(output)
    model = model_from_checkpoint(checkpoint)
    check_finite_weights(model, checkpoint)
    cfg, bound = model.cfg, int8_bound_mm
    if cfg.causal:
        check_writable(step_path(output))  # e.g. a folder by that name: fail before the work
    if int8:
        if calibration is None:
            raise DataError(checkpoint, "int8 export needs calibration windows")
        calibration = check_calibration(calibration, cfg).numpy()
    seqs = check_sequences(check, cfg)
    reference = fp32_poses(model, seqs)
    summary: dict = {"checkpoint": str(checkpoint), "causal": cfg.causal, "int8": int8}
    summary["check_frames"] = sum(map(len, seqs))
    try:
        with tempfile.TemporaryDirectory(
            dir=output.parent, prefix=".export-", ignore_cleanup_errors=True
        ) as tmp:
            files, checked = _export_fp32(model, Path(tmp), seqs, reference, output)
            summary.update(checked)
            if int8:
                files, checked = _export_int8(
                    model, Path(tmp), files, calibration, method, seqs, reference, output, bound
                )
                summary.update(checked)
            targets = {"whole": output, "step": step_path(output)}
            # Both files replace their previous versions as one (never a new whole-sequence file
            # beside an old step file); a failed rename removes both, naming the output.
            replace_together([(src, targets[role]) for role, src in files.items()])
    except OSError as e:  # a full disk or a folder that became unwritable: name the output
        raise DataError(
            output, f"cannot write the export here: {e.strerror or e}; nothing was written"
        ) from None
    for role in files:
        summary[f"bytes {targets[role].name}"] = targets[role].stat().st_size
    summary["files"] = [str(targets[role]) for role in files]
    return summary
