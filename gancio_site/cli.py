"""The `gancio-site` command line: parse options, load config, call the core, print a report.

Exit codes: 0 success, 1 the work failed (network, data, output), 2 usage or
configuration error. Only this module prints or exits.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from . import __version__, stopping
from .build import build as run_build
from .config import CONFIG_FILE, SiteConfig, load_config
from .errors import (
    AuthError,
    ConfigError,
    ConnectionFailed,
    GancioSiteError,
    ShrinkRefused,
    StatusError,
    redact,
)
from .progress import for_terminal, reporting

MAX_WARNINGS = 20
EXIT_CODES = """\b
Exit codes: 0 built, 1 build failed (the previous output is left as it was),
2 usage or configuration error, 130 stopped by Ctrl-C (143 by SIGTERM)."""


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


def _exit_if_stopped() -> None:
    """End as stopped when a signal asked for a stop whose exception Python lost: an error
    met after it (a module left half-imported, say) is the stop's doing, not a fault."""
    if stopping.requested is not None:
        click.echo("Interrupted.", err=True)
        sys.exit(stopping.requested)


def fail(exc: GancioSiteError) -> None:
    """Print ``exc`` as ``Error:`` lines and exit 2 (config) or 1 (anything else)."""
    _exit_if_stopped()
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            click.echo(f"Error: {problem}", err=True)
        sys.exit(2)
    click.echo(f"Error: {exc}", err=True)
    sys.exit(1)


def _unreachable(exc: GancioSiteError) -> bool:
    """Whether the instance could not be reached or failed (down, overloaded, limiting)."""
    if isinstance(exc, StatusError):
        return exc.status >= 500 or exc.status == 429
    return isinstance(exc, ConnectionFailed)


def _fetched_before(config: SiteConfig | None) -> bool:
    from .cache import Cache

    if config is None:
        return False
    return (Cache(config.cache, config.instance).folder / "events.json").is_file()


def _warn(warnings: list[str]) -> None:
    for warning in warnings[:MAX_WARNINGS]:
        click.echo(f"Warning: {warning}", err=True)
    if len(warnings) > MAX_WARNINGS:
        click.echo(f"Warning: ... and {len(warnings) - MAX_WARNINGS} more", err=True)


def _files(count: int) -> str:
    return "1 file" if count == 1 else f"{count} files"


def _refuse_with_demo(demo: bool, offline: bool, instance: str | None) -> None:
    """Exit 2 on flags that say the opposite of --demo (the demo is offline, from data
    shipped with gancio-site)."""
    if demo and offline:
        click.echo("Error: --offline and --demo cannot be combined", err=True)
        sys.exit(2)
    if demo and instance:
        click.echo(
            "Error: --instance and --demo cannot be combined (the demo is offline)", err=True
        )
        sys.exit(2)


CONFIG_OPTION = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Config file (default: ./gancio-site.toml).",
)
INSTANCE_OPTION = click.option("--instance", help="URL of the Gancio instance.")


class _UsageError(click.ClickException):
    """A usage error shown as one ``Error:`` line pointing at the command's help (exit 2)."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.message}", err=True)

    @classmethod
    def of(cls, exc: click.UsageError, group: click.Context | None = None) -> click.ClickException:
        if isinstance(exc, click.exceptions.NoArgsIsHelpError):
            return exc  # `gancio-site` alone prints the help, as before
        message = " ".join(line.strip() for line in exc.format_message().splitlines())
        if exc.ctx is not None:
            command = exc.ctx.command_path
        elif group is not None:  # some parser errors come without the command's context
            command = " ".join(filter(None, [group.command_path, group.invoked_subcommand]))
        else:
            command = "gancio-site"
        message = message.removesuffix(".")
        # click's "No such option 'x'. (Did you mean 'y'?)": one sentence, one hint.
        if message.endswith("?)") and ". (Did you mean " in message:
            head, _, hint = message.partition(". (Did you mean ")
            return cls(f"{head}: did you mean {hint[:-1]} (see `{command} --help`)")
        return cls(f"{message} (see `{command} --help`)")


class _Group(click.Group):
    """Turns any unexpected exception into one ``Error:`` line instead of a traceback,
    and any usage error into one ``Error:`` line instead of click's usage block."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            raise _UsageError.of(exc) from exc

    def invoke(self, ctx: click.Context) -> Any:
        # SIGTERM (CI cancelling a job) unwinds like Ctrl-C: unfinished output is removed;
        # either is remembered, so that no site is published after it (stopping.py).
        stopping.install()
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _UsageError.of(exc, ctx) from exc
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except Exception as exc:
            _exit_if_stopped()
            if os.environ.get("GANCIO_SITE_DEBUG"):
                raise
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {exc}; please report it "
                "(GANCIO_SITE_DEBUG=1 shows the details)",
                err=True,
            )
            sys.exit(1)


@click.group(
    "gancio-site",
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="gancio-site")
def main() -> None:
    """Static websites, feeds and embeddable event lists from the events of a Gancio instance."""


@main.command(epilog=EXIT_CODES)
@CONFIG_OPTION
@INSTANCE_OPTION
@click.option("--title", help="Site title.")
@click.option("--description", help="One-line description of the site.")
@click.option("--base-url", help="Public URL of the site (may have a sub-path).")
@click.option("-o", "--output", help="Output folder (default: public).")
@click.option("--cache", help="Cache folder (default: .gancio-cache).")
@click.option("--templates", help="Templates overriding the default theme (default: templates).")
@click.option("--static", help="Static files overriding the default theme (default: static).")
@click.option("--timeout", help="Seconds to wait for each answer from Gancio (default: 20).")
@click.option("--language", help="Language of dates and interface: en, it, es, fr, de, ca, pt...")
@click.option("--timezone", help="IANA time zone (default: the instance's).")
@click.option("--tag", "tags", multiple=True, help="Only events with this tag (repeatable).")
@click.option(
    "--place", "places", multiple=True, help="Only events at this place, id or name (repeatable)."
)
@click.option("--start", help="From: now, today, a date, or relative like -7d.")
@click.option("--end", help="Until: today or a date (included), or relative like +90d.")
@click.option("--max", "max_", help="At most this many events.")
@click.option("--page-size", help="Events per list page (100; 0 for one page).")
@click.option(
    "--show-recurrent/--no-show-recurrent",
    default=None,
    help="Include occurrences of recurrent events.",
)
@click.option("--offline", is_flag=True, help="Build from the cache of the last build, no network.")
@click.option("--shrink-limit", help="Refuse builds with fewer events than this share (0.5).")
@click.option(
    "--allow-shrink",
    is_flag=True,
    default=None,
    help="Replace the site even if it would lose most of its events.",
)
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
    _refuse_with_demo(demo, offline, options.get("instance"))
    if verbose and quiet:
        click.echo("Error: --verbose and --quiet cannot be combined", err=True)
        sys.exit(2)
    overrides = {**options, "max": max_}
    config: SiteConfig | None = None
    try:
        config = load_config(config_path, overrides=overrides, require_instance=not demo)
        if demo and not config.base_url:
            config = _with(config, base_url="http://localhost:8000/")
        with reporting(for_terminal(quiet)):
            report = run_build(config, mode="demo" if demo else "offline" if offline else "online")
    except GancioSiteError as exc:
        if isinstance(exc, ShrinkRefused) and not quiet:
            _warn(list(exc.warnings))  # rows skipped as unusable may be why there are few
        if not (demo or offline) and _unreachable(exc) and _fetched_before(config):
            assert config is not None
            # A new CI checkout has the cache and no site: only the hint is true then.
            kept = (
                f"the site in {config.output} is unchanged, and " if config.output.is_dir() else ""
            )
            exc = GancioSiteError(
                f"{exc}; {kept}`gancio-site build --offline` builds it from the events "
                "fetched last time"
            )
        fail(exc)
        return
    if not quiet:
        _warn(report.warnings)
        if verbose:
            click.echo(
                f"{report.requests} requests to Gancio; {_files(report.files_written)} written, "
                f"{report.files_unchanged} unchanged ({report.files_rendered} rendered); "
                "calendar and JSON entries: "
                f"{report.entries_made} made, {report.entries_reused} kept",
                err=True,
            )
        click.echo(report.summary())


@main.command(
    epilog="Exit codes: 0 stopped with Ctrl-C or SIGTERM, 1 could not start, "
    "2 usage or configuration error."
)
@CONFIG_OPTION
@INSTANCE_OPTION
@click.option("--base-url", help="Public URL of the site (may have a sub-path).")
@click.option("-o", "--output", help="Output folder (default: public).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port."
)
@click.option(
    "--refresh",
    type=click.FloatRange(min=0, min_open=True),
    metavar="MINUTES",
    help="Fetch the events again every MINUTES (default: at start and on r + Enter).",
)
@click.option("--offline", is_flag=True, help="Use the cache of the last build, no network.")
@click.option("--demo", is_flag=True, help="Use the demo data shipped with gancio-site.")
@click.option("-v", "--verbose", is_flag=True, help="Say more.")
def serve(
    config_path: Path | None,
    host: str,
    port: int,
    refresh: float | None,
    offline: bool,
    demo: bool,
    verbose: bool,
    **options: Any,
) -> None:
    """Build the site, serve it on localhost and rebuild it when its files change.

    Templates, static files, the config file and an events/ folder are watched; open pages
    reload after every build. Events are fetched once and reused by every rebuild: they are
    fetched again every --refresh minutes, on r + Enter, or when the instance or a filter
    in the config changes. The output and cache folders are never watched.

    \b
    Examples:
      gancio-site serve --demo
      gancio-site serve --port 8001 --refresh 30
    """
    from .serve import Options
    from .serve import serve as run_serve

    _setup_logging(verbose, False)
    _refuse_with_demo(demo, offline, options.get("instance"))

    def load() -> Any:
        config = load_config(config_path, overrides=options, require_instance=not demo)
        if demo and not config.base_url:
            return _with(config, base_url=f"http://localhost:{port}/")
        return config

    settings = Options(
        mode="demo" if demo else "offline" if offline else "online",
        host=host,
        port=port,
        refresh=refresh,
        config_file=config_path or Path(CONFIG_FILE),
        interactive=sys.stdin is not None and sys.stdin.isatty(),
    )
    try:
        run_serve(load, settings, _Echo())
    except GancioSiteError as exc:
        fail(exc)


class _Echo:
    """The dev server's lines: progress on stdout, warnings and errors on stderr."""

    def say(self, line: str) -> None:
        click.echo(line)

    def warn(self, line: str) -> None:
        click.echo(f"Warning: {line}", err=True)

    def error(self, line: str) -> None:
        click.echo(f"Error: {line}", err=True)


@main.command()
@click.argument("directory", default=".", type=click.Path(path_type=Path, file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(directory: Path, force: bool) -> None:
    """Create a new site in DIRECTORY (default: here), ready to edit and build.

    Writes gancio-site.toml (every key explained), templates/ and static/ for overriding
    the default theme, netlify.toml, a GitHub Actions workflow publishing to GitHub Pages
    nightly, requirements.txt and .gitignore. If one of them exists already, nothing is
    written (exit 1) unless --force is given.

    \b
    Examples:
      gancio-site init my-agenda && cd my-agenda && gancio-site serve --demo
    """
    from .scaffold import create_site

    try:
        done = create_site(directory, force=force)
    except GancioSiteError as exc:
        fail(exc)
        return
    for verb, names in done.items():
        if names:
            listed = ", ".join(names)
            click.echo(f"{verb.capitalize()} {_files(len(names))} in {directory}: {listed}")
    here = Path(directory).resolve() == Path.cwd().resolve()
    enter = "" if here else f"`cd {shlex.quote(str(directory))}`, "
    click.echo(
        f"Next: {enter}set instance and base_url in gancio-site.toml, then run "
        "`gancio-site serve` (or try `gancio-site serve --demo` now). Before CI or Netlify "
        "builds it, say in requirements.txt where gancio-site is installed from."
    )


# Writing back to Gancio: an account, and events from Markdown files.


def _account_options(command: Any) -> Any:
    command = click.option("--instance", help="URL of the Gancio instance.")(command)
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(path_type=Path),
        help="Config file (default: ./gancio-site.toml).",
    )(command)


def _site(config_path: Path | None, account: bool = False, **overrides: Any) -> SiteConfig:
    """Return the configuration of a command that talks to the instance.

    With ``account`` (login, whoami, publish), an instance URL carrying a user name and
    password is refused: their HTTP Basic authentication would take the Authorization
    header that Gancio's access token needs.
    """
    config = load_config(config_path, overrides=overrides, require_instance=False)
    if not config.instance:
        raise ConfigError(
            ["instance: missing; set it in gancio-site.toml, GANCIO_INSTANCE or --instance"]
        )
    if account and "@" in urlsplit(config.instance).netloc:
        raise ConfigError(
            [
                f"instance: {redact(config.instance)} carries a user name and password; "
                "Gancio's access token needs the Authorization header they would take: "
                "give the address without them to log in or publish (a build may keep them)"
            ]
        )
    return config


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = os.environ.get("GANCIO_PASSWORD") or _ask("Password", "password", hide=True)
    if not password:
        raise ConfigError(["password: empty"])
    return password


def _ask(prompt: str, what: str, hide: bool = False) -> str:
    """Ask on the terminal; without one (CI, a pipe) say how to give it instead."""
    if not sys.stdin.isatty():
        way = (
            "--password-stdin or GANCIO_PASSWORD" if what == "password" else "-u or GANCIO_USERNAME"
        )
        raise ConfigError([f"{what}: no terminal to ask it on; give it with {way}"])
    return str(click.prompt(prompt, hide_input=hide))


@main.command()
@_account_options
@click.option("-u", "--username", envvar="GANCIO_USERNAME", help="Account email (or asked).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def login(
    config_path: Path | None, instance: str | None, username: str | None, password_stdin: bool
) -> None:
    """Log in to the instance and store the access token for later commands.

    The password is asked without echo, read with --password-stdin, or taken from
    GANCIO_PASSWORD; it is never an argument. The token is kept, per instance, in
    ~/.config/gancio-site/tokens.json (mode 0600); GANCIO_TOKEN, when set, wins over it.

    \b
    Examples:
      gancio-site login --instance https://gancio.example.org -u me@example.org
      printf '%s\\n' "$PASSWORD" | gancio-site login -u me@example.org --password-stdin
    """
    from .api import GancioClient
    from .auth import TOKEN_ENV, save_token

    _setup_logging(False, False)
    try:
        config = _site(config_path, account=True, instance=instance)
        email = username or _ask("Email", "username")
        client = GancioClient(config.instance, timeout=config.timeout)
        token = client.login(email, _password(password_stdin))
        account = client.user()
        path = save_token(config.instance, token, str(account.get("email", email)))
    except GancioSiteError as exc:
        fail(exc)
        return
    role = account.get("role", "user")
    click.echo(f"Logged in to {redact(config.instance)} as {account.get('email', email)} ({role}).")
    click.echo(f"Token saved in {path}")
    if os.environ.get(TOKEN_ENV):
        click.echo(f"Warning: {TOKEN_ENV} is set and is used instead of this token", err=True)


@main.command()
@_account_options
def whoami(config_path: Path | None, instance: str | None) -> None:
    """Show the account the stored token (or GANCIO_TOKEN) stands for on the instance.

    \b
    Examples:
      gancio-site whoami
      GANCIO_TOKEN=... gancio-site whoami --instance https://gancio.example.org
    """
    from .api import GancioClient
    from .auth import LOGIN_HINT, TOKEN_ENV, load_credentials

    _setup_logging(False, False)
    try:
        config = _site(config_path, account=True, instance=instance)
        credentials = load_credentials(config.instance)
        if credentials is None:
            raise AuthError(f"not logged in to {redact(config.instance)}; {LOGIN_HINT}")
        client = GancioClient(config.instance, timeout=config.timeout)
        client.token = credentials.token
        try:
            account = client.user()
        except AuthError:
            hint = (  # logging in changes nothing while the variable is set: it wins
                f"check {TOKEN_ENV}, or unset it to use the stored token"
                if credentials.source == TOKEN_ENV
                else LOGIN_HINT
            )
            raise AuthError(
                f"{redact(config.instance)} rejected the token from {credentials.source} (Gancio "
                f"answers 403 to unknown tokens and disabled accounts); {hint}"
            ) from None
    except GancioSiteError as exc:
        fail(exc)
        return
    active = "active" if account.get("is_active", True) else "not active"
    click.echo(
        f"{account.get('email')} on {redact(config.instance)}: "
        f"{account.get('role', 'user')}, {active}"
        f" (token from {credentials.source})"
    )


@main.command()
@_account_options
def logout(config_path: Path | None, instance: str | None) -> None:
    """Forget the token stored for the instance.

    Gancio cannot revoke a token: it stays valid on the server, but is gone from here.

    \b
    Examples:
      gancio-site logout --instance https://gancio.example.org
    """
    from .auth import TOKEN_ENV, forget_token

    try:
        config = _site(config_path, instance=instance)
        path = forget_token(config.instance)
    except GancioSiteError as exc:
        fail(exc)
        return
    if path is None:
        click.echo(f"Not logged in to {redact(config.instance)}; nothing to forget.")
    else:
        click.echo(f"Logged out of {redact(config.instance)}: token removed from {path}.")
    if os.environ.get(TOKEN_ENV):
        click.echo(f"Warning: {TOKEN_ENV} is still set and still used", err=True)


@main.command(
    epilog="Exit codes: 0 every file published or unchanged, 1 a file or request failed, "
    "2 usage or configuration error."
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=True))
@_account_options
@click.option("--timezone", help="IANA time zone of the times in the files (default: the site's).")
@click.option("--dry-run", is_flag=True, help="Say what would be created or updated; send nothing.")
def publish(
    paths: tuple[Path, ...],
    config_path: Path | None,
    instance: str | None,
    timezone: str | None,
    dry_run: bool,
) -> None:
    """Create and update events on Gancio from Markdown files (default: the events/ folder).

    Files already published and unchanged are skipped without a request; their Gancio ids
    are kept in .gancio-publish.json next to the config file: commit it.

    \b
    Examples:
      gancio-site publish --dry-run
      gancio-site publish events/2026-11-07-cucito.md
    """
    from .api import GancioClient
    from .auth import load_credentials
    from .publish import STATE_FILE, Publisher

    _setup_logging(False, False)
    root = config_path.parent if config_path else Path(".")
    try:
        config = _site(config_path, account=True, instance=instance, timezone=timezone)
        if not paths and not (root / "events").is_dir():
            raise ConfigError([f"paths: no events folder in {root.absolute()}; name the files"])
        # Asked for only when a file has to be sent: the files are checked first, and a
        # run with nothing to send needs no token (publish.Publisher).
        credentials = load_credentials(config.instance)
        client = GancioClient(config.instance, timeout=config.timeout)
        client.token = credentials.token if credentials else None
        publisher = Publisher(
            client,
            state_path=root / STATE_FILE,
            root=root,
            echo=_Echo(),
            timezone=config.timezone,
            dry_run=dry_run,
        )
        report = publisher.run(paths or (root / "events",))
    except GancioSiteError as exc:
        fail(exc)
        return
    click.echo(report.summary())
    if report.failed:
        sys.exit(1)


def _with(config: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(config, **changes)


if __name__ == "__main__":  # pragma: no cover
    main()
