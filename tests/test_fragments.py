"""The per-event entries kept between builds: found by key, dropped when stale or damaged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gancio_site.fragments import FORMAT, KEY_SIZE, Fragments

NOW = 1796301525
SALT = "0123456789abcdef0123456789abcdef"
A, B, C, D = ("a" * 32, "b" * 32, "c" * 32, "d" * 32)


def made(fragments: Fragments, key: str, value: bytes) -> bytes:
    return fragments.get(key, lambda: value)


def test_entries_come_back_new_ones_are_appended_and_stale_ones_go_in_time(tmp_path: Path):
    path = tmp_path / "fragments.bin"
    first = Fragments(str(path), SALT)
    made(first, A, b"BEGIN:VEVENT\r\nA\r\n")
    made(first, B, "città ☃".encode())
    first.save([A, B])
    second = Fragments(str(path), SALT)
    assert made(second, A, b"other") == b"BEGIN:VEVENT\r\nA\r\n"
    assert (second.made, second.reused) == (0, 1)
    made(second, C, b"")  # an empty entry is an entry
    inode, size = path.stat().st_ino, path.stat().st_size
    second.save([A, C])  # B is no longer shown, but most of the file still is: appended
    assert (path.stat().st_ino, path.stat().st_size) == (inode, size + KEY_SIZE + 4)
    third = Fragments(str(path), SALT)
    assert {key: third.stored(key) for key in (A, C)} == {A: b"BEGIN:VEVENT\r\nA\r\n", C: b""}
    made(third, D, b"x")
    third.save([C, D])  # A and B would be more than half of the file: rewritten without
    fourth = Fragments(str(path), SALT)
    assert {key: fourth.stored(key) for key in fourth.old} == {C: b"", D: b"x"}
    assert path.stat().st_ino != inode


def test_an_entry_cut_short_by_a_killed_build_is_dropped_alone(tmp_path: Path):
    path = tmp_path / "fragments.bin"
    first = Fragments(str(path), SALT)
    made(first, A, b"a" * 50)
    made(first, B, b"b" * 50)
    first.save([A, B])
    second = Fragments(str(path), SALT)
    made(second, C, b"c" * 50)
    second.save([A, B, C])  # appended
    path.write_bytes(path.read_bytes()[:-20])  # the build was killed while appending C
    third = Fragments(str(path), SALT)
    assert {key: third.stored(key) for key in third.old} == {A: b"a" * 50, B: b"b" * 50}
    made(third, D, b"d")
    third.save([A, B, D])  # nothing is appended after a torn entry: rewritten
    fourth = Fragments(str(path), SALT)
    assert {k: fourth.stored(k) for k in fourth.old} == {A: b"a" * 50, B: b"b" * 50, D: b"d"}


def test_an_unchanged_set_is_not_rewritten(tmp_path: Path):
    path = tmp_path / "fragments.bin"
    first = Fragments(str(path), SALT)
    made(first, A, b"x")
    first.save([A])
    before = path.stat().st_mtime_ns
    second = Fragments(str(path), SALT)
    made(second, A, b"y")
    second.save([A])
    assert path.stat().st_mtime_ns == before


def test_other_settings_damage_and_foreign_files_are_ignored(tmp_path: Path):
    path = tmp_path / "fragments.bin"
    first = Fragments(str(path), SALT)
    made(first, A, b"x" * 100)
    first.save([A])
    assert Fragments(str(path), "f" * 32).old == {}  # made for other settings
    data = path.read_bytes()
    path.write_bytes(data[:-10])  # cut short: its only entry is incomplete
    assert Fragments(str(path), SALT).old == {}
    path.write_bytes(b"garbage" + data)
    assert Fragments(str(path), SALT).old == {}
    path.write_bytes(FORMAT + SALT.encode() + b"\xff" * 40)  # a length past the end
    assert Fragments(str(path), SALT).old == {}
    (tmp_path / "folder").mkdir()
    assert Fragments(str(tmp_path / "folder"), SALT).old == {}  # unreadable: a folder


def test_without_a_file_nothing_is_kept(tmp_path: Path):
    fragments = Fragments(None, SALT)
    assert made(fragments, A, b"x") == b"x" and made(fragments, A, b"y") == b"x"
    fragments.save([A])
    assert list(tmp_path.iterdir()) == []


def test_entries_written_out_and_let_go_still_read_right(tmp_path: Path):
    # Once written, the pages of the mapped file leave the build's memory; an entry read
    # again after that comes back from the file with the same bytes.
    from gancio_site.output import OutputTree

    path = tmp_path / "fragments.bin"
    first = Fragments(str(path), SALT)
    values = {key: (key[0] * 5000).encode() for key in (A, B, C)}
    for key, value in values.items():
        made(first, key, value)
    first.save(list(values))
    second = Fragments(str(path), SALT)
    pieces = [made(second, key, b"other") for key in (A, B, C)]
    assert all(isinstance(piece, memoryview) for piece in pieces)
    tree = OutputTree(tmp_path / "public").open()
    tree.write("events.json", pieces, "a test")
    tree.write("again.json", [made(second, key, b"other") for key in (C, A)], "a test")
    tree.commit()
    assert (tmp_path / "public" / "events.json").read_bytes() == b"".join(values.values())
    assert (tmp_path / "public" / "again.json").read_bytes() == values[C] + values[A]
    assert bytes(pieces[1]) == values[B]


def test_entries_made_wait_on_disk_and_leave_no_file_behind(tmp_path: Path):
    path = tmp_path / "cache" / "fragments.bin"
    fragments = Fragments(str(path), SALT)
    made(fragments, A, b"a" * 3000)
    made(fragments, B, "città".encode())
    assert not any(isinstance(entry, bytes) for entry in fragments.new.values())
    assert made(fragments, A, b"other") == b"a" * 3000  # read back from the spill file
    assert made(fragments, B, b"other") == "città".encode()
    assert fragments.made == 2
    fragments.save([B, A])
    assert sorted(p.name for p in path.parent.iterdir()) == ["fragments.bin"]
    again = Fragments(str(path), SALT)
    assert {key: again.stored(key) for key in again.old} == {
        A: b"a" * 3000,
        B: "città".encode(),
    }


def test_without_a_file_entries_stay_in_memory():
    fragments = Fragments()
    assert made(fragments, A, b"x") == b"x"
    assert made(fragments, A, b"y") == b"x"
    assert fragments.new == {A: b"x"}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="rendering processes are forks")
def test_a_rendering_process_reads_the_entries_made_before_it_and_leaves_the_file_alone(
    tmp_path: Path,
):
    fragments = Fragments(str(tmp_path / "fragments.bin"), SALT)
    made(fragments, A, b"a" * 100)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the rendering process: reads A, makes C (never kept), and stops
        seen = made(fragments, A, b"other") + made(fragments, C, b"c" * 10)
        os.write(write, seen)
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as pipe:
        assert pipe.read() == b"a" * 100 + b"c" * 10
    made(fragments, B, b"b" * 50)  # after the fork: where this process expects it
    assert [made(fragments, k, b"?") for k in (A, B)] == [b"a" * 100, b"b" * 50]
    fragments.save([A, B])
    again = Fragments(str(tmp_path / "fragments.bin"), SALT)
    assert {k: again.stored(k) for k in again.old} == {A: b"a" * 100, B: b"b" * 50}
