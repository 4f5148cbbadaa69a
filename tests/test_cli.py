"""The command line: exact messages and exit codes (0 built, 1 failed, 2 usage/config)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_gancio import FakeGancio

from gancio_site.cli import main

ROOT = Path(__file__).parent.parent


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def test_build_against_instance_prints_one_summary_line(gancio, tmp_path):
    result = run(
        "build",
        "--instance",
        gancio.url,
        "--base-url",
        "https://example.org/",
        env={"SOURCE_DATE_EPOCH": "1796301525"},
    )
    assert result.exit_code == 0, result.output
    match = re.fullmatch(
        r"Built (\d+) pages, 64 feeds, 62 calendars from 30 events in \d+\.\d\d s into public\n",
        result.stdout,
    )
    assert match, result.stdout
    pages = list(Path("public").rglob("*.html"))
    assert int(match.group(1)) == len(pages)
    assert result.stderr == ""


def test_config_problems_exit_2_one_line_each(tmp_path):
    (tmp_path / "gancio-site.toml").write_text('instance = "nope"\nmax = -1\n')
    result = run("build")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: instance: 'nope' is not an http(s) URL",
        "Error: max: expected a whole number of at least 1, got -1",
        "Error: base_url: missing; set it in gancio-site.toml, GANCIO_BASE_URL or --base-url "
        "(the public URL of the site, e.g. https://example.org/)",
    ]
    assert result.stdout == ""


def test_an_unreadable_config_file_is_the_only_error(tmp_path):
    (tmp_path / "gancio-site.toml").write_text('instance = "https://g.example"\nbase_url = \n')
    result = run("build")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "gancio-site.toml" in lines[0]


def test_usage_error_exits_2():
    result = run("build", "--no-such-flag")
    assert result.exit_code == 2
    assert "No such option '--no-such-flag'" in result.stderr


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--no-such-flag"], "Error: No such option '--no-such-flag' (see `gancio-site --help`)"),
        (["bogus"], "Error: No such command 'bogus' (see `gancio-site --help`)"),
        (
            ["build", "--no-such-flag"],
            "Error: No such option '--no-such-flag' (see `gancio-site build --help`)",
        ),
        (
            ["build", "--tags", "x"],
            "Error: No such option '--tags': did you mean one of: '--start', '--tag'? "
            "(see `gancio-site build --help`)",
        ),
        (
            ["build", "--tag"],
            "Error: Option '--tag' requires an argument (see `gancio-site build --help`)",
        ),
        (
            ["serve", "--port", "abc"],
            "Error: Invalid value for '--port': 'abc' is not a valid integer range "
            "(see `gancio-site serve --help`)",
        ),
        (
            ["serve", "--port", "70000"],
            "Error: Invalid value for '--port': 70000 is not in the range 1<=x<=65535 "
            "(see `gancio-site serve --help`)",
        ),
        (  # a port the system picks would not be the one the pages link to
            ["serve", "--port", "0"],
            "Error: Invalid value for '--port': 0 is not in the range 1<=x<=65535 "
            "(see `gancio-site serve --help`)",
        ),
        (
            ["serve", "--refresh", "0"],
            "Error: Invalid value for '--refresh': 0.0 is not in the range x>0 "
            "(see `gancio-site serve --help`)",
        ),
        (
            ["init", "a", "b"],
            "Error: Got unexpected extra argument (b) (see `gancio-site init --help`)",
        ),
        (
            ["login", "--username"],
            "Error: Option '--username' requires an argument (see `gancio-site login --help`)",
        ),
        (
            ["whoami", "extra"],
            "Error: Got unexpected extra argument (extra) (see `gancio-site whoami --help`)",
        ),
        (
            ["logout", "--nope"],
            "Error: No such option '--nope' (see `gancio-site logout --help`)",
        ),
        (
            ["build", "--demo", "--offline"],
            "Error: --offline and --demo cannot be combined",
        ),
        (
            ["build", "--demo", "--instance", "https://gancio.example.org"],
            "Error: --instance and --demo cannot be combined (the demo is offline)",
        ),
        (
            ["serve", "--demo", "--instance", "https://gancio.example.org"],
            "Error: --instance and --demo cannot be combined (the demo is offline)",
        ),
        (
            ["publish", "nothere.md"],
            "Error: Invalid value for '[PATHS]...': Path 'nothere.md' does not exist "
            "(see `gancio-site publish --help`)",
        ),
    ],
)
def test_every_usage_error_is_one_error_line(args, line):
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""


def test_a_mistyped_flag_gets_its_suggestion_on_the_same_line():
    result = run("bulid", "--demo")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: No such command 'bulid'. Did you mean 'build'? (see `gancio-site --help`)\n"
    )


def test_no_command_still_shows_the_help():
    result = run()
    assert "Usage: gancio-site [OPTIONS] COMMAND [ARGS]..." in result.output
    assert "build" in result.output and "Error:" not in result.output


def test_failed_build_exits_1_with_one_error_line(tmp_path):
    fake = FakeGancio().start()
    fake.fail("/api/events", status=404, body="Not Found", times=-1)
    try:
        result = run("build", "--instance", fake.url, "--base-url", "https://example.org/")
    finally:
        fake.stop()
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(f"Error: GET {fake.url}/api/events?start=")
    assert result.stderr.splitlines()[-1].endswith(
        "returned HTTP 404 (Not Found): not found; check the instance URL"
    )
    assert len(result.stderr.splitlines()) == 1


def test_an_instance_that_fails_after_a_good_build_points_to_offline(gancio, tmp_path):
    build = ("build", "--instance", gancio.url, "--base-url", "https://example.org/")
    gancio.fail("/api/events", status=429, headers={"Retry-After": "600"}, times=-1)
    first = run(*build)  # nothing fetched before: no hint, nothing to build offline from
    assert first.exit_code == 1
    assert "--offline" not in first.stderr and not Path("public").exists()
    gancio.reset_failures()
    assert run(*build).exit_code == 0
    site = {p: p.read_bytes() for p in Path("public").rglob("*") if p.is_file()}
    gancio.fail("/api/events", status=429, headers={"Retry-After": "600"}, times=-1)
    result = run(*build)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: GET ")
    assert result.stderr.endswith(
        "try again later; the site in public is unchanged, and `gancio-site build --offline` "
        "builds it from the events fetched last time\n"
    )
    assert {p: p.read_bytes() for p in Path("public").rglob("*") if p.is_file()} == site
    offline = run(*build, "--offline")  # and it does
    assert offline.exit_code == 0, offline.output


def test_demo_places_by_name_or_id_and_unknown_ones_refused(tmp_path):
    by_name = run("build", "--demo", "--place", "biblioteca civica")
    assert by_name.exit_code == 0, by_name.output
    data = json.loads((tmp_path / "public" / "events.json").read_text("utf-8"))
    ids = {e["place"]["id"] for e in data["events"]}
    assert len(ids) == 1 and len(data["events"]) >= 3
    by_id = run("build", "--demo", "--place", str(ids.pop()))
    assert by_id.exit_code == 0, by_id.output
    assert json.loads((tmp_path / "public" / "events.json").read_text("utf-8")) == data
    for place, problem in (
        ("Nowhere", "no known event is at a place named 'Nowhere'"),
        ("999", "no known event is at the place numbered 999"),
    ):
        result = run("build", "--demo", "--place", place)
        assert (result.exit_code, result.stderr) == (2, f"Error: places: {problem}\n")


def test_offline_without_cache_exits_1():
    result = run(
        "build",
        "--offline",
        "--instance",
        "https://gancio.example.org",
        "--base-url",
        "https://example.org/",
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no cached events for https://gancio.example.org in ")
    assert result.stderr.endswith("run `gancio-site build` once with network access first\n")


def test_an_output_below_a_file_is_named_as_the_problem(tmp_path):
    (tmp_path / "afile").write_text("mine")
    for output in ("afile", "afile/sub/site"):  # configuration errors, as the same file
        result = run("build", "--demo", "-o", output)
        assert result.exit_code == 2, result.output
    assert result.stderr == "Error: output: afile/sub/site is below afile, a file, not a folder\n"
    assert (tmp_path / "afile").read_text() == "mine"


def test_a_full_disk_is_not_blamed_on_the_folder(tmp_path):
    import errno

    from gancio_site.output import _cannot_write

    full = OSError(errno.ENOSPC, "No space left on device")
    message = _cannot_write(tmp_path / "public", full)
    assert message == f"cannot write in {tmp_path}: no space left on the device"
    denied = OSError(errno.EACCES, "Permission denied")
    assert _cannot_write(tmp_path / "public", denied).endswith(
        ": Permission denied; choose an output folder you can write to (-o)"
    )


def test_refuses_to_replace_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "mine.txt").write_text("keep me")
    result = run("build", "--demo")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: output: folder {tmp_path / 'public'} is not empty and was not made by "
        "gancio-site; it would be replaced whole: empty it or choose another `output`\n"
    )
    assert (tmp_path / "public" / "mine.txt").read_text() == "keep me"


def test_refuses_an_output_holding_the_sites_own_files(tmp_path):
    run("build", "--demo", "--output", "site")  # a folder gancio-site made...
    (tmp_path / "site" / "gancio-site.toml").write_text('output = "."\n')
    (tmp_path / "site" / "notes.txt").write_text("mine")
    result = run("build", "--demo", "--config", "site/gancio-site.toml")
    assert result.exit_code == 2
    assert "output: " in result.stderr and "holds the config file" in result.stderr
    assert (tmp_path / "site" / "notes.txt").read_text() == "mine"
    (tmp_path / "templates").mkdir()
    result = run("build", "--demo", "--output", ".")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [  # templates and the cache are in it too: implied
        f"Error: output: . holds the working folder ({os.path.realpath(tmp_path)}); "
        "it would be replaced"
    ]
    assert (tmp_path / "templates").is_dir()
    result = run("build", "--demo", "--static", "public")
    assert result.exit_code == 2
    assert "static: public is not a folder" in result.stderr


def test_refuses_a_cache_that_is_a_file(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = run("build", "--demo", "--cache", "notes.txt")
    assert result.exit_code == 2
    assert result.stderr == "Error: cache: notes.txt exists and is not a folder\n"
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "public").exists()
    both = run("build", "--demo", "--cache", "notes.txt", "--start", "+2x")
    assert both.exit_code == 2
    assert [line.split(":")[1] for line in both.stderr.splitlines()] == [" start", " cache"]


def test_help_states_exit_codes():
    result = run("build", "--help")
    assert result.exit_code == 0
    assert "Exit codes: 0 built, 1 build failed" in result.stdout
    assert "2 usage or configuration error" in result.stdout
    assert "130 stopped by Ctrl-C (143 by SIGTERM)" in result.stdout


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text("utf-8")
    for name in main.commands:
        assert f"gancio-site {name}" in readme, name


def test_b04_machine_timezone_never_changes_the_output(tmp_path):
    outputs = []
    for zone in ("UTC", "America/New_York", "Asia/Tokyo"):
        folder = tmp_path / zone.replace("/", "_")
        env = {**os.environ, "TZ": zone}
        subprocess.run(
            [sys.executable, "-m", "gancio_site.cli", "build", "--demo", "--output", str(folder)],
            check=True,
            env=env,
            capture_output=True,
        )
        outputs.append(
            {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        )
    assert outputs[0] == outputs[1] == outputs[2]


def test_a_machine_zone_naming_a_local_folder_is_no_problem(tmp_path):
    # TZ=UTC (as many CI machines set it) beside a folder called UTC: the zone names a
    # path, which the date library would read as a zone file and stop the build.
    (tmp_path / "UTC").mkdir()
    (tmp_path / "junk").write_text("not a zone file")
    for zone in ("UTC", "junk", ":UTC"):
        result = subprocess.run(
            [sys.executable, "-m", "gancio_site.cli", "build", "--demo", "-q"],
            cwd=tmp_path,
            env={**os.environ, "TZ": zone},
            capture_output=True,
            text=True,
        )
        assert (result.returncode, result.stderr) == (0, ""), zone
        assert (tmp_path / "public" / "index.html").is_file()


def test_ci_runs_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text("utf-8")
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    command = next(line for line in readme.splitlines() if ".venv/bin/pytest" in line)
    assert command in ci.splitlines()
