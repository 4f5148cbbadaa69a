"""List entries are rendered once per event and placed at any depth."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gancio_site.models import Event, Place, SiteInfo
from gancio_site.render import Renderer
from gancio_site.urls import UrlMap

ROME = ZoneInfo("Europe/Rome")
SITE = SiteInfo("Agenda", "", "https://example.org/", "it", "Europe/Rome", "https://g.example", "G")


def event(title: str) -> Event:
    start = datetime(2026, 12, 5, 21, 0, tzinfo=ROME)
    return Event(1, title, "serata", start, None, Place(3, "Sala Uno"), tags=("musica",))


@pytest.mark.parametrize("title", ["Serata", "Serata\x00nulla"], ids=["plain", "with a NUL"])
def test_an_entry_at_each_depth_links_to_the_root(title):
    item = event(title)
    renderer = Renderer(SITE, UrlMap(SITE.base_url, [item]), [], "/")
    top, deep = renderer.event_item(item, 0), renderer.event_item(item, 2)
    assert 'href="event/serata/"' in top and 'href="tag/musica/"' in top
    assert 'href="../../event/serata/"' in deep and 'href="../../place/sala-uno/"' in deep
    assert deep.replace("../../", "") == top  # the same entry, climbing two folders
    assert "\x00" not in top.replace(title, "") and top.count(title) == 1
