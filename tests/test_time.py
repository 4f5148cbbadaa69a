"""Times around daylight-saving changes, in both hemispheres, whatever the machine's TZ."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import icalendar
import pytest
from fake_gancio import FakeGancio

from gancio_site.build import build
from gancio_site.config import load_config

PLACE = {"id": 1, "name": "Sala", "address": "Via 1", "latitude": None, "longitude": None}
# zone, what happens, start (unix), end (unix or None), start as the site shows it, page text
CASES = [
    (
        "Europe/Rome",
        "spring forward: 01:30 to 03:30 is one hour",
        1774744200,
        1774747800,
        "2026-03-29T01:30:00+01:00",
        "1:30\u202fAM–3:30\u202fAM",
    ),
    (
        "Europe/Rome",
        "the repeated hour, first time (summer time)",
        1792888200,
        None,
        "2026-10-25T02:30:00+02:00",
        "2:30\u202fAM CEST",
    ),
    (
        "Europe/Rome",
        "the repeated hour, second time (winter time)",
        1792891800,
        None,
        "2026-10-25T02:30:00+01:00",
        "2:30\u202fAM CET",
    ),
    (
        "Europe/Rome",
        "across midnight",
        1796850000,
        1796864400,
        "2026-12-09T22:00:00+01:00",
        "Wednesday, December 9, 2026, 10:00\u202fPM – Thursday, December 10, 2026, 2:00\u202fAM",
    ),
    (
        "Australia/Sydney",
        "spring forward in October (southern hemisphere)",
        1791041400,
        1791045000,
        "2026-10-04T01:30:00+10:00",
        "1:30\u202fAM–3:30\u202fAM",
    ),
    (
        "Australia/Sydney",
        "the repeated hour in April, second time",
        1775320200,
        None,
        "2026-04-05T02:30:00+10:00",
        "2:30\u202fAM AEST",
    ),
    (
        "Australia/Sydney",
        "the repeated hour in April, first time (summer time)",
        1775316600,
        None,
        "2026-04-05T02:30:00+11:00",
        "2:30\u202fAM AEDT",
    ),
    (
        "Australia/Sydney",
        "across midnight in summer time",
        1796814000,
        1796828400,
        "2026-12-09T22:00:00+11:00",
        "Wednesday, December 9, 2026, 10:00\u202fPM – Thursday, December 10, 2026, 2:00\u202fAM",
    ),
    (
        "America/Sao_Paulo",
        "no daylight saving since 2019",
        1793503800,
        1793511000,
        "2026-11-01T00:30:00-03:00",
        "12:30\u202fAM–2:30\u202fAM",
    ),
]


def row(start: int, end: int | None) -> dict:
    return {
        "id": 1,
        "title": "Evento",
        "slug": "evento",
        "start_datetime": start,
        "end_datetime": end,
        "tags": [],
        "media": [],
        "online_locations": [],
        "place": PLACE,
        "parentId": None,
        "updatedAt": "2026-01-01T00:00:00.000Z",
        "description": "<p>x</p>",
        "is_visible": True,
        "recurrent": None,
    }


def build_one(fake: FakeGancio, folder: Path, zone: str, now: int) -> Path:
    env = {
        "GANCIO_INSTANCE": fake.url,
        "GANCIO_BASE_URL": "https://example.org/",
        "GANCIO_OUTPUT": str(folder / "public"),
        "GANCIO_CACHE": str(folder / "c"),
        "GANCIO_TIMEZONE": zone,
    }
    build(load_config(None, env=env), now_ts=now)
    return folder / "public"


@pytest.mark.parametrize(
    ("zone", "what", "start", "end", "shown", "text"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES]
)
def test_daylight_saving_edges(tmp_path, monkeypatch, zone, what, start, end, shown, text):
    outputs = []
    with FakeGancio([row(start, end)], now=start - 86400) as fake:
        for machine in ("UTC", "America/New_York"):
            monkeypatch.setenv("TZ", machine)
            time.tzset()
            site = build_one(fake, tmp_path / machine.replace("/", "-"), zone, start - 86400)
            outputs.append(
                {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
            )
    monkeypatch.delenv("TZ")
    time.tzset()
    assert outputs[0] == outputs[1]  # the machine's zone never shows
    event = json.loads((site / "events.json").read_text())["events"][0]
    assert event["start"] == shown
    assert text in (site / "event/evento/index.html").read_text("utf-8")
    vevent = icalendar.Calendar.from_ical((site / "events.ics").read_bytes()).walk("VEVENT")[0]
    assert int(vevent.decoded("DTSTART").timestamp()) == start
    if end is not None:
        assert int(vevent.decoded("DTEND").timestamp()) == end
    else:
        assert "DTEND" not in vevent


def test_the_home_page_lists_what_is_on_from_now(tmp_path):
    # 3 December 2026, 18:00 in Rome: an event that ended this morning is gone; one that
    # began two days ago and ends tomorrow is listed under today (its first day on the
    # list), with its whole range on its page; one that began at 17:00 stays under today.
    now = 1796317200
    hour = 3600

    def event(id_: int, slug: str, start: int, end: int | None) -> dict:
        return {**row(start, end), "id": id_, "slug": slug, "title": slug}

    rows = [
        event(1, "ended", now - 10 * hour, now - 8 * hour),
        event(2, "festival", now - 48 * hour, now + 24 * hour),
        event(3, "started", now - hour, now + 2 * hour),
        event(4, "tomorrow", now + 24 * hour, None),
    ]
    rows[1]["multidate"] = True
    with FakeGancio(rows, now=now) as fake:
        site = build_one(fake, tmp_path, "Europe/Rome", now)
    home = (site / "index.html").read_text("utf-8")
    days = re.findall(
        r'<section class="day" aria-labelledby="day-([0-9-]+)">(.*?)</section>', home, re.S
    )
    listed = {day: re.findall(r'class="u-url" href="event/([a-z]+)/"', body) for day, body in days}
    assert listed == {"2026-12-03": ["festival", "started"], "2026-12-04": ["tomorrow"]}
    assert not (site / "event" / "ended").exists()
    page = (site / "event" / "festival" / "index.html").read_text("utf-8")
    assert "Tuesday, December 1, 2026" in page and "Friday, December 4, 2026" in page
