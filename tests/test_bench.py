"""The benchmark code runs and writes a complete report (figures are machine facts: no timing
asserts)."""

import json

from dilpose import bench, bench_quantization, train
from dilpose.config import ModelConfig


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
    monkeypatch.setattr(bench, "train_step", lambda *a: calls.append(a) or real(*a))
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
        for c in ("file, 1 thread", "file, 2 threads", "stdin, policy")
        for load in ("quiet", "busy")
    }
    for row in report["rows"].values():
        assert row["frames"] == 40 and 0 < row["median_ms"] <= row["p95_ms"] <= row["p99_ms"]
        assert row["cpu_ms_per_frame"] > 0
    assert report["policy_threads"] == stream.STREAM_THREADS
    assert all(t["met"] is None for t in report["targets"].values())  # quick: not judged
