"""When Python's cycle collector runs during a build.

A build makes hundreds of thousands of objects that live until it ends (the fetched rows,
the events, the URL map, the plan of every file). With the collector on, each of its
passes walks all of them again: more than half a second of a 10,000-event build that
changed one event. So it is paused while they are made, and resumed once rendering
starts, with everything made so far frozen (left out of its passes, and left untouched
in the rendering processes, which share those pages of memory with the build): it then
collects only what rendering throws away.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_paused = 0  # builds running with the collector paused by ``paused``


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Pause the collector for a build (if it was on); it is back as it was afterwards."""
    global _paused
    with _lock:
        if not gc.isenabled() and not _paused:
            owner = False  # someone else turned it off: leave it to them
        else:
            owner = True
            _paused += 1
            gc.disable()
    try:
        yield
    finally:
        if owner:
            with _lock:
                _paused -= 1
                if not _paused:
                    gc.unfreeze()
                    gc.enable()


def resume() -> None:
    """Resume the collector for what is made from now on (see the module's notes)."""
    with _lock:
        if _paused:
            gc.freeze()
            gc.enable()
