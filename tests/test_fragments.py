"""The per-event entries kept between builds: found by key, dropped when stale or damaged."""

from __future__ import annotations

from pathlib import Path

from gancio_site.fragments import FORMAT, Fragments

NOW = 1796301525
SALT = "0123456789abcdef0123456789abcdef"
A, B, C = ("a" * 32, "b" * 32, "c" * 32)


def made(fragments: Fragments, key: str, value: bytes) -> bytes:
    return fragments.get(key, lambda: value)


def test_entries_come_back_in_the_next_build_and_stale_ones_go(tmp_path: Path):
    path = str(tmp_path / "fragments.bin")
    first = Fragments(path, SALT)
    made(first, A, b"BEGIN:VEVENT\r\nA\r\n")
    made(first, B, "città ☃".encode())
    first.save([A, B])
    second = Fragments(path, SALT)
    assert made(second, A, b"other") == b"BEGIN:VEVENT\r\nA\r\n"
    assert (second.made, second.reused) == (0, 1)
    made(second, C, b"")  # an empty entry is an entry
    second.save([A, C])  # B is no longer shown
    third = Fragments(path, SALT)
    assert {key: third.stored(key) for key in third.old} == {A: b"BEGIN:VEVENT\r\nA\r\n", C: b""}


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
    path.write_bytes(data[:-10])  # cut short
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


def test_descriptions_sanitised_once_come_back_the_same(tmp_path: Path):
    from zoneinfo import ZoneInfo

    from gancio_site.models import Parser

    raw = '<p onclick="x()">Ciao <a href="/about">città</a><script>alert(1)</script></p>'
    path = str(tmp_path / "descriptions.bin")
    first = Parser(instance="https://g.example", tz=ZoneInfo("Europe/Rome"))
    first.sanitised = Fragments(path, SALT)
    html = first.description(1, raw)
    assert "script" not in html and "onclick" not in html
    assert 'href="https://g.example/about"' in html
    first.sanitised.save(first.sanitised.used())
    second = Parser(instance="https://g.example", tz=ZoneInfo("Europe/Rome"))
    second.sanitised = Fragments(path, SALT)
    assert second.description(2, raw) == html
    assert (second.sanitised.made, second.sanitised.reused) == (0, 1)
    assert second.description(3, raw + "!") == html + "!"  # other text: sanitised anew
    assert second.sanitised.made == 1


def test_kept_descriptions_stay_kept_through_builds_that_only_reuse_them(gancio, tmp_path):
    """A build that sanitised nothing new keeps the memo whole for the one after it."""
    from sitekit import site_config

    from gancio_site.build import build

    (tmp_path / "templates").mkdir()
    config = site_config(gancio.url, tmp_path, templates=str(tmp_path / "templates"))
    build(config, now_ts=NOW)
    memo = next((tmp_path / "cache").glob("*/descriptions.bin"))
    kept = len(Fragments(str(memo), _salt(memo)).old)
    assert kept > 20
    for title in ("Prima modifica", "Seconda modifica"):
        gancio.touch(3, title=title)  # each build parses every event again
        build(config, now_ts=NOW)
        assert len(Fragments(str(memo), _salt(memo)).old) == kept


def _salt(path: Path) -> str:
    return path.read_bytes()[len(FORMAT) : len(FORMAT) + 32].decode()
