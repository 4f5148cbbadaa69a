"""The exception tree of gancio-site.

    GancioSiteError            anything gancio-site reports to the user
    +-- ConfigError            bad configuration (exit 2); carries every problem found
    +-- ApiError               talking to Gancio failed
    |   +-- ConnectionFailed   no answer: refused, DNS, timeout, TLS
    |   +-- StatusError        an HTTP error status
    |   +-- AuthError          the token or password was rejected
    |   +-- BadResponse        an answer that is not the JSON we expect
    +-- DataError              local data (cache, demo snapshot, sources) is unusable
    +-- OutputError            the output folder cannot be written safely
        +-- ShrinkRefused      the new site is empty or gutted: not published

Messages say what failed, where, and what to do next; only ``cli.py`` prints them.
"""

from __future__ import annotations

import re


class GancioSiteError(Exception):
    """Base class: its message is shown to the user as one ``Error:`` line."""


class ConfigError(GancioSiteError):
    """One or more configuration problems, each naming its key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class ApiError(GancioSiteError):
    """A request to the Gancio instance failed."""

    def __init__(self, message: str, url: str = "") -> None:
        self.url = url
        super().__init__(message)


class ConnectionFailed(ApiError):
    """The server could not be reached or did not answer in time."""


class StatusError(ApiError):
    """The server answered with an error status."""

    def __init__(self, message: str, url: str = "", status: int = 0) -> None:
        self.status = status
        super().__init__(message, url)


class AuthError(ApiError):
    """Credentials or token were rejected."""


class BadResponse(ApiError):
    """The answer could not be understood (not JSON, wrong shape)."""


class DataError(GancioSiteError):
    """Local data such as the cache or the demo snapshot is unusable."""


class OutputError(GancioSiteError):
    """The output tree cannot be written safely."""


class ShrinkRefused(OutputError):
    """The build has no or far fewer events than the last one: it is not published.

    ``warnings`` are the build's own (rows skipped as unusable, say): they may say why.
    """

    warnings: tuple[str, ...] = ()


def redact(url: str) -> str:
    """Return ``url`` without the user name and password it may carry (what a message,
    a page or a file may say of it), even when it is no valid URL."""
    # A scheme counts only when a slash follows it: in "user:pw@host", "user:" is none.
    return re.sub(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:(?=/))?/*)[^/?#]*@", r"\1", url)
