"""Incremental builds, checked by counting: what is fetched, what is written again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fake_gancio import FakeGancio
from sitekit import site_config

from gancio_site.build import build
from gancio_site.render import references

NOW = 1796301525


def config_for(fake: FakeGancio, tmp_path: Path, **overrides):
    (tmp_path / "templates").mkdir(exist_ok=True)
    return site_config(fake.url, tmp_path, templates=str(tmp_path / "templates"), **overrides)


def inodes(site: Path) -> dict[str, int]:
    return {
        p.relative_to(site).as_posix(): p.stat().st_ino
        for p in site.rglob("*")
        if p.is_file() and p.name != ".gancio-site"
    }


def changed(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {path for path, inode in after.items() if before.get(path) != inode}


def test_one_changed_event_rewrites_only_the_files_that_show_it(gancio, tmp_path):
    config = config_for(gancio, tmp_path)
    build(config, now_ts=NOW)
    before = inodes(tmp_path / "public")
    gancio.touch(3, title="Concerto jazz al tramonto (nuovo orario)")
    gancio.requests.clear()
    report = build(config, now_ts=NOW)
    assert [r.path for r in gancio.requests][2:] == ["/api/event/detail/3"]  # one description
    lists = ["", "tag/concerto/", "tag/musica/", "place/parco-della-pace/"]
    expected = {
        "event/concerto-jazz-al-tramonto/index.html",
        "event/concerto-jazz-al-tramonto/event.ics",
        "embed.json",  # the widget's data
    }  # sitemap: same day, same bytes
    expected |= {
        folder + name
        for folder in lists
        for name in ("index.html", "rss.xml", "atom.xml", "events.ics", "events.json")
    }
    assert changed(before, inodes(tmp_path / "public")) == expected
    assert report.files_written == len(expected)
    # The four lists' calendars and JSON, and the widget's data: only the changed event's
    # three entries are made.
    assert (report.entries_made, report.entries_reused) == (3, 3 * 29)


def test_a_warm_build_revalidates_the_list_instead_of_downloading_it(gancio, tmp_path):
    config = config_for(gancio, tmp_path)
    build(config, now_ts=NOW)
    cache_files = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.json")}
    gancio.requests.clear()
    again = build(config, now_ts=NOW + 60)
    listed = [r for r in gancio.requests if r.path == "/api/events"]
    assert len(listed) == 1 and listed[0].headers.get("If-None-Match", "").startswith('W/"')
    assert again.source == "unchanged"  # answered 304: the cached list stands
    assert {p: p.stat().st_mtime_ns for p in cache_files} == cache_files  # not rewritten
    gancio.touch(3, title="Concerto jazz (nuovo orario)")
    gancio.requests.clear()
    changed_build = build(config, now_ts=NOW + 120)
    assert changed_build.files_written > 0
    assert "Concerto jazz (nuovo orario)" in (tmp_path / "public" / "index.html").read_text()
    assert [r.path for r in gancio.requests][2:] == ["/api/event/detail/3"]


def test_nothing_changed_offline_touches_nothing(gancio, tmp_path):
    config = config_for(gancio, tmp_path)
    first = build(config, now_ts=NOW)
    before = inodes(tmp_path / "public")
    gancio.stop()
    again = build(config, mode="offline", now_ts=NOW + 60)
    assert again.source == "unchanged"
    assert again.summary().startswith("Up to date: ")
    assert (again.pages, again.feeds, again.events) == (first.pages, first.feeds, first.events)
    assert inodes(tmp_path / "public") == before


def test_a_template_change_rerenders_and_keeps_unchanged_bytes(gancio, tmp_path):
    config = config_for(gancio, tmp_path)
    build(config, now_ts=NOW)
    before = inodes(tmp_path / "public")
    (tmp_path / "templates" / "404.html").write_text(
        "{% extends 'default/404.html' %}{% block title %}Persa!{% endblock %}"
    )
    report = build(config, mode="offline", now_ts=NOW)
    assert report.source == "cache"
    assert changed(before, inodes(tmp_path / "public")) == {"404.html"}


def test_compiled_templates_are_kept_and_an_edited_one_is_compiled_again(gancio, tmp_path):
    config = config_for(gancio, tmp_path)
    page = tmp_path / "templates" / "404.html"
    page.write_text("{% extends 'default/404.html' %}{% block title %}Persa!{% endblock %}")
    build(config, now_ts=NOW)
    compiled = sorted((tmp_path / "cache").glob("*/templates/*.cache"))
    assert len(compiled) >= 5  # base, home, event, tag, place, 404 ...
    stamps = {p.name: p.stat().st_mtime_ns for p in compiled}
    other_version = compiled[0].parent / "0123456789abcdef-old.cache"
    other_version.write_bytes(b"compiled by another version")
    page.write_text("{% extends 'default/404.html' %}{% block title %}Smarrita!{% endblock %}")
    build(config, mode="offline", now_ts=NOW)
    assert "Smarrita!" in (tmp_path / "public" / "404.html").read_text("utf-8")
    again = {p.name: p.stat().st_mtime_ns for p in compiled[0].parent.glob("*.cache")}
    assert not other_version.exists()
    assert set(again) == set(stamps)
    assert len([name for name in stamps if again[name] != stamps[name]]) == 1  # 404.html


def test_the_site_is_rebuilt_when_an_event_ends_or_a_day_passes(gancio, tmp_path):
    config = config_for(gancio, tmp_path)
    build(config, now_ts=NOW)
    gancio.stop()
    assert build(config, mode="offline", now_ts=NOW + 3600).source == "unchanged"
    # Thursday 3 December, 13:38 in Rome: midnight comes, "today" moves on.
    tomorrow = build(config, mode="offline", now_ts=NOW + 12 * 3600)
    assert tomorrow.source == "cache"
    assert tomorrow.files_written > 0  # the day headings moved on


def test_a_deleted_output_file_is_noticed(gancio, tmp_path):
    config = config_for(gancio, tmp_path)
    build(config, now_ts=NOW)
    rss = (tmp_path / "public" / "rss.xml").read_bytes()
    (tmp_path / "public" / "rss.xml").unlink()
    report = build(config, mode="offline", now_ts=NOW)
    assert report.source == "file store"  # the same build, put back from the cache
    assert (tmp_path / "public" / "rss.xml").read_bytes() == rss
    assert report.files_written == 0


def tree_bytes(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}


def store_files(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "cache").rglob("files/??/*") if p.is_file()]


def test_a_new_checkout_with_the_cache_restores_the_site_without_rendering(gancio, tmp_path):
    config = config_for(gancio, tmp_path)
    first = build(config, now_ts=NOW)
    site = tree_bytes(tmp_path / "public")
    assert len(store_files(tmp_path)) == len(site) - 1  # every file but the manifest
    shutil.rmtree(tmp_path / "public")  # CI keeps the cache folder, not the output
    again = build(config, now_ts=NOW + 60)
    assert again.source == "file store"
    assert again.summary().startswith("Restored from the cache: ")
    assert (again.pages, again.events) == (first.pages, first.events)
    assert tree_bytes(tmp_path / "public") == site
    shutil.rmtree(next((tmp_path / "cache").glob("*/files")))
    gancio.touch(3, title="Concerto jazz al tramonto (nuovo orario)")
    build(config, now_ts=NOW + 120)  # the next build that writes refills the store
    assert len(store_files(tmp_path)) == len(site) - 1


def test_a_new_checkout_renders_only_what_changed(gancio, tmp_path):
    config = config_for(gancio, tmp_path)
    build(config, now_ts=NOW)
    shutil.rmtree(tmp_path / "public")
    gancio.touch(3, title="Concerto jazz al tramonto (nuovo orario)")
    report = build(config, now_ts=NOW)
    assert report.files_written == 23  # as in the first test: the event and its lists
    manifest = json.loads((tmp_path / "public" / ".gancio-site").read_text())
    keys = sorted(entry[0] for entry in manifest["files"].values())
    assert sorted(p.name for p in store_files(tmp_path)) == keys  # old keys removed


def test_an_unusable_file_store_only_costs_rendering(gancio, tmp_path):
    config = config_for(gancio, tmp_path)
    build(config, now_ts=NOW)
    store = next((tmp_path / "cache").glob("*/files"))
    shutil.rmtree(store)
    store.write_text("not a folder")
    shutil.rmtree(tmp_path / "public")
    report = build(config, now_ts=NOW)
    assert report.source == "instance"
    assert report.files_written == len(inodes(tmp_path / "public"))  # all rendered anew
    assert (tmp_path / "public" / "index.html").is_file()
    assert store.read_text() == "not a folder"


def test_an_incremental_build_gives_the_bytes_of_a_build_from_scratch(gancio, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    config = config_for(gancio, tmp_path / "a")
    build(config, now_ts=NOW)
    gancio.touch(3, title="Concerto jazz al tramonto (nuovo orario)")
    gancio.touch(7, tags=["musica", "nuovo"])
    build(config, now_ts=NOW)
    fresh = config_for(gancio, tmp_path / "b")
    build(fresh, now_ts=NOW)
    incremental, scratch = (tree_bytes(tmp_path / x / "public") for x in "ab")
    del incremental[".gancio-site"], scratch[".gancio-site"]  # keys name each site's folders
    assert incremental == scratch


def test_builds_start_from_the_site_before_and_never_write_into_a_published_file(gancio, tmp_path):
    (tmp_path / "a").mkdir()
    config = config_for(gancio, tmp_path / "a")
    site = tmp_path / "a" / "public"
    build(config, now_ts=NOW)
    spare = next((tmp_path / "a" / "cache").glob("*")) / "site"
    changes = [
        lambda: gancio.touch(3, title="Concerto jazz al tramonto (nuovo orario)"),
        lambda: gancio.touch(7, tags=["nuovo-tag"]),  # a tag folder appears, one may go
        lambda: gancio.events.remove(next(r for r in gancio.events if r["id"] == 3)),
        lambda: gancio.touch(7, tags=["musica"]),
    ]
    for number, change in enumerate(changes):
        published = tree_bytes(site)
        change()
        report = build(config, now_ts=NOW)
        assert report.files_written > 0
        assert tree_bytes(spare) == published  # the site before, byte for byte
        fresh_folder = tmp_path / f"fresh{number}"
        fresh_folder.mkdir()
        build(config_for(gancio, fresh_folder), now_ts=NOW)
        incremental, scratch = tree_bytes(site), tree_bytes(fresh_folder / "public")
        del incremental[".gancio-site"], scratch[".gancio-site"]
        assert incremental == scratch  # no stale file, no missing one
        folders = {p.relative_to(site) for p in site.rglob("*") if p.is_dir()}
        assert folders == {
            p.relative_to(fresh_folder / "public")
            for p in (fresh_folder / "public").rglob("*")
            if p.is_dir()
        }  # no empty folder left behind


def test_a_304_is_trusted_only_when_the_saved_list_is_the_one_of_that_tag(gancio, tmp_path):
    config = config_for(gancio, tmp_path)
    build(config, now_ts=NOW)
    events = next((tmp_path / "cache").glob("*/events.json"))
    data = json.loads(events.read_text())
    data["etag"] = 'W/"written-by-a-build-that-was-stopped"'  # events.etag says otherwise
    events.write_text(json.dumps(data))
    gancio.requests.clear()
    build(config, now_ts=NOW + 60)
    listed = [r.headers.get("If-None-Match") for r in gancio.requests if r.path == "/api/events"]
    assert len(listed) == 2 and listed[0] and listed[1] is None  # asked again, whole


def test_a_304_on_a_whole_cache_reads_the_rows_only_when_something_is_rendered(gancio, tmp_path):
    from gancio_site.build import fetch_snapshot

    config = config_for(gancio, tmp_path)
    first = build(config, now_ts=NOW)
    published = tree_bytes(tmp_path / "public")
    snapshot, _ = fetch_snapshot(config, "online", NOW + 60, lazy=True)
    assert snapshot.deferred and snapshot.rows == [] and snapshot.requests == 2
    eager, _ = fetch_snapshot(config, "online", NOW + 60)  # the dev server always reads them
    assert not eager.deferred and len(eager.rows) == first.events
    # Nothing in place nor in the file store: the build renders from the cached rows.
    shutil.rmtree(tmp_path / "public")
    for kept in ("files", "site"):
        for folder in (tmp_path / "cache").glob(f"*/{kept}"):
            shutil.rmtree(folder)
    gancio.requests.clear()
    again = build(config, now_ts=NOW)
    assert [r.path for r in gancio.requests] == ["/.well-known/nodeinfo/2.0", "/api/events"]
    assert again.source == "instance" and again.files_written == len(published) - 1
    assert tree_bytes(tmp_path / "public") == published


def test_a_304_is_not_enough_while_the_cache_lacks_a_description(gancio, tmp_path):
    from gancio_site.build import fetch_snapshot

    config = config_for(gancio, tmp_path)
    gancio.fail("/api/event/detail/", status=404, body="{}", times=-1)
    gancio.fail("/api/export/json", status=500, times=-1)
    report = build(config, now_ts=NOW)
    assert any("no description" in warning for warning in report.warnings)
    snapshot, _ = fetch_snapshot(config, "online", NOW + 60, lazy=True)
    assert not snapshot.deferred and snapshot.rows  # the missing ones are asked for again
    assert any(r.path.startswith("/api/event/detail/") for r in gancio.requests[-3:])


def test_a_template_change_renders_pages_only_not_feeds_calendars_or_data(gancio, tmp_path):
    config = config_for(gancio, tmp_path)
    build(config, now_ts=NOW)
    (tmp_path / "templates" / "event.html").write_text(
        "{% extends 'default/event.html' %}{% block title %}Evento!{% endblock %}"
    )
    report = build(config, mode="offline", now_ts=NOW)
    assert report.source == "cache"
    # The lists' calendars and JSON files are kept by key: not one entry was even looked up.
    assert (report.entries_made, report.entries_reused) == (0, 0)
    assert "Evento!" in next((tmp_path / "public" / "event").glob("*/index.html")).read_text()


def test_a_template_change_renders_only_the_pages_that_use_it(gancio, tmp_path):
    config = config_for(gancio, tmp_path)
    first = build(config, now_ts=NOW)
    site = tmp_path / "public"

    def edit(name: str, text: str, mark: str = "") -> tuple[int, set[str]]:
        """Write template ``name``; return how many files the build rendered, and the
        pages that show ``mark``, the edit (they are all the files it changed)."""
        (tmp_path / "templates" / name).write_text(text.replace("MARK", mark))
        report = build(config, mode="offline", now_ts=NOW)
        marked = {
            p.relative_to(site).as_posix()
            for p in site.rglob("*.html")
            if mark and mark in p.read_text()
        }
        assert report.files_written == len(marked)
        return report.files_rendered, marked

    lists = {"index.html"} | {
        p.relative_to(site).as_posix()
        for p in [*site.glob("tag/*/index.html"), *site.glob("place/*/index.html")]
    } - {"tag/index.html", "place/index.html"}
    events = {p.relative_to(site).as_posix() for p in site.glob("event/*/index.html")}
    assert len(lists) > 10 and len(events) > 10

    block = "{% extends 'default/NAME' %}{% block title %}MARK{% endblock %}"
    assert edit("tags.html", block.replace("NAME", "tags.html"), "Mark-1") == (
        1,
        {"tag/index.html"},
    )
    assert edit("event.html", block.replace("NAME", "event.html"), "Mark-2") == (
        len(events),
        events,
    )
    # Rendered by code for the lists (event_item, called in _day_list.html): the lists only.
    item = "{% include 'default/_event_item.html' %}<!-- MARK -->"
    assert edit("_event_item.html", item, "Mark-3") == (len(lists), lists)
    # Extended by every page but the widget's frame (a page of its own): those.
    assert edit("base.html", "{% extends 'default/base.html' %}")[0] == first.pages - 1
    # A template naming another by a variable may use any: it follows every template.
    edit("404.html", "{% extends 'default/' ~ '404.html' %}")
    rendered, _ = edit("_pager.html", "{% include 'default/_pager.html' %}")
    assert rendered == len(lists) + 1  # the lists include _pager.html, and 404.html


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{% extends 'base.html' %}{% block x %}{% endblock %}", ["base.html"]),
        ('{%- include "_a.html" ignore missing with context -%}', ["_a.html"]),
        ('{%include"_a.html"%}', ["_a.html"]),
        ("{% import 'm.html' as m %}{% from \"n.html\" import a, b %}", ["m.html", "n.html"]),
        (
            "{% include 'default/_pager.html' %}{{ event_item(e) }}",
            ["default/_pager.html", "_event_item.html"],
        ),
        ("{# {% include 'old.html' %} #}", ["old.html"]),  # more pages depend: harmless
        ("<p>{{ title }}</p>", []),
        ("{% extends layout %}", None),  # a variable: any template
        ("{% include ['a.html', 'b.html'] %}", None),
        ("{% extends 'a.html' if x else 'b.html' %}", None),
        ("{% include 'a' ~ name %}", None),
    ],
)
def test_the_templates_a_template_uses_are_found_by_name(source, expected):
    assert references(source) == expected


def test_settings_that_change_no_file_do_not_make_a_build_render_again(gancio, tmp_path):
    from dataclasses import replace

    config = config_for(gancio, tmp_path)
    build(config, now_ts=NOW)
    guarded = replace(config, allow_shrink=True, shrink_limit=0.9, timeout=5.0)
    assert build(guarded, now_ts=NOW).source == "unchanged"
    assert build(config, mode="offline", now_ts=NOW).source == "unchanged"
    assert build(replace(config, page_size=5), mode="offline", now_ts=NOW).files_written > 0
