"""Recurrent series: each occurrence says its rule and links its series' other dates, the
calendars hold each date once, the rule survives warm and offline builds, and it costs no
request a build would not make anyway once the series is known.

Gancio keeps one future occurrence per series (API.md section 7), but an instance shows more
at once: the one going on beside the next one, the ones an edited rule left behind, and
those of a start in the past. The instance below has several per series, of every rule.
"""

from __future__ import annotations

import html
import posixpath
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from babel.dates import format_date
from fake_gancio import FIXED_NOW, FakeGancio
from sitekit import build_demo, site_config

from gancio_site.build import build

ROME = ZoneInfo("Europe/Rome")
SYDNEY = ZoneInfo("Australia/Sydney")
NOW = FIXED_NOW  # Thursday 3 December 2026, 13:38 in Rome
PLACE = {"id": 1, "name": "Sala", "address": "Via Roma 1", "latitude": None, "longitude": None}


def at(text: str, zone: ZoneInfo = ROME) -> int:
    """Unix seconds of a wall-clock time ("2026-12-08 18:00") in ``zone``."""
    return int(datetime.fromisoformat(text).replace(tzinfo=zone).timestamp())


def row(event_id: int, title: str, start: int, **fields: object) -> dict:
    return {
        "id": event_id,
        "title": title,
        "slug": f"{title.lower().replace(' ', '-')}-{event_id}",
        "start_datetime": start,
        "end_datetime": start + 7200,
        "place": PLACE,
        "tags": ["corso"],
        "description": f"<p>{title}</p>",
        "updatedAt": "2026-12-01T10:00:00.000Z",
        **fields,
    }


def series(parent: int, title: str, rule: dict, first: str, dates: list[str], **kw) -> list:
    """A parent (never listed) and its occurrences, numbered after it."""
    zone = kw.pop("zone", ROME)
    rows = [row(parent, title, at(first, zone), recurrent=rule, **kw)]
    rows += [
        row(parent + i, title, at(start, zone), parentId=parent) for i, start in enumerate(dates, 1)
    ]
    return rows


# name: (parent id, rule, the parent's start, occurrences, the rule in English)
SERIES = {
    "weekly": (
        100,
        {"frequency": "1w"},
        "2026-12-01 18:00",
        ["2026-12-08 18:00", "2026-12-15 18:00", "2026-12-22 18:00"],
        "Every week on Tuesday",
    ),
    "fortnightly": (
        110,
        {"frequency": "2w"},
        "2026-12-04 21:00",
        ["2026-12-04 21:00", "2026-12-18 21:00"],
        "Every 2 weeks on Friday",
    ),
    "three_weeks": (
        120,
        {"frequency": "3w"},
        "2026-11-22 11:00",
        ["2026-12-13 11:00"],
        "Every 3 weeks on Sunday",
    ),
    "day": (
        130,
        {"frequency": "1m", "type": "ordinal"},
        "2026-11-15 10:00",
        ["2026-12-15 10:00", "2027-01-15 10:00"],
        "Every month on day 15",
    ),
    "second": (
        140,
        {"frequency": "1m", "type": 2},
        "2026-11-10 21:00",
        ["2026-12-08 21:00"],
        "Every month on the second Tuesday",
    ),
    "last": (
        150,
        {"frequency": "1m", "type": -1},
        "2026-11-27 18:00",
        ["2026-12-25 18:00"],
        "Every month on the last Friday",
    ),
    "first_sunday": (
        160,
        {"frequency": "1m", "type": 1},
        "2026-12-06 11:00",
        ["2026-12-06 11:00", "2027-01-03 11:00"],
        "Every month on the first Sunday",
    ),
    # Stored but broken (API.md section 7): the rule stays unknown, the repeats go.
    "daily": (
        170,
        {"frequency": "1d"},
        "2026-12-04 07:00",
        ["2026-12-04 07:00", "2026-12-04 07:00", "2026-12-04 07:00", "2026-12-05 07:00"],
        "Recurring",
    ),
}


def instance_rows() -> list[dict]:
    rows = [row(1, "Concerto", at("2026-12-05 21:00")), row(2, "Cena", at("2026-12-06 20:00"))]
    for name, (parent, rule, first, dates, _) in SERIES.items():
        hidden = {"is_visible": False} if name == "daily" else {}  # as on the live instance
        rows += series(parent, name.replace("_", " ").title(), rule, first, dates, **hidden)
    return rows


def occurrence_ids(name: str) -> list[int]:
    parent, *_, dates, _ = SERIES[name]
    return [parent + i for i in range(1, len(dates) + 1)]


def shown_ids(name: str) -> list[int]:
    """The occurrences a site shows: one per start time (the lowest id)."""
    parent, *_, dates, _ = SERIES[name]
    return [parent + dates.index(start) + 1 for start in dict.fromkeys(dates)]


def config(fake: FakeGancio, folder: Path, **overrides: object):
    return site_config(fake.url, folder, **{"show_recurrent": True, **overrides})


def slug(event_id: int) -> str:
    found = next(r for r in instance_rows() + sydney_rows() if r["id"] == event_id)
    return found["slug"]


def page(site: Path, event_id: int) -> str:
    return (site / "event" / slug(event_id) / "index.html").read_text("utf-8")


def rule_text(page_html: str) -> str:
    found = re.search(r'<p class="recurrence"><span class="badge">(.*?)</span></p>', page_html)
    return html.unescape(found[1]) if found else ""


def list_badges(index_html: str, event_id: int) -> list[str]:
    item = re.search(
        rf'<article class="event h-event">(?:(?!</article>).)*?href="event/{slug(event_id)}/"'
        r"(?:(?!</article>).)*</article>",
        index_html,
        re.S,
    )[0]
    return [html.unescape(b) for b in re.findall(r'<span class="badge">([^<]*)</span>', item)]


@pytest.fixture(scope="module")
def instance():
    with FakeGancio(instance_rows()) as fake:
        yield fake


@pytest.fixture(scope="module")
def site(instance, tmp_path_factory):
    """The instance built with ``show_recurrent``, in a given language (built once each)."""
    sites: dict[str, Path] = {}

    def built(language: str = "en") -> Path:
        if language not in sites:
            folder = tmp_path_factory.mktemp(f"site-{language}")
            build(config(instance, folder, language=language), now_ts=NOW)
            sites[language] = folder / "public"
        return sites[language]

    return built


# --- the rule, in words ----------------------------------------------------------------


@pytest.mark.parametrize("name", SERIES)
def test_each_occurrence_page_says_its_rule(site, name):
    english = SERIES[name][-1]
    for event_id in shown_ids(name):
        assert rule_text(page(site(), event_id)) == english


def test_list_entries_say_the_rule_compactly(site):
    home = (site() / "index.html").read_text("utf-8")
    compact = {"weekly": "Every week", "fortnightly": "Every 2 weeks", "day": "Every month"}
    compact |= {"three_weeks": "Every 3 weeks", "last": "Every month", "daily": "Recurring"}
    for name, text in compact.items():
        assert list_badges(home, shown_ids(name)[0]) == [text]
    assert list_badges(home, 1) == []  # not a series: no badge


def babel_day(language: str, start: str) -> str:
    """The weekday of an occurrence as Babel names it in ``language``."""
    return format_date(datetime.fromisoformat(start).date(), "EEEE", locale=language)


# Sentences per language; {tue}, {fri}, {sun}: Babel's weekday names in that language.
RULES = {
    "en": {
        "weekly": "Every week on {tue}",
        "fortnightly": "Every 2 weeks on {fri}",
        "three_weeks": "Every 3 weeks on {sun}",
        "day": "Every month on day 15",
        "second": "Every month on the second {tue}",
        "last": "Every month on the last {fri}",
        "first_sunday": "Every month on the first {sun}",
        "daily": "Recurring",
    },
    "it": {  # domenica is feminine: "la", "prima"
        "weekly": "Ogni {tue}",
        "fortnightly": "Ogni 2 settimane, il {fri}",
        "three_weeks": "Ogni 3 settimane, la {sun}",
        "day": "Ogni mese, il giorno 15",
        "second": "Ogni secondo {tue} del mese",
        "last": "Ogni ultimo {fri} del mese",
        "first_sunday": "Ogni prima {sun} del mese",
        "daily": "Ricorrente",
    },
    "es": {
        "weekly": "Cada {tue}",
        "fortnightly": "Cada 2 semanas, el {fri}",
        "three_weeks": "Cada 3 semanas, el {sun}",
        "day": "Cada mes, el día 15",
        "second": "El segundo {tue} de cada mes",
        "last": "El último {fri} de cada mes",
        "first_sunday": "El primer {sun} de cada mes",
        "daily": "Recurrente",
    },
    "fr": {
        "weekly": "Chaque {tue}",
        "fortnightly": "Toutes les 2 semaines, le {fri}",
        "three_weeks": "Toutes les 3 semaines, le {sun}",
        "day": "Chaque mois, le 15",
        "second": "Le deuxième {tue} de chaque mois",
        "last": "Le dernier {fri} de chaque mois",
        "first_sunday": "Le premier {sun} de chaque mois",
        "daily": "Récurrent",
    },
    "de": {
        "weekly": "Jeden {tue}",
        "fortnightly": "Alle 2 Wochen am {fri}",
        "three_weeks": "Alle 3 Wochen am {sun}",
        "day": "Jeden Monat am 15.",
        "second": "Jeden zweiten {tue} im Monat",
        "last": "Jeden letzten {fri} im Monat",
        "first_sunday": "Jeden ersten {sun} im Monat",
        "daily": "Regelmäßig",
    },
    "ca": {
        "weekly": "Cada {tue}",
        "fortnightly": "Cada 2 setmanes, el {fri}",
        "three_weeks": "Cada 3 setmanes, el {sun}",
        "day": "Cada mes, el dia 15",
        "second": "El segon {tue} de cada mes",
        "last": "L’últim {fri} de cada mes",
        "first_sunday": "El primer {sun} de cada mes",
        "daily": "Recurrent",
    },
    "pt": {  # segunda- to sexta-feira are feminine, sábado and domingo masculine
        "weekly": "Toda {tue}",
        "fortnightly": "A cada 2 semanas, na {fri}",
        "three_weeks": "A cada 3 semanas, no {sun}",
        "day": "Todo mês, no dia 15",
        "second": "Na segunda {tue} de cada mês",
        "last": "Na última {fri} de cada mês",
        "first_sunday": "No primeiro {sun} de cada mês",
        "daily": "Recorrente",
    },
}


@pytest.mark.parametrize("language", RULES)
def test_the_rule_in_each_language_with_babels_day_names(site, language):
    days = {
        "tue": babel_day(language, "2026-12-08"),
        "fri": babel_day(language, "2026-12-04"),
        "sun": babel_day(language, "2026-12-13"),
    }
    assert days["tue"] != days["fri"] != days["sun"]
    built = site(language)
    shown = {name: rule_text(page(built, shown_ids(name)[0])) for name in SERIES}
    assert shown == {name: text.format(**days) for name, text in RULES[language].items()}


def test_a_rule_never_contradicts_the_dates_shown(site):
    # Every date of the series the site shows falls on the weekday its rule names.
    for name in ("weekly", "fortnightly", "second", "last"):
        text = rule_text(page(site(), shown_ids(name)[0]))
        for event_id in shown_ids(name):
            shown = re.search(r'class="dt-start" datetime="([^"]+)"', page(site(), event_id))[1]
            assert datetime.fromisoformat(shown).strftime("%A") in text


# --- links between occurrences --------------------------------------------------------


def other_dates(site: Path, event_id: int) -> list[tuple[str, str]]:
    """The "Other dates" of an event's page: (the linked page's path, the datetime)."""
    found = re.search(r'<ul class="other-dates">(.*?)</ul>', page(site, event_id), re.S)
    if found is None:
        return []
    folder = f"event/{slug(event_id)}"
    links = re.findall(r'<a href="([^"]+)"><time datetime="([^"]+)">', found[1])
    return [(posixpath.normpath(posixpath.join(folder, href)), when) for href, when in links]


@pytest.mark.parametrize("name", ["weekly", "fortnightly", "day", "first_sunday", "daily"])
def test_occurrences_link_each_other(site, name):
    ids = shown_ids(name)
    starts = {
        r["id"]: datetime.fromtimestamp(r["start_datetime"], ROME).isoformat()
        for r in instance_rows()
    }
    for event_id in ids:
        expected = [(f"event/{slug(other)}", starts[other]) for other in ids if other != event_id]
        links = other_dates(site(), event_id)
        assert links == expected
        assert all((site() / path / "index.html").is_file() for path, _ in links)


def test_single_occurrences_and_plain_events_have_no_other_dates(site):
    for event_id in [1, *shown_ids("second"), *shown_ids("last")]:
        assert "Other dates" not in page(site(), event_id)
        assert other_dates(site(), event_id) == []


def test_other_dates_are_translated(site):
    assert "<dt>Altre date</dt>" in page(site("it"), shown_ids("weekly")[0])
    assert "<dt>Otras fechas</dt>" in page(site("es"), shown_ids("weekly")[0])


# --- calendars: each date once --------------------------------------------------------


def vevents(path: Path) -> list:
    return icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT")


def test_calendars_hold_each_date_of_a_series_once(site, instance):
    events = vevents(site() / "events.ics")
    host = instance.url.split("//")[1]
    ids = [int(str(e["UID"]).removesuffix(f"@{host}")) for e in events]
    assert len(ids) == len(set(ids))  # one VEVENT per occurrence, each its own UID
    for event in events:  # no rule a calendar app would expand beside the occurrences
        assert not {"RRULE", "RDATE", "EXRULE", "EXDATE", "RECURRENCE-ID"} & set(event)
    starts = dict(zip(ids, (e.decoded("DTSTART") for e in events), strict=True))
    for name, (_, _, _, dates, _) in SERIES.items():
        mine = [starts[i] for i in occurrence_ids(name) if i in starts]
        wanted = [datetime.fromisoformat(d).replace(tzinfo=ROME) for d in dict.fromkeys(dates)]
        assert sorted(mine) == wanted  # every date, each once (1d's repeats left out)
    # Each occurrence's own calendar file: exactly that occurrence, with the same UID.
    for event_id in shown_ids("weekly"):
        (own,) = vevents(site() / "event" / slug(event_id) / "event.ics")
        assert str(own["UID"]) == f"{event_id}@{host}"


def test_repeated_occurrences_are_left_out_with_a_warning(instance, tmp_path):
    report = build(config(instance, tmp_path), now_ts=NOW)
    assert "series 170: left out 2 repeated occurrences at the same time" in " ".join(
        report.warnings
    )
    pages = {p.parent.name for p in (tmp_path / "public/event").glob("*/index.html")}
    assert {slug(i) for i in occurrence_ids("daily")} & pages == {slug(171), slug(174)}


# --- requests, cache, offline ---------------------------------------------------------


def paths(fake: FakeGancio) -> list[str]:
    return [r.path for r in fake.requests]


def first_occurrences() -> set[str]:
    return {f"/api/event/detail/{occurrence_ids(name)[0]}" for name in SERIES}


def test_a_series_costs_one_detail_request_once(tmp_path):
    with FakeGancio(instance_rows()) as fake:
        build(config(fake, tmp_path), now_ts=NOW)
        listed = paths(fake)
        # The export has no rule (API.md section 6): one detail per series, whose
        # description comes with it; everything else as before.
        assert listed[:3] == ["/.well-known/nodeinfo/2.0", "/api/events", "/api/export/json"]
        assert sorted(listed[3:]) == sorted(first_occurrences())
        # Warm: what a build without series asks, nothing more; the rules come from the cache.
        fake.requests.clear()
        build(config(fake, tmp_path, output=str(tmp_path / "fresh")), now_ts=NOW)
        assert paths(fake) == ["/.well-known/nodeinfo/2.0", "/api/events"]
    for name in SERIES:
        assert rule_text(page(tmp_path / "fresh", shown_ids(name)[0])) == SERIES[name][-1]


def test_offline_builds_keep_the_rules(tmp_path):
    with FakeGancio(instance_rows()) as fake:
        build(config(fake, tmp_path), now_ts=NOW)
    offline = config(fake, tmp_path, output=str(tmp_path / "offline"))
    report = build(offline, mode="offline", now_ts=NOW)
    assert report.requests == 0
    for name in SERIES:
        for event_id in shown_ids(name):
            assert rule_text(page(tmp_path / "offline", event_id)) == SERIES[name][-1]


@pytest.mark.parametrize("visible_by_default", [False, True])
def test_without_show_recurrent_no_request_is_added(tmp_path, visible_by_default):
    with FakeGancio(instance_rows()) as fake:
        # An instance may list occurrences by default (recurrent_event_visible): even then
        # nothing is asked about them.
        fake.recurrent_event_visible = visible_by_default
        build(config(fake, tmp_path, show_recurrent=False), now_ts=NOW)
        # The two plain events' descriptions, as always; no occurrence is asked about.
        listed = paths(fake)
        assert listed[:2] == ["/.well-known/nodeinfo/2.0", "/api/events"]
        assert sorted(listed[2:]) == ["/api/event/detail/1", "/api/event/detail/2"]
        assert ("show_recurrent" in fake.requests[1].query) is False


def inodes(site: Path) -> dict[Path, int]:
    return {p: p.stat().st_ino for p in site.glob("event/*/index.html")}


def rebuilt(site: Path, before: dict[Path, int]) -> set[str]:
    """The event pages written again (unchanged ones are linked from the previous site)."""
    return {p.parent.name for p in before if p.stat().st_ino != before[p]}


def test_a_new_occurrence_rewrites_its_series_pages_only(tmp_path):
    site = tmp_path / "public"
    with FakeGancio(instance_rows()) as fake:
        build(config(fake, tmp_path), now_ts=NOW)
        before = inodes(site)
        new = row(104, "Weekly", at("2026-12-29 18:00"), parentId=100)
        fake.events.append(new | {"updatedAt": "2026-12-03T12:00:00.000Z"})
        fake.requests.clear()
        build(config(fake, tmp_path), now_ts=NOW)
        # Its description from its detail, as always; the series' rule is known.
        assert paths(fake) == ["/.well-known/nodeinfo/2.0", "/api/events", "/api/event/detail/104"]
    assert rebuilt(site, before) == {slug(i) for i in occurrence_ids("weekly")}
    assert other_dates(site, 101)[-1] == ("event/weekly-104", "2026-12-29T18:00:00+01:00")
    assert rule_text((site / "event/weekly-104/index.html").read_text("utf-8")) == (
        "Every week on Tuesday"
    )


def test_a_detail_fetched_anyway_brings_the_newest_rule(tmp_path):
    """A changed occurrence's description comes from its detail, as it always did: the
    series' new rule comes with it, and every page of the series follows it."""
    site = tmp_path / "public"
    with FakeGancio(instance_rows()) as fake:
        build(config(fake, tmp_path), now_ts=NOW)
        before = inodes(site)
        parent = next(r for r in fake.events if r["id"] == 100)
        parent["recurrent"] = {"frequency": "2w"}  # the organiser changed the rule
        fake.touch(102, description="<p>Aula 2</p>")
        fake.requests.clear()
        build(config(fake, tmp_path), now_ts=NOW)
        assert paths(fake) == ["/.well-known/nodeinfo/2.0", "/api/events", "/api/event/detail/102"]
    for event_id in occurrence_ids("weekly"):
        assert rule_text(page(site, event_id)) == "Every 2 weeks on Tuesday"
    assert rebuilt(site, before) == {slug(i) for i in occurrence_ids("weekly")}


def test_an_unknown_rule_says_recurring_and_is_asked_again(tmp_path):
    with FakeGancio(instance_rows()) as fake:
        fake.fail("/api/event/detail/101", 404, "Not Found", content_type="text/plain")
        report = build(config(fake, tmp_path), now_ts=NOW)
        assert rule_text(page(tmp_path / "public", 101)) == "Recurring"
        assert "<p>Weekly</p>" in page(tmp_path / "public", 101)  # the export's description
        assert not [w for w in report.warnings if "event 101" in w]
        fake.requests.clear()
        build(config(fake, tmp_path), now_ts=NOW)
        assert paths(fake)[2:] == ["/api/event/detail/101"]
    assert rule_text(page(tmp_path / "public", 101)) == "Every week on Tuesday"


def test_a_series_whose_detail_has_no_parent_is_asked_about_once(tmp_path):
    orphan = row(300, "Orfano", at("2026-12-10 19:00"), parentId=299)  # no event 299
    with FakeGancio([*instance_rows(), orphan]) as fake:
        build(config(fake, tmp_path), now_ts=NOW)
        assert paths(fake).count("/api/event/detail/300") == 1
        fake.requests.clear()
        build(config(fake, tmp_path, output=str(tmp_path / "fresh")), now_ts=NOW)
        assert paths(fake) == ["/.well-known/nodeinfo/2.0", "/api/events"]
    orphan_page = (tmp_path / "fresh/event/orfano-300/index.html").read_text("utf-8")
    assert rule_text(orphan_page) == "Recurring"


# --- show_recurrent -------------------------------------------------------------------


@pytest.mark.parametrize("visible_by_default", [False, True])
def test_show_recurrent_false_leaves_every_occurrence_out(tmp_path, visible_by_default):
    occurrences = {i for name in SERIES for i in occurrence_ids(name)}
    with FakeGancio(instance_rows()) as fake:
        # An instance may list occurrences by default (recurrent_event_visible): still out.
        fake.recurrent_event_visible = visible_by_default
        report = build(config(fake, tmp_path, show_recurrent=False), now_ts=NOW)
    site = tmp_path / "public"
    assert report.events == 2
    pages = {p.parent.name for p in site.glob("event/*/index.html")}
    assert pages == {slug(1), slug(2)}
    uids = {str(e["UID"]).split("@")[0] for e in vevents(site / "events.ics")}
    assert uids == {"1", "2"} and not occurrences & {int(u) for u in uids}
    assert "Recurring" not in (site / "index.html").read_text("utf-8")


def test_an_instance_not_allowing_recurrent_events_lists_none(tmp_path):
    with FakeGancio(instance_rows()) as fake:
        fake.allow_recurrent_event = False  # Gancio forces show_recurrent to false
        report = build(config(fake, tmp_path), now_ts=NOW)
        assert "show_recurrent=true" in fake.requests[1].query
    assert report.events == 2


# --- time zones -----------------------------------------------------------------------


def sydney_rows() -> list[dict]:
    # Tuesday 08:00 in Sydney is Monday evening in UTC; Sydney's clocks go forward on
    # Sunday 4 October: 08:00 stays 08:00 (+10:00, then +11:00).
    rows = series(
        200,
        "Sydney weekly",
        {"frequency": "1w"},
        "2026-09-22 08:00",
        ["2026-09-29 08:00", "2026-10-06 08:00"],
        zone=SYDNEY,
    )
    rows += series(
        210,
        "Sydney first",
        {"frequency": "1m", "type": 1},
        "2026-11-03 08:00",
        ["2026-12-01 08:00"],
        zone=SYDNEY,
    )
    return rows


@pytest.mark.parametrize(
    ("zone", "weekly", "monthly", "dates"),
    [
        (
            "",  # the instance's: Sydney
            "Every week on Tuesday",
            "Every month on the first Tuesday",
            ["2026-09-29T08:00:00+10:00", "2026-10-06T08:00:00+11:00"],
        ),
        (
            # A site in São Paulo sees Monday evenings: the rule says Monday, and the
            # monthly one falls on Monday 30 November, not a first Monday: no weekday.
            "America/Sao_Paulo",
            "Every week on Monday",
            "Every month",
            ["2026-09-28T19:00:00-03:00", "2026-10-05T18:00:00-03:00"],
        ),
    ],
)
def test_the_weekday_is_local_not_utc(tmp_path, monkeypatch, zone, weekly, monthly, dates):
    now = at("2026-09-28 06:00", SYDNEY)
    assert datetime.fromtimestamp(at("2026-09-29 08:00", SYDNEY), UTC).weekday() == 0  # Monday
    outputs = []
    with FakeGancio(sydney_rows(), timezone="Australia/Sydney", now=now) as fake:
        for machine in ("UTC", "America/New_York"):  # the machine's zone never shows
            monkeypatch.setenv("TZ", machine)
            time.tzset()
            folder = tmp_path / machine.replace("/", "-")
            build(config(fake, folder, timezone=zone), now_ts=now)
            files = sorted(p for p in (folder / "public").rglob("*") if p.is_file())
            outputs.append({p.relative_to(folder): p.read_bytes() for p in files})
    monkeypatch.delenv("TZ")
    time.tzset()
    assert outputs[0] == outputs[1]
    site = folder / "public"
    first = (site / "event/sydney-weekly-201/index.html").read_text("utf-8")
    assert rule_text(first) == weekly
    assert re.search(r'class="dt-start" datetime="([^"]+)"', first)[1] == dates[0]
    assert other_dates(site, 201) == [("event/sydney-weekly-202", dates[1])]
    monthly_page = (site / "event/sydney-first-211/index.html").read_text("utf-8")
    assert rule_text(monthly_page) == monthly


# --- the demo: real data from Gancio 1.21 ---------------------------------------------


def test_the_demo_series_read_as_gancio_runs_them(tmp_path):
    build_demo(tmp_path, tmp_path / "public", "--show-recurrent", "--language", "it")
    expected = {  # recurrence-simulation.json: the dates Gancio's own generator made
        "corso-di-italiano-per-stranieri-1": "Ogni 2 settimane, il venerdì",
        "pulizia-del-parco-1": "Ogni 2 settimane, il martedì",
        "mercatino-del-libro-usato-1": "Ogni mese, il giorno 5",
        "cineforum-primo-martedi-del-mese-1": "Ogni primo martedì del mese",
        "critical-mass-ultimo-venerdi-1": "Ogni ultimo venerdì del mese",
        "podcast-live-settimanale-1": "Ogni sabato",
        "yoga-al-parco-ogni-giorno-1": "Ricorrente",  # 1d: broken on Gancio
        "riunione-ogni-due-mesi-1": "Ricorrente",  # 2m: broken on Gancio
        "settimanale-con-days-1": "Ricorrente",  # its parent lost its rule (PUT without it)
    }
    shown = {
        name: rule_text((tmp_path / "public/event" / name / "index.html").read_text("utf-8"))
        for name in expected
    }
    assert shown == expected


def test_a_build_asks_for_few_unknown_rules_at_a_time():
    from gancio_site.fetch import MAX_SERIES_PROBES, _series_probes

    rows = [{"id": 1000 + n, "parentId": n} for n in range(1, 60)]
    probes = _series_probes(rows, rows[:5], {})
    assert len(probes) == MAX_SERIES_PROBES == 20  # 59 series: the rest in later builds
    assert [row["parentId"] for row in probes[:5]] == [1, 2, 3, 4, 5]  # missing first
    known = {n: {"id": n} for n in range(1, 50)}
    assert [row["parentId"] for row in _series_probes(rows, [], known)] == list(range(50, 60))
