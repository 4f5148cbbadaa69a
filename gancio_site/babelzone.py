"""Babel loaded without reading the machine's time zone; import before any ``babel`` module.

Babel works the machine's zone out once, when first imported, from TZ: a TZ naming a file
or folder in the working directory (TZ=UTC beside a folder called UTC) would stop every
build. The site never uses it (every date is given the site's zone), so Babel is shown a TZ
that names nothing and takes its own fallback. This runs on the first import of a module
that uses Babel, not with the package: a Ctrl-C while Babel loads then falls inside the
command line's handling ("Interrupted.", status 130), not in a traceback.
"""

from __future__ import annotations

import os


def _load_babel_without_the_machine_zone() -> None:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "/nonexistent/gancio-site"
    try:
        import babel.localtime  # noqa: F401
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved


_load_babel_without_the_machine_zone()
