"""A fake Gancio 1.21 server for the test-suite.

A real HTTP server on 127.0.0.1 (ephemeral port, background thread) that answers the public
read API like the Gancio 1.21.0 instance documented in the project's API notes: same selection
rules, same item shapes and key order, same status codes and content types, same headers
(CORS, rate-limit, weak ETag computed like Express, gzip on request).

It is seeded from ``tests/fixtures/instance.json``; rows are the "full" shape (list fields plus
``description``, ``is_visible``, ``recurrent``, ``parentId``, ``updatedAt``). Tests may mutate
``FakeGancio.events`` between requests, inject failures with :meth:`FakeGancio.fail` and look at
what was asked in :attr:`FakeGancio.requests`.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import gzip
import hashlib
import json
import math
import re
import secrets
import socket
import string
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

FIXTURE = Path(__file__).parent / "fixtures" / "instance.json"
FIXED_NOW = 1796301525

_ISE = "500: Internal Server Error"
_JSON = "application/json; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"
_HTML = "text/html; charset=utf-8"


def load_fixture() -> dict[str, Any]:
    """A fresh deep copy of ``tests/fixtures/instance.json``."""
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    seconds: float = 0.0  # how long the fake took to answer (the benchmark's server time)


@dataclass
class _Canned:
    prefix: str
    status: int
    body: str
    times: int
    headers: dict[str, str]
    content_type: str
    delay: float
    method: str | None = None  # only requests with this method, when given


@dataclass
class _Answer:
    status: int
    body: bytes
    content_type: str | None = _TEXT
    headers: dict[str, str] = field(default_factory=dict)


class _Unparsable(Exception):
    """Makes the route answer like an uncaught exception in Express: 500."""


# --------------------------------------------------------------------------- JS / SQLite semantics

_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _js_str(value: str | list[str]) -> str:
    return ",".join(value) if isinstance(value, list) else value


def _js_number(value: str | list[str] | None) -> float:
    """JavaScript ``Number(value)`` (NaN for garbage)."""
    if value is None:
        return math.nan
    text = _js_str(value).strip()
    if not text:
        return 0.0
    if re.fullmatch(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+", text):
        return float(int(text, 0))
    if re.fullmatch(r"[+-]?Infinity", text):
        return -math.inf if text.startswith("-") else math.inf
    return float(text) if _DECIMAL.fullmatch(text) else math.nan


def _sql_value(text: str) -> float | str:
    """A bound text parameter compared with an INTEGER column: numeric text becomes a number."""
    stripped = text.strip()
    return float(stripped) if _DECIMAL.fullmatch(stripped) else text


def _sql_cmp(column: float | None, op: str, param: float | str) -> bool:
    """SQLite comparison; NULL never matches and any INTEGER sorts before any TEXT."""
    if column is None:
        return False
    if isinstance(param, str):
        return op in ("<=", "<")
    return {">=": column >= param, "<=": column <= param}[op]


def _like(value: str | None, pattern: str) -> bool:
    """SQLite ``LOWER(value) LIKE '%pattern%'`` (ASCII-only case folding)."""
    if value is None:
        return False
    regex = "".join(
        ".*" if c == "%" else "." if c == "_" else re.escape(c)
        for c in f"%{pattern.translate(_ASCII_LOWER)}%"
    )
    return re.fullmatch(regex, value.translate(_ASCII_LOWER), re.DOTALL) is not None


def _js_or_zero(value: str | list[str] | None) -> float:
    """``Number(value) || 0``."""
    number = _js_number(value)
    return 0.0 if math.isnan(number) else number


def _is_true(value: str | list[str] | None, default: bool) -> bool:
    """Gancio's ``helpers.queryParamToBool``."""
    return default if value is None else _js_str(value).lower() == "true"


def _express_query(raw: str) -> dict[str, str | list[str]]:
    """Approximates Express' ``qs`` parser: repeated keys and ``key[]`` become arrays."""
    return _express_pairs(parse_qsl(raw, keep_blank_values=True))


def _express_pairs(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """The same for form fields (multer's append-field behaves alike for these cases)."""
    out: dict[str, str | list[str]] = {}
    for key, val in pairs:
        base, bracket = (key.split("[", 1)[0], True) if "[" in key[1:] else (key, False)
        if base in out or bracket:
            prev = out.get(base, [])
            out[base] = [*([prev] if isinstance(prev, str) else prev), val]
        else:
            out[base] = val
    return out


def _to_js_json(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or value is None:
        return value
    if kind is dict:
        return {k: _to_js_json(v) for k, v in value.items()}
    if kind is list:
        return [_to_js_json(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _json_bytes(value: Any) -> bytes:
    """``JSON.stringify`` as Express' ``res.json`` sends it."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if _WHOLE_FLOAT.search(text):  # 12.0 is 12 in JavaScript: walk the values (slower)
        text = json.dumps(_to_js_json(value), ensure_ascii=False, separators=(",", ":"))
    return text.encode()


_WHOLE_FLOAT = re.compile(r"\d\.0[,\]}]|\de[+-]")


def _etag(body: bytes) -> str:
    digest = base64.b64encode(hashlib.sha1(body).digest()).decode()[:27]
    return f'W/"{len(body):x}-{digest}"'


# --------------------------------------------------------------------------- html-to-text

_BLOCKS = {
    "p": (2, 2),
    "blockquote": (2, 2),
    "ul": (2, 2),
    "ol": (2, 2),
    "pre": (2, 2),
    "table": (2, 2),
    "hr": (2, 2),
    "li": (1, 1),
    "div": (1, 1),
    "tr": (1, 1),
    "h1": (3, 2),
    "h2": (3, 2),
    "h3": (3, 2),
    "h4": (2, 2),
    "h5": (2, 2),
    "h6": (2, 2),
}


class _HtmlToText(HTMLParser):
    """A small imitation of the ``html-to-text`` defaults Gancio uses for ``plain_description``:
    80-column word wrap, blank lines around paragraphs, upper-case headings, ``text [href]``
    links, `` * ``/`` 1. `` list items and ``> `` quotes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = ""
        self.pending = 0
        self.inline: list[str] = []
        self.upper = 0
        self.quote = 0
        self.skip = 0
        self.links: list[str | None] = []
        self.lists: list[list[int]] = []  # [counter] for <ol>, [-1] for <ul>
        self.item_prefix: str | None = None

    def _flush(self) -> None:
        text = re.sub(r"[ \t\n\r\f]+", " ", "".join(self.inline)).strip()
        self.inline = []
        if not text:
            return
        first = self.item_prefix or ""
        quote = "> " * self.quote
        lines: list[str] = []
        for word in text.split(" "):
            if lines and len(lines[-1]) + 1 + len(word) <= 80 - len(quote) - len(first):
                lines[-1] += " " + word
            else:
                lines.append(word)
        indent = " " * len(first)
        rendered = [quote + (indent if i else first) + line for i, line in enumerate(lines)]
        if self.item_prefix:
            self.item_prefix = " " * len(self.item_prefix)
        if self.out:
            self.out += "\n" * max(self.pending, 1)
        self.out += "\n".join(rendered)
        self.pending = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag == "br":
            if "".join(self.inline).strip():
                self._flush()
                self.pending = max(self.pending, 1)
            else:
                self.pending += 1
        elif tag == "a":
            self.links.append(dict(attrs).get("href"))
        elif tag in _BLOCKS:
            self._flush()
            self.pending = max(self.pending, _BLOCKS[tag][0])
            if tag.startswith("h"):
                self.upper += 1
            elif tag == "blockquote":
                self.quote += 1
            elif tag in ("ul", "ol"):
                self.lists.append([-1 if tag == "ul" else 0])
            elif tag == "li":
                counter = self.lists[-1] if self.lists else [-1]
                if counter[0] >= 0:
                    counter[0] += 1
                self.item_prefix = " * " if counter[0] < 0 else f" {counter[0]}. "

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href and not href.startswith("#"):
                self.inline.append(f" [{href.removeprefix('mailto:')}]")
        elif tag in _BLOCKS:
            self._flush()
            self.pending = max(self.pending, _BLOCKS[tag][1])
            if tag.startswith("h"):
                self.upper = max(0, self.upper - 1)
            elif tag == "blockquote":
                self.quote = max(0, self.quote - 1)
            elif tag in ("ul", "ol") and self.lists:
                self.lists.pop()
            elif tag == "li":
                self.item_prefix = None

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.inline.append(data.upper() if self.upper else data)

    def text(self) -> str:
        self.close()
        self._flush()
        return self.out


def html_to_text(html: str | None) -> str:
    parser = _HtmlToText()
    parser.feed(html or "")
    return parser.text()


# --------------------------------------------------------------------------- rows and shapes

_ROW_DEFAULTS: dict[str, Any] = {
    "slug": None,
    "description": "",
    "multidate": None,
    "end_datetime": None,
    "media": [],
    "is_visible": True,
    "recurrent": None,
    "online_locations": [],
    "parentId": None,
    "tags": [],
    "updatedAt": "2026-12-03T12:00:00.000Z",
    "apUserApId": None,
}
_PLACE_DEFAULTS: dict[str, Any] = {"address": "", "latitude": None, "longitude": None}


def _row(raw: dict[str, Any]) -> dict[str, Any]:
    """A row with the optional fields filled in, so tests may add sparse rows."""
    # {**deepcopy(defaults), **raw}, copying only the defaults the row lacks.
    row = {k: raw[k] if k in raw else copy.deepcopy(v) for k, v in _ROW_DEFAULTS.items()}
    row.update(raw)
    row["place"] = {**_PLACE_DEFAULTS, **(raw.get("place") or {"id": 0, "name": ""})}
    return row


def _end(row: dict[str, Any]) -> int | None:
    """``Number(e.end_datetime) || null``."""
    return row["end_datetime"] or None


def _key(row: dict[str, Any]) -> tuple[int, int]:
    return row["start_datetime"], row["id"]


def _list_item(row: dict[str, Any]) -> dict[str, Any]:
    place = row["place"]
    item: dict[str, Any] = {"id": row["id"], "title": row["title"], "slug": row["slug"]}
    if row["multidate"]:
        item["multidate"] = row["multidate"]
    item |= {
        "start_datetime": row["start_datetime"],
        "end_datetime": _end(row),
        "media": row["media"],
        "online_locations": row["online_locations"],
        "updatedAt": row["updatedAt"],
        "apUserApId": row["apUserApId"],
        "parentId": row["parentId"],
        "tags": sorted(row["tags"]),
        "place": {k: place[k] for k in ("id", "name", "address", "latitude", "longitude")},
    }
    return item


def _export_item(row: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    place = row["place"]
    return {
        "id": row["id"],
        "title": row["title"],
        "slug": row["slug"],
        "description": row["description"],
        "multidate": row["multidate"],
        "start_datetime": row["start_datetime"],
        "end_datetime": row["end_datetime"],
        "image_path": None,
        "media": row["media"],
        "online_locations": row["online_locations"],
        "ap_object": None,
        "ap_id": None,
        "updatedAt": row["updatedAt"],
        "apUserApId": row["apUserApId"],
        "parentId": row["parentId"],
        "tags": [{"tag": t} for t in sorted(tags)],
        "place": {"name": place["name"], "id": place["id"], "address": place["address"]},
    }


# --------------------------------------------------------------------------- the fake


class FakeGancio:
    """A fake Gancio 1.21 instance; see the module docstring."""

    def __init__(
        self,
        events: list[dict[str, Any]] | None = None,
        *,
        now: int = FIXED_NOW,
        timezone: str = "Europe/Rome",
        nodeinfo: dict[str, Any] | None = None,
    ) -> None:
        fixture = load_fixture()
        self.events: list[dict[str, Any]] = copy.deepcopy(
            fixture["events"] if events is None else events
        )
        self.now = now
        self.timezone = timezone
        self.nodeinfo: dict[str, Any] = copy.deepcopy(
            fixture["nodeinfo"] if nodeinfo is None else nodeinfo
        )
        self.nodeinfo.setdefault("metadata", {})["nodeTimezone"] = timezone
        self.requests: list[Recorded] = []
        self.url = ""
        self._canned: list[_Canned] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._api_hits: list[float] = []
        self._window_start = 0.0
        # accounts and writes (see the "accounts and writes" section)
        self.users: list[dict[str, Any]] = copy.deepcopy(USERS)
        self.tokens: dict[str, int] = {}  # token -> user id; tokens never expire (API.md 3)
        self.login_api = "1.x"  # "2.0": /oauth/login is gone, POST /api/login/token works
        self.write_limit = 6  # POST /api/event per client address and window (API.md 14)
        self.write_window = 300.0  # seconds; Retry-After is what is left of the window
        self.moderate_users = False  # hide new events of role "user" (not 1.21's default)
        # Instance settings for recurrent events (API.md 4): occurrences listed without
        # `show_recurrent`, and whether the instance allows recurrent events at all.
        self.recurrent_event_visible = False
        self.allow_recurrent_event = True
        self.write_delay = 0.0  # seconds between saving a new event and answering
        self._write_hits: dict[str, tuple[float, int]] = {}

    # -- lifecycle

    def start(self) -> FakeGancio:
        if self._server is not None:
            return self
        fake = self

        class Handler(_Handler):
            gancio = fake

        server = _Server(("127.0.0.1", 0), Handler)
        self._server = server
        self._stopping.clear()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            daemon=True,
            name=f"fake-gancio-{server.server_address[1]}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # wake up handler threads idling on keep-alive connections
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FakeGancio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test helpers

    def fail(
        self,
        path_prefix: str,
        status: int = 500,
        body: str = _ISE,
        times: int = 1,
        headers: dict[str, str] | None = None,
        content_type: str = _HTML,
        delay: float = 0.0,
        method: str | None = None,
    ) -> None:
        """The next ``times`` requests whose path starts with ``path_prefix`` (and whose method
        is ``method``, if given) get this answer (after ``delay`` seconds); ``times=-1`` means
        forever."""
        with self._lock:
            self._canned.append(
                _Canned(
                    path_prefix,
                    status,
                    body,
                    times,
                    dict(headers or {}),
                    content_type,
                    delay,
                    method,
                )
            )

    def reset_failures(self) -> None:
        """Forget every answer set by ``fail`` that is still waiting to be given."""
        with self._lock:
            self._canned.clear()

    def count(self, path_prefix: str) -> int:
        return sum(1 for r in list(self.requests) if r.path.startswith(path_prefix))

    def touch(self, event_id: int, **changes: Any) -> None:
        """Update fields of one row and move its ``updatedAt`` after every existing one."""
        row = next(r for r in self.events if r["id"] == event_id)
        row.update(changes)
        stamps = [datetime.fromisoformat(r["updatedAt"]) for r in self.events if r.get("updatedAt")]
        latest = max([*stamps, datetime.fromtimestamp(self.now, UTC)])
        new = latest + timedelta(seconds=1)
        row["updatedAt"] = new.strftime("%Y-%m-%dT%H:%M:%S.") + f"{new.microsecond // 1000:03d}Z"

    # -- internals used by the handler

    def _take_canned(self, path: str, method: str = "GET") -> _Canned | None:
        with self._lock:
            for canned in self._canned:
                if canned.method not in (None, method):
                    continue
                if canned.times != 0 and path.startswith(canned.prefix):
                    if canned.times > 0:
                        canned.times -= 1
                    return canned
        return None

    def _rate_headers(self, now: float) -> dict[str, str]:
        with self._lock:
            if now - self._window_start >= 60:
                self._window_start, self._api_hits = now, []
            self._api_hits.append(now)
            used = len(self._api_hits)
            reset = max(1, math.ceil(self._window_start + 60 - now))
        return {
            "RateLimit-Policy": "250;w=60",
            "RateLimit-Limit": "250",
            "RateLimit-Remaining": str(max(0, 250 - used)),
            "RateLimit-Reset": str(reset),
        }

    def _rows(self) -> list[dict[str, Any]]:
        return [_row(r) for r in list(self.events)]

    def _places(self) -> list[dict[str, Any]]:
        seen: dict[Any, dict[str, Any]] = {}
        for row in sorted(self._rows(), key=lambda r: r["id"]):
            place = seen.setdefault(row["place"]["id"], {**row["place"], "_stamps": []})
            place["_stamps"].append(row["updatedAt"])
        return sorted(seen.values(), key=lambda p: p["id"])

    # -- selection (eventController._select)

    def _select(
        self,
        *,
        start: float | str,
        end: float | str | None = None,
        query: str | None = None,
        tags: str | None = None,
        places: str | None = None,
        show_recurrent: bool = False,
        show_multidate: bool = True,
        limit: float = 0,
        page: float = 0,
        older: bool = False,
    ) -> list[dict[str, Any]]:
        op = "<=" if older else ">="
        tag_list = [t.strip() for t in tags.split(",")] if tags else None
        place_ids = [_sql_value(p) for p in places.split(",")] if places else None
        out = []
        for row in self._rows():
            if query:
                matches = (
                    _like(row["title"], query)
                    or _like(row["place"]["name"], query)
                    or any(
                        t.translate(_ASCII_LOWER) == query.translate(_ASCII_LOWER)
                        for t in row["tags"]
                    )
                )
                if not matches:  # Gancio overwrites the start condition with this one
                    continue
            elif (
                not (_sql_cmp(row["start_datetime"], op, start) or _sql_cmp(_end(row), op, start))
                or row["apUserApId"] is not None
            ):
                continue
            if row["recurrent"] is not None or not row["is_visible"]:
                continue
            if not show_recurrent and row["parentId"] is not None:
                continue
            if not show_multidate and row["multidate"] is True:
                continue
            if end is not None and not _sql_cmp(
                row["start_datetime"], ">=" if older else "<=", end
            ):
                continue
            if tag_list is not None and not set(row["tags"]) & set(tag_list):
                continue
            if place_ids is not None and row["place"]["id"] not in place_ids:
                continue
            out.append(row)
        out.sort(key=_key)
        if limit:
            if not float(limit).is_integer() or not float(limit * page).is_integer():
                return []  # SQLite rejects a non-integer LIMIT/OFFSET; Gancio answers []
            if limit > 0:
                offset = max(0, int(limit * page))
                out = out[offset : offset + int(limit)]
        return [_list_item(r) for r in out]

    # -- routes

    def _route(self, method: str, path: str, raw_query: str) -> _Answer:
        """Express routing: case-insensitive, a trailing slash is optional."""
        q = _express_query(raw_query)
        path = path.rstrip("/") or "/"
        norm = path.lower()

        def param(pattern: str) -> str | None:
            found = re.fullmatch(pattern, path, re.IGNORECASE)
            return unquote(found[1]) if found else None

        if method not in ("GET", "HEAD"):
            return _not_found()
        if norm == "/api/ping":
            return _Answer(200, b"OK")
        if norm in _ADMIN_ONLY:
            return _Answer(403, b"Forbidden")
        if norm == "/api/collections" or norm.startswith("/api/collections/"):
            return _json_answer([])
        if norm == "/api/instances/stats":
            return _json_answer({"n_followers": 0, "n_events": 0, "n_resources": 0})
        if norm == "/api/events":
            return self._events(q)
        if norm in ("/api/export/json", "/feed/json"):
            return self._export(q)
        if norm == "/.well-known/nodeinfo/2.0":
            return _Answer(200, _json_bytes(self.nodeinfo), _JSON)
        if norm == "/api/place":
            return self._place_search(q)
        if (slug := param(r"/api/event/detail/([^/]+)")) is not None:
            return self._detail(slug)
        if (name := param(r"/(?:api|feed/json)/place/([^/]+)")) is not None:
            return self._place(name)
        if (tag := param(r"/(?:api|feed/json)/tag/([^/]+)")) is not None:
            return self._tag(tag)
        if (fmt := param(r"/(?:api/export|feed)/([^/]+)")) and fmt not in ("rss", "ics", "feed"):
            return _Answer(200, b"Please specify a valid format: rss, feed, ics or json", _HTML)
        return _not_found()

    def _events(self, q: dict[str, str | list[str]]) -> _Answer:
        tags, places = q.get("tags"), q.get("places")
        if isinstance(tags, list) or isinstance(places, list):
            raise _Unparsable  # `.split` of an array
        start_raw = _js_str(q.get("start", "")) or None
        end_raw = _js_str(q.get("end", "")) or None
        events = self._select(
            start=self.now if start_raw is None else _sql_value(start_raw),
            end=None if end_raw is None else _sql_value(end_raw),
            query=_js_str(q.get("query", "")) or None,
            tags=tags or None,
            places=places or None,
            show_recurrent=self.allow_recurrent_event
            and _is_true(q.get("show_recurrent"), self.recurrent_event_visible),
            show_multidate=_is_true(q.get("show_multidate"), True),
            limit=_js_or_zero(q.get("max")),
            page=_js_or_zero(q.get("page")),
            older=bool(q.get("older")),
        )
        return _json_answer(events)

    def _detail(self, slug: str) -> _Answer:
        fmt = "json"
        if "." in slug:
            slug, fmt = slug.rsplit(".", 1)
        number = _js_number(slug)
        wanted = int(number) if number and not math.isnan(number) and number.is_integer() else -1
        rows = sorted(self._rows(), key=lambda r: r["id"])
        row = next((r for r in rows if r["slug"] == slug or r["id"] == wanted), None)
        if row is None or not row["is_visible"] or fmt != "json":
            return _not_found()
        others = [
            r
            for r in rows
            if r["id"] != row["id"]
            and r["is_visible"]
            and r["recurrent"] is None
            and r["apUserApId"] is None
        ]
        after = [r for r in others if _key(r) > _key(row)]
        before = [r for r in others if _key(r) < _key(row)]
        nxt = min(after, key=_key) if after else None
        prev = max(before, key=_key) if before else None
        parent = next((r for r in rows if r["id"] == row["parentId"]), None)
        place = row["place"]
        body = {
            "id": row["id"],
            "title": row["title"],
            "slug": row["slug"],
            "description": row["description"],
            "multidate": row["multidate"],
            "start_datetime": row["start_datetime"],
            "end_datetime": _end(row),
            "image_path": None,
            "media": row["media"],
            "is_visible": row["is_visible"],
            "recurrent": row["recurrent"],
            "likes": [],
            "boost": [],
            "online_locations": row["online_locations"],
            "parentId": row["parentId"],
            "tags": list(row["tags"]),
            "place": {k: place[k] for k in ("name", "address", "latitude", "longitude", "id")},
            "resources": [],
            "parent": parent
            and {k: parent[k] for k in ("id", "recurrent", "is_visible", "start_datetime")},
            "isMine": False,
            "isAnon": bool(row.get("isAnon", False)),
            "next": nxt and (nxt["slug"] or nxt["id"]),
            "prev": prev and (prev["slug"] or prev["id"]),
            "plain_description": html_to_text(row["description"]),
        }
        return _json_answer(body)

    def _export(self, q: dict[str, str | list[str]]) -> _Answer:
        tags, places = q.get("tags"), q.get("places")
        if isinstance(tags, list) or isinstance(places, list):
            raise _Unparsable
        tag_list = tags.split(",") if tags else None
        place_ids = [_sql_value(p) for p in places.split(",")] if places else None
        show_recurrent = bool(q.get("show_recurrent"))
        out = []
        for row in sorted(self._rows(), key=_key):
            if not row["is_visible"] or row["recurrent"] is not None:
                continue
            if row["start_datetime"] < self.now - 86400:
                continue
            if not show_recurrent and row["parentId"] is not None:
                continue
            if place_ids is not None and row["place"]["id"] not in place_ids:
                continue
            kept = row["tags"] if tag_list is None else [t for t in row["tags"] if t in tag_list]
            if tag_list is not None and not kept:
                continue
            out.append(_export_item(row, kept))
        return _json_answer(out)

    def _place_search(self, q: dict[str, str | list[str]]) -> _Answer:
        search = q.get("search")
        if not isinstance(search, str):
            raise _Unparsable  # `req.query.search.toLocaleLowerCase()`
        needle = search.lower()
        counts: dict[Any, int] = {}
        for row in self._rows():
            if row["is_visible"]:
                counts[row["place"]["id"]] = counts.get(row["place"]["id"], 0) + 1
        found = [
            p
            for p in self._places()
            if p["id"] in counts and (_like(p["name"], needle) or _like(p["address"], needle))
        ]
        found.sort(key=lambda p: (-counts[p["id"]], p["id"]))
        return _json_answer(
            [
                {k: p[k] for k in ("name", "address", "latitude", "longitude", "id")}
                for p in found[:10]
            ]
        )

    def _place(self, name_or_id: str) -> _Answer:
        wanted = _sql_value(name_or_id)
        place = next(
            (p for p in self._places() if p["id"] == wanted or p["name"] == name_or_id), None
        )
        if place is None:
            return _not_found()
        stamp = place.get("createdAt") or min(place["_stamps"])
        events = self._select(
            start=self.now, places=str(place["id"]), show_recurrent=True, show_multidate=True
        )
        return _json_answer(
            {
                "events": events,
                "place": {
                    "id": place["id"],
                    "name": place["name"],
                    "ap_id": place.get("ap_id"),
                    "address": place["address"],
                    "latitude": place["latitude"],
                    "longitude": place["longitude"],
                    "createdAt": stamp,
                    "updatedAt": place.get("updatedAt") or stamp,
                },
            }
        )

    def _tag(self, tag: str) -> _Answer:
        if not any(tag in r["tags"] for r in self._rows()):
            return _not_found()
        return _json_answer(
            self._select(start=self.now, tags=tag, show_recurrent=True, show_multidate=True)
        )

    # -- accounts and writes (API.md sections 3 and 5)

    def token_for(self, email: str) -> str:
        """A new access token for the user ``email``, as if they had logged in."""
        user = next(u for u in self.users if u["email"] == email)
        token = "".join(secrets.choice(string.digits + string.ascii_lowercase) for _ in range(32))
        self.tokens[token] = user["id"]
        return token

    def _user_of(self, headers: Any) -> dict[str, Any] | None:
        """The active user of the Bearer token; anything else is anonymous (a06, a07, a18b)."""
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        user_id = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        user = next((u for u in self.users if u["id"] == user_id), None)
        return user if user and user["is_active"] else None

    def _route_account(
        self, method: str, path: str, headers: Any, body: bytes, ip: str
    ) -> _Answer | None:
        norm = path.rstrip("/").lower() or "/"
        user = self._user_of(headers)
        if method == "POST" and norm == "/oauth/login":
            return self._oauth_login(headers, body)
        if method == "POST" and norm == "/api/login/token" and self.login_api == "2.0":
            return self._login_token(body)
        if method == "GET" and norm == "/api/user" and user:
            return _json_answer(_user_row(user))
        if method == "GET" and norm == "/api/events/mine" and user:
            return self._mine(user)
        if norm == "/api/event" and method in ("POST", "PUT"):
            form = _Form.parse(headers.get("Content-Type") or "", body)
            if method == "PUT":
                return self._update(form, user)
            limited, rate = self._write_limit(ip)
            answer = limited or self._create(form, user)
            if answer.status == 200 and self.write_delay:
                self._stopping.wait(self.write_delay)  # saved, but the answer comes late
            answer.headers |= rate
            return answer
        return None

    def _oauth_login(self, headers: Any, body: bytes) -> _Answer:
        if self.login_api != "1.x":
            return _not_found()
        form: dict[str, str] = {}
        if (headers.get("Content-Type") or "").split(";")[0].strip() == _FORM:
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("client_id") != "self":  # also what a JSON body gets (a03c, a03d)
            return _Answer(401, b"Unauthorized", None)
        if form.get("grant_type") != "password":  # a03e
            return _grant_error("Invalid client credentials")
        user = self._check_password(form.get("username"), form.get("password"))
        if user is None:  # a03, a03b, a14
            return _grant_error("Invalid resource owner credentials")
        answer = {
            "access_token": self.token_for(user["email"]),
            "refresh_token": secrets.token_hex(20),
            "username": user["email"],
            "token_type": "Bearer",
        }
        no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        return _Answer(200, _json_bytes(answer), "application/json", no_store)

    def _login_token(self, body: bytes) -> _Answer:
        """Gancio 2.0's JSON login (not captured: the answer shape here is an assumption)."""
        try:
            data = json.loads(body)
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        user = self._check_password(data.get("email"), data.get("password"))
        if user is None:
            return _grant_error("Invalid resource owner credentials")
        token = self.token_for(user["email"])
        return _json_answer({"access_token": token, "token_type": "Bearer"})

    def _check_password(self, email: Any, password: Any) -> dict[str, Any] | None:
        for user in self.users:
            if user["email"] == email and user["password"] == password and user["is_active"]:
                return user
        return None

    def _mine(self, user: dict[str, Any]) -> _Answer:
        """The user's future events and recurrent parents, latest first (d10)."""
        rows = [
            r
            for r in self._rows()
            if r.get("userId") == user["id"]
            and (r["start_datetime"] >= self.now or r["recurrent"] is not None)
        ]
        rows.sort(key=lambda r: (-r["start_datetime"], -r["id"]))
        return _json_answer([_mine_item(r) for r in rows])

    def _write_limit(self, ip: str) -> tuple[_Answer | None, dict[str, str]]:
        """6 POSTs per 5 minutes per address, failures included, admins too (b21)."""
        now = time.monotonic()
        with self._lock:
            start, count = self._write_hits.get(ip, (now, 0))
            if now - start >= self.write_window:
                start, count = now, 0
            count += 1
            self._write_hits[ip] = (start, count)
        reset = max(1, math.ceil(start + self.write_window - now))
        headers = {
            "RateLimit-Policy": f"{self.write_limit};w={self.write_window:g}",
            "RateLimit-Limit": str(self.write_limit),
            "RateLimit-Remaining": str(max(0, self.write_limit - count)),
            "RateLimit-Reset": str(reset),
        }
        if count <= self.write_limit:
            return None, headers
        body = b"Too many requests, please try again later."
        return _Answer(429, body, _HTML, {"Retry-After": str(reset)}), headers

    def _create(self, form: _Form, user: dict[str, Any] | None) -> _Answer:
        body = form.fields
        problem = form.image_problem() or _recurrent_problem(body)
        problem = problem or _required_problem(body) or _dates_problem(body, form.kind)
        if problem is None and user is None and _js_number(body["start_datetime"]) < self.now:
            problem = _bad("Anonymous user cannot create past events")  # b18
        if problem is None:
            place_or_problem = self._place_for(body)
            if isinstance(place_or_problem, _Answer):
                return place_or_problem
            problem = self._media_problem(body)
        if problem is not None:
            return problem
        row = self._new_row(form, user, place_or_problem)
        tags = body.get("tags")
        if tags is not None and not isinstance(tags, list):
            return _bad("tags field must be an array")  # created all the same (b15)
        row["tags"] = self._known_tags(tags or [])
        if row["recurrent"] is not None and row["is_visible"]:
            self._add_occurrence(row)
        return _json_answer(_created_item(row))

    def _update(self, form: _Form, user: dict[str, Any] | None) -> _Answer:
        body = form.fields
        if user is None:
            return _Answer(403, b"Forbidden")  # u03
        row = next((r for r in self.events if str(r["id"]) == _js_str(body.get("id", ""))), None)
        if row is None:
            return _not_found()  # u05, u05b
        if user["role"] == "user" and row.get("userId") != user["id"]:
            return _Answer(403, b"Forbidden")  # u02
        problem = form.image_problem() or _recurrent_problem(body)
        dates = {"start_datetime": str(row["start_datetime"]), **body}
        problem = problem or _dates_problem(dates, form.kind)
        if problem is not None:
            return problem  # nothing written (u06)
        self._write_fields(row, form)  # written before the place is checked (u07)
        place = self._place_for(body)
        if isinstance(place, _Answer):
            return place
        row["place"] = place
        tags = body.get("tags")
        if tags is not None and not isinstance(tags, list):
            return _bad("tags field must be an array")
        row["tags"] = self._known_tags(tags or [])  # omitted tags are removed (u08)
        self.touch(row["id"])
        return _json_answer(_updated_item(_row(row)))

    def _write_fields(self, row: dict[str, Any], form: _Form) -> None:
        body = form.fields
        row["title"] = _js_str(body.get("title", row["title"])).strip()
        if body.get("description"):  # an empty description keeps the old one
            row["description"] = _js_str(body["description"])
        if body.get("start_datetime"):
            row["start_datetime"] = int(_js_number(body["start_datetime"]))
        if "end_datetime" in body:  # missing keeps it, empty clears it (u11)
            row["end_datetime"] = int(_js_number(body["end_datetime"])) or None
        if "multidate" in body:
            row["multidate"] = _js_str(body["multidate"]) == "true"
        if "online_locations" in body:
            row["online_locations"] = _as_list(body["online_locations"])
        row["recurrent"] = _parse_recurrent(body)  # omitted ends the series (u12)
        if form.files or body.get("image_url"):
            row["media"] = [_media(form, row["title"])]  # replaces the old image (u10)
        elif body.get("image"):  # any non-empty text keeps the image (u09)
            for media in row.get("media") or []:
                media["focalpoint"] = _focalpoint(body) or media["focalpoint"]
        else:
            row["media"] = []

    def _place_for(self, body: dict[str, Any]) -> dict[str, Any] | _Answer:
        if body.get("place_id"):
            wanted = _sql_value(_js_str(body["place_id"]))
            place = next((p for p in self._places() if p["id"] == wanted), None)
            if place is None:
                return _bad("Place not found")  # b12c
            return {k: place[k] for k in ("id", "name", "address", "latitude", "longitude")}
        name = _js_str(body.get("place_name", "")).strip()
        address = _js_str(body.get("place_address", "")).strip()
        existing = next((p for p in self._places() if p["name"].lower() == name.lower()), None)
        if existing is not None and name:  # matched by name; address and geo ignored (e23)
            return {k: existing[k] for k in ("id", "name", "address", "latitude", "longitude")}
        if not name or (not address and name.lower() != "online"):
            return _bad("place_id or place_name and place_address are required")  # b12, b12b
        lat, lon = body.get("place_latitude"), body.get("place_longitude")
        both = bool(lat) and bool(lon)  # only one coordinate: both dropped (e21)
        return {
            "id": max([p["id"] for p in self._places()] or [0]) + 1,
            "name": name,
            "address": address,
            "latitude": _js_number(lat) if both else None,
            "longitude": _js_number(lon) if both else None,
        }

    def _media_problem(self, body: dict[str, Any]) -> _Answer | None:
        url = _js_str(body.get("image_url", ""))
        # The server downloads image_url itself; a raw space or non-ASCII path fails (B13).
        if url and (not re.match(r"https?://", url) or not url.isascii() or " " in url):
            return _Answer(400, b"Bad Request")  # b22
        return None

    def _new_row(
        self, form: _Form, user: dict[str, Any] | None, place: dict[str, Any]
    ) -> dict[str, Any]:
        body = form.fields
        title = _js_str(body["title"]).strip()
        visible = user is not None and not (self.moderate_users and user["role"] == "user")
        multidate = _js_str(body["multidate"]) == "true" if "multidate" in body else None
        row = {
            "id": max([r["id"] for r in self.events] or [0]) + 1,
            "title": title,
            "slug": self._free_slug(_slugify(title)),
            "description": _js_str(body.get("description", "")),
            "multidate": multidate,
            "start_datetime": int(_js_number(body["start_datetime"])),
            "end_datetime": int(_js_number(body.get("end_datetime") or "0")) or None,
            "media": [_media(form, title)] if form.files or body.get("image_url") else [],
            "is_visible": visible,
            "recurrent": _parse_recurrent(body),
            "online_locations": _as_list(body.get("online_locations", [])),
            "parentId": None,
            "tags": [],
            "place": place,
            "userId": user["id"] if user else None,
        }
        self.events.append(row)
        self.touch(row["id"])
        row["createdAt"] = row["updatedAt"]
        return row

    def _free_slug(self, slug: str | None) -> str | None:
        taken = {r.get("slug") for r in self.events}
        if slug is None or slug not in taken:
            return slug
        return next(f"{slug}-{n}" for n in range(1, len(taken) + 2) if f"{slug}-{n}" not in taken)

    def _known_tags(self, tags: list[str]) -> list[str]:
        """Tags merged case-insensitively with the existing ones (e04), duplicates dropped."""
        known = {t.lower(): t for r in self.events for t in r.get("tags") or []}
        out: list[str] = []
        for tag in (t.strip() for t in tags):
            tag = known.get(tag.lower(), tag)
            if tag and tag.lower() not in {t.lower() for t in out}:
                out.append(tag)
        return out

    def _add_occurrence(self, parent: dict[str, Any]) -> None:
        """The next occurrence: the parent's start, or weeks later when that is past (sec. 7)."""
        start = parent["start_datetime"]
        weeks = re.fullmatch(r"(\d)w", str(parent["recurrent"].get("frequency", "")))
        while weeks and start < self.now:
            start += int(weeks[1]) * 7 * 86400
        child = {**copy.deepcopy(parent), "id": parent["id"] + 1, "parentId": parent["id"]}
        child |= {"recurrent": None, "start_datetime": start, "slug": f"{parent['slug']}-1"}
        if parent["end_datetime"]:
            child["end_datetime"] = parent["end_datetime"] + start - parent["start_datetime"]
        self.events.append(child)


def _json_answer(value: Any) -> _Answer:
    return _Answer(200, _json_bytes(value), _JSON)


def _not_found() -> _Answer:
    return _Answer(404, b"Not Found")


_ADMIN_ONLY = frozenset(
    {  # anonymous callers get 403 Forbidden here
        "/api/user",
        "/api/users",
        "/api/settings",
        "/api/places",
        "/api/tags",
        "/api/instances",
        "/api/events/mine",
        "/api/event/unconfirmed",
    }
)
_PUBLIC = re.compile(  # the routes that send Access-Control-Allow-Origin: *
    r"/api/(events|event/detail/.*|export/.*|place(/.*)?|tag(/.*)?)/?|/feed/.*|/\.well-known/.*",
    re.IGNORECASE,
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up (timeouts in tests) are not errors here


class _Handler(BaseHTTPRequestHandler):
    gancio: FakeGancio
    protocol_version = "HTTP/1.1"
    _started: float
    _recorded: Recorded

    def setup(self) -> None:
        super().setup()
        with self.gancio._lock:
            self.gancio._connections.add(self.connection)

    def finish(self) -> None:
        with self.gancio._lock:
            self.gancio._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_response(self, code: int, message: str | None = None) -> None:
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def _handle(self) -> None:
        fake = self.gancio
        started = time.perf_counter()
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        recorded = Recorded(
            method=self.command,
            path=split.path,
            query=split.query,
            params=parse_qs(split.query, keep_blank_values=True),
            headers=dict(self.headers.items()),
            body=body,
        )
        fake.requests.append(recorded)
        self._started, self._recorded = started, recorded
        self._answer(fake, split, body)

    def _answer(self, fake: FakeGancio, split: Any, body: bytes) -> None:
        canned = fake._take_canned(split.path, self.command)
        headers: dict[str, str] = {"X-Powered-By": "Express"}
        lowered = split.path.lower()
        if lowered.startswith("/api/"):
            headers |= fake._rate_headers(time.monotonic())
        if self.command in ("GET", "HEAD") and _PUBLIC.fullmatch(split.path):
            headers["Access-Control-Allow-Origin"] = "*"
        if canned is not None:
            if canned.delay and fake._stopping.wait(canned.delay):
                return
            answer = _Answer(
                canned.status, canned.body.encode(), canned.content_type, canned.headers
            )
        else:
            try:
                ip = (self.headers.get("X-Forwarded-For") or "").split(",")[0].strip()
                answer = fake._route_account(
                    self.command, split.path, self.headers, body, ip or self.client_address[0]
                ) or fake._route(self.command, split.path, split.query)
            except _Unparsable:
                answer = _Answer(500, _ISE.encode(), _HTML)
        self._send(answer, headers)

    def _send(self, answer: _Answer, headers: dict[str, str]) -> None:
        body = answer.body
        etag = _etag(body)
        status = answer.status
        if 200 <= status < 300 and self.headers.get("If-None-Match") == etag:
            status, body = 304, b""
        headers = headers | answer.headers
        if answer.content_type and status != 304:
            headers["Content-Type"] = answer.content_type
        headers |= {"ETag": etag, "Vary": "Accept-Encoding"}
        if body and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            body = gzip.compress(body, 6)  # zlib's default, as Express' compression
            headers["Content-Encoding"] = "gzip"
        headers |= {
            "Content-Length": str(len(body)),
            "Connection": "keep-alive",
            "Keep-Alive": "timeout=5",
        }
        self._recorded.seconds = time.perf_counter() - self._started  # the answer is ready
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _handle


# --------------------------------------------------------------------------- accounts and writes

USERS: list[dict[str, Any]] = [  # the instance's accounts; passwords as the tests type them
    {"id": 1, "email": "admin@example.org", "password": "admin-pass", "role": "admin"},
    {"id": 2, "email": "alice@example.org", "password": "alice-pass", "role": "user"},
    {"id": 3, "email": "carol@example.org", "password": "carol-pass", "role": "user"},
]
for _user in USERS:
    _user["is_active"] = _user["id"] != 3  # carol registered but was never enabled (a14)
_FORM = "application/x-www-form-urlencoded"
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF")


@dataclass
class _Upload:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class _Form:
    """A parsed request body: fields as Express/multer see them, and uploaded files."""

    fields: dict[str, Any]
    files: list[_Upload]
    kind: str

    @classmethod
    def parse(cls, content_type: str, body: bytes) -> _Form:
        kind = content_type.split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            pairs, files = _parse_multipart(content_type, body)
            return cls(_express_pairs(pairs), files, kind)
        if kind == _FORM:
            pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            return cls(_express_pairs(pairs), [], kind)
        if kind == "application/json":
            with contextlib.suppress(ValueError):
                data = json.loads(body)
                if isinstance(data, dict):  # JSON numbers and lists pass through as they are
                    return cls({k: _json_field(v) for k, v in data.items()}, [], kind)
        return cls({}, [], kind)

    def image_problem(self) -> _Answer | None:
        for upload in self.files:
            if upload.field == "image" and not upload.data.startswith(_IMAGE_MAGIC):
                message = b'"Error: Input buffer contains unsupported image format"'  # b17
                return _Answer(400, message, "application/json; charset=utf-8")
        return None


def _json_field(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return value


def _parse_multipart(content_type: str, body: bytes) -> tuple[list[tuple[str, str]], list[_Upload]]:
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if not found:
        return [], []
    pairs: list[tuple[str, str]] = []
    files: list[_Upload] = []
    for chunk in body.split(b"--" + found[1].encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        headers = dict(
            (k.strip().lower(), v.strip())
            for k, _, v in (line.partition(":") for line in head.decode().split("\r\n"))
        )
        disposition = headers.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if filename:
            part = _Upload(
                name[1] if name else "", filename[1], headers.get("content-type", ""), data
            )
            files.append(part)
        else:
            pairs.append((name[1] if name else "", data.decode("utf-8", "replace")))
    return pairs, files


def _bad(message: str) -> _Answer:
    """A validation message: plain text sent as text/html (API.md section 13)."""
    return _Answer(400, message.encode(), _HTML)


def _grant_error(description: str) -> _Answer:
    body = {"error": "invalid_grant", "error_description": description}
    return _Answer(403, _json_bytes(body), "application/json")


def _required_problem(body: dict[str, Any]) -> _Answer | None:
    for field_name in ("title", "start_datetime"):  # b10, b11
        if not _js_str(body.get(field_name, "")).strip():
            return _bad(f"{field_name} required")
    return None


def _dates_problem(body: dict[str, Any], kind: str) -> _Answer | None:
    start_raw = _js_str(body.get("start_datetime", ""))
    start = _js_number(start_raw)
    if math.isnan(start):
        return _bad("Wrong format for start datetime")  # b13, b13b
    if start > 31_536_000_000:  # about year 2969: surely milliseconds
        return _bad("are you sure?")  # b13c: milliseconds
    end_raw = _js_str(body.get("end_datetime", ""))
    if not end_raw:
        return None
    end = _js_number(end_raw)
    if math.isnan(end):
        return _bad("Wrong format for end datetime")  # b14b
    # Multipart values are compared as strings (b20), the others as numbers.
    later = start_raw > end_raw if kind == "multipart/form-data" else start > end
    return _bad("start datetime is greater than end datetime") if later else None  # b14


def _recurrent_problem(body: dict[str, Any]) -> _Answer | None:
    try:
        _parse_recurrent(body)
    except (TypeError, ValueError):
        return _Answer(400, b"Bad Request")  # b16, b16b
    return None


def _parse_recurrent(body: dict[str, Any]) -> Any:
    value = body.get("recurrent")
    if not value:
        return None
    if not isinstance(value, str):
        raise TypeError("recurrent must be one JSON string field")
    return json.loads(value)


def _as_list(value: Any) -> list[str]:
    return list(value) if isinstance(value, list) else [value] if value else []


def _focalpoint(body: dict[str, Any]) -> list[float] | None:
    parts = _js_str(body.get("image_focalpoint", "")).split(",")
    if len(parts) != 2 or any(math.isnan(_js_number(p)) for p in parts):
        return None
    return [round(max(-1.0, min(1.0, _js_number(p))), 2) for p in parts]


def _media(form: _Form, title: str) -> dict[str, Any]:
    upload = next((u for u in form.files if u.field == "image"), None)
    return {
        "url": f"{secrets.token_hex(16)}.jpg",
        "height": 675,
        "width": 1200,
        "name": _js_str(form.fields.get("image_name", "")) or title,
        "size": len(upload.data) if upload else 100000,
        "focalpoint": _focalpoint(form.fields) or [0, 0],
    }


def _slugify(title: str) -> str | None:
    """Lower-case ASCII transliteration, '&' as 'and' (API.md section 9); None if empty."""
    text = title.replace("&", " and ").replace("<", " less ").replace(">", " greater ")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or None


def _user_row(user: dict[str, Any]) -> dict[str, Any]:
    """``GET /api/user`` (a05, a16): the row without the password."""
    return {
        "is_admin": user["role"] == "admin",
        "is_editor": user["role"] == "editor",
        "id": user["id"],
        "settings": [],
        "email": user["email"],
        "description": None,
        "recover_code": None,
        "role": user["role"],
        "is_active": user["is_active"],
        "createdAt": "2026-12-03T12:21:20.178Z",
        "updatedAt": "2026-12-03T12:21:20.178Z",
    }


def _geo_place(place: dict[str, Any]) -> dict[str, Any]:
    return {k: place.get(k) for k in ("id", "name", "address", "latitude", "longitude")}


def _mine_item(row: dict[str, Any]) -> dict[str, Any]:
    """One row of ``/api/events/mine`` (d10): no description."""
    keys = ("id", "title", "slug", "multidate", "start_datetime", "end_datetime", "media")
    item = {k: row[k] for k in keys}
    item |= {
        "is_visible": row["is_visible"],
        "recurrent": row["recurrent"],
        "online_locations": row["online_locations"],
        "ap_object": None,
        "ap_id": None,
        "updatedAt": row["updatedAt"],
        "apUserApId": None,
        "parentId": row["parentId"],
        "tags": row["tags"],
        "place": _geo_place(row["place"]),
    }
    return item


def _created_item(row: dict[str, Any]) -> dict[str, Any]:
    """The answer of ``POST /api/event``: the raw created row (e03, e10, e30)."""
    item: dict[str, Any] = {"likes": [], "boost": [], "online_locations": row["online_locations"]}
    item |= {"id": row["id"], "title": row["title"], "description": row["description"]}
    if row["multidate"] is not None:
        item["multidate"] = row["multidate"]
    item |= {k: row[k] for k in ("start_datetime", "end_datetime", "recurrent", "is_visible")}
    item |= {"media": row["media"], "updatedAt": row["updatedAt"], "createdAt": row["createdAt"]}
    item |= {"slug": row["slug"], "placeId": row["place"]["id"]}
    if row["userId"] is not None:
        item["userId"] = row["userId"]
    stamps = {"updatedAt": row["createdAt"], "createdAt": row["createdAt"]}
    return item | {"tags": row["tags"], "place": _geo_place(row["place"]) | stamps}


def _updated_item(row: dict[str, Any]) -> dict[str, Any]:
    """The answer of ``PUT /api/event`` (u01): the event with tags and place."""
    keys = ("id", "title", "slug", "description", "multidate", "start_datetime", "end_datetime")
    item = {k: row[k] for k in keys}
    item |= {"image_path": None, "media": row["media"], "is_visible": row["is_visible"]}
    item |= {"recurrent": row["recurrent"], "likes": [], "boost": []}
    item |= {"online_locations": row["online_locations"], "ap_object": None, "ap_id": None}
    item |= {"createdAt": row.get("createdAt", row["updatedAt"]), "updatedAt": row["updatedAt"]}
    item |= {"placeId": row["place"]["id"], "userId": row.get("userId")}
    item |= {"apUserApId": None, "parentId": row["parentId"], "tags": row["tags"]}
    return item | {"place": _geo_place(row["place"])}
