"""A stop asked for by a signal, remembered where Python may lose the exception it raises.

Ctrl-C raises ``KeyboardInterrupt`` wherever the program is; when that is inside a callback
(an import lock's, a weak reference's), Python prints "Exception ignored" and goes on, and
the build would publish a site the user asked to stop. The command line installs
``handler`` for SIGINT and SIGTERM: it records the stop before raising, and the output
folder checks the record (``check``) just before the new site replaces the old one.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

# The exit status a signal asked for (130 Ctrl-C, 143 SIGTERM), or None.
requested: int | None = None

_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}


def handler(signum: int, frame: FrameType | None) -> None:
    """Record the stop, then unwind as Python would: Ctrl-C as ``KeyboardInterrupt``."""
    global requested
    requested = _STATUS.get(signal.Signals(signum), 130)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    sys.exit(requested)


def install() -> None:
    """Handle SIGINT (unless ignored, as in a shell's background job) and SIGTERM."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def check() -> None:
    """Stop now if a signal asked to, even when its exception was lost on the way."""
    if requested == 130:
        raise KeyboardInterrupt
    if requested is not None:
        sys.exit(requested)
