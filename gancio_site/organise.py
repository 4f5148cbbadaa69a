"""Choosing and arranging events: the site's filters, days, tags and places.

The filters are applied here on the parsed events too, not only sent to Gancio, so a site
means the same on every Gancio version and offline (case B03): OR inside the tag list and
inside the place list, AND between the two, and events in progress count as upcoming.

Multi-day events are listed once, under the day they start, or under today when they
started earlier and are still going on; their pages show the whole range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .config import SiteConfig, resolve_end, resolve_time
from .models import Event, Parser, Place


@dataclass(frozen=True, slots=True)
class Day:
    """The events listed under one calendar day."""

    date: date
    events: tuple[Event, ...]
    is_today: bool = False
    is_tomorrow: bool = False


def parse_events(
    rows: Iterable[object],
    parser: Parser,
    read: Callable[[object], Event | None] | None = None,
) -> list[Event]:
    """Return the valid events of ``rows``, each id once (later duplicates are dropped).

    ``read`` makes one event (default ``parser.event``; a build passes its ``parsed.Memo``).
    """
    read = read or parser.event
    events: dict[int, Event] = {}
    for row in rows:
        event = read(row)
        if event is None:
            continue
        if event.id in events:
            parser.warn(event.id, "appears twice; kept the first")
            continue
        events[event.id] = event
    return list(events.values())


def select(
    events: Iterable[Event], config: SiteConfig, now: datetime, place_ids: dict[str, int]
) -> list[Event]:
    """Return the events the site shows, soonest first, at most ``config.max``."""
    start = resolve_time(config.start, now) or now
    end = resolve_end(config.end, now)
    tags = set(config.tags)
    places = {place_ids.get(p, int(p) if p.isdigit() else -1) for p in config.places}
    chosen = []
    for event in events:
        if event.last_moment < start:
            continue
        if end is not None and event.start > end:
            continue
        if tags and not tags.intersection(event.tags):
            continue
        if places and event.place.id not in places:
            continue
        if event.parent_id is not None and not config.show_recurrent:
            continue
        chosen.append(event)
    chosen.sort(key=lambda e: (e.start, e.id))
    return chosen[: config.max] if config.max else chosen


def group_by_day(events: Iterable[Event], today: date) -> list[Day]:
    """Return the events grouped by the day they are listed under, in order."""
    days: dict[date, list[Event]] = defaultdict(list)
    for event in events:
        days[max(event.start.date(), today)].append(event)
    tomorrow = today + timedelta(days=1)
    return [
        Day(d, tuple(evs), is_today=d == today, is_tomorrow=d == tomorrow)
        for d, evs in sorted(days.items())
    ]


def by_tag(events: Iterable[Event]) -> dict[str, list[Event]]:
    """Return tag -> its events, tags in case-insensitive alphabetical order."""
    groups: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        for tag in event.tags:
            groups[tag].append(event)
    return {tag: groups[tag] for tag in sorted(groups, key=lambda t: (t.casefold(), t))}


def by_place(events: Iterable[Event]) -> dict[str, tuple[Place, list[Event]]]:
    """Return place key -> (place, its events), places in alphabetical order."""
    groups: dict[str, tuple[Place, list[Event]]] = {}
    for event in events:
        if not event.place.name:
            continue
        groups.setdefault(event.place.key, (event.place, []))[1].append(event)
    return dict(sorted(groups.items(), key=lambda item: (item[1][0].name.casefold(), item[0])))
