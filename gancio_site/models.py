"""Typed, frozen values built from Gancio's JSON: the only code that knows its shape.

Gancio's list endpoint omits keys (``multidate`` when false, ``description`` always;
API.md section 4), old instances store junk in integer columns (case B01), and anyone
may post to a public agenda, so every field is checked and coerced here, once. Problems
that can be neutralised become warnings naming the event id; nothing downstream ever
sees a raw dict or a unix timestamp.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from .clean import absolute_url, clean_text, has_invalid_chars, html_to_text, sanitize_html

MAX_DESCRIPTION = 100_000  # characters of HTML

# Unix seconds outside this range are not event times (milliseconds, garbage).
_MIN_TS = 0
_MAX_TS = 32_503_680_000  # year 3000


@dataclass(frozen=True, slots=True)
class Place:
    """Where an event happens; ``key`` identifies it across events."""

    id: int | None
    name: str
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None

    @property
    def key(self) -> str:
        """A stable identity: the Gancio id, else the case-folded name (API.md section 11)."""
        return f"id:{self.id}" if self.id is not None else f"name:{self.name.casefold()}"

    @property
    def is_online(self) -> bool:
        """True for Gancio's special place ``online`` (API.md section 11)."""
        return self.name.strip().casefold() == "online"

    @property
    def has_coordinates(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def map_url(self) -> str | None:
        """An OpenStreetMap link for the coordinates, or None."""
        if not self.has_coordinates:
            return None
        return (
            f"https://www.openstreetmap.org/?mlat={self.latitude}&mlon={self.longitude}"
            f"#map=17/{self.latitude}/{self.longitude}"
        )


@dataclass(frozen=True, slots=True)
class Image:
    """The event's one image, as absolute URLs on the Gancio instance."""

    url: str
    thumb_url: str
    alt: str
    width: int | None = None
    height: int | None = None
    size: int | None = None
    focal_x: float = 0.0
    focal_y: float = 0.0

    @property
    def object_position(self) -> str:
        """CSS ``object-position`` for the focal point, as Gancio's widget computes it."""
        return f"{(self.focal_x + 1) * 50:g}% {(self.focal_y + 1) * 50:g}%"


@dataclass(frozen=True, slots=True)
class Recurrence:
    """The rule of a recurrent series, as Gancio applies it (API.md section 7).

    Every ``weeks`` weeks on ``weekday``; or, when ``weeks`` is 0, every month: on ``day``
    of the month, or on the ``ordinal`` ``weekday`` of the month (1 to 4, or -1: the last).
    A weekday, day or ordinal the occurrence's own date (in the site's zone) contradicts is
    left out (0), so the rule says less rather than something wrong: "every 2 weeks",
    "every month".
    """

    weeks: int = 0
    weekday: int = 0  # ISO: 1 Monday ... 7 Sunday
    day: int = 0
    ordinal: int = 0

    @property
    def weekday_date(self) -> date | None:
        """A day on ``weekday``, to have its name formatted in the site's language."""
        return date(2024, 1, self.weekday) if self.weekday else None  # 1 January 2024: Monday


@dataclass(frozen=True, slots=True)
class Event:
    """One event (or one occurrence of a recurrent series), times aware in the site's zone."""

    id: int
    title: str
    slug: str | None
    start: datetime
    end: datetime | None
    place: Place
    multidate: bool = False
    tags: tuple[str, ...] = ()
    online_locations: tuple[str, ...] = ()
    image: Image | None = None
    parent_id: int | None = None
    recurrence: Recurrence | None = None  # the series' rule, when known
    updated_at: datetime | None = None
    description: str = ""  # sanitised HTML
    source_url: str = ""  # the event's page on the Gancio instance

    @property
    def description_text(self) -> str:
        """The description as plain text (feeds, calendars, meta tags)."""
        return html_to_text(self.description)

    @property
    def is_online(self) -> bool:
        return self.place.is_online

    @property
    def is_recurrent(self) -> bool:
        return self.parent_id is not None

    @property
    def spans_days(self) -> bool:
        """True when the event ends on a later calendar day than it starts."""
        return self.end is not None and self.end.date() > self.start.date()

    @property
    def last_moment(self) -> datetime:
        """When the event is over: its end, else its start."""
        return self.end or self.start


@dataclass
class Parser:
    """Builds models from Gancio JSON for one instance and zone, collecting warnings."""

    instance: str
    tz: ZoneInfo
    warnings: list[str] = field(default_factory=list)

    def warn(self, event_id: object, message: str) -> None:
        self.warnings.append(f"event {event_id}: {message}")

    def event(self, raw: Any) -> Event | None:
        """Return an ``Event`` from a list, detail or export row, or None if unusable.

        All the problems of one event end up in one warning naming its id.
        """
        before = len(self.warnings)
        event = self._event(raw)
        if len(self.warnings) - before > 1:
            notes = [w.split(": ", 1)[1] for w in self.warnings[before:]]
            prefix = self.warnings[before].split(": ", 1)[0]
            self.warnings[before:] = [f"{prefix}: " + "; ".join(dict.fromkeys(notes))]
        return event

    def _event(self, raw: Any) -> Event | None:
        if not isinstance(raw, dict):
            self.warnings.append(f"skipped an event that is not an object: {str(raw)[:40]!r}")
            return None
        event_id = _as_int(raw.get("id"))
        if event_id is None:
            self.warnings.append(f"skipped an event without a valid id: {raw.get('id')!r:.40}")
            return None
        start_ts = _as_timestamp(raw.get("start_datetime"))
        if start_ts is None:
            self.warn(event_id, "skipped: start_datetime is not a time")
            return None
        start = datetime.fromtimestamp(start_ts, self.tz)
        return Event(
            id=event_id,
            title=self._title(event_id, raw.get("title")),
            slug=self._text(event_id, "slug", raw.get("slug")) or None,
            start=start,
            end=self._end(event_id, raw, start_ts),
            place=self.place(event_id, raw.get("place")),
            multidate=raw.get("multidate") is True,
            tags=self._tags(event_id, raw.get("tags")),
            online_locations=self._links(event_id, raw.get("online_locations")),
            image=self._image(event_id, raw.get("media")),
            parent_id=_as_int(raw.get("parentId")),
            recurrence=_recurrence(raw.get("parent"), start, self.tz),
            updated_at=_as_iso(raw.get("updatedAt")),
            description=self.description(event_id, raw.get("description")),
            source_url=self._source_url(raw.get("slug"), event_id),
        )

    def description(self, event_id: object, raw: Any) -> str:
        """Return sanitised description HTML ('' when missing)."""
        if raw is None:
            return ""
        if not isinstance(raw, str):
            self.warn(event_id, "description is not text; left out")
            return ""
        if len(raw) > MAX_DESCRIPTION:
            # Megabytes of text make pages no browser or reader can use; Gancio's own
            # editor never produces them. The cut is sanitised below, so tags still close.
            self.warn(event_id, f"description of {len(raw)} characters cut to {MAX_DESCRIPTION}")
            raw = raw[:MAX_DESCRIPTION] + "…"
        if has_invalid_chars(raw):
            self.warn(event_id, "removed control characters from description")
        html = sanitize_html(raw, self.instance + "/")
        if "<" not in html and "\n" in html:
            # Plain-text descriptions keep their line breaks (API.md section 8).
            html = "<p>" + html.replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>"
        return html

    def place(self, event_id: object, raw: Any) -> Place:
        """Return the event's place, or an empty one (with a warning) when it is missing."""
        if not isinstance(raw, dict):
            self.warn(event_id, "has no place")
            return Place(id=None, name="")
        lat, lon = (
            _as_coordinate(raw.get("latitude"), 90),
            _as_coordinate(raw.get("longitude"), 180),
        )
        if lat is None or lon is None:  # Gancio stores both or neither (API.md section 5)
            if any(raw.get(k) is not None for k in ("latitude", "longitude")):
                self.warn(event_id, "place coordinates are not a position; no map")
            lat = lon = None
        return Place(
            id=_as_int(raw.get("id")),
            name=self._text(event_id, "place name", raw.get("name")),
            address=self._text(event_id, "place address", raw.get("address")),
            latitude=lat,
            longitude=lon,
        )

    def _title(self, event_id: int, raw: Any) -> str:
        title = self._text(event_id, "title", raw).strip()
        if not title:
            self.warn(event_id, "has no title")
            return f"Event {event_id}"
        return title

    def _text(self, event_id: object, what: str, raw: Any) -> str:
        if raw is None:
            return ""
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            self.warn(event_id, f"{what} is not text; left out")
            return ""
        value = str(raw)
        if has_invalid_chars(value):
            self.warn(event_id, f"removed control characters from {what}")
            value = clean_text(value)
        return value

    def _end(self, event_id: int, raw: dict[str, Any], start_ts: int) -> datetime | None:
        value = raw.get("end_datetime")
        if value is None:
            return None
        end_ts = _as_timestamp(value)
        if end_ts is None or end_ts == 0:
            self.warn(event_id, f"end_datetime {value!r:.40} is not a time; shown without an end")
            return None
        if end_ts < start_ts:
            self.warn(event_id, "ends before it starts; shown without an end")
            return None
        if end_ts == start_ts:
            return None
        return datetime.fromtimestamp(end_ts, self.tz)

    def _tags(self, event_id: int, raw: Any) -> tuple[str, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.warn(event_id, "tags is not a list; left out")
            return ()
        seen: dict[str, str] = {}
        for item in raw:
            # The export gives tags as objects {"tag": "x"} (API.md section 6).
            value = item.get("tag") if isinstance(item, dict) else item
            tag = " ".join(self._text(event_id, "tag", value).split())
            if tag and tag not in seen:
                seen[tag] = tag
        return tuple(seen)

    def _links(self, event_id: int, raw: Any) -> tuple[str, ...]:
        if not isinstance(raw, list):
            return ()
        links = []
        for item in raw:
            url = absolute_url(item, "https://invalid.example/") if isinstance(item, str) else None
            if (
                url is None
                or url.startswith("https://invalid.example/")
                or url.startswith("mailto:")
            ):
                self.warn(event_id, f"dropped online link {str(item)[:60]!r}")
                continue
            links.append(url)
        return tuple(links)

    def _image(self, event_id: int, raw: Any) -> Image | None:
        if not isinstance(raw, list) or not raw or not isinstance(raw[0], dict):
            return None
        media = raw[0]
        name = media.get("url")
        if not isinstance(name, str) or not name.strip():
            return None
        # The file name is untrusted: quote it fully so it stays one path segment.
        file = quote(clean_text(name.strip()), safe="")
        focal = media.get("focalpoint")
        fx, fy = focal if isinstance(focal, list) and len(focal) == 2 else (0, 0)
        return Image(
            url=f"{self.instance}/media/{file}",
            thumb_url=f"{self.instance}/media/thumb/{file}",
            alt=self._text(event_id, "image name", media.get("name")).strip(),
            width=_as_int(media.get("width")),
            height=_as_int(media.get("height")),
            size=_as_int(media.get("size")),
            focal_x=_clamp(fx),
            focal_y=_clamp(fy),
        )

    def _source_url(self, slug: Any, event_id: int) -> str:
        # Gancio links with `slug || id` (API.md section 9).
        key = slug if isinstance(slug, str) and slug.strip() else str(event_id)
        return f"{self.instance}/event/{quote(clean_text(key), safe='')}"


def _recurrence(parent: Any, start: datetime, tz: ZoneInfo) -> Recurrence | None:
    """Return the rule of an occurrence's series from its ``parent`` (as the detail endpoint
    gives it: ``{id, recurrent, is_visible, start_datetime}``), or None when unknown.

    Gancio keeps the parent's weekday, time and day of the month in the instance's zone
    (the site's, unless configured otherwise); ``1d`` and ``2m`` are stored but broken.
    """
    rule = parent.get("recurrent") if isinstance(parent, dict) else None
    if not isinstance(rule, dict) or not isinstance(rule.get("frequency"), str):
        return None
    origin_ts = _as_timestamp(parent.get("start_datetime"))
    origin = start if origin_ts is None else datetime.fromtimestamp(origin_ts, tz)
    weekly = re.fullmatch(r"([1-9])w", rule["frequency"])  # Gancio reads one digit
    if weekly:
        same_day = origin.isoweekday() == start.isoweekday()
        return Recurrence(weeks=int(weekly[1]), weekday=start.isoweekday() if same_day else 0)
    if rule["frequency"] != "1m":
        return None
    return _monthly(rule.get("type"), origin, start)


def _monthly(kind: Any, origin: datetime, start: datetime) -> Recurrence | None:
    last_day = calendar.monthrange(start.year, start.month)[1]
    if kind == "ordinal":  # the parent's day of the month
        # A day the month lacks (31 in April) cannot be kept: the last day then fits too.
        fits = start.day == origin.day or start.day == last_day < origin.day
        return Recurrence(day=origin.day if fits else 0)
    ordinal = _as_int(kind)  # the n-th (-1: the last) of the parent's weekday
    if ordinal not in (1, 2, 3, 4, -1):
        return None
    nth = -1 if start.day + 7 > last_day else 0  # the last of its weekday this month
    fits = ordinal in (nth, (start.day - 1) // 7 + 1)
    if not fits or origin.isoweekday() != start.isoweekday():
        return Recurrence()
    return Recurrence(weekday=start.isoweekday(), ordinal=ordinal)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _as_timestamp(value: Any) -> int | None:
    ts = _as_int(value)
    if ts is None and isinstance(value, float) and math.isfinite(value):
        ts = int(value)
    if ts is None or not _MIN_TS <= ts <= _MAX_TS:
        return None
    return ts


def _as_coordinate(value: Any, limit: float) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or abs(number) > limit:
        return None
    return number


def _as_iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    # GET /api/places on SQLite gives "2026-12-03 12:23:14.257 +00:00" (API.md section 1).
    text = text.replace(" +", "+")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _clamp(value: Any) -> float:
    number = _as_coordinate(value, 1e9) or 0.0
    return max(-1.0, min(1.0, number))


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """What every page and feed says about the site itself."""

    title: str
    description: str
    base_url: str
    language: str  # Babel code, e.g. "pt_BR"
    timezone: str  # IANA name
    instance: str
    instance_name: str

    @property
    def lang(self) -> str:
        """The BCP 47 tag for ``<html lang>`` ("pt-BR", "sr-Latn-RS"; "de" for "de@euro")."""
        first, *rest = self.language.partition("@")[0].replace("-", "_").split("_")
        tags = [first.lower()]
        for part in rest:
            tags.append(part.title() if len(part) == 4 else part.upper())
        return "-".join(tags)
