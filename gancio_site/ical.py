"""iCalendar files (RFC 5545), as bytes.

Times are written in UTC (``DTSTART:20240331T183000Z``): exact for every calendar app,
whatever the reader's or the builder's zone, and with no TZID that would need a VTIMEZONE
(case B04). Text values escape backslash, ``;``, ``,`` and newlines, and lines are folded
at 75 octets, never inside a UTF-8 character (case B05). UIDs are the event id at the
instance's host and DTSTAMP is the event's ``updatedAt``, so the same events always give
a byte-identical file.

The serialiser is written here rather than through the icalendar library: a site writes
one calendar per event, tag and place, and icalendar spent over a millisecond per event
building and folding lines, which dominated a 10,000-event build. Each event's VEVENT is
made once and reused by every calendar that lists it. The tests parse every calendar back
with icalendar.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from . import __version__
from .fragments import Remember, memo
from .models import Event, SiteInfo


def text(value: str) -> str:
    """Return ``value`` escaped as an iCalendar TEXT value."""
    # Chained replace() is many times faster than str.translate() with a mapping.
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> bytes:
    """Return one content line as octets, folded at 75 octets between characters, + CRLF."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return data + b"\r\n"
    parts = []
    start, limit = 0, 75
    while len(data) - start > limit:
        cut = start + limit
        while data[cut] & 0xC0 == 0x80:  # never split a multi-byte character
            cut -= 1
        parts.append(data[start:cut])
        start, limit = cut, 74  # continuation lines begin with one space
    parts.append(data[start:])
    return b"\r\n ".join(parts) + b"\r\n"


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class CalendarWriter:
    """Makes calendars for one site, each event's VEVENT made once."""

    def __init__(
        self,
        site: SiteInfo,
        event_urls: dict[int, str],
        fallback_time: datetime,
        remember: Remember | None = None,
    ):
        self.site = site
        self.event_urls = event_urls
        self.fallback_time = fallback_time
        self.host = urlsplit(site.instance).netloc or "gancio"
        self.remember = remember or memo()

    def vevent(self, event: Event) -> bytes:
        """Return the event's VEVENT, made once (and kept between builds when remembered)."""
        return self.remember("ics", event, lambda: self._vevent(event))

    def calendar(self, events: Iterable[Event], name: str) -> bytes:
        """Return a VCALENDAR listing ``events``."""
        return b"".join(self.parts(events, name))

    def _head(self, name: str) -> bytes:
        return b"".join(
            fold(line)
            for line in (
                "BEGIN:VCALENDAR",
                "VERSION:2.0",
                f"PRODID:-//gancio-site//gancio-site {__version__}//EN",
                "CALSCALE:GREGORIAN",
                "METHOD:PUBLISH",
                f"X-WR-CALNAME:{text(name)}",
                f"X-WR-TIMEZONE:{text(self.site.timezone)}",
            )
        )

    def parts(self, events: Iterable[Event], name: str) -> list[bytes]:
        """Return the VCALENDAR listing ``events`` as pieces to write one after the other
        (a calendar of every event is megabytes: it is never joined in memory)."""
        return [self._head(name), *(self.vevent(e) for e in events), b"END:VCALENDAR\r\n"]

    def _vevent(self, event: Event) -> bytes:
        url = self.event_urls[event.id]
        stamp = _utc(event.updated_at or self.fallback_time)
        lines = [
            "BEGIN:VEVENT",
            f"UID:{event.id}@{text(self.host)}",
            f"DTSTAMP:{stamp}",
            f"LAST-MODIFIED:{stamp}",
            f"DTSTART:{_utc(event.start)}",
        ]
        if event.end is not None:
            lines.append(f"DTEND:{_utc(event.end)}")
        lines.append(f"SUMMARY:{text(event.title)}")
        location = _location(event)
        if location:
            lines.append(f"LOCATION:{text(location)}")
        if event.place.has_coordinates:
            lines.append(f"GEO:{event.place.latitude};{event.place.longitude}")
        body = event.description_text
        description = body + "\n\n" + url if body else url
        lines.append(f"DESCRIPTION:{text(description)}")
        lines.append(f"URL:{url}")
        if event.tags:
            lines.append("CATEGORIES:" + ",".join(text(tag) for tag in event.tags))
        lines.append("END:VEVENT")
        return b"".join(fold(line) for line in lines)


def _location(event: Event) -> str:
    place = event.place
    if place.is_online:
        return event.online_locations[0] if event.online_locations else "online"
    return ", ".join(part for part in (place.name, place.address) if part)
