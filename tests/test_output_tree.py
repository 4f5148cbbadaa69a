"""The output writer: stays inside its root, writes once, swaps atomically, keeps mtimes."""

from __future__ import annotations

import os

import pytest

from gancio_site.errors import ConfigError, OutputError
from gancio_site.output import OutputTree


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
