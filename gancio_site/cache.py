"""The local snapshot of fetched data, so `build --offline` needs no network and a warm
build re-downloads no description that has not changed.

One folder per instance under the cache root, holding four JSON files:
``events.json`` (the last successful list, with the query and instance facts),
``descriptions.json`` (event id -> [updatedAt, description]), ``series.json`` (the
parent of each recurrent series, as the detail of an occurrence gives it, with its rule:
Gancio sends the rule nowhere else) and ``events.etag`` (the list's ETag, with what a
304 must match for the others to stand unread). Writes are atomic, so an
interrupted build never leaves a half-written cache; an unreadable file is reported and
treated as absent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import redact

log = logging.getLogger(__name__)

FORMAT = 1
DIGESTED = ("events.json", "descriptions.json")  # what a build's site is made from
SAVED = (*DIGESTED, "series.json", "events.etag")
CHECKPOINT = ".kept.json"  # which of SAVED a pending checkpoint holds
_last_digest: list = [None, ""]


class Cache:
    """Cached data of one Gancio instance."""

    def __init__(self, root: Path, instance: str) -> None:
        parts = urlsplit(instance)
        host = f"{parts.hostname or ''}{f'_{parts.port}' if parts.port else ''}"
        name = re.sub(r"[^A-Za-z0-9.-]+", "_", f"{host}{parts.path}").strip("_")
        self.folder = root / (name or "instance")
        self.instance = redact(instance)  # as saved in its files: never a password
        self.damaged: list[Path] = []  # files found unreadable: an online build rewrites them

    def digest(self) -> str:
        """Return a hash of everything cached, read as bytes (no parsing).

        Remembered while the files are the same ones (files are replaced, never edited).
        """
        stamps = []
        for name in DIGESTED:
            try:
                info = os.stat(self.folder / name)
                stamps.append((info.st_ino, info.st_size, info.st_mtime_ns))
            except OSError:
                stamps.append(None)
        stamp = (str(self.folder), tuple(stamps))
        if _last_digest[0] == stamp:
            return _last_digest[1]
        h = hashlib.blake2b(digest_size=16)
        for name in DIGESTED:
            try:
                h.update((self.folder / name).read_bytes())
            except OSError:
                h.update(b"-")
        _last_digest[:] = [stamp, h.hexdigest()]
        return _last_digest[1]

    def load_events(self) -> dict[str, Any] | None:
        """Return the last saved list with its facts, or None when there is none."""
        data = self._read("events.json")
        if (
            data is None
            or data.get("instance") != self.instance
            or not isinstance(data.get("events"), list)
        ):
            return None
        return data

    def save_events(self, data: dict[str, Any]) -> None:
        self._write("events.json", {**data, "instance": self.instance})

    def save_etag(self, etag: str | None, facts: dict[str, Any], complete: bool) -> None:
        """Write the small file a 304 is checked against; last, after the files it names.

        It holds the list's ETag, the digest of the files saved with it, the facts the
        list was fetched under, and whether anything was left to fetch: with a 304, the
        same facts and that digest, the next build needs to read nothing else.
        """
        record = {"etag": etag, "data": self.digest(), "facts": facts, "complete": complete}
        self._write("events.etag", record)

    def load_etag(self) -> dict[str, Any]:
        """Return what ``save_etag`` wrote ({} when nothing usable).

        ``events.json`` holds the ETag too: a 304 is trusted only when both agree.
        """
        record = self._read("events.etag") or {}
        return record if isinstance(record.get("etag"), str) else {}

    def load_descriptions(self) -> dict[int, tuple[str, str]]:
        """Return id -> (updatedAt, description) for every cached description."""
        data = self._read("descriptions.json") or {}
        out: dict[int, tuple[str, str]] = {}
        for key, value in (data.get("descriptions") or {}).items():
            ok = isinstance(value, list) and len(value) == 2
            if key.isdigit() and ok and all(isinstance(v, str) for v in value):
                out[int(key)] = (value[0], value[1])
        return out

    def save_descriptions(self, descriptions: dict[int, tuple[str, str]]) -> None:
        items = {str(k): list(v) for k, v in sorted(descriptions.items())}
        self._write("descriptions.json", {"descriptions": items})

    def load_series(self) -> dict[int, dict[str, Any]]:
        """Return parent id -> the ``parent`` object of its occurrences' detail."""
        data = self._read("series.json") or {}
        series = data.get("series")
        if not isinstance(series, dict):
            return {}
        return {
            int(key): value
            for key, value in series.items()
            if key.isdigit() and isinstance(value, dict) and value.get("id") == int(key)
        }

    def save_series(self, series: dict[int, dict[str, Any]]) -> None:
        self._write("series.json", {"series": {str(k): v for k, v in sorted(series.items())}})

    def checkpoint(self) -> None:
        """Keep the saved files as they are now, for ``rollback`` (links: nothing copied)."""
        self.release()
        self.folder.mkdir(parents=True, exist_ok=True)
        there = []
        for name in SAVED:
            kept = self.folder / f".{name}.kept"
            try:
                os.link(self.folder / name, kept)
            except FileNotFoundError:
                continue
            except OSError:  # a file system without hard links
                shutil.copyfile(self.folder / name, kept)
            there.append(name)
        (self.folder / CHECKPOINT).write_text(json.dumps(there), encoding="utf-8")

    def rollback(self) -> None:
        """Put back the files kept by the last ``checkpoint``, if one is pending: a fetch
        the build refused is not remembered."""
        try:
            there = json.loads((self.folder / CHECKPOINT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        try:
            for name in SAVED:
                if name in there:
                    with contextlib.suppress(FileNotFoundError):
                        os.replace(self.folder / f".{name}.kept", self.folder / name)
                else:  # there was none before
                    (self.folder / name).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not restore the cache in %s: %s", self.folder, exc)
        self.release()

    def release(self) -> None:
        """Forget the files kept by ``checkpoint``: what was saved since stands.

        Called once the site is published: a cache folder that cannot be changed (say,
        a file by that name) is said in a warning, never made a failed build.
        """
        try:
            for name in SAVED:
                (self.folder / f".{name}.kept").unlink(missing_ok=True)
            (self.folder / CHECKPOINT).unlink(missing_ok=True)
        except NotADirectoryError:
            pass  # no cache folder there: nothing was kept
        except OSError as exc:
            log.warning("could not tidy the cache in %s: %s", self.folder, exc)

    def _read(self, name: str) -> dict[str, Any] | None:
        path = self.folder / name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("cache file %s is unreadable (%s); it must be fetched again", path, exc)
            self.damaged.append(path)
            return None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            log.warning("cache file %s has an unknown format; it must be fetched again", path)
            self.damaged.append(path)
            return None
        return data

    def _write(self, name: str, data: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # ASCII escapes keep what the server sent, lone surrogates included, and round-trip.
        text = json.dumps({"format": FORMAT, **data})
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, self.folder / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
