"""Every output path and public URL, in one place; slugs are made safe here.

Output paths are POSIX strings relative to the output root ("event/open-mic/index.html").
Slugs from Gancio, tags and place names are untrusted: each becomes one path segment of
letters, digits, '-' and '_' (unicode letters stay readable), never empty, never a
Windows device name, never colliding with another.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote

from .models import Event, Place

_UNSAFE = re.compile(r"[^\w-]+")
_DASHES = re.compile(r"-{2,}")
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}
MAX_SLUG = 80


def slugify(text: str) -> str:
    """Return a lower-case, single-segment slug of ``text`` ('' when nothing is left)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _UNSAFE.sub("-", text.replace("_", "-"))
    text = _DASHES.sub("-", text).strip("-")
    if len(text) > MAX_SLUG:
        text = text[:MAX_SLUG].rstrip("-")
    if text in _WINDOWS_RESERVED:
        text += "-"
    return text


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]  # noqa: S324


class UrlMap:
    """Assigns each event, tag and place its folder, without collisions."""

    def __init__(self, base_url: str, events: Iterable[Event]) -> None:
        self.base_url = base_url
        self._events: dict[int, str] = {}
        self._tags: dict[str, str] = {}
        self._places: dict[str, str] = {}
        self._absolute: dict[str, str] = {}
        taken: set[str] = set()
        ordered = sorted(events, key=lambda e: e.id)
        for event in ordered:
            wanted = slugify(event.slug or "") or str(event.id)
            self._events[event.id] = _claim(taken, "event", wanted, str(event.id))
        for tag in sorted({t for e in ordered for t in e.tags}):
            wanted = slugify(tag) or "tag-" + _short_hash(tag)
            self._tags[tag] = _claim(taken, "tag", wanted, _short_hash(tag))
        places = {e.place.key: e.place for e in ordered}
        for key in sorted(places):
            place = places[key]
            fallback = str(place.id) if place.id is not None else _short_hash(key)
            wanted = slugify(place.name) or fallback
            self._places[key] = _claim(taken, "place", wanted, fallback)

    def event(self, event: Event) -> str:
        """Return the event's folder, e.g. 'event/open-mic/'."""
        return self._events[event.id]

    def tag(self, tag: str) -> str:
        return self._tags[tag]

    def place(self, place: Place) -> str:
        return self._places[place.key]

    def absolute(self, path: str) -> str:
        """Return the public URL of an output path ('' is the home page)."""
        url = self._absolute.get(path)
        if url is None:
            # Output paths are relative and never hold '..' (output.py): joining is concatenating.
            url = self._absolute[path] = self.base_url + quote(path)
        return url


def _claim(taken: set[str], kind: str, wanted: str, suffix: str) -> str:
    path = f"{kind}/{wanted}/"
    if path.casefold() in taken:
        path = f"{kind}/{wanted}-{suffix}/"
        counter = 2
        while path.casefold() in taken:
            path = f"{kind}/{wanted}-{suffix}-{counter}/"
            counter += 1
    taken.add(path.casefold())
    return path


def relative(target: str, page: str) -> str:
    """Return a link from the page at output path ``page`` to output path ``target``.

    Relative links keep working under any sub-path of ``base_url`` and from a local folder.
    """
    folder = page.rpartition("/")[0] + "/" if "/" in page else ""
    if folder and target.startswith(folder):  # same folder: "event.ics", not "../../event/x/..."
        return quote(target[len(folder) :]) or "./"
    return climb(target, page.count("/"))


@lru_cache(maxsize=65536)
def climb(target: str, depth: int) -> str:
    """Return a link to ``target`` from any page ``depth`` folders deep."""
    link = "../" * depth + target
    return quote(link) if link else "./"
