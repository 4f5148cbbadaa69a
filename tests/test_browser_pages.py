"""The built pages in a real headless Chromium: they render, link, and stay inert."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser import serve
from sitekit import build_demo

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site_url(tmp_path_factory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("www")
    build_demo(root, root / "agenda", "--base-url", "https://example.org/agenda/")
    with serve(root) as url:
        yield url + "/agenda/"


def local_failures(page, url: str) -> list[str]:
    failed: list[str] = []
    page.on(
        "response",
        lambda r: r.status >= 400 and "127.0.0.1" in r.url and failed.append(f"{r.status} {r.url}"),
    )
    page.goto(url)
    page.wait_for_load_state("load")
    return failed


def test_home_lists_events_grouped_by_day(page, site_url):
    failed = local_failures(page, site_url)
    assert failed == []
    assert page.title() == "Gancio"
    assert page.locator("main article.event").count() == 30
    assert page.locator("main h2").first.inner_text().startswith("Thursday, December 3, 2026")
    stylesheet = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "serif" in stylesheet or "sans" in stylesheet  # the theme's CSS loaded
    assert page.errors == []


def test_hostile_title_is_shown_as_text_and_nothing_runs(page, site_url):
    page.goto(site_url)
    link = page.get_by_role("link", name="Evento con <b>HTML</b> nel titolo")
    link.click()
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == (
        "Evento con <b>HTML</b> nel titolo <script>alert(1)</script>"
    )
    assert page.locator("main script").count() == 0
    assert page.dialogs == [] and page.errors == []


def test_links_work_under_the_sub_path(page, site_url):
    page.goto(site_url)
    page.get_by_role("link", name="Tags").first.click()
    page.get_by_role("link", name="musica").first.click()
    page.wait_for_load_state("load")
    assert "/agenda/tag/musica/" in page.url
    assert page.locator("main article.event").count() >= 5
    page.locator("main article.event a").first.click()
    page.wait_for_load_state("load")
    assert "/agenda/event/" in page.url
    assert page.locator("h1").count() == 1


def test_not_found_page_links_home_from_any_depth(page, site_url):
    page.goto(site_url + "404.html")
    css = page.evaluate("[...document.styleSheets].map(s => s.cssRules.length)")
    assert css and css[0] > 10  # stylesheet found through the rooted link


@pytest.mark.parametrize("width", [320, 1200])
def test_no_horizontal_scroll(page, site_url, width):
    page.set_viewport_size({"width": width, "height": 800})
    for path in [
        "",
        "event/un-titolo-lunghissimo-per-verificare-come-il-server-gestisce-i-titoli-molto-lung/",
        "event/7/",
    ]:
        page.goto(site_url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
