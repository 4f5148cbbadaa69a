"""Shared test helpers: a site's settings for a given instance, and the demo built by the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gancio_site.cli import main
from gancio_site.config import SiteConfig, load_config


def site_config(
    instance: str, folder: Path, base_url: str = "https://example.org/", **overrides: object
) -> SiteConfig:
    """Return settings building ``instance`` into ``folder``/public, caching in ``folder``/cache."""
    env = {
        "GANCIO_INSTANCE": instance,
        "GANCIO_BASE_URL": base_url,
        "GANCIO_OUTPUT": str(folder / "public"),
        "GANCIO_CACHE": str(folder / "cache"),
    }
    return load_config(None, env=env, overrides=overrides)


def build_demo(folder: Path, output: Path, *flags: str) -> Result:
    """Run `gancio-site build --demo` from the empty ``folder``; fail the test unless it built.

    Module fixtures run before the per-test chdir, so the build runs from ``folder``, never
    from wherever pytest was started (which may hold a templates/ folder of its own).
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        result = CliRunner().invoke(main, ["build", "--demo", "--output", str(output), *flags])
    assert result.exit_code == 0, result.output
    return result
