"""Rendering on every core: the jobs left after reuse are split between processes.

Each worker is a fork of the build, so it shares the parsed events, the URL map and the
templates without pickling them; it renders its share of the jobs (see ``_shares``),
writes the files into the new tree and sends back what it wrote for the manifest. The
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

from .errors import GancioSiteError
from .output import OutputTree
from .pages import Job
from .progress import TTY_INTERVAL, current

MIN_JOBS_PER_WORKER = 400  # below this, starting a process costs more than it saves


def workers(count: int) -> int:
    """Return how many processes to render ``count`` jobs with (GANCIO_SITE_WORKERS sets it)."""
    if not hasattr(os, "fork") or sys.platform == "win32":
        return 1
    chosen = os.environ.get("GANCIO_SITE_WORKERS", "").strip()
    if chosen.isdigit() and int(chosen) > 0:
        return min(int(chosen), max(1, count))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, count // MIN_JOBS_PER_WORKER))


def render(tree: OutputTree, jobs: Sequence[Job]) -> None:
    """Render and write ``jobs`` (already claimed in ``tree``), in parallel where it pays."""
    shares = _shares(jobs, workers(len(jobs)))
    # One counter per process in memory shared with the forks: the progress line adds them.
    counts = mmap.mmap(-1, 8 * len(shares))
    progress = current()
    progress.start("Rendering", len(jobs))
    children = []
    for index, share in enumerate(shares[1:], 1):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read)
            _work(tree, share, write, counts, index)
        os.close(write)
        children.append((pid, read))
    try:
        _run(tree, shares[0], counts, 0)
        pipes = [read for _, read in children]
        while pipes:  # the workers' results arrive when they are done
            progress.update(_done(counts))
            ready, _, _ = select.select(pipes, [], [], TTY_INTERVAL)
            pipes = [pipe for pipe in pipes if pipe not in ready]
    finally:  # the workers finish before the tree may be removed, even after an error here
        errors = [_collect(tree, pid, read) for pid, read in children]
    progress.update(_done(counts))
    progress.finish()
    if any(errors):
        raise GancioSiteError(next(e for e in errors if e))


def _done(counts: mmap.mmap) -> int:
    return sum(struct.unpack_from(f"{len(counts) // 8}q", counts))


def _shares(jobs: Sequence[Job], count: int) -> list[Sequence[Job]]:
    """Split the jobs: lists and feeds in one process, event pages spread over the others.

    List pages share the rendered entries of their events (cached per process), so they
    stay together; event pages depend on nothing but their event.
    """
    if count <= 1:
        return [jobs]
    events = [job for job in jobs if job.path.startswith("event/")]
    others = [job for job in jobs if not job.path.startswith("event/")]
    if not events or not others:
        return [jobs[index::count] for index in range(count)]
    return [others] + [events[index :: count - 1] for index in range(count - 1)]


def _run(tree: OutputTree, jobs: Sequence[Job], counts: mmap.mmap, index: int) -> None:
    progress = current() if index == 0 else None
    for done, job in enumerate(jobs, 1):
        tree.store_file(job.path, f"{tree.root}/{job.path}", job.make(), job.key)
        struct.pack_into("q", counts, 8 * index, done)
        if progress is not None and done % 64 == 0:
            progress.update(_done(counts))


def _work(tree: OutputTree, jobs: Sequence[Job], pipe: int, counts: mmap.mmap, index: int) -> None:
    result: dict[str, object]
    tree.manifest, tree.written, tree.linked = {}, 0, 0
    try:
        _run(tree, jobs, counts, index)
        result = {"manifest": tree.manifest, "written": tree.written, "linked": tree.linked}
    except GancioSiteError as exc:
        result = {"error": str(exc)}
    except BaseException as exc:  # reported by the parent, which then stops
        result = {"error": f"unexpected {type(exc).__name__}: {exc}"}
    with os.fdopen(pipe, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
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
