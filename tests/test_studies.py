"""The receptive-field verdict of notebook 02, on hand-made results."""

from dilpose import config, experiments as ex


def _run(frames: int, mpjpe_mm: float, causal: bool = False) -> ex.RunResult:
    widths = {1: (1, 1, 1, 1, 1), 27: (3, 3, 3), 243: (3, 3, 3, 3, 3)}[frames]
    cfg = config.for_profile("default", filter_widths=widths, causal=causal)
    clips = [{"subject": "s", "action": "walk a", "camera": 0, "frames": 50, "mpjpe_mm": mpjpe_mm},
             {"subject": "s", "action": "walk b", "camera": 0, "frames": 400, "mpjpe_mm": mpjpe_mm + 1}]
    results = {"mpjpe": {"action_mean": mpjpe_mm, "per_action": {"walk": mpjpe_mm}}, "per_sequence": clips}
    return ex.RunResult(ex.run_label(cfg), cfg, [], results, 1.0, 0, None)


def test_a_gap_under_the_margin_is_no_clear_difference():
    main = _run(243, 65.1)
    lines = ex.comparison_lines(main, {"27 frames": _run(27, 64.5), "1 frame": _run(1, 75.0)}, margin_mm=1.0)
    assert lines[0].endswith("no clear difference (under 1.0 mm)") and "0.6 mm" in lines[0]
    assert lines[1] == "243 frames (65.1 mm) is 9.9 mm better than 1 frame (75.0 mm)"


def test_temporal_context_helps_only_when_every_shorter_window_is_beaten_by_the_margin():
    shorter = {"1 frame": _run(1, 75.0), "27 frames": _run(27, 66.5), "243 frames causal": _run(243, 60.0, True)}
    verdict = ex.model_verdict(_run(243, 65.1), shorter, "cmu-default", margin_mm=1.0)
    # The causal twin is better, but it is not a shorter window: it does not enter the verdict.
    assert verdict["temporal_context_helps"] is True
    assert any(line.startswith("Temporal context helps here") for line in verdict["lines"])

    shorter["27 frames"] = _run(27, 65.6)  # 0.5 mm worse than the main run: within the margin
    verdict = ex.model_verdict(_run(243, 65.1), shorter, "cmu-default", margin_mm=1.0)
    assert verdict["temporal_context_helps"] is False
    assert any(line.startswith("Temporal context does NOT clearly help here") and "27 frames" in line
               for line in verdict["lines"])
    assert "not comparable" in verdict["lines"][-1]
