"""The output writer: stays inside its root, writes once, swaps atomically, keeps mtimes."""

from __future__ import annotations

import mmap
import os

import pytest

from gancio_site import output
from gancio_site.errors import ConfigError, OutputError
from gancio_site.output import GROUP_BYTES, BuildLock, OutputTree


@pytest.mark.parametrize(
    "path", ["../x", "/etc/x", "a/../../x", "a\\b", "a\x00b", "", "a//b", "./a"]
)
def test_refuses_paths_outside_or_odd(tmp_path, path):
    tree = OutputTree(tmp_path / "public").open()
    with pytest.raises(OutputError, match="not a safe path"):
        tree.write(path, b"x", "test")
    tree.abort()
    assert not (tmp_path / "x").exists()


def test_refuses_double_writes_naming_both_sources(tmp_path):
    tree = OutputTree(tmp_path / "public").open()
    tree.write("tag/a/index.html", b"1", "tag page A")
    with pytest.raises(OutputError, match="tag page A and tag page B"):
        tree.write("tag/A/index.html", b"2", "tag page B")
    tree.abort()


def test_swap_replaces_and_abort_keeps_previous(tmp_path):
    final = tmp_path / "public"
    tree = OutputTree(final).open()
    tree.write("index.html", b"one", "t")
    tree.commit()
    assert (final / "index.html").read_bytes() == b"one"
    tree = OutputTree(final).open()
    tree.write("index.html", b"two", "t")
    tree.abort()
    assert (final / "index.html").read_bytes() == b"one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["public"]


def test_unchanged_files_keep_their_mtime(tmp_path):
    final = tmp_path / "public"
    tree = OutputTree(final).open()
    tree.write("same.txt", b"same", "t")
    tree.write("changed.txt", b"old", "t")
    tree.commit()
    os.utime(final / "same.txt", (1_000_000_000, 1_000_000_000))
    os.utime(final / "changed.txt", (1_000_000_000, 1_000_000_000))
    tree = OutputTree(final).open()
    tree.write("same.txt", b"same", "t")
    tree.write("changed.txt", b"new", "t")
    tree.commit()
    assert (final / "same.txt").stat().st_mtime == 1_000_000_000
    assert (final / "changed.txt").stat().st_mtime != 1_000_000_000
    assert (final / "changed.txt").read_bytes() == b"new"


@pytest.mark.parametrize("where", ["first piece", "middle", "last byte"])
def test_large_files_in_pieces_are_compared_and_written_whole(tmp_path, where):
    """A calendar of every event is many pieces (views of the fragments file), larger
    than the group compared and written at a time: a difference in any group counts."""
    source = tmp_path / "fragments.bin"
    source.write_bytes(bytes(range(256)) * 40_000)  # ~10 MB, 5 groups
    final = tmp_path / "public"
    with open(source, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(mapped)
    pieces = [view[at : at + 777] for at in range(0, len(mapped) - 777, 777)]
    expected = b"".join(pieces)
    assert len(expected) > 4 * GROUP_BYTES

    tree = OutputTree(final).open()
    tree.write("events.ics", list(pieces), "calendar")
    tree.commit()
    assert (final / "events.ics").read_bytes() == expected
    os.utime(final / "events.ics", (1_000_000_000, 1_000_000_000))

    tree = OutputTree(final).open()
    tree.write("events.ics", list(pieces), "calendar")  # the same bytes: linked, mtime kept
    tree.commit()
    assert (final / "events.ics").stat().st_mtime == 1_000_000_000

    changed = list(pieces)
    at = {"first piece": 0, "middle": len(changed) // 2, "last byte": -1}[where]
    piece = bytearray(changed[at])
    piece[-1] ^= 0xFF
    changed[at] = bytes(piece)
    tree = OutputTree(final).open()
    tree.write("events.ics", changed, "calendar")
    tree.commit()
    assert (final / "events.ics").stat().st_mtime != 1_000_000_000
    assert (final / "events.ics").read_bytes() == b"".join(changed)
    del pieces, changed, piece
    view.release()
    mapped.close()


def test_refuses_to_replace_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "notes.txt").write_text("precious")
    with pytest.raises(ConfigError, match="not made by gancio-site"):
        OutputTree(tmp_path).open()
    assert (tmp_path / "notes.txt").read_text() == "precious"


def test_restores_output_left_between_renames(tmp_path):
    final = tmp_path / "public"
    tree = OutputTree(final).open()
    tree.write("index.html", b"one", "t")
    tree.commit()
    os.rename(final, tmp_path / ".public.old-999")  # a build killed between its two renames
    OutputTree(final).open().abort()
    assert (final / "index.html").read_bytes() == b"one"


def test_a_stop_while_the_lock_is_taken_leaves_no_empty_lock(tmp_path, monkeypatch):
    """An empty lock file would stand for a build that is gone; the next one would have to
    guess. A stop between creating the lock and writing its process id removes it."""

    def stopped(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(output.os, "fdopen", stopped)
        with pytest.raises(KeyboardInterrupt), BuildLock(tmp_path / "public"):
            pass
    assert list(tmp_path.iterdir()) == []
    with BuildLock(tmp_path / "public"):
        assert (tmp_path / ".public.lock").read_text() == str(os.getpid())
    assert list(tmp_path.iterdir()) == []
