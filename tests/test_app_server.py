"""The explorer's server (``make explore``) as a local app: token, Host check, tracebacks kept in
the log, idle kernels culled, one instance per port. Plain HTTP from this process, loopback only.

Two servers for the module: ``python -m dilpose.app`` itself (its page is never opened here: that
runs the whole explorer notebook for a minute), and the same Voila command and settings
(:func:`dilpose.app.voila_command`) serving a two-cell notebook, whose page is opened, with a short
cull time. Both run in their own process group and are stopped at the end with their kernels.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from dilpose import app

CULL_IDLE_S, CULL_INTERVAL_S = 3, 1  # the two-cell server's; the app's defaults are 60 and 30
# Built at run time, so that the notebook's source never holds it: only a traceback can.
MARKER = "-".join(["kernel", "traceback", "marker"])
TINY_CELLS = ['print("tiny app ready")', f'raise RuntimeError("-".join({MARKER.split("-")!r}))']
TINY_INTRO = "# A tiny app\nIts opening takes a while: *loading words* for the reader."


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect (to the login page) is the answer itself


OPENER = urllib.request.build_opener(_NoRedirect)


def get(url: str, host: str | None = None, timeout: float = 60) -> tuple[int, dict, str]:
    """GET ``url`` (with another ``Host`` header if given): status, headers, body."""
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with OPENER.open(request, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode(errors="replace")


class Served:
    """A server process in its own process group, its port, token and log."""

    def __init__(self, cmd: list[str], port: int, token: str, log: Path, env: dict):
        self.port, self.token, self.log = port, token, log
        self.base = f"http://127.0.0.1:{port}"
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kernel_url(self, kernel_id: str, token: str | None = None) -> str:
        return f"{self.base}/api/kernels/{kernel_id}?token={token or self.token}"

    def kernels(self) -> list:
        """The server's kernel processes now."""
        import psutil  # an ipykernel dependency

        try:
            procs = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [p for p in procs if "ipykernel_launcher" in " ".join(p.cmdline())]

    def stop(self) -> list[str]:
        """SIGTERM to the group (as Ctrl-C in a terminal reaches it); returns what was left
        running (killed) after the server had 40 s to shut down with its kernels."""
        import psutil

        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        _, alive = psutil.wait_procs(children, timeout=10)
        for child in alive:
            child.kill()
        return [" ".join(c.cmdline()[:4]) for c in alive]


@pytest.fixture(scope="module")
def explorer(tmp_path_factory):
    """``python -m dilpose.app`` on a free port; its printed URL in ``.url``."""
    tmp = tmp_path_factory.mktemp("app")
    port = app.free_port()
    cmd = [sys.executable, "-m", "dilpose.app", "--port", str(port)]
    server = Served(cmd, port, "", tmp / "log.txt", dict(os.environ))
    end = time.monotonic() + 120
    line = ""
    while time.monotonic() < end and server.proc.poll() is None and not line:
        text = server.log.read_text()
        line = next((x for x in text.splitlines() if "the skeleton explorer:" in x), "")
        time.sleep(0.3)
    try:
        assert line, (
            f"no URL printed (exit {server.proc.poll()}):\n{server.log.read_text()[-3000:]}"
        )
        match = re.search(r"(http://\S+)", line)
        server.url = match.group(1)
        server.token = server.url.partition("token=")[2]
        yield server
    finally:
        left = server.stop()
    assert server.proc.returncode is not None
    assert not left, f"left running after SIGTERM: {left}"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The app's Voila command and settings serving a two-cell notebook (a print, then an error),
    with a cull time of CULL_IDLE_S."""
    import nbformat

    tmp = tmp_path_factory.mktemp("tiny")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(TINY_INTRO)]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in TINY_CELLS]
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = tmp / "tiny.ipynb"
    nbformat.write(nb, notebook)
    port, token = app.free_port(), "tiny-" + os.urandom(12).hex()
    cmd = app.voila_command(
        notebook, port, cull_idle_s=CULL_IDLE_S, cull_interval_s=CULL_INTERVAL_S
    )
    server = Served(cmd, port, token, tmp / "voila.log", app.server_env(token))
    server.notebook = notebook
    try:
        assert app.wait_until_serving(server.proc, port, token, timeout=120), (
            server.log.read_text()[-3000:]
        )
        yield server
    finally:
        left = server.stop()
    assert not left, f"left running after SIGTERM: {left}"


def test_the_printed_url_carries_the_token_and_the_port(explorer):
    assert explorer.url.startswith(f"http://127.0.0.1:{explorer.port}/?token=")
    assert len(explorer.token) >= 32
    # The server takes it: a request for a kernel that does not exist is answered, not refused.
    assert get(explorer.kernel_url("no-such-kernel-at-all"))[0] == 404
    # and it is on no command line (which every local user can read), neither the app's nor
    # Voila's.
    import psutil

    procs = [psutil.Process(explorer.proc.pid), *psutil.Process(explorer.proc.pid).children()]
    assert len(procs) >= 2
    assert not [p.pid for p in procs if explorer.token in " ".join(p.cmdline())]


def test_a_request_without_the_token_is_refused(explorer):
    status, headers, _ = get(f"{explorer.base}/")
    assert status == 302 and "/login" in headers["Location"], (status, headers)
    status, headers, _ = get(f"{explorer.base}/?token=wrong{explorer.token}")
    assert status == 302 and "/login" in headers["Location"], (status, headers)
    assert get(explorer.kernel_url("no-such-kernel-at-all", token="wrong"))[0] == 403


def test_a_foreign_host_header_is_refused(explorer):
    """DNS rebinding: a page on evil.example re-points its name at 127.0.0.1; the browser then
    sends ``Host: evil.example:PORT``, even with the right token it is refused."""
    url = explorer.kernel_url("no-such-kernel-at-all")
    assert get(url, host=f"evil.example:{explorer.port}")[0] == 403
    assert get(f"{explorer.base}/?token={explorer.token}", host="evil.example")[0] == 403
    assert get(url, host=f"localhost:{explorer.port}")[0] == 404  # the local names still work
    assert get(url, host=f"127.0.0.1:{explorer.port}")[0] == 404


def test_a_second_app_on_the_same_port_fails_with_one_line(explorer):
    cmd = [sys.executable, "-m", "dilpose.app", "--port", str(explorer.port)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""  # no URL printed
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"port {explorer.port}" in done.stderr and "in use" in done.stderr


def test_voila_does_not_move_to_another_port(tiny, tmp_path):
    """The command itself (which the browser test also starts) fails on a taken port, where Voila
    used to try the next 50 ports while the app printed the first."""
    cmd = app.voila_command(tiny.notebook, tiny.port)
    log = tmp_path / "second.log"
    with log.open("w") as out:
        done = subprocess.run(
            cmd, env=app.server_env("x"), stdout=out, stderr=subprocess.STDOUT, timeout=90
        )
    assert done.returncode != 0, log.read_text()[-2000:]
    assert "no available port" in log.read_text()


def _kernel_id(page: str) -> str:
    match = re.search(r'"kernelId": "([0-9a-f-]{36})"', page)
    assert match, page[:2000]
    return match.group(1)


def test_the_page_with_the_token_keeps_tracebacks_in_the_log(tiny):
    status, _, page = get(f"{tiny.base}/?token={tiny.token}", timeout=90)
    assert status == 200
    assert "tiny app ready" in page  # the first cell's output
    assert "There was an error when executing cell" in page  # the second failed and says so
    assert MARKER not in page  # but not how
    assert MARKER in tiny.log.read_text()  # that is in the server's log


def test_the_page_says_what_it_loads_before_the_cells_have_run(tiny):
    """Voila sends the page in pieces as the cells run; the first piece, before any cell ran,
    puts the notebook's first markdown cell under the spinner (the app's page template)."""
    status, _, page = get(f"{tiny.base}/?token={tiny.token}", timeout=90)
    assert status == 200
    loading = page.index('box.id = "dilpose-loading"')
    assert loading < page.index("tiny app ready") and loading < page.index('"kernelId"')
    script = page[page.rindex("<script>", 0, loading) : loading]
    assert "Its opening takes a while: *loading words* for the reader." in script


async def _hold_channels(url: str, seconds: float) -> None:
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(url)
    await asyncio.sleep(seconds)
    ws.close()


def test_a_closed_pages_kernel_is_culled(tiny):
    _, _, page = get(f"{tiny.base}/?token={tiny.token}", timeout=90)
    kernel = _kernel_id(page)
    assert get(tiny.kernel_url(kernel))[0] == 200
    # An open page (its websocket connected) keeps its kernel past the cull time ...
    ws = f"ws://127.0.0.1:{tiny.port}/api/kernels/{kernel}/channels?token={tiny.token}"
    asyncio.run(_hold_channels(ws, CULL_IDLE_S + 3 * CULL_INTERVAL_S))
    assert get(tiny.kernel_url(kernel))[0] == 200
    # ... and once it is closed, the kernel goes: from the server and as a process.
    end = time.monotonic() + CULL_IDLE_S + 10 * CULL_INTERVAL_S + 10
    while time.monotonic() < end and get(tiny.kernel_url(kernel))[0] != 404:
        time.sleep(0.5)
    assert get(tiny.kernel_url(kernel))[0] == 404, tiny.log.read_text()[-2000:]
    end = time.monotonic() + 20
    while time.monotonic() < end and tiny.kernels():
        time.sleep(0.5)
    assert not tiny.kernels()
    assert "Culling 'idle' kernel" in tiny.log.read_text()
