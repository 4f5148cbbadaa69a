"""`gancio-site init`: a new site that builds at once, explains every key, never overwrites."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from gancio_site.cli import main
from gancio_site.config import KEYS, PATH_KEYS, SiteConfig, load_config
from gancio_site.render import theme_dir

FILES = [
    "gancio-site.toml",
    "templates/README.md",
    "static/.gitkeep",
    "netlify.toml",
    ".github/workflows/build.yml",
    "requirements.txt",
    ".gitignore",
]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_init_creates_a_site_that_builds_the_demo_at_once(tmp_path, monkeypatch):
    result = run("init", "agenda")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"Created 7 files in agenda: {', '.join(FILES)}"
    assert result.stdout.splitlines()[1].startswith("Next: `cd agenda`, set instance and ")
    assert all((tmp_path / "agenda" / name).is_file() for name in FILES)

    monkeypatch.chdir(tmp_path / "agenda")
    built = run("build", "--demo")
    assert built.exit_code == 0, built.output
    assert built.stdout.startswith("Built ")
    assert (tmp_path / "agenda" / "public" / "index.html").is_file()
    assert not (tmp_path / "agenda" / "public" / "static" / ".gitkeep").exists()


def test_paths_stay_relative_to_the_config_file_from_another_folder(tmp_path):
    assert run("init", "site").exit_code == 0
    result = run("build", "--demo", "-c", "site/gancio-site.toml")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "site" / "public" / "index.html").is_file()
    assert not (tmp_path / "public").exists()


def test_init_refuses_to_overwrite_unless_forced(tmp_path):
    (tmp_path / "netlify.toml").write_text("# mine\n")
    result = run("init")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: netlify.toml already exists; use --force to overwrite, or choose an empty folder\n"
    )
    assert (tmp_path / "netlify.toml").read_text() == "# mine\n"
    assert not (tmp_path / "gancio-site.toml").exists()  # nothing written at all

    forced = run("init", "--force")
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "netlify.toml").read_text() != "# mine\n"
    others = [name for name in FILES if name != "netlify.toml"]
    assert forced.stdout.splitlines()[:3] == [
        f"Created 6 files in .: {', '.join(others)}",
        "Replaced 1 file in .: netlify.toml",
        "Next: set instance and base_url in gancio-site.toml, then run `gancio-site serve` "
        "(or try `gancio-site serve --demo` now). Before CI or Netlify builds it, say in "
        "requirements.txt where gancio-site is installed from.",
    ]
    # Files with the bytes init would write are said to be unchanged, not replaced.
    (tmp_path / "requirements.txt").write_text("# mine\n")
    again = run("init", "--force")
    assert again.stdout.splitlines()[:2] == [
        "Replaced 1 file in .: requirements.txt",
        f"Unchanged 6 files in .: {', '.join(n for n in FILES if n != 'requirements.txt')}",
    ]

    again = run("init", ".")
    assert again.exit_code == 1
    assert again.stderr.startswith("Error: gancio-site.toml already exists (and 6 more); ")


def test_config_explains_every_key_and_its_examples_are_valid(tmp_path):
    run("init")
    text = (tmp_path / "gancio-site.toml").read_text()
    assert load_config(Path("gancio-site.toml"), env={}, require_instance=False) == SiteConfig(
        **{key: tmp_path / getattr(SiteConfig(), key) for key in PATH_KEYS}
    )
    for key, meaning in KEYS.items():
        block = re.search(rf"((?:# .*\n)+)(# )?{key} = .*\n", text)
        assert block, key
        assert "default" in block[1], key
        assert " ".join(meaning.split()[:3]).lower() in block[1].lower().replace("\n# ", " ")
    uncommented = re.sub(r"^# (\w+ = )", r"\1", text, flags=re.M)
    (tmp_path / "all.toml").write_text(uncommented)
    config = load_config(Path("all.toml"), env={})
    assert config.instance == "https://gancio.example.org"
    assert config.tags == ("musica", "teatro")


def test_templates_readme_lists_every_template_of_the_theme_with_what_it_renders(tmp_path):
    run("init")
    readme = (tmp_path / "templates" / "README.md").read_text()
    listed = dict(re.findall(r"^- `([^`]+)`: (.+)$", readme, re.M))
    theme = theme_dir() / "templates"
    shipped = {p.relative_to(theme).as_posix() for p in theme.rglob("*") if p.is_file()}
    assert {"_event_item.html", "_pager.html", "embed.js", "embed/builder.html"} <= shipped
    assert set(listed) == shipped  # every template, partials and the widget's included
    assert all(len(line) > 20 for line in listed.values()), listed


def test_templates_readme_example_extends_the_default_base(tmp_path, monkeypatch):
    run("init")
    readme = (tmp_path / "templates" / "README.md").read_text()
    example = re.search(r'\n    (\{% extends "default/base.html" %\}\n.*?)\n\n', readme, re.S)
    assert example
    (tmp_path / "templates" / "base.html").write_text(example[1].replace("\n    ", "\n"))
    (tmp_path / "static" / "extra.css").write_text("body { color: red }")
    result = run("build", "--demo")
    assert result.exit_code == 0, result.output
    for page in ("index.html", "tag/index.html", "404.html"):
        html = (tmp_path / "public" / page).read_text()
        assert 'extra.css">' in html, page
        assert 'class="site-header"' in html, page  # the rest of the default base stays
    default = tmp_path / "default"
    (tmp_path / "no-templates").mkdir()
    assert run("build", "--demo", "--templates", "no-templates", "-o", str(default)).exit_code == 0
    plain = (default / "index.html").read_text()
    assert (tmp_path / "public" / "index.html").read_text() == plain.replace(
        "</head>", '<link rel="stylesheet" href="static/extra.css"></head>'
    )


def test_deploy_files_build_nightly_and_on_demand(tmp_path):
    yaml = pytest.importorskip("yaml")
    run("init")
    workflow = yaml.safe_load((tmp_path / ".github" / "workflows" / "build.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"]
    assert "workflow_dispatch" in triggers
    steps = workflow["jobs"]["build"]["steps"]
    assert any("gancio-site build" in step.get("run", "") for step in steps)
    assert workflow["jobs"]["deploy"]["steps"][0]["uses"].startswith("actions/deploy-pages@")
    netlify = tomllib.loads((tmp_path / "netlify.toml").read_text())
    ours = tomllib.loads((Path(__file__).parent.parent / "netlify.toml").read_text())
    assert netlify["headers"] == ours["headers"]  # the same security headers as ours
    assert netlify["build"]["publish"] == "public"
    ignored = [
        line for line in (tmp_path / ".gitignore").read_text().splitlines() if line[:1] != "#"
    ]
    assert ignored == ["/public/", "/.gancio-cache/", "/.public.lock", "/.public.building-*"]


def test_a_new_sites_netlify_toml_has_the_checked_headers():
    """The header rules init writes are the ones tests/test_csp.py checks in Chromium."""
    root = Path(__file__).parent.parent
    ours = tomllib.loads((root / "netlify.toml").read_text("utf-8"))
    scaffold = root / "gancio_site" / "scaffold_files" / "netlify.toml"
    theirs = tomllib.loads(scaffold.read_text("utf-8"))
    assert theirs["headers"] == ours["headers"]
    assert any("Content-Security-Policy" in rule["values"] for rule in theirs["headers"])
