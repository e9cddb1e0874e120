"""CPU benchmark of the temporal ConvNet: training and inference throughput on this machine.

Run ``python -m dilpose.bench`` (a few minutes) or ``python -m dilpose.bench --quick`` (seconds, for
CI). For each channel count (128, 256, 1024; widths 3,3,3,3,3, so 243-frame windows) it measures

* training windows/s: the strided path, forward + backward + Adam step on a batch of windows;
* inference frames/s: the whole-sequence path over one long padded sequence (one output per frame)
  against the strided path over every window of it, each with and without BatchNorm folded
  (:func:`dilpose.model.fold_batchnorm`), under ``torch.inference_mode``.

Every figure comes from :mod:`dilpose.timing` (median after a warm-up, best repetition kept) and
each row notes the plain GEMM rate before and after it, since a shared virtual machine's speed
drifts. Results and the machine details go to ``reports/bench/model.json`` (``model_quick.json``
with ``--quick``) and a table is printed.
``--quantization`` (also part of a full run) puts int8 beside fp32 and streaming beside window
recomputation at 1024 channels: ``reports/bench/quantization.json``
(:func:`dilpose.bench_quantization.run`). ``--training`` (also part of a full run) times the
training step against a VideoPose3D-style fp32 step, interleaved, at one and two threads:
``reports/bench/training.json`` (:mod:`dilpose.bench_train`).

Targets (2-core CPU, 1024 channels): training >= 100 windows/s, whole-sequence inference with BN
folded >= 4,000 frames/s. Whether each was met is recorded, never asserted: timings on a shared
machine vary.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch

from . import bench_data, bench_quantization, bench_stream, bench_train, bones, paths
from .bench_train import training_step
from .fileio import write_json
from .model import (
    ModelConfig,
    TemporalModel,
    TemporalModelStrided,
    count_parameters,
    fold_batchnorm,
)
from .precision import autocast, cpu_has_native_bf16
from .timing import (
    gemm_gflops,
    machine_info,
    rate,
    time_interleaved,
    time_reps,
)

TARGET_TRAIN_WINDOWS_PER_S = 100.0
TARGET_FOLDED_FRAMES_PER_S = 4000.0
TARGET_CHANNELS = 1024
# bf16 (mixed precision, on a CPU with AVX512-BF16): absolute targets, and the speed-up over fp32
# measured in the same run.
TARGET_TRAIN_BF16_WINDOWS_PER_S = 200.0
TARGET_WHOLE_BF16_FRAMES_PER_S = 9000.0
TARGET_BF16_SPEEDUP = 1.7


def bench_training(
    cfg: ModelConfig,
    batch: int,
    warmup: int,
    min_reps: int,
    min_seconds: float,
    dropout: bool = True,
    precision_: str = "fp32",
    regularizer: str | None = None,
) -> dict:
    """Windows/s of a full training step (:func:`training_step`).

    Args:
        cfg: architecture; ``dropout=False`` swaps the regulariser for ``none`` to show what
            dropout's mask generation costs.
        batch: windows per step, each (receptive_field, J_in, 2).
        precision_: ``fp32`` or ``bf16`` (mixed, as the trainer runs it: autocast, loss in fp32).
        regularizer: fill the slots with this one instead (``"prune(rate=0.25)"``, ...).
    """
    if not dropout:
        regularizer = "none"
    step = training_step(cfg, batch, precision_, regularizer)
    result = rate(batch, time_reps(step, warmup, min_reps, min_seconds))
    result["batch"] = batch
    result["precision"] = precision_
    return result


def _strided_windows(padded: torch.Tensor, start: int, count: int, rf: int) -> torch.Tensor:
    """Windows ``start .. start+count-1`` of a padded (1, T, J, F) sequence as (count, rf, J, F)."""
    chunk = padded[:, start : start + count + rf - 1]  # (1, count + rf - 1, J, F)
    windows = chunk.unfold(1, rf, 1)  # (1, count, J, F, rf): a view, no copy yet
    return windows.permute(0, 1, 4, 2, 3).reshape(count, rf, *padded.shape[2:])


def bench_inference(
    cfg: ModelConfig,
    frames: int,
    strided_windows: int,
    chunk: int,
    warmup: int,
    min_reps: int,
    min_seconds: float,
) -> dict:
    """Frames/s of 3D predictions for one sequence, whole-sequence vs strided, folded vs not.

    Args:
        frames: sequence length for the whole-sequence path (padded by cfg.padding()).
        strided_windows: how many of its frames the strided path predicts (each costs a full window
            of work, so fewer keep the run short; the rate does not depend on the count).
        chunk: windows per strided forward pass.
    """
    torch.manual_seed(0)
    rf = cfg.receptive_field()
    whole = TemporalModel(cfg).eval()
    strided = TemporalModelStrided(cfg).eval()
    strided.load_state_dict(whole.state_dict())
    models = {
        "whole": whole,
        "whole_folded": fold_batchnorm(whole),
        "strided": strided,
        "strided_folded": fold_batchnorm(strided),
    }
    left, right = cfg.padding()
    padded = bench_data.clip_2d(left + frames + right)  # real 2D: the test clips end to end

    def run_whole(model):
        return model(padded)

    def run_strided(model):
        outs = []
        for start in range(0, strided_windows, chunk):
            count = min(chunk, strided_windows - start)
            outs.append(model(_strided_windows(padded, start, count, rf)))
        return torch.cat(outs)

    results: dict = {}
    outputs: dict = {}
    with torch.inference_mode():
        for name, model in models.items():
            is_whole = name.startswith("whole")
            runner = run_whole if is_whole else run_strided
            results[name] = rate(
                frames if is_whole else strided_windows,
                time_reps(lambda: runner(model), warmup, min_reps, min_seconds),
            )
            out = runner(model)
            outputs[name] = out.reshape(-1, cfg.out_joints, 3)[:strided_windows]
        # The inference path in mixed bf16 (autocast), unfolded and folded.
        for name in ("whole", "whole_folded"):
            with autocast("bf16", torch.device("cpu")):
                results[f"{name}_bf16"] = rate(
                    frames,
                    time_reps(lambda: run_whole(models[name]), warmup, min_reps, min_seconds),
                )
                out = run_whole(models[name]).float()
            outputs[f"{name}_bf16"] = out.reshape(-1, cfg.out_joints, 3)[:strided_windows]
    # A benchmark of wrong outputs is worthless: check the variants agree on the shared frames
    # (metres; the bf16 ones to bf16's rounding, the fp32 ones to float rounding).
    ref = outputs["whole"]
    results["max_abs_diff_vs_whole"] = {
        k: float((v - ref).abs().max()) for k, v in outputs.items() if k != "whole"
    }
    results["frames"] = frames
    results["strided_windows"] = strided_windows
    return results


def _sizes(quick: bool) -> tuple[tuple[int, ...], dict]:
    """Default channel counts and the run's sizes: tiny for CI (``quick``), else the real ones."""
    if quick:
        sizes = dict(batch=16, frames=500, strided_windows=64, chunk=32, warmup=1, min_reps=2)
        return (32,), {**sizes, "min_seconds": 0.0}
    sizes = dict(batch=1024, frames=10_000, strided_windows=1024, chunk=256, warmup=2, min_reps=3)
    return (128, 256, 1024), {**sizes, "min_seconds": 8.0}


def _channel_row(cfg: ModelConfig, sizes: dict, quick: bool, log: Callable[[str], None]) -> dict:
    """Every figure of one channel count: training (fp32 with and without dropout, bf16) and
    inference, with the GEMM yardstick before and after."""
    c = cfg.channels
    timing = (sizes["warmup"], sizes["min_reps"], sizes["min_seconds"])
    log(f"channels {c}: training ...")
    gemm_before = gemm_gflops(0.1 if quick else 1.0)
    train = bench_training(cfg, sizes["batch"], *timing)
    train_no_dropout = bench_training(cfg, sizes["batch"], *timing, dropout=False)
    train_bf16 = bench_training(cfg, sizes["batch"], *timing, precision_="bf16")
    log(f"channels {c}: inference ...")
    infer = bench_inference(
        cfg,
        sizes["frames"],
        sizes["strided_windows"],
        sizes["chunk"],
        sizes["warmup"],
        sizes["min_reps"],
        sizes["min_seconds"] / 2,
    )
    return {
        "channels": c,
        "parameters": count_parameters(TemporalModel(cfg)),
        "gemm_gflops_before": gemm_before,
        "gemm_gflops_after": gemm_gflops(0.1 if quick else 1.0),
        "train": train,
        "train_no_dropout": train_no_dropout,
        "train_bf16": train_bf16,
        "train_bf16_speedup": train_bf16["per_s"] / train["per_s"],
        "inference": infer,
        "whole_bf16_speedup": infer["whole_bf16"]["per_s"] / infer["whole"]["per_s"],
        "whole_folded_bf16_speedup": infer["whole_folded_bf16"]["per_s"]
        / infer["whole_folded"]["per_s"],
    }


def _targets(rows: list[dict]) -> dict:
    """Each target at :data:`TARGET_CHANNELS`: measured (median), best, met (None: not measured)."""
    big = next((r for r in rows if r["channels"] == TARGET_CHANNELS), None)
    inference = big["inference"] if big else {}
    targets = {}
    for key, target, figure in (
        ("train_windows_per_s", TARGET_TRAIN_WINDOWS_PER_S, big and big["train"]),
        ("whole_folded_frames_per_s", TARGET_FOLDED_FRAMES_PER_S, inference.get("whole_folded")),
        ("train_bf16_windows_per_s", TARGET_TRAIN_BF16_WINDOWS_PER_S, big and big["train_bf16"]),
        (
            "whole_folded_bf16_frames_per_s",
            TARGET_WHOLE_BF16_FRAMES_PER_S,
            inference.get("whole_folded_bf16"),
        ),
    ):
        # Judged on the median, not the best repetition: a target should hold on a typical run.
        measured = figure["per_s"] if figure else None
        targets[key] = {
            "channels": TARGET_CHANNELS,
            "target": target,
            "measured": measured,
            "best": figure["best_per_s"] if figure else None,
            "met": None if measured is None else bool(measured >= target),
        }
    for key in ("train_bf16_speedup", "whole_folded_bf16_speedup"):
        ratio = big[key] if big else None
        targets[key] = {
            "channels": TARGET_CHANNELS,
            "target": TARGET_BF16_SPEEDUP,
            "measured": ratio or None,
            "best": None,
            "met": None if not ratio else bool(ratio >= TARGET_BF16_SPEEDUP),
        }
    return targets


def run(
    quick: bool = False,
    channels: tuple[int, ...] | None = None,
    out: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Run the benchmark, write the JSON report and return it.

    Args:
        quick: tiny sizes for CI (seconds); the targets are then not evaluated.
        channels: channel counts to measure (default 128, 256, 1024; 32 with ``quick``).
        out: report path (default ``paths.bench_dir() / "model.json"``, or ``model_quick.json``).
    """
    widths = (3, 3, 3, 3, 3)
    default_channels, sizes = _sizes(quick)
    out = Path(out) if out else paths.bench_dir() / ("model_quick.json" if quick else "model.json")
    rows = [
        _channel_row(ModelConfig(filter_widths=widths, channels=c), sizes, quick, log)
        for c in channels or default_channels
    ]
    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": {**machine_info(), "native_bf16": cpu_has_native_bf16()},
        "settings": {
            "filter_widths": list(widths),
            "receptive_field": ModelConfig(filter_widths=widths).receptive_field(),
            "dtype": str(torch.get_default_dtype()),
            **sizes,
        },
        "results": rows,
        "targets": _targets(rows),
    }
    write_json(out, report)
    log(format_table(report))
    log(f"wrote {out}")
    return report


def format_table(report: dict) -> str:
    """The report's figures as a fixed-width text table (rates are medians)."""
    head = (
        f"{'channels':>8} {'params':>11} {'train w/s':>10} {'(no drop)':>10} {'bf16 w/s':>9} "
        f"{'whole f/s':>10} {'whole+fold':>11} {'bf16+fold':>10} {'strided f/s':>12} "
        f"{'strided+fold':>13} {'GEMM GF/s':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in report["results"]:
        inf = r["inference"]
        lines.append(
            f"{r['channels']:>8} {r['parameters']:>11,} {r['train']['per_s']:>10.1f} "
            f"{r['train_no_dropout']['per_s']:>10.1f} {r['train_bf16']['per_s']:>9.1f} "
            f"{inf['whole']['per_s']:>10.0f} {inf['whole_folded']['per_s']:>11.0f} "
            f"{inf['whole_folded_bf16']['per_s']:>10.0f} {inf['strided']['per_s']:>12.0f} "
            f"{inf['strided_folded']['per_s']:>13.0f} "
            f"{r['gemm_gflops_before']:>4.0f}-{r['gemm_gflops_after']:<4.0f}"
        )
    m = report["machine"]
    lines.append(
        f"{m['cpu_model']}, {m['cpu_count']} CPUs, torch {m['torch']}, {m['torch_threads']} threads"
    )
    for key, t in report["targets"].items():
        status = "not measured" if t["met"] is None else ("met" if t["met"] else "NOT met")
        if t["measured"] is None:
            measured = "-"
        elif t["best"] is None:
            measured = f"{t['measured']:.2f}x"
        else:
            measured = f"{t['measured']:.1f} (best {t['best']:.1f})"
        lines.append(
            f"target {key} >= {t['target']:g} at {t['channels']} channels: {measured} ({status})"
        )
    return "\n".join(lines)


#: The regularisers notebook 03 compares; the pruning layer may cost at most this many times
#: dropout's training step.
REGULARIZERS = (
    "dropout(p=0.25)",
    "none",
    "prune(rate=0.25, over='nonzero', rescale=True, at_eval=False)",
    "prune(rate=0.25, over='nonzero', rescale=False, at_eval=True)",
    "prune(rate=0.25, over='all', rescale=True, at_eval=False)",
)
PRUNE_STEP_LIMIT = 1.3


def run_regularizers(
    quick: bool = False,
    channels: tuple[int, ...] | None = None,
    out: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Training-step rate of every regulariser of :data:`REGULARIZERS` beside dropout's (243
    frames, fp32, batch 256; 128 and 1024 channels), written to ``reports/bench/regularizers.json``
    with each one's step time relative to dropout's and the pruning layer's limit. The
    regularisers are timed interleaved, one step each per round, and each ratio to dropout is the
    median over rounds of the ratio within a round."""
    if quick:
        channels, sizes = channels or (16,), dict(batch=8, warmup=1, min_reps=2, min_seconds=0.0)
    else:
        channels = channels or (128, 1024)
        sizes = dict(batch=256, warmup=1, min_reps=3, min_seconds=3.0)
    out = (
        Path(out)
        if out
        else paths.bench_dir() / ("regularizers_quick.json" if quick else "regularizers.json")
    )
    rows = []
    for c in channels:
        cfg = ModelConfig(filter_widths=(3, 3, 3, 3, 3), channels=c)
        log(f"channels {c}: {len(REGULARIZERS)} regularisers, interleaved ...")
        steps = {reg: training_step(cfg, sizes["batch"], regularizer=reg) for reg in REGULARIZERS}
        times = time_interleaved(
            steps, sizes["warmup"], sizes["min_reps"], sizes["min_seconds"] * len(REGULARIZERS)
        )
        base = times[REGULARIZERS[0]]
        for reg in REGULARIZERS:
            r = rate(sizes["batch"], times[reg])
            rows.append(
                {
                    "channels": c,
                    "regularizer": reg,
                    "windows_per_s": r["per_s"],
                    "step_ms": 1000 * r["median_s"],
                    "step_vs_dropout": statistics.median(t / t0 for t, t0 in zip(times[reg], base)),
                    "reps": r["reps"],
                }
            )
        del steps
    prune_rows = [r for r in rows if r["regularizer"].startswith("prune")]
    report = {
        "machine": machine_info(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "quick": quick,
        "batch": sizes["batch"],
        "receptive_field": 243,
        "precision": "fp32",
        "method": "interleaved: one step of each regulariser per round; ratios within rounds, "
        "median over rounds",
        "rows": rows,
        "target": {
            "what": f"pruning layer step time <= {PRUNE_STEP_LIMIT}x dropout's",
            "worst": max(r["step_vs_dropout"] for r in prune_rows),
            "met": all(r["step_vs_dropout"] <= PRUNE_STEP_LIMIT for r in prune_rows),
        },
    }
    write_json(out, report)
    for r in rows:
        log(
            f"{r['channels']:>5} ch  {r['regularizer']:<62} {r['step_ms']:8.1f} ms/step  "
            f"{r['step_vs_dropout']:.2f}x dropout"
        )
    return report


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m dilpose.bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes for CI (seconds); targets not evaluated"
    )
    parser.add_argument(
        "--channels", type=int, nargs="+", help="channel counts (default 128 256 1024)"
    )
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, help="report path (default reports/bench/model.json)")
    parser.add_argument(
        "--regularizers",
        action="store_true",
        help="only the regularisers' training steps (reports/bench/regularizers.json)",
    )
    parser.add_argument(
        "--training",
        action="store_true",
        help="only dilpose's training step against VideoPose3D's (reports/bench/training.json)",
    )
    parser.add_argument(
        "--quantization",
        action="store_true",
        help="only int8 and streaming (reports/bench/quantization.json)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    channels = tuple(args.channels) if args.channels else None
    if args.regularizers:
        return run_regularizers(quick=args.quick, channels=channels, out=args.out)
    if args.quantization:
        return bench_quantization.run(quick=args.quick, out=args.out)
    if args.training:
        return bench_train.run(quick=args.quick, out=args.out)
    run_regularizers(quick=args.quick, channels=channels)
    bench_train.run(quick=args.quick)
    bench_quantization.run(quick=args.quick)
    bench_stream.run(quick=args.quick)  # live lifting's latency, quiet and busy
    if not args.quick:  # bone-length wobble and MPJPE of the shipped model's test predictions
        bones.main([])
    return run(
        quick=args.quick, channels=tuple(args.channels) if args.channels else None, out=args.out
    )


if __name__ == "__main__":
    main()
