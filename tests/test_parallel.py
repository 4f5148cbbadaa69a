"""Rendering in several processes gives the same bytes, and reports errors the same way."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from gancio_site.cli import main


def tree(folder: Path) -> dict[Path, bytes]:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_output_is_identical_whatever_the_number_of_processes(tmp_path, monkeypatch):
    outputs = []
    for workers in ("1", "2", "3"):
        monkeypatch.setenv("GANCIO_SITE_WORKERS", workers)
        result = CliRunner().invoke(
            main, ["build", "--demo", "--show-recurrent", "-v", "--output", f"out{workers}"]
        )
        assert result.exit_code == 0, result.output
        assert "0 unchanged" in result.stderr  # everything rendered, nothing reused
        outputs.append(tree(tmp_path / f"out{workers}"))
    assert outputs[0] == outputs[1] == outputs[2]
    assert len(outputs[0]) > 200


def test_an_error_in_a_worker_stops_the_build_and_keeps_the_site(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCIO_SITE_WORKERS", "2")
    assert CliRunner().invoke(main, ["build", "--demo"]).exit_code == 0
    before = tree(tmp_path / "public")
    (tmp_path / "templates").mkdir()
    # Only odd-numbered events break, so both processes meet the error.
    (tmp_path / "templates" / "event.html").write_text(
        "{% extends 'base.html' %}{% block content %}"
        "{% if event.id is odd %}{{ 1 / 0 }}{% endif %}{% endblock %}"
    )
    result = CliRunner().invoke(main, ["build", "--demo"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "event.html, line 1: division by zero" in result.stderr
    assert tree(tmp_path / "public") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["public", "templates"]


def test_a_bad_number_of_processes_is_a_clear_error_and_keeps_the_site(tmp_path, monkeypatch):
    assert CliRunner().invoke(main, ["build", "--demo"]).exit_code == 0
    before = tree(tmp_path / "public")
    (tmp_path / "static").mkdir()
    change = tmp_path / "static" / "new.txt"
    # With pages to render, and with none (the site is up to date): said either way.
    for bad, renders in [("abc", True), ("0", True), ("-2", True), ("²", True), ("abc", False)]:
        if renders:
            change.write_text("a change, so the build renders")
        else:
            change.unlink(missing_ok=True)
        monkeypatch.setenv("GANCIO_SITE_WORKERS", bad)
        result = CliRunner().invoke(main, ["build", "--demo"])
        assert result.exit_code == 2, result.output
        assert result.stderr.strip().splitlines() == [
            f"Error: GANCIO_SITE_WORKERS must be a number of processes, 1 or more (got {bad!r})"
        ]
        assert tree(tmp_path / "public") == before


def test_a_worker_of_a_killed_build_stops_and_says_nothing(tmp_path):
    """SIGKILL reaches the build only: its rendering process finds itself orphaned, stops
    after its batch, and never runs the build's own error handling (no "Error:" line)."""
    env = {**os.environ, "GANCIO_SITE_WORKERS": "2", "CI": "true"}
    command = [sys.executable, "-m", "gancio_site.cli", "build", "--demo", "--show-recurrent"]
    assert subprocess.run(command, env=env, capture_output=True, check=False).returncode == 0
    before = tree(tmp_path / "public")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "event.html").write_text(  # slow pages: time to kill it
        "{% extends 'default/event.html' %}{% block content %}"
        "{% for i in range(3000000) %}{% endfor %}{{ super() }}{% endblock %}"
    )
    build = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    children = Path(f"/proc/{build.pid}/task/{build.pid}/children")
    deadline = time.monotonic() + 60
    while not children.read_text().split():  # the rendering process is forked
        assert time.monotonic() < deadline and build.poll() is None
        time.sleep(0.01)
    worker = int(children.read_text().split()[0])
    time.sleep(0.3)
    build.kill()
    _, stderr = build.communicate(timeout=60)  # ends when every process holding it has
    assert b"Error" not in stderr and b"Traceback" not in stderr, stderr
    # The pipe closes as the worker exits; its exit ends a moment later (then Z, or gone).
    deadline = time.monotonic() + 10
    while Path(f"/proc/{worker}").exists() and "Z" not in _state(worker):
        assert time.monotonic() < deadline, f"the worker is still running: {_state(worker)}"
        time.sleep(0.01)
    assert tree(tmp_path / "public") == before


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
