"""int8 against fp32 and streaming against window recomputation at the paper's size (notebook 05's
claims), side by side in one run: ``python -m dilpose.bench --quantization`` writes
``reports/bench/quantization.json`` (:func:`run`). Every ratio names what it divides by; targets
are recorded, never asserted (timings on a shared machine vary).
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from . import bench_data, export, paths
from . import quantize as Q
from . import stream as S
from .fileio import write_json
from .model import ModelConfig, TemporalModel, fold_batchnorm
from .timing import interleaved, machine_info, round_ratios

# int8 and streaming (notebook 05): at the paper's size, side by side in one run.
TARGET_INT8_SPEEDUP = 2.0
TARGET_INT8_BYTES = 0.26
TARGET_STREAM_SPEEDUP = 3.0


def _whole_fns(model, q, frames: int, tmp: Path) -> tuple[dict, dict]:
    """Whole-sequence conditions: ``({name: one call over a padded sequence of ``frames``
    outputs}, {name: {"bytes", "engine"}})`` for fp32 (BN folded) and int8, in PyTorch and in
    onnxruntime (its files written under ``tmp``)."""
    folded = fold_batchnorm(model)
    threads = torch.get_num_threads()
    f32 = export.export_whole(model, tmp / "m.onnx")
    calib = bench_data.clip_2d(243 + 63, rows=2)  # real 2D, as the models are calibrated
    feeds = [{"keypoints_2d": calib[k : k + 1].numpy()} for k in range(2)]
    i8 = export.ort_quantize(f32, tmp / "m8.onnx", feeds, "minmax")
    models = {
        "fp32 whole sequence": (folded, "torch-fp32 (BN folded)", Q.state_bytes(folded)),
        "int8 whole sequence": (q, Q.ENGINE_TORCH_INT8, q.state_bytes()),
        "onnxruntime fp32 whole sequence": (
            export.OnnxModel(f32, model, threads),
            "onnxruntime-fp32",
            export.file_bytes(f32),
        ),
        "onnxruntime int8 whole sequence": (
            export.OnnxModel(i8, model, threads),
            export.ENGINE_ORT_INT8,
            export.file_bytes(i8),
        ),
    }
    x = bench_data.clip_2d(frames + model.cfg.receptive_field() - 1)

    def call(m):
        def run():
            with torch.inference_mode():
                m(x)

        return run

    fns = {name: call(m) for name, (m, _, _) in models.items()}
    info = {name: {"bytes": nbytes, "engine": e} for name, (_, e, nbytes) in models.items()}
    return fns, info


def _stream_fns(model, net, q, streams: int, steps: int) -> tuple[dict, dict]:
    """Streaming against window recomputation for ``streams`` streams, fp32 and int8 (and the old
    fp32 baseline that reordered its weights on every call): one call = ``steps`` steps."""
    runtimes = {
        f"fp32 streaming, {streams} stream(s)": (
            S.StreamingNetwork(net, streams),
            "dilpose.stream fp32",
        ),
        f"fp32 window recompute, {streams} stream(s)": (
            S.WindowRecompute(model, streams),
            "strided twin, weights in place (fp32)",
        ),
        f"fp32 window recompute (weights reordered per call), {streams} stream(s)": (
            S.WindowRecompute(model, streams, in_place=False),
            "strided twin (fp32), before",
        ),
        f"int8 streaming, {streams} stream(s)": (
            S.StreamingNetwork(q, streams),
            "dilpose.stream int8",
        ),
        f"int8 window recompute, {streams} stream(s)": (S.WindowRecompute(q, streams), "int8"),
    }
    # (steps, streams, 34): stream r reads the test clips from the r-th on, frame by frame
    x = bench_data.clip_2d(steps, rows=streams).transpose(0, 1).reshape(steps, streams, -1)

    def call(runtime):
        runtime.reset()

        def run():
            with torch.inference_mode():
                for k in range(steps):
                    runtime.step(x[k])

        return run

    fns = {name: call(r) for name, (r, _) in runtimes.items()}
    info = {
        name: {"engine": e, "rows": streams, "steps_per_call": steps}
        for name, (_, e) in runtimes.items()
    }
    return fns, info


def _timed_rows(fns: dict, info: dict, per_call: dict, rounds: int, log) -> tuple[dict, dict]:
    """Time ``fns`` interleaved (:func:`dilpose.timing.interleaved`, wall and CPU); rows with
    frames/s (median wall; per CPU second too) from ``per_call`` frames per call, and the raw
    times for the ratios."""
    log(f"{len(fns)} conditions interleaved, {rounds} rounds: {', '.join(fns)} ...")
    times = interleaved(fns, warmup=1, rounds=rounds)
    rows = {}
    for name, t in times.items():
        wall, cpu = statistics.median(t["wall"]), statistics.median(t["cpu"])
        rows[name] = {
            **info[name],
            "frames_per_s": per_call[name] / wall,
            "frames_per_cpu_s": per_call[name] / cpu,
        }
        if "steps_per_call" in info[name]:
            rows[name]["step_ms"] = 1000 * wall / info[name]["steps_per_call"]
    return rows, times


def _ratio(times: dict, name: str, base: str) -> dict:
    """Per-round ratio of ``base``'s time over ``name``'s, wall and CPU (median, min, max)."""
    return {clock: round_ratios(times, name, base, clock) for clock in ("wall", "cpu")}


def _quantization_targets(rows: dict, times: dict) -> dict:
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
        # the same ratios taken within each interleaved round, from wall and from CPU time
        "per_round": {
            "int8_speedup": _ratio(times, "int8 whole sequence", "fp32 whole sequence"),
            "stream_speedup_1_stream": _ratio(
                times, "fp32 streaming, 1 stream(s)", "fp32 window recompute, 1 stream(s)"
            ),
            "onnxruntime_int8_speedup": _ratio(
                times, "onnxruntime int8 whole sequence", "onnxruntime fp32 whole sequence"
            ),
            "onnxruntime_int8_speedup_vs_pytorch_fp32": _ratio(
                times, "onnxruntime int8 whole sequence", "fp32 whole sequence"
            ),
        },
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
    depend on them; no 1024-channel model is trained here), calibrated on and fed real 2D of the
    embedded test clips (:mod:`dilpose.bench_data`): ``reports/bench/quantization.json``.

    Rows: whole-sequence frames/s and bytes of fp32 (BN folded, PyTorch), int8 (PyTorch x86
    kernels, per-channel) and both through onnxruntime (fp32 and static QDQ int8); frames/s of the
    streaming runtime and of recomputing the 243-frame window per frame, 1 stream and 32, fp32 and
    int8. Targets (recorded, never asserted): int8 >= 2x fp32 throughput and <= 26 % of its bytes;
    streaming >= 3x the window-recompute rate for one stream."""
    channels = channels or (32 if quick else 1024)
    frames, rounds, steps = (100, 2, 4) if quick else (2000, 12, 20)
    out = (
        Path(out)
        if out
        else paths.bench_dir() / ("quantization_quick.json" if quick else "quantization.json")
    )
    torch.manual_seed(0)
    cfg = ModelConfig(filter_widths=(3, 3, 3, 3, 3), channels=channels, causal=True)
    model = TemporalModel(cfg).eval()
    net = Q.Network(model).calibrate(bench_data.clip_2d(243 + 63, rows=4), "minmax")
    q = net.quantize(per_channel=True)
    with tempfile.TemporaryDirectory() as tmp:
        fns, info = _whole_fns(model, q, frames, Path(tmp))
        rows, times = _timed_rows(fns, info, dict.fromkeys(fns, frames), rounds, log)
    for streams in (1, 32):
        fns, info = _stream_fns(model, net, q, streams, steps)
        per_call = {n: streams * steps for n in fns}
        more, more_times = _timed_rows(fns, info, per_call, rounds, log)
        rows.update(more)
        times.update(more_times)
    targets = _quantization_targets(rows, times)
    report = {
        "what": "frames/s, median over rounds; the conditions of each group (whole sequence; "
        "streaming and window recompute at 1 stream; at 32 streams) timed interleaved, one call "
        "each per round in a rotated order, wall and process CPU time, at the machine's thread "
        "count (machine.torch_threads)",
        "machine": machine_info(),
        "quick": quick,
        "rounds": rounds,
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
