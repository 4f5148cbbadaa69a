"""The build pipeline: config -> fetch -> model -> organise -> render -> write.

Everything is fetched and validated before the output folder is touched, rendered into a
new tree next to it, and swapped in only when every file is written.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__, collector
from .cache import Cache
from .config import SiteConfig
from .errors import ShrinkRefused
from .output import BuildLock, OutputTree, intact, read_manifest
from .removal import finish_removals
from .theme import theme_dir

if TYPE_CHECKING:
    from .api import GancioClient
    from .fetch import Snapshot
from .store import FileStore

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did, for the summary line."""

    output: Path
    events: int = 0
    pages: int = 0
    feeds: int = 0
    calendars: int = 0
    files_written: int = 0
    files_unchanged: int = 0
    files_rendered: int = 0  # made from templates, events or static files (then maybe unchanged)
    entries_made: int = 0  # calendar and JSON entries of events made anew for the lists
    entries_reused: int = 0  # ... and kept from the last build
    requests: int = 0
    seconds: float = 0.0
    source: str = "instance"
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Return e.g. 'Built 128 pages, 4 feeds, 1 calendar from 96 events in 0.42 s'."""
        verb = {"unchanged": "Up to date:", "file store": "Restored from the cache:"}.get(
            self.source, "Built"
        )
        return (
            f"{verb} {_n(self.pages, 'page')}, {_n(self.feeds, 'feed')}, "
            f"{_n(self.calendars, 'calendar')} from {_n(self.events, 'event')} "
            f"in {self.seconds:.2f} s into {self.output}"
        )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def now_timestamp() -> float:
    """Return the build's current time: ``SOURCE_DATE_EPOCH`` when set, else the clock."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return float(epoch) if epoch.isdigit() else time.time()


def build(
    config: SiteConfig,
    *,
    mode: str = "online",
    now_ts: float | None = None,
    client: GancioClient | None = None,
    snapshot: Snapshot | None = None,
) -> BuildReport:
    """Build the site into ``config.output``; ``mode`` is online, offline or demo.

    With ``snapshot`` (from ``fetch_snapshot``) nothing is fetched: the dev server reuses
    one fetch for every rebuild.
    """
    started = time.perf_counter()
    now_ts = now_timestamp() if now_ts is None else now_ts
    OutputTree(config.output).check()  # before any request: a refusal costs nothing
    with BuildLock(config.output), collector.paused():
        try:
            return _build(config, mode, now_ts, client, snapshot, started)
        finally:
            finish_removals()  # the old site's files, removed while the build went on


def _build(
    config: SiteConfig,
    mode: str,
    now_ts: float,
    client: GancioClient | None,
    snapshot: Snapshot | None,
    started: float,
) -> BuildReport:
    checked = None  # the input key already found not to match the site in place
    if snapshot is None and mode == "offline":
        # Offline, the inputs are files: compare their bytes before parsing anything.
        checked = _cache_key(config)
        done = _nothing_to_do(config, checked, now_ts, started)
        if done is not None:
            return done
    owned = snapshot is None  # fetched here: its raw rows can go once parsed
    if snapshot is None:
        snapshot, now_ts = fetch_snapshot(config, mode, now_ts, client, lazy=True)
    elif mode == "demo":
        now_ts = snapshot.captured_at or now_ts
    if mode != "online" or not owned:
        return _render(config, snapshot, mode, now_ts, owned, started, checked)
    # A list the build refuses to publish (empty, gutted) is not kept in the cache either:
    # an offline build can still make the last good site.
    cache = Cache(config.cache, config.instance)
    try:
        return _render(config, snapshot, mode, now_ts, owned, started)
    except ShrinkRefused:
        cache.rollback()
        raise
    finally:
        cache.release()


def _render(
    config: SiteConfig,
    snapshot: Snapshot,
    mode: str,
    now_ts: float,
    owned: bool,
    started: float,
    checked: str | None = None,
) -> BuildReport:
    """Write the site of ``snapshot`` unless the site in place (or in the store) is it.

    ``checked``: the input key of the cache that ``_nothing_to_do`` has just compared.
    """
    if mode == "demo":
        rows = json.dumps(snapshot.rows, sort_keys=True, default=str)
        input_key = _input_key(config, _digest(rows, snapshot.timezone, snapshot.instance_name))
    else:  # an online fetch has just refreshed the cache: the same key as offline
        input_key = checked or _cache_key(config)
    done = None if checked else _nothing_to_do(config, input_key, now_ts, started)
    if done is not None:
        done.requests = snapshot.requests
        done.warnings = list(snapshot.warnings)  # what the fetch saw, said every time
        return done
    from .fetch import load_deferred
    from .write import parse_and_write  # the rendering code, loaded only when needed

    snapshot = load_deferred(config, snapshot)  # a 304 left the rows in the cache
    return parse_and_write(config, snapshot, mode, now_ts, input_key, owned, started)


def fetch_snapshot(
    config: SiteConfig,
    mode: str,
    now_ts: float,
    client: GancioClient | None = None,
    lazy: bool = False,
) -> tuple[Snapshot, float]:
    """Return the raw events for ``mode`` and the build's "now" (the demo has its own).

    With ``lazy``, a 304 may leave the rows in the cache (``Snapshot.deferred``).
    """
    from .api import GancioClient
    from .fetch import fetch_offline, fetch_online, load_demo, resolve_places_offline

    if mode == "demo":
        snapshot, captured = load_demo()
        resolve_places_offline(config, snapshot)
        return snapshot, captured  # the demo's "now" is when its data was captured
    cache = Cache(config.cache, config.instance)
    if mode == "offline":
        return fetch_offline(config, cache), now_ts
    client = client or GancioClient(config.instance, timeout=config.timeout)
    # The list saved in the cache stays revocable (``Cache.checkpoint``) until the build
    # that uses it says whether it publishes it: see ``_build`` and the dev server.
    return fetch_online(config, client, cache, now_ts, lazy), now_ts


def _cache_key(config: SiteConfig) -> str:
    return _input_key(config, Cache(config.cache, config.instance).digest())


def _input_key(config: SiteConfig, data: str) -> str:
    """Return a key of all a build reads: settings, templates, static files and events."""
    static = [
        f"{path}:{file.stat().st_size}:{file.stat().st_mtime_ns}"
        for path, file in static_files(config.static).items()
    ]
    return _digest(_site_key(config), data, *static)


def _nothing_to_do(
    config: SiteConfig, input_key: str, now_ts: float, started: float
) -> BuildReport | None:
    """Return the report of the site in place when it was built from the same inputs and
    nothing in it has expired (an event ended, a day passed) since."""
    manifest = read_manifest(config.output)
    source = "unchanged"
    if not _current(manifest, input_key, now_ts) or not intact(
        config.output, manifest.get("files")
    ):
        # No usable site in place (a new CI run keeps only the cache): the same build
        # may be in the file store.
        store = file_store(config)
        manifest = store.manifest if store is not None else {}
        if not _current(manifest, input_key, now_ts) or not _restore(config, store, manifest):
            return None
        source = "file store"
    counts = manifest.get("counts") if isinstance(manifest.get("counts"), dict) else {}
    report = BuildReport(output=config.output, source=source)
    report.events = int(manifest.get("events") or 0)
    report.pages, report.feeds, report.calendars = (
        int(counts.get(k, 0))
        for k in ("pages", "feeds", "calendars")  # type: ignore[union-attr]
    )
    report.files_unchanged = len(manifest.get("files") or {})  # type: ignore[arg-type]
    report.seconds = time.perf_counter() - started
    return report


def _current(manifest: dict[str, object], input_key: str, now_ts: float) -> bool:
    """True when ``manifest`` is of a build from ``input_key`` that has not expired."""
    valid_until = manifest.get("valid_until")
    return (
        manifest.get("input") == input_key
        and isinstance(valid_until, int | float)
        and now_ts < valid_until
    )


def file_store(config: SiteConfig) -> FileStore | None:
    """Return the store of rendered files in the cache (None for the demo, which has none)."""
    if not config.instance:
        return None
    return FileStore(Cache(config.cache, config.instance).folder / "files")


def spare_tree(config: SiteConfig) -> Path:
    """Return where the site before the one in place is kept, to start the next build."""
    return Cache(config.cache, config.instance).folder / "site"


def _restore(config: SiteConfig, store: FileStore | None, manifest: dict[str, object]) -> bool:
    """Put back the site of ``manifest`` from the file store, whole, or nothing."""
    tree = OutputTree(config.output, spare_tree(config))
    tree.store = store
    try:
        tree.open()
        if not tree.restore(manifest):
            tree.abort()
            return False
        tree.commit()
    except BaseException:
        tree.abort()
        raise
    return True


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def _site_key(config: SiteConfig) -> str:
    """Return a key of everything every file depends on: version, settings, templates."""
    return _digest(settings_key(config), _templates_key(config))


def settings_key(config: SiteConfig) -> str:
    """Return a key of what every file depends on but templates: version, code, settings.

    Feeds, calendars and JSON files are made without templates: a template edited keeps them.
    """
    # Where files go and how the build guards and waits change no file's bytes.
    settings = replace(
        config, output=Path(), cache=Path(), timeout=0.0, shrink_limit=0.0, allow_shrink=False
    )
    return _digest(__version__, _code_key(), repr(settings))


def _templates_key(config: SiteConfig) -> str:
    parts = []
    for folder in (config.templates, theme_dir() / "templates"):
        if folder.is_dir():
            for file in sorted(folder.rglob("*")):
                if file.is_file():
                    parts += [file.relative_to(folder).as_posix(), file.read_bytes().hex()]
    return _digest(*parts)


@functools.cache
def _code_key() -> str:
    """Return a hash of gancio-site's own code and catalogs: kept files are never from
    other code."""
    h = hashlib.blake2b(digest_size=16)
    package = Path(__file__).parent
    for file in sorted([*package.glob("*.py"), *package.glob("locale/*/LC_MESSAGES/*.mo")]):
        h.update(file.relative_to(package).as_posix().encode() + b"\0" + file.read_bytes())
    return h.hexdigest()


def static_files(site_static: Path) -> dict[str, Path]:
    """Return output path -> file for the theme's static files, overridden by the site's."""
    files: dict[str, Path] = {}
    for folder in (theme_dir() / "static", site_static):
        if not folder.is_dir():
            continue
        for file in sorted(folder.rglob("*")):
            parts = file.relative_to(folder).parts
            if any(p.startswith(".") for p in parts) or not file.is_file():
                continue
            if any((folder / Path(*parts[: i + 1])).is_symlink() for i in range(len(parts))):
                log.warning("static file %s is a link; links are not followed", file)
                continue
            files["static/" + file.relative_to(folder).as_posix()] = file
    return files
