"""The benchmark code runs and writes a complete report (figures are machine facts: no timing
asserts)."""

import json

from dilpose import bench


def test_quick_benchmark_writes_every_figure_with_the_machine(tmp_path):
    out = tmp_path / "model_quick.json"
    report = bench.run(quick=True, out=out, log=lambda _: None)
    saved = json.loads(out.read_text())
    assert saved["quick"] is True and saved["machine"]["torch"]
    row = saved["results"][0]
    for key in ("train", "train_no_dropout"):
        assert row[key]["per_s"] > 0
    assert {"whole", "whole_folded", "strided", "strided_folded"} <= set(row["inference"])
    # targets are judged on full runs only
    assert all(t["met"] is None for t in report["targets"].values())
