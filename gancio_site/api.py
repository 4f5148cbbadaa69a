"""The HTTP client for a Gancio instance: the only module that talks to the network.

Polite and bounded: a timeout on every call, a few retries with backoff on connection
errors, 429 and 5xx (honouring ``Retry-After``), a ``User-Agent`` naming the tool, and
errors that name the URL. Query strings are built by hand because Gancio wants
``tags=a,b`` as one comma-joined value: array syntax gives HTTP 500 (API.md section 4).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import urllib3

from . import __version__
from .errors import BadResponse, ConnectionFailed, StatusError

log = logging.getLogger(__name__)

USER_AGENT = f"gancio-site/{__version__} (+https://gancio.org)"
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 120.0  # seconds; a longer wait is reported instead of slept through
MAX_BODY = 256 * 1024 * 1024  # an answer larger than this is not an agenda


class _TooSlow(requests.Timeout):
    """The whole answer did not arrive within the time allowed."""


Params = Mapping[str, str | int | Sequence[str | int] | None]


def encode_query(params: Params) -> str:
    """Return a query string; list values become one comma-joined, item-encoded value."""
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            encoded = ",".join(quote(str(item), safe="") for item in value)
        else:
            encoded = quote(str(value), safe="")
        parts.append(f"{quote(key)}={encoded}")
    return "&".join(parts)


class GancioClient:
    """Reads (and later writes) a Gancio instance's API."""

    def __init__(
        self,
        instance: str,
        *,
        timeout: float = 20.0,
        retries: int = 3,
        backoff: float = 1.0,
        session: requests.Session | None = None,
    ) -> None:
        self.instance = instance.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.requests_made = 0

    def url(self, path: str, params: Params | None = None) -> str:
        query = encode_query(params or {})
        return f"{self.instance}{path}" + (f"?{query}" if query else "")

    def shown(self, url: str) -> str:
        """Return ``url`` as it may appear in messages: without user name and password."""
        return redact(url)

    def get_json(self, path: str, params: Params | None = None, *, allow_404: bool = False) -> Any:
        """Return the decoded JSON answer of GET ``path`` (None for a 404 when allowed)."""
        url = self.url(path, params)
        shown = redact(url)
        response = self._get(url)
        if response.status_code == 404 and allow_404:
            return None
        if response.status_code >= 400:
            raise StatusError(_status_message(shown, response), shown, response.status_code)
        try:
            return json.loads(response.content)
        except (ValueError, RecursionError):
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise BadResponse(
                f"GET {shown} did not answer JSON (got {kind}, {len(response.content)} bytes); "
                "is this the address of a Gancio instance?",
                shown,
            ) from None

    def _get(self, url: str) -> requests.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                self.requests_made += 1
                response = self._fetch(url)
            except requests.TooManyRedirects:
                raise ConnectionFailed(
                    f"GET {redact(url)} failed: too many redirects", url
                ) from None
            except requests.RequestException as exc:
                if attempt > self.retries:
                    message = f"GET {redact(url)} failed: {_reason(exc)}"
                    raise ConnectionFailed(message, redact(url)) from None
                self._sleep(attempt, None, url, _reason(exc))
                continue
            if response.status_code in RETRY_STATUSES and attempt <= self.retries:
                self._sleep(attempt, response, url, f"HTTP {response.status_code}")
                continue
            return response

    def _fetch(self, url: str) -> requests.Response:
        """GET ``url`` whole within ``timeout`` seconds in all (requests only bounds each read)."""
        deadline = time.monotonic() + self.timeout
        response = self.session.get(url, timeout=self.timeout, stream=True)
        chunks, size = [], 0
        with response:
            while True:
                # read1 returns what has arrived; a plain read waits for a whole chunk, so a
                # server sending a byte at a time would never let the deadline be checked.
                try:
                    chunk = response.raw.read1(64 * 1024, decode_content=True)
                except (urllib3.exceptions.HTTPError, OSError) as exc:
                    raise requests.ConnectionError(str(exc)) from None
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if time.monotonic() > deadline:
                    raise _TooSlow(f"the answer took longer than {self.timeout:g} s")
                if size > MAX_BODY:
                    raise BadResponse(f"GET {redact(url)} answered over {MAX_BODY >> 20} MB", url)
        response._content = b"".join(chunks)  # what response.content would have read
        return response

    def _sleep(self, attempt: int, response: requests.Response | None, url: str, why: str) -> None:
        delay = self.backoff * 2 ** (attempt - 1)
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after is not None:
            wait = _parse_retry_after(retry_after)
            if wait is not None:
                if wait > MAX_RETRY_AFTER:
                    raise StatusError(
                        f"GET {redact(url)} was rate limited for {wait:.0f} s (HTTP 429); "
                        "try again later",
                        redact(url),
                        response.status_code if response is not None else 0,
                    )
                delay = max(delay, wait)
        log.warning("GET %s: %s; retrying in %.1f s", redact(url), why, delay)
        time.sleep(delay)

    # The calls a site build makes.

    def events(self, params: Params) -> list[Any]:
        """Return the raw rows of ``GET /api/events``."""
        return _expect_list(self.get_json("/api/events", params), self.url("/api/events", params))

    def export_json(self, params: Params) -> list[Any]:
        """Return the raw rows of ``GET /api/export/json`` (with descriptions)."""
        url = self.url("/api/export/json", params)
        return _expect_list(self.get_json("/api/export/json", params), url)

    def event_detail(self, key: int | str) -> dict[str, Any] | None:
        """Return one event with its description, or None when Gancio answers 404."""
        path = f"/api/event/detail/{quote(str(key), safe='')}"
        data = self.get_json(path, allow_404=True)
        if data is not None and not isinstance(data, dict):
            shown = redact(self.url(path))
            raise BadResponse(f"GET {shown} did not answer an event object", shown)
        return data

    def place(self, name_or_id: str) -> dict[str, Any] | None:
        """Return the place called (or numbered) ``name_or_id``, or None when unknown."""
        path = f"/api/place/{quote(name_or_id, safe='')}"
        data = self.get_json(path, allow_404=True)
        if data is None:
            return None
        place = data.get("place") if isinstance(data, dict) else None
        if not isinstance(place, dict):
            shown = redact(self.url(path))
            raise BadResponse(f"GET {shown} did not answer a place", shown)
        return place

    def nodeinfo(self) -> dict[str, Any]:
        """Return the public nodeinfo document (name and time zone of the instance)."""
        data = self.get_json("/.well-known/nodeinfo/2.0", allow_404=True)
        return data if isinstance(data, dict) else {}


def redact(url: str) -> str:
    """Return ``url`` without the user name and password it may carry."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _expect_list(data: Any, url: str) -> list[Any]:
    # A list of anything but objects is no list of events: refuse it rather than
    # publish an empty site (single odd rows are left to the parser, with a warning).
    if not isinstance(data, list) or (data and not any(isinstance(r, dict) for r in data)):
        raise BadResponse(f"GET {redact(url)} did not answer a list of events", redact(url))
    return data


def _status_message(url: str, response: requests.Response) -> str:
    body = " ".join(response.text[:120].split()) if response.text else ""
    hint = {
        403: "the instance refused access",
        404: "not found; check the instance URL",
        429: "rate limited; try again in a few minutes",
    }.get(response.status_code, "the server reported an error")
    detail = f" ({body})" if body and "<" not in body else ""
    return f"GET {url} returned HTTP {response.status_code}{detail}: {hint}"


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return "no answer in time (timeout)"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error (certificate not valid?)"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        if "Name or service not known" in text or "getaddrinfo" in text or "resolve" in text:
            return "the host name could not be resolved"
        if "refused" in text.lower():
            return "connection refused"
        return "could not connect"
    return exc.__class__.__name__


def _parse_retry_after(value: str) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())
