"""Progress of long work: a counting line on a terminal, plain lines in CI, nothing when quiet."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from fake_gancio import FakeGancio
from test_hostile import NOW, many_rows

from gancio_site.cli import main
from gancio_site.progress import MIN_ITEMS, Progress, for_terminal


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_at_start_each_quarter_and_end():
    out = io.StringIO()
    progress = Progress(out, "lines")
    progress.start("Rendering", 1000)
    for done in range(1, 1001):
        progress.update(done)
    progress.finish()
    lines = out.getvalue().splitlines()
    assert lines[:4] == [
        "Rendering: 1,000 ...",
        "Rendering: 250 of 1,000",
        "Rendering: 500 of 1,000",
        "Rendering: 750 of 1,000",
    ]
    assert lines[4].startswith("Rendering: 1,000 done in ") and len(lines) == 5


def test_a_terminal_gets_one_line_counting_up_in_place():
    out = Terminal()
    progress = for_terminal(quiet=False, stream=out)
    progress.start("Fetching event details", 600)
    progress._drawn = 0.0  # as if the last redraw was long ago
    progress.update(300)
    progress.finish()
    text = out.getvalue()
    assert "\rFetching event details: 300/600 (50%)\x1b[K" in text
    assert text.endswith("\x1b[K\n") and text.count("\n") == 1


@pytest.mark.parametrize(
    ("quiet", "total"), [(True, 5000), (False, MIN_ITEMS - 1)], ids=["quiet", "small"]
)
def test_quiet_and_small_work_say_nothing(quiet, total):
    out = Terminal()
    progress = for_terminal(quiet=quiet, stream=out)
    progress.start("Rendering", total)
    progress.update(total)
    progress.finish()
    assert out.getvalue() == ""


def test_a_build_in_ci_reports_its_rendering_and_quiet_does_not(tmp_path):
    with FakeGancio(many_rows(300), now=NOW) as fake:
        env = {
            "GANCIO_INSTANCE": fake.url,
            "GANCIO_BASE_URL": "https://example.org/",
            "GANCIO_OUTPUT": str(tmp_path / "public"),
            "GANCIO_CACHE": str(tmp_path / "cache"),
            "SOURCE_DATE_EPOCH": str(NOW),
        }
        runner = CliRunner()
        result = runner.invoke(main, ["build"], env=env)
        assert result.exit_code == 0, result.output
        lines = result.stderr.splitlines()
        assert lines[0].startswith("Rendering: ") and lines[0].endswith(" ...")
        total = lines[0].split(": ")[1].removesuffix(" ...")
        assert int(total.replace(",", "")) > 600  # 300 event pages and calendars, lists
        assert lines[-1].startswith(f"Rendering: {total} done in ")
        quiet = runner.invoke(main, ["build", "--quiet", "--title", "Altro"], env=env)
        assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == ""
