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
import pytest

from dilpose import paths, runner

SOURCES = runner.notebook_sources()


@pytest.fixture(scope="session")
def smoke_reports(tmp_path_factory) -> Path:
    given = os.environ.get("DILPOSE_SMOKE_REPORTS")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("smoke")
    env = {**os.environ, "DILPOSE_REPORTS": str(out)}
    subprocess.run([sys.executable, "-m", "dilpose.runner", "--profile", "smoke"], check=True, env=env)
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
    assert sum(bool(c.outputs) for c in code) >= len(code) // 2, "committed without the outputs of a run"
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_follows_the_house_rules(source):
    nb = jupytext.read(source)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one parameters cell"
    assert {"profile", "dataset", "seed"} <= {t.id for t in ast.walk(ast.parse(params[0].source))
                                             if isinstance(t, ast.Name)}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        assert not any(isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                       for n in ast.walk(tree)), \
            f"{source.name}: notebooks define no classes or functions (put them in dilpose/)"
        lines = [ln for ln in cell.source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        assert len(lines) <= 16, f"{source.name}: a {len(lines)}-line cell belongs in dilpose/"
        assert "open(" not in cell.source and "Path(" not in cell.source, "paths come from dilpose.paths"


def test_data_notebook_writes_subjects_frames_and_actions(smoke_reports):
    metrics = json.loads((smoke_reports / "metrics" / "01_data.json").read_text())
    assert metrics["dataset"] == "cmu-default"
    assert set(metrics["subjects"]) == {"cmu02", "cmu05", "cmu06", "cmu09", "cmu10", "cmu13", "cmu16"}
    assert metrics["total_frames"] == sum(s["frames"] for s in metrics["subjects"].values()) > 8000
    assert set(metrics["actions"]) == {"walk", "run", "jump", "exercise", "sport", "dance"}
    assert metrics["provenance"]["config"]["profile"] == "smoke"
    for name in ("01_skeletons.png", "01_camera_layout.png", "01_four_views.png", "01_skeleton_3d.html"):
        assert (smoke_reports / "figures" / name).stat().st_size > 1000


def test_committed_reports_match_the_committed_notebooks():
    metrics = json.loads((paths.REPO_ROOT / "reports" / "metrics" / "01_data.json").read_text())
    assert metrics["provenance"]["config"]["profile"] == "default"
    nb = nbformat.read(paths.NOTEBOOKS_DIR / "01_data_preparation.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert str(metrics["total_frames"]) in printed


def test_a_failing_notebook_is_named_with_its_cell(tmp_path, monkeypatch):
    bad = tmp_path / "notebooks" / "01_broken.py"
    bad.parent.mkdir()
    bad.write_text('# %% tags=["parameters"]\nprofile = "smoke"\ndataset = "cmu-default"\nseed = 0\n\n'
                   '# %%\nx = 1\n\n# %%\nraise ValueError("boom")\n')
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", bad.parent)
    monkeypatch.setenv("DILPOSE_REPORTS", str(tmp_path / "reports"))
    with pytest.raises(runner.NotebookFailed, match=r"01_broken.py failed in cell \d+ .*ValueError: boom"):
        runner.run(profile="smoke")
