"""Turning fetched events into the site: parse, select, render, write.

Loaded only by a build that has something to write: a build that finds the site up to
date stops before importing the templates, feeds and calendar code.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import collector, parallel
from .build import (
    BuildReport,
    _code_key,
    _digest,
    file_store,
    settings_key,
    spare_tree,
    static_files,
)
from .cache import Cache
from .config import SiteConfig
from .errors import ShrinkRefused, redact
from .fetch import Snapshot, filters, site_zone
from .fragments import Fragments
from .models import Event, Parser, SiteInfo
from .organise import parse_events, select
from .output import OutputTree
from .pages import Job, SiteBuilder
from .parsed import Memo, event_digest
from .render import Renderer
from .urls import UrlMap


def parse_and_write(
    config: SiteConfig,
    snapshot: Snapshot,
    mode: str,
    now_ts: float,
    input_key: str,
    owned: bool,
    started: float,
) -> BuildReport:
    """Parse the snapshot's rows, select the events, and write the site."""
    warnings = list(snapshot.warnings)
    tz = site_zone(config, snapshot.timezone, warnings)
    now = datetime.fromtimestamp(now_ts, tz)
    parser = Parser(instance=redact(snapshot.instance), tz=tz)
    # The rows the last build parsed come back parsed (parsed.py); the demo keeps nothing.
    kept = Cache(config.cache, config.instance).folder / "events.bin" if mode != "demo" else None
    memo = Memo(str(kept) if kept else None, _digest(_code_key(), parser.instance, str(tz)))
    parsed = parse_events(snapshot.rows, parser, lambda row: memo.event(row, parser))
    events = select(parsed, config, now, snapshot.place_ids)
    memo.save()
    if owned:
        snapshot.rows = []  # tens of megabytes at 10,000 events, no longer needed
    warnings += parser.warnings
    report = BuildReport(output=config.output, events=len(events), requests=snapshot.requests)
    report.source = {"online": "instance", "offline": "cache", "demo": "demo snapshot"}[mode]
    report.warnings = warnings
    try:
        _write(config, snapshot, events, now, report, input_key, mode, memo.digest)
    except ShrinkRefused as exc:
        exc.warnings = tuple(warnings)  # events skipped as unusable may be why there are few
        raise
    report.seconds = time.perf_counter() - started
    return report


def _valid_until(config: SiteConfig, events: list[Event], now: datetime) -> float:
    """Return when the site stops being right without new data: the next local midnight
    ("today" labels, relative days), or the end of the first event to leave the list."""
    if any(spec.strip() == "now" or spec.strip().endswith("h") for spec in (config.end,)) or (
        config.start.strip().endswith("h")
    ):
        return now.timestamp()  # a window moving by the hour: always rebuild
    tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
    ends = [e.last_moment.timestamp() for e in events]
    return min([tomorrow.timestamp(), *ends])


def _write(
    config: SiteConfig,
    snapshot: Snapshot,
    events: list[Event],
    now: datetime,
    report: BuildReport,
    input_key: str = "",
    mode: str = "online",
    digest: Callable[[Event], str] = event_digest,
) -> None:
    site = SiteInfo(
        title=config.title or snapshot.instance_name,
        description=config.description,
        base_url=config.base_url,
        language=config.language,
        timezone=str(now.tzinfo),
        instance=redact(snapshot.instance),  # a user:password in the URL stays private
        instance_name=snapshot.instance_name,
    )
    urls = UrlMap(config.base_url, events)
    store = file_store(config) if mode != "demo" else None
    # Templates compiled by the last build (for this code) are not compiled again.
    compiled = (Path(store.folder).parent / "templates", _code_key()[:16]) if store else None
    renderer = Renderer(site, urls, [config.templates], config.base_path, compiled)
    # Feeds of no events and events without updatedAt need a date: never the clock, so the
    # same events give the same bytes (today's midnight, or SOURCE_DATE_EPOCH).
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    fallback = datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else midnight
    fragments = Fragments(
        str(Path(store.folder).parent / "fragments.bin") if store else None,
        _digest(settings_key(config), repr(site)),  # entries are keyed by event only
    )
    builder = SiteBuilder(
        events,
        site,
        urls,
        renderer,
        now,
        fallback,
        settings_key(config),  # each page adds the templates it uses (Renderer.template_key)
        config.page_size,
        fragments,
        digest,
        clock=now if mode == "demo" else None,
    )
    jobs = list(builder.jobs()) + _static_jobs(config.static)
    kinds = Counter(job.kind for job in jobs)
    report.pages, report.feeds, report.calendars = kinds["page"], kinds["feed"], kinds["calendar"]
    tree = OutputTree(config.output, spare_tree(config) if store else None)
    tree.store = store
    tree.build_key = _digest(*(job.key for job in jobs))
    tree.events = len(events)
    selection = {**filters(config), "max": config.max}  # what decides how many events
    source = "demo" if mode == "demo" else redact(config.instance)
    tree.facts = {
        "input": input_key,
        "source": source,
        "selection": selection,
        "valid_until": _valid_until(config, events, now),
        "counts": {"pages": report.pages, "feeds": report.feeds, "calendars": report.calendars},
    }
    # From the moment the unfinished tree exists, any way out but a published site (an
    # error, a refusal, Ctrl-C or SIGTERM at any point) removes it.
    try:
        tree.open()
        # A site of another instance (the demo tried first) is no measure of this one,
        # except that no site is replaced by an empty one.
        same_source = tree.previous_source == source
        previous = tree.previous_events if same_source or not events else None
        where = f"the site in {config.output}"
        if previous is None and store is not None:  # no site in place (a new CI checkout):
            # The last build kept in the cache counts; one that chose its events another way
            # (another site's filters sharing the cache) only against an empty site.
            kept = store.manifest.get("events")
            same = store.manifest.get("selection") == selection
            previous = kept if isinstance(kept, int) and (same or not events) else None
            where = f"the last build (kept in {config.cache})"
        _guard_shrink(config, previous, len(events), where)
        if tree.unchanged():  # same inputs as the site in place: nothing to write
            tree.abort()
            report.files_unchanged = len(jobs)
            return
        tree.prepare(job.path for job in jobs)
        pending = [job for job in jobs if not tree.reuse(job.path, job.key, job.source)]
        for job in pending:
            tree.claim(job.path, job.source)  # every path checked here, once, before forking
        collector.resume()  # for what rendering makes; what is made so far stays
        parallel.render(tree, pending)
        tree.commit()
        builder.save_fragments()
    except BaseException:
        tree.abort()
        raise
    report.files_written = tree.written
    report.files_rendered = len(pending)
    report.files_unchanged = tree.linked
    report.entries_made, report.entries_reused = fragments.made, fragments.reused


def _guard_shrink(config: SiteConfig, previous: int | None, now: int, where: str) -> None:
    """Refuse to replace a site with an empty or gutted one (a broken or filtered fetch)."""
    if config.allow_shrink or previous is None or previous == 0:
        return
    if now == 0 or (previous >= 10 and now < previous * config.shrink_limit):
        raise ShrinkRefused(
            f"this build has {now} events where {where} has {previous}; "
            "refusing to publish it (is the instance or a filter wrong?); "
            "rebuild with --allow-shrink if that is right"
        )


def _static_jobs(site_static: Path) -> list[Job]:
    jobs = []
    for path, file in static_files(site_static).items():
        stat = file.stat()
        key = _digest(str(file), str(stat.st_size), str(stat.st_mtime_ns))
        jobs.append(Job(path, f"static file {file}", key, file.read_bytes, "static"))
    return jobs
