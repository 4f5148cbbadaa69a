"""The wheel carries the default theme and the demo snapshot, and builds the demo alone."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_wheel_contains_theme_and_builds_the_demo_from_it(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("gancio_site-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("templates", "static"):
        for file in (ROOT / folder).rglob("*"):
            if file.is_file():
                relative = file.relative_to(ROOT / folder).as_posix()
                assert f"gancio_site/theme/{folder}/{relative}" in names
    assert "gancio_site/demo/snapshot.json" in names
    assert not any(name.startswith("tests/") for name in names)

    unpacked = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(unpacked)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    result = subprocess.run(
        [sys.executable, "-m", "gancio_site.cli", "build", "--demo"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("Built ")
    assert (work / "public" / "static" / "style.css").read_bytes() == (
        ROOT / "static" / "style.css"
    ).read_bytes()
    assert (work / "public" / "index.html").is_file()
