"""The skeleton explorer in a real browser: notebook 07 served by Voila, and opened in JupyterLab,
driven by Debian's Chromium (headless) through Playwright.

The browser is Debian's ``chromium`` package (``.ci/run`` installs it), or the executable named by
``DILPOSE_CHROMIUM``; Playwright's own browser download is never used. Without a browser the tests
skip on a developer's machine and FAIL in CI (``CI`` set), so that CI cannot pass without them.

Both tests share one browser. Voila serves the app (notebook 07 without its ``tutorial`` cells, as
``make explore`` does); JupyterLab opens the whole notebook, runs all its cells from the Run menu
and the slider is moved in the notebook's output. Every server the tests start runs in its own
process group on 127.0.0.1 at a free port with a token and is stopped at the end,
with the kernels it started. The Voila test writes the explorer's screenshot to
``reports/figures/07_explorer.png`` (shown in the README); both write the slider's latency,
measured in the browser, and their own duration to ``reports/bench/explorer.json``: unlike the
other tests they write into the repository's reports, because these can only be measured here.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
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
    """A server process in its own process group; :meth:`stop` ends the group, and any kernel the
    server left running (jupyter_client starts each kernel in a session of its own, outside the
    group): those are killed and listed in ``left_running``."""

    def __init__(self, cmd: list[str], port: int, log: Path, env: dict, cwd: Path | None = None):
        self.port, self.log, self.left_running = port, log, []
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_for_port(port, self.proc, log)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        import psutil  # an ipykernel dependency

        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the server shuts its kernels down
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        _, alive = psutil.wait_procs(children, timeout=10)
        for child in alive:
            self.left_running.append(" ".join(child.cmdline()[:3]))
            child.kill()


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
    # The notebook's static screenshot of the explorer (for readers without a kernel) may have
    # its load aborted when JupyterLab re-renders the markdown cell; the app does not show it.
    page.on(
        "requestfailed",
        lambda r: (
            None
            if r.url.startswith(OFFLINE_ONLY) or r.url.endswith("/07_explorer.png")
            else problems.append(f"failed: {r.url}")
        ),
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


def _wait_settled(page, timeout: float = 60_000):
    """Until the figure shows the frame the slider's readout (the kernel's value) names: every
    update the kernel sent has been drawn."""
    readout = "document.querySelector('.dilpose-explorer-frame .widget-readout').textContent"
    try:
        page.wait_for_function(
            "() => String("
            + GD
            + ".layout.title.text).startsWith('frame ' + "
            + readout
            + ".trim() + ' ')",
            timeout=timeout,
            polling=100,
        )
    except Exception as e:
        state = page.evaluate("() => [" + GD + ".layout.title.text, " + readout + "]")
        raise AssertionError(f"the figure did not catch up with the slider: {state}") from e


def _assert_opened_where_promised(page) -> int:
    """The page shows the frame the explorer opened at (the worst frame): the slider's readout and
    the figure's title both name it, after the page linked its play button to the slider."""
    cls = page.locator(".dilpose-explorer").first.get_attribute("class")
    opened = int(re.search(r"dilpose-explorer-opened-at-(\d+)", cls).group(1))
    page.wait_for_timeout(500)  # any late link update from the page would have arrived
    readout = page.locator(".dilpose-explorer-frame .widget-readout").first.text_content()
    assert int(readout.strip()) == opened, (readout, opened)
    assert _frame_of(_title(page)) == opened, (_title(page), opened)
    assert opened > 0, "the smoke model's worst frame is not its first"
    return opened


def _readout(page) -> int:
    return int(page.locator(".dilpose-explorer-frame .widget-readout").first.text_content())


# Records, every animation frame, the frame the figure shows (its title) and when (ms).
RECORD_FRAMES = (
    "() => { window.dilposeFrames = []; window.dilposeRecording = true; const tick = () => { "
    "if (!window.dilposeRecording) return; const t = String(" + GD + ".layout.title.text); "
    "window.dilposeFrames.push([performance.now(), parseInt(t.split(' ')[1])]); "
    "requestAnimationFrame(tick); }; requestAnimationFrame(tick); }"
)


def _playback_rate(page, seconds: float = 5.0) -> tuple[float, float]:
    """Play at the opening speed (1x) from the first frame for ``seconds``, then pause with the
    play button's second press, which keeps the frame. Returns the clip frames per second of wall
    time the figure in the page advanced: the slope of a line fitted to (time, frame shown) at
    every change of frame, and end to end (the last frame shown over the time from the click on
    play to the click on pause, which adds the start's latency and the last frame's)."""
    _slider(page).focus()
    page.keyboard.press("Home")  # the clip's first frame
    _wait_title(page, "frame 0 ")
    toggle = page.locator(".dilpose-explorer-play").first
    page.evaluate(RECORD_FRAMES)
    t0 = time.perf_counter()
    toggle.click()  # play
    page.wait_for_timeout(1000 * seconds)
    assert "pause" in toggle.text_content()
    toggle.click()  # pause
    elapsed = time.perf_counter() - t0
    samples = np.array(page.evaluate("() => { window.dilposeRecording = false; "
                                     "return window.dilposeFrames; }"))  # fmt: skip
    # the label is the kernel's answer to the click: wait for it rather than read it at once
    page.wait_for_function(
        "() => document.querySelector('.dilpose-explorer-play').textContent.includes('play')",
        timeout=10_000,
    )
    _wait_settled(page)  # a frame sent before the pause arrived may still be drawn
    last = _frame_of(_title(page))
    page.wait_for_timeout(500)
    assert _readout(page) == last and _frame_of(_title(page)) == last, "pause keeps the frame"
    changes = samples[np.flatnonzero(np.diff(samples[:, 1])) + 1]
    assert len(changes) >= 5, f"the figure changed {len(changes)} times in {seconds} s of play"
    slope = np.polyfit(changes[:, 0] / 1000, changes[:, 1], 1)[0]
    return float(slope), last / elapsed


def _click_curve(page, index: int) -> int:
    """Click the error curve's ``index``-th point with the mouse; returns that point's frame."""
    where = page.evaluate(
        "(k) => { const gd = " + GD + "; const L = gd._fullLayout; const c = gd.data[9]; "
        "const x = c.x[k], y = c.y[k]; "
        "return {frame: x, px: L.xaxis2._offset + L.xaxis2.l2p(x), "
        "py: L.yaxis2._offset + L.yaxis2.l2p(y)}; }",
        index,
    )
    box = page.locator(PLOT).first.bounding_box()
    page.mouse.move(box["x"] + where["px"], box["y"] + where["py"])
    page.mouse.click(box["x"] + where["px"], box["y"] + where["py"])
    return int(round(where["frame"]))


def _slider_moves_figure_and_canvas(page, moves: int) -> list[float]:
    """Move the slider ``moves`` times and assert that the figure's data (joints of both
    skeletons) and the 3D canvas's pixels changed; returns each move's latency (ms)."""
    before, pixels_before = _figure(page), _scene_pixels(page)
    assert before["pred"] and before["curve"], "the opened clip has a prediction and a curve"

    latencies = _move_slider(page, moves)
    moved = _figure(page)
    assert moved["pred"] != before["pred"] and moved["gt"] != before["gt"]
    page.wait_for_timeout(300)  # the WebGL frame after the last update
    pixels_after = _scene_pixels(page)
    assert pixels_after.shape == pixels_before.shape
    changed = np.abs(pixels_after - pixels_before).max(-1) > 0.02
    assert changed.mean() > 0.001, "the 3D canvas did not change"
    return latencies


def _move_slider(page, moves: int) -> list[float]:
    """Press the right arrow on the focused frame slider ``moves`` times; each press moves it by
    one frame. Returns each round trip (ms) until the figure in the page shows the new frame."""
    _slider(page).focus()
    latencies = []
    for _ in range(moves):
        frame = _frame_of(_title(page))
        t0 = time.perf_counter()
        page.keyboard.press("ArrowRight")
        _wait_title(page, f"frame {frame + 1} ")
        latencies.append(1000 * (time.perf_counter() - t0))
    return latencies


def _out_dir() -> Path:
    """Where the screenshot and measurements go: ``build/browser/`` unless ``DILPOSE_BROWSER_OUT``
    names another folder (relative to the repository; ``reports`` refreshes the committed ones)."""
    return paths.REPO_ROOT / os.environ.get("DILPOSE_BROWSER_OUT", "build/browser")


def _record(part: str, latencies: list[float], loaded: float, start: float, **extra: float) -> None:
    """Merge one test's measurements into ``<out>/bench/explorer.json`` under ``part``."""
    _merge_bench(
        part,
        {
            "moves": len(latencies),
            "median_ms": round(float(np.median(latencies)), 1),
            "max_ms": round(float(np.max(latencies)), 1),
            "all_ms": [round(v, 1) for v in latencies],
            "page_ready_s": round(loaded, 1),
            "test_s": round(time.perf_counter() - start, 1),
            **{k: round(v, 1) for k, v in extra.items()},
        },
    )


def _record_visits(values: dict) -> None:
    """The ten page visits' kernels, under ``visits`` in ``<out>/bench/explorer.json``."""
    _merge_bench("visits", values)


def _merge_bench(part: str, values: dict) -> None:
    from dilpose.fileio import write_json

    path = _out_dir() / "bench" / "explorer.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        doc = {}
    if not isinstance(doc.get("voila", {}), dict):
        doc = {}  # an older layout: start afresh
    doc.update(
        {
            "what": "slider update latency in Chromium (headless, software WebGL): from the key "
            "press on the frame slider to the figure in the page showing the new frame (polled "
            "every animation frame), ms; page_ready_s: from the server's start to the explorer "
            "drawn; loading_message_s: from the server's start to the page's loading message; "
            "opened_at: the frame the page first shows; playback_clip_frames_per_s: clip frames "
            "the figure advanced per second of wall time, playing at 1x for 5 s (the clip is "
            "50 Hz; the slope of frame shown over time), playback_end_to_end: the last frame "
            "shown over the time from the click on play to the click on pause; visits: kernels "
            "(count, resident memory) after opening the app, waiting for "
            "the explorer and closing the page ten times, then after the cull time; test_s: the "
            "whole test",
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
        }
    )
    doc[part] = values
    write_json(path, doc)


def test_explorer_in_voila(browser, app_env, tmp_path):
    start = time.perf_counter()
    notebook = app.app_notebook(tmp_path / "app", profile="smoke")  # as `make explore` serves it
    port, token = app.free_port(), secrets.token_hex(16)
    cmd = app.voila_command(notebook, port)
    server = Server(cmd, port, tmp_path / "voila.log", app.server_env(token, app_env))
    page, problems = _page(browser)
    try:
        page.goto(app.app_url(port, token), timeout=120_000, wait_until="commit")
        # While the cells run (tens of seconds), the page says what opening does: the notebook's
        # introduction stands under Voila's spinner.
        loading = page.locator("#dilpose-loading")
        loading.wait_for(timeout=120_000)
        said = time.perf_counter() - start
        assert "Opening loads the data" in loading.inner_text()
        assert not page.locator(PLOT).count(), "the message came only with the explorer"
        # The explorer's cell is the app's last code cell; Voila shows a failed cell as a message.
        failed = page.get_by_text("There was an error when executing cell")
        page.locator(PLOT).or_(failed).first.wait_for(timeout=180_000)
        assert not failed.count(), server.log.read_text()[-3000:]
        _wait_title(page, "frame")
        _wait_settled(page)
        loaded = time.perf_counter() - start
        opened = _assert_opened_where_promised(page)
        # the README's picture: the explorer as it opens, at the worst frame
        page.wait_for_timeout(300)  # the WebGL frame after the last update
        shot = page.locator(".dilpose-explorer").first.screenshot()
        # a user's window (1400 x 900): the explorer starts above the fold, not below the intro
        top = page.locator(".dilpose-explorer").first.bounding_box()["y"]
        assert top < 300, f"the explorer starts {top:.0f} px down the page"
        latencies = _slider_moves_figure_and_canvas(page, 12)
        # 1x is the clip's 50 frames per second: real time, skipping the frames the browser
        # has no time to draw
        rate, end_to_end = _playback_rate(page)
        assert rate >= 0.9 * 50, f"playback at 1x advanced {rate:.1f} clip frames per second"
        target = _click_curve(page, 20)  # a click on the error curve seeks there
        assert target != _frame_of(_title(page))
        _wait_title(page, f"frame {target} ")
        _wait_settled(page)
        moved = _figure(page)

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

        assert not problems, f"the page logged errors: {problems}"
    finally:
        page.close()  # before its server goes: a page left open keeps drawing, and reconnecting
        server.stop()
    assert server.proc.poll() is not None and not server.left_running, server.left_running
    from dilpose.fileio import atomic_open

    with atomic_open(_out_dir() / "figures" / "07_explorer.png", "wb") as f:
        f.write(shot)
    extra = dict(playback_clip_frames_per_s=rate, playback_end_to_end=end_to_end)
    extra.update(opened_at=opened, loading_message_s=said)
    _record("voila", latencies, loaded, start, **extra)
    assert np.median(latencies) < 1000, latencies


VISITS, VISIT_CULL_IDLE_S, VISIT_CULL_INTERVAL_S = 10, 10, 2


def _kernel_processes(server: Server) -> list:
    """The server's kernel processes now (Voila serves no list of its kernels)."""
    import psutil  # an ipykernel dependency

    try:
        procs = psutil.Process(server.proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    kernels = []
    for p in procs:
        try:
            if "ipykernel_launcher" in " ".join(p.cmdline()):
                kernels.append(p)
        except psutil.NoSuchProcess:  # gone, or a culled kernel not yet reaped (a zombie)
            pass
    return kernels


def _kernels_now(server: Server) -> tuple[int, float]:
    """How many kernels the server runs, and their resident memory together (GB)."""
    import psutil

    count, rss = 0, 0
    for p in _kernel_processes(server):
        try:
            rss += p.memory_info().rss
            count += 1
        except psutil.NoSuchProcess:
            pass
    return count, rss / 1e9


def test_ten_page_visits_leave_at_most_one_idle_kernel(browser, app_env, tmp_path):
    """Open the app, wait for the explorer, close the page; ten times. Each visit starts a kernel
    (about 0.5 GB); once the cull time has passed after the last page closed, at most one is left
    (the app culls a closed page's kernel; here after VISIT_CULL_IDLE_S, looking every
    VISIT_CULL_INTERVAL_S)."""
    start = time.perf_counter()
    notebook = app.app_notebook(tmp_path / "app", profile="smoke")
    port, token = app.free_port(), secrets.token_hex(16)
    cmd = app.voila_command(
        notebook, port, cull_idle_s=VISIT_CULL_IDLE_S, cull_interval_s=VISIT_CULL_INTERVAL_S
    )
    server = Server(cmd, port, tmp_path / "voila.log", app.server_env(token, app_env))
    peak = 0
    try:
        for _ in range(VISITS):
            page, _problems = _page(browser)
            try:
                page.goto(app.app_url(port, token), timeout=120_000, wait_until="commit")
                page.locator(PLOT).first.wait_for(timeout=180_000)
                _wait_title(page, "frame")
                peak = max(peak, _kernels_now(server)[0])
            finally:
                page.close()
        closed = time.perf_counter()
        after_visits = _kernels_now(server)
        end = closed + VISIT_CULL_IDLE_S + 10 * VISIT_CULL_INTERVAL_S + 30
        while time.perf_counter() < end and _kernels_now(server)[0] > 0:
            time.sleep(1)
        waited = time.perf_counter() - closed
        after_cull = _kernels_now(server)
    finally:
        server.stop()
    assert not server.left_running, server.left_running
    _record_visits(
        {
            "visits": VISITS,
            "cull_idle_s": VISIT_CULL_IDLE_S,
            "cull_interval_s": VISIT_CULL_INTERVAL_S,
            "peak_kernels": peak,
            "kernels_after_visits": after_visits[0],
            "kernel_rss_gb_after_visits": round(after_visits[1], 2),
            "waited_s": round(waited, 1),
            "kernels_after_cull": after_cull[0],
            "kernel_rss_gb_after_cull": round(after_cull[1], 2),
            "test_s": round(time.perf_counter() - start, 1),
        }
    )
    assert after_cull[0] <= 1, (after_cull, server.log.read_text()[-3000:])


def lab_command(root: Path, port: int, token: str, state: Path) -> list[str]:
    """JupyterLab on 127.0.0.1:``port`` over ``root``, with a token, no browser, and nothing that
    reaches the network (news, update check, the extension manager's PyPI search) or the user's
    own workspaces and settings (kept under ``state``)."""
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",  # CI runs as root
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.terminals_enabled=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        f"--LabApp.workspaces_dir={state / 'workspaces'}",
        f"--LabApp.user_settings_dir={state / 'settings'}",
    ]


def test_explorer_in_jupyterlab(browser, app_env, tmp_path):
    """The whole notebook (its tutorial cells too) run from JupyterLab's Run menu; the explorer in
    the output of its cell answers the slider."""
    start = time.perf_counter()
    # laid out like the repository (notebooks/ beside reports/figures/), so that the notebook's
    # screenshot of the explorer, ../reports/figures/07_explorer.png, is served
    notebook = app.app_notebook(tmp_path / "lab" / "notebooks", profile="smoke", tutorial=True)
    shot = paths.REPO_ROOT / "reports" / "figures" / "07_explorer.png"
    (tmp_path / "lab" / "reports" / "figures").mkdir(parents=True)
    shutil.copy(shot, tmp_path / "lab" / "reports" / "figures" / shot.name)
    port, token = app.free_port(), secrets.token_hex(16)
    env = {**app_env, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    cmd = lab_command(tmp_path / "lab", port, token, tmp_path)
    server = Server(cmd, port, tmp_path / "lab.log", env, cwd=notebook.parent)
    page, problems = _page(browser)
    try:
        url = f"http://127.0.0.1:{port}/lab/tree/notebooks/{notebook.name}?token={token}"
        page.goto(url, timeout=120_000)
        # Cells run before the kernel is connected would be skipped: wait for it (the toolbar's
        # status, a hidden label).
        page.wait_for_selector("text=Kernel status: Idle", state="attached", timeout=120_000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        # The last cell prints the metrics file's name; a failing cell stops Run All there.
        done = page.locator(".jp-OutputArea-output", has_text="07_explorer.json")
        failed = page.locator(".jp-OutputArea-output", has_text="Traceback (most recent call")
        done.or_(failed).first.wait_for(timeout=180_000)
        assert not failed.count(), failed.first.inner_text()
        page.wait_for_selector(PLOT, timeout=30_000)
        # The tutorial's timing cell moved the slider 50 times: wait until the page caught up.
        _wait_settled(page)
        loaded = time.perf_counter() - start
        latencies = _slider_moves_figure_and_canvas(page, 5)
        assert not problems, f"the page logged errors: {problems}"
    finally:
        page.close()  # before its server goes: a page left open keeps drawing, and reconnecting
        server.stop()
    assert server.proc.poll() is not None and not server.left_running, server.left_running
    _record("jupyterlab", latencies, loaded, start)
    assert np.median(latencies) < 1000, latencies
