"""The explorer's real-time player: the frame shown follows the wall clock, frames are skipped
(never queued) when drawing is slow, and pause, seek, speed and stop do what the buttons say. With
a fake clock for the arithmetic, and with asyncio and a simulated browser for the timing."""

from __future__ import annotations

import asyncio
import time

import pytest

from dilpose import explorer_player
from dilpose.errors import DataError
from dilpose.explorer import PAUSE, PLAY, Explorer
from dilpose.explorer_player import Player


class Clip:
    """A player's surroundings: a slider, a clock the test moves, what was shown."""

    def __init__(self, frames: int = 500):
        self.frames, self.value, self.now = frames, 0, 100.0
        self.shown: list[int] = []
        self.ended = 0
        self.player = Player(
            show=self.show,
            position=lambda: self.value,
            length=lambda: self.frames,
            stopped=self.stop,
            clock=lambda: self.now,
        )

    def show(self, t: int) -> None:
        self.value = t
        self.shown.append(t)

    def stop(self) -> None:
        self.ended += 1


def test_the_frame_shown_is_the_one_due_by_the_clock():
    c = Clip()
    c.value = 10
    c.player.retime()
    c.now += 1.0  # one second at 50 Hz: 50 frames on, however few were drawn in between
    assert c.player.step() is True and c.value == 60
    c.now += 0.01  # not yet the next frame: nothing sent
    assert c.player.step() is False and c.shown == [60]
    assert c.player.next_due_in() == pytest.approx(0.01)
    c.player.speed = 0.5
    c.player.retime()  # a new speed counts from now and the frame shown
    c.now += 1.0
    c.player.step()
    assert c.value == 85


def test_a_seek_while_playing_plays_on_from_there_and_the_end_stops():
    c = Clip(frames=100)
    c.player.retime()
    c.now += 0.2
    c.player.step()
    assert c.value == 10
    c.value = 90  # the reader moved the slider
    c.now += 0.1
    c.player.step()  # counts from 90 now
    c.now += 0.1
    c.player.step()
    assert c.value == 95 and c.ended == 0
    c.now += 5
    assert c.player.step() is None and c.value == 99 and c.ended == 1  # the last frame, then stop


def test_nobody_drawing_for_a_while_pauses_playback():
    c = Clip(frames=10_000)
    c.player.retime()
    c.player.drawn()
    c.now += explorer_player.UNWATCHED_S + 0.1
    assert c.player.step() is None and c.ended == 1


def test_play_needs_a_running_event_loop():
    with pytest.raises(DataError, match="running Jupyter kernel"):
        Clip().player.start()


def test_a_slow_browser_gets_frames_skipped_not_queued():
    """The browser takes 80 ms per frame (4 frame periods at 50 Hz): over 1 s the clip still
    advances 50 frames, in about 12 messages, and none waits unanswered."""

    async def play():
        c = Clip(frames=1000)
        c.player.clock = time.monotonic
        pending = []

        def show(t):
            c.value = t
            c.shown.append(t)
            pending.append(t)
            asyncio.get_running_loop().call_later(0.08, lambda: (pending.pop(), c.player.drawn()))

        c.player.show = show
        c.player.start()
        start = time.monotonic()
        await asyncio.sleep(1.0)
        elapsed = time.monotonic() - start
        c.player.stop()
        backlog, sent = len(pending), len(c.shown)
        await asyncio.sleep(0.2)
        return c, elapsed, backlog, sent

    c, elapsed, backlog, sent = asyncio.run(play())
    assert backlog <= 1
    assert c.value == pytest.approx(50 * elapsed, abs=6)
    assert 8 <= len(c.shown) <= 14, c.shown
    assert c.shown == sorted(c.shown)
    assert len(c.shown) == sent  # stopped: nothing shown after


@pytest.fixture(scope="module")
def ex():
    return Explorer("mocap", subject="cmu09", action="run 09_11")


def test_the_explorer_plays_in_real_time_pauses_and_stops(ex):
    """Play, pause and stop as the buttons do them, with a browser that reports each update of the
    figure drawn after 30 ms; the clip has 69 frames, so at 0.5x (25 frames a second)."""

    async def session():
        loop = asyncio.get_running_loop()

        def browser(change):
            report = {"trace_deltas": [], "trace_edit_id": change["new"]}
            loop.call_later(0.03, lambda: setattr(ex.figure, "_js2py_traceDeltas", report))

        ex.figure.observe(browser, "_last_trace_edit_id")
        ex.frame.value, ex.speed.value = 10, "0.5x"
        start = time.monotonic()
        ex.play.value = True
        assert ex.play.description == PAUSE
        await asyncio.sleep(1.0)
        ex.play.value = False  # pause
        elapsed = time.monotonic() - start
        paused = ex.frame.value
        await asyncio.sleep(0.3)
        kept = ex.frame.value
        ex.speed.value = "2x"  # 100 frames a second: the rest of the clip in 0.3 s
        ex.play.value = True
        await asyncio.sleep(0.8)
        ex.figure.unobserve(browser, "_last_trace_edit_id")
        return elapsed, paused, kept

    elapsed, paused, kept = asyncio.run(session())
    assert paused - 10 == pytest.approx(25 * elapsed, abs=4) and kept == paused
    # at the end it stops by itself, on the last frame
    assert ex.frame.value == len(ex.clip) - 1 and not ex.play.value
    assert ex.play.description == PLAY
    assert ex.figure.layout.title.text.startswith(f"frame {len(ex.clip) - 1} ")
    ex.stop_button.click()
    assert ex.frame.value == 0 and not ex.play.value
    ex.speed.value = "1x"


def test_play_without_a_kernel_says_so(ex):
    ex.play.value = True  # no event loop runs here
    assert "running Jupyter kernel" in ex.message.value
    assert not ex.play.value and ex.play.description == PLAY
    ex.message.value = ""
