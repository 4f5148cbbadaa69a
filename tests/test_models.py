"""Parsing Gancio's JSON into events: every shape the real API gives, and broken ones."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gancio_site.models import Parser, SiteInfo

ROME = ZoneInfo("Europe/Rome")
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "instance.json").read_text("utf-8"))
ROWS = {row["id"]: row for row in FIXTURE["events"]}
PLACE = {"id": 3, "name": "Circolo Esempio", "address": "Via Esempio 1"}


@pytest.fixture
def parser() -> Parser:
    return Parser(instance="https://gancio.example.org", tz=ROME)


def test_every_captured_event_parses_without_warnings(parser):
    events = [parser.event(row) for row in FIXTURE["events"]]
    assert all(e is not None for e in events)
    assert parser.warnings == []
    assert all(e.start.tzinfo is ROME for e in events)


def test_b01_bad_end_times_mean_no_end_with_one_warning_each(parser):
    rows = [
        {
            "id": 101,
            "slug": "open-mic",
            "title": "Open mic",
            "start_datetime": 1717268400,
            "end_datetime": "Antani",
            "place": PLACE,
            "tags": ["musica"],
            "media": [],
        },
        {
            "id": 102,
            "slug": "mostra",
            "title": "Mostra",
            "multidate": True,
            "start_datetime": 1733216400,
            "end_datetime": None,
            "place": PLACE,
            "tags": [],
            "media": [],
        },
        {
            "id": 103,
            "slug": "cena",
            "title": "Cena",
            "start_datetime": 1717268400,
            "end_datetime": 0,
            "place": PLACE,
            "tags": [],
            "media": [],
        },
        {
            "id": 104,
            "title": "Vuoto",
            "start_datetime": 1717268400,
            "end_datetime": "",
            "place": PLACE,
        },
        {
            "id": 105,
            "title": "Prima",
            "start_datetime": 1717268400,
            "end_datetime": 1717260000,
            "place": PLACE,
        },
    ]
    events = {e.id: e for e in (parser.event(r) for r in rows)}
    assert all(e.end is None for e in events.values())
    assert events[101].start == datetime(2024, 6, 1, 21, 0, tzinfo=ROME)
    assert events[102].start.date().isoformat() == "2024-12-03"
    assert events[102].multidate and not events[102].spans_days
    warned = sorted(w.split(":")[0] for w in parser.warnings)
    assert warned == ["event 101", "event 103", "event 104", "event 105"]  # null is normal


def test_b02_minimal_list_record_renders_with_defaults(parser):
    event = parser.event(
        {
            "id": 7,
            "title": "Assemblea",
            "slug": "assemblea",
            "start_datetime": 1717268400,
            "place": {
                "id": 1,
                "name": "Sala Esempio",
                "address": "Piazza Esempio 2",
                "latitude": None,
                "longitude": None,
            },
            "tags": [],
            "media": [],
            "unknown_key": {"ignored": True},
        }
    )
    assert event is not None
    assert event.multidate is False
    assert event.description == ""
    assert event.place.map_url is None and not event.place.has_coordinates
    assert event.end is None and event.parent_id is None and event.image is None


def test_b06_control_characters_removed_with_one_warning(parser):
    event = parser.event(
        {
            "id": 70,
            "title": "Serata\u000bspeciale",
            "start_datetime": 1717268400,
            "description": "<p>Con DJ\u001b e ospiti\u0000</p>",
            "place": PLACE,
        }
    )
    assert event.title == "Serata speciale"
    assert event.description == "<p>Con DJ e ospiti</p>"
    assert len(parser.warnings) == 1 and parser.warnings[0].startswith("event 70:")


def test_lone_surrogates_and_nonchars_are_removed(parser):
    event = parser.event(
        {"id": 71, "title": "a\ud800b\ufffec", "start_datetime": 1717268400, "place": PLACE}
    )
    assert event.title == "abc"


def test_multidate_event_spans_days():
    event = Parser("https://g.example.org", ROME).event(ROWS[10])
    assert event.multidate and event.spans_days
    assert event.end > event.start


def test_online_event_and_links(parser):
    event = parser.event(ROWS[8])
    assert event.is_online
    assert event.online_locations == (
        "https://meet.example.org/privacy-digitale",
        "https://stream.example.org/live/42",
    )


def test_hostile_description_is_sanitised(parser):
    event = parser.event(ROWS[13])
    html = event.description
    assert "onclick=" not in html and "javascript:" not in html.lower() and "<script" not in html
    assert "data:" not in html and "vbscript" not in html.lower()
    assert 'href="https://evil.example/x"' in html  # protocol-relative made absolute
    assert "target=" not in html
    assert "<b>&lt;script&gt; as text</b>" in html


def test_title_is_kept_verbatim_for_escaping_later(parser):
    event = parser.event(ROWS[13])
    assert event.title == "Evento con <b>HTML</b> nel titolo <script>alert(1)</script>"


def test_image_urls_are_absolute_and_quoted(parser):
    event = parser.event(ROWS[19])
    image = event.image
    assert image.url == "https://gancio.example.org/media/223b7f77dc756ab75bbb19b2b597e881.jpg"
    assert image.thumb_url.startswith("https://gancio.example.org/media/thumb/")
    assert (image.width, image.height) == (300, 200)
    hostile = parser.event(
        {
            "id": 9,
            "title": "x",
            "start_datetime": 1717268400,
            "place": PLACE,
            "media": [{"url": "../../etc/passwd", "name": "n"}],
        }
    )
    assert hostile.image.url == "https://gancio.example.org/media/..%2F..%2Fetc%2Fpasswd"


def test_null_slug_links_to_gancio_by_id(parser):
    event = parser.event(ROWS[7])
    assert event.slug is None
    assert event.source_url == "https://gancio.example.org/event/7"


def test_half_coordinates_are_dropped(parser):
    event = parser.event(
        {
            "id": 5,
            "title": "x",
            "start_datetime": 1717268400,
            "place": {"id": 1, "name": "P", "latitude": 45.1, "longitude": None},
        }
    )
    assert not event.place.has_coordinates


@pytest.mark.parametrize("bad", [None, "x", "2026-12-10", 1796252400000, -5, True, [1]])
def test_event_without_usable_start_is_skipped_with_warning(parser, bad):
    assert parser.event({"id": 3, "title": "x", "start_datetime": bad, "place": PLACE}) is None
    assert parser.warnings and parser.warnings[0].startswith("event 3:")


def test_wrong_types_are_neutralised(parser):
    event = parser.event(
        {
            "id": "12",
            "title": 42,
            "slug": None,
            "start_datetime": "1717268400",
            "place": None,
            "tags": "musica",
            "online_locations": "x",
            "media": {"url": 1},
            "description": ["x"],
        }
    )
    assert event.id == 12 and event.title == "42"
    assert event.tags == () and event.online_locations == () and event.image is None
    assert event.place.name == "" and event.description == ""


def test_tags_as_export_objects_and_duplicates(parser):
    event = parser.event(
        {
            "id": 1,
            "title": "x",
            "start_datetime": 1717268400,
            "place": PLACE,
            "tags": [{"tag": "musica"}, "musica", " a  b ", ""],
        }
    )
    assert event.tags == ("musica", "a b")


def test_javascript_online_links_are_dropped(parser):
    event = parser.event(
        {
            "id": 1,
            "title": "x",
            "start_datetime": 1717268400,
            "place": PLACE,
            "online_locations": [
                "javascript:alert(1)",
                "data:text/html,x",
                "https://ok.example.org/",
            ],
        }
    )
    assert event.online_locations == ("https://ok.example.org/",)


def test_plain_text_description_keeps_line_breaks(parser):
    event = parser.event(ROWS[4])
    assert event.description == "<p>Una cena tra amici.<br>Portate qualcosa da condividere!</p>"


@pytest.mark.parametrize(
    ("language", "tag"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("pt_BR", "pt-BR"),
        ("es-mx", "es-MX"),
        ("de_DE@euro", "de-DE"),
        ("sr_Latn_RS", "sr-Latn-RS"),
        ("zh_hant_tw", "zh-Hant-TW"),
    ],
)
def test_html_lang_is_a_bcp47_tag(language, tag):
    site = SiteInfo("T", "", "https://e.org/", language, "Europe/Rome", "https://g.org", "G")
    assert site.lang == tag
