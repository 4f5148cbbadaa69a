"""The HTTP client for a Gancio instance: the only module that talks to the network.

Polite and bounded: a timeout on every call, a few retries with backoff on connection
errors, 429 and 5xx (honouring ``Retry-After``), a ``User-Agent`` naming the tool, and
errors that name the URL. Query strings are built by hand because Gancio wants
``tags=a,b`` as one comma-joined value: array syntax gives HTTP 500 (API.md section 4).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import requests

from . import __version__
from .errors import BadResponse, ConnectionFailed, StatusError

log = logging.getLogger(__name__)

USER_AGENT = f"gancio-site/{__version__} (+https://gancio.org)"
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 120.0  # seconds; a longer wait is reported instead of slept through

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

    def get_json(self, path: str, params: Params | None = None, *, allow_404: bool = False) -> Any:
        """Return the decoded JSON answer of GET ``path`` (None for a 404 when allowed)."""
        url = self.url(path, params)
        response = self._get(url)
        if response.status_code == 404 and allow_404:
            return None
        if response.status_code >= 400:
            raise StatusError(_status_message(url, response), url, response.status_code)
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise BadResponse(
                f"GET {url} did not answer JSON (got {kind}, {len(response.content)} bytes); "
                "is this the address of a Gancio instance?",
                url,
            ) from None

    def _get(self, url: str) -> requests.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                self.requests_made += 1
                response = self.session.get(url, timeout=self.timeout)
            except requests.RequestException as exc:
                if attempt > self.retries:
                    raise ConnectionFailed(f"GET {url} failed: {_reason(exc)}", url) from None
                self._sleep(attempt, None, url, _reason(exc))
                continue
            if response.status_code in RETRY_STATUSES and attempt <= self.retries:
                self._sleep(attempt, response, url, f"HTTP {response.status_code}")
                continue
            return response

    def _sleep(self, attempt: int, response: requests.Response | None, url: str, why: str) -> None:
        delay = self.backoff * 2 ** (attempt - 1)
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after is not None:
            wait = _parse_retry_after(retry_after)
            if wait is not None:
                if wait > MAX_RETRY_AFTER:
                    raise StatusError(
                        f"GET {url} was rate limited for {wait:.0f} s (HTTP 429); try again later",
                        url,
                        response.status_code if response is not None else 0,
                    )
                delay = max(delay, wait)
        log.warning("GET %s: %s; retrying in %.1f s", url, why, delay)
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
            raise BadResponse(f"GET {self.url(path)} did not answer an event object", path)
        return data

    def place(self, name_or_id: str) -> dict[str, Any] | None:
        """Return the place called (or numbered) ``name_or_id``, or None when unknown."""
        path = f"/api/place/{quote(name_or_id, safe='')}"
        data = self.get_json(path, allow_404=True)
        if data is None:
            return None
        place = data.get("place") if isinstance(data, dict) else None
        if not isinstance(place, dict):
            raise BadResponse(f"GET {self.url(path)} did not answer a place", path)
        return place

    def nodeinfo(self) -> dict[str, Any]:
        """Return the public nodeinfo document (name and time zone of the instance)."""
        data = self.get_json("/.well-known/nodeinfo/2.0", allow_404=True)
        return data if isinstance(data, dict) else {}


def _expect_list(data: Any, url: str) -> list[Any]:
    if not isinstance(data, list):
        raise BadResponse(f"GET {url} did not answer a list of events", url)
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
