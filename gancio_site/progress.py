"""Progress of long work (fetching descriptions, rendering thousands of files) on stderr.

On a terminal one line counts up in place; elsewhere (CI logs) plain lines say when a long
step starts, how far it is every quarter, and when it ends; ``--quiet`` says nothing.
Work of fewer than ``MIN_ITEMS`` items passes silently: a small site builds in a blink.
The command line chooses the reporter (``reporting``); library callers get none.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TextIO

MIN_ITEMS = 500
TTY_INTERVAL = 0.1  # seconds between two redraws of the counting line


class Progress:
    """Counts one step at a time: ``start``, any number of ``update``, ``finish``."""

    def __init__(self, stream: TextIO | None = None, mode: str = "off") -> None:
        self.stream = stream or sys.stderr
        self.mode = mode  # "tty", "lines" or "off"
        self.label = ""
        self.total = 0
        self.done = 0
        self._started = 0.0
        self._drawn = 0.0
        self._quarter = 0
        self._active = False

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self._started = self._drawn = time.monotonic()
        self._quarter = 0
        self._active = self.mode != "off" and total >= MIN_ITEMS
        if self._active and self.mode == "lines":
            self._line(f"{label}: {total:,} ...")

    def update(self, done: int) -> None:
        """Say that ``done`` of the step's items are done."""
        self.done = done
        if not self._active:
            return
        if self.mode == "tty":
            now = time.monotonic()
            if now - self._drawn >= TTY_INTERVAL:
                self._drawn = now
                self._draw()
        else:
            quarter = min(3, done * 4 // max(self.total, 1))
            if quarter > self._quarter:
                self._quarter = quarter
                self._line(f"{self.label}: {done:,} of {self.total:,}")

    def finish(self) -> None:
        if not self._active:
            return
        self._active = False
        seconds = time.monotonic() - self._started
        text = f"{self.label}: {self.total:,} done in {seconds:.1f} s"
        if self.mode == "tty":
            self.stream.write("\r" + text + "\x1b[K\n")
            self.stream.flush()
        else:
            self._line(text)

    def _draw(self) -> None:
        share = self.done * 100 // max(self.total, 1)
        self.stream.write(f"\r{self.label}: {self.done:,}/{self.total:,} ({share}%)\x1b[K")
        self.stream.flush()

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


_current = Progress()


def current() -> Progress:
    """Return the reporter of the running command (silent unless one was chosen)."""
    return _current


@contextlib.contextmanager
def reporting(progress: Progress) -> Iterator[Progress]:
    """Report progress with ``progress`` inside the block."""
    global _current
    previous, _current = _current, progress
    try:
        yield progress
    finally:
        _current = previous


def for_terminal(quiet: bool, stream: TextIO | None = None) -> Progress:
    """Return the reporter a command line wants: counting line, plain lines, or none."""
    stream = stream or sys.stderr
    if quiet:
        return Progress(stream, "off")
    return Progress(stream, "tty" if stream.isatty() else "lines")
