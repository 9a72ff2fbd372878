"""A server process for the benchmarks: started, awaited on ``/health``, always stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

START_TIMEOUT = 30.0  # seconds a server may take to answer /health
STOP_TIMEOUT = 10.0  # seconds it may take to exit on SIGTERM before it is killed


@contextlib.contextmanager
def serving(
    command: list[str], port: int, log: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``command`` (output to ``log``); yield its base URL and process once
    ``/health`` answers 200; SIGTERM it (then SIGKILL) on the way out.

    ``TROIKA_RPC_URL`` is left out of its environment: a benchmark's server
    resolves on loopback only.
    """
    env = {k: v for k, v in os.environ.items() if k != "TROIKA_RPC_URL"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{command[:4]} did not start:\n{log.read_text()[-2000:]}")
                time.sleep(0.1)
            yield url, process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)
