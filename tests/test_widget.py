"""The embeddable widget (embed.js, embed/, embed/builder.html) in a real Chromium.

Host pages are served from another origin than the site, as on a real third-party page;
the site answers with ``Access-Control-Allow-Origin: *`` like Netlify and GitHub Pages.
The widget's clock is pinned to the demo data's capture time with ``data-now``, and the
browser runs in another time zone and language than the site's, which must not matter.
"""

from __future__ import annotations

import gzip
import html
import itertools
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser import offline_page, serve
from click.testing import CliRunner

import gancio_site
from gancio_site.cli import main
from gancio_site.fetch import load_demo

LOCALES = Path(gancio_site.__file__).parent / "locale"  # the languages besides English

pytestmark = pytest.mark.browser

NOW = load_demo()[1]  # unix seconds: when the demo data was captured (2026-12-03)
LOADING = "Loading events"
HOSTILE_SITE_TITLE = 'Agenda */ </script> "x" & <b>co</b>'


def build(output: Path, *options: str) -> None:
    clean_env = {k: None for k in os.environ if k.startswith("GANCIO_") or k == "SOURCE_DATE_EPOCH"}
    result = CliRunner(env=clean_env).invoke(
        main,
        [
            "build",
            "--demo",
            "--show-recurrent",
            "--output",
            str(output),
            "--base-url",
            "https://example.org/",
            *options,
        ],
    )
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Served from one origin: the demo site, a variant, and folders for failures."""
    root = tmp_path_factory.mktemp("widget")
    build(root / "site")
    build(
        root / "italiano",
        "--language",
        "it",
        "--timezone",
        "America/Argentina/Buenos_Aires",
        "--title",
        HOSTILE_SITE_TITLE,
    )
    for name, source, content in (
        ("missing", "site", None),
        ("broken", "site", b'{"version": 1, "events": ['),
        ("missing-it", "italiano", None),
        ("hostile", "site", json.dumps(HOSTILE_EVENTS).encode()),
    ):
        (root / name).mkdir()
        shutil.copy(root / source / "embed.js", root / name)
        if content is not None:
            (root / name / "embed.json").write_bytes(content)
    return root


@dataclass
class Servers:
    site: str  # http://127.0.0.1:PORT/ serving ``built`` (CORS on)
    host: str  # http://127.0.0.1:OTHER/ serving ``host_dir``: another origin
    host_dir: Path


@pytest.fixture(scope="module")
def servers(built, tmp_path_factory) -> Iterator[Servers]:
    host_dir = tmp_path_factory.mktemp("host")
    with serve(built, cors=True) as site, serve(host_dir) as host:
        yield Servers(site + "/", host + "/", host_dir)


@pytest.fixture(scope="module")
def events(built) -> list[dict]:
    return json.loads((built / "site" / "events.json").read_text("utf-8"))["events"]


@pytest.fixture
def page(browser):
    # A visitor far from the site, with a browser in another language.
    with offline_page(browser, timezone_id="America/New_York", locale="de-DE") as page:
        yield page


_pages = itertools.count()


def host_page(servers: Servers, body: str, head: str = "") -> str:
    """Write a page of the host site; return its URL."""
    name = f"page{next(_pages)}.html"
    (servers.host_dir / name).write_text(
        '<!doctype html>\n<html lang="de"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Host</title>{head}</head>\n<body>\n{body}\n</body></html>\n",
        "utf-8",
    )
    return servers.host + name


def widget(servers: Servers, folder: str = "site", now: object = NOW, **data: object) -> str:
    """The documented snippet, pointing at ``folder`` of the site server."""
    if now is not None:
        data["now"] = now
    attributes = "".join(f' data-{k}="{html.escape(str(v))}"' for k, v in data.items())
    return f'<script src="{servers.site}{folder}/embed.js"{attributes} async></script>'


def load(page, url: str, count: int = 1) -> None:
    """Open ``url`` and wait until its ``count`` widgets are past "Loading events…"."""
    page.goto(url)
    page.wait_for_function(
        """([n, loading]) => {
            const hosts = document.querySelectorAll("gancio-site-events");
            return hosts.length === n && [...hosts].every(
                h => h.shadowRoot && !h.shadowRoot.textContent.includes(loading));
        }""",
        arg=[count, LOADING],
    )


def shadow_text(page, index: int = 0) -> str:
    return page.evaluate(
        "i => document.querySelectorAll('gancio-site-events')[i].shadowRoot.textContent", index
    )


def shadow_count(page, selector: str) -> int:
    """How many elements inside the first widget's shadow root match ``selector``."""
    return page.evaluate(
        "s => document.querySelector('gancio-site-events').shadowRoot.querySelectorAll(s).length",
        selector,
    )


def titles(page, index: int = 0) -> list[str]:
    return page.locator("gancio-site-events").nth(index).locator("li .t").all_text_contents()


def expected(events, tags=(), places=(), limit=10, now=NOW) -> list[dict]:
    """The events a widget with these options shows, computed from events.json."""
    moment = datetime.fromtimestamp(now, UTC)
    wanted_places = {p.strip().lower() for p in places}
    kept = [
        e
        for e in events
        if datetime.fromisoformat(e["end"] or e["start"]) >= moment
        and (not tags or any(t["name"] in tags for t in e["tags"]))
        and (not places or (e["place"]["name"] or "").strip().lower() in wanted_places)
    ]
    kept.sort(key=lambda e: datetime.fromisoformat(e["start"]))  # stable, like the browser's
    return kept[:limit]


def spaces(text: str) -> str:
    return re.sub(r"[\s\u202f\u00a0]+", " ", text).strip()


# --- the files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "language", ["en", *sorted(p.name for p in LOCALES.iterdir() if p.is_dir())]
)
def test_the_script_stays_under_4_kb_gzipped_in_every_language(tmp_path, language):
    result = CliRunner().invoke(main, ["build", "--demo", "-q", "--language", language])
    assert result.exit_code == 0, result.output
    assert len(gzip.compress((tmp_path / "public" / "embed.js").read_bytes(), 9)) <= 4096


def test_the_script_is_small_and_builds_no_markup_from_strings(built):
    script = (built / "site" / "embed.js").read_bytes()
    assert len(gzip.compress(script, 9)) <= 4096
    text = script.decode()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in text
    assert '"Europe/Rome"' in text and '"https://example.org/"' in text
    for page in ("embed/index.html", "embed/builder.html"):
        assert (built / "site" / page).is_file()


def test_the_widget_data_is_the_site_events_without_descriptions(built):
    full = json.loads((built / "site" / "events.json").read_text("utf-8"))
    raw = (built / "site" / "embed.json").read_bytes()
    small = json.loads(raw)
    assert small["version"] == 1
    assert [e["url"] for e in small["events"]] == [e["url"] for e in full["events"]]
    for mini, event in zip(small["events"], full["events"], strict=True):
        assert mini["title"] == event["title"]
        assert (mini["start"], mini["end"]) == (event["start"], event["end"])
        assert mini["tags"] == [t["name"] for t in event["tags"]]
        assert mini["place"] == {k: event["place"][k] for k in ("name", "online")}
        image = event["image"] and {
            k: event["image"][k] for k in ("thumb_url", "width", "height", "focal_point")
        }
        assert mini["image"] == image
        assert "description" not in mini
    # Where "More events" leads for one tag or one place: the page events.json names.
    for event in full["events"]:
        for tag in event["tags"]:
            assert small["tags"][tag["name"]] == tag["url"]
        if event["place"]["url"]:
            assert small["places"][event["place"]["name"].lower()] == event["place"]["url"]
    assert len(raw) < len((built / "site" / "events.json").read_bytes()) / 2
    assert b"<" not in raw and b"&" not in raw  # inert if pasted into a page, as events.json


def test_a_hostile_site_title_stays_a_string_in_the_script(built):
    text = (built / "italiano" / "embed.js").read_text("utf-8")
    comment, code = text.split("*/\n", 1)
    assert "Agenda" not in comment  # no data in the comment: "*/" would end it
    assert "</script>" not in code and "<b>" not in code
    as_json = json.dumps(f"Guardali su {HOSTILE_SITE_TITLE}")[1:-1]  # built in Italian
    assert as_json.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") in code


# --- what the widget shows --------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "tags", "places", "limit", "now"),
    [
        ({}, (), (), 10, NOW),
        ({"tags": "musica,concerto", "max": 50}, ("musica", "concerto"), (), 50, NOW),
        (
            {"tags": " musica ", "places": "parco della pace"},
            ("musica",),
            ("Parco della Pace",),
            10,
            NOW,
        ),
        (
            {"places": " Biblioteca Civica ,ONLINE", "max": 3},
            (),
            ("Biblioteca Civica", "online"),
            3,
            NOW,
        ),
        # Later the same week: ended events are gone, those going on still listed.
        ({"max": 4}, (), (), 4, "2026-12-05T20:00:00+01:00"),
        ({"max": "nonsense"}, (), (), 10, NOW),
    ],
)
def test_filters_order_and_links(page, servers, events, options, tags, places, limit, now):
    load(page, host_page(servers, widget(servers, now=now, **options)))
    moment = now if isinstance(now, int) else datetime.fromisoformat(now).timestamp()
    want = expected(events, tags, places, limit, moment)
    assert len(want) >= min(limit, 3)  # the case is meaningful
    assert titles(page) == [e["title"] for e in want]
    hrefs = page.locator("gancio-site-events li a.t").evaluate_all("l => l.map(a => a.href)")
    assert hrefs == [e["url"] for e in want]
    starts = page.locator("gancio-site-events li").evaluate_all(
        "items => items.map(li => li.querySelector('time').getAttribute('datetime'))"
    )
    assert starts == [e["start"] for e in want]
    assert page.errors == [] and page.dialogs == []


def test_days_and_times_are_in_the_site_zone_and_language(page, servers):
    load(page, host_page(servers, widget(servers)))
    headings = [spaces(h) for h in page.locator("gancio-site-events h3").all_inner_texts()]
    assert headings[0] == "Thursday, December 3 Today"
    assert headings[1] == "Friday, December 4 Tomorrow"
    # Still going on (2 to 4 December): listed today, with its whole range.
    first = page.locator("gancio-site-events li").first
    assert spaces(first.locator(".t").inner_text()) == "Mostra fotografica «Sguardi»"
    assert (
        spaces(first.locator(".m time").inner_text())
        == "Wed, Dec 2, 10:00 AM – Fri, Dec 4, 7:00 PM"
    )
    second = page.locator("gancio-site-events li").nth(1)
    assert spaces(second.locator(".w").inner_text()) == "7:00 AM – 8:00 AM"  # Rome, not New York
    assert spaces(second.locator(".m").inner_text()) == "Parco della Pace"
    online = page.locator("gancio-site-events li", has_text="Podcast live settimanale")
    assert online.locator(".on").inner_text().lower() == "online"
    footer = page.locator("gancio-site-events .f")
    assert "Times in Europe/Rome" in footer.inner_text()
    assert footer.locator("a").get_attribute("href") == "https://example.org/"
    assert page.errors == []


def test_dates_in_another_year_say_the_year(page, servers):
    load(page, host_page(servers, widget(servers, tags="festa")))
    assert spaces(page.locator("gancio-site-events h3").inner_text()) == (
        "Tuesday, December 31, 2030"
    )
    load(page, host_page(servers, widget(servers, tags="festa", view="compact")))
    assert spaces(page.locator("gancio-site-events .m time").inner_text()) == (
        "Tue, Dec 31, 2030, 10:00 PM – Wed, Jan 1, 2031, 4:00 AM"
    )


def test_another_language_and_zone(page, servers):
    load(page, host_page(servers, widget(servers, "italiano")))
    headings = [spaces(h).lower() for h in page.locator("gancio-site-events h3").all_inner_texts()]
    assert headings[0] == "giovedì 3 dicembre oggi"
    assert headings[1] == "venerdì 4 dicembre domani"
    yoga = page.locator("gancio-site-events li", has_text="Yoga al parco")
    # 07:00 in Rome, and written the Italian way
    assert spaces(yoga.locator(".w").inner_text()) == "03:00 – 04:00"
    assert "America/Argentina/Buenos_Aires" in page.locator("gancio-site-events .f").inner_text()
    assert page.locator("gancio-site-events .gs").get_attribute("lang") == "it"
    assert page.errors == []


def test_two_widgets_on_one_page(page, servers, events):
    body = (
        widget(servers, tags="musica", max=2)
        + "\n<p>Between</p>\n"
        + widget(servers, view="compact")
    )
    load(page, host_page(servers, body), count=2)
    assert titles(page, 0) == [e["title"] for e in expected(events, ("musica",), limit=2)]
    assert len(titles(page, 1)) == 10
    order = page.evaluate("[...document.body.children].map(e => e.localName).join(' ')")
    assert order == "script gancio-site-events p script gancio-site-events"


def test_compact_view(page, servers, events):
    load(page, host_page(servers, widget(servers, view="compact", max=5)))
    assert page.locator("gancio-site-events h3").count() == 0
    assert page.locator("gancio-site-events ul").count() == 1
    items = page.locator("gancio-site-events li")
    assert items.count() == 5
    second = spaces(items.nth(1).locator(".m").inner_text())
    assert second == "Fri, Dec 4, 7:00 – 8:00 AM · Parco della Pace"
    assert titles(page) == [e["title"] for e in expected(events, limit=5)]
    assert page.errors == []


def test_images_only_when_asked(page, servers, events):
    load(page, host_page(servers, widget(servers, max=50)))
    assert page.locator("gancio-site-events img").count() == 0
    load(page, host_page(servers, widget(servers, max=50, images="true")))
    want = [e for e in expected(events, limit=50) if e["image"]]
    assert want
    images = page.locator("gancio-site-events img")
    assert images.count() == len(want)
    for i, event in enumerate(want):
        image = images.nth(i)
        assert image.get_attribute("src") == event["image"]["thumb_url"]
        assert image.get_attribute("loading") == "lazy"
        assert image.get_attribute("width") == str(event["image"]["width"])
        assert image.get_attribute("height") == str(event["image"]["height"])
        assert image.get_attribute("alt") == ""


# --- states -----------------------------------------------------------------------------


def test_the_demo_widget_keeps_the_demo_clock(page, servers, events):
    """Without data-now, the demo's widget shows what the demo's pages show, whatever the
    date; a real site's widget follows the visitor's clock."""
    load(page, host_page(servers, widget(servers, now=None)))
    assert titles(page) == [e["title"] for e in expected(events, now=NOW)]
    assert titles(page)[0] == "Mostra fotografica «Sguardi»"  # the home page's first


def test_a_real_sites_widget_follows_the_visitors_clock(gancio, tmp_path):
    result = CliRunner().invoke(
        main, ["build", "--instance", gancio.url, "--base-url", "https://example.org/"]
    )
    assert result.exit_code == 0, result.output
    script = (tmp_path / "public" / "embed.js").read_text("utf-8")
    assert "now = when || Date.now();" in script


def test_empty_state(page, servers):
    load(page, host_page(servers, widget(servers, tags="no-such-tag")))
    assert page.locator("gancio-site-events li").count() == 0
    assert page.locator("gancio-site-events .msg").inner_text() == "No upcoming events."
    assert page.locator("gancio-site-events .f a").get_attribute("href") == "https://example.org/"
    assert page.errors == []


@pytest.mark.parametrize(
    ("options", "leads_to"),
    [
        ({"tags": "musica"}, "https://example.org/tag/musica/"),
        ({"tags": "musica, musica"}, "https://example.org/tag/musica/"),  # still one tag
        ({"places": " biblioteca CIVICA"}, "https://example.org/place/biblioteca-civica/"),
        ({"tags": "musica,teatro"}, "https://example.org/"),  # two: the whole agenda
        ({"tags": "musica", "places": "Biblioteca Civica"}, "https://example.org/"),
        ({"tags": "constructor"}, "https://example.org/"),  # no such tag; no JS property either
        ({}, "https://example.org/"),
    ],
)
def test_more_events_leads_to_the_one_tag_or_place_shown(page, servers, options, leads_to):
    load(page, host_page(servers, widget(servers, **options)))
    more = page.locator("gancio-site-events .f a.more")
    assert more.get_attribute("href") == leads_to
    assert page.errors == []


def test_options_it_cannot_use_are_named_in_the_console(page, servers):
    bad = {"max": "ten", "theme": "blue", "view": "grid", "images": "yes", "target": "top"}
    load(page, host_page(servers, widget(servers, accent="green", now="soon", **bad)))
    named = sorted(re.search(r'data-(\w+)="', w).group(1) for w in page.warnings)
    assert named == sorted([*bad, "accent", "now"])
    assert page.locator("gancio-site-events li").count() >= 1  # the defaults are used
    assert all("is not valid, so ignored" in w for w in page.warnings)
    page.warnings.clear()
    # A fraction is no number of events; a time without its offset would be read in the
    # visitor's own zone: both give way to the default.
    load(page, host_page(servers, widget(servers, max="2.5", now="2026-12-05T20:00:00")))
    assert page.warnings == [
        'gancio-site: data-max="2.5" is not valid, so ignored',
        'gancio-site: data-now="2026-12-05T20:00:00" is not valid, so ignored',
    ]
    assert page.locator("gancio-site-events li").count() == 10
    page.warnings.clear()
    load(page, host_page(servers, widget(servers, tags="Musica,musica", places="Nowhere")))
    assert page.warnings == [
        'gancio-site: no event of this site has the tag "Musica"',  # tags match exactly
        'gancio-site: no event of this site has the place "nowhere"',
    ]
    page.warnings.clear()
    good = {"max": 3, "theme": "auto", "view": "compact", "images": "true", "target": "_blank"}
    load(page, host_page(servers, widget(servers, accent="#0a6e4f", **good)))
    assert page.warnings == []
    assert page.locator("gancio-site-events li").count() == 3


def test_a_script_the_widget_cannot_place_says_how_to_load_it(page, servers):
    """As a module (or pasted inline) the script cannot see its own tag: the console says
    how to load it, and the fallback link stays."""
    module = widget(servers).replace("<script ", '<script type="module" ')
    fallback = '<a data-gancio-site-fallback href="https://example.org/">Events</a>'
    url = host_page(servers, fallback + module)
    with page.expect_console_message(lambda message: message.type == "warning"):
        page.goto(url)
    assert page.locator("gancio-site-events").count() == 0
    assert page.locator("a[data-gancio-site-fallback]").count() == 1
    assert page.warnings == [
        'gancio-site: load embed.js with <script src="…" async>, not as a module or inline'
    ]
    page.warnings.clear()
    load(page, host_page(servers, fallback + widget(servers)))
    assert page.warnings == [] and page.locator("a[data-gancio-site-fallback]").count() == 0


@pytest.mark.parametrize("folder", ["missing", "broken"])
def test_error_state(page, servers, folder):
    load(page, host_page(servers, widget(servers, folder)))
    message = page.locator("gancio-site-events .msg")
    assert message.inner_text() == "Events could not be loaded. See them on Gancio"
    assert message.locator("a").get_attribute("href") == "https://example.org/"
    assert page.locator("gancio-site-events li").count() == 0
    assert page.dialogs == []


def test_error_state_with_a_hostile_site_title(page, servers):
    load(page, host_page(servers, widget(servers, "missing-it")))
    link = page.locator("gancio-site-events .msg a")
    assert link.inner_text() == f"Guardali su {HOSTILE_SITE_TITLE}"  # built in Italian
    assert shadow_count(page, "b") == 0
    assert page.errors == [] or all("404" in e for e in page.errors)


def test_loading_state_is_shown_first(page, servers):
    # The data never arrives: the widget says it is loading.
    page.route("**/site/embed.json", lambda route: None)
    page.goto(host_page(servers, widget(servers)))
    page.wait_for_selector("gancio-site-events .msg")
    assert page.locator("gancio-site-events .msg").inner_text() == "Loading events…"


def test_fallback_link_is_replaced(page, servers):
    body = (
        '<a data-gancio-site-fallback href="https://example.org/">Events</a>\n'
        + widget(servers)
        + '\n<noscript><a href="https://example.org/">Events</a></noscript>'
    )
    load(page, host_page(servers, body))
    assert page.locator("[data-gancio-site-fallback]").count() == 0
    order = page.evaluate("[...document.body.children].map(e => e.localName).join(' ')")
    assert order == "gancio-site-events script noscript"
    assert page.locator("gancio-site-events li").count() == 10


# --- safety -----------------------------------------------------------------------------


def test_hostile_title_is_shown_as_text_and_nothing_runs(page, servers):
    load(page, host_page(servers, widget(servers, tags="sicurezza")))
    assert titles(page) == ["Evento con <b>HTML</b> nel titolo <script>alert(1)</script>"]
    assert shadow_count(page, "b, script") == 0 and page.locator("body b").count() == 0
    assert page.dialogs == [] and page.errors == []


HOSTILE_EVENTS = {
    "version": 1,
    "events": [
        {
            "id": 1,
            "title": "<img src=x onerror=alert(1)>",
            "url": "javascript:alert(2)",
            "start": "2030-01-01T10:00:00+01:00",
            "end": None,
            "place": {"name": '<b onclick="alert(3)">Piazza</b>', "online": False},
            "tags": ["x"],
            "image": {"thumb_url": "javascript:alert(4)", "width": "1e9", "focal_point": ["x", 1]},
        },
        {
            "id": 2,
            "title": "Data URL",
            "url": "data:text/html,<script>alert(5)</script>",
            "start": "2030-01-02T10:00:00+01:00",
            "end": "not a date",
            "place": None,
            "image": {"thumb_url": "//127.0.0.1/relative.png"},
        },
        {"id": 3, "title": "Broken start", "url": "https://example.org/", "start": "soon"},
        {
            "id": 4,
            "title": "Fine",
            "url": "https://example.org/event/fine/",
            "start": "2030-01-03T10:00:00+01:00",
            "end": "2030-01-03T12:00:00+01:00",
            "place": {"name": "online", "online": True},
            "tags": [],
            "image": None,
        },
    ],
    "tags": {"x": "javascript:alert(6)"},
}


def test_hostile_data_stays_inert(page, servers):
    load(page, host_page(servers, widget(servers, "hostile", images="true")))
    assert titles(page) == ["<img src=x onerror=alert(1)>", "Data URL", "Fine"]
    links = page.locator("gancio-site-events a").evaluate_all("l => l.map(a => a.href)")
    assert links == ["https://example.org/event/fine/", "https://example.org/"]
    assert page.locator("gancio-site-events .m", has_text="Piazza").inner_text() == (
        '<b onclick="alert(3)">Piazza</b>'
    )
    assert page.locator("gancio-site-events img").count() == 0
    assert shadow_count(page, "b") == 0
    assert page.dialogs == [] and page.errors == []
    # A "More events" link from the data is a link only when it is http(s).
    load(page, host_page(servers, widget(servers, "hostile", tags="x")))
    assert titles(page) == ["<img src=x onerror=alert(1)>"]
    assert page.locator("gancio-site-events a.more").get_attribute("href") == "https://example.org/"
    assert page.dialogs == [] and page.errors == []


# --- living on someone else's page ------------------------------------------------------

B10_HOST = """<style>.title{color:red} a{padding:0} a.pad{padding:7px}
body{color:red;font:italic 30px/3 serif;letter-spacing:4px;text-transform:uppercase;text-align:center}
li{background:red;list-style:square} .t,.gs,.m{color:red!important;border:5px solid red} h3{margin:33px}</style>"""


def test_styles_do_not_leak_either_way(page, servers):
    body = (
        '<div class="title">Intestazione</div>\n<h3>Host heading</h3>\n'
        '<p class="t m"><a href="#a">host link</a> <a class="pad" href="#b">padded</a></p>\n'
        + widget(servers)
    )
    load(page, host_page(servers, body, B10_HOST))

    def host(selector: str, name: str) -> str:
        return page.locator(selector).first.evaluate("(e, p) => getComputedStyle(e)[p]", name)

    def inside(selector: str, name: str) -> str:
        return host(f"gancio-site-events {selector}", name)

    # The host keeps its own styles.
    assert host(".title", "color") == "rgb(255, 0, 0)"
    assert host("a", "paddingTop") == "0px" and host("a.pad", "paddingTop") == "7px"
    assert host("h3", "marginTop") == "33px" and host("p.t", "borderTopWidth") == "5px"
    # The widget keeps its own.
    for selector in (".gs", ".t", ".m", "h3"):
        assert inside(selector, "color") != "rgb(255, 0, 0)", selector
    assert inside(".t", "fontStyle") == "normal"
    assert inside(".t", "textTransform") == "none"
    assert inside(".t", "letterSpacing") == "normal"
    assert inside(".gs", "textAlign") == "start"
    assert inside(".gs", "borderTopWidth") == "1px"
    assert inside("h3", "marginTop") == "0px"
    assert inside("li", "backgroundColor") == "rgba(0, 0, 0, 0)"
    assert inside("li", "listStyleType") == "none"
    assert inside(".gs", "fontSize") == "16px"
    assert page.errors == []


@pytest.mark.parametrize(
    ("theme", "scheme", "background"),
    [
        (None, "dark", "rgb(255, 255, 255)"),  # light unless asked
        ("dark", "light", "rgb(28, 27, 34)"),
        ("auto", "dark", "rgb(28, 27, 34)"),
        ("auto", "light", "rgb(255, 255, 255)"),
    ],
)
def test_themes(page, servers, theme, scheme, background):
    page.emulate_media(color_scheme=scheme)
    options = {"theme": theme} if theme else {}
    load(page, host_page(servers, widget(servers, **options)))
    box = page.locator("gancio-site-events .gs")
    assert box.evaluate("e => getComputedStyle(e).backgroundColor") == background


def test_custom_properties_and_accent(page, servers):
    head = (
        "<style>.mine gancio-site-events{--gs-accent:rgb(0, 90, 0);--gs-bg:rgb(250, 250, 200);"
        "--gs-font:Georgia,serif;font-size:15px}</style>"
    )
    body = f'<div class="mine">{widget(servers)}</div>\n{widget(servers, accent="#123456")}'
    body += "\n" + widget(servers, accent="red;background:url(//x)")
    load(page, host_page(servers, body, head), count=3)
    color = "e => getComputedStyle(e).color"
    more = page.locator("gancio-site-events .more")
    assert more.nth(0).evaluate(color) == "rgb(0, 90, 0)"
    first = page.locator("gancio-site-events .gs").nth(0)
    assert first.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(250, 250, 200)"
    assert first.evaluate("e => getComputedStyle(e).fontFamily") == "Georgia, serif"
    assert first.evaluate("e => getComputedStyle(e).fontSize") == "15px"
    assert more.nth(1).evaluate(color) == "rgb(18, 52, 86)"
    assert more.nth(2).evaluate(color) == "rgb(163, 22, 74)"  # refused: the default


def test_links_take_keyboard_focus_visibly(page, servers):
    load(page, host_page(servers, '<a href="#top">Host</a>\n' + widget(servers)))
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        """() => {
            const a = document.activeElement.shadowRoot.activeElement, s = getComputedStyle(a);
            return [a.textContent, s.outlineStyle, s.outlineWidth];
        }"""
    )
    assert focused == ["Mostra fotografica «Sguardi»", "solid", "2px"]


@pytest.mark.parametrize("width", [320, 1200])
def test_no_horizontal_overflow_on_a_narrow_or_wide_page(page, servers, width):
    page.set_viewport_size({"width": width, "height": 800})
    load(page, host_page(servers, widget(servers, images="true", max=50)))
    assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
    box = page.locator("gancio-site-events .gs").bounding_box()
    assert box["width"] <= width


# --- the iframe ---------------------------------------------------------------------------


def builder_snippet(built: Path, textarea: str) -> str:
    page = (built / "site" / "embed" / "builder.html").read_text("utf-8")
    found = re.search(rf'<textarea id="{textarea}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found
    return html.unescape(found.group(1))


@pytest.mark.parametrize("width", [320, 1200])
def test_iframe_grows_to_its_content(page, servers, built, width):
    page.set_viewport_size({"width": width, "height": 600})
    snippet = builder_snippet(built, "gs-frame")  # exactly what the builder offers
    assert 'src="https://example.org/embed/"' in snippet
    snippet = snippet.replace(
        'src="https://example.org/embed/"',
        f'src="{servers.site}site/embed/?max=12&amp;now={NOW}"',
    )
    page.goto(host_page(servers, "<h1>Host</h1>\n" + snippet + "\n<p>After</p>"))
    frame = page.locator("iframe").element_handle().content_frame()
    frame.wait_for_function(
        "() => document.querySelector('gancio-site-events')?.shadowRoot.querySelectorAll('li').length === 12"
    )
    # The host sets the height from the message; then nothing scrolls inside the frame.
    frame.wait_for_function(
        """() => {
            const d = document.documentElement, items = document.querySelector("gancio-site-events")
                .shadowRoot.querySelectorAll("li");
            return d.scrollHeight <= innerHeight && d.clientWidth === innerWidth
                && items[11].getBoundingClientRect().bottom <= innerHeight;
        }"""
    )
    assert frame.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
    frame_height = page.locator("iframe").bounding_box()["height"]
    content = frame.evaluate(
        "document.querySelector('gancio-site-events').getBoundingClientRect().bottom"
    )
    assert 0 <= frame_height - content <= 2  # fits tightly: no gap either
    targets = frame.locator("gancio-site-events a").evaluate_all("l => l.map(a => a.target)")
    assert set(targets) == {"_top"}  # links open in the embedding page, not in the frame
    assert page.errors == [] and page.dialogs == []


def test_iframe_takes_the_options(page, servers, events):
    query = f"tags=musica&places=Parco%20della%20Pace&view=compact&theme=dark&now={NOW}"
    page.goto(servers.site + "site/embed/?" + query)
    page.wait_for_selector("gancio-site-events li")
    assert titles(page) == [
        e["title"] for e in expected(events, ("musica",), ("Parco della Pace",))
    ]
    assert page.locator("gancio-site-events .gs").get_attribute("class") == "gs dark compact"
    assert page.errors == [] and page.warnings == []


def test_iframe_names_the_options_it_cannot_use_as_they_were_written(page, servers):
    page.goto(servers.site + f"site/embed/?max=ten&target=_new&theme=blue&now={NOW}")
    page.wait_for_selector("gancio-site-events li")
    assert sorted(page.warnings) == [
        'gancio-site: max="ten" is not valid, so ignored',
        'gancio-site: target="_new" is not valid, so ignored',
        'gancio-site: theme="blue" is not valid, so ignored',
    ]
    targets = page.locator("gancio-site-events a").evaluate_all("l => l.map(a => a.target)")
    assert set(targets) == {"_top"}  # the frame's default


# --- the builder --------------------------------------------------------------------------


def test_builder_previews_and_writes_working_snippets(page, servers, events):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(servers.site + "site/embed/builder.html")
    page.wait_for_selector("gancio-site-events .f")
    today = NOW  # a demo site's preview runs on the demo's clock, as its widget
    assert titles(page) == [e["title"] for e in expected(events, now=today)]

    page.locator('input[name="tags"][value="musica"]').check()
    page.locator('input[name="places"][value="Parco della Pace"]').check()
    page.get_by_label("Compact").check()
    page.get_by_label("Dark").check()
    number = page.get_by_label("Number of events")
    for typed, written in (("500", ' data-max="100"'), ("0", "")):  # out of range: marked
        number.fill(typed)
        assert number.evaluate("e => e.matches(':invalid')")
        page.wait_for_function(
            "w => /<script [^>]*async>/.test(document.getElementById('gs-script').value) && "
            "(w ? document.getElementById('gs-script').value.includes(w) "
            ": !document.getElementById('gs-script').value.includes('data-max'))",
            arg=written,
        )
    number.fill("3")
    assert not number.evaluate("e => e.matches(':invalid')")
    want = expected(events, ("musica",), ("Parco della Pace",), 3, today)
    page.wait_for_function("document.getElementById('gs-script').value.includes('data-max=\"3\"')")
    page.wait_for_function(
        """() => {
            const r = document.querySelector("gancio-site-events")?.shadowRoot;
            return r && r.querySelector(".f") && r.querySelector(".gs").className === "gs dark compact";
        }"""
    )
    assert titles(page) == [e["title"] for e in want]
    script = page.locator("#gs-script").input_value()
    assert script == (
        '<a data-gancio-site-fallback href="https://example.org/">Upcoming events: Gancio</a>\n'
        '<script src="https://example.org/embed.js" data-tags="musica"'
        ' data-places="Parco della Pace" data-max="3" data-theme="dark" data-view="compact"'
        " async></script>"
    )
    frame = page.locator("#gs-frame").input_value()
    assert frame.startswith(
        '<iframe class="gancio-site-events" title="Upcoming events: Gancio" src="https://'
        "example.org/embed/?tags=musica&amp;places=Parco+della+Pace&amp;max=3&amp;theme=dark"
        '&amp;view=compact" style="width:100%;border:0" loading="lazy"></iframe>\n<script>'
    )

    page.get_by_role("button", name="Copy").first.click()
    page.wait_for_function("() => document.getElementById('gs-status').textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == script
    assert page.errors == []

    # The snippet works as pasted on another site (pointed at the test server).
    pasted = script.replace("https://example.org/", f"{servers.site}site/").replace(
        " async>", f' data-now="{NOW}" async>'
    )
    page.goto(host_page(servers, pasted))
    page.wait_for_selector("gancio-site-events .f")
    assert page.locator("[data-gancio-site-fallback]").count() == 0
    assert titles(page) == [
        e["title"] for e in expected(events, ("musica",), ("Parco della Pace",), 3)
    ]


def test_builder_without_javascript_still_offers_the_snippets(browser, servers):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(servers.site + "site/embed/builder.html")
    assert page.locator("#gs-script").input_value().startswith("<a data-gancio-site-fallback")
    assert 'src="https://example.org/embed/"' in page.locator("#gs-frame").input_value()
    assert page.locator("#gs-preview").inner_text() == "The preview needs JavaScript."
    context.close()
