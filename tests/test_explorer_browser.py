"""The skeleton explorer in a real browser: notebook 07 served by Voila, and opened in JupyterLab,
driven by Debian's Chromium (headless) through Playwright.

The browser is Debian's ``chromium`` package (``.ci/run`` installs it), or the executable named by
``DILPOSE_CHROMIUM``; Playwright's own browser download is never used. Without a browser the tests
skip on a developer's machine and FAIL in CI (``CI`` set), so that CI cannot pass without them.

Every server the tests start runs in its own process group on 127.0.0.1 at a free port and is
stopped at the end. The Voila test writes the explorer's screenshot to
``reports/figures/07_explorer.png`` (shown in the README) and the slider's latency, measured in the
browser, to ``reports/bench/explorer.json``: unlike the other tests it writes into the
repository's reports, because that screenshot can only be made here.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dilpose import app, paths

IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
PLOT = ".dilpose-explorer .js-plotly-plot"
GD = f"document.querySelector('{PLOT}')"  # the plot's element, which holds its data and layout
BROWSER_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-dev-shm-usage",
    # WebGL (plotly's 3D scene) without a GPU: Chromium's software renderer.
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
# Voila's page template links Font Awesome's CSS from a CDN; on a machine without internet (ours,
# CI) that one request fails. It is the template's icon font, not the app: nothing else may fail.
OFFLINE_ONLY = "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@"


def _missing(what: str):
    if IN_CI:
        pytest.fail(f"{what}: the browser test must run in CI (.ci/run installs chromium)")
    pytest.skip(f"{what} (set DILPOSE_CHROMIUM or install Debian's chromium)")


def chromium_executable() -> str | None:
    given = os.environ.get("DILPOSE_CHROMIUM")
    if given:
        return given if os.access(given, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    exe = chromium_executable()
    if exe is None:
        _missing("no chromium executable")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=BROWSER_ARGS)
        yield b
        b.close()


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(
                f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            )
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"server not listening on {port} after {timeout} s:\n{log.read_text()}")


class Server:
    """A server process in its own process group; :meth:`stop` ends the group."""

    def __init__(self, cmd: list[str], port: int, log: Path, env: dict):
        self.port, self.log = port, log
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_for_port(port, self.proc, log)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    """Environment of the servers: reports in a temporary folder holding notebook 02's committed
    report (the explorer opens on the subject it names) and no model cache."""
    reports = tmp_path_factory.mktemp("explorer_reports")
    (reports / "metrics").mkdir()
    shutil.copy(paths.REPO_ROOT / "reports" / "metrics" / "02_model.json", reports / "metrics")
    return {**os.environ, "DILPOSE_REPORTS": str(reports), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}


def _page(browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    problems: list[str] = []

    def console(m):
        if m.type == "error" and not m.location.get("url", "").startswith(OFFLINE_ONLY):
            problems.append(f"{m.text} ({m.location.get('url')})")

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "requestfailed",
        lambda r: None if r.url.startswith(OFFLINE_ONLY) else problems.append(f"failed: {r.url}"),
    )
    return page, problems


def _figure(page) -> dict:
    return page.evaluate(
        "() => { const g = " + GD + "; return {title: g.layout.title.text, pred: g.data[3].x, "
        "gt: g.data[1].x, curve: g.data[9].y, det: g.data[6].x}; }"
    )


def _scene_pixels(page) -> np.ndarray:
    import matplotlib.image as mpimg

    # The 3D scene's own box (its WebGL canvas), without the title above it that names the frame.
    box = page.evaluate(
        "() => { const s = document.querySelector('" + PLOT + " .gl-container > div');"
        "s.scrollIntoView({block: 'center'}); const r = s.getBoundingClientRect();"
        "return {x: r.x, y: r.y, width: r.width, height: r.height}; }"
    )
    assert box["width"] > 100 and box["height"] > 100, box
    png = page.screenshot(clip=box)
    return mpimg.imread(io.BytesIO(png), format="png")


def _wait_title(page, text: str, timeout: float = 30_000):
    page.wait_for_function(
        "t => String(" + GD + ".layout.title.text).startsWith(t)",
        arg=text,
        timeout=timeout,
        polling="raf",
    )


def _title(page) -> str:
    return page.evaluate("() => " + GD + ".layout.title.text")


def _frame_of(title: str) -> int:
    return int(title.split()[1])


def _slider(page):
    return page.locator(".dilpose-explorer-frame .noUi-handle").first


def test_explorer_in_voila(browser, app_env, tmp_path):
    start = time.perf_counter()
    notebook = app.app_notebook(tmp_path / "app", profile="smoke")
    port = app.free_port()
    cmd = app.voila_command(notebook, port)
    server = Server(cmd, port, tmp_path / "voila.log", app_env)
    try:
        page, problems = _page(browser)
        page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
        # The last cell prints the metrics file's name: every cell has run.
        page.wait_for_selector("text=07_explorer.json", timeout=180_000)
        page.wait_for_selector(PLOT, timeout=30_000)
        _wait_title(page, "frame")
        loaded = time.perf_counter() - start
        before, pixels_before = _figure(page), _scene_pixels(page)
        assert before["pred"] and before["curve"], "the opened clip has a prediction and a curve"

        # The slider: each key press moves it by one frame; time each round trip until the
        # figure in the page shows the new frame.
        _slider(page).focus()
        latencies = []
        for _ in range(12):
            frame = _frame_of(_title(page))
            t0 = time.perf_counter()
            page.keyboard.press("ArrowRight")
            _wait_title(page, f"frame {frame + 1} ")
            latencies.append(1000 * (time.perf_counter() - t0))
        moved = _figure(page)
        assert moved["pred"] != before["pred"] and moved["gt"] != before["gt"]
        page.wait_for_timeout(300)  # the WebGL frame after the last update
        pixels_after = _scene_pixels(page)
        assert pixels_after.shape == pixels_before.shape
        changed = np.abs(pixels_after - pixels_before).max(-1) > 0.02
        assert changed.mean() > 0.001, "the 3D canvas did not change"

        # Another subject: another clip; the frame is kept where the clip is long enough.
        subject = page.locator(".dilpose-explorer-subject select").first
        options = subject.locator("option").all_inner_texts()
        current = subject.evaluate("s => s.options[s.selectedIndex].text")
        other = next(o for o in options if o != current)
        subject.select_option(label=other)
        page.wait_for_function(
            "s => document.querySelector('.dilpose-explorer-status').innerText.includes(s)",
            arg=other.split()[0],
            timeout=60_000,
        )
        _wait_title(page, "frame")
        switched = _figure(page)
        assert switched["gt"] != moved["gt"] and switched["curve"] != moved["curve"]

        # Another model: the same clip and frame, another prediction.
        title = _title(page)
        model = page.locator(".dilpose-explorer-model select").first
        model.select_option(
            label=next(o for o in model.locator("option").all_inner_texts() if "causal" in o)
        )
        page.wait_for_function(
            "p => JSON.stringify(" + GD + ".data[3].x) !== JSON.stringify(p)",
            arg=switched["pred"],
            timeout=60_000,
        )
        remodelled = _figure(page)
        assert remodelled["gt"] == switched["gt"], "same clip and frame"
        assert _frame_of(remodelled["title"]) == _frame_of(title)
        assert remodelled["pred"] != switched["pred"]

        shot = page.locator(".dilpose-explorer").first.screenshot()
        assert not problems, f"the page logged errors: {problems}"
    finally:
        server.stop()
    assert server.proc.poll() is not None
    figures = paths.REPO_ROOT / "reports" / "figures"
    from dilpose.fileio import atomic_open, write_json

    with atomic_open(figures / "07_explorer.png", "wb") as f:
        f.write(shot)
    write_json(
        paths.REPO_ROOT / "reports" / "bench" / "explorer.json",
        {
            "what": "slider update latency in Chromium (headless, software WebGL), Voila app: "
            "from the key press on the frame slider to the figure in the page showing the new "
            "frame (polled every animation frame), ms",
            "moves": len(latencies),
            "median_ms": round(float(np.median(latencies)), 1),
            "max_ms": round(float(np.max(latencies)), 1),
            "all_ms": [round(v, 1) for v in latencies],
            "page_ready_s": round(loaded, 1),
            "test_s": round(time.perf_counter() - start, 1),
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
        },
    )
    assert np.median(latencies) < 1000, latencies
