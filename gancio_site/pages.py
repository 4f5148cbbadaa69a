"""The site's files: which page, feed and calendar goes where, rendered to bytes.

Pure: events and site facts in, jobs out; nothing is written here. Each ``Job`` names its
output path and a key that changes whenever anything the file is made from changes (the
site-wide key covers gancio-site's version, configuration, templates and today's date;
the rest is the events the file shows, with their links). The writer reuses the previous
file when the key is unchanged, so a rebuild after one event changed renders only the
pages that show it. The output contract (paths users link to and deploy):

    index.html, 404.html, sitemap.xml, robots.txt, static/...
    rss.xml, atom.xml, events.ics, events.json           (all upcoming events)
    event/<slug>/index.html, event/<slug>/event.ics
    tag/index.html, tag/<tag>/index.html + the four feeds
    place/index.html, place/<place>/index.html + the four feeds
    embed.js, embed/index.html, embed/builder.html       (when the theme has them)
    embed.json                                           (the widget's data, with embed.js)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple
from xml.sax.saxutils import escape

from .feeds import FEED_ITEMS, build_feeds
from .fragments import Fragments
from .ical import CalendarWriter
from .models import Event, SiteInfo
from .organise import by_place, by_tag, group_by_day
from .output import Content
from .parsed import event_digest
from .render import Renderer
from .urls import UrlMap
from .widget import JsonWriter

EMBED_FILES = ("embed.js", "embed/index.html", "embed/builder.html")


class Job(NamedTuple):  # a tuple: a site has tens of thousands, made on every build
    """One output file: where it goes, what it is, the key of its inputs, how to make it."""

    path: str
    source: str
    key: str
    make: Callable[[], Content]  # bytes, or pieces written one after the other
    kind: str  # "page", "feed", "calendar" or "data"


@dataclass
class Collection:
    """A list page with its own feeds: the home page, one tag, or one place."""

    folder: str  # "" for the home page, "tag/jazz/" ...
    title: str
    events: Sequence[Event]
    template: str
    context: dict[str, object]


def _digest(*parts: str) -> str:
    return hashlib.blake2b(
        "\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=16
    ).hexdigest()


class SiteBuilder:
    """Plans and renders every output of the site."""

    def __init__(
        self,
        events: Sequence[Event],
        site: SiteInfo,
        urls: UrlMap,
        renderer: Renderer,
        now: datetime,
        fallback_time: datetime,
        site_key: str,
        page_size: int = 0,
        fragments: Fragments | None = None,
        digest: Callable[[Event], str] = event_digest,
        clock: datetime | None = None,
    ) -> None:
        self.events = events
        self.page_size = page_size
        self.fragments = fragments or Fragments()
        self.site = site
        self.urls = urls
        self.renderer = renderer
        self.now = now
        self.today: date = now.date()
        self.fallback_time = fallback_time
        # What every file depends on. Feeds, calendars and data files use no template; a
        # page adds the templates it uses (``_key``), so an edit renders only its pages.
        self.site_key = _digest(
            site_key, repr(site), self.today.isoformat(), fallback_time.isoformat()
        )
        self.event_urls = {e.id: urls.absolute(urls.event(e)) for e in events}
        self.tags = by_tag(events)
        self.places = by_place(events)
        self.calendars = CalendarWriter(site, self.event_urls, fallback_time, self.remember)
        self.json = JsonWriter(site, urls, self.event_urls, self.remember)
        self._keys: dict[int, str] = {}
        self._digest = digest  # of all an event holds; known from parsing (parsed.Memo)
        # The widget's "now" when it is not the visitor's clock: the demo's capture time,
        # so that the widget shows what the demo's pages show.
        self.clock = clock

    def event_key(self, event: Event) -> str:
        """Return a key of everything about ``event`` a file may show, its links included."""
        key = self._keys.get(event.id)
        if key is None:
            links = [self.urls.event(event)] + [self.urls.tag(t) for t in event.tags]
            if event.place.name:
                links.append(self.urls.place(event.place))
            key = self._keys[event.id] = _digest(self._digest(event), *links)
        return key

    def fragment_key(self, kind: str, event: Event) -> str:
        """Return the key of an event's calendar or JSON entry: all it is made from.

        The site's part is the fragment file's salt; the event's is its key, marked with
        the kind (a letter for a hexadecimal digit).
        """
        if event.updated_at is None:  # dated by the build: the date is an input too
            return _digest(kind, self.event_key(event), self.fallback_time.isoformat())
        return kind[0] + self.event_key(event)[1:]

    def remember(self, kind: str, event: Event, make: Callable[[], bytes]) -> bytes:
        return self.fragments.get(self.fragment_key(kind, event), make)

    def save_fragments(self) -> None:
        """Keep the entries of the events shown for the next build."""
        self.fragments.save(
            self.fragment_key(kind, e) for e in self.events for kind in ("ics", "json", "widget")
        )

    def jobs(self) -> Iterator[Job]:
        """Yield every file of the site, in a fixed order."""
        for collection in self.collections():
            yield from self.collection(collection)
        for event in self.events:
            yield from self.event(event)
        counts = _digest(repr(self._tag_counts()), repr(self._place_counts()))
        yield self.page("tag/index.html", "tags.html", counts, tags=self._tag_counts())
        yield self.page("place/index.html", "places.html", counts, places=self._place_counts())
        yield self.page("404.html", "404.html", "")
        for name in EMBED_FILES:
            if self.renderer.has_template(name):
                job = self.page(
                    name,
                    name,
                    _digest(counts, repr(self.clock)),
                    tags=self._tag_counts(),
                    places=self._place_counts(),
                    widget_now=self.clock,
                )
                yield job if name.endswith(".html") else job._replace(kind="script")
        everything = _digest(*(self.event_key(e) for e in self.events))
        if self.renderer.has_template("embed.js"):  # what the widget reads: no descriptions
            yield Job(
                "embed.json", "widget data", self._data("embed", everything), self.widget, "data"
            )
        yield Job("sitemap.xml", "sitemap", self._data("sitemap", everything), self.sitemap, "data")
        yield Job("robots.txt", "robots.txt", self._data("robots"), self.robots, "data")

    def collections(self) -> Iterator[Collection]:
        context = {"tags": self._tag_counts(), "places": self._place_counts()}
        yield Collection("", self.site.title, self.events, "index.html", context)
        for tag, events in self.tags.items():
            title = f"{self.site.title}: {tag}"
            yield Collection(self.urls.tag(tag), title, events, "tag.html", {"tag": tag})
        for place, events in self.places.values():
            title = f"{self.site.title}: {place.name}"
            folder = self.urls.place(place)
            yield Collection(folder, title, events, "place.html", {"place": place})

    def collection(self, c: Collection) -> Iterator[Job]:
        feeds = _feeds(c.folder)
        keys = [self.event_key(e) for e in c.events]
        context = _digest(c.title, repr(c.context))  # the home page's: every tag and place
        inputs = _digest(context, *keys)
        page_url = self.urls.absolute(c.folder)
        size = self.page_size or len(c.events) or 1
        chunks = [range(i, min(i + size, len(c.events))) for i in range(0, len(c.events), size)]
        for number, chunk in enumerate(chunks or [range(0)], 1):
            pager = Pager(c.folder, number, len(chunks) or 1)
            yield self.list_page(
                c, feeds, pager, chunk, _digest(context, *keys[chunk.start : chunk.stop])
            )

        # RSS and Atom come out of one feedgen run: the other one waits here until asked
        # for, then is let go (hundreds of tag feeds would otherwise stay in memory).
        pending: dict[int, bytes] = {}

        def feed(index: int) -> Callable[[], bytes]:
            def make() -> bytes:
                if index not in pending:
                    rss, atom = self.feeds(c, feeds, page_url)
                    pending.update({0: rss, 1: atom})
                return pending.pop(index)

            return make

        files: list[tuple[str, str, Callable[[], bytes], str]] = [
            (feeds["rss"], f"RSS feed of {page_url}", feed(0), "feed"),
            (feeds["atom"], f"Atom feed of {page_url}", feed(1), "feed"),
            (
                feeds["ics"],
                f"calendar of {page_url}",
                lambda: self.calendars.parts(c.events, c.title),
                "calendar",
            ),
            (feeds["json"], f"JSON of {page_url}", lambda: self.json.parts(c.events), "data"),
        ]
        # The feeds show the first FEED_ITEMS events only: a change further down is not theirs.
        shown = _digest(context, *keys[:FEED_ITEMS])
        for path, source, make, kind in files:
            yield Job(
                path, source, self._data(path, shown if kind == "feed" else inputs), make, kind
            )

    def list_page(
        self,
        c: Collection,
        feeds: dict[str, str],
        pager: Pager,
        chunk: range,
        events_key: str,
    ) -> Job:
        """Return page ``pager.number`` of a list: the events of ``chunk``, by day."""
        path = pager.path(pager.number) + "index.html"
        shown = c.events[chunk.start : chunk.stop]
        inputs = _digest(events_key, repr(pager))

        def make() -> bytes:
            days = group_by_day(shown, self.today)
            return self.render(
                path, c.template, feeds, days=days, events=shown, pager=pager, **c.context
            )

        return Job(
            path, f"template {c.template}", self._key(c.template, path, inputs), make, "page"
        )

    def event(self, event: Event) -> Iterator[Job]:
        folder = self.urls.event(event)
        ics = folder + "event.ics"
        key = self.event_key(event)
        others: list[Event] = []  # the other occurrences of its series on this site
        if event.parent_id is not None:
            if not hasattr(self, "_series"):  # parent id -> occurrences, made once
                self._series: dict[int, list[Event]] = {}
                for e in self.events:
                    if e.parent_id is not None:
                        self._series.setdefault(e.parent_id, []).append(e)
            others = [e for e in self._series[event.parent_id] if e.id != event.id]
        dates = [f"{self.urls.event(e)} {e.start.isoformat()} {e.end}" for e in others]
        page_key = _digest(key, *dates) if dates else key
        yield self.page(
            folder + "index.html", "event.html", page_key, event=event, ics=ics, other_dates=others
        )
        yield Job(
            ics,
            f"calendar of event {event.id}",
            self._data(ics, key),
            lambda: self.calendars.calendar([event], event.title),
            "calendar",
        )

    def page(self, path: str, template: str, inputs: str, **context: object) -> Job:
        def make() -> bytes:
            return self.render(path, template, _feeds(""), **context)

        return Job(path, f"template {template}", self._key(template, path, inputs), make, "page")

    def render(self, path: str, template: str, feeds: dict[str, str], **context: object) -> bytes:
        return self.renderer.render(template, path, feeds, now=self.now, **context)  # type: ignore[arg-type]

    def feeds(self, c: Collection, feeds: dict[str, str], page_url: str) -> tuple[bytes, bytes]:
        return build_feeds(
            c.events,
            self.site,
            title=c.title,
            page_url=page_url,
            feed_url=self.urls.absolute(feeds["rss"]),
            atom_url=self.urls.absolute(feeds["atom"]),
            event_urls=self.event_urls,
            when=self.renderer.fmt.when,
            fallback_time=self.fallback_time,
        )

    def widget(self) -> list[bytes]:
        places = [place for place, _ in self.places.values()]
        return self.json.widget_parts(self.events, list(self.tags), places)

    def sitemap(self) -> bytes:
        entries = [(self.urls.absolute(""), None)]
        entries += [(self.event_urls[e.id], e.updated_at) for e in self.events]
        # A tag or place page changes when one of its events does: its newest updatedAt.
        pages = [(self.urls.tag(t), events) for t, events in self.tags.items()]
        pages += [(self.urls.place(p), events) for p, events in self.places.values()]
        entries += [(self.urls.absolute(path), _newest(events)) for path, events in pages]
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

    def _key(self, template: str, *parts: str) -> str:
        """Return the key of a page: the site, the templates it may use, its inputs."""
        return _digest(self.site_key, self.renderer.template_key(template), *parts)

    def _data(self, *parts: str) -> str:
        return _digest(self.site_key, *parts)

    def _tag_counts(self) -> list[tuple[str, int]]:
        return [(tag, len(events)) for tag, events in self.tags.items()]

    def _place_counts(self) -> list[tuple[object, int]]:
        return [(place, len(events)) for place, events in self.places.values()]


@dataclass(frozen=True)
class Pager:
    """Where a list page sits among its pages: page 1 is the folder, page n ``page/n/``."""

    folder: str
    number: int
    count: int

    def path(self, number: int) -> str:
        return self.folder if number == 1 else f"{self.folder}page/{number}/"

    @property
    def previous(self) -> str | None:
        return self.path(self.number - 1) if self.number > 1 else None

    @property
    def next(self) -> str | None:
        return self.path(self.number + 1) if self.number < self.count else None


def _newest(events: Sequence[Event]) -> datetime | None:
    """Return the latest ``updated_at`` of ``events``, or None when none has one."""
    return max((e.updated_at for e in events if e.updated_at is not None), default=None)


def _feeds(folder: str) -> dict[str, str]:
    return {
        "rss": folder + "rss.xml",
        "atom": folder + "atom.xml",
        "ics": folder + "events.ics",
        "json": folder + "events.json",
    }
