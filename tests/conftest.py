"""Shared fixtures: an isolated environment for every test and a fake Gancio server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import chromium, offline_page
from fake_gancio import FIXED_NOW, FakeGancio


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No ``GANCIO_*``/``SOURCE_DATE_EPOCH`` from the caller, a throw-away HOME and XDG dirs
    (outside ``tmp_path``, so they never show up in a test's output), and cwd = ``tmp_path``."""
    for name in list(os.environ):
        if name.startswith("GANCIO_") or name == "SOURCE_DATE_EPOCH":
            monkeypatch.delenv(name)
    env = tmp_path_factory.mktemp("env")
    for variable, folder in (
        ("HOME", "home"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        (env / folder).mkdir()
        monkeypatch.setenv(variable, str(env / folder))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def gancio() -> Iterator[FakeGancio]:
    """A running fake Gancio 1.21 instance serving ``tests/fixtures/instance.json``."""
    with FakeGancio() as fake:
        yield fake


@pytest.fixture
def fixed_now() -> int:
    """The fixture's capture time (unix seconds), the fake's default "now"."""
    return FIXED_NOW


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium for the whole run (skipped locally, failed in CI, if missing)."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    """A fresh page that reaches only 127.0.0.1 and records errors and dialogs."""
    with offline_page(browser) as page:
        yield page
