"""Markdown event files -> EventDraft: times in the right zone, every field checked by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gancio_site.sources import EventDraft, Recurrence, SourceError, find_sources, read_draft

ROME = ZoneInfo("Europe/Rome")
INSTANCE = "https://gancio.example.org"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32

B13 = """---
title: Laboratorio di cucito
start: 2024-11-07 18:30
end: 2024-11-07 20:00
place: {name: Sala Esempio, address: Via Esempio 3}
tags: [sartoria]
recurrent: weekly
image: "https://img.example.org/locandina-café ©.jpg"
---
Porta **ago e filo**.
"""


def draft(tmp_path: Path, text: str, name: str = "event.md", zone=ROME) -> EventDraft:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_draft(path, zone, INSTANCE, name)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SourceError) as caught:
        draft(tmp_path, text)
    return caught.value.problems


def front(**fields: str) -> str:
    base = {
        "title": "Concerto",
        "start": "2026-12-20 21:00",
        "place": "{name: Circolo, address: Via 1}",
    }
    lines = [f"{k}: {v}" for k, v in {**base, **fields}.items() if v is not None]
    return "---\n" + "\n".join(lines) + "\n---\nTesto.\n"


def test_b13_case_local_times_in_the_site_zone(tmp_path):
    event = draft(tmp_path, B13)
    assert event.title == "Laboratorio di cucito"
    assert int(event.start.timestamp()) == 1731000600  # 18:30 in Rome = 17:30 UTC
    assert event.end is not None and int(event.end.timestamp()) == 1731006000
    assert (event.place_name, event.place_address) == ("Sala Esempio", "Via Esempio 3")
    assert event.tags == ("sartoria",)
    assert event.recurrent == Recurrence("1w")
    assert event.image is None
    assert event.image_url == "https://img.example.org/locandina-café ©.jpg"
    assert event.description == "<p>Porta <strong>ago e filo</strong>.</p>"
    assert event.multidate is False


def test_same_file_in_another_zone_gives_other_instants(tmp_path):
    event = draft(tmp_path, B13, zone=ZoneInfo("America/New_York"))
    assert event.start == datetime(2024, 11, 7, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2026-12-20T21:00+01:00", datetime(2026, 12, 20, 20, 0, tzinfo=UTC)),
        ("'2026-12-20 21:00:00Z'", datetime(2026, 12, 20, 21, 0, tzinfo=UTC)),
        ("2026-12-20 21:00:00", datetime(2026, 12, 20, 20, 0, tzinfo=UTC)),  # YAML datetime
        ("2026-12-20 21:00:00 +05:00", datetime(2026, 12, 20, 16, 0, tzinfo=UTC)),
        ("2026-07-20 21:00", datetime(2026, 7, 20, 19, 0, tzinfo=UTC)),  # summer time
    ],
)
def test_start_with_or_without_an_offset(tmp_path, written, expected):
    assert draft(tmp_path, front(start=written)).start == expected


def test_a_time_that_summer_time_skips_is_refused(tmp_path):
    [problem] = problems(tmp_path, front(start="2026-03-29 02:30"))
    assert problem == "start: 2026-03-29 02:30 does not exist in Europe/Rome (clocks go forward)"


def test_every_problem_names_its_field_at_once(tmp_path):
    text = (
        "---\ntitle: ''\nstart: 2026-12-20\nend: tomorrow\ntag: [x]\nplace: {name: Bar}\n"
        "tags: [yes]\nonline: [meet.example.org]\nmultidate: maybe\nrecurrent: daily\n---\n"
    )
    assert problems(tmp_path, text) == [
        "tag: unknown field (did you mean 'tags'?)",
        "start: 2026-12-20 has no time of day; write it like 2026-11-07 18:30, "
        "or 2026-11-07T18:30+01:00",
        "end: 'tomorrow' is not a date and time; write it like 2026-11-07 18:30, "
        "or 2026-11-07T18:30+01:00",
        "title: is empty",
        "online: 'meet.example.org' is not an http(s) link",
        "tags: expected text, got True (put it in quotes)",
        "multidate: expected true or false, got 'maybe'",
        "recurrent: 'daily' is not a rule Gancio implements (1w, 2w, 3w, 1m; 1d and 2m are "
        "accepted but broken)",
        "place.address: missing (Gancio needs it to create a new place)",
    ]


def test_source_error_message_names_the_file(tmp_path):
    with pytest.raises(SourceError) as caught:
        draft(tmp_path, front(start="later"), name="events/x.md".replace("/", "_"))
    assert str(caught.value).startswith("events_x.md: start: 'later' is not a date and time")


def test_end_before_start_and_no_front_matter(tmp_path):
    assert problems(tmp_path, front(end="2026-12-20 01:00")) == [
        "end: before start (an event past midnight ends the next day)"
    ]
    assert problems(tmp_path, "Just text.\n") == [
        "no front matter: start the file with a --- block"
    ]
    assert problems(tmp_path, "---\ntitle: x\nstart: a: b\n---\n") == [
        "front matter is not valid YAML at line 3: mapping values are not allowed in this context"
    ]


@pytest.mark.parametrize(
    ("written", "rule"),
    [
        ("weekly", {"frequency": "1w"}),
        ("every week", {"frequency": "1w"}),
        ("every 2 weeks", {"frequency": "2w"}),
        ("Fortnightly", {"frequency": "2w"}),
        ("every 3 weeks", {"frequency": "3w"}),
        ("monthly", {"frequency": "1m", "type": "ordinal"}),
        ("{frequency: 1w}", {"frequency": "1w"}),
        ("{frequency: 1m, type: -1}", {"frequency": "1m", "type": -1}),
        ("{frequency: 1m, type: 2}", {"frequency": "1m", "type": 2}),
    ],
)
def test_recurrence_shorthands_and_raw_rules(tmp_path, written, rule):
    recurrent = draft(tmp_path, front(recurrent=written)).recurrent
    assert recurrent is not None and recurrent.as_dict() == rule


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("{frequency: 1w, days: [5]}", "Gancio ignores days"),
        ("{frequency: 2m}", "'2m' is not a rule Gancio implements"),
        ("{frequency: 1w, type: 2}", "type only goes with frequency 1m"),
        ("{frequency: 1m, type: 9}", "monthly type is ordinal"),
        ("[1w]", "expected weekly, every 2 weeks, monthly, or {frequency: 1w}"),
    ],
)
def test_recurrence_rules_gancio_cannot_keep_are_refused(tmp_path, written, message):
    [problem] = problems(tmp_path, front(recurrent=written))
    assert problem.startswith("recurrent: ") and message in problem


def test_online_only_event_goes_to_gancios_online_place(tmp_path):
    event = draft(
        tmp_path,
        front(place=None, online="https://meet.example.org/x", tags="solo"),
    )
    assert event.place_name == "online" and event.place_address == ""
    assert event.online_locations == ("https://meet.example.org/x",)
    assert event.tags == ("solo",)  # one tag, written without brackets


def test_place_forms(tmp_path):
    event = draft(tmp_path, front(place="Biblioteca Civica"))
    assert (event.place_name, event.place_address) == ("Biblioteca Civica", "")
    event = draft(
        tmp_path, front(place="{name: Parco, address: Viale 3, latitude: 45.46, longitude: 9.19}")
    )
    assert (event.latitude, event.longitude) == (45.46, 9.19)
    assert problems(tmp_path, front(place="{name: Parco, address: V, latitude: 45}")) == [
        "place: give both latitude and longitude, or neither"
    ]
    assert problems(tmp_path, front(place="{name: P, address: V, city: X}")) == [
        "place.city: unknown field (name, address, latitude, longitude)"
    ]


def test_local_image_is_relative_to_the_file_and_must_be_an_image(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "poster.png").write_bytes(PNG)
    (tmp_path / "notes.txt").write_text("not an image")
    event = draft(tmp_path, front(image="img/poster.png", image_alt="Il manifesto"))
    assert event.image == tmp_path / "img" / "poster.png"
    assert event.image_alt == "Il manifesto" and event.image_url is None
    assert problems(tmp_path, front(image="notes.txt")) == [
        "image: notes.txt is not a JPEG, PNG, WebP, GIF, AVIF or TIFF image"
    ]
    assert problems(tmp_path, front(image="missing.jpg")) == [
        "image: missing.jpg not found (paths are relative to the event file)"
    ]


def test_tags_are_merged_case_insensitively_like_gancio(tmp_path):
    event = draft(tmp_path, front(tags="[Musica, musica, ' jazz ', 2026]"))
    assert event.tags == ("Musica", "jazz", "2026")


def test_description_markdown_is_rendered_then_sanitised(tmp_path):
    body = "---\ntitle: T\nstart: 2026-12-20 21:00\nplace: P\n---\n"
    body += "[info](/event/x) <script>alert(1)</script> <b onclick='x()'>ok</b>\n\n- a\n- b\n"
    event = draft(tmp_path, body)
    assert "<script" not in event.description and "onclick" not in event.description
    assert 'href="https://gancio.example.org/event/x"' in event.description
    assert "<li>a</li>" in event.description and "<b>ok</b>" in event.description


def test_find_sources_walks_folders_in_order_skipping_readmes(tmp_path):
    (tmp_path / "events" / "2026").mkdir(parents=True)
    (tmp_path / "events" / "_drafts").mkdir()
    for name in ("b.md", "a.md", "README.md", "2026/c.md", "_drafts/d.md", "notes.txt"):
        (tmp_path / "events" / name).write_text("x")
    other = tmp_path / "one.md"
    other.write_text("x")
    found = find_sources([tmp_path / "events", other, tmp_path / "events" / "a.md"])
    names = [p.relative_to(tmp_path).as_posix() for p in found]
    assert names == ["events/2026/c.md", "events/a.md", "events/b.md", "one.md"]


def test_draft_is_frozen(tmp_path):
    event = draft(tmp_path, front())
    with pytest.raises(AttributeError):
        event.title = "x"  # type: ignore[misc]
    assert event.start.utcoffset() == timedelta(hours=1)
    assert event.start.tzinfo is not None and event.start.tzinfo != UTC
