"""Regenerate docs/hardening.md, the hardening report, from the records of a run.

Usage::

    .venv/bin/python tools/hardening_report.py --run [--fuzz-seconds 30]
        [--load-seconds 180] [--jobs 100] [--dir build/hardening]
    .venv/bin/python tools/hardening_report.py [--dir build/hardening]

With ``--run`` it empties ``--dir``, sets ``TROIKA_REPORT_DIR`` to it and runs,
in turn: pytest on ``tests/faults``, ``tests/hardening`` and every hypothesis
test of the suite (``-p tests.hardening._property_report --hardening``, which
also counts each property test's examples), the atheris fuzzers
(``tools/fuzz.py``), the resolver service's load run
(``bench/load_resolver.py``) and the compute node's (``bench/load_node.py``).
Each writes JSON lines there (tests/_report.py): ``fault``, ``property``,
``fuzz``, ``schema`` and ``load`` records; ``runs.json`` keeps each step's
command, exit status and time, and the commit. A step that fails does not stop
the others; the page shows its exit status, and the script exits 1.

Without ``--run`` it rebuilds the page from the records already in ``--dir``.
Every line of the page comes from a record; none is written by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "hardening.md"
KINDS = ("fault", "property", "fuzz", "schema", "load")


def steps(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    python = sys.executable
    return [
        (
            "pytest: faults, hardening and property tests",
            [
                python,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "tests.hardening._property_report",
                "--hardening",
                "tests",
            ],
        ),
        ("fuzz (atheris)", [python, "tools/fuzz.py", str(args.fuzz_seconds)]),
        (
            "load: resolver service",
            [python, "bench/load_resolver.py", "--duration", str(args.load_seconds)],
        ),
        ("load: compute node", [python, "bench/load_node.py", "--jobs", str(args.jobs)]),
    ]


def kubo_binary() -> str | None:
    """The Kubo the tests use: ``$TROIKA_KUBO``, or tools/kubo/build.sh's (cached) build."""
    if os.environ.get("TROIKA_KUBO"):
        return os.environ["TROIKA_KUBO"]
    build = ROOT / "tools" / "kubo" / "build.sh"
    if not build.is_file():
        return None
    done = subprocess.run(
        [str(build)], capture_output=True, text=True, timeout=1800, check=False, cwd=ROOT
    )
    return done.stdout.strip() or None if done.returncode == 0 else None


def run_all(args: argparse.Namespace) -> bool:
    """Run every step with ``TROIKA_REPORT_DIR`` set; True if all passed."""
    directory: Path = args.dir
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    env = {**os.environ, "TROIKA_REPORT_DIR": str(directory)}
    kubo = kubo_binary()
    if kubo:
        env["TROIKA_KUBO"] = kubo
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    runs: dict[str, Any] = {
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "steps": [],
    }
    ok = True
    for name, command in steps(args):
        print(f"== {name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
        started = time.monotonic()
        log = directory / f"{name.split(':')[0].split()[0]}-{len(runs['steps'])}.log"
        with log.open("w") as out:
            done = subprocess.run(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
                check=False,
                timeout=args.step_timeout,
            )
        seconds = round(time.monotonic() - started, 1)
        print(f"   exit status {done.returncode} after {seconds} s (log: {log})", file=sys.stderr)
        ok &= done.returncode == 0
        runs["steps"].append(
            {
                "name": name,
                "command": " ".join(
                    Path(command[0]).name if i == 0 else part for i, part in enumerate(command)
                ),
                "exit_status": done.returncode,
                "seconds": seconds,
            }
        )
        (directory / "runs.json").write_text(json.dumps(runs, indent=1) + "\n")
    return ok


# -- the page ---------------------------------------------------------------------------


def read(directory: Path) -> dict[str, list[dict[str, Any]]]:
    records: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for kind in KINDS:
        path = directory / f"{kind}.jsonl"
        if path.is_file():
            records[kind] = [json.loads(line) for line in path.read_text().splitlines() if line]
    return records


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def table(header: list[str], rows: list[list[object]], align: str = "") -> list[str]:
    marks = ["---:" if (align[i : i + 1] == "r") else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def count(records: list[dict[str, Any]], outcome: str) -> int:
    return sum(1 for r in records if r.get("outcome") == outcome)


def number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else ("" if value is None else str(value))


def statuses(value: object) -> str:
    if not isinstance(value, dict):
        return ""
    return ", ".join(f"{status}: {number(n)}" for status, n in value.items())


def page(records: dict[str, list[dict[str, Any]]], runs: dict[str, Any] | None) -> str:
    faults, properties = records["fault"], records["property"]
    fuzz, schema, load = records["fuzz"], records["schema"], records["load"]
    out = [
        "# Hardening report",
        "",
        "<!-- Generated by tools/hardening_report.py from the records of a run; "
        "do not edit by hand. -->",
        "",
        "What troika went through in one run of `tools/hardening_report.py --run`: faults "
        "injected into the real anvil, Kubo and compute processes, hostile input thrown at "
        "every parser that meets the outside world, the resolver service probed against its "
        "OpenAPI document, and sustained load. Every row below is a record that the run "
        "wrote (`tests/_report.py`); the script only draws the tables. To regenerate: "
        "`.venv/bin/python tools/hardening_report.py --run` (about 15 minutes on 2 cores).",
        "",
    ]
    if runs:
        out += [
            f"Run of {runs.get('started', '?')} at commit `{runs.get('commit', '?')}`, "
            f"Python {runs.get('python', '?')}, {runs.get('machine', '?')}.",
            "",
        ]
    examples = sum(int(r.get("examples") or 0) for r in properties)
    inputs = sum(int(r.get("inputs") or 0) for r in fuzz)
    requests = sum(int(r.get("examples") or 0) for r in schema)
    out += ["## Summary", ""]
    out += table(
        ["what", "tried", "survived", "failed"],
        [
            ["faults injected", len(faults), count(faults, "survived"), count(faults, "failed")],
            [
                f"fuzz runs over {len({r['name'] for r in fuzz})} parsers "
                f"({number(inputs)} inputs)",
                len(fuzz),
                count(fuzz, "survived"),
                count(fuzz, "failed"),
            ],
            [
                f"property tests ({number(examples)} examples)",
                len(properties),
                count(properties, "survived"),
                count(properties, "failed"),
            ],
            [
                f"resolver operations under schemathesis ({number(requests)} requests)",
                len(schema),
                count(schema, "survived"),
                count(schema, "failed"),
            ],
            ["load runs", len(load), count(load, "survived"), count(load, "failed")],
        ],
        " rrr",
    )

    out += ["## Faults injected", ""]
    if faults:
        out += table(
            ["fault", "outcome", "what happened", "test"],
            [
                [r["name"], r["outcome"], r.get("detail", ""), f"`{r.get('suite', '')}`"]
                for r in faults
            ],
        )
    else:
        out += ["No fault records in this run.", ""]

    out += [
        "## Hostile input: fuzzing, per parser",
        "",
        "Each parser is fed inputs that must end in its documented error (or be accepted, "
        "and then round-trip where it documents that); anything else, a hang past the "
        "per-input timeout or memory past the limit fails it. *atheris* is coverage-guided "
        "(`tools/fuzz.sh`); *random mutation* is the test suite's smoke run of the same "
        "targets on their seeds.",
        "",
    ]
    if fuzz:
        out += table(
            ["parser", "engine", "inputs", "inputs/s", "coverage", "peak RSS MiB", "outcome"],
            [
                [
                    f"{r.get('parser', r['name'])} (`{r['name']}`)",
                    r.get("engine", ""),
                    number(r.get("inputs")),
                    number(round(r["inputs"] / r["seconds"])) if r.get("seconds") else "",
                    number(r.get("coverage")),
                    number(r.get("peak_rss_mb")),
                    r["outcome"] + ("" if r["outcome"] == "survived" else f": {r['detail']}"),
                ]
                for r in sorted(fuzz, key=lambda r: (r["name"], r.get("engine", "")))
            ],
            "  rrrr",
        )
    else:
        out += ["No fuzz records in this run.", ""]

    out += [
        "## Hostile input and money: property tests",
        "",
        "The hypothesis tests of the suite, by module: test cases hypothesis ran "
        "(generated, replayed and shrunk), from its observability callbacks.",
        "",
    ]
    by_suite: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in properties:
        by_suite[r.get("suite", "")].append(r)
    if by_suite:
        out += table(
            ["module", "properties", "examples", "survived", "failed"],
            [
                [
                    f"`{suite}`",
                    len(items),
                    number(sum(int(r.get("examples") or 0) for r in items)),
                    count(items, "survived"),
                    count(items, "failed"),
                ]
                for suite, items in sorted(by_suite.items())
            ],
            " rrrr",
        )
        failed = [r for r in properties if r["outcome"] != "survived"]
        for r in failed:
            out.append(f"- failed: `{r['name']}`: {cell(r.get('detail', ''))}")
        if failed:
            out.append("")
    else:
        out += ["No property records in this run.", ""]

    out += [
        "## The resolver service against its OpenAPI document",
        "",
        "schemathesis generates requests from `/openapi.json` and runs all its checks on "
        "every response (`tests/hardening/test_resolver_schema.py`).",
        "",
    ]
    if schema:
        out += table(
            ["operation", "requests", "statuses", "outcome"],
            [
                [r["name"], number(r.get("examples")), statuses(r.get("statuses")), r["outcome"]]
                for r in schema
            ],
            " r",
        )
    else:
        out += ["No schema records in this run.", ""]

    out += ["## Load", ""]
    resolver = [r for r in load if "requests" in r]
    nodes = [r for r in load if "jobs" in r]
    if resolver:
        out += [
            "The resolver service (`bench/load_resolver.py`) as its own process, driven from "
            "another on loopback; RSS sampled every second, slope over the run's second half.",
            "",
        ]
        out += table(
            [
                "seconds",
                "in flight",
                "requests",
                "req/s",
                "errors",
                "p50 ms",
                "p99 ms",
                "RSS start MiB",
                "end",
                "max",
                "slope MiB/min",
                "outcome",
            ],
            [
                [
                    r.get("duration_s"),
                    r.get("concurrency"),
                    number(r.get("requests")),
                    r.get("rps"),
                    r.get("errors"),
                    r.get("p50_ms"),
                    r.get("p99_ms"),
                    r.get("rss_start_mib"),
                    r.get("rss_end_mib"),
                    r.get("rss_max_mib"),
                    r.get("rss_slope_mib_per_min"),
                    r["outcome"],
                ]
                for r in resolver
            ],
            "rrrrrrrrrrr",
        )
    if nodes:
        out += [
            "A compute node working through queued stats jobs on anvil (`bench/load_node.py`).",
            "",
        ]
        out += table(
            [
                "jobs",
                "completed",
                "jobs/s",
                "accepted on chain",
                "withdrawn wei",
                "paid in wei",
                "left in escrow",
                "outcome",
            ],
            [
                [
                    r.get("jobs"),
                    r.get("completed"),
                    r.get("jobs_per_s"),
                    r.get("accepted_on_chain"),
                    number(r.get("paid_wei")),
                    number(r.get("expected_wei")),
                    r.get("escrow_left_wei"),
                    r["outcome"],
                ]
                for r in nodes
            ],
            "rrrrrrr",
        )
        for r in nodes:
            checks = r.get("checks", {})
            out += [f"- {'held' if held else 'FAILED'}: {name}" for name, held in checks.items()]
            out.append("")
    if not load:
        out += ["No load records in this run.", ""]

    if runs and runs.get("steps"):
        out += ["## The run", ""]
        out += table(
            ["step", "command", "exit status", "seconds"],
            [
                [s["name"], f"`{s['command']}`", s["exit_status"], s["seconds"]]
                for s in runs["steps"]
            ],
            "  rr",
        )
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="store_true", help="run everything first")
    parser.add_argument("--dir", type=Path, default=ROOT / "build" / "hardening")
    parser.add_argument("--fuzz-seconds", type=int, default=30, help="per fuzz target")
    parser.add_argument("--load-seconds", type=int, default=180, help="resolver load run")
    parser.add_argument("--jobs", type=int, default=100, help="queued jobs for the node")
    parser.add_argument("--step-timeout", type=int, default=3600)
    parser.add_argument("--page", type=Path, default=PAGE)
    args = parser.parse_args()
    args.dir = args.dir.resolve()
    ok = run_all(args) if args.run else True
    runs_path = args.dir / "runs.json"
    runs = json.loads(runs_path.read_text()) if runs_path.is_file() else None
    records = read(args.dir)
    if not any(records.values()):
        print(f"no records in {args.dir}; run with --run first", file=sys.stderr)
        return 1
    args.page.write_text(page(records, runs))
    print(f"wrote {args.page}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
