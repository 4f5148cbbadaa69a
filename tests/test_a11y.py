"""Accessibility of the default theme: axe-core in Chromium over every page type.

axe-core comes from the npm registry (``package.json``; ``.ci/run`` installs it): without
it these tests are skipped locally and fail in CI, like the browser itself. Every page is
checked in the light and the dark colour scheme; a serious or critical violation fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import serve
from sitekit import build_demo

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent.parent / "node_modules" / "axe-core" / "axe.min.js"
NOW = "2026-12-03T12:00:00+01:00"  # the demo data's capture day, for the widget's clock
PAGES = {
    "home": "",
    "event with image": "event/festa-di-quartiere-tre-giorni-di-musica/",
    "online event": "event/webinar-privacy-digitale-per-tutti/",
    "hostile title": (
        "event/evento-con-lessbgreaterhtmllessbgreater-nel-titolo-lessscriptgreateralert1lesssc/"
    ),
    "right-to-left event": "event/7/",
    "tag": "tag/musica/",
    "place": "place/parco-della-pace/",
    "tags": "tag/",
    "places": "place/",
    "not found": "404.html",
    "widget builder": "embed/builder.html",
    "widget frame": f"embed/?now={NOW}",
}
BLOCKING = ("serious", "critical")


def require_axe() -> None:
    """Skip locally, fail in CI, when axe-core is not installed from npm."""
    if not AXE.exists():
        message = f"{AXE} is missing: run `npm install --no-audit --no-fund` at the repo root"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def site_url(tmp_path_factory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("www")
    build_demo(root, root / "agenda", "--base-url", "https://x.org/agenda/")
    with serve(root) as url:
        yield url + "/agenda/"


@pytest.fixture(autouse=True, scope="module")
def _axe():
    require_axe()


def violations(page) -> list[str]:
    """Return the serious and critical axe-core violations of the page, one line each."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']})")["violations"]
    return [
        f"{v['impact']} {v['id']}: {v['help']} at "
        + "; ".join(" ".join(node["target"][0:1]) for node in v["nodes"][:5])
        for v in found
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", list(PAGES))
def test_no_serious_violations(page, site_url, name, scheme):
    page.emulate_media(color_scheme=scheme)
    page.goto(site_url + PAGES[name])
    page.wait_for_load_state("load")
    if name.startswith("widget"):  # wait for the widget to draw its list
        page.locator("gancio-site-events li, gancio-site-events .msg").first.wait_for()
    assert violations(page) == []


def test_keyboard_skip_link_then_main_navigation(page, site_url):
    page.goto(site_url)
    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    assert skip.get_attribute("class") == "skip"
    assert skip.bounding_box()["y"] >= 0  # visible when focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    # Focus continues inside the main content, not back at the top of the page.
    assert page.evaluate("document.activeElement.closest('main') !== null")


@pytest.mark.parametrize("name", ["home", "event with image", "tag"])
def test_focus_is_visible_on_every_link(page, site_url, name):
    page.goto(site_url + PAGES[name])
    hidden = page.evaluate(
        """() => [...document.querySelectorAll('a[href], button, input, textarea')]
          .filter(e => e.offsetParent !== null)
          .filter(e => { e.focus({focusVisible: true});
                         const s = getComputedStyle(e);
                         return s.outlineStyle === 'none' || s.outlineWidth === '0px'; })
          .map(e => e.outerHTML.slice(0, 80))"""
    )
    assert hidden == []


@pytest.mark.parametrize("name", ["home", "event with image", "place"])
def test_images_have_alt_and_dates_are_machine_readable(page, site_url, name):
    page.goto(site_url + PAGES[name])
    assert page.locator("img:not([alt])").count() == 0
    times = page.locator("main time")
    assert times.count() > 0
    for value in times.evaluate_all("ts => ts.map(t => t.getAttribute('datetime'))"):
        assert value and value[:4].isdigit(), value
