"""Making untrusted text safe: XML-invalid characters out, description HTML sanitised.

Everything that comes from Gancio passes through here once, when the models are built.
Gancio itself sanitises descriptions (API.md section 8) but keeps `target="_top"`,
protocol-relative links and relative `/media/...` URLs, and older instances or other
software may store anything, so the site sanitises again against its own allow-list.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import unescape
from urllib.parse import urljoin, urlsplit

import nh3

# Characters outside XML 1.0 (C0 controls except TAB/LF/CR, lone surrogates, U+FFFE/U+FFFF)
# make lxml (and so feedgen) refuse the whole feed, and mean nothing on a page either.
# Bidirectional overrides stay: they are legitimate in right-to-left text and are
# isolated in the pages with `dir="auto"` / <bdi>.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# The tags Gancio keeps in descriptions (API.md section 8), plus `pre` and `hr`, which are
# harmless. Only `href` survives on links; rel is forced so external links cannot reach back.
ALLOWED_TAGS = {
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "br",
    "i",
    "em",
    "b",
    "strong",
    "u",
    "s",
    "span",
    "a",
    "ul",
    "ol",
    "li",
    "code",
    "blockquote",
    "pre",
    "hr",
}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
SAFE_SCHEMES = {"http", "https", "mailto"}


def clean_text(value: str) -> str:
    """Return ``value`` without characters that XML 1.0 forbids (vertical tab and form
    feed, which separate words, become spaces)."""
    return _INVALID_XML.sub("", value.replace("\x0b", " ").replace("\x0c", " "))


def has_invalid_chars(value: str) -> bool:
    """Return True when ``clean_text`` would change ``value``."""
    return bool(_INVALID_XML.search(value))


def absolute_url(url: str, base: str) -> str | None:
    """Return ``url`` made absolute against ``base``, or None unless it is http(s)/mailto."""
    url = clean_text(url).strip()
    if not url:
        return None
    joined = urljoin(base, url)
    scheme = urlsplit(joined).scheme.lower()
    if scheme not in SAFE_SCHEMES:
        return None
    return joined


def sanitize_html(html: str, base: str) -> str:
    """Return ``html`` reduced to the allow-list, with every link absolute against ``base``.

    ``base`` is the Gancio instance root: relative links in a description point there
    (`/media/...`, `/event/...`), and feed readers need absolute URLs (case B09).
    """

    def keep(_tag: str, attribute: str, value: str) -> str | None:
        if attribute == "href":
            return absolute_url(value, base)
        return value

    cleaned = nh3.clean(
        clean_text(html),
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "iframe", "svg", "math", "object", "form"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=SAFE_SCHEMES,
        link_rel="noopener noreferrer nofollow ugc",
        attribute_filter=keep,
    )
    return cleaned.strip()


_LIST_ITEM = re.compile(r"<li\b[^>]*>", re.IGNORECASE)
_BLOCK = re.compile(
    r"</?(?:p|div|li|ul|ol|h[1-6]|blockquote|pre|tr|table|hr)\b[^>]*>", re.IGNORECASE
)
_BREAK = re.compile(r"<br\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*")


@lru_cache(maxsize=1024)  # a page and its calendar ask in turn; more only costs memory
def html_to_text(html: str) -> str:
    """Return the plain text of (sanitised) ``html``: paragraphs separated by blank lines.

    Regular expressions are enough here because the input has been through ``nh3`` (well
    formed, a short list of tags); the result is text, always escaped where it is used.
    """
    text = _LIST_ITEM.sub("\n\n- ", html)
    text = _BLOCK.sub("\n\n", text)
    text = _BREAK.sub("\n", text)
    text = unescape(_TAG.sub("", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\xa0", " ").split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
