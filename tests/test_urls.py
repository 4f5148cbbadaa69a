"""Output paths: safe, readable, unique, and links that work under a sub-path."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from gancio_site.models import Parser
from gancio_site.urls import UrlMap, relative, slugify

PLACE = {"id": 1, "name": "Sala", "address": "Via 1"}


def events(*rows):
    parser = Parser("https://g.example.org", ZoneInfo("Europe/Rome"))
    return [parser.event({"start_datetime": 1796301525, "place": PLACE, **row}) for row in rows]


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Kids & Family", "kids-family"),
        ("🎉 party", "party"),
        ("tecnología", "tecnología"),
        ("شعر", "شعر"),
        ("../../etc/passwd", "etc-passwd"),
        ("a\\b/c", "a-b-c"),
        ("..", ""),
        ("%2e%2e%2f", "2e-2e-2f"),
        ("CON", "con-"),
        ("x" * 200, "x" * 80),
    ],
)
def test_slugify(text, slug):
    assert slugify(text) == slug


def test_event_folders_use_slug_else_id_and_never_collide():
    evs = events(
        {"id": 1, "title": "a", "slug": "open-mic"},
        {"id": 2, "title": "b", "slug": "open-mic"},  # duplicate slug
        {"id": 3, "title": "c", "slug": None},  # Arabic or emoji title: no slug
        {"id": 4, "title": "d", "slug": "../../../tmp/x"},
        {"id": 5, "title": "e", "slug": "OPEN-MIC"},
    )
    urls = UrlMap("https://example.org/agenda/", evs)
    paths = [urls.event(e) for e in evs]
    assert paths == [
        "event/open-mic/",
        "event/open-mic-2/",
        "event/3/",
        "event/tmp-x/",
        "event/open-mic-5/",
    ]


def test_tags_and_places_get_unique_readable_folders():
    evs = events(
        {"id": 1, "title": "a", "tags": ["Musica", "musica", "🎉", "شعر"]},
        {"id": 2, "title": "b", "place": {"id": 9, "name": "../Sala"}},
        {"id": 3, "title": "c", "place": {"id": 8, "name": "🎉"}},
    )
    urls = UrlMap("https://example.org/", evs)
    tag_paths = {t: urls.tag(t) for t in ["Musica", "musica", "🎉", "شعر"]}
    assert len(set(tag_paths.values())) == 4
    assert tag_paths["شعر"] == "tag/شعر/"
    assert tag_paths["🎉"].startswith("tag/tag-")
    assert urls.place(evs[1].place) == "place/sala-9/"  # "Sala" (id 1) came first
    assert urls.place(evs[2].place) == "place/8/"


def test_absolute_urls_are_encoded_under_base_path():
    evs = events({"id": 1, "title": "a", "tags": ["jazz & blues"]})
    urls = UrlMap("https://example.org/agenda/", evs)
    assert urls.absolute(urls.tag("jazz & blues")) == "https://example.org/agenda/tag/jazz-blues/"
    assert urls.absolute("") == "https://example.org/agenda/"
    assert urls.absolute("tag/é/") == "https://example.org/agenda/tag/%C3%A9/"


def test_relative_links():
    assert relative("event/x/", "index.html") == "event/x/"
    assert relative("", "index.html") == "./"
    assert relative("", "event/x/index.html") == "../../"
    assert relative("static/style.css", "tag/a/index.html") == "../../static/style.css"
    assert relative("event/x/event.ics", "event/x/index.html") == "event.ics"
    assert relative("event/x/", "event/x/index.html") == "./"
