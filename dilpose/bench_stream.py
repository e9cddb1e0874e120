"""Per-frame latency of live lifting on a quiet and on a busy machine (issue 28).

``python -m dilpose.bench_stream`` (part of ``make bench``) lifts the quick start's example clip
(real CMU walking, simulated detector noise; ``data/examples``) frame by frame with the shipped
causal model, as ``dilpose lift --stream`` does, and measures each frame's wall time:

* with one and with two intra-op threads (:data:`dilpose.stream.STREAM_THREADS` is the policy);
* on a quiet machine and while ``LOAD_PROCESSES`` other processes keep every core busy (pure
  Python loops, the kind of load a shared machine has);
* in the file mode (``lift FILE --stream``: arrays in memory) and in the stdin mode (``lift -
  --stream``: one JSON line in, one out, parsing included), at the policy's thread count;
* frames back to back (a file piped in as fast as it can be read: the process never waits, so on
  a busy machine the scheduler takes its core away in the middle of a frame now and then), and
  paced at the clip's rate, :data:`LIVE_HZ` (a live detector's output: the process sleeps between
  frames and is woken for each, as ``lift - --stream`` is used behind a camera).

Conditions are interleaved: each repetition runs every condition once, in a rotated order, so a
drift of the machine's speed falls on all of them alike. Reported per condition: the median, 95th
and 99th percentile (ms, over all frames of all repetitions) and the process CPU time per frame.
Results go to ``reports/bench/stream.json``; nothing is asserted (timings on a shared machine
vary), the targets are recorded with whether they were met: 95th percentile under load < 5 ms,
and the stdin mode's 95th percentile no more than 1 ms over the file mode's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import live, paths, pretrained
from . import stream as streaming
from .camera import normalize_screen_coordinates
from .checkpoints import model_from_checkpoint
from .fileio import write_json
from .keypoints import read_keypoints

#: The clip: the quick start's example, as a user would stream it.
EXAMPLE = paths.DATA_DIR / "examples" / "cmu09_walk_09_12_camera0.json"
EXAMPLE_SIZE = (1000, 1002)  # its image size (the file records it too; the stdin mode needs it)
LOAD_PROCESSES = os.cpu_count() or 2  # one busy process per core
TARGET_P95_LOADED_MS = 5.0
TARGET_STDIN_OVER_FILE_MS = 1.0
#: The paced conditions' frame rate (Hz): the example clip's, a camera's.
LIVE_HZ = 50.0


def _paced(items, hz: float | None):
    """``items`` one at a time, the k-th not before k / ``hz`` seconds after the first (all at once
    when ``hz`` is None): a stream arriving at a camera's rate."""
    start = time.perf_counter()
    for k, item in enumerate(items):
        if hz:
            wait = start + k / hz - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        yield item


def _busy(n: int) -> list[subprocess.Popen]:
    """``n`` processes that spin a core each until killed."""
    return [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdout=subprocess.DEVNULL)
        for _ in range(n)
    ]


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def _file_mode(
    checkpoint: Path, x: np.ndarray, threads: int, hz: float | None = None
) -> tuple[list[float], float]:
    """Per-frame wall ms of the file mode (the lifter fed arrays; ``hz``: paced, :func:`_paced`)
    and CPU s per frame. The model is loaded here, as ``lift FILE --stream`` loads it and as the
    stdin mode does: a process that has just spent CPU loading a model is pre-empted more often in
    its first frames, so loading it once outside would favour the file mode."""
    cpu = time.process_time()  # the load included, as in the stdin mode's figure
    lifter = streaming.StreamLifter(model_from_checkpoint(checkpoint))
    times = []
    with streaming.small_work_threads(threads):
        for frame in _paced(x, hz):
            start = time.perf_counter()
            lifter.push(frame)
            times.append(1000 * (time.perf_counter() - start))
    return times, (time.process_time() - cpu) / len(x)


def _stdin_mode(
    checkpoint: Path, lines: list[str], hz: float | None = None
) -> tuple[list[float], float]:
    """Per-frame ms of the stdin mode: ``live.stream_lines`` on JSON lines (each reply's
    ``latency_ms``: parsing to output; ``hz``: paced, :func:`_paced`) and CPU s per frame."""
    out = io.StringIO()
    cpu = time.process_time()
    live.stream_lines(_paced(lines, hz), out, io.StringIO(), checkpoint, *EXAMPLE_SIZE)
    cpu = (time.process_time() - cpu) / len(lines)
    return [json.loads(r)["latency_ms"] for r in out.getvalue().splitlines()], cpu


#: A frame slower than this (ms) lost its core to another process part-way (back to back: one
#: frame's work is about 0.5 ms, and the scheduler gives a core back after a few ms); paced on a
#: quiet machine a cold core alone can take a frame past it.
PREEMPTED_MS = 2.0


def _summary(times: list[float], cpu: list[float]) -> dict:
    t = np.asarray(times)
    return {
        "frames": int(t.size),
        "median_ms": float(np.median(t)),
        "p95_ms": float(np.percentile(t, 95)),
        "p99_ms": float(np.percentile(t, 99)),
        "max_ms": float(t.max()),
        # Under load the 95th percentile sits at a threshold: it is a frame's own time while
        # fewer than 5 % of frames are pre-empted and a scheduler slice once more are, so it
        # jumps between about 0.5 and 4.5 ms; the pre-empted fraction says how near it is.
        "preempted_fraction": float(np.mean(t > PREEMPTED_MS)),
        "cpu_ms_per_frame": 1000 * float(np.mean(cpu)),
    }


def run(quick: bool = False, repetitions: int = 3, frames: int = 300, out: Path | None = None):
    """Measure every condition (module docstring), write the JSON report and return it."""
    if quick:
        repetitions, frames = 1, 40
    checkpoint = pretrained.path_of(pretrained.DEFAULT_STREAM)
    kp = read_keypoints(EXAMPLE, *EXAMPLE_SIZE)
    pixels = np.nan_to_num(np.asarray(kp.keypoints, dtype=np.float64))[:frames]
    x = normalize_screen_coordinates(pixels, *EXAMPLE_SIZE).astype(np.float32)
    scores = np.asarray(kp.scores, dtype=np.float64)[:frames]
    lines = [
        json.dumps(np.concatenate([pixels[t], scores[t][:, None]], 1).round(2).ravel().tolist())
        for t in range(len(pixels))
    ]
    conditions = [
        "file, 1 thread",
        "file, 2 threads",
        "stdin, policy",
        f"file, policy, {LIVE_HZ:g} Hz",
        f"stdin, policy, {LIVE_HZ:g} Hz",
    ]
    policy_threads = streaming.STREAM_THREADS
    results: dict = {f"{c}, {load}": ([], []) for c in conditions for load in ("quiet", "busy")}
    for rep in range(repetitions):
        for load in ("quiet", "busy") if rep % 2 == 0 else ("busy", "quiet"):
            procs = _busy(LOAD_PROCESSES) if load == "busy" else []
            try:
                time.sleep(0.3 if procs else 0)  # let the load start
                for c in conditions[rep % 5 :] + conditions[: rep % 5]:
                    hz = LIVE_HZ if c.endswith("Hz") else None
                    if c.startswith("stdin"):
                        times, cpu = _stdin_mode(checkpoint, lines, hz)
                    else:
                        threads = policy_threads if "policy" in c else int(c.split()[1])
                        times, cpu = _file_mode(checkpoint, x, threads, hz)
                    results[f"{c}, {load}"][0].extend(times)
                    results[f"{c}, {load}"][1].append(cpu)
            finally:
                _stop(procs)
    rows = {k: _summary(*v) for k, v in results.items()}
    policy = conditions[0] if streaming.STREAM_THREADS == 1 else conditions[1]
    busy = rows[f"{policy}, busy"]
    stdin_over = {
        load: rows[f"stdin, policy, {load}"]["p95_ms"] - rows[f"{policy}, {load}"]["p95_ms"]
        for load in ("quiet", "busy")
    }
    live_ = f"policy, {LIVE_HZ:g} Hz"
    live_over = {
        load: rows[f"stdin, {live_}, {load}"]["p95_ms"] - rows[f"file, {live_}, {load}"]["p95_ms"]
        for load in ("quiet", "busy")
    }
    live_busy = rows[f"stdin, {live_}, busy"]["p95_ms"]
    report = {
        "what": "per-frame latency of live lifting with the shipped causal model on the quick "
        "start's example clip (real poses), ms of wall time per frame; 'busy': "
        f"{LOAD_PROCESSES} other processes spinning every core; conditions interleaved",
        "machine": {"cpus": os.cpu_count(), "torch": torch.__version__},
        "model": pretrained.DEFAULT_STREAM,
        "policy_threads": streaming.STREAM_THREADS,
        "repetitions": repetitions,
        "frames_per_block": len(x),
        "quick": quick,
        "rows": rows,
        "stdin_over_file_p95_ms": stdin_over,
        "stdin_over_file_p95_ms_live": live_over,
        "live_hz": LIVE_HZ,
        "targets": {
            "p95_busy_ms": {
                "target": TARGET_P95_LOADED_MS,
                "measured": busy["p95_ms"],
                "met": None if quick else busy["p95_ms"] < TARGET_P95_LOADED_MS,
            },
            "stdin_over_file_p95_ms": {
                "target": TARGET_STDIN_OVER_FILE_MS,
                "measured": max(stdin_over.values()),
                "met": None if quick else max(stdin_over.values()) <= TARGET_STDIN_OVER_FILE_MS,
            },
            "p95_busy_ms_live_stdin": {
                "target": TARGET_P95_LOADED_MS,
                "measured": live_busy,
                "met": None if quick else live_busy < TARGET_P95_LOADED_MS,
            },
            "stdin_over_file_p95_ms_live": {
                "target": TARGET_STDIN_OVER_FILE_MS,
                "measured": max(live_over.values()),
                "met": None if quick else max(live_over.values()) <= TARGET_STDIN_OVER_FILE_MS,
            },
        },
    }
    name = "stream_quick.json" if quick else "stream.json"
    out = Path(out) if out else paths.bench_dir() / name
    write_json(out, report)
    return report


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m dilpose.bench_stream", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="one short repetition (CI)")
    parser.add_argument("--out", type=Path, help="report path (default reports/bench/stream.json)")
    args = parser.parse_args(argv)
    report = run(quick=args.quick, out=args.out)
    for name, row in report["rows"].items():
        print(
            f"{name:>28}: median {row['median_ms']:6.2f}  p95 {row['p95_ms']:7.2f}  "
            f"p99 {row['p99_ms']:7.2f} ms  cpu {row['cpu_ms_per_frame']:5.2f} ms/frame"
        )
    return report


if __name__ == "__main__":
    main()
