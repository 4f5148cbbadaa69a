"""The Jinja environment: the site's templates first, then the default theme.

Autoescape is on for every template and undefined names are errors, so a typo in a
template fails the build instead of publishing a blank. The only HTML from outside that
reaches a page unescaped is the event description, already sanitised by ``clean.py``.
Dates and times are formatted with Babel in the site's language and zone, and the
interface strings come from the gettext catalog of that language (``i18n.py``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from . import babelzone  # noqa: F401  (first: Babel must not read the machine's zone)

# isort: split
import jinja2
from babel import Locale
from babel.dates import format_date, format_time
from markupsafe import Markup, escape

from . import __version__, i18n, seo
from .errors import GancioSiteError
from .models import Event, Place, SiteInfo
from .theme import theme_dir
from .urls import UrlMap, climb, relative

_MARK = "\x00"  # where a list entry's links climb to the root (see event_item)
# Templates rendered by code, by the name a template calls it with: ``event_item(e)``.
CODE_TEMPLATES = {"event_item": "_event_item.html"}
# The tags that name other templates, and what may follow a name written as a string.
_REFERENCE = re.compile(r"\{%[-+]?\s*(?:extends|include|import|from)\b(.*?)[-+]?%\}", re.S)
_NAMED = re.compile(
    r"""\s*(?:"([^"\\{}]*)"|'([^'\\{}]*)')\s*"""
    r"(?:(?:ignore\s+missing\s*)?(?:(?:with|without)\s+context\s*)?"
    r"|as\s+\w+\s*(?:(?:with|without)\s+context\s*)?|import\s[^%]*)",
    re.S,
)
_CODE_CALL = re.compile(r"\b(" + "|".join(CODE_TEMPLATES) + r")\b")


def references(source: str) -> list[str] | None:
    """Return the templates ``source`` extends, includes or imports, and the
    CODE_TEMPLATES it calls; None when one is named otherwise than by a string (a
    variable, an expression, a list): it could then be any template.

    A scan of the tags, not a parse (ten times faster on every build): a name found in a
    comment or a raw block only makes more pages depend on it.
    """
    names = []
    for argument in _REFERENCE.findall(source):
        named = _NAMED.fullmatch(argument)
        if named is None:
            return None
        names.append(named[1] if named[1] is not None else named[2])
    names += [CODE_TEMPLATES[name] for name in dict.fromkeys(_CODE_CALL.findall(source))]
    return names


class TemplateFailed(GancioSiteError):
    """A template could not be loaded or rendered; the message names file and line."""


class Formatter:
    """Dates, times and ranges in one language (zone: the datetimes' own)."""

    def __init__(self, language: str) -> None:
        self.locale = Locale.parse(language)
        self._when: dict[int, str] = {}
        # How the language joins a full date and a time: "{1}, {0}", "{1} {0}" (Japanese),
        # "{1}، {0}" (Arabic); quoted literals in the pattern are unquoted.
        pattern = str(self.locale.datetime_formats.get("full", "{1}, {0}"))
        self._joined = re.sub(r"'([^']*)'", lambda m: m.group(1) or "'", pattern)

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one formatter per build
    def date(self, value: date, fmt: str = "full") -> str:
        return format_date(value, fmt, locale=self.locale)

    def time(self, value: datetime, fmt: str = "short") -> str:
        text = self._time(value.hour, value.minute, fmt)
        if _ambiguous(value):  # the hour that repeats when clocks go back: say which one
            text += f" {value.tzname()}"
        return text

    @functools.lru_cache(maxsize=2048)  # noqa: B019
    def _time(self, hour: int, minute: int, fmt: str) -> str:
        from datetime import time

        return format_time(time(hour, minute), fmt, locale=self.locale)

    def when(self, event: Event) -> str:
        """Return the event's date and time range, e.g. 'Saturday, 5 December 2026, 20:30–22:30'."""
        text = self._when.get(event.id)
        if text is None:
            text = self._when[event.id] = self._range(event)
        return text

    def _range(self, event: Event) -> str:
        start = self._at(event.start)
        if event.end is None:
            return start
        if not event.spans_days:
            return f"{start}–{self.time(event.end)}"
        return f"{start} – {self._at(event.end)}"

    def _at(self, moment: datetime) -> str:
        """The full date and the time of ``moment``, joined as the language joins them."""
        day, time = self.date(moment.date(), "full"), self.time(moment)
        return self._joined.replace("{0}", time).replace("{1}", day)


class Renderer:
    """Renders the site's pages to bytes."""

    def __init__(
        self,
        site: SiteInfo,
        urls: UrlMap,
        template_dirs: Sequence[Path],
        base_path: str,
        compiled: tuple[Path, str] | None = None,
    ) -> None:
        """``compiled``: a folder to keep compiled templates in, and the prefix of the
        files this version of gancio-site may use there."""
        self.site = site
        self.urls = urls
        self.base_path = base_path
        self.fmt = Formatter(site.language)
        theme = jinja2.FileSystemLoader(str(theme_dir() / "templates"))
        # "default/base.html" always names the theme's own file, so a site's base.html can
        # extend it and replace a single block.
        loaders: list[jinja2.BaseLoader] = [jinja2.PrefixLoader({"default": theme})]
        folders = [d for d in template_dirs if d.is_dir()]
        loaders += [jinja2.FileSystemLoader(str(d)) for d in folders]
        loaders.append(theme)
        # Where a missing template was looked for, said in its error.
        self.looked_in = " and ".join(
            [*(f"{_shown(str(d))}/" for d in folders), "the default theme"]
        )
        self.folders = folders
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            # HTML and XML are escaped; JavaScript templates pass data through |tojson.
            autoescape=jinja2.select_autoescape(default_for_string=True, default=False),
            undefined=jinja2.StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            finalize=_finalize,
            auto_reload=False,  # one build, one set of templates: no stat per page
            bytecode_cache=_bytecode_cache(*compiled) if compiled else None,
        )
        # Plain callables: the newstyle wrappers cost more than the rest of a small page.
        gettext, ngettext = i18n.gettext_callables(site.language)
        self.env.install_gettext_callables(  # type: ignore[attr-defined]
            gettext=gettext, ngettext=ngettext, newstyle=False
        )
        # |tojson writes '=' as \u003d too (the same JSON value), as _finalize does for text.
        self.env.policies["json.dumps_function"] = _json_dumps
        self._items: dict[int, str] = {}  # event id -> list entry, links marked
        self._template_keys: dict[str, str] = {}
        self.env.filters.update(
            date=self.fmt.date, time=self.fmt.time, iso=_iso, unindent=_unindent
        )
        self.env.globals.update(
            site=site,
            when=self.fmt.when,
            tag_url=urls.tag,
            event_jsonld=seo.event_jsonld,
            calendar_links=seo.calendar_links,
            summary=seo.summary,
            generator=f"gancio-site {__version__}",
        )

    def _not_utf8(self, template: str, exc: UnicodeDecodeError) -> str:
        """Say which of the site's template files is not UTF-8 (the loader does not)."""
        for folder in self.folders:
            for file in sorted(p for p in folder.rglob("*") if p.is_file()):
                data = file.read_bytes()
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError as bad:
                    line = data.count(b"\n", 0, bad.start) + 1
                    where = f"template {_shown(str(file))}, line {line}"
                    return f"{where}: not UTF-8 ({bad.reason}); save it as UTF-8"
        return f"template {template} (or one it uses) is not UTF-8: {exc.reason}"

    def template_key(self, name: str) -> str:
        """Return a key of the templates a page rendered from ``name`` may use: it, the
        ones it extends, includes or imports, the CODE_TEMPLATES it calls (and theirs).

        A page is rendered again only when one of them changed. A template naming
        another by a variable could use any: its pages then depend on every template.
        """
        key = self._template_keys.get(name)
        if key is None:
            names = self._uses([name])
            if names is None:
                names = set(self.env.list_templates())
            h = hashlib.blake2b(digest_size=16)
            for used in sorted(names):
                h.update(used.encode() + b"\0" + self._source(used).encode() + b"\0")
            key = self._template_keys[name] = h.hexdigest()
        return key

    def _source(self, name: str) -> str:
        loader = self.env.loader
        assert loader is not None
        try:
            return loader.get_source(self.env, name)[0]
        except jinja2.TemplateNotFound:
            return "\0missing"  # rendering says so
        except UnicodeDecodeError:
            return "\0not utf-8"  # rendering says so, with the file and line

    def _uses(self, names: list[str]) -> set[str] | None:
        """Return ``names`` and every template they use, or None if one uses a variable."""
        seen: set[str] = set()
        while names:
            name = names.pop()
            if name in seen:
                continue
            seen.add(name)
            used = references(self._source(name))
            if used is None:
                return None
            names += used
        return seen

    def has_template(self, name: str) -> bool:
        """Return True when the site or the theme has template ``name``."""
        try:
            self.env.get_template(name)
        except jinja2.TemplateNotFound:
            return False
        except jinja2.TemplateSyntaxError:
            return True  # exists; rendering it reports the error with file and line
        return True

    def target(self, item: Event | Place | str) -> str:
        """Return the output path an Event, Place or path string links to."""
        if isinstance(item, Event):
            return self.urls.event(item)
        if isinstance(item, Place):
            return self.urls.place(item)
        return item

    def linker(self, page: str) -> Callable[[Event | Place | str], str]:
        """Return ``url()`` for a page: relative links, or rooted ones for the 404 page."""
        if page == "404.html":  # served at any depth, so its links start from the root
            return lambda item: self.base_path + quote(self.target(item))
        return lambda item: relative(self.target(item), page)

    def event_item(self, event: Event, depth: int) -> Markup:
        """Return ``_event_item.html`` for ``event`` on a page ``depth`` folders deep.

        A busy event appears on a home page and on each of its tag and place pages: its
        list entry is rendered once, with a mark where each link climbs to the site's
        root, and the mark becomes ``../`` times the page's depth. (Text from Gancio holds
        no NUL, the mark: should one ever arrive, the entry is rendered for that depth.)
        """
        base = self._items.get(event.id)
        if base is None:
            links = []

            def marked(target: Event | Place | str) -> str:
                links.append(target)
                return _MARK + quote(self.target(target))

            base = self._items[event.id] = self._render_item(event, marked)
            if base.count(_MARK) != len(links):
                base = self._items[event.id] = ""  # this event: rendered for each depth
        if not base:
            return self._render_item(event, lambda t: climb(self.target(t), depth))
        return Markup(base.replace(_MARK, "../" * depth))  # noqa: S704 - rendered, escaped

    def _render_item(self, event: Event, url: Callable[[Event | Place | str], str]) -> Markup:
        return Markup(  # noqa: S704 - an autoescaped template, rendered here
            self.env.get_template("_event_item.html").render(
                event=event,
                url=url,
                abs_url=lambda target: self.urls.absolute(self.target(target)),
            )
        )

    def render(self, template: str, page: str, feeds: dict[str, str], **context: Any) -> bytes:
        """Return the page at output path ``page`` rendered from ``template``."""
        folder = page[: -len("index.html")] if page.endswith("index.html") else page
        depth = page.count("/")
        try:
            html = self.env.get_template(template).render(
                event_item=lambda event: self.event_item(event, depth),
                url=self.linker(page),
                abs_url=lambda item: self.urls.absolute(self.target(item)),
                canonical=self.urls.absolute(folder),
                feeds=feeds,
                now=context.pop("now"),
                **context,
            )
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateFailed(
                f"template {_shown(exc.filename or exc.name)}, line {exc.lineno}: {exc.message}"
            ) from None
        except GancioSiteError:
            raise
        except UnicodeDecodeError as exc:
            raise TemplateFailed(self._not_utf8(template, exc)) from None
        except Exception as exc:  # also TypeError & co. raised by template code at runtime
            where = _template_line(exc.__traceback__)
            if where is not None:
                raise TemplateFailed(
                    f"template {_shown(where[0])}, line {where[1]}: {self._explain(exc)}"
                ) from None
            if not isinstance(exc, jinja2.TemplateError):
                raise
            raise TemplateFailed(
                f"template {template} (page {page}): {self._explain(exc)}"
            ) from None
        return html.encode("utf-8")

    def _explain(self, exc: Exception) -> str:
        """Return the message of a template error; a missing template says where it was sought."""
        if isinstance(exc, jinja2.TemplateNotFound):
            names = " or ".join(repr(str(name)) for name in exc.templates) or repr(str(exc.name))
            return f"no template named {names} (looked in {self.looked_in})"
        return str(exc)


def _shown(file: str | None) -> str | None:
    """Return a template's file as a message shows it: from the working folder when it is
    in it (as the site's folders are written in the config), else as it is."""
    if file and os.path.isabs(file):
        with contextlib.suppress(ValueError):
            relative = os.path.relpath(file)
            if not relative.startswith(".."):
                return relative
    return file


def _template_line(tb: TracebackType | None) -> tuple[str, int] | None:
    """Return file and line of the innermost template frame of a traceback Jinja rewrote."""
    found = None
    while tb is not None:
        # Jinja replaces frames of compiled template code by fake ones raising at the
        # template's own file and line, marked with this global (jinja2/debug.py).
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _ambiguous(value: datetime) -> bool:
    """True when the wall time happens twice in its zone (the fall-back hour)."""
    other = value.replace(fold=1 - value.fold)
    return other.utcoffset() != value.utcoffset()


@jinja2.pass_eval_context
def _finalize(eval_ctx: jinja2.nodes.EvalContext, value: Any) -> Any:
    """Escape text for HTML as autoescape does, and '=' too.

    Gancio's data is anyone's: with '=' written as a character reference, a title like
    ``<img src=x onerror=alert(1)>`` leaves no ``onerror=`` anywhere in the page, not even
    as text (case B11); browsers show the same characters. Markup (the sanitised
    description, |tojson) passes unchanged.
    """
    if not eval_ctx.autoescape or isinstance(value, Markup) or value is None:
        return value
    escaped = escape(value)
    if "=" not in escaped:
        return escaped
    return Markup(str.replace(escaped, "=", "&#61;"))  # noqa: S704 - escaped above


def _json_dumps(value: Any, **options: Any) -> str:
    # The JSON-LD of an event titled `<img src=x onerror=...>` keeps no "onerror=" (B11).
    return json.dumps(value, **options).replace("=", "\\u003d")


def _unindent(text: str) -> str:
    """Remove the indentation of every line (``embed.js`` arrives in fewer bytes)."""
    return _INDENT.sub("", text)


_INDENT = re.compile(r"^[ \t]+", re.M)


def _iso(value: datetime | date) -> str:
    return value.isoformat()


def _bytecode_cache(folder: Path, prefix: str) -> jinja2.BytecodeCache | None:
    """Return a cache of compiled templates in ``folder`` (found by their source, so an
    edited template is compiled again), or None when the folder cannot be made.

    Files of other versions of gancio-site (another ``prefix``) are removed.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in os.listdir(folder):
            if not name.startswith(prefix + "-"):
                with contextlib.suppress(OSError):
                    os.remove(folder / name)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder), prefix + "-%s.cache")
