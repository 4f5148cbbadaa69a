"""The theme's interface strings in the site's language, from the gettext catalogs.

Catalogs live in ``gancio_site/locale/<lang>/LC_MESSAGES/messages.mo`` (made from the
``.po`` files next to them: README, "Languages"). English is the source language and has
no catalog. A regional code falls back to its language (``pt_BR`` -> ``pt``), and a
language without a catalog shows the English interface (its dates still follow Babel).
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import babelzone  # noqa: F401  (first: Babel must not read the machine's zone)

# isort: split
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


def available() -> list[str]:
    """Return the language codes that ship a compiled catalog, sorted."""
    return sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"))


@functools.lru_cache(maxsize=16)
def translations(language: str) -> gettext.NullTranslations:
    """Return the catalog for ``language`` (a Babel code such as "it" or "pt_BR")."""
    code = language.replace("-", "_")
    # gettext.find expands "pt_BR" to ["pt_BR", "pt"]: the regional fallback comes free.
    return Translations.load(str(LOCALE_DIR), [code], DOMAIN)


def gettext_callables(
    language: str,
) -> tuple[Callable[..., str], Callable[..., str]]:
    """Return old-style ``gettext`` and ``ngettext`` for Jinja, in ``language``.

    Old-style, because the newstyle wrappers cost more than the rest of a small page; they
    still accept ``_("In %(zone)s", zone=...)``. In ``{% trans %}`` blocks Jinja applies
    the variables itself and passes none here. Results are escaped on output.
    """
    catalog = translations(language)
    find, find_plural = catalog.gettext, catalog.ngettext

    def translate(message: str, **variables: Any) -> str:
        text = find(message)
        return text % variables if variables else text

    def translate_plural(singular: str, plural: str, n: int, /, **variables: Any) -> str:
        # Positional n: `ngettext("%(count)s event", "%(count)s events", n, count=n)` works.
        text = find_plural(singular, plural, n)
        return text % {"num": n, **variables} if variables else text

    return translate, translate_plural
