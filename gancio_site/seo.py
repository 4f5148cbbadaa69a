"""What search engines and calendar apps read about an event: JSON-LD and "add to" links.

Pure functions over an ``Event``: they return a dict (for ``|tojson`` in the event page,
never concatenated into a script) or a URL. Times keep their UTC offset in JSON-LD and
Outlook links; Google Calendar wants UTC with a ``Z``. An event without an end lasts one
hour in the calendar links only (both services need an end); the JSON-LD leaves it out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from .models import Event

SCHEMA = "https://schema.org/"
DESCRIPTION_LIMIT = 300
DEFAULT_LENGTH = timedelta(hours=1)


def summary(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """Return ``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-–") + "…"


def attendance_mode(event: Event) -> str:
    """Return the schema.org attendance mode: online place, a place plus links, or a place."""
    if event.is_online:
        return SCHEMA + "OnlineEventAttendanceMode"
    if event.online_locations:
        return SCHEMA + "MixedEventAttendanceMode"
    return SCHEMA + "OfflineEventAttendanceMode"


def event_jsonld(event: Event, url: str) -> dict[str, Any]:
    """Return the schema.org ``Event`` of ``event``, whose page is at ``url``."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": event.title,
        "url": url,
        "startDate": event.start.isoformat(),
    }
    if event.end is not None:
        data["endDate"] = event.end.isoformat()
    data["eventStatus"] = SCHEMA + "EventScheduled"
    data["eventAttendanceMode"] = attendance_mode(event)
    locations = _locations(event, url)
    if locations:
        data["location"] = locations[0] if len(locations) == 1 else locations
    if event.image is not None:
        data["image"] = [event.image.url]
    description = summary(event.description_text)
    if description:
        data["description"] = description
    return data


def _locations(event: Event, url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    place = event.place
    if place.name and not place.is_online:
        venue: dict[str, Any] = {"@type": "Place", "name": place.name}
        if place.address:
            venue["address"] = {"@type": "PostalAddress", "streetAddress": place.address}
        if place.has_coordinates:
            venue["geo"] = {
                "@type": "GeoCoordinates",
                "latitude": place.latitude,
                "longitude": place.longitude,
            }
        found.append(venue)
    if event.is_online or event.online_locations:
        # Google requires a url on a VirtualLocation: the event's own page when the
        # organisers gave no link (Gancio's "online" place without online_locations).
        links = event.online_locations or (url,)
        found += [{"@type": "VirtualLocation", "url": link} for link in links]
    return found


def calendar_text(event: Event, url: str) -> tuple[str, str]:
    """Return the details and location to prefill in a calendar app."""
    details = summary(event.description_text)
    details = f"{details}\n\n{url}" if details else url
    if event.is_online or not event.place.name:
        location = event.online_locations[0] if event.online_locations else url
    else:
        location = ", ".join(p for p in (event.place.name, event.place.address) if p)
    return details, location


def _span(event: Event) -> tuple[datetime, datetime]:
    return event.start, event.end or event.start + DEFAULT_LENGTH


# Bytes left as they are in a form-encoded query; a space is "+", any other byte "%XX".
_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_FORM = {byte: "+" if byte == 0x20 else f"%{byte:02X}" for byte in range(256) if byte not in _SAFE}


def form_encode(query: dict[str, str]) -> str:
    """Return ``urllib.parse.urlencode(query)``, the same bytes, made by one table lookup
    per character in C instead of a Python call per byte (a calendar link carries the
    description: two links per event page)."""
    return "&".join(f"{_plus(key)}={_plus(value)}" for key, value in query.items())


def _plus(text: str) -> str:
    return text.encode("utf-8").decode("latin-1").translate(_FORM)


def google_calendar_url(event: Event, url: str, text: tuple[str, str] | None = None) -> str:
    """Return a Google Calendar link that opens a new event filled in with ``event``.

    ``text`` is ``calendar_text(event, url)`` when the caller has it already.
    """
    start, end = _span(event)
    details, location = text or calendar_text(event, url)
    stamp = "%Y%m%dT%H%M%SZ"
    query = {
        "action": "TEMPLATE",
        "text": event.title,
        "dates": f"{start.astimezone(UTC):{stamp}}/{end.astimezone(UTC):{stamp}}",
        "details": details,
        "location": location,
    }
    return "https://calendar.google.com/calendar/render?" + form_encode(query)


def outlook_calendar_url(event: Event, url: str, text: tuple[str, str] | None = None) -> str:
    """Return an Outlook.com link that opens a new event filled in with ``event``."""
    start, end = _span(event)
    details, location = text or calendar_text(event, url)
    query = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": event.title,
        "startdt": start.isoformat(),
        "enddt": end.isoformat(),
        "body": details,
        "location": location,
    }
    return "https://outlook.live.com/calendar/0/deeplink/compose?" + form_encode(query)


def calendar_links(event: Event, url: str) -> dict[str, str]:
    """Return the Google and Outlook "add to calendar" links of ``event``."""
    text = calendar_text(event, url)
    return {
        "google": google_calendar_url(event, url, text),
        "outlook": outlook_calendar_url(event, url, text),
    }
