"""Making untrusted text safe: XML-invalid characters out, description HTML sanitised.

Everything that comes from Gancio passes through here once, when the models are built.
Gancio itself sanitises descriptions (API.md section 8) but keeps `target="_top"`,
protocol-relative links and relative `/media/...` URLs, and older instances or other
software may store anything, so the site sanitises again against its own allow-list.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import ClassVar
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


class _TextExtractor(HTMLParser):
    _BLOCKS: ClassVar[set[str]] = {
        "p",
        "div",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "tr",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """Return the plain text of ``html``: paragraphs separated by blank lines."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
