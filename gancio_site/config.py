"""Site configuration: `gancio-site.toml`, then `GANCIO_*` variables, then command-line flags.

Every problem is collected and reported together, each naming its key, so a user fixes a
config file in one round. Relative paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import babelzone  # noqa: F401  (first: Babel must not read the machine's zone)

# isort: split
from babel import Locale, UnknownLocaleError

from .errors import ConfigError, redact

CONFIG_FILE = "gancio-site.toml"
ENV_PREFIX = "GANCIO_"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """Everything a build needs to know, validated."""

    instance: str = ""
    title: str = ""
    description: str = ""
    base_url: str = ""
    output: Path = Path("public")
    cache: Path = Path(".gancio-cache")
    templates: Path = Path("templates")
    static: Path = Path("static")
    language: str = "en"
    timezone: str = ""
    tags: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    start: str = "now"
    end: str = ""
    max: int | None = None
    page_size: int = 100
    show_recurrent: bool = False
    timeout: float = 20.0
    shrink_limit: float = 0.5
    allow_shrink: bool = False

    @property
    def base_path(self) -> str:
        """The path part of ``base_url``, always ending in '/' ('/agenda/')."""
        return urlsplit(self.base_url).path or "/"


# key -> (description, env parser). The descriptions feed the README table and `init`.
KEYS: dict[str, str] = {
    "instance": "URL of the Gancio instance",
    "title": "site title (default: the instance's name)",
    "description": "one-line description of the site",
    "base_url": "public URL of the site, may have a sub-path",
    "output": "output folder",
    "cache": "cache folder for fetched data",
    "templates": "folder of templates overriding the default theme",
    "static": "folder of static files overriding the default theme",
    "language": "language of dates and interface (en, it, es, fr, de, ca, pt, ...)",
    "timezone": "IANA time zone (default: the instance's)",
    "tags": "only events with any of these tags",
    "places": "only events at any of these places (ids or names)",
    "start": "first day: now, today, a date, or relative like -7d",
    "end": "last day, included: today, a date, or relative like +90d (default: no end)",
    "max": "at most this many events",
    "page_size": "events per list page (home, tag, place); 0 puts each list on one page",
    "show_recurrent": "include occurrences of recurrent events",
    "timeout": "seconds to wait for each answer from Gancio",
    "shrink_limit": "refuse a build with fewer events than this share of the last one",
    "allow_shrink": "replace the site even when it would lose most of its events",
}
PATH_KEYS = {"output", "cache", "templates", "static"}
LIST_KEYS = {"tags", "places"}
# Every GANCIO_* variable gancio-site reads: the settings, and the account's and the build's.
KNOWN_VARIABLES = {ENV_PREFIX + key.upper() for key in KEYS} | {
    "GANCIO_TOKEN",
    "GANCIO_USERNAME",
    "GANCIO_PASSWORD",
    "GANCIO_SITE_WORKERS",
    "GANCIO_SITE_DEBUG",
}
_RELATIVE = re.compile(r"^([+-])(\d+)([dwh])$")
WHEN_FORMS = (
    "use now, today, a date like 2026-12-31 or 2026-12-31T21:00, "
    "or days, weeks or hours from now like +90d, -7d, +2w, +6h"
)


def chosen_workers(env: Mapping[str, str] | None = None) -> int | None:
    """Return the number of rendering processes GANCIO_SITE_WORKERS asks for, if any."""
    chosen = (os.environ if env is None else env).get("GANCIO_SITE_WORKERS", "").strip()
    if not chosen:
        return None
    if not (chosen.isascii() and chosen.isdigit() and int(chosen) > 0):
        raise ValueError(
            f"GANCIO_SITE_WORKERS must be a number of processes, 1 or more (got {chosen[:20]!r})"
        )
    return int(chosen)


def load_config(
    path: Path | None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    require_instance: bool = True,
) -> SiteConfig:
    """Return the validated configuration; raise ``ConfigError`` listing every problem."""
    env = os.environ if env is None else env
    problems: list[str] = []
    raw, root = _read_file(path, problems)
    unreadable = bool(problems)  # then "missing" keys may well be in the file: not said
    for key in raw:
        if key not in KEYS:
            problems.append(f"{key}: unknown key in {path or CONFIG_FILE}{_did_you_mean(key)}")
    values: dict[str, Any] = {k: _resolve_path(k, v, root) for k, v in raw.items() if k in KEYS}
    if env.get("NETLIFY") == "true" and env.get("URL"):
        values.setdefault("base_url", env["URL"])  # Netlify's own name for the site's URL
    for key in KEYS:
        # An empty variable counts as unset (CI often passes on ones nobody set).
        if env.get(ENV_PREFIX + key.upper(), "").strip():
            values[key] = env[ENV_PREFIX + key.upper()]
    for name in sorted(env):
        if name.startswith(ENV_PREFIX) and name not in KNOWN_VARIABLES:
            close = difflib.get_close_matches(name, sorted(KNOWN_VARIABLES), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            log.warning("%s is not a variable gancio-site reads%s", name, hint)
    try:
        chosen_workers(env)  # said now, not only when a build has pages to render
    except ValueError as exc:
        problems.append(str(exc))
    for key, value in (overrides or {}).items():
        if value is not None and value != ():
            values[key] = value
    result = {}
    for key, value in values.items():
        try:
            result[key] = _CHECKS.get(key, _text)(value)
        except ValueError as exc:
            problems.append(f"{key}: {exc}")
    reported = {problem.split(":")[0] for problem in problems}
    required = require_instance and not unreadable
    if required and not result.get("instance") and "instance" not in reported:
        problems.append(
            "instance: missing; set it in gancio-site.toml, GANCIO_INSTANCE or --instance"
        )
    if required and not result.get("base_url") and "base_url" not in reported:
        problems.append(
            "base_url: missing; set it in gancio-site.toml, GANCIO_BASE_URL or --base-url "
            "(the public URL of the site, e.g. https://example.org/)"
        )
    for key in ("templates", "static"):
        folder = result.get(key)
        if key in values and folder is not None and not folder.is_dir():
            problems.append(f"{key}: {folder} is not a folder")
    cache = result.get("cache")
    if cache is not None and cache.exists() and not cache.is_dir():  # else every build warns
        problems.append(f"cache: {cache} exists and is not a folder")
    if not problems:
        config = SiteConfig(**result)
        problems += _check_window(config) + _check_folders(config, path or Path(CONFIG_FILE))
    if problems:
        raise ConfigError(problems)
    return config


def _did_you_mean(key: str) -> str:
    normal = key.strip().lower().replace("-", "_")
    if normal in KEYS:
        return f" (did you mean {normal!r}?)"
    close = difflib.get_close_matches(normal, KEYS, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_window(config: SiteConfig) -> list[str]:
    now = datetime.now().astimezone()  # comparing two specs: any zone will do
    start, end = resolve_time(config.start, now), resolve_end(config.end, now)
    if start is not None and end is not None and end < start:
        return [f"end: {config.end!r} is before start {config.start!r}"]
    return []


def _check_folders(config: SiteConfig, config_file: Path) -> list[str]:
    """The output folder is replaced whole: it must hold nothing of the site's sources."""
    output = Path(os.path.realpath(config.output))
    sources = {
        "the working folder": Path.cwd(),
        "the config file": config_file.absolute() if config_file.exists() else None,
        "templates": config.templates,
        "static": config.static,
        "cache": config.cache,
    }
    problems = []
    for name, source in sources.items():
        if source is None:
            continue
        source = Path(os.path.realpath(source))
        if source == output or output in source.parents:
            problems.append(
                f"output: {config.output} holds {name} ({source}); it would be replaced"
            )
            if name == "the working folder":
                break  # and so all the rest: one line says it
        elif name != "the working folder" and source in output.parents and name != "cache":
            problems.append(f"output: {config.output} is inside {name} ({source})")
    if output.exists() and not output.is_dir():
        problems.append(f"output: {config.output} exists and is not a folder")
    elif file := next((p for p in Path(config.output).parents if _not_a_folder(p)), None):
        problems.append(f"output: {config.output} is below {file}, a file, not a folder")
    return problems


def _not_a_folder(path: Path) -> bool:
    return path.exists() and not path.is_dir()


def _read_file(path: Path | None, problems: list[str]) -> tuple[dict[str, Any], Path]:
    explicit = path is not None
    path = path or Path(CONFIG_FILE)
    if not path.exists():
        if explicit:
            problems.append(f"config: file {path} not found")
        return {}, Path.cwd()
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle), path.resolve().parent
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        problems.append(f"config: cannot read {path}: {exc}")
        return {}, Path.cwd()


def _resolve_path(key: str, value: Any, root: Path) -> Any:
    if key in PATH_KEYS and isinstance(value, str):
        return root / value
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {value!r}")
    return value.strip()


def _url(value: Any) -> str:
    text = _text(value)
    shown = redact(text)  # what an error may say of it
    parts = urlsplit(text)
    try:
        port = parts.port  # raises on a port out of range or not a number
    except ValueError:
        port = 0
    if port == 0:  # no server listens on port 0
        raise ValueError(f"{shown!r} has an invalid port")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{shown!r} is not an http(s) URL")
    if any(c.isspace() for c in text):
        raise ValueError(f"{shown!r} contains spaces")
    if "\\" in text:  # browsers read it as "/", requests does not: one address, two meanings
        where = repr(shown) if "\\" in shown else "the address (before its @)"
        raise ValueError(f"{where} contains a backslash")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise ValueError(f"{shown!r} has a query or fragment; give the plain address")
    return text


def _instance(value: Any) -> str:
    return _url(value).rstrip("/") if value else ""


def _base_url(value: Any) -> str:
    text = _url(value)
    if urlsplit(text).username is not None:
        raise ValueError(f"{redact(text)!r} contains a user name or password")
    return text if text.endswith("/") else text + "/"


def _path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    return Path(_text(value))


def _language(value: Any) -> str:
    # "de_DE.UTF-8@euro", as $LANG says it: the language is "de_DE@euro".
    text = re.sub(r"\.[^@]*", "", _text(value)).replace("-", "_")
    try:
        Locale.parse(text)
    except (UnknownLocaleError, ValueError):
        raise ValueError(
            f"{text!r} is not a known language code (try en, it, es, fr, de, ca, pt)"
        ) from None
    return text


def _timezone(value: Any) -> str:
    text = _text(value)
    if text:
        # The zone files' own names: "localtime" would be the machine's zone.
        if text.casefold() in ("localtime", "posixrules", "factory"):
            raise ValueError(f"{text!r} is not a place's time zone (e.g. Europe/Rome)")
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{text!r} is not an IANA time zone (e.g. Europe/Rome)") from None
    return text


def _list(value: Any, what: str = "names") -> tuple[str, ...]:
    if isinstance(value, str):
        items: list[Any] = [v for v in value.split(",")]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ValueError(f"expected a list, got {value!r}")
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise ValueError(f"expected a list of {what}, got {item!r}")
        text = str(item).strip()
        if not text:
            raise ValueError("contains an empty name")
        if text not in out:
            out.append(text)
    return tuple(out)


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        for item in value:
            # Gancio splits the `tags` filter on commas (API.md section 4, case B03).
            if isinstance(item, str) and "," in item:
                raise ValueError(f"{item!r} contains a comma, which Gancio cannot filter on")
    return _list(value)


def _when(value: Any, resolve: Callable[[str, datetime], datetime | None]) -> str:
    if isinstance(value, datetime | date):
        value = value.isoformat()
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a time: {WHEN_FORMS}")
    text = value.strip()
    resolve(text, datetime.now().astimezone())
    return text


def _start(value: Any) -> str:
    return _when(value, resolve_time)


def _end(value: Any) -> str:
    return _when(value, resolve_end)


def _whole(value: Any, minimum: int, expected: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"expected {expected}, got {value!r}")
    return value


def _max(value: Any) -> int | None:
    return _whole(value, 1, "a whole number of at least 1")


def _page_size(value: Any) -> int:
    return _whole(value, 0, "a whole number (0 for no pages)")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _share(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number between 0 and 1, got {value!r}") from None
    if not 0 <= number <= 1:
        raise ValueError(f"expected a number between 0 and 1, got {value!r}")
    return number


def _timeout(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected seconds, got {value!r}") from None
    if not 0 < number <= 600:
        raise ValueError(f"expected more than 0 and at most 600 seconds, got {value!r}")
    return number


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "instance": _instance,
    "base_url": _base_url,
    "output": _path,
    "cache": _path,
    "templates": _path,
    "static": _path,
    "language": _language,
    "timezone": _timezone,
    "tags": _tags,
    "places": lambda value: _list(value, "names or ids"),
    "start": _start,
    "end": _end,
    "max": _max,
    "page_size": _page_size,
    "show_recurrent": _bool,
    "timeout": _timeout,
    "shrink_limit": _share,
    "allow_shrink": _bool,
}
assert set(_CHECKS) | {"title", "description"} == set(KEYS) == {f.name for f in fields(SiteConfig)}


def resolve_time(spec: str, now: datetime) -> datetime | None:
    """Return the instant ``spec`` names, in ``now``'s zone; None for ''.

    Accepts ``now``, ``today`` (local midnight), ``YYYY-MM-DD`` (local midnight),
    ``YYYY-MM-DDTHH:MM``, and ``+Nd``/``-Nd`` (also ``w`` weeks, ``h`` hours).
    Relative days count from local midnight, so "-7d" always covers whole days.
    An ``end`` goes through ``resolve_end``: its days are included whole.
    """
    text = spec.strip()
    if not text:
        return None
    if text == "now":
        return now
    midnight = datetime.combine(now.date(), time(), now.tzinfo)
    if text == "today":
        return midnight
    match = _RELATIVE.match(text)
    if match:
        sign, amount, unit = match.groups()
        delta = {"d": timedelta(days=1), "w": timedelta(weeks=1), "h": timedelta(hours=1)}[unit]
        base = now if unit == "h" else midnight
        try:
            return base + delta * int(amount) * (1 if sign == "+" else -1)
        except OverflowError:
            raise ValueError(f"{text!r} is too far away") from None
    try:
        if text.isdigit():  # a bare number is no date: "end = 90" meant "+90d"?
            raise ValueError
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        if re.match(r"\d{4}-\d\d-\d\d", text) and "isoformat" not in str(exc):
            # The form is right, the day or hour is not (30 February, 25:00).
            raise ValueError(f"{text!r} is not a date and time of the calendar ({exc})") from None
        raise ValueError(f"{text!r} is not a time: {WHEN_FORMS}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=now.tzinfo)
    return parsed


def resolve_end(spec: str, now: datetime) -> datetime | None:
    """Return the instant the ``end`` setting names, in ``now``'s zone; None for ''.

    A day (``today``, ``YYYY-MM-DD``) is included whole: it ends with its last second,
    just before the next local midnight. Anything else means what ``resolve_time`` says.
    """
    text = spec.strip()
    day = now.date() if text == "today" else _bare_date(text)
    if day is None:
        return resolve_time(text, now)
    # Gancio's times are whole seconds; fold=1 is the later 23:59:59 should the clocks
    # go back an hour at midnight.
    return datetime.combine(day, time(23, 59, 59, fold=1), now.tzinfo)


def _bare_date(text: str) -> date | None:
    if text.isdigit():
        return None  # no date: resolve_time explains
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
