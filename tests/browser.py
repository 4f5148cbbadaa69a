"""Real-browser helpers: Debian's Chromium driven by Playwright, and a static file server."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Flags for a sandboxed, offline machine: no background calls home, no GPU.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip locally, fail in CI, when Debian's Chromium is not installed."""
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _CorsHandler(_QuietHandler):
    """Like a site on Netlify or GitHub Pages: any origin may read the files."""

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()


@contextmanager
def serve(folder: Path, cors: bool = False) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (``cors``: readable from any origin); yield its root URL."""
    handler = functools.partial(_CorsHandler if cors else _QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def chromium() -> Iterator[object]:
    """Debian's Chromium, launched by Playwright (skipped locally, failed in CI, if absent)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def offline_page(browser: object, **context_options: object) -> Iterator[object]:
    """A page that reaches only 127.0.0.1 and records errors and dialogs.

    ``page.errors`` collects page errors and console errors (failed loads aside),
    ``page.warnings`` console warnings;
    ``page.dialogs`` the messages of dialogs, which are dismissed.
    """
    context = browser.new_context(**context_options)  # type: ignore[attr-defined]
    page = context.new_page()
    # The demo's images live on an example instance: keep the test offline.
    page.route(
        "**/*",
        lambda route: route.abort() if "127.0.0.1" not in route.request.url else route.continue_(),
    )
    page.errors = []
    page.warnings = []
    page.dialogs = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))

    def console(msg: object) -> None:
        if msg.type == "error" and "net::" not in msg.text:  # type: ignore[attr-defined]
            page.errors.append(msg.text)  # type: ignore[attr-defined]
        elif msg.type == "warning":  # type: ignore[attr-defined]
            page.warnings.append(msg.text)  # type: ignore[attr-defined]

    page.on("console", console)
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    try:
        yield page
    finally:
        context.close()
