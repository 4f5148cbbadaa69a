"""RSS 2.0 and Atom feeds, as bytes, through feedgen.

feedgen fills ``updated``/``lastBuildDate`` with the current time and inserts entries at
the top unless told otherwise (case B07): here both dates come from the events
(``updatedAt``), entries are appended in the site's order (soonest first), and the
generator is set explicitly, so the same events always give byte-identical feeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator

from . import __version__, i18n
from .models import Event, SiteInfo

FEED_ITEMS = 50  # the next 50 events; the calendar and JSON files list them all


def feed_time(events: Sequence[Event], fallback: datetime) -> datetime:
    """Return when the feed last changed: the newest ``updatedAt`` of its events."""
    times = [e.updated_at for e in events if e.updated_at is not None]
    return max(times) if times else fallback


def build_feeds(
    events: Sequence[Event],
    site: SiteInfo,
    *,
    title: str,
    page_url: str,
    feed_url: str,
    atom_url: str,
    event_urls: dict[int, str],
    when: Callable[[Event], str],
    fallback_time: datetime,
) -> tuple[bytes, bytes]:
    """Return the RSS and Atom documents for ``events``."""
    shown = list(events[:FEED_ITEMS])
    updated = feed_time(shown, fallback_time)
    fg = FeedGenerator()
    fg.id(page_url)
    fg.title(title)
    _ = i18n.translations(site.language).gettext
    fg.subtitle(
        site.description or _("Upcoming events from %(name)s") % {"name": site.instance_name}
    )
    # feedgen takes the RSS <link> from the last link set: the self link goes first.
    fg.link(href=feed_url, rel="self")
    fg.link(href=page_url, rel="alternate")
    fg.language(site.lang)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    fg.generator("gancio-site", __version__, "https://gancio.org")
    # Atom needs an author for the feed when its entries have none (RFC 4287 4.1.1); RSS
    # takes only an author with an email, so it is unchanged.
    fg.author({"name": site.title or site.instance_name, "uri": site.base_url})
    fg.register_extension(_LINKS, _NoFeedPart, _EntryLinks, atom=True, rss=False)
    for event in shown:
        link = event_urls[event.id]
        entry = fg.add_entry(order="append")
        entry.id(link)
        entry.guid(link, permalink=True)
        entry.title(event.title)
        entry.link(href=link)
        body = _entry_html(event, when(event))
        # content() fills Atom <content type="html"> and RSS <description>, both as
        # escaped text (case B08); description() would add a second copy.
        entry.content(body, type="html")
        # "The event's date for each item": readers show the day of the event.
        entry.published(event.start)
        entry.updated(event.updated_at or event.start)
        for tag in event.tags:
            entry.category(term=tag)
        if event.image is not None:
            entry.enclosure(event.image.url, str(event.image.size or 0), "image/jpeg")
        getattr(entry, _LINKS).links = list(entry.link())
    rss = fg.rss_str(pretty=True)
    fg.link(href=atom_url, rel="self", replace=True)
    fg.link(href=page_url, rel="alternate")
    atom = fg.atom_str(pretty=True)
    return rss, atom


_LINKS = "gancio_site_links"


class _NoFeedPart(BaseExtension):
    """feedgen's extensions come in pairs; only the entries' part does something."""


class _EntryLinks(BaseEntryExtension):
    """Gives each Atom ``<link>`` of an entry the attributes feedgen 1.0 leaves out.

    Without them an entry with an image has two links that both count as its page (Atom's
    default relation), and readers open the picture; with them, the image is the entry's
    enclosure.
    """

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []

    def extend_atom(self, entry: Any) -> Any:
        for element, link in zip(entry.findall("link"), self.links, strict=False):
            for name in ("rel", "type", "hreflang", "title", "length"):
                value = link.get(name)
                if value and not (name == "length" and value == "0"):  # unknown: left out
                    element.set(name, value)
        return entry


def _entry_html(event: Event, when: str) -> str:
    """Return the entry body: date, place, image, then the (sanitised) description."""
    parts = [f"<p><strong>{escape(when)}</strong>"]
    place = event.place
    if place.is_online and event.online_locations:
        parts.append(f"<br>Online: {escape(event.online_locations[0])}")
    elif place.name:
        where = place.name + (f", {place.address}" if place.address else "")
        parts.append(f"<br>{escape(where)}")
    parts.append("</p>")
    if event.image is not None:
        size = ""
        if event.image.width and event.image.height:
            size = f' width="{event.image.width}" height="{event.image.height}"'
        parts.append(
            f'<p><img src="{escape(event.image.url)}" alt="{escape(event.image.alt)}"{size}></p>'
        )
    parts.append(event.description)
    return "".join(parts)
