"""Rendering on every core: the jobs left after reuse are split between processes.

Each worker is a fork of the build, so it shares the parsed events, the URL map and the
templates without pickling them; it renders the event pages it takes from a shared queue
(see ``render``), writes the files into the new tree and sends back what it wrote for the
manifest. The
bytes of each file depend only on its inputs, so the output is identical whatever the
number of processes. Where ``fork`` is missing the jobs run here, one after the other.
"""

from __future__ import annotations

import json
import mmap
import os
import select
import struct
import sys
from collections.abc import Sequence

from .config import chosen_workers
from .errors import ConfigError, GancioSiteError
from .output import OutputTree
from .pages import Job
from .progress import TTY_INTERVAL, current

MIN_JOBS_PER_WORKER = 400  # below this, starting a process costs more than it saves
BATCH = 32  # event pages a process takes from the queue at a time, at least
MAX_BATCHES = 2048  # their numbers (8 KB) fit in any system's pipe buffer
_BATCH_NUMBER = struct.Struct("=I")


def workers(count: int) -> int:
    """Return how many processes to render ``count`` jobs with (GANCIO_SITE_WORKERS sets it)."""
    if not hasattr(os, "fork") or sys.platform == "win32":
        return 1
    try:
        chosen = chosen_workers()
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    if chosen is not None:
        return min(chosen, max(1, count))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, count // MIN_JOBS_PER_WORKER))


def render(tree: OutputTree, jobs: Sequence[Job]) -> None:
    """Render and write ``jobs`` (already claimed in ``tree``), in parallel where it pays.

    The list pages, feeds and calendars stay in this process (list pages share the
    rendered entries of their events, cached per process); the event pages, which depend
    on nothing but their event, are dealt out in small batches from a queue to every
    process, this one included once its lists are done, so that all finish together.
    """
    count = workers(len(jobs))
    own: Sequence[Job] = jobs
    batches: list[Sequence[Job]] = []
    events = [job for job in jobs if job.path.startswith("event/")] if count > 1 else []
    if events:
        own = [job for job in jobs if not job.path.startswith("event/")]
        size = max(BATCH, len(events) // MAX_BATCHES)
        batches = [events[at : at + size] for at in range(0, len(events), size)]
    else:
        count = 1
    # One counter per process in memory shared with the forks: the progress line adds them.
    counts = mmap.mmap(-1, 8 * count)
    progress = current()
    progress.start("Rendering", len(jobs))
    queue = _queue(len(batches)) if batches else None
    children = []
    parent = os.getpid()
    try:
        for index in range(1, count):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker
                os.close(read)
                _work(tree, batches, queue, write, counts, index, parent)
            os.close(write)
            children.append((pid, read))
        done = _run(tree, own, counts, 0)
        if queue is not None:
            _drain(tree, batches, queue, counts, 0, done)
        pipes = [read for _, read in children]
        while pipes:  # the workers' results arrive when they are done
            progress.update(_done(counts))
            ready, _, _ = select.select(pipes, [], [], TTY_INTERVAL)
            pipes = [pipe for pipe in pipes if pipe not in ready]
    finally:  # the workers finish before the tree may be removed, even after an error here
        errors = [_collect(tree, pid, read) for pid, read in children]
        if queue is not None:
            os.close(queue)
    progress.update(_done(counts))
    progress.finish()
    if any(errors):
        raise GancioSiteError(next(e for e in errors if e))


def _queue(count: int) -> int:
    """Return the reading end of a pipe holding the numbers 0 .. count - 1.

    Every process reads from it the number of the next batch to render: reads of a few
    bytes from a pipe are atomic, so each batch goes to exactly one process.
    """
    read, write = os.pipe()
    try:
        os.write(write, b"".join(_BATCH_NUMBER.pack(n) for n in range(count)))
    finally:
        os.close(write)
    return read


def _drain(
    tree: OutputTree,
    batches: Sequence[Sequence[Job]],
    queue: int,
    counts: mmap.mmap,
    index: int,
    done: int,
    parent: int | None = None,
) -> int:
    """Render batches from ``queue`` until it is empty; return the jobs done in all.

    A worker (``parent`` given) stops as soon as the build that forked it is gone (killed:
    it leaves an unfinished tree that the next build removes, and nobody to render for).
    """
    while len(data := os.read(queue, _BATCH_NUMBER.size)) == _BATCH_NUMBER.size:
        (number,) = _BATCH_NUMBER.unpack(data)
        done = _run(tree, batches[number], counts, index, done, parent)
    return done


def _done(counts: mmap.mmap) -> int:
    return sum(struct.unpack_from(f"{len(counts) // 8}q", counts))


def _run(
    tree: OutputTree,
    jobs: Sequence[Job],
    counts: mmap.mmap,
    index: int,
    done: int = 0,
    parent: int | None = None,
) -> int:
    progress = current() if index == 0 else None
    for done, job in enumerate(jobs, done + 1):  # noqa: B020 - counts on from ``done``
        if parent is not None and os.getppid() != parent:
            raise _Orphaned
        tree.store_file(job.path, f"{tree.root}/{job.path}", job.make(), job.key)
        struct.pack_into("q", counts, 8 * index, done)
        if progress is not None and done % 64 == 0:
            progress.update(_done(counts))
    return done


class _Orphaned(Exception):
    """Raised in a worker whose build was killed: nothing left to render for."""


def _work(
    tree: OutputTree,
    batches: Sequence[Sequence[Job]],
    queue: int | None,
    pipe: int,
    counts: mmap.mmap,
    index: int,
    parent: int,
) -> None:
    # Whatever happens, this process ends here: it must never go on to run the parent's
    # code (its error handling, its clean-up) from the copy of the stack it was forked with.
    try:
        result: dict[str, object]
        tree.manifest, tree.written, tree.linked = {}, 0, 0
        try:
            if queue is not None:
                _drain(tree, batches, queue, counts, index, 0, parent)
            result = {"manifest": tree.manifest, "written": tree.written, "linked": tree.linked}
        except _Orphaned:
            return  # no one to tell; its tree is removed by the next build
        except GancioSiteError as exc:
            result = {"error": str(exc)}
        except BaseException as exc:  # reported by the parent, which then stops
            result = {"error": f"unexpected {type(exc).__name__}: {exc}"}
        with os.fdopen(pipe, "w", encoding="utf-8") as handle:
            json.dump(result, handle)  # a broken pipe: the parent is gone, no one to tell
    finally:
        os._exit(0)


def _collect(tree: OutputTree, pid: int, pipe: int) -> str:
    with os.fdopen(pipe, encoding="utf-8") as handle:
        text = handle.read()
    os.waitpid(pid, 0)
    try:
        result = json.loads(text)
    except ValueError:
        return "a rendering process stopped without a result"
    if "error" in result:
        return str(result["error"])
    tree.manifest.update(result["manifest"])
    tree.written += result["written"]
    tree.linked += result["linked"]
    return ""
