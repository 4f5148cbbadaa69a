"""Markdown event files -> frozen ``EventDraft`` values, checked before anything is sent.

A file is YAML front matter (python-frontmatter, safe loader) and a Markdown body, rendered
with the ``markdown`` package and sanitised like any description (clean.sanitize_html).
Local times are in the site's zone; every problem names its file and field, all at once.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any

import frontmatter
import markdown
import yaml

from .clean import sanitize_html
from .errors import DataError

FIELDS = (
    *("title", "start", "end", "place", "online", "tags", "multidate", "recurrent"),
    *("image", "image_url", "image_alt", "image_focalpoint"),
)
_HAS_TIME = re.compile(r"\d[T ]\d{1,2}:\d{2}")
_EVERY = re.compile(r"every (\d) weeks?")
_SHORTHANDS = {
    "weekly": "1w",
    "every week": "1w",
    "fortnightly": "2w",
    "biweekly": "2w",
    "monthly": "1m",
    "every month": "1m",
}
# The rules Gancio 1.21 implements (API.md section 7); "1d" and "2m" are stored but broken.
_FREQUENCIES = {"1w", "2w", "3w", "1m"}
_MONTH_TYPES = {"ordinal", 1, 2, 3, 4, -1}
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"II*\x00", b"MM\x00*")


class SourceError(DataError):
    """One event file is unusable; ``problems`` are ``field: message`` strings."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("; ".join(f"{path}: {problem}" for problem in problems))


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A Gancio rule: ``1w``/``2w``/``3w``, or ``1m`` with a ``type`` (ordinal, 1..4, -1)."""

    frequency: str
    type: str | int | None = None

    def as_dict(self) -> dict[str, str | int]:
        rule: dict[str, str | int] = {"frequency": self.frequency}
        return rule if self.type is None else {**rule, "type": self.type}


@dataclass(frozen=True, slots=True)
class EventDraft:
    """One event as written in a file, ready to encode for Gancio."""

    source: str  # the file, as shown in messages
    title: str
    start: datetime
    end: datetime | None
    place_name: str
    place_address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    online_locations: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    description: str = ""
    multidate: bool = False
    recurrent: Recurrence | None = None
    image: Path | None = None
    image_url: str | None = None
    image_alt: str | None = None
    image_focalpoint: tuple[float, float] | None = None


def find_sources(paths: Iterable[Path]) -> list[Path]:
    """Return the Markdown files named or inside the folders named, sorted, each once.

    In folders, ``README.md`` and names starting with ``_`` or ``.`` are skipped.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*.md")
                if p.is_file()
                and p.name.lower() != "readme.md"
                and not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts)
            )
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def read_draft(path: Path, zone: tzinfo, instance: str, shown: str | None = None) -> EventDraft:
    """Return the draft in the Markdown file ``path``; raise SourceError naming each problem."""
    shown = shown or str(path)
    try:
        post = frontmatter.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(shown, [f"cannot read the file ({type(exc).__name__})"]) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)  # lines of the whole file, from 0
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = f": {exc.problem}" if getattr(exc, "problem", None) else ""
        raise SourceError(shown, [f"front matter is not valid YAML{line}{problem}"]) from None
    if not post.metadata:
        raise SourceError(shown, ["no front matter: start the file with a --- block"])
    html = markdown.markdown(post.content, extensions=["sane_lists"])
    return _Reader(post.metadata, zone, path.parent).draft(
        shown, sanitize_html(html, instance.rstrip("/") + "/")
    )


class _Reader:
    """Checks the front matter field by field, collecting every problem."""

    def __init__(self, meta: Mapping[str, Any], zone: tzinfo, folder: Path) -> None:
        self.meta, self.zone, self.folder = meta, zone, folder
        self.problems: list[str] = []

    def draft(self, shown: str, description: str) -> EventDraft:
        for key in self.meta:
            if key not in FIELDS:
                close = difflib.get_close_matches(str(key), FIELDS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.problems.append(f"{key}: unknown field{hint}")
        start, end = self.when("start", required=True), self.when("end")
        if start and end and end < start:
            self.problems.append("end: before start (an event past midnight ends the next day)")
        values = dict(
            title=self.title(),
            online_locations=self.online(),
            tags=self.tags(),
            multidate=self.flag("multidate"),
            recurrent=self.recurrence(),
            image_alt=self.text("image_alt"),
            image_focalpoint=self.focalpoint(),
        )
        values |= self.place(bool(values["online_locations"])) | self.image()
        if self.problems or start is None:
            raise SourceError(shown, self.problems)
        return EventDraft(source=shown, start=start, end=end, description=description, **values)

    def fail(self, field: str, message: str) -> None:
        self.problems.append(f"{field}: {message}")

    def text(self, field: str, value: Any = None, required: bool = False) -> str | None:
        value = self.meta.get(field) if value is None else value
        if value is None:
            if required:
                self.fail(field, "missing")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(field, f"expected text, got {value!r} (put it in quotes)")
            return None
        text = str(value).strip()
        if required and not text:
            self.fail(field, "is empty")
        return text

    def title(self) -> str:
        return self.text("title", required=True) or ""

    def when(self, field: str, required: bool = False) -> datetime | None:
        value = self.meta.get(field)
        if value is None:
            if required:
                self.fail(field, "missing; write it like 2026-11-07 18:30")
            return None
        try:
            return _aware(_parse_time(value), self.zone)
        except ValueError as exc:
            self.fail(field, str(exc))
            return None

    def place(self, online: bool) -> dict[str, Any]:
        value = self.meta.get("place")
        if value is None:
            if not online:
                self.fail("place", "missing; give place: {name, address} or online: [links]")
            return {"place_name": "online"}  # Gancio's place for online-only events
        if isinstance(value, str):
            return {"place_name": self.text("place", value, required=True) or ""}
        if not isinstance(value, Mapping):
            self.fail("place", "expected a name or {name, address, latitude, longitude}")
            return {"place_name": ""}
        for key in value:
            if key not in ("name", "address", "latitude", "longitude"):
                self.fail(f"place.{key}", "unknown field (name, address, latitude, longitude)")
        name = self.text("place.name", value.get("name"), required=True) or ""
        address = self.text("place.address", value.get("address")) or ""
        if not address and name.lower() != "online":
            self.fail("place.address", "missing (Gancio needs it to create a new place)")
        lat, lon = self.number("latitude", value, 90), self.number("longitude", value, 180)
        if (lat is None) != (lon is None):
            self.fail("place", "give both latitude and longitude, or neither")
        return {"place_name": name, "place_address": address, "latitude": lat, "longitude": lon}

    def number(self, key: str, place: Mapping[str, Any], limit: float) -> float | None:
        value = place.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > limit:
            self.fail(f"place.{key}", f"expected a number between -{limit} and {limit}")
            return None
        return float(value)

    def strings(self, field: str) -> tuple[str, ...]:
        value = self.meta.get(field)
        items = [value] if isinstance(value, str | int) else value
        if value is None:
            return ()
        if not isinstance(items, list):
            self.fail(field, f"expected a list, got {value!r}")
            return ()
        out = [self.text(field, item) for item in items]
        return tuple(item for item in out if item)

    def online(self) -> tuple[str, ...]:
        links = self.strings("online")
        for link in links:
            if not re.match(r"https?://[^\s/]+", link):
                self.fail("online", f"{link!r} is not an http(s) link")
        return links

    def tags(self) -> tuple[str, ...]:
        tags: dict[str, str] = {}
        for tag in self.strings("tags"):
            tags.setdefault(tag.casefold(), tag)  # Gancio merges tags case-insensitively
        return tuple(tags.values())

    def flag(self, field: str) -> bool:
        value = self.meta.get(field, False)
        if not isinstance(value, bool):
            self.fail(field, f"expected true or false, got {value!r}")
            return False
        return value

    def recurrence(self) -> Recurrence | None:
        value = self.meta.get("recurrent")
        if value is None or value is False:
            return None
        try:
            return _recurrence(value)
        except ValueError as exc:
            self.fail("recurrent", str(exc))
            return None

    def image(self) -> dict[str, Any]:
        image, url = self.text("image"), self.text("image_url")
        if image and url:
            self.fail("image", "give image or image_url, not both")
        if image and re.match(r"https?://", image):
            image, url = None, image
        if url is not None and not re.match(r"https?://[^\s/]+", url):
            self.fail("image_url", f"{url!r} is not an http(s) URL")
        if not image:
            return {"image": None, "image_url": url}
        path = self.folder / image
        try:
            head = path.read_bytes()[:16]
        except OSError:
            self.fail("image", f"{image} not found (paths are relative to the event file)")
            return {}
        if not (head.startswith(_IMAGE_MAGIC) or head[8:12] in (b"WEBP", b"avif", b"heic")):
            self.fail("image", f"{image} is not a JPEG, PNG, WebP, GIF, AVIF or TIFF image")
        return {"image": path, "image_url": None}

    def focalpoint(self) -> tuple[float, float] | None:
        value = self.meta.get("image_focalpoint")
        if value is None:
            return None
        numbers = value if isinstance(value, list) else []
        if len(numbers) != 2 or not all(_is_unit(n) for n in numbers):
            self.fail("image_focalpoint", "expected [x, y], each between -1 and 1")
            return None
        return float(numbers[0]), float(numbers[1])


def _is_unit(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and -1 <= value <= 1


def _parse_time(value: Any) -> datetime:
    example = "write it like 2026-11-07 18:30, or 2026-11-07T18:30+01:00"
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        raise ValueError(f"{value} has no time of day; {example}")
    if not isinstance(value, str) or not _HAS_TIME.search(value.strip()):
        raise ValueError(f"{value!r} is not a date and time; {example}")
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date and time; {example}") from None


def _aware(moment: datetime, zone: tzinfo) -> datetime:
    """Return ``moment`` in ``zone`` when it has no offset; refuse a time that DST skips."""
    if moment.tzinfo is not None:
        return moment
    local = moment.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        raise ValueError(f"{moment:%Y-%m-%d %H:%M} does not exist in {zone} (clocks go forward)")
    return local


def _recurrence(value: Any) -> Recurrence:
    if isinstance(value, str):
        text = " ".join(value.lower().split())
        every = _EVERY.fullmatch(text)
        frequency = f"{every[1]}w" if every else _SHORTHANDS.get(text, text)
        value = {"frequency": frequency}
    if not isinstance(value, Mapping) or "frequency" not in value:
        raise ValueError("expected weekly, every 2 weeks, monthly, or {frequency: 1w}")
    if "days" in value:
        raise ValueError("Gancio ignores days: a series repeats on the weekday of its start")
    unknown = set(value) - {"frequency", "type"}
    if unknown:
        raise ValueError(f"unknown field {sorted(unknown)[0]!r} (frequency, type)")
    frequency, kind = str(value["frequency"]), value.get("type")
    if frequency not in _FREQUENCIES:
        raise ValueError(
            f"{frequency!r} is not a rule Gancio implements (1w, 2w, 3w, 1m; "
            "1d and 2m are accepted but broken)"
        )
    if frequency == "1m":
        kind = "ordinal" if kind is None else kind
        if kind not in _MONTH_TYPES:
            raise ValueError("monthly type is ordinal (same day), 1 to 4 (nth weekday) or -1")
    elif kind is not None:
        raise ValueError("type only goes with frequency 1m")
    return Recurrence(frequency, kind)
