"""Events parsed by the last build come back from its file, equal in every field.

A row seen before (byte for byte) is not parsed again; a row that differs in anything is;
its warnings come back with it; a damaged entry, other code or another zone parse anew.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fake_gancio import load_fixture
from test_hostile import corpus

from gancio_site.fragments import FORMAT, KEY_SIZE
from gancio_site.models import Event, Parser
from gancio_site.organise import parse_events
from gancio_site.parsed import FIELDS, Memo, event_digest, row_key

SALT = "0123456789abcdef0123456789abcdef"
ROME = ZoneInfo("Europe/Rome")


def rows() -> list[dict]:
    """Real rows (recurrent series with their rule, images, multi-day) and hostile ones."""
    fixture = load_fixture()["events"]
    series = [  # occurrences as the detail endpoint gives them: with their series' rule
        {**fixture[0], "id": 9001, "parentId": 1, "parent": {"id": 1, "recurrent": rule}}
        for rule in ({"frequency": "1w"}, {"frequency": "1m", "type": -1})
    ]
    series[1]["id"] = 9002
    return [*fixture, *series, *corpus()]


def parse(path: Path | None, data: list, tz: ZoneInfo = ROME, salt: str = SALT):
    parser = Parser(instance="https://g.example", tz=tz)
    memo = Memo(str(path) if path else None, salt)
    events = parse_events(data, parser, lambda row: memo.event(row, parser))
    memo.save()
    return events, parser.warnings, memo


def test_every_field_of_the_model_is_kept():
    assert tuple(f.name for f in dataclasses.fields(Event)) == FIELDS


def test_events_come_back_equal_with_their_warnings_and_digests(tmp_path: Path):
    path = tmp_path / "events.bin"
    fresh, fresh_warnings, first = parse(None, rows())
    assert first.made == len(rows()) and len(fresh) > 20
    assert any(e.recurrence is not None for e in fresh)  # the real rows' series rules
    assert any(e.image is not None for e in fresh) and any(e.end for e in fresh)
    assert len(fresh_warnings) > 10  # the hostile rows'
    parse(path, rows())
    again, warnings, memo = parse(path, rows())
    assert (memo.made, memo.reused) == (0, len(rows()))
    assert again == fresh and [repr(e) for e in again] == [repr(e) for e in fresh]
    assert warnings == fresh_warnings  # unusable rows and duplicates included
    assert [memo.digest(e) for e in again] == [event_digest(e) for e in fresh]


def test_a_row_that_differs_in_anything_is_parsed_again(tmp_path: Path):
    path = tmp_path / "events.bin"
    data = rows()
    parse(path, data)
    data[0] = {**data[0], "description": data[0].get("description", "") + "!"}
    data[1] = {**data[1], "start_datetime": float(data[1]["start_datetime"])}  # same number
    before, _, _ = parse(None, rows())
    events, _, memo = parse(path, data)
    assert memo.made == 2 and memo.reused == len(data) - 2
    assert "!" in events[0].description and "!" not in before[0].description
    assert events[1] == before[1]  # the same number, written as a float: the same event


def test_a_digest_asked_for_an_event_made_elsewhere_is_computed(tmp_path: Path):
    events, _, memo = parse(tmp_path / "events.bin", rows())
    changed = dataclasses.replace(events[0], title="Another title")
    assert memo.digest(changed) == event_digest(changed) != memo.digest(events[0])


def test_other_settings_or_a_damaged_entry_parse_anew(tmp_path: Path):
    path = tmp_path / "events.bin"
    fresh, _, _ = parse(path, rows())
    utc, _, memo = parse(path, rows(), tz=ZoneInfo("UTC"), salt="f" * 32)  # another zone
    assert memo.reused == 0 and utc[0].start.tzinfo == ZoneInfo("UTC")
    parse(path, rows())
    data = bytearray(path.read_bytes())
    entry = len(FORMAT) + KEY_SIZE + KEY_SIZE + 4  # the first entry's first byte
    data[entry : entry + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    again, _, memo = parse(path, rows())
    assert again == fresh  # the damaged entry's row parsed again


@pytest.mark.parametrize("row", [{"id": 1, "start_datetime": 5, "x": object()}, Path("x")])
def test_rows_that_are_not_json_values_are_parsed_every_time(row):
    assert row_key(row) is None
    _, _, memo = parse(None, [row])
    assert memo.made == 0


def test_a_build_after_one_change_parses_that_row_only(gancio, tmp_path: Path):
    from sitekit import site_config

    from gancio_site.build import build
    from gancio_site.fragments import Fragments

    config = site_config(gancio.url, tmp_path)
    first = build(config, now_ts=1796301525)
    path = next((tmp_path / "cache").glob("*/events.bin"))
    salt = path.read_bytes()[len(FORMAT) : len(FORMAT) + KEY_SIZE].decode()
    kept = len(Fragments(str(path), salt).old)
    assert kept >= first.events > 20
    gancio.touch(3, title="Prima modifica")
    second = build(config, now_ts=1796301525)
    stored = Fragments(str(path), salt)
    assert len(stored.old) == kept + 1  # the new row appended; the old one goes later
    page = next((tmp_path / "public" / "event").glob("*/index.html"))
    assert page.is_file() and second.events == first.events
    assert "Prima modifica" in (tmp_path / "public" / "index.html").read_text()
