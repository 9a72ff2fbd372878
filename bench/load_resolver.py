"""The resolver service under sustained load from a second process, its memory sampled.

What it does: ``troika did serve`` runs as its own process on a free 127.0.0.1
port (uvicorn, one worker, did:key and did:pkh, no RPC node). This script, a
second process, drives it for ``--duration`` seconds with ``--concurrency``
requests in flight (httpx, keep-alive; ``--drivers`` client processes share
them, one by default: on 2 cores the client and the service each get one), a
mix meant to find leaks rather than speed:

- 60 % one of 200 known DIDs (did:key and did:pkh): cache hits;
- 30 % a DID never asked before (a fresh did:pkh account): a cache miss each,
  so the cache (``--cache-size`` entries) fills and then evicts all run long;
- 10 % hostile identifiers: not a DID, a percent-encoded line break, 2 KiB of
  junk after ``did:key:z``, a method the service does not serve.

Every answer is checked: a known or fresh DID must be a 200 whose document is
that DID's, a hostile one its documented 400 or 501 with a resolution result;
anything else (a 500, a transport error, a wrong document) counts as an error.
The service's resident memory (``/proc/<pid>/status`` VmRSS) is sampled every
second.

Columns: requests/s, errors, p50/p99 latency (from send to the whole answer,
so queueing at ``--concurrency`` in flight is in it), RSS at the start of the
load, at its end and its maximum, and the slope of RSS over the second half
of the run (MiB per minute, least squares; the first half is where the cache
fills). Memory is flat when the slope is about 0 and end - start is small.

This is a load test, not a benchmark: no peer, and its figures are for the
report (``tools/hardening_report.py``); it is not in the test suite, whose
``tests/hardening/test_load.py`` runs a 10 s version. Run:
``.venv/bin/python bench/load_resolver.py [--duration 180] [--concurrency 16]
[--cache-size 4096] [--json]``; with ``--json`` stdout is one JSON line. With
``TROIKA_REPORT_DIR`` set it adds a ``load`` record for the report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from troika.did import KeyPair

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _serving import serving

ROOT = Path(__file__).resolve().parents[1]
KNOWN = 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float | None:
    """The resident set size of process ``pid`` in MiB (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def serve_command(cache_size: int, port: int) -> list[str]:
    """``troika did serve`` on ``port`` with a cache of ``cache_size`` results."""
    return [
        sys.executable,
        "-m",
        "troika.cli",
        "did",
        "serve",
        "--port",
        str(port),
        "--cache-size",
        str(cache_size),
        "--log-level",
        "warning",
    ]


class Sampler(threading.Thread):
    """Samples a process's RSS every ``interval`` seconds until stopped."""

    def __init__(self, pid: int, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopped.is_set():
            value = rss_mib(self.pid)
            if value is not None:
                self.samples.append((time.monotonic() - started, value))
            self.stopped.wait(self.interval)


def slope_per_minute(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS over time, in MiB per minute (0 for < 2 samples)."""
    if len(samples) < 2:
        return 0.0
    times = [t for t, _ in samples]
    values = [v for _, v in samples]
    mean_t, mean_v = statistics.fmean(times), statistics.fmean(values)
    spread = sum((t - mean_t) ** 2 for t in times)
    if spread == 0:
        return 0.0
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in samples) / spread


def known_dids() -> list[str]:
    keys = [str(KeyPair.generate("Ed25519").did) for _ in range(KNOWN // 2)]
    return keys + [fresh_pkh() for _ in range(KNOWN - KNOWN // 2)]


def fresh_pkh() -> str:
    return f"did:pkh:eip155:1:0x{secrets.token_hex(20)}"


HOSTILE = [
    ("not-a-did", 400),
    ("did:key:z6Mk%0Aab", 400),
    ("did:key:z" + "x" * 2048, 400),
    ("did:nope:123", 501),
    ("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK%00", 400),
]


async def drive(
    url: str, duration: float, concurrency: int, known: list[str], seed: int
) -> dict[str, Any]:
    """Keep ``concurrency`` requests in flight for ``duration`` seconds; tally the answers."""
    rng = random.Random(seed)  # noqa: S311  # a reproducible mix, not a secret
    latencies: list[float] = []
    errors: list[str] = []
    unanswered = 0
    statuses: dict[int, int] = {}
    began = time.monotonic()
    deadline = began + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            draw = rng.random()
            if draw < 0.6:
                identifier, expected = rng.choice(known), 200
            elif draw < 0.9:
                identifier, expected = fresh_pkh(), 200
            else:
                identifier, expected = rng.choice(HOSTILE)
            started = time.perf_counter()
            try:
                response = await client.get(f"/1.0/identifiers/{identifier}")
                body = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                nonlocal unanswered
                unanswered += 1
                errors.append(f"{identifier[:40]}: {type(exc).__name__}")
                continue
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code != expected:
                errors.append(f"{identifier[:40]}: {response.status_code}, not {expected}")
            elif expected == 200 and body["didDocument"]["id"] != identifier:
                errors.append(f"{identifier[:40]}: the document of {body['didDocument']['id']}")

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return {
        "latencies": latencies,
        "errors": errors,
        "statuses": statuses,
        "unanswered": unanswered,
        "elapsed": time.monotonic() - began,
    }


def _drive_in_process(
    url: str, duration: float, concurrency: int, known: list[str], seed: int
) -> dict[str, Any]:
    return asyncio.run(drive(url, duration, concurrency, known, seed))


def drive_from(
    drivers: int, url: str, duration: float, concurrency: int, known: list[str], seed: int
) -> dict[str, Any]:
    """Drive from ``drivers`` processes (one asyncio loop each) and merge their tallies."""
    if drivers == 1:
        return _drive_in_process(url, duration, concurrency, known, seed)
    shares = [concurrency // drivers + (i < concurrency % drivers) for i in range(drivers)]
    with ProcessPoolExecutor(drivers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [
            pool.submit(_drive_in_process, url, duration, share, known, seed + i)
            for i, share in enumerate(shares)
            if share
        ]
        tallies = [future.result() for future in futures]
    statuses: dict[int, int] = {}
    for tally in tallies:
        for status, count in tally["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    return {
        "latencies": [x for tally in tallies for x in tally["latencies"]],
        "errors": [x for tally in tallies for x in tally["errors"]],
        "statuses": statuses,
        "unanswered": sum(tally["unanswered"] for tally in tallies),
        "elapsed": max(tally["elapsed"] for tally in tallies),
    }


def run(
    duration: float, concurrency: int, cache_size: int, seed: int, drivers: int = 1
) -> dict[str, Any]:
    """One load run; its figures."""
    known = known_dids()
    port = free_port()
    with (
        tempfile.TemporaryDirectory() as folder,
        serving(serve_command(cache_size, port), port, Path(folder) / "service.log") as (
            url,
            process,
        ),
    ):
        with httpx.Client(base_url=url, timeout=10) as client:
            for identifier in known:  # warm up: the known DIDs are cached from here on
                assert client.get(f"/1.0/identifiers/{identifier}").status_code == 200
        sampler = Sampler(process.pid)
        sampler.start()
        tally = drive_from(drivers, url, duration, concurrency, known, seed)
        elapsed = tally["elapsed"]  # from the first request on (not the drivers' start-up)
        sampler.stopped.set()
        sampler.join(5)
        alive = process.poll() is None
    samples = sampler.samples
    rss = [value for _, value in samples]
    latencies = sorted(tally["latencies"])
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    second_half = [(t, v) for t, v in samples if t >= elapsed / 2]
    requests = len(latencies) + tally["unanswered"]
    return {
        "duration_s": round(elapsed, 1),
        "concurrency": concurrency,
        "drivers": drivers,
        "cache_size": cache_size,
        "requests": requests,
        "rps": round(len(latencies) / elapsed, 1),
        "errors": len(tally["errors"]),
        "unanswered": tally["unanswered"],
        "error_examples": tally["errors"][:5],
        "statuses": dict(sorted(tally["statuses"].items())),
        "p50_ms": round(quantiles[49] * 1000, 2),
        "p99_ms": round(quantiles[98] * 1000, 2),
        "rss_start_mib": round(rss[0], 1) if rss else None,
        "rss_end_mib": round(rss[-1], 1) if rss else None,
        "rss_max_mib": round(max(rss), 1) if rss else None,
        "rss_slope_mib_per_min": round(slope_per_minute(second_half), 2),
        "rss_samples": len(rss),
        "service_alive": alive,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--cache-size", type=int, default=4096, help="the service's cache")
    parser.add_argument("--drivers", type=int, default=1, help="client processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = sys.stderr if args.json else sys.stdout
    result = run(args.duration, args.concurrency, args.cache_size, args.seed, args.drivers)
    print(
        f"resolver service under load: {result['duration_s']} s, {args.concurrency} in flight "
        f"from {args.drivers} client process(es), "
        f"cache of {args.cache_size}; 60 % known, 30 % fresh, 10 % hostile identifiers",
        file=out,
    )
    print(
        f"{'req/s':>7} {'requests':>9} {'errors':>6} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'RSS start':>9} {'end':>7} {'max':>7} {'slope MiB/min':>13}",
        file=out,
    )
    print(
        f"{result['rps']:>7.0f} {result['requests']:>9} {result['errors']:>6} "
        f"{result['p50_ms']:>7.2f} {result['p99_ms']:>7.2f} {result['rss_start_mib']:>9.1f} "
        f"{result['rss_end_mib']:>7.1f} {result['rss_max_mib']:>7.1f} "
        f"{result['rss_slope_mib_per_min']:>13.2f}",
        file=out,
    )
    print(f"statuses {result['statuses']}; service alive: {result['service_alive']}", file=out)
    for example in result["error_examples"]:
        print(f"  error: {example}", file=out)
    ok = result["errors"] == 0 and result["service_alive"]
    if os.environ.get("TROIKA_REPORT_DIR"):
        sys.path.insert(0, str(ROOT))
        from tests._report import record

        grown = (result["rss_end_mib"] or 0) - (result["rss_start_mib"] or 0)
        record(
            "load",
            "resolver service",
            "survived" if ok else "failed",
            f"{result['requests']} requests in {result['duration_s']} s from a second process, "
            f"{result['errors']} errors; RSS {result['rss_start_mib']} -> "
            f"{result['rss_end_mib']} MiB ({grown:+.1f}), "
            f"slope {result['rss_slope_mib_per_min']} MiB/min over the second half",
            suite="bench.load_resolver",
            **result,
        )
    if args.json:
        print(json.dumps({"benchmark": "load_resolver", **result}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
