"""Gateway and AsyncGateway against Kubo's real gateway (the ``kubo`` fixture).

A real gateway does not lie, so the tests of lies use a fault-injection fake: a
small HTTP server on loopback that fetches the true answer from Kubo's gateway
and tampers with it on the way (a flipped byte, a dropped or cut block, HTML).
Their names say "fault_injection_fake".
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests._services import Kubo, free_port
from troika._errors import (
    ConfigError,
    IncompleteDAG,
    InvalidCID,
    IPFSRequestError,
    IPFSUnavailable,
    VerificationError,
)
from troika.ipfs import CID, AsyncGateway, Gateway, KuboClient, Multihash, export_bytes
from troika.ipfs._dagpb import decode_node

pytestmark = pytest.mark.kubo

# Three 256 KiB chunks and a bit: a dag-pb root over four leaves (CIDv0, Kubo's default).
MULTI_CHUNK = random.Random(20260128).randbytes(3 * 262144 + 5)


@pytest.fixture
def ipfs(kubo: Kubo) -> Iterator[KuboClient]:
    with KuboClient(kubo.api_url) as client:
        yield client


@pytest.fixture
def gateway(kubo: Kubo) -> Iterator[Gateway]:
    with Gateway(kubo.gateway_url) as client:
        yield client


def block_from_kubo(ipfs: KuboClient, cid: str) -> bytes:
    """The block as Kubo's RPC API gives it (``block/get``), to compare with the gateway's."""
    answer = httpx.post(f"{ipfs.api_url}/api/v0/block/get", params={"arg": cid})
    answer.raise_for_status()
    return answer.content


# -- reading from the real gateway ------------------------------------------------------


def test_get_block_of_a_raw_leaf_is_the_content(gateway: Gateway, ipfs: KuboClient) -> None:
    cid = ipfs.add(b"one raw block\n", cid_version=1)

    assert gateway.get_block(cid) == b"one raw block\n"


def test_get_block_of_a_dag_pb_root_is_kubos_block(gateway: Gateway, ipfs: KuboClient) -> None:
    cid = ipfs.add(MULTI_CHUNK)

    block = gateway.get_block(CID.parse(cid))

    assert block == block_from_kubo(ipfs, cid)
    assert len(decode_node(block).links) == 4


def test_get_block_of_an_identity_cid(gateway: Gateway) -> None:
    assert gateway.get_block("bafkqaaa") == b""


def test_get_car_gives_every_block_of_the_dag_root_first(
    gateway: Gateway, ipfs: KuboClient
) -> None:
    cid = ipfs.add(MULTI_CHUNK)

    blocks = gateway.get_car(cid)

    assert blocks[0].cid == CID.parse(cid)
    assert len(blocks) == 5  # the root and its four leaves
    assert all(block.data == block_from_kubo(ipfs, str(block.cid)) for block in blocks)
    # ... and the exporter puts the file back together from them.
    assert export_bytes({b.cid: b.data for b in blocks}, cid) == MULTI_CHUNK


def test_get_car_of_a_directory(gateway: Gateway, kubo: Kubo, tmp_path: Any) -> None:
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"a\n")
    (folder / "sub" / "b.bin").write_bytes(MULTI_CHUNK[:300_000])
    cid = kubo.cli("add", "-r", "-Q", "--cid-version", "1", str(folder))

    blocks = gateway.get_car(cid)
    root_only = gateway.get_car(cid, scope="entity")

    assert blocks[0].cid == CID.parse(cid)
    # the directory, a.txt, sub/, and b.bin's node with its two leaves
    assert len(blocks) == 6
    assert [block.cid for block in root_only] == [CID.parse(cid)]


@pytest.mark.parametrize(("scope", "count"), [("all", 5), ("entity", 5), ("block", 1)])
def test_get_car_scopes_of_a_file(
    gateway: Gateway, ipfs: KuboClient, scope: Any, count: int
) -> None:
    cid = ipfs.add(MULTI_CHUNK)

    assert len(gateway.get_car(cid, scope=scope)) == count


def test_get_car_of_an_identity_cid_needs_no_block(gateway: Gateway) -> None:
    # Kubo's CAR for an identity CID has the root in its header and no block:
    # the CID holds the content.
    assert gateway.get_car("bafkqaaa") == []


def test_gateway_refusal_carries_its_status_and_message(gateway: Gateway) -> None:
    # An identity CID longer than Kubo allows (128 bytes): refused at once.
    too_long = CID(1, 0x55, Multihash(0x00, b"x" * 129))

    with pytest.raises(IPFSRequestError) as caught:
        gateway.get_block(too_long)

    error = caught.value
    assert error.url == f"{gateway.url}/ipfs/{too_long}?format=raw"
    assert error.status == 500
    assert "identity digest got 129 bytes, maximum 128" in error.response
    assert str(error).startswith(f"IPFS gateway request {error.url!r} failed with HTTP 500: ")
    assert isinstance(error.__cause__, httpx.HTTPStatusError)


def test_content_the_gateway_cannot_find_in_time_gives_unavailable(kubo: Kubo) -> None:
    absent = CID.of(random.randbytes(32))

    gateway = Gateway(kubo.gateway_url, timeout=0.3)
    with gateway, pytest.raises(IPFSUnavailable) as caught:
        gateway.get_block(absent)

    assert caught.value.url == kubo.gateway_url
    assert str(caught.value).startswith(
        f"no IPFS gateway answers at {kubo.gateway_url!r} (no answer in time (ReadTimeout: "
    )
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


def test_a_closed_port_gives_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with Gateway(url) as gateway, pytest.raises(IPFSUnavailable) as caught:
        gateway.get_car("bafkqaaa")

    assert caught.value.url == url
    assert str(caught.value).endswith("; check the gateway URL and that the gateway is up")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_an_invalid_cid_is_refused_before_anything_is_sent(gateway: Gateway) -> None:
    with pytest.raises(InvalidCID):
        gateway.get_block("bafynotacid")


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "ftp://127.0.0.1", "http://"])
def test_the_url_must_be_http(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Gateway(url)

    assert (caught.value.field, caught.value.value) == ("gateway_url", url)


def test_an_injected_client_is_left_open(kubo: Kubo) -> None:
    with httpx.Client() as client:
        with Gateway(kubo.gateway_url, client=client) as gateway:
            gateway.get_block("bafkqaaa")
        assert not client.is_closed


# -- async -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_get_block_and_car(kubo: Kubo, ipfs: KuboClient) -> None:
    cid = ipfs.add(MULTI_CHUNK)

    async with AsyncGateway(kubo.gateway_url) as gateway:
        root = await gateway.get_block(cid)
        blocks = await gateway.get_car(cid)

    assert root == block_from_kubo(ipfs, cid)
    assert blocks[0].cid == CID.parse(cid)
    assert export_bytes({b.cid: b.data for b in blocks}, cid) == MULTI_CHUNK


# -- a gateway that lies ----------------------------------------------------------------

Tamper = Callable[[str, bytes], tuple[str, bytes]]


class LyingGateway:
    """A loopback HTTP server that asks Kubo's gateway and passes on a tampered answer.

    ``tamper(content_type, body)`` gives the content type and body to serve instead.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.tamper: Tamper = lambda kind, body: (kind, body)
        lying = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                true = httpx.get(
                    f"{lying.upstream}{self.path}",
                    headers={"Accept": self.headers.get("Accept", "*/*")},
                    timeout=10,
                )
                kind, body = lying.tamper(true.headers.get("Content-Type", ""), true.content)
                self.send_response(true.status_code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> LyingGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def liar(kubo: Kubo) -> Iterator[LyingGateway]:
    with LyingGateway(kubo.gateway_url) as server:
        yield server


def flip_last_byte(body: bytes) -> bytes:
    return body[:-1] + bytes([body[-1] ^ 0x01])


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def sections(car: bytes) -> list[bytes]:
    """A CARv1 cut into its length-prefixed parts (header first), each without its length."""
    parts, position = [], 0
    while position < len(car):
        size = shift = 0
        while True:
            byte = car[position]
            position += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        parts.append(car[position : position + size])
        position += size
    return parts


def join(parts: list[bytes]) -> bytes:
    return b"".join(varint(len(part)) + part for part in parts)


def test_fault_injection_fake_gateway_serving_a_tampered_block_raises_verification_error(
    liar: LyingGateway, ipfs: KuboClient
) -> None:
    cid = ipfs.add(b"the truth\n", cid_version=1)
    liar.tamper = lambda kind, body: (kind, flip_last_byte(body))

    with Gateway(liar.url) as gateway, pytest.raises(VerificationError) as caught:
        gateway.get_block(cid)

    error = caught.value
    assert (error.cid, error.source) == (CID.parse(cid), f"gateway {liar.url!r}")
    assert str(error) == (
        f"block {cid!r} from gateway {liar.url!r} failed verification: its bytes do not hash "
        "to the CID (corrupted or tampered with)"
    )


def test_fault_injection_fake_gateway_serving_html_says_it_may_not_be_trustless(
    liar: LyingGateway, ipfs: KuboClient
) -> None:
    cid = ipfs.add(b"html instead\n", cid_version=1)
    liar.tamper = lambda kind, body: ("text/html; charset=utf-8", b"<html>hello</html>")

    with Gateway(liar.url) as gateway, pytest.raises(VerificationError) as caught:
        gateway.get_block(cid)
    with Gateway(liar.url) as gateway, pytest.raises(VerificationError) as car_caught:
        gateway.get_car(cid)

    assert str(caught.value).endswith(
        "(it answered with Content-Type 'text/html', not application/vnd.ipld.raw: is it a "
        "trustless gateway?)"
    )
    assert str(car_caught.value).endswith(
        "failed verification: it answered with Content-Type 'text/html', not "
        "application/vnd.ipld.car: is it a trustless gateway?"
    )


def test_fault_injection_fake_gateway_serving_an_oversized_block_is_cut_off(
    liar: LyingGateway, ipfs: KuboClient
) -> None:
    cid = ipfs.add(b"small\n", cid_version=1)
    liar.tamper = lambda kind, body: (kind, body + bytes(5 << 20))

    with Gateway(liar.url) as gateway, pytest.raises(VerificationError) as caught:
        gateway.get_block(cid)

    assert str(caught.value).endswith(
        "failed verification: the answer is larger than 4194304 bytes, which no block is"
    )


def test_fault_injection_fake_gateway_serving_a_car_with_a_tampered_block(
    liar: LyingGateway, ipfs: KuboClient
) -> None:
    cid = ipfs.add(MULTI_CHUNK)
    with Gateway(liar.upstream) as honest:
        true_blocks = honest.get_car(cid)
    liar.tamper = lambda kind, body: (kind, flip_last_byte(body))  # the last block's last byte

    with Gateway(liar.url) as gateway, pytest.raises(VerificationError) as caught:
        gateway.get_car(cid)

    assert caught.value.cid == true_blocks[-1].cid
    assert "does not match its CID (corrupted or tampered with)" in str(caught.value)
    assert caught.value.__cause__ is not None


def test_fault_injection_fake_gateway_serving_a_car_without_a_block_raises_incomplete_dag(
    liar: LyingGateway, ipfs: KuboClient
) -> None:
    cid = ipfs.add(MULTI_CHUNK)
    dropped: list[bytes] = []

    def drop_the_third_block(kind: str, body: bytes) -> tuple[str, bytes]:
        parts = sections(body)
        dropped.append(parts.pop(3))  # header, root, leaf 1, leaf 2 <- gone, ...
        return kind, join(parts)

    liar.tamper = drop_the_third_block

    with Gateway(liar.url) as gateway, pytest.raises(IncompleteDAG) as caught:
        gateway.get_car(cid)

    missing, _ = CID.read(dropped[0])
    error = caught.value
    assert (error.root, error.cid) == (CID.parse(cid), missing)
    assert error.store == f"the CAR from gateway {liar.url!r}"
    assert isinstance(error, LookupError)


def test_fault_injection_fake_gateway_serving_a_cut_short_car(
    liar: LyingGateway, ipfs: KuboClient
) -> None:
    cid = ipfs.add(MULTI_CHUNK)
    liar.tamper = lambda kind, body: (kind, body[: len(body) // 2])

    with Gateway(liar.url) as gateway, pytest.raises(VerificationError) as caught:
        gateway.get_car(cid)

    assert "the CAR ends inside a section" in str(caught.value)


@pytest.mark.anyio
async def test_async_fault_injection_fake_gateway_serving_a_tampered_block(
    liar: LyingGateway, ipfs: KuboClient
) -> None:
    cid = ipfs.add(b"the async truth\n", cid_version=1)
    liar.tamper = lambda kind, body: (kind, flip_last_byte(body))

    async with AsyncGateway(liar.url) as gateway:
        with pytest.raises(VerificationError):
            await gateway.get_block(cid)
        with pytest.raises(VerificationError):
            await gateway.get_car(cid)
