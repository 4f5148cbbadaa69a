"""Getting the raw events of a site: from the instance, from the cache, or from the demo.

All three give a ``Snapshot``: the rows as Gancio's list endpoint returns them, each with
its ``description`` filled in (and each occurrence of a recurrent series with its
``parent``, when known), plus the instance's name and time zone.

Descriptions: the list endpoint has none (API.md section 4). A cached description is
reused while the event's ``updatedAt`` is unchanged. When more than a few are missing, one
``/api/export/json`` request (filtered like the list) brings them all at once; the export
only covers events that started in the last 24 hours or later (API.md section 6), so
whatever it lacks is fetched from the detail endpoint, a few requests at a time.

Recurrent series: the rule lives on the series' parent, which no list and no export
carries (API.md sections 6 and 7); only the detail of an occurrence gives it, as
``parent``. Every detail fetched for a description is read for it, and the rule is
cached by parent id: the first build that shows a series whose rule it does not know
fetches the detail of one of its occurrences (its description comes with it, so that one
is not fetched otherwise); later builds reuse the cache and ask nothing more.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .api import GancioClient
from .cache import Cache
from .config import SiteConfig, resolve_end, resolve_time
from .errors import ApiError, ConfigError, ConnectionFailed, DataError, redact
from .progress import current

log = logging.getLogger(__name__)

EXPORT_THRESHOLD = 3  # more missing descriptions than this: one export request instead
DETAIL_WORKERS = 4
MAX_SERIES_PROBES = 20  # series whose rule a build asks for, at most (one detail each)
DEMO_INSTANCE = "https://gancio.example.org"


@dataclass
class Snapshot:
    """Raw events of one instance, descriptions included where known."""

    instance: str
    instance_name: str
    timezone: str
    rows: list[dict[str, Any]]
    place_ids: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    requests: int = 0
    captured_at: float | None = None  # the demo's own "now"
    # The server answered 304 and the cache is whole: the rows were not read from it yet
    # (``load_deferred`` does that, when the site in place is not up to date after all).
    deferred: bool = False


def fetch_online(
    config: SiteConfig, client: GancioClient, cache: Cache, now_ts: float, lazy: bool = False
) -> Snapshot:
    """Fetch the configured events and their descriptions, and refresh the cache.

    With ``lazy``, a 304 on a whole cache gives a ``deferred`` snapshot: the cached rows
    are read only if the build needs them (``load_deferred``).
    """
    info = client.nodeinfo()
    meta = info.get("metadata") if isinstance(info.get("metadata"), dict) else {}
    # The tag of the last list saved: an answer with the same tag has the same bytes,
    # whatever the query, so the cached rows stand for it. Its facts stand in for a
    # nodeinfo that says nothing usable this time (a site must not jump to UTC).
    saved = cache.load_etag()
    known = saved.get("facts") if isinstance(saved.get("facts"), dict) else {}
    notes: list[str] = []
    timezone = _text(meta.get("nodeTimezone"))
    if not config.timezone and not _is_zone(timezone) and _is_zone(known.get("timezone")):
        notes.append(
            f"the instance gave no usable time zone ({timezone[:40]!r}); kept the last "
            f"build's, {known['timezone']}: set `timezone` in gancio-site.toml"
        )
        timezone = known["timezone"]
    now = datetime.fromtimestamp(now_ts, site_zone(config, timezone, []))
    place_ids = _resolve_places(config, client)
    query = list_query(config, now, place_ids)
    instance_name = (
        _text(meta.get("nodeName")) or _text(known.get("instance_name")) or _host(config.instance)
    )
    list_facts = {  # what the list was fetched under, besides the query's moving window
        "filters": filters(config),
        "instance_name": instance_name,
        "timezone": timezone,
        "place_ids": place_ids,
    }
    etag = saved.get("etag")
    listed = client.events(query, etag)
    if (
        lazy
        and listed is None
        and saved.get("complete") is True
        and saved.get("facts") == list_facts
        and saved.get("data") == cache.digest()  # the files saved with that tag, untouched
    ):
        return Snapshot(
            instance=config.instance,
            instance_name=instance_name,
            timezone=timezone,
            rows=[],
            place_ids=place_ids,
            warnings=notes,
            requests=client.requests_made,
            deferred=True,
        )
    cached = cache.load_events() if listed is None else None
    if listed is None and (cached is None or cached.get("etag") != etag):
        listed = client.events(query)  # the saved list is not the one of that tag
    unchanged = listed is None  # 304: the cached list is the server's list
    list_etag = etag if unchanged else client.last_etag
    if listed is None:
        listed = cached["events"] if cached is not None else []
    skipped = [
        f"skipped a listed event that is not an object: {str(r)[:40]!r}"
        for r in listed
        if not isinstance(r, dict)
    ]
    rows = [row for row in listed if isinstance(row, dict)]
    if not config.show_recurrent:
        # An instance may list occurrences by default (`recurrent_event_visible`): they are
        # left out of the site, so nothing is fetched about them either.
        rows = [row for row in rows if not _is_id(row.get("parentId"))]
    rows = _drop_repeats(rows, skipped)
    snapshot = Snapshot(
        instance=config.instance,
        instance_name=instance_name,
        timezone=timezone,
        rows=rows,
        place_ids=place_ids,
        warnings=notes + skipped,
    )
    descriptions, series = cache.load_descriptions(), cache.load_series()
    fetched = _fill_descriptions(snapshot, descriptions, series, client, config, query)
    series = _attach_parents(rows, series)
    keep = {row["id"] for row in rows if isinstance(row.get("id"), int)}
    facts = {  # nothing that changes from one build to the next unless the events do
        "filters": filters(config),
        "etag": list_etag,
        "instance_name": snapshot.instance_name,
        "timezone": snapshot.timezone,
        "place_ids": place_ids,
        # Descriptions live in their own file (by updatedAt), not twice.
        "events": [_without_description(row, descriptions) for row in rows],
    }
    same = (
        unchanged
        and not fetched
        and all(
            cached is not None and cached.get(k) == facts[k]  # type: ignore[union-attr]
            for k in ("filters", "instance_name", "timezone", "place_ids")
        )
    )
    # Whole when no description is missing and no series rule is left to learn (and no
    # row was skipped, whose warning only a full read repeats): a 304 then needs nothing.
    complete = not skipped and not _apply_cached(rows, descriptions)
    complete = complete and not _series_probes(rows, [], series)
    try:
        if not same:  # rewriting identical files would only cost time
            cache.checkpoint()  # the build may refuse this list (build.py): then it goes
            cache.save_events(facts)
            cache.save_descriptions({k: v for k, v in descriptions.items() if k in keep})
            cache.save_series(series)
        if not same or (saved.get("facts"), saved.get("complete")) != (list_facts, complete):
            cache.save_etag(list_etag, list_facts, complete)
    except OSError as exc:
        snapshot.warnings.append(
            f"could not save the cache in {cache.folder}: {exc.strerror or exc}"
        )
    snapshot.requests = client.requests_made
    return snapshot


def list_query(config: SiteConfig, now: datetime, place_ids: dict[str, int]) -> dict[str, Any]:
    """Return the ``/api/events`` parameters for the configured filters.

    ``start`` is always sent, so the answer never depends on the instance's defaults.
    """
    start = resolve_time(config.start, now) or now
    end = resolve_end(config.end, now)
    query: dict[str, Any] = {"start": int(start.timestamp())}
    if end is not None:
        query["end"] = int(end.timestamp())
    if config.tags:
        query["tags"] = list(config.tags)
    if config.places:
        query["places"] = [place_ids.get(p, p) for p in config.places]
    if config.show_recurrent:
        query["show_recurrent"] = "true"  # only the string "true" counts (API.md section 4)
    return query


def load_deferred(config: SiteConfig, snapshot: Snapshot) -> Snapshot:
    """Return ``snapshot`` with its rows, read from the cache its 304 vouched for."""
    if not snapshot.deferred:
        return snapshot
    loaded = fetch_offline(config, Cache(config.cache, config.instance))
    loaded.requests = snapshot.requests
    return loaded


def fetch_offline(config: SiteConfig, cache: Cache) -> Snapshot:
    """Return the events saved by the last successful online build."""
    data = cache.load_events()
    if data is None:
        raise DataError(
            f"no cached events for {redact(config.instance)} in {cache.folder}; "
            "run `gancio-site build` once with network access first"
        )
    descriptions = cache.load_descriptions()
    if cache.damaged:  # offline, what is lost cannot be fetched again: no site without it
        raise DataError(
            f"cache file {cache.damaged[0]} is damaged; run `gancio-site build` with network "
            "access to fetch it again (the site in place is left as it is)"
        )
    rows = [row for row in data["events"] if isinstance(row, dict)]
    _apply_cached(rows, descriptions)
    place_ids = {str(k): v for k, v in (data.get("place_ids") or {}).items() if isinstance(v, int)}
    snapshot = Snapshot(
        instance=config.instance,
        instance_name=_text(data.get("instance_name")) or _host(config.instance),
        timezone=_text(data.get("timezone")),
        rows=rows,
        place_ids=place_ids,
    )
    resolve_places_offline(config, snapshot)
    snapshot.warnings += _narrower_cache(config, data.get("filters"))
    return snapshot


def filters(config: SiteConfig) -> dict[str, Any]:
    """Return the settings that decide which events the list endpoint answers."""
    return {
        "tags": list(config.tags),
        "places": list(config.places),
        "show_recurrent": config.show_recurrent,
        "start": config.start,
        "end": config.end,
    }


def _narrower_cache(config: SiteConfig, cached: Any) -> list[str]:
    """Warn when the cached list was fetched with filters that may leave out events these
    settings show (narrower ones only select among the cached events)."""
    if not isinstance(cached, dict):
        return []
    wanted = filters(config)
    differences = [key for key in wanted if not _within(key, wanted[key], cached.get(key))]
    if not differences:
        return []
    return [
        "the cache holds an online build with other filters ("
        + ", ".join(differences)
        + "); this offline site may miss events: build once online with these settings"
    ]


def _within(key: str, wanted: Any, cached: Any) -> bool:
    """True when filter ``key`` set to ``wanted`` selects among what ``cached`` fetched."""
    if wanted == cached:
        return True
    if key in ("tags", "places"):  # events with any of them: a subset of them is narrower
        return isinstance(cached, list) and (
            not cached or (bool(wanted) and set(wanted) <= set(cached))
        )
    if key == "show_recurrent":  # occurrences fetched and then left out
        return cached is True and wanted is False
    return False  # start and end: words like "now" and "+90d" cannot be compared


def load_demo() -> tuple[Snapshot, int]:
    """Return the shipped snapshot of a real instance and the unix time it was taken."""
    try:
        text = resources.files("gancio_site").joinpath("demo/snapshot.json").read_text("utf-8")
        data = json.loads(text)
        events = data["events"]
        meta = data["nodeinfo"]["metadata"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"the demo snapshot shipped with gancio-site is unreadable: {exc}"
        ) from None
    # What /api/events?show_recurrent=true would list: visible events, no recurrent parents.
    rows = [e for e in events if e.get("is_visible") and not e.get("recurrent")]
    warnings: list[str] = []
    rows = _drop_repeats(rows, warnings)
    # The parents are in the snapshot too: each occurrence gets its own, as a detail would.
    parents = {e.get("id"): _parent_of(e) for e in events if isinstance(e, dict)}
    _attach_parents(rows, {k: v for k, v in parents.items() if isinstance(k, int)})
    snapshot = Snapshot(
        instance=data.get("instance", DEMO_INSTANCE),
        instance_name=_text(meta.get("nodeName")) or "Gancio",
        timezone=_text(meta.get("nodeTimezone")),
        rows=rows,
        warnings=warnings,
        captured_at=int(data["captured_at_unix"]),
    )
    return snapshot, int(data["captured_at_unix"])


def site_zone(config: SiteConfig, instance_zone: str, warnings: list[str]) -> ZoneInfo:
    """Return the site's zone: configured, else the instance's, else UTC (with a warning)."""
    if config.timezone:
        return ZoneInfo(config.timezone)
    try:
        return ZoneInfo(instance_zone)
    except (ZoneInfoNotFoundError, ValueError):
        warnings.append(
            f"the instance gave no usable time zone ({instance_zone[:40]!r}); using UTC: "
            "set `timezone` in gancio-site.toml"
        )
        return ZoneInfo("UTC")


def _resolve_places(config: SiteConfig, client: GancioClient) -> dict[str, int]:
    """Map each configured place name to its Gancio id (ids map to themselves)."""
    ids: dict[str, int] = {}
    problems = []
    for place in config.places:
        found = client.place(place)  # ids are checked too: an unknown one means an empty site
        if found is None and not place.isdigit():
            # Gancio looks names up exactly; its search ignores case: "biblioteca civica"
            # finds "Biblioteca Civica" when that is the only such name.
            same = [
                p
                for p in client.search_places(place)
                if isinstance(p.get("name"), str) and p["name"].casefold() == place.casefold()
            ]
            found = same[0] if len(same) == 1 else None
        if found is None or not isinstance(found.get("id"), int):
            what = "numbered" if place.isdigit() else "named"
            problems.append(f"places: {redact(config.instance)} has no place {what} {place!r}")
        else:
            ids[place] = found["id"]
    if problems:
        raise ConfigError(problems)
    return ids


def resolve_places_offline(config: SiteConfig, snapshot: Snapshot) -> None:
    """Resolve configured place names from the snapshot's own events (no network)."""
    problems = []
    known_ids = {
        row["place"].get("id") for row in snapshot.rows if isinstance(row.get("place"), dict)
    }
    for place in config.places:
        if place in snapshot.place_ids:
            continue
        if place.isdigit():
            if int(place) not in known_ids:
                problems.append(f"places: no known event is at the place numbered {place}")
            continue
        found = _place_id_by_name(place, snapshot.rows)
        if found is None:
            problems.append(f"places: no known event is at a place named {place!r}")
        else:
            snapshot.place_ids[place] = found
    if problems:
        raise ConfigError(problems)


def _place_id_by_name(name: str, rows: list[dict[str, Any]]) -> int | None:
    # Gancio matches place names case-insensitively (API.md section 11).
    for row in rows:
        place = row.get("place")
        if not isinstance(place, dict) or not isinstance(place.get("id"), int):
            continue
        if str(place.get("name", "")).casefold() == name.casefold():
            return place["id"]
    return None


def _fill_descriptions(
    snapshot: Snapshot,
    cache: dict[int, tuple[str, str]],
    series: dict[int, dict[str, Any]],
    client: GancioClient,
    config: SiteConfig,
    query: dict[str, Any],
) -> bool:
    """Put a description on every row: cache, then one export, then details.

    One occurrence of each series whose rule ``series`` lacks is fetched in detail too
    (its description with it), so that ``series`` learns the rule. Return True when
    anything was fetched (an export or a detail).
    """
    before = client.requests_made
    missing = _apply_cached(snapshot.rows, cache)
    probes = _series_probes(snapshot.rows, missing, series)
    probed = {id(row) for row in probes}
    if sum(id(row) not in probed for row in missing) > EXPORT_THRESHOLD:
        export_query = {k: query[k] for k in ("tags", "places") if k in query}
        if config.show_recurrent:
            export_query["show_recurrent"] = "true"
        try:
            exported = client.export_json(export_query)
        except ConnectionFailed:
            raise  # the instance went away since the list: no use asking it event by event
        except ApiError as exc:  # an error of the export alone: each event's detail may do
            log.warning("%s; fetching descriptions one by one", exc)
            exported = []
        for row in exported:
            if isinstance(row, dict) and isinstance(row.get("description"), str):
                key = row.get("id")
                if isinstance(key, int) and isinstance(row.get("updatedAt"), str):
                    cache[key] = (row["updatedAt"], row["description"])
        missing = _apply_cached(missing, cache)  # a probe failing keeps the export's one
        snapshot.warnings += _home_collection(config, query, snapshot.rows, exported)
    missing = [row for row in missing if id(row) not in probed]
    _fetch_details(missing + probes, cache, series, client, snapshot.warnings.append)
    return bool(missing or probes) or client.requests_made > before


def _home_collection(
    config: SiteConfig, query: dict[str, Any], listed: list[dict[str, Any]], exported: list[Any]
) -> list[str]:
    """Warn when the list lacks upcoming events the export has.

    A Gancio with a "home collection" answers an unfiltered ``/api/events`` with that
    collection only: the site would silently show a selection, not the agenda.
    """
    if config.tags or config.places or config.max:
        return []
    start, end = query["start"], query.get("end")
    have = {row.get("id") for row in listed}
    exported = _drop_repeats([row for row in exported if isinstance(row, dict)], [])
    lacking = [
        row.get("id")
        for row in exported
        if isinstance(row.get("start_datetime"), int)
        and row["start_datetime"] >= start
        and (end is None or row["start_datetime"] <= end)
        and (config.show_recurrent or row.get("parentId") is None)
        and row.get("id") not in have
    ]
    if not lacking:
        return []
    return [
        f"the instance's list lacks {len(lacking)} upcoming events that its export has "
        f"(ids {', '.join(str(i) for i in lacking[:5])}{', ...' if len(lacking) > 5 else ''}): "
        "it may answer a home collection instead of the whole agenda; choose the events "
        "with `tags` or `places`"
    ]


def _apply_cached(
    rows: list[dict[str, Any]], cache: dict[int, tuple[str, str]]
) -> list[dict[str, Any]]:
    """Fill descriptions known for the row's ``updatedAt``; return the rows still missing one."""
    missing = []
    for row in rows:
        key = row.get("id")
        cached = cache.get(key) if isinstance(key, int) and not isinstance(key, bool) else None
        if cached is not None and cached[0] == row.get("updatedAt"):
            row["description"] = cached[1]
        else:
            missing.append(row)
    return missing


def _fetch_details(
    rows: list[dict[str, Any]],
    cache: dict[int, tuple[str, str]],
    series: dict[int, dict[str, Any]],
    client: GancioClient,
    warn: Callable[[str], None],
) -> None:
    """Fetch the detail of ``rows``: their description, and their series' rule."""

    def one(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
        try:
            return row, client.event_detail(row["id"]), ""
        except ConnectionFailed:
            raise  # the instance is gone (refused, unreachable): the build stops
        except ApiError as exc:  # this event's answer alone (not found, an error): warned
            return row, None, str(exc)

    fetchable = [row for row in rows if isinstance(row.get("id"), int)]
    progress = current()
    progress.start("Fetching event details", len(fetchable))
    pool = ThreadPoolExecutor(max_workers=DETAIL_WORKERS)
    try:
        for done, (row, detail, error) in enumerate(pool.map(one, fetchable), 1):
            progress.update(done)
            if detail and _is_id(row.get("parentId")):
                # The newest word on the rule; a detail without the parent says there is
                # none to learn, and the series is not asked about again.
                parent = _parent_of(detail.get("parent")) or {}
                stub = {"id": row["parentId"], "recurrent": None}
                same = parent.get("id") == row["parentId"]
                series[row["parentId"]] = parent if same else stub
            description = detail.get("description") if detail else None
            if not isinstance(description, str):
                known = cache.get(row["id"])  # of an earlier version of the event
                if isinstance(row.get("description"), str):
                    pass  # a cached one stays
                elif known is not None and error:
                    # Gancio failed for a moment: the last known text beats none. The cache
                    # keeps it under its old updatedAt, so the next build asks again.
                    row["description"] = known[1]
                    warn(
                        f"event {row['id']}: kept its last known description ({error}); "
                        "the next build fetches it again"
                    )
                else:
                    warn(
                        f"event {row['id']}: no description ({error or 'not found'}); "
                        "built without it"
                    )
                continue
            row["description"] = description
            if isinstance(row.get("updatedAt"), str):
                cache[row["id"]] = (row["updatedAt"], description)
    finally:  # after a failure, the details not asked for yet are not asked for
        pool.shutdown(cancel_futures=True)
    progress.finish()


def _without_description(
    row: dict[str, Any], descriptions: dict[int, tuple[str, str]]
) -> dict[str, Any]:
    """Return ``row`` for the cache: without the description kept in descriptions.json."""
    key = row.get("id")
    kept = descriptions.get(key) if isinstance(key, int) else None
    if "description" not in row or kept is None or kept[0] != row.get("updatedAt"):
        return row
    return {k: v for k, v in row.items() if k != "description"}


def _series_probes(
    rows: list[dict[str, Any]],
    missing: list[dict[str, Any]],
    series: dict[int, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Return one occurrence of each series whose rule is unknown, preferring one whose
    description is missing too."""
    chosen: dict[int, dict[str, Any]] = {}
    for row in [*missing, *rows]:
        parent = row.get("parentId")
        known = parent in series or parent in chosen
        if _is_id(parent) and _is_id(row.get("id")) and not known:
            chosen[parent] = row
    # At most a few each build, far below the instance's rate limit: the rest are learned
    # by the next builds (rules are cached), and meanwhile say just "Recurring".
    return list(chosen.values())[:MAX_SERIES_PROBES]


def _parent_of(raw: Any) -> dict[str, Any] | None:
    """Return what a series' parent says of the series (the detail's ``parent`` object)."""
    if not isinstance(raw, dict) or not _is_id(raw.get("id")):
        return None
    return {k: raw.get(k) for k in ("id", "recurrent", "is_visible", "start_datetime")}


def _attach_parents(
    rows: list[dict[str, Any]], series: dict[int, dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """Give each occurrence its series' ``parent``; return the series the rows use."""
    used = {}
    for row in rows:
        parent_id = row.get("parentId")
        parent = series.get(parent_id) if _is_id(parent_id) else None
        if parent is not None:
            row["parent"] = used[parent["id"]] = parent
    return used


def _drop_repeats(rows: list[dict[str, Any]], warnings: list[str]) -> list[dict[str, Any]]:
    """Keep one occurrence per series and start time (the lowest id).

    Gancio's ``1d`` and ``2m`` rules are stored but broken: they add the same occurrence
    again every 30 minutes (API.md section 7), and a site would list it dozens of times.
    """
    first: dict[tuple[int, Any], int] = {}
    for row in rows:
        key = _repeat_key(row)
        if key is not None:
            first[key] = min(first.get(key, row["id"]), row["id"])
    kept, repeats = [], Counter[int]()
    for row in rows:
        key = _repeat_key(row)
        if key is not None and first[key] != row["id"]:
            repeats[key[0]] += 1
        else:
            kept.append(row)
    warnings += [
        f"series {parent}: left out {count} repeated occurrence{'s' if count > 1 else ''} "
        "at the same time (Gancio repeats those of `1d` and `2m` rules)"
        for parent, count in repeats.items()
    ]
    return kept


def _repeat_key(row: dict[str, Any]) -> tuple[int, Any] | None:
    parent = row.get("parentId")
    if _is_id(parent) and _is_id(row.get("id")):
        return parent, row.get("start_datetime")
    return None


def _is_zone(name: Any) -> bool:
    """True when ``name`` is an IANA time zone this machine knows."""
    if not isinstance(name, str) or not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url
