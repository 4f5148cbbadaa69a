"""The interface in the site's language: gettext catalogs for the theme, Babel for dates."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from babel.dates import format_date
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from browser import serve
from click.testing import CliRunner

from gancio_site import i18n
from gancio_site.cli import main

ROOT = Path(__file__).parent.parent
SHIPPED = ["ca", "de", "es", "fr", "it", "pt"]
EVENT = "event/concerto-jazz-al-tramonto/index.html"
TODAY = date(2026, 12, 3)  # the demo data's capture day

# A few strings a native speaker sees on every site, per language.
EXPECTED = {
    "it": {
        "feed": "Prossimi eventi su",
        "heading": "Prossimi eventi",
        "nav": ["In programma", "Tag", "Luoghi"],
        "footer": "Tutti gli orari si riferiscono al fuso orario Europe/Rome.",
        "calendar": "Aggiungi al calendario",
        "today": "Oggi",
        "not_found": "Pagina non trovata",
        "loading": "Caricamento degli eventi…",
    },
    "es": {
        "feed": "Próximos eventos en",
        "heading": "Próximos eventos",
        "nav": ["Próximos", "Etiquetas", "Lugares"],
        "footer": "Todos los horarios corresponden a la zona horaria Europe/Rome.",
        "calendar": "Añadir al calendario",
        "today": "Hoy",
        "not_found": "Página no encontrada",
        "loading": "Cargando eventos…",
    },
    "fr": {
        "feed": "Prochains événements sur",
        "heading": "Événements à venir",
        "nav": ["À venir", "Étiquettes", "Lieux"],
        "footer": "Toutes les heures sont données dans le fuseau horaire Europe/Rome.",
        "calendar": "Ajouter à l’agenda",
        "today": "Aujourd’hui",
        "not_found": "Page introuvable",
        "loading": "Chargement des événements…",
    },
    "de": {
        "feed": "Kommende Veranstaltungen auf",
        "heading": "Kommende Veranstaltungen",
        "nav": ["Demnächst", "Schlagwörter", "Orte"],
        "footer": "Alle Uhrzeiten beziehen sich auf die Zeitzone Europe/Rome.",
        "calendar": "Zum Kalender hinzufügen",
        "today": "Heute",
        "not_found": "Seite nicht gefunden",
        "loading": "Veranstaltungen werden geladen …",
    },
    "ca": {
        "feed": "Propers esdeveniments a",
        "heading": "Propers esdeveniments",
        "nav": ["Propers", "Etiquetes", "Llocs"],
        "footer": "Tots els horaris corresponen a la zona horària Europe/Rome.",
        "calendar": "Afegeix al calendari",
        "today": "Avui",
        "not_found": "No s’ha trobat la pàgina",
        "loading": "S’estan carregant els esdeveniments…",
    },
    "pt": {
        "feed": "Próximos eventos em",
        "heading": "Próximos eventos",
        "nav": ["Próximos", "Etiquetas", "Locais"],
        "footer": "Todos os horários estão no fuso horário Europe/Rome.",
        "calendar": "Adicionar à agenda",
        "today": "Hoje",
        "not_found": "Página não encontrada",
        "loading": "Carregando eventos…",
    },
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build the demo once per language; return a function giving the output folder."""
    sites: dict[str, Path] = {}

    def build(language: str) -> Path:
        if language not in sites:
            folder = tmp_path_factory.mktemp(f"site-{language}")
            with pytest.MonkeyPatch.context() as patch:
                patch.chdir(folder)
                result = CliRunner().invoke(
                    main,
                    ["build", "--demo", "-o", str(folder / "public"), "--language", language],
                )
            assert result.exit_code == 0, result.output
            sites[language] = folder / "public"
        return sites[language]

    return build


def text(html: str) -> str:
    """Return the visible-ish text of a page: tags out, spaces collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").split())


@pytest.mark.parametrize("language", SHIPPED)
def test_interface_dates_and_lang_in_each_language(built, language):
    site, want = built(language), EXPECTED[language]
    home = (site / "index.html").read_text("utf-8")
    assert f'<html lang="{language}">' in home
    assert f'<h1 class="page-title">{want["heading"]}</h1>' in home
    nav = re.search(r'<nav class="site-nav".*?</nav>', home, re.S).group(0)
    assert re.findall(r"<a [^>]*>([^<]+)</a>", nav) == want["nav"]
    assert want["footer"] in text(home)
    # The first day heading: Babel's full date in that language, then "today".
    day = re.search(r'<h2 class="day-heading".*?</h2>', home, re.S).group(0)
    assert text(day) == f"{format_date(TODAY, 'full', locale=language)} {want['today']}"
    event = (site / EVENT).read_text("utf-8")
    assert want["calendar"] in text(event)
    assert want["not_found"] in (site / "404.html").read_text("utf-8")
    if "feed" in want:  # the feeds' subtitle (a site without a description of its own)
        assert f"<description>{want['feed']} " in (site / "rss.xml").read_text("utf-8")
    # embed.js is a template too: its strings are translated (as JSON string literals).
    assert json.dumps(want["loading"]) in (site / "embed.js").read_text("utf-8")


@pytest.mark.browser
@pytest.mark.parametrize("language", ["it", "es"])
def test_day_headings_start_with_a_capital(built, page, language):
    # Babel writes "giovedì 3 dicembre 2026"; a heading starts with a capital all the same.
    babel = format_date(TODAY, "full", locale=language)
    with serve(built(language)) as url:
        page.goto(url + "/index.html")
        shown = page.locator(".day-heading time").first.inner_text()
    assert babel[0].islower()
    assert shown == babel[0].upper() + babel[1:]


def test_unknown_language_falls_back_to_english_with_its_own_dates(built):
    site = built("nl")
    home = (site / "index.html").read_text("utf-8")
    assert '<html lang="nl">' in home
    assert '<h1 class="page-title">Upcoming events</h1>' in home
    assert "donderdag 3 december 2026 Today" in text(home)


def test_regional_code_falls_back_to_its_language(built):
    home = (built("pt_BR") / "index.html").read_text("utf-8")
    assert '<html lang="pt-BR">' in home
    assert '<h1 class="page-title">Próximos eventos</h1>' in home
    assert i18n.translations("pt_BR").gettext("Tags") == "Etiquetas"
    assert i18n.translations("es-MX").gettext("Tags") == "Etiquetas"
    assert i18n.translations("en").gettext("Tags") == "Tags"


def test_plurals_follow_the_language(built):
    places = (built("fr") / "place/index.html").read_text("utf-8")
    assert "1 événement<" in places and re.search(r"\b[2-9] événements<", places)
    _, ngettext = i18n.gettext_callables("it")
    assert ngettext("%(count)s event", "%(count)s events", 1, count=1) == "1 evento"
    assert ngettext("%(count)s event", "%(count)s events", 4, count=4) == "4 eventi"


def test_the_shipped_catalogs_are_exactly_the_compiled_ones():
    assert i18n.available() == SHIPPED


# --- catalogs against the templates -----------------------------------------------------


def template_messages() -> dict[object, set[str]]:
    """Return every message of the theme's templates, as babel.cfg extracts them."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[object, set[str]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        found.setdefault(message, set()).add(filename)
    return found


def placeholders(message: str) -> list[str]:
    return sorted(re.findall(r"%\(\w+\)s|</?\w+[^>]*>", message))


@pytest.fixture(scope="module")
def messages():
    found = template_messages()
    assert len(found) > 60  # the extractor found the theme
    assert "Upcoming events" in found and "Loading events…" in found  # html and embed.js
    return found


def test_the_template_pot_is_up_to_date(messages):
    with open(ROOT / "gancio_site/locale/messages.pot", "rb") as f:
        pot = read_po(f)
    assert {m.id if isinstance(m.id, str) else tuple(m.id) for m in pot if m.id} == set(messages)


@pytest.mark.parametrize("language", SHIPPED)
def test_every_template_message_is_translated(messages, language):
    folder = ROOT / "gancio_site/locale" / language / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as f:
        catalog = read_po(f)
    problems = []
    for message in messages:
        entry = catalog.get(message if isinstance(message, str) else message[0])
        strings = [entry.string] if entry and isinstance(entry.string, str) else []
        strings = list(entry.string) if entry and not strings else strings
        if entry is None or entry.fuzzy or not all(strings):
            problems.append(f"missing: {message!r}")
            continue
        # A plural's forms may leave the number out ("Every week"), nothing else.
        sources = [message] if isinstance(message, str) else list(message)
        for translated in strings:
            if placeholders(translated) not in [placeholders(s) for s in sources]:
                problems.append(f"placeholders or tags differ: {translated!r}")
    stale = {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}
    problems += [f"not in the templates: {m!r}" for m in stale - set(messages)]
    assert problems == []
    # The .mo next to it is compiled from this .po (`pybabel compile` was not forgotten).
    with open(folder / "messages.mo", "rb") as f:
        compiled = read_mo(f)
    assert entries(compiled) == entries(catalog)


def entries(catalog) -> set[tuple[object, object]]:
    as_key = lambda value: value if isinstance(value, str) else tuple(value)  # noqa: E731
    return {(as_key(m.id), as_key(m.string)) for m in catalog if m.id}


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("en", "Sunday, March 28, 2027, 1:30\u202fAM–4:00\u202fAM"),
        ("ja", "2027年3月28日日曜日 1:30–4:00"),  # the language's own joining: no comma
        ("ar", "الأحد، 28 مارس 2027، 1:30 ص–4:00 ص"),  # the Arabic comma
    ],
)
def test_date_and_time_are_joined_as_the_language_joins_them(built, language, shown):
    page = (built(language) / "event/notte-del-cambio-ora/index.html").read_text("utf-8")
    start = re.search(r'<time class="dt-start"[^>]*>([^<]*)</time>', page).group(1)
    assert start == shown
