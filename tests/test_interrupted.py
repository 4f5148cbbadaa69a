"""Builds killed at any moment leave the old site or the new one, never a mix."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from gancio_site.cli import main


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.name != ".gancio-site"
    }


def test_sigkill_at_random_moments_leaves_old_or_new_site(tmp_path):
    def build(title: str) -> None:
        result = CliRunner().invoke(main, ["build", "--demo", "--title", title])
        assert result.exit_code == 0, result.output

    build("New")
    new = snapshot(tmp_path / "public")
    build("Old")
    old = snapshot(tmp_path / "public")
    assert old != new
    rng = random.Random(7)
    env = {**os.environ, "GANCIO_SITE_WORKERS": "1"}
    command = [sys.executable, "-m", "gancio_site.cli", "build", "--demo", "--title", "New"]
    outcomes = set()
    for _ in range(12):
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.2, 1.2))
        process.send_signal(signal.SIGKILL)
        process.wait()
        state = snapshot(tmp_path / "public")
        assert state in (old, new)
        outcomes.add("new" if state == new else "old")
        build("Old")  # the next build recovers (stale lock, half-built tree) and resets
        assert snapshot(tmp_path / "public") == old
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".public")]
        assert leftovers == [], leftovers
    assert outcomes  # some runs were killed before the swap, some maybe after


def test_sigterm_removes_the_unfinished_tree(tmp_path):
    def build(*flags: str) -> dict[str, bytes]:
        result = CliRunner().invoke(main, ["build", "--demo", *flags])
        assert result.exit_code == 0, result.output
        return snapshot(tmp_path / "public")

    other = build("--title", "Other")
    before = build()
    env = {**os.environ, "GANCIO_SITE_WORKERS": "1"}
    for delay in (0.3, 0.45, 0.6):
        process = subprocess.Popen(
            [sys.executable, "-m", "gancio_site.cli", "build", "--demo", "--title", "Other"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(delay)
        process.send_signal(signal.SIGTERM)
        said = process.communicate()[1].decode(errors="replace")[-2000:]
        code = process.returncode
        assert code in (0, 143, -signal.SIGTERM), said  # -15: stopped while Python was starting
        assert snapshot(tmp_path / "public") in (before, other), said
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".public")], said
        assert build() == before


def test_a_stop_whose_exception_python_lost_still_publishes_nothing(tmp_path):
    """Ctrl-C raised inside a callback is printed as "Exception ignored" and lost; the
    stop it asked for is remembered, and the new site is not published."""
    from gancio_site import stopping

    assert CliRunner().invoke(main, ["build", "--demo", "--title", "Old"]).exit_code == 0
    old = snapshot(tmp_path / "public")
    for signum, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        try:
            # As Python does with an exception raised in a callback: ignored.
            with contextlib.suppress(KeyboardInterrupt, SystemExit):
                stopping.handler(signum, None)
            result = CliRunner().invoke(main, ["build", "--demo", "--title", "New"])
        finally:
            stopping.requested = None
        assert result.exit_code == code, result.output
        assert snapshot(tmp_path / "public") == old
        assert sorted(p.name for p in tmp_path.iterdir()) == ["public"]  # nothing left over
    assert CliRunner().invoke(main, ["build", "--demo", "--title", "New"]).exit_code == 0
    assert snapshot(tmp_path / "public") != old


def test_an_error_after_a_lost_stop_ends_as_the_stop(tmp_path):
    """A stop whose exception was lost can leave a module half-imported; the error that
    follows is the stop's doing: "Interrupted." and the stop's status, not a fault."""
    from gancio_site import stopping

    (tmp_path / "gancio-site.toml").write_text('instance = "not a url"\n')
    for status in (None, 143):
        stopping.requested = status
        try:
            result = CliRunner().invoke(main, ["build"])
        finally:
            stopping.requested = None
        if status is None:
            assert result.exit_code == 2 and "Error: " in result.output, result.output
        else:
            assert result.exit_code == 143, result.output
            assert result.output == "Interrupted.\n"


REMOVAL_STOPPED = """
import os, signal, sys, threading
from pathlib import Path
from gancio_site import removal, stopping

folder = Path(sys.argv[1])
for i in range(100):
    (folder / str(i)).mkdir(parents=True)
    for j in range(25):
        (folder / str(i) / str(j)).write_bytes(b"x")
stopping.install()
removal.remove_later(folder)
threading.Timer(0.002, os.kill, (os.getpid(), signal.SIGTERM)).start()
removal.finish_removals()
"""


def test_a_stop_while_the_old_site_is_removed_still_removes_all_of_it(tmp_path):
    """A signal that interrupts the wait for the removal of the old site must not let the
    process end before the removal does: that would leave half a tree beside the site."""
    folder = tmp_path / ".public.building-1"
    result = subprocess.run(
        [sys.executable, "-c", REMOVAL_STOPPED, str(folder)], capture_output=True, text=True
    )
    assert result.returncode == 143, result.stderr
    assert not folder.exists()


CTRL_C_WHILE_LOADING = """
import sys

class Interrupting:  # Ctrl-C while the command line's modules are being loaded
    def find_spec(self, name, path, target=None):
        if name == "gancio_site.build":
            raise KeyboardInterrupt

sys.meta_path.insert(0, Interrupting())
sys.argv = ["gancio-site", "build", "--demo"]
from gancio_site.__main__ import run
run()
"""


def test_ctrl_c_while_the_command_loads_is_one_line_and_130(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", CTRL_C_WHILE_LOADING], cwd=tmp_path, capture_output=True, text=True
    )
    assert (result.returncode, result.stderr, result.stdout) == (130, "Interrupted.\n", "")
    assert not (tmp_path / "public").exists()


def test_the_package_loads_nothing_before_the_command_line_can_catch_ctrl_c(tmp_path):
    """What runs before ``run()`` (the package itself) is too quick for a Ctrl-C to land
    in: Babel, the slowest to load, is loaded by the command's modules, inside ``run()``."""
    code = "import sys, gancio_site.__main__; print(sorted(m for m in sys.modules if m.startswith(('babel', 'jinja2', 'click'))))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout == "[]\n", result.stderr
