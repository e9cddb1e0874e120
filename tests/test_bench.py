"""The benchmark code runs and writes a complete report (figures are machine facts: no timing
asserts)."""

import json

import torch

from dilpose import bench, bench_quantization, bench_train, timing, train
from dilpose.config import ModelConfig
from dilpose.model import TemporalModelStrided, count_parameters


def test_quick_benchmark_writes_every_figure_with_the_machine(tmp_path):
    out = tmp_path / "model_quick.json"
    report = bench.run(quick=True, out=out, log=lambda _: None)
    saved = json.loads(out.read_text())
    assert saved["quick"] is True and saved["machine"]["torch"]
    row = saved["results"][0]
    for key in ("train", "train_no_dropout", "train_bf16"):
        assert row[key]["per_s"] > 0
    assert row["train_bf16"]["precision"] == "bf16" and row["train_bf16_speedup"] > 0
    assert {
        "whole",
        "whole_folded",
        "whole_bf16",
        "whole_folded_bf16",
        "strided",
        "strided_folded",
    } <= set(row["inference"])
    diffs = row["inference"]["max_abs_diff_vs_whole"]
    assert (
        diffs["whole_folded"] < 1e-3 and diffs["whole_folded_bf16"] < 0.5
    )  # metres: same function
    assert "native_bf16" in saved["machine"]
    # targets are judged on full runs only
    assert all(t["met"] is None for t in report["targets"].values())


def test_regularizer_bench_times_every_regularizer_beside_dropout(tmp_path):
    from dilpose import bench

    report = bench.run_regularizers(quick=True, out=tmp_path / "r.json", log=lambda s: None)
    regs = [r["regularizer"] for r in report["rows"]]
    assert regs == list(bench.REGULARIZERS) and regs[0].startswith("dropout")
    assert report["rows"][0]["step_vs_dropout"] == 1.0
    assert all(r["step_ms"] > 0 for r in report["rows"])
    worst = max(
        r["step_vs_dropout"] for r in report["rows"] if r["regularizer"].startswith("prune")
    )
    assert report["target"]["worst"] == worst
    assert report["target"]["met"] == (worst <= bench.PRUNE_STEP_LIMIT)
    assert (tmp_path / "r.json").is_file()


def test_quantization_bench_puts_int8_beside_fp32_and_streaming_beside_recompute(tmp_path):
    report = bench_quantization.run(quick=True, out=tmp_path / "q.json", log=lambda s: None)
    saved = json.loads((tmp_path / "q.json").read_text())
    assert saved["targets"] == report["targets"]
    rows = saved["rows"]
    for name in (
        "fp32 whole sequence",
        "int8 whole sequence",
        "onnxruntime fp32 whole sequence",
        "onnxruntime int8 whole sequence",
        "fp32 streaming, 1 stream(s)",
        "int8 window recompute, 32 stream(s)",
    ):
        assert rows[name]["frames_per_s"] > 0, name
    t = saved["targets"]
    assert (
        t["int8_bytes_ratio"]
        == rows["int8 whole sequence"]["bytes"] / rows["fp32 whole sequence"]["bytes"]
    )
    assert t["int8_bytes_met"] == (t["int8_bytes_ratio"] <= bench_quantization.TARGET_INT8_BYTES)


def test_the_bench_times_the_trainers_own_step(monkeypatch):
    # One training step in the code base: the bench's timed function and Trainer.train_step both
    # call dilpose.train.train_step (no copy of the step to drift from the trainer's).
    calls = []
    real = train.train_step
    monkeypatch.setattr(bench_train, "train_step", lambda *a: calls.append(a) or real(*a))
    bench.training_step(ModelConfig(filter_widths=(3,), channels=8), batch=4)()
    assert len(calls) == 1 and calls[0][3].inputs.shape == (4, 3, 17, 2)
    trainer = train.Trainer.__new__(train.Trainer)  # the method needs only the parts it passes on
    trainer.net, trainer.objective, trainer.optimizer = "net", "objective", "optimizer"
    trainer.device, trainer.precision, trainer.weight_pruning = "cpu", "fp32", None
    monkeypatch.setattr(train, "train_step", lambda *a: calls.append(a) or ("loss", {}))
    assert trainer.train_step("batch") == ("loss", {})
    assert calls[-1] == ("net", "objective", "optimizer", "batch", "cpu", "fp32", None)


def test_stream_bench_measures_live_lifting_quiet_and_busy(tmp_path):
    from dilpose import bench_stream, stream

    report = bench_stream.run(quick=True, out=tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text()) == report
    assert set(report["rows"]) == {
        f"{c}, {load}"
        for c in (
            "file, 1 thread",
            "file, 2 threads",
            "stdin, policy",
            "file, policy, 50 Hz",
            "stdin, policy, 50 Hz",
        )
        for load in ("quiet", "busy")
    }
    for row in report["rows"].values():
        assert row["frames"] == 40 and 0 < row["median_ms"] <= row["p95_ms"] <= row["p99_ms"]
        assert row["cpu_ms_per_frame"] > 0 and 0 <= row["preempted_fraction"] <= 1
    assert report["policy_threads"] == stream.STREAM_THREADS
    assert all(t["met"] is None for t in report["targets"].values())  # quick: not judged
    assert set(report["stdin_over_file_p95_ms_live"]) == {"quiet", "busy"}


def test_paced_streams_arrive_at_the_cameras_rate():
    import time

    from dilpose import bench_stream

    start, seen = time.perf_counter(), []
    for item in bench_stream._paced(range(5), 100.0):
        seen.append((item, time.perf_counter() - start))
    assert [i for i, _ in seen] == list(range(5))
    assert all(t >= k / 100.0 for k, t in seen)  # never early
    assert list(bench_stream._paced("abc", None)) == list("abc")  # unpaced: as they come


def _copy_into_baseline(ours, theirs) -> None:
    """Load dilpose's strided model's weights into the VideoPose3D-style model (same layers)."""
    sd, names = (
        ours.state_dict(),
        {
            "expand.conv.weight": "expand.weight",
            "shrink.weight": "shrink.weight",
            "shrink.bias": "shrink.bias",
        },
    )
    for k in ("weight", "bias", "running_mean", "running_var"):
        names[f"expand.bn.{k}"] = f"expand_bn.{k}"
    for i in range(len(ours.blocks)):
        for j, unit in enumerate(("temporal", "pointwise")):
            names[f"blocks.{i}.{unit}.conv.weight"] = f"convs.{2 * i + j}.weight"
            for k in ("weight", "bias", "running_mean", "running_var"):
                names[f"blocks.{i}.{unit}.bn.{k}"] = f"bns.{2 * i + j}.{k}"
    theirs.load_state_dict({names[k]: v for k, v in sd.items() if k in names}, strict=False)


def test_the_training_baseline_is_our_network_in_videopose3ds_layout():
    # The speed-up's baseline must be the same function, or the ratio compares different work:
    # with dilpose's weights (BatchNorm statistics made non-trivial) it gives dilpose's output.
    cfg = ModelConfig(filter_widths=(3, 3, 3), channels=16)
    torch.manual_seed(1)
    ours, theirs = TemporalModelStrided(cfg), bench_train.VideoPose3DStyle(cfg)
    assert count_parameters(ours) == count_parameters(theirs)
    for m in ours.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    _copy_into_baseline(ours, theirs)
    x = torch.randn(5, cfg.receptive_field(), 17, 2)
    with torch.no_grad():
        a, b = ours.eval()(x), theirs.eval()(x)
    assert a.shape == b.shape == (5, 1, 17, 3)
    assert torch.allclose(a, b, atol=1e-5)
    theirs.load_state_dict(bench_train.VideoPose3DStyle(cfg).state_dict())  # a fresh one differs
    with torch.no_grad():
        assert not torch.allclose(ours(x), theirs.eval()(x), atol=1e-3)


def test_interleaved_rotates_the_order_and_times_every_call():
    order = []
    fns = {k: (lambda k=k: order.append(k)) for k in "abc"}
    times = timing.interleaved(fns, warmup=1, rounds=3)
    assert order[:3] == list("abc")  # warm-up
    assert order[3:] == list("abc") + list("bca") + list("cab")
    assert all(len(t["wall"]) == len(t["cpu"]) == 3 for t in times.values())


def test_training_speed_bench_names_its_baseline(tmp_path):
    report = bench_train.run(quick=True, out=tmp_path / "t.json", log=lambda s: None)
    assert json.loads((tmp_path / "t.json").read_text()) == report
    assert set(report["threads"]) == {"1", "2"}
    for rows in report["threads"].values():
        assert list(rows) == list(bench_train.CONDITIONS)
        base = rows[bench_train.BASELINE]
        assert base["speedup_wall"] == {"median": 1.0, "min": 1.0, "max": 1.0}
        for r in rows.values():
            assert r["windows_per_s_wall"] > 0 and r["speedup_cpu"]["median"] > 0
            assert len(r["wall_s"]) == report["settings"]["rounds"]
    assert report["parameters"]["dilpose"] == report["parameters"]["VideoPose3D-style"]
    assert report["target"] is None  # quick runs judge nothing


def test_stream_summary_counts_the_frames_that_lost_their_core():
    from dilpose import bench_stream

    row = bench_stream._summary([0.5] * 94 + [4.5] * 6, [0.0005])
    assert row["preempted_fraction"] == 0.06
    assert row["median_ms"] == 0.5 and row["p95_ms"] == 4.5  # 6 % pre-empted: p95 is a slice
    row = bench_stream._summary([0.5] * 97 + [4.5] * 3, [0.0005])
    assert row["preempted_fraction"] == 0.03 and row["p95_ms"] == 0.5  # 3 %: a frame's own time
