"""KuboClient and AsyncKuboClient against a real Kubo daemon (the ``kubo`` fixture).

A few tests of answers no healthy Kubo gives (a cut-short body, HTML) use
httpx.MockTransport instead.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._services import Kubo, free_port
from tests.ipfs._kubo_cli import cli_add_only_hash
from troika._errors import ConfigError, IPFSRequestError, IPFSUnavailable, KuboAPIError
from troika.ipfs import AsyncKuboClient, KuboClient

pytestmark = pytest.mark.kubo

# Big enough to span several 256 KiB chunks, so Kubo builds a real DAG.
MULTI_CHUNK = random.Random(20260127).randbytes(700 * 1024 + 3)
DATA = {"empty": b"", "hello": b"hello\n", "multi-chunk": MULTI_CHUNK}

# cid_version, raw_leaves: Kubo's defaults and the non-defaults that change the CID.
CID_OPTIONS = [(0, None), (0, True), (1, None), (1, False), (1, True)]


def raw_cid_v1(data: bytes) -> str:
    """The CIDv1 of one raw block, built by hand from the CID spec (no Kubo involved)."""
    # version 1, codec raw (0x55), multihash sha2-256 (0x12) of 32 bytes (0x20)
    binary = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(binary).decode().lower().rstrip("=")


NEVER_ADDED = raw_cid_v1(b"troika: content that no test ever adds")


@pytest.fixture
def ipfs(kubo: Kubo) -> Iterator[KuboClient]:
    with KuboClient(kubo.api_url) as client:
        yield client


@pytest.fixture(scope="module")
def standalone_repo(kubo: Kubo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second repo, no daemon, initialised from the fixture node's own config."""
    path = tmp_path_factory.mktemp("standalone") / "repo"
    kubo.cli("init", str(kubo.ipfs_path / "config"), ipfs_path=path)
    return path


# -- round trips ---------------------------------------------------------------


@pytest.mark.parametrize("data", DATA.values(), ids=DATA.keys())
def test_add_then_cat_returns_the_same_bytes(ipfs: KuboClient, data: bytes) -> None:
    cid = ipfs.add(data)

    assert ipfs.cat(cid) == data


def test_cat_takes_an_ipfs_path_too(ipfs: KuboClient) -> None:
    cid = ipfs.add(b"by path\n")

    assert ipfs.cat(f"/ipfs/{cid}") == b"by path\n"


@pytest.mark.parametrize("data", DATA.values(), ids=DATA.keys())
@pytest.mark.anyio
async def test_async_add_then_cat_returns_the_same_bytes(kubo: Kubo, data: bytes) -> None:
    async with AsyncKuboClient(kubo.api_url) as ipfs:
        cid = await ipfs.add(data, cid_version=1)

        assert await ipfs.cat(cid) == data


def test_sync_and_async_clients_agree(kubo: Kubo, ipfs: KuboClient) -> None:
    async def async_add() -> str:
        async with AsyncKuboClient(kubo.api_url) as client:
            return await client.add(MULTI_CHUNK, cid_version=1, raw_leaves=False)

    assert asyncio.run(async_add()) == ipfs.add(MULTI_CHUNK, cid_version=1, raw_leaves=False)


def test_version_is_the_pinned_kubo(kubo: Kubo, ipfs: KuboClient) -> None:
    assert ipfs.version() == kubo.cli("version", "--number")


# -- CIDs: what the ipfs CLI computes for the same bytes ------------------------


@pytest.mark.parametrize(("cid_version", "raw_leaves"), CID_OPTIONS)
@pytest.mark.parametrize("data", DATA.values(), ids=DATA.keys())
def test_cid_equals_what_the_cli_sends_the_daemon(
    kubo: Kubo, ipfs: KuboClient, data: bytes, cid_version: int, raw_leaves: bool | None
) -> None:
    # Same IPFS_PATH as the daemon: the CLI is then the reference RPC client.
    expected = cli_add_only_hash(kubo, data, cid_version, raw_leaves, repo=None)

    assert ipfs.add(data, cid_version=cid_version, raw_leaves=raw_leaves) == expected


@pytest.mark.parametrize(("cid_version", "raw_leaves"), CID_OPTIONS)
@pytest.mark.parametrize("data", DATA.values(), ids=DATA.keys())
def test_cid_equals_what_the_cli_computes_alone(
    kubo: Kubo,
    ipfs: KuboClient,
    standalone_repo: Path,
    data: bytes,
    cid_version: int,
    raw_leaves: bool | None,
) -> None:
    # A repo with no daemon: the CLI chunks and hashes in its own process.
    expected = cli_add_only_hash(kubo, data, cid_version, raw_leaves, repo=standalone_repo)

    assert ipfs.add(data, cid_version=cid_version, raw_leaves=raw_leaves) == expected


@pytest.mark.parametrize("data", [b"", b"hello\n"], ids=["empty", "hello"])
def test_single_block_raw_cid_matches_the_cid_spec(ipfs: KuboClient, data: bytes) -> None:
    assert ipfs.add(data, cid_version=1, raw_leaves=True) == raw_cid_v1(data)


def test_well_known_cidv0_of_hello(ipfs: KuboClient) -> None:
    assert ipfs.add(b"hello\n") == "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"


# -- pins ----------------------------------------------------------------------


def test_add_pins_unless_told_not_to(ipfs: KuboClient) -> None:
    pinned = ipfs.add(b"pinned by add\n")
    unpinned = ipfs.add(b"not pinned by add\n", pin=False)

    pins = ipfs.pins()

    assert pinned in pins
    assert unpinned not in pins


def test_pin_add_and_pin_rm_show_in_pins(ipfs: KuboClient) -> None:
    cid = ipfs.add(b"pin me, then unpin me\n", pin=False)
    before = ipfs.pins()

    ipfs.pin_add(cid)
    after_add = ipfs.pins()
    ipfs.pin_rm(cid)
    after_rm = ipfs.pins()

    assert cid not in before
    assert after_add == before | {cid}
    assert after_rm == before


@pytest.mark.anyio
async def test_async_pin_add_and_pin_rm_show_in_pins(kubo: Kubo) -> None:
    async with AsyncKuboClient(kubo.api_url) as ipfs:
        cid = await ipfs.add(b"async pin me\n", pin=False)

        await ipfs.pin_add(cid)
        assert cid in await ipfs.pins()
        await ipfs.pin_rm(cid)
        assert cid not in await ipfs.pins()


def test_pin_rm_of_an_unpinned_cid_quotes_kubo(ipfs: KuboClient) -> None:
    cid = ipfs.add(b"never pinned\n", pin=False)

    with pytest.raises(IPFSRequestError) as caught:
        ipfs.pin_rm(cid)

    assert (caught.value.status, caught.value.response) == (500, "not pinned or pinned indirectly")


# -- errors --------------------------------------------------------------------


def test_cat_of_missing_content_gives_up_after_its_timeout(ipfs: KuboClient) -> None:
    # The node is online but alone, so it would look for the CID forever.
    started = time.monotonic()
    with pytest.raises(IPFSRequestError) as caught:
        ipfs.cat(NEVER_ADDED, timeout=0.5)
    elapsed = time.monotonic() - started

    error = caught.value
    assert (error.url, error.status, error.response) == (
        f"{ipfs.api_url}/api/v0/cat?arg=%2Fipfs%2F{NEVER_ADDED}&timeout=500ms",
        500,
        "context deadline exceeded",
    )
    assert 0.5 <= elapsed < 5


@pytest.mark.parametrize(
    ("cid", "message"),
    [
        (
            "Qmnotvalid",
            'invalid path "/ipfs/Qmnotvalid": invalid cid: selected encoding not supported',
        ),
        (
            "bafyfoo",
            'invalid path "/ipfs/bafyfoo": invalid cid: invalid cid: varints malformed, '
            "could not reach the end",
        ),
    ],
)
@pytest.mark.parametrize("method", ["cat", "pin_add", "pin_rm"])
def test_malformed_cid_gives_kubos_message(
    ipfs: KuboClient, method: str, cid: str, message: str
) -> None:
    with pytest.raises(IPFSRequestError) as caught:
        getattr(ipfs, method)(cid)

    error = caught.value
    command = method.replace("_", "/")
    assert (error.url, error.status, error.response) == (
        f"{ipfs.api_url}/api/v0/{command}?arg=%2Fipfs%2F{cid}",
        500,
        message,
    )
    assert str(error) == f"IPFS RPC call {error.url!r} failed with HTTP 500: {message!r}"
    assert isinstance(error.__cause__, httpx.HTTPStatusError)
    assert isinstance(error, KuboAPIError)
    assert (error.message, error.code) == (message, 0)


def test_closed_port_gives_unavailable_quoting_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with KuboClient(url) as ipfs, pytest.raises(IPFSUnavailable) as caught:
        ipfs.version()

    assert caught.value.url == url
    assert str(caught.value).startswith(f"no IPFS RPC API answers at {url!r} (ConnectError: ")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


@pytest.mark.anyio
async def test_async_closed_port_gives_unavailable_quoting_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    async with AsyncKuboClient(url) as ipfs:
        with pytest.raises(IPFSUnavailable) as caught:
            await ipfs.add(b"nobody listens\n")

    assert caught.value.url == url
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_silent_server_gives_unavailable_after_the_timeout() -> None:
    # Listening but never answering: the connection opens, the answer never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"

        with KuboClient(url, timeout=0.2) as ipfs, pytest.raises(IPFSUnavailable) as caught:
            ipfs.version()

    assert caught.value.url == url
    assert f"{url!r} (no answer in time (ReadTimeout: " in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


@pytest.mark.parametrize("api_url", ["127.0.0.1:5001", "ftp://127.0.0.1:5001", "http://"])
def test_api_url_must_be_http(api_url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        KuboClient(api_url)

    assert (caught.value.field, caught.value.value) == ("api_url", api_url)
    assert isinstance(caught.value, ValueError)


# -- answers no healthy Kubo gives (MockTransport) ------------------------------


def mock_client(status: int, body: bytes, headers: dict[str, str] | None = None) -> KuboClient:
    transport = httpx.MockTransport(lambda _: httpx.Response(status, content=body, headers=headers))
    return KuboClient("http://kubo.test", client=httpx.Client(transport=transport))


def test_non_json_error_answer_is_quoted_whole() -> None:
    ipfs = mock_client(404, b"404 page not found\n")

    with pytest.raises(IPFSRequestError) as caught:
        ipfs.version()

    error = caught.value
    assert (error.url, error.status, error.response) == (
        "http://kubo.test/api/v0/version",
        404,
        "404 page not found",
    )


def test_success_that_is_not_kubo_json_gives_unavailable() -> None:
    ipfs = mock_client(200, b"<html>a router's login page</html>")

    with pytest.raises(IPFSUnavailable) as caught:
        ipfs.version()

    assert caught.value.url == "http://kubo.test"
    assert str(caught.value) == (
        "no IPFS RPC API answers at 'http://kubo.test' (http://kubo.test/api/v0/version "
        "answered with something other than Kubo's JSON: \"<html>a router's login "
        'page</html>"); start the node with `ipfs daemon` or fix TROIKA_IPFS_API'
    )


def test_cat_cut_short_is_an_error() -> None:
    # Kubo reports a failure mid-stream only in a trailer httpx drops; the
    # announced length is what gives it away.
    ipfs = mock_client(200, b"hel", {"X-Content-Length": "6"})

    with pytest.raises(IPFSRequestError) as caught:
        ipfs.cat("QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN")

    assert caught.value.response == "the content was cut short: got 3 of 6 bytes"


def test_add_without_a_cid_in_the_answer_is_an_error() -> None:
    ipfs = mock_client(200, b"")

    with pytest.raises(IPFSRequestError) as caught:
        ipfs.add(b"lost\n")

    assert caught.value.response == (
        "Kubo answered without the CID of the added data (the add failed)"
    )


def test_requests_use_the_client_timeout_even_when_injected() -> None:
    seen: list[dict[str, float | None]] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"Version": "0.43.1"})

    with httpx.Client(transport=httpx.MockTransport(record), timeout=60.0) as http:
        ipfs = KuboClient("http://kubo.test", client=http, timeout=7.0)
        ipfs.version()

    assert seen == [{"connect": 7.0, "read": 7.0, "write": 7.0, "pool": 7.0}]


# -- client lifecycle ------------------------------------------------------------


def test_close_closes_only_a_client_it_created(kubo: Kubo) -> None:
    with httpx.Client() as injected:
        with KuboClient(kubo.api_url, client=injected) as ipfs:
            ipfs.version()
        assert not injected.is_closed

    owned = KuboClient(kubo.api_url)
    owned.close()
    assert owned._client.is_closed


def test_repr_shows_the_api_url() -> None:
    with KuboClient("http://127.0.0.1:5001/") as ipfs:
        assert repr(ipfs) == "KuboClient('http://127.0.0.1:5001')"
