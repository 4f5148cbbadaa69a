"""Configuration: file, environment and flags, and every problem reported at once."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gancio_site.config import load_config, resolve_end, resolve_time
from gancio_site.errors import ConfigError

MINIMAL = {
    "GANCIO_INSTANCE": "https://gancio.example.org",
    "GANCIO_BASE_URL": "https://example.org/",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gancio-site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_env_and_flags_in_order_of_precedence(tmp_path):
    path = write(
        tmp_path,
        'instance = "https://a.example.org/"\ntitle = "From file"\n'
        'base_url = "https://example.org/agenda"\nmax = 5\noutput = "site"\n',
    )
    config = load_config(
        path, env={"GANCIO_TITLE": "From env", "GANCIO_MAX": "7"}, overrides={"title": "From flag"}
    )
    assert config.instance == "https://a.example.org"
    assert config.title == "From flag"
    assert config.max == 7
    assert config.base_url == "https://example.org/agenda/"
    assert config.base_path == "/agenda/"
    assert config.output == tmp_path / "site"  # relative to the file's folder


def test_folders_not_set_in_the_file_are_relative_to_the_working_folder(tmp_path):
    # As the README says: set in the file, relative to the file's folder; not set in the
    # file (defaults, environment, flags), relative to the working folder.
    (tmp_path / "site").mkdir()
    (tmp_path / "s").mkdir()  # the working folder (the tests run in tmp_path)
    path = write(tmp_path / "site", 'output = "out"\n')
    config = load_config(
        path, env={**MINIMAL, "GANCIO_CACHE": "c"}, overrides={"static": "s", "templates": None}
    )
    assert config.output == tmp_path / "site" / "out"
    assert (config.cache, config.static, config.templates) == (
        Path("c"),
        Path("s"),
        Path("templates"),
    )
    assert not config.templates.is_absolute()  # the working folder's templates/, not site/'s


def test_defaults():
    config = load_config(None, env=MINIMAL)
    assert config.output == Path("public")
    assert config.language == "en" and config.timezone == ""
    assert config.start == "now" and config.end == "" and config.max is None
    assert config.show_recurrent is False and config.tags == () and config.places == ()


def test_every_problem_is_reported_together_naming_its_key(tmp_path):
    path = write(
        tmp_path,
        'instance = "gancio.example.org"\nbase_url = "ftp://x"\n'
        'language = "xx-nope"\ntimezone = "Mars/Olympus"\nmax = 0\n'
        'tags = ["rock, pop"]\nstart = "tomorrow"\nshow_recurrent = "maybe"\n'
        'colour = "red"\npage_size = -3\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    keys = sorted(problem.split(":")[0] for problem in caught.value.problems)
    assert keys == [
        "base_url",
        "colour",
        "instance",
        "language",
        "max",
        "page_size",
        "show_recurrent",
        "start",
        "tags",
        "timezone",
    ]


def test_missing_instance_and_base_url():
    with pytest.raises(ConfigError) as caught:
        load_config(None, env={})
    assert [p.split(":")[0] for p in caught.value.problems] == ["instance", "base_url"]


def test_missing_explicit_file_and_broken_toml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env=MINIMAL)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(write(tmp_path, "title = \n"), env=MINIMAL)


def test_lists_from_env_are_comma_separated():
    config = load_config(
        None,
        env={**MINIMAL, "GANCIO_TAGS": "jazz & blues, c#", "GANCIO_PLACES": "3,Circolo Esempio"},
    )
    assert config.tags == ("jazz & blues", "c#")
    assert config.places == ("3", "Circolo Esempio")


def test_b03_tag_with_comma_is_rejected():
    with pytest.raises(ConfigError, match="tags: 'rock, pop' contains a comma"):
        load_config(None, env=MINIMAL, overrides={"tags": ["jazz", "rock, pop"]})


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("now", datetime(2026, 12, 3, 13, 38, 45)),
        ("today", datetime(2026, 12, 3, 0, 0)),
        ("-7d", datetime(2026, 11, 26, 0, 0)),
        ("+90d", datetime(2027, 3, 3, 0, 0)),
        ("+2w", datetime(2026, 12, 17, 0, 0)),
        ("+3h", datetime(2026, 12, 3, 16, 38, 45)),
        ("2026-12-31", datetime(2026, 12, 31, 0, 0)),
        ("2026-12-31T21:30", datetime(2026, 12, 31, 21, 30)),
    ],
)
def test_relative_and_absolute_times(spec, expected):
    rome = ZoneInfo("Europe/Rome")
    now = datetime(2026, 12, 3, 13, 38, 45, tzinfo=rome)
    assert resolve_time(spec, now) == expected.replace(tzinfo=rome)
    assert resolve_time("", now) is None


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("2026-12-05", datetime(2026, 12, 5, 23, 59, 59)),  # the whole day, included
        ("today", datetime(2026, 12, 3, 23, 59, 59)),
        ("2027-03-28", datetime(2027, 3, 28, 23, 59, 59)),  # a 23-hour day (clocks go forward)
        ("now", datetime(2026, 12, 3, 13, 38, 45)),
        ("+90d", datetime(2027, 3, 3, 0, 0)),  # relative ends count from midnight, as before
        ("+3h", datetime(2026, 12, 3, 16, 38, 45)),
        ("2026-12-31T21:30", datetime(2026, 12, 31, 21, 30)),
        ("2026-12-31T00:00", datetime(2026, 12, 31, 0, 0)),  # a time given is a time meant
    ],
)
def test_an_end_date_includes_its_whole_day(spec, expected):
    rome = ZoneInfo("Europe/Rome")
    now = datetime(2026, 12, 3, 13, 38, 45, tzinfo=rome)
    assert resolve_end(spec, now) == expected.replace(tzinfo=rome)
    assert resolve_end("", now) is None


def test_an_end_of_today_or_of_the_start_day_is_valid(tmp_path):
    assert load_config(None, env=MINIMAL, overrides={"end": "today"}).end == "today"
    config = load_config(None, env=MINIMAL, overrides={"start": "today", "end": "today"})
    assert (config.start, config.end) == ("today", "today")
    write(tmp_path, "start = 2026-12-05\nend = 2026-12-05\n")  # TOML dates
    config = load_config(tmp_path / "gancio-site.toml", env=MINIMAL)
    assert (config.start, config.end) == ("2026-12-05", "2026-12-05")
    with pytest.raises(ConfigError) as caught:
        load_config(None, env=MINIMAL, overrides={"start": "2026-12-05", "end": "2026-12-04"})
    assert caught.value.problems == ["end: '2026-12-04' is before start '2026-12-05'"]


def test_base_url_defaults_to_netlify_url():
    env = {
        "GANCIO_INSTANCE": "https://g.example.org",
        "NETLIFY": "true",
        "URL": "https://agenda.netlify.app",
    }
    assert load_config(None, env=env).base_url == "https://agenda.netlify.app/"
    env["GANCIO_BASE_URL"] = "https://agenda.example.org/"
    assert load_config(None, env=env).base_url == "https://agenda.example.org/"


def test_page_size_from_file_environment_and_flag(tmp_path):
    path = write(tmp_path, 'instance = "https://g.example"\nbase_url = "https://e.org/"\n')
    assert load_config(path, env={}).page_size == 100
    assert load_config(path, env={"GANCIO_PAGE_SIZE": "0"}).page_size == 0
    assert load_config(path, env={}, overrides={"page_size": "25"}).page_size == 25
    with pytest.raises(ConfigError, match="page_size: expected a whole number"):
        load_config(path, env={"GANCIO_PAGE_SIZE": "ten"})


def test_empty_variables_count_as_unset_and_unknown_ones_are_said(tmp_path, caplog):
    env = {
        "GANCIO_INSTANCE": "https://gancio.example.org",
        "GANCIO_BASE_URL": "https://example.org/",
        "GANCIO_TAGS": "",
        "GANCIO_LANGUAGE": " ",
        "GANCIO_MAX": "",
        "GANCIO_OUTPUT": "",
        "GANCIO_TAG": "musica",
        "GANCIO_TOKEN": "not a setting, but read",
    }
    config = load_config(None, env=env)
    assert (config.tags, config.language, config.max) == ((), "en", None)
    assert config.output.name == "public"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "GANCIO_TAG is not a variable gancio-site reads (did you mean GANCIO_TAGS?)"
    ]


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory"])
def test_the_zone_files_own_names_are_not_time_zones(zone):
    env = {"GANCIO_INSTANCE": "https://g.example.org", "GANCIO_BASE_URL": "https://e.org/"}
    with pytest.raises(ConfigError, match=f"timezone: '{zone}' is not a place's time zone"):
        load_config(None, env={**env, "GANCIO_TIMEZONE": zone})


@pytest.mark.parametrize(
    ("given", "language"),
    [("de_DE.UTF-8", "de_DE"), ("it_IT.utf8@euro", "it_IT@euro"), ("pt-BR", "pt_BR")],
)
def test_a_language_written_as_lang_says_it_loses_its_encoding(given, language):
    env = {"GANCIO_INSTANCE": "https://g.example.org", "GANCIO_BASE_URL": "https://e.org/"}
    assert load_config(None, env={**env, "GANCIO_LANGUAGE": given}).language == language
