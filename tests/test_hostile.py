"""A hostile agenda: every field of every event is an attack or garbage.

The build must succeed with the bad parts neutralised (warnings name the event ids), write
nothing outside its output folder, produce feeds and calendars that parse, and pages on
which no script ever runs in a real browser.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin

import feedparser
import icalendar
import pytest
from browser import serve
from fake_gancio import FakeGancio

from gancio_site.build import BuildReport, build
from gancio_site.config import load_config

NOW = 1796301525
XSS = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'
PLACE = {"id": 1, "name": "Sala", "address": "Via 1", "latitude": None, "longitude": None}


def row(event_id: int, **fields):
    base = {
        "id": event_id,
        "title": f"Event {event_id}",
        "slug": f"event-{event_id}",
        "start_datetime": NOW + 3600 * event_id,
        "end_datetime": None,
        "tags": [],
        "media": [],
        "online_locations": [],
        "place": PLACE,
        "parentId": None,
        "updatedAt": "2026-12-01T10:00:00.000Z",
        "description": "<p>ok</p>",
        "is_visible": True,
        "recurrent": None,
    }
    return {**base, **fields}


def corpus() -> list[dict]:
    rows = [
        row(
            1,
            title=XSS,
            description=f"<p onclick=alert(3)>{XSS}<a href='javascript:alert(4)'>x</a>"
            "<a href='data:text/html,<script>alert(5)</script>'>d</a><iframe src=//evil></iframe>"
            "<svg onload=alert(6)></svg><style>body{display:none}</style></p>",
        ),
        row(2, place={"id": 2, "name": XSS, "address": XSS, "latitude": "x", "longitude": 1e999}),
        row(3, tags=[XSS, "../../etc", "a/b", "a\\b", "nul\x00", "%2e%2e%2f", "CON", "ok"]),
        row(
            4,
            online_locations=[
                "javascript:alert(7)",
                "data:text/html,x",
                XSS,
                "https://ok.example.org/live",
            ],
            place={"id": 9, "name": "online"},
        ),
        row(5, media=[{"url": "../../../etc/passwd", "name": XSS, "width": "x", "height": None}]),
        row(6, slug="../../../../tmp/escaped"),
        row(7, slug="/etc/passwd"),
        row(8, slug="..\\..\\windows"),
        row(9, slug="%2e%2e%2f%2e%2e%2f"),
        row(10, slug="event-10"),
        row(11, slug="event-10"),  # duplicate slug
        row(12, title="x" * 10_000, slug="y" * 500, tags=["t" * 5000]),
        row(13, description="<p>" + "A" * 5_000_000 + "</p>"),
        row(14, title="Serata\x0b\x1b\x00speciale\ud800\ufffe", description="<p>a\x0cb\x1fc</p>"),
        row(15, title="\u202eRTL override\u202c and \u200f marks", description="<p dir=rtl>نص</p>"),
        row(16, start_datetime=NOW + 100, end_datetime=NOW),  # ends before it starts
        row(17, start_datetime=0, end_datetime=4_102_444_800),  # 1970 to 2100, in progress
        row(18, start_datetime=4_102_444_800),  # year 2100
        row(
            19,
            title=None,
            slug=None,
            tags=None,
            media=None,
            online_locations=None,
            place=None,
            description=None,
            updatedAt=None,
            end_datetime=None,
        ),
        row(
            20,
            title=12345,
            slug=678,
            tags="notalist",
            media={"url": 1},
            place="nowhere",
            description=["x"],
            start_datetime=str(NOW + 7200),
            end_datetime="soon",
        ),
        {"id": 21, "start_datetime": NOW + 50},  # almost nothing
        row(22, start_datetime="not a time"),
        row(3, title="duplicate id"),
    ]
    rows.append({"id": "x", "title": "no id"})
    return rows


def build_rows(root: Path, rows: list[dict], **env: str) -> BuildReport:
    """Build ``rows`` into ``root``/public at NOW, from an instance in Europe/Rome."""
    with FakeGancio([], now=NOW) as fake:
        # The rows go out exactly as written, garbage included: the list without
        # descriptions, the export with them (as Gancio's two endpoints do).
        listed = [{k: v for k, v in r.items() if k != "description"} for r in rows]
        for path, body in (("/api/events", listed), ("/api/export/json", rows)):
            fake.fail(
                path,
                status=200,
                body=json.dumps(body),
                times=-1,
                content_type="application/json; charset=utf-8",
            )
        env = {
            "GANCIO_INSTANCE": fake.url,
            "GANCIO_BASE_URL": "https://example.org/sub/",
            "GANCIO_OUTPUT": str(root / "public"),
            "GANCIO_CACHE": str(root / "cache"),
            **env,
        }
        return build(load_config(None, env=env), now_ts=NOW)


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    return root, build_rows(root, corpus(), GANCIO_START="1970-01-02")


def test_builds_with_warnings_naming_the_events(hostile_site):
    _, report = hostile_site
    assert report.events == 21
    text = "\n".join(report.warnings)
    for event_id in (2, 3, 4, 13, 14, 16, 19, 20, 22):
        assert f"event {event_id}:" in text, event_id
    assert "event 3: appears twice" in text
    assert "without a valid id" in text
    assert "event 4: dropped online link 'javascript:" in text


def test_nothing_is_written_outside_the_output(hostile_site):
    root, _ = hostile_site
    assert sorted(p.name for p in root.iterdir()) == ["cache", "public"]
    for path in (root / "public").rglob("*"):
        assert path.resolve().is_relative_to((root / "public").resolve())
        assert "\x00" not in path.name and "\\" not in path.name
        assert len(path.name.encode()) <= 255
        assert windows_can_hold(path.name), path


def test_feeds_calendars_and_json_parse(hostile_site):
    site = hostile_site[0] / "public"
    for feed in list(site.rglob("rss.xml")) + list(site.rglob("atom.xml")):
        ET.parse(feed)
        assert not feedparser.parse(feed.read_bytes()).bozo, feed
    for calendar in site.rglob("*.ics"):
        icalendar.Calendar.from_ical(calendar.read_bytes())
    for data in site.rglob("events.json"):
        json.loads(data.read_text("utf-8"))
    ET.parse(site / "sitemap.xml")


def test_no_markup_from_the_data_survives_in_pages(hostile_site):
    site = hostile_site[0] / "public"
    # Feeds hold titles as escaped XML text: "onerror=" may appear there as characters, so
    # they are searched for live markup only.
    needles = {
        ".html": (
            "<script>alert",
            "javascript:alert",
            "<iframe",
            "<svg",
            "data:text/html",
        ),
        ".json": ("<script", "onerror=", "javascript:alert", "<iframe"),
        ".xml": ("<script>alert", "<img src=x", "<iframe", "<svg"),
    }
    for file in site.rglob("*"):
        if file.parent.name == "embed":  # the snippet builder shows <iframe> code on purpose
            continue
        for needle in needles.get(file.suffix, ()):
            assert needle not in file.read_text("utf-8"), (file, needle)


class Elements(HTMLParser):
    """Collects what a browser would treat as live: elements, their attributes, scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.handlers: list[str] = []
        self.scripts: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}={value}>")
            if name in ("href", "src", "action", "formaction") and value:
                self.urls.append(value)
        if tag == "script":
            self.scripts.append(dict(attrs).get("type") or "text/javascript")


def test_pages_have_no_event_handlers_scripts_or_script_urls(hostile_site):
    # Escaped text may still read "onerror=" (a tag named so, in a sentence): what must
    # never exist is a live handler, a script or a script URL.
    site = hostile_site[0] / "public"
    for file in site.rglob("*.html"):
        if file.parent.name == "embed":  # the widget's own pages carry its script
            continue
        parser = Elements()
        parser.feed(file.read_text("utf-8"))
        assert parser.handlers == [], file
        assert set(parser.scripts) <= {"application/ld+json"}, file
        for url in parser.urls:
            assert not url.lower().lstrip().startswith(("javascript:", "data:", "vbscript:")), url


@pytest.mark.browser
def test_no_script_runs_in_a_real_browser(hostile_site, page):
    root = hostile_site[0]
    pages = sorted(
        p.relative_to(root).as_posix()
        for p in (root / "public").rglob("index.html")
        if p.parent.name != "embed"  # the widget's frame runs the widget's own script
    )
    with serve(root) as url:
        for path in pages:
            page.goto(f"{url}/{path}")
            live = "document.querySelectorAll('main script, main iframe, main svg [onload], img[onerror]')"
            assert page.evaluate(f"{live}.length") == 0, path
        dialogs = page.dialogs
    assert dialogs == []
    assert len(pages) > 20


# --- names Windows cannot hold, duplicate slugs, far dates ---------------------------------

# Device names Windows refuses as a file or folder name, in any case and with any extension.
WINDOWS_DEVICES = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"{port}{n}" for port in ("com", "lpt") for n in (*"0123456789", "¹", "²", "³")),
}


def windows_can_hold(name: str) -> bool:
    """True when ``name`` is no device name (``NUL``, ``aux.txt``) nor ends in a dot or space."""
    device = name.split(".")[0].rstrip(" ").casefold()
    return device not in WINDOWS_DEVICES and not name.endswith((".", " ")) and "\x00" not in name


RESERVED = ["CON", "nul", "aux.txt", "COM1", "LPT9", "name. ", "Prn ", "com¹", "LPT3.log."]
TWO_THOUSAND_ONE_HUNDRED = 4_102_444_800  # 2100-01-01T00:00:00Z
AM = "\u202fAM"  # English times put a narrow no-break space before AM


def named_rows() -> list[dict]:
    rows = [
        row(1, title="Slug with NUL", slug="a\x00b", tags=RESERVED),
        row(2, title="Second with that slug", slug="a\x00b"),
        row(3, title="Open mic", slug="open-mic"),
        row(4, title="Open mic again", slug="open-mic"),
        row(5, title="From 1970 to 2100", start_datetime=0, end_datetime=TWO_THOUSAND_ONE_HUNDRED),
        row(6, title="Over in 1971", start_datetime=0, end_datetime=365 * 86400),
        row(7, title="In the year 2100", start_datetime=TWO_THOUSAND_ONE_HUNDRED),
        row(8, title="At a place named PRN", place={"id": 2, "name": "PRN", "address": "Via 2"}),
    ]
    rows += [row(10 + i, title=f"Slug {name!r}", slug=name) for i, name in enumerate(RESERVED)]
    return rows


@pytest.fixture(scope="module")
def named_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("named")
    return root, build_rows(root, named_rows())


class Page(HTMLParser):
    """The links of a page and the text of its first <h1>."""

    def __init__(self, file: Path) -> None:
        super().__init__()
        self.links: list[str] = []
        self.h1: str | None = None
        self._in_h1 = False
        self.feed(file.read_text("utf-8"))

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)
        self._in_h1 = tag == "h1" and self.h1 is None
        if self._in_h1:
            self.h1 = ""

    def handle_endtag(self, tag):
        self._in_h1 = self._in_h1 and tag != "h1"

    def handle_data(self, data):
        if self._in_h1:
            self.h1 += data


def event_pages(site: Path) -> dict[str, list[str]]:
    """Title -> the folders ("event/x/") of the event pages showing it."""
    pages: dict[str, list[str]] = {}
    for file in sorted(site.glob("event/*/index.html")):
        title = Page(file).h1
        pages.setdefault(title, []).append(file.parent.relative_to(site).as_posix() + "/")
    return pages


def home_links(site: Path) -> set[str]:
    """The output folders the home page links to ("event/x/")."""
    base = "https://example.org/sub/"
    links = {unquote(urljoin(base, href)) for href in Page(site / "index.html").links}
    return {link.removeprefix(base) for link in links if link.startswith(base)}


def day_section(site: Path, day: str) -> str:
    """The markup of the home page's section of ``day`` (YYYY-MM-DD), '' if it has none."""
    home = (site / "index.html").read_text("utf-8")
    section = home.partition(f'<section class="day" aria-labelledby="day-{day}">')[2]
    return section.partition("</section>")[0]


def test_names_windows_cannot_hold_are_never_written(named_site):
    root, report = named_site
    site = (root / "public").resolve()
    assert report.events == 7 + len(RESERVED)  # all but the one over in 1971
    assert sorted(p.name for p in root.iterdir()) == ["cache", "public"]
    written = list(site.rglob("*"))
    assert len(written) > 100
    for path in written:
        assert not path.is_symlink() and path.resolve().is_relative_to(site), path
        assert all(windows_can_hold(segment) for segment in path.relative_to(site).parts), path
    # Every tag got its page, each in its own folder.
    assert len(list(site.glob("tag/*/index.html"))) == len(RESERVED)


def test_events_with_such_slugs_have_their_pages_linked_from_home(named_site):
    site = named_site[0] / "public"
    pages, linked = event_pages(site), home_links(site)
    titles = ["Slug with NUL", "At a place named PRN"]
    titles += [f"Slug {name!r}" for name in RESERVED]
    for title in titles:
        assert len(pages.get(title, [])) == 1, (title, pages)
        assert pages[title][0] in linked, title
    folders = [folder for title in titles for folder in pages[title]]
    assert len(set(folders)) == len(folders)


def test_events_sharing_a_slug_each_get_their_own_page(named_site):
    site = named_site[0] / "public"
    pages, linked = event_pages(site), home_links(site)
    for first, second in (
        ("Slug with NUL", "Second with that slug"),
        ("Open mic", "Open mic again"),
    ):
        assert len(pages[first]) == len(pages[second]) == 1, pages
        assert pages[first] != pages[second]
        assert {pages[first][0], pages[second][0]} <= linked
    assert pages["Open mic"] == ["event/open-mic/"]  # the first (lowest id) keeps the slug


def test_an_event_from_1970_to_2100_is_listed_as_in_progress(named_site):
    site = named_site[0] / "public"
    pages, linked = event_pages(site), home_links(site)
    assert "Over in 1971" not in pages
    folder = pages["From 1970 to 2100"][0]
    assert folder in linked
    today = day_section(site, "2026-12-03")  # NOW's day in Rome
    assert '<span class="day-label">Today</span>' in today
    assert f'<a class="u-url" href="{folder}">From 1970 to 2100</a>' in today
    span = f"Thursday, January 1, 1970, 1:00{AM} – Friday, January 1, 2100, 1:00{AM}</p>"
    assert span in today


def test_an_event_in_2100_shows_the_year_2100(named_site):
    site = named_site[0] / "public"
    pages = event_pages(site)
    folder = pages["In the year 2100"][0]
    assert folder in home_links(site)
    page = (site / folder / "index.html").read_text("utf-8")
    assert (
        '<time class="dt-start" datetime="2100-01-01T01:00:00+01:00">'
        f"Friday, January 1, 2100, 1:00{AM}</time>"
    ) in page
    day = day_section(site, "2100-01-01")
    assert '<time datetime="2100-01-01">Friday, January 1, 2100</time>' in day
    assert f'<a class="u-url" href="{folder}">In the year 2100</a>' in day


# --- 50,000 events -----------------------------------------------------------------------

MANY = 50_000


def many_rows(count: int) -> list[dict]:
    """``count`` upcoming events, cheap to make: 30 tags, 50 places, every 20th multi-day."""
    rows = []
    for i in range(1, count + 1):
        start = NOW + 3600 + 600 * i
        rows.append(
            row(
                i,
                title=f"Serata {i} <b>&amp;</b>",
                start_datetime=start,
                end_datetime=start + (3 * 86400 if i % 20 == 0 else 7200),
                multidate=i % 20 == 0,
                tags=[f"tag {i % 30}"] if i % 4 else [],
                place={**PLACE, "id": i % 50 + 1, "name": f"Sala {i % 50 + 1}"},
                description=f"<p>Evento <strong>{i}</strong><script>alert({i})</script></p>",
            )
        )
    return rows


def test_fifty_thousand_events_build_whole(tmp_path):
    with FakeGancio(many_rows(MANY), now=NOW) as fake:
        env = {
            "GANCIO_INSTANCE": fake.url,
            "GANCIO_BASE_URL": "https://example.org/",
            "GANCIO_OUTPUT": str(tmp_path / "public"),
            "GANCIO_CACHE": str(tmp_path / "cache"),
        }
        report = build(load_config(None, env=env), now_ts=NOW)
        asked = [r.path for r in fake.requests]
    assert (report.events, report.warnings) == (MANY, [])
    assert asked == ["/.well-known/nodeinfo/2.0", "/api/events", "/api/export/json"]
    site = tmp_path / "public"

    data = json.loads((site / "events.json").read_text("utf-8"))
    assert len({e["id"] for e in data["events"]}) == MANY
    assert "<script" not in data["events"][0]["description"]
    lists = list(site.rglob("events.json"))
    assert len(lists) == 1 + 30 + 50  # the site, every tag, every place
    for path in lists:
        assert json.loads(path.read_text("utf-8"))["events"], path
    feeds = list(site.rglob("rss.xml")) + list(site.rglob("atom.xml"))
    assert len(feeds) == 2 * len(lists)
    for feed in feeds:
        parsed = feedparser.parse(feed.read_bytes())
        assert not parsed.bozo and len(parsed.entries) == 50, feed
    # icalendar takes 20 s over all 50,000: the whole calendar is counted, a place's parsed.
    assert (site / "events.ics").read_bytes().count(b"BEGIN:VEVENT\r\n") == MANY
    calendar = icalendar.Calendar.from_ical((site / "place/sala-1/events.ics").read_bytes())
    assert len(calendar.walk("VEVENT")) == MANY // 50
    assert len(list(site.glob("event/*/index.html"))) == MANY
    assert len(list(site.glob("event/*/event.ics"))) == MANY

    # Nothing beside the output and the cache; inside the output, no link that could lead
    # out (the folders list real entries only, so with no link every path is inside).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "public"]
    links = [e.path for e in entries(site) if e.is_symlink()]
    assert links == []
    files = sum(1 for e in entries(site) if e.is_file())
    assert files == report.files_written + 1  # and the manifest, .gancio-site


def entries(folder: Path) -> Iterator[os.DirEntry]:
    """Every entry under ``folder``, links not followed."""
    for entry in os.scandir(folder):
        yield entry
        if entry.is_dir(follow_symlinks=False):
            yield from entries(Path(entry.path))
