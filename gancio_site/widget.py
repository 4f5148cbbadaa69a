"""The site's ``events.json`` (the events as plain JSON, for other sites) and ``embed.json``
(the little of them the widget shows, so that a page embedding it downloads no descriptions).

Format (version 1), documented in the README:
``{"version": 1, "site": {...}, "timezone": "Europe/Rome", "events": [...]}``, each event
with ISO 8601 times carrying their UTC offset, absolute URLs and sanitised description HTML.
Keys are sorted and the file has no build time, so the same events give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from .fragments import Remember, memo
from .models import Event, Image, Place, SiteInfo
from .urls import UrlMap


class JsonWriter:
    """Makes the JSON documents of one site, each event encoded once."""

    def __init__(
        self,
        site: SiteInfo,
        urls: UrlMap,
        event_urls: dict[int, str],
        remember: Remember | None = None,
    ) -> None:
        self.site = site
        self.urls = urls
        self.event_urls = event_urls
        self.remember = remember or memo()
        head = {
            "site": {"title": site.title, "url": site.base_url, "instance": site.instance},
            "timezone": site.timezone,
        }
        # Keys in sorted order, as json.dumps(sort_keys=True) would write them.
        self._head = '{"events":['
        self._tail = "]," + _dumps(head)[1:-1] + ',"version":1}'

    def parts(self, events: Sequence[Event]) -> list[bytes]:
        """Return the JSON document as pieces to write one after the other."""
        return [self._head.encode(), *self._entries("json", events), self._tail.encode("utf-8")]

    def _entries(self, kind: str, events: Sequence[Event]) -> Iterator[bytes]:
        """Yield the events' entries (each made once, then remembered), comma-separated."""
        make = self._event if kind == "json" else self._widget_event
        for index, event in enumerate(events):
            if index:
                yield b","
            yield self.remember(kind, event, lambda e=event: make(e))

    def widget_parts(
        self, events: Sequence[Event], tags: list[str], places: list[Place]
    ) -> list[bytes]:
        """Return ``embed.json``: what the widget shows of ``events``, and where "More events"
        leads for one tag or one place (place names in lower case, as the widget matches them).
        """
        urls = self.urls
        tag_urls = {t: urls.absolute(urls.tag(t)) for t in tags}
        place_urls: dict[str, str] = {}
        for place in places:
            place_urls.setdefault(place.name.strip().lower(), urls.absolute(urls.place(place)))
        tail = {"places": place_urls, "tags": tag_urls, "version": 1}
        entries = self._entries("widget", events)
        return [b'{"events":[', *entries, ("]," + _dumps(tail)[1:]).encode("utf-8")]

    def _widget_event(self, event: Event) -> bytes:
        data = {
            "title": event.title,
            "url": self.event_urls[event.id],
            "start": event.start.isoformat(),
            "end": event.end.isoformat() if event.end else None,
            "place": {"name": event.place.name, "online": event.place.is_online},
            "tags": list(event.tags),
            "image": _image(event.image, "thumb_url", "width", "height", "focal_point"),
        }
        return _dumps(data).encode("utf-8")

    def _event(self, event: Event) -> bytes:
        urls = self.urls
        tag_urls = {t: urls.absolute(urls.tag(t)) for t in event.tags}
        place_url = urls.absolute(urls.place(event.place)) if event.place.name else None
        data = _event(event, self.event_urls[event.id], tag_urls, place_url)
        return _dumps(data).encode("utf-8")


def _dumps(data: object) -> str:
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    # Same values, but no markup characters: the file stays inert even if a careless page
    # pastes it into HTML, and a search of the site for "<script" finds nothing (case B11).
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("=", "\\u003d")
    )


def _event(
    event: Event, url: str, tag_urls: dict[str, str], place_url: str | None
) -> dict[str, Any]:
    place = event.place
    return {
        "id": event.id,
        "title": event.title,
        "url": url,
        "source_url": event.source_url,
        "start": event.start.isoformat(),
        "end": event.end.isoformat() if event.end else None,
        "multidate": event.multidate,
        "recurrent": event.is_recurrent,
        "place": {
            "id": place.id,
            "name": place.name,
            "address": place.address,
            "latitude": place.latitude,
            "longitude": place.longitude,
            "online": place.is_online,
            "url": place_url,
        },
        "online_locations": list(event.online_locations),
        "tags": [{"name": t, "url": tag_urls[t]} for t in event.tags],
        "image": _image(event.image, *IMAGE_KEYS),
        "description": event.description,
        "updated": event.updated_at.isoformat() if event.updated_at else None,
    }


IMAGE_KEYS = ("url", "thumb_url", "alt", "width", "height", "focal_point")


def _image(image: Image | None, *keys: str) -> dict[str, Any] | None:
    """Return ``keys`` of an event's image (``focal_point`` as [x, y]), or None."""
    if image is None:
        return None
    values = {k: getattr(image, k) for k in keys if k != "focal_point"}
    if "focal_point" in keys:
        values["focal_point"] = [image.focal_x, image.focal_y]
    return values
