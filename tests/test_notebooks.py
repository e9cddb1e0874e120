"""The notebook series: sources and committed notebooks agree, notebooks follow the house rules, and
the smoke-profile run writes the metrics the issues ask for.

The smoke run is done once per session: by ``make test`` (which sets DILPOSE_SMOKE_REPORTS and then
checks the executed notebooks with nbval), or here when that variable is not set.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import numpy as np
import pytest
from conftest import write_h36m_files

from dilpose import paths, runner
from dilpose.datasets import mocap_files

#: The categories the default split tests (all but dance, which one person performs).
TEST_CATEGORIES = {"walk", "run", "jump", "exercise", "sport", "reach", "floor"}

SOURCES = runner.notebook_sources()


@pytest.fixture(scope="session")
def smoke_reports(tmp_path_factory) -> Path:
    given = os.environ.get("DILPOSE_SMOKE_REPORTS")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("smoke")
    env = {**os.environ, "DILPOSE_REPORTS": str(out)}
    subprocess.run(
        [sys.executable, "-m", "dilpose.runner", "--profile", "smoke"], check=True, env=env
    )
    return out


def test_notebooks_are_numbered_in_order():
    assert [p.name[:2] for p in SOURCES] == [f"{i:02d}" for i in range(1, len(SOURCES) + 1)]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_committed_notebook_matches_its_source_and_has_outputs(source):
    committed = source.with_suffix(".ipynb")
    assert committed.is_file(), f"{committed.name} is not committed (run `make paper`)"
    nb = nbformat.read(committed, as_version=4)
    text = jupytext.read(source)
    # papermill adds one "injected-parameters" cell; every other cell is the source's.
    cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    assert [c.source for c in cells] == [c.source for c in text.cells]
    code = [c for c in cells if c.cell_type == "code"]
    assert sum(bool(c.outputs) for c in code) >= len(code) // 2, (
        "committed without the outputs of a run"
    )
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    # paired with its source in a way JupyterLab's jupytext extension opens
    formats = nb.metadata["jupytext"]["formats"]
    paired = jupytext.paired_paths.paired_paths(str(committed), "ipynb", formats)
    assert str(source) in [p for p, _ in paired]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_follows_the_house_rules(source):
    nb = jupytext.read(source)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one parameters cell"
    assert {"profile", "dataset", "seed"} <= {
        t.id for t in ast.walk(ast.parse(params[0].source)) if isinstance(t, ast.Name)
    }
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        assert not any(
            isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            for n in ast.walk(tree)
        ), f"{source.name}: notebooks define no classes or functions (put them in dilpose/)"
        lines = [
            ln for ln in cell.source.splitlines() if ln.strip() and not ln.strip().startswith("#")
        ]
        assert len(lines) <= 16, f"{source.name}: a {len(lines)}-line cell belongs in dilpose/"
        assert "open(" not in cell.source and "Path(" not in cell.source, (
            "paths come from dilpose.paths"
        )


def test_data_notebook_writes_subjects_frames_and_actions(smoke_reports):
    metrics = json.loads((smoke_reports / "metrics" / "01_data.json").read_text())
    assert metrics["dataset"] == "mocap"
    assert set(metrics["subjects"]) == set(mocap_files.TRAIN_SUBJECTS + mocap_files.TEST_SUBJECTS)
    assert metrics["total_frames"] == sum(s["frames"] for s in metrics["subjects"].values())
    # the acceptance: >= 380 clips, >= 15 subjects, >= 50,000 frames at 50 Hz, test
    # subjects covering >= 5 categories, at least two thirds of the frames in training
    assert metrics["clips"] >= 380 and len(metrics["subjects"]) >= 15
    assert metrics["total_frames"] >= 50_000 and metrics["fps"] == 50
    assert len(metrics["test_categories"]) >= 5
    assert metrics["train_frames"] >= 2 / 3 * metrics["total_frames"]
    assert metrics["long_test_clips"]["clips"] >= 5
    assert set(metrics["sources"]) == {"cmu", "hdm05"}
    assert set(metrics["actions"]) == set(mocap_files.ACTIONS)
    assert metrics["provenance"]["config"]["profile"] == "smoke"
    assert "HDM05" in metrics["provenance"]["data_credit"]
    for name in (
        "01_bvh_fk.png",  # the walk-through of one clip, step by step
        "01_bvh_to_h36m.png",
        "01_skeletons.png",
        "01_camera_layout.png",
        "01_placement.png",
        "01_distortion.png",
        "01_noise_events.png",
        "01_four_views.png",
        "01_skeleton_3d.png",
    ):
        assert (smoke_reports / "figures" / name).stat().st_size > 1000


def test_committed_reports_match_the_committed_notebooks():
    metrics = json.loads((paths.REPO_ROOT / "reports" / "metrics" / "01_data.json").read_text())
    assert metrics["provenance"]["config"]["profile"] == "default"
    nb = nbformat.read(paths.NOTEBOOKS_DIR / "01_data_preparation.ipynb", as_version=4)
    printed = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert str(metrics["total_frames"]) in printed


def test_a_failing_notebook_is_named_with_its_cell(tmp_path, monkeypatch):
    bad = tmp_path / "notebooks" / "01_broken.py"
    bad.parent.mkdir()
    bad.write_text(
        '# %% tags=["parameters"]\nprofile = "smoke"\ndataset = "mocap"\nseed = 0\n\n'
        '# %%\nx = 1\n\n# %%\nraise ValueError("boom")\n'
    )
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", bad.parent)
    monkeypatch.setenv("DILPOSE_REPORTS", str(tmp_path / "reports"))
    with pytest.raises(
        runner.NotebookFailed, match=r"01_broken.py failed in cell \d+ .*ValueError: boom"
    ):
        runner.run(profile="smoke")


def test_dataset_parameter_switches_the_series_to_human36m_files(tmp_path, monkeypatch):
    """With VideoPose3D's Human3.6M npz files present, ``dataset="h36m"`` runs notebook 01 on them.

    The files here are written in the exact upstream format, with CMU motion standing in for the
    (non-downloadable) Human3.6M motion."""
    write_h36m_files(tmp_path)
    monkeypatch.setenv("DILPOSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DILPOSE_REPORTS", str(tmp_path / "reports"))
    source = next(p for p in SOURCES if p.name.startswith("01_"))
    runner.execute(
        source,
        tmp_path / "reports" / "executed" / "01.ipynb",
        {"profile": "smoke", "dataset": "h36m", "seed": 0},
    )
    metrics = json.loads((tmp_path / "reports" / "metrics" / "01_data.json").read_text())
    assert metrics["dataset"] == "h36m" and metrics["layout_2d"] == "h36m17"
    assert set(metrics["subjects"]) == {"S1", "S9"} and metrics["test_subjects"] == ["S9"]


def test_model_notebook_writes_metrics_with_protocol_seeds_and_intervals(smoke_reports):
    metrics = json.loads((smoke_reports / "metrics" / "02_model.json").read_text())
    assert metrics["dataset"] == "mocap"
    assert metrics["test_subjects"] == list(mocap_files.TEST_SUBJECTS)
    protocol = metrics["protocol"]
    assert protocol["flip_test"] is True and protocol["root_relative"] is True
    assert set(protocol["metrics"]) == {"mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"}
    assert metrics["main"]["receptive_field"] == 27  # the smoke profile's model
    assert set(metrics["ablations"]) == {
        "1 frame", "27 frames causal", "9 frames, matched", "27 frames, matched"
    }  # fmt: skip
    for run in [metrics["main"], *metrics["ablations"].values()]:
        assert 0 < run["p_mpjpe_mm"] <= run["mpjpe_mm"]  # alignment can only reduce the error
        assert set(run["per_action"]["mpjpe"]) == TEST_CATEGORIES
    assert (
        metrics["arms"]["27 frames"]["seeds"]
        == metrics["arms"]["27 frames causal"]["seeds"]
        == [0, 1, 2]
    )
    assert metrics["arms"]["1 frame"]["seeds"] == [0]
    assert metrics["arms"]["9 frames, matched"]["seeds"] == [0, 1, 2, 3, 4]
    c = metrics["comparisons"]["27 frames vs 27 frames causal"]
    assert c["lo"] <= c["diff"] <= c["hi"] and c["decisive"] and c["paired_seeds"]
    for c in metrics["comparisons"].values():  # every verdict: interval, margin, counts, power
        assert c["margin"] == 2.0 and c["power_line"].startswith("could detect")
        assert c["n_subjects"] == len(mocap_files.TEST_SUBJECTS) and c["n_views"] > 0
    assert set(metrics["holm"]["family"]) == {
        k for k, c in metrics["comparisons"].items() if c["family"]
    }
    assert "not comparable" in metrics["published_note"]
    for name in (
        "02_receptive_field.png",
        "02_window.png",
        "02_ablation.png",
        "02_learning_curves.png",
        "02_prediction.png",
    ):
        assert (smoke_reports / "figures" / name).stat().st_size > 1000


def test_training_progress_goes_to_the_console_not_into_the_notebook(smoke_reports):
    """Epoch lines go to the terminal; the executed notebook keeps one line per trained model."""
    nb = nbformat.read(smoke_reports / "executed" / "02_model_building.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "epoch 1/1" not in text and "[dilpose]" not in text
    # main, 2 more seeds, 3 causal, 1 frame, 2 x 5 matched
    assert text.count("trained 1 epochs in") >= 17
    assert "widgets" not in nb.metadata


# The smoke profile's numbers, measured (seed 0, 2-core CPU): a plumbing check, not a result, but a
# change in the pipeline that makes them much worse (or much better) should not pass unnoticed.
SMOKE_MPJPE_MM = {"27 frames": 312.6, "27 frames causal": 319.5, "1 frame": 293.9}
SMOKE_TOLERANCE = 0.10


def test_smoke_metrics_stay_where_they_were_measured(smoke_reports):
    metrics = json.loads((smoke_reports / "metrics" / "02_model.json").read_text())
    measured = {
        "27 frames": metrics["main"]["mpjpe_mm"],
        **{k: v["mpjpe_mm"] for k, v in metrics["ablations"].items()},
    }
    for name, expected in SMOKE_MPJPE_MM.items():
        assert abs(measured[name] - expected) <= SMOKE_TOLERANCE * expected, (
            name,
            measured[name],
            expected,
        )


def test_a_second_run_of_notebook_02_trains_nothing_and_gives_the_same_metrics(
    smoke_reports, tmp_path
):
    """The smoke run above filled the model cache; running notebook 02 again on the same reports
    folder loads every model and reproduces every metric."""
    import shutil

    reports = tmp_path / "reports"
    shutil.copytree(smoke_reports / "checkpoints", reports / "checkpoints")
    before = {f.name: f.stat().st_mtime for f in (reports / "checkpoints").glob("*.pt")}
    env = {**os.environ, "DILPOSE_REPORTS": str(reports)}
    subprocess.run(
        [sys.executable, "-m", "dilpose.runner", "--profile", "smoke", "--only", "02"],
        check=True,
        env=env,
    )
    again = json.loads((reports / "metrics" / "02_model.json").read_text())
    first = json.loads((smoke_reports / "metrics" / "02_model.json").read_text())
    runs = [r for arm in again["arms"].values() for r in arm["runs"]]
    assert runs and all(r["cached"] for r in runs) and again["main"]["cached"]
    assert {f.name: f.stat().st_mtime for f in (reports / "checkpoints").glob("*.pt")} == before
    for key in ("comparisons", "verdict", "per_clip_mpjpe_mm"):
        assert again[key] == first[key], key
    assert again["main"]["mpjpe_mm"] == first["main"]["mpjpe_mm"]


def test_committed_model_metrics_state_the_verdicts_from_the_intervals():
    metrics = json.loads((paths.REPO_ROOT / "reports" / "metrics" / "02_model.json").read_text())
    main = metrics["main"]
    assert (
        main["receptive_field"] == 243 and metrics["provenance"]["config"]["profile"] == "default"
    )
    matched = ["243 frames, matched", "81 frames, matched", "27 frames, matched"]
    for label in ("243 frames", "243 frames causal"):
        assert len(metrics["arms"][label]["seeds"]) >= 3
    for label in matched:
        assert len(metrics["arms"][label]["seeds"]) >= 5 and metrics["arms"][label]["matched"]
    c = metrics["comparisons"]["243 frames, matched vs 27 frames, matched"]
    helps = c["hi"] < 0  # the longer field's error is lower, and the interval excludes 0
    assert metrics["temporal_context_helps"] is helps
    assert c["word"] in ("A better", "B better", "equivalent", "inconclusive")
    if c["word"] == "equivalent":  # only with the whole 90 % interval inside the margin
        assert -c["margin"] < c["equivalence_lo"] and c["equivalence_hi"] < c["margin"]
    for c in metrics["comparisons"].values():
        assert {"margin", "power_line", "n_subjects", "n_clips", "n_views", "n_seeds"} <= set(c)
    assert metrics["holm"]["family"] and "lines" in metrics["holm"]
    assert not any("no clear difference" in line for line in metrics["verdict"])


def test_pruning_notebook_writes_arms_seeds_intervals_and_verdicts(smoke_reports):
    metrics = json.loads((smoke_reports / "metrics" / "03_pruning.json").read_text())
    from dilpose.studies import s03_pruning

    assert set(metrics["arms"]) == set(s03_pruning.ARMS) | set(s03_pruning.WEIGHT_ARMS)
    for arm in metrics["arms"].values():
        assert arm["seeds"] == [0, 1, 2] and len(arm["mpjpe_action_mean_mm_per_seed"]) == 3
        iv = arm["mpjpe_frames_mm"]
        assert iv["lo"] <= iv["mean"] <= iv["hi"]
        assert len(arm["train_mpjpe_mm_per_seed"]) == 3
    assert "prune, training only vs dropout" in metrics["comparisons"]
    assert "dropout vs none" in metrics["comparisons"]
    for c in metrics["comparisons"].values():
        assert {"verdict", "lo", "hi", "winner", "margin", "power_line", "n_subjects"} <= set(c)
    assert set(metrics["holm"]["family"]) == set(metrics["comparisons"])
    assert set(metrics["claim"]) >= {"supported", "best", "best_verdict", "equivalent"}
    assert set(metrics["weight_sparsity"]) == {"50%", "75%", "90%"}
    for key, row in metrics["weight_sparsity_in_training"].items():  # pruned while training
        assert row["measured_sparsity"] == pytest.approx(row["sparsity"], abs=0.005), key
        assert row["vs_dense"] == metrics["comparisons"][f"weights pruned {key} vs none"]
    assert metrics["arms"]["weights pruned 90%"]["weight_sparsity"] == 0.9
    assert metrics["model"]["receptive_field"] == 27
    assert any(k.endswith("/ evaluation") for k in metrics["zero_fractions"])
    assert (smoke_reports / "figures" / "03_activations.png").stat().st_size > 1000


def test_shop_notebook_writes_setups_classifier_and_labels_its_data(smoke_reports):
    from dilpose.datasets import shop_format

    metrics = json.loads((smoke_reports / "metrics" / "06_shop.json").read_text())
    assert metrics["label"] == "simulated shop (CMU and HDM05 motion)"
    assert "not HRI-I" in metrics["not_hri_i"] or "not on HRI-I" in metrics["not_hri_i"]
    data = metrics["data"]
    assert data["simulated"] and data["people"] == 26 and data["poses"] >= 16_000
    assert set(data["per_action"]) == set(shop_format.ACTIONS)
    setups = metrics["setups"]
    assert {m["causal"] for m in metrics["models"].values()} == {False, True}
    assert {m["trained_on"] for m in metrics["models"].values()} == {"CMU/HDM05", "shop"}
    for s in setups.values():
        assert set(s["per_action_mpjpe_mm"]) == set(shop_format.ACTIONS)
        assert 0 < s["p_mpjpe_mm"] <= s["mpjpe_mm"]
    deployed = metrics["deployed_int8_streaming"]  # causal, int8, streaming runtime
    assert deployed.endswith("int8 streaming") and "causal" in deployed and deployed in setups
    assert f"{deployed} vs {deployed.replace('int8 streaming', 'fp32')}" in metrics["comparisons"]
    comps = metrics["comparisons"]
    for name, c in comps.items():  # every verdict with its margin, counts and power line
        assert c["margin"] == metrics["margin_mm"] and c["power_line"].startswith("could detect")
        assert c["n_subjects"] == len(data["test_people"]), name
    assert metrics["holm"]["family"] == list(comps)
    assert len(metrics["holm"]["lines"]) == len(metrics["holm"]["flipped"])
    focal = metrics["normalised_focal_length"]
    assert focal["shop"] == pytest.approx(620 / 640) and focal["mocap"] > 2
    clf = metrics["classifier"]
    shop_trained = next(n for n in setups if n.startswith("shop-trained") and "causal" not in n)
    for name in ("ground truth", shop_trained):
        assert clf[name]["accuracy_pct"] > clf[name]["chance_pct"] + 10, name  # beats chance
        assert np.asarray(clf[name]["confusion"]).shape == (6, 6)
    # the true-3D classifier leaves out the bones' within-window spread: constant on true 3D
    dropped = clf["ground truth"]["features"]["dropped"]
    assert "std of hip-r_hip" in dropped and all(d.startswith("std of") for d in dropped)
    on_predictions = clf[f"{shop_trained}, classifier trained on ground truth"]
    assert on_predictions["features"]["dropped"] == dropped
    assert metrics["provenance"]["config"]["profile"] == "smoke"
    for name in ("06_shop.png", "06_scenarios.png", "06_worst_1.png", "06_confusion.png"):
        assert (smoke_reports / "figures" / name).stat().st_size > 1000


def test_committed_shop_metrics_read_predictions_with_the_true_3d_classifier_above_chance():
    """At the default profile, the classifier trained on true 3D reads the shop-trained lifters'
    predictions above chance (it fell below chance while it kept the features that are constant
    on true 3D). The smoke profile's one-epoch lifters are too poor to test this."""
    metrics = json.loads((paths.REPO_ROOT / "reports" / "metrics" / "06_shop.json").read_text())
    if metrics["provenance"]["config"]["profile"] != "default":
        pytest.skip("the committed shop metrics are not the default profile's")
    if "features" not in metrics["classifier"]["ground truth"]:
        pytest.skip("the committed shop metrics predate dropping constant features")
    clf = metrics["classifier"]
    for name in metrics["setups"]:
        if name.startswith("shop-trained"):
            r = clf[f"{name}, classifier trained on ground truth"]
            assert r["accuracy_pct"] > r["chance_pct"], name


def test_semi_supervised_notebook_writes_the_sweep_with_intervals_and_verdicts(smoke_reports):
    metrics = json.loads((smoke_reports / "metrics" / "04_semi_supervised.json").read_text())
    assert metrics["dataset"] == "mocap" and metrics["provenance"]["config"]["profile"] == "smoke"
    rows = {(r["point"], r["arm"]): r for r in metrics["sweep"]}
    points = {p for p, _ in rows}
    assert {"1 subject", "all"} <= points
    assert metrics["labelled_source"] == "cmu" and set(metrics["test_sources"]) == {"cmu", "hdm"}
    for (point, arm), r in rows.items():
        assert r["seeds"] == [0, 1]
        assert r["mpjpe_mm"]["lo"] <= r["mpjpe_mm"]["mean"] <= r["mpjpe_mm"]["hi"]
        assert set(r["mpjpe_by_source_mm"]) == {"cmu", "hdm"}
        assert 0 < r["p_mpjpe_mm"] <= r["mpjpe_mm"]["mean"] + 1e-6
        assert 0 < r["depth_mm"]["mean"] and 0 < r["trajectory_mm"]["mean"]
        assert (r["unlabelled_frames"] > 0) == (arm != "supervised")
        if point != "all":  # labelled from one source
            assert all(s.startswith("cmu") for s in r["labelled_subjects"])
    assert ("all", "semi-supervised") not in rows  # nothing is left unlabelled
    assert ("1 subject", "semi-supervised, confidence-weighted") in rows
    for point in points - {"all"}:
        c = metrics["comparisons"][point]
        records = [c[k] for k in ("mpjpe", "trajectory_mm", "depth_mm", "confidence_weighted")]
        for rec in records + list(c["mpjpe_by_source"].values()):
            assert rec["lo"] <= rec["diff"] <= rec["hi"] and rec["paired_seeds"]
            assert rec["margin"] == metrics["margin_mm"] and "could detect" in rec["power_line"]
    holm = metrics["holm"]
    assert holm["family"] and set(holm["comparisons"]) == set(holm["family"])
    assert all(v["word"] in ("A better", "B better", "equivalent", "inconclusive")
               for v in holm["comparisons"].values())  # fmt: skip
    assert not any("no clear difference" in line for line in metrics["verdicts"])
    assert "could not be checked" in metrics["published_note"]
    for name in ("04_reprojection.png", "04_sweep.png"):
        assert (smoke_reports / "figures" / name).stat().st_size > 1000


def test_quantization_notebook_writes_the_table_sensitivity_streaming_and_targets(smoke_reports):
    metrics = json.loads((smoke_reports / "metrics" / "05_quantization.json").read_text())
    from dilpose.studies import s05_quantization as s05

    assert metrics["model"]["causal"] is True and metrics["model"]["receptive_field"] == 27
    variants = metrics["variants"]
    for label in (
        "fp32",
        "fp32, BN folded",
        "fp16",
        "bf16",
        "int8 per-tensor, min-max",
        "int8 per-channel, histogram",
        "int8 per-channel, histogram + QAT",
        "onnxruntime int8 per-channel, min-max",
    ):
        v = variants[label]
        assert 0 < v["p_mpjpe_mm"] <= v["mpjpe_mm"] and v["bytes"] > 0, label
        assert v["engine"] and v["whole_sequence_frames_per_s"] > 0, label
    # folding BN changes nothing but rounding; int8 is a fraction of the fp32 bytes
    assert abs(variants["fp32, BN folded"]["mpjpe_mm"] - variants["fp32"]["mpjpe_mm"]) < 0.01
    assert variants["int8 per-channel, histogram"]["bytes"] < 0.35 * variants["fp32"]["bytes"]
    assert variants["int8 per-channel, histogram"]["stream_latency_ms"] > 0
    c = metrics["comparisons_vs_fp32"]["int8 per-channel, histogram"]
    assert c["lo"] <= c["diff"] <= c["hi"] and "verdict" in c
    # QAT's control: the same fine-tuning steps in fp32, in the table and compared with QAT
    assert {s05.CONTROL, s05.CONTROL_INT8} <= set(variants)
    control = metrics["qat_control"]
    assert f"{s05.QAT} vs {s05.CONTROL}" in control and f"{s05.CONTROL} vs fp32" in control
    assert len(metrics["fp32_control_loss_mm"]) == s05.SIZES["smoke"]["qat_steps"]
    assert metrics["fp32_control_loss_mm"] != metrics["qat_loss_mm"]
    # every verdict with its margin, counts and power line; Holm over the named family
    verdicts = {**{f"{k} vs fp32": v for k, v in metrics["comparisons_vs_fp32"].items()}, **control}
    for name, v in verdicts.items():
        assert v["margin"] == metrics["margin_mm"] == s05.MARGIN_MM, name
        assert v["power_line"].startswith("could detect") and v["n_subjects"] >= 1, name
        assert v["word"] in ("A better", "B better", "equivalent", "inconclusive"), name
    holm = metrics["holm"]
    assert holm["family"] == list(verdicts)
    assert set(holm["flipped"]) <= set(verdicts) and len(holm["lines"]) == len(holm["flipped"])
    layers = set(metrics["sensitivity_mpjpe_mm_camera0"]) - {"none (fp32)"}
    assert metrics["kept_in_fp32"] in layers and "shrink" in layers
    assert len(metrics["qat_loss_mm"]) == s05.SIZES["smoke"]["qat_steps"]
    assert metrics["paper_h36m_mpjpe_mm"] == {"fp32": 46.5, "quantized": 66.5}
    s = metrics["streaming"]["fp32, streaming, 1 stream"]
    assert s["frames_per_s"] > 0 and s["speedup_vs_recompute"] > 0
    t = metrics["targets"]
    assert t["mpjpe_target_met"] == (t["mpjpe_ratio"] <= s05.TARGET_MPJPE_RATIO)


def test_explorer_notebook_opens_on_the_worst_test_subject(smoke_reports):
    metrics = json.loads((smoke_reports / "metrics" / "07_explorer.json").read_text())
    worst = metrics["worst_test_subject"]
    assert set(worst["per_subject_mm"]) == set(mocap_files.TEST_SUBJECTS)
    assert worst["subject"] == max(worst["per_subject_mm"], key=worst["per_subject_mm"].get)
    assert metrics["opened_on"]["subject"] == worst["subject"]
    assert metrics["opened_on"]["action"] == worst["action"]
    assert metrics["opened_on"]["frame_mpjpe_mm"] > 0
    assert any(m.startswith("lifter-243 ") for m in metrics["models_offered"])
    assert 0 < metrics["kernel_update_ms"]["median_ms"] < 1000


def test_shop_notebook_measures_the_gap_step_by_step_and_runs_the_camera_benchmark(smoke_reports):
    """Notebook 06's camera study (issue 26): the gap's three steps as one Holm family, the
    camera-robust models on the shop with their scale errors, and the camera benchmark on every
    family for notebook 02's model and both camera-robust ones."""
    from dilpose import virtual_cameras

    metrics = json.loads((smoke_reports / "metrics" / "06_cameras.json").read_text())
    steps = metrics["gap_steps"]
    assert list(steps) == ["focal length", "viewpoint and lens distortion",
                           "people, motions and shelves"]  # fmt: skip
    for step, c in steps.items():
        assert {"verdict", "lo", "hi", "margin", "power_line", "n_subjects"} <= set(c), step
    assert metrics["holm"]["family"] == list(steps)
    assert {"as is", "training lens", "robust, focal known", "shop-trained"} <= set(
        metrics["mpjpe_mm"]
    )
    robust = [n for n in metrics["scale_error"] if n.startswith("camera-robust")]
    assert len(robust) == 4 and all(-1 < metrics["scale_error"][n] < 1 for n in robust)
    assert sum(n.endswith(", full-size bones") for n in robust) == 2
    assert metrics["robust_vs_shop_trained"]["margin"] == 2.0
    bench = metrics["camera_benchmark"]
    assert set(bench) == set(virtual_cameras.FAMILIES)
    for family, models in bench.items():
        assert len(models) == 3, family
        for r in models.values():
            assert r["p_mpjpe"] <= r["mpjpe"] and -1 < r["scale_error"] < 1
            assert -1 < r["full_size"]["scale_error"] < 1 and r["full_size"]["mpjpe"] > 0
    assert metrics["distribution"]["views_per_clip"] == virtual_cameras.TRAINING_VIEWS
    comps = metrics["camera_benchmark_comparisons"]
    assert len(comps) == 2 * len(virtual_cameras.FAMILIES)  # each robust model, each family
    assert all(
        c["margin"] == 2.0 and c["power_line"].startswith("could detect") for c in comps.values()
    )
