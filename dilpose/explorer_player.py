"""Real-time playback for the skeleton explorer: the frame shown follows the wall clock.

A player that advances a step per timer tick falls behind whenever a tick takes longer than its
interval, as drawing a 3D frame in the browser does: the ticks queue up and the clip plays slower
than real time (the explorer's first player reached half of it). :class:`Player` instead shows the
frame that is due now, ``(now - start) * fps * speed`` frames after the one playback started at:
when drawing falls behind, frames are skipped, never queued. And it sends the next frame only once
a browser has said it drew the last one (or :data:`DRAWN_TIMEOUT_S` passed), so the page never
holds a backlog to work through after a pause.

The player runs as a task in the kernel's event loop (a Jupyter kernel's comm handlers and cells
run in it), between the messages the kernel answers: the reader can pause, seek or change the
speed while it plays. No widget code here: the explorer hands it callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from .errors import DataError

#: Seconds to wait for a browser to report a frame drawn before sending the next one anyway (no
#: page shows the widget, or a very slow one).
DRAWN_TIMEOUT_S = 1.0
#: With no frame reported drawn for this long, nobody watches (the page was closed): playback
#: pauses, so that a closed page's kernel falls idle and is culled (see :mod:`dilpose.app`).
UNWATCHED_S = 10.0


class Player:
    """Plays a clip of ``length()`` frames at ``fps * speed`` frames per second of wall time.

    ``show(frame)`` draws a frame (the explorer moves its slider); ``position()`` is the frame
    shown now, which the reader may move while it plays (playback goes on from there);
    ``stopped()`` is called when playback ends by itself (the clip's last frame, or nobody
    watching). :meth:`drawn` is for the browser's report that it drew the last frame sent.
    ``clock`` (seconds) is ``time.monotonic`` but for tests.
    """

    def __init__(
        self,
        show: Callable[[int], None],
        position: Callable[[], int],
        length: Callable[[], int],
        stopped: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ):
        self.show, self.position, self.length, self.stopped = show, position, length, stopped
        self.clock = clock
        self.fps, self.speed = 50.0, 1.0
        self._start_frame, self._start_time = 0, 0.0
        self._shown: int | None = None  # the frame this player last showed
        self._task: asyncio.Task | None = None
        self._drawn: asyncio.Event | None = None
        self._last_drawn = 0.0

    @property
    def playing(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Play from the frame shown now (from the first frame if that is the last); needs a
        running event loop (a Jupyter kernel's)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise DataError("play", "playing needs a running Jupyter kernel") from None
        self.stop()
        if self.position() >= self.length() - 1:
            self.show(0)
        self.retime()
        self._drawn = asyncio.Event()
        self._task = loop.create_task(self._run())

    def stop(self) -> None:
        """Stop where it is: the frame shown stays."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def retime(self) -> None:
        """Count time from now and the frame shown now (after a change of speed, say). The reader
        acted: someone watches."""
        self._start_frame, self._start_time = self.position(), self.clock()
        self._shown = self._start_frame
        self._last_drawn = self._start_time

    def drawn(self) -> None:
        """A browser drew the last frame sent."""
        self._last_drawn = self.clock()
        if self._drawn is not None:
            self._drawn.set()

    def due(self, now: float) -> int:
        """The frame due at clock time ``now``, clamped to the clip."""
        # (+1e-6: a frame due at exactly `now` counts, whatever the clock's rounding)
        frame = self._start_frame + int((now - self._start_time) * self.fps * self.speed + 1e-6)
        return min(frame, self.length() - 1)

    def step(self) -> bool | None:
        """Show the frame due now; True if that is another frame than the one shown before, None
        when the clip's last frame is shown or nobody watches (then ``stopped()`` was called)."""
        now = self.clock()
        if self.position() != self._shown:  # the reader moved the slider: play on from there
            self.retime()
        if now - self._last_drawn > UNWATCHED_S:
            self.stopped()
            return None
        frame = self.due(now)
        moved = frame != self._shown
        if moved:
            self._shown = frame
            self.show(frame)
        if frame >= self.length() - 1:
            self.stopped()
            return None
        return moved

    def next_due_in(self) -> float:
        """Seconds until the frame after the one shown is due (negative: overdue)."""
        rate = self.fps * self.speed
        return self._start_time + (self._shown + 1 - self._start_frame) / rate - self.clock()

    async def _run(self) -> None:
        # Not `while True`: on Python 3.11 asyncio.wait_for can swallow a cancel that arrives as
        # the event it waits for is set; stop() also unsets _task, and that ends the loop.
        me = asyncio.current_task()
        while self._task is me:
            self._drawn.clear()
            moved = self.step()
            if moved is None:
                return
            if moved:  # until a browser drew it; the frames that come due meanwhile are skipped
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._drawn.wait(), DRAWN_TIMEOUT_S)
            await asyncio.sleep(max(0.0, self.next_due_in()))
