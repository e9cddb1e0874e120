"""Notebook 07 as a standalone web app: ``make explore`` (``python -m dilpose.app``) serves it with
Voila on localhost and prints the URL.

Voila runs a notebook file, not a jupytext source: :func:`app_notebook` writes
``build/explorer/07_skeleton_explorer.ipynb`` from ``notebooks/07_skeleton_explorer.py`` with the
run's parameters injected (as papermill would), and :func:`voila_command` is the command that
serves it; the browser test (``tests/test_explorer_browser.py``) starts the same command. The app
is the notebook without its cells tagged ``tutorial`` (the timing loop, the example lift, the
report): they teach, and cost the app's page seconds before it answers.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path

from . import datasets, paths

NOTEBOOK = "07_skeleton_explorer"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def app_notebook(
    out_dir: str | Path | None = None,
    profile: str = "default",
    dataset: str = datasets.DEFAULT,
    seed: int = 0,
    tutorial: bool = False,
) -> Path:
    """Write notebook 07 as an ``.ipynb`` with its parameters set, for Voila (or JupyterLab) to
    run; returns its path (default folder ``build/explorer/``). Without ``tutorial`` the cells
    tagged ``tutorial`` are left out (the app); with it the notebook is whole."""
    import nbformat
    from papermill.parameterize import parameterize_notebook

    from .fileio import write_text
    from .runner import to_notebook

    out_dir = Path(out_dir) if out_dir is not None else paths.REPO_ROOT / "build" / "explorer"
    nb = to_notebook(paths.NOTEBOOKS_DIR / f"{NOTEBOOK}.py")
    # A generated copy, paired with no text file: with jupytext's pairing metadata ("py:percent")
    # JupyterLab's jupytext extension refuses to open it (no .py beside it matches).
    nb.metadata.pop("jupytext", None)
    if not tutorial:
        nb.cells = [c for c in nb.cells if "tutorial" not in c.metadata.get("tags", [])]
    for cell in nb.cells:  # papermill reads every cell's tags
        cell.metadata.setdefault("tags", [])
    nb.metadata.setdefault("papermill", {})
    nb = parameterize_notebook(nb, {"profile": profile, "dataset": dataset, "seed": seed})
    return write_text(out_dir / f"{NOTEBOOK}.ipynb", nbformat.writes(nb))


def voila_command(notebook: Path, port: int, host: str = "127.0.0.1") -> list[str]:
    """The command line that serves ``notebook`` with Voila on ``host:port`` (no browser opened,
    no other port tried: the caller chose a free one)."""
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        f"--port={port}",
        f"--Voila.ip={host}",
        "--no-browser",
        "--ServerApp.port_retries=0",
        # The first cells load the data and run a model: allow them more than the default 30 s.
        "--VoilaExecutor.timeout=300",
        # Voila loads every installed JupyterLab extension; jupytext's needs JupyterLab itself and
        # fails to start in Voila (an error in the page's console), so it is left out.
        "--VoilaConfiguration.extension_denylist=jupyterlab-jupytext",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dilpose.app", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--dataset", default=datasets.DEFAULT, choices=datasets.names())
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    port = args.port or free_port()
    notebook = app_notebook(dataset=args.dataset, seed=args.seed)
    print(
        f"[dilpose] the skeleton explorer: http://127.0.0.1:{port}/  (Ctrl-C stops it)", flush=True
    )
    try:
        return subprocess.call(voila_command(notebook, port))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
