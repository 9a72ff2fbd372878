"""The resolver service (``troika did serve``) under load from a second process, warm cache.

What it measures: ``troika did serve`` runs as its own process on a free
127.0.0.1 port (uvicorn, one worker, no access log, no RPC node: did:key and
did:pkh). The script warms the cache by resolving each of 200 DIDs once (100
did:key Ed25519, 100 did:pkh eip155, made afresh each run), checks every answer
is a 200, then ``wrk`` (a third process, one thread) requests those DIDs in
turn for ``--duration`` seconds over ``--connections`` keep-alive connections,
asking for the whole resolution result (the driver interface's default).

The peer, measured in the same run on the same machine: a bare Starlette app on
the same uvicorn with the same options, whose one route answers every
``/1.0/identifiers/...`` with a fixed body of the same size and media type. It
is the floor of this server stack: whatever troika adds (the DID URL's
decoding, content negotiation, the resolver, its cache) is the difference. The
sides alternate over ``--rounds`` (troika, bare, bare, troika, ...).

Columns: ``req/s``, ``p50 ms`` and ``p99 ms`` the medians over rounds of what
wrk reports (wrk measures from the request's send, so queueing at
``--connections`` in flight is in the latencies), ``worst p99`` the worst round's;
``errors`` non-2xx answers and socket errors over all rounds; ``vs bare`` is
troika's req/s over the bare app's (1.00: no cost over the server itself).
The issue's goals, on this 2-core machine: >= 1000 req/s and p99 < 20 ms.

Needs ``wrk`` (``apt-get install wrk``) and the service extra
(``pip install 'troika-sdk[service]'``). Run:
``.venv/bin/python bench/did_service_load.py [--duration 10] [--rounds 3]
[--connections 16] [--json]``; with ``--json`` stdout is one JSON line and
the table goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

from troika.did import KeyPair, Resolver, pkh_did, to_checksum_address

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _serving import serving

ROOT = Path(__file__).resolve().parents[1]
GOAL_RPS, GOAL_P99_MS = 1000.0, 20.0
LUA = """
paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bare_app(body: bytes, media_type: str) -> Any:
    """The peer: Starlette answering every identifier with one fixed body."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def identifiers(request: Request) -> Response:
        return Response(body, media_type=media_type)

    async def health(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(
        routes=[
            Route("/1.0/identifiers/{identifier:path}", identifiers),
            Route("/health", health),
        ]
    )


def wrk(url: str, script: Path, duration: int, connections: int) -> dict[str, float]:
    """One wrk run: requests/s, p50 and p99 in ms, errors."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script)]
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=duration + 60, check=True
    )
    text = done.stdout

    def millis(label: str) -> float:
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
        if match is None:
            raise SystemExit(f"no {label} latency in wrk's output:\n{text}")
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
        return float(match.group(1)) * scale

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if rps is None:
        raise SystemExit(f"no Requests/sec in wrk's output:\n{text}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", text))
    socket_errors = re.search(r"Socket errors: (.*)", text)
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return {
        "rps": float(rps.group(1)),
        "p50": millis("50%"),
        "p99": millis("99%"),
        "errors": errors,
    }


def dids(count: int) -> list[str]:
    keys = [KeyPair.generate("Ed25519").did for _ in range(count // 2)]
    accounts = [
        pkh_did(to_checksum_address("0x" + secrets.token_hex(20)), 1)
        for _ in range(count - count // 2)
    ]
    return [str(d) for d in keys + accounts]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per side")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--dids", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve-bare", nargs=2, metavar=("PORT", "BODY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        import uvicorn

        port, body = int(args.serve_bare[0]), Path(args.serve_bare[1])
        from troika.did._service import RESULT_MEDIA_TYPE

        app = bare_app(body.read_bytes(), RESULT_MEDIA_TYPE)
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        return 0
    if shutil.which("wrk") is None:
        sys.stderr.write("this benchmark needs wrk: apt-get install wrk\n")
        return 2
    out = sys.stderr if args.json else sys.stdout
    started = time.monotonic()
    identifiers = dids(args.dids)
    paths = [f"/1.0/identifiers/{did}" for did in identifiers]
    sample = json.dumps(Resolver().resolve(identifiers[0]).to_dict(), separators=(",", ":"))
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "paths.txt").write_text("\n".join(paths) + "\n")
        script = work / "rotate.lua"
        script.write_text(LUA % (work / "paths.txt"))
        (work / "body.json").write_bytes(sample.encode())
        python = sys.executable
        sides: dict[str, list[str]] = {
            "troika": [python, "-m", "troika.cli", "did", "serve", "--log-level", "warning"],
            "bare": [python, str(Path(__file__).resolve()), "--serve-bare"],
        }
        runs: dict[str, list[dict[str, float]]] = {"troika": [], "bare": []}
        order = [
            ("troika", "bare") if i % 2 == 0 else ("bare", "troika") for i in range(args.rounds)
        ]
        for pair in order:
            for side in pair:
                port = free_port()
                command = (
                    [*sides[side], "--port", str(port)]
                    if side == "troika"
                    else [
                        *sides[side],
                        str(port),
                        str(work / "body.json"),
                    ]
                )
                with (
                    serving(command, port, work / f"{side}.log") as (url, _),
                    httpx.Client() as client,
                ):
                    for path in paths:  # warm the cache, and check every answer
                        response = client.get(url + path, timeout=10)
                        if response.status_code != 200:
                            raise SystemExit(f"{side} {path}: {response.status_code}")
                    runs[side].append(wrk(url, script, args.duration, args.connections))
    summary: dict[str, dict[str, float]] = {}
    for side, results in runs.items():
        summary[side] = {
            "rps": statistics.median(r["rps"] for r in results),
            "p50_ms": statistics.median(r["p50"] for r in results),
            "p99_ms": statistics.median(r["p99"] for r in results),
            "p99_worst_ms": max(r["p99"] for r in results),
            "errors": sum(r["errors"] for r in results),
        }
    ratio = summary["troika"]["rps"] / summary["bare"]["rps"]
    met = summary["troika"]["rps"] >= GOAL_RPS and summary["troika"]["p99_ms"] < GOAL_P99_MS
    print(
        f"resolver service under wrk: {args.dids} DIDs (did:key, did:pkh) in turn, warm cache, "
        f"{args.connections} connections, {args.rounds} x {args.duration} s per side",
        file=out,
    )
    header = f"{'server':<8} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'worst p99':>9}"
    print(f"{header} {'errors':>6} {'vs bare':>8}", file=out)
    print("-" * 59, file=out)
    for side, s in summary.items():
        versus = f"{ratio:.2f}" if side == "troika" else "1.00"
        print(
            f"{side:<8} {s['rps']:>8.0f} {s['p50_ms']:>7.2f} {s['p99_ms']:>7.2f} "
            f"{s['p99_worst_ms']:>9.2f} "
            f"{s['errors']:>6.0f} {versus:>8}",
            file=out,
        )
    verdict = "met" if met else "NOT met"
    print(
        f"goals (>= {GOAL_RPS:.0f} req/s, p99 < {GOAL_P99_MS:.0f} ms): {verdict}"
        f"  [{time.monotonic() - started:.0f} s]",
        file=out,
    )
    if args.json:
        record = {
            "benchmark": "did_service_load",
            "dids": args.dids,
            "connections": args.connections,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "sides": summary,
            "runs": runs,
            "vs_bare": ratio,
            "goals_met": met,
            "python": platform.python_version(),
            "starlette": version("starlette"),
            "uvicorn": version("uvicorn"),
            "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[
                0
            ],
        }
        sys.stdout.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
