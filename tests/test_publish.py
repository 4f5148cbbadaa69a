"""publish: exact request bodies, idempotency, updates, duplicates avoided, rate limits, dry run.

Everything runs against the fake Gancio on 127.0.0.1 and is checked on the requests it got.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from fake_gancio import FakeGancio, Recorded

from gancio_site import auth
from gancio_site.api import GancioClient, Refused
from gancio_site.cli import main

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(48))
FIVE = {
    "corso-di-cucito.md": """---
title: Corso di cucito
start: 2027-01-14 18:30
end: 2027-01-14 20:00
place: {name: Sala Esempio, address: "Via Esempio 3, Torino"}
tags: [sartoria]
recurrent: weekly
---
Ogni giovedì. Porta **ago e filo**.
""",
    "festa-di-quartiere.md": """---
title: "Festa di quartiere: tre giorni"
start: 2027-01-22 17:00
end: 2027-01-24 23:00
multidate: true
place: {name: Parco della Pace, address: "Viale dei Tigli 3, Milano"}
tags: [musica, città]
---
Palco aperto e cucina popolare.
""",
    "mostra-manifesti.md": """---
title: Mostra di manifesti
start: 2027-02-05 10:00
end: 2027-02-05 19:00
place: {name: Biblioteca Civica, address: "Piazza Garibaldi 1, Bologna"}
tags: [arte]
image: manifesto.png
image_alt: Il manifesto della mostra
---
Cento anni di grafica.
""",
    "webinar-privacy.md": """---
title: "Webinar: privacy digitale"
start: 2027-02-10T18:00+01:00
end: 2027-02-10T19:30+01:00
online: [https://meet.example.org/privacy]
tags: tecnología
---
Strumenti liberi per la privacy.
""",
    "assemblea.md": """---
title: Assemblea di quartiere
start: 2027-02-15 21:00
place:
  name: Centro Sociale La Talpa
  address: Via Roma 12, Torino
  latitude: 45.0703
  longitude: 7.6869
tags: [assemblea]
---
Ordine del giorno: spazi verdi.
""",
}


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def publish(fake: FakeGancio, *args: str, env: dict[str, str] | None = None):
    return run("publish", "--instance", fake.url, *args, env=env)


def log_in(fake: FakeGancio, email: str = "admin@example.org") -> str:
    token = fake.token_for(email)
    auth.save_token(fake.url, token, email)
    return token


def write_events(folder: Path, events: dict[str, str] = FIVE) -> None:
    folder.mkdir(exist_ok=True)
    for name, text in events.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "manifesto.png").write_bytes(PNG)


def parts(recorded: Recorded) -> list[tuple[str, str | tuple[str, str, bytes]]]:
    """The fields of a multipart request, in order; files as (filename, type, bytes)."""
    boundary = recorded.headers["Content-Type"].split("boundary=")[1].encode()
    out: list[tuple[str, str | tuple[str, str, bytes]]] = []
    for chunk in recorded.body.split(b"--" + boundary)[1:-1]:
        head, _, data = chunk[2:-2].partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)[1].decode()
        filename = re.search(rb'filename="([^"]*)"', head)
        if filename:
            kind = re.search(rb"Content-Type: (.*)", head)[1].decode()
            out.append((name, (filename[1].decode(), kind, data)))
        else:
            out.append((name, data.decode()))
    return out


def writes(fake: FakeGancio) -> list[Recorded]:
    return [r for r in fake.requests if r.method in ("POST", "PUT")]


def rows(fake: FakeGancio, title: str) -> list[dict]:
    return [r for r in fake.events if r["title"] == title and r.get("parentId") is None]


@pytest.fixture
def five(gancio: FakeGancio, tmp_path: Path) -> FakeGancio:
    """A logged-in admin and the five events of FIVE in events/."""
    log_in(gancio)
    write_events(tmp_path / "events")
    return gancio


# ---------------------------------------------------------------- encoding (case B13)


def test_b13_exact_multipart_body(gancio, tmp_path):
    token = log_in(gancio)
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "cucito.md").write_text(
        "---\ntitle: Laboratorio di cucito\nstart: 2024-11-07 18:30\nend: 2024-11-07 20:00\n"
        "place: {name: Sala Esempio, address: Via Esempio 3}\ntags: [sartoria]\n"
        'recurrent: weekly\nimage: "https://img.example.org/locandina-café ©.jpg"\n---\n'
        "Porta **ago e filo**.\n",
        encoding="utf-8",
    )
    result = publish(gancio)
    assert result.exit_code == 0, result.output
    [post] = writes(gancio)
    assert (post.method, post.path) == ("POST", "/api/event")
    assert post.headers["Authorization"] == f"Bearer {token}"
    content_type = post.headers["Content-Type"]
    assert re.fullmatch(r"multipart/form-data; boundary=gancio-site-[0-9a-f]{32}", content_type)
    boundary = content_type.split("boundary=")[1]
    fields = [
        ("title", "Laboratorio di cucito"),
        ("description", "<p>Porta <strong>ago e filo</strong>.</p>"),
        ("start_datetime", "1731000600"),  # 18:30 Europe/Rome, the instance's zone
        ("end_datetime", "1731006000"),
        ("multidate", "false"),
        ("place_name", "Sala Esempio"),
        ("place_address", "Via Esempio 3"),
        ("tags[]", "sartoria"),  # one tag, still an array
        ("recurrent", '{"frequency":"1w"}'),  # one JSON text field
        ("image_url", "https://img.example.org/locandina-caf%C3%A9%20%C2%A9.jpg"),
    ]
    expected = (
        "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in fields
        )
        + f"--{boundary}--\r\n"
    )
    assert post.body == expected.encode()
    created = rows(gancio, "Laboratorio di cucito")[0]
    assert created["recurrent"] == {"frequency": "1w"} and created["tags"] == ["sartoria"]
    state = json.loads((tmp_path / ".gancio-publish.json").read_text())
    entry = state["instances"][gancio.url]["events"]["events/cucito.md"]
    assert entry["id"] == created["id"]
    assert result.stdout.splitlines() == [
        f"created events/cucito.md: id {created['id']}, {gancio.url}/event/laboratorio-di-cucito",
        "Published 1 file: 1 created, 0 updated, 0 unchanged, 0 failed",
    ]


def test_online_only_one_tag_and_an_uploaded_image(five):
    assert publish(five).exit_code == 0
    posts = {dict(parts(r))["title"]: parts(r) for r in writes(five)}
    webinar = posts["Webinar: privacy digitale"]
    assert ("place_name", "online") in webinar
    assert not any(name == "place_address" for name, _ in webinar)
    assert ("online_locations[]", "https://meet.example.org/privacy") in webinar
    assert [v for n, v in webinar if n.startswith("tags")] == ["tecnología"]
    assert [n for n, _ in webinar if n.startswith("tags")] == ["tags[]"]
    assert ("start_datetime", "1802278800") in webinar  # the offset in the file wins
    poster = posts["Mostra di manifesti"]
    assert poster[-1] == ("image", ("manifesto.png", "image/png", PNG))  # the file, last
    assert ("image_name", "Il manifesto della mostra") in poster
    festa = dict(posts["Festa di quartiere: tre giorni"])
    assert festa["multidate"] == "true"
    assert dict(posts["Assemblea di quartiere"])["place_latitude"] == "45.0703"
    assert "end_datetime" not in dict(posts["Assemblea di quartiere"])  # no end, left out


# ---------------------------------------------------------------- idempotency and updates


def test_second_run_sends_no_request_at_all(five):
    first = publish(five)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[-1] == (
        "Published 5 files: 5 created, 0 updated, 0 unchanged, 0 failed"
    )
    sent = len(five.requests)
    second = publish(five)
    assert second.exit_code == 0
    assert second.stdout == "Published 5 files: 0 created, 0 updated, 5 unchanged, 0 failed\n"
    assert len(five.requests) == sent  # not even the time zone or the account


def test_a_changed_file_is_updated_with_every_field(five, tmp_path):
    publish(five)
    event_id = rows(five, "Mostra di manifesti")[0]["id"]
    media = rows(five, "Mostra di manifesti")[0]["media"]
    path = tmp_path / "events" / "mostra-manifesti.md"
    path.write_text(path.read_text().replace("tags: [arte]", "tags: [arte, grafica]"))
    sent = len(five.requests)
    result = publish(five)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"updated events/mostra-manifesti.md: id {event_id}, {five.url}/event/mostra-di-manifesti",
        "Published 5 files: 0 created, 1 updated, 4 unchanged, 0 failed",
    ]
    assert [(r.method, r.path) for r in five.requests[sent:]] == [
        ("GET", "/api/user"),
        ("PUT", "/api/event"),
    ]
    put = parts(five.requests[-1])
    assert put[0] == ("id", str(event_id))
    assert [name for name, _ in put] == [
        *("id", "title", "description", "start_datetime", "end_datetime", "multidate"),
        *("place_name", "place_address", "tags[]", "tags[]", "recurrent", "image_name"),
        "image",
    ]
    assert ("recurrent", "null") in put and ("image", "keep") in put  # the image stays
    row = rows(five, "Mostra di manifesti")[0]
    assert row["tags"] == ["arte", "grafica"] and row["media"] == media
    assert publish(five).stdout.startswith("Published 5 files: 0 created, 0 updated, 5 unch")


def test_a_changed_image_is_uploaded_and_a_cleared_end_is_sent_empty(five, tmp_path):
    publish(five)
    old = rows(five, "Mostra di manifesti")[0]["media"][0]["url"]
    (tmp_path / "events" / "manifesto.png").write_bytes(PNG + b"new")
    path = tmp_path / "events" / "webinar-privacy.md"
    path.write_text(path.read_text().replace("end: 2027-02-10T19:30+01:00\n", ""))
    result = publish(five)
    assert result.stdout.splitlines()[-1].startswith("Published 5 files: 0 created, 2 updated")
    puts = {dict(parts(r))["title"]: parts(r) for r in writes(five)[5:]}
    poster = puts["Mostra di manifesti"]
    assert poster[-1] == ("image", ("manifesto.png", "image/png", PNG + b"new"))
    assert not any(value == "keep" for _, value in poster)
    assert rows(five, "Mostra di manifesti")[0]["media"][0]["url"] != old
    assert ("end_datetime", "") in puts["Webinar: privacy digitale"]  # clears it (u11)
    assert rows(five, "Webinar: privacy digitale")[0]["end_datetime"] is None


# ---------------------------------------------------------------- no duplicates


def test_a_lost_state_file_makes_no_duplicate(five, tmp_path):
    publish(five)
    ids = {title: rows(five, title)[0]["id"] for title in map(_title, FIVE.values())}
    (tmp_path / ".gancio-publish.json").unlink()
    result = publish(five)
    assert result.exit_code == 0, result.output
    assert not [r for r in writes(five)[5:] if r.method == "POST"]
    assert "(found on Gancio with the same title and start)" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "Published 5 files: 0 created, 5 updated, 0 unchanged, 0 failed"
    )
    for title, event_id in ids.items():
        assert [r["id"] for r in rows(five, title)] == [event_id]
    assert publish(five).stdout.startswith("Published 5 files: 0 created, 0 updated, 5 unch")


def test_a_file_named_another_way_is_still_the_same_event(five, tmp_path, monkeypatch):
    """The state knows a file by its name from the config's folder: ``events/../events/``,
    or a run from inside events/ with ``-c ../gancio-site.toml``, update it, never create."""
    (tmp_path / "gancio-site.toml").write_text(f'instance = "{five.url}"\n')
    assert publish(five).exit_code == 0
    event_id = rows(five, "Assemblea di quartiere")[0]["id"]
    path = tmp_path / "events" / "assemblea.md"
    title = "Assemblea di quartiere"
    for round, how in enumerate(("dotted", "inside")):
        path.write_text(path.read_text().replace(title, f"Assemblea {round}"))
        title = f"Assemblea {round}"
        if how == "dotted":
            result = publish(five, "events/../events/assemblea.md")
        else:
            monkeypatch.chdir(tmp_path / "events")
            result = run("publish", "-c", "../gancio-site.toml", "assemblea.md")
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"updated events/assemblea.md: id {event_id}"), how
        assert [r["id"] for r in rows(five, f"Assemblea {round}")] == [event_id]
    assert not [r for r in writes(five)[5:] if r.method == "POST"]
    state = json.loads((tmp_path / ".gancio-publish.json").read_text())
    files = next(iter(state["instances"].values()))["events"]
    assert sorted(files) == sorted(f"events/{name}" for name in FIVE)


def test_a_create_whose_answer_is_lost_is_not_sent_again(gancio, tmp_path):
    log_in(gancio)
    write_events(tmp_path / "events", {"a.md": FIVE["assemblea.md"]})
    gancio.write_delay = 1.0  # saved at once, answered after the client gave up
    result = publish(gancio, env={"GANCIO_TIMEOUT": "0.3"})
    assert result.exit_code == 0, result.output
    [row] = rows(gancio, "Assemblea di quartiere")
    assert result.stdout.splitlines()[0] == (
        f"created events/a.md: id {row['id']} (the answer was lost, but Gancio has it), "
        f"{gancio.url}/event/assemblea-di-quartiere"
    )
    assert [r.method for r in writes(gancio)] == ["POST"]
    gancio.write_delay = 0
    assert publish(gancio).stdout.endswith("0 created, 0 updated, 1 unchanged, 0 failed\n")


def test_a_create_that_failed_on_the_server_is_reported_and_retried_next_time(gancio, tmp_path):
    log_in(gancio)
    write_events(tmp_path / "events", {"a.md": FIVE["assemblea.md"]})
    gancio.fail("/api/event", status=502, body="Bad Gateway", method="POST")
    result = publish(gancio)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: events/a.md: POST {gancio.url}/api/event returned HTTP 502: Bad Gateway; "
        "it is not among your events, so run publish again\n"
    )
    assert rows(gancio, "Assemblea di quartiere") == []
    assert publish(gancio).exit_code == 0
    assert len(rows(gancio, "Assemblea di quartiere")) == 1


# ---------------------------------------------------------------- rate limit, dry run, failures


def test_rate_limit_waits_as_told_and_goes_on(gancio, tmp_path):
    log_in(gancio)
    gancio.write_limit, gancio.write_window = 2, 2.0  # Retry-After: what is left, 1 or 2 s
    three = {k: FIVE[k] for k in ("assemblea.md", "corso-di-cucito.md", "webinar-privacy.md")}
    write_events(tmp_path / "events", three)
    result = publish(gancio)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.fullmatch(
        r"Gancio limits how fast events are sent \(HTTP 429\): waiting [12] s before sending "
        r"events/webinar-privacy\.md",
        lines[2],
    )
    assert lines[3].startswith("created events/webinar-privacy.md")
    assert lines[-1] == "Published 3 files: 3 created, 0 updated, 0 unchanged, 0 failed"
    statuses = [r.method for r in writes(gancio)]
    assert statuses == ["POST"] * 4  # the third was refused once, then sent again
    assert len(rows(gancio, "Webinar: privacy digitale")) == 1


def test_dry_run_sends_nothing(five, tmp_path):
    result = publish(five, "--dry-run", "--timezone", "Europe/Rome")
    assert result.exit_code == 0, result.output
    assert five.requests == []
    assert not (tmp_path / ".gancio-publish.json").exists()
    assert result.stdout.splitlines()[0] == (
        "would create events/assemblea.md: Assemblea di quartiere, 2027-02-15 21:00"
        " (unless Gancio has one of yours of that title and start)"
    )
    assert result.stdout.splitlines()[-1] == (
        "Dry run: 5 to create, 0 to update, 0 unchanged, 0 failed; nothing was sent"
    )
    publish(five)
    path = tmp_path / "events" / "assemblea.md"
    path.write_text(path.read_text().replace("spazi verdi", "spazi verdi e biblioteca"))
    sent = len(five.requests)
    result = publish(five, "--dry-run")
    assert len(five.requests) == sent  # the zone is in the state file now
    event_id = rows(five, "Assemblea di quartiere")[0]["id"]
    assert f"would update events/assemblea.md (id {event_id})" in result.stdout
    assert "unchanged events/festa-di-quartiere.md (id " in result.stdout
    assert result.stdout.endswith(
        "0 to create, 1 to update, 4 unchanged, 0 failed; nothing was sent\n"
    )


def test_one_bad_file_does_not_stop_the_others(five, tmp_path):
    (tmp_path / "events" / "broken.md").write_text("---\ntitle: Rotto\nstart: soon\n---\n")
    result = publish(five)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: events/broken.md: start: 'soon' is not a date and time; write it like "
        "2026-11-07 18:30, or 2026-11-07T18:30+01:00",
        "Error: events/broken.md: place: missing; give place: {name, address} or online: [links]",
    ]
    assert result.stdout.splitlines()[-1] == (
        "Published 6 files: 5 created, 0 updated, 0 unchanged, 1 failed"
    )


def test_gancio_refusals_name_the_file(five, tmp_path):
    (tmp_path / "events" / "nowhere.md").write_text(
        "---\ntitle: Da nessuna parte\nstart: 2027-03-01 10:00\nplace: Luogo Sconosciuto\n---\n"
    )
    result = publish(five, str(tmp_path / "events" / "nowhere.md"))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: events/nowhere.md: POST {five.url}/api/event returned HTTP 400: "
        "place_id or place_name and place_address are required\n"
    )


def test_events_awaiting_moderation_are_reported(gancio, tmp_path):
    gancio.moderate_users = True
    log_in(gancio, "alice@example.org")
    write_events(tmp_path / "events", {"a.md": FIVE["assemblea.md"]})
    result = publish(gancio)
    [row] = rows(gancio, "Assemblea di quartiere")
    assert result.stdout.splitlines() == [
        f"created events/a.md: id {row['id']}, awaiting moderation (hidden until an editor or "
        "admin confirms it)",
        "Published 1 file: 1 created (1 awaiting moderation), 0 updated, 0 unchanged, 0 failed",
    ]


def test_a_rejected_token_stops_before_anything_is_posted(five):
    result = publish(five, env={"GANCIO_TOKEN": "not-a-token"})
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: GET {five.url}/api/user returned HTTP 403: the token was rejected or does not "
        "allow this (Gancio treats a missing, unknown or disabled token as anonymous); run "
        "`gancio-site login`, or check GANCIO_TOKEN when it is set (it wins)\n"
    )
    assert writes(five) == []  # an anonymous POST would have made hidden events


def test_without_login_nothing_is_sent(gancio, tmp_path):
    write_events(tmp_path / "events")
    result = publish(gancio)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: not logged in to {gancio.url}; run `gancio-site login` (or set GANCIO_TOKEN)\n"
    )
    assert [r.path for r in gancio.requests] == ["/.well-known/nodeinfo/2.0"]  # its zone only


def test_without_login_every_file_is_checked_before_saying_so(gancio, tmp_path):
    write_events(tmp_path / "events")
    (tmp_path / "events" / "broken.md").write_text("---\ntitle: Rotto\nstart: soon\n---\n")
    (tmp_path / "events" / "plain.md").write_text("no front matter\n")
    result = publish(gancio)
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert errors[0].startswith("Error: events/broken.md: start: 'soon' is not a date")
    assert errors[2].startswith("Error: events/plain.md: no front matter")
    assert errors[-1] == (
        f"Error: not logged in to {gancio.url}; run `gancio-site login` (or set GANCIO_TOKEN)"
    )
    assert writes(gancio) == []


def test_with_nothing_to_send_no_token_is_needed(five, tmp_path):
    assert publish(five).exit_code == 0
    assert run("logout", "--instance", five.url).exit_code == 0
    sent = len(five.requests)
    result = publish(five)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Published 5 files: 0 created, 0 updated, 5 unchanged, 0 failed\n"
    assert len(five.requests) == sent
    (tmp_path / "events" / "assemblea.md").write_text(
        (tmp_path / "events" / "assemblea.md").read_text() + "\nOne more line.\n"
    )
    changed = publish(five)  # now one file has to be sent: the token is asked for
    assert changed.exit_code == 1
    assert changed.stderr.startswith(f"Error: not logged in to {five.url}")
    assert len(writes(five)) == 5  # the first run's, nothing since


def test_someone_elses_or_a_deleted_event_fails_cleanly(five, tmp_path):
    publish(five)
    state = json.loads((tmp_path / ".gancio-publish.json").read_text())
    events = state["instances"][five.url]["events"]
    events["events/assemblea.md"]["hash"] = "changed"
    events["events/webinar-privacy.md"]["hash"] = "changed"
    events["events/webinar-privacy.md"]["id"] = 99999
    (tmp_path / ".gancio-publish.json").write_text(json.dumps(state))
    result = publish(five, env={"GANCIO_TOKEN": five.token_for("alice@example.org")})
    ids = rows(five, "Assemblea di quartiere")[0]["id"]
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: events/assemblea.md: Gancio refused to update event {ids}: only its owner, an "
        "editor or an admin may (is this the account that created it?)",
        "Error: events/webinar-privacy.md: event 99999 is no longer on Gancio; remove "
        "events/webinar-privacy.md from .gancio-publish.json to create it again",
    ]


def test_state_file_is_readable_and_stable(five, tmp_path):
    publish(five)
    text = (tmp_path / ".gancio-publish.json").read_text()
    state = json.loads(text)
    here = state["instances"][five.url]
    assert state["version"] == 1 and here["timezone"] == "Europe/Rome"
    assert sorted(here["events"]) == [f"events/{name}" for name in sorted(FIVE)]
    entry = here["events"]["events/mostra-manifesti.md"]
    assert set(entry) == {"id", "hash", "image"} and entry["image"].startswith("sha256:")
    assert here["events"]["events/assemblea.md"]["image"] is None
    assert text == json.dumps(state, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_default_folder_and_config_file(five, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (tmp_path / "events").rename(site / "events")
    (site / "gancio-site.toml").write_text(f'instance = "{five.url}"\ntimezone = "Europe/Rome"\n')
    result = run("publish", "-c", str(site / "gancio-site.toml"), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would create events/assemblea.md" in result.stdout
    result = run("publish", "--instance", five.url)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: paths: no events folder in ")


def test_no_token_in_any_output_or_log(five, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    token = next(iter(five.tokens))
    publish(five)
    path = tmp_path / "events" / "assemblea.md"
    path.write_text(path.read_text().replace("spazi verdi", "piazze"))
    five.fail("/api/event", status=503, body="busy", method="PUT")  # logged, then retried
    results = [publish(five), publish(five, "--dry-run"), publish(five, env={"GANCIO_TOKEN": "x"})]
    text = "".join(r.stdout + r.stderr for r in results)
    text += "\n".join(record.getMessage() for record in caplog.records)
    assert "retrying" in text and "1 updated" in text
    assert token not in text and "Bearer" not in text


# ---------------------------------------------------------------- the Python API


def test_python_api_login_create_update(gancio):
    client = GancioClient(gancio.url)
    client.login("alice@example.org", "alice-pass")
    assert client.user()["email"] == "alice@example.org"
    event = client.create_event(
        {
            "title": "Cena",
            "start_datetime": 1800000000,
            "place_name": "Centro Sociale La Talpa",
            "tags": ["cibo"],
        }
    )
    assert event["is_visible"] is True and event["tags"] == ["cibo"]
    assert [e["id"] for e in client.my_events()] == [event["id"]]
    updated = client.update_event(
        event["id"],
        {"title": "Cena sociale", "start_datetime": 1800000000, "place_id": event["placeId"]},
    )
    assert updated["title"] == "Cena sociale" and updated["tags"] == []  # PUT replaces it all
    with pytest.raises(Refused) as caught:
        client.create_event({"start_datetime": 1800000000, "place_name": "x"})
    assert caught.value.reason == "title required"


# ---------------------------------------------------------------- the fake's writes, as captured


def post(fake: FakeGancio, token: str | None, fields: dict, files=None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    files = files or {"_": (None, "")}  # forces multipart, like the captures
    return requests.post(fake.url + "/api/event", data=fields, files=files, headers=headers)


BASE = {"title": "T", "start_datetime": "1800000000", "place_name": "Centro Sociale La Talpa"}


def test_fake_validation_messages(gancio):
    gancio.write_limit = 100
    token = gancio.token_for("admin@example.org")
    cases = [
        ({"start_datetime": "1800000000", "place_name": "x"}, "title required"),  # b10
        ({"title": "T", "place_name": "x"}, "start_datetime required"),  # b11
        (
            {"title": "T", "start_datetime": "1800000000"},
            "place_id or place_name and place_address are required",
        ),  # b12
        ({**BASE, "start_datetime": "2026-12-10"}, "Wrong format for start datetime"),  # b13b
        ({**BASE, "start_datetime": "1800000000000"}, "are you sure?"),  # b13c
        ({**BASE, "end_datetime": "domani"}, "Wrong format for end datetime"),  # b14b
        ({**BASE, "end_datetime": "1700000000"}, "start datetime is greater than end datetime"),
        ({**BASE, "place_id": "9999", "place_name": ""}, "Place not found"),  # b12c
    ]
    for fields, message in cases:
        answer = post(gancio, token, fields)
        assert (answer.status_code, answer.text) == (400, message), fields
        assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    brackets = post(gancio, token, {**BASE, "recurrent[frequency]": "1w"})
    assert (brackets.status_code, brackets.text) == (400, "Bad Request")  # b16
    assert post(gancio, token, {**BASE, "recurrent": "1w"}).text == "Bad Request"  # b16b
    image = {"image": ("notes.txt", b"hello", "text/plain")}
    bad_image = post(gancio, token, BASE, image)
    assert bad_image.json() == "Error: Input buffer contains unsupported image format"  # b17
    past = post(gancio, None, {**BASE, "start_datetime": "1700000000"})
    assert past.text == "Anonymous user cannot create past events"  # b18
    raw = post(gancio, token, {**BASE, "image_url": "https://x.example.org/café.jpg"})
    assert (raw.status_code, raw.text) == (400, "Bad Request")  # B13: Gancio fetches it raw


def test_fake_tags_must_be_an_array_but_the_event_is_created(gancio):
    token = gancio.token_for("admin@example.org")
    answer = post(gancio, token, {**BASE, "title": "Tag singolo", "tags": "solo-uno"})
    assert (answer.status_code, answer.text) == (400, "tags field must be an array")  # b15
    assert rows(gancio, "Tag singolo")[0]["tags"] == []
    repeated = requests.post(
        gancio.url + "/api/event",
        data=[*BASE.items(), ("title", "Due"), ("tags", "a"), ("tags", "Musica")],
        headers={"Authorization": f"Bearer {token}"},
    )
    assert repeated.json()["tags"] == ["a", "musica"]  # e32; merged with the existing tag


def test_fake_visibility_and_rate_limit_headers(gancio):
    anonymous = post(gancio, None, {**BASE, "title": "Anonimo"})
    assert anonymous.json()["is_visible"] is False and "userId" not in anonymous.json()  # e30
    alice = post(gancio, gancio.token_for("alice@example.org"), {**BASE, "title": "Di Alice"})
    assert alice.json()["is_visible"] is True and alice.json()["userId"] == 2
    assert alice.headers["RateLimit-Policy"] == "6;w=300"
    assert alice.headers["RateLimit-Remaining"] == "4"
    for _ in range(4):
        post(gancio, None, {})
    limited = post(gancio, None, BASE)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 290  # b21
    assert limited.text == "Too many requests, please try again later."
    other = requests.post(gancio.url + "/api/event", headers={"X-Forwarded-For": "10.0.0.9"})
    assert other.status_code == 400  # another address has its own count


def test_fake_put_replaces_the_whole_event(gancio):
    admin = gancio.token_for("admin@example.org")
    fields = {**BASE, "title": "Completo", "tags[]": "x"}
    created = post(gancio, admin, fields, {"image": ("p.png", PNG, "image/png")}).json()
    headers = {"Authorization": f"Bearer {admin}"}

    def put(**fields: str) -> requests.Response:
        data = {"id": str(created["id"]), **BASE, **fields}
        url = gancio.url + "/api/event"
        return requests.put(url, files={"_": (None, "")}, data=data, headers=headers)

    kept = put(image="keep", image_focalpoint="-0.5,0.5", **{"tags[]": "x"}).json()
    assert kept["media"][0]["url"] == created["media"][0]["url"]  # u09
    assert kept["media"][0]["focalpoint"] == [-0.5, 0.5] and kept["tags"] == ["x"]
    bare = put().json()
    assert bare["media"] == [] and bare["tags"] == []  # u08, image dropped
    no_place = put(place_name="", title="Cambiato")
    assert no_place.status_code == 400  # written before the place was checked (u07)
    assert rows(gancio, "Cambiato")
    url = gancio.url + "/api/event"
    assert requests.put(url, data={"id": "1"}).status_code == 403  # u03
    alice = {"Authorization": f"Bearer {gancio.token_for('alice@example.org')}"}
    assert requests.put(url, data={"id": "1"}, headers=alice).status_code == 403  # u02
    assert requests.put(url, data={"id": "999"}, headers=headers).status_code == 404  # u05


def _title(text: str) -> str:
    return re.search(r"^title: \"?(.*?)\"?$", text, re.MULTILINE)[1]
