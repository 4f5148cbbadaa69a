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
from urllib.parse import quote, urlencode

import requests
import urllib3

from . import __version__
from .errors import AuthError, BadResponse, ConnectionFailed, StatusError, redact
from .forms import Fields, ImageArg, encode_fields, encode_multipart, image_parts

log = logging.getLogger(__name__)

USER_AGENT = f"gancio-site/{__version__} (+https://gancio.org)"
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 120.0  # seconds; a longer wait is reported instead of slept through
MAX_BODY = 256 * 1024 * 1024  # an answer larger than this is not an agenda
NOT_MODIFIED: Any = object()  # get_json's answer to a conditional request that found no change


FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"


class _TooSlow(requests.Timeout):
    """The whole answer did not arrive within the time allowed."""


class RateLimited(StatusError):
    """HTTP 429: the instance asks to wait ``retry_after`` seconds before trying again."""

    def __init__(self, message: str, url: str, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message, url, 429)


class Refused(StatusError):
    """Gancio refused the request; ``reason`` is its own message (``title required``)."""

    def __init__(self, message: str, url: str, status: int, reason: str) -> None:
        self.reason = reason
        super().__init__(message, url, status)


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
    """Reads a Gancio instance's API, and writes events with an access token.

    ``token`` (from :meth:`login` or stored earlier) goes only into the Authorization
    header of the calls that need it.
    """

    token: str | None = None

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
        self.last_etag: str | None = None  # the ETag of the last answer, if any

    def url(self, path: str, params: Params | None = None) -> str:
        query = encode_query(params or {})
        return f"{self.instance}{path}" + (f"?{query}" if query else "")

    def shown(self, url: str) -> str:
        """Return ``url`` as it may appear in messages: without user name and password."""
        return redact(url)

    def get_json(
        self,
        path: str,
        params: Params | None = None,
        *,
        allow_404: bool = False,
        etag: str | None = None,
    ) -> Any:
        """Return the decoded JSON answer of GET ``path`` (None for a 404 when allowed).

        With ``etag`` (from ``last_etag`` of an earlier answer) the request is
        conditional, and an unchanged answer (304) returns ``NOT_MODIFIED``.
        """
        url = self.url(path, params)
        shown = redact(url)
        response = self._get(url, {"If-None-Match": etag} if etag else None)
        self.last_etag = response.headers.get("ETag")
        if response.status_code == 304 and etag:
            return NOT_MODIFIED
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

    def _get(self, url: str, headers: dict[str, str] | None = None) -> requests.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                self.requests_made += 1
                response = self._fetch(url, headers)
            except requests.TooManyRedirects:
                raise ConnectionFailed(
                    f"GET {redact(url)} failed: too many redirects", url
                ) from None
            except requests.RequestException as exc:
                if attempt > self.retries or _unknown_host(exc):
                    message = f"GET {redact(url)} failed: {_reason(exc)}"
                    raise ConnectionFailed(message, redact(url)) from None
                self._sleep(attempt, None, url, _reason(exc))
                continue
            if response.status_code in RETRY_STATUSES and attempt <= self.retries:
                self._sleep(attempt, response, url, f"HTTP {response.status_code}")
                continue
            return response

    def _fetch(self, url: str, headers: dict[str, str] | None = None) -> requests.Response:
        """GET ``url`` whole within ``timeout`` seconds in all (requests only bounds each read)."""
        deadline = time.monotonic() + self.timeout
        response = self.session.get(url, timeout=self.timeout, stream=True, headers=headers)
        return self._read_whole(response, deadline, "GET", url)

    def _read_whole(
        self, response: requests.Response, deadline: float, method: str, url: str
    ) -> requests.Response:
        chunks, size = [], 0
        with response:
            while True:
                # read1 returns what has arrived; a plain read waits for a whole chunk, so a
                # server sending a byte at a time would never let the deadline be checked.
                try:
                    chunk = response.raw.read1(64 * 1024, decode_content=True)
                except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
                    # Headers came, then nothing for `timeout` seconds: a stalled answer.
                    raise _TooSlow(f"no data for {self.timeout:g} s") from None
                except (urllib3.exceptions.HTTPError, OSError) as exc:
                    raise requests.ConnectionError(str(exc)) from None
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if time.monotonic() > deadline:
                    raise _TooSlow(f"the answer took longer than {self.timeout:g} s")
                if size > MAX_BODY:
                    message = f"{method} {redact(url)} answered over {MAX_BODY >> 20} MB"
                    raise BadResponse(message, url)
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

    def events(self, params: Params, etag: str | None = None) -> list[Any] | None:
        """Return the raw rows of ``GET /api/events``; None when ``etag`` is still current.

        Gancio answers 304 to a matching ``If-None-Match``: a build with nothing new on
        the server then downloads no list (``last_etag`` has the answer's tag).
        """
        answer = self.get_json("/api/events", params, etag=etag)
        if answer is NOT_MODIFIED:
            return None
        return _expect_list(answer, self.url("/api/events", params))

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

    def search_places(self, text: str) -> list[dict[str, Any]]:
        """Return the places whose name or address contains ``text`` (any case; at most 10)."""
        found = self.get_json("/api/place", {"search": text})
        return [p for p in found if isinstance(p, dict)] if isinstance(found, list) else []

    def nodeinfo(self) -> dict[str, Any]:
        """Return the public nodeinfo document (name and time zone of the instance)."""
        data = self.get_json("/.well-known/nodeinfo/2.0", allow_404=True)
        return data if isinstance(data, dict) else {}

    # Writing: the token travels only in the Authorization header, never in a URL or a message.

    def login(self, email: str, password: str) -> str:
        """Return a new access token for ``email`` (also kept as ``self.token``).

        Gancio 1.x: the OAuth password grant of the built-in client ``self``, form-encoded
        only (API.md section 3). Gancio 2.0 drops it for ``POST /api/login/token`` with a JSON
        body, so a 404 from the first is answered by trying the second.
        """
        form = [("username", email), ("password", password)]
        form += [("client_id", "self"), ("grant_type", "password")]
        body = urlencode(form).encode()
        response = self._send("POST", "/oauth/login", body, FORM_TYPE, auth=False)
        if response.status_code in (404, 405):
            body = json.dumps({"email": email, "password": password}).encode()
            response = self._send("POST", "/api/login/token", body, JSON_TYPE, auth=False)
        if response.status_code in (400, 401, 403):
            raise AuthError(
                f"{redact(self.instance)} rejected the email or password (or the account is not "
                "active yet)",
                redact(self.instance),
            )
        data = self._answer(response, "POST")
        # 1.x answers {"access_token", ...}; accept {"token"} or a bare string from 2.0 too.
        token = (data.get("access_token") or data.get("token")) if isinstance(data, dict) else data
        if not isinstance(token, str) or not token.strip():
            raise BadResponse(
                f"{redact(self.instance)} answered the login without a token", redact(self.instance)
            )
        self.token = token.strip()
        return self.token

    def user(self) -> dict[str, Any]:
        """Return the account of ``self.token``: email, role, is_active... (``GET /api/user``)."""
        data = self._answer(self._send("GET", "/api/user"), "GET")
        if not isinstance(data, dict) or "email" not in data:
            raise BadResponse(f"GET {self.url('/api/user')} did not answer a user", self.instance)
        return data

    def my_events(self) -> list[dict[str, Any]]:
        """Return the caller's own future events and recurrent parents (``/api/events/mine``)."""
        data = self._answer(self._send("GET", "/api/events/mine"), "GET")
        return _expect_list(data, self.url("/api/events/mine"))

    def create_event(self, fields: Fields, image: ImageArg = None) -> dict[str, Any]:
        """Return the event Gancio created from ``fields`` (see :func:`encode_fields`).

        Never retried once sent: a lost answer may hide a created event, so the caller looks
        for it (among :meth:`my_events`) before trying again. HTTP 429 raises RateLimited.
        """
        body, content_type = encode_multipart(encode_fields(fields), image_parts(image))
        response = self._send("POST", "/api/event", body, content_type, idempotent=False)
        return self._event_answer(response, "POST")

    def update_event(
        self, event_id: int, fields: Fields, image: ImageArg = None, *, keep_image: bool = False
    ) -> dict[str, Any]:
        """Return the event after ``PUT /api/event``, which replaces the whole event.

        Send every field: Gancio drops tags, image and recurrence that are left out
        (API.md section 5). ``keep_image`` keeps the current image without uploading it.
        """
        pairs = [("id", str(event_id)), *encode_fields(fields)]
        if keep_image and image is None:
            pairs.append(("image", "keep"))  # any non-empty text field keeps the image (u09)
        body, content_type = encode_multipart(pairs, image_parts(image))
        return self._event_answer(self._send("PUT", "/api/event", body, content_type), "PUT")

    def _event_answer(self, response: requests.Response, method: str) -> dict[str, Any]:
        data = self._answer(response, method)
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            shown = self.url("/api/event")
            raise BadResponse(f"{method} {shown} did not answer an event", shown)
        return data

    def _answer(self, response: requests.Response, method: str) -> Any:
        """Return the JSON of a 2xx answer; raise the error that fits any other status."""
        url = redact(response.url or self.instance)
        status = response.status_code
        if status == 429:
            wait = _parse_retry_after(response.headers.get("Retry-After", "")) or 60.0
            raise RateLimited(f"{method} {url} was rate limited (HTTP 429)", url, wait)
        if status == 403:
            raise AuthError(
                f"{method} {url} returned HTTP 403: the token was rejected or does not allow "
                "this (Gancio treats a missing, unknown or disabled token as anonymous); "
                "run `gancio-site login`, or check GANCIO_TOKEN when it is set (it wins)",
                url,
            )
        if 300 <= status < 400:
            where = redact(response.headers.get("Location", "elsewhere"))
            raise StatusError(
                f"{method} {url} was redirected to {where}; set the instance to that address",
                url,
                status,
            )
        if status >= 400:
            reason = _reason_text(response)
            raise Refused(f"{method} {url} returned HTTP {status}: {reason}", url, status, reason)
        try:
            return json.loads(response.content)
        except (ValueError, RecursionError):
            raise BadResponse(f"{method} {url} did not answer JSON", url) from None

    def _send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = None,
        *,
        auth: bool = True,
        idempotent: bool = True,
    ) -> requests.Response:
        """Send one request with the token; retry what is safe to send again."""
        url = self.url(path)
        headers = {"Content-Type": content_type} if content_type else {}
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        attempt = 0
        while True:
            attempt += 1
            try:
                self.requests_made += 1
                response = self._exchange(method, url, body, headers)
            except requests.RequestException as exc:
                # A request that may have reached the server is not sent twice unless
                # sending it twice is harmless (GET, PUT of the whole event, login).
                if (
                    attempt > self.retries
                    or not (idempotent or _never_sent(exc))
                    or _unknown_host(exc)
                ):
                    message = f"{method} {redact(url)} failed: {_reason(exc)}"
                    raise ConnectionFailed(message, redact(url)) from None
                self._pause(method, url, attempt, None, _reason(exc))
                continue
            why = f"HTTP {response.status_code}"
            retry = idempotent and response.status_code in RETRY_STATUSES
            if (
                retry
                and attempt <= self.retries
                and self._pause(method, url, attempt, response, why)
            ):
                continue
            return response

    def _exchange(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> requests.Response:
        deadline = time.monotonic() + self.timeout
        response = self.session.request(
            method,
            url,
            data=body,
            headers=headers,
            timeout=self.timeout,
            stream=True,
            allow_redirects=False,  # a redirected POST would turn into a GET and lose its body
        )
        return self._read_whole(response, deadline, method, url)

    def _pause(
        self, method: str, url: str, attempt: int, response: requests.Response | None, why: str
    ) -> bool:
        """Sleep before another attempt; False when the server asks for too long a wait."""
        delay = self.backoff * 2 ** (attempt - 1)
        if response is not None and "Retry-After" in response.headers:
            wait = _parse_retry_after(response.headers["Retry-After"])
            if wait is not None and wait > MAX_RETRY_AFTER:
                return False
            delay = max(delay, wait or 0.0)
        log.warning("%s %s: %s; retrying in %.1f s", method, redact(url), why, delay)
        time.sleep(delay)
        return True


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached the server (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )


def _reason_text(response: requests.Response) -> str:
    """Gancio's own message: plain text, HTML-typed text or a JSON string (API.md 13)."""
    text = response.content.decode("utf-8", "replace").strip()
    try:
        decoded = json.loads(text)
    except ValueError:
        decoded = text
    if isinstance(decoded, dict):
        decoded = decoded.get("error_description") or decoded.get("error") or text
    words = " ".join(str(decoded).split())[:200]
    if not words or "<" in words:
        return {404: "not found"}.get(response.status_code, "the server reported an error")
    return words


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


# What the resolver says of a name that does not exist (glibc, musl, macOS): asking again
# gives the same answer, so it is not retried. "Temporary failure in name resolution" is.
_NO_SUCH_HOST = (
    "Name or service not known",
    "No address associated with hostname",
    "nodename nor servname provided",
)


def _unknown_host(exc: requests.RequestException) -> bool:
    """True when the host name does not exist: a typo in the URL, not a passing fault."""
    text = str(exc)
    return isinstance(exc, requests.ConnectionError) and any(m in text for m in _NO_SUCH_HOST)


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
