"""The notebook runner on a bad disk (issue 24): an unwritable or full reports folder is one line
naming the folder, and a killed run never leaves a half-executed notebook where results are read.
No kernel is started: papermill's writes and runs are replaced where the failure happens."""

from __future__ import annotations

import errno
import os

import papermill
import pytest

from dilpose import paths, runner
from dilpose.errors import DataError

SOURCE = '# %% tags=["parameters"]\nprofile = "smoke"\n\n# %%\nx = 1\n'


@pytest.fixture
def series(tmp_path, monkeypatch):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    (nbs / "01_tiny.py").write_text(SOURCE)
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", nbs)
    return nbs / "01_tiny.py"


def test_an_unwritable_reports_folder_is_one_line_naming_it(series, tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("DILPOSE_REPORTS", str(tmp_path / "afile" / "reports"))
    assert runner.main(["--profile", "smoke"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"[dilpose] ERROR: {tmp_path}/afile/reports/executed: cannot write here: "
        f"{tmp_path}/afile is a file"
    ]


def test_a_full_reports_folder_is_one_line_naming_it(series, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DILPOSE_REPORTS", str(tmp_path / "reports"))

    def full(buf, path, *args, **kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(papermill.iorw.papermill_io, "write", full)
    assert runner.main(["--profile", "smoke"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{tmp_path}/reports/executed: cannot write" in err[0]
    assert "No space left on device" in err[0]
    assert os.listdir(tmp_path / "reports" / "executed") == []


def test_a_killed_run_leaves_no_half_executed_notebook(series, tmp_path, monkeypatch):
    out = tmp_path / "executed" / "01_tiny.ipynb"

    def killed(src, dst, **kw):
        with open(dst, "w") as f:  # papermill saves after every cell: half a notebook
            f.write('{"cells": []}')
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", killed)
    with pytest.raises(KeyboardInterrupt):
        runner.execute(series, out, {"profile": "smoke"})
    assert not out.exists() and os.listdir(out.parent) == []


def test_a_previous_run_s_result_stays_until_the_new_one_is_complete(series, tmp_path, monkeypatch):
    out = tmp_path / "executed" / "01_tiny.ipynb"
    out.parent.mkdir()
    out.write_text("previous")
    stale = out.parent / ".01_tiny.999999999.running.ipynb"  # a killed runner's (no such pid)
    stale.write_text("{}")
    seen = {}

    def run(src, dst, **kw):
        seen["during"] = out.read_text()
        papermill.iorw.write_ipynb(papermill.iorw.load_notebook_node(src), dst)

    monkeypatch.setattr(papermill, "execute_notebook", run)
    runner.execute(series, out, {"profile": "smoke"})
    assert seen["during"] == "previous" and '"x = 1"' in out.read_text()
    assert os.listdir(out.parent) == ["01_tiny.ipynb"]  # the stale run removed


def test_a_data_error_names_the_folder(series, tmp_path, monkeypatch):
    monkeypatch.setattr(
        papermill,
        "execute_notebook",
        lambda *a, **k: (_ for _ in ()).throw(PermissionError(13, "x")),
    )
    with pytest.raises(DataError, match="executed: cannot write .*running.ipynb here"):
        runner.execute(series, tmp_path / "executed" / "01_tiny.ipynb", {})
