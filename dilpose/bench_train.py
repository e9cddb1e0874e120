"""Training speed against a named baseline: dilpose's training step in fp32 and in bf16 beside a
VideoPose3D-style fp32 step, interleaved, at fixed thread counts (issue 28).

What the ratios divide by:

* **VideoPose3D-style fp32** (:class:`VideoPose3DStyle`): the training model of VideoPose3D
  (Pavllo et al., 2019) as its paper and code describe it, written here from that description: the
  same architecture as ours (an expanding convolution of width w0 and stride w0, then residual
  blocks of a width-w, stride-w convolution and a 1x1 convolution, each followed by BatchNorm, ReLU
  and ``torch.nn.Dropout``; the residual is the centre frame of each stride group), in the layout
  PyTorch's ``Conv1d`` wants (channels first, so the input is permuted), trained in fp32 with
  ``Adam(amsgrad=True)`` on the MPJPE loss. It has the same parameter count as dilpose's model.
* **dilpose fp32** and **dilpose bf16**: the trainer's own step (:func:`training_step`,
  channel-last GEMMs, the dropout of :mod:`dilpose.regularizers`; bf16 is mixed precision under
  autocast, the loss and the optimiser in fp32).

Every condition runs on the same batch of real windows (the embedded training data's 2D and true
3D: :func:`dilpose.bench_data.windows`), one step of each per round in a rotated order
(:func:`dilpose.timing.interleaved`), so a slow spell of the shared machine lands on all of them
alike; each ratio is taken within a round and summarised by its median and range over rounds,
from wall time and from the process's CPU time (which a competing process does not inflate), at
each thread count.
``python -m dilpose.bench --training`` writes ``reports/bench/training.json``.

Target (1024 channels, 243 frames, batch 1024, two threads): dilpose bf16 at least 3x the
VideoPose3D-style fp32 step. Whether it was met is recorded, never asserted.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import bench_data, paths
from .batches import Batch
from .fileio import write_json
from .model import ModelConfig, TemporalModelStrided, count_parameters
from .objectives import Supervised
from .stream import small_work_threads
from .timing import interleaved, machine_info, round_ratios
from .train import train_step

TARGET_SPEEDUP = 3.0
BASELINE = "VideoPose3D-style fp32"
CONDITIONS = (BASELINE, "dilpose fp32", "dilpose bf16")


def training_step(
    cfg: ModelConfig,
    batch: int,
    precision_: str = "fp32",
    regularizer: str | None = None,
) -> Callable[[], None]:
    """One full training step (forward, MPJPE loss, backward, Adam) on the strided path, as a
    function to time: the trainer's own step (:func:`dilpose.train.train_step`, supervised
    objective) on ``batch`` real windows of the embedded training data
    (:func:`dilpose.bench_data.windows`), each (receptive_field, J_in, 2)."""
    if regularizer is not None:
        cfg = dataclasses.replace(cfg, regularizer=regularizer)
    torch.manual_seed(0)
    model = TemporalModelStrided(cfg).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    inputs, targets = bench_data.windows(batch, cfg.receptive_field())
    windows = Batch(
        inputs=inputs,
        targets=targets,
        trajectory=None,
        intrinsics=np.zeros((batch, 9), np.float32),
        flipped=np.zeros(batch, bool),
    )
    objective, device = Supervised(), torch.device("cpu")

    def step():
        train_step(model, objective, optimizer, windows, device, precision_)

    return step


class VideoPose3DStyle(nn.Module):
    """VideoPose3D's single-frame training model, channels first (see the module docstring).

    x: (N, T, J_in, 2) with T = receptive field; returns (N, 1, J_out, 3) metres."""

    def __init__(self, cfg: ModelConfig, dropout: float = 0.25):
        super().__init__()
        w, c = cfg.filter_widths, cfg.channels
        self.widths, self.out_joints = w, cfg.out_joints
        self.expand = nn.Conv1d(cfg.in_joints * cfg.in_features, c, w[0], stride=w[0], bias=False)
        self.expand_bn = nn.BatchNorm1d(c, momentum=0.1)
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        for width in w[1:]:
            self.convs.append(nn.Conv1d(c, c, width, stride=width, bias=False))
            self.convs.append(nn.Conv1d(c, c, 1, bias=False))
            self.bns.append(nn.BatchNorm1d(c, momentum=0.1))
            self.bns.append(nn.BatchNorm1d(c, momentum=0.1))
        self.shrink = nn.Conv1d(c, cfg.out_joints * 3, 1)
        self.drop = nn.Dropout(dropout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t = x.shape[:2]
        h = x.reshape(n, t, -1).permute(0, 2, 1)  # (N, J_in * 2, T): Conv1d wants channels first
        h = self.drop(self.relu(self.expand_bn(self.expand(h))))
        for i, width in enumerate(self.widths[1:]):
            res = h[:, :, width // 2 :: width]  # the centre frame of each stride group
            h = self.drop(self.relu(self.bns[2 * i](self.convs[2 * i](h))))
            h = res + self.drop(self.relu(self.bns[2 * i + 1](self.convs[2 * i + 1](h))))
        return self.shrink(h).permute(0, 2, 1).reshape(n, -1, self.out_joints, 3)


def baseline_step(cfg: ModelConfig, batch: int) -> Callable[[], None]:
    """One VideoPose3D-style fp32 training step (forward, MPJPE, backward, Adam with amsgrad) on
    ``batch`` real windows (receptive_field, J_in, 2; :func:`dilpose.bench_data.windows`, the same
    as :func:`training_step`'s), as a function to time."""
    torch.manual_seed(0)
    model = VideoPose3DStyle(cfg).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    x, y = (torch.from_numpy(a) for a in bench_data.windows(batch, cfg.receptive_field()))

    def step():
        loss = torch.linalg.vector_norm(model(x) - y, dim=-1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def summarise(times: dict, batch: int) -> dict:
    """Per condition of :func:`dilpose.timing.interleaved`'s ``times``: windows/s (median; wall
    and CPU), the speed-ups over the baseline, bf16's over dilpose's own fp32 too, and the raw
    seconds."""
    rows = {}
    for name, t in times.items():
        rows[name] = {
            "windows_per_s_wall": batch / statistics.median(t["wall"]),
            "windows_per_cpu_s": batch / statistics.median(t["cpu"]),
            "speedup_wall": round_ratios(times, name, BASELINE, "wall"),
            "speedup_cpu": round_ratios(times, name, BASELINE, "cpu"),
            "wall_s": t["wall"],
            "cpu_s": t["cpu"],
        }
    for clock in ("wall", "cpu"):
        rows["dilpose bf16"][f"speedup_over_dilpose_fp32_{clock}"] = round_ratios(
            times, "dilpose bf16", "dilpose fp32", clock
        )
    return rows


def measure(cfg: ModelConfig, batch: int, thread_counts, warmup: int, rounds: int, log) -> dict:
    """Every condition at every thread count: windows/s (median, wall and CPU) and the speed-up
    over the baseline (per-round ratios), plus a check that both models have the same size."""
    ours, theirs = TemporalModelStrided(cfg), VideoPose3DStyle(cfg)
    rows = {}
    for n in thread_counts:
        log(f"training speed: {cfg.channels} channels, batch {batch}, {n} thread(s) ...")
        with small_work_threads(n):  # a thread count for the block, restored after
            fns = {
                BASELINE: baseline_step(cfg, batch),
                "dilpose fp32": training_step(cfg, batch, "fp32"),
                "dilpose bf16": training_step(cfg, batch, "bf16"),
            }
            times = interleaved(fns, warmup, rounds)
        rows[str(n)] = summarise(times, batch)
    return {
        "parameters": {
            "dilpose": count_parameters(ours),
            "VideoPose3D-style": count_parameters(theirs),
        },
        "threads": rows,
    }


def run(quick: bool = False, out: Path | None = None, log: Callable[[str], None] = print) -> dict:
    """The benchmark (``quick``: 64 channels, batch 32, a few rounds, for CI; no target), written
    to ``out`` (default ``reports/bench/training.json``, ``training_quick.json`` when quick)."""
    cfg = ModelConfig(channels=64 if quick else 1024)
    batch, rounds = (32, 3) if quick else (1024, 5)
    result = measure(cfg, batch, (1, 2), warmup=1, rounds=rounds, log=log)
    two = result["threads"]["2"]["dilpose bf16"]["speedup_wall"]["median"]
    report = {
        "what": "one training step (forward, MPJPE, backward, Adam) of each condition per round, "
        "rotated order; speed-ups are the baseline's time over the condition's, per round "
        f"(median, min, max over rounds); baseline: {BASELINE}",
        "quick": quick,
        "machine": machine_info(),
        "settings": {
            "channels": cfg.channels,
            "filter_widths": list(cfg.filter_widths),
            "receptive_field": cfg.receptive_field(),
            "batch": batch,
            "rounds": rounds,
        },
        **result,
        "target": None
        if quick
        else {
            "what": f"dilpose bf16 >= {TARGET_SPEEDUP}x {BASELINE} (two threads, wall time)",
            "measured": two,
            "met": two >= TARGET_SPEEDUP,
        },
    }
    path = out or paths.bench_dir() / ("training_quick.json" if quick else "training.json")
    write_json(path, report)
    log(format_table(report))
    return report


def format_table(report: dict) -> str:
    """One line per thread count and condition: windows/s and the speed-ups (wall, CPU)."""
    lines = [f"{'threads':>7} {'condition':>22} {'w/s':>8} {'x wall':>7} {'x cpu':>7}"]
    for n, rows in report["threads"].items():
        for name, r in rows.items():
            lines.append(
                f"{n:>7} {name:>22} {r['windows_per_s_wall']:>8.1f} "
                f"{r['speedup_wall']['median']:>7.2f} {r['speedup_cpu']['median']:>7.2f}"
            )
    return "\n".join(lines)
