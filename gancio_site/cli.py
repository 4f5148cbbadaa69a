"""The `gancio-site` command line: parse options, load config, call the core, print a report.

Exit codes: 0 success, 1 the work failed (network, data, output), 2 usage or
configuration error. Only this module prints or exits.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__
from .build import build as run_build
from .config import load_config
from .errors import ConfigError, GancioSiteError

MAX_WARNINGS = 20
EXIT_CODES = """\b
Exit codes: 0 built, 1 build failed (the previous output is left as it was),
2 usage or configuration error."""


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = "Warning: " if record.levelno >= logging.WARNING else ""
        return prefix + record.getMessage()


def _setup_logging(verbose: bool, quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger("gancio_site")
    root.handlers[:] = [handler]
    root.setLevel(logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING)
    root.propagate = False


def fail(exc: GancioSiteError) -> None:
    """Print ``exc`` as ``Error:`` lines and exit 2 (config) or 1 (anything else)."""
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            click.echo(f"Error: {problem}", err=True)
        sys.exit(2)
    click.echo(f"Error: {exc}", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gancio-site")
def main() -> None:
    """Static websites, feeds and widgets from the events of a Gancio instance."""


@main.command(epilog=EXIT_CODES)
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Config file (default: ./gancio-site.toml).",
)
@click.option("--instance", help="URL of the Gancio instance.")
@click.option("--title", help="Site title.")
@click.option("--description", help="One-line description of the site.")
@click.option("--base-url", help="Public URL of the site (may have a sub-path).")
@click.option("-o", "--output", help="Output folder (default: public).")
@click.option("--cache", help="Cache folder (default: .gancio-cache).")
@click.option("--templates", help="Templates overriding the default theme (default: templates).")
@click.option("--static", help="Static files overriding the default theme (default: static).")
@click.option("--timeout", help="Seconds to wait for each answer from Gancio (default: 20).")
@click.option("--language", help="Language of dates and interface, e.g. en, it, es.")
@click.option("--timezone", help="IANA time zone (default: the instance's).")
@click.option("--tag", "tags", multiple=True, help="Only events with this tag (repeatable).")
@click.option(
    "--place", "places", multiple=True, help="Only events at this place, id or name (repeatable)."
)
@click.option("--start", help="From: now, today, a date, or relative like -7d.")
@click.option("--end", help="Until: a date, or relative like +90d.")
@click.option("--max", "max_", help="At most this many events.")
@click.option(
    "--show-recurrent/--no-show-recurrent",
    default=None,
    help="Include occurrences of recurrent events.",
)
@click.option("--offline", is_flag=True, help="Build from the cache of the last build, no network.")
@click.option(
    "--demo", is_flag=True, help="Build from the demo data shipped with gancio-site, no network."
)
@click.option("-v", "--verbose", is_flag=True, help="Say more.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
def build(
    config_path: Path | None,
    offline: bool,
    demo: bool,
    verbose: bool,
    quiet: bool,
    max_: str | None,
    **options: Any,
) -> None:
    """Fetch events and build the static site.

    \b
    Examples:
      gancio-site build --demo
      gancio-site build --instance https://gancio.example.org --base-url https://example.org/
      gancio-site build --tag musica --place "Circolo Esempio" --end +90d
    """
    _setup_logging(verbose, quiet)
    if offline and demo:
        click.echo("Error: --offline and --demo cannot be combined", err=True)
        sys.exit(2)
    overrides = {**options, "max": max_}
    try:
        config = load_config(config_path, overrides=overrides, require_instance=not demo)
        if demo and not config.base_url:
            config = _with(config, base_url="http://localhost:8000/")
        report = run_build(config, mode="demo" if demo else "offline" if offline else "online")
    except GancioSiteError as exc:
        fail(exc)
        return
    if not quiet:
        for warning in report.warnings[:MAX_WARNINGS]:
            click.echo(f"Warning: {warning}", err=True)
        if len(report.warnings) > MAX_WARNINGS:
            click.echo(f"Warning: ... and {len(report.warnings) - MAX_WARNINGS} more", err=True)
        click.echo(report.summary())


def _with(config: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(config, **changes)


if __name__ == "__main__":  # pragma: no cover
    main()
