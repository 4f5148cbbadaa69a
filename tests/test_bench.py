"""The benchmark's Hugo comparison says why it has no numbers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).parent.parent


def bench():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hugo_line(result: dict, capsys) -> str:
    bench().print_table({"1000": {"hugo (same events)": result}})
    lines = capsys.readouterr().out.splitlines()
    return next(line for line in lines if "hugo (same events)" in line)


def test_hugo_rows_say_why_they_are_empty(tmp_path, capsys):
    run = bench()
    script = tmp_path / "make_ssg_sites.py"
    fake_hugo = tmp_path / "hugo"
    fake_hugo.write_text("#!/bin/sh\n")
    fake_hugo.chmod(0o755)

    missing_script = run.hugo_skipped(str(fake_hugo), script)
    assert missing_script == {"skipped": "make_ssg_sites.py not found; see --ssg-script"}
    assert hugo_line(missing_script, capsys).endswith(
        "(make_ssg_sites.py not found; see --ssg-script)"
    )

    no_hugo = run.hugo_skipped(None, script)
    assert no_hugo == {"skipped": "hugo not installed"}
    assert hugo_line(no_hugo, capsys).endswith("(hugo not installed)")

    script.write_text("")
    assert run.hugo_skipped(str(fake_hugo), script) is None  # both there: measured


def test_a_run_without_hugo_in_an_old_results_file_still_prints(capsys):
    assert hugo_line({}, capsys).endswith("(not measured)")
