"""iCalendar files, as bytes, through the icalendar library.

Times are written in UTC (``DTSTART:20240331T183000Z``): exact for every calendar app,
whatever the reader's or the builder's zone, and with no TZID that would need a VTIMEZONE
(case B04). Text values are escaped and lines folded at 75 octets by icalendar (case B05).
UIDs are the event id at the instance's host, and DTSTAMP is the event's ``updatedAt``,
so the same events always give a byte-identical file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from icalendar import Calendar
from icalendar import Event as VEvent

from . import __version__
from .models import Event, SiteInfo


def build_calendar(
    events: Sequence[Event],
    site: SiteInfo,
    *,
    name: str,
    event_urls: dict[int, str],
    fallback_time: datetime,
) -> bytes:
    """Return a VCALENDAR with one VEVENT per event."""
    cal = Calendar()
    cal.add("prodid", f"-//gancio-site//gancio-site {__version__}//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", site.timezone)
    host = urlsplit(site.instance).netloc or "gancio"
    for event in events:
        cal.add_component(_vevent(event, host, event_urls[event.id], fallback_time))
    return cal.to_ical()


def _vevent(event: Event, host: str, url: str, fallback_time: datetime) -> VEvent:
    stamp = (event.updated_at or fallback_time).astimezone(UTC)
    vevent = VEvent()
    vevent.add("uid", f"{event.id}@{host}")
    vevent.add("dtstamp", stamp)
    vevent.add("last-modified", stamp)
    vevent.add("dtstart", event.start.astimezone(UTC))
    if event.end is not None:
        vevent.add("dtend", event.end.astimezone(UTC))
    vevent.add("summary", event.title)
    location = _location(event)
    if location:
        vevent.add("location", location)
    if event.place.has_coordinates:
        vevent.add("geo", (event.place.latitude, event.place.longitude))
    text = event.description_text
    vevent.add("description", f"{text}\n\n{url}" if text else url)
    vevent.add("url", url)
    if event.tags:
        vevent.add("categories", list(event.tags))
    return vevent


def _location(event: Event) -> str:
    place = event.place
    if place.is_online:
        return event.online_locations[0] if event.online_locations else "online"
    return ", ".join(part for part in (place.name, place.address) if part)
