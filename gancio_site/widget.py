"""The site's ``events.json``: the events as plain JSON, for the widget and for other sites.

Format (version 1), documented in the README:
``{"version": 1, "site": {...}, "timezone": "Europe/Rome", "events": [...]}``, each event
with ISO 8601 times carrying their UTC offset, absolute URLs and sanitised description HTML.
Keys are sorted and the file has no build time, so the same events give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .models import Event, SiteInfo


def build_json(
    events: Sequence[Event],
    site: SiteInfo,
    *,
    event_urls: dict[int, str],
    tag_urls: dict[str, str],
    place_urls: dict[str, str],
) -> bytes:
    """Return the JSON document for ``events``."""
    document = {
        "version": 1,
        "site": {"title": site.title, "url": site.base_url, "instance": site.instance},
        "timezone": site.timezone,
        "events": [_event(e, event_urls, tag_urls, place_urls) for e in events],
    }
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    # Same values, but no markup characters: the file stays inert even if a careless page
    # pastes it into HTML, and a search of the site for "<script" finds nothing (case B11).
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode("utf-8")


def _event(
    event: Event, event_urls: dict[int, str], tag_urls: dict[str, str], place_urls: dict[str, str]
) -> dict[str, Any]:
    place = event.place
    image = event.image
    return {
        "id": event.id,
        "title": event.title,
        "url": event_urls[event.id],
        "source_url": event.source_url,
        "start": event.start.isoformat(),
        "end": event.end.isoformat() if event.end else None,
        "multidate": event.multidate,
        "recurrent": event.is_recurrent,
        "place": {
            "name": place.name,
            "address": place.address,
            "latitude": place.latitude,
            "longitude": place.longitude,
            "online": place.is_online,
            "url": place_urls.get(place.key),
        },
        "online_locations": list(event.online_locations),
        "tags": [{"name": t, "url": tag_urls[t]} for t in event.tags],
        "image": None
        if image is None
        else {
            "url": image.url,
            "thumb_url": image.thumb_url,
            "alt": image.alt,
            "width": image.width,
            "height": image.height,
            "focal_point": [image.focal_x, image.focal_y],
        },
        "description": event.description,
        "updated": event.updated_at.isoformat() if event.updated_at else None,
    }
