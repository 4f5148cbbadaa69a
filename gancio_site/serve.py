"""The dev server: build once, serve the output on localhost, rebuild when the site changes.

- Events are fetched once (``fetch_snapshot``) and every rebuild reuses them, so saving a
  template never touches the instance. They are fetched again every ``refresh`` minutes,
  when the user types ``r`` + Enter, and when a config change alters the instance or a
  filter (``FETCH_KEYS``).
- A watcher polls the site's templates, static files, config file and ``events/`` folder
  (mtime, size and inode of every file, every 0.25 s; stdlib only). A change starts a
  rebuild once the files have been quiet for one poll, so a burst of saves gives one build.
  Each build is compared with the files as they were *before* it read them, so a save
  landing during a build is built next: the last saved state is always what ends up
  served. Rebuilds run whether or not a browser is open.
- The output and cache folders are never walked: they are skipped by resolved absolute path,
  as are hidden files (editor swap files, the build's temporary folders). Case B12: Lektor
  resolved its ignored output folder against another folder than its builder did and
  rebuilt on its own writes forever.
- HTTP is the standard library's threading server (``SO_REUSEADDR``, so a restart right
  after Ctrl-C binds again). Every HTML answer gets a small script that polls
  ``VERSION_PATH`` twice a second and reloads the page when the build generation changes:
  after a good build, after a failed one (to show the error page) and after a restart.

Why not livereload (the plan was to use it here only): python-livereload drives reloads
from its own watcher, which skips a change arriving shortly after the previous one and does
nothing while no browser is connected (case B12). Pushing a reload from our watcher means
calling its websocket handler's class methods on tornado's loop thread and keeping it from
watching the working folder on the first connection; the error page, the path checks and the
build counter would be tornado handler subclasses. A polling script needs no websocket, no
event loop shared with the watcher and works in every browser; the cost, a tiny request per
open tab twice a second, is nothing on localhost. So no module imports livereload.
"""

from __future__ import annotations

import errno
import html
import json
import mimetypes
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit

from .build import build, fetch_snapshot, now_timestamp
from .cache import Cache
from .config import SiteConfig
from .errors import ConfigError, GancioSiteError, ShrinkRefused
from .fetch import Snapshot
from .output import OutputTree

WATCH_INTERVAL = 0.25  # seconds between polls; also the quiet time before a rebuild
VERSION_PATH = "/__gancio-site__/version"
FETCH_KEYS = ("instance", "tags", "places", "start", "end", "max", "show_recurrent", "timezone")
FETCH_KEYS += ("cache",)  # offline builds read the cache
MAX_NAMES = 3
MAX_WARNINGS = 20
_RELOAD_SCRIPT = """<script>/* gancio-site serve: reload after every build */
(function () {
  var seen = %s;
  function check() {
    fetch("%s", {cache: "no-store"}).then(function (r) { return r.text(); }).then(
      function (now) { if (now !== seen) { location.reload(); } else { setTimeout(check, 500); } },
      function () { setTimeout(check, 1000); });
  }
  setTimeout(check, 500);
})();
</script>
"""


class ServeError(GancioSiteError):
    """The server cannot start (port taken, address not available)."""


class Reporter(Protocol):
    """Where the server's lines go; ``cli.py`` prints them."""

    def say(self, line: str) -> None: ...
    def warn(self, line: str) -> None: ...
    def error(self, line: str) -> None: ...


@dataclass(frozen=True)
class Options:
    mode: str = "online"  # online, offline or demo
    host: str = "127.0.0.1"
    port: int = 8000
    refresh: float | None = None  # minutes between fetches; None: only at start and on "r"
    config_file: Path = Path("gancio-site.toml")
    interactive: bool = False  # read "r" + Enter from stdin


@dataclass(frozen=True)
class Published:
    """What the HTTP side serves, replaced whole after every build."""

    root: Path
    prefix: str  # base_url's path: the site is served under it
    builds: int
    token: str  # changes on every build or failure: open pages reload
    error: str | None = None


def serve(load: Callable[[], SiteConfig], options: Options, reporter: Reporter) -> None:
    """Build, serve and rebuild until Ctrl-C; raise ``ServeError`` when the port is taken."""
    site = DevSite(load, options, reporter)
    httpd = bind(options.host, options.port, site)  # before fetching: a taken port fails fast
    thread = threading.Thread(target=httpd.serve_forever, args=(0.1,), daemon=True)
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if on_main else None
    if on_main:  # a shell's background job starts with Ctrl-C ignored: take it back
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        site.start()
        thread.start()
        port = httpd.server_address[1]
        reporter.say(
            f"Serving {site.config.output} at {_url(options.host, port)}"
            f"{site.published.prefix} (Ctrl-C to stop)"
        )
        if options.interactive:
            reporter.say("Type r + Enter to fetch the events again.")
            threading.Thread(target=site.read_keys, args=(sys.stdin,), daemon=True).start()
        site.watch(threading.Event())
    except KeyboardInterrupt:
        reporter.say("Stopped.")
    finally:
        if thread.is_alive():
            httpd.shutdown()
        httpd.server_close()
        if on_main:
            signal.signal(signal.SIGTERM, previous)


def _attended(config: SiteConfig) -> SiteConfig:
    """Return ``config`` allowing a build with far fewer events than the last one.

    Used once a filter was changed in the config while serving: narrowing it while editing
    is the point. Otherwise the guard holds as in ``build``: an instance answering an
    empty list must not empty the site, nor the cache a later build starts from.
    """
    if hasattr(config, "allow_shrink"):
        return replace(config, allow_shrink=True)
    return config


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM stops like Ctrl-C: an unfinished build is removed, the socket closed."""
    raise KeyboardInterrupt


class DevSite:
    """The site being served: its config, fetched events and last build."""

    def __init__(self, load: Callable[[], SiteConfig], options: Options, reporter: Reporter):
        self.load, self.options, self.reporter = load, options, reporter
        self.config = self.fetched_for = load()  # the config the snapshot was fetched for
        self.config_broken = False
        self.config_file = Path(os.path.abspath(options.config_file))
        self.snapshot: Snapshot | None = None
        self.now_ts = 0.0
        self.builds = 0
        self.generation = 0
        self.boot = secrets.token_hex(4)
        self.published = self._state(None)
        self.refetch_asked = threading.Event()
        self.next_fetch = float("inf")
        self.narrowed = False  # a filter was changed while serving

    def start(self) -> None:
        """Fetch (a failure is fatal here: there is nothing to show) and build once.

        An output folder that ``build`` would refuse is refused first: the server serves
        only a folder gancio-site made.
        """
        OutputTree(self.config.output).check()
        self.snapshot, self.now_ts = self._fetch(self.config)
        self.rebuild()

    def watch(self, stop: threading.Event) -> None:
        """Poll the sources and rebuild after changes, until ``stop`` is set."""
        seen = self.scan()
        changed: set[str] = set()
        while not stop.wait(WATCH_INTERVAL):
            now = self.scan()
            if now != seen:  # still changing: wait until quiet for one poll
                changed |= {k for k in now.keys() | seen.keys() if now.get(k) != seen.get(k)}
                seen = now
                continue
            fetch = self.refetch_asked.is_set() or time.monotonic() >= self.next_fetch
            if not changed and not fetch:
                continue
            self.refetch_asked.clear()
            if str(self.config_file) in changed or self.config_broken:
                ok = self.reload_config()
                # The watched folders may have moved. Files watched before keep the state
                # seen before the reload, so a save made meanwhile is built next.
                seen = {path: seen.get(path, state) for path, state in self.scan().items()}
                if not ok:
                    changed.clear()
                    continue
            fetched = fetch and self.refetch()
            if changed or fetched:
                reason = self._names(changed) if changed else "Events fetched again"
                self.rebuild(reason, news=fetched)
            changed.clear()

    def rebuild(self, reason: str = "", news: bool = True) -> None:
        """Build from the current snapshot; on failure keep the old output, show the error."""
        assert self.snapshot is not None
        self.builds += 1  # counted from the start: whoever sees the new files sees the count
        self.published = replace(self.published, builds=self.builds)
        cache = Cache(self.config.cache, self.config.instance)
        try:
            report = build(
                _attended(self.config) if self.narrowed else self.config,
                mode=self.options.mode,
                snapshot=self.snapshot,
                now_ts=self.now_ts,
            )
        except ShrinkRefused as exc:
            if self.options.mode == "online":
                cache.rollback()  # the refused list is not kept for later builds either
            self.fail(str(exc))
            return
        except GancioSiteError as exc:
            self.fail(str(exc))
            return
        except Exception as exc:  # a bug must not stop the server; show it like any failure
            self.fail(f"build failed unexpectedly: {type(exc).__name__}: {exc}")
            return
        finally:
            if self.options.mode == "online":
                cache.release()  # the list fetched last is the one the site shows now
        if news:  # the first build, or after a fetch: the data's warnings are new
            for warning in report.warnings[:MAX_WARNINGS]:
                self.reporter.warn(warning)
        self.reporter.say(f"{reason}: {report.summary()}" if reason else report.summary())
        self.published = self._state(None)

    def fail(self, message: str) -> None:
        for line in message.splitlines():
            self.reporter.error(line)
        self.published = self._state(message)

    def reload_config(self) -> bool:
        """Load the changed config; fetch again when the instance or a filter changed.

        While the config is broken (or its new events could not be fetched) the error page
        stays, and every later change tries again: no build mixes old and new settings.
        """
        try:
            new = self.load()
            if any(getattr(self.fetched_for, k) != getattr(new, k) for k in FETCH_KEYS):
                self.snapshot, self.now_ts = self._fetch(new)
                self.fetched_for = new
                self.narrowed = True  # a filter changed on purpose: the site may shrink
        except GancioSiteError as exc:
            self.config_broken = True
            self.fail("\n".join(exc.problems) if isinstance(exc, ConfigError) else str(exc))
            return False
        self.config, self.config_broken = new, False
        return True

    def refetch(self) -> bool:
        """Fetch the events again; on failure keep the ones fetched before."""
        try:
            self.snapshot, self.now_ts = self._fetch(self.config)
        except GancioSiteError as exc:
            self.reporter.error(f"{exc} (still showing the events fetched before)")
            return False
        return True

    def _fetch(self, config: SiteConfig) -> tuple[Snapshot, float]:
        if self.options.refresh:
            self.next_fetch = time.monotonic() + self.options.refresh * 60
        return fetch_snapshot(config, self.options.mode, now_timestamp())

    def _state(self, error: str | None) -> Published:
        """The state served next. After a failure the folder served stays the last one
        built: a config now naming another folder (one ``build`` refuses) is not served."""
        self.generation += 1
        root = Path(os.path.abspath(self.config.output))
        if error is not None:
            root = self.published.root
        token = f"{self.boot}-{self.generation}"
        return Published(root, self.config.base_path, self.builds, token, error)

    def read_keys(self, stream: Iterable[str]) -> None:
        """Ask for a fetch on every line "r" read from ``stream`` (the terminal)."""
        for line in stream:
            if line.strip().lower() == "r":
                self.refetch_asked.set()

    # -- what is watched

    def roots(self) -> list[Path]:
        """Return the watched files and folders, absolute."""
        folder = self.config_file.parent if self.config_file.exists() else Path.cwd()
        paths = [self.config.templates, self.config.static, folder / "events", self.config_file]
        return [Path(os.path.abspath(p)) for p in paths]

    def scan(self) -> dict[str, tuple[int, int, int]]:
        """Return path -> (mtime, size, inode) of every watched file."""
        skip = {os.path.realpath(p) for p in (self.config.output, self.config.cache)}
        return scan(self.roots(), skip)

    def _names(self, changed: set[str]) -> str:
        base = self.config_file.parent
        names = sorted(os.path.relpath(p, base) if p.startswith(str(base)) else p for p in changed)
        more = f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else ""
        return ", ".join(names[:MAX_NAMES]) + more + " changed"


def scan(roots: Iterable[Path], skip: set[str]) -> dict[str, tuple[int, int, int]]:
    """Return path -> (mtime, size, inode) of the files under ``roots``, minus ``skip``."""
    found: dict[str, tuple[int, int, int]] = {}

    def add(path: str) -> None:
        try:
            st = os.stat(path)
        except OSError:  # gone between listing and stat
            return
        found[path] = (st.st_mtime_ns, st.st_size, st.st_ino)

    for root in roots:
        real = os.path.realpath(root)
        if any(real == s or real.startswith(s + os.sep) for s in skip):
            continue
        if root.is_file():
            add(str(root))
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = [
                d
                for d in dirs
                if not _ignored(d) and os.path.realpath(os.path.join(folder, d)) not in skip
            ]
            for name in files:
                if not _ignored(name):
                    add(os.path.join(folder, name))
    return found


def _ignored(name: str) -> bool:
    """Hidden files, editor backups and swap files, caches."""
    return (
        name.startswith((".", "#"))
        or name.endswith(("~", ".swp", ".swx", ".tmp"))
        or name == "__pycache__"
    )


# -- HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True  # SO_REUSEADDR: bind again right after Ctrl-C (case B12)
    site: DevSite

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # browsers hang up: fine
            super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


def bind(host: str, port: int, site: DevSite) -> _Server:
    """Return a server listening on ``host:port``; raise ``ServeError`` when it cannot."""
    cls = _Server6 if ":" in host else _Server
    try:
        httpd = cls((host, port), _Handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            hint = _free_port(cls, host, port)
            raise ServeError(f"port {port} is already in use; try --port {hint}") from None
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    httpd.site = site
    return httpd


def _free_port(cls: type[_Server], host: str, port: int) -> int:
    for candidate in range(port + 1, min(port + 20, 65535)):
        with socket.socket(cls.address_family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return port + 1


def _url(host: str, port: int) -> str:
    """Return the address to open in a browser (any-address binds open as localhost)."""
    shown = "localhost" if host in ("", "0.0.0.0", "::") else host  # noqa: S104
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def locate(root: Path, prefix: str, path: str) -> Path | str | None:
    """Return the file a request path names, a path to redirect to, or None (404).

    Only files inside ``root`` after resolving symlinks: no ``..`` (also percent-encoded),
    no absolute or backslashed paths, no NUL bytes.
    """
    try:
        path = unquote(path, errors="strict")
    except UnicodeDecodeError:
        return None
    if path + "/" == prefix or (path == "/" and prefix != "/"):
        return prefix
    if not path.startswith(prefix):
        return None
    rel = path[len(prefix) :]
    parts = rel.split("/")
    if "\x00" in rel or "\\" in rel or "" in parts[:-1] or {".", ".."} & set(parts):
        return None
    target = root.joinpath(*parts[:-1], parts[-1] or "index.html")
    if parts[-1] and target.is_dir():
        return quote(path) + "/"  # headers are latin-1: "/tag/تقنية" must go encoded
    try:
        real = target.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(root.resolve()) or not real.is_file():
        return None
    return real


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "gancio-site"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the terminal is for builds and errors

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        state = self.server.site.published
        path = urlsplit(self.path).path
        if path == VERSION_PATH:
            return self._send(200, state.token.encode(), "text/plain; charset=utf-8", state)
        found = locate(state.root, state.prefix, path)
        if isinstance(found, str):
            return self._send(302, b"", "text/plain", state, Location=found)
        is_html = found.suffix == ".html" if found else "html" in self.headers.get("Accept", "")
        if state.error is not None and is_html:
            return self._send(500, error_page(state.error), "text/html; charset=utf-8", state)
        if found is None:
            page = state.root / "404.html"
            body = page.read_bytes() if page.is_file() else b"Not found\n"
            kind = "text/html; charset=utf-8" if page.is_file() else "text/plain; charset=utf-8"
            return self._send(404, body, kind, state)
        try:
            body = found.read_bytes()
        except OSError:  # replaced by a build meanwhile
            return self._send(404, b"Not found\n", "text/plain; charset=utf-8", state)
        self._send(200, body, _content_type(found.name), state)

    def _send(self, status: int, body: bytes, kind: str, state: Published, **headers: str) -> None:
        if kind.startswith("text/html"):
            script = _RELOAD_SCRIPT % (json.dumps(state.token), VERSION_PATH)
            body = inject(body, script.encode())
        self.send_response(status)
        headers |= {
            "Content-Type": kind,
            "Content-Length": str(len(body)),
            "Cache-Control": "no-store",
            "X-Gancio-Site-Build": str(state.builds),
            # Like Netlify with the project's netlify.toml: a widget on another local
            # origin can read embed.json while the site is previewed.
            "Access-Control-Allow-Origin": "*",
        }
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def inject(page: bytes, script: bytes) -> bytes:
    """Return ``page`` with ``script`` before its last ``</body>`` (or at the end)."""
    at = page.lower().rfind(b"</body>")
    return page + script if at < 0 else page[:at] + script + page[at:]


def _content_type(name: str) -> str:
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if name.endswith(".ics"):
        kind = "text/calendar"
    if kind.startswith("text/") or kind in ("application/json", "application/xml"):
        kind += "; charset=utf-8"
    return kind


_TEMPLATE_ERROR = re.compile(r"template (?P<file>.+?), line (?P<line>\d+): (?P<message>.*)", re.S)


def error_page(message: str) -> bytes:
    """Return the HTML page shown instead of every page while the last build failed."""
    found = _TEMPLATE_ERROR.fullmatch(message)
    where = ""
    if found:
        where = (
            f"<p>File <code>{html.escape(found['file'])}</code>, "
            f"line <strong>{found['line']}</strong></p>"
        )
        message = found["message"]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Build failed - gancio-site</title></head>\n"
        '<body style="font-family: sans-serif; margin: 2em">\n'
        "<h1>Build failed</h1>\n"
        f"{where}<pre style='white-space: pre-wrap'>{html.escape(message)}</pre>\n"
        "<p>Fix the file and save: this page reloads by itself.</p>\n</body></html>\n"
    ).encode()
