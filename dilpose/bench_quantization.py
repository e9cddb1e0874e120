"""int8 against fp32 and streaming against window recomputation at the paper's size (notebook 05's
claims), side by side in one run: ``python -m dilpose.bench --quantization`` writes
``reports/bench/quantization.json`` (:func:`run`). Every ratio names what it divides by; targets
are recorded, never asserted (timings on a shared machine vary).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from . import export, paths
from . import quantize as Q
from . import stream as S
from .fileio import write_json
from .model import ModelConfig, TemporalModel, fold_batchnorm
from .timing import gemm_gflops, machine_info, whole_sequence_rate

# int8 and streaming (notebook 05): at the paper's size, side by side in one run.
TARGET_INT8_SPEEDUP = 2.0
TARGET_INT8_BYTES = 0.26
TARGET_STREAM_SPEEDUP = 3.0


def _whole_rows(model, net, q, frames: int, seconds: float, quick: bool, log) -> dict:
    """Whole-sequence frames/s and bytes of fp32 and int8, in PyTorch and in onnxruntime."""
    rows: dict[str, dict] = {}

    def whole(name, m, engine, nbytes):
        log(f"{name} ...")
        gemm = gemm_gflops(0.1 if quick else 0.5)
        rows[name] = {
            "frames_per_s": whole_sequence_rate(m, frames, seconds),
            "bytes": nbytes,
            "engine": engine,
            "gemm_gflops_before": gemm,
        }

    folded = fold_batchnorm(model)
    whole("fp32 whole sequence", folded, "torch-fp32 (BN folded)", Q.state_bytes(folded))
    whole("int8 whole sequence", q, Q.ENGINE_TORCH_INT8, q.state_bytes())
    with tempfile.TemporaryDirectory() as tmp:
        f32 = export.export_whole(model, Path(tmp) / "m.onnx")
        feeds = [{"keypoints_2d": (0.3 * torch.randn(1, 243 + 63, 17, 2)).numpy()}] * 2
        i8 = export.ort_quantize(f32, Path(tmp) / "m8.onnx", feeds, "minmax")
        threads = torch.get_num_threads()
        for name, path, engine in (
            ("onnxruntime fp32 whole sequence", f32, "onnxruntime-fp32"),
            ("onnxruntime int8 whole sequence", i8, export.ENGINE_ORT_INT8),
        ):
            whole(name, export.OnnxModel(path, model, threads), engine, export.file_bytes(path))
    return rows


def _stream_rows(model, net, q, seconds: float, log) -> dict:
    """Streaming against window recomputation, fp32 and int8, one stream and 32."""
    rows: dict[str, dict] = {}
    for prec, m in (("fp32", net), ("int8", q)):
        for n in (1, 32):
            log(f"{prec} streaming vs window recompute, {n} stream(s) ...")
            s = S.stream_rate(S.StreamingNetwork(m, n), 50, seconds)
            w = S.stream_rate(S.WindowRecompute(model if prec == "fp32" else m, n), 10, seconds)
            rows[f"{prec} streaming, {n} stream(s)"] = {**s, "engine": f"dilpose.stream {prec}"}
            rows[f"{prec} window recompute, {n} stream(s)"] = {
                **w,
                "engine": "strided twin, weights in place (fp32)" if prec == "fp32" else "int8",
            }
            if prec == "fp32":  # the baseline as it was: weights reordered on every call
                old = S.stream_rate(S.WindowRecompute(model, n, in_place=False), 10, seconds)
                rows[f"fp32 window recompute (weights reordered per call), {n} stream(s)"] = {
                    **old,
                    "engine": "strided twin (fp32), before",
                }
    return rows


def _quantization_targets(rows: dict) -> dict:
    f32_row, i8_row = rows["fp32 whole sequence"], rows["int8 whole sequence"]
    speedup = i8_row["frames_per_s"] / f32_row["frames_per_s"]
    bytes_ratio = i8_row["bytes"] / f32_row["bytes"]
    stream_speedup = (
        rows["fp32 streaming, 1 stream(s)"]["frames_per_s"]
        / rows["fp32 window recompute, 1 stream(s)"]["frames_per_s"]
    )
    return {
        "int8_speedup": speedup,
        "int8_speedup_met": speedup >= TARGET_INT8_SPEEDUP,
        "int8_bytes_ratio": bytes_ratio,
        "int8_bytes_met": bytes_ratio <= TARGET_INT8_BYTES,
        "stream_speedup_1_stream": stream_speedup,
        "stream_speedup_met": stream_speedup >= TARGET_STREAM_SPEEDUP,
        "onnxruntime_int8_speedup": rows["onnxruntime int8 whole sequence"]["frames_per_s"]
        / rows["onnxruntime fp32 whole sequence"]["frames_per_s"],
        "onnxruntime_int8_speedup_vs_pytorch_fp32": rows["onnxruntime int8 whole sequence"][
            "frames_per_s"
        ]
        / f32_row["frames_per_s"],
        # every ratio names what it divides by
        "baselines": {
            "int8_speedup": "PyTorch int8 / PyTorch fp32, whole sequence",
            "stream_speedup_1_stream": "streaming / window recompute with weights in place, fp32",
            "onnxruntime_int8_speedup": "onnxruntime int8 / onnxruntime fp32",
            "onnxruntime_int8_speedup_vs_pytorch_fp32": "onnxruntime int8 / PyTorch fp32",
        },
    }


def run(
    quick: bool = False,
    channels: int | None = None,
    out: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """int8 against fp32 and streaming against window recomputation, 243-frame causal model at
    ``channels`` (1024, the paper's; 32 with ``quick``), random weights (speed and bytes do not
    depend on them): ``reports/bench/quantization.json``.

    Rows: whole-sequence frames/s and bytes of fp32 (BN folded, PyTorch), int8 (PyTorch x86
    kernels, per-channel) and both through onnxruntime (fp32 and static QDQ int8); frames/s of the
    streaming runtime and of recomputing the 243-frame window per frame, 1 stream and 32, fp32 and
    int8. Targets (recorded, never asserted): int8 >= 2x fp32 throughput and <= 26 % of its bytes;
    streaming >= 3x the window-recompute rate for one stream."""
    channels = channels or (32 if quick else 1024)
    frames, seconds = (100, 0.0) if quick else (2000, 3.0)
    out = (
        Path(out)
        if out
        else paths.bench_dir() / ("quantization_quick.json" if quick else "quantization.json")
    )
    torch.manual_seed(0)
    cfg = ModelConfig(filter_widths=(3, 3, 3, 3, 3), channels=channels, causal=True)
    model = TemporalModel(cfg).eval()
    net = Q.Network(model).calibrate(0.3 * torch.randn(4, 243 + 63, 17, 2), "minmax")
    q = net.quantize(per_channel=True)
    rows = _whole_rows(model, net, q, frames, seconds, quick, log)
    rows.update(_stream_rows(model, net, q, seconds, log))
    targets = _quantization_targets(rows)
    report = {
        "machine": machine_info(),
        "quick": quick,
        "channels": channels,
        "receptive_field": 243,
        "rows": rows,
        "targets": targets,
    }
    write_json(out, report)
    for name, r in rows.items():
        log(f"{name:<40} {r['frames_per_s']:10.1f} frames/s  {r['engine']}")
    log(
        f"int8/fp32: {targets['int8_speedup']:.2f}x throughput, "
        f"{targets['int8_bytes_ratio']:.3f} of the bytes; "
        f"streaming/recompute (1 stream): {targets['stream_speedup_1_stream']:.1f}x"
    )
    return report
