"""An RPC node that drops connections, or answers too slowly: reads are
retried a bounded number of times with backoff, then a clear error names the
node; a send is never retried. The faults come from a TCP proxy on loopback,
in front of the real anvil, that the test controls (anvil cannot drop its own
connections on demand)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests._services import Anvil
from tests.faults.conftest import FaultReport
from troika import ChainError, RPCUnavailable
from troika.chain import AsyncChain, Chain

pytestmark = pytest.mark.anvil


class Proxy:
    """Forwards loopback TCP connections to ``target``; the first ``drop``
    connections are closed unanswered, and answers can be held ``delay`` seconds."""

    def __init__(self, target: tuple[str, int], *, drop: int = 0, delay: float = 0.0) -> None:
        self.target = target
        self.drop = drop
        self.delay = delay
        self.accepted = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            if self.accepted <= self.drop:
                client.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                client.close()  # a reset, as a node restarting would give
                continue
            threading.Thread(target=self._pipe_pair, args=(client,), daemon=True).start()

    def _pipe_pair(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.target, timeout=10) as upstream:
            up = threading.Thread(target=self._pipe, args=(client, upstream, 0.0), daemon=True)
            up.start()
            self._pipe(upstream, client, self.delay)
            up.join(timeout=10)

    def _pipe(self, source: socket.socket, sink: socket.socket, delay: float) -> None:
        source.settimeout(10)
        try:
            while not self._stop.is_set():
                data = source.recv(65536)
                if not data:
                    break
                if delay:
                    time.sleep(delay)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(timeout=5)


def anvil_address(anvil: Anvil) -> tuple[str, int]:
    host, port = anvil.url.removeprefix("http://").split(":")
    return host, int(port)


@pytest.fixture
def proxy_factory(anvil: Anvil) -> Iterator[type[Proxy]]:
    made: list[Proxy] = []

    class Made(Proxy):
        def __init__(self, *, drop: int = 0, delay: float = 0.0) -> None:
            super().__init__(anvil_address(anvil), drop=drop, delay=delay)
            made.append(self)

    yield Made
    for proxy in made:
        proxy.close()


def test_reads_survive_dropped_connections(
    anvil: Anvil, proxy_factory: type[Proxy], fault_report: FaultReport
) -> None:
    fault_report.inject("RPC proxy resets the first 2 connections (reads, retries=3)")
    proxy = proxy_factory(drop=2)
    with Chain.connect(proxy.url, chain_id=anvil.chain_id, retries=3) as chain:
        assert chain.block_number >= 0
    assert proxy.accepted >= 3  # two dropped, then the retry that got through
    fault_report.detail = f"read answered after {proxy.accepted} connections"


def test_without_retries_a_dropped_connection_is_a_clear_error(
    anvil: Anvil, proxy_factory: type[Proxy], fault_report: FaultReport
) -> None:
    fault_report.inject("RPC proxy resets a connection, retries=0")
    proxy = proxy_factory(drop=1)
    with pytest.raises(RPCUnavailable) as caught:
        Chain.connect(proxy.url, retries=0)
    assert caught.value.url == proxy.url
    assert proxy.accepted == 1
    fault_report.detail = "RPCUnavailable naming the node after 1 connection"


def test_a_node_that_never_answers_gives_up_after_its_retries(
    proxy_factory: type[Proxy], fault_report: FaultReport
) -> None:
    fault_report.inject("RPC proxy resets every connection (retries=2)")
    proxy = proxy_factory(drop=10**6)
    with pytest.raises(RPCUnavailable) as caught:
        Chain.connect(proxy.url, retries=2, timeout=2)
    assert proxy.url in str(caught.value)
    assert proxy.accepted == 3  # the first try and two retries, no more
    fault_report.detail = "RPCUnavailable after the first try and 2 retries, no more"


def test_a_slow_node_times_out_then_retries_then_errors(
    anvil: Anvil, proxy_factory: type[Proxy], fault_report: FaultReport
) -> None:
    fault_report.inject("RPC proxy delays every answer 1.5 s (timeout 0.5 s, retries=1)")
    proxy = proxy_factory(delay=1.5)
    with pytest.raises(RPCUnavailable):
        Chain.connect(proxy.url, retries=1, timeout=0.5)
    assert proxy.accepted >= 2
    fault_report.detail = f"RPCUnavailable after {proxy.accepted} timed-out attempts"


def test_async_reads_survive_dropped_connections(
    anvil: Anvil, proxy_factory: type[Proxy], fault_report: FaultReport
) -> None:
    fault_report.inject("RPC proxy resets the first 2 connections (async reads, retries=3)")
    proxy = proxy_factory(drop=2)

    async def main() -> int:
        async with await AsyncChain.connect(proxy.url, retries=3) as chain:
            return await chain.block_number()

    assert asyncio.run(main()) >= 0
    assert proxy.accepted >= 3
    fault_report.detail = f"read answered after {proxy.accepted} connections"


def test_retries_must_be_a_whole_number(anvil: Anvil) -> None:
    with pytest.raises(ChainError):
        Chain.connect(anvil.url, retries=-1)
