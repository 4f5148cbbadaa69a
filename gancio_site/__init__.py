"""gancio-site: a static website, feeds and a widget from the events of a Gancio instance."""

import os as _os

__version__ = "0.1.0"


def _babel_without_the_machine_zone() -> None:
    """Load Babel's idea of the machine's zone without reading the machine's zone.

    Babel works it out once, when first imported, from TZ: a TZ naming a file or folder in
    the working directory (TZ=UTC beside a folder called UTC) would stop every build. The
    site never uses it (every date is given the site's zone), so Babel is shown a TZ that
    names nothing and takes its own fallback.
    """
    saved = _os.environ.get("TZ")
    _os.environ["TZ"] = "/nonexistent/gancio-site"
    try:
        import babel.localtime  # noqa: F401
    finally:
        if saved is None:
            del _os.environ["TZ"]
        else:
            _os.environ["TZ"] = saved


_babel_without_the_machine_zone()
