"""The demo site, built offline from real Gancio data: every output file, checked."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import feedparser
import icalendar
import pytest
from click.testing import CliRunner
from sitekit import build_demo

from gancio_site.cli import main

BASE = "https://example.org/agenda/"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    result = build_demo(folder, folder / "public", "--base-url", BASE, "--show-recurrent")
    assert re.fullmatch(
        r"Built \d+ pages, \d+ feeds, \d+ calendars from 39 events in [\d.]+ s "
        r"into .*public\n",
        result.stdout,
    ), result.stdout
    return folder / "public"


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def html_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_output_contract(site):
    for name in [
        "index.html",
        "404.html",
        "rss.xml",
        "atom.xml",
        "events.ics",
        "events.json",
        "sitemap.xml",
        "robots.txt",
        "embed.js",
        "embed.json",
        "static/style.css",
        "tag/index.html",
        "place/index.html",
        "event/concerto-jazz-al-tramonto/index.html",
        "event/concerto-jazz-al-tramonto/event.ics",
        "event/7/index.html",
        "tag/musica/index.html",
        "tag/musica/rss.xml",
        "tag/musica/atom.xml",
        "tag/musica/events.ics",
        "tag/musica/events.json",
        "tag/شعر/index.html",
        "place/biblioteca-civica/index.html",
        "place/biblioteca-civica/rss.xml",
    ]:
        assert (site / name).is_file(), name


def check_links(site: Path) -> int:
    """Check that every link of every page (but the 404's) resolves; return how many."""
    checked = 0
    for page in html_pages(site):
        if page.name == "404.html":
            continue
        parser = Links()
        parser.feed(page.read_text("utf-8"))
        page_url = BASE + page.relative_to(site).as_posix()
        for link in parser.links:
            target = urljoin(page_url, link)
            if not target.startswith(BASE):
                assert urlsplit(target).scheme in ("http", "https", "mailto"), (page, link)
                continue
            path = site / unquote(urlsplit(target).path[len("/agenda/") :])
            assert path.is_file() or (path / "index.html").is_file(), (page, link)
            checked += 1
    return checked


def test_every_relative_link_resolves_inside_the_site(site):
    assert check_links(site) > 1000


def test_404_links_are_rooted_at_the_base_path(site):
    parser = Links()
    parser.feed((site / "404.html").read_text("utf-8"))
    internal = [link for link in parser.links if not link.startswith(("http", "#"))]
    assert internal and all(link.startswith("/agenda/") for link in internal)


def test_b11_hostile_title_is_text_everywhere(site):
    slug = "evento-con-lessbgreaterhtmllessbgreater-nel-titolo-lessscriptgreateralert1lesssc"
    page = (site / "event" / slug / "index.html").read_text("utf-8")
    assert "<h1" in page
    assert (
        "Evento con &lt;b&gt;HTML&lt;/b&gt; nel titolo &lt;script&gt;alert(1)&lt;/script&gt;"
        in page
    )
    # iCalendar is plain text, not markup: there the title stays exactly what was posted
    # (case B05 wants the original strings back), so only markup and JSON are searched.
    for file in site.rglob("*"):
        if file.suffix in (".html", ".xml", ".json"):
            text = file.read_text("utf-8")
            assert "<script>alert" not in text, file
            assert "onerror=" not in text and "onclick=" not in text, file


def test_rss_parses_field_by_field(site):
    feed = feedparser.parse((site / "rss.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.link == BASE
    assert len(feed.entries) == 39
    first = feed.entries[0]
    assert first.title == "Mostra fotografica «Sguardi»"
    assert first.link == BASE + "event/mostra-fotografica-sguardi/"
    assert first.id == first.link
    hostile = next(e for e in feed.entries if "lessbgreater" in e.link)
    assert hostile.title == "Evento con <b>HTML</b> nel titolo <script>alert(1)</script>"
    for entry in feed.entries:
        for link in re.findall(r'(?:href|src)="([^"]+)"', entry.summary):
            assert link.startswith(("http://", "https://", "mailto:")), link


def test_atom_has_ids_and_updated(site):
    root = ET.parse(site / "atom.xml").getroot()
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.find("a:id", ns).text == BASE
    assert root.find("a:updated", ns).text.startswith("2026-12-03T")
    entries = root.findall("a:entry", ns)
    assert len(entries) == 39
    for entry in entries:
        assert entry.find("a:id", ns).text.startswith(BASE + "event/")
        assert entry.find("a:updated", ns) is not None
        assert entry.find("a:content", ns).get("type") == "html"


def test_atom_entries_link_to_their_page_and_carry_their_image_as_an_enclosure(site):
    """RFC 4287: one alternate link per entry, and an author for a feed whose entries have
    none. An entry with an image has a second link, marked as its enclosure: readers
    open the event's page, not the picture."""
    root = ET.parse(site / "atom.xml").getroot()
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.find("a:author/a:name", ns).text == "Gancio"  # the demo site's title
    assert root.find("a:author/a:uri", ns).text == BASE
    with_image = 0
    for entry in root.findall("a:entry", ns):
        links = entry.findall("a:link", ns)
        [page] = [link for link in links if link.get("rel") == "alternate"]
        assert page.get("href") == entry.find("a:id", ns).text
        enclosures = [link for link in links if link.get("rel") == "enclosure"]
        assert len(links) == 1 + len(enclosures)
        for image in enclosures:
            assert image.get("type") == "image/jpeg" and int(image.get("length")) > 0
            with_image += 1
    assert with_image == 3  # the demo's events with an image, in the feed's 39
    parsed = feedparser.parse(site / "atom.xml")
    assert not parsed.bozo and parsed.feed.author == "Gancio"
    for entry in parsed.entries:
        assert "/event/" in entry.link


def test_calendar_parses_back(site):
    cal = icalendar.Calendar.from_ical((site / "events.ics").read_bytes())
    events = cal.walk("VEVENT")
    assert len(events) == 39
    assert len({str(e["UID"]) for e in events}) == 39
    concerto = next(e for e in events if str(e["URL"]).endswith("/concerto-jazz-al-tramonto/"))
    assert concerto.decoded("DTSTART").isoformat() == "2026-12-05T18:30:00+00:00"
    assert str(concerto["LOCATION"]) == "Parco della Pace, Viale dei Tigli 3, 20121 Milano"
    raw = (site / "events.ics").read_bytes()
    assert b"TZID" not in raw
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))


def test_json_lists_every_event(site):
    data = json.loads((site / "events.json").read_text("utf-8"))
    assert data["version"] == 1 and data["timezone"] == "Europe/Rome"
    assert len(data["events"]) == 39
    first = data["events"][0]
    assert first["start"] == "2026-12-02T10:00:00+01:00"
    assert first["url"] == BASE + "event/mostra-fotografica-sguardi/"


def test_sitemap_and_robots(site):
    root = ET.parse(site / "sitemap.xml").getroot()
    locs = [e.text for e in root.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert BASE in locs and BASE + "event/7/" in locs
    assert f"Sitemap: {BASE}sitemap.xml" in (site / "robots.txt").read_text()


def test_event_page_content(site):
    page = (site / "event/webinar-privacy-digitale-per-tutti/index.html").read_text("utf-8")
    assert 'href="https://meet.example.org/privacy-digitale"' in page
    assert "https://gancio.example.org/event/webinar-privacy-digitale-per-tutti" in page
    assert 'href="event.ics"' in page
    image_page = (site / "event/mostra-di-manifesti-immagine-da-url/index.html").read_text("utf-8")
    assert 'width="300"' in image_page and 'height="200"' in image_page
    assert 'alt="Mostra di manifesti (immagine da URL)"' in image_page


def test_home_groups_by_day_in_site_zone(site):
    page = (site / "index.html").read_text("utf-8")
    assert page.index("Thursday, December 3, 2026") < page.index("Saturday, December 5, 2026")
    assert "Europe/Rome" in page
    assert '<html lang="en"' in page


def test_same_input_gives_byte_identical_output(site, tmp_path):
    again = tmp_path / "again"
    result = CliRunner().invoke(
        main, ["build", "--demo", "--base-url", BASE, "--output", str(again), "--show-recurrent"]
    )
    assert result.exit_code == 0
    first = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first == second


@pytest.fixture(scope="module")
def paged(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("paged")
    flags = ("--base-url", BASE, "--show-recurrent", "--page-size", "8")
    build_demo(folder, folder / "public", *flags)
    return folder / "public"


def event_links(page: Path) -> list[str]:
    html = page.read_text("utf-8")
    return re.findall(r'<h3 class="event-title[^>]*><a class="u-url" href="([^"]+)"', html)


def test_lists_are_split_into_pages_holding_each_event_once(site, paged):
    later = sorted(paged.glob("page/*/index.html"), key=lambda p: int(p.parent.name))
    home = [paged / "index.html", *later]
    assert [p.relative_to(paged).as_posix() for p in home[1:]] == [
        f"page/{n}/index.html" for n in range(2, 6)
    ]  # 39 events, 8 a page
    pages = [event_links(p) for p in home]
    assert [len(links) for links in pages] == [8, 8, 8, 8, 7]
    shown = [
        urljoin(BASE + p.relative_to(paged).as_posix(), link)
        for p in home
        for link in event_links(p)
    ]  # the same events, in the same order, page after page
    assert shown == [urljoin(BASE, link) for link in event_links(site / "index.html")]
    first, second, last = (p.read_text("utf-8") for p in (home[0], home[1], home[-1]))
    assert 'rel="next" href="page/2/"' in first and 'rel="prev"' not in first
    assert 'rel="prev" href="../../"' in second and 'rel="next" href="../../page/3/"' in second
    assert "Page 2 of 5" in second and 'rel="next"' not in last
    assert '<link rel="canonical" href="https://example.org/agenda/page/2/">' in second
    # Each page has a title of its own (search results and tabs tell them apart).
    titles = [re.search("<title>(.*)</title>", p.read_text("utf-8"))[1] for p in home]
    assert titles[0] == "Gancio"  # the demo instance's name
    assert titles[1:] == [f"Gancio · Page {n} of 5" for n in range(2, 6)]
    place = (paged / "place/centro-sociale-la-talpa/page/2/index.html").read_text("utf-8")
    assert "<title>Centro Sociale La Talpa · Gancio · Page 2 of 3<" in place
    assert not list(site.glob("page/*"))  # 100 a page by default: one page


def test_pages_change_no_feed(site, paged):
    for name in ("rss.xml", "atom.xml", "events.ics", "events.json", "tag/musica/events.ics"):
        assert (paged / name).read_bytes() == (site / name).read_bytes(), name


def test_every_link_of_a_paged_site_resolves(paged):
    assert check_links(paged) > 1000
