"""The site's files: which page, feed and calendar goes where, rendered to bytes.

Pure: events and site facts in, ``(output path, bytes, source)`` out; nothing is written
here. The output contract (paths users link to and deploy):

    index.html, 404.html, sitemap.xml, robots.txt, static/...
    rss.xml, atom.xml, events.ics, events.json           (all upcoming events)
    event/<slug>/index.html, event/<slug>/event.ics
    tag/index.html, tag/<tag>/index.html + the four feeds
    place/index.html, place/<place>/index.html + the four feeds
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from xml.sax.saxutils import escape

from .feeds import build_feeds
from .ical import build_calendar
from .models import Event, SiteInfo
from .organise import by_place, by_tag, group_by_day
from .render import Renderer
from .urls import UrlMap
from .widget import build_json

Output = tuple[str, bytes, str]
EMBED_FILES = ("embed.js", "embed/index.html", "embed/builder.html")


@dataclass
class Collection:
    """A list page with its own feeds: the home page, one tag, or one place."""

    folder: str  # "" for the home page, "tag/jazz/" ...
    title: str
    events: Sequence[Event]
    template: str
    context: dict[str, object]


class SiteBuilder:
    """Renders every output of the site."""

    def __init__(
        self,
        events: Sequence[Event],
        site: SiteInfo,
        urls: UrlMap,
        renderer: Renderer,
        now: datetime,
        fallback_time: datetime,
    ) -> None:
        self.events = events
        self.site = site
        self.urls = urls
        self.renderer = renderer
        self.now = now
        self.today: date = now.date()
        self.fallback_time = fallback_time
        self.event_urls = {e.id: urls.absolute(urls.event(e)) for e in events}
        self.when = {e.id: renderer.fmt.when(e) for e in events}
        self.tags = by_tag(events)
        self.places = by_place(events)
        self.counts = {"pages": 0, "feeds": 0, "calendars": 0}

    def outputs(self) -> Iterator[Output]:
        """Yield every file of the site."""
        for collection in self.collections():
            yield from self.collection(collection)
        for event in self.events:
            yield from self.event(event)
        yield self.page("tag/index.html", "tags.html", feeds=_feeds(""), tags=self._tag_counts())
        yield self.page(
            "place/index.html", "places.html", feeds=_feeds(""), places=self._place_counts()
        )
        yield self.page("404.html", "404.html", feeds=_feeds(""))
        yield from self.embed()
        yield "sitemap.xml", self.sitemap(), "sitemap"
        yield "robots.txt", self.robots(), "robots.txt"

    def collections(self) -> Iterator[Collection]:
        yield Collection(
            "",
            self.site.title,
            self.events,
            "index.html",
            {"tags": self._tag_counts(), "places": self._place_counts()},
        )
        for tag, events in self.tags.items():
            yield Collection(
                self.urls.tag(tag), f"{self.site.title}: {tag}", events, "tag.html", {"tag": tag}
            )
        for place, events in self.places.values():
            folder = self.urls.place(place)
            yield Collection(
                folder, f"{self.site.title}: {place.name}", events, "place.html", {"place": place}
            )

    def collection(self, c: Collection) -> Iterator[Output]:
        feeds = _feeds(c.folder)
        days = group_by_day(c.events, self.today)
        yield self.page(
            c.folder + "index.html",
            c.template,
            feeds=feeds,
            days=days,
            events=c.events,
            **c.context,
        )
        page_url = self.urls.absolute(c.folder)
        rss, atom = build_feeds(
            c.events,
            self.site,
            title=c.title,
            page_url=page_url,
            feed_url=self.urls.absolute(feeds["rss"]),
            atom_url=self.urls.absolute(feeds["atom"]),
            event_urls=self.event_urls,
            when=self.when,
            fallback_time=self.fallback_time,
        )
        self.counts["feeds"] += 2
        yield feeds["rss"], rss, f"RSS feed of {page_url}"
        yield feeds["atom"], atom, f"Atom feed of {page_url}"
        yield feeds["ics"], self.calendar(c.events, c.title), f"calendar of {page_url}"
        yield (
            feeds["json"],
            build_json(
                c.events,
                self.site,
                event_urls=self.event_urls,
                tag_urls={
                    t: self.urls.absolute(self.urls.tag(t)) for e in c.events for t in e.tags
                },
                place_urls={
                    e.place.key: self.urls.absolute(self.urls.place(e.place))
                    for e in c.events
                    if e.place.name
                },
            ),
            f"JSON of {page_url}",
        )

    def event(self, event: Event) -> Iterator[Output]:
        folder = self.urls.event(event)
        ics = folder + "event.ics"
        yield self.page(folder + "index.html", "event.html", feeds=_feeds(""), event=event, ics=ics)
        yield ics, self.calendar([event], event.title), f"calendar of event {event.id}"

    def embed(self) -> Iterator[Output]:
        """Yield the widget files the theme has: script, iframe page, snippet builder."""
        for name in EMBED_FILES:
            if self.renderer.has_template(name):
                yield self.page(
                    name,
                    name,
                    feeds=_feeds(""),
                    tags=self._tag_counts(),
                    places=self._place_counts(),
                )

    def page(self, path: str, template: str, **context: object) -> Output:
        self.counts["pages"] += 1
        feeds = context.pop("feeds")
        html = self.renderer.render(template, path, feeds, now=self.now, **context)  # type: ignore[arg-type]
        return path, html, f"template {template}"

    def calendar(self, events: Sequence[Event], name: str) -> bytes:
        self.counts["calendars"] += 1
        return build_calendar(
            events,
            self.site,
            name=name,
            event_urls=self.event_urls,
            fallback_time=self.fallback_time,
        )

    def sitemap(self) -> bytes:
        entries = [(self.urls.absolute(""), None)]
        entries += [(self.event_urls[e.id], e.updated_at) for e in self.events]
        entries += [(self.urls.absolute(self.urls.tag(t)), None) for t in self.tags]
        entries += [(self.urls.absolute(self.urls.place(p)), None) for p, _ in self.places.values()]
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
        ]
        for loc, modified in entries:
            lastmod = f"<lastmod>{modified.date().isoformat()}</lastmod>" if modified else ""
            lines.append(f"<url><loc>{escape(loc)}</loc>{lastmod}</url>")
        lines.append("</urlset>\n")
        return "\n".join(lines).encode("utf-8")

    def robots(self) -> bytes:
        return f"User-agent: *\nAllow: /\nSitemap: {self.urls.absolute('sitemap.xml')}\n".encode()

    def _tag_counts(self) -> list[tuple[str, int]]:
        return [(tag, len(events)) for tag, events in self.tags.items()]

    def _place_counts(self) -> list[tuple[object, int]]:
        return [(place, len(events)) for place, events in self.places.values()]


def _feeds(folder: str) -> dict[str, str]:
    return {
        "rss": folder + "rss.xml",
        "atom": folder + "atom.xml",
        "ics": folder + "events.ics",
        "json": folder + "events.json",
    }
