"""Bad answers, bad settings and private URLs: one clear line, and the site kept safe."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_gancio import FakeGancio
from sitekit import site_config

from gancio_site.api import GancioClient
from gancio_site.build import build
from gancio_site.cli import main
from gancio_site.config import load_config
from gancio_site.errors import BadResponse, ConfigError, ConnectionFailed, OutputError

MINIMAL = {
    "GANCIO_INSTANCE": "https://gancio.example.org",
    "GANCIO_BASE_URL": "https://example.org/",
}


def config_for(url: str, tmp_path: Path, **overrides):
    return site_config(url, tmp_path, **overrides)


class Trickle:
    """A server that sends its headers, then one byte every 0.2 s, forever."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.trickle, args=(conn,), daemon=True).start()

    def trickle(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000\r\n\r\n["
            )
            while not self.stop.is_set():
                try:
                    conn.sendall(b" ")
                except OSError:
                    return
                time.sleep(0.2)


def test_a_trickling_server_cannot_hang_the_build(tmp_path):
    server = Trickle()
    try:
        client = GancioClient(server.url, timeout=1, retries=0)
        started = time.monotonic()
        with pytest.raises(ConnectionFailed, match="timeout"):
            build(config_for(server.url, tmp_path), client=client, now_ts=1796301525)
        assert time.monotonic() - started < 5
    finally:
        server.stop.set()


@pytest.mark.parametrize("body", ["[1,2,3]", "[null]", '["row"]', "[" * 100000])
def test_garbage_lists_fail_and_keep_the_previous_site(tmp_path, body):
    with FakeGancio() as fake:
        build(config_for(fake.url, tmp_path), now_ts=1796301525)
        before = (tmp_path / "public" / "index.html").read_bytes()
        fake.fail("/api/events", status=200, body=body, content_type="application/json")
        with pytest.raises(BadResponse):
            build(config_for(fake.url, tmp_path), now_ts=1796301525)
    assert (tmp_path / "public" / "index.html").read_bytes() == before


def test_odd_rows_among_good_ones_are_skipped_with_a_warning(tmp_path):
    with FakeGancio() as fake:
        rows = fake.events[:3]
        fake.fail(
            "/api/events",
            status=200,
            content_type="application/json",
            body='[7, {"id": [1], "title": "x", "start_datetime": 1796400000}]',
        )
        report = build(config_for(fake.url, tmp_path), now_ts=1796301525)
    assert rows and report.events == 0
    assert any("not an object" in w for w in report.warnings)
    assert any("without a valid id" in w for w in report.warnings)


def test_credentials_in_the_instance_url_never_reach_output_or_errors(tmp_path):
    with FakeGancio() as fake:
        secret = fake.url.replace("http://", "http://user:s3cret@")
        build(config_for(secret, tmp_path), now_ts=1796301525)
        fake.fail("/api/events", status=404, body="Not Found")
        with pytest.raises(Exception) as caught:
            build(config_for(secret, tmp_path), now_ts=1796301525)
    assert "s3cret" not in str(caught.value)
    for file in (tmp_path / "public").rglob("*"):
        if file.is_file():
            assert b"s3cret" not in file.read_bytes(), file
    assert not any("s3cret" in str(p) for p in (tmp_path / "cache").rglob("*"))


def test_offline_warns_when_the_cache_was_fetched_with_other_filters(tmp_path):
    with FakeGancio() as fake:
        build(config_for(fake.url, tmp_path, tags=["musica"]), now_ts=1796301525)
        url = fake.url
    report = build(config_for(url, tmp_path), mode="offline", now_ts=1796301525)
    assert any("other filters (tags)" in w for w in report.warnings)
    same = build(config_for(url, tmp_path, tags=["musica"]), mode="offline", now_ts=1796301525)
    assert not any("other filters" in w for w in same.warnings)


def test_offline_with_narrower_filters_than_the_cache_does_not_warn(tmp_path):
    with FakeGancio() as fake:
        build(config_for(fake.url, tmp_path, show_recurrent=True), now_ts=1796301525)
        url = fake.url
    for narrower in ({"tags": ["musica"]}, {"places": ["1"]}, {"show_recurrent": False}):
        config = config_for(url, tmp_path, allow_shrink=True, **narrower)
        report = build(config, mode="offline", now_ts=1796301525)
        assert report.events and not any("other filters" in w for w in report.warnings)
    wider = build(
        config_for(url, tmp_path, end="+3d", allow_shrink=True), mode="offline", now_ts=1796301525
    )
    assert any("other filters (end)" in w for w in wider.warnings)


def test_unknown_place_id_is_a_config_error(tmp_path):
    with FakeGancio() as fake, pytest.raises(ConfigError, match="no place numbered '9999'"):
        build(config_for(fake.url, tmp_path, places=["9999"]), now_ts=1796301525)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"start": "+10d", "end": "-10d"}, "end: '-10d' is before start '+10d'"),
        ({"end": "90"}, "end: '90' is not a time"),
        ({"start": "+2x"}, "like 2026-12-31 or 2026-12-31T21:00, or days, weeks or hours"),
        ({"start": "2026-02-30"}, "'2026-02-30' is not a date and time of the calendar (day"),
        ({"end": "2026-12-31T25:00"}, "of the calendar (hour must be in 0..23)"),
        ({"places": [1.5]}, "places: expected a list of names or ids, got 1.5"),
        ({"end": "+100000000d"}, "end: '+100000000d' is too far away"),
        ({"base_url": "https://example.org/a?b=1#c"}, "has a query or fragment"),
        ({"base_url": "https://exa mple.org/"}, "contains spaces"),
        ({"base_url": "https://example.org:99999/"}, "has an invalid port"),
        ({"instance": "https://g.example.org:0"}, "has an invalid port"),
        ({"instance": "https://g.example.org:x/"}, "has an invalid port"),
        ({"instance": "https://g.example.org\\@evil.example/"}, "contains a backslash"),
        ({"base_url": "https://u:p@example.org/"}, "contains a user name or password"),
        ({"instance": "https://g.example.org/?x=1"}, "has a query or fragment"),
        ({"tags": [""]}, "tags: contains an empty name"),
        ({"templates": "missing"}, "templates: missing is not a folder"),
    ],
)
def test_config_mistakes_are_named(overrides, message):
    with pytest.raises(ConfigError) as caught:
        load_config(None, env=MINIMAL, overrides=overrides)
    assert any(message in p for p in caught.value.problems), caught.value.problems


def test_unknown_key_suggests_the_right_one(tmp_path):
    (tmp_path / "gancio-site.toml").write_text('base-url = "https://example.org/"\nInstanc = "x"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "gancio-site.toml", env={})
    assert "base-url: unknown key in" in caught.value.problems[0]
    assert "(did you mean 'base_url'?)" in caught.value.problems[0]
    assert "(did you mean 'instance'?)" in caught.value.problems[1]


def test_config_that_is_not_utf8_is_a_config_error(tmp_path):
    (tmp_path / "gancio-site.toml").write_bytes(b"\xff\xfe")
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: config: cannot read gancio-site.toml")


def test_broken_theme_template_is_one_error_line(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "event.html").write_text(
        "{% extends 'base.html' %}{% block content %}{{ 1/0 }}{% endblock %}"
    )
    result = CliRunner().invoke(main, ["build", "--demo"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: template ")
    assert "event.html, line 1: division by zero" in result.stderr
    (tmp_path / "templates" / "event.html").write_text(
        "{% extends 'base.html' %}{% block content %}{{ event.title }}{% endblock %}"
    )
    # The broken file is one the page uses, not the page: still named, with its line.
    (tmp_path / "templates" / "base.html").write_bytes(b"<html>\n<p>caf\xe9</p>\n")
    result = CliRunner().invoke(main, ["build", "--demo"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: template templates/base.html, line 2: not UTF-8 (invalid continuation byte);"
        " save it as UTF-8"
    ]


def test_a_missing_template_is_named_with_where_it_was_looked_for(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "base.html").write_text('{# mine #}\n{% include "nothere.html" %}\n')
    result = CliRunner().invoke(main, ["build", "--demo"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: template templates/base.html, line 2: no template named 'nothere.html' "
        "(looked in templates/ and the default theme)\n"
    )
    (tmp_path / "site" / "tpl").mkdir(parents=True)
    (tmp_path / "site" / "gancio-site.toml").write_text('templates = "tpl"\n')
    (tmp_path / "site" / "tpl" / "event.html").write_text(
        '{% extends "default/event.html" %}\n{% block content %}\n'
        '{% include ["a.html", "b.html"] %}{% endblock %}\n'
    )
    result = CliRunner().invoke(main, ["build", "--demo", "-c", "site/gancio-site.toml"])
    assert result.exit_code == 1
    # Said from the working folder, as the user would type it.
    assert result.stderr == (
        "Error: template site/tpl/event.html, line 3: no template named 'a.html' or "
        "'b.html' (looked in site/tpl/ and the default theme)\n"
    )


def test_links_in_static_are_not_followed(tmp_path):
    (tmp_path / "static").mkdir()
    (tmp_path / "secret.txt").write_text("private")
    (tmp_path / "static" / "pw").symlink_to(tmp_path / "secret.txt")
    result = CliRunner().invoke(main, ["build", "--demo"])
    assert result.exit_code == 0
    assert not (tmp_path / "public" / "static" / "pw").exists()


def test_verbose_and_quiet_together_is_a_usage_error():
    result = CliRunner().invoke(main, ["build", "--demo", "-v", "-q"])
    assert result.exit_code == 2


def test_an_empty_or_gutted_fetch_never_replaces_the_site(tmp_path):
    with FakeGancio() as fake:
        config = config_for(fake.url, tmp_path)
        build(config, now_ts=1796301525)
        before = (tmp_path / "public" / "events.json").read_bytes()
        fake.fail("/api/events", status=200, body="[]", content_type="application/json")
        with pytest.raises(
            OutputError, match=r"this build has 0 events where the site in .* has 30"
        ):
            build(config, now_ts=1796301525)
        assert (tmp_path / "public" / "events.json").read_bytes() == before
        gutted = config_for(fake.url, tmp_path, max=10)
        with pytest.raises(OutputError, match="has 10 events where"):
            build(gutted, now_ts=1796301525)
        assert (
            build(
                config_for(fake.url, tmp_path, max=10, allow_shrink=True), now_ts=1796301525
            ).events
            == 10
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "public"]


def test_the_share_of_events_a_build_may_lose_is_configurable(tmp_path):
    with FakeGancio() as fake:
        build(config_for(fake.url, tmp_path), now_ts=1796301525)  # 30 events
        before = (tmp_path / "public" / "events.json").read_bytes()
        strict = config_for(fake.url, tmp_path, max=20, shrink_limit=0.8)  # fewer than 24
        with pytest.raises(OutputError, match=r"has 20 events where .* has 30"):
            build(strict, now_ts=1796301525)
        assert (tmp_path / "public" / "events.json").read_bytes() == before
        lenient = config_for(fake.url, tmp_path, max=20, shrink_limit=0.6)  # 18 or more
        assert build(lenient, now_ts=1796301525).events == 20


def test_the_command_line_refuses_to_publish_an_empty_list(tmp_path):
    env = {"SOURCE_DATE_EPOCH": "1796301525"}
    with FakeGancio() as fake:
        args = ["build", "--instance", fake.url, "--base-url", "https://example.org/"]
        first = CliRunner().invoke(main, args, env=env)
        assert first.exit_code == 0, first.output
        site = tmp_path / "public"
        before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
        cache = tmp_path / ".gancio-cache"
        cached = {p: p.read_bytes() for p in cache.rglob("*.json") if p.is_file()}
        fake.fail("/api/events", status=200, body="[]", content_type="application/json")
        result = CliRunner().invoke(main, args, env=env)
    # The refused list is not kept either: the cache still makes the last good site.
    assert {p: p.read_bytes() for p in cache.rglob("*.json") if p.is_file()} == cached
    assert not list(cache.rglob("*.kept"))
    offline = CliRunner().invoke(main, [*args, "--offline"], env=env)
    assert offline.exit_code == 0, offline.output
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: this build has 0 events where the site in public has 30; "
        "refusing to publish it (is the instance or a filter wrong?); "
        "rebuild with --allow-shrink if that is right"
    ]
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".gancio-cache", "public"]


def test_a_refused_build_says_which_rows_it_could_not_use(tmp_path):
    env = {"SOURCE_DATE_EPOCH": "1796301525"}
    with FakeGancio() as fake:
        args = ["build", "--instance", fake.url, "--base-url", "https://example.org/"]
        assert CliRunner().invoke(main, args, env=env).exit_code == 0
        body = '[{"id": 1}, {"id": 2, "title": "x", "start_datetime": "soon"}]'
        fake.fail("/api/events", status=200, body=body, content_type="application/json")
        result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Warning: event 1: skipped: start_datetime is not a time",
        "Warning: event 2: skipped: start_datetime is not a time",
        "Error: this build has 0 events where the site in public has 30; "
        "refusing to publish it (is the instance or a filter wrong?); "
        "rebuild with --allow-shrink if that is right",
    ]


def test_a_new_checkout_with_the_cache_is_guarded_too(tmp_path):
    # CI keeps the cache, not the output: the last build kept there is the one to compare.
    with FakeGancio() as fake:
        build(config_for(fake.url, tmp_path), now_ts=1796301525)
        shutil.rmtree(tmp_path / "public")
        typo = config_for(fake.url, tmp_path, tags=["Musica"])  # the tag is "musica"
        with pytest.raises(
            OutputError, match=r"0 events where the last build \(kept in .*\) has 30"
        ):
            build(typo, now_ts=1796301525)
        assert not (tmp_path / "public").exists()
        # Another site from the same folder and cache, with its own filter and output: the
        # cache's last build chose its events another way, so fewer is no shrink.
        other = replace(
            config_for(fake.url, tmp_path, tags=["musica"]), output=tmp_path / "out-musica"
        )
        report = build(other, now_ts=1796301525)
        assert 0 < report.events < 30 * 0.5
        assert (tmp_path / "out-musica" / "index.html").is_file()


def test_a_demo_tried_first_does_not_stop_the_first_real_build(tmp_path):
    # The README suggests the demo first: its 30 events are another instance's.
    from fake_gancio import load_fixture

    assert CliRunner().invoke(main, ["build", "--demo"]).exit_code == 0
    with FakeGancio(load_fixture()["events"][:8]) as fake:
        report = build(config_for(fake.url, tmp_path), now_ts=1796301525)
        assert 0 < report.events < 30 * 0.5
        fake.events[:] = []  # and then this instance's own site is guarded as usual
        with pytest.raises(OutputError, match=r"0 events where the site in .* has"):
            build(config_for(fake.url, tmp_path), now_ts=1796301525)


def test_an_empty_instance_after_the_demo_does_not_replace_it(tmp_path):
    # A wrong instance URL after trying the demo: its site is not emptied either.
    assert CliRunner().invoke(main, ["build", "--demo"]).exit_code == 0
    before = sorted(p.name for p in (tmp_path / "public" / "event").iterdir())
    with (
        FakeGancio([]) as fake,
        pytest.raises(OutputError, match=r"0 events where the site in .* has 30"),
    ):
        build(config_for(fake.url, tmp_path), now_ts=1796301525)
    assert sorted(p.name for p in (tmp_path / "public" / "event").iterdir()) == before


def test_a_second_build_at_the_same_time_is_refused(tmp_path):
    import os

    from gancio_site.output import BuildLock

    (tmp_path / ".public.lock").write_text(str(os.getppid()))  # a live process holds it
    result = CliRunner().invoke(main, ["build", "--demo"])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: another build (process {os.getppid()}) is writing {tmp_path.resolve()}/public;"
    )
    (tmp_path / ".public.lock").write_text("999999999")  # a build that was killed
    result = CliRunner().invoke(main, ["build", "--demo"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / ".public.lock").exists()
    with BuildLock(tmp_path / "public"):
        assert (tmp_path / ".public.lock").read_text() == str(os.getpid())


def test_a_site_base_template_adds_to_the_head_of_every_page(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "base.html").write_text(
        '{% extends "default/base.html" %}{% block head %}'
        '<link rel="stylesheet" href="{{ url(\'static/extra.css\') }}">{% endblock %}'
    )
    result = CliRunner().invoke(main, ["build", "--demo"])
    assert result.exit_code == 0, result.output
    pages = list((tmp_path / "public").rglob("*.html"))
    pages = [p for p in pages if p.parent.name != "embed" or p.name == "builder.html"]
    assert len(pages) > 50
    for page in pages:
        assert "static/extra.css" in page.read_text("utf-8"), page


def test_a_cache_that_cannot_be_written_is_a_warning_not_a_failed_published_build(tmp_path):
    # The site is published before the cache is tidied: a cache that cannot be written
    # may cost speed, never an exit status that says the old site is still there.
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    with FakeGancio() as fake:
        args = ["build", "--instance", fake.url, "--base-url", "https://example.org/"]
        # Inside a file: no folder can be made there (a cache that is itself a file is
        # refused before anything is fetched: test_cli).
        result = CliRunner().invoke(main, [*args, "--cache", "notes.txt/cache"])
    assert result.exit_code == 0, result.output
    assert "Warning:" in result.stderr and "Error" not in result.stderr
    assert "Built " in result.stdout
    assert (tmp_path / "public" / "index.html").is_file()


@pytest.mark.parametrize(
    ("output", "says"),
    [
        ("/proc/gancio-site-public", "cannot write in /proc: it takes no new files or folders"),
        (
            "/proc/sys/gancio-site-public",
            "cannot write in /proc/sys: it takes no new files or folders",
        ),
    ],
)
def test_an_output_folder_that_cannot_be_made_is_one_clear_error(tmp_path, output, says):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    result = CliRunner().invoke(main, ["build", "--demo", "-o", output])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: ") and says in line and "unexpected" not in line
    assert "choose " in line and "output folder" in line


def run_as_the_owner_only(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command as a user whom permissions bind (root ignores them): as is, or, for
    root, in a user namespace, where the files stay its own but it has no privilege."""
    command = [sys.executable, "-m", "gancio_site", *args]
    if os.geteuid() == 0:
        if subprocess.run(["unshare", "--user", "true"], capture_output=True).returncode:
            pytest.skip("running as root, and `unshare --user` is not allowed here")
        command = ["unshare", "--user", *command]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)


def beside(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name not in ("gancio-site.toml",))


def test_a_read_only_output_folder_is_replaced_keeping_its_permissions(tmp_path):
    """`chmod 555 public`: the new site replaces it with the same permissions, and the old
    site (which cannot be emptied as it is) is removed whole; nothing is left beside it."""
    assert run_as_the_owner_only(tmp_path, "build", "--demo", "-q").returncode == 0
    (tmp_path / "public").chmod(0o555)
    for language in ("de", "it"):
        result = run_as_the_owner_only(tmp_path, "build", "--demo", "--language", language)
        assert result.returncode == 0 and result.stderr == "", result.stderr
        assert f'lang="{language}"' in (tmp_path / "public" / "index.html").read_text()
        assert stat.S_IMODE((tmp_path / "public").stat().st_mode) == 0o555
        assert beside(tmp_path) == ["public"]
    (tmp_path / "public").chmod(0o755)


def test_read_only_folders_in_the_site_do_not_stop_later_builds(tmp_path):
    """A folder of the site made read-only comes back, with the old site, as the start of
    a later build (the spare tree in the cache): it is written all the same."""
    with FakeGancio() as fake:
        args = ["build", "--instance", fake.url, "--base-url", "https://example.org/"]
        for title in ("One", "Two"):
            assert run_as_the_owner_only(tmp_path, *args, "--title", title).returncode == 0
        for folder in ("public/event", "public/tag", "public/static"):
            (tmp_path / folder).chmod(0o555)
        for title in ("Three", "Four", "Five"):
            result = run_as_the_owner_only(tmp_path, *args, "--title", title)
            assert result.returncode == 0 and "Error" not in result.stderr, result.stderr
            assert f"<title>{title}" in (tmp_path / "public" / "index.html").read_text()
            assert beside(tmp_path) == [".gancio-cache", "public"]
    for folder in tmp_path.rglob("*"):
        if folder.is_dir():
            folder.chmod(0o755)


def test_what_cannot_be_removed_is_named_in_a_warning(tmp_path):
    """A folder of another user inside a tree to remove (its owner alone may open it up):
    the rest goes, and a warning names the tree; nothing is left behind silently."""
    if os.geteuid() != 0:
        pytest.skip("making a folder of another user needs root")
    tree = tmp_path / ".public.old-1"
    (tree / "theirs").mkdir(parents=True)
    (tree / "theirs" / "index.html").write_text("x")
    (tree / "ours.html").write_text("x")
    os.chown(tree / "theirs", 65534, 65534)
    (tree / "theirs").chmod(0o555)
    code = (
        "import sys; from gancio_site.removal import remove_tree; print(remove_tree(sys.argv[1]))"
    )
    result = subprocess.run(
        ["unshare", "--user", sys.executable, "-c", code, str(tree)],
        capture_output=True,
        text=True,
    )
    if result.returncode and "unshare" in result.stderr:
        pytest.skip("`unshare --user` is not allowed here")
    assert result.stdout == "False\n", result.stderr
    assert f"could not remove {tree} (some files in it cannot be deleted)" in result.stderr
    assert sorted(p.name for p in tree.iterdir()) == ["theirs"]  # the rest is gone
    (tree / "theirs").chmod(0o755)
