"""The project's set-up files agree with each other."""

import re

import tomllib
import yaml

from dilpose import paths


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req, maxsplit=1)[0].lower()


def _project():
    return tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())["project"]


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = _project()
    extras = project["optional-dependencies"]
    deps = project["dependencies"] + extras["notebooks"] + extras["test"]
    env = yaml.safe_load((paths.REPO_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(deps) == sorted(p for p in pip if not p.startswith("-e"))
    assert "-e .[notebooks,test]" in pip


def test_design_card_packages_are_declared_and_torch_is_pinned():
    project = _project()
    names = {
        _name(d)
        for group in (project["dependencies"], *project["optional-dependencies"].values())
        for d in group
    }
    assert {
        "jupyterlab",
        "torch",
        "numpy",
        "matplotlib",
        "plotly",
        "papermill",
        "nbval",
        "ipywidgets",
        "anywidget",
        "tqdm",
        "pandas",
        "pytest",
    } <= names
    assert "torch==2.13.0" in project["dependencies"]  # a loose torch pulls a multi-GB CUDA build


def test_the_library_alone_needs_no_notebook_tooling():
    """`pip install dilpose` gives the library and the CLI: no Jupyter, papermill or pytest."""
    library = {_name(d) for d in _project()["dependencies"]}
    # onnx and onnxruntime: `dilpose export` and the int8 engine comparison (dilpose.quantize);
    # scikit-learn: the shop's action classifier (dilpose.classify), a library module
    assert library == {
        "scikit-learn",
        "torch",
        "numpy",
        "matplotlib",
        "plotly",
        "pandas",
        "tqdm",
        "onnx",
        "onnxruntime",
    }


def test_extras_say_what_they_are_for():
    """`notebooks` holds what runs and serves the notebooks; test tools are in `test` alone."""
    extras = _project()["optional-dependencies"]
    notebooks = {_name(d) for d in extras["notebooks"]}
    test = {_name(d) for d in extras["test"]}
    assert {"pytest", "hypothesis", "ruff", "playwright", "nbval"} <= test
    assert not notebooks & {"pytest", "hypothesis", "ruff", "playwright", "nbval"}
    assert {"papermill", "jupyterlab", "voila"} <= notebooks


def test_make_test_installs_the_test_extra():
    makefile = (paths.REPO_ROOT / "Makefile").read_text()
    assert ".[notebooks,test]" in makefile


def test_camera_json_ships_with_the_package_and_keeps_its_provenance():
    import json

    spec = json.loads(paths.H36M_CAMERAS.read_text())
    assert "VideoPose3D" in spec["_source"]


def test_importing_the_package_has_no_side_effects():
    import subprocess
    import sys

    code = (
        "import sys, dilpose, dilpose.paths; "
        "print(sorted(m for m in sys.modules if m.startswith(('torch', 'matplotlib', 'plotly'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_shipped_models_are_package_data():
    """A wheel carries every file of dilpose/resources/models (weights and manifest)."""
    import fnmatch

    pyproject = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["dilpose"]
    shipped = [
        p.relative_to(paths.PACKAGE_DIR).as_posix()
        for p in (paths.RESOURCES_DIR / "models").iterdir()
    ]
    assert shipped and all(any(fnmatch.fnmatch(f, pat) for pat in patterns) for f in shipped)
