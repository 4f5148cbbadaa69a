"""Cases B01-B09 (../shared/cases): each small input built into a whole site and checked."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import icalendar
import pytest
from fake_gancio import FakeGancio

from gancio_site.build import build
from gancio_site.config import load_config

PLACE = {
    "id": 3,
    "name": "Circolo Esempio",
    "address": "Via Esempio 1",
    "latitude": None,
    "longitude": None,
}
NOW_2024 = 1704067200  # 2024-01-01: the case events are all upcoming


def row(**fields):
    base = {
        "slug": None,
        "end_datetime": None,
        "tags": [],
        "media": [],
        "place": PLACE,
        "online_locations": [],
        "is_visible": True,
        "recurrent": None,
        "parentId": None,
        "updatedAt": "2024-05-20T08:15:00.000Z",
        "description": "",
    }
    return {**base, **fields}


def build_site(tmp_path: Path, rows: list[dict], now: int = NOW_2024, **config) -> Path:
    with FakeGancio(rows, now=now) as fake:
        return build_with(fake, tmp_path, now, **config)


def build_with(fake: FakeGancio, tmp_path: Path, now: int = NOW_2024, **config) -> Path:
    env = {
        "GANCIO_INSTANCE": fake.url,
        "GANCIO_BASE_URL": "https://agenda.example.org/",
        "GANCIO_OUTPUT": str(tmp_path / "public"),
        "GANCIO_CACHE": str(tmp_path / "c"),
    }
    build(load_config(None, env=env, overrides=config), now_ts=now)
    return tmp_path / "public"


def vevents(path: Path):
    return icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT")


def test_b01_bad_end_times(tmp_path):
    site = build_site(
        tmp_path,
        [
            row(
                id=101,
                slug="open-mic",
                title="Open mic",
                start_datetime=1717268400,
                end_datetime="Antani",
                tags=["musica"],
            ),
            row(id=102, slug="mostra", title="Mostra", multidate=True, start_datetime=1733216400),
            row(id=103, slug="cena", title="Cena", start_datetime=1717268400, end_datetime=0),
        ],
    )
    page = (site / "event/open-mic/index.html").read_text("utf-8")
    assert "Saturday, June 1, 2024, 9:00\u202fPM" in page
    for file in site.rglob("*.html"):
        text = file.read_text("utf-8")
        for junk in ("undefined", "NaN", "Invalid date", "1970"):
            assert junk not in text, (file, junk)
    mostra = (site / "event/mostra/index.html").read_text("utf-8")
    assert (
        "Tuesday, December 3, 2024" in mostra
        and "–" not in mostra.split("<h1")[1].split("</time>")[0]
    )
    for vevent in vevents(site / "events.ics"):
        assert "DTSTART" in vevent and "DTEND" not in vevent
    assert not feedparser.parse((site / "rss.xml").read_bytes()).bozo


def test_b02_record_with_only_the_essential_keys_renders(tmp_path):
    minimal = {
        "id": 7,
        "title": "Assemblea",
        "slug": "assemblea",
        "start_datetime": 1717268400,
        "place": {"id": 1, "name": "Sala Esempio", "address": "Piazza Esempio 2"},
        "tags": [],
        "media": [],
    }
    site = build_site(tmp_path, [minimal])
    page = (site / "event/assemblea/index.html").read_text("utf-8")
    assert "Assemblea" in page and "Sala Esempio" in page
    assert "openstreetmap" not in page
    assert b"GEO" not in (site / "events.ics").read_bytes()


def test_b04_times_in_utc_and_page_in_local_time(tmp_path):
    site = build_site(
        tmp_path,
        [
            row(
                id=55,
                slug="concerto",
                title="Concerto",
                start_datetime=1711909800,
                end_datetime=1711917000,
            )
        ],
    )
    ics = (site / "events.ics").read_bytes()
    assert b"DTSTART:20240331T183000Z\r\n" in ics
    assert b"DTEND:20240331T203000Z\r\n" in ics
    assert b"TZID" not in ics and b"T203000Z\r\nDTEND" not in ics
    page = (site / "event/concerto/index.html").read_text("utf-8")
    assert "8:30\u202fPM" in page and "Europe/Rome" in page


def test_b05_calendar_text_escaping_and_folding(tmp_path):
    title = "Festa di quartiere in piazza con musica dal vivo e cena sociale: 🎉 tutti invitati"
    site = build_site(
        tmp_path,
        [
            row(
                id=60,
                slug="festa",
                title=title,
                start_datetime=1717268400,
                place={
                    "id": 4,
                    "name": "Circolo Esempio, sala 2",
                    "address": "Via Esempio 5; interno 3",
                },
                description="<p>Prima riga</p>\n<p>Seconda riga con una \\ barra</p>",
            ),
            row(id=61, slug="cena", title="Cena, concerto; dj-set", start_datetime=1717354800),
        ],
    )
    raw = (site / "events.ics").read_bytes()
    raw.decode("utf-8")  # the emoji is never cut in half
    assert b"SUMMARY:Cena\\, concerto\\; dj-set\r\n" in raw
    assert b"LOCATION:Circolo Esempio\\, sala 2\\, Via Esempio 5\\; interno 3\r\n" in raw
    lines = raw.split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert all(not line.startswith(b"  ") for line in lines)
    festa, cena = vevents(site / "events.ics")
    assert str(festa["SUMMARY"]) == title
    assert str(cena["SUMMARY"]) == "Cena, concerto; dj-set"
    assert str(festa["DESCRIPTION"]).startswith("Prima riga\n\nSeconda riga con una \\ barra\n")


def test_b06_control_characters_everywhere(tmp_path):
    site = build_site(
        tmp_path,
        [
            row(
                id=70,
                slug="serata",
                title="Serata\u000bspeciale",
                start_datetime=1717268400,
                description="<p>Con DJ\u001b e ospiti\u0000</p>",
            )
        ],
    )
    for name in ("rss.xml", "atom.xml", "sitemap.xml"):
        ET.parse(site / name)
    assert vevents(site / "events.ics")[0]["SUMMARY"] == "Serata speciale"
    assert "Con DJ e ospiti" in (site / "event/serata/index.html").read_text("utf-8")


def test_b07_feed_identity_dates_and_order(tmp_path):
    rows = [
        row(
            id=42,
            slug="open-mic",
            title="Open mic",
            start_datetime=1717268400,
            updatedAt="2024-05-20T08:15:00.000Z",
        ),
        row(
            id=43,
            slug="cena",
            title="Cena",
            start_datetime=1717354800,
            updatedAt="2024-05-21T10:00:00.000Z",
        ),
    ]
    with FakeGancio(rows, now=NOW_2024) as fake:  # one instance, built an hour apart
        first = build_with(fake, tmp_path / "a")
        second = build_with(fake, tmp_path / "b", now=NOW_2024 + 3600)
    for name in ("rss.xml", "atom.xml", "events.ics", "events.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    atom = feedparser.parse((first / "atom.xml").read_bytes())
    assert atom.feed.id == "https://agenda.example.org/"
    assert atom.feed.updated == "2024-05-21T10:00:00+00:00"
    assert [e.id for e in atom.entries] == [
        "https://agenda.example.org/event/open-mic/",
        "https://agenda.example.org/event/cena/",
    ]
    assert atom.entries[1].updated == "2024-05-21T10:00:00+00:00"
    rss = ET.parse(first / "rss.xml").getroot()
    guids = rss.findall("./channel/item/guid")
    assert [g.get("isPermaLink") for g in guids] == ["true", "true"]
    assert guids[0].text == "https://agenda.example.org/event/open-mic/"


def test_b08_html_in_feeds_is_escaped_text(tmp_path):
    site = build_site(
        tmp_path,
        [
            row(
                id=80,
                slug="rock",
                title="Rock & Roll <live>",
                start_datetime=1717268400,
                description='<p>Tom &amp; Jerry<br>Ingresso <b>libero</b></p><div class="x">dettagli</div>',
            )
        ],
    )
    rss_text = (site / "rss.xml").read_text("utf-8")
    atom_text = (site / "atom.xml").read_text("utf-8")
    for text in (rss_text, atom_text):
        assert "<title>Rock &amp; Roll &lt;live&gt;</title>" in text
        assert "&amp;amp;amp;" not in text and "<b>libero" not in text
    ET.fromstring(rss_text.encode())
    for name in ("rss.xml", "atom.xml"):
        entry = feedparser.parse((site / name).read_bytes()).entries[0]
        assert entry.title == "Rock & Roll <live>"
        assert "Tom &amp; Jerry<br />Ingresso <b>libero</b>" in entry.summary.replace(
            "<br>", "<br />"
        )


def test_b09_every_url_in_feeds_is_absolute(tmp_path):
    site = build_site(
        tmp_path,
        [
            row(
                id=90,
                slug="open-mic",
                title="Open mic",
                start_datetime=1717268400,
                media=[
                    {"url": "a1b2c3.jpg", "name": "Locandina", "size": 48213, "focalpoint": [0, 0]}
                ],
                description='<p><img src="/media/a1b2c3.jpg"> vedi <a href="/event/altro">altro</a></p>',
            )
        ],
    )
    instance = json.loads((site / "events.json").read_text())["site"]["instance"]
    rss = feedparser.parse((site / "rss.xml").read_bytes())
    entry = rss.entries[0]
    assert entry.link == "https://agenda.example.org/event/open-mic/"
    assert entry.enclosures[0].href == f"{instance}/media/a1b2c3.jpg"
    assert entry.enclosures[0].length == "48213" and entry.enclosures[0].type == "image/jpeg"
    assert f'href="{instance}/event/altro"' in entry.summary
    assert any(
        link.rel == "self" and link.href == "https://agenda.example.org/rss.xml"
        for link in rss.feed.links
    )
    import re

    for name in ("rss.xml", "atom.xml", "events.ics"):
        text = (site / name).read_text("utf-8").replace("\r\n ", "")
        for url in re.findall(r'(?:href|src|url)="([^"]*)"', text):
            assert url.startswith(("https://", "http://")), (name, url)
        assert '="/' not in text


@pytest.mark.parametrize("language", ["it", "es", "fr", "de", "ca", "pt"])
def test_dates_in_the_site_language(tmp_path, language):
    site = build_site(
        tmp_path, [row(id=1, slug="x", title="x", start_datetime=1717268400)], language=language
    )
    page = (site / "event/x/index.html").read_text("utf-8")
    expected = {
        "it": "sabato 1 giugno 2024",
        "es": "sábado, 1 de junio de 2024",
        "fr": "samedi 1 juin 2024",
        "de": "Samstag, 1. Juni 2024",
        "ca": "dissabte, 1 de juny del 2024",
        "pt": "sábado, 1 de junho de 2024",
    }
    assert expected[language] in page
    assert f'<html lang="{language}"' in page
    assert json.loads((site / "events.json").read_text())["events"][0]["start"] == (
        "2024-06-01T21:00:00+02:00"
    )
