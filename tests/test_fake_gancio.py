"""Pins the fake Gancio server to the behaviour captured from a real Gancio 1.21.0 instance.

Every expected value below was copied from the captured exchanges (capture names in the
comments), taken on the final data set, which is the one in ``fixtures/instance.json``.
"""

from __future__ import annotations

import gzip
import os
import socket
import threading
import time
from pathlib import Path

import pytest
import requests
from fake_gancio import FIXED_NOW, FakeGancio, html_to_text, load_fixture

# fmt: off
# events-upcoming.json: GET /api/events
UPCOMING = [11, 3, 4, 43, 6, 5, 44, 48, 7, 8, 9, 12, 15, 13, 10, 14, 16, 17, 19, 20, 21, 22,
            23, 24, 25, 27, 50, 51, 26, 18]
# events-upcoming-recurrent.json: GET /api/events?show_recurrent=true
UPCOMING_RECURRENT = [11, 39, 29, 33, 3, 47, 41, 4, 43, 6, 5, 44, 45, 48, 7, 8, 9, 12, 15, 13,
                      10, 31, 14, 16, 17, 19, 20, 21, 22, 23, 24, 25, 37, 27, 50, 51, 35, 26, 18]
# events-all.json: GET /api/events?start=0
ALL = [2, 1, *UPCOMING]
# events-all-recurrent.json: GET /api/events?start=0&show_recurrent=true
ALL_RECURRENT = [2, 1, *UPCOMING_RECURRENT]
# export-json.json: GET /api/export/json
EXPORT = [3, 4, 43, 6, 5, 44, 48, 7, 8, 9, 12, 15, 13, 10, 14, 16, 17, 19, 20, 21, 22, 23, 24,
          25, 27, 50, 51, 26, 18]
# f07: GET /api/export/json?show_recurrent=false (any non-empty value counts)
EXPORT_RECURRENT = [39, 29, 33, 3, 47, 41, 4, 43, 6, 5, 44, 45, 48, 7, 8, 9, 12, 15, 13, 10,
                    31, 14, 16, 17, 19, 20, 21, 22, 23, 24, 25, 37, 27, 50, 51, 35, 26, 18]

LIST_KEYS = ["id", "title", "slug", "start_datetime", "end_datetime", "media", "online_locations",
             "updatedAt", "apUserApId", "parentId", "tags", "place"]
DETAIL_KEYS = ["id", "title", "slug", "description", "multidate", "start_datetime",
               "end_datetime", "image_path", "media", "is_visible", "recurrent", "likes", "boost",
               "online_locations", "parentId", "tags", "place", "resources", "parent", "isMine",
               "isAnon", "next", "prev", "plain_description"]
EXPORT_KEYS = ["id", "title", "slug", "description", "multidate", "start_datetime",
               "end_datetime", "image_path", "media", "online_locations", "ap_object", "ap_id",
               "updatedAt", "apUserApId", "parentId", "tags", "place"]
# fmt: on


def ids(response: requests.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [event["id"] for event in response.json()]


def get(gancio: FakeGancio, path: str, **params: str) -> requests.Response:
    return requests.get(gancio.url + path, params=params, timeout=5)


# ---------------------------------------------------------------- GET /api/events: selection


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", UPCOMING),
        ("show_recurrent=true", UPCOMING_RECURRENT),
        ("show_recurrent=TRUE", UPCOMING_RECURRENT),
        ("show_recurrent=1", UPCOMING),  # q03: only "true" counts
        ("show_recurrent=yes", UPCOMING),
        ("start=0", ALL),
        ("start=0&show_recurrent=true", ALL_RECURRENT),
        ("max=3", [11, 3, 4]),  # q01: 11 is multidate and began before now
        ("max=2&page=1", [4, 43]),  # q17: page is 0-based
        ("max=abc&start=0", ALL),  # q22: non-numeric max = no limit
        ("reverse=true&max=3", [11, 3, 4]),  # q26: ignored
        ("tags=concerto", [3, 15]),  # q04
        ("tags=concerto,fotografia", [11, 3, 15]),  # q05: any-of
        ("tags=concerto,%20fotografia", [11, 3, 15]),  # q10: trimmed
        ("tags=CONCERTO", []),  # q08: case-sensitive
        ("tags=nonexistent-tag", []),  # q27
        ("tags=tecnolog%C3%ADa&show_recurrent=true", [47, 8]),  # q09
        ("places=3", [3, 15, 10, 23, 18]),  # q11
        ("places=3,2&max=6", [11, 3, 9, 12, 15, 10]),  # q12
        ("places=Parco%20della%20Pace", []),  # q13: ids only
        ("tags=musica&places=3", [3, 15, 10, 23]),  # q14: AND
        ("older=true&start=1796252400", [2, 1, 11]),  # q18: still ascending
        ("query=concerto", [3, 15, 21]),  # q19
        ("start=1796598000&end=1796770800", [43, 6, 5, 44]),  # q15
        ("end=yesterday", UPCOMING),  # q23: ignored
        ("start=abc", []),  # q21
        ("start=2026-12-10", []),  # q24
        ("start=1796252400000", []),  # q25: milliseconds
        ("show_multidate=false", [i for i in UPCOMING if i not in (10, 11)]),  # q20
    ],
)
def test_event_list_selection_matches_captures(gancio: FakeGancio, query: str, expected: list):
    assert ids(requests.get(f"{gancio.url}/api/events?{query}", timeout=5)) == expected


@pytest.mark.parametrize(
    "query",
    ["tags[]=concerto&tags[]=fotografia", "tags=concerto&tags=fotografia", "places[]=3"],
)
def test_array_style_filters_give_500(gancio: FakeGancio, query: str):  # q06, q07
    response = requests.get(f"{gancio.url}/api/events?{query}", timeout=5)
    assert response.status_code == 500
    assert response.text == "500: Internal Server Error"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["ETag"] == 'W/"1a-pq9TNpJ71O6fobKkE1DsT6fbjsQ"'


def test_list_item_shape(gancio: FakeGancio):
    events = get(gancio, "/api/events", start="0").json()
    by_id = {event["id"]: event for event in events}
    assert list(by_id[3]) == LIST_KEYS  # multidate null/false: no key at all
    assert list(by_id[11]) == [*LIST_KEYS[:3], "multidate", *LIST_KEYS[3:]]
    assert by_id[11]["multidate"] is True
    assert all("description" not in e and "is_visible" not in e for e in events)
    assert by_id[3]["tags"] == ["concerto", "musica"]  # q01: sorted in lists
    assert by_id[3]["place"] == {
        "id": 3,
        "name": "Parco della Pace",
        "address": "Viale dei Tigli 3, 20121 Milano",
        "latitude": 45.4642,
        "longitude": 9.19,
    }
    assert by_id[17]["end_datetime"] is None
    assert by_id[7]["slug"] is None
    assert by_id[3]["apUserApId"] is None


def test_headers_like_express(gancio: FakeGancio):
    response = get(gancio, "/api/place", search="parco")  # p03
    assert response.json() == [
        {
            "name": "Parco della Pace",
            "address": "Viale dei Tigli 3, 20121 Milano",
            "latitude": 45.4642,
            "longitude": 9.19,
            "id": 3,
        }
    ]
    headers = response.headers
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["RateLimit-Policy"] == "250;w=60"
    assert headers["RateLimit-Limit"] == "250"
    assert int(headers["RateLimit-Remaining"]) < 250
    assert headers["ETag"] == 'W/"74-TwQ3MPo8C8ZI6tMNAxDlPD1e1jo"'  # the real server's ETag
    assert headers["Content-Encoding"] == "gzip"
    assert "Access-Control-Allow-Origin" not in get(gancio, "/api/ping").headers  # m05


def test_gzip_only_when_asked_and_etag_revalidation(gancio: FakeGancio):
    raw = requests.get(
        gancio.url + "/api/events", headers={"Accept-Encoding": "identity"}, timeout=5
    )
    assert "Content-Encoding" not in raw.headers
    zipped = requests.get(gancio.url + "/api/events", stream=True, timeout=5)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.raw.read()) == raw.content
    again = requests.get(
        gancio.url + "/api/events", timeout=5, headers={"If-None-Match": raw.headers["ETag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


# ---------------------------------------------------------------- detail


def test_detail_of_an_occurrence(gancio: FakeGancio):  # d06
    body = get(gancio, "/api/event/detail/corso-di-italiano-per-stranieri-1").json()
    assert list(body) == DETAIL_KEYS
    assert body["id"] == 29
    assert body["parent"] == {
        "id": 28,
        "recurrent": {"frequency": "2w"},
        "is_visible": True,
        "start_datetime": 1796403600,
    }
    assert body["next"] == "mercatino-del-libro-usato-1"
    assert body["prev"] == "yoga-al-parco-ogni-giorno-1"
    assert body["plain_description"] == "Ogni settimana."
    assert (body["likes"], body["boost"], body["resources"]) == ([], [], [])
    assert (body["isMine"], body["isAnon"], body["image_path"]) == (False, False, None)


def test_detail_by_id_of_a_parent_and_numeric_neighbours(gancio: FakeGancio):
    parent = get(gancio, "/api/event/detail/28").json()  # d05
    assert parent["recurrent"] == {"frequency": "2w"}
    assert parent["parent"] is None
    assert parent["multidate"] is False
    assert get(gancio, "/api/event/detail/1").json()["multidate"] is None
    webinar = get(gancio, "/api/event/detail/webinar-privacy-digitale-per-tutti").json()  # d08
    assert webinar["prev"] == 7  # the neighbour has no slug
    assert webinar["next"] == "laboratorio-ibrido-di-riparazione-bici"
    assert get(gancio, "/api/event/detail/3").json()["tags"] == ["musica", "concerto"]


def test_plain_description_like_html_to_text(gancio: FakeGancio):  # d07 / e13 / e24
    hostile = get(gancio, "/api/event/detail/13").json()["plain_description"]
    assert hostile == (
        "para con onclick\n\njs link mixed case data link vb protocol-relative "
        "[//evil.example/x] ok link\n[https://ok.example/]<script> as text & 5 < 6"
    )
    assert get(gancio, "/api/event/detail/24").json()["plain_description"] == (
        "Riga uno Riga due Visita https://example.org/info [https://example.org/info]\n"
        "oppure scrivi a info@example.org"
    )
    assert html_to_text("<h2>Hi</h2><ul><li>a</li></ul>") == "HI\n\n * a"


@pytest.mark.parametrize(
    "path",
    [
        "/api/event/detail/this-slug-does-not-exist",  # d04
        "/api/event/detail/999999",  # d04b
        "/api/event/detail/49",  # c02: hidden
        "/api/event/3",  # d09: no such route
        "/api/place/9999",  # p06
        "/api/tag/Musica",  # t05: case-sensitive
        "/api/does-not-exist",  # m03
    ],
)
def test_not_found(gancio: FakeGancio, path: str):
    response = get(gancio, path)
    assert response.status_code == 404
    assert response.text == "Not Found"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["ETag"] == 'W/"9-0gXL1ngzMqISxa6S1zx3F4wtLyg"'


# ---------------------------------------------------------------- export, places, tags, misc


def test_export_json(gancio: FakeGancio):
    rows = get(gancio, "/api/export/json").json()
    assert [row["id"] for row in rows] == EXPORT
    assert list(rows[0]) == EXPORT_KEYS
    first = rows[0]
    assert first["tags"] == [{"tag": "concerto"}, {"tag": "musica"}]
    assert first["place"] == {
        "name": "Parco della Pace",
        "id": 3,
        "address": "Viale dei Tigli 3, 20121 Milano",
    }
    assert first["description"] == "<p>Quartetto jazz dal vivo (senza immagine ora).</p>"
    assert (first["ap_object"], first["ap_id"], first["image_path"]) == (None, None, None)
    assert ids(get(gancio, "/feed/json")) == EXPORT
    assert ids(get(gancio, "/api/export/json", show_recurrent="false")) == EXPORT_RECURRENT


def test_export_tag_filter_trims_tags(gancio: FakeGancio):  # f12
    rows = get(gancio, "/api/export/json", tags="concerto").json()
    assert [(row["id"], row["tags"]) for row in rows] == [
        (3, [{"tag": "concerto"}]),
        (15, [{"tag": "concerto"}]),
    ]


def test_places(gancio: FakeGancio):
    by_id = get(gancio, "/api/place/3").json()  # p04
    assert [e["id"] for e in by_id["events"]] == [39, 3, 15, 10, 31, 23, 37, 18]
    assert list(by_id["place"]) == [
        "id",
        "name",
        "ap_id",
        "address",
        "latitude",
        "longitude",
        "createdAt",
        "updatedAt",
    ]
    by_name = get(gancio, "/api/place/Biblioteca%20Civica").json()  # p05
    assert [e["id"] for e in by_name["events"]] == [11, 29, 33, 9, 12, 19, 27]
    assert by_name["place"]["id"] == 2
    missing = get(gancio, "/api/place")  # p03b
    assert (missing.status_code, missing.text) == (500, "500: Internal Server Error")


def test_tag_events(gancio: FakeGancio):
    assert ids(get(gancio, "/api/tag/musica")) == [3, 4, 6, 15, 10, 21, 23]  # t04
    assert ids(get(gancio, "/feed/json/tag/concerto")) == [3, 15]  # f11


def test_nodeinfo_ping_and_forbidden():
    with FakeGancio(timezone="America/New_York") as fake:
        info = get(fake, "/.well-known/nodeinfo/2.0").json()
        assert info["metadata"]["nodeTimezone"] == "America/New_York"
        assert info["software"] == {"name": "gancio", "version": "1.21.0"}
        ping = get(fake, "/api/ping")
        assert (ping.status_code, ping.text) == (200, "OK")
        assert get(fake, "/api/settings").status_code == 403  # a09
        assert requests.options(fake.url + "/api/events", timeout=5).status_code == 404  # cors02


# ---------------------------------------------------------------- the Python API of the fake


def test_fail_injection_and_counting(gancio: FakeGancio):
    gancio.fail("/api/events", times=2)
    assert get(gancio, "/api/events").status_code == 500
    assert get(gancio, "/api/events", max="1").text == "500: Internal Server Error"
    assert ids(get(gancio, "/api/events", max="1")) == [11]
    gancio.fail(
        "/api/event/detail/",
        status=429,
        body="Too many requests, please try again later.",
        times=-1,
        headers={"Retry-After": "300"},
    )
    for _ in range(3):
        limited = get(gancio, "/api/event/detail/3")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "300"
    assert gancio.count("/api/events") == 3
    assert gancio.count("/api/event/detail/") == 3
    assert gancio.count("/api/") == 6


def test_fail_with_delay_makes_the_client_time_out(gancio: FakeGancio):
    gancio.fail("/api/events", delay=2)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        requests.get(gancio.url + "/api/events", timeout=0.3)
    assert time.monotonic() - started < 1.5
    assert ids(get(gancio, "/api/events", max="1")) == [11]


def test_requests_are_recorded(gancio: FakeGancio):
    requests.get(
        gancio.url + "/api/events?tags=a,b&max=&x=1&x=2", timeout=5, headers={"User-Agent": "probe"}
    )
    recorded = gancio.requests[-1]
    assert (recorded.method, recorded.path) == ("GET", "/api/events")
    assert recorded.query == "tags=a,b&max=&x=1&x=2"
    assert recorded.params == {"tags": ["a,b"], "max": [""], "x": ["1", "2"]}
    assert recorded.headers["User-Agent"] == "probe"
    assert recorded.body == b""


def test_events_are_mutable_and_touch_bumps_updated_at(gancio: FakeGancio):
    before = {e["id"]: e for e in get(gancio, "/api/events").json()}
    gancio.touch(3, title="Nuovo titolo")
    after = {e["id"]: e for e in get(gancio, "/api/events").json()}
    assert after[3]["title"] == "Nuovo titolo"
    assert after[3]["updatedAt"] > max(e["updatedAt"] for e in before.values())
    assert after[3]["updatedAt"].endswith("Z")
    gancio.events.append(
        {
            "id": 99,
            "title": "Sparse",
            "slug": "sparse",
            "start_datetime": FIXED_NOW + 60,
            "place": {"id": 1, "name": "X"},
        }
    )
    gancio.events[:] = [e for e in gancio.events if e["id"] != 11]
    listed = ids(get(gancio, "/api/events", max="2"))
    assert listed == [99, 3]


def test_explicit_events_and_now():
    rows = [e for e in load_fixture()["events"] if e["id"] in (1, 2)]
    with FakeGancio(rows, now=0) as fake:
        assert ids(get(fake, "/api/events")) == [2, 1]
        rows[0]["title"] = "changed"  # the fake keeps its own copy
        assert get(fake, "/api/event/detail/1").json()["title"] != "changed"


def test_stop_closes_keep_alive_connections_and_threads():
    fake = FakeGancio().start()
    session = requests.Session()
    assert session.get(fake.url + "/api/ping", timeout=5).text == "OK"  # connection kept open
    port = int(fake.url.rsplit(":", 1)[1])
    fake.stop()
    fake.stop()  # idempotent
    assert not [t for t in threading.enumerate() if t.name == f"fake-gancio-{port}"]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    session.close()


# ---------------------------------------------------------------- conftest fixtures


def test_environment_is_isolated(tmp_path: Path, fixed_now: int):
    assert fixed_now == 1796301525
    assert Path.cwd() == tmp_path
    assert not [k for k in os.environ if k.startswith("GANCIO_") or k == "SOURCE_DATE_EPOCH"]
    for variable in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        folder = Path(os.environ[variable])
        assert folder.is_dir()
        assert not folder.is_relative_to(tmp_path)
        assert list(folder.iterdir()) == []
