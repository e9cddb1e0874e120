"""Shared fixtures. Tests never write into the repository's reports/: DILPOSE_REPORTS points to a
temporary folder for the whole session."""

from __future__ import annotations

import os

import pytest

from dilpose import paths


@pytest.fixture(autouse=True, scope="session")
def _isolated_reports(tmp_path_factory):
    old = os.environ.get("DILPOSE_REPORTS")
    os.environ["DILPOSE_REPORTS"] = str(tmp_path_factory.mktemp("reports"))
    yield
    if old is None:
        os.environ.pop("DILPOSE_REPORTS", None)
    else:
        os.environ["DILPOSE_REPORTS"] = old


needs_shared = pytest.mark.skipif(
    paths.shared_data_dir() is None
    or not all(
        (paths.shared_data_dir() / f / "MANIFEST.csv").is_file()
        for f in ("mocap", "mocap-extended", "hdm05-cuts")
    ),
    reason="../shared/data (mocap, mocap-extended, hdm05-cuts) is not beside the clone",
)
