"""Broken servers and networks: bounded retries, one clear line, the site and cache kept."""

from __future__ import annotations

import json
import select
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_gancio import FakeGancio
from sitekit import site_config

from gancio_site.api import GancioClient
from gancio_site.build import build
from gancio_site.cli import main
from gancio_site.errors import (
    BadResponse,
    ConnectionFailed,
    DataError,
    GancioSiteError,
    StatusError,
)
from gancio_site.fetch import DETAIL_WORKERS

NOW = 1796301525


def config_for(url: str, tmp_path: Path, **overrides):
    return site_config(url, tmp_path, **overrides)


def quick(url: str) -> GancioClient:
    return GancioClient(url, timeout=5, backoff=0.01)


def test_a_home_collection_in_place_of_the_agenda_is_reported(gancio, tmp_path):
    report = build(config_for(gancio.url, tmp_path), now_ts=NOW)
    assert not any("home collection" in w for w in report.warnings)
    listed = json.loads(json.dumps([e for e in gancio.events if e["id"] in (3, 4, 5, 6, 8)]))
    for row in listed:
        row.pop("description", None)
    gancio.fail("/api/events", status=200, body=json.dumps(listed), content_type="application/json")
    report = build(
        config_for(gancio.url, tmp_path, cache=str(tmp_path / "c2"), allow_shrink=True), now_ts=NOW
    )
    warning = next(w for w in report.warnings if "home collection" in w)
    # 29 upcoming events in the export (the exhibition in progress started yesterday), 5 listed
    assert warning.startswith("the instance's list lacks 24 upcoming events that its export has")


def test_429_without_retry_after_and_502_are_retried(gancio, tmp_path):
    gancio.fail("/api/events", status=429, body="Too many requests, please try again later.")
    gancio.fail("/api/export/json", status=502, body="Bad Gateway", times=2)
    report = build(config_for(gancio.url, tmp_path), now_ts=NOW, client=quick(gancio.url))
    assert report.events == 30
    assert gancio.count("/api/events") == 2 and gancio.count("/api/export/json") == 3


def test_a_much_larger_answer_than_usual_is_read_whole(gancio, tmp_path):
    rows = [
        {k: v for k, v in e.items() if k != "description"}
        for e in gancio.events
        if e["is_visible"] and not e["recurrent"] and not e["parentId"]
    ]
    body = json.dumps(rows) + " " * 20_000_000  # about a thousand times the usual answer
    gancio.fail("/api/events", status=200, body=body, content_type="application/json")
    assert build(config_for(gancio.url, tmp_path), now_ts=NOW).events >= 30


def test_redirects_are_followed_on_the_same_host(gancio, tmp_path):
    gancio.fail("/api/events", status=302, body="", headers={"Location": "/api/events?start=0"})
    assert build(config_for(gancio.url, tmp_path), now_ts=NOW).events >= 30


def test_the_token_never_follows_a_redirect_to_another_host(gancio):
    with FakeGancio() as other:
        gancio.fail("/api/user", status=302, body="", headers={"Location": f"{other.url}/api/user"})
        client = quick(gancio.url)
        client.token = "s3cr3ttoken"
        with pytest.raises(GancioSiteError) as caught:
            client.user()
        assert other.requests == []  # authenticated calls follow no redirect at all
        assert "s3cr3ttoken" not in str(caught.value)


@pytest.fixture
def tls_server(tmp_path):
    """A server on 127.0.0.1 whose certificate no one trusts."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_certificate_error_is_one_clear_line(tls_server, tmp_path):
    client = GancioClient(tls_server, timeout=5, retries=0)
    with pytest.raises(ConnectionFailed, match=r"failed: TLS error \(certificate not valid\?\)"):
        build(config_for(tls_server, tmp_path), now_ts=NOW, client=client)


def test_a_corrupt_cache_is_reported_and_fetched_again(gancio, tmp_path, caplog):
    config = config_for(gancio.url, tmp_path)
    build(config, now_ts=NOW)
    for file in (tmp_path / "cache").rglob("*.json"):
        file.write_text('{"format": 1, "events": [truncat')
    gancio.requests.clear()
    report = build(config, now_ts=NOW)
    assert report.events == 30
    assert "/api/export/json" in [r.path for r in gancio.requests]  # descriptions again
    assert any("is unreadable" in r.getMessage() for r in caplog.records)
    assert build(config, mode="offline", now_ts=NOW).events == 30  # the cache is whole again


@pytest.mark.parametrize("damage", [b'{"format": 1, "descriptions": {"3": ["x', b"\x00\xff" * 40])
def test_offline_a_damaged_description_cache_publishes_nothing(gancio, tmp_path, damage):
    """Offline, descriptions that cannot be read cannot be fetched again: a site of pages
    without them is not published; the next online build fetches them again."""
    config = config_for(gancio.url, tmp_path)
    build(config, now_ts=NOW)
    site = {p: p.read_bytes() for p in (tmp_path / "public").rglob("*") if p.is_file()}
    cached = next((tmp_path / "cache").glob("*/descriptions.json"))
    cached.write_bytes(damage)
    with pytest.raises(DataError, match=r"descriptions.json is damaged; run `gancio-site build`"):
        build(config, mode="offline", now_ts=NOW + 86400)  # a new day: the site would change
    assert {p: p.read_bytes() for p in (tmp_path / "public").rglob("*") if p.is_file()} == site
    assert build(config, now_ts=NOW).events == 30
    assert build(config, mode="offline", now_ts=NOW + 86400).events > 0


def test_offline_still_works_after_a_failed_online_build(gancio, tmp_path):
    config = config_for(gancio.url, tmp_path)
    build(config, now_ts=NOW)
    gancio.fail("/api/events", status=500, times=-1)
    with pytest.raises(GancioSiteError, match="HTTP 500"):
        build(config, now_ts=NOW, client=quick(gancio.url))
    assert build(config, mode="offline", now_ts=NOW).events == 30


def test_a_login_page_where_json_was_expected(gancio, tmp_path):
    config = config_for(gancio.url, tmp_path)
    build(config, now_ts=NOW)
    before = site_files(tmp_path / "public")
    gancio.fail("/api/events", status=302, body="", headers={"Location": "/login"})
    gancio.fail("/login", status=200, body="<!doctype html><title>Login</title><form>")
    with pytest.raises(BadResponse) as caught:
        build(config, now_ts=NOW, client=quick(gancio.url))
    assert str(caught.value) == (
        f"GET {gancio.url}/api/events?start={NOW} did not answer JSON (got text/html, 41 bytes); "
        "is this the address of a Gancio instance?"
    )
    assert site_files(tmp_path / "public") == before
    assert build(config, mode="offline", now_ts=NOW).events == 30


def test_a_list_that_answers_503_every_time(gancio, tmp_path, caplog):
    config = config_for(gancio.url, tmp_path)
    build(config, now_ts=NOW)
    before = site_files(tmp_path / "public")
    gancio.requests.clear()
    gancio.fail("/api/events", status=503, body="Service Unavailable", times=-1)
    with pytest.raises(StatusError) as caught:
        build(config, now_ts=NOW, client=quick(gancio.url))  # the default retries, no waits
    url = f"{gancio.url}/api/events?start={NOW}"
    assert str(caught.value) == (
        f"GET {url} returned HTTP 503 (Service Unavailable): the server reported an error"
    )
    assert (caught.value.url, caught.value.status) == (url, 503)
    # The first attempt and the retries, then nothing more is asked.
    asked = [r.path for r in gancio.requests]
    assert asked == ["/.well-known/nodeinfo/2.0"] + ["/api/events"] * (1 + RETRIES)
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert [m.partition("; retrying")[0] for m in retries] == [f"GET {url}: HTTP 503"] * RETRIES
    assert site_files(tmp_path / "public") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "public"]


class Stall:
    """A server that answers with its headers and the first byte, then nothing at all."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests = 0
        self.held: list[socket.socket] = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.recv(65536)
            self.requests += 1
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            conn.sendall(b"Content-Length: 1000\r\n\r\n[")
            self.held.append(conn)  # open and silent

    def close(self) -> None:
        for sock in (*self.held, self.sock):
            sock.close()


def test_a_server_that_sends_headers_then_stalls(gancio, tmp_path):
    config = config_for(gancio.url, tmp_path)
    build(config, now_ts=NOW)
    before = site_files(tmp_path / "public")
    server = Stall()
    try:
        client = GancioClient(server.url, timeout=0.5, retries=2, backoff=0.01)
        started = time.monotonic()
        with pytest.raises(ConnectionFailed) as caught:
            build(config_for(server.url, tmp_path), now_ts=NOW, client=client)
        assert time.monotonic() - started < 3 * 0.5 + 2
        assert server.requests == 3  # the first attempt and two retries
    finally:
        server.close()
    assert str(caught.value) == (
        f"GET {server.url}/.well-known/nodeinfo/2.0 failed: no answer in time (timeout)"
    )
    assert site_files(tmp_path / "public") == before
    assert build(config, mode="offline", now_ts=NOW).events == 30


# --- faults before any answer: through the command line, as a CI job meets them ----------

RETRIES = 3  # what `gancio-site build` allows after the first attempt
BACKOFF = 1 + 2 + 4  # seconds it waits between those attempts


def cli_build(instance: str, *flags: str):
    """Run `gancio-site build` against ``instance`` from the test's folder, at NOW."""
    return CliRunner().invoke(
        main,
        ["build", "--instance", instance, "--base-url", "https://example.org/", *flags],
        env={"SOURCE_DATE_EPOCH": str(NOW)},
    )


def site_files(folder: Path) -> dict[str, bytes]:
    """Every file of a built site (its manifest too), by path."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


OFFLINE_HINT = (
    "; the site in public is unchanged, and `gancio-site build --offline` builds it from "
    "the events fetched last time"
)


def assert_failed_cleanly(
    result,
    url: str,
    reason: str,
    before: dict[str, bytes],
    tmp_path,
    retries: int = RETRIES,
    fetched_before: bool = False,
) -> None:
    """Exit 1, one Error line naming ``url``, one warning per retry, the site untouched.

    An instance whose events were fetched before gets the offline hint on that line.
    """
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    hint = OFFLINE_HINT if fetched_before else ""
    assert lines[-1] == f"Error: GET {url} failed: {reason}{hint}"
    assert [line for line in lines if line.startswith("Error:")] == [lines[-1]]
    warned = [line for line in lines if line.startswith(f"Warning: GET {url}: {reason}; retrying")]
    assert len(warned) == retries and len(lines) == retries + 1, lines
    assert site_files(tmp_path / "public") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".gancio-cache", "public"]


def test_a_host_name_that_does_not_resolve(gancio, tmp_path):
    assert cli_build(gancio.url).exit_code == 0
    before = site_files(tmp_path / "public")
    result = cli_build("http://gancio.invalid/")
    url = "http://gancio.invalid/.well-known/nodeinfo/2.0"
    # A name that does not exist is a typo, not a passing fault: no retries, no waiting.
    reason = "the host name could not be resolved"
    assert_failed_cleanly(result, url, reason, before, tmp_path, retries=0)
    gancio.stop()  # offline means no network at all
    offline = cli_build(gancio.url, "--offline")
    assert offline.exit_code == 0, offline.output
    assert "from 30 events" in offline.stdout
    assert site_files(tmp_path / "public") == before


@pytest.fixture
def unanswered() -> Iterator[tuple[socket.socket, list[socket.socket]]]:
    """A listening socket whose accept queue is full: the kernel drops new SYNs unanswered,
    as a firewalled or overloaded host does. Yields it and its filler connections."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    fillers: list[socket.socket] = []
    yield listener, fillers
    for sock in (*fillers, listener):
        sock.close()


def fill_backlog(listener: socket.socket, fillers: list[socket.socket]) -> None:
    """Listen with no room for pending connections, and connect until one hangs."""
    listener.listen(0)
    address = listener.getsockname()
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(address)
        fillers.append(filler)
        if not select.select([], [filler], [], 0.3)[1]:  # still waiting: the queue is full
            break
    with pytest.raises(TimeoutError):  # the trick works here: a new connect gets no answer
        socket.create_connection(address, timeout=0.3).close()


def test_a_connect_that_times_out(gancio, unanswered, tmp_path):
    assert cli_build(gancio.url).exit_code == 0
    before = site_files(tmp_path / "public")
    port = int(gancio.url.rpartition(":")[2])
    gancio.stop()
    listener, fillers = unanswered
    listener.bind(("127.0.0.1", port))  # the same instance, now unreachable
    fill_backlog(listener, fillers)
    started = time.monotonic()
    result = cli_build(gancio.url, "--timeout", "1")
    assert time.monotonic() - started < (RETRIES + 1) * 1 + BACKOFF + 5
    url = f"{gancio.url}/.well-known/nodeinfo/2.0"
    reason = "no answer in time (timeout)"
    assert_failed_cleanly(result, url, reason, before, tmp_path, fetched_before=True)
    offline = cli_build(gancio.url, "--offline")
    assert offline.exit_code == 0, offline.output
    assert "from 30 events" in offline.stdout
    assert site_files(tmp_path / "public") == before


@pytest.mark.parametrize(
    ("message", "unknown"),
    [
        ("[Errno -2] Name or service not known", True),  # glibc
        ("[Errno -5] No address associated with hostname", True),
        ("[Errno 8] nodename nor servname provided, or not known", True),  # macOS
        ("[Errno -3] Temporary failure in name resolution", False),  # retried
        ("[Errno 111] Connection refused", False),
    ],
)
def test_only_a_name_that_does_not_exist_is_given_up_at_once(message, unknown):
    import requests

    from gancio_site.api import _unknown_host

    assert _unknown_host(requests.ConnectionError(message)) is unknown
    assert not _unknown_host(requests.Timeout(message))


class Vanishing:
    """Passes requests on to ``target`` until one starts with ``at``: then it hangs up and
    stops listening, as an instance that goes away in the middle of a build."""

    def __init__(self, target: str, at: tuple[str, ...]) -> None:
        vanishing = self
        self.asked: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                vanishing.asked.append(self.path)
                if self.path.startswith(at):
                    self.server.socket.close()  # later connections are refused
                    return  # and this one is closed unanswered
                try:
                    answer = urllib.request.urlopen(target + self.path)
                except urllib.error.HTTPError as error:  # passed on as it is
                    answer = error
                with answer:
                    body = answer.read()
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.headers["Content-Type"])
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.parametrize("gone_at", ["/api/export", "/api/event/detail/"])
def test_an_instance_gone_after_the_list_stops_the_build_at_once(gancio, tmp_path, gone_at):
    """Not one detail request per event (each retried, for minutes), then a site without
    descriptions published: the build stops with the error, and the site stays. Gone at
    the export, or at the details asked for after an export that failed on its own."""
    config = config_for(gancio.url, tmp_path)
    build(config, now_ts=NOW)
    before = site_files(tmp_path / "public")
    gancio.touch(gancio.events[0]["id"], title="Changed since")  # the list is asked again
    for path in (tmp_path / "cache").glob("*/descriptions*"):
        path.unlink()  # every description (30) is to be fetched again
    if gone_at != "/api/export":
        gancio.fail("/api/export", 500, times=-1)  # the export alone fails: details follow
    vanishing = Vanishing(gancio.url, (gone_at,))
    client = GancioClient(vanishing.url, retries=1, backoff=0.01)
    with pytest.raises(ConnectionFailed) as caught:
        build(config_for(vanishing.url, tmp_path), now_ts=NOW, client=client)
    assert f"{vanishing.url}{gone_at}" in str(caught.value)
    details = [p for p in vanishing.asked if p.startswith("/api/event/detail/")]
    # The export refused: no detail asked; details refused: only those already under way.
    assert len(details) <= (0 if gone_at == "/api/export" else DETAIL_WORKERS)
    assert site_files(tmp_path / "public") == before


def test_a_new_checkout_with_only_the_cache_is_pointed_at_offline_not_at_a_site(gancio, tmp_path):
    """CI restores the cache, not the site: the error says what --offline does, and does
    not speak of a site in the output folder, which is not there."""
    assert cli_build(gancio.url).exit_code == 0
    shutil.rmtree(tmp_path / "public")
    gancio.stop()
    result = cli_build(gancio.url)
    assert result.exit_code == 1
    [error] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert error.endswith(
        "; `gancio-site build --offline` builds it from the events fetched last time"
    )
    assert "unchanged" not in error and not (tmp_path / "public").exists()
