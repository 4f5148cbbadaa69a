"""Publish Markdown event files to Gancio: create new ones, update changed ones, idempotently.

The state file (``.gancio-publish.json``, meant to be committed) maps each file to its
Gancio id, a hash of the fields last sent and a hash of its image, per instance. A file
whose hash is unchanged is skipped without any request. A file without an entry is first
looked for among the account's own events (same title and start), so a lost state file or
a create whose answer never came does not make a duplicate. Creation is rate limited by
Gancio (6 per 5 minutes per address, API.md section 14): on HTTP 429 the run waits as told.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .api import GancioClient, RateLimited, Refused
from .auth import LOGIN_HINT
from .errors import ApiError, AuthError, ConfigError, ConnectionFailed, DataError, redact
from .forms import FieldValue, encode_fields
from .sources import EventDraft, SourceError, find_sources, read_draft

STATE_FILE = ".gancio-publish.json"
MAX_WAITS = 10  # rate-limit waits for one file before it is reported as failed
STEP = 60.0  # while waiting, a progress line every minute


class Echo(Protocol):
    def say(self, line: str) -> None: ...
    def error(self, line: str) -> None: ...


@dataclass
class PublishReport:
    """What a run did: counts by action and how many created events await moderation."""

    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    moderated: int = 0

    def add(self, action: str) -> None:
        self.counts[action] = self.counts.get(action, 0) + 1

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)

    def summary(self) -> str:
        c = self.counts.get
        if self.dry_run:
            return (
                f"Dry run: {c('created', 0)} to create, {c('updated', 0)} to update, "
                f"{c('unchanged', 0)} unchanged, {self.failed} failed; nothing was sent"
            )
        waiting = f" ({self.moderated} awaiting moderation)" if self.moderated else ""
        total = sum(self.counts.values())
        files = f"{total} file{'' if total == 1 else 's'}"
        return (
            f"Published {files}: {c('created', 0)} created{waiting}, "
            f"{c('updated', 0)} updated, {c('unchanged', 0)} unchanged, {self.failed} failed"
        )


class State:
    """The state file: per instance, its time zone and ``{file: {id, hash, image}}``."""

    def __init__(self, path: Path, instance: str) -> None:
        self.path, self.instance = path, instance
        try:
            self.data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        except (OSError, ValueError) as exc:
            raise DataError(
                f"cannot read {path} ({type(exc).__name__}); fix or delete it"
            ) from None
        if not isinstance(self.data, dict):
            raise DataError(f"{path} is not a gancio-site state file; fix or delete it")
        self.data.setdefault("version", 1)
        here = self.data.setdefault("instances", {}).setdefault(instance, {})
        self.events: dict[str, dict[str, Any]] = here.setdefault("events", {})
        self.here = here

    @property
    def timezone(self) -> str | None:
        return self.here.get("timezone")

    def ids(self) -> set[int]:
        return {entry.get("id") for entry in self.events.values()}

    def record(self, key: str, event_id: int, digest: str, image: str | None) -> None:
        self.events[key] = {"id": event_id, "hash": digest, "image": image}
        self.save()

    def save(self) -> None:
        """Replace the file atomically, with sorted keys so diffs stay small."""
        text = json.dumps(self.data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        handle, temporary = tempfile.mkstemp(prefix=".gancio-publish-", dir=self.path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)  # a committed file, readable like the others
        os.replace(temporary, self.path)


def event_fields(draft: EventDraft, *, update: bool = False) -> dict[str, FieldValue]:
    """Return the form fields for ``draft``, every one of them (PUT replaces the event).

    On update an empty ``end_datetime`` clears the end and ``recurrent=null`` ends a series,
    as Gancio's web form sends them (u01, u11); on create they are left out. The image is
    not here: see :func:`image_key`.
    """
    point = draft.image_focalpoint
    return {
        "title": draft.title,
        "description": draft.description,
        "start_datetime": draft.start,
        "end_datetime": draft.end or ("" if update else None),
        "multidate": draft.multidate,
        "place_name": draft.place_name,
        "place_address": draft.place_address or None,
        "place_latitude": draft.latitude,
        "place_longitude": draft.longitude,
        "online_locations": list(draft.online_locations),
        "tags": list(draft.tags),
        "recurrent": draft.recurrent.as_dict() if draft.recurrent else "null" if update else None,
        "image_name": draft.image_alt,
        "image_focalpoint": f"{point[0]:g},{point[1]:g}" if point else None,
    }


def fields_hash(draft: EventDraft) -> str:
    """Return a hash of the encoded fields: it changes exactly when Gancio would see a change."""
    pairs = encode_fields(event_fields(draft))
    return "sha256:" + hashlib.sha256(json.dumps(pairs).encode()).hexdigest()


def image_key(draft: EventDraft) -> str | None:
    """Return a hash of the image (the file's bytes, or its URL), or None without one."""
    if draft.image is not None:
        return "sha256:" + hashlib.sha256(draft.image.read_bytes()).hexdigest()
    if draft.image_url:
        return "url:" + hashlib.sha256(draft.image_url.encode()).hexdigest()
    return None


class Publisher:
    """One publish run; see the module docstring. Only reads and writes the state file."""

    def __init__(
        self,
        client: GancioClient,
        *,
        state_path: Path,
        root: Path,
        echo: Echo,
        timezone: str = "",
        dry_run: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client, self.root, self.echo = client, root, echo
        self.state = State(state_path, client.instance)
        self.timezone, self.dry_run, self.sleep = timezone, dry_run, sleep
        self.report = PublishReport(dry_run=dry_run)
        self._account: dict[str, Any] | None = None
        self._mine: list[dict[str, Any]] | None = None
        self._seen: dict[tuple[str, int], str] = {}

    def run(self, paths: Iterable[Path]) -> PublishReport:
        """Publish every Markdown file in ``paths``; return the report.

        Every file is checked before any is sent, so one run shows every problem.
        """
        files = find_sources(paths)
        zone = self._zone()
        keyed = [(self._key(path), path) for path in files]
        checked = [(key, self._prepare(key, path, zone)) for key, path in keyed]
        for key, prepared in checked:
            self.report.add("failed" if prepared is None else self._one(key, prepared))
        return self.report

    def _zone(self) -> ZoneInfo:
        name = self.timezone or self.state.timezone
        if not name:
            metadata = self.client.nodeinfo().get("metadata") or {}
            name = metadata.get("nodeTimezone") if isinstance(metadata, dict) else None
            if not isinstance(name, str) or not name:
                problem = "timezone: the instance does not tell its zone; set it in the config"
                raise ConfigError([problem])
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError([f"timezone: {name!r} is not an IANA time zone"]) from None
        self.state.here["timezone"] = name  # saved with the first event sent
        return zone

    def _key(self, path: Path) -> str:
        """The file's name in the state: relative to the config's folder, however it was
        written (``events/../events/x.md``, from another folder, through a link)."""
        for where in (os.path.abspath, os.path.realpath):
            try:
                return Path(where(path)).relative_to(where(self.root)).as_posix()
            except ValueError:
                continue
        return Path(os.path.abspath(path)).as_posix()

    def _one(self, key: str, prepared: tuple[EventDraft, str, str | None]) -> str:
        draft, digest, image = prepared
        entry = self.state.events.get(key)
        if entry and entry.get("hash") == digest and entry.get("image") == image:
            if self.dry_run:
                self.echo.say(f"unchanged {key} (id {entry.get('id')})")
            return "unchanged"
        if self.dry_run:
            action, where = ("update", f" (id {entry.get('id')})") if entry else ("create", "")
            # Without a record, publishing first looks among the account's events, which a
            # dry run does not ask for: say so, as a lost state file makes that the case.
            unless = "" if entry else " (unless Gancio has one of yours of that title and start)"
            self.echo.say(
                f"would {action} {key}{where}: {draft.title}, {draft.start:%Y-%m-%d %H:%M}" + unless
            )
            return f"{action}d"
        try:
            return self._send(key, draft, entry, digest, image)
        except AuthError as exc:
            if self._account is None:
                raise  # the token itself was refused: every file would fail the same way
            self.echo.error(f"{key}: {exc}")
        except ApiError as exc:
            self.echo.error(f"{key}: {exc}")
        return "failed"

    def _prepare(
        self, key: str, path: Path, zone: ZoneInfo
    ) -> tuple[EventDraft, str, str | None] | None:
        """Return the draft and its hashes, or None after reporting why the file is unusable."""
        try:
            draft = read_draft(path, zone, self.client.instance, key)
            digest, image = fields_hash(draft), image_key(draft)
        except SourceError as exc:
            for problem in exc.problems:
                self.echo.error(f"{key}: {problem}")
            return None
        same = (draft.title, int(draft.start.timestamp()))
        if same in self._seen:
            self.echo.error(f"{key}: same title and start as {self._seen[same]}; skipped")
            return None
        self._seen[same] = key
        return draft, digest, image

    def _send(
        self,
        key: str,
        draft: EventDraft,
        entry: dict[str, Any] | None,
        digest: str,
        image: str | None,
    ) -> str:
        if self._account is None:
            if not self.client.token:  # asked for here: a run with nothing to send needs none
                raise AuthError(f"not logged in to {redact(self.client.instance)}; {LOGIN_HINT}")
            self._account = self.client.user()  # a refused token would post anonymously
        note = ""
        if entry is None and (found := self._find(draft)) is not None:
            entry, note = {"id": found["id"]}, " (found on Gancio with the same title and start)"
        if entry is None:
            event, note = self._create(key, draft)
            action = "created"
        else:
            keep = image is not None and entry.get("image") == image
            event, action = self._update(key, draft, int(entry["id"]), keep), "updated"
        self.state.record(key, event["id"], digest, image)
        self.echo.say(f"{action} {key}: id {event['id']}{note}{self._where(event)}")
        return action

    def _where(self, event: dict[str, Any]) -> str:
        if event.get("is_visible") is False:
            self.report.moderated += 1
            return ", awaiting moderation (hidden until an editor or admin confirms it)"
        return f", {self.client.instance}/event/{event.get('slug') or event['id']}"

    def _find(self, draft: EventDraft, refresh: bool = False) -> dict[str, Any] | None:
        """Return the account's own event with the title and start of ``draft``, if any."""
        if self._mine is None or refresh:
            self._mine = self.client.my_events()
        start, taken = int(draft.start.timestamp()), self.state.ids()
        for row in sorted(self._mine, key=lambda r: r.get("id") or 0):
            if (
                row.get("parentId") is None  # occurrences copy their parent's title and start
                and str(row.get("title", "")).strip() == draft.title
                and row.get("start_datetime") == start
                and row.get("id") not in taken
            ):
                return row
        return None

    def _create(self, key: str, draft: EventDraft) -> tuple[dict[str, Any], str]:
        fields = {**event_fields(draft), "image_url": draft.image_url}
        for _ in range(MAX_WAITS):
            try:
                return self.client.create_event(fields, image=draft.image), ""
            except RateLimited as exc:
                self._wait(exc.retry_after, key)
            except (ConnectionFailed, Refused) as exc:
                if isinstance(exc, Refused) and exc.status < 500:
                    raise
                lost = exc  # the event may have been created all the same
                break
        else:
            raise ApiError(f"still rate limited after {MAX_WAITS} waits; run publish again later")
        found = self._find(draft, refresh=True)
        if found is None:
            raise ApiError(f"{lost}; it is not among your events, so run publish again")
        return found, " (the answer was lost, but Gancio has it)"

    def _update(self, key: str, draft: EventDraft, event_id: int, keep: bool) -> dict[str, Any]:
        fields = {
            **event_fields(draft, update=True),
            "image_url": None if keep else draft.image_url,
        }
        image = None if keep else draft.image
        for _ in range(MAX_WAITS):
            try:
                return self.client.update_event(event_id, fields, image, keep_image=keep)
            except RateLimited as exc:
                self._wait(exc.retry_after, key)
            except AuthError:  # the token works (checked first): not this account's event
                raise ApiError(
                    f"Gancio refused to update event {event_id}: only its owner, an editor or "
                    "an admin may (is this the account that created it?)"
                ) from None
            except Refused as exc:
                if exc.status == 404:
                    raise ApiError(
                        f"event {event_id} is no longer on Gancio; remove {key} from "
                        f"{self.state.path.name} to create it again"
                    ) from None
                raise
        raise ApiError(f"still rate limited after {MAX_WAITS} waits; run publish again later")

    def _wait(self, seconds: float, key: str) -> None:
        self.echo.say(
            f"Gancio limits how fast events are sent (HTTP 429): waiting {seconds:.0f} s "
            f"before sending {key}"
        )
        left = seconds
        while left > 0:
            step = min(left, STEP)
            self.sleep(step)
            left -= step
            if left > 0:
                self.echo.say(f"  {left:.0f} s left")
