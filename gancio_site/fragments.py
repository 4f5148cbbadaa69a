"""Pieces of output made per event (its calendar entry, its JSON object), kept between builds.

The calendars and JSON files of the home page, of a busy tag or of a place list every
event they hold; when one event changes they are written again, and without this memory
every other event's entry would be made again too. Entries are found by a key of
everything they are made from (the event, its links, the site's settings and templates),
so an entry is never stale. New entries are appended to the file in the cache folder;
it is rewritten without the entries of events no longer shown once they would make up
more than half of it. While a build runs, the entries it makes wait in an unnamed
temporary file beside it, not in memory (tens of megabytes at 10,000 events).
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from .models import Event

# remember(kind, event, make): the entry of ``kind`` ("ics", "json") for ``event``.
Remember = Callable[[str, "Event", Callable[[], bytes]], bytes]

log = logging.getLogger(__name__)

FORMAT = b"gancio-site fragments 1\n"
_LENGTH = struct.Struct(">I")
KEY_SIZE = 32  # keys are 32 hexadecimal characters (a blake2b digest of 16 bytes)


class Fragments:
    """Entries by key: the ones the last build saved, and the ones made or used now."""

    def __init__(self, path: str | None = None, salt: str = "") -> None:
        self.path = path
        self.salt = salt
        # The last build's entries stay in the file (mapped, not copied): key -> (start, end).
        self._data: mmap.mmap | bytes = b""
        self._torn = False  # the file ends in an incomplete entry
        self.old: dict[str, tuple[int, int]] = self._load() if path else {}
        # Entries made now: (offset, length) in the spill file, or the bytes without one.
        self.new: dict[str, tuple[int, int] | bytes] = {}
        self._spill: BinaryIO | None = None
        self._pid = os.getpid()
        self.made = 0  # entries made by this process (not found in the last build's)
        self._kept: set[str] = set()

    @property
    def reused(self) -> int:
        """How many of the last build's entries this process used."""
        return len(self._kept)

    def get(self, key: str, make: Callable[[], bytes]) -> bytes:
        """Return the entry of ``key``, made by ``make`` only when no build made it yet."""
        value = self._made(key)
        if value is None:
            span = self.old.get(key)
            if span is not None:  # a view of the file: joined into the output, never copied
                self._kept.add(key)
                return memoryview(self._data)[span[0] : span[1]]  # type: ignore[return-value]
            value = make()
            self.made += 1
            if os.getpid() == self._pid:  # a rendering process (a fork) never saves them
                self._keep(key, value)
        return value

    def _keep(self, key: str, value: bytes) -> None:
        """Keep a new entry until ``save``: in the spill file when there is a folder."""
        if self.path and self._spill is None:
            try:
                folder = os.path.dirname(self.path) or "."
                os.makedirs(folder, exist_ok=True)
                # Open for the whole build; unnamed, so gone even if the build is killed.
                # Unbuffered: a rendering process (a fork) must not inherit unwritten bytes.
                self._spill = tempfile.TemporaryFile(  # noqa: SIM115
                    dir=folder, prefix=".fragments.", buffering=0
                )
            except OSError:
                self.path = None  # nowhere to write: kept in memory, and not saved
        if self._spill is None:
            self.new[key] = bytes(value)
            return
        try:
            at, view = self._spill.tell(), memoryview(value)
            while view:  # a raw file may take part of it
                written = self._spill.write(view)
                if not written:
                    raise OSError("nothing written")
                view = view[written:]
        except OSError:  # a full disk, say: this entry waits in memory
            self.new[key] = bytes(value)
            return
        self.new[key] = (at, len(value))

    def _made(self, key: str) -> bytes | None:
        entry = self.new.get(key)
        if entry is None or isinstance(entry, bytes):
            return entry
        assert self._spill is not None
        if hasattr(os, "pread"):  # leaves the offset alone: rendering processes share it
            return os.pread(self._spill.fileno(), entry[1], entry[0])
        self._spill.seek(entry[0])  # no fork there, so no one else reads it
        value = self._spill.read(entry[1])
        self._spill.seek(0, os.SEEK_END)
        return value

    def _size(self, key: str) -> int:
        entry = self.new[key]
        return len(entry) if isinstance(entry, bytes) else entry[1]

    def used(self) -> list[str]:
        """Return the keys this process made or took from the last build, in a fixed order."""
        return sorted(self._kept.union(self.new))

    def let_go(self) -> None:
        """Drop the pages of the last build's file read so far (read again if needed)."""
        let_go(self._data)

    def stored(self, key: str) -> bytes | None:
        """Return the last build's entry of ``key``, if it has one."""
        span = self.old.get(key)
        return None if span is None else self._data[span[0] : span[1]]

    def save(self, live: Iterable[str]) -> None:
        """Keep the entries of the ``live`` keys (made now or before) for the next build.

        New entries are appended to the file; it is rewritten with the live ones only when
        the entries no longer shown would make up more than half of it.
        """
        if not self.path:
            return
        kept = [key for key in live if key in self.new or key in self.old]
        added = [key for key in kept if key not in self.old]
        size = max(0, len(self._data) - len(FORMAT) - KEY_SIZE)  # of the entries
        appended = sum(KEY_SIZE + _LENGTH.size + self._size(key) for key in added)
        live_size = appended + sum(
            KEY_SIZE + _LENGTH.size + end - start
            for key in kept
            if key not in self.new
            for start, end in (self.old[key],)
        )
        if self._data and not self._torn and 2 * live_size >= size + appended:
            if added:  # appended: a torn tail from a killed build is dropped on load
                self._append(added)
            return
        self._rewrite(kept)

    def _entries(self, keys: Iterable[str]) -> Iterator[bytes]:
        for key in keys:
            value = self._made(key)
            if value is None:
                value = self.stored(key) or b""
            # key, length, bytes: read back with slices, nothing to interpret.
            yield b"".join((key.encode("ascii"), _LENGTH.pack(len(value)), value))

    def _append(self, keys: list[str]) -> None:
        assert self.path
        try:
            with open(self.path, "ab") as handle:
                handle.writelines(self._entries(keys))
        except OSError as exc:
            log.warning("could not save %s: %s", self.path, exc)

    def _rewrite(self, keys: list[str]) -> None:
        assert self.path
        folder = os.path.dirname(self.path)
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".fragments.", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(FORMAT + self.salt.encode("ascii").ljust(KEY_SIZE)[:KEY_SIZE])
                handle.writelines(self._entries(keys))
            if isinstance(self._data, mmap.mmap):  # done with the old file, which Windows
                with contextlib.suppress(BufferError):  # could not replace while mapped
                    self._data.close()
                self._data, self.old = b"", {}
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("could not save %s: %s", self.path, exc)

    def _load(self) -> dict[str, tuple[int, int]]:
        assert self.path
        try:
            with open(self.path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring the unreadable %s (%s)", self.path, exc)
            return {}
        salt = self.salt.encode("ascii").ljust(KEY_SIZE)[:KEY_SIZE]
        if data[: len(FORMAT) + KEY_SIZE] != FORMAT + salt:
            return {}  # another version, other settings, or not ours: no use
        entries: dict[str, tuple[int, int]] = {}
        at, end = len(FORMAT) + KEY_SIZE, len(data)
        while at < end:
            head = at + KEY_SIZE + _LENGTH.size
            if head > end:
                break
            (size,) = _LENGTH.unpack_from(data, at + KEY_SIZE)
            if head + size > end:
                break
            entries[data[at : at + KEY_SIZE].decode("ascii", "replace")] = (head, head + size)
            at = head + size
        if at != end:  # the last entry is cut short (a build killed while appending it)
            log.info("ignoring the incomplete end of %s", self.path)
            self._torn = True  # nothing may be appended after it: the next save rewrites
        self._data = data
        let_go(data)  # reading the index brought the whole file into memory
        return entries


def let_go(data: object) -> None:
    """Drop the pages of a mapped file from this process's memory (not from the file:
    what is read again is read from it), so a build holds only the entries it is writing
    now, not every entry it has read."""
    if isinstance(data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        with contextlib.suppress(OSError, ValueError):
            data.madvise(mmap.MADV_DONTNEED)


def memo() -> Remember:
    """Return a ``Remember`` for one process: each entry made once, by kind and event id."""
    made: dict[tuple[str, int], bytes] = {}

    def remember(kind: str, event: Event, make: Callable[[], bytes]) -> bytes:
        key = (kind, event.id)
        value = made.get(key)
        if value is None:
            value = made[key] = make()
        return value

    return remember
