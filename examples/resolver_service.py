"""A service that resolves DIDs through troika's resolver service over HTTP.

The script starts ``troika did serve`` (a DIF Universal Resolver driver:
``GET /1.0/identifiers/{did}``) as a process on a free loopback port, waits for
its ``/health`` (bounded), resolves a did:key and a did:pkh through it with
httpx, checks each answer against ``troika.did.resolve`` in-process, shows the
HTTP status of the failures a client must handle, and stops the service.

Without ``--rpc`` the service resolves did:key, did:pkh and did:web; give it
``--rpc http://node:8545`` for did:ethr on that node.

Run: python examples/resolver_service.py [--home DIR]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

import troika.did
from troika.did import KeyPair, pkh_did

STARTUP_SECONDS = 30
ACCOUNT = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def resolver_service(home: Path) -> Iterator[str]:
    """``troika did serve`` on loopback; yields its URL once ``/health`` answers."""
    port = free_port()
    command = [sys.executable, "-m", "troika.cli", "did", "serve", "--port", str(port)]
    command += ["--home", str(home), "--log-level", "warning"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROIKA_")}
    with (home / "serve.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the service did not start; see {home / 'serve.log'}")
                time.sleep(0.1)
            yield url
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="resolve DIDs through troika did serve")
    parser.add_argument("--home", type=Path, help="the troika home (a temporary one if unset)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        home = args.home or Path(scratch)
        home.mkdir(parents=True, exist_ok=True)
        run(home)


def run(home: Path) -> None:
    device = KeyPair.generate("Ed25519")  # a device's key: its DID is the key itself
    wallet = pkh_did(ACCOUNT, 1)  # an account on mainnet
    with resolver_service(home) as url, httpx.Client(base_url=url, timeout=10) as client:
        print(f"service {url} {client.get('/health').json()['status']}")
        for did in (str(device.did), str(wallet)):
            response = client.get(f"/1.0/identifiers/{did}")
            response.raise_for_status()
            over_http = response.json()
            in_process = troika.did.resolve(did).to_dict()
            same = "same as in-process" if over_http == in_process else "DIFFERS from in-process"
            document = over_http["didDocument"]
            methods = [m["type"] for m in document["verificationMethod"]]
            print(f"{did[:24]}... {response.status_code}: {', '.join(methods)}; {same}")

        document = client.get(
            f"/1.0/identifiers/{device.did}", headers={"accept": "application/did+ld+json"}
        )
        print(f"as a bare document: {document.headers['content-type']}")
        for identifier in ("did:nope", "did:example:123", f"did:ethr:0x1:{ACCOUNT}"):
            failed = client.get(f"/1.0/identifiers/{identifier}")
            error = failed.json()["didResolutionMetadata"]["error"]
            print(f"{identifier[:16]} {failed.status_code} {error}")
    print("service stopped")


if __name__ == "__main__":
    main()
