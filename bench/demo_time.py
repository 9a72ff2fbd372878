"""How long ``troika demo`` takes, and how long ``import troika`` takes.

What it measures:

- ``troika demo --json`` as a user runs it (a fresh ``python -m troika.cli``
  process each time, its temporary home included), ``--runs`` times on the
  embedded defaults (in-process EVM, LocalStore) and ``--runs`` times on an
  anvil and a Kubo that this script starts on free loopback ports
  (tests/_services.py) and always stops. Wall time is the whole process, from
  spawn to exit; the demo's own figure (``seconds`` in its summary) is the
  story alone, without the interpreter start and the imports. The goal is 90 s
  on this 2-core machine; ``/goal`` is the median wall time over 90 s.
  The slowest steps of the median run are listed from the summary's ``steps``.
- ``python -X importtime -c "import troika"``: the cumulative microseconds of
  the ``troika`` package, median of ``--imports`` fresh processes, against the
  goal of 200 ms, and beside it the same figure for ``httpx`` (a library of
  the same kind of size: the peer, in the same run).

Run: ``.venv/bin/python bench/demo_time.py [--runs 3] [--imports 9] [--json]``.
With ``--json`` stdout is one JSON line and the table goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests._services import Anvil, Kubo, ServiceError  # noqa: E402

GOAL_SECONDS = 90.0
GOAL_IMPORT_US = 200_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROIKA_")}
    return env | {"TROIKA_HOME": str(home), "TROIKA_CONFIG": str(home / "none.toml")}


def demo_once(args: list[str], home: Path) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "troika.cli", "demo", "--json", *args],
        capture_output=True,
        text=True,
        env=clean_env(home),
        timeout=600,
        check=False,
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"troika demo failed:\n{result.stderr}")
    return wall, json.loads(result.stdout)


@contextlib.contextmanager
def services(work: Path) -> Iterator[tuple[str, str]]:
    """anvil and Kubo on free loopback ports; always stopped."""
    try:
        anvil = Anvil(workdir=work / "anvil")
        kubo = Kubo(workdir=work / "kubo")
    except ServiceError as exc:
        raise SystemExit(f"{exc} (install them with tools/setup.sh dev)") from exc
    try:
        anvil.start()
        kubo.start()
        yield anvil.url, kubo.api_url
    except ServiceError as exc:
        raise SystemExit(f"a service did not start: {exc}") from exc
    finally:
        kubo.stop()
        anvil.stop()


def import_time_us(module: str) -> int:
    """The cumulative microseconds of ``module`` in ``-X importtime`` of a fresh process."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for line in result.stderr.splitlines():
        parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    raise SystemExit(f"no import time line for {module!r}")


def summarise(runs: list[tuple[float, dict[str, Any]]]) -> dict[str, Any]:
    walls = [wall for wall, _ in runs]
    stories = [summary["seconds"] for _, summary in runs]
    median_run = sorted(runs, key=lambda run: run[0])[len(runs) // 2][1]
    slowest = sorted(median_run["steps"].items(), key=lambda item: -item[1])[:3]
    return {
        "wall_s": [round(w, 2) for w in walls],
        "median_wall_s": round(statistics.median(walls), 2),
        "median_story_s": round(statistics.median(stories), 2),
        "over_goal": round(statistics.median(walls) / GOAL_SECONDS, 3),
        "slowest_steps": [[name, seconds] for name, seconds in slowest],
        "accuracy": median_run["accuracy"],
        "baseline_accuracy": median_run["baseline_accuracy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="demo runs per backend")
    parser.add_argument("--imports", type=int, default=9, help="import-time processes")
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    options = parser.parse_args()

    results: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "goal_s": GOAL_SECONDS,
    }
    with tempfile.TemporaryDirectory(prefix="troika-bench-demo-") as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        embedded = []
        for index in range(options.runs):
            embedded.append(demo_once([], home))
            log(f"embedded run {index + 1}/{options.runs}: {embedded[-1][0]:.1f} s")
        results["embedded"] = summarise(embedded)
        with services(work) as (rpc, ipfs):
            remote = []
            for index in range(options.runs):
                remote.append(demo_once(["--rpc", rpc, "--ipfs", ipfs], home))
                log(f"anvil + Kubo run {index + 1}/{options.runs}: {remote[-1][0]:.1f} s")
        results["anvil_kubo"] = summarise(remote)

    troika_us = [import_time_us("troika") for _ in range(options.imports)]
    httpx_us = [import_time_us("httpx") for _ in range(options.imports)]
    results["import_troika_us"] = int(statistics.median(troika_us))
    results["import_httpx_us"] = int(statistics.median(httpx_us))
    results["import_over_goal"] = round(results["import_troika_us"] / GOAL_IMPORT_US, 3)
    results["import_over_httpx"] = round(
        results["import_troika_us"] / results["import_httpx_us"], 3
    )

    lines = [
        f"{'backend':<14}{'wall s (runs)':<26}{'median':>8}{'story':>8}{'/goal':>8}  slowest steps",
        "-" * 100,
    ]
    for name, key in (("embedded", "embedded"), ("anvil + Kubo", "anvil_kubo")):
        row = results[key]
        walls = ", ".join(f"{w:.1f}" for w in row["wall_s"])
        slow = "; ".join(f"{step} {seconds:.1f}" for step, seconds in row["slowest_steps"])
        lines.append(
            f"{name:<14}{walls:<26}{row['median_wall_s']:>8.1f}{row['median_story_s']:>8.1f}"
            f"{row['over_goal']:>8.2f}  {slow}"
        )
    lines.append(
        f"accuracy (embedded median run): federated {results['embedded']['accuracy']:.3f}, "
        f"centralised {results['embedded']['baseline_accuracy']:.3f}"
    )
    lines.append(
        f"import troika: {results['import_troika_us']} us cumulative (median of "
        f"{options.imports}), {results['import_over_goal']:.2f} of the 200 ms goal; "
        f"import httpx: {results['import_httpx_us']} us; troika/httpx "
        f"{results['import_over_httpx']:.2f}"
    )
    table = "\n".join(lines)
    if options.json:
        log(table)
        print(json.dumps(results, sort_keys=True))
    else:
        print(table)


if __name__ == "__main__":
    main()
