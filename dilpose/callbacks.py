"""Training callbacks: the per-epoch log, the history, and progress for the console and notebooks.

The :class:`~dilpose.train.Trainer` prints nothing itself; it calls the hooks of its callbacks. A
tqdm bar (:class:`TqdmProgress`) is the command line's display; notebooks get one compact line per
run (:class:`LineProgress`), with a line per epoch on the terminal the kernel was started from.
Nothing here changes what training computes, so the model cache's key leaves this module out.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from dataclasses import dataclass, field


@dataclass
class EpochLog:
    """One finished epoch: ``loss_mm`` is its mean training loss (supervised: the MPJPE of the
    flip-augmented windows), mm; ``lr`` and ``bn_momentum`` the schedule's values; ``seconds`` its
    wall time; ``val_mpjpe_mm`` the MPJPE on the validation sequences, when the trainer has them."""

    epoch: int
    loss_mm: float
    lr: float
    bn_momentum: float
    seconds: float
    val_mpjpe_mm: float | None = None


@dataclass
class History:
    """The epochs trained so far (checkpoints store it: a resumed run keeps its whole history)."""

    epochs: list[EpochLog] = field(default_factory=list)

    def to_dict(self) -> list[dict]:
        return [dataclasses.asdict(e) for e in self.epochs]


class Callback:
    """Hooks the trainer calls; override the ones you need. Progress display goes through these
    (a tqdm bar for the command line, one compact line per run in notebooks), so the training loop
    itself prints nothing."""

    def on_train_start(self, trainer, epochs: int) -> None: ...
    def on_epoch_start(self, trainer, epoch: int, num_batches: int) -> None: ...
    def on_batch_end(self, trainer, logs: dict[str, float]) -> None: ...
    def on_epoch_end(self, trainer, log: EpochLog) -> None: ...
    def on_train_end(self, trainer) -> None: ...


class _EpochFunction(Callback):
    """A plain function ``cb(trainer, epoch_log)`` called after every epoch."""

    def __init__(self, fn):
        self.fn = fn

    def on_epoch_end(self, trainer, log):
        self.fn(trainer, log)


def as_callback(cb) -> Callback:
    """``cb`` itself if it is a :class:`Callback`, else a function ``cb(trainer, epoch_log)`` called
    after every epoch."""
    return cb if isinstance(cb, Callback) else _EpochFunction(cb)


class TqdmProgress(Callback):
    """A tqdm bar per epoch with the running loss and the learning rate (the command line's
    display)."""

    def on_train_start(self, trainer, epochs):
        self.epochs = epochs

    def on_epoch_start(self, trainer, epoch, num_batches):
        from tqdm import tqdm  # optional at import time: only the command line's bar needs it

        self.bar = tqdm(total=num_batches, desc=f"epoch {epoch + 1}/{self.epochs}", leave=False)
        self.total, self.count = 0.0, 0

    def on_batch_end(self, trainer, logs):
        self.bar.update(1)
        if "loss_mm" in logs:
            self.total, self.count = self.total + logs["loss_mm"], self.count + 1
            self.bar.set_postfix(loss_mm=f"{self.total / self.count:.1f}", refresh=False)

    def on_epoch_end(self, trainer, log):
        self.bar.close()


def console_write(text: str) -> None:
    """Write ``text`` to the terminal the process was started from, bypassing a Jupyter kernel's
    capture: ipykernel redirects file descriptor 2 into the notebook and keeps the original as
    ``sys.stderr._original_stdstream_copy``; outside a kernel this is plain stderr."""
    fd = getattr(sys.stderr, "_original_stdstream_copy", None)
    if not isinstance(fd, int):
        stream = sys.__stderr__
        if stream is None:
            return
        stream.write(text)
        stream.flush()
        return
    try:
        os.write(fd, text.encode())
    except OSError:
        pass  # the terminal is gone: progress is not worth an error


class LineProgress(Callback):
    """Progress for notebooks: nothing in the notebook while training, one line when it ends.

    While a model trains, a line per epoch (name, epoch, loss, time left) goes to the console the
    notebook's kernel was started from (the terminal of ``make paper``, or JupyterLab's log), not
    to the notebook, which keeps one compact line per run and no widgets (:func:`console_write`).
    """

    def __init__(self, name: str, console: bool = True):
        self.name, self.console = name, console

    def on_train_start(self, trainer, epochs):
        self.epochs, self.start, self.first = epochs, time.perf_counter(), trainer.epoch

    def on_epoch_end(self, trainer, log):
        if not self.console:
            return
        done = trainer.epoch - self.first
        elapsed = time.perf_counter() - self.start
        left = elapsed / max(done, 1) * (self.epochs - trainer.epoch)
        console_write(
            f"[dilpose]   {self.name}: epoch {trainer.epoch}/{self.epochs}, "
            f"loss {log.loss_mm:.1f} mm, {elapsed:.0f} s, about {left:.0f} s left\n"
        )

    def on_train_end(self, trainer):
        h = trainer.history.epochs
        if h:
            print(
                f"{self.name}: trained {len(h)} epochs in {sum(e.seconds for e in h):.0f} s, "
                f"final training loss {h[-1].loss_mm:.1f} mm"
            )
