"""`gancio-site init`: the files of a new site, ready to edit, build and deploy.

``gancio-site.toml`` is generated from ``config.KEYS`` and ``SiteConfig``'s defaults, so it
lists every key with its meaning and default and never drifts from the code. The other files
are copied from ``scaffold_files/``; the templates README lists the default theme's own
templates and blocks, read from the theme when the site is created.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import fields
from importlib import resources
from pathlib import Path
from typing import Any

from . import __version__
from .config import CONFIG_FILE, KEYS, PATH_KEYS, SiteConfig
from .errors import OutputError
from .theme import theme_dir

# Shown (commented out) for keys whose default is empty, so a user sees the value's shape.
EXAMPLES: dict[str, Any] = {
    "instance": "https://gancio.example.org",
    "base_url": "https://example.org/agenda/",
    "title": "Agenda del quartiere",
    "description": "Concerts, talks and workshops in the neighbourhood",
    "timezone": "Europe/Rome",
    "tags": ["musica", "teatro"],
    "places": ["Centro Sociale La Talpa", 3],
    "end": "+90d",
    "max": 200,
}
# What an empty default means, where "none" would not say it.
EMPTY_DEFAULTS = {
    "instance": "none, required (not with --demo)",
    "base_url": "none, required (not with --demo; on Netlify the site's URL)",
    "tags": "all",
    "places": "all",
    "max": "no limit",
}
# What each template of the default theme renders: the list in a new site's templates/README.md.
THEME_TEMPLATES = {
    "base.html": "the frame of the site's pages: head, header and menu, footer (blocks below)",
    "index.html": "the home page: upcoming events by day (`page/2/`...), tags and places",
    "event.html": "an event's page (`event/<slug>/`): when, where, description, calendars",
    "tag.html": "a tag's page (`tag/<tag>/`): its events by day and its feeds",
    "place.html": "a place's page (`place/<place>/`): address, map link, events, feeds",
    "tags.html": "every tag with its number of events (`tag/`)",
    "places.html": "every place with its address and number of events (`place/`)",
    "404.html": "the page shown for an address that does not exist",
    "_event_item.html": "one event in a list: time, title, place, tags, thumbnail",
    "_day_list.html": "the days of a list, each with its events (home, tag, place pages)",
    "_pager.html": "the links to the earlier and later pages of a long list",
    "_feeds.html": "the RSS, Atom, iCalendar and JSON links (footer, tag and place pages)",
    "embed.js": "the widget script other websites embed (JavaScript, not HTML)",
    "embed/index.html": "the widget in an iframe, for websites that take no script",
    "embed/builder.html": "the page that makes the snippet to embed the widget",
}
HEADER = """\
# gancio-site configuration: https://gancio.org events as a static site.
# Uncomment a line to change a setting. Paths are relative to this file. Every key can
# also be set with an environment variable GANCIO_<KEY> (e.g. GANCIO_INSTANCE) or a flag
# of `gancio-site build`; flags win over the environment, which wins over this file.
"""
STATIC_NOTE = "Files here are published under static/ and replace the default theme's.\n"


def config_text() -> str:
    """Return the commented ``gancio-site.toml`` of a new site."""
    defaults = {f.name: f.default for f in fields(SiteConfig)}
    parts = [HEADER]
    for key, meaning in KEYS.items():
        default = defaults.get(key)
        text = meaning[0].upper() + meaning[1:]
        if "(default" not in meaning:
            shown = EMPTY_DEFAULTS.get(key, "none") if _empty(default) else _toml(default)
            text += f"; default: {shown}"
        if key in PATH_KEYS:  # set, so they stay relative to this file wherever one runs
            text += "; relative to this file"
            line = f"{key} = {_toml(default)}"
        else:
            line = f"# {key} = {_toml(EXAMPLES.get(key, default))}"
        comment = textwrap.fill(text + ".", 88, initial_indent="# ", subsequent_indent="# ")
        parts.append(f"\n{comment}\n{line}\n")
    return "".join(parts)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == ()


def _toml(value: Any) -> str:
    """Return ``value`` as a TOML value (strings, paths, numbers, booleans, lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if value is None:
        return '""'
    text = value.as_posix() if isinstance(value, Path) else str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def site_files() -> dict[str, str]:
    """Return relative path -> text of every file of a new site."""
    files = resources.files("gancio_site").joinpath("scaffold_files")
    theme = theme_dir() / "templates"
    templates = "\n".join(
        f"- `{name}`: {meaning}"
        for name, meaning in THEME_TEMPLATES.items()
        if (theme / name).is_file()
    )
    base = (theme / "base.html").read_text("utf-8")
    blocks = list(dict.fromkeys(re.findall(r"{%-?\s*block\s+(\w+)", base)))
    readme = (
        files.joinpath("templates-README.md")
        .read_text("utf-8")
        .replace("@THEME_TEMPLATES@", templates)
        .replace("@BASE_BLOCKS@", ", ".join(f"`{b}`" for b in blocks))
    )
    major, minor = __version__.split(".")[:2]
    return {
        CONFIG_FILE: config_text(),
        "templates/README.md": readme,
        "static/.gitkeep": "",
        "netlify.toml": files.joinpath("netlify.toml").read_text("utf-8"),
        ".github/workflows/build.yml": files.joinpath("build.yml").read_text("utf-8"),
        "requirements.txt": (
            "# The gancio-site release this site is built with (CI and Netlify install it).\n"
            "# Until gancio-site is published on PyPI, replace the line below with where\n"
            "# you install it from, e.g. gancio-site @ git+https://<its repository>\n"
            f"gancio-site~={major}.{minor}.0\n"
        ),
        ".gitignore": files.joinpath("gitignore.txt").read_text("utf-8"),
    }


def create_site(folder: Path, force: bool = False) -> dict[str, list[str]]:
    """Write a new site into ``folder``; return its paths, relative to it, by what was
    done: "created", and with ``force`` "replaced" (other bytes were there, now lost) and
    "unchanged" (the same bytes were there).

    Raise ``OutputError`` naming an existing file, before writing anything, unless ``force``.
    """
    files = site_files()
    existing = [name for name in files if (folder / name).exists()]
    if existing and not force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise OutputError(
            f"{folder / existing[0]} already exists{more}; "
            "use --force to overwrite, or choose an empty folder"
        )
    done: dict[str, list[str]] = {"created": [], "replaced": [], "unchanged": []}
    for name, text in files.items():
        target = folder / name
        data = text.encode("utf-8")
        try:
            if name in existing and target.is_file() and target.read_bytes() == data:
                done["unchanged"].append(name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
        done["replaced" if name in existing else "created"].append(name)
    return done
