"""Secrets: the token store stays private, and no token or password leaks anywhere.

A token is as good as a password (Gancio's never expire and cannot be revoked), so: the
store is refused when others may open it, the token and password are written nowhere but
the store (not in the site, the cache, the publish state, any message), and no credential
travels to a host other than the configured instance, even when the instance redirects.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from fake_gancio import FakeGancio

from gancio_site import auth
from gancio_site.api import GancioClient
from gancio_site.cli import main
from gancio_site.errors import GancioSiteError

PASSWORD = "admin-pass"
EVENT = """---
title: Assemblea di quartiere
start: 2027-02-15 21:00
place: {name: Centro Sociale La Talpa, address: "Via Roma 12, Torino"}
tags: [assemblea]
---
Ordine del giorno: spazi verdi.
"""


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), input=input, env=env)


def login(fake: FakeGancio):
    result = run(
        "login", "--instance", fake.url, "-u", "admin@example.org", "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return auth.load_credentials(fake.url).token


# ---------------------------------------------------------------- the store's permissions


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660, 0o666], ids=oct)
def test_a_store_others_may_open_is_refused(gancio, tmp_path, mode):
    token = login(gancio)
    path = auth.store_path()
    path.chmod(mode)
    asked = len(gancio.requests)
    result = run("whoami", "--instance", gancio.url)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: the token store {path} is not private (mode {mode:04o}); make it readable by "
        f"you only with `chmod 600 {path}`, or delete it and run `gancio-site login` again\n"
    )
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "assemblea.md").write_text(EVENT, "utf-8")
    published = run("publish", "--instance", gancio.url)
    assert published.exit_code == 1 and "is not private" in published.stderr
    assert len(gancio.requests) == asked  # the token was not used
    assert token not in result.output + published.output


@pytest.mark.parametrize("mode", [0o600, 0o400], ids=oct)
def test_a_private_store_is_used(gancio, mode):
    login(gancio)
    auth.store_path().chmod(mode)
    result = run("whoami", "--instance", gancio.url)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"admin@example.org on {gancio.url}: admin")


def test_gancio_token_needs_no_store_and_login_makes_an_open_store_private(gancio):
    login(gancio)
    path = auth.store_path()
    path.chmod(0o644)
    env = {"GANCIO_TOKEN": gancio.token_for("alice@example.org")}
    assert run("whoami", "--instance", gancio.url, env=env).exit_code == 0  # store not read
    login(gancio)  # writes the store again, private
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert run("whoami", "--instance", gancio.url).exit_code == 0


# ---------------------------------------------------------------- written nowhere else


def test_token_and_password_are_in_no_file_but_the_store(gancio, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    token = login(gancio)
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "assemblea.md").write_text(EVENT, "utf-8")
    gancio.fail("/api/user", status=503, body="busy")  # a retry is logged, with its URL
    results = [
        run("publish", "--instance", gancio.url),
        run("whoami", "--instance", gancio.url),
        run("build", "--instance", gancio.url, "--base-url", "https://example.org/"),
    ]
    assert [r.exit_code for r in results] == [0, 0, 0], [r.output for r in results]
    assert (tmp_path / "public" / "index.html").is_file()
    assert (tmp_path / ".gancio-publish.json").is_file()
    store = auth.store_path()
    # The test's folder (site, cache, publish state) and the throw-away HOME and XDG folders.
    roots = [tmp_path, Path(os.environ["XDG_CONFIG_HOME"]).parent]
    holding = {
        secret: sorted(
            str(p)
            for root in roots
            for p in root.rglob("*")
            if p.is_file() and secret.encode() in p.read_bytes()
        )
        for secret in (token, PASSWORD)
    }
    assert holding == {token: [str(store)], PASSWORD: []}
    said = "".join(r.output for r in results) + "\n".join(r.getMessage() for r in caplog.records)
    assert "/api/user: HTTP 503; retrying" in said  # a message there was to be looked at
    assert token not in said and PASSWORD not in said


def test_connection_errors_carry_no_token():
    with FakeGancio() as fake:
        url = fake.url
    client = GancioClient(url, timeout=1, retries=0)  # the server is gone: refused
    client.token = "t0ken-" + "x" * 26
    with pytest.raises(GancioSiteError) as caught:
        client.user()
    assert "connection refused" in str(caught.value)
    assert client.token not in str(caught.value) and client.token not in repr(caught.value)


# ---------------------------------------------------------------- never to another host


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize(
    ("method", "path", "call"),
    [
        ("GET", "/api/user", lambda c: c.user()),
        ("GET", "/api/events/mine", lambda c: c.my_events()),
        (
            "POST",
            "/api/event",
            lambda c: c.create_event({"title": "x", "start_datetime": 1800000000}),
        ),
        ("PUT", "/api/event", lambda c: c.update_event(1, {"title": "x"})),
    ],
)
def test_the_token_is_never_sent_to_another_host(gancio, status, method, path, call):
    with FakeGancio() as other:
        elsewhere = other.url.replace("127.0.0.1", "localhost") + path  # another host name
        gancio.fail(path, status=status, body="", headers={"Location": elsewhere}, method=method)
        client = GancioClient(gancio.url, timeout=5, retries=0)
        client.token = gancio.token_for("admin@example.org")
        with pytest.raises(GancioSiteError) as caught:
            call(client)
        assert other.requests == []
    assert str(caught.value) == (
        f"{method} {gancio.url}{path} was redirected to {elsewhere}; "
        "set the instance to that address"
    )
    sent = gancio.requests[-1]
    assert (sent.method, sent.path) == (method, path)
    assert sent.headers["Authorization"] == f"Bearer {client.token}"  # to the instance only


def test_a_password_in_the_instance_url_stays_on_its_host(tmp_path):
    """Public reads follow redirects; the Basic credentials of the URL do not go along."""
    with FakeGancio() as gancio, FakeGancio() as other:
        instance = gancio.url.replace("http://", "http://reader:s3cret@")
        elsewhere = other.url.replace("127.0.0.1", "localhost")
        gancio.fail(
            "/api/events",
            status=302,
            body="",
            headers={"Location": elsewhere + "/api/events?start=0"},
        )
        result = run("build", "--instance", instance, "--base-url", "https://example.org/")
        assert result.exit_code == 0, result.output
        basic = "Basic " + base64.b64encode(b"reader:s3cret").decode()
        assert {r.headers.get("Authorization") for r in gancio.requests} == {basic}
        assert [r.path for r in other.requests] == ["/api/events"]
        assert "Authorization" not in other.requests[0].headers
    assert "s3cret" not in result.output


@pytest.mark.parametrize(
    ("command", "url"),
    [
        ("build", "http://user:s3cret@127.0.0.1:1/?x"),
        ("build", "ftp://user:s3cret@gancio.example.org"),
        ("build", "http://user:s3cret@gancio.example.org:99999/"),
        ("build", "http://user:s3cret@gancio.example.org/a b"),
        ("login", "ftp://user:s3cret@gancio.example.org"),
        ("whoami", "http://user:s3cret@gancio.example.org/#x"),
    ],
)
def test_a_password_in_a_bad_instance_url_is_not_in_its_error(command, url):
    extra = ["-u", "me@example.org"] if command == "login" else []
    result = CliRunner().invoke(main, [command, "--instance", url, *extra], input="pw\n")
    assert result.exit_code == 2, result.output
    assert "s3cret" not in result.output and "user:" not in result.output
    host = urlsplit(url).hostname
    assert result.stderr.startswith("Error: instance: '") and host in result.stderr.splitlines()[0]


@pytest.mark.parametrize("command", ["login", "whoami", "publish"])
def test_account_commands_refuse_an_instance_url_with_a_password(tmp_path, command):
    """Basic credentials in the URL would replace the Bearer token: refused before any
    request, in one line that names the host and not the password."""
    (tmp_path / "events").mkdir()
    with FakeGancio() as fake:
        url = fake.url.replace("http://", "http://user:s3cret@")
        extra = ["-u", "me@example.org", "--password-stdin"] if command == "login" else []
        result = CliRunner().invoke(main, [command, "--instance", url, *extra], input="pw\n")
        assert fake.requests == []
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: instance: http://127.0.0.1:")
    assert "carries a user name and password" in line
    assert "s3cret" not in result.output and "user:" not in result.output


def test_a_password_in_the_instance_url_is_in_no_message_and_no_cache_file(tmp_path):
    with FakeGancio() as fake:
        host = fake.url.removeprefix("http://")
        url = f"http://user:s3cret@{host}"
        outputs = []
        for args in (
            ["whoami", "--instance", url],
            ["logout", "--instance", url],
            ["publish", "--instance", url],
            ["build", "--offline", "--instance", url, "--base-url", "https://e.org/"],
            ["build", "--instance", url, "--base-url", "https://e.org/"],
            ["build", "--instance", f"user:s3cret@{host}", "--base-url", "https://e.org/"],
        ):
            result = CliRunner().invoke(main, args)
            outputs.append(result.output)
            assert result.exit_code in (0, 1, 2), result.output
        assert (tmp_path / "public" / "index.html").is_file()  # the online build was made
    assert not [o for o in outputs if "s3cret" in o or "user:" in o]
    cached = [p for p in (tmp_path / ".gancio-cache").rglob("*") if p.is_file()]
    assert cached and not [p for p in cached if b"s3cret" in p.read_bytes()]
