"""Events parsed by earlier builds, kept by the bytes of the raw row they came from.

Checking every field of 10,000 rows and sanitising their descriptions is a large part of
a rebuild after one event changed, and most rows come back from Gancio exactly as they
were. Each row is found by a hash of its exact contents (marshal, version 2: no
back-references, so the same row gives the same bytes); a row seen before gives back the
event made from it, its warnings, and the digest of the event that page keys start from
(``Memo.digest``). A row that differs in any way, even one character of its description,
is parsed again. The entries live in a ``Fragments`` file (``events.bin`` in the cache
folder), salted with the code and the parser's instance and zone, so an entry is never
from other code or settings. Entries hold plain values only (numbers, text, tuples), not
pickles: reading the cache folder runs nothing.
"""

from __future__ import annotations

import hashlib
import marshal
from datetime import datetime
from typing import Any

from .fragments import Fragments
from .models import Event, Image, Parser, Place, Recurrence

# The fields ``_encode`` writes, in Event's order: a field added to Event and not here
# fails a test (test_parsed) instead of being lost from the memo.
FIELDS = (
    "id",
    "title",
    "slug",
    "start",
    "end",
    "place",
    "multidate",
    "tags",
    "online_locations",
    "image",
    "parent_id",
    "recurrence",
    "updated_at",
    "description",
    "source_url",
)


def event_digest(event: Event) -> str:
    """Return a digest of all an event holds: where every key of a file showing it starts."""
    data = repr(event).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def row_key(row: object) -> str | None:
    """Return a hash of a raw row's exact contents, or None for one that marshal refuses."""
    try:
        data = marshal.dumps(row, 2)
    except ValueError:  # not JSON values: parsed every time, never kept
        return None
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class Memo:
    """Parses rows, taking the events of rows seen by the last build from its file."""

    def __init__(self, path: str | None, salt: str) -> None:
        self.entries = Fragments(path, salt)
        self._digests: dict[int, tuple[Event, str]] = {}  # id(event) -> (event, digest)

    @property
    def made(self) -> int:
        """Rows parsed by this build (not found in the last one's file)."""
        return self.entries.made

    @property
    def reused(self) -> int:
        return self.entries.reused

    def event(self, row: object, parser: Parser) -> Event | None:
        """Return ``parser.event(row)``, from the file when the same row was parsed before."""
        key = row_key(row)
        if key is None:
            return parser.event(row)
        made: list[tuple[Event | None, str]] = []

        def make() -> bytes:
            before = len(parser.warnings)
            event = parser.event(row)
            digest = "" if event is None else event_digest(event)
            made.append((event, digest))
            return marshal.dumps(_encode(event, parser.warnings[before:], digest), 2)

        data = self.entries.get(key, make)
        if made:
            event, digest = made[0]
        else:
            try:
                # The cache folder is the site's own, as trusted as its compiled templates.
                event, warnings, digest = _decode(marshal.loads(data), parser)  # noqa: S302
            except (ValueError, TypeError, EOFError):  # damaged: parsed again, as if new
                return parser.event(row)
            parser.warnings.extend(warnings)
        if event is not None:
            self._digests[id(event)] = (event, digest)
        return event

    def digest(self, event: Event) -> str:
        """Return ``event_digest(event)``, known without work for the events made here."""
        known = self._digests.get(id(event))
        if known is not None and known[0] is event:
            return known[1]
        return event_digest(event)

    def save(self) -> None:
        """Keep the entries of this build's rows for the next build, and let go of the file."""
        self.entries.save(self.entries.used())
        self.entries.let_go()


def _encode(event: Event | None, warnings: list[str], digest: str) -> tuple[Any, ...]:
    if event is None:  # an unusable row: only its warnings
        return (None, tuple(warnings), "")
    p, i, r = event.place, event.image, event.recurrence
    values = (
        event.id,
        event.title,
        event.slug,
        int(event.start.timestamp()),  # made from whole seconds in the parser's zone
        None if event.end is None else int(event.end.timestamp()),
        (p.id, p.name, p.address, p.latitude, p.longitude),
        event.multidate,
        event.tags,
        event.online_locations,
        None
        if i is None
        else (i.url, i.thumb_url, i.alt, i.width, i.height, i.size, i.focal_x, i.focal_y),
        event.parent_id,
        None if r is None else (r.weeks, r.weekday, r.day, r.ordinal),
        None if event.updated_at is None else event.updated_at.isoformat(),
        event.description,
        event.source_url,
    )
    return (values, tuple(warnings), digest)


def _decode(entry: Any, parser: Parser) -> tuple[Event | None, tuple[str, ...], str]:
    values, warnings, digest = entry
    if values is None:
        return None, warnings, digest
    (id_, title, slug, start, end, place, multidate, tags, links, image) = values[:10]
    (parent_id, recurrence, updated_at, description, source_url) = values[10:]
    tz = parser.tz
    event = Event(
        id=id_,
        title=title,
        slug=slug,
        start=datetime.fromtimestamp(start, tz),
        end=None if end is None else datetime.fromtimestamp(end, tz),
        place=Place(*place),
        multidate=multidate,
        tags=tags,
        online_locations=links,
        image=None if image is None else Image(*image),
        parent_id=parent_id,
        recurrence=None if recurrence is None else Recurrence(*recurrence),
        updated_at=None if updated_at is None else datetime.fromisoformat(updated_at),
        description=description,
        source_url=source_url,
    )
    return event, warnings, digest
