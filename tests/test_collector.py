"""The cycle collector is paused while a build makes its objects, and back afterwards."""

from __future__ import annotations

import gc

import pytest

from gancio_site import collector
from gancio_site.build import build


@pytest.fixture(autouse=True)
def collector_on():
    gc.enable()
    yield
    gc.unfreeze()
    gc.enable()


def test_paused_then_resumed_with_what_was_made_frozen():
    with collector.paused():
        assert not gc.isenabled()
        made = [[] for _ in range(1000)]  # noqa: F841 - objects made while paused
        collector.resume()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 1000
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_nested_builds_give_it_back_once_the_last_ends():
    with collector.paused():
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_someone_else_turned_off_stays_off():
    gc.disable()
    with collector.paused():
        collector.resume()
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_after_a_build_or_a_failed_one_it_is_on_and_nothing_stays_frozen(tmp_path):
    from sitekit import site_config

    from gancio_site.errors import GancioSiteError

    config = site_config("http://127.0.0.1:9", tmp_path)  # nothing listens there
    with pytest.raises(GancioSiteError):
        build(config, mode="offline")
    assert gc.isenabled() and gc.get_freeze_count() == 0
    report = build(config, mode="demo")
    assert report.events > 20
    assert gc.isenabled() and gc.get_freeze_count() == 0
