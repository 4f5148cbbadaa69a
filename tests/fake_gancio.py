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
import socket
import threading
import time
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


@dataclass
class _Canned:
    prefix: str
    status: int
    body: str
    times: int
    headers: dict[str, str]
    content_type: str
    delay: float


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
    out: dict[str, str | list[str]] = {}
    for key, val in parse_qsl(raw, keep_blank_values=True):
        base, bracket = (key.split("[", 1)[0], True) if "[" in key[1:] else (key, False)
        if base in out or bracket:
            prev = out.get(base, [])
            out[base] = [*([prev] if isinstance(prev, str) else prev), val]
        else:
            out[base] = val
    return out


def _to_js_json(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _to_js_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_js_json(v) for v in value]
    return value


def _json_bytes(value: Any) -> bytes:
    """``JSON.stringify`` as Express' ``res.json`` sends it."""
    return json.dumps(_to_js_json(value), ensure_ascii=False, separators=(",", ":")).encode()


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
    row = {**copy.deepcopy(_ROW_DEFAULTS), **raw}
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
    ) -> None:
        """The next ``times`` requests whose path starts with ``path_prefix`` get this answer
        (after ``delay`` seconds); ``times=-1`` means forever."""
        with self._lock:
            self._canned.append(
                _Canned(path_prefix, status, body, times, dict(headers or {}), content_type, delay)
            )

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

    def _take_canned(self, path: str) -> _Canned | None:
        with self._lock:
            for canned in self._canned:
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
            show_recurrent=_is_true(q.get("show_recurrent"), False),
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
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fake.requests.append(
            Recorded(
                method=self.command,
                path=split.path,
                query=split.query,
                params=parse_qs(split.query, keep_blank_values=True),
                headers=dict(self.headers.items()),
                body=body,
            )
        )
        canned = fake._take_canned(split.path)
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
                answer = fake._route(self.command, split.path, split.query)
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
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        headers |= {
            "Content-Length": str(len(body)),
            "Connection": "keep-alive",
            "Keep-Alive": "timeout=5",
        }
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
