"""``dilpose export``: a checkpoint to ONNX, the whole-sequence model and (causal models) the
streaming step model, optionally int8 (onnxruntime static QDQ, per-channel weights), each checked
against PyTorch with onnxruntime before it is written.

Files: ``OUTPUT`` (whole sequence: ``keypoints_2d`` (N, T, J, F) -> ``pose_3d`` (N, T - R + 1,
J_out, 3)) and, for a causal model, ``OUTPUT`` with ``.step.onnx`` (``frame`` (S, J, F), ``fresh``
(S,), ``state_k`` -> ``pose_3d`` (S, J_out, 3), ``state_k_out``: see
:class:`dilpose.stream.StepModel`). Every file records in its metadata which model it comes from
(a fingerprint of the weights), so that it is never used with another one
(:class:`dilpose.quantize.OnnxModel`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from . import quantize as Q
from .errors import DataError
from .fileio import check_writable

#: fp32 ONNX must equal PyTorch to this (metres): float rounding of a different kernel order only.
FP32_TOLERANCE = 1e-4


def step_path(output: Path) -> Path:
    return output.with_name(output.name[: -len(".onnx")] + ".step.onnx")


def _export_step(model, path: Path) -> Path:
    from .stream import StepModel

    step = StepModel(Q.Network(model)).eval()
    s = 2
    states = step.initial_states(s)
    frame = torch.zeros(s, model.cfg.in_joints, model.cfg.in_features)
    names = [f"state_{k}" for k in range(len(states))]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            step,
            (frame, torch.ones(s), *states),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["frame", "fresh", *names],
            output_names=["pose_3d", *[n + "_out" for n in names]],
            dynamic_axes={
                n: {0: "streams"}
                for n in ["frame", "fresh", "pose_3d", *names, *[n + "_out" for n in names]]
            },
        )
    Q._set_metadata(
        path,
        {
            Q.ONNX_KIND: "streaming-step",
            Q.ONNX_FINGERPRINT: Q.weights_fingerprint(model),
            Q.ONNX_CONFIG: json.dumps(Q._config_dict(model.cfg)),
            Q.ONNX_INPUT: json.dumps(getattr(model, "input_spec", None)),
            "dilpose.state_shapes": json.dumps(step.state_shapes),
        },
    )
    return path


def run_step_file(path: Path, keypoints: np.ndarray) -> np.ndarray:
    """Run a step ONNX file over one sequence (T, J, F): (T, J_out, 3), one stream, no flip."""
    meta = Q.onnx_metadata(path)
    shapes = json.loads(meta["dilpose.state_shapes"])
    sess = Q._ort_session(path)
    states = [np.zeros((1, n, c), np.float32) for n, c in shapes]
    out = []
    for t, frame in enumerate(keypoints.astype(np.float32)):
        feed = {"frame": frame[None], "fresh": np.array([1.0 if t == 0 else 0.0], np.float32)}
        feed.update({f"state_{k}": s for k, s in enumerate(states)})
        pose, *states = sess.run(None, feed)
        out.append(pose[0])
    return np.stack(out)


def _step_feeds(model, windows: np.ndarray, per_window: int = 4) -> list[dict]:
    """Calibration inputs for the step model: frames and buffer states met while streaming the
    calibration windows in fp32 (``per_window`` points per window, from its last frames)."""
    from .stream import StepModel

    step = StepModel(Q.Network(model)).eval()
    feeds = []
    with torch.inference_mode():
        for w in windows:
            states = step.initial_states(1)
            for t, frame in enumerate(torch.from_numpy(w)):
                fresh = torch.ones(1) if t == 0 else torch.zeros(1)
                if t >= len(w) - per_window:
                    feed = {"frame": frame[None].numpy(), "fresh": fresh.numpy()}
                    feed.update({f"state_{k}": s.numpy() for k, s in enumerate(states)})
                    feeds.append(feed)
                _, *states = step(frame[None], fresh, *states)
    return feeds


def export_checkpoint(
    checkpoint: str | Path,
    output: str | Path,
    int8: bool = False,
    calibration: np.ndarray | None = None,
    method: str = "minmax",
) -> dict:
    """Export ``checkpoint`` to ``output`` (and its ``.step.onnx`` for a causal model), check each
    file against PyTorch with onnxruntime, and write them atomically.

    int8: quantize with onnxruntime (static QDQ, per-channel int8 weights), calibrated on
    ``calibration`` (K, T >= R, J, F) normalised training windows (required with int8).
    Returns a summary: files, bytes, and the largest difference to PyTorch fp32 (metres).
    """
    from . import checkpoints

    output = Path(output)
    if output.suffix.lower() != ".onnx":
        raise DataError(output, "the output should be an .onnx file")
    check_writable(output)
    model = checkpoints.model_from_checkpoint(checkpoint)
    cfg = model.cfg
    if int8:
        if calibration is None:
            raise DataError(checkpoint, "int8 export needs calibration windows")
        calibration = Q.check_calibration(calibration, cfg).numpy()
    rng = np.random.default_rng(0)
    rf = cfg.receptive_field()
    test = (0.3 * rng.standard_normal((2, rf + 40, cfg.in_joints, cfg.in_features))).astype(
        np.float32
    )
    with torch.inference_mode():
        reference = model(torch.from_numpy(test)).numpy()
    summary: dict = {"checkpoint": str(checkpoint), "causal": cfg.causal, "int8": int8}
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".export-") as tmp:
        tmp = Path(tmp)
        whole = Q.export_whole(model, tmp / "whole.onnx")
        got = Q.OnnxModel(whole, model)(torch.from_numpy(test)).numpy()
        fp32_diff = float(np.abs(got - reference).max())
        if fp32_diff > FP32_TOLERANCE:
            raise DataError(
                output,
                f"export check failed: onnxruntime differs from PyTorch by {fp32_diff:.2e} m "
                f"(> {FP32_TOLERANCE:g})",
            )
        summary["whole_fp32_max_diff_m"] = fp32_diff
        files = {output: whole}
        if cfg.causal:
            step = _export_step(model, tmp / "step.onnx")
            from .stream import run_offline

            offline = run_offline(Q.Network(model), test[0])
            streamed = run_step_file(step, test[0])
            step_diff = float(np.abs(streamed - offline).max())
            if step_diff > FP32_TOLERANCE:
                raise DataError(
                    output,
                    f"export check failed: the ONNX step model differs from the offline causal "
                    f"model by {step_diff:.2e} m (> {FP32_TOLERANCE:g})",
                )
            summary["step_fp32_max_diff_m"] = step_diff
            files[step_path(output)] = step
        if int8:
            feeds = [{"keypoints_2d": w[None]} for w in calibration]
            q_whole = Q.ort_quantize(whole, tmp / "whole8.onnx", feeds, method)
            got8 = Q.OnnxModel(q_whole, model)(torch.from_numpy(test)).numpy()
            summary["whole_int8_max_diff_m"] = float(np.abs(got8 - reference).max())
            files[output] = q_whole
            if cfg.causal:
                step_feeds = _step_feeds(model, calibration[: min(len(calibration), 16)])
                q_step = Q.ort_quantize(
                    files[step_path(output)], tmp / "step8.onnx", step_feeds, method
                )
                streamed8 = run_step_file(q_step, test[0])
                summary["step_int8_max_diff_m"] = float(np.abs(streamed8 - offline).max())
                files[step_path(output)] = q_step
        for dst, src in files.items():
            os.replace(src, dst)
            summary[f"bytes {dst.name}"] = dst.stat().st_size
        summary["files"] = [str(p) for p in files]
    return summary
