"""The file store: the last build's files, kept in the cache by input key.

CI services keep the cache folder between runs but start with no output folder. Each
file a build writes is also hard-linked here under its input key (so it costs no disk
space while the site holds it), with the manifest of the whole build. The next build
links every file whose key is unchanged instead of rendering it again, and when nothing
changed at all it rebuilds the site from here without parsing an event.

Files are named by key only: a key names the inputs of one output path, never a path
from the server. Keys no longer in use are removed when a build is committed. Where the
store cannot link (another file system), it is left alone and the build renders as usual.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_KEY = re.compile(r"[0-9a-f]{32}")
MANIFEST = "manifest.json"


class FileStore:
    """Rendered files by input key, with the manifest of the build that made them."""

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder)
        self._sizes: dict[str, int] | None = None
        self._manifest: dict[str, Any] = {}
        self.usable = True

    @property
    def sizes(self) -> dict[str, int]:
        """Key -> size of the files of the last build (read when first needed)."""
        if self._sizes is None:
            self._load()
        assert self._sizes is not None
        return self._sizes

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest of the last build kept here ({} when there is none)."""
        if self._sizes is None:
            self._load()
        return self._manifest

    def _load(self) -> None:
        self._sizes = {}
        try:
            with open(os.path.join(self.folder, MANIFEST), encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return
        files = data.get("files") if isinstance(data, dict) else None
        if not isinstance(files, dict):
            return
        self._manifest = data
        for entry in files.values():
            if (
                isinstance(entry, list)
                and len(entry) == 2
                and isinstance(entry[0], str)
                and _KEY.fullmatch(entry[0])
                and isinstance(entry[1], int)
            ):
                self._sizes[entry[0]] = entry[1]

    def previous_file(self, path: str) -> str | None:
        """Return the stored file of output ``path`` in the last build, if any."""
        files = self.manifest.get("files")
        entry = files.get(path) if isinstance(files, dict) else None
        if isinstance(entry, list) and entry and entry[0] in self.sizes:
            return self.file(entry[0])
        return None

    def file(self, key: str) -> str:
        return f"{self.folder}/{key[:2]}/{key}"

    def keep(self, key: str, written: str) -> None:
        """Link the freshly written file ``written`` under ``key``."""
        if not self.usable or not _KEY.fullmatch(key):
            return
        name = self.file(key)
        try:
            try:
                os.link(written, name)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(name), exist_ok=True)
                os.link(written, name)
            except FileExistsError:
                os.unlink(name)  # a file of the same key with other bytes: a stale one
                os.link(written, name)
        except OSError as exc:
            self.usable = False
            log.debug("not keeping rendered files in %s: %s", self.folder, exc)

    def commit(self, manifest_text: str, files: dict[str, list[object]], tree: str) -> None:
        """Record the build's manifest, remove the files of keys it no longer uses, and
        add the files of ``tree`` it lacks (linked from the site in place, or a store
        emptied since)."""
        if not self.usable:
            return
        wanted = {str(entry[0]): path for path, entry in files.items()}
        present = set()
        try:
            os.makedirs(self.folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".manifest.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(manifest_text)
            os.replace(tmp, os.path.join(self.folder, MANIFEST))
            for shard in os.scandir(self.folder):
                if not shard.is_dir(follow_symlinks=False) or len(shard.name) != 2:
                    continue
                for entry in os.scandir(shard.path):
                    if entry.name not in wanted:
                        os.unlink(entry.path)
                    else:
                        present.add(entry.name)
            for key, path in wanted.items():
                if key not in present:
                    self.keep(key, f"{tree}/{path}")
        except OSError as exc:
            log.warning("could not update the file store %s: %s", self.folder, exc)

    def has_all(self, files: dict[str, list[object]]) -> bool:
        """True when the store holds every file of ``files`` with its size."""
        for entry in files.values():
            key = entry[0] if isinstance(entry, list) and len(entry) == 2 else None
            if not isinstance(key, str) or not _KEY.fullmatch(key):
                return False
            try:
                if os.stat(self.file(key)).st_size != entry[1]:
                    return False
            except OSError:
                return False
        return True
