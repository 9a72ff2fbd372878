"""KuboStore.add of one file: Kubo's own ``add``, checked against troika's CID.

The CIDs must equal ``ipfs add --only-hash`` for both profiles and the knobs
(small chunks make the second tree level cheap to reach); a fault-injection
test puts a loopback proxy between troika and Kubo that makes Kubo's ``add``
build a different DAG, and checks that troika refuses its root and unpins it.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from tests._services import Kubo
from tests.ipfs._kubo_cli import add_options, only_hash, standalone_repo
from troika._errors import VerificationError
from troika.ipfs import CID, AsyncKuboStore, KuboStore

pytestmark = pytest.mark.kubo

KIB = 1024


@pytest.fixture(scope="module")
def v1_repo(kubo: Kubo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return standalone_repo(kubo, tmp_path_factory.mktemp("v1") / "repo", "unixfs-v1-2025")


# (profile, knobs, size): sizes 0, 1, chunk+1, and more leaves than a node links
CASES = [
    *[("kubo-v0", {}, size) for size in (0, 1, 256 * KIB + 1)],
    *[("v1-2025", {}, size) for size in (0, 1, 1024 * KIB + 1)],
    ("kubo-v0", {"chunk_size": 1024}, 175 * 1024 + 1),  # > 174 leaves: two levels
    ("v1-2025", {"chunk_size": 1024}, 1025 * 1024 + 1),  # > 1024 leaves: two levels
    *[("kubo-v0", {"cid_version": 1, "chunk_size": 1000}, size) for size in (0, 1, 1001)],
    *[("kubo-v0", {"raw_leaves": True, "chunk_size": 1000}, size) for size in (0, 1, 1001)],
    *[
        ("kubo-v0", {"cid_version": 1, "raw_leaves": False, "chunk_size": 1000}, size)
        for size in (0, 1, 1001, 175 * 1000 + 1)
    ],
    ("v1-2025", {"raw_leaves": False, "chunk_size": 1000}, 1001),
    ("v1-2025", {"cid_version": 0, "chunk_size": 1000}, 1001),
]


def case_id(case: tuple[str, dict[str, int | bool], int]) -> str:
    profile, knobs, size = case
    return "-".join([profile, *(f"{key}={value}" for key, value in knobs.items()), str(size)])


class Requests:
    """An httpx event hook that records the RPC commands a store sends."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def __call__(self, request: httpx.Request) -> None:
        self.commands.append(request.url.path.removeprefix("/api/v0/"))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_add_of_a_file_uses_kubos_add_and_gives_the_only_hash_cid(
    kubo: Kubo, v1_repo: Path, tmp_path: Path, case: tuple[str, dict[str, int | bool], int]
) -> None:
    profile, knobs, size = case
    path = tmp_path / "data.bin"
    path.write_bytes(random.Random(size).randbytes(size))
    repo = v1_repo if profile == "v1-2025" else kubo.ipfs_path
    expected = CID.parse(only_hash(kubo, repo, path, *add_options(**knobs)))  # type: ignore[arg-type]
    requests, progress = Requests(), []

    with (
        httpx.Client(event_hooks={"request": [requests]}) as client,
        KuboStore(kubo.api_url, client=client) as store,
    ):
        from_path = store.add(
            path, profile=profile, progress=lambda *p: progress.append(p), **knobs
        )  # type: ignore[arg-type]
        from_bytes = store.add(path.read_bytes(), profile=profile, **knobs)  # type: ignore[arg-type]

        assert (from_path, from_bytes) == (expected, expected)
        assert store.is_pinned(expected)
        assert store.cat(expected) == path.read_bytes()
    assert "add" in requests.commands
    assert not {"dag/import", "pin/add"} & set(requests.commands)
    assert progress[-1] == (size, size)


@pytest.mark.parametrize("profile", ["kubo-v0", "v1-2025"])
def test_async_add_of_a_file_uses_kubos_add(
    kubo: Kubo, v1_repo: Path, tmp_path: Path, profile: str
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(random.Random(5).randbytes(3 * 1024 * KIB + 7))
    repo = v1_repo if profile == "v1-2025" else kubo.ipfs_path
    expected = CID.parse(only_hash(kubo, repo, path))
    requests, progress = Requests(), []

    async def record(request: httpx.Request) -> None:
        requests(request)

    async def add() -> tuple[CID, CID, bool]:
        async with (
            httpx.AsyncClient(event_hooks={"request": [record]}) as client,
            AsyncKuboStore(kubo.api_url, client=client) as store,
        ):
            from_path = await store.add(
                path, profile=profile, progress=lambda *p: progress.append(p)
            )
            from_bytes = await store.add(path.read_bytes(), profile=profile)
            return from_path, from_bytes, await store.is_pinned(from_path)

    assert asyncio.run(add()) == (expected, expected, True)
    assert "add" in requests.commands
    assert not {"dag/import", "pin/add"} & set(requests.commands)
    assert progress[-1] == (path.stat().st_size, path.stat().st_size)


# -- fault injection: a Kubo whose add does not build what it was asked to ---------------


class ChunkerSwappingProxy(ThreadingHTTPServer):
    """A loopback proxy to a real Kubo that rewrites ``add``'s chunker to ``size-1000``.

    Kubo then really stores and pins another DAG of the same bytes, and answers
    with its (wrong) root: what a node that ignores an import option would do.
    Every other call goes through unchanged; ``commands`` records them all.
    """

    def __init__(self, kubo_url: str) -> None:
        self.kubo_url = kubo_url
        self.commands: list[str] = []
        self.upstream = httpx.Client(timeout=30)
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    server: ChunkerSwappingProxy

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = bytearray()
        while size := int(self.rfile.readline().split(b";")[0], 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()  # the empty trailer
        return bytes(body)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        command = url.path.removeprefix("/api/v0/")
        self.server.commands.append(command)
        params = parse_qsl(url.query)
        if command == "add":
            params = [(k, "size-1000" if k == "chunker" else v) for k, v in params]
        answer = self.server.upstream.post(
            f"{self.server.kubo_url}{url.path}?{urlencode(params)}",
            content=self._body(),
            headers={"Content-Type": self.headers["Content-Type"] or ""},
        )
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("Content-Type", "text/plain"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)


@pytest.fixture
def lying_kubo(kubo: Kubo) -> Iterator[ChunkerSwappingProxy]:
    proxy = ChunkerSwappingProxy(kubo.api_url)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        proxy.upstream.close()
        thread.join(timeout=5)


def test_fault_injection_wrong_cid_from_add_raises_and_is_unpinned(
    kubo: Kubo, lying_kubo: ChunkerSwappingProxy, tmp_path: Path
) -> None:
    data = random.Random(11).randbytes(300 * KIB)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    ours = CID.parse(only_hash(kubo, kubo.ipfs_path, path))
    theirs = CID.parse(only_hash(kubo, kubo.ipfs_path, path, "--chunker=size-1000"))

    with KuboStore(lying_kubo.url) as store, pytest.raises(VerificationError) as caught:
        store.add(path)

    assert caught.value.cid == str(theirs)
    assert caught.value.source == f"KuboStore({lying_kubo.url!r})"
    assert str(ours) in str(caught.value)
    assert "it was unpinned" in str(caught.value)
    assert lying_kubo.commands == ["add", "pin/rm"]
    with KuboStore(kubo.api_url) as node:
        assert not node.is_pinned(theirs)
        assert not node.is_pinned(ours)


def test_fault_injection_wrong_cid_from_async_add_raises_and_is_unpinned(
    kubo: Kubo, lying_kubo: ChunkerSwappingProxy
) -> None:
    data = random.Random(12).randbytes(300 * KIB)
    theirs = CID.parse(kubo.cli("add", "-Q", "--only-hash", "--chunker=size-1000", input=data))

    async def add() -> None:
        async with AsyncKuboStore(lying_kubo.url) as store:
            await store.add(data)

    with pytest.raises(VerificationError) as caught:
        asyncio.run(add())

    assert caught.value.cid == str(theirs)
    assert lying_kubo.commands == ["add", "pin/rm"]
    with KuboStore(kubo.api_url) as node:
        assert not node.is_pinned(theirs)


# -- verify=False: Kubo's own root, as `ipfs add` trusts it -------------------------------


@pytest.mark.parametrize("profile", ["kubo-v0", "v1-2025"])
def test_add_without_verify_gives_the_only_hash_cid_pinned(
    kubo: Kubo, v1_repo: Path, tmp_path: Path, profile: str
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(random.Random(21).randbytes(2 * 1024 * KIB + 3))
    repo = v1_repo if profile == "v1-2025" else kubo.ipfs_path
    expected = CID.parse(only_hash(kubo, repo, path))

    async def add_async() -> CID:
        async with AsyncKuboStore(kubo.api_url) as store:
            return await store.add(path.read_bytes(), profile=profile, verify=False)

    with KuboStore(kubo.api_url) as store:
        assert store.add(path, profile=profile, verify=False) == expected
        assert store.is_pinned(expected)
        assert asyncio.run(add_async()) == expected


def test_fault_injection_add_without_verify_takes_the_nodes_root(
    kubo: Kubo, lying_kubo: ChunkerSwappingProxy, tmp_path: Path
) -> None:
    """What ``verify`` buys: without it, a node that ignores an option goes unnoticed."""
    path = tmp_path / "data.bin"
    path.write_bytes(random.Random(13).randbytes(300 * KIB))
    theirs = CID.parse(only_hash(kubo, kubo.ipfs_path, path, "--chunker=size-1000"))

    with KuboStore(lying_kubo.url) as store:
        assert store.add(path, verify=False) == theirs
    assert lying_kubo.commands == ["add", "pin/ls"]
