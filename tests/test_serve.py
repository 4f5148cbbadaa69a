"""`gancio-site serve`: rebuilds on saves without refetching, error page, ports, paths (B12).

The server runs in a subprocess as a user starts it; tests poll over HTTP with short sleeps
and generous timeouts. Every answer carries ``X-Gancio-Site-Build``, the number of builds
so far, which is how the tests count rebuilds.
"""

from __future__ import annotations

import http.client
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_gancio import FIXED_NOW, FakeGancio

from gancio_site.cli import main
from gancio_site.serve import error_page, inject, locate, scan


def edit(mark: object) -> str:
    """A site ``index.html`` extending the default one, showing ``EDIT-<mark>``."""
    return (
        '{% extends "default/index.html" %}\n'
        f"{{% block content %}}<p>EDIT-{mark}</p>{{% endblock %}}\n"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check: Callable[[], object], timeout: float = 15.0) -> object:
    """Return the first truthy ``check()``, polling every 50 ms; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


class Served:
    """A ``gancio-site serve`` subprocess and what it printed."""

    def __init__(
        self, args: list[str], cwd: Path, port: int | None = None, stdin: int | None = None
    ) -> None:
        self.port = port or free_port()
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(FIXED_NOW), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "gancio_site.cli", "serve", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*command, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=_collect, args=(stream, lines), daemon=True).start()

    def ready(self) -> Served:
        started = wait_until(
            lambda: (
                any(line.startswith("Serving ") for line in self.out)
                or self.proc.poll() is not None
            )
        )
        assert started and self.proc.poll() is None, (self.out, self.err)
        return self

    def get(self, path: str = "/") -> tuple[int, dict[str, str], str]:
        """GET ``path`` exactly as written (no normalising): status, headers, body."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path, headers={"Accept": "text/html"})
            response = connection.getresponse()
            body = response.read().decode("utf-8", "replace")
            return response.status, dict(response.getheaders()), body
        finally:
            connection.close()

    def builds(self) -> int:
        return int(self.get("/robots.txt")[1]["X-Gancio-Site-Build"])

    def settle(self, quiet: float = 1.0, timeout: float = 20.0) -> int:
        """Wait until no build started for ``quiet`` seconds; return the number of builds."""
        deadline = time.monotonic() + timeout
        count = self.builds()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            count, before = self.builds(), count
            if count == before:
                break
        return count

    def wait_for(self, text: str, path: str = "/", timeout: float = 15.0) -> bool:
        return bool(wait_until(lambda: text in self.get(path)[2], timeout))

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=15)


def _collect(stream: Iterable[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """Start ``gancio-site serve`` subprocesses; every one still running is killed at the end."""
    started: list[Served] = []
    # A shell's background job starts with SIGINT ignored, and children inherit that: give
    # the servers a normal Ctrl-C (exec resets a Python handler to the default).
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def start(
        *args: str, cwd: Path | None = None, port: int | None = None, stdin: int | None = None
    ) -> Served:
        served = Served(list(args), cwd or Path.cwd(), port, stdin)
        started.append(served)
        return served

    yield start
    for served in started:
        if served.proc.poll() is None:
            served.proc.kill()
            served.proc.wait()
    if ignored:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def site_for(gancio: FakeGancio, folder: Path, **extra: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f'instance = "{gancio.url}"', 'base_url = "https://example.org/"']
    lines += [f"{key} = {value}" for key, value in extra.items()]
    (folder / "gancio-site.toml").write_text("\n".join(lines) + "\n")
    (folder / "templates").mkdir(exist_ok=True)
    return folder


# -- against a running server


def test_template_saves_rebuild_quickly_without_asking_gancio_and_errors_recover(
    gancio, tmp_path, serve
):
    site = site_for(gancio, tmp_path)
    served = serve().ready()
    status, headers, body = served.get("/")
    assert status == 200 and headers["X-Gancio-Site-Build"] == "1"
    assert "/__gancio-site__/version" in body  # the reload script
    assert not (site / "public" / "index.html").read_text().count("__gancio-site__")
    asked = len(gancio.requests)
    assert asked > 0

    (site / "templates" / "index.html").write_text(edit(1))
    assert served.wait_for("EDIT-1", timeout=2.0)

    (site / "templates" / "index.html").write_text("{% extends 'base.html' %}\n{% if %}\n")
    assert wait_until(lambda: served.get("/")[0] == 500)
    status, _, body = served.get("/tag/")
    assert status == 500  # every HTML page shows the error
    assert "<code>templates/index.html</code>, line <strong>2</strong>" in body
    assert served.get("/static/style.css")[0] == 200  # the last good build is still served
    errors = [line for line in served.err if line.startswith("Error:")]
    assert errors == [
        "Error: template templates/index.html, line 2: "
        + ("Expected an expression, got 'end of statement block'\n")
    ]

    (site / "templates" / "index.html").write_text(edit(2))
    assert served.wait_for("EDIT-2")
    assert served.get("/")[0] == 200
    assert len(gancio.requests) == asked  # no template save fetched anything
    assert served.stop() == 0


def test_b12_no_rebuild_loop_from_the_parent_folder_and_the_last_save_wins(tmp_path, serve):
    site = tmp_path / "site"
    (site / "templates").mkdir(parents=True)
    (site / "gancio-site.toml").write_text('output = "public"\ntemplates = "templates"\n')
    served = serve("--demo", "-c", "site/gancio-site.toml", cwd=tmp_path).ready()
    assert (site / "public" / "index.html").is_file()
    assert not (tmp_path / "public").exists()

    before = served.builds()
    time.sleep(5)  # idle: the build's own writes under site/public/ must not trigger one
    assert served.builds() == before == 1
    assert len([line for line in served.out if line.startswith("Built ")]) == 1

    page = site / "templates" / "index.html"
    page.write_text(edit("saved"))
    time.sleep(0.3)
    page.write_text(edit("undone"))
    time.sleep(0.3)
    page.write_text(edit("final"))
    assert served.wait_for("EDIT-final")
    settled = served.settle()  # a save landing during a build is built once more
    assert "EDIT-final" in served.get("/")[2]
    assert 2 <= settled <= 4  # one build per save at most, none of its own
    assert served.stop() == 0


def test_busy_port_one_line_exit_1(tmp_path, serve):
    first = serve("--demo").ready()
    second = serve("--demo", port=first.port)
    assert second.proc.wait(timeout=15) == 1
    time.sleep(0.2)  # let the reader threads collect the last lines
    assert len(second.err) == 1, second.err
    hint = re.fullmatch(
        rf"Error: port {first.port} is already in use; try --port (\d+)\n", second.err[0]
    )
    assert hint and int(hint[1]) > first.port
    assert second.out == []
    assert first.get("/")[0] == 200


def test_ctrl_c_exits_0_and_the_port_is_free_at_once(tmp_path, serve):
    first = serve("--demo").ready()
    assert first.get("/")[0] == 200  # leaves a connection behind in TIME_WAIT
    assert first.stop() == 0
    assert not any("Traceback" in line for line in first.err), first.err
    again = serve("--demo", port=first.port).ready()
    assert again.get("/")[0] == 200
    assert again.stop() == 0


def test_paths_outside_the_output_folder_get_404(tmp_path, serve):
    (tmp_path / "secret.txt").write_text("SECRET")
    served = serve("--demo").ready()
    (tmp_path / "public" / "link.txt").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "public" / "linkdir").symlink_to(tmp_path)
    for path in (
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/static/..%2f..%2fsecret.txt",
        "/static/%2e%2e/%2e%2e/secret.txt",
        "//" + str(tmp_path / "secret.txt"),
        "/%2F" + str(tmp_path / "secret.txt").lstrip("/"),
        "/link.txt",
        "/linkdir/secret.txt",
        "/..\\secret.txt",
        "/secret.txt%00.html",
    ):
        status, _, body = served.get(path)
        assert status == 404, path
        assert "SECRET" not in body, path
    assert served.get("/static/style.css")[0] == 200
    assert served.get("/tag")[0] == 302  # folders get their slash


def test_config_changes_reload_and_refetch_only_for_filters(gancio, tmp_path, serve):
    site = site_for(gancio, tmp_path, title='"First title"')
    served = serve().ready()
    asked = len(gancio.requests)
    (site / "static").mkdir()
    (site / "static" / "style.css").write_text("body { color: red }")
    assert served.wait_for("color: red", "/static/style.css"), (served.out, served.err)

    site_for(gancio, tmp_path, title='"Second title"')
    assert served.wait_for("Second title")
    assert len(gancio.requests) == asked  # only the title changed

    site_for(gancio, tmp_path, title='"Second title"', tags='["musica"]')
    assert wait_until(lambda: any(r.params.get("tags") == ["musica"] for r in gancio.requests))

    site_for(gancio, tmp_path, max="-1")
    assert wait_until(lambda: served.get("/")[0] == 500), (served.out, served.err)
    assert "max: expected a whole number of at least 1, got -1" in served.get("/")[2]
    assert served.err[-1] == "Error: max: expected a whole number of at least 1, got -1\n"

    (site / "templates" / "index.html").write_text(edit("while broken"))
    assert wait_until(lambda: sum(line.startswith("Error: max:") for line in served.err) == 2)
    assert served.get("/")[0] == 500  # no build with half of the settings

    site_for(gancio, tmp_path, title='"Fixed"')
    assert served.wait_for("EDIT-while broken")
    assert served.stop() == 0


def test_refresh_fetches_again_on_the_interval(gancio, tmp_path, serve):
    site_for(gancio, tmp_path)
    served = serve("--refresh", "0.01").ready()  # 0.6 s
    asked = len(gancio.requests)
    assert wait_until(lambda: len(gancio.requests) > asked)
    assert wait_until(lambda: served.builds() > 1)
    assert wait_until(
        lambda: any(
            line.startswith(("Events fetched again: Built ", "Events fetched again: Up to date: "))
            for line in served.out
        )
    )
    assert served.stop() == 0


def test_r_and_enter_in_a_terminal_fetches_again(gancio, tmp_path, serve):
    site_for(gancio, tmp_path)
    terminal, stdin = pty.openpty()
    try:
        served = serve(stdin=stdin).ready()
        assert "Type r + Enter to fetch the events again.\n" in served.out
        asked = len(gancio.requests)
        os.write(terminal, b"r\n")
        assert wait_until(lambda: len(gancio.requests) > asked)
        assert served.stop() == 0
    finally:
        os.close(terminal)
        os.close(stdin)


def test_bad_instance_at_start_exits_1(tmp_path, serve):
    fake = FakeGancio().start()
    fake.fail("/api/events", status=404, body="Not Found", times=-1)
    try:
        served = serve("--instance", fake.url, "--base-url", "https://example.org/")
        assert served.proc.wait(timeout=15) == 1
    finally:
        fake.stop()
    time.sleep(0.2)
    assert [line[:7] for line in served.err] == ["Error: "]


def test_a_folder_build_refuses_is_neither_built_nor_served(tmp_path, serve):
    foreign = tmp_path / "theirs"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("THEIRS")
    served = serve("--demo", "-o", str(foreign))
    assert served.proc.wait(timeout=15) == 2
    time.sleep(0.2)
    assert served.err == [
        f"Error: output: folder {foreign} is not empty and was not made by gancio-site; "
        "it would be replaced whole: empty it or choose another `output`\n"
    ]
    assert served.out == [] and (foreign / "keep.txt").read_text() == "THEIRS"


def test_a_config_naming_a_foreign_folder_keeps_the_site_served(tmp_path, serve):
    (tmp_path / "gancio-site.toml").write_text('title = "Mine"\n')
    foreign = tmp_path / "theirs"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("THEIRS")
    served = serve("--demo").ready()
    assert served.get("/")[0] == 200
    (tmp_path / "gancio-site.toml").write_text(f'title = "Mine"\noutput = "{foreign}"\n')
    assert wait_until(lambda: served.get("/")[0] == 500), (served.out, served.err)
    assert "was not made by gancio-site" in served.get("/")[2]
    status, _, body = served.get("/keep.txt")  # still the site's own folder
    assert status != 200 and "THEIRS" not in body
    assert served.get("/robots.txt")[0] == 200
    assert (foreign / "keep.txt").read_text() == "THEIRS"
    assert served.stop() == 0


# -- the parts, without a server


def test_locate_keeps_requests_inside_the_output(tmp_path):
    root = tmp_path / "public"
    (root / "tag" / "tecnología").mkdir(parents=True)
    (root / "index.html").write_text("home")
    (root / "tag" / "tecnología" / "index.html").write_text("tag")
    (tmp_path / "secret").write_text("no")
    assert locate(root, "/", "/") == (root / "index.html").resolve()
    assert (
        locate(root, "/", "/tag/tecnolog%C3%ADa/")
        == (root / "tag" / "tecnología" / "index.html").resolve()
    )
    assert locate(root, "/", "/tag/tecnolog%C3%ADa") == "/tag/tecnolog%C3%ADa/"
    assert locate(root, "/agenda/", "/") == "/agenda/"
    assert locate(root, "/agenda/", "/agenda") == "/agenda/"
    assert locate(root, "/agenda/", "/agenda/") == (root / "index.html").resolve()
    assert locate(root, "/agenda/", "/index.html") is None
    for bad in ("/../secret", "/%2e%2e/secret", "/a/../../secret", "//etc/passwd", "/%ff"):
        assert locate(root, "/", bad) is None, bad


def test_scan_never_walks_output_or_cache(tmp_path):
    for folder in ("templates", "templates/public", "templates/.hidden", "cache"):
        (tmp_path / folder).mkdir()
    (tmp_path / "templates" / "index.html").write_text("x")
    (tmp_path / "templates" / "index.html~").write_text("x")
    (tmp_path / "templates" / "public" / "index.html").write_text("x")
    (tmp_path / "templates" / ".hidden" / "x.html").write_text("x")
    skip = {str((tmp_path / "templates" / "public").resolve())}
    found = scan([tmp_path / "templates", tmp_path / "nowhere"], skip)
    assert list(found) == [str(tmp_path / "templates" / "index.html")]


def test_reload_script_goes_before_the_end_of_body():
    assert inject(b"<p>x</p></BODY></html>", b"<s>") == b"<p>x</p><s></BODY></html>"
    assert inject(b"<p>x</p>", b"<s>") == b"<p>x</p><s>"


def test_error_page_names_file_and_line_escaped():
    page = error_page("template /s/templates/a.html, line 3: '<b>' is undefined").decode()
    assert "<code>/s/templates/a.html</code>, line <strong>3</strong>" in page
    assert "&#x27;&lt;b&gt;&#x27; is undefined" in page


def test_runtime_template_errors_name_file_and_line(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text(
        '{% extends "base.html" %}\n{% block content %}\n{{ 1 + "a" }}\n{% endblock %}\n'
    )
    result = CliRunner().invoke(main, ["build", "--demo"])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: template {Path('templates') / 'index.html'}, line 3: "
        "unsupported operand type(s) for +: 'int' and 'str'\n"
    )


def test_an_empty_list_at_start_is_refused_and_not_kept_in_the_cache(gancio, tmp_path, serve):
    from gancio_site.build import build
    from gancio_site.config import load_config

    site = site_for(gancio, tmp_path)
    config = load_config(site / "gancio-site.toml")
    build(config, now_ts=FIXED_NOW)  # the published site: 30 events
    published = {p: p.read_bytes() for p in (site / "public").rglob("*") if p.is_file()}
    cached = {p: p.read_bytes() for p in (site / ".gancio-cache").rglob("*.json")}
    gancio.fail("/api/events", status=200, body="[]", content_type="application/json", times=-1)
    served = serve(cwd=site).ready()
    assert served.wait_for("refusing to publish it"), (served.out, served.err)
    assert served.stop() == 0
    assert {p: p.read_bytes() for p in (site / "public").rglob("*") if p.is_file()} == published
    assert {p: p.read_bytes() for p in (site / ".gancio-cache").rglob("*.json")} == cached
    assert not list((site / ".gancio-cache").rglob("*.kept*"))
    assert build(config, mode="offline", now_ts=FIXED_NOW + 60).events == 30
