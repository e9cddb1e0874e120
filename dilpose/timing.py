"""Timing on a shared CPU: the one timing loop every speed figure of dilpose comes from (the bench,
notebook 05's study, the streaming runtime), a GEMM yardstick and the machine record.

Every figure is taken after warm-up calls (the first passes pay for memory allocation and oneDNN
kernel selection) and summarised by the median over repetitions; the best repetition is kept too.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch


def time_reps(
    fn: Callable[[], object], warmup: int, min_reps: int, min_seconds: float
) -> list[float]:
    """Seconds per call of ``fn``: ``warmup`` untimed calls, then at least ``min_reps`` timed calls
    and at least ``min_seconds`` in all."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def time_interleaved(
    fns: dict[str, Callable[[], object]], warmup: int, min_reps: int, min_seconds: float
) -> dict[str, list[float]]:
    """Seconds per call of each of ``fns``, timed round-robin: one call of each per round, so a
    slow spell of a shared machine (other work on its cores) lands on all of them alike and a ratio
    taken within a round compares like with like. ``warmup`` untimed calls each first; then at
    least ``min_reps`` rounds and ``min_seconds`` in all."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    start = time.perf_counter()
    rounds = 0
    while rounds < min_reps or time.perf_counter() - start < min_seconds:
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
        rounds += 1
    return times


def interleaved(
    fns: dict[str, Callable[[], object]], warmup: int, rounds: int
) -> dict[str, dict[str, list[float]]]:
    """Wall and process-CPU seconds of every call of each of ``fns``: ``warmup`` untimed calls each,
    then ``rounds`` rounds of one call each, the order rotated every round (so no condition always
    runs first, after another's memory traffic): ``{name: {"wall": [...], "cpu": [...]}}``."""
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    out = {name: {"wall": [], "cpu": []} for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            w0, c0 = time.perf_counter(), time.process_time()
            fns[name]()
            out[name]["cpu"].append(time.process_time() - c0)
            out[name]["wall"].append(time.perf_counter() - w0)
    return out


def round_ratios(times: dict, name: str, base: str, clock: str = "wall") -> dict:
    """``base``'s time over ``name``'s within each round of :func:`interleaved`'s ``times``
    (``clock``: ``wall`` or ``cpu``): median, min and max over rounds."""
    r = [b / x for b, x in zip(times[base][clock], times[name][clock])]
    return {"median": statistics.median(r), "min": min(r), "max": max(r)}


def time_call(fn: Callable[[], object], min_reps: int = 3, min_seconds: float = 0.5) -> float:
    """Median seconds per call of ``fn`` after one warm-up call."""
    return statistics.median(time_reps(fn, 1, min_reps, min_seconds))


def rate(items: int, times: list[float]) -> dict:
    """Items per second from per-call ``times`` (s): median (``per_s``) and best repetition."""
    return {
        "per_s": items / statistics.median(times),
        "best_per_s": items / min(times),
        "reps": len(times),
        "median_s": statistics.median(times),
    }


def whole_sequence_rate(model, frames: int = 1000, min_seconds: float = 0.5) -> float:
    """Frames/s of a whole-sequence ``model`` (anything with ``cfg`` and forward (N, T, J, F) ->
    (N, T - R + 1, J_out, 3)) over one padded sequence of ``frames`` outputs, no flip."""
    cfg = model.cfg
    x = torch.randn(1, frames + cfg.receptive_field() - 1, cfg.in_joints, cfg.in_features)
    with torch.inference_mode():
        return frames / time_call(lambda: model(x), min_seconds=min_seconds)


def gemm_gflops(seconds: float = 0.5) -> float:
    """Sustained fp32 GEMM rate right now (GFLOP/s), a yardstick for the figures beside it.

    On a shared virtual machine the CPU time we get varies (twofold swings have been seen here), so
    each row of a benchmark records how fast plain matrix products ran just before it.
    """
    a, b = torch.randn(1024, 1024), torch.randn(1024, 2048)
    a @ b  # warm-up
    calls, start = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - start < seconds:
        a @ b
        calls += 1
    return 2 * 1024 * 1024 * 2048 * calls / (time.perf_counter() - start) / 1e9


def _cpu_model() -> str:
    # platform.processor() is often empty or just "x86_64" on Linux; /proc/cpuinfo names the part.
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine_info() -> dict:
    """Where the numbers come from: they mean little without the CPU, thread count and torch
    build."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        # c10 reads this once: huge pages for large tensors cut page-fault time on big activations.
        "THP_MEM_ALLOC_ENABLE": os.environ.get("THP_MEM_ALLOC_ENABLE"),
    }
