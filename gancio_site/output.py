"""Writing the output tree: only under its root, each file once, swapped in at the end.

A build writes into a fresh sibling folder and replaces the output folder only when every
file was written, so a failed build leaves the previous site exactly as it was. A file
whose bytes did not change is hard-linked from the previous site instead of rewritten,
keeping its modification time, so deploy tools upload only real changes.

The output folder is replaced whole, so it must be one gancio-site made: a folder holding
anything else (a typo such as ``output = "."``) is refused, never deleted.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import logging
import mmap
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from . import stopping
from .errors import ConfigError, OutputError
from .fragments import let_go
from .removal import finish_removals, remove_later, remove_tree, unlock
from .store import FileStore

log = logging.getLogger(__name__)

Piece = bytes | bytearray | memoryview
Content = Piece | list[Piece]  # a file's bytes, or its pieces in order
MARKER = ".gancio-site"  # marks the folder as ours; holds the manifest of input keys
MANIFEST_FORMAT = 1


class OutputTree:
    """A new output tree being written next to the current one."""

    def __init__(self, final: Path, spare: Path | None = None) -> None:
        # A link to a folder is followed: the folder it names is replaced, the link stays.
        self.final = Path(os.path.realpath(final))
        self.parent = self.final.parent
        self.root = self.parent / f".{self.final.name}.building-{os.getpid()}"
        # The site before the one in place, kept (in the cache) to become the next new tree:
        # a build then changes the files that differ instead of linking every file anew.
        self.spare = spare
        self.base: dict[str, list[object]] = {}  # files the new tree starts with
        self._touched = False  # whether the tree taken from the spare was changed
        self.from_spare = False
        self.sources: dict[str, str] = {}
        self.previous: dict[str, list[object]] = {}  # path -> [input key, size]
        self.manifest: dict[str, list[object]] = {}
        self.build_key = ""
        self.previous_build_key = ""
        self.events = 0  # how many events the new site shows
        self.facts: dict[str, object] = {}  # more to remember in the manifest
        self.previous_events: int | None = None
        self.previous_source: object = None
        self._folders: set[str] = set()
        self.written = 0
        self.linked = 0
        self.store: FileStore | None = None  # rendered files kept in the cache, if any

    def check(self) -> None:
        """Refuse, before any work, a destination gancio-site must not replace."""
        try:
            _recover(self.final)
            _check_ours(self.final)
            if self.parent.is_dir():
                _remove_stale(self.final)
        except OSError as exc:
            raise OutputError(f"output {self.final}: {exc.strerror or exc}") from None

    def open(self) -> OutputTree:
        """Check the destination and create the empty build folder."""
        finish_removals()  # a previous build of this process may still be removing its old tree
        self.check()
        self._load_manifest()  # first: the site in place's manifest is likely read already
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
            _remove_stale(self.final)
            if self.root.exists() and not remove_tree(self.root):
                raise OSError(errno.ENOTEMPTY, "a folder there cannot be removed")
            if not self._take_spare():
                self.root.mkdir()
        except OSError as exc:
            where = self.parent if not self.parent.is_dir() else self.root
            raise OutputError(f"cannot create {where}: {exc.strerror or exc}") from None
        return self

    def _take_spare(self) -> bool:
        """Start from the spare tree when it is whole (its manifest says what it holds)."""
        if self.spare is None:
            return False
        data = read_manifest(self.spare)
        files = data.get("files")
        if not isinstance(files, dict) or not all(
            isinstance(e, list) and len(e) == 2 for e in files.values()
        ):
            if self.spare.exists():
                remove_tree(self.spare)
            return False
        try:
            os.rename(self.spare, self.root)
        except OSError:  # the cache is on another file system
            remove_tree(self.spare)
            return False
        self.from_spare = True
        os.unlink(self.root / MARKER)
        forget_manifest()  # the file is gone: ``files`` is this tree's alone now
        self.base = files  # changed by prepare()
        # Most files are the same in both trees: one copy of their entries is enough.
        for path, entry in self.previous.items():
            kept = files.get(path)
            if kept is not None and kept == entry:
                self.previous[path] = kept
        return True

    def prepare(self, paths: Iterable[str]) -> None:
        """Remove the files of the starting tree that the new site does not have."""
        wanted = set(paths)
        stale = [path for path in self.base if path not in wanted]
        if not stale:
            return
        self._touched = True
        folders = set()
        for path in stale:
            del self.base[path]
            file = f"{self.root}/{path}"
            try:
                self._writing(file, functools.partial(os.unlink, file))
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise OutputError(f"cannot remove {self.root}/{path}: {exc.strerror}") from None
            folders.add(path.rpartition("/")[0])
        for folder in sorted(folders, key=len, reverse=True):  # deepest first
            while folder:
                try:
                    os.rmdir(f"{self.root}/{folder}")
                except OSError:
                    break  # not empty: other files live there
                folder = folder.rpartition("/")[0]

    def _load_manifest(self) -> None:
        data = read_manifest(self.final)
        files = data.get("files")
        self.previous = files if isinstance(files, dict) else {}
        self.previous_build_key = str(data.get("build", ""))
        events = data.get("events")
        self.previous_events = events if isinstance(events, int) else None
        self.previous_source = data.get("source")  # the instance it was built from

    def unchanged(self) -> bool:
        """True when the previous build had the same inputs and its files are all there."""
        if not self.build_key or self.build_key != self.previous_build_key:
            return False
        return intact(self.final, self.previous)

    def reuse(self, path: str, key: str, source: str) -> bool:
        """Keep or link the file of the same inputs: already in the starting tree, from
        the previous build, or from the file store."""
        base = self.base.get(path)
        if base is not None and base[0] == key:
            self._target(path, source)
            self.manifest[path] = list(base)
            self.linked += 1
            return True
        entry = self.previous.get(path)
        if entry and entry[0] == key:
            source_file = f"{self.final}/{path}"
            size = entry[1]
        elif not self.previous and self.store is not None and key in self.store.sizes:
            # No site in place (the store holds the keys of the site in place, when there
            # is one: no need to read its manifest then).
            source_file = self.store.file(key)
            size = self.store.sizes[key]
        else:
            return False
        if _size(source_file) != size:
            return False
        target = self._target(path, source)
        try:
            self._replace(path, target)
            os.link(source_file, target)
        except OSError:
            del self.sources[path.casefold()]
            return False
        self.manifest[path] = [key, size]
        self.linked += 1
        return True

    def _replace(self, path: str, target: str) -> None:
        """Make room for ``target``: its folder, and no file of the starting tree there.

        The starting tree's files are links to the site in place and the file store, so
        they are unlinked, never written into.
        """
        if path in self.base:
            self._touched = True
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
        else:
            self._mkdir(target)

    def _mkdir(self, target: str) -> None:
        folder = target[: target.rindex("/")]
        if folder not in self._folders:
            try:
                os.mkdir(folder)  # most folders are one level below a known one
            except FileNotFoundError:
                os.makedirs(folder, exist_ok=True)
            except FileExistsError:
                pass
            self._folders.add(folder)

    def write(self, path: str, data: Content, source: str, key: str = "") -> None:
        """Write ``data`` at output path ``path``; refuse escapes and second writes."""
        self.store_file(path, self._target(path, source), data, key)

    def claim(self, path: str, source: str) -> str:
        """Reserve output path ``path`` (checked as ``write`` does); return its file."""
        return self._target(path, source)

    def store_file(self, path: str, target: str, data: Content, key: str = "") -> None:
        """Write ``data`` (bytes, or pieces to write in turn) to a claimed ``target``,
        and keep it in the file store."""
        pieces = [data] if isinstance(data, bytes | bytearray | memoryview) else data
        size = sum(len(piece) for piece in pieces)
        if key:
            self.manifest[path] = [key, size]
        try:
            self._writing(target, lambda: self._put(path, target, pieces, size))
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
        if key and self.store is not None:
            self.store.keep(key, target)

    def _put(self, path: str, target: str, pieces: list[Piece], size: int) -> None:
        self._replace(path, target)
        if not self._link_unchanged(path, target, pieces, size):
            with open(target, "wb") as handle:
                for group in _groups(pieces):
                    handle.writelines(group)
            self.written += 1

    def _writing(self, target: str, change: Callable[[], object]) -> None:
        """Make ``change`` at ``target``; in a tree taken from the spare (the site before,
        which its owner may have made read-only in part), once more after giving back
        write permission on the folder that refused it."""
        try:
            change()
        except PermissionError:
            if not (self.from_spare and self._unlock_above(target)):
                raise
            change()

    def _unlock_above(self, target: str) -> bool:
        """Give the owner write permission on the nearest folder of ``target``; True if
        it lacked it."""
        folder = os.path.dirname(target)
        while len(folder) > len(str(self.root)) and not os.path.isdir(folder):
            folder = os.path.dirname(folder)
        try:
            return unlock(folder)
        except OSError:
            return False

    def _target(self, path: str, source: str) -> str:
        wrapped = f"/{path}/"
        if (
            not path
            or "\\" in path
            or "\x00" in path
            or "//" in wrapped
            or "/./" in wrapped
            or "/../" in wrapped
        ):
            raise OutputError(f"refusing to write {path!r} (from {source}): not a safe path")
        # The checks above are enough: the tree is new and holds no links, so a path made
        # of plain segments cannot leave it (no resolve(): two system calls per segment).
        key = path.casefold()  # case-insensitive file systems would merge these
        if key in self.sources:
            raise OutputError(
                f"two outputs want the same file {path!r}: {self.sources[key]} and {source}"
            )
        self.sources[key] = source
        return f"{self.root}/{path}"

    def _link_unchanged(self, path: str, target: str, pieces: list[Piece], size: int) -> bool:
        previous = f"{self.final}/{path}"
        if not self.previous and self.store is not None:
            kept = self.store.previous_file(path)  # no site in place: the last build's file
            previous = kept or previous
        try:
            if not _same_bytes(previous, pieces, size):
                return False
            os.link(previous, target)
        except OSError:
            return False
        self.linked += 1
        return True

    def restore(self, manifest: dict[str, object]) -> bool:
        """Make the whole site of ``manifest`` from the file store; False if it cannot."""
        files = manifest.get("files")
        if self.store is None or not isinstance(files, dict) or not self.store.has_all(files):
            return False
        self.previous = {}
        self.prepare(files)
        for path, entry in files.items():
            if not self.reuse(path, entry[0], "the file store"):
                return False
        self.build_key = str(manifest.get("build", ""))
        self.events = int(manifest.get("events") or 0)  # type: ignore[call-overload]
        skip = {"format", "build", "events", "files"}
        self.facts = {k: v for k, v in manifest.items() if k not in skip}
        return True

    def commit(self) -> None:
        """Write the manifest and replace the output folder with the new tree."""
        manifest = {
            "format": MANIFEST_FORMAT,
            "build": self.build_key,
            "events": self.events,
            "files": self.manifest,
            **self.facts,
        }
        text = json.dumps(manifest, sort_keys=True)
        stopping.check()  # a stop asked for, its exception lost on the way: not published
        (self.root / MARKER).write_text(text, "utf-8")  # a new file: the spare's was unlinked
        if self.store is not None:
            self.store.commit(text, self.manifest, str(self.root))
        with contextlib.suppress(OSError):  # the output folder keeps its permissions
            os.chmod(self.root, stat.S_IMODE(os.stat(self.final).st_mode))
        if self.final.is_dir() and _exchange(self.root, self.final):
            # One atomic step: at every instant the output folder is the old site or the
            # new one. The old one now sits where the new one was built: it becomes the
            # spare, the start of the next build.
            self._keep_as_spare(self.root)
            return
        old = self.parent / f".{self.final.name}.old-{os.getpid()}"
        try:
            if self.final.exists():
                os.rename(self.final, old)
            os.rename(self.root, self.final)
        except OSError as exc:
            if old.exists() and not self.final.exists():
                os.rename(old, self.final)
            raise OutputError(f"cannot replace {self.final}: {exc.strerror or exc}") from None
        if old.exists():
            self._keep_as_spare(old)

    def _keep_as_spare(self, tree: Path) -> None:
        try:
            if self.spare is None:
                raise OSError
            self.spare.parent.mkdir(parents=True, exist_ok=True)
            os.rename(tree, self.spare)
        except OSError:
            remove_later(tree)  # removing its thousands of files overlaps the build's end

    def abort(self) -> None:
        """Remove the unfinished tree; the previous output stays untouched."""
        if self.spare and self.base and not self._touched and not self.manifest:
            with contextlib.suppress(OSError):  # the spare, as it was: keep it for next time
                (self.root / MARKER).write_text(
                    json.dumps({"format": MANIFEST_FORMAT, "files": self.base}), "utf-8"
                )
                os.rename(self.root, self.spare)
                return
        remove_tree(self.root)


GROUP_BYTES = 1 << 21  # a file's pieces are written and compared this much at a time


def _groups(pieces: list[Piece]) -> Iterator[list[Piece]]:
    """Yield ``pieces`` in groups of about GROUP_BYTES, in order.

    Pieces that are views of a mapped file (the fragments file) are let go of after their
    group, so writing a calendar of every event holds a few megabytes of it at a time,
    not all of it.
    """
    group: list[Piece] = []
    held = 0
    for piece in pieces:
        group.append(piece)
        held += len(piece)
        if held >= GROUP_BYTES:
            yield group
            _let_go_of(group)
            group, held = [], 0
    if group:
        yield group
        _let_go_of(group)


def _let_go_of(pieces: list[Piece]) -> None:
    for mapped in {id(p.obj): p.obj for p in pieces if isinstance(p, memoryview)}.values():
        let_go(mapped)


def _same_bytes(previous: str, pieces: list[Piece], size: int) -> bool:
    """True when the file ``previous`` holds exactly ``pieces`` (``size`` bytes in all).

    The file is mapped and compared a group at a time, never read whole into memory.
    """
    with open(previous, "rb") as handle:
        if os.fstat(handle.fileno()).st_size != size:
            return False
        if size <= GROUP_BYTES:  # most files: one read
            data = memoryview(handle.read())
            at = 0
            for piece in pieces:
                if data[at : at + len(piece)] != piece:
                    return False
                at += len(piece)
            return True
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as old:
            at = 0
            for group in _groups(pieces):
                for piece in group:
                    if old[at : at + len(piece)] != piece:
                        return False
                    at += len(piece)
                let_go(old)
    return True


class BuildLock:
    """One build at a time per output folder: a lock file next to it, holding the pid.

    A lock left by a build that was killed (its process is gone) is taken over.
    """

    def __init__(self, final: Path, spare: Path | None = None) -> None:
        final = Path(os.path.realpath(final))
        self.final = final
        self.path = final.parent / f".{final.name}.lock"

    def __enter__(self) -> BuildLock:
        try:
            return self._take()
        except OSError as exc:  # the folder the output goes in cannot be made or written
            raise OutputError(_cannot_write(self.final, exc)) from None

    def _take(self) -> BuildLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                owner = _read_pid(self.path)
                if owner is not None and _alive(owner):
                    raise OutputError(
                        f"another build (process {owner}) is writing {self.final}; "
                        f"wait for it, or remove {self.path} if no build is running"
                    ) from None
                log.warning("removing the stale lock %s of a build that stopped", self.path)
                self.path.unlink(missing_ok=True)
                continue
            try:
                with os.fdopen(fd, "w") as handle:
                    handle.write(str(os.getpid()))
            except BaseException:  # a stop (Ctrl-C, SIGTERM) or a full disk: no empty lock left
                self.path.unlink(missing_ok=True)
                raise
            return self
        raise OutputError(f"cannot lock {self.path}")

    def __exit__(self, *exc: object) -> None:
        if _read_pid(self.path) == os.getpid():
            self.path.unlink(missing_ok=True)


def _cannot_write(final: Path, exc: OSError) -> str:
    """Say why the output ``final`` cannot be written next to, and what to do about it."""
    folder = final.parent
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):  # a file where a folder must go
        for part in (folder, *folder.parents):
            if part.exists() and not part.is_dir():
                return (
                    f"output {final}: {part} is a file, not a folder; "
                    "choose another output folder (-o)"
                )
    if exc.errno == errno.ENOSPC:
        return f"cannot write in {folder}: no space left on the device"
    if exc.errno == errno.ENOENT and folder.is_dir():  # /proc, /sys: "no such file" there
        return (
            f"cannot write in {folder}: it takes no new files or folders; "
            "choose an output folder you can write to (-o)"
        )
    return (
        f"cannot write in {folder}: {exc.strerror or exc}; "
        "choose an output folder you can write to (-o)"
    )


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


_RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (Linux renameat2); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def read_manifest(final: Path) -> dict[str, object]:
    """Return the manifest of the site in ``final`` ({} when there is none we can use).

    The last one read is remembered while its file is the same (a build reads it twice).
    """
    path = os.path.join(os.path.realpath(final), MARKER)
    try:
        info = os.stat(path)
        stamp = (path, info.st_ino, info.st_size, info.st_mtime_ns)
        if _last_manifest[0] == stamp:
            return _last_manifest[1]
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}  # no previous build, or one from an older version: render everything
    ok = isinstance(data, dict) and data.get("format") == MANIFEST_FORMAT
    _last_manifest[:] = [stamp, data if ok else {}]
    return _last_manifest[1]


_last_manifest: list = [None, {}]


def forget_manifest() -> None:
    """Forget the manifest ``read_manifest`` remembers."""
    _last_manifest[:] = [None, {}]


def intact(final: Path | str, files: object) -> bool:
    """True when every file the manifest lists is there with its size."""
    if not isinstance(files, dict):
        return False
    root = os.path.realpath(final)
    return all(
        isinstance(entry, list) and len(entry) == 2 and _size(f"{root}/{path}") == entry[1]
        for path, entry in files.items()
    )


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except (OSError, ValueError):
        return -1


def _check_ours(final: Path) -> None:
    if not final.exists():
        return
    if not final.is_dir():
        raise OutputError(f"output {final} exists and is not a folder")
    if (final / MARKER).is_file():
        return
    with contextlib.suppress(StopIteration):
        next(final.iterdir())
        raise ConfigError(
            [
                f"output: folder {final} is not empty and was not made by gancio-site; "
                "it would be replaced whole: empty it or choose another `output`"
            ]
        )


def _remove_stale(final: Path) -> None:
    """Remove trees left by builds that were killed (their process is gone)."""
    for folder in final.parent.glob(f".{final.name}.building-*"):
        pid = folder.name.rpartition("-")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            remove_tree(folder)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _recover(final: Path) -> None:
    """Put back the previous output if a build stopped between its two renames."""
    if final.exists():
        return
    leftovers = sorted(final.parent.glob(f".{final.name}.old-*")) if final.parent.is_dir() else []
    if leftovers:
        log.warning("restoring %s from an interrupted build", final)
        os.rename(leftovers[-1], final)
