"""Resolving a did:ethr with a long history: troika against ethr-did-resolver, in one run.

What it measures: a did:ethr whose identity has ``--changes`` registry changes
(default 50: services and delegates, one transaction each, so one block per
change) on a fresh anvil that this script starts on a free loopback port and
always stops. troika's ERC-1056 registry is deployed there with the SDK.

- ``troika``: ``Resolver`` + ``EthrResolver({"dev": url})``, the way the docs
  configure it; the registry and its deployment block come from the deployments
  record that ``EthrRegistry.deploy`` wrote.
- ``reference``: npm ``ethr-did-resolver`` 11 (tests/peers, pinned) with
  ``did-resolver`` and ethers 6, in its README's default configuration
  (``{name, chainId, rpcUrl, registry}``), run by node from
  ``tests/peers/bench-resolve-ethr.mjs``.

"Cold" means no resolution result is cached anywhere: each resolution reads the
history from the node again. Connections are warm on both sides: each side's
resolver (troika's ``EthrResolver``, the reference's provider) resolves another
DID once, untimed, before the rounds, so that neither side pays for discovering
the chain id or opening its first connection inside a timed resolution.

Node's start-up is not counted against the reference: one node process lives
for the whole run and times each resolution itself (``process.hrtime``), around
``resolver.resolve(did)`` only, as this script times troika's
``resolver.resolve(did)`` (``time.perf_counter``). The two sides alternate in
rounds (troika then reference, then reference then troika, ...), ``--n``
resolutions per side per round.

JSON-RPC requests are exact: each side resolves once more, untimed, through its
own small counting proxy on 127.0.0.1 in front of anvil, which counts HTTP
requests and the JSON-RPC calls in them (a batch counts each call). The timed
rounds go to anvil directly, so the proxy's own latency is in no timing.

Columns: median ms per resolution for each side; ``speed-up``, the reference's
median over troika's (above 1 troika is faster; the goal is 3); ``rounds``, the
lowest and highest per-round speed-up; requests per resolution (HTTP requests,
and the JSON-RPC methods); and whether both documents are equal as JSON.

Run: ``.venv/bin/python bench/did_ethr_resolve.py [--changes 50] [--n 10]
[--rounds 10] [--json]``. With ``--json`` stdout is one JSON line and the table
goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import http.server
import json
import platform
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from eth_account import Account

from troika.chain import Chain
from troika.did import EthrRegistry, EthrResolver, Resolver

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests._services import Anvil, ServiceError, _die_with_parent  # noqa: E402

PEERS = ROOT / "tests" / "peers"
SCRIPT = PEERS / "bench-resolve-ethr.mjs"
NAME = "dev"
VALIDITY = 10 * 365 * 86_400  # seconds: every change stays valid for the whole run
NODE_TIMEOUT = 120.0  # seconds for any one answer from the node process
RPC_TIMEOUT = 10.0  # seconds for one JSON-RPC request, troika's and the proxy's


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- anvil --------------------------------------------------------------------


@contextlib.contextmanager
def anvil() -> Iterator[str]:
    """Start anvil on a free loopback port (tests/_services.py), yield its URL, always stop it.

    --prune-history: past a few hundred blocks anvil otherwise writes a state
    file per block under ~/.foundry and leaves them behind.
    """
    try:
        node = Anvil(extra_args=["--prune-history"])
    except ServiceError as exc:
        raise SystemExit(f"{exc} (install contracts/ with tools/setup.sh dev)") from exc
    try:
        node.start()
    except ServiceError as exc:
        raise SystemExit(f"anvil did not start: {exc}") from exc
    try:
        yield node.url
    finally:
        node.stop()


# -- the counting proxy ---------------------------------------------------------


class CountingProxy:
    """Forwards JSON-RPC POSTs to ``upstream`` and counts them; on 127.0.0.1."""

    def __init__(self, upstream: str) -> None:
        self.requests = 0
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        target = urllib.parse.urlsplit(upstream)
        host, port = target.hostname or "127.0.0.1", target.port
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the clients expect

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                payload = json.loads(body)
                calls = payload if isinstance(payload, list) else [payload]
                with proxy._lock:
                    proxy.requests += 1
                    proxy.calls.update(str(call.get("method")) for call in calls)
                upstream = http.client.HTTPConnection(host, port, timeout=RPC_TIMEOUT)
                try:
                    upstream.request(
                        "POST", target.path or "/", body, {"Content-Type": "application/json"}
                    )
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.calls.clear()

    def snapshot(self) -> tuple[int, dict[str, int]]:
        with self._lock:
            return self.requests, dict(sorted(self.calls.items()))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# -- the two sides -------------------------------------------------------------


class TroikaSide:
    """troika's resolver, configured as the docs show."""

    def __init__(self, url: str, home: Path, warmup: str) -> None:
        self.ethr = EthrResolver({NAME: url}, home=home, rpc_timeout=RPC_TIMEOUT)
        self.resolver = Resolver()
        self.resolver.register("ethr", self.ethr)
        self.resolve(warmup)  # untimed: the chain id, the registry, the first connection

    def resolve(self, did: str) -> dict[str, Any]:
        result = self.resolver.resolve(did)
        if result.error is not None:
            raise RuntimeError(f"troika failed to resolve {did}: {result.did_resolution_metadata}")
        return result.to_dict()

    def time(self, did: str, n: int) -> list[float]:
        times = []
        for _ in range(n):
            start = time.perf_counter()
            self.resolver.resolve(did)
            times.append((time.perf_counter() - start) * 1000)
        return times

    def close(self) -> None:
        self.ethr.close()


class ReferenceSide:
    """ethr-did-resolver in one long-lived node process that times itself."""

    def __init__(
        self, url: str, registry: str, chain_id: int, did: str, warmup: str, *, tuned: bool
    ) -> None:
        node = shutil.which("node")
        if node is None:
            raise SystemExit("node is not installed: the reference resolver runs on it")
        if not (PEERS / "node_modules" / "ethr-did-resolver").is_dir():
            raise SystemExit("install the reference: npm ci --prefix tests/peers")
        self.process = subprocess.Popen(
            [node, str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        config = {
            "rpcUrl": url,
            "registry": registry,
            "chainId": chain_id,
            "name": NAME,
            "warmup": warmup,
            "did": did,
            "tuned": tuned,
        }
        self._send(json.dumps(config))
        if self._read() != "ready":
            raise RuntimeError("the reference script did not start")

    def _send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def _read(self) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], NODE_TIMEOUT)
        if not ready:
            raise RuntimeError(f"the reference script did not answer in {NODE_TIMEOUT} s")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the reference script exited with {self.process.wait(5)}")
        return line.strip()

    def run(self, n: int) -> tuple[list[float], dict[str, Any]]:
        self._send(str(n))
        answer = json.loads(self._read())
        return [float(ms) for ms in answer["ms"]], answer["result"]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send("")
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


# -- the history ---------------------------------------------------------------


def make_history(chain: Chain, registry: EthrRegistry, changes: int) -> tuple[str, str]:
    """An identity with ``changes`` changes, and a warm-up identity with one."""
    identity, other = chain.accounts[1], chain.accounts[2]
    for i in range(changes):
        if i % 2:
            delegate = Account.create().address
            registry.add_delegate(identity, "veriKey", delegate, VALIDITY, sender=identity)
        else:
            endpoint = f"https://service-{i}.example".encode()
            registry.set_attribute(identity, f"did/svc/S{i}", endpoint, VALIDITY, sender=identity)
    registry.set_attribute(other, "did/svc/Warm", b"https://warm.example", VALIDITY, sender=other)
    return f"did:ethr:{NAME}:{identity}", f"did:ethr:{NAME}:{other}"


# -- measuring -----------------------------------------------------------------

SIDES = ("troika", "reference", "tuned")
LABELS = {
    "troika": "troika",
    "reference": "reference (default configuration)",
    "tuned": "reference (tuned provider)",
}


@dataclass
class Side:
    name: str
    ms: list[float] = field(default_factory=list)
    requests: int = 0
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.ms)


@dataclass
class Figures:
    changes: int
    sides: dict[str, Side] = field(default_factory=lambda: {name: Side(name) for name in SIDES})
    #: per reference side, the per-round speed-ups of troika against it
    rounds: dict[str, list[float]] = field(default_factory=lambda: {"reference": [], "tuned": []})
    same_document: dict[str, bool] = field(default_factory=dict)

    def speedup(self, name: str) -> float:
        return self.sides[name].median / self.sides["troika"].median

    def as_json(self) -> dict[str, Any]:
        return {
            "changes": self.changes,
            **{
                name: {
                    "ms": round(side.median, 3),
                    "requests": side.requests,
                    "calls": side.calls,
                    **(
                        {}
                        if name == "troika"
                        else {
                            "speedup": round(self.speedup(name), 2),
                            "rounds": [
                                round(min(self.rounds[name]), 2),
                                round(max(self.rounds[name]), 2),
                            ],
                            "same_document": self.same_document[name],
                        }
                    ),
                }
                for name, side in self.sides.items()
            },
        }


def _open(
    name: str, url: str, home: Path, registry: str, chain_id: int, did: str, warmup: str
) -> Any:
    if name == "troika":
        return TroikaSide(url, home, warmup)
    return ReferenceSide(url, registry, chain_id, did, warmup, tuned=name == "tuned")


def _times(runner: Any, did: str, n: int) -> list[float]:
    if isinstance(runner, TroikaSide):
        return runner.time(did, n)
    times: list[float] = runner.run(n)[0]
    return times


def measure(changes: int, n: int, rounds: int) -> Figures:
    figures = Figures(changes)
    with tempfile.TemporaryDirectory(prefix="troika-bench-") as tmp, anvil() as url:
        home = Path(tmp)
        with Chain.connect(url, home=home, timeout=RPC_TIMEOUT) as chain:
            registry = EthrRegistry.deploy(chain)
            log(f"anvil at {url}: making a history of {changes} changes ...")
            did, warmup = make_history(chain, registry, changes)
            chain_id = chain.chain_id
        setup = (registry.address, chain_id, did, warmup)
        runners: dict[str, Any] = {}
        try:
            for name in SIDES:
                runners[name] = _open(name, url, home, *setup)
            ours = runners["troika"].resolve(did)["didDocument"]
            for name in ("reference", "tuned"):
                figures.same_document[name] = runners[name].run(1)[1]["didDocument"] == ours
            for index in range(rounds):
                shift = index % len(SIDES)
                order = SIDES[shift:] + SIDES[:shift]  # each side goes first in turn
                got = {name: _times(runners[name], did, n) for name in order}
                for name, times in got.items():
                    figures.sides[name].ms += times
                speedups = {
                    name: statistics.median(got[name]) / statistics.median(got["troika"])
                    for name in ("reference", "tuned")
                }
                for name, speedup in speedups.items():
                    figures.rounds[name].append(speedup)
                log(
                    f"round {index + 1}/{rounds}: speed-up {speedups['reference']:.2f} "
                    f"(tuned {speedups['tuned']:.2f})"
                )
        finally:
            for runner in runners.values():
                runner.close()
        for name in SIDES:
            count(figures.sides[name], url, home, *setup)
    return figures


def count(
    side: Side, url: str, home: Path, registry: str, chain_id: int, did: str, warmup: str
) -> None:
    """One more resolution by ``side``, untimed, through its own counting proxy."""
    proxy = CountingProxy(url)
    try:
        runner = _open(side.name, proxy.url, home, registry, chain_id, did, warmup)
        try:
            proxy.reset()
            if isinstance(runner, TroikaSide):
                runner.resolve(did)
            else:
                runner.run(1)
            side.requests, side.calls = proxy.snapshot()
        finally:
            runner.close()
    finally:
        proxy.close()


def table(figures: Figures, n: int, rounds: int) -> str:
    head = (
        f"did:ethr with {figures.changes} changes on anvil, resolved cold: median per "
        f"resolution over {n * rounds} per side, {rounds} interleaved rounds"
    )
    width = max(len(label) for label in LABELS.values())
    columns = (
        f"{'side':<{width}} {'ms':>8} {'troika is':>10} {'rounds':>12} {'requests':>9}"
        "  same doc  JSON-RPC calls"
    )
    rows = []
    for name, side in figures.sides.items():
        calls = ", ".join(f"{method} {k}" for method, k in side.calls.items())
        if name == "troika":
            ratio, spread, same = "", "", ""
        else:
            low, high = min(figures.rounds[name]), max(figures.rounds[name])
            ratio = f"{figures.speedup(name):.2f}x"
            spread = f"{low:.2f}-{high:.2f}" + (" !" if high > 1.5 * low else "")
            same = "yes" if figures.same_document[name] else "NO"
        rows.append(
            f"{LABELS[name]:<{width}} {side.median:>8.2f} {ratio:>10} {spread:>12} "
            f"{side.requests:>9}  {same:<8}  {calls}"
        )
    return "\n".join([head, columns, "-" * len(columns), *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=50, help="changes in the history")
    parser.add_argument("--n", type=int, default=10, help="resolutions per side per round")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    args = parser.parse_args()
    started = time.monotonic()
    figures = measure(args.changes, args.n, args.rounds)
    log(table(figures, args.n, args.rounds))
    log(f"({time.monotonic() - started:.0f} s)")
    if args.json:
        versions = {"python": platform.python_version(), "troika": version("troika-sdk")}
        print(json.dumps({"did_ethr_resolve": figures.as_json(), "versions": versions}))


if __name__ == "__main__":
    main()
