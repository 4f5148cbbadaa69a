"""Broken servers and networks: bounded retries, one clear line, the site and cache kept."""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fake_gancio import FakeGancio
from sitekit import site_config

from gancio_site.api import GancioClient
from gancio_site.build import build
from gancio_site.errors import ConnectionFailed, GancioSiteError

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


def test_offline_still_works_after_a_failed_online_build(gancio, tmp_path):
    config = config_for(gancio.url, tmp_path)
    build(config, now_ts=NOW)
    gancio.fail("/api/events", status=500, times=-1)
    with pytest.raises(GancioSiteError, match="HTTP 500"):
        build(config, now_ts=NOW, client=quick(gancio.url))
    assert build(config, mode="offline", now_ts=NOW).events == 30
