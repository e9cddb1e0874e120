"""Errors raised on bad input. Every message names the file (or source) and the problem."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad input data: a truncated or foreign file, a missing key, a wrong shape, NaNs, an unknown
    name.

    ``str(err)`` reads ``"<source>: <problem>"`` so the user sees which file is at fault.
    """

    def __init__(self, source: str | Path | None, problem: str):
        self.source = str(source) if source is not None else "<in-memory data>"
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class ConfigError(ValueError):
    """A setting that cannot work (a zero channel count, an even filter width, an unknown key).

    The message names the setting and the value, e.g.
    ``"channels must be a positive integer, got 0"``.
    """
