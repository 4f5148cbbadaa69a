"""Removing trees of ours (old sites, unfinished builds, spare trees) whole.

A folder the user made read-only (``chmod 555 public``, or one of its folders) cannot be
emptied as it is; its owner may change that, so the owner's write permission is given
back to the folders of the tree being removed, and never to anything outside it (links are
not followed). What still cannot be removed is named in a warning: nothing is left beside
the site silently.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_OWNER = stat.S_IRWXU


def remove_tree(folder: Path | str) -> bool:
    """Remove ``folder`` and everything in it; True when it is gone."""
    shutil.rmtree(folder, ignore_errors=True)
    if not os.path.lexists(folder):
        return True
    _let_the_owner_write(str(folder))
    shutil.rmtree(folder, ignore_errors=True)
    if not os.path.lexists(folder):
        return True
    log.warning(
        "could not remove %s (some files in it cannot be deleted); remove it by hand",
        folder,
    )
    return False


def _let_the_owner_write(top: str) -> None:
    """Give the owner read, write and search permission on every folder under ``top``."""
    if os.path.islink(top):
        return
    folders = [top]
    while folders:
        folder = folders.pop()
        try:
            unlock(folder)
            with os.scandir(folder) as entries:
                folders.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
        except OSError:
            continue  # not ours, or gone: the second pass says what is left


def unlock(folder: str) -> bool:
    """Give the owner full permission on ``folder``; True if it lacked some."""
    mode = os.lstat(folder).st_mode
    if not stat.S_ISDIR(mode) or mode & _OWNER == _OWNER:
        return False
    os.chmod(folder, stat.S_IMODE(mode) | _OWNER)
    return True


_removals: list[threading.Event] = []  # each set when its old tree is gone


def remove_later(folder: Path) -> None:
    """Remove ``folder`` in a thread (not a daemon: the interpreter waits for it at exit)."""
    done = threading.Event()

    def remove() -> None:
        try:
            remove_tree(folder)
        finally:
            done.set()

    threading.Thread(target=remove, name="remove-old-site").start()
    _removals.append(done)


def finish_removals() -> None:
    """Wait until old trees being removed are gone.

    The wait is on an event, not ``Thread.join``: a join that a signal interrupts (Ctrl-C,
    SIGTERM) marks the thread as finished on Python 3.11, and the interpreter would then
    exit without waiting for it, leaving half a tree beside the site.
    """
    while _removals:
        _removals[-1].wait()
        _removals.pop()
