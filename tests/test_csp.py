"""The security headers of netlify.toml, on a built site, in Chromium.

The demo site is served with exactly the headers netlify.toml gives each path (parsed here,
matched as Netlify matches ``for`` patterns). Every page type must work under its
Content-Security-Policy with no violation; the widget must still work on another site's
page, by script and in an iframe; and only the widget's frame page may be framed.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import io
import itertools
import mimetypes
import re
import threading
import tomllib
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from browser import serve
from sitekit import build_demo

from gancio_site.fetch import load_demo

NETLIFY = Path(__file__).parent.parent / "netlify.toml"
NOW = load_demo()[1]  # unix seconds: when the demo data was captured, the widget's clock
PAGES = {
    "home": "/",
    "event with image": "/event/festa-di-quartiere-tre-giorni-di-musica/",
    "online event": "/event/webinar-privacy-digitale-per-tutti/",
    "hostile title": (
        "/event/evento-con-lessbgreaterhtmllessbgreater-nel-titolo-lessscriptgreateralert1lesssc/"
    ),
    "tag": "/tag/musica/",
    "place": "/place/parco-della-pace/",
    "tags": "/tag/",
    "places": "/place/",
    "not found": "/event/no-such-event/",
    "widget builder": "/embed/builder.html",
    "widget frame": f"/embed/?now={NOW}",
}


# --------------------------------------------------------------------------- the rules


def rules() -> list[tuple[re.Pattern[str], dict[str, str]]]:
    """netlify.toml's header rules: each ``for`` pattern as a regular expression."""
    config = tomllib.loads(NETLIFY.read_text("utf-8"))
    found = []
    for rule in config["headers"]:
        # Netlify: '*' matches anything (slashes too), ':name' one path segment.
        parts = re.split(r"(\*|:[A-Za-z_]+)", rule["for"])
        pattern = "".join(
            ".*" if p == "*" else "[^/]+" if p.startswith(":") else re.escape(p) for p in parts
        )
        found.append((re.compile(pattern), rule["values"]))
    return found


def headers_for(path: str) -> dict[str, str]:
    """The headers Netlify sends for ``path``; no header may come from two matching rules."""
    headers: dict[str, str] = {}
    for pattern, values in rules():
        if pattern.fullmatch(path):
            for name, value in values.items():
                assert name.lower() not in {n.lower() for n in headers}, (path, name)
                headers[name] = value
    return headers


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as {directive: sources}."""
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        assert name not in parsed, policy
        parsed[name] = sources
    return parsed


def test_no_header_comes_from_two_rules_for_any_file(demo):
    # Netlify's behaviour for a header given by two matching rules is not documented:
    # every file of the site gets each header from one rule at most (asserted inside).
    for file in demo.rglob("*"):
        if file.is_file():
            path = "/" + file.relative_to(demo).as_posix()
            headers_for(path)
            if path.endswith("/index.html"):
                headers_for(path.removesuffix("index.html"))


def test_every_page_has_a_policy_and_only_the_frame_page_may_be_framed(demo):
    pages = sorted(
        "/" + p.relative_to(demo).as_posix().removesuffix("index.html")
        for p in demo.rglob("*.html")
    )
    assert len(pages) > 60
    # The later pages of long lists (none in the demo, at 100 events a page).
    pages += ["/page/2/", "/page/12/index.html", "/tag/musica/page/2/", "/place/x/page/3/"]
    for path in pages:
        headers = headers_for(path)
        policy = directives(headers["Content-Security-Policy"])
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"], path
        assert "'unsafe-inline'" not in policy.get("script-src", policy["default-src"]), path
        assert "'unsafe-eval'" not in headers["Content-Security-Policy"], path
        if path in ("/embed/", "/embed/index.html"):
            assert "frame-ancestors" not in policy and "X-Frame-Options" not in headers
        else:
            assert policy["frame-ancestors"] == ["'none'"], path
            assert headers["X-Frame-Options"] == "DENY", path


class InlineCode(HTMLParser):
    """The inline scripts and styles a page runs (JSON-LD data blocks are not run)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.found: list[tuple[str, str]] = []  # (directive, hash source)
        self._open: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "style" or (tag == "script" and "src" not in values):
            if values.get("type") not in (None, "", "text/javascript", "module", "text/css"):
                return
            self._open = (tag, [])

    def handle_data(self, data):
        if self._open:
            self._open[1].append(data)

    def handle_endtag(self, tag):
        if self._open and self._open[0] == tag:
            digest = hashlib.sha256("".join(self._open[1]).encode()).digest()
            source = f"'sha256-{base64.b64encode(digest).decode()}'"
            self.found.append((f"{tag}-src", source))
            self._open = None


def test_inline_code_is_allowed_by_its_hash_and_nowhere_else(demo, demo_it):
    """Templates changed? The message names the hash to put in netlify.toml."""
    for site in (demo, demo_it):  # another language and sub-path: the same inline code
        for file in site.rglob("*.html"):
            parser = InlineCode()
            parser.feed(file.read_text("utf-8"))
            path = "/" + file.relative_to(site).as_posix()
            policy = directives(headers_for(path)["Content-Security-Policy"])
            for directive, source in parser.found:
                allowed = policy.get(directive, policy["default-src"])
                assert source in allowed, f"{path}: inline {directive} {source} not in netlify.toml"
            if file.parent.name != "embed":
                assert parser.found == [], path


# --------------------------------------------------------------------------- in Chromium


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("csp")
    build_demo(root, root / "public", "--base-url", "https://agenda.example.org/")
    return root / "public"


@pytest.fixture(scope="module")
def demo_it(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("csp-it")
    build_demo(root, root / "public", "--base-url", "https://example.org/sub/", "--language", "it")
    return root / "public"


class NetlifyHandler(SimpleHTTPRequestHandler):
    """Serves a site as Netlify would with netlify.toml: its headers, 404.html when missing."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_head(self):  # type: ignore[override]
        path = self.path.split("?")[0]
        file = Path(self.translate_path(path))
        if file.is_dir():
            file = file / "index.html"
        status = 200
        if not file.is_file():
            status, file = 404, Path(self.directory) / "404.html"
        body = file.read_bytes()
        self.send_response(status)
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers_for(path).items():
            self.send_header(name, value)
        self.end_headers()
        return io.BytesIO(body)


@pytest.fixture(scope="module")
def site(demo) -> Iterator[str]:
    handler = functools.partial(NetlifyHandler, directory=str(demo))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """Another origin: a third-party page (no headers of ours)."""
    folder = tmp_path_factory.mktemp("host")
    with serve(folder) as url:
        yield url, folder


_names = itertools.count()


def host_page(host: tuple[str, Path], body: str, head: str = "") -> str:
    url, folder = host
    name = f"page{next(_names)}.html"
    (folder / name).write_text(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{head}'
        f"<title>Host</title></head><body>{body}</body></html>",
        "utf-8",
    )
    return f"{url}/{name}"


@pytest.fixture
def violations(page) -> list[dict]:
    """Every securitypolicyviolation event, in every frame of ``page``."""
    found: list[dict] = []
    page.expose_binding("__gsViolation", lambda source, v: found.append(v))
    page.add_init_script(
        """document.addEventListener("securitypolicyviolation", (e) => window.__gsViolation({
            url: location.href, directive: e.effectiveDirective, blocked: e.blockedURI,
            sample: e.sample}));"""
    )
    return found


@pytest.mark.browser
@pytest.mark.parametrize("name", PAGES)
def test_each_page_works_under_its_policy(page, violations, site, name):
    response = page.goto(site + PAGES[name])
    assert "Content-Security-Policy" in {k.title(): v for k, v in response.headers.items()}
    page.wait_for_load_state("load")
    if name == "widget frame":
        page.wait_for_selector("gancio-site-events li")
    if name == "widget builder":
        page.wait_for_selector("gancio-site-events .f")  # the preview ran
        page.locator('input[name="tags"][value="musica"]').check()
        page.get_by_label("Dark").check()
        # A function, not an expression: Playwright polls an expression with eval, which
        # the page's policy refuses.
        page.wait_for_function(
            "() => document.getElementById('gs-script').value.includes('data-theme=\"dark\"')"
        )
        page.wait_for_function(
            """() => document.querySelector("gancio-site-events")
                ?.shadowRoot.querySelector(".gs.dark .f")"""
        )
    else:
        main = page.locator("main")
        assert main.count() == 1 and main.inner_text().strip()
    if name == "home":  # a style attribute, an image's focal point, applies
        thumb = page.locator('img.event-thumb[style="object-position: 25% 75%"]')
        assert thumb.evaluate("i => getComputedStyle(i).objectPosition") == "25% 75%"
    # the theme's stylesheet applies
    assert page.evaluate("getComputedStyle(document.querySelector('.skip, main')).position")
    page.wait_for_timeout(100)  # late violations (images, the widget's fetch)
    errors = page.errors
    if name == "not found":  # the page's own status, reported by Chromium
        assert response.status == 404
        errors = [e for e in errors if "the server responded with a status of 404" not in e]
    assert violations == [] and errors == [] and page.dialogs == []


@pytest.mark.browser
def test_the_policy_blocks_what_it_should(page, violations, site, demo):
    """The listener sees violations: an injected inline script and style are refused."""
    folder = demo / "event" / "injected"
    folder.mkdir(exist_ok=True)
    (folder / "index.html").write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>x</title>'
        "<style>body{color:red}</style></head><body><main>"
        "<script>window.ran = 1</script><img src=x onerror='window.ran = 2'>"
        "</main></body></html>",
        "utf-8",
    )
    try:
        page.goto(site + "/event/injected/")
        page.wait_for_timeout(200)
        assert page.evaluate("window.ran") is None
    finally:
        (folder / "index.html").unlink()
        folder.rmdir()
    blocked = sorted({v["directive"] for v in violations})
    assert blocked == ["script-src-attr", "script-src-elem", "style-src-elem"], violations


@pytest.mark.browser
def test_the_widget_works_on_a_strict_third_party_page(page, violations, site, host):
    # The host's own policy allows the site for scripts and data and nothing for styles,
    # as the README says is enough.
    policy = f"default-src 'none'; script-src {site}; connect-src {site}"
    snippet = (
        f'<a data-gancio-site-fallback href="{site}/">Upcoming events</a>'
        f'<script src="{site}/embed.js" data-now="{NOW}" data-accent="#0a6e4f" async></script>'
    )
    head = f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">'
    page.goto(host_page(host, snippet, head))
    page.wait_for_selector("gancio-site-events .f")
    assert page.locator("gancio-site-events li .t").count() == 10
    box = page.locator("gancio-site-events .gs")
    assert box.evaluate("e => getComputedStyle(e).borderRadius") == "12px"  # its stylesheet
    more = page.locator("gancio-site-events .more")
    assert more.evaluate("e => getComputedStyle(e).color") == "rgb(10, 110, 79)"  # data-accent
    assert violations == [] and page.errors == []


@pytest.mark.browser
def test_only_the_frame_page_may_be_framed_by_another_site(page, violations, site, host):
    frames = "".join(
        f'<iframe src="{site}{path}" title="{path}"></iframe>'
        for path in (f"/embed/?now={NOW}", "/", "/embed/builder.html", "/tag/musica/")
    )
    page.goto(host_page(host, frames))
    widget = page.frame_locator("iframe").first.locator("gancio-site-events li")
    widget.first.wait_for()
    assert widget.count() == 10
    page.wait_for_timeout(300)
    refused = [e for e in page.errors if "frame-ancestors 'none'" in e]
    assert len(refused) == 3, page.errors
    for frame in page.frames[1:]:  # the refused ones show Chromium's error page, not ours
        ours = frame.evaluate("!!document.querySelector('main, gancio-site-events')")
        assert ours == (frame.url == f"{site}/embed/?now={NOW}"), frame.url
    assert [e for e in page.errors if e not in refused] == []
