"""Building against a server that answers like Gancio 1.21: fetching, caching, failing."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fake_gancio import FakeGancio
from sitekit import site_config

from gancio_site.api import GancioClient
from gancio_site.build import build
from gancio_site.errors import ApiError, ConfigError, StatusError

BASE = "https://example.org/"


def config_for(fake: FakeGancio, tmp_path: Path, **overrides):
    return site_config(fake.url, tmp_path, BASE, **overrides)


def quick(fake: FakeGancio) -> GancioClient:
    return GancioClient(fake.url, timeout=5, backoff=0.01)


def site_json(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "public" / "events.json").read_text("utf-8"))


def test_builds_every_upcoming_event_with_its_description(gancio, tmp_path, fixed_now):
    report = build(config_for(gancio, tmp_path), now_ts=fixed_now)
    events = site_json(tmp_path)["events"]
    assert report.events == len(events) == 30
    assert all(e["description"] for e in events if e["id"] != 16)  # 16 has none on Gancio
    assert not any(e["recurrent"] for e in events)
    assert site_json(tmp_path)["timezone"] == "Europe/Rome"  # from nodeinfo


def test_cold_build_makes_a_small_constant_number_of_requests(gancio, tmp_path, fixed_now):
    build(config_for(gancio, tmp_path), now_ts=fixed_now)
    paths = [r.path for r in gancio.requests]
    # nodeinfo, the list, one export for all descriptions; the export only covers events
    # that started in the last 24 hours or later, so event 11 (in progress since
    # yesterday morning) is the one detail request.
    assert paths == [
        "/.well-known/nodeinfo/2.0",
        "/api/events",
        "/api/export/json",
        "/api/event/detail/11",
    ]


def test_warm_build_downloads_no_description(gancio, tmp_path, fixed_now):
    config = config_for(gancio, tmp_path)
    build(config, now_ts=fixed_now)
    gancio.requests.clear()
    build(config, now_ts=fixed_now)
    assert [r.path for r in gancio.requests] == ["/.well-known/nodeinfo/2.0", "/api/events"]


def test_changed_event_is_refetched_alone(gancio, tmp_path, fixed_now):
    config = config_for(gancio, tmp_path)
    build(config, now_ts=fixed_now)
    gancio.touch(3, description="<p>Nuova descrizione</p>")
    gancio.requests.clear()
    build(config, now_ts=fixed_now)
    assert [r.path for r in gancio.requests][2:] == ["/api/event/detail/3"]
    event = next(e for e in site_json(tmp_path)["events"] if e["id"] == 3)
    assert event["description"] == "<p>Nuova descrizione</p>"


def test_offline_rebuilds_from_the_cache_without_network(gancio, tmp_path, fixed_now):
    config = config_for(gancio, tmp_path)
    build(config, now_ts=fixed_now)
    online = (tmp_path / "public" / "events.json").read_bytes()
    gancio.stop()
    report = build(config, mode="offline", now_ts=fixed_now)
    assert report.events == 30
    assert (tmp_path / "public" / "events.json").read_bytes() == online


def test_b03_query_encoding_and_place_names(gancio, tmp_path, fixed_now):
    config = config_for(
        gancio, tmp_path, tags=["jazz & blues", "c#", "musica"], places=["Parco della Pace", "2"]
    )
    build(config, now_ts=fixed_now)
    place_lookup, id_lookup, listing = gancio.requests[1:4]
    assert place_lookup.path == "/api/place/Parco%20della%20Pace"
    assert id_lookup.path == "/api/place/2"
    assert listing.path == "/api/events"
    assert listing.query == f"start={fixed_now}&tags=jazz%20%26%20blues,c%23,musica&places=3,2"
    events = site_json(tmp_path)["events"]
    assert events and all("musica" in [t["name"] for t in e["tags"]] for e in events)
    assert all(e["place"]["name"] in ("Parco della Pace", "Biblioteca Civica") for e in events)


def test_a_place_name_in_other_case_is_found_by_gancios_search(gancio, tmp_path, fixed_now):
    report = build(config_for(gancio, tmp_path, places=["parco DELLA pace"]), now_ts=fixed_now)
    asked = [(r.path, r.query) for r in gancio.requests[1:4]]
    assert asked[:2] == [
        ("/api/place/parco%20DELLA%20pace", ""),  # exact names only: 404
        ("/api/place", "search=parco%20DELLA%20pace"),
    ]
    assert asked[2][0] == "/api/events" and "places=3" in asked[2][1]
    assert report.events > 0


def test_unknown_place_name_is_a_config_error(gancio, tmp_path, fixed_now):
    with pytest.raises(ConfigError, match=r"places: .* has no place named 'Nowhere'"):
        build(config_for(gancio, tmp_path, places=["Nowhere"]), now_ts=fixed_now)
    assert not (tmp_path / "public").exists()


def test_show_recurrent_is_sent_only_as_true(gancio, tmp_path, fixed_now):
    build(config_for(gancio, tmp_path, show_recurrent=True), now_ts=fixed_now)
    assert "show_recurrent=true" in gancio.requests[1].query
    assert len(site_json(tmp_path)["events"]) == 39
    gancio.requests.clear()
    build(config_for(gancio, tmp_path, show_recurrent=False), now_ts=fixed_now)
    assert "show_recurrent" not in gancio.requests[1].query


def test_window_and_max_are_applied(gancio, tmp_path, fixed_now):
    build(config_for(gancio, tmp_path, end="+7d", max=5), now_ts=fixed_now)
    events = site_json(tmp_path)["events"]
    assert len(events) == 5
    assert "end=" in gancio.requests[1].query
    assert [e["start"] for e in events] == sorted(e["start"] for e in events)


def test_an_end_date_includes_the_events_of_that_day(gancio, tmp_path, fixed_now):
    # The fixture's now is Thursday 3 December 2026, 13:38 in Rome; the jazz concert (3)
    # starts on Saturday 5 December at 19:30, the social dinner (4) on the 6th at 20:00.
    build(config_for(gancio, tmp_path, end="2026-12-05"), now_ts=fixed_now)
    assert [e["id"] for e in site_json(tmp_path)["events"]] == [11, 3]
    last_second = int(datetime(2026, 12, 5, 23, 59, 59, tzinfo=ZoneInfo("Europe/Rome")).timestamp())
    assert f"end={last_second}" in gancio.requests[1].query
    gancio.requests.clear()
    build(config_for(gancio, tmp_path, end="today"), now_ts=fixed_now)  # in progress today
    assert [e["id"] for e in site_json(tmp_path)["events"]] == [11]


def test_retries_5xx_and_429_honouring_retry_after(gancio, tmp_path, fixed_now):
    gancio.fail("/api/events", status=503, times=2)
    gancio.fail(
        "/api/export/json",
        status=429,
        times=1,
        headers={"Retry-After": "1"},
        body="Too many requests, please try again later.",
    )
    report = build(config_for(gancio, tmp_path), now_ts=fixed_now, client=quick(gancio))
    assert report.events == 30
    assert gancio.count("/api/events") == 3
    assert gancio.count("/api/export/json") == 2


def test_failed_fetch_leaves_previous_output_byte_for_byte(gancio, tmp_path, fixed_now):
    config = config_for(gancio, tmp_path)
    build(config, now_ts=fixed_now)
    before = {p: p.read_bytes() for p in (tmp_path / "public").rglob("*") if p.is_file()}
    gancio.fail("/api/events", status=500, times=-1)
    with pytest.raises(StatusError, match=r"/api/events\?start=\d+ returned HTTP 500"):
        build(config, now_ts=fixed_now, client=quick(gancio))
    after = {p: p.read_bytes() for p in (tmp_path / "public").rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "public"]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("<html>login</html>", "text/html", "did not answer JSON"),
        ('{"not": "a list"}', "application/json", "did not answer a list of events"),
        ('[{"id": 1', "application/json", "did not answer JSON"),
        ("", "application/json", "did not answer JSON"),
    ],
)
def test_malformed_answers_are_clear_errors_naming_the_url(
    gancio, tmp_path, fixed_now, body, content_type, message
):
    gancio.fail("/api/events", status=200, body=body, content_type=content_type)
    with pytest.raises(ApiError, match=message) as caught:
        build(config_for(gancio, tmp_path), now_ts=fixed_now)
    assert f"{gancio.url}/api/events?start=" in str(caught.value)


def test_unreachable_server(tmp_path, fixed_now):
    fake = FakeGancio().start()
    fake.stop()  # nothing listens there any more
    client = GancioClient(fake.url, timeout=1, backoff=0.01)
    with pytest.raises(ApiError, match="connection refused"):
        build(config_for(fake, tmp_path), now_ts=fixed_now, client=client)


def test_slow_server_times_out(gancio, tmp_path, fixed_now):
    gancio.fail(
        "/.well-known", status=200, body="{}", delay=2, times=-1, content_type="application/json"
    )
    client = GancioClient(gancio.url, timeout=0.3, retries=1, backoff=0.01)
    with pytest.raises(ApiError, match="timeout"):
        build(config_for(gancio, tmp_path), now_ts=fixed_now, client=client)


def test_configured_timezone_overrides_the_instance(gancio, tmp_path, fixed_now):
    build(config_for(gancio, tmp_path, timezone="America/New_York"), now_ts=fixed_now)
    data = site_json(tmp_path)
    assert data["timezone"] == "America/New_York"
    assert data["events"][1]["start"].endswith("-05:00")


def test_detail_failure_builds_the_page_without_description(gancio, tmp_path, fixed_now):
    gancio.fail("/api/export/json", status=404, body="Not Found", times=-1)
    gancio.fail("/api/event/detail/3", status=404, body="Not Found", times=-1)
    report = build(config_for(gancio, tmp_path), now_ts=fixed_now)
    assert report.events == 30
    assert any(w.startswith("event 3: no description") for w in report.warnings)
    event = next(e for e in site_json(tmp_path)["events"] if e["id"] == 3)
    assert event["description"] == ""


def test_a_failing_detail_keeps_the_last_known_description(gancio, tmp_path, fixed_now):
    config = config_for(gancio, tmp_path)
    build(config, now_ts=fixed_now)
    before = next(e for e in site_json(tmp_path)["events"] if e["id"] == 3)["description"]
    assert before
    gancio.touch(3, title="Nuovo titolo", description="<p>Testo nuovo</p>")
    gancio.fail("/api/event/detail/3", status=502, body="Bad gateway", times=1)
    report = build(config, now_ts=fixed_now, client=GancioClient(gancio.url, retries=0))
    assert any(
        w.startswith("event 3: kept its last known description (GET ") for w in report.warnings
    ), report.warnings
    event = next(e for e in site_json(tmp_path)["events"] if e["id"] == 3)
    assert (event["title"], event["description"]) == ("Nuovo titolo", before)
    build(config, now_ts=fixed_now)  # asked again, answered this time: the new text
    event = next(e for e in site_json(tmp_path)["events"] if e["id"] == 3)
    assert "Testo nuovo" in event["description"]


def test_a_nodeinfo_that_says_nothing_keeps_the_last_builds_zone_and_name(
    gancio, tmp_path, fixed_now
):
    config = config_for(gancio, tmp_path)
    build(config, now_ts=fixed_now)
    page = (tmp_path / "public" / "index.html").read_bytes()
    for answer in ({"status": 404, "body": "Not Found"}, {"status": 200, "body": "{}"}):
        gancio.fail("/.well-known/nodeinfo/2.0", content_type="application/json", **answer)
        report = build(config, now_ts=fixed_now)
        assert report.source == "unchanged"  # not a whole site moved to UTC and renamed
        assert any("kept the last build's, Europe/Rome" in w for w in report.warnings)
        assert (tmp_path / "public" / "index.html").read_bytes() == page
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    gancio.fail("/.well-known/nodeinfo/2.0", status=404, body="Not Found")
    first = build(config_for(gancio, fresh), now_ts=fixed_now)  # nothing to keep: UTC, said so
    assert any("using UTC" in w for w in first.warnings)
