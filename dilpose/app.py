"""Notebook 07 as a standalone web app: ``make explore`` (``python -m dilpose.app``) serves it with
Voila on localhost and prints the URL.

Voila runs a notebook file, not a jupytext source: :func:`app_notebook` writes
``build/explorer/07_skeleton_explorer.ipynb`` from ``notebooks/07_skeleton_explorer.py`` with the
run's parameters injected (as papermill would), and :func:`voila_command` is the command that
serves it; the browser test (``tests/test_explorer_browser.py``) starts the same command. The app
is the notebook without its cells tagged ``tutorial`` (the timing loop, the example lift, the
report): they teach, and cost the app's page seconds before it answers. While its cells run (tens
of seconds), the page shows the notebook's first markdown cell under Voila's spinner, which says
what opening the explorer does: the page template ``dilpose`` (:data:`TEMPLATE_ROOT`).

The server is a local app's (:func:`server_config`): it answers only requests that carry its token
(a fresh one per start, in the printed URL) and name a loopback host (a page on another site that
re-points its DNS name at 127.0.0.1 is refused); a failed cell's traceback stays in the server's
log; a kernel (about 0.5 GB) whose page is closed is shut down within
``CULL_IDLE_S + CULL_INTERVAL_S`` seconds; and the port is the one printed, or it fails.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import datasets, paths
from .fileio import write_text
from .runner import to_notebook

NOTEBOOK = "07_skeleton_explorer"
HOST = "127.0.0.1"
# A kernel with no page connected and no activity for CULL_IDLE_S is shut down; the culler looks
# every CULL_INTERVAL_S. An open page keeps its kernel however long it sits idle (cull_connected
# is off): only a closed (or crashed) page's kernel goes.
CULL_IDLE_S = 60
CULL_INTERVAL_S = 30
START_TIMEOUT_S = 180  # Voila starts in 10-40 s on a busy 2-core machine
# Voila's frontend loads every installed JupyterLab extension; jupytext's needs JupyterLab itself
# and fails to start in Voila (an error in the page's console), so it is left out.
EXTENSION_DENYLIST = ["jupyterlab-jupytext"]
PROBE_KERNEL = "dilpose-startup-probe-no-kernel"  # a kernel id's shape (five words), no kernel's
# A Jupyter data folder holding the app's Voila page template (voila/templates/dilpose): Voila's
# lab template with a loading message; server_env puts it on JUPYTER_PATH, where Voila looks.
TEMPLATE, TEMPLATE_ROOT = "dilpose", Path(__file__).parent / "resources" / "jupyter"


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_in_use(port: int, host: str = HOST) -> bool:
    """Whether ``host:port`` is taken, tested as Tornado binds (``SO_REUSEADDR``, so a port left in
    TIME_WAIT by a stopped server counts as free)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


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


def server_config(
    host: str = HOST, cull_idle_s: int = CULL_IDLE_S, cull_interval_s: int = CULL_INTERVAL_S
) -> dict:
    """Voila's settings for the app, as a traitlets config (what ``voila.json`` holds)."""
    return {
        "Voila": {
            "ip": host,
            "open_browser": False,
            # Voila's own trait (``ServerApp.port_retries`` is not read by Voila): without it a
            # second server on a taken port silently moves to the next one.
            "port_retries": 0,
            # The token comes from $JUPYTER_TOKEN (see :func:`server_env`): on the command line
            # every local user could read it in the process list.
            "auto_token": True,
            # Voila turns Jupyter's Host check off; on, a request must name a loopback address or
            # "localhost" (DNS rebinding: another site's name pointed at 127.0.0.1 is refused).
            "tornado_settings": {"allow_remote_access": False},
        },
        "VoilaConfiguration": {
            "show_tracebacks": False,  # a failed cell says so; its traceback goes to the log
            "template": TEMPLATE,  # the lab template, saying what the wait is for
            # /voila/files/ serves images from the notebook's folder without the token; the app
            # shows none.
            "file_allowlist": [],
            "extension_denylist": EXTENSION_DENYLIST,
        },
        # The first cells load the data and run a model: allow them more than the default 30 s.
        "VoilaExecutor": {"timeout": 300},
        "MappingKernelManager": {
            "cull_idle_timeout": cull_idle_s,
            "cull_interval": cull_interval_s,
            "cull_connected": False,
        },
    }


def voila_command(
    notebook: Path,
    port: int,
    host: str = HOST,
    cull_idle_s: int = CULL_IDLE_S,
    cull_interval_s: int = CULL_INTERVAL_S,
) -> list[str]:
    """The command line that serves ``notebook`` with Voila on ``host:port`` with
    :func:`server_config`, which it writes as ``voila.json`` beside the notebook. Run it with
    :func:`server_env`'s environment: the token is passed there."""
    folder = Path(notebook).parent
    config = server_config(host, cull_idle_s, cull_interval_s)
    write_text(folder / "voila.json", json.dumps(config, indent=1) + "\n")
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        f"--port={port}",
        # Only this file: not the current folder's nor the user's Jupyter config.
        f"--Voila.config_file_paths={folder}",
    ]


def server_env(token: str, base: dict | None = None) -> dict:
    """The environment for :func:`voila_command`: ``base`` (default ``os.environ``) with the
    server's token in ``JUPYTER_TOKEN``, the app's page template first on ``JUPYTER_PATH`` and, in
    ``DILPOSE_EXPLORE_ROOT``, the folder the explorer's "lift result" box may read (the current
    folder unless already set): the kernels run in build/explorer/, not where the app was
    started."""
    base = dict(os.environ if base is None else base)
    base.setdefault(paths.EXPLORE_ROOT_ENV, os.getcwd())
    jupyter_path = [str(TEMPLATE_ROOT), *filter(None, [base.get("JUPYTER_PATH")])]
    return {**base, "JUPYTER_TOKEN": token, "JUPYTER_PATH": os.pathsep.join(jupyter_path)}


def app_url(port: int, token: str, host: str = HOST) -> str:
    """The URL a user opens: the app's page with its token."""
    return f"http://{host}:{port}/?token={token}"


def wait_until_serving(
    proc: subprocess.Popen, port: int, token: str, timeout: float = START_TIMEOUT_S
) -> bool:
    """Wait until the server ``proc`` answers on ``port`` with this ``token``; False if it exits
    first or does not answer within ``timeout`` seconds.

    The probe asks for a kernel that does not exist: the server says 404 only to a request it
    accepted (token and host), and starts nothing, unlike a request for the page. (It logs one
    "Kernel does not exist: dilpose-startup-probe-no-kernel" warning.)"""
    probe = f"http://{HOST}:{port}/api/kernels/{PROBE_KERNEL}?token={token}"
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            urllib.request.urlopen(probe, timeout=5).close()
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM stops the app as Ctrl-C does: with its server and kernels


def _stop(proc: subprocess.Popen) -> int:
    """Stop the server and wait while it shuts its kernels down (they run in sessions of their
    own: killed with it, they would be left running)."""
    try:
        return proc.wait(timeout=2)  # Ctrl-C in a terminal reached it too
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dilpose.app", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--dataset", default=datasets.DEFAULT, choices=datasets.names())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--cull-idle",
        type=int,
        default=CULL_IDLE_S,
        metavar="S",
        help=f"shut down a closed page's kernel after S idle seconds (default {CULL_IDLE_S})",
    )
    parser.add_argument(
        "--cull-interval",
        type=int,
        default=CULL_INTERVAL_S,
        metavar="S",
        help=f"look for such kernels every S seconds (default {CULL_INTERVAL_S})",
    )
    args = parser.parse_args(argv)
    if args.cull_idle < 1 or args.cull_interval < 1:
        parser.error("--cull-idle and --cull-interval must be at least 1 second")
    port = args.port or free_port()
    if port_in_use(port):
        print(
            f"[dilpose] port {port} on {HOST} is in use (another explorer?): "
            "stop it, or give another --port, or none for a free one",
            file=sys.stderr,
        )
        return 1
    notebook = app_notebook(dataset=args.dataset, seed=args.seed)
    token = secrets.token_urlsafe(24)
    cmd = voila_command(
        notebook, port, cull_idle_s=args.cull_idle, cull_interval_s=args.cull_interval
    )
    signal.signal(signal.SIGTERM, _interrupt)
    proc = subprocess.Popen(cmd, env=server_env(token))
    try:
        if not wait_until_serving(proc, port, token):
            code = _stop(proc)
            print(
                f"[dilpose] the explorer's server did not start on {HOST}:{port} "
                f"(exit code {code}; its log is above)",
                file=sys.stderr,
            )
            return 1
        print(
            f"[dilpose] the skeleton explorer: {app_url(port, token)}  (Ctrl-C stops it)",
            flush=True,
        )
        return proc.wait()
    except KeyboardInterrupt:
        _stop(proc)
        return 0


if __name__ == "__main__":
    sys.exit(main())
