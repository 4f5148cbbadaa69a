"""What search engines, social sites and calendar apps read from the event pages."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from sitekit import build_demo

from gancio_site import seo
from gancio_site.models import Event, Image, Place

BASE = "https://example.org/agenda/"
ROME = ZoneInfo("Europe/Rome")
SCHEMA = "https://schema.org/"
WEBINAR_LINKS = ["https://meet.example.org/privacy-digitale", "https://stream.example.org/live/42"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("seo")
    build_demo(folder, folder / "public", "--show-recurrent", "--base-url", BASE)
    return folder / "public"


class Head(HTMLParser):
    """Collects meta tags, JSON-LD scripts, links and microformat classes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.jsonld: list[str] = []
        self.links: list[dict[str, str]] = []
        self.classes: set[str] = set()
        self._in_jsonld = False

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.classes.update(a.get("class", "").split())
        if tag == "meta" and ("property" in a or "name" in a):
            self.meta[a.get("property") or a["name"]] = a.get("content", "")
        elif tag == "script" and a.get("type") == "application/ld+json":
            self._in_jsonld = True
            self.jsonld.append("")
        elif tag == "a":
            self.links.append(a)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_jsonld = False

    def handle_data(self, data):
        if self._in_jsonld:
            self.jsonld[-1] += data


def page(site: Path, slug: str) -> Head:
    head = Head()
    head.feed((site / "event" / slug / "index.html").read_text("utf-8"))
    return head


def ld(site: Path, slug: str) -> dict:
    scripts = page(site, slug).jsonld
    assert len(scripts) == 1
    return json.loads(scripts[0])


def test_jsonld_offline_event_with_coordinates(site):
    data = ld(site, "concerto-jazz-al-tramonto")
    assert data["@context"] == "https://schema.org" and data["@type"] == "Event"
    assert data["name"] == "Concerto jazz al tramonto"
    assert data["url"] == BASE + "event/concerto-jazz-al-tramonto/"
    assert data["startDate"] == "2026-12-05T19:30:00+01:00"
    assert data["endDate"] == "2026-12-05T22:00:00+01:00"
    assert data["eventStatus"] == SCHEMA + "EventScheduled"
    assert data["eventAttendanceMode"] == SCHEMA + "OfflineEventAttendanceMode"
    assert data["location"] == {
        "@type": "Place",
        "name": "Parco della Pace",
        "address": {"@type": "PostalAddress", "streetAddress": "Viale dei Tigli 3, 20121 Milano"},
        "geo": {"@type": "GeoCoordinates", "latitude": 45.4642, "longitude": 9.19},
    }
    assert "image" not in data and "organizer" not in data
    assert 0 < len(data["description"]) <= seo.DESCRIPTION_LIMIT
    assert "\n" not in data["description"]


def test_jsonld_online_event(site):
    data = ld(site, "webinar-privacy-digitale-per-tutti")
    assert data["eventAttendanceMode"] == SCHEMA + "OnlineEventAttendanceMode"
    assert all(loc["@type"] == "VirtualLocation" for loc in data["location"])
    assert [loc["url"] for loc in data["location"]] == WEBINAR_LINKS


def test_jsonld_online_event_with_image(site):
    data = ld(site, "podcast-live-settimanale-1")
    assert data["eventAttendanceMode"] == SCHEMA + "OnlineEventAttendanceMode"
    assert data["location"]["@type"] == "VirtualLocation"
    assert data["image"][0].startswith("https://") and data["image"][0].endswith(".jpg")


def test_jsonld_mixed_event_has_both_locations(site):
    data = ld(site, "laboratorio-ibrido-di-riparazione-bici")
    assert data["eventAttendanceMode"] == SCHEMA + "MixedEventAttendanceMode"
    place, virtual = data["location"]
    assert place["@type"] == "Place" and place["name"] == "Biblioteca Civica"
    assert "geo" not in place  # this place has no coordinates
    assert virtual == {"@type": "VirtualLocation", "url": "https://stream.example.org/bici"}


def test_jsonld_multi_day_event_with_image(site):
    data = ld(site, "festa-di-quartiere-tre-giorni-di-musica")
    assert data["startDate"] == "2026-12-13T16:00:00+01:00"
    assert data["endDate"] == "2026-12-15T23:59:00+01:00"
    assert data["image"] == [
        "https://gancio.example.org/media/bbdd142d17bffeb78af9184519dddee6.jpg"
    ]


def test_jsonld_event_without_end_and_across_a_clock_change(site):
    assert "endDate" not in ld(site, "laquila-perche-e-cosi-unicode-and-co")
    data = ld(site, "notte-del-cambio-ora")  # Rome moves to summer time that night
    assert data["startDate"] == "2027-03-28T01:30:00+01:00"
    assert data["endDate"] == "2027-03-28T04:00:00+02:00"


def test_jsonld_of_a_hostile_title_is_inert_and_exact(site):
    slug = "evento-con-lessbgreaterhtmllessbgreater-nel-titolo-lessscriptgreateralert1lesssc"
    raw = (site / "event" / slug / "index.html").read_text("utf-8")
    script = re.search(r'<script type="application/ld\+json">(.*?)</script>', raw, re.S)
    assert "<" not in script.group(1)  # `</script>` in a title cannot close the element
    assert json.loads(script.group(1))["name"] == (
        "Evento con <b>HTML</b> nel titolo <script>alert(1)</script>"
    )


def test_open_graph_and_twitter_tags(site):
    meta = page(site, "festa-di-quartiere-tre-giorni-di-musica").meta
    assert meta["og:type"] == "website"
    assert meta["og:title"] == meta["twitter:title"] == "Festa di quartiere: tre giorni di musica"
    assert meta["og:url"] == BASE + "event/festa-di-quartiere-tre-giorni-di-musica/"
    assert meta["og:image"] == (
        "https://gancio.example.org/media/bbdd142d17bffeb78af9184519dddee6.jpg"
    )
    assert (meta["og:image:width"], meta["og:image:height"]) == ("300", "200")
    assert meta["og:image:alt"]
    assert meta["og:description"] == meta["twitter:description"] == meta["description"]
    assert meta["twitter:card"] == "summary_large_image"
    plain = page(site, "concerto-jazz-al-tramonto").meta
    assert plain["twitter:card"] == "summary" and "og:image" not in plain


def test_h_event_microformats(site):
    classes = page(site, "concerto-jazz-al-tramonto").classes
    for name in ("h-event", "p-name", "dt-start", "dt-end", "p-location", "e-content", "u-url"):
        assert name in classes, name


def calendar_link(site: Path, slug: str, host: str) -> tuple[dict[str, str], dict[str, str]]:
    for link in page(site, slug).links:
        if urlsplit(link["href"]).netloc == host:
            query = parse_qs(urlsplit(link["href"]).query, strict_parsing=True)
            return link, {k: v[0] for k, v in query.items()}
    raise AssertionError(f"no link to {host}")


def test_google_calendar_link(site):
    link, q = calendar_link(site, "concerto-jazz-al-tramonto", "calendar.google.com")
    assert set(link["rel"].split()) == {"noopener", "nofollow"}
    assert link["href"].startswith("https://calendar.google.com/calendar/render?")
    assert q["action"] == "TEMPLATE"
    assert q["text"] == "Concerto jazz al tramonto"
    assert q["dates"] == "20261205T183000Z/20261205T210000Z"
    assert q["location"] == "Parco della Pace, Viale dei Tigli 3, 20121 Milano"
    assert q["details"].endswith("\n\n" + BASE + "event/concerto-jazz-al-tramonto/")


def test_outlook_link_and_a_default_hour_without_end(site):
    link, q = calendar_link(site, "laquila-perche-e-cosi-unicode-and-co", "outlook.live.com")
    assert set(link["rel"].split()) == {"noopener", "nofollow"}
    assert link["href"].startswith("https://outlook.live.com/calendar/0/deeplink/compose?")
    assert q["subject"] == "L'Aquila: perché? È così! Ünïcödé & co."
    assert q["startdt"] == "2026-12-18T18:00:00+01:00"
    assert q["enddt"] == "2026-12-18T19:00:00+01:00"
    assert q["body"].endswith(BASE + "event/laquila-perche-e-cosi-unicode-and-co/")
    _, google = calendar_link(site, "laquila-perche-e-cosi-unicode-and-co", "calendar.google.com")
    assert google["dates"] == "20261218T170000Z/20261218T180000Z"


def test_calendar_links_of_an_online_event_point_to_its_link(site):
    _, q = calendar_link(site, "webinar-privacy-digitale-per-tutti", "calendar.google.com")
    assert q["location"] == WEBINAR_LINKS[0]


def sitemap_lastmod(site: Path) -> dict[str | None, str | None]:
    """Return each URL of the sitemap with its lastmod."""
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ET.parse(site / "sitemap.xml").getroot()
    return {
        u.findtext("s:loc", namespaces=ns): u.findtext("s:lastmod", namespaces=ns)
        for u in root.findall("s:url", ns)
    }


def test_sitemap_lastmod_for_tag_and_place_pages(site):
    events = json.loads((site / "events.json").read_text("utf-8"))["events"]
    lastmod = sitemap_lastmod(site)

    def newest(keep) -> str:
        return max(e["updated"] for e in events if keep(e))[:10]

    musica = newest(lambda e: "musica" in [t["name"] for t in e["tags"]])
    assert lastmod[BASE + "tag/musica/"] == musica
    assert lastmod[BASE + "place/parco-della-pace/"] == newest(
        lambda e: e["place"]["name"] == "Parco della Pace"
    )
    pages = [loc for loc in lastmod if "/tag/" in loc or "/place/" in loc]
    assert len(pages) > 10 and all(lastmod[loc] for loc in pages)


def test_every_event_page_is_canonical_and_in_the_sitemap_with_its_lastmod(site):
    events = json.loads((site / "events.json").read_text("utf-8"))["events"]
    lastmod = sitemap_lastmod(site)
    assert len(events) > 20
    for e in events:
        assert e["url"].startswith(BASE + "event/")
        html = (site / e["url"][len(BASE) :] / "index.html").read_text("utf-8")
        assert re.findall(r'<link rel="canonical" href="([^"]*)">', html) == [e["url"]]
        assert lastmod[e["url"]] == (e["updated"][:10] if e["updated"] else None)


def test_right_to_left_text_keeps_its_direction(site):
    # The demo's Arabic event: each piece of event text sets its own direction, so it
    # reads right to left inside a left-to-right page, and the page's text does not.
    html = (site / "event" / "7" / "index.html").read_text("utf-8")
    title = re.search(r'<h1 class="p-name" dir="auto">([^<]*)</h1>', html)
    assert title and re.search("[\u0600-\u06ff]", title.group(1))
    assert '<div class="description e-content" dir="auto">' in html
    assert re.search(r'<html lang="en"(?! dir)', html)


# --- the builders themselves ----------------------------------------------------------------


def event(**changes) -> Event:
    values = dict(
        id=1,
        title="Assemblea",
        slug="assemblea",
        start=datetime(2026, 7, 1, 21, 0, tzinfo=ROME),
        end=None,
        place=Place(id=1, name="online"),
    )
    return Event(**{**values, **changes})


def test_online_event_without_links_points_to_its_page():
    data = seo.event_jsonld(event(), "https://x.org/event/assemblea/")
    assert data["location"] == {"@type": "VirtualLocation", "url": "https://x.org/event/assemblea/"}
    assert "description" not in data and "endDate" not in data


def test_event_without_place_has_no_location():
    data = seo.event_jsonld(event(place=Place(id=None, name="")), "https://x.org/e/")
    assert data["eventAttendanceMode"] == SCHEMA + "OfflineEventAttendanceMode"
    assert "location" not in data


def test_summer_time_in_links():
    start = datetime(2026, 7, 1, 21, 0, tzinfo=ROME)  # +02:00
    image = Image(url="https://i.example/a.jpg", thumb_url="https://i.example/t.jpg", alt="")
    e = event(start=start, end=start.replace(hour=23), image=image)
    google = parse_qs(urlsplit(seo.google_calendar_url(e, "https://x.org/e/")).query)
    assert google["dates"] == ["20260701T190000Z/20260701T210000Z"]
    outlook = parse_qs(urlsplit(seo.outlook_calendar_url(e, "https://x.org/e/")).query)
    assert outlook["startdt"] == ["2026-07-01T21:00:00+02:00"]
    assert "%2B02%3A00" in seo.outlook_calendar_url(e, "https://x.org/e/")  # `+` encoded


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("short\n\ntext", "short text"),
        ("word " * 100, ("word " * 59).strip() + "…"),
        ("x" * 400, "x" * 299 + "…"),
    ],
)
def test_summary(text, expected):
    assert seo.summary(text) == expected
    assert len(seo.summary(text)) <= seo.DESCRIPTION_LIMIT


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Assemblea",
        "a b  c",
        "città € ☃ 🎉 مرحبا",
        "".join(chr(c) for c in range(0x20, 0x7F)),
        "\n\t\r\x00\x7f",
        "https://x.org/e/?a=1&b=2#c",
        "<img src=x onerror=alert(1)>",
    ],
)
def test_form_encoding_is_urlencodes(text):
    from urllib.parse import urlencode

    query = {"text": text, text or "k": "v", "dates": "20260701T190000Z/20260701T210000Z"}
    assert seo.form_encode(query) == urlencode(query)
