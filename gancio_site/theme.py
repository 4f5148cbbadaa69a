"""Where the default theme is: inside the wheel, or the source checkout."""

from __future__ import annotations

from pathlib import Path


def theme_dir() -> Path:
    """Return the folder of the default theme (``templates/`` and ``static/``)."""
    packaged = Path(__file__).parent / "theme"
    if (packaged / "templates").is_dir():
        return packaged
    return Path(__file__).parent.parent
