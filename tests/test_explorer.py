"""The skeleton explorer's logic without a browser: what each picker does to the figure's traces,
the user's own lift output, and bad input shown as a message."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_h36m_files

from dilpose import explorer_data, explorer_figures, paths
from dilpose import skeleton as sk
from dilpose.explorer import NO_MODEL, Explorer
from dilpose.explorer_figures import (
    T_CURSOR,
    T_CURVE,
    T_DET_JOINTS,
    T_GT_JOINTS,
    T_PRED_JOINTS,
)

EXAMPLE = paths.DATA_DIR / "examples" / "cmu09_walk_09_12_camera0.json"


@pytest.fixture(autouse=True)
def _read_anywhere(monkeypatch):
    """These tests read lift results from pytest's and the repository's folders: the explorer may
    read the whole file system here (its confinement is tests/test_explorer_root.py's)."""
    monkeypatch.setenv(paths.EXPLORE_ROOT_ENV, "/")


@pytest.fixture(scope="module")
def ex():
    return Explorer("mocap", subject="cmu09", action="run 09_11")


def xs(ex, i):
    return list(ex.figure.data[i].x)


def test_opens_on_the_clip_with_the_shipped_model(ex):
    assert ex.subject.value == "cmu09" and ex.action.value == "run 09_11"
    assert ex.model.value.startswith("lifter-243 ") and NO_MODEL in ex.model.options
    assert len(xs(ex, T_PRED_JOINTS)) == 17 and len(xs(ex, T_GT_JOINTS)) == 17
    assert len(xs(ex, T_CURVE)) == len(ex.clip) == ex.frame.max + 1
    assert ex.message.value == ""
    # each predicted joint is coloured by its error, the same numbers the title averages
    colours = np.array(ex.figure.data[T_PRED_JOINTS].marker.color)
    assert np.allclose(colours, ex.clip.error_mm[0], atol=1e-3)
    assert f"MPJPE {ex.clip.mpjpe_mm[0]:.0f} mm" in ex.figure.layout.title.text


def test_opens_at_the_clips_worst_frame_in_the_figure_it_first_shows():
    worst = Explorer("mocap", subject="cmu09", action="run 09_11", frame="worst")
    t = int(np.argmax(worst.clip.mpjpe_mm))
    assert t > 0 and worst.frame.value == t
    # the FigureWidget was created from a figure already at that frame (what a browser first gets)
    assert worst.figure.layout.title.text.startswith(f"frame {t} ")
    assert xs(worst, T_CURSOR) == [t, t]


def test_the_slider_restyles_the_traces_of_one_frame(ex):
    ex.select(frame=0)
    before = {i: xs(ex, i) for i in (T_GT_JOINTS, T_PRED_JOINTS, T_DET_JOINTS)}
    curve = xs(ex, T_CURVE)
    ex.select(frame=30)
    for i, x in before.items():
        assert xs(ex, i) != x, i
    assert xs(ex, T_CURVE) == curve  # the whole-clip curve is not resent
    assert xs(ex, T_CURSOR) == [30, 30]
    assert ex.figure.layout.title.text.startswith("frame 30 ")
    # only one frame of joints is in the figure, whatever the clip's length
    assert len(xs(ex, T_PRED_JOINTS)) == 17


def test_the_ground_truth_is_the_dataset_clip_root_centred(ex):
    ex.select(frame=5)
    data = explorer_data.load_data("mocap")
    pos = data.positions_3d["cmu09"]["run 09_11"][5]
    assert np.allclose(xs(ex, T_GT_JOINTS), pos[:, 0] - pos[0, 0], atol=1e-4)


def test_switching_model_keeps_the_frame_and_changes_the_prediction(ex):
    ex.select(frame=20, model="lifter-243 (")
    gt, pred = xs(ex, T_GT_JOINTS), xs(ex, T_PRED_JOINTS)
    ex.select(model="causal")
    assert ex.frame.value == 20 and xs(ex, T_GT_JOINTS) == gt
    assert xs(ex, T_PRED_JOINTS) != pred
    n = len(ex.predictions)
    ex.select(model="lifter-243 (")  # computed before: taken from the cache
    assert len(ex.predictions) == n and xs(ex, T_PRED_JOINTS) == pred
    ex.select(model=NO_MODEL)
    assert xs(ex, T_PRED_JOINTS) == [] and xs(ex, T_CURVE) == []
    assert "no prediction" in ex.status.value
    ex.select(model="lifter-243 (")


def test_switching_camera_and_subject(ex):
    ex.select(frame=10, camera=0)
    det0, pred0 = xs(ex, T_DET_JOINTS), xs(ex, T_PRED_JOINTS)
    ex.select(camera=2)
    assert xs(ex, T_DET_JOINTS) != det0 and xs(ex, T_PRED_JOINTS) != pred0
    ex.select(subject="cmu01")
    assert ex.action.value in explorer_data.load_data("mocap").actions("cmu01")
    assert ex.frame.value == min(10, len(ex.clip) - 1)
    assert "cmu01" in ex.status.value and ex.message.value == ""


def test_every_registered_dataset_is_offered_and_missing_files_are_a_message(
    ex, tmp_path, monkeypatch
):
    from dilpose import datasets

    assert list(ex.source.options[: len(datasets.names())]) == list(datasets.names())
    monkeypatch.setenv("DILPOSE_DATA_DIR", str(tmp_path))  # no Human3.6M files here
    before = (ex.clip.title, ex.frame.value)
    ex.source.value = "h36m"
    # it says so, the picker goes back, and the view stays on what it showed
    assert "h36m is not installed" in ex.message.value and "Traceback" not in ex.message.value
    assert ex.source.value == "mocap" and (ex.clip.title, ex.frame.value) == before
    ex.source.value = "humaneva"
    assert "humaneva is not installed" in ex.message.value and ex.source.value == "mocap"


def test_human36m_files_open_in_the_explorer(tmp_path, monkeypatch):
    """VideoPose3D-format Human3.6M files (CMU motion standing in): H36M-17 2D input, which no
    shipped model reads, so the explorer shows the ground truth and says why."""
    write_h36m_files(tmp_path)
    monkeypatch.setenv("DILPOSE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(explorer_data, "_LOADED", {})
    h = Explorer("h36m", frame=3)
    assert h.subject.value == "S9" and h.action.value == "Walking 1"  # test subjects first
    assert list(h.model.options) == [NO_MODEL]
    assert "no model reads h36m17" in h.message.value
    assert len(xs(h, T_GT_JOINTS)) == 17 and xs(h, T_PRED_JOINTS) == []
    assert len(xs(h, T_DET_JOINTS)) == 17 and h.frame.value == 3


@pytest.fixture(scope="module")
def lifted(tmp_path_factory):
    from dilpose import lift

    out = tmp_path_factory.mktemp("lift") / "walk_3d"
    lift.lift_file(EXAMPLE, output=out, width=1000, height=1002)
    return out.with_suffix(".npy")


def test_a_lift_result_opens_with_its_keypoints(lifted):
    mine = Explorer(lift=lifted, keypoints=EXAMPLE)
    assert mine.source.value == explorer_data.LIFT_SOURCE and mine.message.value.startswith("<i>")
    poses = np.load(lifted)
    assert len(mine.clip) == len(poses) and mine.clip.gt is None
    assert xs(mine, T_GT_JOINTS) == [] and len(xs(mine, T_PRED_JOINTS)) == 17
    assert len(xs(mine, T_DET_JOINTS)) + int(mine.clip.low[0].sum()) == 17
    mine.select(frame=7)
    # the display is camera space turned Z-up: x stays, depth becomes y, height z
    p = poses[7] - poses[7, :1]
    assert np.allclose(xs(mine, T_PRED_JOINTS), p[:, 0], atol=1e-4)
    assert np.allclose(list(mine.figure.data[T_PRED_JOINTS].z), -p[:, 1], atol=1e-4)
    # the JSON alone gives the same poses (rounded to 0.1 mm)
    alone = explorer_data.lift_clip(lifted.with_suffix(".json"))
    assert np.allclose(alone.pred, mine.clip.pred, atol=2e-4)


def test_bad_lift_input_is_a_message_not_a_traceback(lifted, tmp_path):
    mine = Explorer(lift=lifted)
    good = mine.clip

    def try_open(path, keypoints=""):
        mine.lift_path.value, mine.keypoints_path.value = str(path), str(keypoints)
        mine.open_button.click()
        return mine.message.value

    assert "file not found" in try_open(tmp_path / "nothing.npy")
    bad = tmp_path / "joints_3d.npy"
    np.save(bad, np.zeros((10, 15, 3), np.float32))
    assert "expected (T, 17, 3)" in try_open(bad) and "got shape (10, 15, 3)" in try_open(bad)
    short = tmp_path / "short.json"
    doc = json.loads(EXAMPLE.read_text())  # a COCO annotations file: its first 9 frames
    doc["images"] = [im for im in doc["images"] if im["id"] < 9]
    doc["annotations"] = [a for a in doc["annotations"] if a["image_id"] < 9]
    short.write_text(json.dumps(doc))
    msg = try_open(lifted, short)
    assert "9 frames of keypoints" in msg and "not the file that was lifted" in msg
    assert mine.clip is good  # nothing changed
    nan = tmp_path / "nan.npy"
    arr = np.zeros((5, 17, 3))
    arr[2, 3, 1] = np.nan
    np.save(nan, arr)
    assert "non-finite" in try_open(nan)
    try_open(lifted)
    assert mine.message.value.startswith("<i>")


def test_a_long_clip_sends_one_frame_and_a_bounded_curve():
    T = 30_000  # 10 minutes at 50 Hz
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(T, 17, 3)) * 0.3
    clip = explorer_data.Clip("long", sk.H36M17, gt, gt + 0.01)
    traces, _ = explorer_figures.clip_update(clip)
    assert len(traces[T_CURVE]["x"]) == explorer_figures.CURVE_POINTS
    frame = explorer_figures.frame_update(clip, T - 1)
    assert max(len(v["x"]) for v in frame.values()) <= 3 * len(sk.H36M17.bones())


def test_the_camera_view_is_the_camera_image_with_fixed_axes(ex):
    w, h = ex.clip.image
    _, layout = explorer_figures.clip_update(ex.clip)
    (frame,) = layout["shapes"]
    assert (frame["x0"], frame["y0"], frame["x1"], frame["y1"]) == (0, 0, w, h)
    x0, x1 = layout["xaxis.range"]
    y_bottom, y_top = layout["yaxis.range"]  # reversed: image rows grow downwards
    assert x0 < 0 < w < x1 and y_top < 0 < h < y_bottom and layout["yaxis.autorange"] is False
    assert ex.figure.layout.shapes[0].x1 == w  # and the widget's figure has it


def test_the_app_is_the_notebook_without_its_tutorial_cells(tmp_path):
    import nbformat

    from dilpose import app

    def cells(tutorial):
        path = app.app_notebook(tmp_path / str(tutorial), profile="smoke", tutorial=tutorial)
        nb = nbformat.read(path, as_version=4)
        assert "jupytext" not in nb.metadata  # JupyterLab's jupytext would look for a paired .py
        return nb.cells

    whole, served = cells(True), cells(False)
    tagged = [c for c in whole if "tutorial" in c.metadata.get("tags", [])]
    assert tagged and any("update_latency" in c.source for c in tagged)
    assert [c.source for c in served] == [c.source for c in whole if c not in tagged]
    assert any("Explorer(cfg.dataset" in c.source for c in served)
    injected = [c for c in served if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'profile = "smoke"' in injected[0].source


def test_worst_frame_button_and_a_click_on_the_curve_seek(ex):
    from types import SimpleNamespace

    ex.worst_button.click()
    assert ex.frame.value == int(np.nanargmax(ex.clip.mpjpe_mm))
    ex._seek(SimpleNamespace(xs=[7.4]))  # what plotly hands a click callback
    assert ex.frame.value == 7


def test_without_ground_truth_there_is_no_error_colour_bar_or_curve(ex):
    clip = explorer_data.Clip("pred only", sk.H36M17, None, ex.clip.pred)
    traces, layout = explorer_figures.clip_update(clip)
    assert traces[T_PRED_JOINTS]["marker.showscale"] is False
    assert layout["xaxis2.visible"] is False and layout["yaxis2.visible"] is False
    frame = explorer_figures.frame_update(clip, 0)
    assert frame[T_PRED_JOINTS]["marker.color"] == explorer_figures.PRED_COLOUR
    traces, layout = explorer_figures.clip_update(ex.clip)  # with it: both shown
    assert traces[T_PRED_JOINTS]["marker.showscale"] is True and layout["yaxis2.visible"]


def test_a_floor_under_the_clip_and_the_camera_s_viewpoint(ex):
    floor = ex.figure.data[explorer_figures.T_FLOOR]
    lowest = min(float(np.nanmin(a[..., 2])) for a in (ex.clip.gt, ex.clip.pred))
    assert list(floor.z) == [lowest] * 4 and len(floor.x) == 4
    ex.camera_view.value = True
    assert ex.figure.layout.scene.camera.eye.y < 0 and ex.figure.layout.scene.camera.eye.x == 0
    ex.camera_view.value = False
    assert ex.figure.layout.scene.camera.eye.x == explorer_figures.DEFAULT_EYE["eye"]["x"]
